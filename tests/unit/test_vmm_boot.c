/*
 * Unit tests for host/vmm/boot.c: loading the kernel ELF into guest RAM,
 * the PVH start_info the VMM writes, the initial page tables and register
 * state of both entries, and the initrd's placement. The real kernel
 * (build/kernel.elf, or $PIER_KERNEL) is loaded and checked against an
 * independent parse of the file; hand-built ELF files, written to a
 * temporary directory, cover every refusal. Guest RAM comes from
 * guest_mem_init, as in the VMM; no KVM is needed.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <pier/pvh.h>
#include "vmm/boot.h"
#include "vmm/guest_mem.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define RAM_SIZE (16 * MiB)
/* Where boot.c puts what it writes (its documented guest layout). */
#define START_INFO 0x9000
#define LOW_END 0x100000
#define KERNEL_VMA 0xffffffff80000000ULL
#define DIRECT_MAP 0xffff800000000000ULL
#define POISON 0xcc

static struct guest_mem m;
static char tmpdir[64];
static unsigned file_no;

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/pier-boot-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char p[128];
	for (unsigned i = 0; i < file_no; i++) {
		snprintf(p, sizeof(p), "%s/f%u", tmpdir, i);
		unlink(p);
	}
	rmdir(tmpdir);
	return 0;
}

/* Fresh guest RAM for every test, poisoned so that copies and zeroing show. */
static int mem_up(void **state)
{
	(void)state;
	assert_int_equal(guest_mem_init(&m, RAM_SIZE), 0);
	memset(m.host, POISON, m.size);
	return 0;
}

static int mem_down(void **state)
{
	(void)state;
	guest_mem_free(&m);
	return 0;
}

static uint8_t *gp(uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&m, gpa, len);
	assert_non_null(p);
	return p;
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Writes `len` bytes to a new file in the temporary directory. */
static const char *put_file(const void *data, size_t len)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/f%u", tmpdir, file_no++);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static uint8_t *read_whole(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *b = malloc((size_t)st.st_size);
	assert_non_null(b);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

/* ---- the real kernel ---- */

/* Looks for note (name, type) in a PT_NOTE's bytes the way the ELF spec
 * lays them out; returns the descriptor's first 8 (or 4) bytes, or 0. */
static uint64_t find_note(const uint8_t *p, size_t len, const char *name, uint32_t type)
{
	size_t off = 0, nlen = strlen(name) + 1;
	while (off + sizeof(Elf64_Nhdr) <= len) {
		Elf64_Nhdr nh;
		memcpy(&nh, p + off, sizeof(nh));
		size_t n4 = (nh.n_namesz + 3ULL) & ~3ULL, d4 = (nh.n_descsz + 3ULL) & ~3ULL;
		size_t at = off + sizeof(nh);
		assert_true(at + n4 + d4 <= len); /* the real kernel's notes are well formed */
		if (nh.n_namesz == nlen && memcmp(p + at, name, nlen) == 0 && nh.n_type == type) {
			uint64_t v = 0;
			memcpy(&v, p + at + n4, nh.n_descsz >= 8 ? 8 : nh.n_descsz);
			return v;
		}
		off = at + n4 + d4;
	}
	return 0;
}

static void test_real_kernel(void **state)
{
	(void)state;
	const char *path = getenv("PIER_KERNEL") ? getenv("PIER_KERNEL") : "build/kernel.elf";
	size_t len;
	uint8_t *f = read_whole(path, &len);
	if (!f) {
		print_message("%s not found (run `make` first, or set PIER_KERNEL)\n", path);
		skip();
	}
	struct boot_image img;
	assert_int_equal(boot_load_kernel(&m, path, &img), 0);

	/* An independent reading of the same file. */
	Elf64_Ehdr eh;
	assert_true(len >= sizeof(eh));
	memcpy(&eh, f, sizeof(eh));
	uint64_t want_pvh = 0, want_64 = 0, want_end = 0;
	unsigned loads = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, f + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE) {
			uint64_t v = find_note(f + ph.p_offset, ph.p_filesz, "Xen",
					       PVH_ELFNOTE_PHYS32_ENTRY);
			want_pvh = v ? v : want_pvh;
			v = find_note(f + ph.p_offset, ph.p_filesz, PIER_ELFNOTE_NAME,
				      PIER_ELFNOTE_ENTRY64);
			want_64 = v ? v : want_64;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		loads++;
		/* Each segment's bytes at its physical address, its bss zeroed. */
		assert_true(ph.p_paddr >= LOW_END);
		const uint8_t *g = gp(ph.p_paddr, ph.p_memsz);
		assert_memory_equal(g, f + ph.p_offset, ph.p_filesz);
		assert_true(all_bytes(g + ph.p_filesz, ph.p_memsz - ph.p_filesz, 0));
		if (ph.p_paddr + ph.p_memsz > want_end)
			want_end = ph.p_paddr + ph.p_memsz;
	}
	assert_true(loads >= 1);
	assert_true(want_pvh != 0);
	assert_true(want_64 != 0);
	assert_int_equal(img.pvh_entry, want_pvh);
	assert_int_equal(img.entry64, want_64);
	assert_int_equal(img.phys_end, want_end);
	/* The PVH entry is a 32-bit physical address inside what was loaded. */
	assert_true(img.pvh_entry >= LOW_END && img.pvh_entry < img.phys_end);
	/* Nothing below 1 MiB was touched. */
	assert_true(all_bytes(gp(0, LOW_END), LOW_END, POISON));
	free(f);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct boot_image img = { 1, 1, 1 };
	char p[128];
	snprintf(p, sizeof(p), "%s/does-not-exist", tmpdir);
	assert_int_equal(boot_load_kernel(&m, p, &img), -1);
	assert_int_equal(boot_load_kernel(&m, tmpdir, &img), -1); /* a directory */
}

