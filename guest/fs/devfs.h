/* The guest's own /dev: null, zero, full, random, urandom (devfs.c). */
#ifndef GUEST_DEVFS_H
#define GUEST_DEVFS_H

/* Mounts it over the directory path (which must exist). 0 or -errno. */
int devfs_mount(const char *path);

#endif
