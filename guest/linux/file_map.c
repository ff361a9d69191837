/*
 * File-backed program regions (see file_map.h). The context is the open
 * file description, shared by every region split from the mapping and
 * counted by them: the file stays open (its FUSE handle alive, needed for
 * SETUPMAPPING) until the last region goes, like Linux's vm_file.
 */
#include <pier/errno.h>
#include "../fs/vfs.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "file_map.h"

struct file_map {
	struct ofile *of;
	int regions;
};

static int fm_get(void *ctx, uint64_t off, uint64_t *pa)
{
	struct file_map *m = ctx;
	return vfs_map_page(m->of->file, off, pa);
}

static void fm_put(void *ctx, uint64_t pa)
{
	struct file_map *m = ctx;
	vfs_unmap_page(m->of->file, pa);
}

static void fm_hold(void *ctx)
{
	((struct file_map *)ctx)->regions++;
}

static void fm_release(void *ctx)
{
	struct file_map *m = ctx;
	if (--m->regions)
		return;
	ofile_put(m->of);
	kfree(m);
}

static const struct vm_backing_ops file_map_ops = {
	.get = fm_get, .put = fm_put, .hold = fm_hold, .release = fm_release,
};

int file_map_add(uint64_t addr, uint64_t len, uint32_t prot, struct ofile *of, uint64_t off,
		 bool shared)
{
	/* A probe: can the file system hand out its pages at all? */
	uint64_t pa;
	int err = vfs_map_page(of->file, off, &pa);
	if (err == -EOPNOTSUPP)
		return err;
	if (err == 0)
		vfs_unmap_page(of->file, pa);
	struct file_map *m = kzalloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->of = of;
	m->regions = 1;
	of->refs++;
	err = vm_add_backed(addr, len, prot, &file_map_ops, m, off, shared);
	if (err) {
		of->refs--;
		kfree(m);
	}
	return err;
}
