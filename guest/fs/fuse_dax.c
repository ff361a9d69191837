/*
 * DAX reads and mappings (see fuse_dax.h). Everything about the window the
 * device reports is untrusted: its address and length are checked before
 * it is mapped, and the host's map alignment must fit a page.
 */
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/console.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "../kernel/stats.h"
#include "../kernel/task.h"
#include "fuse_dax.h"

#define PAGE 4096ULL
#define WINDOW_LIMIT (512ULL << 30) /* what the direct map can reach */
#define REMOVE_BATCH FUSE_DAX_REMOVE_BATCH

struct fuse_dax_options fuse_dax_options = { .chunk = 2ULL << 20, .policy = DAX_POLICY_LRU,
					       .write = true, .small = 256ULL << 10 };

/* Every window set up, for the totals --stats reports. */
#define MAX_WINDOWS 32
static struct fuse_dax *windows[MAX_WINDOWS];
static unsigned nwindows;

static void reused(struct fuse_dax *d, uint32_t c);

static const char *policy_name(enum dax_policy p)
{
	return p == DAX_POLICY_LIFO ? "lifo" : p == DAX_POLICY_LINUX ? "linux" : "lru";
}

struct fuse_dax *fuse_dax_new(struct fuse_conn *c)
{
	struct fuse_transport *t = c->t;
	uint64_t a = t->dax_addr, len = t->dax_len;
	if (!len || fuse_dax_options.off)
		return NULL;
	/* untrusted: from the device */
	if ((a | len) & (PAGE - 1) || a + len < a || a + len > WINDOW_LIMIT) {
		kprintf("virtiofs '%s': DAX window %llx+%llx unusable; reading by FUSE_READ\n",
			t->tag, (unsigned long long)a, (unsigned long long)len);
		return NULL;
	}
	if (!(c->flags & FUSE_MAP_ALIGNMENT) || c->map_alignment > 21) {
		kprintf("virtiofs '%s': no usable map alignment; reading by FUSE_READ\n", t->tag);
		return NULL;
	}
	/* The chunk: the option, but at least a page and the host's
	 * alignment, and no larger than the window. */
	uint64_t chunk = fuse_dax_options.chunk, align = 1ULL << c->map_alignment;
	if (chunk < align)
		chunk = align;
	if (chunk < PAGE)
		chunk = PAGE;
	while (chunk > len)
		chunk >>= 1;
	uint32_t n = (uint32_t)(len / chunk < DAX_MAX_CHUNKS ? len / chunk : DAX_MAX_CHUNKS);
	size_t bytes = dax_window_bytes(n);
	struct fuse_dax *d = kzalloc(sizeof(*d));
	void *mem = kmalloc_aligned(bytes ? bytes : 1, 64);
	uint64_t *covered = kzalloc((size_t)n * sizeof(uint64_t));
	bool *writable = kzalloc(n ? n : 1);
	uint8_t *virt = d && mem && covered && writable ? mmio_map_cached(a, (uint64_t)n * chunk) : NULL;
	if (!virt || dax_window_init(&d->w, (uint64_t)n * chunk, chunk, c->map_alignment,
				     fuse_dax_options.policy, mem, bytes)) {
		kprintf("virtiofs '%s': cannot set up the DAX window; reading by FUSE_READ\n",
			t->tag);
		if (d)
			kfree(d);
		if (mem)
			kfree(mem);
		if (covered)
			kfree(covered);
		if (writable)
			kfree(writable);
		return NULL;
	}
	d->conn = c;
	if (nwindows < MAX_WINDOWS)
		windows[nwindows++] = d;
	d->virt = virt;
	d->phys = a;
	d->len = (uint64_t)n * chunk;
	d->covered = covered;
	d->writable = writable;
	kprintf("virtiofs '%s': DAX window %llu MiB at %llx, %u chunks of %llu KiB (%s)\n",
		t->tag, (unsigned long long)(d->len >> 20), (unsigned long long)a, n,
		(unsigned long long)(chunk >> 10), policy_name(fuse_dax_options.policy));
	return d;
}

