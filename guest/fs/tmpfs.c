/*
 * tmpfs: a writable file system in guest RAM, for /dev/shm and (with a
 * read-only root, `--tmpfs /tmp`) scratch directories. Files are arrays
 * of pages, handed out as they are to mmap (map_page), so every mapping
 * of a file, MAP_SHARED, sees the same bytes (POSIX shared memory).
 * Directories are lists of names. A node lives while it has a name or a
 * vnode (an open file, a working directory); its pages are charged to
 * the mount's size limit (default: half of guest RAM, as Linux's).
 */
#include <linux/fcntl.h>
#include <pier/errno.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../arch/x86_64/memlayout.h"
#include "../kernel/console.h"
#include "../kernel/rtc.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "tmpfs.h"
#include "vfs.h"

#define PAGE 4096ULL
#define NAME_MAX_LEN 255

struct tent {
	struct tent *next;
	struct tnode *node;
	uint32_t len;
	char name[];
};

struct tnode {
	struct vfs_stat st;
	struct tnode *parent;      /* directories: for ".." */
	struct tent *entries;      /* directories */
	char *link;                /* symlinks: the target */
	uint64_t *pages;           /* regular files: physical pages, 0 = a hole */
	uint64_t npages;           /* slots in pages */
	bool has_vnode;            /* a vnode refers to it: it may not go yet */
};

struct tmpfs {
	uint64_t max_pages, used_pages, next_ino;
};

static const struct vnode_ops tmpfs_ops;

static struct tmpfs *fs_of(const struct vnode *v)
{
	return v->mnt->fs;
}

static struct tnode *node_of(const struct vnode *v)
{
	return v->priv;
}

static void stamp(struct vfs_stat *st, bool m, bool c)
{
	uint64_t ns = rtc_boot_epoch_ns() + time_ns();
	if (m) {
		st->mtime = ns / 1000000000ULL;
		st->mtime_ns = (uint32_t)(ns % 1000000000ULL);
	}
	if (c) {
		st->ctime = ns / 1000000000ULL;
		st->ctime_ns = (uint32_t)(ns % 1000000000ULL);
	}
}

static struct vnode *vnode_for(struct mount *m, struct tnode *n)
{
	bool created;
	struct vnode *v = vnode_get(m, (uint64_t)n, &tmpfs_ops, &created);
	if (v && created) {
		v->priv = n;
		v->attr = n->st;
		n->has_vnode = true;
	}
	return v;
}

static void free_pages_from(struct tmpfs *fs, struct tnode *n, uint64_t first)
{
	for (uint64_t i = first; i < n->npages; i++)
		if (n->pages[i]) {
			pmem_free(n->pages[i], 1);
			n->pages[i] = 0;
			fs->used_pages--;
		}
}

/* A node with no name left and no vnode: gone. */
static void maybe_free(struct tmpfs *fs, struct tnode *n)
{
	if (n->st.nlink || n->has_vnode)
		return;
	free_pages_from(fs, n, 0);
	kfree(n->pages);
	kfree(n->link);
	kfree(n);
}

static struct tnode *new_node(struct tmpfs *fs, uint32_t mode)
{
	struct tnode *n = kzalloc(sizeof(*n));
	if (!n)
		return NULL;
	n->st.ino = ++fs->next_ino;
	n->st.mode = mode;
	n->st.nlink = S_ISDIR(mode) ? 2 : 1;
	n->st.uid = vfs_uid;
	n->st.gid = vfs_gid;
	n->st.blksize = 4096;
	stamp(&n->st, true, true);
	n->st.atime = n->st.mtime, n->st.atime_ns = n->st.mtime_ns;
	return n;
}

static struct tent **find(struct tnode *dir, const char *name, uint32_t len)
{
	struct tent **pp = &dir->entries;
	while (*pp && !((*pp)->len == len && memcmp((*pp)->name, name, len) == 0))
		pp = &(*pp)->next;
	return pp;
}

