/*
 * FUSE server for one host directory, read-only or read-write (see
 * fuse_server.h). This half holds the node and handle tables, lookups, the
 * requests that only read, and dispatch; fuse_server_write.c holds the
 * requests that change the tree or a file, and FLUSH, FSYNC and LSEEK.
 *
 * Confinement rests on these rules:
 *  - every name is one component (1..FUSE_NAME_MAX bytes, no '/', no NUL,
 *    not "." or "..") resolved with openat2(parent_fd, RESOLVE_BENEATH |
 *    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, O_PATH | O_NOFOLLOW): a
 *    symlink yields an fd for the link itself, never for its target, even
 *    if it is swapped in during the lookup;
 *  - every operation that names something does so as (node fd, one such
 *    name): a new file is created with openat2(O_CREAT | O_NOFOLLOW) and
 *    the same resolve flags, so an existing symlink at the name is never
 *    followed; mkdirat, symlinkat, unlinkat, linkat and renameat2 act on
 *    the entry `name` of the directory the node fd is, and none of them
 *    follows a symlink in the last component. Both parents of a RENAME
 *    and the new parent of a LINK are node fds, i.e. directories inside
 *    the tree, so an entry can only move between (or be linked into)
 *    directories of the tree, never out of it, and a LINK's source is a
 *    node (an inode inside the tree) reached through /proc/self/fd;
 *  - only regular files and directories are ever opened for I/O, by the
 *    node's /proc/self/fd link (the inode itself, nothing re-resolved),
 *    after a type check (a symlink node can only be READLINKed: the guest
 *    resolves the text itself; the server never interprets a link target,
 *    SYMLINK stores the guest's text as it is);
 *  - attribute changes (chmod, chown, utimensat, truncate) go through the
 *    node fd or its /proc/self/fd link, never through a path;
 *  - node ids and file handles are (generation << 32 | index + 1), bounds-
 *    and generation-checked, so a bogus or stale one is an error, never an
 *    out-of-range index or someone else's inode; a handle also records
 *    whether its fd may read and may write, and data requests check that.
 * ".." is never looked up (EPERM): the guest walks ".." from its own path,
 * so the server has no operation that moves up the tree. A read-only
 * server answers EROFS to everything that would change the tree.
 *
 * Not covered by these rules: a host process that moves a directory we hold
 * an fd for out of the shared tree (the fd follows it), as with virtiofsd.
 * Landlock, in the VMM, is the second wall for that.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include <pier/fuse_msg.h>
#include "dax_map.h"
#include "fuse_server.h"
#include "fuse_server_priv.h"

#define NODE_MAX (1u << 20)
#define HANDLE_MAX (1u << 16)

/* The layout of getdents64 records (glibc does not export it). */
struct dirent64_raw {
	uint64_t d_ino;
	int64_t d_off;
	uint16_t d_reclen;
	uint8_t d_type;
	char d_name[];
};

static uint64_t make_id(uint32_t gen, uint32_t idx)
{
	return (uint64_t)gen << 32 | (idx + 1);
}

static uint32_t bucket_of(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)ino * 0xff51afd7ed558ccdull);
	return (uint32_t)(h >> 40) % FSRV_HASH_BUCKETS;
}

struct fsrv_node *fsrv_node_get(struct fuse_server *s, uint64_t id)
{
	uint32_t low = (uint32_t)id;
	if (low == 0 || low > s->n_nodes)
		return NULL;
	struct fsrv_node *n = &s->nodes[low - 1];
	if (n->fd < 0 || n->gen != (uint32_t)(id >> 32))
		return NULL;
	return n;
}

static int64_t node_find(struct fuse_server *s, dev_t dev, ino_t ino)
{
	for (uint32_t i = s->buckets[bucket_of(dev, ino)]; i; i = s->nodes[i - 1].next)
		if (s->nodes[i - 1].dev == dev && s->nodes[i - 1].ino == ino)
			return i - 1;
	return -1;
}

/* Takes ownership of fd on success. Returns the index or -errno. */
static int64_t node_add(struct fuse_server *s, int fd, dev_t dev, ino_t ino)
{
	uint32_t idx;
	if (s->free_nodes) {
		idx = s->free_nodes - 1;
		s->free_nodes = s->nodes[idx].next;
	} else {
		if (s->n_nodes == s->cap_nodes) {
			if (s->cap_nodes >= NODE_MAX)
				return -ENFILE;
			uint32_t cap = s->cap_nodes ? s->cap_nodes * 2 : 64;
			struct fsrv_node *nn = realloc(s->nodes, cap * sizeof(*nn));
			if (!nn)
				return -ENOMEM;
			s->nodes = nn;
			s->cap_nodes = cap;
		}
		idx = s->n_nodes++;
		s->nodes[idx].gen = 0;
	}
	struct fsrv_node *n = &s->nodes[idx];
	n->fd = fd;
	n->dev = dev;
	n->ino = ino;
	n->nlookup = 0;
	uint32_t b = bucket_of(dev, ino);
	n->next = s->buckets[b];
	s->buckets[b] = idx + 1;
	s->live_nodes++;
	return idx;
}

