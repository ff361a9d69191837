/*
 * The FUSE client: one function per request type, each checking the reply
 * with lib/fuse_msg.c before anything of it is used. Errors are negative
 * errnos; -EPROTO means the server sent something malformed.
 */
#ifndef GUEST_FUSE_H
#define GUEST_FUSE_H

#include <stdbool.h>
#include <stdint.h>
#include <pier/fuse_msg.h>
#include "fuse_transport.h"

struct fuse_conn {
	struct fuse_transport *t;
	uint64_t unique;
	uint32_t minor;          /* negotiated protocol minor */
	uint32_t flags;          /* what the server agreed to (FUSE_*) */
	uint32_t max_read;       /* bytes per READ */
	uint32_t max_write;
	uint16_t max_pages;
	uint16_t map_alignment;  /* log2 of the DAX mapping alignment */
	bool readdirplus;        /* cleared if the server refuses READDIRPLUS */
	bool dead;               /* a protocol error: every request fails */
	uint32_t refused;        /* FUSE_REFUSED_*: optional requests the server lacks */
	/* Counters, for the statistics line at unmount and for tests. */
	uint64_t requests, lookups, forgets, forget_msgs, errors;
};

/* Optional requests a server answered ENOSYS to: not asked again. */
#define FUSE_REFUSED_FLUSH 1u
#define FUSE_REFUSED_FSYNC 2u
#define FUSE_REFUSED_FSYNCDIR 4u
#define FUSE_REFUSED_FALLOCATE 8u
#define FUSE_REFUSED_LSEEK 16u
#define FUSE_REFUSED_COPY 32u

/* Kernel option fuse_trace=1: every request on the kernel's log. */
extern bool fuse_trace;

int fuse_init(struct fuse_conn *c, struct fuse_transport *t);
void fuse_destroy(struct fuse_conn *c);

/* On success the server's lookup count of e->nodeid went up by one. */
int fuse_lookup(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
		struct fuse_entry_out *e);
/* Drops `n` nodes' lookup counts: ids[i] by counts[i], batched. */
int fuse_forget(struct fuse_conn *c, const uint64_t *ids, const uint64_t *counts, unsigned n);
int fuse_getattr(struct fuse_conn *c, uint64_t node, struct fuse_attr_out *a);
int fuse_open(struct fuse_conn *c, uint64_t node, bool dir, uint32_t flags, uint64_t *fh);
int fuse_release(struct fuse_conn *c, uint64_t node, bool dir, uint64_t fh);
/* Reads up to len bytes at off, split at max_read; returns bytes read. */
int64_t fuse_read(struct fuse_conn *c, uint64_t node, uint64_t fh, void *buf, uint64_t len,
		  uint64_t off);
/*
 * One READDIR(PLUS) round: fills buf (size len) with raw records from
 * offset `off`; returns bytes and sets *plus to the format used.
 */
int64_t fuse_readdir(struct fuse_conn *c, uint64_t node, uint64_t fh, uint64_t off, void *buf,
		     uint32_t len, bool *plus);
/* Target of a symlink into buf (NUL-terminated); returns its length. */
int fuse_readlink(struct fuse_conn *c, uint64_t node, char *buf, uint32_t size);
int fuse_statfs(struct fuse_conn *c, struct fuse_kstatfs *st);
int fuse_access(struct fuse_conn *c, uint64_t node, uint32_t mask);

/* DAX: maps [foff, foff+len) of open file fh at window offset moff. */
int fuse_setupmapping(struct fuse_conn *c, uint64_t node, uint64_t fh, uint64_t foff,
		      uint64_t len, uint64_t moff, uint64_t flags);
/* DAX: unmaps n window ranges (1..FUSE_REMOVEMAPPING_MAX) in one request. */
#define FUSE_REMOVEMAPPING_MAX 256 /* the spec's limit: a 4 KiB page of entries */
int fuse_removemapping(struct fuse_conn *c, const struct fuse_removemapping_one *r, uint32_t n);

/*
 * Requests that change the tree. Those returning an entry counted a new
 * lookup of e->nodeid on success, as fuse_lookup does. Modes go to the
 * server already masked by the program's umask.
 */
int fuse_create(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
		uint32_t flags, uint32_t mode, struct fuse_entry_out *e, uint64_t *fh);
int fuse_mkdir(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
	       uint32_t mode, struct fuse_entry_out *e);
int fuse_symlink(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
		 const char *target, struct fuse_entry_out *e);
int fuse_link(struct fuse_conn *c, uint64_t node, uint64_t newdir, const char *name,
	      uint32_t namelen, struct fuse_entry_out *e);
int fuse_unlink(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
		bool rmdir);
/* flags: RENAME_NOREPLACE / RENAME_EXCHANGE (FUSE_RENAME2), 0 for plain RENAME. */
int fuse_rename(struct fuse_conn *c, uint64_t olddir, const char *oldname, uint32_t oldlen,
		uint64_t newdir, const char *newname, uint32_t newlen, uint32_t flags);
int fuse_setattr(struct fuse_conn *c, uint64_t node, const struct fuse_setattr_in *in,
		 struct fuse_attr_out *a);
/* Writes len bytes at off, split at max_write; returns bytes written. */
int64_t fuse_write(struct fuse_conn *c, uint64_t node, uint64_t fh, const void *buf,
		   uint64_t len, uint64_t off);
int fuse_flush(struct fuse_conn *c, uint64_t node, uint64_t fh);
int fuse_fsync(struct fuse_conn *c, uint64_t node, uint64_t fh, bool dir, bool datasync);
/* -EOPNOTSUPP when the server has no FALLOCATE. */
int fuse_fallocate(struct fuse_conn *c, uint64_t node, uint64_t fh, uint32_t mode, uint64_t off,
		   uint64_t len);
/* SEEK_DATA/SEEK_HOLE on the server; -ENOSYS when it has no LSEEK. */
int64_t fuse_lseek(struct fuse_conn *c, uint64_t node, uint64_t fh, uint64_t off,
		   uint32_t whence);
/* Server-side copy; -ENOSYS when it has none (the caller copies itself). */
int64_t fuse_copy_file_range(struct fuse_conn *c, uint64_t node_in, uint64_t fh_in,
			     uint64_t off_in, uint64_t node_out, uint64_t fh_out, uint64_t off_out,
			     uint64_t len);

#endif