static int add_entry(struct tnode *dir, const char *name, uint32_t len, struct tnode *n)
{
	if (len > NAME_MAX_LEN)
		return -ENAMETOOLONG;
	struct tent *e = kmalloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	e->node = n;
	e->len = len;
	memcpy(e->name, name, len);
	e->next = dir->entries;
	dir->entries = e;
	dir->st.size++;
	stamp(&dir->st, true, true);
	return 0;
}

static void drop_entry(struct tnode *dir, struct tent **pp)
{
	struct tent *e = *pp;
	*pp = e->next;
	kfree(e);
	dir->st.size--;
	stamp(&dir->st, true, true);
}

/* ---- reading ---- */

static int t_lookup(struct vnode *dir, const char *name, uint32_t len, struct vnode **out)
{
	struct tent *e = *find(node_of(dir), name, len);
	if (!e)
		return -ENOENT;
	*out = vnode_for(dir->mnt, e->node);
	return *out ? 0 : -ENOMEM;
}

static int t_getattr(struct vnode *v)
{
	struct tnode *n = node_of(v);
	n->st.blocks = 0;
	for (uint64_t i = 0; i < n->npages; i++)
		n->st.blocks += n->pages[i] ? 8 : 0;
	v->attr = n->st;
	return 0;
}

/* Sets the size: pages past it go, the tail of the last one is zeroed. */
static int resize(struct tmpfs *fs, struct tnode *n, uint64_t size)
{
	uint64_t need = (size + PAGE - 1) / PAGE;
	if (need > n->npages) {
		uint64_t cap = n->npages ? n->npages : 4;
		while (cap < need)
			cap *= 2;
		uint64_t *p = kzalloc(cap * sizeof(uint64_t));
		if (!p)
			return -ENOMEM;
		if (n->npages)
			memcpy(p, n->pages, n->npages * sizeof(uint64_t));
		kfree(n->pages);
		n->pages = p;
		n->npages = cap;
	}
	if (size < n->st.size) {
		free_pages_from(fs, n, need);
		if (size % PAGE && n->pages[size / PAGE])
			memset((uint8_t *)phys_to_virt(n->pages[size / PAGE]) + size % PAGE, 0,
			       PAGE - size % PAGE);
	}
	n->st.size = size;
	return 0;
}

static int t_open(struct file *f, uint32_t flags)
{
	struct tnode *n = node_of(f->vn);
	if ((flags & O_TRUNC) && S_ISREG(n->st.mode) && vfs_writable(f) && n->st.size) {
		int err = resize(fs_of(f->vn), n, 0);
		if (err)
			return err;
		stamp(&n->st, true, true);
	}
	return 0;
}

static int64_t t_read(struct file *f, void *buf, uint64_t len, uint64_t off)
{
	struct tnode *n = node_of(f->vn);
	if (off >= n->st.size)
		return 0;
	if (len > n->st.size - off)
		len = n->st.size - off;
	for (uint64_t done = 0; done < len;) {
		uint64_t at = off + done, take = PAGE - at % PAGE;
		if (take > len - done)
			take = len - done;
		uint64_t pa = n->pages[at / PAGE];
		if (pa)
			memcpy((uint8_t *)buf + done, (uint8_t *)phys_to_virt(pa) + at % PAGE, take);
		else
			memset((uint8_t *)buf + done, 0, take); /* a hole */
		done += take;
	}
	return (int64_t)len;
}

static int page_at(struct tmpfs *fs, struct tnode *n, uint64_t i, uint64_t *pa)
{
	if (!n->pages[i]) {
		if (fs->used_pages >= fs->max_pages)
			return -ENOSPC;
		if (!(n->pages[i] = pmem_alloc(1)))
			return -ENOSPC;
		fs->used_pages++;
	}
	*pa = n->pages[i];
	return 0;
}

