/*
 * Kernel loading and entry state (see boot.h).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pier/pvh.h>
#include "boot.h"

/* Guest physical layout of what the VMM writes (all below 1 MiB). */
#define BOOT_GDT 0x1000
#define BOOT_PML4 0x2000
#define BOOT_PDPT_LOW 0x3000
#define BOOT_PDPT_HIGH 0x4000
#define BOOT_PD 0x5000          /* four page directories: 0x5000-0x8fff */
#define BOOT_START_INFO 0x9000
#define BOOT_MODLIST 0x9400
#define BOOT_MEMMAP 0x9800
#define BOOT_CMDLINE 0x10000
#define BOOT_CMDLINE_MAX 0x10000
#define BOOT_LOW_END 0x100000   /* the kernel loads from here on */

#define PTE_PW 0x3
#define PTE_LARGE 0x80
#define KERNEL_VMA_BASE 0xffffffff80000000ULL

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "pier: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	size_t got = 0;
	while (*buf && got < *len) {
		ssize_t n = read(fd, *buf + got, *len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!*buf || got != *len) {
		fprintf(stderr, "pier: %s: could not read it\n", path);
		free(*buf);
		return -1;
	}
	return 0;
}

/* Looks through a PT_NOTE segment's bytes for the two entry notes. */
static void scan_notes(const uint8_t *p, size_t len, struct boot_image *img)
{
	size_t off = 0;
	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, p + off, sizeof(nh));
		size_t name_at = off + sizeof(nh);
		/* Rounded in 64 bits: a size near 4 GiB must not wrap to 0. */
		size_t namesz = ((size_t)nh.n_namesz + 3) & ~(size_t)3;
		size_t descsz = ((size_t)nh.n_descsz + 3) & ~(size_t)3;
		if (namesz > len - name_at || descsz > len - name_at - namesz)
			return;
		const uint8_t *name = p + name_at, *desc = name + namesz;
		uint64_t v = 0;
		if (nh.n_descsz >= 4)
			memcpy(&v, desc, nh.n_descsz >= 8 ? 8 : 4);
		if (nh.n_namesz == 4 && memcmp(name, "Xen", 4) == 0 &&
		    nh.n_type == PVH_ELFNOTE_PHYS32_ENTRY)
			img->pvh_entry = v;
		if (nh.n_namesz == 5 && memcmp(name, PIER_ELFNOTE_NAME, 5) == 0 &&
		    nh.n_type == PIER_ELFNOTE_ENTRY64 && nh.n_descsz == 8)
			img->entry64 = v;
		off = name_at + namesz + descsz;
	}
}

int boot_load_kernel(struct guest_mem *m, const char *path, struct boot_image *img)
{
	uint8_t *f;
	size_t len;
	*img = (struct boot_image){ 0 };
	if (read_all(path, &f, &len))
		return -1;
	const char *why = NULL;
	Elf64_Ehdr eh;
	if (len < sizeof(eh)) {
		why = "too short for an ELF header";
		goto bad;
	}
	memcpy(&eh, f, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
		why = "not an x86_64 ELF64 file";
		goto bad;
	}
	if (eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		why = "program headers outside the file";
		goto bad;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, f + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset || ph.p_filesz > ph.p_memsz) {
			why = "a segment lies outside the file";
			goto bad;
		}
		if (ph.p_type == PT_NOTE) {
			scan_notes(f + ph.p_offset, ph.p_filesz, img);
			continue;
		}
		uint8_t *dst = guest_mem_ptr(m, ph.p_paddr, ph.p_memsz);
		if (!dst || ph.p_paddr < BOOT_LOW_END) {
			why = "a segment does not fit guest RAM above 1 MiB (try a larger --mem)";
			goto bad;
		}
		memcpy(dst, f + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr + ph.p_memsz > img->phys_end)
			img->phys_end = ph.p_paddr + ph.p_memsz;
	}
	if (!img->pvh_entry && !img->entry64) {
		why = "no PVH or Pier entry note";
		goto bad;
	}
	free(f);
	return 0;
bad:
	fprintf(stderr, "pier: kernel %s: %s\n", path, why);
	free(f);
	return -1;
}

int boot_load_initrd(struct guest_mem *m, const char *path, const struct boot_image *img,
		     uint64_t *gpa, uint64_t *size)
{
	uint8_t *f;
	size_t len;
	if (read_all(path, &f, &len))
		return -1;
	if (len == 0) {
		fprintf(stderr, "pier: --initrd %s: the file is empty\n", path);
		free(f);
		return -1;
	}
	uint64_t top = m->low_size & ~0xfffULL;
	uint64_t at = len <= top ? (top - len) & ~0xfffULL : 0;
	if (at < ((img->phys_end + 0xfffULL) & ~0xfffULL) + (4ULL << 20)) {
		fprintf(stderr, "pier: --initrd %s: %zu bytes do not fit guest RAM; use a larger --mem\n",
			path, len);
		free(f);
		return -1;
	}
	memcpy(guest_mem_ptr(m, at, len), f, len);
	free(f);
	*gpa = at;
	*size = len;
	return 0;
}

