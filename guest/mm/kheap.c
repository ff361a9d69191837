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
#include "../kernel/spinlock.h"
#include "mm.h"

#define GROW_MIN (256 * 1024) /* grow in steps big enough to amortise */

static struct heap heap;
/* The heap's lists; held while it grows, so pmem.lock nests inside it. */
static struct spinlock heap_lock = SPINLOCK_INIT(&lock_class_heap);

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
	spin_lock(&heap_lock);
	void *p = heap_alloc(&heap, size, align);
	spin_unlock(&heap_lock);
	return p;
}

void *kmalloc(size_t size)
{
	return kmalloc_aligned(size, HEAP_MIN_ALIGN);
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
	spin_lock(&heap_lock);
	int err = heap_free(&heap, p);
	spin_unlock(&heap_lock);
	if (err)
		panic("kfree of %p: not a live heap allocation (double free?)", p);
}

size_t kheap_used(void)
{
	return heap.bytes_used;
}
