/*
 * Guest memory management: physical pages (pmem.c) and the kernel heap
 * (kheap.c) on top of them.
 */
#ifndef GUEST_MM_H
#define GUEST_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pier/pvh.h>

/*
 * Builds the page allocator from the PVH memory map, reserving the kernel
 * image, the first MiB and the boot data. Panics if no RAM is usable.
 */
void pmem_init(const struct hvm_start_info *si);

/* Allocates count contiguous zeroed pages; returns the physical address or 0. */
uint64_t pmem_alloc(uint64_t count);
/* Frees pages from pmem_alloc; panics on a double or foreign free. */
void pmem_free(uint64_t pa, uint64_t count);
/* One page with several owners (a fork's copy-on-write sharing):
 * pmem_ref adds one, pmem_put drops one and frees the page with the
 * last; pmem_shared says whether it has more than one. */
void pmem_ref(uint64_t pa);
void pmem_put(uint64_t pa);
bool pmem_shared(uint64_t pa);
uint64_t pmem_free_pages(void);
uint64_t pmem_total_pages(void);

void kheap_init(void);
/* Kernel heap; kmalloc returns NULL when memory is exhausted. */
void *kmalloc(size_t size);
void *kmalloc_aligned(size_t size, size_t align);
void *kzalloc(size_t size);
/* Panics on a pointer that is not a live allocation. */
void kfree(void *p);
size_t kheap_used(void);

/*
 * Makes device memory at [pa, pa+size) reachable through the direct map
 * (uncached above 4 GiB) and returns its virtual address, or NULL.
 */
void *mmio_map(uint64_t pa, uint64_t size);
/* The same, write-back cached (the DAX window: file pages, not registers). */
void *mmio_map_cached(uint64_t pa, uint64_t size);

#endif