static void node_free(struct fuse_server *s, uint32_t idx)
{
	struct fsrv_node *n = &s->nodes[idx];
	uint32_t *link = &s->buckets[bucket_of(n->dev, n->ino)];
	while (*link != idx + 1)
		link = &s->nodes[*link - 1].next;
	*link = n->next;
	close(n->fd);
	n->fd = -1;
	n->gen++;
	n->next = s->free_nodes;
	s->free_nodes = idx + 1;
	s->live_nodes--;
}

void fsrv_forget(struct fuse_server *s, uint64_t id, uint64_t count)
{
	struct fsrv_node *n = fsrv_node_get(s, id);
	if (!n)
		return;
	n->nlookup = count < n->nlookup ? n->nlookup - count : 0;
	/* The root (index 0) lives as long as the server. */
	if (n->nlookup == 0 && n != &s->nodes[0])
		node_free(s, (uint32_t)(n - s->nodes));
}

struct fsrv_handle *fsrv_handle_get(struct fuse_server *s, uint64_t fh, bool dir)
{
	uint32_t low = (uint32_t)fh;
	if (low == 0 || low > s->n_handles)
		return NULL;
	struct fsrv_handle *h = &s->handles[low - 1];
	if (h->fd < 0 || h->closing || h->gen != (uint32_t)(fh >> 32) || h->dir != dir)
		return NULL;
	return h;
}

int fsrv_handle_add(struct fuse_server *s, int fd, uint64_t nodeid, bool dir, bool can_read,
		    bool can_write, uint64_t *fh)
{
	uint32_t idx;
	if (s->free_handles) {
		idx = s->free_handles - 1;
		s->free_handles = s->handles[idx].next;
	} else {
		if (s->n_handles >= s->handle_max)
			return -ENFILE;
		if (s->n_handles == s->cap_handles) {
			uint32_t cap = s->cap_handles ? s->cap_handles * 2 : 16;
			if (cap > s->handle_max)
				cap = s->handle_max;
			struct fsrv_handle *nh = realloc(s->handles, cap * sizeof(*nh));
			if (!nh)
				return -ENOMEM;
			s->handles = nh;
			s->cap_handles = cap;
		}
		idx = s->n_handles++;
		s->handles[idx].gen = 0;
	}
	struct fsrv_handle *h = &s->handles[idx];
	h->fd = fd;
	h->dir = dir;
	h->can_read = can_read;
	h->can_write = can_write;
	h->nodeid = nodeid;
	h->next = 0;
	h->pins = 0;
	h->closing = false;
	s->live_handles++;
	*fh = make_id(h->gen, idx);
	return 0;
}

static void handle_free(struct fuse_server *s, struct fsrv_handle *h)
{
	if (h->pins) {
		/* A read or write is using the fd: the last one closes it. Its
		 * id is stale from now on. */
		h->closing = true;
		h->gen++;
		return;
	}
	close(h->fd);
	h->fd = -1;
	if (!h->closing)
		h->gen++;
	h->closing = false;
	h->next = s->free_handles;
	s->free_handles = (uint32_t)(h - s->handles) + 1;
	s->live_handles--;
}

void (*fsrv_io_hook)(void);

uint32_t fsrv_io_begin(struct fuse_server *s, struct fsrv_handle *h, int *fd)
{
	h->pins++;
	*fd = h->fd;
	uint32_t idx = (uint32_t)(h - s->handles);
	pthread_mutex_unlock(&s->lock);
	if (fsrv_io_hook)
		fsrv_io_hook();
	return idx;
}

void fsrv_io_end(struct fuse_server *s, uint32_t idx)
{
	pthread_mutex_lock(&s->lock);
	struct fsrv_handle *h = &s->handles[idx];
	if (--h->pins == 0 && h->closing)
		handle_free(s, h);
}

/* Back to the state after fuse_server_new (DESTROY). */
static void reset(struct fuse_server *s)
{
	for (uint32_t i = 0; i < s->n_handles; i++)
		if (s->handles[i].fd >= 0 && !s->handles[i].closing)
			handle_free(s, &s->handles[i]);
	for (uint32_t i = 1; i < s->n_nodes; i++)
		if (s->nodes[i].fd >= 0)
			node_free(s, i);
	s->nodes[0].nlookup = 1;
	s->initialized = false;
	s->dax_client = false;
	if (s->dax)
		dax_map_clear(s->dax);
}

