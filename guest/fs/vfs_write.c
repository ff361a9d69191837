/*
 * VFS: the calls that change the tree and write files. They check what
 * Linux's VFS checks before a file system sees the request (the parent is
 * a searchable, writable directory; "." and ".." are refused with Linux's
 * errnos; renames stay within one mount) and keep the name cache true
 * afterwards. Everything else (does the target exist, is a directory
 * empty, is a rename moving a directory into itself) is the file system's
 * answer: the server checks it against the real tree anyway.
 *
 * A file system without write operations (ramfs) is read-only: EROFS. A
 * read-only share answers EROFS from the host; where Linux would first say
 * EEXIST or ENOENT, the name is looked up to say that instead.
 */
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <pier/errno.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../mm/mm.h"
#include "vfs.h"

/* The parent directory of an absolute path and its last component. */
struct split {
	struct vnode *dir;  /* referenced */
	const char *name;   /* inside the caller's path */
	uint32_t len;
	bool slash;         /* the path ended in '/': the name must be a directory */
};

enum last { LAST_NAME, LAST_DOT, LAST_DOTDOT, LAST_ROOT };

/* 0 with s filled (and *last saying what the name is), or -errno. */
static int split_path(const char *path, struct split *s, enum last *last)
{
	size_t n = strlen(path);
	if (n == 0 || path[0] != '/')
		return -ENOENT;
	if (n >= VFS_PATH_MAX)
		return -ENAMETOOLONG;
	s->slash = false;
	while (n > 1 && path[n - 1] == '/') {
		n--;
		s->slash = true;
	}
	if (n == 1) {
		*last = LAST_ROOT;
		return 0;
	}
	size_t cut = n;
	while (path[cut - 1] != '/')
		cut--;
	s->name = path + cut;
	s->len = (uint32_t)(n - cut);
	*last = s->len == 1 && s->name[0] == '.' ? LAST_DOT
		: s->len == 2 && s->name[0] == '.' && s->name[1] == '.' ? LAST_DOTDOT
									  : LAST_NAME;
	char *parent = kmalloc(VFS_PATH_MAX);
	if (!parent)
		return -ENOMEM;
	/* Everything before the last component ("/" for a name at the top). */
	size_t plen = cut > 1 ? cut - 1 : 1;
	memcpy(parent, path, plen);
	parent[plen] = 0;
	int err = vfs_resolve_parent(parent, &s->dir);
	kfree(parent);
	if (err)
		return err;
	if (!S_ISDIR(s->dir->attr.mode)) {
		vnode_put(s->dir);
		return -ENOTDIR;
	}
	/* Only real names are worth a permission check (dot names fail anyway). */
	if (*last == LAST_NAME && (err = vfs_permission(s->dir, 3))) {
		vnode_put(s->dir);
		return err;
	}
	return 0;
}

/* For a name in a read-only place: EEXIST if it exists (Linux's order), else e. */
static int exists_or(struct split *s, int e)
{
	struct vnode *v;
	if (e != -EROFS || vfs_lookup(s->dir, s->name, s->len, &v))
		return e;
	vnode_put(v);
	return -EEXIST;
}

/* Whether v's file system has the operation and its mount may change. */
static bool can(const struct vnode *v, const void *op)
{
	return op && !v->mnt->readonly;
}

static void expire(struct vnode *v)
{
	vnode_attr_changed(v);
}

int vfs_refresh(struct vnode *v)
{
	expire(v);
	v->perm_expire_ns = 0;
	return v->ops->getattr ? v->ops->getattr(v) : 0;
}

int vfs_may_write(struct vnode *v)
{
	if (!can(v, v->ops->write))
		return -EROFS;
	/* Only the server knows whether its share is read-only. */
	int err = v->ops->access ? v->ops->access(v, 2) : 0;
	return err == -EROFS ? err : 0;
}

bool vfs_writable(const struct file *f)
{
	return (f->flags & O_ACCMODE) != O_RDONLY;
}

int vfs_create(const char *path, uint32_t flags, uint32_t mode, struct file **out)
{
	struct split s;
	enum last last;
	int err = split_path(path, &s, &last);
	if (err)
		return err;
	if (last == LAST_ROOT)
		return -EISDIR;
	struct file *f = NULL;
	if (last != LAST_NAME || s.slash)
		err = -EISDIR; /* open("new/", O_CREAT) */
	else if (!can(s.dir, s.dir->ops->create))
		err = -EROFS;
	else if (!(f = kzalloc(sizeof(*f))))
		err = -ENOMEM;
	if (!err) {
		f->flags = flags;
		err = s.dir->ops->create(s.dir, s.name, s.len, mode, f);
		err = exists_or(&s, err);
	}
	if (!err) {
		expire(s.dir);
		*out = f;
	} else if (f) {
		kfree(f);
	}
	vnode_put(s.dir);
	return err;
}

