/*
 * Unit tests for lib/elf_load.c: ELF images assembled here header by header
 * (valid ET_EXEC and static-PIE ET_DYN plans, then every rejection with its
 * error and message, then random corruption), and real executables checked
 * against what readelf says about them: /bin/busybox, /bin/bash-static,
 * /bin/ls (dynamic), and programs built here with musl-gcc -static,
 * gcc -static and gcc -static-pie. The read callback fails the test if the
 * parser ever asks for bytes outside the file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/elf.h>
#include <pier/elf_load.h>
#include <pier/errno.h>

#define PAGE 0x1000ULL
#define MAXPH 80

/* ---- assembling images ---- */

struct img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAXPH]; /* written at e_phoff, e_phnum of them (at most MAXPH) */
	uint64_t size;        /* the file size the parser is told */
};

static void set_ph(Elf64_Phdr *ph, uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr,
		   uint64_t filesz, uint64_t memsz, uint64_t align)
{
	*ph = (Elf64_Phdr){ .p_type = type, .p_flags = flags, .p_offset = off, .p_vaddr = vaddr,
			    .p_paddr = vaddr, .p_filesz = filesz, .p_memsz = memsz, .p_align = align };
}

static void set_header(struct img *im, uint16_t type, uint64_t entry, uint16_t phnum)
{
	memset(im, 0, sizeof(*im));
	memcpy(im->eh.e_ident, ELFMAG, SELFMAG);
	im->eh.e_ident[EI_CLASS] = ELFCLASS64;
	im->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh.e_ident[EI_VERSION] = EV_CURRENT;
	im->eh.e_type = type;
	im->eh.e_machine = EM_X86_64;
	im->eh.e_version = EV_CURRENT;
	im->eh.e_entry = entry;
	im->eh.e_phoff = sizeof(Elf64_Ehdr);
	im->eh.e_ehsize = sizeof(Elf64_Ehdr);
	im->eh.e_phentsize = sizeof(Elf64_Phdr);
	im->eh.e_phnum = phnum;
}

/* Laid out like musl-gcc -static output (with a TLS segment). */
static struct img exec_img(void)
{
	struct img im;
	set_header(&im, ET_EXEC, 0x40102b, 6);
	set_ph(&im.ph[0], PT_LOAD, PF_R, 0, 0x400000, 0x190, 0x190, 0x1000);
	set_ph(&im.ph[1], PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x82c, 0x82c, 0x1000);
	set_ph(&im.ph[2], PT_LOAD, PF_R, 0x2000, 0x402000, 0x4c, 0x4c, 0x1000);
	set_ph(&im.ph[3], PT_LOAD, PF_R | PF_W, 0x2fd0, 0x403fd0, 0x40, 0x2a8, 0x1000);
	set_ph(&im.ph[4], PT_TLS, PF_R, 0x2fd0, 0x403fd0, 0x10, 0x30, 8);
	set_ph(&im.ph[5], PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0x10);
	im.size = 0x3010;
	return im;
}

/* Laid out like gcc -static-pie output, plus a PT_PHDR. */
static struct img pie_img(void)
{
	struct img im;
	set_header(&im, ET_DYN, 0x1010, 7);
	set_ph(&im.ph[0], PT_PHDR, PF_R, 0x40, 0x40, 7 * 56, 7 * 56, 8);
	set_ph(&im.ph[1], PT_LOAD, PF_R, 0, 0, 0x2e0, 0x2e0, 0x1000);
	set_ph(&im.ph[2], PT_LOAD, PF_R | PF_X, 0x1000, 0x1000, 0x500, 0x500, 0x1000);
	set_ph(&im.ph[3], PT_LOAD, PF_R | PF_W, 0x1e00, 0x2e00, 0x300, 0x900, 0x1000);
	set_ph(&im.ph[4], PT_DYNAMIC, PF_R | PF_W, 0x1f00, 0x2f00, 0x100, 0x100, 8);
	set_ph(&im.ph[5], PT_TLS, PF_R, 0x1e00, 0x2e00, 0x18, 0x60, 8);
	set_ph(&im.ph[6], PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0x10);
	im.size = 0x2100;
	return im;
}

/* Two segments whose boundary page is shared: the second starts in the first's last page. */
static struct img shared_img(void)
{
	struct img im;
	set_header(&im, ET_EXEC, 0x400100, 2);
	set_ph(&im.ph[0], PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x1800, 0x1800, 0x1000);
	set_ph(&im.ph[1], PT_LOAD, PF_R | PF_W, 0x1900, 0x401900, 0x100, 0x400, 0x1000);
	im.size = 0x2000;
	return im;
}

/* The file as the parser reads it: the first len bytes, zeros after, size in all. */
struct file {
	uint8_t *bytes;
	size_t len;
	uint64_t size;
	int reads;
	int fail_at;          /* this read (1-based) returns fail_rc instead */
	int fail_rc;
};

static int file_read(void *ctx, void *buf, uint64_t len, uint64_t off)
{
	struct file *f = ctx;
	/* The parser must only ask for bytes that are in the file. */
	assert_true(len > 0);
	assert_true(off <= f->size && len <= f->size - off);
	if (++f->reads == f->fail_at)
		return f->fail_rc;
	uint8_t *b = buf;
	for (uint64_t i = 0; i < len; i++)
		b[i] = off + i < f->len ? f->bytes[off + i] : 0;
	return 0;
}

