/*
 * The virtio-fs device (virtio 1.2, 5.11): a FUSE transport with a tag.
 * Requests are opaque here; guest/fs/fuse.c gives them meaning.
 */
#ifndef GUEST_VIRTIO_FS_H
#define GUEST_VIRTIO_FS_H

#include "../fs/fuse_transport.h"

/* Finds the virtio-fs device with this tag and sets it up; NULL if none. */
struct fuse_transport *virtio_fs_open(const char *tag);

/* Prints the tags of the virtio-fs devices found, for error messages. */
void virtio_fs_list_tags(void);

#endif
