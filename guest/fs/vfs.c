/*
 * VFS core: the vnode table, the name cache, mounts and path walking.
 *
 * The name cache maps (directory vnode, name) to a child vnode and holds a
 * reference on both, so a cached name keeps its vnode (and, for FUSE, the
 * server's lookup count) alive until the entry expires or the file system
 * is unmounted. Paths are resolved by lib/path_walk.c over vnodes.
 */
#include <linux/fcntl.h>
#include <pier/errno.h>
#include <pier/path_walk.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../kernel/console.h"
#include "../kernel/stats.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "vfs.h"

#define HASH_SIZE 4096
#define MAX_MOUNTS 32 /* /, /dev, /proc, /sys, /dev/shm, 8 shares, --tmpfs and a container's mounts */

uint32_t vfs_uid, vfs_gid;
uint64_t vfs_dcache_max = 32768;

struct dentry {
	struct vnode *dir, *child;
	uint64_t expire_ns;
	struct dentry *next;
	uint32_t namelen;
	char name[];
};

static struct vnode *vnodes[HASH_SIZE];
static struct dentry *dentries[HASH_SIZE];
static uint64_t ndentries;
static struct mount mounts[MAX_MOUNTS];
static struct mount *active[MAX_MOUNTS]; /* in mount order; active[0] is "/" */
static int nmounts;
static uint64_t changes; /* the change clock (vfs.h) */
static uint64_t last_eviction; /* the clock when a vnode last went */

uint64_t vfs_changes(void)
{
	return changes;
}

uint64_t vfs_last_eviction(void)
{
	return last_eviction;
}

void vnode_attr_set(struct vnode *v)
{
	v->attr_version = ++changes;
}

void vnode_attr_changed(struct vnode *v)
{
	v->attr_expire_ns = 0;
	vnode_attr_set(v);
}

static uint32_t hash_ptr_id(const void *p, uint64_t id)
{
	uint64_t h = (uint64_t)p * 0x9e3779b97f4a7c15ULL ^ id * 0xc2b2ae3d27d4eb4fULL;
	return (uint32_t)(h >> 40) % HASH_SIZE;
}

static uint32_t hash_name(const struct vnode *dir, const char *name, uint32_t len)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)dir;
	for (uint32_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 1099511628211ULL;
	return (uint32_t)(h % HASH_SIZE);
}

struct vnode *vnode_get(struct mount *mnt, uint64_t id, const struct vnode_ops *ops,
			bool *created)
{
	uint32_t h = hash_ptr_id(mnt, id);
	for (struct vnode *v = vnodes[h]; v; v = v->hash_next)
		if (v->mnt == mnt && v->id == id) {
			v->refs++;
			*created = false;
			return v;
		}
	struct vnode *v = kzalloc(sizeof(*v));
	if (!v)
		return NULL;
	v->mnt = mnt;
	v->id = id;
	v->ops = ops;
	v->refs = 1;
	v->hash_next = vnodes[h];
	vnodes[h] = v;
	*created = true;
	return v;
}

void vnode_put(struct vnode *v)
{
	if (--v->refs > 0)
		return;
	struct vnode **pp = &vnodes[hash_ptr_id(v->mnt, v->id)];
	while (*pp != v)
		pp = &(*pp)->hash_next;
	*pp = v->hash_next;
	if (v->ops->evict)
		v->ops->evict(v);
	last_eviction = ++changes; /* its clock goes with it */
	kfree(v);
}

/* ---- name cache ---- */

static struct dentry **dcache_find(struct vnode *dir, const char *name, uint32_t len)
{
	struct dentry **pp = &dentries[hash_name(dir, name, len)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->dir == dir && (*pp)->namelen == len && memcmp((*pp)->name, name, len) == 0)
			return pp;
	return pp;
}

static void dcache_drop(struct dentry **pp)
{
	struct dentry *d = *pp;
	*pp = d->next;
	ndentries--;
	vnode_put(d->child);
	vnode_put(d->dir);
	kfree(d);
}