/* ---- hand-built ELF files ---- */

/*
 * The baseline image: header, two program headers (a PT_LOAD, then a
 * PT_NOTE), the segment's bytes at SEG_OFF, and the notes last, so that
 * a read past the notes is a read past the file (ASan sees it).
 */
#define SEG_OFF 0x100
#define SEG_FILESZ 0x100
#define SEG_MEMSZ 0x2000
#define SEG_PADDR (2 * MiB)
#define NOTE_OFF (SEG_OFF + SEG_FILESZ)
#define PVH_ENTRY 0x200040
#define ENTRY64 0xffffffff80200080ULL

struct elf {
	uint8_t b[4096];
	size_t len;
	Elf64_Ehdr *eh;
	Elf64_Phdr *load, *note;
};

static void note_add(struct elf *e, const char *name, uint32_t namesz, uint32_t descsz,
		     uint32_t type, const void *desc, size_t desc_bytes)
{
	Elf64_Nhdr nh = { .n_namesz = namesz, .n_descsz = descsz, .n_type = type };
	memcpy(e->b + e->len, &nh, sizeof(nh));
	e->len += sizeof(nh);
	size_t nlen = strlen(name) + 1;
	memcpy(e->b + e->len, name, nlen);
	e->len += (nlen + 3) & ~3u;
	if (desc_bytes)
		memcpy(e->b + e->len, desc, desc_bytes);
	e->len += (desc_bytes + 3) & ~3u;
	e->note->p_filesz = e->note->p_memsz = e->len - NOTE_OFF;
}

/* A valid kernel with both entry notes; `notes` false leaves them out. */
static void elf_build(struct elf *e, bool notes)
{
	memset(e, 0, sizeof(*e));
	e->eh = (Elf64_Ehdr *)e->b;
	memcpy(e->eh->e_ident, ELFMAG, SELFMAG);
	e->eh->e_ident[EI_CLASS] = ELFCLASS64;
	e->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh->e_ident[EI_VERSION] = EV_CURRENT;
	e->eh->e_type = ET_EXEC;
	e->eh->e_machine = EM_X86_64;
	e->eh->e_version = EV_CURRENT;
	e->eh->e_entry = PVH_ENTRY;
	e->eh->e_phoff = sizeof(Elf64_Ehdr);
	e->eh->e_ehsize = sizeof(Elf64_Ehdr);
	e->eh->e_phentsize = sizeof(Elf64_Phdr);
	e->eh->e_phnum = 2;
	e->load = (Elf64_Phdr *)(e->b + sizeof(Elf64_Ehdr));
	e->note = e->load + 1;
	*e->load = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X,
				 .p_offset = SEG_OFF, .p_vaddr = SEG_PADDR, .p_paddr = SEG_PADDR,
				 .p_filesz = SEG_FILESZ, .p_memsz = SEG_MEMSZ, .p_align = 4096 };
	*e->note = (Elf64_Phdr){ .p_type = PT_NOTE, .p_flags = PF_R, .p_offset = NOTE_OFF,
				 .p_paddr = SEG_PADDR, .p_align = 4 };
	for (unsigned i = 0; i < SEG_FILESZ; i++)
		e->b[SEG_OFF + i] = (uint8_t)(i * 13 + 1);
	e->len = NOTE_OFF;
	if (notes) {
		uint64_t pvh = PVH_ENTRY, e64 = ENTRY64;
		note_add(e, "Xen", 4, 8, PVH_ELFNOTE_PHYS32_ENTRY, &pvh, 8);
		note_add(e, PIER_ELFNOTE_NAME, 5, 8, PIER_ELFNOTE_ENTRY64, &e64, 8);
	}
}

