/*
 * The host side of virtio-fs: a FUSE server for one host directory,
 * read-only or read-write, driven by whole requests in memory (the
 * virtio-fs device hands it the bytes of a descriptor chain; tests and
 * fuzzers call it directly). It serves by file descriptor: one O_PATH fd
 * per inode, names resolved, created, linked, renamed and removed one
 * component at a time beneath the parent's fd, symlinks never followed.
 * A rename or link names both directories by such fds, so nothing can be
 * moved or linked out of the directory, nor anything from outside into it
 * (fuse_server.c has the rules). Every request is untrusted: a malformed
 * one gets an error reply, never a crash or an access outside the
 * directory.
 *
 * Not thread-safe: one device thread owns a server.
 */
#ifndef PIER_FUSE_SERVER_H
#define PIER_FUSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "latency.h"

/* Largest READ/READDIR payload we produce (also max_write, max_pages). */
#define FUSE_SERVER_MAX_READ (1u << 20)

struct fuse_server;

/*
 * Serves `dir` (opened O_PATH|O_DIRECTORY; a symlink as `dir` itself is
 * followed, that is the host's choice). With `readonly`, every request
 * that would change the tree or a file gets EROFS (opens for writing or
 * with O_TRUNC, ACCESS W_OK and writable DAX mappings included). NULL with
 * errno set on failure.
 */
struct fuse_server *fuse_server_new(const char *dir, bool readonly);

/*
 * Handles one request of req_len bytes and writes the reply into `reply`
 * (reply_cap bytes). Returns the reply length, which is also the reply
 * header's len; 0 means nothing was written: FORGET and BATCH_FORGET,
 * a request shorter than its header, or reply_cap too small for a header.
 */
size_t fuse_server_handle(struct fuse_server *s, const void *req, size_t req_len,
			  void *reply, size_t reply_cap);

/*
 * Serves FUSE_SETUPMAPPING/REMOVEMAPPING into window `d` (not owned; NULL:
 * no window, those requests get ENOSYS) and offers FUSE_MAP_ALIGNMENT in
 * FUSE_INIT. Set before the session starts.
 */
struct dax_map;
void fuse_server_set_dax(struct fuse_server *s, struct dax_map *d);

/* The server keeps at most 65536 open handles (each holds a host fd);
 * this lowers that cap, e.g. to stay within a descriptor budget. Beyond
 * it, OPEN, OPENDIR and CREATE get ENFILE. */
void fuse_server_limit_handles(struct fuse_server *s, uint32_t max);

/* Closes every fd the server holds. NULL is allowed. */
void fuse_server_free(struct fuse_server *s);

/* --cache: how long the guest may keep names and attributes (entry and
 * attribute timeouts): never 0, auto 1 s (the default, as virtiofsd's),
 * always a day. */
#define FUSE_SERVER_TIMEOUT_AUTO 1
#define FUSE_SERVER_TIMEOUT_ALWAYS 86400
void fuse_server_set_timeout(struct fuse_server *s, uint64_t seconds);

/* --stats: requests by opcode, with bytes and the host's time for each. */
struct fuse_server_op_stats {
	uint64_t count, in_bytes, out_bytes;
	struct latency time;
};
/* Starts counting (0, or -ENOMEM). */
int fuse_server_count(struct fuse_server *s);
/* The counts of one opcode; NULL when not counting or out of range. */
const struct fuse_server_op_stats *fuse_server_op(const struct fuse_server *s, uint32_t opcode);

struct fuse_server_stats {
	size_t live_nodes;      /* including the root */
	size_t open_handles;    /* OPEN/OPENDIR not yet released */
	uint64_t bad_requests;  /* malformed: bad lengths, headers, names */
};
void fuse_server_get_stats(const struct fuse_server *s, struct fuse_server_stats *out);

#endif
