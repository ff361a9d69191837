/*
 * Timers that send signals: alarm, setitimer/getitimer (ITIMER_REAL) and
 * POSIX timers (timer_create with SIGEV_SIGNAL, SIGEV_THREAD_ID or
 * SIGEV_NONE). Deadlines are on the kernel's clock (time_ns; realtime
 * ones converted when set). The scheduler calls timers_fire at every
 * return to the program and whenever it looks for work, and keeps the
 * APIC timer set for the next deadline while program code runs, so a
 * program spinning without system calls still gets its SIGALRM.
 */
#include <linux/time_types.h>
#include <asm-generic/siginfo.h>
#include <linux/signal.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "../kernel/rtc.h"
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "../mm/vm.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"
#include "timers.h"

#define NS 1000000000ULL
#define NTIMERS 64            /* timers of all processes at once (Linux allows many more) */
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_BOOTTIME 7
#define SIGEV_SIGNAL 0
#define SIGEV_NONE 1
#define SIGEV_THREAD_ID 4

struct timer {
	bool used;
	bool real;         /* the process's ITIMER_REAL (and alarm) */
	struct process *owner;
	int clock;
	uint64_t next;     /* time_ns of the next expiry; 0: disarmed */
	uint64_t interval;
	int notify, signo, tid, overrun;
	uint64_t value;    /* sigev_value */
};

static struct timer timers[NTIMERS];

/* The kernel's sigevent layout (x86_64): value, signo, notify, then the
 * union whose first int is the thread id of SIGEV_THREAD_ID. */
struct k_sigevent {
	uint64_t value;
	int32_t signo, notify;
	int32_t tid;
	int32_t pad[11];
};

static void fire(int id, struct timer *t, uint64_t now)
{
	uint64_t n = 1 + (t->interval ? (now - t->next) / t->interval : 0);
	t->next = t->interval ? t->next + n * t->interval : 0;
	t->overrun = (int)(n - 1);
	if (t->notify == SIGEV_NONE)
		return;
	struct sig_info in = { .code = t->real ? SI_KERNEL : SI_TIMER,
			       .timerid = id, .overrun = t->overrun, .value = t->value };
	struct task *to = t->notify == SIGEV_THREAD_ID ? task_find(t->tid) : NULL;
	if (to && to->proc == t->owner)
		signal_post_info(to, t->signo, &in);
	else /* a thread gone: to the process */
		signal_post_proc(t->owner, t->signo, &in);
}

void timers_exec(struct process *p)
{
	for (int i = 0; i < NTIMERS; i++)
		if (timers[i].used && timers[i].owner == p && !timers[i].real)
			timers[i] = (struct timer){ 0 };
}

void timers_exit(struct process *p)
{
	for (int i = 0; i < NTIMERS; i++)
		if (timers[i].used && timers[i].owner == p)
			timers[i] = (struct timer){ 0 };
}

static uint64_t timers_fire(uint64_t now)
{
	uint64_t next = RQ_NO_DEADLINE;
	for (int i = 0; i < NTIMERS; i++) {
		struct timer *t = &timers[i];
		if (!t->used || !t->next)
			continue;
		if (t->next <= now)
			fire(i, t, now);
		if (t->next && t->next < next)
			next = t->next;
	}
	return next;
}

static uint64_t ts_ns(const struct __kernel_timespec *ts)
{
	return (uint64_t)ts->tv_sec * NS + (uint64_t)ts->tv_nsec;
}

static bool ts_valid(const struct __kernel_timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < (long long)NS;
}

static void ns_ts(uint64_t ns, struct __kernel_timespec *ts)
{
	ts->tv_sec = (long long)(ns / NS);
	ts->tv_nsec = (long long)(ns % NS);
}

/* What is left of t, and its interval. */
static void remaining(const struct timer *t, struct __kernel_itimerspec *v)
{
	uint64_t now = time_ns();
	ns_ts(t->interval, &v->it_interval);
	ns_ts(t->next > now ? t->next - now : 0, &v->it_value);
}

static void arm(struct timer *t, uint64_t value, uint64_t interval, bool absolute)
{
	t->interval = interval;
	t->overrun = 0;
	if (!value) {
		t->next = 0;
	} else if (absolute) {
		uint64_t base = t->clock == CLOCK_REALTIME ? rtc_boot_epoch_ns() : 0;
		t->next = value > base ? value - base : 1; /* already past: at once */
	} else {
		t->next = time_ns() + value;
	}
	task_set_timer_hook(timers_fire);
}

static int64_t settime(struct timer *t, uint64_t flags, uint64_t unew, uint64_t uold)
{
	struct __kernel_itimerspec v, old;
	if (copy_from_user(&v, unew, sizeof(v)))
		return -EFAULT;
	if (!ts_valid(&v.it_value) || !ts_valid(&v.it_interval))
		return -EINVAL;
	remaining(t, &old);
	arm(t, ts_ns(&v.it_value), ts_ns(&v.it_interval), flags & TIMER_ABSTIME);
	return uold && copy_to_user(uold, &old, sizeof(old)) ? -EFAULT : 0;
}

