/*
 * epoll: an interest list of (descriptor, open file, events, data), each
 * looked at with ofile_poll when the program waits. Level-triggered by
 * default; EPOLLET reports a ready descriptor again only after a new
 * event on it (data written, a count added: Linux wakes epoll at each,
 * drained or not), EPOLLONESHOT once until re-armed with EPOLL_CTL_MOD. An entry
 * whose descriptor was closed (or now names another file) is dropped, as
 * Linux drops it with the file's last reference.
 */
#include <linux/eventpoll.h>
#include <linux/time_types.h>
#include <asm-generic/poll.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "epoll.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"

#define EP_MAX 1024 /* entries per epoll instance */

struct ep_entry {
	int fd;
	struct ofile *of;    /* what fd named when added: not referenced */
	uint32_t events;
	uint64_t data;
	uint64_t seen;       /* ofile_events when last reported (EPOLLET) */
	bool disabled;       /* EPOLLONESHOT, fired */
};

struct epoll {
	struct ep_entry *e;
	int n, cap;
};

static int64_t new_epoll(uint64_t flags)
{
	struct epoll *ep = kzalloc(sizeof(*ep));
	return ep ? fd_new_object(OF_EPOLL, ep, flags) : -ENOMEM; /* EPOLL_CLOEXEC is O_CLOEXEC */
}

SYS(epoll_create1)
{
	if (a0 & ~(uint64_t)EPOLL_CLOEXEC)
		return -EINVAL;
	return new_epoll(a0);
}

SYS(epoll_create)
{
	return (int)a0 <= 0 ? -EINVAL : new_epoll(0);
}

void epoll_free(struct ofile *of)
{
	struct epoll *ep = of->obj;
	kfree(ep->e);
	kfree(ep);
	of->obj = NULL;
}

static struct epoll *epoll_of(int fd, int64_t *err)
{
	struct ofile *of = fd_get(fd);
	*err = !of ? -EBADF : of->kind != OF_EPOLL ? -EINVAL : 0;
	return *err ? NULL : of->obj;
}

static struct ep_entry *find(struct epoll *ep, int fd, struct ofile *of)
{
	for (int i = 0; i < ep->n; i++)
		if (ep->e[i].fd == fd && ep->e[i].of == of)
			return &ep->e[i];
	return NULL;
}

SYS(epoll_ctl)
{
	int64_t err;
	struct epoll *ep = epoll_of((int)a0, &err);
	if (!ep)
		return err;
	int fd = (int)a2;
	struct ofile *of = fd_get(fd);
	if (!of)
		return -EBADF;
	if (of == fd_get((int)a0))
		return -EINVAL;
	if (of->kind == OF_FILE)
		return -EPERM; /* regular files and directories are always ready: Linux refuses */
	struct epoll_event ev = { 0 };
	if (a1 != EPOLL_CTL_DEL && copy_from_user(&ev, a3, sizeof(ev)))
		return -EFAULT;
	struct ep_entry *e = find(ep, fd, of);
	switch (a1) {
	case EPOLL_CTL_ADD:
		if (e)
			return -EEXIST;
		if (ep->n == ep->cap) {
			int cap = ep->cap ? ep->cap * 2 : 8;
			if (cap > EP_MAX)
				return -ENOSPC;
			struct ep_entry *ne = kmalloc((uint64_t)cap * sizeof(*ne));
			if (!ne)
				return -ENOMEM;
			if (ep->n)
				memcpy(ne, ep->e, (uint64_t)ep->n * sizeof(*ne));
			kfree(ep->e);
			ep->e = ne;
			ep->cap = cap;
		}
		ep->e[ep->n++] = (struct ep_entry){ .fd = fd, .of = of, .events = ev.events,
						    .data = ev.data, .seen = ofile_events(of) - 1 };
		task_wake_all(); /* a waiter on ep looks at it */
		return 0;
	case EPOLL_CTL_MOD:
		if (!e)
			return -ENOENT;
		e->events = ev.events;
		e->data = ev.data;
		e->disabled = false;
		e->seen = ofile_events(of) - 1; /* what is ready now counts as new */
		task_wake_all();
		return 0;
	case EPOLL_CTL_DEL:
		if (!e)
			return -ENOENT;
		*e = ep->e[--ep->n];
		return 0;
	default:
		return -EINVAL;
	}
}

