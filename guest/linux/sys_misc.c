/*
 * Process identity, time, sleeping, randomness, signal state and polling.
 * Threads, futexes and signals sent to threads are sys_thread.c and
 * futex.c.
 */
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <asm-generic/termios.h>
#include <asm-generic/poll.h>
#include <linux/fcntl.h>
#include <linux/futex.h>
#include <linux/resource.h>
#include <linux/sysinfo.h>
#include <linux/time_types.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/irq.h"
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "../kernel/random.h"
#include "../kernel/rtc.h"
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "pipe.h"
#include "process.h"
#include "socket.h"
#include "signal.h"
#include "stdio.h"
#include "syscall.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004
#define MSR_GS_BASE 0xc0000101
#define UNBLOCKABLE ((1ULL << (9 - 1)) | (1ULL << (19 - 1))) /* SIGKILL, SIGSTOP */
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define NS 1000000000ULL

SYS(getpid) { return current->proc->pid; }
SYS(getuid) { return vfs_uid; }
SYS(geteuid) { return vfs_uid; }
SYS(getgid) { return vfs_gid; }
SYS(getegid) { return vfs_gid; }

SYS(sysinfo)
{
	struct sysinfo s;
	memset(&s, 0, sizeof(s));
	s.uptime = (long)(time_ns() / NS);
	s.totalram = pmem_total_pages();
	s.freeram = pmem_free_pages();
	s.procs = (uint16_t)process_count();
	s.mem_unit = 4096;
	return copy_to_user(a0, &s, sizeof(s));
}

SYS(getrusage)
{
	int who = (int)a0;
	if (who != 0 && who != -1 && who != 1) /* SELF, CHILDREN, THREAD */
		return -EINVAL;
	struct rusage r;
	memset(&r, 0, sizeof(r));
	{
		uint64_t run, sys;
		struct process *p = current->proc;
		if (who == -1) { /* the children waited for */
			run = p->child_run_ns;
			sys = p->child_sys_ns;
		} else if (who == 0) {
			process_cpu_time(p, &run, &sys);
		} else {
			task_cpu_time(current, &run, &sys);
		}
		uint64_t user = run - sys;
		r.ru_utime.tv_sec = (long)(user / NS);
		r.ru_utime.tv_usec = (long)(user % NS / 1000);
		r.ru_stime.tv_sec = (long)(sys / NS);
		r.ru_stime.tv_usec = (long)(sys % NS / 1000);
		/* Peak resident size in KiB: the guest RAM in use, an upper bound. */
		r.ru_maxrss = (long)((pmem_total_pages() - pmem_free_pages()) * 4);
	}
	return copy_to_user(a1, &r, sizeof(r)) ? -EFAULT : 0;
}

int64_t clock_ns(uint64_t clock, uint64_t *ns)
{
	switch (clock) {
	case CLOCK_REALTIME: case 5: case 8: case 11: /* _COARSE, _ALARM, TAI */
		*ns = rtc_boot_epoch_ns() + time_ns();
		return 0;
	case CLOCK_MONOTONIC: case 4: case 6: case 7: /* RAW, COARSE, BOOTTIME */
		*ns = time_ns();
		return 0;
	case 2: case 3: { /* CPU time: the process's, the thread's */
		uint64_t sys;
		task_cpu_time(clock == 2 ? NULL : current, ns, &sys);
		return 0;
	}
	default:
		return -EINVAL;
	}
}

SYS(clock_gettime)
{
	uint64_t ns;
	int64_t err = clock_ns(a0, &ns);
	if (err)
		return err;
	struct __kernel_timespec ts = { (int64_t)(ns / NS), (int64_t)(ns % NS) };
	return copy_to_user(a1, &ts, sizeof(ts));
}

SYS(clock_getres)
{
	uint64_t ns;
	int64_t err = clock_ns(a0, &ns);
	if (err)
		return err;
	struct __kernel_timespec ts = { 0, 1 };
	return a1 ? copy_to_user(a1, &ts, sizeof(ts)) : 0;
}

