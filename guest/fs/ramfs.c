/*
 * ramfs: a tree of nodes built once from a cpio archive (see ramfs.h).
 */
#include <pier/cpio.h>
#include <pier/errno.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../kernel/console.h"
#include "../mm/mm.h"
#include "vfs.h"
#include "ramfs.h"

struct rnode {
	struct vfs_stat st;
	const void *data;           /* file contents or symlink target */
	struct rnode *child, *sibling;
	uint32_t namelen;
	char name[256];
};

struct ramfs {
	struct rnode root;
	uint64_t next_ino;
};

static const struct vnode_ops ramfs_ops;

static struct rnode *find_child(struct rnode *dir, const char *name, uint32_t len)
{
	for (struct rnode *c = dir->child; c; c = c->sibling)
		if (c->namelen == len && memcmp(c->name, name, len) == 0)
			return c;
	return NULL;
}

static struct vnode *node_vnode(struct mount *m, struct rnode *n)
{
	bool created;
	/* The node's address is its identity within the mount. */
	struct vnode *v = vnode_get(m, (uint64_t)n, &ramfs_ops, &created);
	if (v && created) {
		v->priv = n;
		v->attr = n->st;
	}
	return v;
}

static int r_lookup(struct vnode *dir, const char *name, uint32_t len, struct vnode **out)
{
	struct rnode *c = find_child(dir->priv, name, len);
	if (!c)
		return -ENOENT;
	*out = node_vnode(dir->mnt, c);
	return *out ? 0 : -ENOMEM;
}

static int64_t r_read(struct file *f, void *buf, uint64_t len, uint64_t off)
{
	struct rnode *n = f->vn->priv;
	if (off >= n->st.size)
		return 0;
	uint64_t k = n->st.size - off < len ? n->st.size - off : len;
	memcpy(buf, (const char *)n->data + off, k);
	return (int64_t)k;
}

static int r_readdir(struct file *f, vfs_dirent_fn fn, void *arg)
{
	struct rnode *dir = f->vn->priv;
	uint64_t i = 0;
	for (struct rnode *c = dir->child; c; c = c->sibling, i++) {
		if (i < f->pos)
			continue;
		if (fn(arg, c->name, c->namelen, (c->st.mode & S_IFMT) >> 12, c->st.ino))
			break; /* refused: not consumed */
		f->pos = i + 1;
	}
	return 0;
}

static int r_readlink(struct vnode *v, char *buf, uint32_t size)
{
	struct rnode *n = v->priv;
	if (n->st.size + 1 > size)
		return -ENAMETOOLONG;
	memcpy(buf, n->data, n->st.size);
	buf[n->st.size] = 0;
	return (int)n->st.size;
}

static const struct vnode_ops ramfs_ops = {
	.lookup = r_lookup,
	.read = r_read,
	.readdir = r_readdir,
	.readlink = r_readlink,
};

/* Finds or creates each directory along path; returns the parent of the last part. */
static struct rnode *make_parents(struct ramfs *fs, const char *path, const char **last,
				  uint32_t *lastlen)
{
	struct rnode *dir = &fs->root;
	const char *p = path;
	for (;;) {
		while (*p == '/')
			p++;
		const char *name = p;
		while (*p && *p != '/')
			p++;
		uint32_t len = (uint32_t)(p - name);
		while (*p == '/')
			p++;
		if (!*p) {
			*last = name;
			*lastlen = len;
			return dir;
		}
		if (len == 0 || len > 255 || (len <= 2 && name[0] == '.' && (len == 1 || name[1] == '.')))
			return NULL;
		struct rnode *c = find_child(dir, name, len);
		if (!c) {
			c = kzalloc(sizeof(*c));
			if (!c)
				return NULL;
			c->st.mode = S_IFDIR | 0755;
			c->st.nlink = 2;
			c->st.ino = ++fs->next_ino;
			memcpy(c->name, name, len);
			c->namelen = len;
			c->sibling = dir->child;
			dir->child = c;
		}
		if (!S_ISDIR(c->st.mode))
			return NULL;
		dir = c;
	}
}

static int add_entry(struct ramfs *fs, const struct cpio_entry *e)
{
	const char *name = e->name;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	if (strcmp(name, ".") == 0 || !*name)
		return 0; /* the archive's root: ours already exists */
	const char *last;
	uint32_t len;
	struct rnode *dir = make_parents(fs, name, &last, &len);
	if (!dir || len == 0 || len > 255)
		return -EINVAL;
	struct rnode *n = find_child(dir, last, len);
	if (!n) {
		n = kzalloc(sizeof(*n));
		if (!n)
			return -ENOMEM;
		memcpy(n->name, last, len);
		n->namelen = len;
		n->sibling = dir->child;
		dir->child = n;
	}
	n->st = (struct vfs_stat){ .ino = ++fs->next_ino, .mode = e->mode, .nlink = e->nlink,
				   .uid = e->uid, .gid = e->gid, .mtime = e->mtime,
				   .size = S_ISDIR(e->mode) ? 0 : e->size,
				   .blocks = (e->size + 511) / 512, .blksize = 4096 };
	n->data = e->data;
	return 0;
}

int ramfs_mount_cpio(const void *archive, size_t len, const char *path)
{
	struct ramfs *fs = kzalloc(sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->root.st = (struct vfs_stat){ .ino = ++fs->next_ino, .mode = S_IFDIR | 0755, .nlink = 2 };
	struct cpio_iter it;
	struct cpio_entry e;
	int r, files = 0;
	cpio_iter_init(&it, archive, len);
	while ((r = cpio_next(&it, &e)) == 1) {
		int err = add_entry(fs, &e);
		if (err) {
			kprintf("ramfs: cannot add '%s' (%d)\n", e.name, err);
			return err;
		}
		files++;
	}
	if (r < 0) {
		kprintf("ramfs: bad initrd: %s\n", it.why ? it.why : "malformed");
		return r;
	}
	struct mount *m = vfs_mount_new(fs, NULL);
	struct vnode *root = m ? node_vnode(m, &fs->root) : NULL;
	if (!root)
		return -ENOMEM;
	int err = vfs_mount(m, path, root);
	if (!err)
		kprintf("ramfs: %d entries from the initrd mounted at %s\n", files, path);
	return err;
}
