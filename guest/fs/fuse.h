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
	/* Counters, for the statistics line at unmount and for tests. */
	uint64_t requests, lookups, forgets, forget_msgs, errors;
};

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

#endif
