/*
 * VFS operations for FUSE mounts (see virtiofs.h).
 */
#include <linux/falloc.h>
#include <linux/fcntl.h>
#include <pier/errno.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../kernel/console.h"
#include "../kernel/stats.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "fuse.h"
#include "fuse_dax.h"
#include "vfs.h"
#include "virtiofs.h"

#define FORGET_QUEUE 64
#define DIRBUF_SIZE (64 * 1024)

struct virtiofs {
	struct fuse_conn conn;
	/* FORGETs wait here and go out in batches. */
	uint64_t forget_ids[FORGET_QUEUE], forget_counts[FORGET_QUEUE];
	unsigned nforget;
	struct fuse_dax *dax; /* the DAX window, or NULL: FUSE_READ only */
};

static const struct vnode_ops fuse_vnode_ops;

static struct virtiofs *fs_of(struct vnode *v)
{
	return v->mnt->fs;
}

static uint64_t expiry(uint64_t sec, uint32_t nsec)
{
	uint64_t now = time_ns();
	if (sec > 1000000000ULL)
		return ~0ULL; /* effectively forever */
	return now + sec * 1000000000ULL + nsec;
}

/* Applies a reply's attributes unless v changed after the request went
 * out (sent: vfs_changes() then), when the reply is older than what we
 * know; whether it did. */
static bool set_attr(struct vnode *v, const struct fuse_attr *a, uint64_t valid, uint32_t nsec,
		     uint64_t sent)
{
	if (v->attr_version > sent) {
		stats.attr_stale++;
		return false;
	}
	v->attr = (struct vfs_stat){
		.ino = a->ino, .size = a->size, .blocks = a->blocks, .mode = a->mode,
		.nlink = a->nlink, .uid = a->uid, .gid = a->gid, .rdev = a->rdev,
		.blksize = a->blksize, .atime = a->atime, .mtime = a->mtime, .ctime = a->ctime,
		.atime_ns = a->atimensec, .mtime_ns = a->mtimensec, .ctime_ns = a->ctimensec,
	};
	v->attr_expire_ns = v->perm_expire_ns = expiry(valid, nsec);
	vnode_attr_set(v);
	return true;
}

static void flush_forgets(struct virtiofs *fs)
{
	if (fs->nforget && !fs->conn.dead)
		fuse_forget(&fs->conn, fs->forget_ids, fs->forget_counts, fs->nforget);
	fs->nforget = 0;
}

static void fuse_evict(struct vnode *v)
{
	struct virtiofs *fs = fs_of(v);
	if (!v->nlookup || v->id == FUSE_ROOT_ID)
		return; /* the root is never looked up, so never forgotten */
	if (fs->dax)
		fuse_dax_forget_node(fs->dax, v->id);
	fs->forget_ids[fs->nforget] = v->id;
	fs->forget_counts[fs->nforget] = v->nlookup;
	if (++fs->nforget == FORGET_QUEUE)
		flush_forgets(fs);
}

/* The vnode of a LOOKUP/CREATE/READDIRPLUS entry, its lookup counted; NULL
 * with *err set when it cannot be had. sent: vfs_changes() when the
 * request went out (its attributes may be older than the vnode's). */
static struct vnode *entry_vnode(struct mount *m, const struct fuse_entry_out *e, int *err,
				 uint64_t sent)
{
	bool created;
	struct vnode *v = vnode_get(m, e->nodeid, &fuse_vnode_ops, &created);
	if (!v) {
		/* We cannot track it, so give the lookup straight back. */
		struct virtiofs *fs = m->fs;
		uint64_t one = 1;
		fuse_forget(&fs->conn, &e->nodeid, &one, 1);
		*err = -ENOMEM;
		return NULL;
	}
	v->nlookup++;
	fs_of(v)->conn.lookups++;
	if (!created && v->attr.mode && ((v->attr.mode ^ e->attr.mode) & S_IFMT)) {
		/* A server that gives a known node id to a file of another type
		 * (a directory we cached as a file, say) is wrong or hostile:
		 * keep the vnode as it was, as fuse_vgetattr does. */
		vnode_put(v);
		*err = -ESTALE;
		return NULL;
	}
	set_attr(v, &e->attr, e->attr_valid, e->attr_valid_nsec, sent);
	if (created && sent < vfs_last_eviction())
		v->attr_expire_ns = v->perm_expire_ns = 0; /* maybe older than its last self knew */
	return v;
}

