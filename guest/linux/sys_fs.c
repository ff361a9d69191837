/*
 * File system calls on descriptors: open, read, write, seek, stat, sync,
 * and the copies between files (sendfile, copy_file_range). Calls that
 * change the tree by name are in sys_tree.c.
 */
#include <asm/stat.h>
#include <linux/falloc.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <asm/statfs.h>
#include <linux/uio.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../fs/devfs.h"
#include "../kernel/console.h"
#include "stdio.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "../kernel/task.h"
#include "event_fds.h"
#include "file_lock.h"
#include "pipe.h"
#include "socket.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"

/* The getdents64 record; no uapi header carries it (glibc has its own). */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	uint16_t d_reclen;
	uint8_t d_type;
	char d_name[];
};

#define IO_CHUNK TASK_IO_BUF /* bytes per FUSE_READ from a read(): the task's buffer */

/*
 * File reads go through a kernel buffer: the device writes to physical
 * addresses, and a user buffer is not physically contiguous (nor in the
 * direct map). off < 0: at the file position, which moves.
 */
static int64_t read_bounced(struct file *f, uint64_t ubuf, uint64_t len, int64_t off)
{
	char *bounce = task_io_buffer();
	if (!bounce)
		return -ENOMEM;
	uint64_t done = 0;
	while (done < len) {
		uint64_t want = len - done < IO_CHUNK ? len - done : IO_CHUNK;
		uint64_t at = off < 0 ? f->pos : (uint64_t)off + done;
		/* Straight from the DAX window where there is one: one copy,
		 * made without the kernel lock (fuse_dax.c, copy_out). A short
		 * count there is not EOF (a chunk it could not map, or a buffer
		 * unmapped meanwhile); the next round falls back and finds out. */
		task_io_unlock_begin();
		int64_t n = vfs_pread_mapped(f, (char *)ubuf + done, want, at);
		task_io_unlock_end();
		bool mapped = n != -EAGAIN;
		if (!mapped) {
			/* Its FUSE_READs let the kernel lock go while they wait:
			 * the open file is held and so is its position at off < 0
			 * (read_file), and the user buffer is checked again after,
			 * as another thread may have unmapped it meanwhile. */
			task_io_unlock_begin();
			n = vfs_pread(f, bounce, want, at);
			task_io_unlock_end();
			if (n > 0 && user_check(ubuf + done, (uint64_t)n, true))
				n = -EFAULT;
			if (n > 0)
				memcpy((char *)ubuf + done, bounce, (size_t)n); /* checked */
		}
		if (n < 0)
			return done ? (int64_t)done : n;
		done += (uint64_t)n;
		if (off < 0)
			f->pos += (uint64_t)n;
		if (n == 0 || (!mapped && (uint64_t)n < want))
			break;
	}
	return (int64_t)done;
}

static int64_t read_file(struct ofile *of, uint64_t ubuf, uint64_t len, int64_t off)
{
	if (user_check(ubuf, len, true))
		return -EFAULT;
	switch (of->kind) {
	case OF_CONSOLE:
		if ((of->flags & O_ACCMODE) == O_WRONLY)
			return -EBADF;
		return stdio_read(of, (void *)ubuf, len);
	case OF_PIPE_READ:
		return pipe_read_wait(of->pipe, (char *)ubuf, len, of->flags & O_NONBLOCK);
	case OF_PIPE_WRITE:
		return -EBADF;
	case OF_EPOLL:
		return -EINVAL;
	case OF_TIMERFD:
		return timerfd_read(of, ubuf, len);
	case OF_EVENTFD:
		return eventfd_read(of, ubuf, len);
	case OF_SIGNALFD:
		return signalfd_read(of, ubuf, len);
	case OF_SOCKET:
		return socket_read(of, ubuf, len);
	case OF_FILE:
		/* The server may hold the file open for reading anyway (for DAX):
		 * the program's access mode is what counts. */
		if ((of->flags & O_ACCMODE) == O_WRONLY)
			return -EBADF;
		if (of->file->dir)
			return -EISDIR;
		/* Ours while its reads may let the kernel lock go: a close
		 * by another thread meanwhile leaves the last reference to us;
		 * and so is the position, if it is read at the position. */
		ofile_hold(of);
		struct file *pf = off < 0 ? of->file : NULL;
		int64_t n = file_pos_lock(pf) && user_check(ubuf, len, true)
				    ? -EFAULT
				    : read_bounced(of->file, ubuf, len, off);
		file_pos_unlock(pf);
		ofile_unhold(of);
		return n;
	}
	return -EBADF;
}

/*
 * File writes go through a kernel buffer too (the device reads physical
 * addresses). off < 0: at the file position, which moves; O_APPEND: at the
 * end of the file as the server sees it now, for every call.
 */
/* waited: taking the call's locks let the kernel lock go (the buffer
 * may have changed since write_file checked it). */
static int64_t write_bounced(struct ofile *of, uint64_t ubuf, uint64_t len, int64_t off,
			     bool waited)
{
	struct file *f = of->file;
	char *bounce = task_io_buffer();
	if (!bounce)
		return -ENOMEM;
	/* Only write() moves the position, to the end of what it wrote;
	 * pwrite() on an O_APPEND file appends too, as on Linux, and leaves
	 * the position alone. */
	bool moves = off < 0;
	if (of->flags & O_APPEND) {
		int err = vfs_refresh(f->vn);
		if (err)
			return err;
		off = (int64_t)f->vn->attr.size;
	}
	uint64_t done = 0;
	uint64_t at = off < 0 ? f->pos : (uint64_t)off;
	int64_t n = 0;
	while (done < len) {
		uint64_t want = len - done < IO_CHUNK ? len - done : IO_CHUNK;
		/* Checked again after any wait (a FUSE_WRITE before this piece
		 * let the kernel lock go): another thread may have unmapped it. */
		if ((done || waited) && user_check(ubuf + done, want, false)) {
			n = -EFAULT;
			break;
		}
		memcpy(bounce, (const char *)ubuf + done, (size_t)want); /* checked */
		/* Its FUSE_WRITEs let the kernel lock go while they wait
		 * (fuse_write): the open file is held (write_file) and so is
		 * the file's write lock, for the whole call. */
		task_io_unlock_begin();
		n = vfs_pwrite(f, bounce, want, at + done);
		task_io_unlock_end();
		if (n < 0)
			break;
		done += (uint64_t)n;
		if ((uint64_t)n < want)
			break;
	}
	if (moves)
		f->pos = at + done; /* what was written, an error after it too */
	return done ? (int64_t)done : n;
}

