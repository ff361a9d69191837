/*
 * File type and permission bits (S_IFMT, S_IFREG, ...): Linux's own values,
 * from <linux/stat.h> in the guest and from libc on the host (glibc hides
 * the uapi copies to avoid clashing with <sys/stat.h>).
 */
#ifndef PIER_STAT_H
#define PIER_STAT_H
#ifdef PIER_GUEST
#include <linux/stat.h>
#else
#include <sys/stat.h>
#endif
#endif
