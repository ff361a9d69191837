/*
 * Page-table entry bits (x86_64, 4-level) and the boot PML4, whose upper
 * half every address space shares. Used by mm/mmio.c and mm/vm.c.
 */
#ifndef GUEST_PAGING_H
#define GUEST_PAGING_H

#include <stdint.h>
#include "memlayout.h"

#define PTE_P 0x1ULL
#define PTE_W 0x2ULL
#define PTE_U 0x4ULL
#define PTE_PWT 0x8ULL
#define PTE_PCD 0x10ULL
#define PTE_PS 0x80ULL
#define PTE_NX (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

/* The kernel's top-level page table: built by boot.S (PVH entry) or by the
 * VMM (64-bit entry), whichever CR3 held at entry. Physical, because a
 * program's page tables have no identity map: reach it through
 * boot_pml4_virt(). */
extern uint64_t boot_pml4_phys;

static inline uint64_t *boot_pml4_virt(void)
{
	return phys_to_virt(boot_pml4_phys);
}

#endif
