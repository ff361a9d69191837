/*
 * The FUSE server's requests that change the tree or a file (a writable
 * server only; fuse_server.c answers EROFS for them on a read-only one),
 * and FLUSH, FSYNC and LSEEK on open files. The confinement rules are in
 * fuse_server.c's header; here every name is one checked component beneath
 * a node fd, nothing is followed, and every length and id in a request is
 * checked before anything is touched.
 *
 * Modes of new files and directories are exactly mode & ~umask & 07777
 * from the request. The process umask is not changed for that: it is
 * shared by every thread of pier (other shares' servers, the rest of the
 * VMM). Instead the object is created with those bits (which the process
 * umask can only narrow) and then chmod'ed to them when they differ, so it
 * is never, even for a moment, more permissive than the guest asked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include "fuse_server.h"
#include "fuse_server_priv.h"

/*
 * Most bytes one COPY_FILE_RANGE copies: it fits the reply's 32-bit size
 * and bounds how long one request holds the device thread. A short copy
 * is an answer the guest's copy_file_range(2) callers loop on.
 */
#define COPY_MAX (64u << 20)

#define RESOLVE_NAME (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* The permission bits a CREATE/MKDIR asks for. */
static uint32_t wanted_mode(uint32_t mode, uint32_t umask)
{
	return mode & ~umask & 07777;
}

/* Looks `name` up beneath dir_fd (one lookup counted) and replies its entry. */
static int entry_reply(struct fuse_server *s, int dir_fd, const char *name, uint8_t *out)
{
	struct fuse_entry_out e;
	int err = fsrv_lookup(s, dir_fd, name, &e);
	if (err)
		return err;
	memcpy(out, &e, sizeof(e));
	return sizeof(e);
}

/*
 * Creates `name` beneath dir_fd, O_EXCL: an existing entry, a symlink
 * included, is EEXIST and never followed or opened. A guest O_WRONLY is
 * opened O_RDWR (a new file's creator may always read it) so DAX can map
 * it. fd or -errno.
 */
static int create_new(int dir_fd, const char *name, uint32_t gflags, uint32_t mode,
		      bool *can_read, bool *can_write)
{
	int acc = (int)gflags & O_ACCMODE;
	struct open_how how = {
		.flags = (uint64_t)(O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
				    O_NONBLOCK | (acc == O_RDONLY ? O_RDONLY : O_RDWR) |
				    ((int)gflags & FSRV_OPEN_KEEP & ~O_TRUNC)),
		.mode = mode,
		.resolve = RESOLVE_NAME,
	};
	int fd = (int)syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	struct stat st;
	/* Best effort: a file system without modes (vfat) refuses chmod,
	 * and the file then has the bits it gives every file. */
	if (fstat(fd, &st) == 0 && (st.st_mode & 07777) != mode)
		(void)fchmod(fd, mode);
	*can_read = true;
	*can_write = acc != O_RDONLY;
	return fd;
}

/*
 * CREATE of a name that exists, without O_EXCL: an OPEN of it, by node,
 * so a symlink there is ELOOP and a FIFO or device EACCES, never opened.
 * Counts one lookup (undone on failure). fd or -errno.
 */
static int open_existing(struct fuse_server *s, int dir_fd, const char *name, uint32_t gflags,
			 struct fuse_entry_out *e, bool *can_read, bool *can_write)
{
	int err = fsrv_lookup(s, dir_fd, name, e);
	if (err)
		return err;
	int fd = fsrv_open_file(s, fsrv_node_get(s, e->nodeid), gflags, can_read, can_write);
	if (fd < 0) {
		fsrv_forget(s, e->nodeid, 1);
		return fd;
	}
	struct stat st;
	if (fstat(fd, &st) == 0)
		fsrv_fill_attr(s, &e->attr, &st); /* after O_TRUNC */
	return fd;
}

