/*
 * Internals of the FUSE server, shared by its two halves: fuse_server.c
 * (node and handle tables, lookups, the requests a read-only server
 * answers, dispatch) and fuse_server_write.c (the requests that change the
 * tree or a file). Nothing else includes this; the fsrv_ prefix marks it.
 */
#ifndef PIER_FUSE_SERVER_PRIV_H
#define PIER_FUSE_SERVER_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <linux/fuse.h>
#include "fuse_server.h"

#define FSRV_HASH_BUCKETS 4096u
#define FSRV_DIRBUF_SIZE 32768

/* "/proc/self/fd/" and an int, NUL included. */
#define FSRV_PROC_PATH_MAX 32

struct fsrv_node {
	int fd;             /* O_PATH|O_NOFOLLOW; -1 while the slot is free */
	uint32_t gen;       /* bumped when freed, so stale ids miss */
	uint32_t next;      /* hash chain, or free list when free: index + 1, 0 ends */
	dev_t dev;
	ino_t ino;
	uint64_t nlookup;
};

struct fsrv_handle {
	int fd;             /* a real (not O_PATH) fd; -1 while the slot is free */
	uint32_t gen;
	uint32_t next;      /* free list */
	bool dir;
	bool can_read;      /* the host fd was opened for reading */
	bool can_write;     /* ... for writing */
	uint64_t nodeid;    /* the node it was opened from (SETUPMAPPING checks it) */
	uint32_t pins;      /* reads and writes in progress without the lock */
	bool closing;       /* released while pinned: the last unpin closes fd */
};

/*
 * Threads: every request is served under `lock` (one per server; pier's
 * device calls in from one thread per queue), except the file I/O of READ
 * and WRITE, which runs with the lock let go and its handle pinned
 * (fsrv_io_begin/end), so one queue's large read does not hold up
 * another's lookup.
 */
struct fuse_server {
	pthread_mutex_t lock;
	bool readonly;
	bool initialized;
	/* The client maps through the window (it asked FUSE_MAP_ALIGNMENT):
	 * attributes' blksize is at most a page (fsrv_fill_attr). */
	bool dax_client;
	uint32_t minor;
	struct fsrv_node *nodes;
	uint32_t n_nodes, cap_nodes, free_nodes, live_nodes;
	uint32_t buckets[FSRV_HASH_BUCKETS];
	struct fsrv_handle *handles;
	uint32_t n_handles, cap_handles, free_handles, live_handles;
	uint32_t handle_max;  /* open handles at most (HANDLE_MAX unless lowered) */
	uint64_t bad_requests;
	uint64_t timeout_s;   /* entry/attr cache time (--cache): the host tree may change */
	struct fuse_server_op_stats *ops; /* --stats: per opcode; NULL: not counted */
	struct dax_map *dax;  /* the DAX window, or NULL */
	char dirbuf[FSRV_DIRBUF_SIZE];
};

/* A live node or NULL (bogus or stale id). */
struct fsrv_node *fsrv_node_get(struct fuse_server *s, uint64_t id);
/* A live handle of the given kind or NULL. */
struct fsrv_handle *fsrv_handle_get(struct fuse_server *s, uint64_t fh, bool dir);
/*
 * Registers fd (taken on success) as a handle opened from node `nodeid`.
 * 0 with *fh set, or -errno (fd not taken).
 */
int fsrv_handle_add(struct fuse_server *s, int fd, uint64_t nodeid, bool dir, bool can_read,
		    bool can_write, uint64_t *fh);
/*
 * For a READ or WRITE's I/O: pins h, lets the lock go and gives h's fd,
 * which stays open until fsrv_io_end (a RELEASE meanwhile closes it then:
 * no other file can take its number under the I/O). Returns h's index; h
 * itself may move meanwhile (the table grows), so use only the fd.
 */
uint32_t fsrv_io_begin(struct fuse_server *s, struct fsrv_handle *h, int *fd);
/* Tests only (NULL otherwise): runs in fsrv_io_begin with the lock let go,
 * to hold the I/O back while other threads race it. */
extern void (*fsrv_io_hook)(void);
/* Takes the lock again and unpins handle `idx`. */
void fsrv_io_end(struct fuse_server *s, uint32_t idx);
/* Drops `count` lookups of node `id`; frees it at zero (never the root). */
void fsrv_forget(struct fuse_server *s, uint64_t id, uint64_t count);

/*
 * Looks `name` (checked by fsrv_name) up beneath parent_fd without following
 * anything, counts one lookup on its node and fills *e. 0 or -errno.
 */
int fsrv_lookup(struct fuse_server *s, int parent_fd, const char *name, struct fuse_entry_out *e);
/*
 * The same for an inode we already have a real fd for: its node (a new
 * O_PATH fd reached through /proc/self/fd, so the very same inode) gets
 * one lookup counted. 0 or -errno.
 */
int fsrv_enter_fd(struct fuse_server *s, int fd, struct fuse_entry_out *e);

/*
 * Opens a node for I/O through /proc/self/fd (no path is re-resolved)
 * after checking its type: a directory when `dir`, else only a regular
 * file. `flags` are open(2) flags without the type ones. fd or -errno.
 */
int fsrv_reopen(const struct fsrv_node *n, bool dir, int flags);
/*
 * Opens a regular file node for a guest's open flags (access mode,
 * O_TRUNC, O_APPEND, O_SYNC/O_DSYNC). A guest O_WRONLY becomes O_RDWR when
 * the host allows (DAX needs it to mmap). fd with *can_read and *can_write
 * set, or -errno.
 */
int fsrv_open_file(struct fuse_server *s, const struct fsrv_node *n, uint32_t gflags,
		   bool *can_read, bool *can_write);
/* The guest open flags carried to the host fd (see fsrv_open_file). */
#define FSRV_OPEN_KEEP (O_TRUNC | O_APPEND | O_SYNC | O_DSYNC)

/*
 * A request name: p[0..plen) is the name and one NUL, 1..FUSE_NAME_MAX
 * bytes, no '/', not "." or "..". 0 with *name set, or -EINVAL (counted
 * as a bad request) / -EPERM for "." and "..".
 */
int fsrv_name(struct fuse_server *s, const uint8_t *p, size_t plen, const char **name);

int fsrv_stat(int fd, struct stat *st);
void fsrv_fill_attr(const struct fuse_server *s, struct fuse_attr *a, const struct stat *st);
/* The blksize a client is told for a host file whose st_blksize is host. */
uint32_t fsrv_blksize(const struct fuse_server *s, blksize_t host);
/* Writes a fuse_attr_out for fd at out; its length or -errno. */
int fsrv_attr_reply(struct fuse_server *s, int fd, uint8_t *out, size_t room);
/* Writes "/proc/self/fd/<fd>" into buf (FSRV_PROC_PATH_MAX bytes). */
void fsrv_proc_path(char *buf, int fd);
/* A file may have shrunk: DAX pages past its new end become zeros. */
void fsrv_truncated(struct fuse_server *s);

/*
 * The requests of fuse_server_write.c: CREATE, MKDIR, MKNOD, SYMLINK, LINK,
 * UNLINK, RMDIR, RENAME, RENAME2, SETATTR, WRITE, FALLOCATE,
 * COPY_FILE_RANGE (a writable server only), and FLUSH, FSYNC, FSYNCDIR,
 * LSEEK (any server). Called with plen at least the opcode's fixed part.
 * Payload length or -errno, as each op.
 */
int fsrv_write_dispatch(struct fuse_server *s, const struct fuse_in_header *h, const uint8_t *p,
			size_t plen, uint8_t *out, size_t room);

#endif
