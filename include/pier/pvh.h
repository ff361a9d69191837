/*
 * The PVH boot ABI (Xen's "x86/HVM direct boot", arch-x86/hvm/start_info.h):
 * the structures a PVH loader (QEMU -kernel, pier's VMM) hands the kernel.
 * No system header carries them, so they are written here from the
 * specification, with their sizes asserted.
 */
#ifndef PIER_PVH_H
#define PIER_PVH_H

#define PVH_START_MAGIC 0x336ec578u /* hvm_start_info.magic */
#define PVH_ELFNOTE_PHYS32_ENTRY 18 /* XEN_ELFNOTE_PHYS32_ENTRY */

/*
 * Pier's own note (name "Pier"): the kernel's 64-bit entry, a virtual
 * address, entered in long mode with the boot page tables of
 * guest/arch/x86_64/memlayout.h already loaded and %rdi = start_info.
 * pier's VMM prefers it to the PVH entry.
 */
#define PIER_ELFNOTE_NAME "Pier"
#define PIER_ELFNOTE_ENTRY64 1

#define PVH_MEMMAP_TYPE_RAM 1
#define PVH_MEMMAP_TYPE_RESERVED 2
#define PVH_MEMMAP_TYPE_ACPI 3
#define PVH_MEMMAP_TYPE_NVS 4
#define PVH_MEMMAP_TYPE_UNUSABLE 5
#define PVH_MEMMAP_TYPE_DISABLED 6
#define PVH_MEMMAP_TYPE_PMEM 7

#ifndef __ASSEMBLER__
#include <stdint.h>

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;      /* 1 adds the memory map */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr; /* struct hvm_modlist_entry[nr_modules] */
	uint64_t cmdline_paddr; /* NUL-terminated */
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;  /* struct hvm_memmap_table_entry[], version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;          /* PVH_MEMMAP_TYPE_* (the E820 numbering) */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info is 56 bytes");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry is 24 bytes");

#endif /* __ASSEMBLER__ */

#endif