SYS(gettimeofday)
{
	uint64_t ns = rtc_boot_epoch_ns() + time_ns();
	struct __kernel_old_timeval tv = { (long)(ns / NS), (long)(ns % NS / 1000) };
	if (a0 && copy_to_user(a0, &tv, sizeof(tv)))
		return -EFAULT;
	if (a1) {
		uint64_t zero[1] = { 0 }; /* struct timezone: UTC */
		if (copy_to_user(a1, zero, sizeof(zero)))
			return -EFAULT;
	}
	return 0;
}

SYS(time)
{
	int64_t t = (int64_t)((rtc_boot_epoch_ns() + time_ns()) / NS);
	if (a0 && copy_to_user(a0, &t, sizeof(t)))
		return -EFAULT;
	return t;
}

/*
 * Waits ns nanoseconds (~0: for ever) or until a signal comes: 0 or
 * -EINTR. The other threads run meanwhile; with none the CPU halts until
 * the deadline (the APIC timer) or an interrupt.
 */
static int64_t sleep_ns(uint64_t ns)
{
	uint64_t start = time_ns();
	uint64_t end = ns > ~0ULL - start ? ~0ULL : start + ns;
	for (;;) {
		if (signal_interrupts())
			return -EINTR;
		if (time_ns() >= end)
			return 0;
		task_wait(end);
	}
}

/* After an interrupted sleep that was to end at `end`: what was left. */
static int64_t sleep_left(uint64_t urem, uint64_t end)
{
	uint64_t now = time_ns(), left = end > now ? end - now : 0;
	struct __kernel_timespec ts = { (long long)(left / NS), (long long)(left % NS) };
	if (urem && copy_to_user(urem, &ts, sizeof(ts)))
		return -EFAULT;
	return -EINTR;
}

int64_t read_timespec(uint64_t uts, uint64_t *ns)
{
	struct __kernel_timespec ts;
	if (copy_from_user(&ts, uts, sizeof(ts)))
		return -EFAULT;
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= (long long)NS)
		return -EINVAL;
	*ns = (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
	return 0;
}

SYS(nanosleep)
{
	uint64_t ns;
	int64_t err = read_timespec(a0, &ns);
	if (err)
		return err;
	uint64_t end = time_ns() + ns;
	return sleep_ns(ns) ? sleep_left(a1, end) : 0;
}

SYS(clock_nanosleep)
{
	uint64_t ns, now;
	int64_t err = clock_ns(a0, &now);
	if (!err)
		err = read_timespec(a2, &ns);
	if (err)
		return err;
	if (a1 & 1) /* TIMER_ABSTIME */
		ns = ns > now ? ns - now : 0;
	uint64_t end = time_ns() + ns;
	if (sleep_ns(ns) == 0)
		return 0;
	return a1 & 1 ? -EINTR : sleep_left(a3, end);
}

SYS(pause)
{
	sleep_ns(~0ULL);
	return -EINTR;
}

SYS(rt_sigsuspend)
{
	uint64_t set;
	if (a1 != 8)
		return -EINVAL;
	if (copy_from_user(&set, a0, sizeof(set)))
		return -EFAULT;
	signal_suspend(set);
	sleep_ns(~0ULL);
	return -EINTR; /* the mask of before comes back with the handler's frame */
}

SYS(rt_sigreturn)
{
	return signal_return(syscall_current);
}

SYS(getrandom)
{
	if (a2 & ~7ULL)
		return -EINVAL;
	uint64_t len = a1 > (1 << 20) ? (1 << 20) : a1;
	if (user_check(a0, len, true))
		return -EFAULT;
	random_bytes((void *)a0, len);
	return (int64_t)len;
}

SYS(rt_sigaction)
{
	if (a0 < 1 || a0 > 64 || a3 != 8)
		return -EINVAL;
	if (a1 && (a0 == 9 || a0 == 19)) /* SIGKILL, SIGSTOP */
		return -EINVAL;
	if (a2 && copy_to_user(a2, current->proc->sigactions[a0], sizeof(current->proc->sigactions[a0])))
		return -EFAULT;
	if (a1 && copy_from_user(current->proc->sigactions[a0], a1, sizeof(current->proc->sigactions[a0])))
		return -EFAULT;
	current->proc->sigactions[a0][3] &= ~UNBLOCKABLE; /* sa_mask cannot hold those */
	if (a1)
		signal_action_changed((int)a0); /* now ignored: no longer pending */
	return 0;
}