static int load(const struct elf *e, struct boot_image *img)
{
	return boot_load_kernel(&m, put_file(e->b, e->len), img);
}

static void expect_refused(const struct elf *e)
{
	struct boot_image img;
	assert_int_equal(load(e, &img), -1);
}

static void test_baseline_loads(void **state)
{
	(void)state;
	struct elf e;
	elf_build(&e, true);
	struct boot_image img;
	assert_int_equal(load(&e, &img), 0);
	assert_int_equal(img.pvh_entry, PVH_ENTRY);
	assert_int_equal(img.entry64, ENTRY64);
	assert_int_equal(img.phys_end, SEG_PADDR + SEG_MEMSZ);
	const uint8_t *g = gp(SEG_PADDR, SEG_MEMSZ);
	assert_memory_equal(g, e.b + SEG_OFF, SEG_FILESZ);
	assert_true(all_bytes(g + SEG_FILESZ, SEG_MEMSZ - SEG_FILESZ, 0)); /* bss */
	assert_int_equal(g[SEG_MEMSZ], POISON); /* and not a byte more */
	assert_int_equal(g[-1], POISON);

	/* Either note alone is enough; the other entry stays 0. */
	elf_build(&e, false);
	uint64_t pvh = PVH_ENTRY, e64 = ENTRY64;
	note_add(&e, "Xen", 4, 8, PVH_ELFNOTE_PHYS32_ENTRY, &pvh, 8);
	assert_int_equal(load(&e, &img), 0);
	assert_int_equal(img.pvh_entry, PVH_ENTRY);
	assert_int_equal(img.entry64, 0);
	elf_build(&e, false);
	note_add(&e, PIER_ELFNOTE_NAME, 5, 8, PIER_ELFNOTE_ENTRY64, &e64, 8);
	assert_int_equal(load(&e, &img), 0);
	assert_int_equal(img.pvh_entry, 0);
	assert_int_equal(img.entry64, ENTRY64);
	/* A 4-byte PVH descriptor (as Linux's) is read as 32 bits. */
	elf_build(&e, false);
	uint32_t pvh32 = PVH_ENTRY;
	note_add(&e, "Xen", 4, 4, PVH_ELFNOTE_PHYS32_ENTRY, &pvh32, 4);
	assert_int_equal(load(&e, &img), 0);
	assert_int_equal(img.pvh_entry, PVH_ENTRY);
	/* Segments in high RAM are fine as long as they are RAM. */
	elf_build(&e, true);
	e.load->p_paddr = RAM_SIZE - SEG_MEMSZ;
	assert_int_equal(load(&e, &img), 0);
	assert_int_equal(img.phys_end, RAM_SIZE);
}

static void test_bad_headers(void **state)
{
	(void)state;
	struct elf e;
	struct boot_image img;
	/* Empty and truncated files. */
	assert_int_equal(boot_load_kernel(&m, put_file("", 0), &img), -1);
	elf_build(&e, true);
	assert_int_equal(boot_load_kernel(&m, put_file(e.b, sizeof(Elf64_Ehdr) - 1), &img), -1);
	assert_int_equal(boot_load_kernel(&m, put_file(e.b, 4), &img), -1);
	/* Only the program headers, no segment data: segment past EOF. */
	assert_int_equal(boot_load_kernel(&m, put_file(e.b, SEG_OFF), &img), -1);

	elf_build(&e, true);
	e.eh->e_ident[EI_MAG0] = 0x7e;
	expect_refused(&e);
	elf_build(&e, true);
	e.eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_refused(&e);
	elf_build(&e, true);
	e.eh->e_machine = EM_386;
	expect_refused(&e);
	elf_build(&e, true);
	e.eh->e_machine = EM_AARCH64;
	expect_refused(&e);
	elf_build(&e, true);
	e.eh->e_phentsize = sizeof(Elf32_Phdr);
	expect_refused(&e);
	elf_build(&e, true);
	e.eh->e_phentsize = sizeof(Elf64_Phdr) + 8;
	expect_refused(&e);
}

static void test_phdrs_outside_file(void **state)
{
	(void)state;
	struct elf e;
	static const uint64_t phoffs[] = { 4096, 4096 * 16, UINT64_MAX, UINT64_MAX - 55,
					   1ULL << 63 };
	for (size_t i = 0; i < sizeof(phoffs) / sizeof(phoffs[0]); i++) {
		elf_build(&e, true);
		e.eh->e_phoff = phoffs[i];
		expect_refused(&e);
	}
	/* The table starts inside the file but runs past its end. */
	elf_build(&e, true);
	e.eh->e_phoff = e.len - sizeof(Elf64_Phdr) + 1;
	expect_refused(&e);
	elf_build(&e, true);
	e.eh->e_phnum = 0xffff;
	expect_refused(&e);
	elf_build(&e, true);
	e.eh->e_phnum = (uint16_t)(e.len / sizeof(Elf64_Phdr) + 1);
	expect_refused(&e);
}