static int64_t write_file(struct ofile *of, uint64_t ubuf, uint64_t len, int64_t off)
{
	if (user_check(ubuf, len, false))
		return -EFAULT;
	switch (of->kind) {
	case OF_CONSOLE:
		if ((of->flags & O_ACCMODE) == O_RDONLY)
			return -EBADF;
		return stdio_write(of, (const void *)ubuf, len);
	case OF_PIPE_WRITE:
		return pipe_write_wait(of->pipe, (const char *)ubuf, len, of->flags & O_NONBLOCK);
	case OF_PIPE_READ:
		return -EBADF;
	case OF_TIMERFD:
	case OF_EPOLL:
	case OF_SIGNALFD:
		return -EINVAL;
	case OF_EVENTFD:
		return eventfd_write(of, ubuf, len);
	case OF_SOCKET:
		return socket_write(of, ubuf, len);
	case OF_FILE:
		if (!vfs_writable(of->file))
			return -EBADF;
		if (of->file->dir)
			return -EISDIR;
		/* As in read_file; and the file's writes are this call's, so
		 * that an O_APPEND write's end is still the end when it lands
		 * (write_bounced checks the buffer again after any wait). */
		ofile_hold(of);
		struct file *pf = off < 0 ? of->file : NULL;
		bool waited = file_pos_lock(pf);
		waited |= sleep_lock(&of->file->vn->write_lock);
		int64_t n = write_bounced(of, ubuf, len, off, waited);
		sleep_unlock(&of->file->vn->write_lock);
		file_pos_unlock(pf);
		ofile_unhold(of);
		return n;
	}
	return -EBADF;
}

SYS(read)
{
	struct ofile *of = fd_get((int)a0);
	return of ? read_file(of, a1, a2, -1) : -EBADF;
}

SYS(write)
{
	struct ofile *of = fd_get((int)a0);
	return of ? write_file(of, a1, a2, -1) : -EBADF;
}

SYS(pread64)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE)
		return -ESPIPE;
	if ((int64_t)a3 < 0)
		return -EINVAL;
	return read_file(of, a1, a2, (int64_t)a3);
}

SYS(pwrite64)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE)
		return -ESPIPE;
	if ((int64_t)a3 < 0)
		return -EINVAL;
	return write_file(of, a1, a2, (int64_t)a3);
}

/* readv/writev and the positioned kinds: off < 0 is the file position
 * (which moves), else the offset (which moves along the vector). */
static int64_t vec_io(struct ofile *of, uint64_t uiov, uint64_t cnt, bool write, int64_t off)
{
	if (!of)
		return -EBADF;
	if (cnt > 1024)
		return -EINVAL;
	if (off >= 0 && of->kind != OF_FILE)
		return -ESPIPE;
	ofile_hold(of); /* a read or write may let the kernel lock go (read_file) */
	struct file *pf = off < 0 && of->kind == OF_FILE ? of->file : NULL;
	file_pos_lock(pf); /* the whole vector at one position, as Linux */
	/* and, written, the whole vector in one piece (vfs.h, write_lock) */
	struct sleep_lock *wl = write && of->kind == OF_FILE ? &of->file->vn->write_lock : NULL;
	sleep_lock(wl);
	int64_t total = 0;
	for (uint64_t i = 0; i < cnt; i++) {
		struct iovec v;
		if (copy_from_user(&v, uiov + i * sizeof(v), sizeof(v))) {
			total = total ? total : -EFAULT;
			break;
		}
		if (v.iov_len == 0)
			continue;
		int64_t at = off < 0 ? -1 : off + total;
		int64_t n = write ? write_file(of, (uint64_t)v.iov_base, v.iov_len, at)
				  : read_file(of, (uint64_t)v.iov_base, v.iov_len, at);
		if (n < 0) {
			total = total ? total : n;
			break;
		}
		total += n;
		if ((uint64_t)n < v.iov_len)
			break;
	}
	sleep_unlock(wl);
	file_pos_unlock(pf);
	ofile_unhold(of);
	return total;
}

SYS(readv)
{
	return vec_io(fd_get((int)a0), a1, a2, false, -1);
}

SYS(writev)
{
	return vec_io(fd_get((int)a0), a1, a2, true, -1);
}

/* x86_64 passes the whole offset in pos_l (a3); pos_h (a4) is unused. */
SYS(preadv)
{
	return (int64_t)a3 < 0 ? -EINVAL : vec_io(fd_get((int)a0), a1, a2, false, (int64_t)a3);
}

SYS(pwritev)
{
	return (int64_t)a3 < 0 ? -EINVAL : vec_io(fd_get((int)a0), a1, a2, true, (int64_t)a3);
}

/*
 * The *v2 kinds: offset -1 is the file position; flags as Linux answers
 * them for a FUSE file: HIPRI is a hint (no polled I/O here), DSYNC and
 * SYNC make a write durable before it returns, APPEND writes at the end,
 * NOWAIT is EOPNOTSUPP (FUSE files cannot promise not to block), anything
 * else EOPNOTSUPP too.
 */
static int64_t vec_io2(uint64_t fd, uint64_t uiov, uint64_t cnt, int64_t off, uint64_t flags,
		       bool write)
{
	if (flags & ~(uint64_t)(RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_APPEND))
		return -EOPNOTSUPP;
	if (off < -1)
		return -EINVAL;
	struct ofile *of = fd_get((int)fd);
	if (!of)
		return -EBADF;
	/* The end of file an append finds stays the end until its write
	 * lands: the file's writes are this call's from the look on. */
	struct sleep_lock *wl = write && (flags & RWF_APPEND) && of->kind == OF_FILE
					? &of->file->vn->write_lock
					: NULL;
	/* At offset -1 an append moves the position past what it wrote (as
	 * Linux): the position is taken first (vfs.h's order). */
	struct file *at_pos = wl && off == -1 ? of->file : NULL;
	ofile_hold(of);
	file_pos_lock(at_pos);
	sleep_lock(wl);
	int64_t r = 0;
	if (wl) {
		r = vfs_refresh(of->file->vn);
		off = (int64_t)of->file->vn->attr.size;
	}
	if (!r)
		r = vec_io(of, uiov, cnt, write, off);
	if (at_pos && r > 0)
		at_pos->pos = (uint64_t)off + (uint64_t)r;
	sleep_unlock(wl);
	file_pos_unlock(at_pos);
	if (r > 0 && write && (flags & (RWF_DSYNC | RWF_SYNC)) && of->kind == OF_FILE) {
		int err = vfs_fsync(of->file, !(flags & RWF_SYNC));
		if (err)
			r = err;
	}
	ofile_unhold(of);
	return r;
}

