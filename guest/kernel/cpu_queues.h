/*
 * The scheduler's per-CPU run queues (task.c picks from them): every
 * task is on the queue of one CPU, its home, and only that CPU runs it
 * until the task moves. Tasks move four ways: a new task goes to the
 * least loaded CPU it may use (cq_pick_cpu), a CPU with nothing to run
 * takes a runnable task over from another's queue (cq_steal), a CPU
 * whose queue has two runnable tasks fewer than another's takes one from
 * it (cq_balance, at a schedule, at most every 4 ms), and a task whose allowed CPUs
 * (sched_setaffinity) exclude its home goes to one it may use once it is
 * off its CPU (cq_join).
 *
 * Locks: each queue's rq.lock guards its ring, the state, deadline,
 * allowed mask, on_cpu and wake_missed of every task on it, and a task's
 * home word while it changes. Never two at once: a task changes queues
 * in two steps (out of the old one with its home set to the new one,
 * then into the new one); in between it is on no ring, so nobody picks
 * it, and a wake-up meanwhile takes the new queue's lock and only sets
 * its state. A CPU's `halted` word is atomic: a CPU sets it before it
 * looks at the other queues for work, a waker clears it (once) after it
 * made a task runnable and sends the IPI; so either the looker sees the
 * task or the waker sees the halt.
 */
#ifndef GUEST_CPU_QUEUES_H
#define GUEST_CPU_QUEUES_H

#include <stdbool.h>
#include <stdint.h>
#include <pier/run_queue.h>
#include "spinlock.h"
#include "task.h"

struct cpu_queue {
	struct spinlock lock; /* rq.lock */
	struct run_queue q;
} __attribute__((aligned(64))); /* one cache line each: CPUs take their own */

extern struct cpu_queue cpu_queues[SMP_MAX_CPUS];

/* Why a task changed queues (counted: `pier run --stats`, sched.migrate). */
enum cq_move { CQ_MOVE_IDLE, CQ_MOVE_BALANCE, CQ_MOVE_AFFINITY, CQ_MOVES };

static inline uint64_t cq_lock(struct cpu_queue *cq)
{
	return spin_lock_irqsave(&cq->lock);
}

static inline void cq_unlock(struct cpu_queue *cq, uint64_t flags)
{
	spin_unlock_irqrestore(&cq->lock, flags);
}

/* t's queue, locked (its home may change until the lock is held). */
struct cpu_queue *cq_lock_task(struct task *t, uint64_t *flags);
/* A wake-up of t, under its queue's lock: runnable, and a CPU told if
 * one should look (its own if halted, else an idle one that may take
 * it over). With several CPUs a wake-up of a task still running is kept
 * (wake_missed): its next wait returns at once. */
void cq_wake_locked(struct task *t);
/* t is runnable on its queue (whose lock is held) and may wait there:
 * its CPU is told if halted, else an idle CPU that may take it over. */
void cq_kick_for(struct task *t);
/* Every task on every queue looks again (task_wake_all). */
void cq_wake_everyone(void);
/* The online CPU among allowed with the fewest runnable tasks (this
 * CPU first among equals). */
int cq_pick_cpu(uint64_t allowed);
/* t, on no CPU, goes to CPU to's queue (from its own, or from none: a
 * new task); nothing if it is on a CPU again or already there. */
void cq_join(struct task *t, int to, enum cq_move why);
/* CPU me takes over a runnable task from another CPU's queue: whether
 * it did; if not, *wake_at is the earliest deadline of the tasks it
 * could take once due. */
bool cq_steal(int me, uint64_t now, uint64_t *wake_at);
/* CPU me takes one runnable task from the busiest queue if that has two
 * or more runnable tasks than its own; a look at most every 4 ms. */
void cq_balance(int me, uint64_t now);
/* Sends CPU c a reschedule IPI if it is halted (and not this one). */
bool cq_kick_if_halted(struct cpu *c);
/* Moves since boot, by why (all CPUs). */
void cq_moves(uint64_t out[CQ_MOVES]);

#endif
