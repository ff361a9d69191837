/*
 * The process tree (see process.h): pid 1, fork, exec's reset, exit,
 * zombies and reaping. The system calls over it are sys_process.c's.
 *
 * A process's pid is its first thread's tid (one number space, as on
 * Linux). A process that exits closes its descriptors, gives back its
 * address space and stays a zombie, holding its status, until its parent
 * waits for it, unless the parent said it will not (SIGCHLD ignored,
 * SA_NOCLDWAIT). Its children go to pid 1. pid 1's end is the VM's.
 */
#include <asm-generic/siginfo.h>
#include <linux/sched.h>
#include <linux/signal.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../drivers/virtio_console.h"
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "../net/host_net.h"
#include "../mm/vm.h"
#include "exec_session.h"
#include "futex.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"
#include "timers.h"

#define SIG_IGN_HANDLER 1

static struct process *all;
static int nprocs;
int tty_foreground_pgrp = 1;

static void link_child(struct process *parent, struct process *c)
{
	c->parent = parent;
	c->sibling = parent->children;
	parent->children = c;
}

static void unlink_child(struct process *c)
{
	for (struct process **pp = &c->parent->children; *pp; pp = &(*pp)->sibling)
		if (*pp == c) {
			*pp = c->sibling;
			return;
		}
}

static struct process *process_alloc(void)
{
	struct process *p = kzalloc(sizeof(*p));
	if (!p)
		return NULL;
	p->all_next = all;
	all = p;
	nprocs++;
	return p;
}

/* A reaped zombie (or a fork that failed half-way) goes. */
static void process_free(struct process *p)
{
	for (struct process **pp = &all; *pp; pp = &(*pp)->all_next)
		if (*pp == p) {
			*pp = p->all_next;
			break;
		}
	nprocs--;
	kfree(p->pinfo);
	kfree(p->exe);
	kfree(p->cmdline);
	kfree(p);
}

/* Each process has its own identity (set*id write it there); the file
 * system's checks and requests use vfs_uid and vfs_gid, which follow the
 * kernel lock: whoever takes it sets them. A kernel task (no process)
 * leaves them. */
static void enter_identity(struct task *t)
{
	if (t->proc) {
		vfs_uid = t->proc->uid;
		vfs_gid = t->proc->gid;
	}
}

struct process *process_init_first(int pid)
{
	struct process *p = process_alloc();
	if (!p)
		return NULL;
	p->pid = p->pgid = p->sid = pid;
	p->nthreads = 1;
	p->umask = 022;
	p->uid = vfs_uid;
	p->gid = vfs_gid;
	current->proc = p;
	task_set_enter_hook(enter_identity);
	return p;
}

int process_spawn(int64_t (*fn)(void *arg), void *arg, uint32_t uid, uint32_t gid,
		  struct exec_session *exec)
{
	struct process *p = process_alloc();
	if (!p)
		return -ENOMEM;
	int err;
	struct task *t = task_spawn(fn, arg, p, &err);
	if (!t) {
		process_free(p);
		return err;
	}
	p->pid = p->pgid = p->sid = t->tid; /* a session of its own, as setsid */
	p->nthreads = 1;
	p->umask = 022;
	p->uid = uid;
	p->gid = gid;
	p->exit_signal = 0;
	p->exec = exec;
	return p->pid;
}

struct process *process_find(int pid)
{
	for (struct process *p = all; p; p = p->all_next)
		if (p->pid == pid)
			return p;
	return NULL;
}

void process_for_each(void (*fn)(struct process *p, void *arg), void *arg)
{
	for (struct process *p = all; p; p = p->all_next)
		fn(p, arg);
}

int process_count(void)
{
	return nprocs;
}