/*
 * LOOKUP and GETATTR wait without the kernel lock when the system call
 * allows it (fuse.c): dir and v are referenced by the caller, and what
 * another CPU changed meanwhile wins over the reply (the change clock).
 * A name of dir unlinked or renamed meanwhile is not cached from a reply
 * that may predate it; the caller still gets the node, as if its call had
 * run first.
 */
static int fuse_vlookup(struct vnode *dir, const char *name, uint32_t len, struct vnode **out)
{
	struct fuse_entry_out e;
	uint64_t sent = vfs_changes();
	int err = fuse_lookup(&fs_of(dir)->conn, dir->id, name, len, &e);
	if (err)
		return err;
	struct vnode *v = entry_vnode(dir->mnt, &e, &err, sent);
	if (!v)
		return err;
	if (dir->names_version <= sent)
		vfs_cache_entry(dir, name, len, v, expiry(e.entry_valid, e.entry_valid_nsec));
	else
		stats.name_stale++;
	*out = v;
	return 0;
}

static int fuse_vgetattr(struct vnode *v)
{
	if (v->attr_expire_ns > time_ns()) {
		stats.attr_hit++;
		return 0;
	}
	stats.attr_miss++;
	struct fuse_attr_out a;
	uint64_t sent = vfs_changes();
	int err = fuse_getattr(&fs_of(v)->conn, v->id, &a);
	if (err)
		return err;
	if ((a.attr.mode & S_IFMT) != (v->attr.mode & S_IFMT) && v->attr.mode)
		return -ESTALE; /* a different file now has this node id */
	/* Out of date: ours, changed meanwhile, are newer (and expired if
	 * they are our own guess, so the next call asks again). */
	set_attr(v, &a.attr, a.attr_valid, a.attr_valid_nsec, sent);
	return 0;
}

/* DAX chunks of v hold its old pages: drop them before the file shrinks
 * (pinned ones stay; the host maps zeros where they reach past the end). */
static void before_shrink(struct vnode *v, uint64_t new_size)
{
	struct virtiofs *fs = fs_of(v);
	if (fs->dax && new_size < v->attr.size)
		fuse_dax_forget_node(fs->dax, v->id);
}

static int fuse_vopen(struct file *f, uint32_t flags)
{
	struct fuse_conn *c = &fs_of(f->vn)->conn;
	if (f->dir)
		return fuse_open(c, f->vn->id, true, flags & O_ACCMODE, &f->fh);
	bool trunc = (flags & O_TRUNC) && vfs_writable(f);
	bool atomic = c->flags & FUSE_ATOMIC_O_TRUNC;
	uint32_t wire = flags & (O_ACCMODE | O_APPEND | (atomic ? O_TRUNC : 0));
	if (trunc)
		before_shrink(f->vn, 0);
	int err = fuse_open(c, f->vn->id, false, wire, &f->fh);
	if (err || !trunc)
		return err;
	if (!atomic) {
		/* The server cannot truncate as it opens: truncate by handle. */
		struct vfs_setattr a = { .valid = VFS_ATTR_SIZE, .size = 0 };
		if ((err = f->vn->ops->setattr(f->vn, &a, f))) {
			fuse_release(c, f->vn->id, false, f->fh);
			return err;
		}
	}
	f->vn->attr.size = 0;
	vnode_attr_changed(f->vn);
	return 0;
}

