/*
 * libFuzzer harness for lib/elf_load.c: the fuzz input is an executable
 * file (seeds: fuzz/corpus/elf_load/, from fuzz/gen_elf_seeds.py).
 *
 * Input: the file's bytes, then optional 16-byte trailers (from the end):
 *   "PIERSIZE" + u64 size: the file size the parser is told, if not below
 *       the data length; bytes past the data read as zeros (a small input
 *       can so stand for a huge file, offsets near 2^64);
 *   "PIERFAIL" + u32 n + i32 rc: the n-th read (1-based) returns rc, which
 *       must come back from the parser (mapped to -EIO when not an errno).
 *
 * Checks:
 *  - the parser reads only inside [0, file size), and returns 0 with why
 *    NULL, or -ENOEXEC/-EINVAL with a reason;
 *  - an accepted plan keeps every promise of include/pier/elf_load.h: each
 *    segment in user space and inside the file, filesz <= memsz, vaddr and
 *    offset congruent modulo the page, ascending and not overlapping, page
 *    sharing only as allowed, every PT_LOAD with p_memsz > 0 of the file
 *    (read here straight from the bytes) in the plan in order, the entry in
 *    an executable segment, PT_PHDR/PT_TLS/PT_INTERP inside the file;
 *  - elf_pick_bias, for a set of preferred addresses, keeps the biased
 *    image below ELF_USER_END, aligned;
 *  - mirroring guest/linux/exec.c's load_segment: the regions it would
 *    vm_add never overlap, and every byte it copies or zero-fills lies in
 *    one of them (an accepted plan that the loader could not load is a bug
 *    in the plan's checks).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <linux/elf.h>
#include <pier/elf_load.h>
#include <pier/errno.h>
#include "fuzz_check.h"

#define PAGE ELF_PAGE_SIZE
#define PIE_BASE 0x555555554000ULL /* guest/linux/exec.c's preferred start */

struct file {
	const uint8_t *data;
	uint64_t len;  /* bytes we have */
	uint64_t size; /* bytes the parser is told */
	uint32_t reads, fail_at;
	int32_t fail_rc;
};