SYS(timer_create)
{
	int clock = (int)a0;
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME) {
		knote("timer_create: clock %d not supported (only REALTIME, MONOTONIC, BOOTTIME): EINVAL\n",
		      clock);
		return -EINVAL;
	}
	int id = -1;
	for (int i = 0; i < NTIMERS && id < 0; i++)
		if (!timers[i].used)
			id = i;
	if (id < 0)
		return -EAGAIN;
	struct k_sigevent ev = { .value = (uint64_t)id, .signo = SIGALRM, .notify = SIGEV_SIGNAL };
	if (a1 && copy_from_user(&ev, a1, sizeof(ev)))
		return -EFAULT;
	if (ev.notify != SIGEV_SIGNAL && ev.notify != SIGEV_NONE && ev.notify != SIGEV_THREAD_ID)
		return -EINVAL;
	if (ev.notify != SIGEV_NONE && (ev.signo < 1 || ev.signo > 64))
		return -EINVAL;
	if (ev.notify == SIGEV_THREAD_ID && !task_find(ev.tid))
		return -EINVAL;
	int32_t uid = id;
	if (copy_to_user(a2, &uid, sizeof(uid)))
		return -EFAULT;
	timers[id] = (struct timer){ .used = true, .owner = current->proc, .clock = clock,
				     .notify = ev.notify, .signo = ev.signo, .tid = ev.tid,
				     .value = ev.value };
	return 0;
}

static struct timer *posix_timer(uint64_t id)
{
	return id < NTIMERS && timers[id].used && !timers[id].real &&
	       timers[id].owner == current->proc ? &timers[id] : NULL;
}

SYS(timer_settime)
{
	struct timer *t = posix_timer(a0);
	if (!t)
		return -EINVAL;
	if (a1 & ~(uint64_t)TIMER_ABSTIME)
		return -EINVAL;
	return settime(t, a1, a2, a3);
}

SYS(timer_gettime)
{
	struct timer *t = posix_timer(a0);
	if (!t)
		return -EINVAL;
	struct __kernel_itimerspec v;
	remaining(t, &v);
	return copy_to_user(a1, &v, sizeof(v)) ? -EFAULT : 0;
}

SYS(timer_getoverrun)
{
	struct timer *t = posix_timer(a0);
	return t ? t->overrun : -EINVAL;
}

SYS(timer_delete)
{
	struct timer *t = posix_timer(a0);
	if (!t)
		return -EINVAL;
	*t = (struct timer){ 0 };
	return 0;
}

/* ITIMER_REAL: the process's real-time slot, SIGALRM to it; NULL when
 * every slot is taken. */
static struct timer *real_timer(void)
{
	struct timer *free = NULL;
	for (int i = 0; i < NTIMERS; i++) {
		struct timer *t = &timers[i];
		if (t->used && t->real && t->owner == current->proc)
			return t;
		if (!t->used && !free)
			free = t;
	}
	if (free)
		*free = (struct timer){ .used = true, .real = true, .owner = current->proc,
					.clock = CLOCK_MONOTONIC, .notify = SIGEV_SIGNAL,
					.signo = SIGALRM };
	return free;
}

/* The timer's state for getitimer when there is no slot: disarmed. */
static const struct timer disarmed;

/* struct itimerval of the system call: two old timevals. */
struct k_itimerval {
	struct __kernel_old_timeval interval, value;
};

static void to_itimerval(const struct timer *t, struct k_itimerval *v)
{
	uint64_t now = time_ns(), left = t->next > now ? t->next - now : 0;
	/* A timer about to fire still shows a little time left, as Linux's. */
	if (t->next && !left)
		left = 1000;
	v->value.tv_sec = (long)(left / NS);
	v->value.tv_usec = (long)((left % NS + 999) / 1000);
	if (v->value.tv_usec == 1000000)
		v->value.tv_sec++, v->value.tv_usec = 0;
	v->interval.tv_sec = (long)(t->interval / NS);
	v->interval.tv_usec = (long)(t->interval % NS / 1000);
}

static int64_t which_ok(uint64_t which)
{
	if (which == 0) /* ITIMER_REAL */
		return 0;
	if (which == 1 || which == 2) { /* VIRTUAL, PROF: CPU-time timers */
		knote("setitimer: ITIMER_VIRTUAL and ITIMER_PROF are not supported: EINVAL\n");
		return -EINVAL;
	}
	return -EINVAL;
}

SYS(getitimer)
{
	int64_t err = which_ok(a0);
	if (err)
		return err;
	struct k_itimerval v;
	const struct timer *t = real_timer();
	to_itimerval(t ? t : &disarmed, &v);
	return copy_to_user(a1, &v, sizeof(v)) ? -EFAULT : 0;
}

SYS(setitimer)
{
	int64_t err = which_ok(a0);
	if (err)
		return err;
	struct k_itimerval v, old;
	if (a1 && copy_from_user(&v, a1, sizeof(v)))
		return -EFAULT;
	if (a1 && (v.value.tv_usec < 0 || v.value.tv_usec >= 1000000 || v.value.tv_sec < 0 ||
		   v.interval.tv_usec < 0 || v.interval.tv_usec >= 1000000 || v.interval.tv_sec < 0))
		return -EINVAL;
	struct timer *t = real_timer();
	if (!t)
		return -EAGAIN;
	to_itimerval(t, &old);
	if (!t->next)
		old.value = (struct __kernel_old_timeval){ 0 };
	if (a1)
		arm(t, (uint64_t)v.value.tv_sec * NS + (uint64_t)v.value.tv_usec * 1000,
		    (uint64_t)v.interval.tv_sec * NS + (uint64_t)v.interval.tv_usec * 1000, false);
	return a2 && copy_to_user(a2, &old, sizeof(old)) ? -EFAULT : 0;
}

SYS(alarm)
{
	struct timer *t = real_timer();
	if (!t)
		return 0; /* no slot: nothing was pending, and none can be */
	uint64_t now = time_ns(), left = t->next > now ? t->next - now : 0;
	arm(t, a0 * NS, 0, false);
	/* What was left, in whole seconds: rounded, and at least 1 if any. */
	uint64_t s = (left + NS / 2) / NS;
	return (int64_t)(left && !s ? 1 : s);
}