static void test_segments_outside_file(void **state)
{
	(void)state;
	struct elf e;
	elf_build(&e, true);
	e.load->p_offset = e.len + 1;
	expect_refused(&e);
	elf_build(&e, true);
	e.load->p_offset = e.len - 8;
	e.load->p_filesz = 9;
	expect_refused(&e);
	/* offset + filesz wraps around to a small number. */
	elf_build(&e, true);
	e.load->p_offset = UINT64_MAX - 15;
	e.load->p_filesz = 32;
	expect_refused(&e);
	elf_build(&e, true);
	e.load->p_offset = 16;
	e.load->p_filesz = UINT64_MAX - 8;
	e.load->p_memsz = UINT64_MAX;
	expect_refused(&e);
	/* The same for the note segment. */
	elf_build(&e, true);
	e.note->p_filesz += 1;
	expect_refused(&e);
	elf_build(&e, true);
	e.note->p_offset = UINT64_MAX - 3;
	expect_refused(&e);
	/* p_filesz > p_memsz. */
	elf_build(&e, true);
	e.load->p_memsz = SEG_FILESZ - 1;
	expect_refused(&e);
	/* Other segment types are not looked at, however bogus (a third
	 * program header, in the gap before the segment's bytes). */
	elf_build(&e, true);
	e.eh->e_phnum = 3;
	assert_true(sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr) <= SEG_OFF);
	e.note[1] = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_offset = UINT64_MAX,
				  .p_filesz = UINT64_MAX, .p_paddr = 0 };
	struct boot_image img;
	assert_int_equal(load(&e, &img), 0);
	assert_int_equal(img.pvh_entry, PVH_ENTRY);
}