/* The header and program headers as bytes (malloc'd, exact size), file->size = im->size. */
static struct file flatten(const struct img *im)
{
	uint64_t want = sizeof(Elf64_Ehdr);
	uint64_t n = im->eh.e_phnum < MAXPH ? im->eh.e_phnum : MAXPH;
	uint64_t phoff = im->eh.e_phoff;
	bool put_ph = phoff <= (1u << 20) && n;
	if (put_ph && phoff + n * sizeof(Elf64_Phdr) > want)
		want = phoff + n * sizeof(Elf64_Phdr);
	size_t len = want < im->size ? want : im->size;
	struct file f = { .bytes = calloc(1, len ? len : 1), .len = len, .size = im->size };
	assert_non_null(f.bytes);
	memcpy(f.bytes, &im->eh, len < sizeof(im->eh) ? len : sizeof(im->eh));
	for (uint64_t i = 0; put_ph && i < n; i++) {
		uint64_t at = phoff + i * sizeof(Elf64_Phdr);
		for (uint64_t k = 0; k < sizeof(Elf64_Phdr) && at + k < len; k++)
			f.bytes[at + k] = ((const uint8_t *)&im->ph[i])[k];
	}
	return f;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Everything the header promises about an accepted plan. */
static void check_plan(const struct elf_plan *p, uint64_t size)
{
	assert_true(p->type == ET_EXEC || p->type == ET_DYN);
	assert_true(p->nseg >= 1 && p->nseg <= ELF_MAX_SEGS);
	assert_true(p->phnum >= 1 && p->phnum <= ELF_MAX_PHDRS);
	assert_int_equal(p->phentsize, sizeof(Elf64_Phdr));
	assert_true(p->phoff <= size && p->phnum * p->phentsize <= size - p->phoff);
	assert_true(pow2(p->align) && p->align >= PAGE);
	bool entry_ok = false, phdr_ok = !p->phdr_mapped;
	for (unsigned i = 0; i < p->nseg; i++) {
		const struct elf_seg *s = &p->seg[i];
		assert_true(s->memsz > 0 && s->filesz <= s->memsz);
		assert_true(s->offset <= size && s->filesz <= size - s->offset);
		assert_true(s->vaddr < ELF_USER_END && s->memsz <= ELF_USER_END - s->vaddr);
		assert_int_equal((s->vaddr - s->offset) % PAGE, 0);
		assert_int_equal(s->prot & ~(uint32_t)(PF_R | PF_W | PF_X), 0);
		if ((s->prot & PF_X) && p->entry >= s->vaddr && p->entry - s->vaddr < s->memsz)
			entry_ok = true;
		if (p->phdr_mapped && p->phoff >= s->offset &&
		    p->phoff - s->offset + p->phnum * 56 <= s->filesz &&
		    p->phdr_vaddr == s->vaddr + (p->phoff - s->offset))
			phdr_ok = true;
		if (i == 0) {
			assert_false(s->shares_prev_page);
			continue;
		}
		const struct elf_seg *a = s - 1;
		assert_true(s->vaddr >= a->vaddr + a->memsz);
		uint64_t a_last = (a->vaddr + a->memsz - 1) & ~(PAGE - 1);
		assert_int_equal(s->shares_prev_page, (s->vaddr & ~(PAGE - 1)) == a_last);
		if (s->shares_prev_page) {
			assert_int_equal(s->vaddr - a->vaddr, s->offset - a->offset);
			assert_int_equal(a->filesz, a->memsz);
		}
	}
	assert_true(entry_ok);
	assert_true(phdr_ok);
	if (!p->phdr_mapped)
		assert_int_equal(p->phdr_vaddr, 0);
	assert_int_equal(p->min_vaddr, p->seg[0].vaddr & ~(PAGE - 1));
	const struct elf_seg *last = &p->seg[p->nseg - 1];
	assert_int_equal(p->max_vaddr, (last->vaddr + last->memsz + PAGE - 1) & ~(PAGE - 1));
	assert_true(p->max_vaddr <= ELF_USER_END);
	if (p->tls.present) {
		assert_true(p->tls.filesz <= p->tls.memsz);
		assert_true(pow2(p->tls.align));
		assert_true(p->tls.memsz <= ELF_USER_END - p->tls.vaddr);
	}
	if (p->has_interp)
		assert_true(p->interp_offset <= size && p->interp_size <= size - p->interp_offset);

	static const uint64_t prefs[] = { 0, 1, 0x10000, 0x400000, 0x555555554123,
					  ELF_USER_END - 1, ELF_USER_END, UINT64_MAX };
	for (size_t i = 0; i < sizeof(prefs) / sizeof(prefs[0]); i++) {
		uint64_t bias = elf_pick_bias(p, prefs[i]);
		if (p->type == ET_EXEC) {
			assert_int_equal(bias, 0);
			continue;
		}
		assert_int_equal(bias % p->align, 0);
		assert_true(bias <= ELF_USER_END - p->max_vaddr);
	}
}

static struct elf_plan plan;
static const char *why;

/* Parses im (plan and why in the statics); checks an accepted plan. */
static int parse_file(struct file *f)
{
	why = "unset";
	int rc = elf_load_plan(&plan, f->size, file_read, f, &why);
	if (rc == 0) {
		assert_null(why);
		check_plan(&plan, f->size);
	} else {
		assert_non_null(why);
		assert_true(rc < 0);
	}
	return rc;
}

static int parse(const struct img *im)
{
	struct file f = flatten(im);
	int rc = parse_file(&f);
	free(f.bytes);
	return rc;
}

#define expect(im, rc, msg)                                                                   \
	do {                                                                                  \
		int rc_ = parse(im);                                                          \
		assert_int_equal(rc_, (rc));                                                  \
		assert_string_equal(why, (msg));                                              \
	} while (0)

/* ---- valid plans ---- */

static void test_exec_plan(void **state)
{
	(void)state;
	struct img im = exec_img();
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.type, ET_EXEC);
	assert_int_equal(plan.entry, 0x40102b);
	assert_int_equal(plan.phoff, 64);
	assert_int_equal(plan.phnum, 6);
	assert_int_equal(plan.phentsize, 56);
	assert_int_equal(plan.min_vaddr, 0x400000);
	assert_int_equal(plan.max_vaddr, 0x405000);
	assert_int_equal(plan.align, 0x1000);
	assert_int_equal(plan.nseg, 4);
	static const struct elf_seg want[] = {
		{ 0x400000, 0x190, 0, 0x190, PF_R, false },
		{ 0x401000, 0x82c, 0x1000, 0x82c, PF_R | PF_X, false },
		{ 0x402000, 0x4c, 0x2000, 0x4c, PF_R, false },
		{ 0x403fd0, 0x2a8, 0x2fd0, 0x40, PF_R | PF_W, false },
	};
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(plan.seg[i].vaddr, want[i].vaddr);
		assert_int_equal(plan.seg[i].memsz, want[i].memsz);
		assert_int_equal(plan.seg[i].offset, want[i].offset);
		assert_int_equal(plan.seg[i].filesz, want[i].filesz);
		assert_int_equal(plan.seg[i].prot, want[i].prot);
		assert_false(plan.seg[i].shares_prev_page);
	}
	assert_false(plan.has_interp);
	assert_false(plan.exec_stack);
	assert_true(plan.tls.present);
	assert_int_equal(plan.tls.vaddr, 0x403fd0);
	assert_int_equal(plan.tls.filesz, 0x10);
	assert_int_equal(plan.tls.memsz, 0x30);
	assert_int_equal(plan.tls.align, 8);
	assert_true(plan.phdr_mapped);
	assert_int_equal(plan.phdr_vaddr, 0x400040);
	assert_int_equal(elf_pick_bias(&plan, 0x555555554000), 0);

	/* Without TLS and GNU_STACK; then an executable stack. */
	im.eh.e_phnum = 4;
	assert_int_equal(parse(&im), 0);
	assert_false(plan.tls.present);
	assert_false(plan.exec_stack);
	im.eh.e_phnum = 6;
	im.ph[5].p_flags = PF_R | PF_W | PF_X;
	assert_int_equal(parse(&im), 0);
	assert_true(plan.exec_stack);
	/* The last PT_GNU_STACK wins, as in Linux. */
	im.eh.e_phnum = 7;
	set_ph(&im.ph[6], PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0x10);
	assert_int_equal(parse(&im), 0);
	assert_false(plan.exec_stack);

	/* Unknown and ignored types: PT_NULL, PT_NOTE, OS- and CPU-specific. */
	im = exec_img();
	im.eh.e_phnum = 10;
	set_ph(&im.ph[6], PT_NULL, 0, 0xdead, 0xbeef, 0x1234, 0x1, 0);
	set_ph(&im.ph[7], PT_NOTE, PF_R, 0x270, 0x400270, 0x20, 0x20, 8);
	set_ph(&im.ph[8], PT_GNU_RELRO, PF_R, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL);
	set_ph(&im.ph[9], PT_LOPROC + 5, PF_R, ~0ULL, ~0ULL, 1, 0, 3);
	im.ph[0].p_filesz = im.ph[0].p_memsz = 0x2a0;
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.nseg, 4);
	assert_int_equal(plan.phnum, 10);

	/* EI_OSABI is not looked at (GNU tools write 3), nor e_ehsize, e_shoff... */
	im = exec_img();
	im.eh.e_ident[EI_OSABI] = 3;
	im.eh.e_ehsize = 0;
	im.eh.e_shoff = ~0ULL;
	im.eh.e_shnum = 0xffff;
	assert_int_equal(parse(&im), 0);
}