/* The events of e that are due now (0: none), updating its edge state. */
static uint32_t due(struct ep_entry *e, uint64_t *wake, bool consume)
{
	if (e->disabled)
		return 0;
	uint32_t ready = (uint32_t)ofile_poll(e->of, wake);
	uint32_t want = (e->events | EPOLLERR | EPOLLHUP) & ready;
	if (e->events & EPOLLET) {
		uint64_t now = ofile_events(e->of);
		if (now == e->seen)
			return 0; /* nothing new since the last report */
		if (want && consume)
			e->seen = now;
	}
	if (want && consume && (e->events & EPOLLONESHOT))
		e->disabled = true;
	return want;
}

/* Drops entries whose descriptor is gone or names another file now. */
static void prune(struct epoll *ep)
{
	for (int i = 0; i < ep->n;)
		if (fd_get(ep->e[i].fd) != ep->e[i].of)
			ep->e[i] = ep->e[--ep->n];
		else
			i++;
}

short epoll_poll(struct ofile *of, uint64_t *wake)
{
	struct epoll *ep = of->obj;
	prune(ep);
	for (int i = 0; i < ep->n; i++)
		if (due(&ep->e[i], wake, false))
			return POLLIN;
	return 0;
}

static int64_t do_wait(int epfd, uint64_t uevents, int maxevents, int64_t timeout_ns,
		       uint64_t usigmask)
{
	int64_t err;
	struct epoll *ep = epoll_of(epfd, &err);
	if (!ep)
		return err;
	if (maxevents <= 0 || maxevents > EP_MAX)
		return -EINVAL;
	if (user_check(uevents, (uint64_t)maxevents * sizeof(struct epoll_event), true))
		return -EFAULT;
	if (usigmask) { /* epoll_pwait: this mask while waiting, as sigsuspend */
		uint64_t mask;
		if (copy_from_user(&mask, usigmask, sizeof(mask)))
			return -EFAULT;
		signal_suspend(mask);
	}
	uint64_t end = timeout_ns < 0 ? ~0ULL : time_ns() + (uint64_t)timeout_ns;
	for (;;) {
		prune(ep);
		uint64_t now = time_ns(), wake = now + RECHECK_NS;
		int got = 0;
		for (int i = 0; i < ep->n && got < maxevents; i++) {
			uint32_t ev = due(&ep->e[i], &wake, true);
			if (!ev)
				continue;
			struct epoll_event out = { .events = ev, .data = ep->e[i].data };
			if (copy_to_user(uevents + (uint64_t)got * sizeof(out), &out, sizeof(out)))
				return -EFAULT;
			got++;
		}
		if (got || now >= end)
			return got;
		if (signal_interrupts())
			return -EINTR;
		task_wait(wake < end ? wake : end);
	}
}

SYS(epoll_wait)
{
	int t = (int)a3;
	return do_wait((int)a0, a1, (int)a2, t < 0 ? -1 : (int64_t)t * 1000000, 0);
}

SYS(epoll_pwait)
{
	int t = (int)a3;
	if (a4 && a5 != 8)
		return -EINVAL;
	return do_wait((int)a0, a1, (int)a2, t < 0 ? -1 : (int64_t)t * 1000000, a4);
}

SYS(epoll_pwait2)
{
	uint64_t ns = 0;
	if (a3) {
		int64_t err = read_timespec(a3, &ns);
		if (err)
			return err;
	}
	if (a4 && a5 != 8)
		return -EINVAL;
	return do_wait((int)a0, a1, (int)a2, a3 ? (int64_t)ns : -1, a4);
}