SYS(preadv2)
{
	return vec_io2(a0, a1, a2, (int64_t)a3, a5, false);
}

SYS(pwritev2)
{
	return vec_io2(a0, a1, a2, (int64_t)a3, a5, true);
}

int64_t sys_open_at(int dirfd, uint64_t upath, uint64_t flags, uint64_t mode)
{
	if ((flags & O_TMPFILE) == O_TMPFILE) /* includes O_DIRECTORY's bit */
		return -EOPNOTSUPP;
	char *path = kmalloc(VFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	int err = user_path_at(dirfd, upath, path);
	int alias = err ? -1 : fd_alias(path);
	if (alias >= 0 && !(flags & O_NOFOLLOW)) {
		/* Linux opens the file anew with these flags; a duplicate is the
		 * nearest (it shares the offset): what `cat /dev/stdin` needs. */
		kfree(path);
		struct ofile *of = fd_get(alias);
		if (!of)
			return -ENOENT;
		of->refs++;
		int fd = fd_install(of, 0, flags & O_CLOEXEC);
		if (fd < 0)
			of->refs--;
		return fd;
	}
	/* The guest's own /dev/tty and /dev/console (char 5:0, 5:1) are the
	 * console's terminal, however the path reached them (looked at only
	 * for those names: every other open skips the extra walk). */
	struct vfs_stat tst;
	const char *base = path + strlen(path);
	while (base > path && base[-1] != '/')
		base--;
	if (!err && alias < 0 && (strcmp(base, "tty") == 0 || strcmp(base, "console") == 0) &&
	    vfs_stat(path, !(flags & O_NOFOLLOW), &tst) == 0 && S_ISCHR(tst.mode) &&
	    tst.rdev >> 8 == 5 && (tst.rdev & 0xff) <= 1) {
		kfree(path);
		return stdio_open_terminal(tst.rdev & 0xff, flags);
	}
	struct file *f = NULL;
	uint32_t keep = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NOFOLLOW |
			O_DIRECTORY;
	/* Its walk's waits, as stat's (walk_unlocked_stat). */
	task_io_unlock_begin();
	if (!err)
		err = vfs_open(path, (uint32_t)flags & keep, (uint32_t)mode & 07777 & ~current->proc->umask,
			       &f);
	task_io_unlock_end();
	struct ofile *of = err ? NULL : ofile_new(OF_FILE);
	if (!err && !of) {
		vfs_close(f);
		err = -ENOMEM;
	}
	if (err) {
		kfree(path);
		return err;
	}
	of->file = f;
	of->flags = (uint32_t)flags & ~(O_CLOEXEC | O_NOFOLLOW | O_CREAT | O_EXCL | O_TRUNC);
	of->path = path;
	int fd = fd_install(of, 0, flags & O_CLOEXEC);
	if (fd < 0)
		ofile_put(of);
	return fd;
}

SYS(open)
{
	return sys_open_at(AT_FDCWD, a0, a1, a2);
}

SYS(openat)
{
	return sys_open_at((int)a0, a1, a2, a3);
}

SYS(creat)
{
	return sys_open_at(AT_FDCWD, a0, O_CREAT | O_WRONLY | O_TRUNC, a1);
}

SYS(close)
{
	return fd_close((int)a0);
}

static int64_t seek(struct file *f, int64_t off, uint64_t whence)
{
	int64_t base;
	if (f->dir) {
		/* Directory offsets are the file system's cookies: rewind only. */
		if (whence != 0 || off != 0)
			return -EINVAL;
		f->pos = 0;
		return 0;
	}
	switch (whence) {
	case 0: base = 0; break;                               /* SEEK_SET */
	case 1: base = (int64_t)f->pos; break;                 /* SEEK_CUR */
	case 2:                                                /* SEEK_END */
		if (f->vn->ops->getattr && f->vn->ops->getattr(f->vn))
			return -EIO;
		base = (int64_t)f->vn->attr.size;
		break;
	case SEEK_DATA:
	case SEEK_HOLE: {
		if (off < 0)
			return -ENXIO;
		int64_t r = vfs_seek_data(f, (uint64_t)off, (uint32_t)whence);
		if (r >= 0)
			f->pos = (uint64_t)r;
		return r;
	}
	default: return -EINVAL;
	}
	if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
		return -EINVAL;
	f->pos = (uint64_t)(base + off);
	return (int64_t)f->pos;
}

SYS(lseek)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE)
		return -ESPIPE;
	ofile_hold(of); /* the position's lock may wait, letting the kernel lock go */
	file_pos_lock(of->file);
	int64_t r = seek(of->file, (int64_t)a1, a2);
	file_pos_unlock(of->file);
	ofile_unhold(of);
	return r;
}

static void to_stat(const struct vfs_stat *s, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = 1;
	st->st_ino = s->ino;
	st->st_nlink = s->nlink;
	st->st_mode = s->mode;
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	st->st_rdev = s->rdev;
	st->st_size = (int64_t)s->size;
	st->st_blksize = s->blksize ? s->blksize : 4096;
	st->st_blocks = (int64_t)s->blocks;
	st->st_atime = s->atime;
	st->st_atime_nsec = s->atime_ns;
	st->st_mtime = s->mtime;
	st->st_mtime_nsec = s->mtime_ns;
	st->st_ctime = s->ctime;
	st->st_ctime_nsec = s->ctime_ns;
}

