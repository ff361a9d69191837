/*
 * The program's standard streams (OF_CONSOLE descriptions): on the virtio
 * console's ports when pier's console device is there, each stream its own
 * port, a terminal exactly when pier's own stream is one; else on COM1, the
 * way a kernel booted by hand talks.
 */
#ifndef GUEST_STDIO_H
#define GUEST_STDIO_H

#include <stdint.h>
#include "process.h"

/* Sets up stdin, stdout and stderr (descriptors 0, 1, 2). */
void stdio_init(void);

/* read/write on a stream (buf already checked); -errno on failure. */
int64_t stdio_read(struct ofile *of, void *buf, uint64_t len);
int64_t stdio_write(struct ofile *of, const void *buf, uint64_t len);

/* poll(2) readiness bits (POLLIN, POLLOUT, POLLERR) of a stream. */
short stdio_poll(struct ofile *of);

/* The terminal ioctls; -ENOTTY when the stream is not a terminal. */
int64_t stdio_ioctl(struct ofile *of, uint64_t cmd, uint64_t arg);

#endif
