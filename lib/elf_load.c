/*
 * ELF header checks and load plan (see include/pier/elf_load.h). Every
 * range check is written as "n > limit - start" with start <= limit known,
 * so no sum of file-supplied values can wrap.
 */
#include <linux/elf.h>
#include <pier/elf_load.h>
#include <pier/errno.h>
#include <pier/string.h>

_Static_assert(sizeof(Elf64_Ehdr) == 64, "Elf64_Ehdr layout");
_Static_assert(sizeof(Elf64_Phdr) == 56, "Elf64_Phdr layout");
_Static_assert(ELF_USER_END % ELF_PAGE_SIZE == 0, "user end is page aligned");

/* Program headers read per callback: most executables have fewer. */
#define PH_CHUNK 16

#define STR_(x) #x
#define STR(x) STR_(x)

/* What the walk over the program headers keeps for the final checks. */
struct ph_state {
	Elf64_Phdr phdr;     /* the PT_PHDR */
	Elf64_Phdr tls;      /* the PT_TLS */
	bool have_phdr, have_tls;
};

static int fail(const char **why, int err, const char *what)
{
	*why = what;
	return err;
}

static uint64_t page_down(uint64_t a)
{
	return a & ~(ELF_PAGE_SIZE - 1);
}

/* Only for a <= ELF_USER_END, so it cannot wrap. */
static uint64_t page_up(uint64_t a)
{
	return (a + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1);
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* [off, off+len) inside a file of size bytes. */
static bool in_file(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* [vaddr, vaddr+len) below ELF_USER_END. */
static bool in_user(uint64_t vaddr, uint64_t len)
{
	return len <= ELF_USER_END && vaddr <= ELF_USER_END - len;
}

static int do_read(elf_read_fn rd, void *ctx, void *buf, uint64_t len, uint64_t off)
{
	int rc = rd(ctx, buf, len, off);
	if (rc > 0 || rc < -4095)
		return -EIO;
	return rc;
}

static int check_ident(const Elf64_Ehdr *eh, const char **why)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return fail(why, -ENOEXEC, "bad magic (not an ELF file)");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return fail(why, -ENOEXEC, "not a 64-bit ELF file (ELFCLASS64)");
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(why, -ENOEXEC, "not little-endian (ELFDATA2LSB)");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT)
		return fail(why, -ENOEXEC, "unknown ELF version in e_ident");
	if (eh->e_machine != EM_X86_64)
		return fail(why, -ENOEXEC, "not an x86_64 file (EM_X86_64)");
	if (eh->e_version != EV_CURRENT)
		return fail(why, -ENOEXEC, "unknown ELF version in e_version");
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return fail(why, -ENOEXEC, "not an executable (ET_EXEC or ET_DYN)");
	return 0;
}

/* A PT_LOAD with p_memsz > 0 after its own checks, against the one before. */
static int add_segment(struct elf_plan *p, const Elf64_Phdr *ph, const char **why)
{
	if (p->nseg == ELF_MAX_SEGS)
		return fail(why, -EINVAL, "more than " STR(ELF_MAX_SEGS) " PT_LOAD segments");
	struct elf_seg *s = &p->seg[p->nseg];
	s->vaddr = ph->p_vaddr;
	s->memsz = ph->p_memsz;
	s->offset = ph->p_offset;
	s->filesz = ph->p_filesz;
	s->prot = ph->p_flags & (PF_R | PF_W | PF_X);
	s->shares_prev_page = false;
	if (p->nseg > 0) {
		const struct elf_seg *a = s - 1;
		if (s->vaddr < a->vaddr)
			return fail(why, -EINVAL, "PT_LOAD segments are not in address order");
		if (s->vaddr - a->vaddr < a->memsz)
			return fail(why, -EINVAL, "PT_LOAD segments overlap");
		/* Both end below ELF_USER_END, so page_up is safe. */
		if (page_down(s->vaddr) < page_up(a->vaddr + a->memsz)) {
			if (s->offset < a->offset || s->offset - a->offset != s->vaddr - a->vaddr)
				return fail(why, -EINVAL,
					    "PT_LOAD segments share a page but not its file contents");
			if (a->filesz != a->memsz)
				return fail(why, -EINVAL,
					    "PT_LOAD zero fill shares a page with the next segment");
			s->shares_prev_page = true;
		}
	}
	p->nseg++;
	return 0;
}