int fsrv_stat(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

/* Linux's DAX writes a file back only when its block size is the page
 * size (fs/dax.c: dax_writeback_mapping_range answers EIO otherwise), and
 * Linux takes i_blkbits from this blksize: a host tmpfs with huge pages
 * reports 2 MiB, and every close of such a file failed with EIO once Linux
 * had mapped it (ld.so could load no library from it). A client of the
 * window maps in pages anyway. */
uint32_t fsrv_blksize(const struct fuse_server *s, blksize_t host)
{
	if (s->dax_client && host > 4096)
		return 4096;
	return (uint32_t)host;
}

void fsrv_fill_attr(const struct fuse_server *s, struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = fsrv_blksize(s, st->st_blksize);
}

void fsrv_proc_path(char *buf, int fd)
{
	snprintf(buf, FSRV_PROC_PATH_MAX, "/proc/self/fd/%d", fd);
}

void fsrv_truncated(struct fuse_server *s)
{
	if (s->dax)
		dax_map_repair(s->dax);
}

/* Counts one lookup on the node for O_PATH fd `fd` (taken) of inode `st`. */
static int enter(struct fuse_server *s, int fd, const struct stat *st, struct fuse_entry_out *e)
{
	int64_t idx = node_find(s, st->st_dev, st->st_ino);
	if (idx >= 0) {
		close(fd); /* same inode: keep the fd we already hold */
	} else {
		idx = node_add(s, fd, st->st_dev, st->st_ino);
		if (idx < 0) {
			close(fd);
			return (int)idx;
		}
	}
	struct fsrv_node *n = &s->nodes[idx];
	n->nlookup++;
	memset(e, 0, sizeof(*e));
	e->nodeid = make_id(n->gen, (uint32_t)idx);
	e->generation = n->gen;
	e->entry_valid = s->timeout_s;
	e->attr_valid = s->timeout_s;
	fsrv_fill_attr(s, &e->attr, st);
	return 0;
}

int fsrv_lookup(struct fuse_server *s, int parent_fd, const char *name, struct fuse_entry_out *e)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, parent_fd, name, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	struct stat st;
	int err = fsrv_stat(fd, &st);
	if (err) {
		close(fd);
		return err;
	}
	return enter(s, fd, &st, e);
}

int fsrv_enter_fd(struct fuse_server *s, int fd, struct fuse_entry_out *e)
{
	char path[FSRV_PROC_PATH_MAX];
	fsrv_proc_path(path, fd);
	/* No O_NOFOLLOW: that would give the /proc link itself. The link
	 * names fd's inode, a regular file or directory we opened. */
	int pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	struct stat st;
	int err = fsrv_stat(pfd, &st);
	if (err) {
		close(pfd);
		return err;
	}
	return enter(s, pfd, &st, e);
}

/*
 * The /proc/self/fd link names the inode, not a path, so no component is
 * re-resolved (the virtiofsd way); the type check first keeps symlinks,
 * FIFOs and devices from being opened.
 */
int fsrv_reopen(const struct fsrv_node *n, bool dir, int flags)
{
	struct stat st;
	int err = fsrv_stat(n->fd, &st);
	if (err)
		return err;
	if (dir && !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (!dir && S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!dir && S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!dir && !S_ISREG(st.st_mode))
		return -EACCES;
	char path[FSRV_PROC_PATH_MAX];
	fsrv_proc_path(path, n->fd);
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (dir ? O_DIRECTORY : 0));
	if (fd < 0)
		return -errno;
	struct stat st2;
	/* Defence in depth: the reopened fd must be the same inode. */
	if (fstat(fd, &st2) || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		close(fd);
		return -EIO;
	}
	return fd;
}

int fsrv_open_file(struct fuse_server *s, const struct fsrv_node *n, uint32_t gflags,
		   bool *can_read, bool *can_write)
{
	int acc = (int)gflags & O_ACCMODE;
	if (acc == O_ACCMODE)
		return -EINVAL;
	/* O_CREAT/O_EXCL are CREATE's business; O_DIRECT would demand buffer
	 * alignment the guest's requests do not have; O_NOATIME fails unless
	 * we own the file; O_NONBLOCK and O_NOCTTY we set ourselves. */
	int keep = (int)gflags & FSRV_OPEN_KEEP;
	int fd = -EACCES;
	if (acc == O_WRONLY) {
		fd = fsrv_reopen(n, false, O_RDWR | keep);
		*can_read = *can_write = true;
	}
	if (fd == -EACCES) { /* not tried, or the host does not let us read */
		fd = fsrv_reopen(n, false, acc | keep);
		*can_read = acc != O_WRONLY;
		*can_write = acc != O_RDONLY;
	}
	if (fd >= 0 && (keep & O_TRUNC))
		fsrv_truncated(s);
	return fd;
}

static int check_name(const uint8_t *p, size_t plen, const char **name)
{
	if (plen < 2 || plen > FUSE_NAME_MAX + 1 || p[plen - 1] != 0)
		return -EINVAL;
	size_t len = strnlen((const char *)p, plen);
	if (len != plen - 1)
		return -EINVAL; /* NUL inside the name */
	if (memchr(p, '/', len))
		return -EINVAL;
	if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
		return -EPERM;
	*name = (const char *)p;
	return 0;
}

int fsrv_name(struct fuse_server *s, const uint8_t *p, size_t plen, const char **name)
{
	int err = check_name(p, plen, name);
	if (err == -EINVAL)
		s->bad_requests++;
	return err;
}