static char *dup_bytes(const char *s, uint64_t n)
{
	char *d = s ? kmalloc(n + 1) : NULL;
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

bool process_dying(void)
{
	struct task *killer = current->proc->killer;
	return killer && killer != current;
}

int64_t process_fork(uint64_t flags, int exit_signal, uint64_t user_rsp, uint64_t tls,
		     uint64_t ptid, uint64_t ctid)
{
	struct process *parent = current->proc;
	if (process_dying())
		return -EINTR; /* its SIGKILL ends this thread on the way out */
	struct process *p = process_alloc();
	if (!p)
		return -ENOMEM;
	bool share_vm = flags & CLONE_VM;
	struct mm *mm = share_vm ? parent->mm : vm_fork();
	if (!mm) {
		process_free(p);
		return -ENOMEM;
	}
	if (share_vm)
		vm_get(mm);
	int err;
	struct task *t = task_clone(current->frame, user_rsp, flags & CLONE_SETTLS, tls, p, mm, &err);
	if (!t) {
		vm_put(mm);
		process_free(p);
		return err;
	}
	/* What the child inherits: a copy of the parent's, open file
	 * descriptions shared (offsets, flags), as fork(2) says. */
	p->pid = t->tid;
	p->pgid = parent->pgid;
	p->sid = parent->sid;
	p->mm = mm;
	p->nthreads = 1;
	p->exit_signal = exit_signal;
	for (int fd = 0; fd < MAX_FDS; fd++)
		if ((p->fds[fd] = parent->fds[fd]))
			p->fds[fd]->refs++;
	memcpy(p->cloexec, parent->cloexec, sizeof(p->cloexec));
	memcpy(p->cwd, parent->cwd, sizeof(p->cwd));
	p->brk_start = parent->brk_start;
	p->brk = parent->brk;
	p->gs_base = parent->gs_base;
	p->umask = parent->umask;
	memcpy(p->sigactions, parent->sigactions, sizeof(p->sigactions));
	p->nice = parent->nice;
	p->exe = parent->exe ? dup_bytes(parent->exe, strlen(parent->exe)) : NULL;
	p->cmdline = dup_bytes(parent->cmdline, parent->cmdline_len);
	p->cmdline_len = p->cmdline ? parent->cmdline_len : 0;
	p->strace = parent->strace;
	p->uid = vfs_uid;
	p->gid = vfs_gid;
	t->altstack[0] = current->altstack[0]; /* fork keeps the alternate stack */
	t->altstack[1] = current->altstack[1];
	t->altstack[2] = current->altstack[2];
	/* vfork: the parent waits until the child has exec'd or exited (its
	 * memory is the parent's until then); the flag is the parent's own,
	 * as the child may be reaped and gone by the time it looks. */
	bool vfork_done = false;
	if (flags & CLONE_VFORK)
		p->vfork_done = &vfork_done;
	link_child(parent, p);
	/* The ids where asked; a bad pointer there does not stop the child,
	 * as on Linux. */
	int32_t pid = p->pid;
	if (flags & CLONE_PARENT_SETTID)
		(void)copy_to_user(ptid, &pid, sizeof(pid));
	if (flags & CLONE_CHILD_SETTID) { /* in the child's memory */
		task_set_mm(mm);
		(void)copy_to_user(ctid, &pid, sizeof(pid));
		task_set_mm(parent->mm);
	}
	if (flags & CLONE_CHILD_CLEARTID)
		t->clear_child_tid = ctid;
	while ((flags & CLONE_VFORK) && !vfork_done && !process_dying())
		task_wait(RQ_NO_DEADLINE);
	if (!vfork_done)
		p->vfork_done = NULL; /* going away first: nobody to tell */
	return pid;
}

void process_vfork_release(struct process *p)
{
	if (p->vfork_done) {
		*p->vfork_done = true;
		p->vfork_done = NULL;
		task_wake_all();
	}
}

static void kill_thread(struct task *t, void *arg)
{
	struct process *p = arg;
	if (t->proc == p && t != current)
		signal_post_thread(t, SIGKILL);
}

/* Every thread of current's process but current ends; returns when they
 * are gone. They die at their next way back to the program, or out of
 * the wait they are in (SIGKILL ends every interruptible wait). */
static void kill_other_threads(void)
{
	struct process *p = current->proc;
	if (p->nthreads == 1)
		return;
	p->killer = current;
	task_for_each(kill_thread, p);
	while (p->nthreads > 1)
		task_wait(RQ_NO_DEADLINE);
	p->killer = NULL;
}

/* The calling thread's CPU time goes to its process's (it is ending). */
static void keep_thread_time(struct process *p)
{
	uint64_t run, sys;
	task_cpu_time(current, &run, &sys);
	p->run_ns += run;
	p->sys_ns += sys;
}

static void close_all(struct process *p)
{
	for (int fd = 0; fd < MAX_FDS; fd++)
		if (p->fds[fd])
			fd_close(fd);
}

/* The calling thread ends; others of its process go on. */
static __attribute__((noreturn)) void thread_gone(void)
{
	struct process *p = current->proc;
	keep_thread_time(p);
	p->nthreads--;
	task_exit();
}

void process_thread_exit(void)
{
	struct process *p = current->proc;
	if (!p->killer) /* a thread killed for its process's exit or exec: no memory to write */
		futex_thread_exit(current);
	thread_gone();
}

void process_exec_reset(void)
{
	struct process *p = current->proc;
	kill_other_threads();
	current->tid = p->pid; /* as Linux: the thread that exec's takes the pid */
	for (int fd = 0; fd < MAX_FDS; fd++)
		if (p->fds[fd] && p->cloexec[fd])
			fd_close(fd);
	/* Handlers are the old program's code: back to the default; ignored
	 * signals stay ignored, as execve(2) says. */
	for (int sig = 1; sig <= 64; sig++) {
		uint64_t *act = p->sigactions[sig];
		if (act[0] != SIG_IGN_HANDLER)
			memset(act, 0, 4 * sizeof(uint64_t));
	}
	current->altstack[0] = current->altstack[2] = 0;
	current->altstack[1] = SS_DISABLE;
	current->fs_base = 0;
	p->gs_base = 0;
	current->clear_child_tid = 0;
	current->robust_list = 0;
	timers_exec(p);
	process_vfork_release(p);
}

/* pid 1's end: the VM's, with its status (the other processes go with it). */
static __attribute__((noreturn)) void init_exit(int wstatus)
{
	close_all(current->proc);
	vcon_flush();
	net_report();
	vfs_unmount_all();
	if (wstatus & 0x7f)
		control_exit_signal(wstatus & 0x7f);
	control_exit((wstatus >> 8) & 0xff);
}

/* The parent learns of p's end: its exit signal, and a wake-up for wait4. */
static void notify_parent(struct process *p)
{
	struct process *parent = p->parent;
	uint64_t *chld = parent->sigactions[SIGCHLD];
	bool no_zombie = chld[0] == SIG_IGN_HANDLER || (chld[1] & SA_NOCLDWAIT);
	if (p->exit_signal) {
		bool killed = p->wstatus & 0x7f;
		struct sig_info in = { .code = killed ? CLD_KILLED : CLD_EXITED, .pid = p->pid,
				       .uid = vfs_uid,
				       .value = killed ? (uint64_t)(p->wstatus & 0x7f)
						       : (uint64_t)((p->wstatus >> 8) & 0xff) };
		signal_post_proc(parent, p->exit_signal, &in);
	}
	if (no_zombie) { /* nobody will wait for it: reaped now */
		unlink_child(p);
		process_free(p);
	}
	task_wake_all(); /* wait4 in the parent looks again */
}

void process_exit_wstatus(int wstatus)
{
	struct process *p = current->proc;
	if (process_dying())
		thread_gone(); /* another thread is ending the process (or exec'ing) */
	if (p->pid == 1)
		init_exit(wstatus);
	kill_other_threads();
	p->killer = current; /* for good: nothing of it runs again */
	close_all(p);
	timers_exit(p);
	process_vfork_release(p);
	/* Its memory goes (written-back shared file pages first). */
	struct mm *mm = p->mm;
	p->mm = NULL;
	task_set_mm(NULL);
	if (mm) /* none yet: an exec'd program that could not start */
		vm_put(mm);
	/* Its children are pid 1's now; zombies among them are for pid 1 to reap. */
	struct process *init = process_find(1);
	bool zombies = false;
	while (p->children) {
		struct process *c = p->children;
		p->children = c->sibling;
		link_child(init, c);
		zombies |= c->state == PROC_ZOMBIE;
	}
	if (zombies) {
		struct sig_info in = { .code = CLD_EXITED, .uid = vfs_uid };
		signal_post_proc(init, SIGCHLD, &in);
	}
	keep_thread_time(p);
	p->wstatus = wstatus;
	p->state = PROC_ZOMBIE;
	p->nthreads = 0;
	if (!p->parent) { /* pier-oci exec's: its status goes to the host, nobody waits */
		exec_session_exited(p->exec, wstatus);
		process_free(p);
		task_exit();
	}
	notify_parent(p); /* may free p */
	task_exit();
}

void process_exit(int status)
{
	process_exit_wstatus((status & 0xff) << 8);
}

void process_exit_signal(int sig)
{
	process_exit_wstatus(sig & 0x7f);
}

void process_reap(struct process *c)
{
	struct process *p = current->proc;
	p->child_run_ns += c->run_ns + c->child_run_ns;
	p->child_sys_ns += c->sys_ns + c->child_sys_ns;
	unlink_child(c);
	process_free(c);
}

struct cpu_sum {
	const struct process *p;
	uint64_t run, sys;
};

static void add_time(struct task *t, void *arg)
{
	struct cpu_sum *sum = arg;
	if (t->proc != sum->p)
		return;
	uint64_t run, sys;
	task_cpu_time(t, &run, &sys);
	sum->run += run;
	sum->sys += sys;
}

void process_cpu_time(struct process *p, uint64_t *run, uint64_t *sys)
{
	struct cpu_sum sum = { p, p->run_ns, p->sys_ns };
	if (p->state == PROC_LIVE)
		task_for_each(add_time, &sum);
	*run = sum.run;
	*sys = sum.sys;
}