SYS(rt_sigprocmask)
{
	if (a3 != 8)
		return -EINVAL;
	if (a2 && copy_to_user(a2, &current->sigmask, sizeof(current->sigmask)))
		return -EFAULT;
	if (a1) {
		uint64_t set;
		if (copy_from_user(&set, a1, sizeof(set)))
			return -EFAULT;
		switch (a0) {
		case 0: current->sigmask |= set; break;  /* SIG_BLOCK */
		case 1: current->sigmask &= ~set; break; /* SIG_UNBLOCK */
		case 2: current->sigmask = set; break;   /* SIG_SETMASK */
		default: return -EINVAL;
		}
		current->sigmask &= ~UNBLOCKABLE;
	}
	return 0;
}

SYS(sigaltstack)
{
	/* stack_t: ss_sp, ss_flags (int), ss_size */
	uint64_t ss[3];
	if (a0 && copy_from_user(ss, a0, sizeof(ss)))
		return -EFAULT;
	if (a1 && copy_to_user(a1, current->altstack, sizeof(current->altstack)))
		return -EFAULT;
	if (!a0)
		return 0;
	uint32_t flags = (uint32_t)ss[1];
	if (flags & ~(2u | (1u << 31))) /* SS_DISABLE, SS_AUTODISARM */
		return -EINVAL;
	if (flags & 2) {
		current->altstack[0] = current->altstack[2] = 0;
		current->altstack[1] = 2;
		return 0;
	}
	if (ss[2] < 2048) /* MINSIGSTKSZ */
		return -ENOMEM;
	memcpy(current->altstack, ss, sizeof(ss));
	return 0;
}

SYS(ioctl)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (a1 == FIONBIO || a1 == FIOCLEX || a1 == FIONCLEX) { /* any descriptor */
		int on = 0;
		if (a1 == FIONBIO && copy_from_user(&on, a2, sizeof(on)))
			return -EFAULT;
		if (a1 == FIONBIO)
			of->flags = on ? of->flags | O_NONBLOCK : of->flags & ~(uint32_t)O_NONBLOCK;
		else
			current->proc->cloexec[a0] = a1 == FIOCLEX;
		return 0;
	}
	if (of->kind == OF_SOCKET)
		return socket_ioctl(of, a1, a2);
	if (of->kind != OF_CONSOLE)
		return -ENOTTY;
	return stdio_ioctl(of, a1, a2);
}

/* Nice values: the process's one (its threads share it here), kept and
 * reported; the scheduler does not weigh them. which 0: PRIO_PROCESS. */
SYS(getpriority)
{
	if (a0 > 2)
		return -EINVAL;
	if (a0 != 0 || (a1 != 0 && a1 != (uint64_t)current->proc->pid && !task_find((int)a1)))
		return -ESRCH;
	return 20 - current->proc->nice; /* the raw call's 1..40, which glibc turns back */
}

SYS(setpriority)
{
	if (a0 > 2)
		return -EINVAL;
	if (a0 != 0 || (a1 != 0 && a1 != (uint64_t)current->proc->pid && !task_find((int)a1)))
		return -ESRCH;
	int nice = (int)a2 < -20 ? -20 : (int)a2 > 19 ? 19 : (int)a2;
	if (nice < current->proc->nice && vfs_uid != 0)
		return -EACCES; /* only root may raise its priority */
	current->proc->nice = nice;
	return 0;
}

SYS(rseq)
{
	return -ENOSYS; /* restartable sequences need preemption to mean anything */
}

SYS(prctl)
{
	switch (a0) {
	case 15: /* PR_SET_NAME */
		return 0;
	case 16: { /* PR_GET_NAME */
		static const char name[16] = "program";
		return copy_to_user(a1, name, sizeof(name));
	}
	default:
		return -EINVAL;
	}
}

SYS(rt_sigpending)
{
	if (a1 != 8)
		return -EINVAL;
	uint64_t set = signal_pending_blocked();
	return copy_to_user(a0, &set, sizeof(set));
}