static void test_segments_outside_ram(void **state)
{
	(void)state;
	static const struct {
		uint64_t paddr, memsz;
	} bad[] = {
		{ 0, SEG_MEMSZ },                          /* below 1 MiB */
		{ 0x80000, SEG_MEMSZ },
		{ LOW_END - 0x1000, SEG_MEMSZ },           /* straddles 1 MiB */
		{ RAM_SIZE - 0x1000, SEG_MEMSZ },          /* past the end of RAM */
		{ RAM_SIZE, SEG_MEMSZ },
		{ GUEST_MEM_HOLE_START, SEG_MEMSZ },       /* the device hole */
		{ 0xd0000000, SEG_MEMSZ },
		{ GUEST_MEM_HIGH_START, SEG_MEMSZ },       /* no RAM above 4 GiB here */
		{ SEG_PADDR, RAM_SIZE },                   /* too big */
		{ SEG_PADDR, UINT64_MAX },                 /* wraps */
		{ UINT64_MAX - 0xfff, SEG_MEMSZ },
		{ UINT64_MAX, 2 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct elf e;
		elf_build(&e, true);
		e.load->p_paddr = bad[i].paddr;
		e.load->p_memsz = bad[i].memsz;
		expect_refused(&e);
	}
	/* Nothing was written below 1 MiB or at the end of RAM. */
	assert_true(all_bytes(gp(0, LOW_END), LOW_END, POISON));
	assert_true(all_bytes(gp(RAM_SIZE - 0x1000, 0x1000), 0x1000, POISON));
}

static void test_notes_bogus(void **state)
{
	(void)state;
	uint64_t pvh = PVH_ENTRY;
	struct elf e;
	/* No notes at all, an empty note segment, and a truncated note header. */
	elf_build(&e, false);
	expect_refused(&e);
	elf_build(&e, false);
	e.note->p_filesz = e.note->p_memsz = 0;
	expect_refused(&e);
	elf_build(&e, false);
	memset(e.b + e.len, 0, 8);
	e.len += 8;
	e.note->p_filesz = e.note->p_memsz = 8;
	expect_refused(&e);
	/* Notes that are not ours. */
	elf_build(&e, false);
	note_add(&e, "GNU", 4, 8, NT_GNU_BUILD_ID, &pvh, 8);
	note_add(&e, "Xen", 4, 8, 5 /* XEN_ELFNOTE_ENTRY */, &pvh, 8);
	note_add(&e, "Xe", 3, 8, PVH_ELFNOTE_PHYS32_ENTRY, &pvh, 8);
	note_add(&e, "Pie", 4, 8, PIER_ELFNOTE_ENTRY64, &pvh, 8);
	expect_refused(&e);
	/* The 64-bit entry needs exactly 8 bytes; a short PVH one gives 0. */
	elf_build(&e, false);
	note_add(&e, PIER_ELFNOTE_NAME, 5, 4, PIER_ELFNOTE_ENTRY64, &pvh, 4);
	note_add(&e, "Xen", 4, 2, PVH_ELFNOTE_PHYS32_ENTRY, &pvh, 2);
	expect_refused(&e);
	/* Sizes running past the segment, at the end of the file. */
	static const uint32_t sizes[] = { 5, 8, 64, 0x7fffffff, 0xfffffff0 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		elf_build(&e, false);
		note_add(&e, "Xen", sizes[i], 0, PVH_ELFNOTE_PHYS32_ENTRY, NULL, 0);
		expect_refused(&e);
		elf_build(&e, false);
		note_add(&e, "Xen", 4, sizes[i], PVH_ELFNOTE_PHYS32_ENTRY, NULL, 0);
		expect_refused(&e);
	}
	/* A good note after a bogus one is never reached: the scan stops. */
	elf_build(&e, false);
	note_add(&e, "Xen", 4, 64, PVH_ELFNOTE_PHYS32_ENTRY, NULL, 0);
	note_add(&e, "Xen", 4, 8, PVH_ELFNOTE_PHYS32_ENTRY, &pvh, 8);
	expect_refused(&e);
	/* namesz so large that rounding it up to 4 wraps to 0 (name bytes
	 * are never compared then: the lengths do not match). */
	elf_build(&e, false);
	note_add(&e, "Xen", 0xfffffffe, 8, PVH_ELFNOTE_PHYS32_ENTRY, &pvh, 8);
	expect_refused(&e);
}

/*
 * Regression (fixed in host/vmm/boot.c, scan_notes): n_descsz of 0xfffffffd..
 * 0xffffffff rounds up to 0 in 32-bit arithmetic, so the bounds check
 * passes, and then `nh.n_descsz >= 4` copies 8 bytes from the descriptor,
 * which here is the end of the file: a heap read past the buffer (ASan),
 * and an entry taken from whatever bytes follow.
 */
static void test_notes_descsz_wraps(void **state)
{
	(void)state;
	static const uint32_t wrap[] = { 0xfffffffd, 0xfffffffe, 0xffffffff };
	for (size_t i = 0; i < sizeof(wrap) / sizeof(wrap[0]); i++) {
		struct elf e;
		elf_build(&e, false);
		note_add(&e, "Xen", 4, wrap[i], PVH_ELFNOTE_PHYS32_ENTRY, NULL, 0);
		expect_refused(&e);
		elf_build(&e, false);
		note_add(&e, PIER_ELFNOTE_NAME, 5, wrap[i], PIER_ELFNOTE_ENTRY64, NULL, 0);
		expect_refused(&e);
	}
}

/* ---- start_info ---- */

static const struct hvm_start_info *start_info(void)
{
	return (const struct hvm_start_info *)gp(START_INFO, sizeof(struct hvm_start_info));
}

/* Checks the memory map: RAM everywhere but [0xa0000, 1 MiB) and the hole;
 * there, at most the ACPI tables' area, reserved. */
static void check_memmap(const struct guest_mem *g, const struct hvm_start_info *si)
{
	const struct hvm_memmap_table_entry *e =
		guest_mem_ptr(g, si->memmap_paddr, si->memmap_entries * sizeof(*e));
	assert_non_null(e);
	uint64_t total = 0, prev_end = 0;
	for (uint32_t i = 0; i < si->memmap_entries; i++) {
		assert_true(e[i].size > 0);
		assert_true(i == 0 || e[i].addr >= prev_end); /* sorted, no overlap */
		prev_end = e[i].addr + e[i].size;
		if (e[i].type == PVH_MEMMAP_TYPE_RESERVED) {
			assert_int_equal(e[i].addr, si->rsdp_paddr);
			assert_int_equal(e[i].addr + e[i].size, LOW_END);
			continue;
		}
		assert_int_equal(e[i].type, PVH_MEMMAP_TYPE_RAM);
		/* Every RAM range is RAM in guest_mem, and never the legacy hole. */
		assert_non_null(guest_mem_ptr(g, e[i].addr, e[i].size));
		assert_true(e[i].addr + e[i].size <= 0xa0000 || e[i].addr >= LOW_END);
		total += e[i].size;
		prev_end = e[i].addr + e[i].size;
	}
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, 0xa0000);
	assert_int_equal(e[si->rsdp_paddr ? 2 : 1].addr, LOW_END);
	assert_int_equal(total, g->size - (LOW_END - 0xa0000));
}