int boot_write_start_info(struct guest_mem *m, const char *cmdline, uint64_t initrd_gpa,
			  uint64_t initrd_size, uint64_t rsdp)
{
	size_t clen = strlen(cmdline) + 1;
	if (clen > BOOT_CMDLINE_MAX) {
		fprintf(stderr, "pier: the kernel command line is too long (%zu bytes, at most %d)\n",
			clen, BOOT_CMDLINE_MAX);
		return -1;
	}
	memcpy(guest_mem_ptr(m, BOOT_CMDLINE, clen), cmdline, clen);

	struct hvm_memmap_table_entry map[4];
	uint32_t n = 0;
	map[n++] = (struct hvm_memmap_table_entry){ 0, 0xa0000, PVH_MEMMAP_TYPE_RAM, 0 };
	if (rsdp) /* the ACPI tables' area (acpi.h) */
		map[n++] = (struct hvm_memmap_table_entry){ rsdp, BOOT_LOW_END - rsdp,
							    PVH_MEMMAP_TYPE_RESERVED, 0 };
	map[n++] = (struct hvm_memmap_table_entry){ BOOT_LOW_END, m->low_size - BOOT_LOW_END,
						    PVH_MEMMAP_TYPE_RAM, 0 };
	if (m->size > m->low_size)
		map[n++] = (struct hvm_memmap_table_entry){ GUEST_MEM_HIGH_START,
							    m->size - m->low_size,
							    PVH_MEMMAP_TYPE_RAM, 0 };
	memcpy(guest_mem_ptr(m, BOOT_MEMMAP, sizeof(map)), map, n * sizeof(map[0]));

	struct hvm_start_info si = {
		.magic = PVH_START_MAGIC,
		.version = 1,
		.cmdline_paddr = BOOT_CMDLINE,
		.memmap_paddr = BOOT_MEMMAP,
		.memmap_entries = n,
		.rsdp_paddr = rsdp,
	};
	if (initrd_size) {
		struct hvm_modlist_entry mod = { .paddr = initrd_gpa, .size = initrd_size };
		memcpy(guest_mem_ptr(m, BOOT_MODLIST, sizeof(mod)), &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = BOOT_MODLIST;
	}
	memcpy(guest_mem_ptr(m, BOOT_START_INFO, sizeof(si)), &si, sizeof(si));
	return 0;
}

static void put64(struct guest_mem *m, uint64_t gpa, uint64_t v)
{
	memcpy(guest_mem_ptr(m, gpa, 8), &v, 8);
}

static struct kvm_segment flat_seg(uint16_t sel, uint8_t type, int code64, int db)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = (uint8_t)db, .s = 1, .l = (uint8_t)code64, .g = 1,
	};
}

void boot_set_entry(struct guest_mem *m, const struct boot_image *img, enum boot_entry entry,
		    struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	/* GDT: null, 0x08 code, 0x10 data (the kernel loads its own later). */
	int code64 = entry == BOOT_ENTRY_64;
	put64(m, BOOT_GDT + 0, 0);
	put64(m, BOOT_GDT + 8, code64 ? 0x00af9a000000ffffULL : 0x00cf9a000000ffffULL);
	put64(m, BOOT_GDT + 16, 0x00cf92000000ffffULL);
	sregs->gdt.base = BOOT_GDT;
	sregs->gdt.limit = 23;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cs = flat_seg(0x08, 0xb, code64, !code64);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = flat_seg(0x10, 0x3, 0, 1);
	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;

	if (entry == BOOT_ENTRY_PVH) {
		sregs->cr0 = 0x11; /* PE, ET */
		sregs->cr4 = 0;
		sregs->efer = 0;
		regs->rip = img->pvh_entry;
		regs->rbx = BOOT_START_INFO;
		return;
	}

	/* The same map as guest/arch/x86_64/boot.S builds: 2 MiB pages over the
	 * low 4 GiB, reachable at 0 (identity), at the direct map (PML4 256) and,
	 * for the first GiB, at the kernel's -2 GiB (PML4 511, PDPT 510). */
	for (uint64_t i = 0; i < 2048; i++)
		put64(m, BOOT_PD + i * 8, (i << 21) | PTE_PW | PTE_LARGE);
	memset(guest_mem_ptr(m, BOOT_PDPT_LOW, 4096), 0, 4096);
	for (uint64_t i = 0; i < 4; i++)
		put64(m, BOOT_PDPT_LOW + i * 8, (BOOT_PD + i * 4096) | PTE_PW);
	memset(guest_mem_ptr(m, BOOT_PDPT_HIGH, 4096), 0, 4096);
	put64(m, BOOT_PDPT_HIGH + 510 * 8, BOOT_PD | PTE_PW);
	memset(guest_mem_ptr(m, BOOT_PML4, 4096), 0, 4096);
	put64(m, BOOT_PML4 + 0 * 8, BOOT_PDPT_LOW | PTE_PW);
	put64(m, BOOT_PML4 + 256 * 8, BOOT_PDPT_LOW | PTE_PW);
	put64(m, BOOT_PML4 + 511 * 8, BOOT_PDPT_HIGH | PTE_PW);
	sregs->cr3 = BOOT_PML4;
	sregs->cr4 = 0x20;                 /* PAE */
	sregs->cr0 = 0x80010011;           /* PG, WP, ET, PE */
	sregs->efer = 0x500;               /* LME, LMA */
	regs->rip = img->entry64;
	regs->rdi = BOOT_START_INFO;
}
