/* A writable in-RAM file system (tmpfs.c): /dev/shm, and --tmpfs DIR. */
#ifndef GUEST_TMPFS_H
#define GUEST_TMPFS_H

#include <stdint.h>

/* Mounts an empty one over the directory path; at most max_bytes of file
 * data (0: half of guest RAM). 0 or -errno. */
int tmpfs_mount(const char *path, uint64_t max_bytes);

#endif
