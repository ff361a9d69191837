/* The guest's own /dev: null, zero, full, random, urandom (devfs.c). */
#ifndef GUEST_DEVFS_H
#define GUEST_DEVFS_H

/* The inode /dev/console has, and so has every console stream that is a
 * terminal (linux/sys_fs.c stat_fd): glibc's ttyname() finds the name it
 * reads in /proc/self/fd/N by comparing them. */
#define DEVFS_CONSOLE_INO (1ULL << 40)

/* Mounts it over the directory path (which must exist). 0 or -errno. */
int devfs_mount(const char *path);

#endif
