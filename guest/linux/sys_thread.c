/*
 * Threads and new processes: clone and clone3 (a thread here; a new
 * process, fork's and vfork's forms too, through process.c), exit vs
 * exit_group, thread ids, the TLS base, affinity and yielding, and
 * signals sent to processes, groups or one thread.
 */
#include <linux/membarrier.h>
#include <linux/signal.h>
#include <asm-generic/siginfo.h>
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
#include "../fs/vfs.h"
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

/* What a new process may ask for: its own copy of everything but the
 * memory (CLONE_VM: vfork's and posix_spawn's way, shared until exec). */
#define PROCESS_MAY (CLONE_VM | CLONE_VFORK | CLONE_SETTLS | CLONE_PARENT_SETTID | \
		     CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_SYSVSEM | CLONE_DETACHED)

static int64_t new_process(int nr, uint64_t flags, uint64_t stack, uint64_t ptid, uint64_t ctid,
			   uint64_t tls)
{
	if (flags & ~(uint64_t)(PROCESS_MAY | 0xff)) {
		/* Shared descriptor tables or handlers between processes
		 * (CLONE_FILES, CLONE_SIGHAND, CLONE_FS), namespaces: not here. */
		knote("%s: flags 0x%llx for a new process not supported: EINVAL\n",
		      nr == __NR_clone3 ? "clone3" : "clone",
		      (unsigned long long)(flags & ~(uint64_t)(PROCESS_MAY | 0xff)));
		return -EINVAL;
	}
	if (stack >= USER_TOP || ((flags & CLONE_SETTLS) && tls >= USER_TOP))
		return -EINVAL;
	return process_fork(flags, (int)(flags & 0xff), stack ? stack : current->frame->rsp, tls,
			    ptid, ctid);
}

static int64_t do_clone(int nr, uint64_t flags, uint64_t stack, uint64_t ptid, uint64_t ctid,
			uint64_t tls)
{
	if (!(flags & CLONE_THREAD))
		return new_process(nr, flags, stack, ptid, ctid, tls);
	if ((flags & 0xff) || (flags & THREAD_NEEDS) != THREAD_NEEDS ||
	    (flags & ~(uint64_t)(THREAD_NEEDS | THREAD_MAY | 0xff)))
		return -EINVAL;
	if (stack >= USER_TOP || ((flags & CLONE_SETTLS) && tls >= USER_TOP))
		return -EINVAL;
	int err;
	struct task *t = task_clone(current->frame, stack, flags & CLONE_SETTLS, tls, current->proc,
				    current->mm, &err);
	if (!t)
		return err;
	current->proc->nthreads++;
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

SYS(fork)
{
	return process_fork(0, SIGCHLD, current->frame->rsp, 0, 0, 0);
}

SYS(vfork)
{
	return process_fork(CLONE_VM | CLONE_VFORK, SIGCHLD, current->frame->rsp, 0, 0, 0);
}

SYS(exit)
{
	/* The process's status is its main thread's, whichever thread is
	 * the last to go. */
	if (current->tid == current->proc->pid)
		current->proc->exit_status = (int)(a0 & 0xff);
	if (current->proc->nthreads == 1)
		process_exit(current->proc->exit_status);
	process_thread_exit();
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

/* pid 0, or any thread (processes' ids are their first threads'). */
static bool our_task(uint64_t pid)
{
	return pid == 0 || task_find((int)pid);
}

/* Every CPU online (at most SMP_MAX_CPUS: one word). */
static uint64_t cpus_mask(void)
{
	int n = smp_cpus_online();
	return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

SYS(sched_getaffinity)
{
	if (!our_task(a0))
		return -ESRCH;
	if (a1 < 8 || (a1 & 7))
		return -EINVAL;
	struct task *t = a0 ? task_find((int)a0) : current;
	uint64_t mask = t->rq.allowed & cpus_mask();
	return copy_to_user(a2, &mask, sizeof(mask)) ? -EFAULT : 8;
}

/* The task runs only on the CPUs it allows that are online, from the
 * return on if it is the caller (task_set_allowed). EINVAL when none is
 * online, as Linux. */
SYS(sched_setaffinity)
{
	uint64_t mask = 0;
	if (!our_task(a0))
		return -ESRCH;
	if (a1 == 0)
		return -EINVAL;
	if (copy_from_user(&mask, a2, a1 < 8 ? a1 : 8))
		return -EFAULT;
	mask &= cpus_mask();
	if (!mask)
		return -EINVAL;
	task_set_allowed(a0 ? task_find((int)a0) : current, mask);
	return 0;
}

SYS(getcpu)
{
	uint32_t cpu = (uint32_t)cpu_this()->index, node = 0;
	if ((a0 && copy_to_user(a0, &cpu, sizeof(cpu))) ||
	    (a1 && copy_to_user(a1, &node, sizeof(node))))
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
		current->proc->gs_base = a1;
		wrmsr(MSR_GS_BASE, a1); /* the kernel does not use %gs */
		return 0;
	case ARCH_GET_GS:
		return copy_to_user(a1, &current->proc->gs_base, sizeof(current->proc->gs_base));
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

/* kill(-1): every live process but pid 1 and the sender. */
struct kill_all {
	int sig, found;
};

static void kill_one(struct process *p, void *arg)
{
	struct kill_all *k = arg;
	if (p->state != PROC_LIVE || p->pid == 1 || p == current->proc)
		return;
	k->found++;
	if (k->sig)
		signal_send(p, k->sig);
}

SYS(kill)
{
	int pid = (int)a0, sig = (int)a1;
	if (a1 > 64)
		return -EINVAL;
	if (pid > 0) {
		struct process *p = process_find(pid);
		if (!p)
			return -ESRCH;
		if (sig)
			signal_send(p, sig); /* a zombie takes none, and says nothing */
		return 0;
	}
	if (pid == INT32_MIN)
		return -ESRCH;
	if (pid == -1) {
		struct kill_all k = { sig, 0 };
		process_for_each(kill_one, &k);
		return k.found ? 0 : -ESRCH;
	}
	struct sig_info in = { .code = SI_USER, .pid = current->proc->pid, .uid = vfs_uid };
	return signal_group(pid == 0 ? current->proc->pgid : -pid, sig, &in) ? 0 : -ESRCH;
}

static int64_t signal_thread(int tgid, uint64_t tid, uint64_t sig)
{
	if (sig > 64)
		return -EINVAL;
	struct task *t = (int64_t)tid > 0 ? task_find((int)tid) : NULL;
	if (!t)
		return (int64_t)tid > 0 ? -ESRCH : -EINVAL;
	if (tgid && t->proc->pid != tgid)
		return -ESRCH; /* not a thread of that process */
	if (sig)
		signal_post_thread(t, (int)sig);
	return 0;
}

SYS(tgkill)
{
	if ((int)a0 <= 0)
		return -EINVAL;
	return signal_thread((int)a0, a1, a2);
}

SYS(tkill)
{
	return signal_thread(0, a0, a1);
}