/*
 * The DAX policy: whether a read goes by FUSE_READ although there is a
 * window. Where a chunk is mapped already the window costs nothing, so it
 * is used. Otherwise FUSE_READ when
 *  - the reader keeps what it reads (exec's loader): the bytes are read
 *    once, one request per MiB either way;
 *  - a small file (dax_small=, 256 KiB: what one read() hands the file
 *    system at a time) is read whole from its start for
 *    the first time: one request either way.
 * The window would add, in both cases, a setup, a page fault per page on
 * first touch and a removal later. A small file read whole again is mapped
 * ("map on reuse"): from then on its reads make no request.
 */
static bool read_by_policy(struct fuse_dax *d, struct file *f, uint64_t len, uint64_t off,
			   uint64_t size)
{
	if (fuse_dax_mapped(d, f->vn->id, off))
		return false;
	if (f->read_once)
		return true;
	return !off && len >= size && size <= fuse_dax_options.small && !f->vn->read_whole;
}

/* From the DAX window; -EAGAIN when the policy says FUSE_READ, or the
 * window cannot serve the first byte. */
static int64_t fuse_vread_mapped(struct file *f, void *buf, uint64_t len, uint64_t off)
{
	struct virtiofs *fs = fs_of(f->vn);
	if (!fs->dax)
		return -EAGAIN;
	int err = fuse_vgetattr(f->vn); /* the size, as fresh as its timeout */
	if (err)
		return err;
	if (off >= f->vn->attr.size)
		return 0;
	if (read_by_policy(fs->dax, f, len, off, f->vn->attr.size))
		return -EAGAIN;
	return fuse_dax_read(fs->dax, f->vn->id, f->fh, f->vn->attr.size, buf, len, off);
}

static int fuse_vmap_page(struct file *f, uint64_t off, uint64_t *pa, bool write)
{
	struct virtiofs *fs = fs_of(f->vn);
	if (!fs->dax)
		return -EOPNOTSUPP;
	int err = fuse_vgetattr(f->vn);
	if (err)
		return err;
	if (off >= f->vn->attr.size)
		return -ENXIO;
	return fuse_dax_get_page(fs->dax, f->vn->id, f->fh, f->vn->attr.size, off, pa, write);
}

static void fuse_vunmap_page(struct file *f, uint64_t pa)
{
	fuse_dax_put_page(fs_of(f->vn)->dax, pa);
}

static int64_t fuse_vread(struct file *f, void *buf, uint64_t len, uint64_t off)
{
	struct virtiofs *fs = fs_of(f->vn);
	struct vnode *v = f->vn;
	if (!fs->dax && v->attr_expire_ns > time_ns() && off >= v->attr.size)
		return 0; /* the end, by a size still fresh: no request (as Linux) */
	int64_t n = fuse_vread_mapped(f, buf, len, off);
	enum stats_fallback why = fs->dax ? FALLBACK_UNMAPPABLE : FALLBACK_NO_WINDOW;
	if (n == -EAGAIN) {
		n = 0; /* the policy's choice, or not even the first chunk mapped */
		if (fs->dax && read_by_policy(fs->dax, f, len, off, v->attr.size)) {
			why = FALLBACK_POLICY;
			if (!f->read_once)
				v->read_whole = true; /* read whole again: mapped then */
		}
	} else if (n < 0 || (uint64_t)n == len || off + (uint64_t)n >= v->attr.size) {
		return n;
	}
	stats.fallback[why]++;
	int64_t m = fuse_read(&fs->conn, v->id, f->fh, (uint8_t *)buf + n, len - (uint64_t)n,
			      off + (uint64_t)n);
	if (m < 0)
		return n ? n : m;
	return n + m;
}

static void fuse_vrelease(struct file *f)
{
	fuse_release(&fs_of(f->vn)->conn, f->vn->id, f->dir, f->fh);
}

static int fuse_vreaddir(struct file *f, vfs_dirent_fn fn, void *arg);

static int ignore_entry(void *arg, const char *name, uint32_t len, uint32_t type, uint64_t ino)
{
	(void)arg, (void)name, (void)len, (void)type, (void)ino;
	return 0;
}

