/*
 * Mounting the root file system and any further shares at boot, from the
 * rootfs= and mount= options.
 */
#ifndef GUEST_ROOTFS_H
#define GUEST_ROOTFS_H

#include <pier/cmdline.h>
#include <pier/pvh.h>

/*
 * rootfs=virtiofs[:TAG] (default tag "root"), rootfs=ramfs (the first PVH
 * module, an initrd in cpio newc format), or no rootfs= (nothing mounted).
 * mount=TAG:/path mounts another virtio-fs device. Returns 0, or a negative
 * errno after printing why.
 */
int rootfs_mount_all(const struct cmdline *cl, const struct hvm_start_info *si);

#endif
