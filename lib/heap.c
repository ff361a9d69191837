/*
 * The kernel heap (see include/pier/heap.h). Block layout:
 *
 *   [struct heap_block 32 B][payload ...]      size = header + payload
 *
 * Free blocks live on a singly linked list sorted by address so a free can
 * merge with both neighbours in one walk.
 */
#include <linux/errno.h>
#include <pier/heap.h>

#define MAGIC_USED 0x5049455255534544ULL /* "PIERUSED" */
#define MAGIC_FREE 0x5049455246524545ULL /* "PIERFREE" */

struct heap_block {
	uint64_t magic;
	uint64_t size; /* whole block, header included */
	struct heap_block *next; /* free list only */
	uint64_t reserved;
};
_Static_assert(sizeof(struct heap_block) % HEAP_MIN_ALIGN == 0, "header keeps payload aligned");

#define HDR sizeof(struct heap_block)
/* A remainder smaller than this is not worth a block of its own. */
#define MIN_BLOCK (HDR + HEAP_MIN_ALIGN)

static uintptr_t align_up(uintptr_t v, uintptr_t a)
{
	return (v + a - 1) & ~(a - 1);
}

void heap_init(struct heap *h, heap_grow_fn grow, void *grow_ctx)
{
	h->free_list = NULL;
	h->grow = grow;
	h->grow_ctx = grow_ctx;
	h->bytes_total = h->bytes_used = h->nallocs = 0;
}

/* Puts b on the sorted free list, merging with adjacent free blocks. */
static void insert_free(struct heap *h, struct heap_block *b)
{
	struct heap_block **pp = &h->free_list, *prev = NULL;
	while (*pp && *pp < b) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	b->magic = MAGIC_FREE;
	b->next = *pp;
	*pp = b;
	if (b->next && (uintptr_t)b + b->size == (uintptr_t)b->next) {
		b->size += b->next->size;
		b->next = b->next->next;
	}
	if (prev && (uintptr_t)prev + prev->size == (uintptr_t)b) {
		prev->size += b->size;
		prev->next = b->next;
	}
}

void heap_add_region(struct heap *h, void *mem, size_t len)
{
	uintptr_t start = align_up((uintptr_t)mem, HEAP_MIN_ALIGN);
	uintptr_t end = ((uintptr_t)mem + len) & ~(uintptr_t)(HEAP_MIN_ALIGN - 1);
	if (end <= start || end - start < MIN_BLOCK)
		return;
	struct heap_block *b = (struct heap_block *)start;
	b->size = end - start;
	h->bytes_total += b->size;
	insert_free(h, b);
}

/* Tries to carve an allocation out of free block b; NULL if it doesn't fit. */
static void *carve(struct heap *h, struct heap_block **link, size_t need, size_t align)
{
	struct heap_block *b = *link;
	uintptr_t start = (uintptr_t)b, end = start + b->size;
	uintptr_t payload = align_up(start + HDR, align);
	/* A gap before the header must be big enough to stay a free block. */
	if (payload - HDR != start && payload - HDR - start < MIN_BLOCK)
		payload = align_up(start + HDR + MIN_BLOCK, align);
	uintptr_t hdr = payload - HDR;
	if (hdr + need > end || hdr + need < hdr)
		return NULL;

	/* Unlink b, then give back the gap in front and the tail behind. */
	*link = b->next;
	if (end - (hdr + need) < MIN_BLOCK)
		need = end - hdr;
	struct heap_block *a = (struct heap_block *)hdr;
	if (hdr != start) {
		b->size = hdr - start;
		insert_free(h, b);
	}
	if (hdr + need != end) {
		struct heap_block *tail = (struct heap_block *)(hdr + need);
		tail->size = end - (hdr + need);
		insert_free(h, tail);
	}
	a->magic = MAGIC_USED;
	a->size = need;
	a->next = NULL;
	h->bytes_used += need;
	h->nallocs++;
	return (void *)payload;
}

void *heap_alloc(struct heap *h, size_t size, size_t align)
{
	if (align < HEAP_MIN_ALIGN)
		align = HEAP_MIN_ALIGN;
	if (align & (align - 1))
		return NULL;
	if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4)
		return NULL;
	size_t need = HDR + align_up(size ? size : 1, HEAP_MIN_ALIGN);

	for (int attempt = 0; attempt < 2; attempt++) {
		for (struct heap_block **pp = &h->free_list; *pp; pp = &(*pp)->next) {
			void *p = carve(h, pp, need, align);
			if (p)
				return p;
		}
		void *region;
		size_t len;
		if (!h->grow || h->grow(h->grow_ctx, need + align + MIN_BLOCK, &region, &len))
			return NULL;
		heap_add_region(h, region, len);
	}
	return NULL;
}

/* The header of a live allocation, or NULL. */
static struct heap_block *live_block(const void *p)
{
	if (!p || (uintptr_t)p % HEAP_MIN_ALIGN)
		return NULL;
	struct heap_block *b = (struct heap_block *)((uintptr_t)p - HDR);
	return b->magic == MAGIC_USED ? b : NULL;
}

int heap_free(struct heap *h, void *p)
{
	if (!p)
		return 0;
	struct heap_block *b = live_block(p);
	if (!b)
		return -EINVAL;
	h->bytes_used -= b->size;
	h->nallocs--;
	insert_free(h, b);
	return 0;
}

size_t heap_usable_size(const struct heap *h, const void *p)
{
	(void)h;
	struct heap_block *b = live_block(p);
	return b ? b->size - HDR : 0;
}
