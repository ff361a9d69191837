/*
 * DAX window manager (see include/pier/dax_window.h). Every structure is
 * indexed by chunk number, never by pointer, inside the caller's memory:
 *
 *   [struct dax_chunk x n][hash heads x h][ihash heads x h][free bitmap levels]
 *
 * Lookups go through a chained hash on (nodeid, index); a second chained
 * hash on nodeid alone lets dax_drop_inode visit only that inode's chunks.
 * Used, unpinned chunks sit on one doubly linked eviction list whose head is
 * the oldest entry; pinned chunks leave it, so the victim is always at an
 * end: O(1). Free chunks are bits in a 64-ary summary bitmap, so the lowest
 * free chunk (the thesis's rule) is found in at most DAX_BITMAP_LEVELS steps.
 */
#include <linux/errno.h>
#include <pier/dax_window.h>
#include <pier/string.h>

_Static_assert(DAX_MAX_CHUNKS <= 64ULL * 64 * 64 * 64, "bitmap levels cover DAX_MAX_CHUNKS");
_Static_assert(DAX_MAX_CHUNKS < DAX_NONE, "chunk numbers never collide with DAX_NONE");
_Static_assert(sizeof(struct dax_chunk) % 8 == 0, "hash heads after the chunks stay aligned");

/* murmur3's 64-bit finaliser: spreads small, dense nodeids and indices. */
static uint64_t fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static uint32_t key_bucket(const struct dax_window *w, uint64_t nodeid, uint64_t index)
{
	/* Golden-ratio multiplier so (n, i) and (i, n) land apart. */
	return (uint32_t)fmix64(nodeid * 0x9e3779b97f4a7c15ULL + index) & w->hash_mask;
}

static uint32_t ino_bucket(const struct dax_window *w, uint64_t nodeid)
{
	return (uint32_t)fmix64(nodeid) & w->ihash_mask;
}

/* Words per bitmap level for n chunks; returns the number of levels. */
static uint32_t bitmap_shape(uint32_t n, uint32_t words[DAX_BITMAP_LEVELS])
{
	uint32_t l = 0, bits = n;
	do {
		words[l] = (bits + 63) / 64;
		bits = words[l++];
	} while (bits > 1);
	return l;
}

static uint32_t hash_size(uint32_t n)
{
	uint32_t h = 1;
	while (h < n)
		h <<= 1;
	return h;
}

size_t dax_window_bytes(uint32_t nchunks)
{
	uint32_t words[DAX_BITMAP_LEVELS];
	if (nchunks == 0 || nchunks > DAX_MAX_CHUNKS)
		return 0;
	size_t bytes = (size_t)nchunks * sizeof(struct dax_chunk) + 2 * (size_t)hash_size(nchunks) * 4;
	uint32_t levels = bitmap_shape(nchunks, words);
	for (uint32_t l = 0; l < levels; l++)
		bytes += (size_t)words[l] * 8;
	return bytes;
}

static void mark_free(struct dax_window *w, uint32_t c)
{
	for (uint32_t l = 0; l < w->nlevels; l++, c /= 64) {
		uint64_t *word = &w->free_bits[l][c / 64];
		uint64_t was = *word;
		*word |= 1ULL << (c % 64);
		if (was)
			return;
	}
}

static void mark_used(struct dax_window *w, uint32_t c)
{
	for (uint32_t l = 0; l < w->nlevels; l++, c /= 64) {
		uint64_t *word = &w->free_bits[l][c / 64];
		*word &= ~(1ULL << (c % 64));
		if (*word)
			return;
	}
}

static uint32_t lowest_free(const struct dax_window *w)
{
	uint32_t i = 0;
	for (uint32_t l = w->nlevels; l-- > 0;) {
		uint64_t word = w->free_bits[l][i];
		if (!word)
			return DAX_NONE;
		i = i * 64 + (uint32_t)__builtin_ctzll(word);
	}
	return i;
}