/*
 * Drops up to `count` names whose vnode nothing else holds, resuming where
 * the last pass stopped. Leaves go first by construction: a directory's
 * cached children hold references on it.
 */
static void dcache_shrink(uint64_t count)
{
	static uint32_t cursor;
	for (uint32_t scanned = 0; count && scanned < HASH_SIZE; scanned++) {
		struct dentry **pp = &dentries[cursor];
		while (*pp && count)
			if ((*pp)->child->refs == 1) {
				dcache_drop(pp);
				count--;
			} else {
				pp = &(*pp)->next;
			}
		if (count)
			cursor = (cursor + 1) % HASH_SIZE;
	}
}

void vfs_cache_entry(struct vnode *dir, const char *name, uint32_t len, struct vnode *child,
		     uint64_t expire_ns)
{
	struct dentry **pp = dcache_find(dir, name, len);
	if (*pp)
		dcache_drop(pp);
	struct dentry *d = kmalloc(sizeof(*d) + len);
	if (!d)
		return;
	d->dir = dir;
	d->child = child;
	dir->refs++;
	child->refs++;
	d->expire_ns = expire_ns;
	d->namelen = len;
	memcpy(d->name, name, len);
	d->next = dentries[hash_name(dir, name, len)];
	dentries[hash_name(dir, name, len)] = d;
	ndentries++;
	/* Every cached name pins a lookup (and a file descriptor) in the
	 * server, so the cache is bounded. */
	if (ndentries > vfs_dcache_max)
		dcache_shrink(ndentries - vfs_dcache_max * 3 / 4);
}

uint64_t vfs_dentries(void)
{
	return ndentries;
}

void vfs_uncache_entry(struct vnode *dir, const char *name, uint32_t len)
{
	dir->names_version = ++changes;
	struct dentry **pp = dcache_find(dir, name, len);
	if (*pp)
		dcache_drop(pp);
}

#define RELIST_AFTER 4
#define RELIST_PER 400 /* names per READDIRPLUS of 64 KiB, about */

/* A cached or freshly looked-up child, with a reference for the caller. */
int vfs_lookup(struct vnode *dir, const char *name, uint32_t len, struct vnode **out)
{
	struct dentry **pp = dcache_find(dir, name, len);
	if (*pp && (*pp)->expire_ns > time_ns()) {
		*out = (*pp)->child;
		(*out)->refs++;
		stats.name_hit++;
		return 0;
	}
	stats.name_miss++;
	if (*pp) {
		dcache_drop(pp); /* expired: ask the file system again */
		/* Expired names of a directory listed before: once their LOOKUPs
		 * cost what listing it again would (4, and one per 400 entries),
		 * list it again, which refreshes them all (the rest of a `stat`
		 * of the tree then asks nothing). */
		if (dir->ops->relist &&
		    ++dir->expired_names >= RELIST_AFTER + dir->entries / RELIST_PER) {
			dir->expired_names = 0;
			if (!dir->ops->relist(dir) && *(pp = dcache_find(dir, name, len)) &&
			    (*pp)->expire_ns > time_ns()) {
				*out = (*pp)->child;
				(*out)->refs++;
				return 0;
			}
		}
	}
	/* The walk has checked that dir is a searchable directory. */
	struct vnode *child;
	int err = dir->ops->lookup(dir, name, len, &child);
	if (err)
		return err;
	*out = child;
	return 0;
}

/* ---- mounts ---- */

static struct vnode *mounted_on(struct vnode *v)
{
	for (int i = 0; i < nmounts; i++)
		if (active[i]->covered == v)
			return active[i]->root;
	return NULL;
}

struct mount *vfs_mount_new(void *fs, void (*unmount)(struct mount *))
{
	for (int i = 0; i < MAX_MOUNTS; i++)
		if (!mounts[i].root && !mounts[i].fs) {
			mounts[i].fs = fs;
			mounts[i].unmount = unmount;
			return &mounts[i];
		}
	return NULL;
}