static void test_pie_plan(void **state)
{
	(void)state;
	struct img im = pie_img();
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.type, ET_DYN);
	assert_int_equal(plan.entry, 0x1010);
	assert_int_equal(plan.min_vaddr, 0);
	assert_int_equal(plan.max_vaddr, 0x4000);
	assert_int_equal(plan.nseg, 3);
	assert_int_equal(plan.seg[2].vaddr, 0x2e00);
	assert_int_equal(plan.seg[2].offset, 0x1e00);
	assert_int_equal(plan.seg[2].filesz, 0x300);
	assert_int_equal(plan.seg[2].memsz, 0x900);
	assert_int_equal(plan.seg[2].prot, PF_R | PF_W);
	assert_true(plan.phdr_mapped);
	assert_int_equal(plan.phdr_vaddr, 0x40);
	assert_true(plan.tls.present);
	assert_int_equal(plan.tls.vaddr, 0x2e00);
	assert_false(plan.has_interp);

	/* The bias: page multiples, at or above the preferred start, fitting below the top. */
	assert_int_equal(elf_pick_bias(&plan, 0x555555554000), 0x555555554000);
	assert_int_equal(elf_pick_bias(&plan, 0x555555554123), 0x555555555000);
	assert_int_equal(elf_pick_bias(&plan, 0), 0);
	assert_int_equal(elf_pick_bias(&plan, ELF_USER_END), ELF_USER_END - 0x4000);
	assert_int_equal(elf_pick_bias(&plan, UINT64_MAX), ELF_USER_END - 0x4000);
	assert_int_equal(elf_pick_bias(&plan, ELF_USER_END - 0x4000), ELF_USER_END - 0x4000);
	assert_int_equal(elf_pick_bias(&plan, ELF_USER_END - 0x3fff), ELF_USER_END - 0x4000);

	/* The largest power-of-two PT_LOAD p_align sets the bias alignment. */
	im.ph[2].p_align = 0x200000;
	im.ph[3].p_align = 0x3000; /* not a power of two: ignored, as in Linux */
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.align, 0x200000);
	assert_int_equal(elf_pick_bias(&plan, 0x555555554000), 0x555555600000);
	assert_int_equal(elf_pick_bias(&plan, UINT64_MAX), 0x7fffffe00000);
	/* A huge one only pushes the bias down to what fits. */
	im.ph[2].p_align = 1ULL << 63;
	assert_int_equal(parse(&im), 0);
	assert_int_equal(elf_pick_bias(&plan, 0x555555554000), 0);

	/* Linked above 0: min_vaddr is not 0, and the bias moves it to the preferred start. */
	im = pie_img();
	for (int i = 0; i < 6; i++) {
		if (im.ph[i].p_type != PT_GNU_STACK)
			im.ph[i].p_vaddr += 0x10000;
	}
	im.eh.e_entry += 0x10000;
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.min_vaddr, 0x10000);
	assert_int_equal(plan.phdr_vaddr, 0x10040);
	assert_int_equal(elf_pick_bias(&plan, 0x400000), 0x3f0000);
	assert_int_equal(elf_pick_bias(&plan, 0x8000), 0);

	/* Without PT_PHDR the address is computed the same way. */
	im = pie_img();
	im.ph[0].p_type = PT_NULL;
	assert_int_equal(parse(&im), 0);
	assert_true(plan.phdr_mapped);
	assert_int_equal(plan.phdr_vaddr, 0x40);
}

/* PT_INTERP is reported with its place in the file; only the first counts. */
static void test_interp(void **state)
{
	(void)state;
	struct img im = pie_img();
	im.eh.e_phnum = 9;
	set_ph(&im.ph[7], PT_INTERP, PF_R, 0x238, 0x238, 0x1c, 0x1c, 1);
	set_ph(&im.ph[8], PT_INTERP, PF_R, 0x300, 0x300, 0x10, 0x10, 1);
	im.ph[0].p_filesz = im.ph[0].p_memsz = 9 * 56;
	assert_int_equal(parse(&im), 0);
	assert_true(plan.has_interp);
	assert_int_equal(plan.interp_offset, 0x238);
	assert_int_equal(plan.interp_size, 0x1c);

	im.ph[8].p_offset = im.size - 0xf;
	expect(&im, -EINVAL, "PT_INTERP runs past the end of the file");
	im.ph[8].p_offset = UINT64_MAX;
	expect(&im, -EINVAL, "PT_INTERP runs past the end of the file");
}

