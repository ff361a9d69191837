/*
 * File-backed program regions (see file_map.h). The context is the open
 * file description, shared by every region split from the mapping and
 * counted by them: the file stays open (its FUSE handle alive, needed for
 * SETUPMAPPING and for writing back) until the last region goes, like
 * Linux's vm_file.
 *
 * Two kinds of pages:
 *  - the file system's own (DAX window pages): a write by the program is a
 *    write to the host's page cache; nothing to copy back, only to sync;
 *  - copies (no window, or a window whose every chunk is pinned by the
 *    program's mappings): a page read from the file on first touch and, if
 *    the program wrote it (the PTE's dirty bit), written back with the
 *    file system's write on msync and when it is unmapped. The region owns
 *    a copy (mm/vm.c frees it); a window page goes back with put.
 */
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/memlayout.h"
#include "../fs/vfs.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "file_map.h"

#define PAGE 4096ULL

struct file_map {
	struct ofile *of;
	int regions;
	bool write;    /* shared, and the file is open for writing */
	bool written;  /* something was written back or may be in the window */
	int wb_err;    /* the first failed write-back since the last sync: -errno */
};

static void fm_put(void *ctx, uint64_t pa)
{
	struct file_map *m = ctx;
	vfs_unmap_page(m->of->file, pa);
}

static void fm_hold(void *ctx)
{
	((struct file_map *)ctx)->regions++;
}

/* msync(MS_SYNC) and the last munmap: a write-back that failed since the
 * last sync is reported (once), as Linux reports a mapping's writeback
 * error; otherwise what was written is made durable. */
static int fm_sync(void *ctx)
{
	struct file_map *m = ctx;
	int err = m->written ? vfs_fsync(m->of->file, false) : 0;
	if (m->wb_err) {
		err = m->wb_err;
		m->wb_err = 0;
	}
	return err;
}

/* The last region is gone: what the program wrote is made durable (munmap). */
static void fm_release(void *ctx)
{
	struct file_map *m = ctx;
	if (--m->regions)
		return;
	fm_sync(m);
	ofile_put(m->of);
	kfree(m);
}

/* ---- copied pages (no window, or none to spare) ---- */

/* A copy of the page at off in RAM of ours: 1 (the region owns it), or
 * -ENXIO past the end, -ENOMEM without RAM, the read's -errno. */
static int copy_page(struct file_map *m, uint64_t off, uint64_t *pa)
{
	struct vnode *v = m->of->file->vn;
	int err = vfs_refresh(v);
	if (err)
		return err;
	if (off >= v->attr.size)
		return -ENXIO; /* a whole page past the end: SIGBUS */
	uint64_t page = pmem_alloc(1);
	if (!page)
		return -ENOMEM;
	char *p = phys_to_virt(page);
	int64_t n = vfs_pread(m->of->file, p, PAGE, off);
	if (n < 0) {
		pmem_free(page, 1);
		return (int)n;
	}
	memset(p + n, 0, PAGE - (uint64_t)n);
	*pa = page;
	return 1;
}

static int copy_get(void *ctx, uint64_t off, uint64_t *pa)
{
	return copy_page(ctx, off, pa);
}

/* A written page goes back, clipped to the file's size now: a mapping
 * never makes a file longer (as on Linux). */
static void copy_writeback(void *ctx, uint64_t pa, uint64_t off)
{
	struct file_map *m = ctx;
	struct vnode *v = m->of->file->vn;
	int err = vfs_refresh(v);
	if (err && !m->wb_err)
		m->wb_err = err;
	if (err || off >= v->attr.size)
		return;
	uint64_t n = v->attr.size - off < PAGE ? v->attr.size - off : PAGE;
	int64_t w = vfs_pwrite_back(m->of->file, phys_to_virt(pa), n, off);
	if (w > 0)
		m->written = true;
	/* A failed (ENOSPC, EIO) or short write loses the page's data on the
	 * host: msync must not report success for it. */
	if ((w < 0 || (uint64_t)w < n) && !m->wb_err)
		m->wb_err = w < 0 ? (int)w : -EIO;
}

/* The window's page, or a copy when the window has none to give: every
 * chunk pinned by the program's mappings (or the host refused the setup). */
static int fm_get(void *ctx, uint64_t off, uint64_t *pa)
{
	struct file_map *m = ctx;
	int err = vfs_map_page(m->of->file, off, pa, m->write);
	if (err == -ENOMEM)
		return copy_page(m, off, pa);
	if (!err && m->write) {
		m->written = true; /* the program may write the host's page directly */
		m->of->file->times_stale = true; /* the final fsync sets its mtime */
	}
	return err;
}

static const struct vm_backing_ops file_map_ops = {
	.get = fm_get, .put = fm_put, .hold = fm_hold, .release = fm_release,
	.writeback = copy_writeback, .sync = fm_sync,
};

/* Copies only: put is never called (no page of the backing's own). */
static const struct vm_backing_ops copy_map_ops = {
	.get = copy_get, .put = fm_put, .hold = fm_hold, .release = fm_release,
	.writeback = copy_writeback, .sync = fm_sync,
};

int file_map_add(uint64_t addr, uint64_t len, uint32_t prot, struct ofile *of, uint64_t off,
		 bool shared)
{
	bool write = shared && vfs_writable(of->file);
	/* A probe: can the file system hand out its pages at all? */
	uint64_t pa;
	const struct vm_backing_ops *ops = &file_map_ops;
	int err = vfs_map_page(of->file, off, &pa, write);
	if (err == -EOPNOTSUPP && !write)
		return err; /* the caller copies the file in */
	if (err == -EOPNOTSUPP || (write && err && err != -ENXIO))
		ops = &copy_map_ops; /* copies, written back (also if the window refuses) */
	else if (err == 0)
		vfs_unmap_page(of->file, pa);
	struct file_map *m = kzalloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->of = of;
	m->regions = 1;
	m->write = write;
	of->refs++;
	err = vm_add_backed(addr, len, prot, ops, m, off, shared, write);
	if (err) {
		of->refs--;
		kfree(m);
	}
	return err;
}