int dax_window_init(struct dax_window *w, uint64_t window_len, uint64_t chunk_size,
		    uint32_t map_align_log2, enum dax_policy policy, void *mem, size_t mem_len)
{
	uint32_t words[DAX_BITMAP_LEVELS];
	if (chunk_size < DAX_MIN_CHUNK || (chunk_size & (chunk_size - 1)) || map_align_log2 >= 64 ||
	    chunk_size % (1ULL << map_align_log2))
		return -EINVAL;
	if (policy != DAX_POLICY_LRU && policy != DAX_POLICY_LIFO && policy != DAX_POLICY_LINUX)
		return -EINVAL;
	uint64_t n = window_len / chunk_size;
	if (n == 0 || n > DAX_MAX_CHUNKS)
		return -EINVAL;
	if ((uintptr_t)mem % 8 || mem_len < dax_window_bytes((uint32_t)n))
		return -EINVAL;

	memset(w, 0, sizeof(*w));
	w->chunk_size = chunk_size;
	w->chunk_shift = (uint32_t)__builtin_ctzll(chunk_size);
	w->nchunks = (uint32_t)n;
	w->policy = policy;
	w->linux_low = w->nchunks * DAX_LINUX_RECLAIM_PCT / 100;
	if (w->linux_low == 0)
		w->linux_low = 1;
	w->head = w->tail = DAX_NONE;

	uint32_t h = hash_size(w->nchunks);
	w->chunks = mem;
	w->hash = (uint32_t *)(w->chunks + n);
	w->hash_mask = h - 1;
	w->ihash = w->hash + h;
	w->ihash_mask = h - 1;
	uint64_t *bits = (uint64_t *)(w->ihash + h);
	w->nlevels = bitmap_shape(w->nchunks, words);
	for (uint32_t l = 0; l < w->nlevels; l++) {
		w->free_bits[l] = bits;
		memset(bits, 0, (size_t)words[l] * 8);
		bits += words[l];
	}
	memset(w->hash, 0xff, 2 * (size_t)h * 4);
	for (uint32_t c = 0; c < w->nchunks; c++) {
		struct dax_chunk *k = &w->chunks[c];
		memset(k, 0, sizeof(*k));
		k->hnext = k->iprev = k->inext = k->prev = k->next = DAX_NONE;
		mark_free(w, c);
	}
	w->nfree = w->nchunks;
	return 0;
}

static void list_unlink(struct dax_window *w, uint32_t c)
{
	struct dax_chunk *k = &w->chunks[c];
	if (k->prev == DAX_NONE)
		w->head = k->next;
	else
		w->chunks[k->prev].next = k->next;
	if (k->next == DAX_NONE)
		w->tail = k->prev;
	else
		w->chunks[k->next].prev = k->prev;
	k->prev = k->next = DAX_NONE;
}

static void list_push_tail(struct dax_window *w, uint32_t c)
{
	struct dax_chunk *k = &w->chunks[c];
	k->next = DAX_NONE;
	k->prev = w->tail;
	if (w->tail == DAX_NONE)
		w->head = c;
	else
		w->chunks[w->tail].next = c;
	w->tail = c;
}

/* Makes free chunk c map (nodeid, index), newest in eviction order. */
static void take(struct dax_window *w, uint32_t c, uint64_t nodeid, uint64_t index)
{
	struct dax_chunk *k = &w->chunks[c];
	mark_used(w, c);
	w->nfree--;
	k->nodeid = nodeid;
	k->index = index;
	k->used = 1;
	k->pins = 0;
	k->flags = 0;
	uint32_t *b = &w->hash[key_bucket(w, nodeid, index)];
	k->hnext = *b;
	*b = c;
	b = &w->ihash[ino_bucket(w, nodeid)];
	k->iprev = DAX_NONE;
	k->inext = *b;
	if (*b != DAX_NONE)
		w->chunks[*b].iprev = c;
	*b = c;
	list_push_tail(w, c);
}

