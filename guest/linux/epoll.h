/* epoll (epoll.c) and the readiness of any descriptor (sys_poll.c). */
#ifndef GUEST_EPOLL_H
#define GUEST_EPOLL_H

#include <stdint.h>
#include "process.h"

/* A waiter looks again at least this often: the console interrupts only
 * while its driver waits, so its readiness is not announced. */
#define RECHECK_NS 10000000ULL

/* POLL* bits of of now (all of them, unmasked); *wake: when that will
 * change by itself (a timer), if earlier. */
short ofile_poll(struct ofile *of, uint64_t *wake);
/* A count that changes with every event on of (pipes, counters, timers;
 * other kinds: their readiness): what makes an EPOLLET edge. */
uint64_t ofile_events(struct ofile *of);
/* An epoll descriptor's own readiness (POLLIN: an event is ready). */
short epoll_poll(struct ofile *of, uint64_t *wake);
void epoll_free(struct ofile *of);

#endif