/* The attributes of what fd or path names, as the *stat calls want them. */
static int stat_fd(int fd, struct vfs_stat *out)
{
	if (fd == AT_FDCWD)
		return vfs_stat(current->proc->cwd, true, out);
	struct ofile *of = fd_get(fd);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE) {
		/* timerfd, eventfd: Linux's anonymous inode, which has no type.
		 * Inode numbers apart from every file's (devfs's /dev/null among
		 * them: GNU grep compares its stdout with it, and if they match
		 * it prints nothing): the console's per stream, a pipe's its
		 * own (both ends alike), the rest per open file description. */
		bool console = of->kind == OF_CONSOLE;
		/* A terminal stream is /dev/console's inode (ttyname finds it). */
		uint64_t ino = console && stdio_is_terminal(of) ? DEVFS_CONSOLE_INO
			       : console ? DEVFS_CONSOLE_INO + 1 + (uint64_t)of->stream
			       : of->pipe ? (uint64_t)of->pipe >> 4 : (uint64_t)of >> 4;
		*out = (struct vfs_stat){ .mode = console ? S_IFCHR | 0620
					  : of->kind == OF_SOCKET ? S_IFSOCK | 0777
					  : of->kind == OF_TIMERFD || of->kind == OF_EVENTFD ||
					    of->kind == OF_EPOLL || of->kind == OF_SIGNALFD ? 0600
									 : S_IFIFO | 0600,
					  .nlink = 1, .blksize = 4096, .ino = ino,
					  .rdev = console ? 5u << 8 | 1 : 0 /* /dev/console */ };
		return 0;
	}
	/* A GETATTR may let the kernel lock go (virtiofs.c): the open file is
	 * held, as another thread may close it meanwhile. */
	struct vnode *v = of->file->vn;
	ofile_hold(of);
	task_io_unlock_begin();
	int err = v->ops->getattr ? v->ops->getattr(v) : 0;
	task_io_unlock_end();
	*out = v->attr;
	ofile_unhold(of);
	return err;
}

/*
 * A path walk's LOOKUPs and GETATTRs may let the kernel lock go while they
 * wait (virtiofs.c): the walk holds every vnode it is on, the path is this
 * call's own copy, and the rest of the call looks at nothing else another
 * task could free meanwhile. So do stat, access, open and readlink (their
 * OPENs and READLINKs too).
 */
static int walk_unlocked_stat(const char *path, bool follow, struct vfs_stat *out)
{
	task_io_unlock_begin();
	int err = vfs_stat(path, follow, out);
	task_io_unlock_end();
	return err;
}

static int stat_at(int dirfd, uint64_t upath, uint64_t flags, struct vfs_stat *out)
{
	if (flags & AT_EMPTY_PATH) {
		char c;
		if (copy_from_user(&c, upath, 1))
			return -EFAULT;
		if (c == 0)
			return stat_fd(dirfd, out);
	}
	char *path = kmalloc(VFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	int err = user_path_at(dirfd, upath, path);
	int alias = err ? -1 : fd_alias(path);
	if (alias >= 0 && !(flags & AT_SYMLINK_NOFOLLOW) && fd_get(alias))
		err = stat_fd(alias, out);
	else if (!err)
		err = walk_unlocked_stat(path, !(flags & AT_SYMLINK_NOFOLLOW), out);
	kfree(path);
	return err;
}

static int64_t put_stat(const struct vfs_stat *s, uint64_t ubuf)
{
	struct stat st;
	to_stat(s, &st);
	return copy_to_user(ubuf, &st, sizeof(st));
}

SYS(fstat)
{
	struct vfs_stat s;
	if ((int)a0 == AT_FDCWD)
		return -EBADF;
	int err = stat_fd((int)a0, &s);
	return err ? err : put_stat(&s, a1);
}

SYS(stat)
{
	struct vfs_stat s;
	int err = stat_at(AT_FDCWD, a0, 0, &s);
	return err ? err : put_stat(&s, a1);
}

SYS(lstat)
{
	struct vfs_stat s;
	int err = stat_at(AT_FDCWD, a0, AT_SYMLINK_NOFOLLOW, &s);
	return err ? err : put_stat(&s, a1);
}

SYS(newfstatat)
{
	struct vfs_stat s;
	int err = stat_at((int)a0, a1, a3, &s);
	return err ? err : put_stat(&s, a2);
}

SYS(statx)
{
	struct vfs_stat s;
	int err = stat_at((int)a0, a1, a2, &s);
	if (err)
		return err;
	struct statx x;
	memset(&x, 0, sizeof(x));
	x.stx_mask = STATX_BASIC_STATS;
	x.stx_blksize = s.blksize ? s.blksize : 4096;
	x.stx_nlink = s.nlink;
	x.stx_uid = s.uid;
	x.stx_gid = s.gid;
	x.stx_mode = (uint16_t)s.mode;
	x.stx_ino = s.ino;
	x.stx_size = s.size;
	x.stx_blocks = s.blocks;
	x.stx_atime.tv_sec = (int64_t)s.atime;
	x.stx_atime.tv_nsec = s.atime_ns;
	x.stx_mtime.tv_sec = (int64_t)s.mtime;
	x.stx_mtime.tv_nsec = s.mtime_ns;
	x.stx_ctime.tv_sec = (int64_t)s.ctime;
	x.stx_ctime.tv_nsec = s.ctime_ns;
	x.stx_dev_major = 0;
	x.stx_dev_minor = 1;
	/* vfs_stat's rdev is Linux's 32-bit encoding (FUSE's too). */
	x.stx_rdev_major = (s.rdev & 0xfff00) >> 8;
	x.stx_rdev_minor = (s.rdev & 0xff) | ((s.rdev >> 12) & 0xfff00);
	return copy_to_user(a4, &x, sizeof(x));
}

struct dents_ctx {
	char *buf;
	uint32_t len, used;
	struct file *f;
	bool refused;
};

static int put_dent(void *arg, const char *name, uint32_t namelen, uint32_t type, uint64_t ino)
{
	struct dents_ctx *c = arg;
	uint32_t reclen = (uint32_t)((sizeof(struct linux_dirent64) + namelen + 1 + 7) & ~7u);
	if (c->used + reclen > c->len) {
		c->refused = true;
		return 1; /* full: this entry waits for the next call */
	}
	struct linux_dirent64 *d = (struct linux_dirent64 *)(c->buf + c->used);
	d->d_ino = ino ? ino : 1;
	d->d_off = (int64_t)c->f->pos + 1; /* advisory: only used with telldir */
	d->d_reclen = (uint16_t)reclen;
	d->d_type = (uint8_t)type;
	memcpy(d->d_name, name, namelen);
	memset(d->d_name + namelen, 0, reclen - sizeof(*d) - namelen);
	c->used += reclen;
	return 0;
}

SYS(getdents64)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE || !of->file->dir)
		return -ENOTDIR;
	uint32_t len = a2 > IO_CHUNK ? IO_CHUNK : (uint32_t)a2;
	struct dents_ctx c = { kmalloc(len ? len : 1), len, 0, of->file, false };
	if (!c.buf)
		return -ENOMEM;
	ofile_hold(of); /* the position's lock may wait, letting the kernel lock go */
	file_pos_lock(of->file);
	int err = vfs_readdir(of->file, put_dent, &c);
	file_pos_unlock(of->file);
	ofile_unhold(of);
	int64_t r = err;
	if (!err && c.used == 0)
		r = c.refused ? -EINVAL : 0; /* buffer too small for one entry, or the end */
	else if (!err)
		r = copy_to_user(a1, c.buf, c.used) ? -EFAULT : (int64_t)c.used;
	kfree(c.buf);
	return r;
}

