/*
 * Kernel heap: first-fit over an address-ordered free list with coalescing,
 * aligned allocation, and checked frees. Every block carries a header whose
 * magic tells allocated from free, so a double free or a pointer the heap
 * never returned is reported instead of corrupting the lists. Memory comes
 * from regions the owner adds, and from a grow callback when those run out.
 * Not thread-safe; the caller serialises.
 */
#ifndef PIER_HEAP_H
#define PIER_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_MIN_ALIGN 16

struct heap_block;

/*
 * Asked for at least min_bytes more memory; returns 0 and a region, or
 * -ENOMEM. The region must be HEAP_MIN_ALIGN aligned.
 */
typedef int (*heap_grow_fn)(void *ctx, size_t min_bytes, void **region, size_t *len);

struct heap {
	struct heap_block *free_list;
	heap_grow_fn grow;
	void *grow_ctx;
	size_t bytes_total;  /* all memory given to the heap */
	size_t bytes_used;   /* in allocated blocks, headers included */
	size_t nallocs;      /* live allocations */
};

void heap_init(struct heap *h, heap_grow_fn grow, void *grow_ctx);

/* Gives the heap [mem, mem+len); mem is rounded up to HEAP_MIN_ALIGN. */
void heap_add_region(struct heap *h, void *mem, size_t len);

/*
 * Allocates size bytes aligned to align (a power of two; smaller values mean
 * HEAP_MIN_ALIGN). Returns NULL when out of memory or for a bad align. A
 * request for 0 bytes returns a unique minimal block.
 */
void *heap_alloc(struct heap *h, size_t size, size_t align);

/*
 * Frees p (NULL is ignored). Returns 0, or -EINVAL for a pointer that is not
 * a live allocation of this heap (double free, interior or foreign pointer),
 * in which case the heap is left untouched.
 */
int heap_free(struct heap *h, void *p);

/* The usable size of a live allocation, or 0 if p is not one. */
size_t heap_usable_size(const struct heap *h, const void *p);

#endif
