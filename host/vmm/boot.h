/*
 * Loading the guest kernel and preparing its entry. Two entries:
 *  - PVH: 32-bit protected mode, paging off, %ebx = start_info (the Xen
 *    PVH ABI QEMU also uses); the kernel builds its page tables itself.
 *  - 64-bit: the VMM builds the kernel's initial page tables, GDT and
 *    long-mode state and enters at the address of the kernel's
 *    PIER_ELFNOTE_ENTRY64 note with %rdi = start_info. Less work in guest
 *    ring 0, which matters where ring 0 is emulated.
 * Everything the VMM writes for the guest lives below 1 MiB (the guest
 * never allocates there), except the initrd, placed at the top of low RAM.
 */
#ifndef HOST_VMM_BOOT_H
#define HOST_VMM_BOOT_H

#include <stdint.h>
#include <linux/kvm.h>
#include "guest_mem.h"

enum boot_entry { BOOT_ENTRY_64, BOOT_ENTRY_PVH };

struct boot_image {
	uint64_t pvh_entry;   /* physical, 32-bit; 0 if the kernel has no PVH note */
	uint64_t entry64;     /* virtual; 0 if the kernel has no 64-bit note */
	uint64_t phys_end;    /* end of the highest loaded segment */
};

/* Loads the ELF kernel's PT_LOAD segments by physical address. 0 or -1
 * after a message naming the problem. */
int boot_load_kernel(struct guest_mem *m, const char *path, struct boot_image *img);

/* Copies the initrd to the top of low RAM; 0 or -1 after a message. */
int boot_load_initrd(struct guest_mem *m, const char *path, const struct boot_image *img,
		     uint64_t *gpa, uint64_t *size);

/* Writes start_info, the memory map, the command line and the module list;
 * rsdp (0 for none) is where the ACPI tables start, up to 1 MiB, which the
 * map then marks reserved. */
int boot_write_start_info(struct guest_mem *m, const char *cmdline, uint64_t initrd_gpa,
			  uint64_t initrd_size, uint64_t rsdp);

/* Fills vCPU registers for the chosen entry (and, for 64-bit, the page
 * tables and GDT in guest memory). */
void boot_set_entry(struct guest_mem *m, const struct boot_image *img, enum boot_entry entry,
		    struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif
