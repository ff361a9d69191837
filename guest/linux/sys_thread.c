/*
 * Threads: clone and clone3 (threads only: a new process is fork, a later
 * issue), exit vs exit_group, thread ids, the TLS base, affinity and
 * yielding, and signals sent to the process or one of its threads.
 */
#include <linux/membarrier.h>
#include <linux/sched.h>
#include <linux/futex.h>
#include <asm/unistd_64.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "../kernel/task.h"
#include "../mm/vm.h"
#include "futex.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004
#define MSR_GS_BASE 0xc0000101

/* What glibc's pthread_create asks for; each must be there. */
#define THREAD_NEEDS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
/* What else a thread may ask for. */
#define THREAD_MAY (CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | \
		    CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_DETACHED)

static int64_t do_clone(int nr, uint64_t flags, uint64_t stack, uint64_t ptid, uint64_t ctid,
			uint64_t tls)
{
	if (!(flags & CLONE_THREAD)) { /* once per call, as for unknown calls */
		static bool said[2];
		if (!said[nr == __NR_clone3])
			knote("system call %d (%s) not implemented: ENOSYS (for a new process; "
			      "threads are)\n", nr, nr == __NR_clone3 ? "clone3" : "clone");
		said[nr == __NR_clone3] = true;
		return -ENOSYS;
	}
	if ((flags & 0xff) || (flags & THREAD_NEEDS) != THREAD_NEEDS ||
	    (flags & ~(uint64_t)(THREAD_NEEDS | THREAD_MAY | 0xff)))
		return -EINVAL;
	if (stack >= USER_TOP || ((flags & CLONE_SETTLS) && tls >= USER_TOP))
		return -EINVAL;
	int err;
	struct task *t = task_clone(current->frame, stack, flags & CLONE_SETTLS, tls, &err);
	if (!t)
		return err;
	int32_t tid = t->tid;
	/* One address space: both ids can be written now, before either runs. */
	if ((flags & CLONE_PARENT_SETTID) && copy_to_user(ptid, &tid, sizeof(tid)))
		return -EFAULT; /* the thread runs anyway, as on Linux */
	if ((flags & CLONE_CHILD_SETTID) && copy_to_user(ctid, &tid, sizeof(tid)))
		return -EFAULT;
	if (flags & CLONE_CHILD_CLEARTID)
		t->clear_child_tid = ctid;
	return tid;
}

SYS(clone)
{
	/* x86_64 order: flags, stack, parent_tid, child_tid, tls */
	return do_clone(__NR_clone, a0, a1, a2, a3, a4);
}

SYS(clone3)
{
	struct clone_args ca;
	if (a1 < CLONE_ARGS_SIZE_VER0 || a1 > 4096)
		return -EINVAL;
	memset(&ca, 0, sizeof(ca));
	if (copy_from_user(&ca, a0, a1 < sizeof(ca) ? a1 : sizeof(ca)))
		return -EFAULT;
	/* pidfd is read only with CLONE_PIDFD, which do_clone refuses. */
	if ((ca.flags & 0xff) || ca.exit_signal > 64 || ca.set_tid || ca.set_tid_size ||
	    ca.cgroup)
		return -EINVAL;
	/* The stack is given as its lowest address and size: it grows down
	 * from their end. */
	uint64_t top = ca.stack ? ca.stack + ca.stack_size : 0;
	return do_clone(__NR_clone3, ca.flags | ca.exit_signal, top, ca.parent_tid, ca.child_tid,
			ca.tls);
}

SYS(exit)
{
	/* The process's status is its main thread's, whichever thread is
	 * the last to go. */
	if (current->tid == proc.pid)
		proc.exit_status = (int)(a0 & 0xff);
	if (task_count() == 1)
		process_exit(proc.exit_status);
	futex_thread_exit(current);
	task_exit();
}

SYS(exit_group)
{
	process_exit((int)(a0 & 0xff));
}

SYS(gettid) { return current->tid; }

SYS(set_tid_address)
{
	current->clear_child_tid = a0;
	return current->tid;
}

SYS(set_robust_list)
{
	if (a1 != sizeof(struct robust_list_head))
		return -EINVAL;
	current->robust_list = a0;
	return 0;
}