static int64_t do_readlink(int dirfd, uint64_t upath, uint64_t ubuf, uint64_t size)
{
	if ((int64_t)size <= 0)
		return -EINVAL;
	char *path = kmalloc(VFS_PATH_MAX), *target = kmalloc(VFS_PATH_MAX);
	int64_t r = path && target ? user_path_at(dirfd, upath, path) : -ENOMEM;
	task_io_unlock_begin(); /* as stat's walk (walk_unlocked_stat), into target */
	if (r == 0)
		r = vfs_readlink(path, target, VFS_PATH_MAX);
	task_io_unlock_end();
	if (r >= 0) {
		uint64_t n = (uint64_t)r < size ? (uint64_t)r : size; /* no NUL, may truncate */
		r = copy_to_user(ubuf, target, n) ? -EFAULT : (int64_t)n;
	}
	kfree(path);
	kfree(target);
	return r;
}

SYS(readlink)
{
	return do_readlink(AT_FDCWD, a0, a1, a2);
}

SYS(readlinkat)
{
	return do_readlink((int)a0, a1, a2, a3);
}

static int64_t do_access(int dirfd, uint64_t upath, uint64_t mode, uint64_t flags)
{
	if (mode & ~7ULL)
		return -EINVAL;
	char *path = kmalloc(VFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	int err = user_path_at(dirfd, upath, path);
	struct vnode *v;
	task_io_unlock_begin(); /* as stat's walk (walk_unlocked_stat) */
	if (!err)
		err = vfs_resolve(path, !(flags & AT_SYMLINK_NOFOLLOW), &v);
	kfree(path);
	if (!err) {
		if (mode & 2)
			err = vfs_may_write(v);
		if (!err && mode)
			err = vfs_permission(v, (uint32_t)mode);
		vnode_put(v);
	}
	task_io_unlock_end();
	return err;
}

SYS(access)
{
	return do_access(AT_FDCWD, a0, a1, 0);
}

SYS(faccessat)
{
	return do_access((int)a0, a1, a2, 0);
}

SYS(faccessat2)
{
	return do_access((int)a0, a1, a2, a3);
}

SYS(getcwd)
{
	uint64_t n = strlen(current->proc->cwd) + 1;
	if (a1 < n)
		return -ERANGE;
	return copy_to_user(a0, current->proc->cwd, n) ? -EFAULT : (int64_t)n;
}

/* Makes path (absolute) the working directory if it is a searchable dir. */
static int set_cwd(const char *path)
{
	struct vnode *v;
	int err = vfs_resolve(path, true, &v);
	if (err)
		return err;
	err = !S_ISDIR(v->attr.mode) ? -ENOTDIR : vfs_permission(v, 1);
	vnode_put(v);
	if (err)
		return err;
	/* Keep it tidy: fold "." and ".." so getcwd prints a plain path. */
	char *out = current->proc->cwd;
	size_t n = 0;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - s);
		if (len == 0 || (len == 1 && s[0] == '.'))
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			continue;
		}
		out[n++] = '/';
		memmove(out + n, s, len);
		n += len;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = 0;
	return 0;
}

SYS(chdir)
{
	char *path = kmalloc(VFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	int err = user_path_at(AT_FDCWD, a0, path);
	if (!err)
		err = set_cwd(path);
	kfree(path);
	return err;
}

SYS(fchdir)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE || !of->file->dir)
		return -ENOTDIR;
	return set_cwd(of->path);
}

static int64_t dup_to(int oldfd, int newfd, bool cloexec)
{
	struct ofile *of = fd_get(oldfd);
	if (!of)
		return -EBADF;
	if (newfd < 0 || newfd >= MAX_FDS)
		return -EBADF;
	if (oldfd == newfd)
		return newfd;
	if (current->proc->fds[newfd])
		fd_close(newfd);
	of->refs++;
	current->proc->fds[newfd] = of;
	current->proc->cloexec[newfd] = cloexec;
	return newfd;
}

SYS(dup)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	of->refs++;
	int fd = fd_install(of, 0, false);
	if (fd < 0)
		of->refs--;
	return fd;
}

SYS(dup2)
{
	if (!fd_get((int)a0))
		return -EBADF;
	return dup_to((int)a0, (int)a1, false);
}

/* close_range(2): every descriptor in [first, last] closed, or with
 * CLOSE_RANGE_CLOEXEC marked close-on-exec; CLOSE_RANGE_UNSHARE asks for
 * a table of its own, which every process has here. */
SYS(close_range)
{
	const uint64_t unshare = 1u << 1, cloexec = 1u << 2;
	if ((a2 & ~(unshare | cloexec)) || a0 > a1)
		return -EINVAL;
	for (uint64_t fd = a0; fd <= a1 && fd < MAX_FDS; fd++) {
		if (!current->proc->fds[fd])
			continue;
		if (a2 & cloexec)
			current->proc->cloexec[fd] = true;
		else
			fd_close((int)fd);
	}
	return 0;
}

SYS(dup3)
{
	if (a0 == a1)
		return -EINVAL;
	if (a2 & ~(uint64_t)O_CLOEXEC)
		return -EINVAL;
	return dup_to((int)a0, (int)a1, a2 & O_CLOEXEC);
}

