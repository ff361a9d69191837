/*
 * Boot-time mounts (see rootfs.h).
 */
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/memlayout.h"
#include "../drivers/virtio_fs.h"
#include "../fs/devfs.h"
#include "../fs/procfs.h"
#include "../fs/ramfs.h"
#include "../fs/tmpfs.h"
#include "../fs/vfs.h"
#include <pier/stat.h>
#include "../fs/virtiofs.h"
#include "console.h"
#include "control.h"
#include "rootfs.h"

/* ro=TAG (repeatable): that share is mounted read-only. The host enforces
 * it anyway; the guest knowing it answers EROFS without asking, and in
 * Linux's order (EEXIST, ENOENT first). */
static bool tag_readonly(const struct cmdline *cl, const char *tag)
{
	for (int i = 0; i < cl->nopts; i++)
		if (strcmp(cl->opts[i].key, "ro") == 0 && strcmp(cl->opts[i].value, tag) == 0)
			return true;
	return false;
}

static int mount_virtiofs(const struct cmdline *cl, const char *tag, const char *path)
{
	struct fuse_transport *t = virtio_fs_open(tag);
	if (!t) {
		kwarn("rootfs: no virtio-fs device with tag '%s'\n", tag);
		virtio_fs_list_tags();
		return -ENODEV;
	}
	return virtiofs_mount(t, path, tag_readonly(cl, tag));
}

static int mount_ramfs(const struct hvm_start_info *si)
{
	if (!si->modlist_paddr || si->nr_modules == 0) {
		kwarn("rootfs: rootfs=ramfs but no initrd was loaded\n");
		return -ENOENT;
	}
	const struct hvm_modlist_entry *mod = phys_to_virt(si->modlist_paddr);
	if (mod->paddr + mod->size < mod->paddr || mod->paddr + mod->size > DIRECT_MAP_SIZE) {
		kwarn("rootfs: initrd outside the mapped memory\n");
		return -EINVAL;
	}
	return ramfs_mount_cpio(phys_to_virt(mod->paddr), mod->size, "/");
}

/* Why a mount point did not take a mount, in words. */
static const char *why_not_there(int err)
{
	return err == -ENOENT || err == -ENOTDIR ? "no such directory in the root"
						 : "cannot mount there";
}

int rootfs_mount_all(const struct cmdline *cl, const struct hvm_start_info *si)
{
	const char *root = cmdline_get(cl, "rootfs");
	if (!root)
		return 0;
	int err;
	if (strcmp(root, "ramfs") == 0)
		err = mount_ramfs(si);
	else if (strcmp(root, "virtiofs") == 0)
		err = mount_virtiofs(cl, "root", "/");
	else if (strncmp(root, "virtiofs:", 9) == 0)
		err = mount_virtiofs(cl, root + 9, "/");
	else {
		kwarn("rootfs: unknown rootfs=%s (want virtiofs[:TAG] or ramfs)\n", root);
		return -EINVAL;
	}
	if (err)
		return err;
	/* The guest's own /dev, /proc and /sys over the root's directories,
	 * where it has them: a host directory's device nodes are the host's,
	 * its /proc and /sys empty. */
	static const struct {
		const char *path;
		int (*mount)(const char *path);
	} pseudo[] = { { "/dev", devfs_mount }, { "/proc", procfs_mount }, { "/sys", sysfs_mount } };
	for (unsigned i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++) {
		struct vfs_stat st;
		if (vfs_stat(pseudo[i].path, true, &st) == 0 && S_ISDIR(st.mode) &&
		    (err = pseudo[i].mount(pseudo[i].path)))
			kwarn("rootfs: %s: not mounted (%d)\n", pseudo[i].path, err);
	}
	/* POSIX shared memory (shm_open) lives in /dev/shm: always writable. */
	struct vfs_stat st;
	if (vfs_stat("/dev/shm", true, &st) == 0 && S_ISDIR(st.mode) &&
	    (err = tmpfs_mount("/dev/shm", 0)))
		kwarn("rootfs: /dev/shm: not mounted (%d)\n", err);
	/* tmpfs=DIR (pier --tmpfs DIR): scratch space, with a read-only root. */
	for (int i = 0; i < cl->nopts; i++)
		if (strcmp(cl->opts[i].key, "tmpfs") == 0 &&
		    (err = tmpfs_mount(cl->opts[i].value, 0))) {
			kwarn("rootfs: tmpfs=%s: %s\n", cl->opts[i].value, why_not_there(err));
			return err;
		}
	for (int i = 0; i < cl->nopts; i++) {
		if (strcmp(cl->opts[i].key, "mount") != 0)
			continue;
		char spec[128];
		const char *v = cl->opts[i].value;
		size_t n = strnlen(v, sizeof(spec));
		char *colon = n < sizeof(spec) ? (memcpy(spec, v, n + 1), strchr(spec, ':')) : NULL;
		if (!colon || colon == spec || colon[1] != '/') {
			kwarn("rootfs: bad mount=%s (want TAG:/path)\n", v);
			return -EINVAL;
		}
		*colon = 0;
		if ((err = mount_virtiofs(cl, spec, colon + 1))) {
			if (err == -ENOENT || err == -ENOTDIR)
				kwarn("rootfs: mount=%s: %s\n", v, why_not_there(err));
			return err;
		}
	}
	return 0;
}