/*
 * Names of a directory listed whole before are asked for again after
 * their time ran out: once as many LOOKUPs went out as a listing costs
 * (vfs_lookup), the whole directory is listed again (OPENDIR, a
 * READDIRPLUS per ~400 entries, RELEASEDIR) and every name with its
 * attributes is fresh again, where one LOOKUP each would follow (a `stat`
 * or `ls -l` of a tree that takes longer than the cache time).
 */
static int fuse_vrelist(struct vnode *dir)
{
	struct fuse_conn *c = &fs_of(dir)->conn;
	if (!dir->listed || !c->readdirplus)
		return -EOPNOTSUPP;
	struct file f = { .vn = dir, .dir = true };
	int err = fuse_open(c, dir->id, true, O_RDONLY, &f.fh);
	if (err)
		return err;
	err = fuse_vreaddir(&f, ignore_entry, NULL);
	fuse_release(c, dir->id, true, f.fh);
	return err;
}

static int fuse_vreadlink(struct vnode *v, char *buf, uint32_t size)
{
	return fuse_readlink(&fs_of(v)->conn, v->id, buf, size);
}

static int fuse_vreaddir(struct file *f, vfs_dirent_fn fn, void *arg)
{
	struct virtiofs *fs = fs_of(f->vn);
	void *buf = kmalloc(DIRBUF_SIZE);
	if (!buf)
		return -ENOMEM;
	int err = 0;
	if (f->pos == 0) {
		f->plus_from_start = true;
		f->vn->entries = 0;
	}
	for (;;) {
		bool plus;
		uint64_t sent = vfs_changes();
		int64_t n = fuse_readdir(&fs->conn, f->vn->id, f->fh, f->pos, buf, DIRBUF_SIZE, &plus);
		if (n <= 0) {
			err = (int)n;
			/* Listed whole with every entry's name and attributes: a
			 * candidate for relisting (fuse_vrelist). */
			if (!n && f->plus_from_start)
				f->vn->listed = true;
			break;
		}
		f->plus_from_start &= plus;
		uint32_t pos = 0;
		struct fuse_dirent_view d;
		int r, stop = 0;
		while (!stop && (r = fuse_msg_dirent_next(buf, (uint32_t)n, &pos, plus, &d)) == 1) {
			/* Every READDIRPLUS entry with a node id is a lookup the
			 * server counted: cache it, so it is also forgotten. */
			bool dot = d.name[0] == '.' &&
				   (d.namelen == 1 || (d.namelen == 2 && d.name[1] == '.'));
			if (plus && d.entry.nodeid && !dot) {
				int ignored;
				struct vnode *v = entry_vnode(f->vn->mnt, &d.entry, &ignored, sent);
				if (v && f->vn->names_version > sent)
					stats.name_stale++; /* forgotten as it goes */
				else if (v)
					vfs_cache_entry(f->vn, d.name, d.namelen, v,
							expiry(d.entry.entry_valid,
							       d.entry.entry_valid_nsec));
				if (v)
					vnode_put(v);
			}
			/* A refused entry is not consumed: the next call starts there. */
			stop = fn(arg, d.name, d.namelen, d.type, d.ino);
			if (!stop) {
				f->pos = d.off;
				f->vn->entries++;
			}
		}
		if (r < 0) {
			kprintf("fuse: malformed directory listing; connection closed\n");
			fs->conn.dead = true;
			err = -EPROTO;
			break;
		}
		if (stop)
			break;
	}
	kfree(buf);
	return err;
}

static int fuse_vstatfs(struct vnode *v, struct vfs_statfs *st)
{
	struct fuse_kstatfs k;
	int err = fuse_statfs(&fs_of(v)->conn, &k);
	if (err)
		return err;
	*st = (struct vfs_statfs){ .blocks = k.blocks, .bfree = k.bfree, .bavail = k.bavail,
				   .files = k.files, .ffree = k.ffree, .bsize = k.bsize,
				   .namelen = k.namelen, .frsize = k.frsize };
	return 0;
}

/* ---- changing the tree ---- */

/* Takes over the lookup a CREATE/MKDIR/SYMLINK/LINK reply counted: the new
 * name goes in the cache; returns the referenced vnode, or NULL. */
