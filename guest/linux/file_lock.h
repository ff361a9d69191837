/* fcntl byte-range locks (file_lock.c). */
#ifndef GUEST_FILE_LOCK_H
#define GUEST_FILE_LOCK_H

#include <stdbool.h>
#include <stdint.h>
#include "process.h"

/* F_GETLK, F_SETLK, F_SETLKW, F_OFD_*: cmd on of with the user's flock. */
int64_t fcntl_lock(struct ofile *of, int cmd, uint64_t uflock);
/* A descriptor of of is closed (last: of's last): the process's locks on
 * its file go, and with the last one the description's own. */
void file_locks_put(struct ofile *of, bool last);

#endif