int fsrv_attr_reply(struct fuse_server *s, int fd, uint8_t *out, size_t room)
{
	if (room < sizeof(struct fuse_attr_out))
		return -EOVERFLOW;
	struct stat st;
	int err = fsrv_stat(fd, &st);
	if (err)
		return err;
	struct fuse_attr_out o;
	memset(&o, 0, sizeof(o));
	o.attr_valid = s->timeout_s;
	fsrv_fill_attr(s, &o.attr, &st);
	memcpy(out, &o, sizeof(o));
	return sizeof(o);
}

/* Each op returns its payload length (written at `out`, at most `room`) or -errno. */

static int op_init(struct fuse_server *s, const uint8_t *p, size_t plen, uint8_t *out,
		   size_t room)
{
	struct fuse_init_in in;
	/* Kernels before 7.36 send only the first four fields. */
	if (plen < offsetof(struct fuse_init_in, flags2))
		return -EINVAL;
	memset(&in, 0, sizeof(in));
	memcpy(&in, p, plen < sizeof(in) ? plen : sizeof(in));
	if (s->initialized)
		return -EPROTO;
	if (room < sizeof(struct fuse_init_out))
		return -EOVERFLOW;
	struct fuse_init_out o;
	memset(&o, 0, sizeof(o));
	o.major = FUSE_KERNEL_VERSION;
	o.minor = FUSE_KERNEL_MINOR_VERSION;
	if (in.major < FUSE_KERNEL_VERSION)
		return -EPROTO;
	if (in.major > FUSE_KERNEL_VERSION) {
		/* The protocol's answer: our version only; the client retries. */
		memcpy(out, &o, sizeof(o));
		return sizeof(o);
	}
	if (in.minor < FUSE_MIN_MINOR)
		return -EPROTO;
	s->minor = in.minor < FUSE_KERNEL_MINOR_VERSION ? in.minor : FUSE_KERNEL_MINOR_VERSION;
	o.minor = s->minor;
	uint32_t ours = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES |
			FUSE_PARALLEL_DIROPS | FUSE_CACHE_SYMLINKS | FUSE_INIT_EXT;
	/* Writable: O_TRUNC comes with OPEN (one request, done by the host's
	 * open), and writes up to max_write. Not offered: the writeback cache
	 * (the guest would own file sizes and times), and the KILLPRIV flags
	 * (the host kernel clears setuid bits on write and chown itself). */
	if (!s->readonly)
		ours |= FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES;
	o.flags = in.flags & ours;
	o.flags2 = 0; /* nothing from flags2 */
	o.max_readahead = in.max_readahead < FUSE_SERVER_MAX_READ ? in.max_readahead
								   : FUSE_SERVER_MAX_READ;
	o.max_write = FUSE_SERVER_MAX_READ;
	o.max_background = 16;
	o.congestion_threshold = 12;
	o.time_gran = 1;
	if (o.flags & FUSE_MAX_PAGES)
		o.max_pages = FUSE_SERVER_MAX_READ / 4096;
	if (s->dax && (in.flags & FUSE_MAP_ALIGNMENT)) {
		o.flags |= FUSE_MAP_ALIGNMENT;
		s->dax_client = true;
		o.map_alignment = (uint16_t)__builtin_ctzll(s->dax->page);
	}
	s->initialized = true;
	memcpy(out, &o, sizeof(o));
	return sizeof(o);
}

static int op_lookup(struct fuse_server *s, struct fsrv_node *n, const uint8_t *p, size_t plen,
		     uint8_t *out, size_t room)
{
	const char *name;
	int err = fsrv_name(s, p, plen, &name);
	if (err)
		return err;
	if (room < sizeof(struct fuse_entry_out))
		return -EOVERFLOW; /* checked before counting a lookup */
	struct fuse_entry_out e;
	err = fsrv_lookup(s, n->fd, name, &e);
	if (err)
		return err;
	memcpy(out, &e, sizeof(e));
	return sizeof(e);
}

static int op_open(struct fuse_server *s, struct fsrv_node *n, uint64_t nodeid, const uint8_t *p,
		   bool dir, uint8_t *out, size_t room)
{
	struct fuse_open_in in;
	memcpy(&in, p, sizeof(in));
	bool writes = (in.flags & O_ACCMODE) != O_RDONLY || (in.flags & O_TRUNC);
	if (writes && s->readonly)
		return -EROFS;
	if (writes && dir)
		return -EISDIR;
	if (room < sizeof(struct fuse_open_out))
		return -EOVERFLOW;
	bool can_read = true, can_write = false;
	int fd = dir ? fsrv_reopen(n, true, O_RDONLY)
		     : fsrv_open_file(s, n, in.flags, &can_read, &can_write);
	if (fd < 0)
		return fd;
	struct fuse_open_out o;
	memset(&o, 0, sizeof(o));
	int err = fsrv_handle_add(s, fd, nodeid, dir, can_read, can_write, &o.fh);
	if (err) {
		close(fd);
		return err;
	}
	memcpy(out, &o, sizeof(o));
	return sizeof(o);
}

static int op_release(struct fuse_server *s, const uint8_t *p, bool dir)
{
	struct fuse_release_in in;
	memcpy(&in, p, sizeof(in));
	struct fsrv_handle *h = fsrv_handle_get(s, in.fh, dir);
	if (!h)
		return -EBADF;
	handle_free(s, h);
	return 0;
}