static struct vnode *new_entry(struct vnode *dir, const char *name, uint32_t len,
			       const struct fuse_entry_out *e)
{
	int err;
	/* These requests keep the kernel lock: nothing changed since. */
	struct vnode *v = entry_vnode(dir->mnt, e, &err, vfs_changes());
	if (v)
		vfs_cache_entry(dir, name, len, v, expiry(e->entry_valid, e->entry_valid_nsec));
	return v;
}

/* The same for replies whose vnode the caller does not need. */
static int cache_new(struct vnode *dir, const char *name, uint32_t len,
		     const struct fuse_entry_out *e, int err)
{
	if (err)
		return err;
	struct vnode *v = new_entry(dir, name, len, e);
	if (v)
		vnode_put(v);
	return 0; /* done on the host, even if we could not remember it */
}

static int fuse_vcreate(struct vnode *dir, const char *name, uint32_t len, uint32_t mode,
			struct file *f)
{
	struct fuse_conn *c = &fs_of(dir)->conn;
	struct fuse_entry_out e;
	uint32_t flags = (f->flags & (O_ACCMODE | O_APPEND | O_EXCL)) | O_CREAT;
	int err = fuse_create(c, dir->id, name, len, flags, S_IFREG | (mode & 07777), &e, &f->fh);
	if (err)
		return err;
	struct vnode *v = new_entry(dir, name, len, &e);
	if (!v) {
		fuse_release(c, e.nodeid, false, f->fh);
		return -ENOMEM;
	}
	f->vn = v;
	f->dir = false;
	return 0;
}

static int fuse_vmkdir(struct vnode *dir, const char *name, uint32_t len, uint32_t mode)
{
	struct fuse_entry_out e;
	return cache_new(dir, name, len, &e,
			 fuse_mkdir(&fs_of(dir)->conn, dir->id, name, len, S_IFDIR | (mode & 07777),
				    &e));
}

static int fuse_vsymlink(struct vnode *dir, const char *name, uint32_t len, const char *target)
{
	struct fuse_entry_out e;
	return cache_new(dir, name, len, &e,
			 fuse_symlink(&fs_of(dir)->conn, dir->id, name, len, target, &e));
}

static int fuse_vlink(struct vnode *v, struct vnode *dir, const char *name, uint32_t len)
{
	struct fuse_entry_out e;
	return cache_new(dir, name, len, &e,
			 fuse_link(&fs_of(dir)->conn, v->id, dir->id, name, len, &e));
}

static int fuse_vunlink(struct vnode *dir, const char *name, uint32_t len, bool isdir)
{
	return fuse_unlink(&fs_of(dir)->conn, dir->id, name, len, isdir);
}

static int fuse_vrename(struct vnode *odir, const char *oname, uint32_t olen, struct vnode *ndir,
			const char *nname, uint32_t nlen, uint32_t flags)
{
	return fuse_rename(&fs_of(odir)->conn, odir->id, oname, olen, ndir->id, nname, nlen,
			   flags);
}

