/*
 * Descriptors that are neither files nor pipes: timerfd (a clock's
 * expirations, counted) and eventfd (a 64-bit counter), in event_fds.c.
 */
#ifndef GUEST_EVENT_FDS_H
#define GUEST_EVENT_FDS_H

#include <stdbool.h>
#include <stdint.h>
#include "process.h"

int64_t timerfd_read(struct ofile *of, uint64_t ubuf, uint64_t len);
int64_t eventfd_read(struct ofile *of, uint64_t ubuf, uint64_t len);
int64_t eventfd_write(struct ofile *of, uint64_t ubuf, uint64_t len);
/* poll(2) readiness (POLLIN/POLLOUT bits); *wake: when it will change by
 * itself (a timer's next expiry), if earlier than *wake. */
short event_fd_poll(struct ofile *of, uint64_t *wake);
/* A count that changes with every event on of (EPOLLET's edges). */
uint64_t event_fd_events(struct ofile *of);
void event_fd_free(struct ofile *of);

#endif