SYS(fcntl)
{
	int fd = (int)a0;
	struct ofile *of = fd_get(fd);
	if (!of)
		return -EBADF;
	switch (a1) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC: {
		if ((int64_t)a2 < 0 || a2 >= MAX_FDS)
			return -EINVAL;
		of->refs++;
		int n = fd_install(of, (int)a2, a1 == F_DUPFD_CLOEXEC);
		if (n < 0)
			of->refs--;
		return n;
	}
	case F_GETFD:
		return current->proc->cloexec[fd] ? FD_CLOEXEC : 0;
	case F_SETFD:
		current->proc->cloexec[fd] = a2 & FD_CLOEXEC;
		return 0;
	case F_GETFL:
		return of->flags;
	case F_SETFL: {
		uint32_t changeable = O_APPEND | O_NONBLOCK | FASYNC | O_DIRECT | O_NOATIME;
		of->flags = (of->flags & ~changeable) | ((uint32_t)a2 & changeable);
		return 0;
	}
	case F_GETLK: case F_SETLK: case F_SETLKW:
	case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
		return fcntl_lock(of, (int)a1, a2);
	default:
		return -EINVAL;
	}
}

SYS(pipe2)
{
	if (a1 & ~(uint64_t)(O_CLOEXEC | O_NONBLOCK))
		return -EINVAL;
	struct pipe *p = pipe_new();
	struct ofile *r = ofile_new(OF_PIPE_READ), *w = ofile_new(OF_PIPE_WRITE);
	if (!p || !r || !w)
		return -ENOMEM;
	r->pipe = w->pipe = p;
	p->readers = p->writers = 1;
	r->flags = O_RDONLY | ((uint32_t)a1 & O_NONBLOCK);
	w->flags = O_WRONLY | ((uint32_t)a1 & O_NONBLOCK);
	int fds[2];
	fds[0] = fd_install(r, 0, a1 & O_CLOEXEC);
	fds[1] = fds[0] < 0 ? -EMFILE : fd_install(w, 0, a1 & O_CLOEXEC);
	if (fds[1] < 0 || copy_to_user(a0, fds, sizeof(fds))) {
		if (fds[0] >= 0)
			fd_close(fds[0]);
		if (fds[1] >= 0)
			fd_close(fds[1]);
		else
			ofile_put(w);
		if (fds[0] < 0)
			ofile_put(r);
		return fds[1] < 0 ? -EMFILE : -EFAULT;
	}
	return 0;
}

SYS(pipe)
{
	return sys_pipe2(a0, 0, 0, 0, 0, 0);
}

SYS(umask)
{
	uint32_t old = current->proc->umask;
	current->proc->umask = (uint32_t)a0 & 0777;
	return old;
}

static int64_t put_statfs(struct vnode *v, uint64_t ubuf)
{
	struct vfs_statfs s;
	int err = vfs_statfs(v, &s);
	if (err)
		return err;
	struct statfs st;
	memset(&st, 0, sizeof(st));
	st.f_type = 0x65735546; /* FUSE_SUPER_MAGIC, what Linux reports for virtiofs */
	st.f_bsize = s.bsize;
	st.f_blocks = s.blocks;
	st.f_bfree = s.bfree;
	st.f_bavail = s.bavail;
	st.f_files = s.files;
	st.f_ffree = s.ffree;
	st.f_namelen = s.namelen;
	st.f_frsize = s.frsize ? s.frsize : s.bsize;
	/* ST_RDONLY where nothing can change (ro= share, ramfs); ST_NOSUID,
	 * ST_NODEV and the rest mean nothing here. */
	st.f_flags = vfs_may_write(v) == -EROFS ? 1 : 0;
	return copy_to_user(ubuf, &st, sizeof(st));
}

SYS(statfs)
{
	char *path = kmalloc(VFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	struct vnode *v;
	int err = user_path_at(AT_FDCWD, a0, path);
	if (!err)
		err = vfs_resolve(path, true, &v);
	kfree(path);
	if (err)
		return err;
	int64_t r = put_statfs(v, a1);
	vnode_put(v);
	return r;
}

SYS(fstatfs)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE)
		return -EINVAL;
	return put_statfs(of->file->vn, a1);
}

static int64_t do_fsync(int fd, bool datasync)
{
	struct ofile *of = fd_get(fd);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE)
		return -EINVAL;
	/* Its FSYNC lets the kernel lock go while the host syncs: the open
	 * file stays ours meanwhile, as a read's does. */
	ofile_hold(of);
	task_io_unlock_begin();
	int err = vfs_fsync(of->file, datasync);
	task_io_unlock_end();
	ofile_unhold(of);
	return err;
}

/* Advice on how a file will be read: a hint the page cache of the host
 * takes for us (or not); checked as Linux checks it, then ignored. */
SYS(fadvise64)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (of->kind == OF_PIPE_READ || of->kind == OF_PIPE_WRITE)
		return -ESPIPE;
	if (a3 > 5 || (int64_t)a2 < 0) /* POSIX_FADV_NORMAL .. NOREUSE */
		return -EINVAL;
	return 0;
}

SYS(fsync)
{
	return do_fsync((int)a0, false);
}

SYS(fdatasync)
{
	return do_fsync((int)a0, true);
}

/* Writes reach the host as they are made; syncing makes them durable there:
 * every file the program has open for writing, and its directories. */
SYS(sync)
{
	for (int fd = 0; fd < MAX_FDS; fd++) {
		struct ofile *of = current->proc->fds[fd];
		if (of && of->kind == OF_FILE && (vfs_writable(of->file) || of->file->dir))
			vfs_fsync(of->file, false);
	}
	return 0;
}

SYS(syncfs)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	return sys_sync(0, 0, 0, 0, 0, 0);
}

SYS(fallocate)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE)
		return -ESPIPE;
	if ((int64_t)a2 < 0 || (int64_t)a3 <= 0)
		return -EINVAL;
	uint32_t mode = (uint32_t)a1;
	uint32_t known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
	/* Linux's answers: a hole must keep the size; holes and zeroing don't mix. */
	if (mode & ~known || ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && (mode & FALLOC_FL_ZERO_RANGE))
		return -EINVAL;
	if (of->flags & O_APPEND && (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)))
		return -EPERM;
	ofile_hold(of); /* the file's write lock may wait, letting the kernel lock go */
	int err = vfs_fallocate(of->file, mode, a2, a3);
	ofile_unhold(of);
	return err;
}