int vfs_mount(struct mount *m, const char *path, struct vnode *root)
{
	if (strlen(path) >= sizeof(m->path))
		return -ENAMETOOLONG;
	struct vnode *covered = NULL;
	if (nmounts == 0) {
		if (strcmp(path, "/") != 0)
			return -ENOENT; /* the first mount is the root */
	} else {
		int err = vfs_resolve(path, true, &covered);
		if (err)
			return err;
		if (!S_ISDIR(covered->attr.mode)) {
			vnode_put(covered);
			return -ENOTDIR;
		}
	}
	memcpy(m->path, path, strlen(path) + 1);
	m->root = root;
	m->covered = covered;
	active[nmounts++] = m;
	return 0;
}

void vfs_unmount_all(void)
{
	while (nmounts > 0) {
		struct mount *m = active[--nmounts];
		/* Drop every cached name inside this mount, then its root. */
		for (int h = 0; h < HASH_SIZE; h++)
			for (struct dentry **pp = &dentries[h]; *pp;)
				if ((*pp)->dir->mnt == m)
					dcache_drop(pp);
				else
					pp = &(*pp)->next;
		if (m->covered)
			vnode_put(m->covered);
		vnode_put(m->root);
		if (m->unmount)
			m->unmount(m);
		memset(m, 0, sizeof(*m));
	}
}

/* ---- permissions ---- */

/* The attributes a permission check reads (mode, owner) still valid: a
 * directory we just changed need not be asked again for a walk through it. */
static bool perm_fresh(const struct vnode *v)
{
	return v->perm_expire_ns > time_ns();
}

int vfs_permission(struct vnode *v, uint32_t mask)
{
	if (v->ops->getattr && !perm_fresh(v)) {
		int err = v->ops->getattr(v);
		if (err)
			return err;
	}
	uint32_t mode = v->attr.mode;
	if (vfs_uid == 0) {
		/* root passes, except exec of something with no x bit at all */
		if ((mask & 1) && !S_ISDIR(mode) && !(mode & 0111))
			return -EACCES;
		return 0;
	}
	uint32_t bits = v->attr.uid == vfs_uid ? (mode >> 6) & 7
			: v->attr.gid == vfs_gid ? (mode >> 3) & 7
						 : mode & 7;
	return (bits & mask) == mask ? 0 : -EACCES;
}

/* ---- path walk (lib/path_walk.c over vnodes) ---- */

static int pw_lookup(void *ctx, void *dir, const char *name, uint32_t len, void **child)
{
	(void)ctx;
	return vfs_lookup(dir, name, len, (struct vnode **)child);
}

static int pw_mode(void *ctx, void *node, uint32_t *mode)
{
	struct vnode *v = node;
	(void)ctx;
	int err = v->ops->getattr && !perm_fresh(v) ? v->ops->getattr(v) : 0;
	*mode = v->attr.mode;
	return err;
}

static int pw_may_search(void *ctx, void *dir)
{
	(void)ctx;
	return vfs_permission(dir, 1);
}

static int pw_readlink(void *ctx, void *node, char *buf, uint32_t size)
{
	struct vnode *v = node;
	(void)ctx;
	return v->ops->readlink ? v->ops->readlink(v, buf, size) : -EINVAL;
}

static void *pw_mounted(void *ctx, void *node)
{
	(void)ctx;
	struct vnode *m = mounted_on(node);
	if (m)
		m->refs++;
	return m;
}

static void pw_get(void *ctx, void *node)
{
	(void)ctx;
	((struct vnode *)node)->refs++;
}

static void pw_put(void *ctx, void *node)
{
	(void)ctx;
	vnode_put(node);
}

static const struct pw_ops vnode_walk_ops = {
	.lookup = pw_lookup, .mode = pw_mode, .may_search = pw_may_search,
	.readlink = pw_readlink, .mounted = pw_mounted, .get = pw_get, .put = pw_put,
};