static int fuse_vsetattr(struct vnode *v, const struct vfs_setattr *a, struct file *f)
{
	struct fuse_setattr_in in = { 0 };
	if (a->valid & VFS_ATTR_MODE) {
		in.valid |= FATTR_MODE;
		in.mode = (v->attr.mode & S_IFMT) | (a->mode & 07777);
	}
	if (a->valid & VFS_ATTR_UID) {
		in.valid |= FATTR_UID;
		in.uid = a->uid;
	}
	if (a->valid & VFS_ATTR_GID) {
		in.valid |= FATTR_GID;
		in.gid = a->gid;
	}
	if (a->valid & VFS_ATTR_SIZE) {
		in.valid |= FATTR_SIZE;
		in.size = a->size;
		before_shrink(v, a->size);
	}
	if (a->valid & (VFS_ATTR_ATIME | VFS_ATTR_ATIME_NOW)) {
		in.valid |= FATTR_ATIME | (a->valid & VFS_ATTR_ATIME_NOW ? FATTR_ATIME_NOW : 0);
		in.atime = a->atime;
		in.atimensec = a->atime_ns;
	}
	if (a->valid & (VFS_ATTR_MTIME | VFS_ATTR_MTIME_NOW)) {
		in.valid |= FATTR_MTIME | (a->valid & VFS_ATTR_MTIME_NOW ? FATTR_MTIME_NOW : 0);
		in.mtime = a->mtime;
		in.mtimensec = a->mtime_ns;
	}
	if (f && f->vn == v && !f->dir && vfs_writable(f)) {
		in.valid |= FATTR_FH;
		in.fh = f->fh;
	}
	struct fuse_attr_out out;
	uint64_t sent = vfs_changes();
	int err = fuse_setattr(&fs_of(v)->conn, v->id, &in, &out);
	if (err)
		return err;
	if ((out.attr.mode & S_IFMT) != (v->attr.mode & S_IFMT))
		return -ESTALE;
	set_attr(v, &out.attr, out.attr_valid, out.attr_valid_nsec, sent);
	return 0;
}

/* After data changed on the server: a larger size now, the rest next time. */
static void written(struct vnode *v, uint64_t end)
{
	if (end > v->attr.size)
		v->attr.size = end;
	vnode_attr_changed(v);
}

/*
 * With a window (and dax_write=1, the default): the part inside the file's
 * current size is copied into writable window chunks (they need a handle
 * open for reading too: O_RDWR); the rest by FUSE_WRITE, as everything is
 * without a window. See ARCHITECTURE.md for the measurement behind it.
 */
static int64_t fuse_vwrite(struct file *f, const void *buf, uint64_t len, uint64_t off)
{
	struct virtiofs *fs = fs_of(f->vn);
	int64_t m = 0;
	if (fs->dax && fuse_dax_options.write && (f->flags & O_ACCMODE) == O_RDWR &&
	    !fuse_vgetattr(f->vn)) {
		m = fuse_dax_write(fs->dax, f->vn->id, f->fh, f->vn->attr.size, buf, len, off);
		if (m == -EAGAIN)
			m = 0;
		/* Stores into a shared mapping do not reliably move the host
		 * file's mtime (tmpfs never does): flush and fsync set it. */
		if (m > 0)
			f->times_stale = true;
		/* All inside the size: nothing to refetch but the times, which
		 * come with the next refresh (the attribute timeout). */
		if ((uint64_t)m == len)
			return m;
	}
	int64_t n = fuse_write(&fs->conn, f->vn->id, f->fh, (const uint8_t *)buf + m,
			       len - (uint64_t)m, off + (uint64_t)m);
	if (n < 0)
		return m ? m : n;
	if (m + n > 0)
		written(f->vn, off + (uint64_t)(m + n));
	return m + n;
}

/* After window writes: the modification time, as a write() would have set it. */
static void touch_if_stale(struct file *f)
{
	if (!f->times_stale)
		return;
	f->times_stale = false;
	struct vfs_setattr a = { .valid = VFS_ATTR_MTIME_NOW };
	fuse_vsetattr(f->vn, &a, f);
}

static int fuse_vflush(struct file *f)
{
	touch_if_stale(f);
	return fuse_flush(&fs_of(f->vn)->conn, f->vn->id, f->fh);
}

static int fuse_vfsync(struct file *f, bool datasync)
{
	touch_if_stale(f);
	return fuse_fsync(&fs_of(f->vn)->conn, f->vn->id, f->fh, f->dir, datasync);
}

static int fuse_vfallocate(struct file *f, uint32_t mode, uint64_t off, uint64_t len)
{
	int err = fuse_fallocate(&fs_of(f->vn)->conn, f->vn->id, f->fh, mode, off, len);
	if (!err)
		written(f->vn, mode & FALLOC_FL_KEEP_SIZE ? 0 : off + len);
	return err;
}

