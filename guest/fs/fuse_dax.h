/*
 * virtio-fs DAX in the guest: file reads served from the DAX window (host
 * file pages mapped into guest physical memory by FUSE_SETUPMAPPING), and
 * window pages handed to program mappings (mmap) with no copy. The window
 * manager (lib/dax_window.c) decides which chunk maps what; this file talks
 * FUSE and keeps what the manager does not: what each chunk covered of its
 * file when it was set up, and the statistics.
 */
#ifndef GUEST_FUSE_DAX_H
#define GUEST_FUSE_DAX_H

#include <stdbool.h>
#include <stdint.h>
#include <pier/dax_window.h>
#include "fuse.h"

#define FUSE_DAX_REMOVE_BATCH 64 /* ranges per REMOVEMAPPING we build */

struct fuse_dax_stats {
	uint64_t reads, read_bytes;   /* read() calls served from the window, bytes */
	uint64_t fallbacks;           /* read() calls that went to FUSE_READ */
	uint64_t writes, write_bytes; /* write() calls served by the window (dax_write=1) */
	uint64_t setups, setup_errors;
	uint64_t remove_msgs, removed; /* REMOVEMAPPING requests, ranges in them */
	uint64_t pages_mapped;        /* window pages given to program mappings */
	uint64_t pages_refused;       /* asked for when every chunk was pinned: copied */
	uint64_t unlocked_copies;     /* read copies made without the kernel lock */
};

struct fuse_dax {
	struct fuse_conn *conn;
	struct dax_window w;
	uint8_t *virt;                /* the window in the kernel's address space */
	uint64_t phys, len;
	uint64_t *covered;            /* per chunk: file bytes it held at setup */
	bool *writable;               /* per chunk: set up with the WRITE flag */
	struct fuse_dax_stats stats;
	uint32_t unremoved[FUSE_DAX_REMOVE_BATCH]; /* free chunks still mapped on the host */
	uint32_t nunremoved;
};

/* Kernel options: dax=0 (off), dax_chunk=SIZE, dax_policy=lru|lifo|linux,
 * dax_write=0|1 (write() within the file's size through the window; on). */
struct fuse_dax_options {
	bool off;
	bool write;
	uint64_t chunk;
	uint64_t small;               /* dax_small=SIZE: whole reads up to this by FUSE_READ */
	enum dax_policy policy;
};
extern struct fuse_dax_options fuse_dax_options;

/*
 * Sets up DAX for a connection whose transport has a window, after
 * FUSE_INIT. Returns the state, or NULL when there is no usable window
 * (none, a window the checks refuse, no map alignment, no memory); the
 * reason is printed.
 */
struct fuse_dax *fuse_dax_new(struct fuse_conn *c);

/*
 * Copies [off, off+len) of the open file (node, fh) whose size is `size`
 * into buf (any mapped address) from the window, clamped to size. Returns
 * the bytes copied: fewer than asked only at EOF or where a chunk could
 * not be mapped; -EAGAIN when not even the first chunk could (the caller
 * uses FUSE_READ).
 */
int64_t fuse_dax_read(struct fuse_dax *d, uint64_t node, uint64_t fh, uint64_t size, void *buf,
		      uint64_t len, uint64_t off);

/*
 * Copies buf into [off, off+len) of the open file (node, fh; open for
 * reading and writing) through writable window chunks, clamped to size:
 * the window never makes a file longer. Returns bytes written, or -EAGAIN
 * when not even the first chunk could be mapped (the caller writes by
 * FUSE_WRITE).
 */
int64_t fuse_dax_write(struct fuse_dax *d, uint64_t node, uint64_t fh, uint64_t size,
		       const void *buf, uint64_t len, uint64_t off);

/*
 * The guest-physical address of the window page holding file offset off
 * (page-aligned, below size) for a program mapping; the chunk is pinned
 * until fuse_dax_put_page. write: the chunk is mapped writable (fh must be
 * open for reading and writing). 0 or -errno.
 */
int fuse_dax_get_page(struct fuse_dax *d, uint64_t node, uint64_t fh, uint64_t size, uint64_t off,
		      uint64_t *pa, bool write);
/* Drops the pin fuse_dax_get_page took for the page at pa. */
void fuse_dax_put_page(struct fuse_dax *d, uint64_t pa);
/* Whether pa is a page of this window. */
bool fuse_dax_owns(const struct fuse_dax *d, uint64_t pa);

/* The node is gone (FORGET): its unpinned chunks are removed, batched. */
void fuse_dax_forget_node(struct fuse_dax *d, uint64_t node);

/* One line of statistics on the console. */
/* Whether the chunk holding byte `off` of the file is mapped now (counts
 * nothing, moves nothing). */
bool fuse_dax_mapped(const struct fuse_dax *d, uint64_t node, uint64_t off);

/* The sums over every window; false when there is none. */
bool fuse_dax_totals(struct dax_stats *w, struct fuse_dax_stats *d);

void fuse_dax_report(const struct fuse_dax *d, const char *tag);

#endif