/* mkdir and symlink: a new name that must not exist yet. */
static int make_name(const char *path, uint32_t mode, const char *target)
{
	struct split s;
	enum last last;
	int err = split_path(path, &s, &last);
	if (err)
		return err;
	if (last == LAST_ROOT)
		return -EEXIST;
	const void *op = target ? (const void *)s.dir->ops->symlink : (const void *)s.dir->ops->mkdir;
	if (last != LAST_NAME)
		err = -EEXIST;
	else if (target && s.slash)
		err = exists_or(&s, -ENOENT); /* "link/": only a directory may end in '/' */
	else if (!can(s.dir, op))
		err = exists_or(&s, -EROFS);
	else
		err = exists_or(&s, target ? s.dir->ops->symlink(s.dir, s.name, s.len, target)
					   : s.dir->ops->mkdir(s.dir, s.name, s.len, mode));
	if (!err)
		expire(s.dir);
	vnode_put(s.dir);
	return err;
}

int vfs_mkdir(const char *path, uint32_t mode)
{
	return make_name(path, mode, NULL);
}

int vfs_symlink(const char *target, const char *path)
{
	return target[0] ? make_name(path, 0, target) : -ENOENT;
}

int vfs_link(const char *oldpath, const char *newpath, bool follow)
{
	struct vnode *v;
	int err = vfs_resolve(oldpath, follow, &v);
	if (err)
		return err;
	struct split s;
	enum last last;
	if (S_ISDIR(v->attr.mode)) {
		vnode_put(v);
		return -EPERM;
	}
	if ((err = split_path(newpath, &s, &last))) {
		vnode_put(v);
		return err;
	}
	if (last != LAST_NAME)
		err = -EEXIST;
	else if (s.dir->mnt != v->mnt)
		err = -EXDEV;
	else if (!can(s.dir, s.dir->ops->link))
		err = exists_or(&s, -EROFS);
	else
		err = exists_or(&s, s.dir->ops->link(v, s.dir, s.name, s.len));
	if (!err) {
		expire(s.dir);
		expire(v); /* nlink */
	}
	if (last != LAST_ROOT)
		vnode_put(s.dir);
	vnode_put(v);
	return err;
}

/* unlink and rmdir: the name must exist and be of the right kind. */
static int remove(const char *path, bool isdir)
{
	struct split s;
	enum last last;
	int err = split_path(path, &s, &last);
	if (err)
		return err;
	if (last == LAST_ROOT)
		return isdir ? -EBUSY : -EISDIR;
	struct vnode *v = NULL;
	if (last == LAST_DOT)
		err = isdir ? -EINVAL : -EISDIR;
	else if (last == LAST_DOTDOT)
		err = isdir ? -ENOTEMPTY : -EISDIR;
	else
		err = vfs_lookup(s.dir, s.name, s.len, &v);
	if (!err && isdir && !S_ISDIR(v->attr.mode))
		err = -ENOTDIR;
	else if (!err && !isdir && S_ISDIR(v->attr.mode))
		err = -EISDIR;
	else if (!err && !isdir && s.slash)
		err = -ENOTDIR; /* "file/" */
	else if (!err && !can(s.dir, s.dir->ops->unlink))
		err = -EROFS;
	if (!err)
		err = s.dir->ops->unlink(s.dir, s.name, s.len, isdir);
	if (!err) {
		vfs_uncache_entry(s.dir, s.name, s.len);
		expire(s.dir);
		expire(v); /* nlink, for anyone still holding it open */
	}
	if (v)
		vnode_put(v);
	vnode_put(s.dir);
	return err;
}

int vfs_unlink(const char *path)
{
	return remove(path, false);
}

int vfs_rmdir(const char *path)
{
	return remove(path, true);
}

int vfs_rename(const char *oldpath, const char *newpath, uint32_t flags)
{
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	struct split o, n;
	enum last olast, nlast;
	int err = split_path(oldpath, &o, &olast);
	if (err)
		return err;
	if (olast == LAST_ROOT)
		return -EBUSY;
	if ((err = split_path(newpath, &n, &nlast))) {
		vnode_put(o.dir);
		return err;
	}
	if (nlast == LAST_ROOT) {
		vnode_put(o.dir);
		return -EBUSY;
	}
	struct vnode *v = NULL;
	if (olast != LAST_NAME || nlast != LAST_NAME)
		err = -EBUSY;
	else if (o.dir->mnt != n.dir->mnt)
		err = -EXDEV;
	else
		err = vfs_lookup(o.dir, o.name, o.len, &v);
	if (!err && (o.slash || n.slash) && !S_ISDIR(v->attr.mode))
		err = -ENOTDIR;
	if (!err && !can(o.dir, o.dir->ops->rename))
		err = -EROFS;
	/* What the new name held now loses a link (or moves): descriptors
	 * open on it must see that, as Linux's rename looks the target up too. */
	struct vnode *target = NULL;
	if (!err && vfs_lookup(n.dir, n.name, n.len, &target))
		target = NULL;
	if (!err)
		err = o.dir->ops->rename(o.dir, o.name, o.len, n.dir, n.name, n.len, flags);
	if (target) {
		expire(target);
		vnode_put(target);
	}
	if (!err) {
		/* Both names now mean something else (or nothing): ask again. */
		vfs_uncache_entry(o.dir, o.name, o.len);
		vfs_uncache_entry(n.dir, n.name, n.len);
		expire(o.dir);
		expire(n.dir);
		expire(v);
	}
	if (v)
		vnode_put(v);
	vnode_put(o.dir);
	vnode_put(n.dir);
	return err;
}