/* A segment may start in the page where the previous one ends, under conditions. */
static void test_shared_page(void **state)
{
	(void)state;
	struct img im = shared_img();
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.nseg, 2);
	assert_true(plan.seg[1].shares_prev_page);
	assert_int_equal(plan.max_vaddr, 0x402000);

	/* Adjacent to the byte. */
	im.ph[1].p_vaddr = 0x401800;
	im.ph[1].p_offset = 0x1800;
	assert_int_equal(parse(&im), 0);
	assert_true(plan.seg[1].shares_prev_page);

	/* The first ends on a page boundary: nothing shared. */
	im = shared_img();
	im.ph[0].p_filesz = im.ph[0].p_memsz = 0x1000;
	im.ph[1].p_vaddr = 0x401000;
	im.ph[1].p_offset = 0x1000;
	assert_int_equal(parse(&im), 0);
	assert_false(plan.seg[1].shares_prev_page);

	/* Different file pages in the shared page. */
	im = shared_img();
	im.ph[1].p_offset = 0x0900;
	expect(&im, -EINVAL, "PT_LOAD segments share a page but not its file contents");
	im.ph[1].p_offset = 0x2900;
	im.size = 0x3000;
	expect(&im, -EINVAL, "PT_LOAD segments share a page but not its file contents");

	/* Zero fill of the first in the shared page. */
	im = shared_img();
	im.ph[0].p_memsz = 0x1880;
	expect(&im, -EINVAL, "PT_LOAD zero fill shares a page with the next segment");
	/* Zero fill that ends before the next page is fine. */
	im.ph[1].p_vaddr = 0x402900;
	im.ph[1].p_offset = 0x1900;
	assert_int_equal(parse(&im), 0);
	assert_false(plan.seg[1].shares_prev_page);

	/* One byte of overlap. */
	im = shared_img();
	im.ph[1].p_vaddr = 0x4017ff;
	im.ph[1].p_offset = 0x17ff;
	expect(&im, -EINVAL, "PT_LOAD segments overlap");
}

/* ---- rejections ---- */

static void test_identity(void **state)
{
	(void)state;
	struct img im = exec_img();
	for (int i = 0; i < SELFMAG; i++) {
		im = exec_img();
		im.eh.e_ident[i] ^= 0x20;
		expect(&im, -ENOEXEC, "bad magic (not an ELF file)");
	}
	static const uint8_t classes[] = { ELFCLASSNONE, ELFCLASS32, 3, 0xff };
	for (size_t i = 0; i < sizeof(classes); i++) {
		im = exec_img();
		im.eh.e_ident[EI_CLASS] = classes[i];
		expect(&im, -ENOEXEC, "not a 64-bit ELF file (ELFCLASS64)");
	}
	im = exec_img();
	im.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	expect(&im, -ENOEXEC, "not little-endian (ELFDATA2LSB)");
	im.eh.e_ident[EI_DATA] = ELFDATANONE;
	expect(&im, -ENOEXEC, "not little-endian (ELFDATA2LSB)");
	im = exec_img();
	im.eh.e_ident[EI_VERSION] = EV_NONE;
	expect(&im, -ENOEXEC, "unknown ELF version in e_ident");
	im = exec_img();
	im.eh.e_machine = EM_386;
	expect(&im, -ENOEXEC, "not an x86_64 file (EM_X86_64)");
	im.eh.e_machine = EM_AARCH64;
	expect(&im, -ENOEXEC, "not an x86_64 file (EM_X86_64)");
	im = exec_img();
	im.eh.e_version = EV_NONE;
	expect(&im, -ENOEXEC, "unknown ELF version in e_version");
	im.eh.e_version = 2;
	expect(&im, -ENOEXEC, "unknown ELF version in e_version");
	static const uint16_t types[] = { ET_NONE, ET_REL, ET_CORE, 5, ET_LOPROC, ET_HIPROC };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		im = exec_img();
		im.eh.e_type = types[i];
		expect(&im, -ENOEXEC, "not an executable (ET_EXEC or ET_DYN)");
	}

	/* Too short for a header: never read. */
	for (uint64_t size = 0; size < sizeof(Elf64_Ehdr); size++) {
		im = exec_img();
		im.size = size;
		expect(&im, -ENOEXEC, "file too short for an ELF header");
	}
	/* Text is not an ELF file. */
	uint8_t text[100];
	memset(text, '\n', sizeof(text));
	memcpy(text, "#!/bin/sh\necho hello\n", 22);
	struct file f = { .bytes = text, .len = sizeof(text), .size = sizeof(text) };
	assert_int_equal(parse_file(&f), -ENOEXEC);
	assert_string_equal(why, "bad magic (not an ELF file)");
}

static void test_phdr_table(void **state)
{
	(void)state;
	struct img im = exec_img();
	static const uint16_t sizes[] = { 0, 32, 55, 57, 64, 0xffff };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		im.eh.e_phentsize = sizes[i];
		expect(&im, -EINVAL, "e_phentsize is not sizeof(Elf64_Phdr)");
	}
	im = exec_img();
	im.eh.e_phnum = 0;
	expect(&im, -EINVAL, "no program headers");
	im.eh.e_phnum = 65;
	im.size = 0x10000;
	expect(&im, -EINVAL, "more than 64 program headers");
	im.eh.e_phnum = 0xffff; /* PN_XNUM: the real count would be in a section header */
	expect(&im, -EINVAL, "more than 64 program headers");

	/* The table must be in the file, without any wrapping sum. */
	im = exec_img();
	im.eh.e_phoff = im.size;
	expect(&im, -EINVAL, "program headers run past the end of the file");
	im.eh.e_phoff = im.size - 6 * 56 + 1;
	expect(&im, -EINVAL, "program headers run past the end of the file");
	im.eh.e_phoff = UINT64_MAX - 100;
	expect(&im, -EINVAL, "program headers run past the end of the file");
	im.eh.e_phoff = UINT64_MAX;
	expect(&im, -EINVAL, "program headers run past the end of the file");
	im = exec_img();
	im.size = 64 + 6 * 56 - 1;
	expect(&im, -EINVAL, "program headers run past the end of the file");
	/* Exactly to the end is fine (the table is then outside every PT_LOAD's bytes). */
	im = exec_img();
	im.eh.e_phoff = im.size - 6 * 56;
	assert_int_equal(parse(&im), 0);
	assert_false(plan.phdr_mapped);
	assert_int_equal(plan.phdr_vaddr, 0);
}