static void test_start_info(void **state)
{
	(void)state;
	const char *cmd = "virtio_mmio.device=4K@0xd0000000:16 -- /bin/true a b";
	assert_int_equal(boot_write_start_info(&m, cmd, 0, 0, 0), 0);
	const struct hvm_start_info *si = start_info();
	assert_int_equal(si->magic, PVH_START_MAGIC);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->nr_modules, 0);
	assert_int_equal(si->modlist_paddr, 0);
	assert_int_equal(si->rsdp_paddr, 0);
	assert_string_equal((const char *)gp(si->cmdline_paddr, strlen(cmd) + 1), cmd);
	assert_int_equal(si->memmap_entries, 2);
	check_memmap(&m, si);
	/* The boot data lies below 1 MiB, in RAM the map lists. */
	assert_true(si->cmdline_paddr + strlen(cmd) < 0xa0000);
	assert_true(si->memmap_paddr + 2 * sizeof(struct hvm_memmap_table_entry) < 0xa0000);

	/* With an initrd: one module. */
	assert_int_equal(boot_write_start_info(&m, "", 0xe00000, 12345, 0), 0);
	si = start_info();
	assert_int_equal(si->nr_modules, 1);
	const struct hvm_modlist_entry *mod =
		(const void *)gp(si->modlist_paddr, sizeof(struct hvm_modlist_entry));
	assert_int_equal(mod->paddr, 0xe00000);
	assert_int_equal(mod->size, 12345);
	assert_int_equal(mod->cmdline_paddr, 0);
	assert_int_equal(*gp(si->cmdline_paddr, 1), 0);

	/* With ACPI tables: their address, and their area reserved. */
	assert_int_equal(boot_write_start_info(&m, "", 0, 0, 0xe0000), 0);
	si = start_info();
	assert_int_equal(si->rsdp_paddr, 0xe0000);
	assert_int_equal(si->memmap_entries, 3);
	check_memmap(&m, si);
}

static void test_start_info_cmdline_limit(void **state)
{
	(void)state;
	size_t max = 0x10000; /* bytes including the NUL */
	char *s = malloc(max + 1);
	memset(s, 'a', max);
	s[max] = 0;
	/* One byte too many: refused, nothing written. */
	assert_int_equal(boot_write_start_info(&m, s, 0, 0, 0), -1);
	assert_true(all_bytes(gp(0, LOW_END), LOW_END, POISON));
	/* Exactly the limit fits, NUL included, and stays in low RAM. */
	s[max - 1] = 0;
	assert_int_equal(boot_write_start_info(&m, s, 0, 0, 0), 0);
	const struct hvm_start_info *si = start_info();
	const char *c = (const char *)gp(si->cmdline_paddr, max);
	assert_int_equal(strnlen(c, max), max - 1);
	assert_true(si->cmdline_paddr + max <= 0xa0000);
	/* The long command line did not overwrite start_info or the map. */
	assert_int_equal(si->magic, PVH_START_MAGIC);
	check_memmap(&m, si);
	free(s);
}

static void test_start_info_high_ram(void **state)
{
	(void)state;
	/* 3 GiB + 64 MiB: RAM below the hole, and 64 MiB from 4 GiB on.
	 * MAP_NORESERVE: only the pages written here are ever allocated. */
	struct guest_mem big;
	assert_int_equal(guest_mem_init(&big, GUEST_MEM_HOLE_START + 64 * MiB), 0);
	assert_int_equal(boot_write_start_info(&big, "x", 0, 0, 0), 0);
	const struct hvm_start_info *si = guest_mem_ptr(&big, START_INFO, sizeof(*si));
	assert_non_null(si);
	assert_int_equal(si->memmap_entries, 3);
	check_memmap(&big, si);
	const struct hvm_memmap_table_entry *e =
		guest_mem_ptr(&big, si->memmap_paddr, 3 * sizeof(*e));
	assert_int_equal(e[1].addr + e[1].size, GUEST_MEM_HOLE_START);
	assert_int_equal(e[2].addr, GUEST_MEM_HIGH_START);
	assert_int_equal(e[2].size, 64 * MiB);
	guest_mem_free(&big);
}

/* ---- entry state ---- */

#define PTE_P 0x1ULL
#define PTE_W 0x2ULL
#define PTE_PS 0x80ULL
#define PTE_ADDR 0x000ffffffffff000ULL

/* Translates a virtual address through the tables at cr3 like the MMU
 * does in 4-level paging; returns false if it is not mapped writable. */
