/*
 * Tasks and the scheduler (see task.h). One vCPU: the current task runs
 * until it waits, exits, or (running program code) its time slice ends
 * at a timer interrupt. With nothing runnable the CPU halts until the
 * earliest deadline or an interrupt, and then every waiter re-checks what
 * it waits for (waits are loops; a spurious wake-up costs one check).
 */
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/gdt.h"
#include "../arch/x86_64/irq.h"
#include "../linux/syscall.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "console.h"
#include "panic.h"
#include "task.h"
#include "time.h"

#define SLICE_NS 10000000ULL /* 10 ms, as a Linux CFS slice on few tasks */
#define RFLAGS_IF 0x200ULL
#define RETRY_NS 1000000ULL /* timers not fired for want of the lock: again in 1 ms */

extern void task_switch(uint64_t *save_ksp, uint64_t new_ksp);
extern char task_first_return[], task_first_call[];
extern uint64_t syscall_kernel_rsp;

struct task *current;
static struct task boot_task;
static struct run_queue rq;
static struct task *all;       /* every live task */
static struct task *dead;      /* exited, stacks to free once off them */
static int ntasks, next_tid;
static uint64_t exited_run_ns, exited_sys_ns; /* CPU time of threads gone */
static uint64_t slice_end;
static uint64_t timer_armed_until; /* what the APIC timer is set for; 0: off */
static uint64_t (*timer_hook)(uint64_t now);
static void (*switch_hook)(struct task *prev, struct task *next); /* fires program timers: their next deadline */

static struct task *task_of(struct rq_entry *e)
{
	return (struct task *)e; /* rq is the first member */
}

void task_init(uint64_t kstack_top, int tid)
{
	struct task *t = &boot_task;
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->kstack_top = kstack_top;
	t->altstack[1] = 2; /* SS_DISABLE */
	t->rq.state = RQ_RUNNABLE;
	t->rq.deadline = RQ_NO_DEADLINE;
	t->on_cpu_since = time_ns();
	rq_init(&rq);
	rq_add(&rq, &t->rq);
	all = t;
	ntasks = 1;
	next_tid = tid + 1;
	current = t;
}

static void reap(void)
{
	while (dead && dead != current) {
		struct task *t = dead;
		dead = t->all_next;
		kfree(t->siginfo);
		kfree(t->io_buf);
		kfree(t->kstack);
		kfree(t);
	}
}

/* Whether program code is interrupted to end time slices (several tasks). */
static bool task_preemptible(void)
{
	return ntasks > 1;
}

static void switch_to(struct task *next)
{
	struct task *prev = current;
	if (next == prev)
		return;
	/* The kernel uses no FPU or SSE register (-mgeneral-regs-only): what
	 * is in them now is prev's program's. */
	__asm__ volatile("fxsave64 %0" : "=m"(prev->fpu));
	__asm__ volatile("fxrstor64 %0" : : "m"(next->fpu));
	if (next->fs_base != prev->fs_base)
		wrmsr(MSR_FS_BASE, next->fs_base);
	vm_activate(next->mm); /* another process's: its page tables */
	if (switch_hook)
		switch_hook(prev, next);
	uint64_t now = time_ns();
	prev->run_ns += now - prev->on_cpu_since;
	next->on_cpu_since = now;
	current = next;
	syscall_kernel_rsp = next->kstack_top;
	gdt_set_kernel_stack(next->kstack_top);
	slice_end = time_ns() + SLICE_NS;
	timer_armed_until = 0;
	if (task_preemptible()) { /* a new task goes straight to its program */
		irq_timer_arm_ns(SLICE_NS);
		timer_armed_until = slice_end;
	}
	task_switch(&prev->ksp, next->ksp);
	reap(); /* back in prev, on its own stack */
}

/* Runs the next runnable task (maybe current again); halts while none.
 * The kernel lock stays with whoever holds it: see schedule(). */
static void schedule_raw(void)
{
	for (;;) {
		uint64_t wake_at;
		bool on_queue = current->rq.next != NULL;
		struct rq_entry *e = rq_pick(&rq, on_queue ? &current->rq : NULL, time_ns(), &wake_at);
		if (e) {
			switch_to(task_of(e));
			return;
		}
		if (timer_hook) { /* the program's timers: they post signals */
			uint64_t next = timer_hook(time_ns());
			if (next < wake_at)
				wake_at = next;
		}
		irq_wait_until(wake_at); /* leaves the timer off */
		timer_armed_until = 0;
		rq_wake_all(&rq); /* an interrupt or a deadline: everyone looks */
	}
}

/*
 * The kernel lock: one task in the kernel at a time. Taken at every entry
 * from the program (system calls, faults, interrupts of program code),
 * dropped on the way back and whenever its holder waits (task_wait,
 * task_yield), except in task_wait_holding: a FUSE request keeps it while
 * the host answers, so no other task sees the VFS half-way, and tasks in
 * program code (or waiting for something else) run meanwhile.
 */