/* 64 program headers read in chunks; 17 in two reads; a read error anywhere. */
static void test_many_phdrs_and_reads(void **state)
{
	(void)state;
	struct img im = exec_img();
	im.eh.e_phnum = 64;
	for (int i = 6; i < 64; i++)
		set_ph(&im.ph[i], PT_NOTE, PF_R, 0x100, 0x400100, 0x10, 0x10, 4);
	im.ph[0].p_filesz = im.ph[0].p_memsz = 64 + 64 * 56;
	struct file f = flatten(&im);
	assert_int_equal(parse_file(&f), 0);
	assert_int_equal(f.reads, 1 + 4);
	assert_int_equal(plan.phnum, 64);
	assert_int_equal(plan.nseg, 4);
	assert_true(plan.phdr_mapped);
	assert_true(plan.tls.present);
	free(f.bytes);

	im.eh.e_phnum = 17;
	f = flatten(&im);
	assert_int_equal(parse_file(&f), 0);
	assert_int_equal(f.reads, 1 + 2);
	free(f.bytes);

	/* A load in the last, partial chunk counts like the others. */
	im.eh.e_phnum = 18;
	im.ph[17] = im.ph[3];
	im.ph[3].p_type = PT_NOTE;
	f = flatten(&im);
	assert_int_equal(parse_file(&f), 0);
	assert_int_equal(plan.nseg, 4);
	assert_int_equal(plan.seg[3].vaddr, 0x403fd0);
	free(f.bytes);

	/* Read errors come back as the callback gave them, other values as -EIO. */
	im = exec_img();
	static const struct {
		int at, rc, want;
		const char *why;
	} errs[] = {
		{ 1, -EIO, -EIO, "reading the ELF header failed" },
		{ 1, -EACCES, -EACCES, "reading the ELF header failed" },
		{ 2, -EINTR, -EINTR, "reading the program headers failed" },
		{ 2, 5, -EIO, "reading the program headers failed" },
		{ 1, 1, -EIO, "reading the ELF header failed" },
		{ 2, -100000, -EIO, "reading the program headers failed" },
	};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		f = flatten(&im);
		f.fail_at = errs[i].at;
		f.fail_rc = errs[i].rc;
		assert_int_equal(parse_file(&f), errs[i].want);
		assert_string_equal(why, errs[i].why);
		assert_int_equal(f.reads, errs[i].at);
		free(f.bytes);
	}

	/* why may be NULL. */
	f = flatten(&im);
	assert_int_equal(elf_load_plan(&plan, f.size, file_read, &f, NULL), 0);
	f.fail_at = f.reads + 1;
	f.fail_rc = -EIO;
	assert_int_equal(elf_load_plan(&plan, f.size, file_read, &f, NULL), -EIO);
	free(f.bytes);
}

static void test_load_fields(void **state)
{
	(void)state;
	struct img im = exec_img();
	im.ph[3].p_filesz = im.ph[3].p_memsz + 1;
	expect(&im, -EINVAL, "PT_LOAD p_filesz is larger than p_memsz");

	/* In the file: to the last byte is fine, one more is not, nor a wrapping sum. */
	im = exec_img();
	im.ph[3].p_filesz = im.size - im.ph[3].p_offset;
	assert_int_equal(parse(&im), 0);
	im.ph[3].p_filesz++;
	expect(&im, -EINVAL, "PT_LOAD runs past the end of the file");
	im = exec_img();
	im.ph[2].p_offset = UINT64_MAX - 0xfff; /* congruent with 0x402000 */
	expect(&im, -EINVAL, "PT_LOAD runs past the end of the file");
	im = exec_img();
	im.ph[2].p_offset = im.size + 0x1000 - (im.size & 0xfff); /* past the end, empty */
	im.ph[2].p_filesz = 0;
	expect(&im, -EINVAL, "PT_LOAD runs past the end of the file");

	/* Below the top of user space, for ET_DYN at bias 0 too. */
	for (int dyn = 0; dyn < 2; dyn++) {
		im = dyn ? pie_img() : exec_img();
		Elf64_Phdr *last = &im.ph[3], *tls = &im.ph[dyn ? 5 : 4];
		uint64_t in_page = last->p_vaddr & 0xfff;
		/* Ending exactly at ELF_USER_END is fine. */
		last->p_vaddr = ELF_USER_END - 0x1000 + in_page;
		last->p_memsz = 0x1000 - in_page;
		last->p_filesz = 0x20;
		tls->p_vaddr = last->p_vaddr;
		assert_int_equal(parse(&im), 0);
		assert_int_equal(plan.max_vaddr, ELF_USER_END);
		last->p_memsz++;
		expect(&im, -EINVAL, "PT_LOAD ends above user space");
		/* The kernel half, and sums that wrap. */
		last->p_vaddr = 0xffffffff80000000ULL + in_page;
		last->p_memsz = 0x100;
		expect(&im, -EINVAL, "PT_LOAD ends above user space");
		last->p_vaddr = UINT64_MAX - 0xfff + in_page;
		last->p_memsz = 0x2000;
		expect(&im, -EINVAL, "PT_LOAD ends above user space");
		last->p_vaddr = in_page;
		last->p_memsz = UINT64_MAX;
		last->p_filesz = 0;
		expect(&im, -EINVAL, "PT_LOAD ends above user space");
		last->p_vaddr = 0x0000800000000000ULL + in_page;
		last->p_memsz = 0x40;
		expect(&im, -EINVAL, "PT_LOAD ends above user space");
	}

	/* p_vaddr and p_offset congruent modulo the page size. */
	im = exec_img();
	im.ph[1].p_vaddr += 1;
	expect(&im, -EINVAL, "PT_LOAD p_vaddr and p_offset differ modulo the page size");
	im = exec_img();
	im.ph[3].p_offset = 0x2fd8;
	im.ph[4].p_offset = 0x2fd8;
	im.size = 0x3100;
	expect(&im, -EINVAL, "PT_LOAD p_vaddr and p_offset differ modulo the page size");
	/* ...but not modulo p_align, which Linux does not check either. */
	im = exec_img();
	im.ph[1].p_align = 0x200000;
	assert_int_equal(parse(&im), 0);
}

static void test_load_order(void **state)
{
	(void)state;
	struct img im = exec_img();
	Elf64_Phdr t = im.ph[1];
	im.ph[1] = im.ph[2];
	im.ph[2] = t;
	expect(&im, -EINVAL, "PT_LOAD segments are not in address order");
	im = exec_img();
	im.ph[2].p_vaddr = im.ph[1].p_vaddr;
	im.ph[2].p_offset = im.ph[1].p_offset;
	expect(&im, -EINVAL, "PT_LOAD segments overlap");
	im = exec_img();
	im.ph[1].p_memsz = 0x1001; /* one byte into the next */
	expect(&im, -EINVAL, "PT_LOAD segments overlap");
	im = exec_img();
	im.ph[0].p_memsz = 0x10000; /* over all of them */
	expect(&im, -EINVAL, "PT_LOAD segments overlap");

	/* An empty PT_LOAD is left out, wherever it is; its fields are still checked. */
	im = exec_img();
	im.eh.e_phnum = 7;
	set_ph(&im.ph[6], PT_LOAD, PF_R | PF_W | PF_X, 0x0, 0x1000, 0, 0, 0x1000);
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.nseg, 4);
	assert_int_equal(plan.min_vaddr, 0x400000);
	im.ph[6].p_vaddr = 0x1001;
	expect(&im, -EINVAL, "PT_LOAD p_vaddr and p_offset differ modulo the page size");

	/* No PT_LOAD at all, or only empty ones. */
	im = exec_img();
	for (int i = 0; i < 4; i++)
		im.ph[i].p_type = PT_NOTE;
	expect(&im, -EINVAL, "no PT_LOAD segment");
	im = exec_img();
	for (int i = 0; i < 4; i++)
		im.ph[i].p_memsz = im.ph[i].p_filesz = 0;
	expect(&im, -EINVAL, "no PT_LOAD segment");
}

