/*
 * Mapping device memory. The boot page tables cover the low 4 GiB through
 * the direct map; device BARs and (later) the DAX window may sit above it,
 * so this adds 2 MiB direct-map entries for them on demand: uncached for
 * registers, write-back for the DAX window (it is host page cache, not a
 * device: loads from it must be cached to be fast).
 */
#include "../arch/x86_64/memlayout.h"
#include "../arch/x86_64/paging.h"
#include "../kernel/console.h"
#include "mm.h"

#define HUGE (2ULL << 20)
#define DIRECT_MAP_LIMIT (512ULL << 30) /* one PML4 slot of direct map */

static uint64_t *table_at(uint64_t entry)
{
	return phys_to_virt(entry & PTE_ADDR);
}

/* Returns the next-level table for `*entry`, allocating it when absent. */
static uint64_t *next_table(uint64_t *entry)
{
	if (!(*entry & PTE_P)) {
		uint64_t pa = pmem_alloc(1);
		if (!pa)
			return NULL;
		*entry = pa | PTE_P | PTE_W;
	}
	return table_at(*entry);
}

static void *map_range(uint64_t pa, uint64_t size, bool cached)
{
	if (size == 0 || pa + size < pa || pa + size > DIRECT_MAP_LIMIT) {
		kprintf("mmio: cannot map %llx+%llx\n", (unsigned long long)pa,
			(unsigned long long)size);
		return NULL;
	}
	if (pa + size <= DIRECT_MAP_SIZE)
		return phys_to_virt(pa); /* mapped at boot */
	uint64_t *pdpt = table_at(boot_pml4_virt()[DIRECT_MAP_BASE >> 39 & 511]);
	for (uint64_t a = pa & ~(HUGE - 1); a < pa + size; a += HUGE) {
		uint64_t *pd = next_table(&pdpt[a >> 30 & 511]);
		if (!pd)
			return NULL;
		uint64_t *pde = &pd[a >> 21 & 511];
		if (!(*pde & PTE_P))
			*pde = a | PTE_P | PTE_W | PTE_PS | (cached ? 0 : PTE_PCD | PTE_PWT);
	}
	return phys_to_virt(pa);
}

void *mmio_map(uint64_t pa, uint64_t size)
{
	return map_range(pa, size, false);
}

void *mmio_map_cached(uint64_t pa, uint64_t size)
{
	return map_range(pa, size, true);
}