/* One REMOVEMAPPING for every chunk in `chunks` (already free in w). */
static void remove_chunks(struct fuse_dax *d, const uint32_t *chunks, uint32_t n)
{
	struct fuse_removemapping_one r[REMOVE_BATCH];
	for (uint32_t i = 0; i < n; i++)
		r[i] = (struct fuse_removemapping_one){ dax_chunk_offset(&d->w, chunks[i]),
							 d->w.chunk_size };
	if (n && fuse_removemapping(d->conn, r, n) == 0) {
		d->stats.remove_msgs++;
		d->stats.removed += n;
	}
}

/*
 * The chunk holding file chunk `idx` of (node, fh), set up if needed and
 * covering at least `need` bytes of it (write: writable too); DAX_NONE
 * when that cannot be.
 */
static uint32_t map_chunk(struct fuse_dax *d, uint64_t node, uint64_t fh, uint64_t size,
			  uint64_t idx, uint64_t need, bool write)
{
	uint64_t cs = d->w.chunk_size, foff = idx * cs;
	uint64_t have = size > foff ? (size - foff < cs ? size - foff : cs) : 0;
	uint32_t c = dax_find(&d->w, node, idx);
	if (c != DAX_NONE && d->covered[c] >= need && (!write || d->writable[c]))
		return c;
	/* A pinned chunk is not set up again for more of its file: a failure
	 * would leave program pages pointing at nothing, so its reader falls
	 * back instead. Making it writable is the exception: the same range of
	 * the same file, which the host checks (handle, flags) before it
	 * touches the mapping. */
	if (c != DAX_NONE && d->w.chunks[c].pins && !(write && d->covered[c] >= need))
		return DAX_NONE;
	if (c == DAX_NONE) {
		struct dax_victims v;
		c = dax_alloc(&d->w, node, idx, &v);
		if (c == DAX_NONE)
			return DAX_NONE; /* every chunk pinned by program mappings */
		reused(d, c);
		uint32_t others[DAX_MAX_VICTIMS], n = 0;
		for (uint32_t i = 0; i < v.n; i++)
			if (v.v[i].chunk != c)
				others[n++] = v.v[i].chunk;
		for (uint32_t i = 0; i < n; i += REMOVE_BATCH)
			remove_chunks(d, others + i, n - i < REMOVE_BATCH ? n - i : REMOVE_BATCH);
	}
	/* New, or the file grew past what the chunk saw at setup: map (again);
	 * a setup over a mapped range replaces it. */
	bool pinned = d->w.chunks[c].pins;
	int err = fuse_setupmapping(d->conn, node, fh, foff, cs, dax_chunk_offset(&d->w, c),
				    FUSE_SETUPMAPPING_FLAG_READ |
					    (write ? FUSE_SETUPMAPPING_FLAG_WRITE : 0));
	if (err && pinned) {
		d->stats.setup_errors++;
		return DAX_NONE; /* still mapped read-only as before */
	}
	if (err) {
		/* The host leaves the range empty after a failed setup. */
		d->stats.setup_errors++;
		d->covered[c] = 0;
		dax_drop(&d->w, c);
		return DAX_NONE;
	}
	d->stats.setups++;
	d->covered[c] = have;
	d->writable[c] = write;
	return have >= need ? c : DAX_NONE;
}

/*
 * A read's copy of n bytes out of chunk c (at win) to `to`: without the
 * kernel lock where the system call allows it (task_io_unlock_begin), so
 * that other CPUs' reads copy at the same time. The chunk is pinned
 * meanwhile: no eviction (another CPU's dax_alloc) and no shrink of its
 * file takes it while the bytes are in flight; the window's bookkeeping
 * is only ever changed with the kernel lock, around the copy. `to` may be
 * the program's, which another thread can unmap meanwhile: the copy then
 * stops short (copy_nofault). Returns the bytes copied.
 */