static struct img many_loads(int n)
{
	struct img im;
	set_header(&im, ET_EXEC, 0x400010, n);
	for (int i = 0; i < n; i++)
		set_ph(&im.ph[i], PT_LOAD, i == 0 ? PF_R | PF_X : PF_R, i * 0x1000,
		       0x400000 + i * 0x1000, 0x400, 0x400, 0x1000);
	im.size = n * 0x1000;
	return im;
}

static void test_segment_limit(void **state)
{
	(void)state;
	struct img im = many_loads(ELF_MAX_SEGS);
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.nseg, ELF_MAX_SEGS);
	im = many_loads(ELF_MAX_SEGS + 1);
	expect(&im, -EINVAL, "more than 16 PT_LOAD segments");
}

static void test_entry(void **state)
{
	(void)state;
	struct img im = exec_img();
	static const uint64_t bad[] = { 0, 0x400000, 0x40018f, 0x400fff, 0x40182c, 0x402000,
					0x403fd0, 0x404277, 0x405000, UINT64_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		im.eh.e_entry = bad[i];
		expect(&im, -EINVAL, "entry point is not in an executable PT_LOAD");
	}
	/* First and last byte of the text; and the zero-fill part counts as inside. */
	im.eh.e_entry = 0x401000;
	assert_int_equal(parse(&im), 0);
	im.eh.e_entry = 0x40182b;
	assert_int_equal(parse(&im), 0);
	im.ph[3].p_flags |= PF_X;
	im.eh.e_entry = 0x404277;
	assert_int_equal(parse(&im), 0);
	/* ET_DYN too. */
	im = pie_img();
	im.eh.e_entry = 0x40;
	expect(&im, -EINVAL, "entry point is not in an executable PT_LOAD");
}

static void test_tls(void **state)
{
	(void)state;
	struct img im = exec_img();
	Elf64_Phdr *tls = &im.ph[4];
	tls->p_filesz = tls->p_memsz + 1;
	expect(&im, -EINVAL, "PT_TLS p_filesz is larger than p_memsz");
	im = exec_img();
	tls->p_offset = im.size - 0xf;
	expect(&im, -EINVAL, "PT_TLS runs past the end of the file");
	tls->p_offset = UINT64_MAX - 4;
	expect(&im, -EINVAL, "PT_TLS runs past the end of the file");
	im = exec_img();
	tls->p_memsz = ELF_USER_END;
	expect(&im, -EINVAL, "PT_TLS ends above user space");
	tls->p_vaddr = UINT64_MAX - 0x10;
	tls->p_memsz = 0x30;
	expect(&im, -EINVAL, "PT_TLS ends above user space");
	static const uint64_t aligns[] = { 3, 6, 0x30, UINT64_MAX };
	for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		im = exec_img();
		tls->p_align = aligns[i];
		expect(&im, -EINVAL, "PT_TLS alignment is not a power of two");
	}
	im = exec_img();
	tls->p_align = 0;
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.tls.align, 1);
	tls->p_align = 64;
	assert_int_equal(parse(&im), 0);
	assert_int_equal(plan.tls.align, 64);

	im = exec_img();
	im.eh.e_phnum = 7;
	im.ph[6] = im.ph[4];
	im.ph[0].p_filesz = im.ph[0].p_memsz = 64 + 7 * 56;
	expect(&im, -EINVAL, "more than one PT_TLS");

	/* The image must be file bytes of a PT_LOAD, at the same place. */
	im = exec_img();
	tls->p_vaddr = 0x403000; /* between segments */
	expect(&im, -EINVAL, "PT_TLS image is not in a PT_LOAD");
	im = exec_img();
	tls->p_filesz = 0x41; /* one past the file bytes of the segment */
	tls->p_memsz = 0x60;
	im.size = 0x3100;
	expect(&im, -EINVAL, "PT_TLS image is not in a PT_LOAD");
	im = exec_img();
	tls->p_offset = 0x2fd8; /* the right memory, other file bytes */
	expect(&im, -EINVAL, "PT_TLS image is not in a PT_LOAD");
	im = exec_img();
	tls->p_vaddr = 0x403fd8;
	expect(&im, -EINVAL, "PT_TLS image is not in a PT_LOAD");
	im = exec_img();
	tls->p_offset = 0x1000; /* file bytes of the text, but mapped elsewhere */
	expect(&im, -EINVAL, "PT_TLS image is not in a PT_LOAD");
	/* The image at the end of the segment's file bytes is fine. */
	im = exec_img();
	tls->p_offset += 0x30;
	tls->p_vaddr += 0x30;
	assert_int_equal(parse(&im), 0);
	/* An empty image (all .tbss) is not placed. */
	tls->p_filesz = 0;
	tls->p_offset = 0;
	tls->p_vaddr = 0x10;
	assert_int_equal(parse(&im), 0);
	assert_true(plan.tls.present);
	assert_int_equal(plan.tls.filesz, 0);
	/* The PT_TLS before the PT_LOADs it lies in. */
	im = exec_img();
	Elf64_Phdr t = im.ph[4];
	memmove(&im.ph[1], &im.ph[0], 4 * sizeof(Elf64_Phdr));
	im.ph[0] = t;
	assert_int_equal(parse(&im), 0);
	assert_true(plan.tls.present);
}