static int64_t fuse_vseek_data(struct file *f, uint64_t off, uint32_t whence)
{
	return fuse_lseek(&fs_of(f->vn)->conn, f->vn->id, f->fh, off, whence);
}

static int64_t fuse_vcopy_range(struct file *in, uint64_t off_in, struct file *out,
				uint64_t off_out, uint64_t len)
{
	int64_t n = fuse_copy_file_range(&fs_of(in->vn)->conn, in->vn->id, in->fh, off_in,
					 out->vn->id, out->fh, off_out, len);
	if (n > 0)
		written(out->vn, off_out + (uint64_t)n);
	return n;
}

static int fuse_vaccess(struct vnode *v, uint32_t mask)
{
	return fuse_access(&fs_of(v)->conn, v->id, mask);
}

static const struct vnode_ops fuse_vnode_ops = {
	.access = fuse_vaccess,
	.create = fuse_vcreate,
	.mkdir = fuse_vmkdir,
	.symlink = fuse_vsymlink,
	.link = fuse_vlink,
	.unlink = fuse_vunlink,
	.rename = fuse_vrename,
	.setattr = fuse_vsetattr,
	.write = fuse_vwrite,
	.flush = fuse_vflush,
	.fsync = fuse_vfsync,
	.fallocate = fuse_vfallocate,
	.seek_data = fuse_vseek_data,
	.copy_range = fuse_vcopy_range,
	.statfs = fuse_vstatfs,
	.lookup = fuse_vlookup,
	.getattr = fuse_vgetattr,
	.open = fuse_vopen,
	.read = fuse_vread,
	.read_mapped = fuse_vread_mapped,
	.map_page = fuse_vmap_page,
	.unmap_page = fuse_vunmap_page,
	.readdir = fuse_vreaddir,
	.relist = fuse_vrelist,
	.readlink = fuse_vreadlink,
	.release = fuse_vrelease,
	.evict = fuse_evict,
};

static void virtiofs_unmount(struct mount *m)
{
	struct virtiofs *fs = m->fs;
	flush_forgets(fs);
	if (fs->dax)
		fuse_dax_report(fs->dax, fs->conn.t->tag);
	kprintf("virtiofs '%s': unmounted: %llu requests, %llu lookups, %llu forgotten in %llu "
		"messages, %llu errors\n",
		fs->conn.t->tag, (unsigned long long)fs->conn.requests,
		(unsigned long long)fs->conn.lookups, (unsigned long long)fs->conn.forgets,
		(unsigned long long)fs->conn.forget_msgs, (unsigned long long)fs->conn.errors);
	fuse_destroy(&fs->conn);
}

const char *virtiofs_tag(const struct vnode *v)
{
	return v->ops == &fuse_vnode_ops ? fs_of((struct vnode *)v)->conn.t->tag : NULL;
}

int virtiofs_mount(struct fuse_transport *t, const char *path, bool readonly)
{
	struct virtiofs *fs = kzalloc(sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	int err = fuse_init(&fs->conn, t);
	if (err) {
		kprintf("virtiofs '%s': FUSE_INIT failed (%d)\n", t->tag, err);
		return err;
	}
	fs->dax = fuse_dax_new(&fs->conn);
	struct mount *m = vfs_mount_new(fs, virtiofs_unmount);
	if (m)
		m->readonly = readonly;
	bool created;
	struct vnode *root = m ? vnode_get(m, FUSE_ROOT_ID, &fuse_vnode_ops, &created) : NULL;
	if (!root)
		return -ENOMEM;
	if ((err = fuse_vgetattr(root)) || (err = vfs_mount(m, path, root))) {
		kprintf("virtiofs '%s': cannot mount at %s (%d)\n", t->tag, path, err);
		return err;
	}
	kprintf("virtiofs '%s' mounted at %s%s: FUSE 7.%u, max_read %u, readdirplus %s, "
		"map_alignment %u\n",
		t->tag, path, readonly ? " read-only" : "", fs->conn.minor, fs->conn.max_read,
		fs->conn.readdirplus ? "yes" : "no", fs->conn.map_alignment);
	return 0;
}
