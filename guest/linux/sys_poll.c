/*
 * poll, ppoll, select and pselect6: one loop over a kernel array of
 * pollfd. Readiness per kind of descriptor; pipes and event counters wake
 * waiters themselves, timers say when they will be ready, and the console
 * (which interrupts only while its driver waits) is looked at again at
 * least every RECHECK_NS.
 */
#include <asm-generic/poll.h>
#include <linux/time_types.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "epoll.h"
#include "event_fds.h"
#include "pipe.h"
#include "socket.h"
#include "process.h"
#include "signal.h"
#include "stdio.h"
#include "syscall.h"

#define FD_SETSIZE 1024

short ofile_poll(struct ofile *of, uint64_t *wake)
{
	short r = 0;
	switch (of->kind) {
	case OF_CONSOLE:
		r = stdio_poll(of);
		break;
	case OF_PIPE_READ:
		r = of->pipe->len ? POLLIN : of->pipe->writers ? 0 : POLLHUP;
		break;
	case OF_PIPE_WRITE:
		r = of->pipe->readers ? (of->pipe->len < PIPE_SIZE ? POLLOUT : 0) : POLLERR;
		break;
	case OF_FILE:
		r = POLLIN | POLLOUT;
		break;
	case OF_TIMERFD:
	case OF_EVENTFD:
		r = event_fd_poll(of, wake);
		break;
	case OF_EPOLL:
		r = epoll_poll(of, wake);
		break;
	case OF_SIGNALFD:
		r = signalfd_poll(of);
		break;
	case OF_SOCKET:
		r = socket_poll(of); /* the host says when it changes: no deadline */
		break;
	}
	return r;
}

uint64_t ofile_events(struct ofile *of)
{
	switch (of->kind) {
	case OF_PIPE_READ: case OF_PIPE_WRITE:
		return of->pipe->events;
	case OF_TIMERFD: case OF_EVENTFD:
		return event_fd_events(of);
	case OF_SOCKET:
		return socket_events(of);
	default: {
		uint64_t wake = ~0ULL;
		return (uint64_t)ofile_poll(of, &wake);
	}
	}
}

static short poll_one(int fd, short events, uint64_t *wake)
{
	struct ofile *of = fd_get(fd);
	if (!of)
		return POLLNVAL;
	return ofile_poll(of, wake) & (events | POLLHUP | POLLERR | POLLNVAL);
}

/* Fills revents until one is ready, the timeout (ns, < 0: none) passes or
 * a signal comes: how many are ready, or -EINTR. */
static int64_t poll_wait(struct pollfd *p, uint64_t n, int64_t timeout_ns)
{
	uint64_t end = timeout_ns < 0 ? ~0ULL : time_ns() + (uint64_t)timeout_ns;
	for (;;) {
		int64_t ready = 0;
		uint64_t now = time_ns(), wake = now + RECHECK_NS;
		for (uint64_t i = 0; i < n; i++) {
			p[i].revents = p[i].fd < 0 ? 0 : poll_one(p[i].fd, p[i].events, &wake);
			ready += p[i].revents != 0;
		}
		if (ready || now >= end)
			return ready;
		if (signal_interrupts())
			return -EINTR;
		task_wait(wake < end ? wake : end);
	}
}

static int64_t do_poll(uint64_t ufds, uint64_t n, int64_t timeout_ns)
{
	if (n > MAX_FDS)
		return -EINVAL;
	struct pollfd *p = kmalloc(n * sizeof(*p) + 1);
	if (!p)
		return -ENOMEM;
	if (copy_from_user(p, ufds, n * sizeof(*p))) {
		kfree(p);
		return -EFAULT;
	}
	int64_t ready = poll_wait(p, n, timeout_ns);
	int64_t r = ready < 0 ? ready : copy_to_user(ufds, p, n * sizeof(*p)) ? -EFAULT : ready;
	kfree(p);
	return r;
}

SYS(poll)
{
	return do_poll(a0, a1, (int64_t)(int)a2 < 0 ? -1 : (int64_t)(int)a2 * 1000000);
}

SYS(ppoll)
{
	uint64_t ns;
	if (a2) {
		int64_t err = read_timespec(a2, &ns);
		if (err)
			return err;
	}
	return do_poll(a0, a1, a2 ? (int64_t)ns : -1);
}

/* select's three sets over poll: POLLIN for reading (and hang-ups),
 * POLLOUT for writing, POLLPRI for exceptions, as Linux maps them. */
#define IN_SET (POLLIN | POLLHUP | POLLERR)
#define OUT_SET (POLLOUT | POLLERR)
#define EX_SET POLLPRI

static int64_t do_select(int nfds, uint64_t urd, uint64_t uwr, uint64_t uex, int64_t timeout_ns)
{
	if (nfds < 0 || nfds > FD_SETSIZE)
		return -EINVAL;
	uint64_t sets[3][FD_SETSIZE / 64], uptr[3] = { urd, uwr, uex };
	uint64_t bytes = ((uint64_t)nfds + 63) / 64 * 8;
	memset(sets, 0, sizeof(sets));
	for (int k = 0; k < 3; k++)
		if (uptr[k] && copy_from_user(sets[k], uptr[k], bytes))
			return -EFAULT;
	struct pollfd *p = kmalloc((uint64_t)nfds * sizeof(*p) + 1);
	if (!p)
		return -ENOMEM;
	uint64_t n = 0;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;
		bool in = sets[0][fd / 64] >> (fd % 64) & 1, out = sets[1][fd / 64] >> (fd % 64) & 1,
		     ex = sets[2][fd / 64] >> (fd % 64) & 1;
		ev = (short)((in ? POLLIN : 0) | (out ? POLLOUT : 0) | (ex ? POLLPRI : 0));
		if (!ev)
			continue;
		if (!fd_get(fd)) {
			kfree(p);
			return -EBADF;
		}
		p[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	int64_t r = poll_wait(p, n, timeout_ns);
	if (r >= 0) {
		memset(sets, 0, sizeof(sets));
		r = 0;
		for (uint64_t i = 0; i < n; i++) {
			int fd = p[i].fd;
			short got = p[i].revents, asked = p[i].events;
			uint64_t bit = 1ULL << (fd % 64);
			if ((asked & POLLIN) && (got & IN_SET))
				sets[0][fd / 64] |= bit, r++;
			if ((asked & POLLOUT) && (got & OUT_SET))
				sets[1][fd / 64] |= bit, r++;
			if ((asked & POLLPRI) && (got & EX_SET))
				sets[2][fd / 64] |= bit, r++;
		}
		for (int k = 0; k < 3; k++)
			if (uptr[k] && copy_to_user(uptr[k], sets[k], bytes))
				r = -EFAULT;
	}
	kfree(p);
	return r;
}

SYS(select)
{
	int64_t ns = -1;
	struct __kernel_old_timeval tv;
	if (a4) {
		if (copy_from_user(&tv, a4, sizeof(tv)))
			return -EFAULT;
		if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
			return -EINVAL;
		ns = (int64_t)tv.tv_sec * 1000000000LL + (int64_t)tv.tv_usec * 1000;
	}
	return do_select((int)a0, a1, a2, a3, ns);
}

SYS(pselect6)
{
	uint64_t ns = 0;
	if (a4) {
		int64_t err = read_timespec(a4, &ns);
		if (err)
			return err;
	}
	return do_select((int)a0, a1, a2, a3, a4 ? (int64_t)ns : -1);
}
