/*
 * Tasks: the program's threads, each with its own kernel stack, user
 * registers (saved on that stack), FPU state, TLS base and signal mask,
 * run round-robin from a run queue per CPU, balanced between the CPUs
 * (cpu_queues.h).
 *
 * One task is in the kernel at a time: it holds the kernel lock from its
 * entry until it returns to the program or waits (task_wait drops it; a
 * FUSE request's wait keeps it); a timer interrupt preempts only a task
 * running program code. ARCHITECTURE.md ("Shared state: owners and
 * locks") says what that means for each piece of shared state.
 */
#ifndef GUEST_TASK_H
#define GUEST_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <pier/futex_queue.h>
#include <pier/lock_order.h>
#include <pier/run_queue.h>
#include "../arch/x86_64/smp.h"
#include "kstack.h"

#define TASK_KSTACK_SIZE KSTACK_SIZE
#define TASK_MAX 512 /* threads at once; clone says EAGAIN past it */

struct syscall_frame;
struct sig_info;

struct process;

struct task {
	struct rq_entry rq;           /* first: the scheduler's link */
	int tid;
	struct cpu *cpu;              /* where it runs or last ran */
	int home;                     /* the CPU whose run queue it is on (cpu_queues.h) */
	struct process *proc;         /* whose thread it is (linux/process.h) */
	struct mm *mm;                /* the address space it runs in: CR3 follows it */
	uint64_t ksp;                 /* saved kernel stack pointer while switched out */
	void *kstack;                 /* NULL: a static stack (the first task's) */
	uint64_t kstack_top;
	struct syscall_frame *frame;  /* the system call being served */
	uint64_t fs_base;             /* the TLS base (arch_prctl, CLONE_SETTLS) */
	uint64_t clear_child_tid;     /* set_tid_address: zeroed and woken at exit */
	uint64_t robust_list;         /* set_robust_list head, walked at exit */
	/* Signals (signal.c): per-thread mask, pending, alternate stack. */
	uint64_t sigmask, sigpending, saved_mask;
	bool sig_suspended;           /* in rt_sigsuspend: saved_mask comes back */
	uint64_t altstack[3];         /* ss_sp, ss_flags, ss_size */
	struct sig_info *siginfo;     /* [65], what came with each of sigpending */
	bool wake_missed;             /* woken while runnable: its next wait returns (task.c) */
	bool full_restore;            /* rt_sigreturn: rcx and r11 below go back too (signal.c
				       * hands them to user.S through the stack base) */
	uint64_t full_rcx, full_r11;
	struct fq_waiter futex;       /* futex.c: queued while in FUTEX_WAIT */
	struct task *all_next;        /* every live task, for lookups */
	uint64_t run_ns, sys_ns;      /* CPU time: all, and in system calls */
	void *io_buf;                 /* task_io_buffer: the task's own bounce buffer */
	uint64_t on_cpu_since;        /* time_ns when it was last switched in */
	struct lock_held held;        /* the spinlocks it holds (spinlock.c) */
	bool io_may_unlock;           /* its device waits may let the kernel lock go
				       * (task_io_unlock_begin) */
	uint8_t fpu[512] __attribute__((aligned(16))); /* FXSAVE image */
};

/* The running task: the one whose kernel stack this is (kstack.h). */
#define current (kstack_task())

/* The CPU this code runs on: its task's (the boot CPU before tasks). */
static inline struct cpu *cpu_this(void)
{
	struct task *t = current;
	return t ? t->cpu : &smp_cpus[0];
}

/* The first task: the program's main thread. Its kernel stack is
 * kstack_bottom (KSTACK_SIZE, aligned), the code calling this is on
 * boot_stack (the same, or NULL): both become the task's. */
void task_init(void *kstack_bottom, void *boot_stack, int tid);
/* CPU c's idle task, on a stack of its own (NULL: no memory): what
 * the CPU runs when no task can (the boot CPU halts in its last task's
 * context then, but switches to its idle task when that task must move
 * to another CPU). Made by the boot CPU, for every CPU, when it starts
 * the others. */
struct task *task_new_idle(struct cpu *c);
/* The idle loop of a CPU, on its idle task's stack: runs tasks. */
__attribute__((noreturn)) void task_idle_loop(void);
/* A new task of process proc in address space mm: its program registers
 * are *frame with rax 0 (clone's return in the child), then user_rsp and
 * fs_base. Runnable at once. NULL with errno in *err (EAGAIN, ENOMEM). */
struct mm;
struct task *task_clone(const struct syscall_frame *frame, uint64_t user_rsp, bool set_tls,
			uint64_t tls, struct process *proc, struct mm *mm, int *err);
/*
 * A new task of process proc that starts in the kernel, without the kernel
 * lock, with no address space: fn(arg) (kernel_enter first) sets it up and
 * fills t->frame for the program's start, then returns 0 and the task goes
 * to the program as from a system call. Runnable at once. NULL with errno
 * in *err.
 */