static uint64_t copy_out(struct fuse_dax *d, uint32_t c, uint8_t *to, const uint8_t *win,
			 uint64_t n)
{
	if (dax_pin(&d->w, c)) { /* its pin count is full: copy with the lock */
		memcpy(to, win, n);
		return n;
	}
	bool unlocked = task_io_leave();
	uint64_t left = copy_nofault(to, win, n);
	if (unlocked) {
		kernel_enter();
		d->stats.unlocked_copies++;
	}
	dax_unpin(&d->w, c);
	return n - left;
}

/*
 * Copies between buf and [off, off+len) of the file through its window
 * chunks (write: into them), clamped to size; stops at the first chunk
 * that cannot be mapped, or where a program buffer was unmapped under a
 * read's copy. Returns the bytes copied.
 */
static uint64_t window_copy(struct fuse_dax *d, uint64_t node, uint64_t fh, uint64_t size,
			    uint8_t *buf, uint64_t len, uint64_t off, bool write)
{
	if (len > size - off)
		len = size - off;
	uint64_t cs = d->w.chunk_size, done = 0;
	while (done < len) {
		uint64_t at = off + done, in = at & (cs - 1);
		uint64_t n = cs - in < len - done ? cs - in : len - done;
		uint32_t c = map_chunk(d, node, fh, size, dax_file_index(&d->w, at), in + n, write);
		if (c == DAX_NONE)
			break;
		uint8_t *win = d->virt + dax_chunk_offset(&d->w, c) + in;
		if (write) {
			memcpy(win, buf + done, n);
		} else {
			uint64_t got = copy_out(d, c, buf + done, win, n);
			done += got;
			if (got < n)
				break;
			continue;
		}
		done += n;
	}
	return done;
}

int64_t fuse_dax_read(struct fuse_dax *d, uint64_t node, uint64_t fh, uint64_t size, void *buf,
		      uint64_t len, uint64_t off)
{
	if (off >= size)
		return 0;
	uint64_t done = window_copy(d, node, fh, size, buf, len, off, false);
	if (!done) {
		d->stats.fallbacks++;
		return -EAGAIN;
	}
	d->stats.reads++;
	d->stats.read_bytes += done;
	stats.copied_window += done;
	return (int64_t)done;
}

int64_t fuse_dax_write(struct fuse_dax *d, uint64_t node, uint64_t fh, uint64_t size,
		       const void *buf, uint64_t len, uint64_t off)
{
	if (off >= size)
		return -EAGAIN;
	/* window_copy only reads buf when writing */
	uint64_t done = window_copy(d, node, fh, size, (uint8_t *)(uintptr_t)buf, len, off, true);
	if (!done)
		return -EAGAIN;
	d->stats.writes++;
	d->stats.write_bytes += done;
	return (int64_t)done;
}

int fuse_dax_get_page(struct fuse_dax *d, uint64_t node, uint64_t fh, uint64_t size, uint64_t off,
		      uint64_t *pa, bool write)
{
	if ((off & (PAGE - 1)) || off >= size)
		return -EINVAL;
	uint64_t cs = d->w.chunk_size, in = off & (cs - 1);
	uint64_t need = size - off < PAGE ? in + (size - off) : in + PAGE;
	uint32_t c = map_chunk(d, node, fh, size, dax_file_index(&d->w, off), need, write);
	if (c == DAX_NONE || dax_pin(&d->w, c)) {
		d->stats.pages_refused++; /* the caller copies the page instead */
		return -ENOMEM;
	}
	*pa = d->phys + dax_chunk_offset(&d->w, c) + in;
	d->stats.pages_mapped++;
	return 0;
}