static int take_load(struct elf_plan *p, const Elf64_Phdr *ph, uint64_t file_size,
		     const char **why)
{
	if (ph->p_filesz > ph->p_memsz)
		return fail(why, -EINVAL, "PT_LOAD p_filesz is larger than p_memsz");
	if (!in_file(ph->p_offset, ph->p_filesz, file_size))
		return fail(why, -EINVAL, "PT_LOAD runs past the end of the file");
	if (!in_user(ph->p_vaddr, ph->p_memsz))
		return fail(why, -EINVAL, "PT_LOAD ends above user space");
	if ((ph->p_vaddr - ph->p_offset) % ELF_PAGE_SIZE != 0)
		return fail(why, -EINVAL, "PT_LOAD p_vaddr and p_offset differ modulo the page size");
	/* As Linux's maximum_alignment(): other values are ignored. */
	if (pow2(ph->p_align) && ph->p_align > p->align)
		p->align = ph->p_align;
	if (ph->p_memsz == 0)
		return 0;
	return add_segment(p, ph, why);
}

static int take_tls(struct ph_state *st, const Elf64_Phdr *ph, uint64_t file_size,
		    const char **why)
{
	if (st->have_tls)
		return fail(why, -EINVAL, "more than one PT_TLS");
	if (ph->p_filesz > ph->p_memsz)
		return fail(why, -EINVAL, "PT_TLS p_filesz is larger than p_memsz");
	if (!in_file(ph->p_offset, ph->p_filesz, file_size))
		return fail(why, -EINVAL, "PT_TLS runs past the end of the file");
	if (!in_user(ph->p_vaddr, ph->p_memsz))
		return fail(why, -EINVAL, "PT_TLS ends above user space");
	if (ph->p_align && !pow2(ph->p_align))
		return fail(why, -EINVAL, "PT_TLS alignment is not a power of two");
	st->tls = *ph;
	st->have_tls = true;
	return 0;
}

static int take_phdr(struct elf_plan *p, struct ph_state *st, const Elf64_Phdr *ph,
		     uint64_t file_size, const char **why)
{
	switch (ph->p_type) {
	case PT_LOAD:
		return take_load(p, ph, file_size, why);
	case PT_INTERP:
		if (!in_file(ph->p_offset, ph->p_filesz, file_size))
			return fail(why, -EINVAL, "PT_INTERP runs past the end of the file");
		if (!p->has_interp) {
			/* Linux, too, uses the first one. */
			p->has_interp = true;
			p->interp_offset = ph->p_offset;
			p->interp_size = ph->p_filesz;
		}
		return 0;
	case PT_GNU_STACK:
		p->exec_stack = (ph->p_flags & PF_X) != 0;
		return 0;
	case PT_TLS:
		return take_tls(st, ph, file_size, why);
	case PT_PHDR:
		if (st->have_phdr)
			return fail(why, -EINVAL, "more than one PT_PHDR");
		st->phdr = *ph;
		st->have_phdr = true;
		return 0;
	default:
		return 0;
	}
}

/* The segment whose file bytes [off, off+len) are, or NULL. */
static const struct elf_seg *file_bytes_in(const struct elf_plan *p, uint64_t off, uint64_t len)
{
	for (unsigned i = 0; i < p->nseg; i++) {
		const struct elf_seg *s = &p->seg[i];
		if (off >= s->offset && in_file(off - s->offset, len, s->filesz))
			return s;
	}
	return NULL;
}

