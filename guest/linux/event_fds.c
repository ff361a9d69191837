/*
 * timerfd and eventfd (see event_fds.h). A timer is a deadline on the
 * kernel's clock (time_ns; a CLOCK_REALTIME one converted once, when it
 * is set) and an interval; expirations are counted lazily, when somebody
 * looks. A blocked reader waits in task_wait with the next expiry as its
 * deadline, so an idle CPU halts until then.
 */
#include <linux/fcntl.h>
#include <linux/timerfd.h>
#include <linux/time_types.h>
#include <asm-generic/poll.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/rtc.h"
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "event_fds.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"

#define NS 1000000000ULL
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_BOOTTIME 7
#define EVENTFD_MAX 0xfffffffffffffffeULL
/* eventfd2's flags: this system's uapi headers do not carry them yet
 * (linux/eventfd.h came with Linux 6.9); the kernel defines them so. */
#define EFD_SEMAPHORE 1
#define EFD_CLOEXEC O_CLOEXEC
#define EFD_NONBLOCK O_NONBLOCK

struct timer {
	int clock;
	uint64_t next;      /* time_ns of the next expiry; 0: disarmed */
	uint64_t interval;  /* 0: once */
	uint64_t count;     /* expirations not yet read */
};

struct counter {
	uint64_t value;
	bool semaphore;
	uint64_t events;    /* bumped at every read and write (EPOLLET) */
};

/* A blocking read or write that found nothing to do: EAGAIN for a
 * non-blocking descriptor, EINTR for a signal, else 0 once something
 * may have changed (a wake-up, or deadline). */
static int64_t wait_for_change(const struct ofile *of, uint64_t deadline)
{
	if (of->flags & O_NONBLOCK)
		return -EAGAIN;
	if (signal_interrupts())
		return -EINTR;
	task_wait(deadline);
	return 0;
}

static void timer_update(struct timer *t)
{
	uint64_t now = time_ns();
	if (!t->next || now < t->next)
		return;
	uint64_t n = 1 + (t->interval ? (now - t->next) / t->interval : 0);
	t->count += n;
	t->next = t->interval ? t->next + n * t->interval : 0;
}

SYS(timerfd_create)
{
	int clock = (int)a0;
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME)
		return -EINVAL;
	if (a1 & ~(uint64_t)(TFD_CLOEXEC | TFD_NONBLOCK))
		return -EINVAL;
	struct timer *t = kzalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->clock = clock;
	return fd_new_object(OF_TIMERFD, t, a1);
}

static struct timer *timer_of(int fd, int64_t *err)
{
	struct ofile *of = fd_get(fd);
	*err = !of ? -EBADF : of->kind != OF_TIMERFD ? -EINVAL : 0;
	return *err ? NULL : of->obj;
}

static uint64_t ts_ns(const struct __kernel_timespec *ts)
{
	return (uint64_t)ts->tv_sec * NS + (uint64_t)ts->tv_nsec;
}

static void ns_ts(uint64_t ns, struct __kernel_timespec *ts)
{
	ts->tv_sec = (long long)(ns / NS);
	ts->tv_nsec = (long long)(ns % NS);
}

static void current_value(struct timer *t, struct __kernel_itimerspec *v)
{
	timer_update(t);
	uint64_t now = time_ns();
	ns_ts(t->interval, &v->it_interval);
	ns_ts(t->next > now ? t->next - now : 0, &v->it_value);
}

