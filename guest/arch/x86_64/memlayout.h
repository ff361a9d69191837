/*
 * The guest's virtual address map.
 *
 *   0x0000000000000000  identity map of the low 4 GiB (boot only; user space later)
 *   0xffff800000000000  direct map: physical address P at DIRECT_MAP_BASE + P
 *   0xffffffff80000000  kernel image: physical address P at KERNEL_VMA_BASE + P
 *
 * The kernel is linked at KERNEL_VMA_BASE + 1 MiB (-mcmodel=kernel needs the
 * top 2 GiB) and loaded at physical 1 MiB; the 32-bit PVH entry runs from
 * its physical address before paging is on.
 */
#ifndef GUEST_MEMLAYOUT_H
#define GUEST_MEMLAYOUT_H

#define KERNEL_VMA_BASE 0xffffffff80000000
#define KERNEL_LOAD_PHYS 0x100000
#define DIRECT_MAP_BASE 0xffff800000000000
#define DIRECT_MAP_SIZE (4ULL << 30) /* what the boot page tables cover */

#ifndef __ASSEMBLER__
#include <stdint.h>

static inline void *phys_to_virt(uint64_t pa)
{
	return (void *)(pa + DIRECT_MAP_BASE);
}

static inline uint64_t virt_to_phys(const void *va)
{
	uint64_t v = (uint64_t)va;
	return v >= KERNEL_VMA_BASE ? v - KERNEL_VMA_BASE : v - DIRECT_MAP_BASE;
}
#endif

#endif