static struct task *kernel_owner;
static int kernel_waiters;

bool kernel_enter(void)
{
	if (!current || kernel_owner == current)
		return false;
	while (kernel_owner) {
		kernel_waiters++;
		rq_wait(&current->rq, RQ_NO_DEADLINE);
		schedule_raw();
		kernel_waiters--;
	}
	kernel_owner = current;
	return true;
}

void kernel_leave(void)
{
	if (!current || kernel_owner != current)
		return;
	kernel_owner = NULL;
	if (kernel_waiters)
		rq_wake_all(&rq); /* who waited for it looks again */
}

/* schedule_raw with the kernel lock dropped while away (unless keep). */
static void schedule_lock(bool keep)
{
	bool held = !keep && kernel_owner == current;
	if (held)
		kernel_leave();
	schedule_raw();
	if (held)
		kernel_enter();
}

static void schedule(void)
{
	schedule_lock(false);
}

void task_wait_holding(uint64_t deadline)
{
	if (!current) {
		irq_wait_until(deadline);
		return;
	}
	rq_wait(&current->rq, deadline);
	schedule_lock(true);
}

void task_yield_holding(void)
{
	if (current && rq_others_runnable(&rq, &current->rq))
		schedule_lock(true);
}

void task_wait(uint64_t deadline)
{
	if (!current) { /* before the program: only the kernel waits */
		irq_wait_until(deadline);
		return;
	}
	rq_wait(&current->rq, deadline);
	schedule();
}

void task_yield(void)
{
	if (!current)
		return;
	schedule(); /* the others first, waiters whose time has come too */
	if (slice_end <= time_ns())
		slice_end = time_ns() + SLICE_NS; /* nobody else: a new slice */
}

void task_wake(struct task *t)
{
	rq_wake(&t->rq);
}

void task_wake_all(void)
{
	rq_wake_all(&rq);
}

void task_set_mm(struct mm *mm)
{
	current->mm = mm;
	vm_activate(mm);
}

/* A task of proc in mm, runnable, whose first switch-in "returns" to
 * first with rbx and r12 as given (switch.S); its frame at the stack's
 * top is the caller's to fill. NULL with errno in *err. */
