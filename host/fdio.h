/* Writing to descriptors pier does not own (its stdout and stderr). */
#ifndef HOST_FDIO_H
#define HOST_FDIO_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Writes all of buf to fd, waiting when it is full, also when someone
 * else made it non-blocking (pier never changes the flags of a file it
 * shares with its shell). false: the reader is gone or the descriptor
 * failed (errno says which).
 */
bool fd_write_all(int fd, const void *buf, size_t len);

/* The same, giving up (false, errno ECANCELED) once stop_fd is readable:
 * a reader that stopped reading must not keep pier from ending. */
bool fd_write_all_until(int fd, const void *buf, size_t len, int stop_fd);

#endif