static int file_read(void *ctx, void *buf, uint64_t len, uint64_t off)
{
	struct file *f = ctx;
	CHECK(len > 0);
	CHECK(off <= f->size && len <= f->size - off);
	if (++f->reads == f->fail_at)
		return f->fail_rc;
	uint8_t *b = buf;
	for (uint64_t i = 0; i < len; i++)
		b[i] = off + i < f->len ? f->data[off + i] : 0;
	return 0;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint64_t page_down(uint64_t a)
{
	return a & ~(PAGE - 1);
}

/* The raw program header i, read here without the parser. */
static Elf64_Phdr raw_phdr(const struct file *f, const struct elf_plan *p, unsigned i)
{
	Elf64_Phdr ph;
	struct file copy = *f;
	copy.fail_at = 0;
	CHECK(file_read(&copy, &ph, sizeof(ph), p->phoff + i * sizeof(ph)) == 0);
	return ph;
}

/* The first segment (lowest address) whose file bytes hold [off, off+len), or NULL. */
static const struct elf_seg *holder(const struct elf_plan *p, uint64_t off, uint64_t len)
{
	for (unsigned i = 0; i < p->nseg; i++) {
		const struct elf_seg *s = &p->seg[i];
		if (off >= s->offset && len <= s->filesz && off - s->offset <= s->filesz - len)
			return s;
	}
	return NULL;
}

/*
 * The plan against the program headers read here: every PT_LOAD with
 * p_memsz > 0 in it, in file order, unchanged; the first PT_INTERP; the
 * last PT_GNU_STACK; the PT_TLS; the PT_PHDR agreeing with the lowest
 * segment holding the table.
 */
static void check_against_file(const struct file *f, const struct elf_plan *p)
{
	unsigned k = 0;
	bool interp = false, stack_x = false, tls = false;
	const struct elf_seg *ph_seg = holder(p, p->phoff, p->phnum * p->phentsize);
	CHECK(p->phdr_mapped == (ph_seg != NULL));
	if (ph_seg)
		CHECK(p->phdr_vaddr == ph_seg->vaddr + (p->phoff - ph_seg->offset));
	for (unsigned i = 0; i < p->phnum; i++) {
		Elf64_Phdr ph = raw_phdr(f, p, i);
		if (ph.p_type == PT_INTERP && !interp) {
			interp = true;
			CHECK(p->has_interp && p->interp_offset == ph.p_offset &&
			      p->interp_size == ph.p_filesz);
		}
		if (ph.p_type == PT_GNU_STACK)
			stack_x = ph.p_flags & PF_X;
		if (ph.p_type == PT_PHDR)
			CHECK(ph.p_offset == p->phoff && p->phdr_mapped && ph.p_vaddr == p->phdr_vaddr);
		if (ph.p_type == PT_TLS) {
			CHECK(!tls && p->tls.present);
			tls = true;
			CHECK(p->tls.vaddr == ph.p_vaddr && p->tls.filesz == ph.p_filesz &&
			      p->tls.memsz == ph.p_memsz &&
			      p->tls.align == (ph.p_align ? ph.p_align : 1));
			if (ph.p_filesz) {
				/* Its image is file bytes some PT_LOAD maps at the same place. */
				bool in_load = false;
				for (unsigned j = 0; j < p->nseg; j++) {
					const struct elf_seg *s = &p->seg[j];
					if (ph.p_offset >= s->offset && ph.p_filesz <= s->filesz &&
					    ph.p_offset - s->offset <= s->filesz - ph.p_filesz &&
					    ph.p_vaddr - s->vaddr == ph.p_offset - s->offset)
						in_load = true;
				}
				CHECK(in_load);
			}
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		CHECK(k < p->nseg);
		const struct elf_seg *s = &p->seg[k++];
		CHECK(s->vaddr == ph.p_vaddr && s->memsz == ph.p_memsz && s->offset == ph.p_offset &&
		      s->filesz == ph.p_filesz && s->prot == (ph.p_flags & (PF_R | PF_W | PF_X)));
	}
	CHECK(k == p->nseg);
	CHECK(interp == p->has_interp);
	CHECK(stack_x == p->exec_stack);
	CHECK(tls == p->tls.present);
}

static void check_plan(const struct file *f, const struct elf_plan *p)
{
	uint64_t size = f->size;
	CHECK(p->type == ET_EXEC || p->type == ET_DYN);
	CHECK(p->nseg >= 1 && p->nseg <= ELF_MAX_SEGS);
	CHECK(p->phnum >= 1 && p->phnum <= ELF_MAX_PHDRS);
	CHECK(p->phentsize == sizeof(Elf64_Phdr));
	CHECK(p->phoff <= size && p->phnum * p->phentsize <= size - p->phoff);
	CHECK(pow2(p->align) && p->align >= PAGE);
	bool entry_ok = false, phdr_ok = !p->phdr_mapped;
	for (unsigned i = 0; i < p->nseg; i++) {
		const struct elf_seg *s = &p->seg[i];
		CHECK(s->memsz > 0 && s->filesz <= s->memsz);
		CHECK(s->offset <= size && s->filesz <= size - s->offset);
		CHECK(s->vaddr < ELF_USER_END && s->memsz <= ELF_USER_END - s->vaddr);
		CHECK((s->vaddr - s->offset) % PAGE == 0);
		CHECK((s->prot & ~(uint32_t)(PF_R | PF_W | PF_X)) == 0);
		if ((s->prot & PF_X) && p->entry >= s->vaddr && p->entry - s->vaddr < s->memsz)
			entry_ok = true;
		if (p->phdr_mapped && p->phoff >= s->offset &&
		    p->phnum * p->phentsize <= s->filesz &&
		    p->phoff - s->offset <= s->filesz - p->phnum * p->phentsize &&
		    p->phdr_vaddr == s->vaddr + (p->phoff - s->offset))
			phdr_ok = true;
		if (i == 0) {
			CHECK(!s->shares_prev_page);
			continue;
		}
		const struct elf_seg *a = s - 1;
		CHECK(s->vaddr >= a->vaddr + a->memsz);
		uint64_t a_last = page_down(a->vaddr + a->memsz - 1);
		CHECK(s->shares_prev_page == (page_down(s->vaddr) == a_last));
		if (s->shares_prev_page) {
			CHECK(s->vaddr - a->vaddr == s->offset - a->offset);
			CHECK(a->filesz == a->memsz);
		}
	}
	CHECK(entry_ok);
	CHECK(phdr_ok);
	if (!p->phdr_mapped)
		CHECK(p->phdr_vaddr == 0);
	CHECK(p->min_vaddr == page_down(p->seg[0].vaddr));
	const struct elf_seg *last = &p->seg[p->nseg - 1];
	CHECK(p->max_vaddr == page_down(last->vaddr + last->memsz + PAGE - 1));
	CHECK(p->max_vaddr <= ELF_USER_END);
	if (p->tls.present) {
		CHECK(p->tls.filesz <= p->tls.memsz);
		CHECK(pow2(p->tls.align));
		CHECK(p->tls.vaddr <= ELF_USER_END && p->tls.memsz <= ELF_USER_END - p->tls.vaddr);
	}
	if (p->has_interp)
		CHECK(p->interp_offset <= size && p->interp_size <= size - p->interp_offset);
	check_against_file(f, p);
}

/* A region exec.c would vm_add: [start, end), page aligned. */
struct region {
	uint64_t start, end;
};

static const struct region *find(const struct region *r, unsigned n, uint64_t va)
{
	for (unsigned i = 0; i < n; i++)
		if (va >= r[i].start && va < r[i].end)
			return &r[i];
	return NULL;
}

/* What guest/linux/exec.c's load_segment does with the plan at this bias. */
static void check_load(const struct elf_plan *p, uint64_t bias)
{
	struct region r[ELF_MAX_SEGS];
	unsigned n = 0;
	for (unsigned i = 0; i < p->nseg; i++) {
		const struct elf_seg *s = &p->seg[i];
		/* These sums cannot wrap: the plan and the bias keep them below 2^47. */
		uint64_t start = page_down(s->vaddr + bias);
		uint64_t end = page_down(s->vaddr + bias + s->memsz + PAGE - 1);
		CHECK(start < end && end <= ELF_USER_END);
		if (s->shares_prev_page) {
			start += PAGE;
			/* The shared page is the previous segment's (vm_find there). */
			CHECK(find(r, n, start - PAGE) != NULL);
		}
		if (end > start) {
			for (unsigned k = 0; k < n; k++)
				CHECK(end <= r[k].start || start >= r[k].end); /* vm_add would refuse */
			r[n++] = (struct region){ start, end };
		}
		/* Every page of the segment (file bytes and zero fill) is mapped:
		 * walk region by region (a page at a time is too slow for huge ones). */
		for (uint64_t va = page_down(s->vaddr + bias); va < end;) {
			const struct region *in = find(r, n, va);
			CHECK(in != NULL);
			va = in->end;
		}
	}
	CHECK(p->entry + bias < ELF_USER_END);
	if (p->phdr_mapped)
		CHECK(find(r, n, p->phdr_vaddr + bias) != NULL);
}

static void check_bias(const struct elf_plan *p)
{
	static const uint64_t prefs[] = { PIE_BASE, 0, 1, 0x10000, 0x400000, 0x555555554123,
					  ELF_USER_END - PAGE, ELF_USER_END - 1, ELF_USER_END,
					  1ULL << 62, UINT64_MAX };
	for (size_t i = 0; i < sizeof(prefs) / sizeof(prefs[0]); i++) {
		uint64_t bias = elf_pick_bias(p, prefs[i]);
		if (p->type == ET_EXEC) {
			CHECK(bias == 0);
		} else {
			CHECK(bias % p->align == 0);
			CHECK(bias <= ELF_USER_END - p->max_vaddr);
		}
		/* exec.c only loads PIE_BASE's; the others only need the bounds above. */
		if (i == 0 || p->type == ET_EXEC)
			check_load(p, bias);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct file f = { .data = data, .len = len };
	uint64_t size = 0;
	bool sized = false;
	for (int k = 0; k < 2 && f.len >= 16; k++) {
		const uint8_t *t = data + f.len - 16;
		if (memcmp(t, "PIERSIZE", 8) == 0 && !sized) {
			memcpy(&size, t + 8, 8);
			sized = true;
		} else if (memcmp(t, "PIERFAIL", 8) == 0 && !f.fail_at) {
			memcpy(&f.fail_at, t + 8, 4);
			memcpy(&f.fail_rc, t + 12, 4);
			if (!f.fail_rc)
				f.fail_at = 0;
		} else {
			break;
		}
		f.len -= 16;
	}
	f.size = sized && size >= f.len ? size : f.len;
	static struct elf_plan plan, again;
	const char *why = "unset";
	int rc = elf_load_plan(&plan, f.size, file_read, &f, &why);
	bool failed_read = f.fail_at && f.reads >= f.fail_at;
	if (failed_read) {
		/* The parser stops at the failed read and returns its error. */
		CHECK(f.reads == f.fail_at);
		CHECK(rc == (f.fail_rc > 0 || f.fail_rc < -4095 ? -EIO : f.fail_rc));
		CHECK(why != NULL && why[0] != 0);
		return 0;
	}
	if (rc != 0) {
		CHECK(rc == -ENOEXEC || rc == -EINVAL);
		CHECK(why != NULL && why[0] != 0);
		return 0;
	}
	CHECK(why == NULL);
	check_plan(&f, &plan);
	check_bias(&plan);
	/* The same file gives the same plan (no state kept between parses). */
	f.fail_at = 0;
	CHECK(elf_load_plan(&again, f.size, file_read, &f, NULL) == 0);
	CHECK(memcmp(&plan, &again, sizeof(plan)) == 0);
	return 0;
}