/* CREATE: fuse_create_in, the name; replies fuse_entry_out + fuse_open_out. */
static int op_create(struct fuse_server *s, struct fsrv_node *dir, const uint8_t *p, size_t plen,
		     uint8_t *out, size_t room)
{
	struct fuse_create_in in;
	memcpy(&in, p, sizeof(in));
	const char *name;
	int err = fsrv_name(s, p + sizeof(in), plen - sizeof(in), &name);
	if (err)
		return err;
	if ((in.flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	struct fuse_entry_out e;
	struct fuse_open_out o;
	if (room < sizeof(e) + sizeof(o))
		return -EOVERFLOW; /* before anything is created */
	bool can_read = false, can_write = false, existing = false;
	int fd;
	/* Create, or open what is there; the name may come and go in
	 * between (the host changes the tree too): a few rounds. */
	for (int round = 0;; round++) {
		fd = create_new(dir->fd, name, in.flags, wanted_mode(in.mode, in.umask), &can_read,
				&can_write);
		if (fd != -EEXIST || (in.flags & O_EXCL))
			break;
		fd = open_existing(s, dir->fd, name, in.flags, &e, &can_read, &can_write);
		if (fd != -ENOENT || round == 2) {
			existing = true;
			break;
		}
	}
	if (fd < 0)
		return fd;
	if (!existing && (err = fsrv_enter_fd(s, fd, &e))) {
		close(fd);
		return err;
	}
	memset(&o, 0, sizeof(o));
	err = fsrv_handle_add(s, fd, e.nodeid, false, can_read, can_write, &o.fh);
	if (err) {
		close(fd);
		fsrv_forget(s, e.nodeid, 1);
		return err;
	}
	memcpy(out, &e, sizeof(e));
	memcpy(out + sizeof(e), &o, sizeof(o));
	return sizeof(e) + sizeof(o);
}

/* MKDIR: fuse_mkdir_in, the name. */
static int op_mkdir(struct fuse_server *s, struct fsrv_node *dir, const uint8_t *p, size_t plen,
		    uint8_t *out, size_t room)
{
	struct fuse_mkdir_in in;
	memcpy(&in, p, sizeof(in));
	const char *name;
	int err = fsrv_name(s, p + sizeof(in), plen - sizeof(in), &name);
	if (err)
		return err;
	struct fuse_entry_out e;
	if (room < sizeof(e))
		return -EOVERFLOW;
	uint32_t mode = wanted_mode(in.mode, in.umask);
	if (mkdirat(dir->fd, name, mode))
		return -errno;
	err = fsrv_lookup(s, dir->fd, name, &e);
	if (err)
		return err;
	if (S_ISDIR(e.attr.mode) && (e.attr.mode & 07777) != mode) {
		/* The process umask narrowed it (see the top): chmod by the
		 * node's /proc link (an O_PATH fd has no fchmod). Best effort,
		 * as for files. */
		struct fsrv_node *n = fsrv_node_get(s, e.nodeid);
		char path[FSRV_PROC_PATH_MAX];
		fsrv_proc_path(path, n->fd);
		struct stat st;
		if (chmod(path, mode) == 0 && fsrv_stat(n->fd, &st) == 0)
			fsrv_fill_attr(s, &e.attr, &st);
	}
	memcpy(out, &e, sizeof(e));
	return sizeof(e);
}

/* SYMLINK: the name, NUL, the link's text, NUL. The text is stored as it
 * is; the server never resolves it (the guest does, in its own tree). */
static int op_symlink(struct fuse_server *s, struct fsrv_node *dir, const uint8_t *p, size_t plen,
		      uint8_t *out, size_t room)
{
	const uint8_t *nul = memchr(p, 0, plen);
	if (!nul) {
		s->bad_requests++;
		return -EINVAL;
	}
	size_t nlen = (size_t)(nul - p) + 1;
	const char *name;
	int err = fsrv_name(s, p, nlen, &name);
	if (err)
		return err;
	const char *target = (const char *)p + nlen;
	size_t tlen = plen - nlen; /* with its NUL */
	if (tlen == 0 || tlen > PATH_MAX || strnlen(target, tlen) != tlen - 1) {
		s->bad_requests++;
		return -EINVAL;
	}
	if (room < sizeof(struct fuse_entry_out))
		return -EOVERFLOW;
	if (symlinkat(target, dir->fd, name))
		return -errno;
	return entry_reply(s, dir->fd, name, out);
}

/*
 * LINK: fuse_link_in{oldnodeid}, the new name; nodeid is the new parent.
 * linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH, so the source
 * goes by its /proc/self/fd link with AT_SYMLINK_FOLLOW, which lands on
 * the node's inode itself (a symlink node is linked, not its target), as
 * virtiofsd does. One way for root and others alike.
 */
static int op_link(struct fuse_server *s, struct fsrv_node *dir, const uint8_t *p, size_t plen,
		   uint8_t *out, size_t room)
{
	struct fuse_link_in in;
	memcpy(&in, p, sizeof(in));
	const char *name;
	int err = fsrv_name(s, p + sizeof(in), plen - sizeof(in), &name);
	if (err)
		return err;
	struct fsrv_node *old = fsrv_node_get(s, in.oldnodeid);
	if (!old)
		return -ENOENT;
	if (room < sizeof(struct fuse_entry_out))
		return -EOVERFLOW;
	struct stat st;
	if ((err = fsrv_stat(old->fd, &st)))
		return err;
	if (S_ISDIR(st.st_mode))
		return -EPERM; /* as link(2) */
	char path[FSRV_PROC_PATH_MAX];
	fsrv_proc_path(path, old->fd);
	if (linkat(AT_FDCWD, path, dir->fd, name, AT_SYMLINK_FOLLOW))
		return -errno;
	return entry_reply(s, dir->fd, name, out);
}

/* UNLINK, RMDIR: the name. Nodes stay until the guest forgets them. */
static int op_unlink(struct fuse_server *s, struct fsrv_node *dir, const uint8_t *p, size_t plen,
		     bool rmdir)
{
	const char *name;
	int err = fsrv_name(s, p, plen, &name);
	if (err)
		return err;
	return unlinkat(dir->fd, name, rmdir ? AT_REMOVEDIR : 0) ? -errno : 0;
}

/*
 * RENAME: fuse_rename_in{newdir}; RENAME2: fuse_rename2_in{newdir, flags};
 * then exactly two names, each with its NUL. Both parents are nodes, so
 * the entry moves between directories of the tree only.
 */
static int op_rename(struct fuse_server *s, struct fsrv_node *dir, const uint8_t *p, size_t plen,
		     bool two)
{
	uint64_t newdir;
	uint32_t flags = 0;
	size_t fixed;
	if (two) {
		struct fuse_rename2_in in;
		memcpy(&in, p, sizeof(in));
		newdir = in.newdir;
		flags = in.flags;
		fixed = sizeof(in);
	} else {
		struct fuse_rename_in in;
		memcpy(&in, p, sizeof(in));
		newdir = in.newdir;
		fixed = sizeof(in);
	}
	p += fixed;
	plen -= fixed;
	const uint8_t *nul = memchr(p, 0, plen);
	if (!nul) {
		s->bad_requests++;
		return -EINVAL;
	}
	size_t olen = (size_t)(nul - p) + 1;
	const char *oldname, *newname;
	int err = fsrv_name(s, p, olen, &oldname);
	if (!err)
		err = fsrv_name(s, p + olen, plen - olen, &newname);
	if (err)
		return err;
	/* RENAME_WHITEOUT is for overlay file systems (and needs
	 * CAP_MKNOD); nothing else exists. */
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	struct fsrv_node *nd = fsrv_node_get(s, newdir);
	if (!nd)
		return -ENOENT;
	return renameat2(dir->fd, oldname, nd->fd, newname, flags) ? -errno : 0;
}

/* A SETATTR time: UTIME_OMIT, UTIME_NOW, or the guest's (nsec checked). */
static int set_time(struct timespec *ts, uint32_t valid, uint32_t set, uint32_t now,
		    uint64_t sec, uint32_t nsec)
{
	if (valid & now) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
	} else if (valid & set) {
		if (nsec >= 1000000000u)
			return -EINVAL; /* also keeps UTIME_NOW/OMIT from being smuggled in */
		ts->tv_sec = (time_t)sec;
		ts->tv_nsec = nsec;
	} else {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
	}
	return 0;
}

/*
 * SETATTR's FATTR_SIZE, regular files only: through the guest's handle
 * when it names a writable handle of this node, else a fresh O_WRONLY
 * open by the node's /proc link (the host checks write permission).
 */
static int set_size(struct fuse_server *s, struct fsrv_node *n, uint64_t nodeid,
		    const struct fuse_setattr_in *in, const struct stat *st)
{
	int fd = -1;
	if (in->valid & FATTR_FH) {
		struct fsrv_handle *h = fsrv_handle_get(s, in->fh, false);
		if (h && h->nodeid == nodeid && h->can_write)
			fd = h->fd;
	}
	bool own = fd < 0;
	if (own && (fd = fsrv_reopen(n, false, O_WRONLY)) < 0)
		return fd;
	int err = ftruncate(fd, (off_t)in->size) ? -errno : 0;
	if (own)
		close(fd);
	if (!err && (off_t)in->size < st->st_size)
		fsrv_truncated(s);
	return err;
}

/*
 * SETATTR: fuse_setattr_in; replies fuse_attr_out. Everything is checked
 * before anything changes; then owner, mode, size and times in the order
 * Linux applies them (chown clears setuid bits, a mode sent with it wins;
 * truncation sets mtime, times given with it win). Bits Linux sends that
 * need nothing here are ignored, not refused: FATTR_CTIME (ctime follows
 * every change), FATTR_LOCKOWNER (no locks), FATTR_KILL_SUIDGID (only with
 * FUSE_HANDLE_KILLPRIV_V2, not offered: the host kernel does it), and
 * FATTR_FH without FATTR_SIZE; so are bits no kernel defines yet.
 */
static int op_setattr(struct fuse_server *s, struct fsrv_node *n, uint64_t nodeid,
		      const uint8_t *p, uint8_t *out, size_t room)
{
	struct fuse_setattr_in in;
	memcpy(&in, p, sizeof(in));
	if (room < sizeof(struct fuse_attr_out))
		return -EOVERFLOW;
	struct stat st;
	int err = fsrv_stat(n->fd, &st);
	if (err)
		return err;
	if ((in.valid & FATTR_MODE) && S_ISLNK(st.st_mode))
		return -EOPNOTSUPP; /* as lchmod */
	if (in.valid & FATTR_SIZE) {
		if (in.size > INT64_MAX)
			return -EINVAL;
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		if (!S_ISREG(st.st_mode))
			return -EINVAL; /* as truncate(2) of a FIFO; a symlink is never followed */
	}
	struct timespec ts[2];
	bool times = in.valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW);
	if ((err = set_time(&ts[0], in.valid, FATTR_ATIME, FATTR_ATIME_NOW, in.atime,
			    in.atimensec)) ||
	    (err = set_time(&ts[1], in.valid, FATTR_MTIME, FATTR_MTIME_NOW, in.mtime,
			    in.mtimensec)))
		return err;
	if (in.valid & (FATTR_UID | FATTR_GID)) {
		/* Whatever the host allows pier's own identity. */
		uid_t uid = (in.valid & FATTR_UID) ? in.uid : (uid_t)-1;
		gid_t gid = (in.valid & FATTR_GID) ? in.gid : (gid_t)-1;
		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			return -errno;
	}
	if (in.valid & FATTR_MODE) {
		char path[FSRV_PROC_PATH_MAX];
		fsrv_proc_path(path, n->fd); /* an O_PATH fd has no fchmod */
		if (chmod(path, in.mode & 07777))
			return -errno;
	}
	if ((in.valid & FATTR_SIZE) && (err = set_size(s, n, nodeid, &in, &st)))
		return err;
	if (times && utimensat(n->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	return fsrv_attr_reply(s, n->fd, out, room);
}

/*
 * WRITE: fuse_write_in, then exactly `size` bytes. With O_APPEND on the
 * handle, pwrite appends whatever the offset (as on Linux).
 */
static int op_write(struct fuse_server *s, const uint8_t *p, size_t plen, uint8_t *out,
		    size_t room)
{
	struct fuse_write_in in;
	memcpy(&in, p, sizeof(in));
	if (in.size != plen - sizeof(in) || in.size > FUSE_SERVER_MAX_READ) {
		s->bad_requests++;
		return -EINVAL;
	}
	struct fsrv_handle *h = fsrv_handle_get(s, in.fh, false);
	if (!h || !h->can_write)
		return -EBADF;
	if (in.offset > INT64_MAX || in.size > INT64_MAX - in.offset)
		return -EINVAL;
	if (room < sizeof(struct fuse_write_out))
		return -EOVERFLOW; /* before writing: the guest must learn how much */
	const uint8_t *data = p + sizeof(in);
	int fd;
	uint32_t idx = fsrv_io_begin(s, h, &fd);
	size_t done = 0;
	int err = 0;
	while (done < in.size) {
		ssize_t r = pwrite(fd, data + done, in.size - done, (off_t)(in.offset + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	fsrv_io_end(s, idx);
	if (!done && err)
		return err;
	struct fuse_write_out o = { .size = (uint32_t)done };
	memcpy(out, &o, sizeof(o));
	return sizeof(o);
}

/* FALLOCATE: allocate, zero or punch a range of a writable handle. */
static int op_fallocate(struct fuse_server *s, const uint8_t *p)
{
	struct fuse_fallocate_in in;
	memcpy(&in, p, sizeof(in));
	struct fsrv_handle *h = fsrv_handle_get(s, in.fh, false);
	if (!h || !h->can_write)
		return -EBADF;
	switch (in.mode) {
	case 0:
	case FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		break;
	default:
		return -EOPNOTSUPP; /* collapse, insert, unshare: not offered */
	}
	if (in.length == 0 || in.offset > INT64_MAX || in.length > INT64_MAX - in.offset)
		return -EINVAL;
	return fallocate(h->fd, (int)in.mode, (off_t)in.offset, (off_t)in.length) ? -errno : 0;
}

/*
 * COPY_FILE_RANGE: from a readable handle of this node to a writable
 * handle of node nodeid_out, both checked as SETUPMAPPING checks its
 * handle; the host copies (or shares extents) without the bytes passing
 * through us. Replies fuse_write_out with the bytes copied.
 */
static int op_copy_file_range(struct fuse_server *s, uint64_t nodeid, const uint8_t *p,
			      uint8_t *out, size_t room)
{
	struct fuse_copy_file_range_in in;
	memcpy(&in, p, sizeof(in));
	struct fsrv_handle *hin = fsrv_handle_get(s, in.fh_in, false);
	if (!hin || hin->nodeid != nodeid || !hin->can_read)
		return -EBADF;
	struct fsrv_handle *hout = fsrv_handle_get(s, in.fh_out, false);
	if (!fsrv_node_get(s, in.nodeid_out) || !hout || hout->nodeid != in.nodeid_out ||
	    !hout->can_write)
		return -EBADF;
	if (in.flags)
		return -EINVAL; /* copy_file_range(2) defines none */
	if (in.off_in > INT64_MAX || in.off_out > INT64_MAX || in.len > INT64_MAX - in.off_in ||
	    in.len > INT64_MAX - in.off_out)
		return -EINVAL;
	if (room < sizeof(struct fuse_write_out))
		return -EOVERFLOW;
	size_t len = in.len < COPY_MAX ? (size_t)in.len : COPY_MAX;
	off_t off_in = (off_t)in.off_in, off_out = (off_t)in.off_out;
	size_t done = 0;
	while (done < len) {
		ssize_t r = copy_file_range(hin->fd, &off_in, hout->fd, &off_out, len - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && !done)
			return -errno;
		if (r <= 0)
			break; /* end of the input file, or an error after some bytes */
		done += (size_t)r;
	}
	struct fuse_write_out o = { .size = (uint32_t)done };
	memcpy(out, &o, sizeof(o));
	return sizeof(o);
}

/* FLUSH: nothing is buffered here; the guest learns whether fh is valid. */
static int op_flush(struct fuse_server *s, const uint8_t *p)
{
	struct fuse_flush_in in;
	memcpy(&in, p, sizeof(in));
	return fsrv_handle_get(s, in.fh, false) ? 0 : -EBADF;
}

/* FSYNC, FSYNCDIR: fsync_flags bit 0 asks for data only. */
static int op_fsync(struct fuse_server *s, const uint8_t *p, bool dir)
{
	struct fuse_fsync_in in;
	memcpy(&in, p, sizeof(in));
	struct fsrv_handle *h = fsrv_handle_get(s, in.fh, dir);
	if (!h)
		return -EBADF;
	int r = (in.fsync_flags & 1) ? fdatasync(h->fd) : fsync(h->fd);
	return r ? -errno : 0;
}

/* LSEEK: the guest asks for SEEK_DATA/SEEK_HOLE; the others work too. */
static int op_lseek(struct fuse_server *s, const uint8_t *p, uint8_t *out, size_t room)
{
	struct fuse_lseek_in in;
	memcpy(&in, p, sizeof(in));
	struct fsrv_handle *h = fsrv_handle_get(s, in.fh, false);
	if (!h)
		return -EBADF;
	if (in.whence != SEEK_SET && in.whence != SEEK_CUR && in.whence != SEEK_END &&
	    in.whence != SEEK_DATA && in.whence != SEEK_HOLE)
		return -EINVAL;
	if (room < sizeof(struct fuse_lseek_out))
		return -EOVERFLOW;
	/* A negative offset is the guest's to ask for (SEEK_CUR/END); the
	 * handle's own position is used by nothing else. */
	off_t r = lseek(h->fd, (off_t)in.offset, (int)in.whence);
	if (r < 0)
		return -errno;
	struct fuse_lseek_out o = { .offset = (uint64_t)r };
	memcpy(out, &o, sizeof(o));
	return sizeof(o);
}

int fsrv_write_dispatch(struct fuse_server *s, const struct fuse_in_header *h, const uint8_t *p,
			size_t plen, uint8_t *out, size_t room)
{
	/* Requests that name a handle, not a node. */
	switch (h->opcode) {
	case FUSE_WRITE: return op_write(s, p, plen, out, room);
	case FUSE_FALLOCATE: return op_fallocate(s, p);
	case FUSE_FLUSH: return op_flush(s, p);
	case FUSE_FSYNC: case FUSE_FSYNCDIR: return op_fsync(s, p, h->opcode == FUSE_FSYNCDIR);
	case FUSE_LSEEK: return op_lseek(s, p, out, room);
	}
	struct fsrv_node *n = fsrv_node_get(s, h->nodeid);
	if (!n)
		return -ENOENT;
	switch (h->opcode) {
	case FUSE_CREATE: return op_create(s, n, p, plen, out, room);
	case FUSE_MKDIR: return op_mkdir(s, n, p, plen, out, room);
	/* Special files are not ours to make (Landlock refuses them in the
	 * VMM too), and regular files come through CREATE: EPERM, what
	 * mknod(2) says for a node type a file system does not support
	 * (ENOSYS would read "not implemented" to the guest's programs). */
	case FUSE_MKNOD: return -EPERM;
	case FUSE_SYMLINK: return op_symlink(s, n, p, plen, out, room);
	case FUSE_LINK: return op_link(s, n, p, plen, out, room);
	case FUSE_UNLINK: case FUSE_RMDIR:
		return op_unlink(s, n, p, plen, h->opcode == FUSE_RMDIR);
	case FUSE_RENAME: case FUSE_RENAME2:
		return op_rename(s, n, p, plen, h->opcode == FUSE_RENAME2);
	case FUSE_SETATTR: return op_setattr(s, n, h->nodeid, p, out, room);
	case FUSE_COPY_FILE_RANGE: return op_copy_file_range(s, h->nodeid, p, out, room);
	}
	return -ENOSYS;
}