/*
 * Copies up to count bytes from in to out through a kernel buffer, at
 * the given offsets (NULL: the file positions, which move). The slow way
 * of sendfile and of copy_file_range where the server cannot copy.
 */
static int64_t copy_through(struct ofile *in, int64_t *in_off, struct ofile *out,
			    int64_t *out_off, uint64_t count)
{
	count = count > IO_CHUNK ? IO_CHUNK : count;
	char *buf = kmalloc(count ? count : 1);
	if (!buf)
		return -ENOMEM;
	uint64_t from = in_off ? (uint64_t)*in_off : in->file->pos;
	int64_t n = vfs_pread(in->file, buf, count, from);
	int64_t w = n;
	if (n > 0) {
		if (out->kind == OF_CONSOLE && (out->flags & O_ACCMODE) != O_RDONLY)
			w = stdio_write(out, buf, (uint64_t)n);
		else if (out->kind == OF_PIPE_WRITE)
			w = pipe_write(out->pipe, buf, (uint64_t)n);
		else if (out->kind == OF_SOCKET)
			w = socket_write_kernel(out, buf, (uint64_t)n, false);
		else if (out->kind == OF_FILE && !out->file->dir && vfs_writable(out->file))
			w = out->flags & O_APPEND
				    ? -EINVAL
				    : vfs_pwrite(out->file, buf, (uint64_t)n,
						 out_off ? (uint64_t)*out_off : out->file->pos);
		else
			w = -EBADF;
	}
	kfree(buf);
	if (w <= 0)
		return w;
	if (in_off)
		*in_off += w;
	else
		in->file->pos += (uint64_t)w;
	if (out->kind == OF_FILE) {
		if (out_off)
			*out_off += w;
		else
			out->file->pos += (uint64_t)w;
	}
	return w;
}

/* An optional user offset: *p is NULL when there is none. */
static int get_off(uint64_t uptr, int64_t *val, int64_t **p)
{
	*p = NULL;
	if (!uptr)
		return 0;
	if (copy_from_user(val, uptr, sizeof(*val)))
		return -EFAULT;
	if (*val < 0)
		return -EINVAL;
	*p = val;
	return 0;
}

/* The two optional offsets of copy_file_range and splice (in, out). */
struct two_offs {
	int64_t in, out, *pin, *pout;
};

static int get_offs(uint64_t uin, uint64_t uout, struct two_offs *o)
{
	int err = get_off(uin, &o->in, &o->pin);
	return err ? err : get_off(uout, &o->out, &o->pout);
}

/* The moved offsets back to the program. */
static int put_offs(uint64_t uin, uint64_t uout, const struct two_offs *o)
{
	if ((o->pin && copy_to_user(uin, &o->in, sizeof(o->in))) ||
	    (o->pout && copy_to_user(uout, &o->out, sizeof(o->out))))
		return -EFAULT;
	return 0;
}

