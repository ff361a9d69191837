/*
 * DAX window manager: bookkeeping for the virtio-fs DAX window (shared
 * memory region 0). The window is cut into fixed chunks; each chunk maps one
 * chunk-aligned piece (nodeid, file chunk index) of a file, set up by the
 * caller with FUSE_SETUPMAPPING and torn down with FUSE_REMOVEMAPPING. This
 * library only decides which chunk holds what and which to evict: no I/O,
 * no allocation (the caller provides the memory). Not thread-safe; the
 * caller serialises.
 */
#ifndef PIER_DAX_WINDOW_H
#define PIER_DAX_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#define DAX_NONE 0xffffffffu
#define DAX_MIN_CHUNK 4096ULL
#define DAX_MAX_CHUNKS (1u << 20)       /* 4 GiB of 4 KiB chunks; keeps indices far from DAX_NONE */
#define DAX_MAX_VICTIMS 64              /* one REMOVEMAPPING request's worth */
#define DAX_LINUX_RECLAIM_PCT 20        /* fs/fuse/dax.c FUSE_DAX_RECLAIM_THRESHOLD */
#define DAX_LINUX_RECLAIM_BATCH 10      /* fs/fuse/dax.c FUSE_DAX_RECLAIM_CHUNK */
#define DAX_BITMAP_LEVELS 4             /* 64^4 >= DAX_MAX_CHUNKS */

enum dax_policy {
	/* Ours (default): when full, evict the least recently used unpinned chunk. */
	DAX_POLICY_LRU,
	/*
	 * The thesis's: when full, overwrite the most recently allocated
	 * unpinned chunk (a stack), so a file read serially stays contiguous
	 * at the bottom of the window.
	 */
	DAX_POLICY_LIFO,
	/*
	 * Linux fs/fuse/dax.c: when an allocation would leave fewer than
	 * max(20% of the chunks, 1) free, reclaim the oldest-allocated
	 * unpinned chunks in batches of 10 until it would not.
	 */
	DAX_POLICY_LINUX,
};

/*
 * One chunk. The caller may read every field and owns flags (for the
 * READ/WRITE mapping flags); the rest belongs to the library.
 */
struct dax_chunk {
	uint64_t nodeid, index; /* what the chunk maps, while used */
	uint32_t hnext;         /* next in the (nodeid, index) hash chain */
	uint32_t iprev, inext;  /* neighbours in the nodeid-only hash chain */
	uint32_t prev, next;    /* neighbours in the eviction list (unpinned only) */
	uint32_t pins;
	uint8_t used;
	uint8_t flags;          /* the caller's; zeroed by dax_alloc */
};

struct dax_stats {
	uint64_t hits, misses;  /* dax_find results */
	uint64_t allocs;        /* dax_alloc calls that returned a chunk */
	uint64_t evictions;     /* chunks taken from their mapping to make room */
	uint64_t reclaims;      /* DAX_POLICY_LINUX batch reclaim events */
	uint64_t pinned_full;   /* dax_alloc failures: every chunk pinned */
};

struct dax_victim {
	uint32_t chunk;
	uint64_t nodeid, index; /* what the chunk mapped before */
};

struct dax_victims {
	uint32_t n;
	struct dax_victim v[DAX_MAX_VICTIMS];
};

struct dax_window {
	uint64_t chunk_size;
	uint32_t chunk_shift;
	uint32_t nchunks, nfree;
	uint32_t linux_low;     /* DAX_POLICY_LINUX: keep at least this many free */
	enum dax_policy policy;
	struct dax_chunk *chunks;
	uint32_t *hash, hash_mask;   /* heads of (nodeid, index) chains */
	uint32_t *ihash, ihash_mask; /* heads of nodeid chains */
	uint32_t head, tail;         /* eviction list: head oldest/least recent */
	uint32_t nlevels;
	uint64_t *free_bits[DAX_BITMAP_LEVELS]; /* 1 = free; level k+1 summarises level k */
	struct dax_stats stats;
};

