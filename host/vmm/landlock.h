/*
 * Landlock confinement of pier's VMM process: after the VMM has opened
 * everything it needs, the process may only read beneath the shared
 * directories (and write there when a share is writable), nothing else on
 * the file system. A layer under the FUSE server's own checks: a bug there
 * still cannot reach outside the shares.
 */
#ifndef HOST_VMM_LANDLOCK_H
#define HOST_VMM_LANDLOCK_H

#include <stdbool.h>

/*
 * Restricts the calling thread, and the threads it creates afterwards, to
 * `dirs` (Landlock does not reach threads that already exist: call it
 * before starting any). Returns 1 when
 * confined, 0 when the kernel has no Landlock (nothing done), -1 on error
 * after a message.
 */
int landlock_confine(const char *const *dirs, const bool *writable, int ndirs);

#endif