/* Makes used, unpinned chunk c free. */
static void release(struct dax_window *w, uint32_t c)
{
	struct dax_chunk *k = &w->chunks[c];
	uint32_t *p = &w->hash[key_bucket(w, k->nodeid, k->index)];
	while (*p != c && *p != DAX_NONE)
		p = &w->chunks[*p].hnext;
	if (*p == c)
		*p = k->hnext;
	if (k->iprev == DAX_NONE)
		w->ihash[ino_bucket(w, k->nodeid)] = k->inext;
	else
		w->chunks[k->iprev].inext = k->inext;
	if (k->inext != DAX_NONE)
		w->chunks[k->inext].iprev = k->iprev;
	k->hnext = k->iprev = k->inext = DAX_NONE;
	list_unlink(w, c);
	k->used = 0;
	mark_free(w, c);
	w->nfree++;
}

uint32_t dax_peek(const struct dax_window *w, uint64_t nodeid, uint64_t index)
{
	uint32_t c = w->hash[key_bucket(w, nodeid, index)];
	while (c != DAX_NONE && (w->chunks[c].nodeid != nodeid || w->chunks[c].index != index))
		c = w->chunks[c].hnext;
	return c;
}

uint32_t dax_find(struct dax_window *w, uint64_t nodeid, uint64_t index)
{
	uint32_t c = dax_peek(w, nodeid, index);
	if (c == DAX_NONE) {
		w->stats.misses++;
		return DAX_NONE;
	}
	w->stats.hits++;
	if (w->policy == DAX_POLICY_LRU && w->chunks[c].pins == 0) {
		list_unlink(w, c);
		list_push_tail(w, c);
	}
	return c;
}

static void evict(struct dax_window *w, uint32_t c, struct dax_victims *victims)
{
	struct dax_victim *v = &victims->v[victims->n++];
	v->chunk = c;
	v->nodeid = w->chunks[c].nodeid;
	v->index = w->chunks[c].index;
	release(w, c);
	w->stats.evictions++;
}

uint32_t dax_alloc(struct dax_window *w, uint64_t nodeid, uint64_t index,
		   struct dax_victims *victims)
{
	victims->n = 0;
	if (dax_peek(w, nodeid, index) != DAX_NONE)
		return DAX_NONE;
	if (w->policy == DAX_POLICY_LINUX) {
		/*
		 * Taking a chunk now would leave fewer than linux_low free:
		 * reclaim the oldest in whole batches, as Linux's worker does,
		 * so the window does not settle into one reclaim per miss.
		 */
		while (w->head != DAX_NONE && victims->n < DAX_MAX_VICTIMS &&
		       (w->nfree <= w->linux_low || victims->n % DAX_LINUX_RECLAIM_BATCH))
			evict(w, w->head, victims);
		if (victims->n)
			w->stats.reclaims++;
	} else if (w->nfree == 0 && w->head != DAX_NONE) {
		evict(w, w->policy == DAX_POLICY_LRU ? w->head : w->tail, victims);
	}
	uint32_t c = lowest_free(w);
	if (c == DAX_NONE) {
		w->stats.pinned_full++;
		return DAX_NONE;
	}
	take(w, c, nodeid, index);
	w->stats.allocs++;
	return c;
}

static int check_used(const struct dax_window *w, uint32_t chunk)
{
	return chunk < w->nchunks && w->chunks[chunk].used ? 0 : -EINVAL;
}

int dax_drop(struct dax_window *w, uint32_t chunk)
{
	if (check_used(w, chunk))
		return -EINVAL;
	if (w->chunks[chunk].pins)
		return -EBUSY;
	release(w, chunk);
	return 0;
}

uint32_t dax_drop_inode(struct dax_window *w, uint64_t nodeid, uint32_t *out, uint32_t max)
{
	uint32_t n = 0, c = w->ihash[ino_bucket(w, nodeid)];
	while (c != DAX_NONE && n < max) {
		uint32_t next = w->chunks[c].inext;
		if (w->chunks[c].nodeid == nodeid && w->chunks[c].pins == 0) {
			release(w, c);
			out[n++] = c;
		}
		c = next;
	}
	return n;
}