static bool walk(uint64_t cr3, uint64_t va, uint64_t *pa)
{
	/* Canonical: bits 63..47 all equal. */
	uint64_t top = va >> 47;
	if (top != 0 && top != 0x1ffff)
		return false;
	uint64_t table = cr3 & PTE_ADDR;
	for (int level = 3; level >= 0; level--) {
		unsigned idx = (unsigned)(va >> (12 + 9 * level)) & 511;
		uint64_t pte;
		memcpy(&pte, gp(table + idx * 8, 8), 8);
		if (!(pte & PTE_P) || !(pte & PTE_W))
			return false;
		if (level == 3)
			assert_false(pte & PTE_PS); /* PS is reserved in a PML4E */
		if (level > 0 && level < 3 && (pte & PTE_PS)) {
			uint64_t page = 1ULL << (12 + 9 * level);
			assert_int_equal(pte & PTE_ADDR & (page - 1), 0); /* aligned */
			*pa = (pte & PTE_ADDR & ~(page - 1)) | (va & (page - 1));
			return true;
		}
		table = pte & PTE_ADDR;
		if (level == 0) {
			*pa = table | (va & 0xfff);
			return true;
		}
	}
	return false;
}

static uint64_t gdt_entry(const struct kvm_sregs *s, uint16_t sel)
{
	assert_true(sel + 7u <= s->gdt.limit);
	uint64_t d;
	memcpy(&d, gp(s->gdt.base + sel, 8), 8);
	return d;
}

static const struct boot_image test_img = { .pvh_entry = 0x100000,
					    .entry64 = 0xffffffff80100040ULL,
					    .phys_end = 0x200000 };

