/*
 * Physical page allocator: a bitmap over one span of physical addresses,
 * one bit per 4 KiB page (1 = in use). Holes in the memory map stay marked
 * in use, so the allocator only ever hands out RAM. Frees are checked: a
 * page freed twice or outside the span is refused, not silently accepted.
 * Not thread-safe; the caller serialises.
 */
#ifndef PIER_PAGE_ALLOC_H
#define PIER_PAGE_ALLOC_H

#include <stdint.h>
#include <stddef.h>

#define PAGE_SIZE 4096ULL
#define PAGE_SHIFT 12

struct page_alloc {
	uint64_t base;   /* physical address of page 0, page aligned */
	uint64_t npages;
	uint64_t *bits;
	uint64_t nfree;
	uint64_t hint;   /* where the next search for one page starts */
};

/* Bytes of bitmap storage needed for npages. */
size_t page_alloc_bitmap_bytes(uint64_t npages);

/* Starts with every page in use; bits must hold page_alloc_bitmap_bytes(). */
void page_alloc_init(struct page_alloc *pa, uint64_t base, uint64_t npages, uint64_t *bits);

/*
 * Marks the whole pages inside [addr, addr+len) free (for usable RAM at boot),
 * clipped to the span. Returns how many pages changed state.
 */
uint64_t page_alloc_add_range(struct page_alloc *pa, uint64_t addr, uint64_t len);

/*
 * Marks every page touching [addr, addr+len) in use (kernel image, boot
 * data). Returns how many pages changed state.
 */
uint64_t page_alloc_reserve_range(struct page_alloc *pa, uint64_t addr, uint64_t len);

/*
 * Allocates count contiguous pages whose first page number is a multiple of
 * align_pages (a power of two; 0 or 1 for none). Stores the physical address
 * in *out. Returns 0 or -ENOMEM (or -EINVAL for bad arguments).
 */
int page_alloc_alloc(struct page_alloc *pa, uint64_t count, uint64_t align_pages, uint64_t *out);

/*
 * Frees count pages at addr. Returns 0, or -EINVAL when addr is unaligned,
 * outside the span, or any of the pages is already free (double free); in
 * that case nothing changes.
 */
int page_alloc_free(struct page_alloc *pa, uint64_t addr, uint64_t count);

#endif
