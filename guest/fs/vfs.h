/*
 * The virtual file system: mounts, a dentry cache over vnodes, path walks
 * with symlinks, open files. File systems (ramfs.c, virtiofs.c) supply
 * struct vnode_ops; everything above sees only this interface.
 */
#ifndef GUEST_VFS_H
#define GUEST_VFS_H

#include <stdbool.h>
#include <stdint.h>

#include <pier/path_walk.h>

#define VFS_PATH_MAX PW_PATH_MAX

struct vfs_stat {
	uint64_t ino, size, blocks;
	uint32_t mode, nlink, uid, gid, rdev, blksize;
	uint64_t atime, mtime, ctime;
	uint32_t atime_ns, mtime_ns, ctime_ns;
};

struct vfs_statfs {
	uint64_t blocks, bfree, bavail, files, ffree;
	uint32_t bsize, namelen, frsize;
};

struct vnode;
struct file;
struct mount;

/* Called per entry by readdir; non-zero stops, and that entry is not consumed. */
typedef int (*vfs_dirent_fn)(void *arg, const char *name, uint32_t namelen, uint32_t type,
			     uint64_t ino);

struct vnode_ops {
	/* Looks up name in dir; returns a vnode with one reference for the caller. */
	int (*lookup)(struct vnode *dir, const char *name, uint32_t len, struct vnode **out);
	/* Refreshes v->attr if its validity ran out. */
	int (*getattr)(struct vnode *v);
	int (*open)(struct file *f, uint32_t flags);
	int64_t (*read)(struct file *f, void *buf, uint64_t len, uint64_t off);
	/* Optional: reads into any mapped address (a user buffer) without a
	 * device transfer (DAX); -EAGAIN when it cannot, and read is used. */
	int64_t (*read_mapped)(struct file *f, void *buf, uint64_t len, uint64_t off);
	/* Optional (DAX): the physical page holding file offset off, held
	 * until unmap_page. -EOPNOTSUPP: this file cannot be mapped so;
	 * -ENXIO: off is past the end of the file. */
	int (*map_page)(struct file *f, uint64_t off, uint64_t *pa);
	void (*unmap_page)(struct file *f, uint64_t pa);
	/* Lists entries from f->pos on, advancing it. */
	int (*readdir)(struct file *f, vfs_dirent_fn fn, void *arg);
	int (*readlink)(struct vnode *v, char *buf, uint32_t size);
	void (*release)(struct file *f);
	/* The last reference is gone: free it (FUSE: forget it). */
	void (*evict)(struct vnode *v);
	/* File-system statistics; NULL: made-up figures. */
	int (*statfs)(struct vnode *v, struct vfs_statfs *st);
};

struct vnode {
	const struct vnode_ops *ops;
	struct mount *mnt;
	uint64_t id;           /* FUSE nodeid, ramfs node number */
	int refs;
	struct vfs_stat attr;
	uint64_t attr_expire_ns;
	uint64_t nlookup;      /* FUSE: lookups the server counted for us */
	void *priv;
	struct vnode *hash_next;
};

struct mount {
	char path[64];
	struct vnode *root;
	struct vnode *covered;   /* the directory this mount hides, NULL for "/" */
	void *fs;                /* the file system's own state */
	void (*unmount)(struct mount *m);
};

struct file {
	struct vnode *vn;
	uint64_t pos;
	uint64_t fh;            /* FUSE file handle */
	uint32_t flags;
	bool dir;
	void *priv;             /* directory read state */
};

/* The caller's identity for permission checks (uid=, gid= options). */
extern uint32_t vfs_uid, vfs_gid;
/* Most names the cache keeps (dcache_max= option); older unused ones go. */
extern uint64_t vfs_dcache_max;

/* Vnode table: finds or creates the vnode (mnt, id) with a reference. */
struct vnode *vnode_get(struct mount *mnt, uint64_t id, const struct vnode_ops *ops,
			bool *created);
void vnode_put(struct vnode *v);

/* A new mount for a file system to create its vnodes in; NULL if full. */
struct mount *vfs_mount_new(void *fs, void (*unmount)(struct mount *));
/* Attaches m (root vnode `root`, reference taken over) at path; "/" first. */
int vfs_mount(struct mount *m, const char *path, struct vnode *root);
/* Unmounts everything, innermost first (drops cached entries, FORGETs). */
void vfs_unmount_all(void);

/* Walks path; follow: resolve a final symlink. Returns a referenced vnode. */
int vfs_resolve(const char *path, bool follow, struct vnode **out);
int vfs_stat(const char *path, bool follow, struct vfs_stat *st);
/* Permission check as Linux does it (mask: 4 read, 2 write, 1 exec). */
int vfs_permission(struct vnode *v, uint32_t mask);

int vfs_open(const char *path, uint32_t flags, struct file **out);
int64_t vfs_read(struct file *f, void *buf, uint64_t len);
int64_t vfs_pread(struct file *f, void *buf, uint64_t len, uint64_t off);
/* Like vfs_pread into any mapped address; -EAGAIN where the file system
 * cannot (then use vfs_pread with a kernel buffer). */
int64_t vfs_pread_mapped(struct file *f, void *buf, uint64_t len, uint64_t off);
/* The file's own page at off for a program mapping (see vnode_ops.map_page). */
int vfs_map_page(struct file *f, uint64_t off, uint64_t *pa);
void vfs_unmap_page(struct file *f, uint64_t pa);
int vfs_readdir(struct file *f, vfs_dirent_fn fn, void *arg);
int vfs_readlink(const char *path, char *buf, uint32_t size);
int vfs_statfs(struct vnode *v, struct vfs_statfs *st);
void vfs_close(struct file *f);

/* Adds a name under dir to the dentry cache (READDIRPLUS results). */
void vfs_cache_entry(struct vnode *dir, const char *name, uint32_t len, struct vnode *child,
		     uint64_t expire_ns);

/* Cached names, for statistics. */
uint64_t vfs_dentries(void);

#endif
