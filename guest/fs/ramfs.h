/*
 * An in-memory file system filled from an initrd (cpio newc), read-only,
 * for booting without virtio-fs. File data stays in the initrd's pages.
 */
#ifndef GUEST_RAMFS_H
#define GUEST_RAMFS_H

#include <stddef.h>

/* Builds a ramfs from the archive and mounts it at path. */
int ramfs_mount_cpio(const void *archive, size_t len, const char *path);

#endif
