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
#include "../kernel/sleep_lock.h"

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

/* What a setattr changes (valid bits). */
#define VFS_ATTR_MODE 1u
#define VFS_ATTR_UID 2u
#define VFS_ATTR_GID 4u
#define VFS_ATTR_SIZE 8u
#define VFS_ATTR_ATIME 16u      /* to atime/atime_ns */
#define VFS_ATTR_MTIME 32u
#define VFS_ATTR_ATIME_NOW 64u  /* to the current time */
#define VFS_ATTR_MTIME_NOW 128u

struct vfs_setattr {
	uint32_t valid;
	uint32_t mode, uid, gid;
	uint64_t size;
	uint64_t atime, mtime;
	uint32_t atime_ns, mtime_ns;
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
	 * -ENXIO: off is past the end of the file. write: the program may
	 * write the page (a shared mapping of a file open for writing). */
	int (*map_page)(struct file *f, uint64_t off, uint64_t *pa, bool write);
	void (*unmap_page)(struct file *f, uint64_t pa);
	/* Lists entries from f->pos on, advancing it. */
	int (*readdir)(struct file *f, vfs_dirent_fn fn, void *arg);
	/* Optional: lists a directory again, refreshing every cached name in
	 * it (vfs_lookup calls it when names there keep expiring); 0 or -errno. */
	int (*relist)(struct vnode *dir);
	int (*readlink)(struct vnode *v, char *buf, uint32_t size);
	void (*release)(struct file *f);
	/* The last reference is gone: free it (FUSE: forget it). */
	void (*evict)(struct vnode *v);
	/* File-system statistics; NULL: made-up figures. */
	int (*statfs)(struct vnode *v, struct vfs_statfs *st);

	/*
	 * Changing the tree (read-write file systems; NULL: EROFS). Names
	 * are one component under dir. create opens the new file into f
	 * (f->flags set): f->vn gets a referenced vnode.
	 */
	int (*create)(struct vnode *dir, const char *name, uint32_t len, uint32_t mode,
		      struct file *f);
	int (*mkdir)(struct vnode *dir, const char *name, uint32_t len, uint32_t mode);
	int (*symlink)(struct vnode *dir, const char *name, uint32_t len, const char *target);
	int (*link)(struct vnode *v, struct vnode *dir, const char *name, uint32_t len);
	int (*unlink)(struct vnode *dir, const char *name, uint32_t len, bool isdir);
	int (*rename)(struct vnode *odir, const char *oname, uint32_t olen, struct vnode *ndir,
		      const char *nname, uint32_t nlen, uint32_t flags);
	/* f: an open file of v to do it through, or NULL. */
	int (*setattr)(struct vnode *v, const struct vfs_setattr *a, struct file *f);
	int64_t (*write)(struct file *f, const void *buf, uint64_t len, uint64_t off);
	int (*flush)(struct file *f);
	int (*fsync)(struct file *f, bool datasync);
	int (*fallocate)(struct file *f, uint32_t mode, uint64_t off, uint64_t len);
	/* SEEK_DATA/SEEK_HOLE; -ENOSYS: the VFS answers from the size alone. */
	int64_t (*seek_data)(struct file *f, uint64_t off, uint32_t whence);
	/* Optional: the server's own access check (mask 2: is it writable?). */
	int (*access)(struct vnode *v, uint32_t mask);
	/* Copy within the file system; -ENOSYS: the caller copies. */
	int64_t (*copy_range)(struct file *in, uint64_t off_in, struct file *out, uint64_t off_out,
			      uint64_t len);
};

struct vnode {
	const struct vnode_ops *ops;
	struct mount *mnt;
	uint64_t id;           /* FUSE nodeid, ramfs node number */
	int refs;
	struct vfs_stat attr;
	uint64_t attr_expire_ns;
	uint64_t perm_expire_ns; /* mode, uid and gid alone: our own changes to a
				  * directory (times, nlink) leave them valid */
	uint64_t nlookup;      /* FUSE: lookups the server counted for us */
	/* The change clock (vfs_changes) at the last change of its attributes
	 * (a reply applied or our own), and of its names (one uncached): a
	 * reply to a request sent before is older than what we know, since
	 * LOOKUP and GETATTR wait without the kernel lock (virtiofs.c). */
	uint64_t attr_version, names_version;
	bool read_whole;       /* FUSE: read whole by FUSE_READ once (the DAX
				* policy maps it when it is read again) */
	bool listed;           /* FUSE: listed whole with attributes (READDIRPLUS) */
	uint32_t entries;      /* FUSE: how many names that listing had */
	uint32_t expired_names; /* names found expired since it was last listed */
	/* Its writes, one at a time (Linux's i_rwsem, the writer's side):
	 * taken by every write, truncation and fallocate (vfs_write.c), and
	 * by write() for the whole call (an O_APPEND write's end of file
	 * stays its own), whose FUSE_WRITEs let the kernel lock go. */
	struct sleep_lock write_lock;
	void *priv;
	struct vnode *hash_next;
};

struct mount {
	char path[64];
	struct vnode *root;
	struct vnode *covered;   /* the directory this mount hides, NULL for "/" */
	void *fs;                /* the file system's own state */
	bool readonly;           /* every change is EROFS (the ro= option) */
	bool devices;            /* its character devices open (devfs) */
	void (*unmount)(struct mount *m);
};

struct task;