static void test_entry_64(void **state)
{
	(void)state;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	memset(&regs, 0x5a, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	/* The tables are built in fresh (zeroed) RAM, as in the VMM. */
	memset(m.host, 0, LOW_END);
	boot_set_entry(&m, &test_img, BOOT_ENTRY_64, &regs, &sregs);

	assert_int_equal(regs.rip, test_img.entry64);
	assert_int_equal(regs.rdi, START_INFO);
	assert_int_equal(regs.rflags, 0x2);
	assert_int_equal(regs.rax | regs.rbx | regs.rsp | regs.rsi, 0);
	assert_true(sregs.cr0 & 0x1);              /* PE */
	assert_true(sregs.cr0 & 0x80000000);       /* PG */
	assert_true(sregs.cr4 & 0x20);             /* PAE */
	assert_int_equal(sregs.efer & 0x500, 0x500); /* LME, LMA */
	assert_int_equal(sregs.cs.l, 1);
	assert_int_equal(sregs.cs.db, 0);
	assert_int_equal(sregs.cs.present, 1);
	/* The GDT in guest memory agrees with the cached segments. */
	uint64_t cs = gdt_entry(&sregs, sregs.cs.selector);
	assert_true(cs & (1ULL << 47));            /* present */
	assert_true(cs & (1ULL << 53));            /* L */
	assert_false(cs & (1ULL << 54));           /* D must be 0 with L */
	assert_int_equal((cs >> 40) & 0x18, 0x18); /* code segment */
	uint64_t ds = gdt_entry(&sregs, sregs.ds.selector);
	assert_true(ds & (1ULL << 47));
	assert_int_equal((ds >> 40) & 0x1a, 0x12); /* writable data */
	assert_int_equal(sregs.ss.selector, sregs.ds.selector);
	/* Everything the VMM wrote is below 1 MiB and clear of start_info. */
	assert_true(sregs.cr3 < LOW_END);
	assert_true(sregs.gdt.base + sregs.gdt.limit < START_INFO);

	/* The tables: identity and direct map over the low 4 GiB, the kernel's
	 * -2 GiB window over the first GiB. */
	static const uint64_t pas[] = { 0, 0x1000, MiB, 2 * MiB + 123, GiB - 1,
					GiB, 2 * GiB + 0x1234, 0xf9999999, 4 * GiB - 1 };
	for (size_t i = 0; i < sizeof(pas) / sizeof(pas[0]); i++) {
		uint64_t pa;
		assert_true(walk(sregs.cr3, pas[i], &pa));
		assert_int_equal(pa, pas[i]);
		assert_true(walk(sregs.cr3, DIRECT_MAP + pas[i], &pa));
		assert_int_equal(pa, pas[i]);
		if (pas[i] < GiB) {
			assert_true(walk(sregs.cr3, KERNEL_VMA + pas[i], &pa));
			assert_int_equal(pa, pas[i]);
		}
	}
	/* The entry itself is mapped (the kernel runs its first instruction). */
	uint64_t pa;
	assert_true(walk(sregs.cr3, test_img.entry64, &pa));
	assert_int_equal(pa, test_img.entry64 - KERNEL_VMA);
	/* And nothing else. */
	static const uint64_t unmapped[] = {
		4 * GiB, DIRECT_MAP + 4 * GiB, KERNEL_VMA + GiB, KERNEL_VMA - 1,
		1ULL << 39, DIRECT_MAP + (1ULL << 39), 0x00007fffffffffffULL,
		0xffff7fffffffffffULL, 0x0000800000000000ULL, /* non-canonical */
	};
	for (size_t i = 0; i < sizeof(unmapped) / sizeof(unmapped[0]); i++)
		assert_false(walk(sregs.cr3, unmapped[i], &pa));
	/* The kernel image (from 1 MiB) is not overwritten by the tables. */
	assert_true(all_bytes(gp(LOW_END, 0x1000), 0x1000, POISON));
}

static void test_entry_pvh(void **state)
{
	(void)state;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	memset(&regs, 0x5a, sizeof(regs));
	memset(&sregs, 0xff, sizeof(sregs));
	boot_set_entry(&m, &test_img, BOOT_ENTRY_PVH, &regs, &sregs);
	assert_int_equal(regs.rip, test_img.pvh_entry);
	assert_int_equal(regs.rbx, START_INFO);
	assert_int_equal(regs.rflags, 0x2);
	assert_int_equal(sregs.cr0 & 0x1, 0x1);     /* PE */
	assert_int_equal(sregs.cr0 & 0x80000000, 0); /* no paging */
	assert_int_equal(sregs.cr4 & 0x20, 0);
	assert_int_equal(sregs.efer & 0x500, 0);    /* not in long mode */
	/* Flat 32-bit segments, as the PVH ABI says. */
	assert_int_equal(sregs.cs.l, 0);
	assert_int_equal(sregs.cs.db, 1);
	assert_int_equal(sregs.cs.base, 0);
	assert_int_equal(sregs.cs.limit, 0xffffffff);
	assert_int_equal(sregs.ds.base, 0);
	assert_int_equal(sregs.ds.limit, 0xffffffff);
	uint64_t cs = gdt_entry(&sregs, sregs.cs.selector);
	assert_true(cs & (1ULL << 47));
	assert_false(cs & (1ULL << 53));
	assert_true(cs & (1ULL << 54));             /* D: 32-bit */
	/* Nothing but the GDT was written in guest memory (no page tables). */
	assert_true(all_bytes(gp(0x2000, START_INFO - 0x2000), START_INFO - 0x2000, POISON));
}

/* ---- initrd ---- */

static void test_initrd(void **state)
{
	(void)state;
	struct boot_image img = { .pvh_entry = 0x100000, .phys_end = 2 * MiB };
	uint64_t gpa = 0, size = 0;
	uint8_t data[5000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ (i >> 8));
	assert_int_equal(boot_load_initrd(&m, put_file(data, sizeof(data)), &img, &gpa, &size), 0);
	assert_int_equal(size, sizeof(data));
	assert_int_equal(gpa % 4096, 0);
	assert_true(gpa + size <= m.low_size);
	assert_true(m.low_size - (gpa + size) < 4096); /* at the top */
	assert_memory_equal(gp(gpa, size), data, size);

	/* The largest that fits leaves 4 MiB after the kernel; one page more
	 * is refused. */
	uint64_t room = RAM_SIZE - (img.phys_end + 4 * MiB);
	uint8_t *big = calloc(1, room + 4096);
	big[0] = 0x42;
	big[room - 1] = 0x24;
	assert_int_equal(boot_load_initrd(&m, put_file(big, room), &img, &gpa, &size), 0);
	assert_int_equal(gpa, img.phys_end + 4 * MiB);
	assert_int_equal(*gp(gpa, 1), 0x42);
	assert_int_equal(*gp(gpa + room - 1, 1), 0x24);
	gpa = size = 7;
	assert_int_equal(boot_load_initrd(&m, put_file(big, room + 1), &img, &gpa, &size), -1);
	assert_int_equal(gpa, 7); /* untouched on failure */
	assert_int_equal(size, 7);
	free(big);
	/* Larger than RAM altogether, and a kernel that leaves no room. */
	uint8_t *huge = calloc(1, RAM_SIZE + 1);
	assert_int_equal(boot_load_initrd(&m, put_file(huge, RAM_SIZE + 1), &img, &gpa, &size), -1);
	free(huge);
	struct boot_image full = { .phys_end = RAM_SIZE - 2 * MiB };
	assert_int_equal(boot_load_initrd(&m, put_file(data, 1), &full, &gpa, &size), -1);
	/* A missing file. */
	char p[128];
	snprintf(p, sizeof(p), "%s/no-initrd", tmpdir);
	assert_int_equal(boot_load_initrd(&m, p, &img, &gpa, &size), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_real_kernel, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_missing_file, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_baseline_loads, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_bad_headers, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_phdrs_outside_file, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_segments_outside_file, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_segments_outside_ram, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_notes_bogus, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_notes_descsz_wraps, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_start_info, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_start_info_cmdline_limit, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_start_info_high_ram, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_entry_64, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_entry_pvh, mem_up, mem_down),
		cmocka_unit_test_setup_teardown(test_initrd, mem_up, mem_down),
	};
	return cmocka_run_group_tests_name("vmm_boot", tests, setup, teardown);
}
