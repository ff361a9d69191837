/*
 * Signals taken synchronously, not by a handler: rt_sigtimedwait and
 * signalfd. Both take what is pending in their set, blocked or not (the
 * program blocks the set first, so nothing else takes them); a signalfd
 * is readable while one of its set is pending. Init programs use them
 * (catatonit, podman's --init: signalfd; tini: sigtimedwait).
 */
#include <linux/fcntl.h>
#include <linux/signalfd.h>
#include <linux/time_types.h>
#include <asm/signal.h>
#include <asm/siginfo.h>
#include <asm-generic/poll.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "event_fds.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"

#define UNBLOCKABLE ((1ULL << (9 - 1)) | (1ULL << (19 - 1))) /* SIGKILL, SIGSTOP */

SYS(rt_sigtimedwait)
{
	uint64_t set;
	if (a3 != 8)
		return -EINVAL;
	if (copy_from_user(&set, a0, 8))
		return -EFAULT;
	set &= ~UNBLOCKABLE;
	uint64_t deadline = RQ_NO_DEADLINE;
	if (a2) {
		uint64_t ns;
		int64_t err = read_timespec(a2, &ns);
		if (err)
			return err;
		deadline = time_ns() + ns;
	}
	for (;;) {
		struct sig_info in;
		int sig = signal_dequeue(set, &in);
		if (sig) {
			if (a1) {
				siginfo_t si;
				signal_fill_info(&si, sig, &in);
				if (copy_to_user(a1, &si, sizeof(si)))
					return -EFAULT;
			}
			return sig;
		}
		if (time_ns() >= deadline)
			return -EAGAIN;
		if (signal_interrupts())
			return -EINTR; /* another signal, for a handler */
		task_wait(deadline);
	}
}

struct sigfd {
	uint64_t mask;
};

SYS(signalfd4)
{
	int fd = (int)a0;
	uint64_t mask;
	if (a2 != 8 || (a3 & ~(uint64_t)(SFD_CLOEXEC | SFD_NONBLOCK)))
		return -EINVAL;
	if (copy_from_user(&mask, a1, 8))
		return -EFAULT;
	mask &= ~UNBLOCKABLE;
	if (fd != -1) { /* a new set for an existing signalfd */
		struct ofile *of = fd_get(fd);
		if (!of)
			return -EBADF;
		if (of->kind != OF_SIGNALFD)
			return -EINVAL;
		((struct sigfd *)of->obj)->mask = mask;
		task_wake_all(); /* a reader may now find one */
		return fd;
	}
	struct sigfd *s = kzalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mask = mask;
	return fd_new_object(OF_SIGNALFD, s, a3);
}

SYS(signalfd)
{
	return sys_signalfd4(a0, a1, a2, 0, 0, 0);
}

/* Fills in what a signalfd's reader gets from what came with the signal. */
static void to_ssi(struct signalfd_siginfo *o, int sig, const struct sig_info *in)
{
	siginfo_t si;
	signal_fill_info(&si, sig, in);
	memset(o, 0, sizeof(*o));
	o->ssi_signo = (uint32_t)sig;
	o->ssi_code = si.si_code;
	if (in->code == SI_TIMER) {
		o->ssi_tid = (uint32_t)si.si_tid;
		o->ssi_overrun = (uint32_t)si.si_overrun;
	} else if (in->code > 0 && sig != SIGCHLD) {
		o->ssi_addr = (uint64_t)si.si_addr; /* a fault's */
	} else {
		o->ssi_pid = (uint32_t)si.si_pid;
		o->ssi_uid = si.si_uid;
	}
	o->ssi_ptr = (uint64_t)si.si_value.sival_ptr;
}

int64_t signalfd_read(struct ofile *of, uint64_t ubuf, uint64_t len)
{
	struct sigfd *s = of->obj;
	if (len < sizeof(struct signalfd_siginfo))
		return -EINVAL;
	for (;;) {
		uint64_t done = 0;
		struct sig_info in;
		int sig;
		while (len - done >= sizeof(struct signalfd_siginfo) &&
		       (sig = signal_dequeue(s->mask, &in))) {
			struct signalfd_siginfo o;
			to_ssi(&o, sig, &in);
			if (copy_to_user(ubuf + done, &o, sizeof(o)))
				return done ? (int64_t)done : -EFAULT;
			done += sizeof(o);
		}
		if (done)
			return (int64_t)done;
		if (of->flags & O_NONBLOCK)
			return -EAGAIN;
		if (signal_interrupts())
			return -EINTR;
		task_wait(RQ_NO_DEADLINE);
	}
}

short signalfd_poll(struct ofile *of)
{
	return signal_pending_in(((struct sigfd *)of->obj)->mask) ? POLLIN : 0;
}