/* sendfile(out, in, offset, count): a read and a write through the kernel. */
SYS(sendfile)
{
	struct ofile *in = fd_get((int)a1), *out = fd_get((int)a0);
	if (!in || !out)
		return -EBADF;
	if (in->kind != OF_FILE || in->file->dir)
		return -EINVAL;
	if ((in->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	int64_t off, *offp;
	int err = get_off(a2, &off, &offp);
	if (err)
		return err;
	int64_t w = -ESTALE;
	struct file *pin = offp ? NULL : in->file, *pout = out->kind == OF_FILE ? out->file : NULL;
	ofile_hold_two(in, out); /* the locks may wait, letting the kernel lock go */
	file_pos_lock_two(pin, pout);
	if (out->kind == OF_SOCKET) { /* the host sends it: no bytes through the guest */
		uint64_t from = offp ? (uint64_t)off : in->file->pos;
		w = socket_sendfile(out, in, from, a3);
		if (w > 0 && offp)
			off += w;
		else if (w > 0)
			in->file->pos += (uint64_t)w;
	}
	if (w == -ESTALE)
		w = copy_through(in, offp, out, NULL, a3);
	file_pos_unlock_two(pin, pout);
	ofile_unhold_two(in, out);
	if (w >= 0 && offp && copy_to_user(a2, &off, sizeof(off)))
		return -EFAULT;
	return w;
}

/* copy_file_range's copy, with the positions it uses taken. */
static int64_t copy_range(struct ofile *in, struct ofile *out, struct two_offs *o, uint64_t len)
{
	uint64_t from = o->pin ? (uint64_t)o->in : in->file->pos;
	uint64_t to = o->pout ? (uint64_t)o->out : out->file->pos;
	if (in->file->vn == out->file->vn && from < to + len && to < from + len)
		return -EINVAL; /* overlapping ranges of one file */
	int64_t n = vfs_copy_range(in->file, from, out->file, to, len);
	if (n >= 0) {
		if (o->pin)
			o->in += n;
		else
			in->file->pos += (uint64_t)n;
		if (o->pout)
			o->out += n;
		else
			out->file->pos += (uint64_t)n;
	} else if (n == -ENOSYS || n == -EOPNOTSUPP || n == -EXDEV) {
		n = copy_through(in, o->pin, out, o->pout, len);
	}
	return n;
}

/* copy_file_range(in, off_in, out, off_out, len, flags): the server copies
 * when it can (no bytes through the guest), else through the kernel. */
SYS(copy_file_range)
{
	struct ofile *in = fd_get((int)a0), *out = fd_get((int)a2);
	if (!in || !out)
		return -EBADF;
	if (a5)
		return -EINVAL;
	if (in->kind != OF_FILE || out->kind != OF_FILE || in->file->dir || out->file->dir)
		return in->kind == OF_FILE && out->kind == OF_FILE ? -EISDIR : -EINVAL;
	if ((in->flags & O_ACCMODE) == O_WRONLY || !vfs_writable(out->file))
		return -EBADF;
	if (out->flags & O_APPEND)
		return -EBADF;
	struct two_offs o;
	int err = get_offs(a1, a3, &o);
	if (err)
		return err;
	struct file *pin = o.pin ? NULL : in->file, *pout = o.pout ? NULL : out->file;
	ofile_hold_two(in, out); /* the locks may wait, letting the kernel lock go */
	file_pos_lock_two(pin, pout);
	int64_t n = copy_range(in, out, &o, a4);
	file_pos_unlock_two(pin, pout);
	ofile_unhold_two(in, out);
	if (n < 0)
		return n;
	return put_offs(a1, a3, &o) ? -EFAULT : n;
}


/* splice's write of n bytes from a pipe to out (a pipe, the console, a
 * socket or a file, at *off if off): what out took, or -errno. */
static int64_t splice_out(struct ofile *out, const char *buf, uint64_t n, int64_t *off, bool nb)
{
	if (out->kind == OF_PIPE_WRITE)
		return pipe_write_wait(out->pipe, buf, n, nb || (out->flags & O_NONBLOCK));
	if (out->kind == OF_CONSOLE && (out->flags & O_ACCMODE) != O_RDONLY)
		return stdio_write(out, buf, n);
	if (out->kind == OF_SOCKET) /* SPLICE_F_NONBLOCK is for the pipe, as on Linux */
		return socket_write_kernel(out, buf, n, false);
	if (out->kind != OF_FILE || out->file->dir || !vfs_writable(out->file))
		return -EBADF;
	int64_t r = vfs_pwrite(out->file, buf, n, off ? (uint64_t)*off : out->file->pos);
	if (r > 0 && off)
		*off += r;
	else if (r > 0)
		out->file->pos += (uint64_t)r;
	return r;
}

/* splice from a pipe: the bytes leave it only once out took them. A
 * file's write lock is taken after the peek, as a wait for the pipe must
 * not hold it; if taking it waited, another reader may have emptied the
 * pipe meanwhile, so the peek is made again (and waited for again). */
static int64_t pipe_to(struct ofile *in, struct ofile *out, struct two_offs *o, char *buf,
		       uint64_t len, bool nb)
{
	bool nonblock = nb || (in->flags & O_NONBLOCK);
	struct sleep_lock *wl = out->kind == OF_FILE ? &out->file->vn->write_lock : NULL;
	for (;;) {
		int64_t r = pipe_peek_wait(in->pipe, buf, len, nonblock);
		if (r <= 0)
			return r;
		bool again = sleep_lock(wl);
		if (again)
			r = pipe_peek_wait(in->pipe, buf, len, true);
		if (r > 0) {
			r = splice_out(out, buf, (uint64_t)r, o->pout ? &o->out : NULL, nb);
			if (r > 0)
				pipe_drop(in->pipe, (uint64_t)r);
		}
		sleep_unlock(wl);
		if (!again || r != -EAGAIN || nonblock)
			return r;
	}
}

/* splice's move of at most len bytes, with the positions it uses taken. */
static int64_t splice_move(struct ofile *in, struct ofile *out, struct two_offs *o,
			   uint64_t len, bool nb)
{
	int64_t r;
	if (in->kind == OF_FILE) { /* to a pipe */
		if (in->file->dir || (in->flags & O_ACCMODE) == O_WRONLY)
			return -EBADF;
		r = copy_through(in, o->pin, out, NULL, len);
	} else if (in->kind == OF_SOCKET) { /* to a pipe */
		r = pipe_room_wait(out->pipe, nb || (out->flags & O_NONBLOCK));
		if (r <= 0)
			return r;
		len = len < (uint64_t)r ? len : (uint64_t)r;
		char *buf = kmalloc(len ? len : 1);
		if (!buf)
			return -ENOMEM;
		r = socket_read_kernel(in, buf, len, false);
		if (r > 0) /* room was there; only another thread could have taken it */
			r = pipe_write_wait(out->pipe, buf, (uint64_t)r, false);
		kfree(buf);
	} else if (in->kind != OF_PIPE_READ) {
		return -EINVAL;
	} else {
		char *buf = kmalloc(len ? len : 1);
		if (!buf)
			return -ENOMEM;
		r = pipe_to(in, out, o, buf, len, nb);
		kfree(buf);
	}
	return r;
}

/*
 * splice(2) with a pipe on one side, through a kernel buffer (GNU grep
 * drains its input with it). Offsets only for a file's side. Nothing
 * is lost: bytes leave the pipe only once the other end took them, and
 * a socket gives only what the pipe has room for.
 */
SYS(splice)
{
	struct ofile *in = fd_get((int)a0), *out = fd_get((int)a2);
	const uint64_t nonblock_flag = 2; /* SPLICE_F_NONBLOCK */
	bool nb = a5 & nonblock_flag;
	if (!in || !out)
		return -EBADF;
	if (in->kind != OF_PIPE_READ && out->kind != OF_PIPE_WRITE)
		return -EINVAL;
	/* An offset: ESPIPE on a pipe, EINVAL on what cannot pread (Linux). */
	if ((a1 && in->kind == OF_PIPE_READ) || (a3 && out->kind == OF_PIPE_WRITE))
		return -ESPIPE;
	if ((a1 && in->kind != OF_FILE) || (a3 && out->kind != OF_FILE))
		return -EINVAL;
	if (in->kind == OF_PIPE_READ && out->kind == OF_PIPE_WRITE && in->pipe == out->pipe)
		return -EINVAL;
	struct two_offs o;
	int err = get_offs(a1, a3, &o);
	if (err)
		return err;
	uint64_t len = a4 > IO_CHUNK ? IO_CHUNK : a4;
	struct file *pin = in->kind == OF_FILE && !o.pin ? in->file : NULL;
	struct file *pout = out->kind == OF_FILE && !o.pout ? out->file : NULL;
	ofile_hold_two(in, out); /* the locks may wait, letting the kernel lock go */
	file_pos_lock_two(pin, pout);
	int64_t r = splice_move(in, out, &o, len, nb);
	file_pos_unlock_two(pin, pout);
	ofile_unhold_two(in, out);
	return r > 0 && put_offs(a1, a3, &o) ? -EFAULT : r;
}

/* Extended attributes: none are kept (virtio-fs's are not passed on):
 * every name reads as absent and every list is empty, so ls -l and cp
 * -a go on quietly, as on a file system without any. */
SYS(getxattr) { return -ENODATA; }
SYS(listxattr) { return 0; }
