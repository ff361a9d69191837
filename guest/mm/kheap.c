/*
 * The kernel heap: lib/heap.c, growing by whole page runs from pmem,
 * addressed through the direct map.
 */
#include <linux/errno.h>
#include <pier/heap.h>
#include <pier/page_alloc.h>
#include <pier/string.h>
#include "../arch/x86_64/memlayout.h"
#include "../kernel/panic.h"
#include "mm.h"

#define GROW_MIN (256 * 1024) /* grow in steps big enough to amortise */

static struct heap heap;

static int grow(void *ctx, size_t min_bytes, void **region, size_t *len)
{
	(void)ctx;
	size_t bytes = min_bytes < GROW_MIN ? GROW_MIN : min_bytes;
	uint64_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t pa = pmem_alloc(pages);
	if (!pa)
		return -ENOMEM;
	*region = phys_to_virt(pa);
	*len = pages * PAGE_SIZE;
	return 0;
}

void kheap_init(void)
{
	heap_init(&heap, grow, NULL);
}

void *kmalloc_aligned(size_t size, size_t align)
{
	return heap_alloc(&heap, size, align);
}

void *kmalloc(size_t size)
{
	return heap_alloc(&heap, size, HEAP_MIN_ALIGN);
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(void *p)
{
	if (heap_free(&heap, p))
		panic("kfree of %p: not a live heap allocation (double free?)", p);
}

size_t kheap_used(void)
{
	return heap.bytes_used;
}