struct file {
	struct vnode *vn;
	uint64_t pos;
	uint64_t fh;            /* FUSE file handle */
	uint32_t flags;
	bool dir;
	bool plus_from_start;   /* FUSE directory: this listing began at 0 and
				 * every entry so far came with attributes */
	bool read_once;         /* read once into memory its reader keeps (exec's
				 * loader): no DAX mapping is set up for it */
	bool times_stale;       /* written behind the server's back (DAX window):
				 * its modification time is set at flush/fsync */
	void *priv;             /* directory read state */
	/* The position taken by a system call that reads or moves it
	 * (linux/fdtable.c, file_pos_lock: Linux's f_pos_lock). */
	struct sleep_lock pos_lock;
};

/* The caller's identity for permission checks (uid=, gid= options). */
extern uint32_t vfs_uid, vfs_gid;
/* Most names the cache keeps (dcache_max= option); older unused ones go. */
extern uint64_t vfs_dcache_max;

/*
 * The change clock: a count of changes to vnodes' attributes and names,
 * read before a request whose reply may be out of date by the time the
 * kernel lock is back (Linux's attr_version).
 */
uint64_t vfs_changes(void);
/* Our own change of v's attributes (a write, a truncation, a child made
 * or gone): they are stale, and so is any reply to a request sent before. */
void vnode_attr_changed(struct vnode *v);
/* The clock when a vnode was last evicted: a vnode made anew from a reply
 * sent before then may have lost a newer change its old self knew. */
uint64_t vfs_last_eviction(void);
/* v's attributes were just set from a reply: newer than any other reply
 * still on its way. */
void vnode_attr_set(struct vnode *v);

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
/* Like vfs_resolve for a directory the caller will change: its mode and
 * owner are fresh, its times need not be. */
int vfs_resolve_parent(const char *path, struct vnode **out);
int vfs_stat(const char *path, bool follow, struct vfs_stat *st);
/* Permission check as Linux does it (mask: 4 read, 2 write, 1 exec). */
int vfs_permission(struct vnode *v, uint32_t mask);

/* Opens (O_CREAT: creating, with mode) as open(2) would; flags are O_*. */
int vfs_open(const char *path, uint32_t flags, uint32_t mode, struct file **out);
int64_t vfs_read(struct file *f, void *buf, uint64_t len);
int64_t vfs_pread(struct file *f, void *buf, uint64_t len, uint64_t off);
/* Like vfs_pread into any mapped address; -EAGAIN where the file system
 * cannot (then use vfs_pread with a kernel buffer). */
int64_t vfs_pread_mapped(struct file *f, void *buf, uint64_t len, uint64_t off);
/* The file's own page at off for a program mapping (see vnode_ops.map_page). */
int vfs_map_page(struct file *f, uint64_t off, uint64_t *pa, bool write);
void vfs_unmap_page(struct file *f, uint64_t pa);
int vfs_readdir(struct file *f, vfs_dirent_fn fn, void *arg);
int vfs_readlink(const char *path, char *buf, uint32_t size);
int vfs_statfs(struct vnode *v, struct vfs_statfs *st);
void vfs_close(struct file *f);

/* ---- changing the tree (vfs_write.c); paths are absolute ---- */
/* open(O_CREAT) of a name that does not exist yet. */
int vfs_create(const char *path, uint32_t flags, uint32_t mode, struct file **out);
/* Drops v's cached attributes and fetches them again. */
int vfs_refresh(struct vnode *v);
int vfs_mkdir(const char *path, uint32_t mode);
int vfs_symlink(const char *target, const char *path);
int vfs_link(const char *oldpath, const char *newpath, bool follow);
int vfs_unlink(const char *path);
int vfs_rmdir(const char *path);
int vfs_rename(const char *oldpath, const char *newpath, uint32_t flags);
int vfs_setattr(struct vnode *v, const struct vfs_setattr *a, struct file *f);
/* Writes at off, under the file's write lock (which may wait, letting
 * the kernel lock go, while another task's write() waits for the host). */
int64_t vfs_pwrite(struct file *f, const void *buf, uint64_t len, uint64_t off);
/* A mapped page's write-back (munmap, msync): never waits for the write
 * lock, as its caller must keep the kernel lock from its page-table change
 * to its TLB shoot-down; it writes inside the file's size, so it cannot
 * move another write's end of file. */
int64_t vfs_pwrite_back(struct file *f, const void *buf, uint64_t len, uint64_t off);
int vfs_fsync(struct file *f, bool datasync);
int vfs_fallocate(struct file *f, uint32_t mode, uint64_t off, uint64_t len);
int64_t vfs_seek_data(struct file *f, uint64_t off, uint32_t whence);
int64_t vfs_copy_range(struct file *in, uint64_t off_in, struct file *out, uint64_t off_out,
		       uint64_t len);
/* EROFS where v cannot be written (a read-only file system or share), else 0. */
int vfs_may_write(struct vnode *v);
/* Whether f was opened for writing. */
bool vfs_writable(const struct file *f);

/* A cached or looked-up child of dir, referenced. */
int vfs_lookup(struct vnode *dir, const char *name, uint32_t len, struct vnode **out);
/* Forgets the cached name (dir, name), if any: the name changed (unlink,
 * rename), so no reply about dir's names sent before may be cached. */
void vfs_uncache_entry(struct vnode *dir, const char *name, uint32_t len);

/* Adds a name under dir to the dentry cache (READDIRPLUS results). */
void vfs_cache_entry(struct vnode *dir, const char *name, uint32_t len, struct vnode *child,
		     uint64_t expire_ns);

/* Cached names, for statistics. */
uint64_t vfs_dentries(void);

#endif
