/*
 * The process system calls over process.c's tree: execve and execveat,
 * wait4 and waitid, and the ids: parent, process group, session.
 */
#include <linux/fcntl.h>
#include <linux/resource.h>
#include <linux/wait.h>
#include <asm-generic/siginfo.h>
#include <linux/signal.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "exec.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"

#define NS 1000000000ULL
#define P_ALL 0
#define P_PID 1
#define P_PGID 2

SYS(execve)
{
	char *path = kmalloc(VFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	int64_t n = strncpy_from_user(path, a0, VFS_PATH_MAX);
	int64_t r = n < 0 ? n : n == 0 ? -ENOENT : exec_syscall(path, a1, a2);
	kfree(path);
	return r;
}

SYS(execveat)
{
	int dirfd = (int)a0;
	uint64_t flags = a4;
	if (flags & ~(uint64_t)(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -EINVAL;
	char *path = kmalloc(VFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	int64_t r;
	char first = 0;
	if ((flags & AT_EMPTY_PATH) && !copy_from_user(&first, a1, 1) && first == 0) {
		/* The descriptor's own file (fexecve). */
		struct ofile *of = fd_get(dirfd);
		r = !of ? -EBADF : of->kind != OF_FILE || !of->path ? -EACCES : 0;
		if (!r)
			memcpy(path, of->path, strlen(of->path) + 1);
	} else {
		r = user_path_at(dirfd, a1, path);
	}
	if (!r)
		r = exec_syscall(path, a2, a3);
	kfree(path);
	return r;
}

/* Whether child c is one that wait's pid argument names. */
static bool wanted(const struct process *c, int64_t pid)
{
	if (pid > 0)
		return c->pid == pid;
	if (pid == -1)
		return true;
	if (pid == 0)
		return c->pgid == current->proc->pgid;
	return c->pgid == -pid;
}

/* The first zombie child pid names; NULL with *any false: no such child. */
static struct process *zombie_child(int64_t pid, bool *any)
{
	*any = false;
	for (struct process *c = current->proc->children; c; c = c->sibling) {
		if (!wanted(c, pid))
			continue;
		*any = true;
		if (c->state == PROC_ZOMBIE)
			return c;
	}
	return NULL;
}

/* Waits for a child named by pid to end; *out the zombie (not yet
 * reaped), NULL with WNOHANG and none. 0 or -ECHILD, -EINTR. */
static int64_t wait_child(int64_t pid, uint64_t options, struct process **out)
{
	for (;;) {
		bool any;
		*out = zombie_child(pid, &any);
		if (*out)
			return 0;
		if (!any)
			return -ECHILD;
		if (options & WNOHANG)
			return 0;
		if (signal_interrupts())
			return -EINTR; /* SA_RESTART starts wait4 again */
		task_wait(RQ_NO_DEADLINE);
	}
}

static void to_timeval(uint64_t ns, struct __kernel_old_timeval *tv)
{
	tv->tv_sec = (long)(ns / NS);
	tv->tv_usec = (long)(ns % NS / 1000);
}

static int fill_rusage(uint64_t urusage, const struct process *c)
{
	if (!urusage)
		return 0;
	struct rusage r;
	memset(&r, 0, sizeof(r));
	uint64_t run = c->run_ns + c->child_run_ns, sys = c->sys_ns + c->child_sys_ns;
	to_timeval(run > sys ? run - sys : 0, &r.ru_utime);
	to_timeval(sys, &r.ru_stime);
	return copy_to_user(urusage, &r, sizeof(r));
}

SYS(wait4)
{
	int64_t pid = (int32_t)a0;
	uint64_t options = a2;
	if (options & ~(uint64_t)(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL))
		return -EINVAL;
	if (pid == INT32_MIN)
		return -ESRCH;
	struct process *c;
	int64_t r = wait_child(pid, options, &c);
	if (r || !c)
		return r;
	int32_t status = c->wstatus;
	if ((a1 && copy_to_user(a1, &status, sizeof(status))) || fill_rusage(a3, c))
		return -EFAULT;
	int cpid = c->pid;
	process_reap(c);
	return cpid;
}

SYS(waitid)
{
	uint64_t idtype = a0, options = a3;
	int64_t pid;
	if (options & ~(uint64_t)(WNOHANG | WEXITED | WSTOPPED | WCONTINUED | WNOWAIT |
				  __WNOTHREAD | __WCLONE | __WALL))
		return -EINVAL;
	if (!(options & (WEXITED | WSTOPPED | WCONTINUED)))
		return -EINVAL;
	switch (idtype) {
	case P_ALL: pid = -1; break;
	case P_PID: if ((int32_t)a1 <= 0) return -EINVAL; pid = (int32_t)a1; break;
	case P_PGID: if ((int32_t)a1 < 0) return -EINVAL;
		pid = (int32_t)a1 ? -(int64_t)(int32_t)a1 : 0; break;
	default: return -EINVAL; /* P_PIDFD: no pidfds here */
	}
	struct process *c = NULL;
	int64_t r = (options & WEXITED) ? wait_child(pid, options, &c) : -ECHILD;
	if (r)
		return r;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (c) {
		bool killed = c->wstatus & 0x7f;
		si.si_signo = SIGCHLD;
		si.si_code = killed ? CLD_KILLED : CLD_EXITED;
		si.si_pid = c->pid;
		si.si_uid = vfs_uid;
		si.si_status = killed ? c->wstatus & 0x7f : (c->wstatus >> 8) & 0xff;
	}
	if ((a2 && copy_to_user(a2, &si, sizeof(si))) || (c && fill_rusage(a4, c)))
		return -EFAULT;
	if (c && !(options & WNOWAIT))
		process_reap(c);
	return 0;
}

SYS(getppid)
{
	struct process *parent = current->proc->parent;
	return parent ? parent->pid : 0;
}

/* pid 0: the caller; else any process (zombies too). */
static struct process *named(uint64_t pid)
{
	return (int32_t)pid == 0 ? current->proc : (int32_t)pid > 0 ? process_find((int)pid) : NULL;
}

SYS(getpgrp) { return current->proc->pgid; }

SYS(getpgid)
{
	struct process *p = named(a0);
	return p ? p->pgid : -ESRCH;
}

SYS(getsid)
{
	struct process *p = named(a0);
	return p ? p->sid : -ESRCH;
}

struct group_in_session {
	int pgid, sid;
	bool found;
};

static void group_member(struct process *p, void *arg)
{
	struct group_in_session *g = arg;
	if (p->pgid == g->pgid && (g->sid < 0 || p->sid == g->sid))
		g->found = true;
}

/* Whether process group pgid has a member (in session sid; -1: any). */
static bool group_exists(int pgid, int sid)
{
	struct group_in_session g = { pgid, sid, false };
	process_for_each(group_member, &g);
	return g.found;
}

SYS(setpgid)
{
	struct process *me = current->proc, *p = named(a0);
	int64_t pgid = (int32_t)a1;
	if (!p || (p != me && p->parent != me))
		return -ESRCH;
	if (pgid < 0)
		return -EINVAL;
	if (pgid == 0)
		pgid = p->pid;
	if (p->sid == p->pid || p->sid != me->sid)
		return -EPERM; /* a session leader, or a child in another session */
	if (pgid != p->pid && !group_exists((int)pgid, me->sid))
		return -EPERM;
	p->pgid = (int)pgid;
	return 0;
}

SYS(setsid)
{
	struct process *me = current->proc;
	if (group_exists(me->pid, -1))
		return -EPERM; /* it leads a process group already */
	me->sid = me->pgid = me->pid;
	return me->sid;
}