/* full: the target's attributes all fresh (stat); else only its mode and
 * owner (a parent directory about to be changed: no GETATTR just because
 * our last change in it made its times stale). */
static int resolve(const char *path, bool follow, struct vnode **out, bool full)
{
	if (nmounts == 0)
		return -ENOENT;
	/* The walk state is 8 KiB of buffers: keep one ready rather than
	 * allocating it per call (a nested walk, should one ever happen,
	 * gets its own). */
	static struct path_walk spare;
	static bool spare_busy;
	bool mine = !spare_busy;
	struct path_walk *w = mine ? &spare : kmalloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	spare_busy = true;
	void *v;
	int err = path_walk(w, &vnode_walk_ops, NULL, active[0]->root, path, follow, &v);
	if (mine)
		spare_busy = false;
	else
		kfree(w);
	if (err)
		return err;
	*out = v;
	if ((*out)->ops->getattr && (full || !perm_fresh(*out)) &&
	    (err = (*out)->ops->getattr(*out)))
		vnode_put(*out);
	return err;
}

int vfs_resolve(const char *path, bool follow, struct vnode **out)
{
	return resolve(path, follow, out, true);
}

int vfs_resolve_parent(const char *path, struct vnode **out)
{
	return resolve(path, true, out, false);
}

int vfs_stat(const char *path, bool follow, struct vfs_stat *st)
{
	struct vnode *v;
	int err = vfs_resolve(path, follow, &v);
	if (err)
		return err;
	*st = v->attr;
	vnode_put(v);
	return 0;
}

/* ---- files ---- */

/*
 * open(O_CREAT) of a missing name: if the name is a dangling symlink,
 * Linux creates its target (following up to 40 links, as path walks do).
 */
static int create_through_links(const char *path, uint32_t flags, uint32_t mode,
				struct file **out)
{
	char *cur = kmalloc(VFS_PATH_MAX), *link = kmalloc(VFS_PATH_MAX);
	int err = cur && link ? 0 : -ENOMEM;
	if (!err)
		memcpy(cur, path, strlen(path) + 1);
	for (int hops = 0; !err; hops++) {
		struct vnode *v;
		if (vfs_resolve(cur, false, &v)) {
			err = vfs_create(cur, flags, mode, out); /* not there at all */
			break;
		}
		bool lnk = S_ISLNK(v->attr.mode);
		int n = !lnk || !v->ops->readlink ? -EINVAL
			: hops < 40			? v->ops->readlink(v, link, VFS_PATH_MAX)
							: -ELOOP;
		vnode_put(v);
		if (!lnk) {
			err = -ENOENT; /* appeared meanwhile: let the caller's answer stand */
			break;
		}
		if (n < 0) {
			err = n;
			break;
		}
		/* A relative target is relative to the link's directory. */
		size_t dir = strlen(cur);
		while (dir > 1 && cur[dir - 1] == '/')
			dir--;
		while (dir > 0 && cur[dir - 1] != '/')
			dir--;
		if (link[0] == '/')
			dir = 0;
		if (dir + (size_t)n + 1 > VFS_PATH_MAX) {
			err = -ENAMETOOLONG;
			break;
		}
		memmove(cur + dir, link, (size_t)n + 1);
	}
	kfree(cur);
	kfree(link);
	return err;
}

