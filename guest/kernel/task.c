/*
 * Tasks and the scheduler (see task.h). A run queue per CPU
 * (cpu_queues.h): a CPU runs its task until it waits, exits, or (running
 * program code) its time slice ends at a timer interrupt, then takes the
 * next runnable task of its own queue; at such a turn (at most every
 * 4 ms) it first takes a task over from a queue with two runnable tasks
 * more than its own.
 * With nothing runnable a CPU takes one over from any other queue, or
 * halts, in the context of the task it last ran, until the earliest
 * deadline, an interrupt, or a reschedule IPI from a CPU that made a task
 * runnable; then every waiter of its queue re-checks what it waits for
 * (waits are loops; a spurious wake-up costs one check).
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
#include "cpu_queues.h"
#include "spinlock.h"
#include "panic.h"
#include "task.h"
#include "time.h"

#define SLICE_NS 10000000ULL /* 10 ms, as a Linux CFS slice on few tasks */
#define RFLAGS_IF 0x200ULL
#define RETRY_NS 1000000ULL /* timers not fired for want of the lock: again in 1 ms */

extern void task_switch(uint64_t *save_ksp, uint64_t new_ksp);
extern char task_first_return[], task_first_call[];

/*
 * sched.lock guards the task list, the dead list, ntasks and next_tid;
 * each CPU's rq.lock its queue and the scheduling state of the tasks on
 * it (cpu_queues.h). Taken with interrupts off (they are off in the
 * kernel anyway), never held across a switch, never one inside the
 * other: a task switched away from stays on_cpu (nobody else picks it)
 * until the CPU is off its stack.
 */
static struct spinlock sched_lock = SPINLOCK_INIT(&lock_class_sched);
static struct task boot_task;
static struct task *all;       /* every live task */
static struct task *dead;      /* exited, stacks to free once off them */
static int ntasks, next_tid;
static uint64_t exited_run_ns, exited_sys_ns; /* CPU time of threads gone */
static uint64_t (*timer_hook)(uint64_t now);
static void (*enter_hook)(struct task *t);
static struct task *kernel_owner; /* the kernel lock: see below */
static int entered_tid;            /* the last to take it, for enter_hook */
static int kernel_waiters;

static bool kernel_take_free(struct task *self);
void task_switch_finish(void); /* switch.S: a new task's first code */

static struct task *task_of(struct rq_entry *e)
{
	return (struct task *)e; /* rq is the first member */
}

static bool smp(void)
{
	return smp_cpus_online() > 1;
}

static uint64_t sched_lock_take(void)
{
	return spin_lock_irqsave(&sched_lock);
}

static void sched_lock_give(uint64_t flags)
{
	spin_unlock_irqrestore(&sched_lock, flags);
}

/* A wait of t, under its queue's lock: a wake-up that came while it was
 * still runnable (cq_wake_locked) makes it return at once. */
static void wait_locked(struct task *t, uint64_t deadline)
{
	if (t->wake_missed) {
		t->wake_missed = false; /* the condition may hold already: look again */
		return;
	}
	rq_wait(&t->rq, deadline);
}

void task_init(void *kstack_bottom, void *boot_stack, int tid)
{
	struct task *t = &boot_task;
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->cpu = &smp_cpus[0];
	t->home = 0;
	t->kstack_top = (uint64_t)kstack_bottom + KSTACK_SIZE;
	t->altstack[1] = 2; /* SS_DISABLE */
	t->rq.state = RQ_RUNNABLE;
	t->rq.deadline = RQ_NO_DEADLINE;
	t->rq.allowed = ~0ULL;
	t->on_cpu_since = time_ns();
	kstack_claim(kstack_bottom, t);
	if (boot_stack)
		kstack_claim(boot_stack, t); /* from here on, current is t */
	struct cpu_queue *cq = &cpu_queues[0];
	uint64_t flags = cq_lock(cq);
	rq_add(&cq->q, &t->rq);
	t->rq.on_cpu = 1;
	cq_unlock(cq, flags);
	flags = sched_lock_take();
	all = t;
	ntasks = 1;
	next_tid = tid + 1;
	sched_lock_give(flags);
	cpu_set_kernel_stack(t->cpu, t->kstack_top);
}