/* The checks that need all the program headers. */
static int finish(struct elf_plan *p, const struct ph_state *st, const char **why)
{
	if (p->nseg == 0)
		return fail(why, -EINVAL, "no PT_LOAD segment");
	const struct elf_seg *last = &p->seg[p->nseg - 1];
	p->min_vaddr = page_down(p->seg[0].vaddr);
	p->max_vaddr = page_up(last->vaddr + last->memsz);

	bool entry_ok = false;
	for (unsigned i = 0; i < p->nseg; i++) {
		const struct elf_seg *s = &p->seg[i];
		if ((s->prot & PF_X) && p->entry >= s->vaddr && p->entry - s->vaddr < s->memsz)
			entry_ok = true;
	}
	if (!entry_ok)
		return fail(why, -EINVAL, "entry point is not in an executable PT_LOAD");

	const struct elf_seg *s = file_bytes_in(p, p->phoff, p->phnum * p->phentsize);
	if (s) {
		p->phdr_vaddr = s->vaddr + (p->phoff - s->offset);
		p->phdr_mapped = true;
	}
	if (st->have_phdr) {
		if (st->phdr.p_offset != p->phoff)
			return fail(why, -EINVAL, "PT_PHDR p_offset is not e_phoff");
		if (!p->phdr_mapped)
			return fail(why, -EINVAL, "PT_PHDR, but no PT_LOAD holds the program headers");
		if (st->phdr.p_vaddr != p->phdr_vaddr)
			return fail(why, -EINVAL,
				    "PT_PHDR p_vaddr is not where the program headers are loaded");
	}

	if (st->have_tls) {
		const Elf64_Phdr *t = &st->tls;
		if (t->p_filesz) {
			s = file_bytes_in(p, t->p_offset, t->p_filesz);
			if (!s || t->p_vaddr < s->vaddr ||
			    t->p_vaddr - s->vaddr != t->p_offset - s->offset)
				return fail(why, -EINVAL, "PT_TLS image is not in a PT_LOAD");
		}
		p->tls.present = true;
		p->tls.vaddr = t->p_vaddr;
		p->tls.filesz = t->p_filesz;
		p->tls.memsz = t->p_memsz;
		p->tls.align = t->p_align ? t->p_align : 1;
	}
	return 0;
}

int elf_load_plan(struct elf_plan *plan, uint64_t file_size, elf_read_fn rd, void *ctx,
		  const char **why)
{
	const char *ignored;
	if (!why)
		why = &ignored;
	*why = NULL;
	memset(plan, 0, sizeof(*plan));
	plan->align = ELF_PAGE_SIZE;

	Elf64_Ehdr eh;
	if (file_size < sizeof(eh))
		return fail(why, -ENOEXEC, "file too short for an ELF header");
	int rc = do_read(rd, ctx, &eh, sizeof(eh), 0);
	if (rc)
		return fail(why, rc, "reading the ELF header failed");
	rc = check_ident(&eh, why);
	if (rc)
		return rc;
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return fail(why, -EINVAL, "e_phentsize is not sizeof(Elf64_Phdr)");
	if (eh.e_phnum == 0)
		return fail(why, -EINVAL, "no program headers");
	if (eh.e_phnum > ELF_MAX_PHDRS)
		return fail(why, -EINVAL, "more than " STR(ELF_MAX_PHDRS) " program headers");
	uint64_t table = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (!in_file(eh.e_phoff, table, file_size))
		return fail(why, -EINVAL, "program headers run past the end of the file");

	plan->type = eh.e_type;
	plan->entry = eh.e_entry;
	plan->phoff = eh.e_phoff;
	plan->phnum = eh.e_phnum;
	plan->phentsize = eh.e_phentsize;

	struct ph_state st = { .have_phdr = false };
	Elf64_Phdr ph[PH_CHUNK];
	for (unsigned i = 0; i < eh.e_phnum; i += PH_CHUNK) {
		unsigned n = eh.e_phnum - i < PH_CHUNK ? eh.e_phnum - i : PH_CHUNK;
		rc = do_read(rd, ctx, ph, n * sizeof(Elf64_Phdr),
			     eh.e_phoff + i * sizeof(Elf64_Phdr));
		if (rc)
			return fail(why, rc, "reading the program headers failed");
		for (unsigned j = 0; j < n; j++) {
			rc = take_phdr(plan, &st, &ph[j], file_size, why);
			if (rc)
				return rc;
		}
	}
	return finish(plan, &st, why);
}

uint64_t elf_pick_bias(const struct elf_plan *plan, uint64_t preferred)
{
	if (plan->type != ET_DYN)
		return 0;
	/* align is a power of two, min_vaddr <= max_vaddr <= ELF_USER_END. */
	uint64_t mask = plan->align - 1;
	uint64_t highest = (ELF_USER_END - plan->max_vaddr) & ~mask;
	if (preferred > ELF_USER_END)
		preferred = ELF_USER_END;
	uint64_t bias = preferred > plan->min_vaddr ? preferred - plan->min_vaddr : 0;
	/* bias < 2^47, so rounding up to at most 2^63 cannot wrap. */
	bias = (bias + mask) & ~mask;
	return bias < highest ? bias : highest;
}