int vfs_open(const char *path, uint32_t flags, uint32_t mode, struct file **out)
{
	uint32_t acc = flags & O_ACCMODE;
	bool excl = (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL);
	/* O_EXCL never follows a final symlink: it names an existing file. */
	struct vnode *v;
	int err = vfs_resolve(path, !(flags & O_NOFOLLOW) && !excl, &v);
	if (err == -ENOENT && (flags & O_CREAT))
		return excl || (flags & O_NOFOLLOW) ? vfs_create(path, flags, mode, out)
						   : create_through_links(path, flags, mode, out);
	if (err)
		return err;
	bool dir = S_ISDIR(v->attr.mode);
	bool wr = acc != O_RDONLY || (flags & O_TRUNC);
	if (excl)
		err = -EEXIST;
	else if (S_ISLNK(v->attr.mode))
		err = -ELOOP; /* O_NOFOLLOW on a symlink */
	else if ((flags & O_DIRECTORY) && !dir)
		err = -ENOTDIR;
	else if (dir && (acc != O_RDONLY || (flags & O_CREAT)))
		err = -EISDIR;
	else if (!dir && !S_ISREG(v->attr.mode) && !(S_ISCHR(v->attr.mode) && v->mnt->devices))
		err = -ENXIO; /* the share's devices, fifos and sockets: no driver here */
	else if (wr && (!v->ops->write || v->mnt->readonly))
		err = -EROFS;
	if (!err)
		err = vfs_permission(v, (acc == O_RDONLY ? 4 : acc == O_WRONLY ? 2 : 6) |
					    (flags & O_TRUNC ? 2 : 0));
	struct file *f = err ? NULL : kzalloc(sizeof(*f));
	if (!err && !f)
		err = -ENOMEM;
	if (!err) {
		f->vn = v;
		f->dir = dir;
		f->flags = flags;
		/* An O_TRUNC open truncates: a change of the file's size, under
		 * its write lock as every other (vfs.h). */
		struct sleep_lock *wl = wr && (flags & O_TRUNC) ? &v->write_lock : NULL;
		sleep_lock(wl);
		err = v->ops->open ? v->ops->open(f, flags) : 0;
		sleep_unlock(wl);
		if (err)
			kfree(f);
	}
	if (err) {
		vnode_put(v);
		return err;
	}
	*out = f;
	return 0;
}

int64_t vfs_pread(struct file *f, void *buf, uint64_t len, uint64_t off)
{
	if (f->dir)
		return -EISDIR;
	return f->vn->ops->read(f, buf, len, off);
}

int64_t vfs_pread_mapped(struct file *f, void *buf, uint64_t len, uint64_t off)
{
	if (f->dir)
		return -EISDIR;
	return f->vn->ops->read_mapped ? f->vn->ops->read_mapped(f, buf, len, off) : -EAGAIN;
}

int vfs_map_page(struct file *f, uint64_t off, uint64_t *pa, bool write)
{
	if (f->dir || !f->vn->ops->map_page)
		return -EOPNOTSUPP;
	return f->vn->ops->map_page(f, off, pa, write);
}

void vfs_unmap_page(struct file *f, uint64_t pa)
{
	if (f->vn->ops->unmap_page)
		f->vn->ops->unmap_page(f, pa);
}

int64_t vfs_read(struct file *f, void *buf, uint64_t len)
{
	int64_t n = vfs_pread(f, buf, len, f->pos);
	if (n > 0)
		f->pos += (uint64_t)n;
	return n;
}

int vfs_readdir(struct file *f, vfs_dirent_fn fn, void *arg)
{
	if (!f->dir)
		return -ENOTDIR;
	return f->vn->ops->readdir(f, fn, arg);
}

int vfs_readlink(const char *path, char *buf, uint32_t size)
{
	struct vnode *v;
	int err = vfs_resolve(path, false, &v);
	if (err)
		return err;
	err = S_ISLNK(v->attr.mode) ? v->ops->readlink(v, buf, size) : -EINVAL;
	vnode_put(v);
	return err;
}

int vfs_statfs(struct vnode *v, struct vfs_statfs *st)
{
	if (v->ops->statfs)
		return v->ops->statfs(v, st);
	*st = (struct vfs_statfs){ .bsize = 4096, .frsize = 4096, .namelen = 255 };
	return 0;
}

void vfs_close(struct file *f)
{
	/* FLUSH on the close of a file written through: the server may report
	 * a late write error there (close(2)'s status). */
	if (vfs_writable(f) && f->vn->ops->flush)
		f->vn->ops->flush(f);
	if (f->vn->ops->release)
		f->vn->ops->release(f);
	vnode_put(f->vn);
	kfree(f);
}