static void test_pt_phdr(void **state)
{
	(void)state;
	struct img im = pie_img();
	im.ph[0].p_offset = 0x48;
	expect(&im, -EINVAL, "PT_PHDR p_offset is not e_phoff");
	im = pie_img();
	im.ph[0].p_vaddr = 0x1040;
	expect(&im, -EINVAL, "PT_PHDR p_vaddr is not where the program headers are loaded");
	im = pie_img();
	im.ph[1].p_filesz = im.ph[1].p_memsz = 0x40 + 7 * 56 - 1; /* one byte short of the table */
	expect(&im, -EINVAL, "PT_PHDR, but no PT_LOAD holds the program headers");
	im.ph[0].p_type = PT_NULL;
	assert_int_equal(parse(&im), 0);
	assert_false(plan.phdr_mapped);
	assert_int_equal(plan.phdr_vaddr, 0);
	im = pie_img();
	im.eh.e_phnum = 8;
	im.ph[7] = im.ph[0];
	im.ph[1].p_filesz = im.ph[1].p_memsz = 0x2e0;
	expect(&im, -EINVAL, "more than one PT_PHDR");

	/* The program headers in the file bytes of a segment other than the first. */
	im = exec_img();
	im.eh.e_phoff = 0x1100;
	im.size = 0x3010;
	assert_int_equal(parse(&im), 0);
	assert_true(plan.phdr_mapped);
	assert_int_equal(plan.phdr_vaddr, 0x401100);
	/* In the page of a segment but before its p_offset: not mapped (Linux 6.x agrees). */
	im = exec_img();
	im.ph[0].p_offset = 0x200;
	im.ph[0].p_vaddr = 0x400200;
	assert_int_equal(parse(&im), 0);
	assert_false(plan.phdr_mapped);
}

/* ---- random corruption ---- */

static void test_random_corruption(void **state)
{
	(void)state;
	uint64_t seed = 0x2545f4914f6cdd1dull;
	static const uint8_t vals[] = { 0, 1, 2, 3, 6, 7, 0x10, 0x38, 0x40, 0x7f, 0x80, 0xff };
	int accepted = 0;
	for (int round = 0; round < 30000; round++) {
		struct img im = round % 3 == 0 ? exec_img() : round % 3 == 1 ? pie_img() : shared_img();
		struct file f = flatten(&im);
		int nflips = 1 + round % 5;
		for (int k = 0; k < nflips; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t pos = (seed >> 33) % f.len;
			f.bytes[pos] = (seed >> 20) & 1 ? vals[(seed >> 8) % sizeof(vals)]
							 : (uint8_t)(seed >> 12);
		}
		if (round % 7 == 0)
			f.size = (seed >> 40) % (im.size + 1);
		int rc = parse_file(&f);
		assert_true(rc == 0 || rc == -EINVAL || rc == -ENOEXEC);
		accepted += rc == 0;
		free(f.bytes);
	}
	/* Some corruption lands in ignored or harmless fields. */
	assert_true(accepted > 100);
}

/* ---- real executables, against readelf ---- */

struct re_ph {
	char type[32];
	uint64_t off, vaddr, filesz, memsz, align;
	uint32_t flags;
};

struct re {
	uint16_t type;
	uint64_t entry, phoff, phnum;
	struct re_ph ph[ELF_MAX_PHDRS];
	unsigned nph;
};

static char tmpdir[64];

static void read_readelf(const char *path, struct re *r)
{
	char cmd[600], line[1024];
	memset(r, 0, sizeof(*r));
	snprintf(cmd, sizeof(cmd), "LC_ALL=C readelf -hlW '%s'", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *v;
		if ((v = strstr(line, "  Type:"))) {
			if (strstr(v, "EXEC ("))
				r->type = ET_EXEC;
			else if (strstr(v, "DYN ("))
				r->type = ET_DYN;
		} else if ((v = strstr(line, "Entry point address:"))) {
			r->entry = strtoull(v + 20, NULL, 0);
		} else if ((v = strstr(line, "Start of program headers:"))) {
			r->phoff = strtoull(v + 25, NULL, 0);
		} else if ((v = strstr(line, "Number of program headers:"))) {
			r->phnum = strtoull(v + 26, NULL, 0);
		} else {
			struct re_ph ph = { 0 };
			uint64_t paddr;
			int n = 0;
			if (sscanf(line, " %31s %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64
					 " %" SCNx64 " %n",
				   ph.type, &ph.off, &ph.vaddr, &paddr, &ph.filesz, &ph.memsz,
				   &n) < 6 || n == 0)
				continue;
			/* Only program header lines: PT_* names (not "Magic:" and its hex bytes). */
			if (strspn(ph.type, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen(ph.type))
				continue;
			/* Then the flags ("R E", "RW ", "RWE") and the alignment. */
			char *s = line + n;
			for (; *s && strncmp(s, "0x", 2); s++) {
				if (*s == 'R')
					ph.flags |= PF_R;
				else if (*s == 'W')
					ph.flags |= PF_W;
				else if (*s == 'E')
					ph.flags |= PF_X;
				else
					assert_true(*s == ' ');
			}
			ph.align = strtoull(s, NULL, 16);
			assert_true(r->nph < ELF_MAX_PHDRS);
			r->ph[r->nph++] = ph;
		}
	}
	assert_int_equal(pclose(p), 0);
	assert_true(r->type == ET_EXEC || r->type == ET_DYN);
	assert_int_equal(r->nph, r->phnum);
}

static int fd_read(void *ctx, void *buf, uint64_t len, uint64_t off)
{
	int fd = *(int *)ctx;
	ssize_t n = pread(fd, buf, len, (off_t)off);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* Parses path and checks the plan against readelf; returns it in plan. */
static void check_real(const char *path)
{
	struct re r;
	read_readelf(path, &r);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	why = NULL;
	int rc = elf_load_plan(&plan, st.st_size, fd_read, &fd, &why);
	close(fd);
	if (rc)
		fail_msg("%s: %d (%s)", path, rc, why);
	check_plan(&plan, st.st_size);

	assert_int_equal(plan.type, r.type);
	assert_int_equal(plan.entry, r.entry);
	assert_int_equal(plan.phoff, r.phoff);
	assert_int_equal(plan.phnum, r.phnum);
	unsigned nseg = 0;
	bool interp = false, tls = false, stack_x = false, phdr = false;
	for (unsigned i = 0; i < r.nph; i++) {
		const struct re_ph *ph = &r.ph[i];
		if (!strcmp(ph->type, "LOAD") && ph->memsz) {
			assert_true(nseg < plan.nseg);
			const struct elf_seg *s = &plan.seg[nseg++];
			assert_int_equal(s->vaddr, ph->vaddr);
			assert_int_equal(s->offset, ph->off);
			assert_int_equal(s->filesz, ph->filesz);
			assert_int_equal(s->memsz, ph->memsz);
			assert_int_equal(s->prot, ph->flags);
		} else if (!strcmp(ph->type, "INTERP")) {
			if (!interp) {
				assert_int_equal(plan.interp_offset, ph->off);
				assert_int_equal(plan.interp_size, ph->filesz);
			}
			interp = true;
		} else if (!strcmp(ph->type, "TLS")) {
			tls = true;
			assert_int_equal(plan.tls.vaddr, ph->vaddr);
			assert_int_equal(plan.tls.filesz, ph->filesz);
			assert_int_equal(plan.tls.memsz, ph->memsz);
			assert_int_equal(plan.tls.align, ph->align ? ph->align : 1);
		} else if (!strcmp(ph->type, "GNU_STACK")) {
			stack_x = (ph->flags & PF_X) != 0;
		} else if (!strcmp(ph->type, "PHDR")) {
			phdr = true;
			assert_true(plan.phdr_mapped);
			assert_int_equal(plan.phdr_vaddr, ph->vaddr);
		}
	}
	assert_int_equal(plan.nseg, nseg);
	assert_int_equal(plan.has_interp, interp);
	assert_int_equal(plan.tls.present, tls);
	assert_int_equal(plan.exec_stack, stack_x);
	if (!phdr && plan.phdr_mapped) {
		/* Where Linux 6.x would point AT_PHDR. */
		bool found = false;
		for (unsigned i = 0; i < r.nph && !found; i++) {
			const struct re_ph *ph = &r.ph[i];
			if (!strcmp(ph->type, "LOAD") && ph->off <= r.phoff &&
			    r.phoff < ph->off + ph->filesz) {
				found = true;
				assert_int_equal(plan.phdr_vaddr, ph->vaddr + r.phoff - ph->off);
			}
		}
		assert_true(found);
	}
}

static void need_tool(const char *tool, const char *package)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	if (system(cmd) != 0)
		fail_msg("%s is not installed (Debian package %s; make deps)", tool, package);
}

static void need_file(const char *path, const char *package)
{
	if (access(path, R_OK) != 0)
		fail_msg("%s is missing (Debian package %s; make deps)", path, package);
}

static void test_debian_static(void **state)
{
	(void)state;
	need_tool("readelf", "binutils");
	need_file("/bin/busybox", "busybox-static");
	need_file("/bin/bash-static", "bash-static");
	check_real("/bin/busybox");
	assert_int_equal(plan.type, ET_EXEC);
	assert_false(plan.has_interp);
	check_real("/bin/bash-static");
	assert_int_equal(plan.type, ET_EXEC);
	assert_false(plan.has_interp);
}

static void test_dynamic(void **state)
{
	(void)state;
	need_tool("readelf", "binutils");
	need_file("/bin/ls", "coreutils");
	check_real("/bin/ls");
	assert_true(plan.has_interp);
}

static int remove_tmpdir(void **state)
{
	(void)state;
	char cmd[128];
	if (!tmpdir[0])
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	tmpdir[0] = '\0';
	return system(cmd) == 0 ? 0 : -1;
}

/* Compiles tmpdir/hello.c into tmpdir/out with cc and flags; fails saying what to install. */
static void build(const char *cc, const char *flags, const char *out, const char *package)
{
	char cmd[512], path[128];
	snprintf(cmd, sizeof(cmd), "%s %s -o '%s/%s' '%s/hello.c' 2>&1", cc, flags, tmpdir, out,
		 tmpdir);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char msg[2048];
	size_t n = fread(msg, 1, sizeof(msg) - 1, p);
	msg[n] = '\0';
	if (pclose(p) != 0)
		fail_msg("'%s %s' failed (Debian package %s):\n%s", cc, flags, package, msg);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, out);
	check_real(path);
}