/* Frees the stacks of exited tasks no CPU is on any more. */
static void reap(void)
{
	if (!__atomic_load_n(&dead, __ATOMIC_RELAXED))
		return; /* the common case, without the lock */
	struct task *gone = NULL;
	uint64_t flags = sched_lock_take();
	for (struct task **pp = &dead; *pp;) {
		struct task *t = *pp;
		if (__atomic_load_n(&t->rq.on_cpu, __ATOMIC_ACQUIRE)) {
			pp = &t->all_next;
			continue;
		}
		*pp = t->all_next;
		t->all_next = gone;
		gone = t;
	}
	sched_lock_give(flags);
	while (gone) { /* the heap's lock is not taken under sched.lock */
		struct task *t = gone;
		gone = t->all_next;
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

/* The second half of a switch, on the new task's stack: the task
 * switched away from is off this CPU now, so others may run it; if it
 * may no longer run on its CPU (sched_setaffinity), it moves now. */
void task_switch_finish(void)
{
	struct cpu *c = cpu_this();
	struct task *prev = c->prev;
	c->prev = NULL;
	if (prev) {
		uint64_t flags;
		struct cpu_queue *cq = cq_lock_task(prev, &flags);
		if (!prev->rq.q) { /* exited (or an idle task): reap may free it now */
			__atomic_store_n(&prev->rq.on_cpu, 0, __ATOMIC_RELEASE);
			cq_unlock(cq, flags);
			reap();
			return;
		}
		prev->rq.on_cpu = 0;
		bool leave = !(prev->rq.allowed >> prev->home & 1);
		if (!leave && prev->rq.state == RQ_RUNNABLE)
			cq_kick_for(prev); /* preempted: a halted CPU may take it over now */
		uint64_t allowed = prev->rq.allowed;
		cq_unlock(cq, flags);
		if (leave)
			cq_join(prev, cq_pick_cpu(allowed), CQ_MOVE_AFFINITY);
	}
	reap();
}

/* Switches this CPU from current to next, a task of cq (this CPU's
 * queue) or the CPU's idle task; called with cq's lock held (flags from
 * taking it), gives it back. */
static void switch_to(struct task *next, struct cpu_queue *cq, uint64_t flags)
{
	struct task *prev = current;
	struct cpu *c = prev->cpu;
	if (next == prev) {
		cq_unlock(cq, flags);
		return;
	}
	next->rq.on_cpu = 1;
	next->cpu = c;
	c->prev = prev;
	cq_unlock(cq, flags);
	/* The kernel uses no FPU or SSE register (-mgeneral-regs-only): what
	 * is in them now is prev's program's. */
	__asm__ volatile("fxsave64 %0" : "=m"(prev->fpu));
	__asm__ volatile("fxrstor64 %0" : : "m"(next->fpu));
	if (next->fs_base != prev->fs_base)
		wrmsr(MSR_FS_BASE, next->fs_base); /* this CPU's holds prev's */
	vm_activate(next->mm); /* another process's: its page tables */
	uint64_t now = time_ns();
	prev->run_ns += now - prev->on_cpu_since;
	next->on_cpu_since = now;
	cpu_set_kernel_stack(c, next->kstack_top);
	c->slice_end = now + SLICE_NS;
	c->timer_armed_until = 0;
	if (task_preemptible()) { /* a new task goes straight to its program */
		irq_timer_arm_ns(SLICE_NS);
		c->timer_armed_until = c->slice_end;
	}
	task_switch(&prev->ksp, next->ksp);
	task_switch_finish(); /* back in prev, on its own stack, maybe another CPU */
}

/* The program's timers from a CPU with nothing to run: the boot CPU,
 * with the kernel lock (theirs is kernel state). Their next deadline. */
static uint64_t idle_timers(void)
{
	if (!timer_hook || cpu_this() != &smp_cpus[0])
		return RQ_NO_DEADLINE;
	bool own = kernel_owner == current; /* only current makes it so */
	/* Taken for current whatever it is (an exited task, an idle one):
	 * without the enter hook, which would look at its process. */
	if (!own && !kernel_take_free(current))
		return time_ns() + RETRY_NS;
	uint64_t next = timer_hook(time_ns());
	if (!own)
		kernel_leave();
	return next;
}

/* Runs the next runnable task of this CPU's queue (maybe current again),
 * after taking one over from a busier queue; with none, one taken over
 * from any queue; else halts, in the current task's context (an idle
 * task's when current must move away), until there may be one. The
 * kernel lock stays with whoever holds it: see schedule(). */
static void schedule_raw(void)
{
	struct task *self = current;
	struct cpu *c = self->cpu;
	int me = c->index;
	struct cpu_queue *cq = &cpu_queues[me];
	if (smp())
		cq_balance(me, time_ns());
	for (;;) {
		uint64_t wake_at, flags = cq_lock(cq);
		bool queued = self->rq.q == &cq->q; /* not exited, not an idle task */
		struct rq_entry *e = rq_pick(&cq->q, queued ? &self->rq : NULL, me, time_ns(), &wake_at);
		if (e) {
			switch_to(task_of(e), cq, flags);
			return;
		}
		if (queued && !(self->rq.allowed >> me & 1) && c->idle) {
			switch_to(c->idle, cq, flags); /* it must move: not in its context */
			return;
		}
		__atomic_store_n(&c->halted, 1, __ATOMIC_SEQ_CST); /* before looking elsewhere */
		cq_unlock(cq, flags);
		uint64_t elsewhere;
		if (smp() && cq_steal(me, time_ns(), &elsewhere)) {
			__atomic_store_n(&c->halted, 0, __ATOMIC_RELAXED);
			continue; /* it is on this queue now: picked next */
		}
		if (smp() && elsewhere < wake_at)
			wake_at = elsewhere;
		uint64_t next = idle_timers(); /* they post signals: tasks to run */
		if (next < wake_at)
			wake_at = next;
		irq_wait_until(wake_at); /* leaves the timer off */
		flags = cq_lock(cq);
		__atomic_store_n(&c->halted, 0, __ATOMIC_RELAXED);
		c->timer_armed_until = 0;
		rq_wake_all(&cq->q); /* an interrupt or a deadline: its waiters look */
		cq_unlock(cq, flags);
	}
}

/*
 * The kernel lock: one task in the kernel at a time, whichever CPU it
 * is on. Taken at every entry from the program (system calls, faults,
 * interrupts of program code), dropped on the way back and whenever its
 * holder waits (task_wait, task_yield), except in task_wait_holding: a
 * FUSE request keeps it while the host answers, so no other task sees
 * the VFS half-way, and tasks in program code (or waiting for something
 * else) run meanwhile, on this CPU and the others.
 */
/* The lock word is taken and given back by atomics alone, the common
 * case of a system call (two sched.lock round trips per call cost a
 * third of a getpid under TCG); only a task that finds it held takes
 * sched.lock to wait. A waiter counts itself in kernel_waiters and then
 * looks at the owner, a leaver clears the owner and then looks at the
 * count (both sequentially consistent): either the waiter sees the lock
 * free or the leaver sees the waiter and wakes it under sched.lock, which
 * the waiter holds from its look until its wait. */
static bool kernel_take_free(struct task *self)
{
	if (!smp()) { /* interrupts are off in the kernel: nobody else looks */
		if (kernel_owner)
			return false;
		kernel_owner = self;
		return true;
	}
	struct task *none = NULL;
	return __atomic_compare_exchange_n(&kernel_owner, &none, self, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

/* Gives the lock word back; whether anyone waits for it. */
static bool kernel_give(void)
{
	if (!smp()) {
		kernel_owner = NULL;
		return kernel_waiters;
	}
	__atomic_store_n(&kernel_owner, NULL, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&kernel_waiters, __ATOMIC_SEQ_CST);
}

/* What follows the lock's holder, when the holder is another task than
 * the last (a call to the hook costs a syscall a tenth under TCG). By
 * tid: a task's memory may be another's later, its tid never. */
static void entered(struct task *self)
{
	if (enter_hook && self->tid != entered_tid) {
		entered_tid = self->tid;
		enter_hook(self);
	}
}

bool kernel_enter(void)
{
	struct task *self = current;
	if (!self || __atomic_load_n(&kernel_owner, __ATOMIC_RELAXED) == self)
		return false;
	if (!kernel_take_free(self)) {
		uint64_t flags;
		struct cpu_queue *cq = cq_lock_task(self, &flags);
		__atomic_add_fetch(&kernel_waiters, 1, __ATOMIC_SEQ_CST);
		while (!kernel_take_free(self)) {
			rq_wait(&self->rq, RQ_NO_DEADLINE); /* under the lock: no wake-up lost */
			cq_unlock(cq, flags);
			schedule_raw();
			cq = cq_lock_task(self, &flags);
		}
		__atomic_sub_fetch(&kernel_waiters, 1, __ATOMIC_SEQ_CST);
		cq_unlock(cq, flags);
	}
	entered(self);
	return true;
}

void kernel_leave(void)
{
	struct task *self = current;
	if (!self || __atomic_load_n(&kernel_owner, __ATOMIC_RELAXED) != self)
		return;
	if (kernel_give())
		cq_wake_everyone(); /* who waited for it looks again */
}

bool task_io_leave(void)
{
	struct task *self = current;
	if (!self || !self->io_may_unlock ||
	    __atomic_load_n(&kernel_owner, __ATOMIC_RELAXED) != self)
		return false;
	kernel_leave();
	return true;
}

bool kernel_try_enter(void)
{
	struct task *self = current;
	if (!self || !kernel_take_free(self))
		return false;
	entered(self);
	return true;
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

static void wait_current(uint64_t deadline)
{
	uint64_t flags;
	struct cpu_queue *cq = cq_lock_task(current, &flags);
	wait_locked(current, deadline);
	cq_unlock(cq, flags);
}

void task_wait_holding(uint64_t deadline)
{
	if (!current) {
		irq_wait_until(deadline);
		return;
	}
	wait_current(deadline);
	schedule_lock(true);
}

void task_yield_holding(void)
{
	/* Runnable ones besides current on its queue (a hint, unlocked). */
	if (current && __atomic_load_n(&cpu_queues[current->home].q.runnable, __ATOMIC_RELAXED) > 1)
		schedule_lock(true);
}

void task_wait(uint64_t deadline)
{
	if (!current) { /* before the program: only the kernel waits */
		irq_wait_until(deadline);
		return;
	}
	wait_current(deadline);
	schedule();
}

void task_yield(void)
{
	if (!current)
		return;
	schedule(); /* the others first, waiters whose time has come too */
	struct cpu *c = cpu_this(); /* maybe another CPU than before */
	if (c->slice_end <= time_ns())
		c->slice_end = time_ns() + SLICE_NS; /* nobody else: a new slice */
}

void task_wake(struct task *t)
{
	uint64_t flags;
	struct cpu_queue *cq = cq_lock_task(t, &flags);
	cq_wake_locked(t);
	cq_unlock(cq, flags);
}

void task_set_allowed(struct task *t, uint64_t mask)
{
	uint64_t flags;
	struct cpu_queue *cq = cq_lock_task(t, &flags);
	t->rq.allowed = mask;
	bool away = t->rq.q && !(mask >> t->home & 1), running = t->rq.on_cpu;
	struct cpu *on = t->cpu;
	cq_unlock(cq, flags);
	if (!away)
		return;
	if (t == current)
		schedule(); /* off this CPU; task_switch_finish moves it */
	else if (!running)
		cq_join(t, cq_pick_cpu(mask), CQ_MOVE_AFFINITY);
	else if (on != cpu_this())
		irq_send_resched(on->apic_id); /* it moves at its next switch */
}

void task_kick_running(void)
{
	int n = smp_cpus_online();
	struct cpu *self = cpu_this();
	for (int i = 0; i < n && n > 1; i++) {
		struct cpu *c = &smp_cpus[i];
		if (c != self && !__atomic_load_n(&c->halted, __ATOMIC_SEQ_CST))
			irq_send_resched(c->apic_id);
	}
}

void task_wake_all(void)
{
	cq_wake_everyone();
}

void task_set_mm(struct mm *mm)
{
	current->mm = mm;
	vm_activate(mm);
}

/* A zeroed task on a kernel stack of its own (kstack.h: the stack's base
 * names it), with no alternate signal stack and the CPU's FPU state;
 * NULL if there is no memory. */
static struct task *task_alloc(void)
{
	struct task *t = kmalloc_aligned(sizeof(*t), 64);
	void *stack = kmalloc_aligned(KSTACK_SIZE, KSTACK_SIZE);
	if (!t || !stack) {
		kfree(t);
		kfree(stack);
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->kstack = stack;
	t->kstack_top = (uint64_t)stack + KSTACK_SIZE;
	kstack_claim(stack, t);
	t->altstack[1] = 2; /* SS_DISABLE */
	__asm__ volatile("fxsave64 %0" : "=m"(t->fpu));
	return t;
}

/* A task of proc in mm, runnable, whose first switch-in "returns" to
 * first with rbx and r12 as given (switch.S); its frame at the stack's
 * top is the caller's to fill before anyone can run it: it is queued by
 * task_start. NULL with errno in *err. */
static struct task *task_new(struct process *proc, struct mm *mm, void *first, uint64_t rbx,
			     uint64_t r12, int *err)
{
	if (ntasks >= TASK_MAX) {
		*err = -EAGAIN;
		return NULL;
	}
	struct task *t = task_alloc();
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	t->proc = proc;
	t->mm = mm;
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
	t->rq.allowed = current ? current->rq.allowed : ~0ULL; /* inherited, as Linux */
	t->home = cpu_this()->index; /* until task_start places it */
	t->cpu = cpu_this();
	uint64_t flags = sched_lock_take();
	t->tid = next_tid++;
	t->all_next = all;
	all = t;
	ntasks++;
	sched_lock_give(flags);
	return t;
}

/* t, filled in, joins the queue of the least loaded CPU it may use:
 * from now on that CPU runs it (or another that takes it over). */
static void task_start(struct task *t)
{
	cq_join(t, cq_pick_cpu(t->rq.allowed), CQ_MOVE_IDLE);
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
	task_start(t);
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
		task_start(t);
	}
	return t;
}

static int64_t idle_first(void *arg)
{
	(void)arg;
	task_idle_loop();
}

struct task *task_new_idle(struct cpu *c)
{
	struct task *t = task_alloc();
	if (!t)
		return NULL;
	t->cpu = c;
	t->home = c->index;
	t->rq.state = RQ_WAITING; /* never on a queue: never picked */
	t->rq.on_cpu = 1;
	/* Its first switch-in (the boot CPU's: an AP starts on the stack
	 * itself) "returns" into the idle loop (switch.S). */
	uint64_t *sp = (uint64_t *)t->kstack_top;
	*--sp = (uint64_t)task_first_call;
	*--sp = 0; /* rbp */
	*--sp = (uint64_t)idle_first;
	*--sp = 0; /* r12: its argument */
	for (int i = 0; i < 3; i++)
		*--sp = 0; /* r13-r15 */
	t->ksp = (uint64_t)sp;
	c->idle = t;
	return t;
}

void task_idle_loop(void)
{
	struct cpu *c = cpu_this();
	c->slice_end = time_ns() + SLICE_NS;
	for (;;)
		schedule_raw(); /* returns when this context is picked: never */
}

void task_exit(void)
{
	struct task *t = current;
	task_wake_all(); /* joiners, and anyone counting threads */
	kernel_leave();
	uint64_t flags;
	struct cpu_queue *cq = cq_lock_task(t, &flags);
	rq_remove(&cq->q, &t->rq);
	t->rq.on_cpu = 1; /* still this CPU's until it is off the stack */
	cq_unlock(cq, flags);
	flags = sched_lock_take();
	for (struct task **pp = &all; *pp; pp = &(*pp)->all_next)
		if (*pp == t) {
			*pp = t->all_next;
			break;
		}
	ntasks--;
	exited_run_ns += t->run_ns + (time_ns() - t->on_cpu_since);
	exited_sys_ns += t->sys_ns;
	t->on_cpu_since = time_ns(); /* what is left is counted above */
	if (t != &boot_task) { /* the boot stack and task are not the heap's */
		t->all_next = dead;
		dead = t;
	}
	sched_lock_give(flags);
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

/* The task list changes under sched.lock, and only by tasks holding the
 * kernel lock (clone, spawn, exit): walking it with the kernel lock is
 * safe. */
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

void task_set_enter_hook(void (*fn)(struct task *t))
{
	enter_hook = fn;
}

void task_set_timer_hook(uint64_t (*fire)(uint64_t now))
{
	timer_hook = fire;
}

/* Interrupts on in program code and the APIC timer set for until (the
 * next program timer or the slice's end). With one CPU they stay off
 * when there is neither (nothing to interrupt the program for); with
 * several they stay on: another CPU's TLB shoot-down and reschedule
 * IPIs, and device interrupts (all go to CPU 0), must get through. */
static void arm_for_user(uint64_t *rflags, uint64_t until)
{
	struct cpu *c = cpu_this();
	if (until == RQ_NO_DEADLINE) {
		if (smp())
			*rflags |= RFLAGS_IF;
		else
			*rflags &= ~RFLAGS_IF;
		return;
	}
	uint64_t now = time_ns();
	*rflags |= RFLAGS_IF;
	if (!c->timer_armed_until || until < c->timer_armed_until) {
		irq_timer_arm_ns(until > now ? until - now : 1);
		c->timer_armed_until = until;
	}
}

/* The next moment program code must be interrupted: the program's next
 * timer (fired first if due: the kernel lock is held) or the slice's end. */
static uint64_t next_interrupt(void)
{
	uint64_t until = timer_hook ? timer_hook(time_ns()) : RQ_NO_DEADLINE;
	uint64_t slice_end = cpu_this()->slice_end;
	if (task_preemptible() && slice_end < until)
		until = slice_end;
	return until;
}

void task_before_user(uint64_t *rflags)
{
	if (ntasks > 1 && time_ns() >= cpu_this()->slice_end)
		task_yield();
	arm_for_user(rflags, next_interrupt());
}

void task_interrupted_user(uint64_t *rflags, bool timer)
{
	if (timer)
		cpu_this()->timer_armed_until = 0;
	/* The program's timers are kernel state: fired only with the lock.
	 * A task waiting for the host holds it: then look again soon. */
	bool took = kernel_try_enter();
	uint64_t until = took ? next_interrupt() : time_ns() + RETRY_NS;
	if (took)
		kernel_leave();
	/* The CPU changes hands without the lock: a task that held it (a
	 * FUSE request's wait) goes on, and the one interrupted here goes
	 * back to its program code without needing it. */
	if (ntasks > 1 && (!timer || time_ns() >= cpu_this()->slice_end)) {
		schedule_raw();
		struct cpu *c = cpu_this(); /* maybe another CPU than before */
		if (c->slice_end <= time_ns())
			c->slice_end = time_ns() + SLICE_NS;
		if (took && task_preemptible() && c->slice_end < until)
			until = c->slice_end;
	}
	arm_for_user(rflags, until);
}