SYS(timerfd_settime)
{
	int64_t err;
	struct timer *t = timer_of((int)a0, &err);
	if (!t)
		return err;
	if (a1 & ~(uint64_t)(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET))
		return -EINVAL;
	struct __kernel_itimerspec v, old;
	if (copy_from_user(&v, a2, sizeof(v)))
		return -EFAULT;
	if (v.it_value.tv_sec < 0 || v.it_value.tv_nsec < 0 || v.it_value.tv_nsec >= (long long)NS ||
	    v.it_interval.tv_sec < 0 || v.it_interval.tv_nsec < 0 ||
	    v.it_interval.tv_nsec >= (long long)NS)
		return -EINVAL;
	current_value(t, &old);
	uint64_t value = ts_ns(&v.it_value), now = time_ns();
	t->count = 0;
	t->interval = ts_ns(&v.it_interval);
	if (!value) {
		t->next = 0; /* disarmed */
	} else if (a1 & TFD_TIMER_ABSTIME) {
		uint64_t base = t->clock == CLOCK_REALTIME ? rtc_boot_epoch_ns() : 0;
		t->next = value > base ? value - base : 1; /* already past: fires at once */
	} else {
		t->next = now + value;
	}
	if (a3 && copy_to_user(a3, &old, sizeof(old)))
		return -EFAULT;
	task_wake_all(); /* a reader waiting for the old deadline */
	return 0;
}

SYS(timerfd_gettime)
{
	int64_t err;
	struct timer *t = timer_of((int)a0, &err);
	if (!t)
		return err;
	struct __kernel_itimerspec v;
	current_value(t, &v);
	return copy_to_user(a1, &v, sizeof(v)) ? -EFAULT : 0;
}

int64_t timerfd_read(struct ofile *of, uint64_t ubuf, uint64_t len)
{
	struct timer *t = of->obj;
	if (len < 8)
		return -EINVAL;
	for (;;) {
		timer_update(t);
		if (t->count) {
			if (copy_to_user(ubuf, &t->count, 8))
				return -EFAULT;
			t->count = 0;
			return 8;
		}
		int64_t err = wait_for_change(of, t->next ? t->next : RQ_NO_DEADLINE);
		if (err)
			return err;
	}
}

SYS(eventfd2)
{
	if (a1 & ~(uint64_t)(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE))
		return -EINVAL;
	struct counter *c = kzalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->value = (uint32_t)a0;
	c->semaphore = a1 & EFD_SEMAPHORE;
	return fd_new_object(OF_EVENTFD, c, a1);
}

SYS(eventfd)
{
	return sys_eventfd2(a0, 0, 0, 0, 0, 0);
}

int64_t eventfd_read(struct ofile *of, uint64_t ubuf, uint64_t len)
{
	struct counter *c = of->obj;
	if (len < 8)
		return -EINVAL;
	for (;;) {
		if (c->value) {
			uint64_t v = c->semaphore ? 1 : c->value;
			if (copy_to_user(ubuf, &v, 8))
				return -EFAULT;
			c->value -= v;
			c->events++;
			task_wake_all(); /* a writer waiting for room */
			return 8;
		}
		int64_t err = wait_for_change(of, RQ_NO_DEADLINE);
		if (err)
			return err;
	}
}

int64_t eventfd_write(struct ofile *of, uint64_t ubuf, uint64_t len)
{
	struct counter *c = of->obj;
	uint64_t v;
	if (len < 8)
		return -EINVAL;
	if (copy_from_user(&v, ubuf, 8))
		return -EFAULT;
	if (v == ~0ULL)
		return -EINVAL;
	for (;;) {
		if (EVENTFD_MAX - c->value >= v) {
			c->value += v;
			c->events++;
			task_wake_all(); /* a reader waiting for a count */
			return 8;
		}
		int64_t err = wait_for_change(of, RQ_NO_DEADLINE);
		if (err)
			return err;
	}
}

short event_fd_poll(struct ofile *of, uint64_t *wake)
{
	if (of->kind == OF_TIMERFD) {
		struct timer *t = of->obj;
		timer_update(t);
		if (!t->count && t->next && t->next < *wake)
			*wake = t->next;
		return t->count ? POLLIN : 0;
	}
	struct counter *c = of->obj;
	return (c->value ? POLLIN : 0) | (c->value < EVENTFD_MAX ? POLLOUT : 0);
}

uint64_t event_fd_events(struct ofile *of)
{
	if (of->kind == OF_TIMERFD) {
		struct timer *t = of->obj;
		timer_update(t);
		return t->count + t->next; /* an expiry, or a new setting */
	}
	return ((struct counter *)of->obj)->events;
}

void event_fd_free(struct ofile *of)
{
	kfree(of->obj);
	of->obj = NULL;
}