static int64_t t_write(struct file *f, const void *buf, uint64_t len, uint64_t off)
{
	struct tmpfs *fs = fs_of(f->vn);
	struct tnode *n = node_of(f->vn);
	if (off + len > n->st.size) {
		int err = resize(fs, n, off + len);
		if (err)
			return err;
	}
	uint64_t done = 0;
	while (done < len) {
		uint64_t at = off + done, take = PAGE - at % PAGE, pa;
		if (take > len - done)
			take = len - done;
		int err = page_at(fs, n, at / PAGE, &pa);
		if (err) {
			resize(fs, n, at > n->st.size ? n->st.size : at); /* what got written */
			if (!done)
				return err;
			break;
		}
		memcpy((uint8_t *)phys_to_virt(pa) + at % PAGE, (const uint8_t *)buf + done, take);
		done += take;
	}
	stamp(&n->st, true, true);
	return (int64_t)done;
}

static int t_map_page(struct file *f, uint64_t off, uint64_t *pa, bool write)
{
	(void)write;
	struct tnode *n = node_of(f->vn);
	if (!S_ISREG(n->st.mode))
		return -EOPNOTSUPP;
	if (off >= n->st.size)
		return -ENXIO; /* past the end: SIGBUS, as Linux */
	int err = page_at(fs_of(f->vn), n, off / PAGE, pa);
	return err == -ENOSPC ? -ENOMEM : err;
}

static void t_unmap_page(struct file *f, uint64_t pa)
{
	(void)f, (void)pa; /* the file keeps its page */
}

static int t_readdir(struct file *f, vfs_dirent_fn fn, void *arg)
{
	struct tnode *dir = node_of(f->vn);
	uint64_t i = 0;
	if (f->pos == 0) {
		if (fn(arg, ".", 1, S_IFDIR >> 12, dir->st.ino))
			return 0;
		f->pos = 1;
	}
	if (f->pos == 1) {
		struct tnode *up = dir->parent ? dir->parent : dir;
		if (fn(arg, "..", 2, S_IFDIR >> 12, up->st.ino))
			return 0;
		f->pos = 2;
	}
	for (struct tent *e = dir->entries; e; e = e->next, i++) {
		if (i + 2 < f->pos)
			continue;
		if (fn(arg, e->name, e->len, (e->node->st.mode & S_IFMT) >> 12, e->node->st.ino))
			return 0;
		f->pos = i + 3;
	}
	return 0;
}

static int t_readlink(struct vnode *v, char *buf, uint32_t size)
{
	struct tnode *n = node_of(v);
	uint32_t len = (uint32_t)strlen(n->link);
	if (len + 1 > size)
		return -ENAMETOOLONG;
	memcpy(buf, n->link, len + 1);
	return (int)len;
}

static void t_evict(struct vnode *v)
{
	struct tnode *n = node_of(v);
	n->has_vnode = false;
	maybe_free(fs_of(v), n);
}

static int t_statfs(struct vnode *v, struct vfs_statfs *st)
{
	struct tmpfs *fs = fs_of(v);
	*st = (struct vfs_statfs){ .blocks = fs->max_pages, .bfree = fs->max_pages - fs->used_pages,
				   .bavail = fs->max_pages - fs->used_pages, .files = 1 << 20,
				   .ffree = (1 << 20) - fs->next_ino, .bsize = 4096, .frsize = 4096,
				   .namelen = NAME_MAX_LEN };
	return 0;
}

/* ---- changing the tree ---- */

static int make(struct vnode *dirv, const char *name, uint32_t len, uint32_t mode,
		struct tnode **out)
{
	struct tnode *dir = node_of(dirv);
	if (*find(dir, name, len))
		return -EEXIST;
	struct tnode *n = new_node(fs_of(dirv), mode);
	if (!n)
		return -ENOMEM;
	int err = add_entry(dir, name, len, n);
	if (err) {
		kfree(n);
		return err;
	}
	if (S_ISDIR(mode)) {
		n->parent = dir;
		dir->st.nlink++;
	}
	*out = n;
	return 0;
}