static struct task *task_new(struct process *proc, struct mm *mm, void *first, uint64_t rbx,
			     uint64_t r12, int *err)
{
	if (ntasks >= TASK_MAX) {
		*err = -EAGAIN;
		return NULL;
	}
	struct task *t = kmalloc_aligned(sizeof(*t), 64);
	void *stack = kmalloc_aligned(TASK_KSTACK_SIZE, 16);
	if (!t || !stack) {
		kfree(t);
		kfree(stack);
		*err = -ENOMEM;
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->tid = next_tid++;
	t->proc = proc;
	t->mm = mm;
	t->kstack = stack;
	t->kstack_top = (uint64_t)stack + TASK_KSTACK_SIZE;
	t->altstack[1] = 2; /* a new thread has no alternate signal stack */
	__asm__ volatile("fxsave64 %0" : "=m"(t->fpu));
	/* Its stack: the program's registers where syscall_entry would have
	 * pushed them, under them what task_switch pops. */
	struct syscall_frame *f = (struct syscall_frame *)(t->kstack_top - sizeof(*f));
	memset(f, 0, sizeof(*f));
	uint64_t *sp = (uint64_t *)f;
	*--sp = (uint64_t)first;
	*--sp = 0;   /* rbp */
	*--sp = rbx;
	*--sp = r12;
	for (int i = 0; i < 3; i++)
		*--sp = 0; /* r13-r15 */
	t->ksp = (uint64_t)sp;
	t->frame = f;
	t->rq.state = RQ_RUNNABLE;
	t->rq.deadline = RQ_NO_DEADLINE;
	rq_add(&rq, &t->rq);
	t->all_next = all;
	all = t;
	ntasks++;
	return t;
}

struct task *task_clone(const struct syscall_frame *frame, uint64_t user_rsp, bool set_tls,
			uint64_t tls, struct process *proc, struct mm *mm, int *err)
{
	struct task *t = task_new(proc, mm, task_first_return, 0, 0, err);
	if (!t)
		return NULL;
	t->fs_base = set_tls ? tls : current->fs_base;
	t->sigmask = current->sigmask;
	*t->frame = *frame;
	t->frame->rsp = user_rsp;
	t->frame->rflags |= RFLAGS_IF; /* preemptible from its first instruction */
	return t;
}

struct task *task_spawn(int64_t (*fn)(void *arg), void *arg, struct process *proc, int *err)
{
	struct task *t = task_new(proc, NULL, task_first_call, (uint64_t)fn, (uint64_t)arg, err);
	if (t) {
		/* A new program's FPU state is the reset one, not whichever
		 * program's registers the CPU held: x87 control word 0x37f,
		 * MXCSR 0x1f80 (FXSAVE layout). */
		memset(t->fpu, 0, sizeof(t->fpu));
		t->fpu[0] = 0x7f;
		t->fpu[1] = 0x03;
		t->fpu[24] = 0x80;
		t->fpu[25] = 0x1f;
	}
	return t;
}

void task_exit(void)
{
	struct task *t = current;
	for (struct task **pp = &all; *pp; pp = &(*pp)->all_next)
		if (*pp == t) {
			*pp = t->all_next;
			break;
		}
	rq_remove(&rq, &t->rq);
	ntasks--;
	exited_run_ns += t->run_ns + (time_ns() - t->on_cpu_since);
	exited_sys_ns += t->sys_ns;
	t->on_cpu_since = time_ns(); /* what is left is counted above */
	if (t != &boot_task) { /* the boot stack and task are not the heap's */
		t->all_next = dead;
		dead = t;
	}
	task_wake_all(); /* joiners, and anyone counting threads */
	kernel_leave();
	schedule_raw();
	panic("an exited task was scheduled again");
}

static void add_time(struct task *t, void *arg)
{
	uint64_t *sum = arg;
	uint64_t run, sys;
	task_cpu_time(t, &run, &sys);
	sum[0] += run;
	sum[1] += sys;
}

void task_cpu_time(const struct task *t, uint64_t *run, uint64_t *sys)
{
	if (!t) {
		uint64_t sum[2] = { exited_run_ns, exited_sys_ns };
		task_for_each(add_time, sum);
		*run = sum[0];
		*sys = sum[1];
		return;
	}
	*run = t->run_ns + (t == current ? time_ns() - t->on_cpu_since : 0);
	*sys = t->sys_ns < *run ? t->sys_ns : *run;
}

void task_account_syscall(uint64_t ns)
{
	if (current)
		current->sys_ns += ns;
}

void *task_io_buffer(void)
{
	static void *before_tasks; /* exec's reads, before task_init */
	if (current && !current->io_buf && before_tasks) {
		current->io_buf = before_tasks; /* the main thread takes it over */
		before_tasks = NULL;
	}
	void **slot = current ? &current->io_buf : &before_tasks;
	if (!*slot)
		*slot = kmalloc(TASK_IO_BUF);
	return *slot;
}

int task_count(void)
{
	return ntasks;
}

struct task *task_find(int tid)
{
	for (struct task *t = all; t; t = t->all_next)
		if (t->tid == tid)
			return t;
	return NULL;
}

void task_for_each(void (*fn)(struct task *t, void *arg), void *arg)
{
	for (struct task *t = all; t; t = t->all_next)
		fn(t, arg);
}


void task_set_switch_hook(void (*fn)(struct task *prev, struct task *next))
{
	switch_hook = fn;
}

void task_set_timer_hook(uint64_t (*fire)(uint64_t now))
{
	timer_hook = fire;
}

/* Interrupts on in program code and the APIC timer set for until (the
 * next program timer or the slice's end); off when there is neither. */
static void arm_for_user(uint64_t *rflags, uint64_t until)
{
	if (until == RQ_NO_DEADLINE) {
		*rflags &= ~RFLAGS_IF; /* nothing to interrupt it for: they stay off */
		return;
	}
	uint64_t now = time_ns();
	*rflags |= RFLAGS_IF;
	if (!timer_armed_until || until < timer_armed_until) {
		irq_timer_arm_ns(until > now ? until - now : 1);
		timer_armed_until = until;
	}
}

/* The next moment program code must be interrupted: the program's next
 * timer (fired first if due: the kernel lock is held) or the slice's end. */
static uint64_t next_interrupt(void)
{
	uint64_t until = timer_hook ? timer_hook(time_ns()) : RQ_NO_DEADLINE;
	if (task_preemptible() && slice_end < until)
		until = slice_end;
	return until;
}

void task_before_user(uint64_t *rflags)
{
	if (ntasks > 1 && time_ns() >= slice_end)
		task_yield();
	arm_for_user(rflags, next_interrupt());
}

bool kernel_try_enter(void)
{
	if (!current || kernel_owner)
		return false;
	kernel_owner = current;
	return true;
}

void task_interrupted_user(uint64_t *rflags, bool timer)
{
	if (timer)
		timer_armed_until = 0;
	/* The program's timers are kernel state: fired only with the lock.
	 * A task waiting for the host holds it: then look again soon. */
	bool took = kernel_try_enter();
	uint64_t until = took ? next_interrupt() : time_ns() + RETRY_NS;
	if (took)
		kernel_leave();
	/* The CPU changes hands without the lock: a task that held it (a
	 * FUSE request's wait) goes on, and the one interrupted here goes
	 * back to its program code without needing it. */
	if (ntasks > 1 && (!timer || time_ns() >= slice_end)) {
		schedule_raw();
		if (slice_end <= time_ns())
			slice_end = time_ns() + SLICE_NS;
		if (took && task_preemptible() && slice_end < until)
			until = slice_end;
	}
	arm_for_user(rflags, until);
}