static void test_built_here(void **state)
{
	(void)state;
	need_tool("readelf", "binutils");
	need_tool("gcc", "gcc");
	need_tool("musl-gcc", "musl-tools");
	strcpy(tmpdir, "/tmp/pier-test-elf-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	char path[128];
	snprintf(path, sizeof(path), "%s/hello.c", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	/* TLS with an initialiser and without, data, and bss. */
	fputs("#include <stdio.h>\n"
	      "_Thread_local int tls_data = 42;\n"
	      "_Thread_local char tls_bss[100];\n"
	      "int data = 1;\n"
	      "char bss[1 << 16];\n"
	      "int main(int argc, char **argv)\n"
	      "{\n"
	      "\ttls_bss[argc] = (char)data;\n"
	      "\tbss[argc] = 1;\n"
	      "\tprintf(\"%s %d\\n\", argv[0], tls_data + tls_bss[argc] + bss[argc]);\n"
	      "\treturn 0;\n"
	      "}\n",
	      f);
	assert_int_equal(fclose(f), 0);

	build("musl-gcc", "-static -O2", "musl-static", "musl-tools");
	assert_int_equal(plan.type, ET_EXEC);
	assert_false(plan.has_interp);
	assert_true(plan.tls.present);
	assert_true(plan.phdr_mapped);

	build("gcc", "-static -O2", "gcc-static", "libc6-dev (libc.a)");
	assert_int_equal(plan.type, ET_EXEC);
	assert_false(plan.has_interp);
	assert_true(plan.tls.present);

	build("gcc", "-static-pie -O2", "gcc-static-pie", "libc6-dev (rcrt1.o, libc.a)");
	assert_int_equal(plan.type, ET_DYN);
	assert_false(plan.has_interp);
	assert_true(plan.tls.present);
	assert_int_equal(plan.min_vaddr, 0);
	uint64_t bias = elf_pick_bias(&plan, 0x555555554000);
	assert_int_equal(bias, 0x555555554000);

	/*
	 * ld -n (nmagic): one RWX segment that starts after the program
	 * headers, so they are not in memory; Linux 6.x gives such a program
	 * AT_PHDR 0 (and musl then crashes), the plan says phdr_mapped false.
	 */
	build("musl-gcc", "-static -Wl,-n -Wl,--no-warn-rwx-segments", "musl-nmagic", "musl-tools");
	assert_int_equal(plan.type, ET_EXEC);
	assert_int_equal(plan.nseg, 1);
	assert_int_equal(plan.seg[0].prot, PF_R | PF_W | PF_X);
	assert_true(plan.seg[0].offset > plan.phoff);
	assert_false(plan.phdr_mapped);

	/* A dynamically linked PIE has PT_INTERP and a PT_PHDR. */
	build("gcc", "-O2", "gcc-dynamic", "gcc");
	assert_true(plan.has_interp);
	assert_true(plan.phdr_mapped);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_plan),
		cmocka_unit_test(test_pie_plan),
		cmocka_unit_test(test_interp),
		cmocka_unit_test(test_shared_page),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_phdr_table),
		cmocka_unit_test(test_many_phdrs_and_reads),
		cmocka_unit_test(test_load_fields),
		cmocka_unit_test(test_load_order),
		cmocka_unit_test(test_segment_limit),
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_pt_phdr),
		cmocka_unit_test(test_random_corruption),
		cmocka_unit_test(test_debian_static),
		cmocka_unit_test(test_dynamic),
		cmocka_unit_test_teardown(test_built_here, remove_tmpdir),
	};
	return cmocka_run_group_tests_name("elf_load", tests, NULL, NULL);
}
