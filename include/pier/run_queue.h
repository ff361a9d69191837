/*
 * The scheduler's choice: a CPU's ring of tasks, served round-robin (the
 * guest has one per CPU; an idle or underloaded CPU picks from another's
 * to take a task over). A waiting task has a deadline (~0: none);
 * picking the next task turns the waiting ones whose deadline has come
 * runnable. A task on a CPU (on_cpu) is that CPU's until it is switched
 * out: no other CPU picks it, runnable or not; nor does a CPU outside a
 * task's allowed mask (sched_setaffinity). The queue counts its runnable
 * entries, for the balancer to compare queues by. Pure logic, embedded
 * in the guest's tasks and unit-tested against a model. Not thread-safe:
 * the caller serialises (see ARCHITECTURE.md, "Who owns what").
 */
#ifndef PIER_RUN_QUEUE_H
#define PIER_RUN_QUEUE_H

#include <stdint.h>

enum rq_state { RQ_RUNNABLE, RQ_WAITING };

#define RQ_NO_DEADLINE (~0ULL)

struct run_queue;

struct rq_entry {
	struct rq_entry *next, *prev; /* the ring */
	struct run_queue *q;           /* the ring's queue; NULL: on none */
	enum rq_state state;
	uint64_t deadline;             /* RQ_WAITING: when it turns runnable */
	uint64_t allowed;              /* the CPUs that may pick it, by number (bit i: CPU i) */
	int on_cpu;                    /* running (or halted in place) on some CPU */
};

struct run_queue {
	struct rq_entry *head;
	int count;
	int runnable; /* entries RQ_RUNNABLE, on a CPU or not */
};

void rq_init(struct run_queue *q);
/* Adds e (its state set; on no CPU) behind every entry already there. */
void rq_add(struct run_queue *q, struct rq_entry *e);
void rq_remove(struct run_queue *q, struct rq_entry *e);
/* State changes, counted in the entry's queue if it is on one. */
void rq_wait(struct rq_entry *e, uint64_t deadline);
void rq_wake(struct rq_entry *e);
/* Every waiting entry runnable (something happened they may wait for). */
void rq_wake_all(struct run_queue *q);
/*
 * The entry for CPU cpu (0-63) to run after cur (NULL: start at the
 * head): the first runnable one going round that no CPU has (cur aside:
 * the caller's own) and that allows cpu, cur itself last. Waiting
 * entries that allow cpu and whose deadline is <= now turn runnable on
 * the way; entries that do not allow cpu are passed over entirely. NULL
 * when none can run; *wake_at then holds the earliest deadline among the
 * waiting ones that allow cpu (RQ_NO_DEADLINE: none).
 */
struct rq_entry *rq_pick(struct run_queue *q, struct rq_entry *cur, int cpu, uint64_t now,
			 uint64_t *wake_at);
/* Runnable entries other than e (on a CPU or not). */
int rq_others_runnable(const struct run_queue *q, const struct rq_entry *e);

#endif
