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

/* An ofile's stream: 0-2 the standard ones, or the terminal itself. */
#define STDIO_TERMINAL 3

/* Sets up stdin, stdout and stderr (descriptors 0, 1, 2). */
void stdio_init(void);

/* Opens /dev/tty (minor 0) or /dev/console (minor 1): the console's
 * terminal, reading stdin and writing where the terminal's output goes.
 * The descriptor, or -ENXIO (no terminal) / -errno. */
int stdio_open_terminal(uint32_t minor, uint64_t flags);

/* Whether the stream is a terminal. */
bool stdio_is_terminal(const struct ofile *of);

/* read/write on a stream (buf already checked); -errno on failure. */
int64_t stdio_read(struct ofile *of, void *buf, uint64_t len);
int64_t stdio_write(struct ofile *of, const void *buf, uint64_t len);

/* poll(2) readiness bits (POLLIN, POLLOUT, POLLERR) of a stream. */
short stdio_poll(struct ofile *of);

/* The terminal ioctls; -ENOTTY when the stream is not a terminal. */
int64_t stdio_ioctl(struct ofile *of, uint64_t cmd, uint64_t arg);
/* TIOCGPGRP, TIOCGSID, TIOCSPGRP of a terminal whose session is sid and
 * whose foreground group is *fg_pgrp (pier's console, or an exec'd
 * program's). */
int64_t stdio_pgrp_ioctl(uint64_t cmd, uint64_t arg, int sid, int *fg_pgrp);

#endif