int dax_pin(struct dax_window *w, uint32_t chunk)
{
	if (check_used(w, chunk))
		return -EINVAL;
	struct dax_chunk *k = &w->chunks[chunk];
	if (k->pins == UINT32_MAX)
		return -EOVERFLOW;
	if (k->pins++ == 0)
		list_unlink(w, chunk);
	return 0;
}

int dax_unpin(struct dax_window *w, uint32_t chunk)
{
	if (check_used(w, chunk) || w->chunks[chunk].pins == 0)
		return -EINVAL;
	if (--w->chunks[chunk].pins == 0)
		list_push_tail(w, chunk);
	return 0;
}

uint64_t dax_chunk_offset(const struct dax_window *w, uint32_t chunk)
{
	return (uint64_t)chunk << w->chunk_shift;
}

uint64_t dax_file_index(const struct dax_window *w, uint64_t off)
{
	return off >> w->chunk_shift;
}

uint32_t dax_free_count(const struct dax_window *w)
{
	return w->nfree;
}

/* Every chain of one hash table: in range, used, in the right bucket, acyclic. */
static int check_chains(const struct dax_window *w, const uint32_t *heads, uint32_t mask, int ino)
{
	uint32_t total = 0;
	for (uint32_t b = 0; b <= mask; b++) {
		uint32_t prev = DAX_NONE, c = heads[b];
		for (; c != DAX_NONE; prev = c, c = ino ? w->chunks[c].inext : w->chunks[c].hnext) {
			const struct dax_chunk *k = &w->chunks[c];
			if (c >= w->nchunks || !k->used || ++total > w->nchunks)
				return -EIO;
			if (ino ? ino_bucket(w, k->nodeid) != b || k->iprev != prev
				: key_bucket(w, k->nodeid, k->index) != b)
				return -EIO;
		}
	}
	return total == w->nchunks - w->nfree ? 0 : -EIO;
}

int dax_window_check(const struct dax_window *w)
{
	uint32_t words[DAX_BITMAP_LEVELS], nfree = 0, unpinned = 0;
	if (bitmap_shape(w->nchunks, words) != w->nlevels || words[w->nlevels - 1] != 1)
		return -EIO;
	for (uint32_t l = 0; l < w->nlevels; l++) {
		uint32_t bits = l ? words[l - 1] : w->nchunks;
		for (uint32_t i = 0; i < words[l] * 64; i++) {
			int set = (w->free_bits[l][i / 64] >> (i % 64)) & 1;
			int want = i >= bits ? 0 : l ? w->free_bits[l - 1][i] != 0 : !w->chunks[i].used;
			if (set != want)
				return -EIO;
		}
	}
	for (uint32_t c = 0; c < w->nchunks; c++) {
		const struct dax_chunk *k = &w->chunks[c];
		nfree += !k->used;
		unpinned += k->used && !k->pins;
		if (k->used && dax_peek(w, k->nodeid, k->index) != c)
			return -EIO;
		if (!k->used && (k->pins || k->hnext != DAX_NONE || k->next != DAX_NONE))
			return -EIO;
	}
	if (nfree != w->nfree)
		return -EIO;
	uint32_t n = 0, prev = DAX_NONE;
	for (uint32_t c = w->head; c != DAX_NONE; prev = c, c = w->chunks[c].next) {
		if (c >= w->nchunks || !w->chunks[c].used || w->chunks[c].pins ||
		    w->chunks[c].prev != prev || ++n > unpinned)
			return -EIO;
	}
	if (n != unpinned || w->tail != prev)
		return -EIO;
	if (check_chains(w, w->hash, w->hash_mask, 0) || check_chains(w, w->ihash, w->ihash_mask, 1))
		return -EIO;
	return 0;
}
