/*
 * Calls that would change the file system. The file system is read-only
 * for now, but the answer must still be the one Linux gives on a
 * read-only mount, which checks the path first: a missing parent is
 * ENOENT, an existing name for mkdir is EEXIST, and only then EROFS.
 */
#include <linux/fcntl.h>
#include <pier/errno.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../mm/mm.h"
#include "process.h"
#include "syscall.h"

enum change { MODIFY, CREATE };

/*
 * The error for changing (MODIFY: an existing name; CREATE: making a new
 * one) the path at dirfd/upath. When the name exists and mode is not NULL,
 * *mode gets its type and permissions.
 */
static int64_t rofs_error_mode(int dirfd, uint64_t upath, enum change what, bool follow,
			       uint32_t *mode)
{
	char *path = kmalloc(VFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	int err = user_path_at(dirfd, upath, path);
	struct vnode *v;
	if (!err) {
		err = vfs_resolve(path, follow, &v);
		if (!err) {
			if (mode)
				*mode = v->attr.mode;
			vnode_put(v);
			err = what == CREATE ? -EEXIST : -EROFS;
		} else if (err == -ENOENT && what == CREATE) {
			/* Missing: fine to create if the parent is a directory. */
			size_t n = strlen(path);
			while (n > 1 && path[n - 1] == '/')
				path[--n] = 0;
			char *slash = path + n;
			while (slash > path && *slash != '/')
				slash--;
			if (slash == path)
				slash[1] = 0;
			else
				*slash = 0;
			err = vfs_resolve(path, true, &v);
			if (!err) {
				err = S_ISDIR(v->attr.mode) ? -EROFS : -ENOTDIR;
				vnode_put(v);
			}
		}
	}
	kfree(path);
	return err;
}

static int64_t rofs_error(int dirfd, uint64_t upath, enum change what, bool follow)
{
	return rofs_error_mode(dirfd, upath, what, follow, NULL);
}

int64_t rofs_open_error(int dirfd, uint64_t upath, uint64_t flags)
{
	uint32_t mode = 0;
	int64_t err = rofs_error_mode(dirfd, upath, CREATE, !(flags & O_NOFOLLOW), &mode);
	if (err == -EEXIST) {
		if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
			return -EEXIST;
		/* It exists: writing a directory is EISDIR, anything else EROFS. */
		return S_ISDIR(mode) && (flags & O_ACCMODE) != O_RDONLY ? -EISDIR : -EROFS;
	}
	if (err == -EROFS && !(flags & O_CREAT))
		return -ENOENT; /* not there, and not asked to create it */
	return err;
}

SYS(creat) { return rofs_open_error(AT_FDCWD, a0, O_CREAT | O_WRONLY | O_TRUNC); }
SYS(mkdir) { return rofs_error(AT_FDCWD, a0, CREATE, false); }
SYS(mkdirat) { return rofs_error((int)a0, a1, CREATE, false); }
SYS(mknod) { return rofs_error(AT_FDCWD, a0, CREATE, false); }
SYS(mknodat) { return rofs_error((int)a0, a1, CREATE, false); }
SYS(symlink) { return rofs_error(AT_FDCWD, a1, CREATE, false); }
SYS(symlinkat) { return rofs_error((int)a1, a2, CREATE, false); }
SYS(rmdir) { return rofs_error(AT_FDCWD, a0, MODIFY, false); }
SYS(unlink) { return rofs_error(AT_FDCWD, a0, MODIFY, false); }
SYS(unlinkat) { return rofs_error((int)a0, a1, MODIFY, false); }
SYS(rename) { return rofs_error(AT_FDCWD, a0, MODIFY, false); }
SYS(renameat) { return rofs_error((int)a0, a1, MODIFY, false); }
SYS(renameat2) { return rofs_error((int)a0, a1, MODIFY, false); }

SYS(link)
{
	int64_t err = rofs_error(AT_FDCWD, a0, MODIFY, false);
	return err == -EROFS ? rofs_error(AT_FDCWD, a1, CREATE, false) : err;
}

SYS(linkat)
{
	int64_t err = rofs_error((int)a0, a1, MODIFY, a4 & AT_SYMLINK_FOLLOW);
	return err == -EROFS ? rofs_error((int)a2, a3, CREATE, false) : err;
}

SYS(chmod) { return rofs_error(AT_FDCWD, a0, MODIFY, true); }
SYS(chown) { return rofs_error(AT_FDCWD, a0, MODIFY, true); }
SYS(lchown) { return rofs_error(AT_FDCWD, a0, MODIFY, false); }
SYS(truncate) { return rofs_error(AT_FDCWD, a0, MODIFY, true); }
SYS(utime) { return rofs_error(AT_FDCWD, a0, MODIFY, true); }
SYS(utimes) { return rofs_error(AT_FDCWD, a0, MODIFY, true); }
SYS(futimesat) { return rofs_error((int)a0, a1, MODIFY, true); }
SYS(fchmodat) { return rofs_error((int)a0, a1, MODIFY, true); }
SYS(fchownat) { return rofs_error((int)a0, a1, MODIFY, !(a4 & AT_SYMLINK_NOFOLLOW)); }

SYS(utimensat)
{
	if (!a1) /* futimens(fd): the file behind the descriptor */
		return fd_get((int)a0) ? -EROFS : -EBADF;
	return rofs_error((int)a0, a1, MODIFY, !(a3 & AT_SYMLINK_NOFOLLOW));
}

SYS(fchmod) { return fd_get((int)a0) ? -EROFS : -EBADF; }
SYS(fchown) { return fd_get((int)a0) ? -EROFS : -EBADF; }

SYS(getgroups)
{
	return 0; /* no supplementary groups */
}