/*
 * Clamps a READ/READDIR size; rejects offsets pread/lseek cannot take. A
 * directory offset is a cookie (ext4 ends with INT64_MAX), not a range, so
 * offset + size may pass INT64_MAX there.
 */
static int read_size(const struct fuse_read_in *in, bool range, size_t room, size_t *size)
{
	if (in->offset > INT64_MAX || (range && in->size > INT64_MAX - in->offset))
		return -EINVAL;
	size_t n = in->size;
	if (n > FUSE_SERVER_MAX_READ)
		n = FUSE_SERVER_MAX_READ;
	if (n > room)
		n = room;
	*size = n;
	return 0;
}

static int op_read(struct fuse_server *s, const uint8_t *p, uint8_t *out, size_t room)
{
	struct fuse_read_in in;
	memcpy(&in, p, sizeof(in));
	struct fsrv_handle *h = fsrv_handle_get(s, in.fh, false);
	if (!h || !h->can_read)
		return -EBADF;
	size_t size;
	int err = read_size(&in, true, room, &size);
	if (err)
		return err;
	int fd;
	uint32_t idx = fsrv_io_begin(s, h, &fd);
	size_t got = 0;
	err = 0;
	while (got < size) {
		ssize_t r = pread(fd, out + got, size - got, (off_t)(in.offset + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	fsrv_io_end(s, idx);
	return got || !err ? (int)got : err;
}

static bool is_dot_or_dotdot(const char *name, size_t len)
{
	return (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.');
}

/*
 * READDIR(PLUS): seeks the directory to the guest's offset (a d_off we gave
 * earlier, 0 to start) and emits whole records while they fit. Stopping
 * mid-buffer is fine: the next call seeks to the last d_off sent.
 */
static int op_readdir(struct fuse_server *s, const uint8_t *p, bool plus, uint8_t *out,
		      size_t room)
{
	struct fuse_read_in in;
	memcpy(&in, p, sizeof(in));
	struct fsrv_handle *h = fsrv_handle_get(s, in.fh, true);
	if (!h)
		return -EBADF;
	size_t size;
	int err = read_size(&in, false, room, &size);
	if (err)
		return err;
	if (lseek(h->fd, (off_t)in.offset, SEEK_SET) < 0)
		return -errno;
	size_t used = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, h->fd, s->dirbuf, sizeof(s->dirbuf));
		if (n < 0)
			return used ? (int)used : -errno;
		if (n == 0)
			return (int)used;
		for (long pos = 0; pos < n;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(s->dirbuf + pos);
			size_t name_at = offsetof(struct dirent64_raw, d_name);
			if (d->d_reclen <= name_at || d->d_reclen > n - pos)
				return used ? (int)used : -EIO;
			pos += d->d_reclen;
			size_t namelen = strnlen(d->d_name, d->d_reclen - name_at);
			if (namelen == 0 || namelen > FUSE_NAME_MAX)
				continue; /* the guest could not take it */
			size_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
			size_t rec = FUSE_DIRENT_ALIGN(head + namelen);
			if (rec > size - used)
				return (int)used;
			uint8_t *r = out + used;
			memset(r, 0, rec);
			if (plus) {
				/* nodeid 0 means "no entry"; the kernel also
				 * ignores it for "." and "..", which we do not
				 * look up (nor count). */
				struct fuse_entry_out e;
				memset(&e, 0, sizeof(e));
				if (!is_dot_or_dotdot(d->d_name, namelen) &&
				    fsrv_lookup(s, h->fd, d->d_name, &e) != 0)
					memset(&e, 0, sizeof(e));
				memcpy(r, &e, sizeof(e));
			}
			struct fuse_dirent de = {
				.ino = d->d_ino,
				.off = (uint64_t)d->d_off,
				.namelen = (uint32_t)namelen,
				.type = d->d_type,
			};
			memcpy(r + head - FUSE_NAME_OFFSET, &de, FUSE_NAME_OFFSET);
			memcpy(r + head, d->d_name, namelen);
			used += rec;
		}
	}
}

static int op_readlink(struct fsrv_node *n, uint8_t *out, size_t room)
{
	struct stat st;
	int err = fsrv_stat(n->fd, &st);
	if (err)
		return err;
	if (!S_ISLNK(st.st_mode))
		return -EINVAL;
	char buf[PATH_MAX];
	ssize_t len = readlinkat(n->fd, "", buf, sizeof(buf));
	if (len < 0)
		return -errno;
	if ((size_t)len == sizeof(buf))
		return -ENAMETOOLONG; /* may be truncated */
	if ((size_t)len > room)
		return -EOVERFLOW;
	memcpy(out, buf, (size_t)len);
	return (int)len;
}

static int op_statfs(struct fsrv_node *n, uint8_t *out, size_t room)
{
	if (room < sizeof(struct fuse_statfs_out))
		return -EOVERFLOW;
	struct statfs f;
	if (fstatfs(n->fd, &f))
		return -errno;
	struct fuse_statfs_out o;
	memset(&o, 0, sizeof(o));
	o.st.blocks = f.f_blocks;
	o.st.bfree = f.f_bfree;
	o.st.bavail = f.f_bavail;
	o.st.files = f.f_files;
	o.st.ffree = f.f_ffree;
	o.st.bsize = (uint32_t)f.f_bsize;
	o.st.namelen = f.f_namelen < FUSE_NAME_MAX ? (uint32_t)f.f_namelen : FUSE_NAME_MAX;
	o.st.frsize = (uint32_t)f.f_frsize;
	memcpy(out, &o, sizeof(o));
	return sizeof(o);
}

static int op_access(struct fuse_server *s, struct fsrv_node *n, const uint8_t *p)
{
	struct fuse_access_in in;
	memcpy(&in, p, sizeof(in));
	if (in.mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	if ((in.mask & W_OK) && s->readonly)
		return -EROFS;
	return faccessat(n->fd, "", (int)in.mask, AT_EMPTY_PATH) ? -errno : 0;
}

static void op_batch_forget(struct fuse_server *s, const uint8_t *p, size_t plen)
{
	struct fuse_batch_forget_in in;
	if (plen < sizeof(in)) {
		s->bad_requests++;
		return;
	}
	memcpy(&in, p, sizeof(in));
	size_t avail = (plen - sizeof(in)) / sizeof(struct fuse_forget_one);
	/* A count that overstates the payload is malformed: apply none of it. */
	if (in.count > avail) {
		s->bad_requests++;
		return;
	}
	for (uint32_t i = 0; i < in.count; i++) {
		struct fuse_forget_one f;
		memcpy(&f, p + sizeof(in) + i * sizeof(f), sizeof(f));
		fsrv_forget(s, f.nodeid, f.nlookup);
	}
}

/*
 * DAX: map a piece of a file into the window. Untrusted: the handle must
 * be a file of this node, offsets and length page-aligned, the range
 * inside the window. READ needs a handle that reads; WRITE one that reads
 * and writes (a shared writable mapping needs an O_RDWR fd), and a
 * writable server. Linux names no handle (fh -1: its mappings belong to
 * the inode, whichever open made them), as virtiofsd allows: then the
 * node's file is opened for the mapping alone, the way OPEN would.
 */
#define SETUPMAPPING_NO_HANDLE UINT64_MAX
static int op_setupmapping(struct fuse_server *s, struct fsrv_node *n, uint64_t nodeid,
			   const uint8_t *p)
{
	struct fuse_setupmapping_in in;
	memcpy(&in, p, sizeof(in));
	if (!s->dax)
		return -ENOSYS;
	bool write = in.flags & FUSE_SETUPMAPPING_FLAG_WRITE;
	if (write && s->readonly)
		return -EROFS; /* first, as for every write op */
	if (in.flags & ~(FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE)) {
		s->bad_requests++;
		return -EINVAL;
	}
	int fd, own = -1; /* own: a descriptor opened here, closed after */
	if (in.fh == SETUPMAPPING_NO_HANDLE) {
		bool can_read = true, can_write = false;
		fd = own = fsrv_open_file(s, n, write ? O_RDWR : O_RDONLY, &can_read, &can_write);
		if (fd < 0)
			return fd;
	} else {
		struct fsrv_handle *h = fsrv_handle_get(s, in.fh, false);
		if (!h || h->nodeid != nodeid)
			return -EBADF;
		if (!h->can_read || (write && !h->can_write))
			return -EACCES;
		fd = h->fd;
	}
	int err = dax_map_setup(s->dax, fd, in.foffset, in.moffset, in.len, write);
	if (own >= 0)
		close(own); /* the mapping keeps its own */
	if (err == -EINVAL)
		s->bad_requests++;
	return err;
}

/* DAX: unmap ranges of the window, all checked before any is touched. */
static int op_removemapping(struct fuse_server *s, const uint8_t *p, size_t plen)
{
	struct fuse_removemapping_in in;
	memcpy(&in, p, sizeof(in));
	if (!s->dax)
		return -ENOSYS;
	size_t one = sizeof(struct fuse_removemapping_one);
	if (in.count == 0 || in.count > (plen - sizeof(in)) / one) {
		s->bad_requests++;
		return -EINVAL;
	}
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < in.count; i++) {
			struct fuse_removemapping_one r;
			memcpy(&r, p + sizeof(in) + i * one, one);
			if (pass == 0 && (r.len == 0 || r.moffset > s->dax->len ||
					  r.len > s->dax->len - r.moffset ||
					  ((r.moffset | r.len) & (s->dax->page - 1)))) {
				s->bad_requests++;
				return -EINVAL;
			}
			if (pass == 1) {
				int err = dax_map_remove(s->dax, r.moffset, r.len);
				if (err)
					return err;
			}
		}
	return 0;
}

/*
 * The fixed part of each op's request, or -1 for opcodes we do not serve
 * (SETXATTR, REMOVEXATTR and TMPFILE among them: ENOSYS, which the guest
 * kernel remembers; a read-only server says EROFS first). Names that
 * follow are checked by each op.
 */
static long in_size(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_INIT: return 0; /* variable, checked in op_init */
	case FUSE_LOOKUP: return 0; /* a name, checked by check_name */
	case FUSE_GETATTR: return sizeof(struct fuse_getattr_in);
	case FUSE_OPEN: case FUSE_OPENDIR: return sizeof(struct fuse_open_in);
	case FUSE_READ: case FUSE_READDIR: case FUSE_READDIRPLUS:
		return sizeof(struct fuse_read_in);
	case FUSE_RELEASE: case FUSE_RELEASEDIR: return sizeof(struct fuse_release_in);
	case FUSE_READLINK: case FUSE_STATFS: case FUSE_DESTROY: return 0;
	case FUSE_ACCESS: return sizeof(struct fuse_access_in);
	case FUSE_SETUPMAPPING: return sizeof(struct fuse_setupmapping_in);
	case FUSE_REMOVEMAPPING: return sizeof(struct fuse_removemapping_in);
	/* fuse_server_write.c */
	case FUSE_FLUSH: return sizeof(struct fuse_flush_in);
	case FUSE_FSYNC: case FUSE_FSYNCDIR: return sizeof(struct fuse_fsync_in);
	case FUSE_LSEEK: return sizeof(struct fuse_lseek_in);
	case FUSE_CREATE: return sizeof(struct fuse_create_in);
	case FUSE_MKDIR: return sizeof(struct fuse_mkdir_in);
	case FUSE_MKNOD: return sizeof(struct fuse_mknod_in);
	case FUSE_SYMLINK: case FUSE_UNLINK: case FUSE_RMDIR: return 0;
	case FUSE_LINK: return sizeof(struct fuse_link_in);
	case FUSE_RENAME: return sizeof(struct fuse_rename_in);
	case FUSE_RENAME2: return sizeof(struct fuse_rename2_in);
	case FUSE_SETATTR: return sizeof(struct fuse_setattr_in);
	case FUSE_WRITE: return sizeof(struct fuse_write_in);
	case FUSE_FALLOCATE: return sizeof(struct fuse_fallocate_in);
	case FUSE_COPY_FILE_RANGE: return sizeof(struct fuse_copy_file_range_in);
	default: return -1;
	}
}

/* Ops that would modify the tree: on a read-only server EROFS rather than
 * ENOSYS, which the kernel would remember as "never supported". */
static bool is_write_op(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_SETATTR: case FUSE_SYMLINK: case FUSE_MKNOD: case FUSE_MKDIR:
	case FUSE_UNLINK: case FUSE_RMDIR: case FUSE_RENAME: case FUSE_LINK:
	case FUSE_WRITE: case FUSE_SETXATTR: case FUSE_REMOVEXATTR: case FUSE_CREATE:
	case FUSE_RENAME2: case FUSE_FALLOCATE: case FUSE_COPY_FILE_RANGE:
	case FUSE_TMPFILE:
		return true;
	default:
		return false;
	}
}

