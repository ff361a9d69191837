/*
 * Calls that change the tree by name or change a file's attributes:
 * mkdir, unlink, rename, link, symlink, chmod, chown, truncate, utimes.
 * Paths become absolute here (user_path_at); the VFS (fs/vfs_write.c)
 * checks them as Linux does and the file system does the rest.
 */
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/time.h>
#include <pier/errno.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "process.h"
#include "syscall.h"

/* utimensat's special tv_nsec values (Linux ABI; not in the uapi headers). */
#define UTIME_NOW ((1L << 30) - 1L)
#define UTIME_OMIT ((1L << 30) - 2L)

/* An absolute kernel copy of the user path at dirfd, to be kfree'd. */
static int get_path(int dirfd, uint64_t upath, char **out)
{
	char *path = kmalloc(VFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	int err = user_path_at(dirfd, upath, path);
	if (err) {
		kfree(path);
		return err;
	}
	*out = path;
	return 0;
}

static uint32_t masked(uint64_t mode)
{
	return (uint32_t)mode & 07777 & ~current->proc->umask;
}

static int64_t do_mkdir(int dirfd, uint64_t upath, uint64_t mode)
{
	char *path;
	int err = get_path(dirfd, upath, &path);
	if (err)
		return err;
	err = vfs_mkdir(path, masked(mode) & 01777);
	kfree(path);
	return err;
}

SYS(mkdir) { return do_mkdir(AT_FDCWD, a0, a1); }
SYS(mkdirat) { return do_mkdir((int)a0, a1, a2); }

/* Regular files only: devices, FIFOs and sockets have no driver here. */
static int64_t do_mknod(int dirfd, uint64_t upath, uint64_t mode)
{
	uint32_t type = (uint32_t)mode & S_IFMT;
	if (type != 0 && type != S_IFREG)
		return type == S_IFCHR || type == S_IFBLK || type == S_IFIFO || type == S_IFSOCK
			       ? -EPERM
			       : -EINVAL;
	int64_t fd = sys_open_at(dirfd, upath, O_WRONLY | O_CREAT | O_EXCL, mode);
	return fd < 0 ? fd : fd_close((int)fd);
}

SYS(mknod) { return do_mknod(AT_FDCWD, a0, a1); }
SYS(mknodat) { return do_mknod((int)a0, a1, a2); }

static int64_t do_symlink(uint64_t utarget, int dirfd, uint64_t upath)
{
	char *target = kmalloc(VFS_PATH_MAX), *path = NULL;
	if (!target)
		return -ENOMEM;
	int64_t n = strncpy_from_user(target, utarget, VFS_PATH_MAX);
	int err = n < 0 ? (int)n : n >= VFS_PATH_MAX ? -ENAMETOOLONG : 0;
	if (!err && !(err = get_path(dirfd, upath, &path))) {
		err = vfs_symlink(target, path);
		kfree(path);
	}
	kfree(target);
	return err;
}

SYS(symlink) { return do_symlink(a0, AT_FDCWD, a1); }
SYS(symlinkat) { return do_symlink(a0, (int)a1, a2); }

static int64_t do_unlink(int dirfd, uint64_t upath, uint64_t flags)
{
	if (flags & ~(uint64_t)AT_REMOVEDIR)
		return -EINVAL;
	char *path;
	int err = get_path(dirfd, upath, &path);
	if (err)
		return err;
	err = flags & AT_REMOVEDIR ? vfs_rmdir(path) : vfs_unlink(path);
	kfree(path);
	return err;
}

SYS(unlink) { return do_unlink(AT_FDCWD, a0, 0); }
SYS(unlinkat) { return do_unlink((int)a0, a1, a2); }
SYS(rmdir) { return do_unlink(AT_FDCWD, a0, AT_REMOVEDIR); }

/* Two user paths, each at its own dirfd, for rename and link. */
static int64_t two_paths(int olddirfd, uint64_t uold, int newdirfd, uint64_t unew, char **o,
			 char **n)
{
	int err = get_path(olddirfd, uold, o);
	if (err)
		return err;
	if ((err = get_path(newdirfd, unew, n)))
		kfree(*o);
	return err;
}

/* If path is `from` or below it, rewrites it to be below `to`: 1 if it did. */
static int rebase(char *path, const char *from, const char *to)
{
	size_t f = strlen(from), t = strlen(to), p = strlen(path);
	if (strncmp(path, from, f) != 0 || (path[f] != 0 && path[f] != '/'))
		return 0;
	if (p - f + t >= VFS_PATH_MAX)
		return 0; /* too long to follow: it keeps the old name */
	memmove(path + t, path + f, p - f + 1);
	memcpy(path, to, t);
	return 1;
}

/*
 * Descriptors remember the path they were opened by (for *at() calls and
 * fchdir), and so does the working directory: a rename the program makes
 * carries them along, as Linux's descriptors follow their inode.
 */
static void follow_rename(const char *o, const char *n, bool exchange)
{
	for (int fd = 0; fd < MAX_FDS; fd++) {
		struct ofile *of = current->proc->fds[fd];
		bool seen = false; /* dup'd descriptors share one path: once each */
		for (int e = 0; of && e < fd && !seen; e++)
			seen = current->proc->fds[e] == of;
		if (of && !seen && of->kind == OF_FILE && of->path &&
		    !rebase(of->path, o, n) && exchange)
			rebase(of->path, n, o);
	}
	if (!rebase(current->proc->cwd, o, n) && exchange)
		rebase(current->proc->cwd, n, o);
}

static int64_t do_rename(int olddirfd, uint64_t uold, int newdirfd, uint64_t unew,
			 uint64_t flags)
{
	char *o, *n;
	int err = (int)two_paths(olddirfd, uold, newdirfd, unew, &o, &n);
	if (err)
		return err;
	err = flags > 0xffffffffu ? -EINVAL : vfs_rename(o, n, (uint32_t)flags);
	if (!err)
		follow_rename(o, n, flags & RENAME_EXCHANGE);
	kfree(o);
	kfree(n);
	return err;
}

SYS(rename) { return do_rename(AT_FDCWD, a0, AT_FDCWD, a1, 0); }
SYS(renameat) { return do_rename((int)a0, a1, (int)a2, a3, 0); }
SYS(renameat2) { return do_rename((int)a0, a1, (int)a2, a3, a4); }

static int64_t do_link(int olddirfd, uint64_t uold, int newdirfd, uint64_t unew, uint64_t flags)
{
	if (flags & ~(uint64_t)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	char *o, *n;
	int err = (int)two_paths(olddirfd, uold, newdirfd, unew, &o, &n);
	if (err)
		return err;
	err = vfs_link(o, n, flags & AT_SYMLINK_FOLLOW);
	kfree(o);
	kfree(n);
	return err;
}

SYS(link) { return do_link(AT_FDCWD, a0, AT_FDCWD, a1, 0); }
SYS(linkat) { return do_link((int)a0, a1, (int)a2, a3, a4); }

/* ---- attributes: by path (NULL upath: of the descriptor) ---- */

static int64_t setattr_at(int dirfd, uint64_t upath, bool follow, const struct vfs_setattr *a)
{
	if (!upath) {
		struct ofile *of = fd_get(dirfd);
		if (!of)
			return -EBADF;
		if (of->kind != OF_FILE)
			return -EINVAL; /* the console and pipes have no attributes to change */
		ofile_hold(of); /* a truncation's write lock may wait, letting the kernel lock go */
		int err = vfs_setattr(of->file->vn, a, of->file);
		ofile_unhold(of);
		return err;
	}
	char *path;
	int err = get_path(dirfd, upath, &path);
	if (err)
		return err;
	struct vnode *v;
	if (!(err = vfs_resolve(path, follow, &v))) {
		err = S_ISLNK(v->attr.mode) && (a->valid & VFS_ATTR_MODE) ? -EOPNOTSUPP
									 : vfs_setattr(v, a, NULL);
		vnode_put(v);
	}
	kfree(path);
	return err;
}

static int64_t do_chmod(int dirfd, uint64_t upath, uint64_t mode)
{
	struct vfs_setattr a = { .valid = VFS_ATTR_MODE, .mode = (uint32_t)mode & 07777 };
	return setattr_at(dirfd, upath, true, &a);
}

SYS(chmod) { return do_chmod(AT_FDCWD, a0, a1); }
SYS(fchmodat) { return do_chmod((int)a0, a1, a2); }
SYS(fchmod) { return do_chmod((int)a0, 0, a1); }

static int64_t do_chown(int dirfd, uint64_t upath, uint64_t uid, uint64_t gid, bool follow)
{
	struct vfs_setattr a = { .uid = (uint32_t)uid, .gid = (uint32_t)gid };
	if ((uint32_t)uid != 0xffffffffu)
		a.valid |= VFS_ATTR_UID;
	if ((uint32_t)gid != 0xffffffffu)
		a.valid |= VFS_ATTR_GID;
	return setattr_at(dirfd, upath, follow, &a);
}

SYS(chown) { return do_chown(AT_FDCWD, a0, a1, a2, true); }
SYS(lchown) { return do_chown(AT_FDCWD, a0, a1, a2, false); }
SYS(fchown) { return do_chown((int)a0, 0, a1, a2, true); }

SYS(fchownat)
{
	if (a4 & AT_EMPTY_PATH) {
		char c;
		if (copy_from_user(&c, a1, 1))
			return -EFAULT;
		if (c == 0)
			return do_chown((int)a0, 0, a2, a3, true);
	}
	return do_chown((int)a0, a1, a2, a3, !(a4 & AT_SYMLINK_NOFOLLOW));
}

static int64_t do_truncate(int fd, uint64_t upath, uint64_t len)
{
	if ((int64_t)len < 0)
		return -EINVAL;
	struct vfs_setattr a = { .valid = VFS_ATTR_SIZE, .size = len };
	if (!upath) {
		struct ofile *of = fd_get(fd);
		if (!of)
			return -EBADF;
		if (of->kind != OF_FILE || of->file->dir || !vfs_writable(of->file))
			return -EINVAL; /* Linux: EINVAL unless open for writing */
	}
	return setattr_at(fd, upath, true, &a);
}

SYS(truncate) { return do_truncate(AT_FDCWD, a0, a1); }
SYS(ftruncate) { return do_truncate((int)a0, 0, a1); }

/* One time from user space: sec and nsec, or UTIME_NOW / UTIME_OMIT. */
static void set_time(struct vfs_setattr *a, bool mtime, int64_t sec, int64_t nsec)
{
	if (nsec == UTIME_OMIT)
		return;
	if (nsec == UTIME_NOW) {
		a->valid |= mtime ? VFS_ATTR_MTIME_NOW : VFS_ATTR_ATIME_NOW;
		return;
	}
	a->valid |= mtime ? VFS_ATTR_MTIME : VFS_ATTR_ATIME;
	if (mtime) {
		a->mtime = (uint64_t)sec;
		a->mtime_ns = (uint32_t)nsec;
	} else {
		a->atime = (uint64_t)sec;
		a->atime_ns = (uint32_t)nsec;
	}
}

/* times: two {sec, nsec} (unit_ns 1) or {sec, usec} (unit_ns 1000), or 0 for now. */
static int64_t do_utimes(int dirfd, uint64_t upath, uint64_t utimes, int64_t unit_ns,
			 bool follow)
{
	struct vfs_setattr a = { 0 };
	if (!utimes) {
		a.valid = VFS_ATTR_ATIME_NOW | VFS_ATTR_MTIME_NOW;
	} else {
		int64_t t[4];
		if (copy_from_user(t, utimes, sizeof(t)))
			return -EFAULT;
		for (int i = 0; i < 2; i++) {
			int64_t ns = t[2 * i + 1];
			bool special = unit_ns == 1 && (ns == UTIME_NOW || ns == UTIME_OMIT);
			if (!special && (ns < 0 || ns >= 1000000000 / unit_ns))
				return -EINVAL;
			set_time(&a, i == 1, t[2 * i], special ? ns : ns * unit_ns);
		}
		if (!a.valid)
			return 0; /* both omitted */
	}
	return setattr_at(dirfd, upath, follow, &a);
}

SYS(utimensat)
{
	if (a3 & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	return do_utimes((int)a0, a1, a2, 1, !(a3 & AT_SYMLINK_NOFOLLOW));
}

SYS(utimes) { return do_utimes(AT_FDCWD, a0, a1, 1000, true); }
SYS(futimesat) { return do_utimes((int)a0, a1, a2, 1000, true); }

SYS(utime)
{
	/* struct utimbuf: actime, modtime (whole seconds). */
	if (!a1)
		return do_utimes(AT_FDCWD, a0, 0, 1, true);
	int64_t t[2];
	if (copy_from_user(t, a1, sizeof(t)))
		return -EFAULT;
	struct vfs_setattr a = { 0 };
	set_time(&a, false, t[0], 0);
	set_time(&a, true, t[1], 0);
	return setattr_at(AT_FDCWD, a0, true, &a);
}

SYS(getgroups)
{
	return 0; /* no supplementary groups */
}
