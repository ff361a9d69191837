/*
 * A FUSE file system (over virtio-fs) as VFS vnodes: attribute and entry
 * timeouts from the server are honoured, and every lookup the server
 * counted is given back with FORGET when the vnode goes away.
 */
#ifndef GUEST_VIRTIOFS_H
#define GUEST_VIRTIOFS_H

#include <stdbool.h>
#include "fuse_transport.h"

/* Talks FUSE_INIT over t and mounts the result at path (readonly: every
 * change is EROFS in the guest too). */
int virtiofs_mount(struct fuse_transport *t, const char *path, bool readonly);

struct vnode;
/* The tag of the share v is a file of, or NULL when it is not one of
 * virtio-fs (the host can then open the same file: NET_SENDFILE). */
const char *virtiofs_tag(const struct vnode *v);

#endif