/*
 * Bytes of caller memory (8-byte aligned) dax_window_init needs for
 * nchunks; 0 when nchunks is 0 or above DAX_MAX_CHUNKS.
 */
size_t dax_window_bytes(uint32_t nchunks);

/*
 * Sets w up over floor(window_len / chunk_size) chunks, all free, using mem
 * (which the caller keeps alive and owns). Returns 0, or -EINVAL when
 * chunk_size is not a power of two, is below DAX_MIN_CHUNK or is not a
 * multiple of 1 << map_align_log2 (the host's FUSE_INIT map_alignment),
 * when the window holds no chunk or more than DAX_MAX_CHUNKS, when policy
 * is unknown, or when mem is unaligned or shorter than dax_window_bytes().
 */
int dax_window_init(struct dax_window *w, uint64_t window_len, uint64_t chunk_size,
		    uint32_t map_align_log2, enum dax_policy policy, void *mem, size_t mem_len);

/*
 * The chunk mapping (nodeid, index), or DAX_NONE. Counts a hit or a miss;
 * under DAX_POLICY_LRU a hit makes the chunk the most recently used.
 */
uint32_t dax_find(struct dax_window *w, uint64_t nodeid, uint64_t index);

/* Like dax_find, but counts nothing and leaves every order alone. */
uint32_t dax_peek(const struct dax_window *w, uint64_t nodeid, uint64_t index);

/*
 * After a miss: picks a chunk for (nodeid, index) by the policy and records
 * it as mapping that, unpinned, flags 0. The caller then sends
 * FUSE_SETUPMAPPING, and calls dax_drop if that fails. Chunks evicted to
 * make room are listed in *victims with what they mapped: the returned
 * chunk may be one of them (SETUPMAPPING overwrites it); the others are now
 * free and the caller removes them with one batched FUSE_REMOVEMAPPING.
 * Returns DAX_NONE, with victims->n 0, when every chunk is pinned (the
 * caller falls back to FUSE_READ) or when (nodeid, index) is already mapped
 * (a caller bug: it must dax_find first).
 */
uint32_t dax_alloc(struct dax_window *w, uint64_t nodeid, uint64_t index,
		   struct dax_victims *victims);

/*
 * Frees a used, unpinned chunk (its SETUPMAPPING failed, or the caller
 * removed it). Returns 0, -EINVAL for a bad or free chunk, -EBUSY if pinned.
 */
int dax_drop(struct dax_window *w, uint32_t chunk);

/*
 * Frees up to max unpinned chunks of nodeid (inode forgotten, file
 * truncated) and writes their numbers to out for one batched
 * REMOVEMAPPING. Returns how many; call again while it returns max.
 * Pinned chunks stay. Walks only nodeid's hash chain.
 */
uint32_t dax_drop_inode(struct dax_window *w, uint64_t nodeid, uint32_t *out, uint32_t max);

/*
 * A program mapping (mmap) now uses the chunk: it is never evicted or
 * dropped while pinned. Returns 0, -EINVAL for a bad or free chunk,
 * -EOVERFLOW when the count is saturated.
 */
int dax_pin(struct dax_window *w, uint32_t chunk);

/*
 * Drops one pin. When the last goes, the chunk re-enters eviction order as
 * the newest (most recently used / allocated). Returns 0, or -EINVAL for a
 * bad, free or unpinned chunk.
 */
int dax_unpin(struct dax_window *w, uint32_t chunk);

/* Byte offset of the chunk in the window (the SETUPMAPPING moffset). */
uint64_t dax_chunk_offset(const struct dax_window *w, uint32_t chunk);

/* The file chunk index holding byte offset off (the dax_find index). */
uint64_t dax_file_index(const struct dax_window *w, uint64_t off);

/* How many chunks map nothing. */
uint32_t dax_free_count(const struct dax_window *w);

/*
 * Walks every internal structure (hash chains, eviction list, free bitmap)
 * and returns 0 if they agree, -EIO if not. O(nchunks): for tests.
 */
int dax_window_check(const struct dax_window *w);

#endif