static int t_create(struct vnode *dir, const char *name, uint32_t len, uint32_t mode,
		    struct file *f)
{
	struct tnode *n;
	int err = make(dir, name, len, S_IFREG | (mode & 07777), &n);
	if (err)
		return err;
	f->vn = vnode_for(dir->mnt, n);
	return f->vn ? 0 : -ENOMEM;
}

static int t_mkdir(struct vnode *dir, const char *name, uint32_t len, uint32_t mode)
{
	struct tnode *n;
	return make(dir, name, len, S_IFDIR | (mode & 07777), &n);
}

static int t_symlink(struct vnode *dir, const char *name, uint32_t len, const char *target)
{
	uint64_t tl = strlen(target);
	char *copy = kmalloc(tl + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, target, tl + 1);
	struct tnode *n;
	int err = make(dir, name, len, S_IFLNK | 0777, &n);
	if (err) {
		kfree(copy);
		return err;
	}
	n->link = copy;
	n->st.size = tl;
	return 0;
}

static int t_link(struct vnode *v, struct vnode *dir, const char *name, uint32_t len)
{
	struct tnode *n = node_of(v), *d = node_of(dir);
	if (S_ISDIR(n->st.mode))
		return -EPERM;
	if (*find(d, name, len))
		return -EEXIST;
	int err = add_entry(d, name, len, n);
	if (!err) {
		n->st.nlink++;
		stamp(&n->st, false, true);
	}
	return err;
}

static int t_unlink(struct vnode *dirv, const char *name, uint32_t len, bool isdir)
{
	struct tnode *dir = node_of(dirv);
	struct tent **pp = find(dir, name, len);
	if (!*pp)
		return -ENOENT;
	struct tnode *n = (*pp)->node;
	if (isdir != S_ISDIR(n->st.mode))
		return isdir ? -ENOTDIR : -EISDIR;
	if (isdir && n->entries)
		return -ENOTEMPTY;
	drop_entry(dir, pp);
	if (isdir) {
		dir->st.nlink--;
		n->st.nlink = 0;
	} else {
		n->st.nlink--;
	}
	stamp(&n->st, false, true);
	maybe_free(fs_of(dirv), n);
	return 0;
}

/* Whether a is b or one of b's ancestors (a rename into itself). */
static bool is_ancestor(const struct tnode *a, const struct tnode *b)
{
	for (; b; b = b->parent)
		if (a == b)
			return true;
	return false;
}

static int t_rename(struct vnode *odirv, const char *oname, uint32_t olen, struct vnode *ndirv,
		    const char *nname, uint32_t nlen, uint32_t flags)
{
	struct tnode *odir = node_of(odirv), *ndir = node_of(ndirv);
	struct tent **op = find(odir, oname, olen);
	if (!*op)
		return -ENOENT;
	struct tnode *n = (*op)->node;
	if (flags & ~1u) /* RENAME_NOREPLACE only; EXCHANGE and WHITEOUT: not here */
		return -EINVAL;
	if (S_ISDIR(n->st.mode) && is_ancestor(n, ndir))
		return -EINVAL;
	struct tent **np = find(ndir, nname, nlen);
	if (*np && (*np)->node == n)
		return 0; /* two names of one file: nothing to do */
	if (*np) {
		if (flags & 1)
			return -EEXIST;
		struct tnode *victim = (*np)->node;
		if (S_ISDIR(n->st.mode) != S_ISDIR(victim->st.mode))
			return S_ISDIR(n->st.mode) ? -ENOTDIR : -EISDIR;
		if (S_ISDIR(victim->st.mode) && victim->entries)
			return -ENOTEMPTY;
		int err = t_unlink(ndirv, nname, nlen, S_ISDIR(victim->st.mode));
		if (err)
			return err;
		op = find(odir, oname, olen); /* the list may have changed */
	}
	int err = add_entry(ndir, nname, nlen, n);
	if (err)
		return err;
	drop_entry(odir, find(odir, oname, olen));
	if (S_ISDIR(n->st.mode) && odir != ndir) {
		odir->st.nlink--;
		ndir->st.nlink++;
		n->parent = ndir;
	}
	stamp(&n->st, false, true);
	return 0;
}