static int dispatch(struct fuse_server *s, const struct fuse_in_header *h, const uint8_t *p,
		    size_t plen, uint8_t *out, size_t room)
{
	if (h->opcode == FUSE_INIT)
		return op_init(s, p, plen, out, room);
	if (!s->initialized)
		return -EIO;
	bool write = is_write_op(h->opcode);
	if (write && s->readonly)
		return -EROFS;
	long need = in_size(h->opcode);
	if (need < 0)
		return -ENOSYS;
	if (plen < (size_t)need) {
		s->bad_requests++;
		return -EINVAL;
	}
	if (write || h->opcode == FUSE_FLUSH || h->opcode == FUSE_FSYNC ||
	    h->opcode == FUSE_FSYNCDIR || h->opcode == FUSE_LSEEK)
		return fsrv_write_dispatch(s, h, p, plen, out, room);
	/* Requests that name a handle, not a node. */
	switch (h->opcode) {
	case FUSE_RELEASE: case FUSE_RELEASEDIR:
		return op_release(s, p, h->opcode == FUSE_RELEASEDIR);
	case FUSE_READ: return op_read(s, p, out, room);
	case FUSE_READDIR: case FUSE_READDIRPLUS:
		return op_readdir(s, p, h->opcode == FUSE_READDIRPLUS, out, room);
	case FUSE_DESTROY:
		reset(s);
		return 0;
	case FUSE_REMOVEMAPPING: return op_removemapping(s, p, plen);
	}
	struct fsrv_node *n = fsrv_node_get(s, h->nodeid);
	if (!n)
		return -ENOENT;
	switch (h->opcode) {
	case FUSE_LOOKUP: return op_lookup(s, n, p, plen, out, room);
	case FUSE_GETATTR: return fsrv_attr_reply(s, n->fd, out, room);
	case FUSE_OPEN: return op_open(s, n, h->nodeid, p, false, out, room);
	case FUSE_OPENDIR: return op_open(s, n, h->nodeid, p, true, out, room);
	case FUSE_SETUPMAPPING: return op_setupmapping(s, n, h->nodeid, p);
	case FUSE_READLINK: return op_readlink(n, out, room);
	case FUSE_STATFS: return op_statfs(n, out, room);
	case FUSE_ACCESS: return op_access(s, n, p);
	}
	return -ENOSYS;
}