int vfs_setattr(struct vnode *v, const struct vfs_setattr *a, struct file *f)
{
	if (v->ops->getattr && v->ops->getattr(v))
		return -EIO;
	bool owner = vfs_uid == 0 || v->attr.uid == vfs_uid;
	if ((a->valid & (VFS_ATTR_MODE | VFS_ATTR_UID | VFS_ATTR_GID | VFS_ATTR_ATIME |
			 VFS_ATTR_MTIME)) && !owner)
		return -EPERM;
	if ((a->valid & VFS_ATTR_SIZE) && S_ISDIR(v->attr.mode))
		return -EISDIR;
	if ((a->valid & VFS_ATTR_SIZE) && !S_ISREG(v->attr.mode))
		return -EINVAL;
	if ((a->valid & VFS_ATTR_SIZE) && a->size > INT64_MAX)
		return -EFBIG;
	/* Truncating by name (or touching to now) needs write permission. */
	if ((a->valid & (VFS_ATTR_SIZE | VFS_ATTR_ATIME_NOW | VFS_ATTR_MTIME_NOW)) && !f && !owner) {
		int err = vfs_permission(v, 2);
		if (err)
			return err;
	}
	if (!can(v, v->ops->setattr))
		return -EROFS;
	struct sleep_lock *wl = a->valid & VFS_ATTR_SIZE ? &v->write_lock : NULL;
	sleep_lock(wl);
	int err = v->ops->setattr(v, a, f);
	sleep_unlock(wl);
	return err;
}

int64_t vfs_pwrite_back(struct file *f, const void *buf, uint64_t len, uint64_t off)
{
	if (f->dir)
		return -EISDIR;
	if (!vfs_writable(f))
		return -EBADF;
	if (!f->vn->ops->write)
		return -EROFS;
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
	if (len == 0)
		return 0;
	return f->vn->ops->write(f, buf, len, off);
}

int64_t vfs_pwrite(struct file *f, const void *buf, uint64_t len, uint64_t off)
{
	sleep_lock(&f->vn->write_lock);
	int64_t n = vfs_pwrite_back(f, buf, len, off);
	sleep_unlock(&f->vn->write_lock);
	return n;
}

int vfs_fsync(struct file *f, bool datasync)
{
	return f->vn->ops->fsync ? f->vn->ops->fsync(f, datasync) : 0;
}

int vfs_fallocate(struct file *f, uint32_t mode, uint64_t off, uint64_t len)
{
	if (!vfs_writable(f))
		return -EBADF;
	if (f->dir)
		return -EISDIR;
	if (off > INT64_MAX || len == 0 || len > INT64_MAX - off)
		return len == 0 ? -EINVAL : -EFBIG;
	if (!f->vn->ops->fallocate)
		return -EOPNOTSUPP;
	sleep_lock(&f->vn->write_lock);
	int err = f->vn->ops->fallocate(f, mode, off, len);
	sleep_unlock(&f->vn->write_lock);
	return err;
}

int64_t vfs_seek_data(struct file *f, uint64_t off, uint32_t whence)
{
	if (f->dir)
		return -EINVAL;
	int err = vfs_refresh(f->vn);
	if (err)
		return err;
	if (off >= f->vn->attr.size)
		return -ENXIO;
	int64_t r = f->vn->ops->seek_data ? f->vn->ops->seek_data(f, off, whence) : -ENOSYS;
	if (r != -ENOSYS)
		return r;
	/* No holes known: all data up to the end, and the one hole after it. */
	return whence == SEEK_DATA ? (int64_t)off : (int64_t)f->vn->attr.size;
}

int64_t vfs_copy_range(struct file *in, uint64_t off_in, struct file *out, uint64_t off_out,
		       uint64_t len)
{
	if (in->vn->mnt != out->vn->mnt || !in->vn->ops->copy_range)
		return -ENOSYS;
	sleep_lock(&out->vn->write_lock);
	int64_t n = in->vn->ops->copy_range(in, off_in, out, off_out, len);
	sleep_unlock(&out->vn->write_lock);
	return n;
}