bool fuse_dax_mapped(const struct fuse_dax *d, uint64_t node, uint64_t off)
{
	return dax_peek(&d->w, node, dax_file_index(&d->w, off)) != DAX_NONE;
}

bool fuse_dax_owns(const struct fuse_dax *d, uint64_t pa)
{
	return d && pa >= d->phys && pa - d->phys < d->len;
}

void fuse_dax_put_page(struct fuse_dax *d, uint64_t pa)
{
	if (fuse_dax_owns(d, pa))
		dax_unpin(&d->w, (uint32_t)((pa - d->phys) / d->w.chunk_size));
}

/*
 * A forgotten or shrunk file's chunks are free at once, but their host
 * mappings go only in batches: a chunk set up again is simply replaced
 * (SETUPMAPPING over a mapped range), so most never need a REMOVEMAPPING,
 * and unlinking many files does not cost a request each. Until then the
 * host keeps those files open (at most REMOVE_BATCH of them).
 */
void fuse_dax_forget_node(struct fuse_dax *d, uint64_t node)
{
	uint32_t n;
	do {
		n = dax_drop_inode(&d->w, node, d->unremoved + d->nunremoved,
				   REMOVE_BATCH - d->nunremoved);
		d->nunremoved += n;
		if (d->nunremoved == REMOVE_BATCH) {
			remove_chunks(d, d->unremoved, d->nunremoved);
			d->nunremoved = 0;
		}
	} while (n && !d->nunremoved);
}

/* Chunk c is set up again: it is no longer one to remove. */
static void reused(struct fuse_dax *d, uint32_t c)
{
	for (uint32_t i = 0; i < d->nunremoved; i++)
		if (d->unremoved[i] == c) {
			d->unremoved[i] = d->unremoved[--d->nunremoved];
			return;
		}
}

void fuse_dax_report(const struct fuse_dax *d, const char *tag)
{
	const struct dax_stats *w = &d->w.stats;
	if (fuse_dax_options.write)
		kprintf("virtiofs '%s': DAX: %llu writes (%llu KiB) into the window\n", tag,
			(unsigned long long)d->stats.writes,
			(unsigned long long)(d->stats.write_bytes >> 10));
	kprintf("virtiofs '%s': DAX: %llu reads (%llu KiB) from the window, %llu by FUSE_READ; "
		"%llu setups (%llu failed), %llu ranges removed in %llu requests; %llu hits, "
		"%llu misses, %llu evictions; %llu pages mapped into the program, %llu copied "
		"(no chunk to spare)\n", tag,
		(unsigned long long)d->stats.reads, (unsigned long long)(d->stats.read_bytes >> 10),
		(unsigned long long)d->stats.fallbacks, (unsigned long long)d->stats.setups,
		(unsigned long long)d->stats.setup_errors, (unsigned long long)d->stats.removed,
		(unsigned long long)d->stats.remove_msgs, (unsigned long long)w->hits,
		(unsigned long long)w->misses, (unsigned long long)w->evictions,
		(unsigned long long)d->stats.pages_mapped,
		(unsigned long long)d->stats.pages_refused);
}

bool fuse_dax_totals(struct dax_stats *w, struct fuse_dax_stats *d)
{
	*w = (struct dax_stats){ 0 };
	*d = (struct fuse_dax_stats){ 0 };
	for (unsigned i = 0; i < nwindows; i++) {
		const struct dax_stats *a = &windows[i]->w.stats;
		const struct fuse_dax_stats *b = &windows[i]->stats;
		w->hits += a->hits;
		w->misses += a->misses;
		w->evictions += a->evictions;
		d->setups += b->setups;
		d->setup_errors += b->setup_errors;
		d->remove_msgs += b->remove_msgs;
		d->removed += b->removed;
		d->pages_mapped += b->pages_mapped;
		d->pages_refused += b->pages_refused;
		d->unlocked_copies += b->unlocked_copies;
	}
	return nwindows > 0;
}
