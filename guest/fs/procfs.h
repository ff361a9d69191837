/* The guest's /proc and /sys (procfs.c): the program and the machine as
 * Linux shows them, made when a file is opened. */
#ifndef GUEST_PROCFS_H
#define GUEST_PROCFS_H

/* Mount over the directory path (which must exist): 0 or -errno. */
int procfs_mount(const char *path);
int sysfs_mount(const char *path);

#endif
