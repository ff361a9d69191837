/*
 * Bitmap page allocator (see include/pier/page_alloc.h). Single pages are
 * found by skipping full 64-bit words from a moving hint; runs are found by
 * a linear scan, which is fine for boot-time and large, rare allocations.
 */
#include <linux/errno.h>
#include <pier/page_alloc.h>
#include <pier/string.h>

static int test_bit(const struct page_alloc *pa, uint64_t i)
{
	return (pa->bits[i / 64] >> (i % 64)) & 1;
}

static void set_bit(struct page_alloc *pa, uint64_t i)
{
	pa->bits[i / 64] |= 1ULL << (i % 64);
}

static void clear_bit(struct page_alloc *pa, uint64_t i)
{
	pa->bits[i / 64] &= ~(1ULL << (i % 64));
}

size_t page_alloc_bitmap_bytes(uint64_t npages)
{
	return (size_t)((npages + 63) / 64) * 8;
}

void page_alloc_init(struct page_alloc *pa, uint64_t base, uint64_t npages, uint64_t *bits)
{
	pa->base = base & ~(PAGE_SIZE - 1);
	pa->npages = npages;
	pa->bits = bits;
	pa->nfree = 0;
	pa->hint = 0;
	memset(bits, 0xff, page_alloc_bitmap_bytes(npages));
}

/* Clips [first, end) page numbers relative to the span; 0 if empty. */
static int clip(const struct page_alloc *pa, uint64_t a, uint64_t b, uint64_t *first, uint64_t *end)
{
	uint64_t lo = pa->base, hi = pa->base + pa->npages * PAGE_SIZE;
	if (b <= a || b <= lo || a >= hi)
		return 0;
	if (a < lo)
		a = lo;
	if (b > hi)
		b = hi;
	*first = (a - lo) / PAGE_SIZE;
	*end = (b - lo) / PAGE_SIZE;
	return *end > *first;
}

uint64_t page_alloc_add_range(struct page_alloc *pa, uint64_t addr, uint64_t len)
{
	uint64_t first, end, n = 0;
	if (addr + len < addr)
		len = ~0ULL - addr;
	uint64_t a = (addr + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	uint64_t b = (addr + len) & ~(PAGE_SIZE - 1);
	if (a < addr || !clip(pa, a, b, &first, &end))
		return 0;
	for (uint64_t i = first; i < end; i++) {
		if (test_bit(pa, i)) {
			clear_bit(pa, i);
			n++;
		}
	}
	pa->nfree += n;
	return n;
}

uint64_t page_alloc_reserve_range(struct page_alloc *pa, uint64_t addr, uint64_t len)
{
	uint64_t first, end, n = 0;
	if (addr + len < addr)
		len = ~0ULL - addr;
	uint64_t a = addr & ~(PAGE_SIZE - 1);
	uint64_t b = (addr + len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (b < addr)
		b = ~0ULL & ~(PAGE_SIZE - 1);
	if (!clip(pa, a, b, &first, &end))
		return 0;
	for (uint64_t i = first; i < end; i++) {
		if (!test_bit(pa, i)) {
			set_bit(pa, i);
			n++;
		}
	}
	pa->nfree -= n;
	return n;
}

/* The first free page at or after i, or npages. */
static uint64_t find_free(const struct page_alloc *pa, uint64_t i)
{
	while (i < pa->npages) {
		if (i % 64 == 0 && pa->bits[i / 64] == ~0ULL) {
			i += 64;
			continue;
		}
		if (!test_bit(pa, i))
			return i;
		i++;
	}
	return pa->npages;
}

static int find_run(const struct page_alloc *pa, uint64_t from, uint64_t count,
		    uint64_t align, uint64_t *out)
{
	uint64_t i = find_free(pa, from);
	while (i < pa->npages) {
		/* Page numbers are aligned relative to physical address 0. */
		uint64_t pfn = pa->base / PAGE_SIZE + i;
		uint64_t aligned = (pfn + align - 1) & ~(align - 1);
		i += aligned - pfn;
		if (i >= pa->npages || pa->npages - i < count)
			return -ENOMEM;
		uint64_t k = 0;
		while (k < count && !test_bit(pa, i + k))
			k++;
		if (k == count) {
			*out = i;
			return 0;
		}
		i = find_free(pa, i + k + 1);
	}
	return -ENOMEM;
}

int page_alloc_alloc(struct page_alloc *pa, uint64_t count, uint64_t align_pages, uint64_t *out)
{
	uint64_t i;
	if (align_pages == 0)
		align_pages = 1;
	if (count == 0 || (align_pages & (align_pages - 1)))
		return -EINVAL;
	if (count > pa->nfree)
		return -ENOMEM;
	if (find_run(pa, count == 1 && align_pages == 1 ? pa->hint : 0, count, align_pages, &i) &&
	    find_run(pa, 0, count, align_pages, &i))
		return -ENOMEM;
	for (uint64_t k = 0; k < count; k++)
		set_bit(pa, i + k);
	pa->nfree -= count;
	if (count == 1 && align_pages == 1)
		pa->hint = i + 1;
	*out = pa->base + i * PAGE_SIZE;
	return 0;
}

int page_alloc_free(struct page_alloc *pa, uint64_t addr, uint64_t count)
{
	if (addr % PAGE_SIZE || addr < pa->base || count == 0)
		return -EINVAL;
	uint64_t i = (addr - pa->base) / PAGE_SIZE;
	if (i >= pa->npages || pa->npages - i < count)
		return -EINVAL;
	for (uint64_t k = 0; k < count; k++)
		if (!test_bit(pa, i + k))
			return -EINVAL;
	for (uint64_t k = 0; k < count; k++)
		clear_bit(pa, i + k);
	pa->nfree += count;
	if (i < pa->hint)
		pa->hint = i;
	return 0;
}
