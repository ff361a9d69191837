/*
 * The DAX window's mappings (see dax_map.h). Records are kept in an array
 * sorted by window offset; a setup or remove trims, splits or drops the
 * records it overlaps. The guest keeps a few hundred mappings (one per
 * 2 MiB chunk), so linear work per request is cheap next to mmap itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dax_map.h"

#define DAX_MAP_MAX_RECS (1u << 20)

struct dax_map_rec {
	uint64_t moff, len;  /* window range */
	uint64_t foff;       /* file offset at moff */
	uint64_t file_len;   /* bytes from moff that map the file; zeros after */
	int fd;              /* our own duplicate, for fstat in repair */
	bool writable;
};

static int map_none(struct dax_map *d, uint64_t moff, uint64_t len)
{
	void *p = mmap(d->base + moff, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? -errno : 0;
}

static int map_zeros(struct dax_map *d, uint64_t moff, uint64_t len)
{
	if (!len)
		return 0;
	void *p = mmap(d->base + moff, len, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? -errno : 0;
}

/* Bytes of [foff, foff+len) the file has, rounded up to whole pages. */
static uint64_t file_part(const struct dax_map *d, int fd, uint64_t foff, uint64_t len)
{
	struct stat st;
	if (fstat(fd, &st) || st.st_size <= 0 || (uint64_t)st.st_size <= foff)
		return 0;
	uint64_t have = ((uint64_t)st.st_size - foff + d->page - 1) & ~(d->page - 1);
	return have < len ? have : len;
}

int dax_map_init(struct dax_map *d, uint64_t len)
{
	memset(d, 0, sizeof(*d));
	d->page = (uint64_t)sysconf(_SC_PAGESIZE);
	if (!len || (len & (d->page - 1)))
		return -EINVAL;
	/* On a 2 MiB boundary, with the rest given back: a chunk of a file the
	 * host keeps in huge pages (tmpfs huge=) is then mapped whole by one
	 * page-table entry, and KVM maps it to the guest as one large page:
	 * one fault per chunk where small pages take 512. */
	uint64_t align = 2ULL << 20;
	uint8_t *p = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	uint8_t *base = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (base > p)
		munmap(p, (size_t)(base - p));
	if (base + len < p + len + align)
		munmap(base + len, (size_t)(p + len + align - (base + len)));
	d->base = base;
	d->len = len;
	pthread_mutex_init(&d->lock, NULL);
	return 0;
}

void dax_map_free(struct dax_map *d)
{
	if (!d->base)
		return;
	for (uint32_t i = 0; i < d->nrecs; i++)
		close(d->recs[i].fd);
	free(d->recs);
	munmap(d->base, d->len);
	pthread_mutex_destroy(&d->lock);
	memset(d, 0, sizeof(*d));
}

static bool range_ok(const struct dax_map *d, uint64_t off, uint64_t len)
{
	return len && !(off & (d->page - 1)) && !(len & (d->page - 1)) && off <= d->len &&
	       len <= d->len - off;
}

static int grow(struct dax_map *d, uint32_t more)
{
	if (d->nrecs + more <= d->cap)
		return 0;
	if (d->nrecs + more > DAX_MAP_MAX_RECS)
		return -ENOSPC;
	uint32_t cap = d->cap ? d->cap * 2 : 64;
	while (cap < d->nrecs + more)
		cap *= 2;
	struct dax_map_rec *r = realloc(d->recs, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	d->recs = r;
	d->cap = cap;
	return 0;
}

/* Cuts [moff, moff+len) out of the records (the pages themselves are the
 * caller's to replace). Needs room for one more record (a split). */
static int forget_range(struct dax_map *d, uint64_t moff, uint64_t len)
{
	uint64_t end = moff + len;
	for (uint32_t i = 0; i < d->nrecs; i++) {
		struct dax_map_rec *r = &d->recs[i];
		uint64_t rend = r->moff + r->len;
		if (rend <= moff || r->moff >= end)
			continue;
		if (r->moff < moff && rend > end) {
			/* The hole is inside: split in two, the tail gets its own fd. */
			int fd = dup(r->fd);
			if (fd < 0)
				return -errno;
			struct dax_map_rec tail = *r;
			tail.fd = fd;
			tail.moff = end;
			tail.len = rend - end;
			tail.foff = r->foff + (end - r->moff);
			tail.file_len = r->file_len > end - r->moff ? r->file_len - (end - r->moff) : 0;
			r->len = moff - r->moff;
			r->file_len = r->file_len < r->len ? r->file_len : r->len;
			memmove(&d->recs[i + 2], &d->recs[i + 1], (d->nrecs - i - 1) * sizeof(*r));
			d->recs[i + 1] = tail;
			d->nrecs++;
			return 0; /* records are disjoint: nothing else overlaps */
		}
		if (r->moff < moff) { /* overlaps our start: keep its head */
			r->len = moff - r->moff;
			r->file_len = r->file_len < r->len ? r->file_len : r->len;
		} else if (rend > end) { /* overlaps our end: keep its tail */
			uint64_t cut = end - r->moff;
			r->moff = end;
			r->len -= cut;
			r->foff += cut;
			r->file_len = r->file_len > cut ? r->file_len - cut : 0;
		} else { /* inside: gone */
			close(r->fd);
			memmove(r, r + 1, (d->nrecs - i - 1) * sizeof(*r));
			d->nrecs--;
			i--;
		}
	}
	return 0;
}

static void insert_sorted(struct dax_map *d, const struct dax_map_rec *n)
{
	uint32_t i = 0;
	while (i < d->nrecs && d->recs[i].moff < n->moff)
		i++;
	memmove(&d->recs[i + 1], &d->recs[i], (d->nrecs - i) * sizeof(*n));
	d->recs[i] = *n;
	d->nrecs++;
}

int dax_map_setup(struct dax_map *d, int fd, uint64_t foff, uint64_t moff, uint64_t len,
		  bool writable)
{
	if (!range_ok(d, moff, len) || (foff & (d->page - 1)) || foff > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	struct dax_map_rec n = { .moff = moff, .len = len, .foff = foff, .writable = writable };
	int err = grow(d, 2);
	if (!err && (n.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		err = -errno;
	if (err)
		goto out;
	n.file_len = file_part(d, fd, foff, len);
	/* A store into a hole the file system cannot fill (ENOSPC) would make
	 * KVM_RUN fail with EFAULT and stop the VM. Reserve the blocks first,
	 * while the range still holds what it held: a full file system is
	 * then an ENOSPC the guest answers by falling back to FUSE_WRITE, and
	 * a chunk it had mapped read-only stays so. Without fallocate
	 * (EOPNOTSUPP) there is nothing to reserve. */
	if (writable && n.file_len &&
	    fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)foff, (off_t)n.file_len) < 0 &&
	    errno != EOPNOTSUPP) {
		err = -errno;
		close(n.fd);
		goto out;
	}
	/* Records first: whatever happens below, the range then holds either
	 * the new mapping or nothing, and the records say so. */
	if ((err = forget_range(d, moff, len))) {
		close(n.fd);
		goto out;
	}
	if (n.file_len && mmap(d->base + moff, n.file_len, PROT_READ | (writable ? PROT_WRITE : 0),
			       MAP_SHARED | MAP_FIXED, fd, (off_t)foff) == MAP_FAILED)
		err = -errno;
	/* Populated now: the pages are in our page tables before the guest
	 * touches them, so KVM's fault on each finds them at once. Unlike
	 * MAP_POPULATE this says when a page cannot be had (tmpfs allocates
	 * even for reads of holes; a full one cannot): the setup then fails
	 * and the guest reads by FUSE_READ, instead of KVM_RUN failing with
	 * EFAULT later. EINVAL: a kernel older than 5.14, populated on use. */
	if (!err && n.file_len &&
	    madvise(d->base + moff, n.file_len, writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) &&
	    errno != EINVAL)
		err = errno == EFAULT ? -EIO : -errno;
	if (!err)
		err = map_zeros(d, moff + n.file_len, len - n.file_len);
	if (err) {
		close(n.fd);
		map_none(d, moff, len);
		goto out;
	}
	insert_sorted(d, &n);
	d->setups++;
	d->setup_bytes += n.file_len;
out:
	pthread_mutex_unlock(&d->lock);
	return err;
}

int dax_map_remove(struct dax_map *d, uint64_t moff, uint64_t len)
{
	if (!range_ok(d, moff, len))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	int err = grow(d, 1);
	if (!err)
		err = forget_range(d, moff, len);
	if (!err)
		err = map_none(d, moff, len);
	if (!err) {
		d->removes++;
		d->removed_bytes += len;
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

void dax_map_clear(struct dax_map *d)
{
	if (!d->base)
		return;
	pthread_mutex_lock(&d->lock);
	for (uint32_t i = 0; i < d->nrecs; i++)
		close(d->recs[i].fd);
	d->nrecs = 0;
	map_none(d, 0, d->len);
	pthread_mutex_unlock(&d->lock);
}

int dax_map_repair(struct dax_map *d)
{
	int changed = 0;
	pthread_mutex_lock(&d->lock);
	for (uint32_t i = 0; i < d->nrecs; i++) {
		struct dax_map_rec *r = &d->recs[i];
		uint64_t have = file_part(d, r->fd, r->foff, r->len);
		if (have >= r->file_len)
			continue;
		if (map_zeros(d, r->moff + have, r->file_len - have) == 0) {
			r->file_len = have;
			changed++;
		}
	}
	d->repairs += (uint64_t)changed;
	pthread_mutex_unlock(&d->lock);
	return changed;
}