struct task *task_spawn(int64_t (*fn)(void *arg), void *arg, struct process *proc, int *err);
/* fn(t) runs whenever task t takes the kernel lock: what follows the
 * lock's holder (the file system's uid and gid). */
void task_set_enter_hook(void (*fn)(struct task *t));
/* current runs in mm from now on (exec's new space; NULL at exit). */
void task_set_mm(struct mm *mm);
/* Waits until deadline (time_ns; RQ_NO_DEADLINE: none) or a wake-up:
 * task_wake, or any event (task_wake_all, an interrupt while idle). Callers
 * loop, re-checking what they wait for. Returns at once-ish with one task. */
void task_wait(uint64_t deadline);
/* Lets the other runnable tasks run first. */
void task_yield(void);
/* task_wait and task_yield keeping the kernel lock (a FUSE request's
 * wait: interrupts, or polling for longer than a moment). */
void task_wait_holding(uint64_t deadline);
void task_yield_holding(void);
/*
 * Between these, the calling system call's device waits that the driver
 * allows (a FUSE_READ's: virtio_call's may_unlock) let the kernel lock go
 * until their answer is in, so other tasks enter the kernel, on other
 * CPUs and other request queues, meanwhile. The system call must then
 * hold what it uses after (its open file: ofile_hold) and check again
 * what another task could have changed (the user buffer: user_check).
 */
static inline void task_io_unlock_begin(void)
{
	if (current)
		current->io_may_unlock = true;
}
static inline void task_io_unlock_end(void)
{
	if (current)
		current->io_may_unlock = false;
}
/* A page fault in the middle of such a call (a copy out of the DAX window
 * into a buffer not paged in yet) keeps the lock through its own waits:
 * it works on the region and page table it found. Returns what to give
 * back to task_io_unlock_resume. */
static inline bool task_io_unlock_pause(void)
{
	bool was = current && current->io_may_unlock;
	if (was)
		current->io_may_unlock = false;
	return was;
}
static inline void task_io_unlock_resume(bool was)
{
	if (was)
		current->io_may_unlock = true;
}
/* For such a wait: gives the kernel lock back if the task allows it and
 * holds it; whether it did (kernel_enter takes it again). */
bool task_io_leave(void);
/* The kernel lock (task.c): kernel_enter takes it (waiting while another
 * task has it) and returns whether it did (false: already ours, or no
 * tasks yet); kernel_leave gives it back. */
bool kernel_enter(void);
void kernel_leave(void);
/* kernel_enter if nobody holds the lock: whether it took it. */
bool kernel_try_enter(void);
void task_wake(struct task *t);
/* sched_setaffinity: t runs only on the CPUs in mask (bit i: CPU i; some
 * online) from now on. current is on one of them when this returns (with
 * the kernel lock: it is let go while current moves); another task moves
 * at once if it is not running, else at its next switch. */
void task_set_allowed(struct task *t, uint64_t mask);
/* Something happened that any waiter may be waiting for (pipe data, a
 * signal, a thread exit): every waiting task re-checks. */
void task_wake_all(void);
/* Every other CPU running a task is interrupted (a reschedule IPI), so
 * a task in program code there comes in and takes its signals now, not
 * at its slice's end. */
void task_kick_running(void);
/* Ends current (after its exit work): never returns. The last task's
 * exit is the caller's business (it ends the process). */
__attribute__((noreturn)) void task_exit(void);
int task_count(void);
/* The current task's bounce buffer for file I/O (TASK_IO_BUF bytes,
 * made on first use): no buffer is shared between tasks, so a task that
 * waits half-way through a transfer cannot see another's bytes. NULL if
 * there is no memory for it. */
#define TASK_IO_BUF (256 * 1024)
void *task_io_buffer(void);
/* CPU time of t up to now (ns): all of it and the part in system calls.
 * t NULL: the process's, its exited threads included. */
void task_cpu_time(const struct task *t, uint64_t *run, uint64_t *sys);
/* The system call being served took ns (syscall.c). */
void task_account_syscall(uint64_t ns);
struct task *task_find(int tid);
/* Calls fn for every live task. */
void task_for_each(void (*fn)(struct task *t, void *arg), void *arg);
/* An interrupt came while a task ran program code (its rflags; timer:
 * the APIC timer's, else a device's): due program timers fire, and the
 * CPU goes to another task if the slice is over or a device woke one.
 * Called without the kernel lock; needs none. */
void task_interrupted_user(uint64_t *rflags, bool timer);
/* On every way back to the program (its rflags): yields at the end of a
 * slice; with several tasks the program runs with interrupts on and the
 * APIC timer set to end the slice. */
void task_before_user(uint64_t *rflags);
/* The program's timers (linux/timers.c): fire(now) posts the signals of
 * those due and returns the next deadline (RQ_NO_DEADLINE: none). */
void task_set_timer_hook(uint64_t (*fire)(uint64_t now));

#endif
