/*
 * devfs: the character devices every program may open, whatever the
 * root holds (a host directory's device nodes are the host's: the guest
 * never opens them through the share). Mounted over the root's /dev.
 *
 *   null     reads end at once, writes vanish
 *   zero     reads zeros, writes vanish
 *   full     reads zeros, writes fail with ENOSPC
 *   random, urandom   the kernel's generator (kernel/random.c)
 *   console, tty   the program's terminal (opened through linux/stdio.c:
 *            what the console's terminal streams are; tty without one is
 *            ENXIO); console's inode is theirs, so ttyname() finds it
 *   shm      a directory, for the tmpfs rootfs.c mounts over it
 *   fd, stdin, stdout, stderr   symlinks into /proc/self/fd (opening them
 *            is a duplicate of the descriptor: linux/fdtable.c fd_alias)
 */
#include <pier/errno.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../kernel/console.h"
#include "../kernel/random.h"
#include "../mm/mm.h"
#include "devfs.h"
#include "vfs.h"

enum dev { DEV_DIR, DEV_NULL, DEV_ZERO, DEV_FULL, DEV_RANDOM, DEV_URANDOM, DEV_CONSOLE,
	   DEV_TTY, DEV_SHM, DEV_FD, DEV_STDIN, DEV_STDOUT, DEV_STDERR, DEV_COUNT };

/* Name, Linux's device numbers (major 1: memory devices). */
static const struct {
	const char *name;
	uint32_t major, minor;
} devs[DEV_COUNT] = {
	[DEV_DIR] = { "", 0, 0 },
	[DEV_NULL] = { "null", 1, 3 },
	[DEV_ZERO] = { "zero", 1, 5 },
	[DEV_FULL] = { "full", 1, 7 },
	[DEV_RANDOM] = { "random", 1, 8 },
	[DEV_URANDOM] = { "urandom", 1, 9 },
	[DEV_CONSOLE] = { "console", 5, 1 },
	[DEV_TTY] = { "tty", 5, 0 },
	[DEV_SHM] = { "shm", 0, 0 },
	[DEV_FD] = { "fd", 0, 0 },
	[DEV_STDIN] = { "stdin", 0, 0 },
	[DEV_STDOUT] = { "stdout", 0, 0 },
	[DEV_STDERR] = { "stderr", 0, 0 },
};

/* Symlinks, as Linux's udev makes them. */
static const char *const link_target[DEV_COUNT] = {
	[DEV_FD] = "/proc/self/fd", [DEV_STDIN] = "/proc/self/fd/0",
	[DEV_STDOUT] = "/proc/self/fd/1", [DEV_STDERR] = "/proc/self/fd/2",
};

static bool dev_is_dir(enum dev d)
{
	return d == DEV_DIR || d == DEV_SHM;
}

static const struct vnode_ops devfs_ops;

static struct vnode *dev_vnode(struct mount *m, enum dev d)
{
	bool created;
	struct vnode *v = vnode_get(m, (uint64_t)d + 1, &devfs_ops, &created);
	if (v && created) {
		memset(&v->attr, 0, sizeof(v->attr));
		v->attr.ino = d == DEV_CONSOLE ? DEVFS_CONSOLE_INO : (uint64_t)d + 1;
		v->attr.nlink = dev_is_dir(d) ? 2 : 1;
		v->attr.mode = d == DEV_DIR ? (S_IFDIR | 0755) : d == DEV_SHM ? (S_IFDIR | 01777)
			     : link_target[d] ? (S_IFLNK | 0777) : (S_IFCHR | 0666);
		if (link_target[d])
			v->attr.size = strlen(link_target[d]);
		v->attr.rdev = devs[d].major << 8 | devs[d].minor; /* old encoding: fits */
		v->attr.blksize = 4096;
	}
	return v;
}

static enum dev dev_of(struct vnode *v)
{
	return (enum dev)(v->id - 1);
}

static int d_lookup(struct vnode *dir, const char *name, uint32_t len, struct vnode **out)
{
	if (dev_of(dir) != DEV_DIR)
		return -ENOENT; /* shm is empty until a tmpfs covers it */
	for (int d = DEV_NULL; d < DEV_COUNT; d++)
		if (strlen(devs[d].name) == len && memcmp(devs[d].name, name, len) == 0) {
			*out = dev_vnode(dir->mnt, (enum dev)d);
			return *out ? 0 : -ENOMEM;
		}
	return -ENOENT;
}

static int d_getattr(struct vnode *v)
{
	(void)v;
	return 0; /* they never change */
}

static int64_t d_read(struct file *f, void *buf, uint64_t len, uint64_t off)
{
	(void)off;
	switch (dev_of(f->vn)) {
	case DEV_NULL:
		return 0;
	case DEV_ZERO:
	case DEV_FULL:
		memset(buf, 0, len);
		return (int64_t)len;
	case DEV_RANDOM:
	case DEV_URANDOM:
		random_bytes(buf, len);
		return (int64_t)len;
	default:
		return -EISDIR;
	}
}

static int64_t d_write(struct file *f, const void *buf, uint64_t len, uint64_t off)
{
	(void)buf, (void)off;
	return dev_of(f->vn) == DEV_FULL ? -ENOSPC : (int64_t)len;
}

static int d_setattr(struct vnode *v, const struct vfs_setattr *a, struct file *f)
{
	(void)v, (void)a, (void)f;
	return 0; /* O_TRUNC of /dev/null, chmod: accepted, nothing changes */
}

static int d_readdir(struct file *f, vfs_dirent_fn fn, void *arg)
{
	if (dev_of(f->vn) != DEV_DIR)
		return 0;
	for (uint64_t d = f->pos + DEV_NULL; d < DEV_COUNT; d++) {
		uint32_t type = dev_is_dir((enum dev)d) ? S_IFDIR >> 12
			      : link_target[d] ? S_IFLNK >> 12 : S_IFCHR >> 12;
		if (fn(arg, devs[d].name, (uint32_t)strlen(devs[d].name), type, d + 1))
			break;
		f->pos = d; /* entries consumed: d - DEV_NULL + 1 */
	}
	return 0;
}

static int d_readlink(struct vnode *v, char *buf, uint32_t size)
{
	const char *t = link_target[dev_of(v)];
	if (!t)
		return -EINVAL;
	uint32_t n = (uint32_t)strlen(t);
	if (n + 1 > size)
		return -ENAMETOOLONG;
	memcpy(buf, t, n + 1);
	return (int)n;
}

static const struct vnode_ops devfs_ops = {
	.readlink = d_readlink,
	.lookup = d_lookup,
	.getattr = d_getattr,
	.read = d_read,
	.write = d_write,
	.setattr = d_setattr,
	.readdir = d_readdir,
};

int devfs_mount(const char *path)
{
	struct mount *m = vfs_mount_new(NULL, NULL);
	struct vnode *root = m ? dev_vnode(m, DEV_DIR) : NULL;
	if (!root)
		return -ENOMEM;
	m->devices = true;
	return vfs_mount(m, path, root);
}