SYS(get_robust_list)
{
	struct task *t = a0 ? task_find((int)a0) : current;
	if (!t)
		return -ESRCH;
	uint64_t len = sizeof(struct robust_list_head);
	if (copy_to_user(a1, &t->robust_list, sizeof(t->robust_list)) ||
	    copy_to_user(a2, &len, sizeof(len)))
		return -EFAULT;
	return 0;
}

SYS(sched_yield)
{
	task_yield();
	return 0;
}

/* pid 0, the process or one of its threads. */
static bool our_task(uint64_t pid)
{
	return pid == 0 || task_find((int)pid);
}

SYS(sched_getaffinity)
{
	if (!our_task(a0))
		return -ESRCH;
	if (a1 < 8 || (a1 & 7))
		return -EINVAL;
	uint64_t mask = 1; /* one CPU */
	return copy_to_user(a2, &mask, sizeof(mask)) ? -EFAULT : 8;
}

SYS(sched_setaffinity)
{
	uint64_t mask = 0;
	if (!our_task(a0))
		return -ESRCH;
	if (a1 == 0)
		return -EINVAL;
	if (copy_from_user(&mask, a2, a1 < 8 ? a1 : 8))
		return -EFAULT;
	return mask & 1 ? 0 : -EINVAL; /* it must allow the one CPU there is */
}

SYS(getcpu)
{
	uint32_t zero = 0;
	if ((a0 && copy_to_user(a0, &zero, sizeof(zero))) ||
	    (a1 && copy_to_user(a1, &zero, sizeof(zero))))
		return -EFAULT;
	return 0;
}

SYS(arch_prctl)
{
	switch (a0) {
	case ARCH_SET_FS:
		if (a1 >= USER_TOP)
			return -EPERM;
		current->fs_base = a1;
		wrmsr(MSR_FS_BASE, a1);
		return 0;
	case ARCH_GET_FS:
		return copy_to_user(a1, &current->fs_base, sizeof(current->fs_base));
	case ARCH_SET_GS:
		if (a1 >= USER_TOP)
			return -EPERM;
		proc.gs_base = a1;
		wrmsr(MSR_GS_BASE, a1); /* the kernel does not use %gs */
		return 0;
	case ARCH_GET_GS:
		return copy_to_user(a1, &proc.gs_base, sizeof(proc.gs_base));
	default:
		return -EINVAL;
	}
}

/*
 * membarrier: every command is already done on one CPU (a task switch
 * is a full barrier, and only one task runs at a time); QUERY answers
 * which ones there are, REGISTER_* succeed.
 */
SYS(membarrier)
{
	const uint64_t known = MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED |
			       MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED |
			       MEMBARRIER_CMD_PRIVATE_EXPEDITED |
			       MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED |
			       MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE |
			       MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE;
	if (a0 == MEMBARRIER_CMD_QUERY)
		return a1 ? -EINVAL : (int64_t)known;
	if ((a0 & (a0 - 1)) || !(a0 & known) || a1)
		return -EINVAL;
	return 0;
}

SYS(kill)
{
	if ((int64_t)a0 != proc.pid && (int64_t)a0 != 0 && (int64_t)a0 != -1 &&
	    (int64_t)a0 != -proc.pid)
		return -ESRCH;
	if (a1 > 64)
		return -EINVAL;
	signal_post((int)a1); /* 0: only whether it exists */
	return 0;
}

static int64_t signal_thread(uint64_t tid, uint64_t sig)
{
	if (sig > 64)
		return -EINVAL;
	struct task *t = (int64_t)tid > 0 ? task_find((int)tid) : NULL;
	if (!t)
		return (int64_t)tid > 0 ? -ESRCH : -EINVAL;
	if (sig)
		signal_post_thread(t, (int)sig);
	return 0;
}

SYS(tgkill)
{
	if ((int64_t)a0 != proc.pid)
		return (int64_t)a0 > 0 ? -ESRCH : -EINVAL;
	return signal_thread(a1, a2);
}

SYS(tkill)
{
	return signal_thread(a0, a1);
}