static size_t serve(struct fuse_server *s, const void *req, size_t req_len, void *reply,
		    size_t reply_cap)
{
	struct fuse_in_header h;
	if (!req || req_len < sizeof(h)) {
		s->bad_requests++;
		return 0;
	}
	memcpy(&h, req, sizeof(h));
	const uint8_t *p = (const uint8_t *)req + sizeof(h);
	size_t plen = req_len - sizeof(h);
	if (h.opcode == FUSE_FORGET || h.opcode == FUSE_BATCH_FORGET) {
		/* No reply, even to a malformed one: the guest expects none. */
		if (h.len != req_len || !s->initialized) {
			s->bad_requests++;
		} else if (h.opcode == FUSE_BATCH_FORGET) {
			op_batch_forget(s, p, plen);
		} else if (plen < sizeof(struct fuse_forget_in)) {
			s->bad_requests++;
		} else {
			struct fuse_forget_in in;
			memcpy(&in, p, sizeof(in));
			fsrv_forget(s, h.nodeid, in.nlookup);
		}
		return 0;
	}
	struct fuse_out_header o = { .len = sizeof(o), .error = 0, .unique = h.unique };
	if (!reply || reply_cap < sizeof(o)) {
		s->bad_requests++;
		return 0;
	}
	int r;
	if (h.len != req_len) {
		s->bad_requests++;
		r = -EINVAL;
	} else {
		r = dispatch(s, &h, p, plen, (uint8_t *)reply + sizeof(o), reply_cap - sizeof(o));
	}
	if (r < 0)
		o.error = r;
	else
		o.len += (uint32_t)r;
	memcpy(reply, &o, sizeof(o));
	return o.len;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* serve, counted by opcode when --stats asked; under the lock. */
static size_t counted_serve(struct fuse_server *s, const void *req, size_t req_len,
			    void *reply, size_t reply_cap)
{
	if (!s->ops)
		return serve(s, req, req_len, reply, reply_cap);
	/* --stats: by opcode (an unknown one counts as 0), with the time the
	 * host took, the system calls it made included. */
	struct fuse_in_header h = { 0 };
	if (req && req_len >= sizeof(h))
		memcpy(&h, req, sizeof(h));
	uint64_t t0 = now_ns();
	size_t n = serve(s, req, req_len, reply, reply_cap);
	struct fuse_server_op_stats *o = &s->ops[h.opcode < FUSE_MSG_OPCODES ? h.opcode : 0];
	o->count++;
	o->in_bytes += req_len;
	o->out_bytes += n;
	latency_add(&o->time, now_ns() - t0);
	return n;
}

size_t fuse_server_handle(struct fuse_server *s, const void *req, size_t req_len,
			  void *reply, size_t reply_cap)
{
	pthread_mutex_lock(&s->lock);
	size_t n = counted_serve(s, req, req_len, reply, reply_cap);
	pthread_mutex_unlock(&s->lock);
	return n;
}

int fuse_server_count(struct fuse_server *s)
{
	if (!s->ops)
		s->ops = calloc(FUSE_MSG_OPCODES, sizeof(*s->ops));
	return s->ops ? 0 : -ENOMEM;
}

const struct fuse_server_op_stats *fuse_server_op(const struct fuse_server *s, uint32_t opcode)
{
	return s->ops && opcode < FUSE_MSG_OPCODES ? &s->ops[opcode] : NULL;
}

void fuse_server_set_timeout(struct fuse_server *s, uint64_t seconds)
{
	s->timeout_s = seconds;
}

struct fuse_server *fuse_server_new(const char *dir, bool readonly)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	struct fuse_server *s = calloc(1, sizeof(*s));
	if (!s || fstat(fd, &st)) {
		int e = s ? errno : ENOMEM;
		free(s);
		close(fd);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->readonly = readonly;
	s->handle_max = HANDLE_MAX;
	s->timeout_s = FUSE_SERVER_TIMEOUT_AUTO;
	/* The root is node 1: index 0, generation 0, never forgotten. */
	int64_t idx = node_add(s, fd, st.st_dev, st.st_ino);
	if (idx != 0) {
		free(s->nodes);
		free(s);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	s->nodes[0].nlookup = 1;
	return s;
}

void fuse_server_limit_handles(struct fuse_server *s, uint32_t max)
{
	if (max < s->handle_max)
		s->handle_max = max;
}

void fuse_server_free(struct fuse_server *s)
{
	if (!s)
		return;
	reset(s);
	if (s->n_nodes)
		node_free(s, 0);
	free(s->nodes);
	free(s->handles);
	free(s->ops);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void fuse_server_get_stats(const struct fuse_server *s, struct fuse_server_stats *out)
{
	out->live_nodes = s->live_nodes;
	out->open_handles = s->live_handles;
	out->bad_requests = s->bad_requests;
}

void fuse_server_set_dax(struct fuse_server *s, struct dax_map *d)
{
	s->dax = d;
}
