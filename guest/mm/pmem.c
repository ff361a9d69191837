/*
 * Physical memory: one page_alloc (lib/page_alloc.c) over RAM below
 * DIRECT_MAP_SIZE, built from the PVH memory map. Its bitmap is static so
 * the allocator needs no allocator to start.
 */
#include <pier/page_alloc.h>
#include <pier/string.h>
#include "../arch/x86_64/memlayout.h"
#include "../kernel/console.h"
#include "../kernel/panic.h"
#include "../kernel/spinlock.h"
#include "mm.h"

#define MAX_PAGES (DIRECT_MAP_SIZE / PAGE_SIZE)

static uint64_t bitmap[MAX_PAGES / 64];
/* Owners beyond the first of each page (fork's copy-on-write sharing):
 * 0 for a page with one owner, so the table starts right zeroed. */
static uint16_t extra_refs[MAX_PAGES];
static struct page_alloc pa;
static uint64_t total_pages;
/* The bitmap and extra_refs. (A page's count changes under its spaces'
 * mm.lock too: see ARCHITECTURE.md.) */
static struct spinlock pmem_lock = SPINLOCK_INIT(&lock_class_pmem);

extern char _kernel_phys_start[], _kernel_phys_end[];

void pmem_init(const struct hvm_start_info *si)
{
	page_alloc_init(&pa, 0, MAX_PAGES, bitmap);
	const struct hvm_memmap_table_entry *map = phys_to_virt(si->memmap_paddr);
	uint32_t n = si->version >= 1 ? si->memmap_entries : 0;
	for (uint32_t i = 0; i < n; i++)
		if (map[i].type == PVH_MEMMAP_TYPE_RAM)
			page_alloc_add_range(&pa, map[i].addr, map[i].size);
	if (pa.nfree == 0)
		panic("no usable RAM in the memory map (%u entries)", n);

	/* Low memory holds firmware tables; keep it out of the allocator. */
	page_alloc_reserve_range(&pa, 0, 0x100000);
	page_alloc_reserve_range(&pa, (uint64_t)_kernel_phys_start,
				 (uint64_t)_kernel_phys_end - (uint64_t)_kernel_phys_start);
	page_alloc_reserve_range(&pa, virt_to_phys(si), sizeof(*si));
	if (n)
		page_alloc_reserve_range(&pa, si->memmap_paddr, n * sizeof(*map));
	if (si->cmdline_paddr)
		page_alloc_reserve_range(&pa, si->cmdline_paddr,
					 strlen(phys_to_virt(si->cmdline_paddr)) + 1);
	const struct hvm_modlist_entry *mods = phys_to_virt(si->modlist_paddr);
	for (uint32_t i = 0; si->modlist_paddr && i < si->nr_modules; i++)
		page_alloc_reserve_range(&pa, mods[i].paddr, mods[i].size);
	total_pages = pa.nfree;
}

uint64_t pmem_alloc(uint64_t count)
{
	uint64_t addr;
	spin_lock(&pmem_lock);
	int err = page_alloc_alloc(&pa, count, 1, &addr);
	spin_unlock(&pmem_lock);
	if (err)
		return 0;
	memset(phys_to_virt(addr), 0, count * PAGE_SIZE);
	return addr;
}

void pmem_free(uint64_t addr, uint64_t count)
{
	spin_lock(&pmem_lock);
	int err = page_alloc_free(&pa, addr, count);
	spin_unlock(&pmem_lock);
	if (err)
		panic("bad page free: %llx (%llu pages)", (unsigned long long)addr,
		      (unsigned long long)count);
}

void pmem_ref(uint64_t addr)
{
	uint16_t *r = &extra_refs[addr / PAGE_SIZE];
	spin_lock(&pmem_lock);
	bool full = *r == UINT16_MAX;
	if (!full)
		(*r)++;
	spin_unlock(&pmem_lock);
	if (full)
		panic("page %llx shared too many times", (unsigned long long)addr);
}

void pmem_put(uint64_t addr)
{
	uint16_t *r = &extra_refs[addr / PAGE_SIZE];
	spin_lock(&pmem_lock);
	bool last = *r == 0;
	if (!last)
		(*r)--;
	spin_unlock(&pmem_lock);
	if (last)
		pmem_free(addr, 1);
}

bool pmem_shared(uint64_t addr)
{
	return extra_refs[addr / PAGE_SIZE] != 0;
}

uint64_t pmem_free_pages(void)
{
	return pa.nfree;
}

uint64_t pmem_total_pages(void)
{
	return total_pages;
}