static int t_setattr(struct vnode *v, const struct vfs_setattr *a, struct file *f)
{
	(void)f;
	struct tnode *n = node_of(v);
	if (a->valid & VFS_ATTR_SIZE) {
		int err = resize(fs_of(v), n, a->size);
		if (err)
			return err;
		stamp(&n->st, true, false);
	}
	if (a->valid & VFS_ATTR_MODE)
		n->st.mode = (n->st.mode & S_IFMT) | (a->mode & 07777);
	if (a->valid & VFS_ATTR_UID)
		n->st.uid = a->uid;
	if (a->valid & VFS_ATTR_GID)
		n->st.gid = a->gid;
	uint64_t ns = rtc_boot_epoch_ns() + time_ns();
	if (a->valid & VFS_ATTR_ATIME)
		n->st.atime = a->atime, n->st.atime_ns = a->atime_ns;
	if (a->valid & VFS_ATTR_ATIME_NOW)
		n->st.atime = ns / 1000000000ULL, n->st.atime_ns = (uint32_t)(ns % 1000000000ULL);
	if (a->valid & VFS_ATTR_MTIME)
		n->st.mtime = a->mtime, n->st.mtime_ns = a->mtime_ns;
	if (a->valid & VFS_ATTR_MTIME_NOW)
		stamp(&n->st, true, false);
	stamp(&n->st, false, true);
	v->attr = n->st;
	return 0;
}

static int t_fsync(struct file *f, bool datasync)
{
	(void)f, (void)datasync;
	return 0; /* RAM is as durable as it gets */
}

static int t_fallocate(struct file *f, uint32_t mode, uint64_t off, uint64_t len)
{
	struct tnode *n = node_of(f->vn);
	if (mode & ~1u) /* FALLOC_FL_KEEP_SIZE; punching holes: not here */
		return -EOPNOTSUPP;
	uint64_t end = off + len;
	if (end > n->st.size && !(mode & 1)) {
		int err = resize(fs_of(f->vn), n, end);
		if (err)
			return err;
	}
	/* Allocate what is inside the file now, so later writes cannot fail. */
	uint64_t last = end < n->st.size ? end : n->st.size;
	for (uint64_t p = off / PAGE; p * PAGE < last; p++) {
		uint64_t pa;
		int err = page_at(fs_of(f->vn), n, p, &pa);
		if (err)
			return err;
	}
	return 0;
}

static const struct vnode_ops tmpfs_ops = {
	.lookup = t_lookup,
	.getattr = t_getattr,
	.open = t_open,
	.read = t_read,
	.map_page = t_map_page,
	.unmap_page = t_unmap_page,
	.readdir = t_readdir,
	.readlink = t_readlink,
	.evict = t_evict,
	.statfs = t_statfs,
	.create = t_create,
	.mkdir = t_mkdir,
	.symlink = t_symlink,
	.link = t_link,
	.unlink = t_unlink,
	.rename = t_rename,
	.setattr = t_setattr,
	.write = t_write,
	.fsync = t_fsync,
	.fallocate = t_fallocate,
};

int tmpfs_mount(const char *path, uint64_t max_bytes)
{
	struct tmpfs *fs = kzalloc(sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->max_pages = max_bytes ? max_bytes / PAGE : pmem_total_pages() / 2;
	struct tnode *root = new_node(fs, S_IFDIR | 01777); /* sticky, writable by all */
	struct mount *m = root ? vfs_mount_new(fs, NULL) : NULL;
	struct vnode *v = m ? vnode_for(m, root) : NULL;
	if (!v) {
		kfree(root);
		kfree(fs);
		return -ENOMEM;
	}
	int err = vfs_mount(m, path, v);
	if (!err)
		kprintf("tmpfs at %s: %llu KiB at most\n", path,
			(unsigned long long)(fs->max_pages * 4));
	return err;
}
