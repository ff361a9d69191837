/*
 * The scheduler's choice: a ring of tasks served round-robin by every
 * CPU. A waiting task has a deadline (~0: none); picking the next task
 * turns the waiting ones whose deadline has come runnable. A task on a
 * CPU (on_cpu) is that CPU's until it is switched out: no other CPU
 * picks it, runnable or not. Pure logic, embedded
 * in the guest's tasks and unit-tested against a model. Not thread-safe:
 * the caller serialises (see ARCHITECTURE.md, "Who owns what").
 */
#ifndef PIER_RUN_QUEUE_H
#define PIER_RUN_QUEUE_H

#include <stdint.h>

enum rq_state { RQ_RUNNABLE, RQ_WAITING };

#define RQ_NO_DEADLINE (~0ULL)

struct rq_entry {
	struct rq_entry *next, *prev; /* the ring */
	enum rq_state state;
	uint64_t deadline;             /* RQ_WAITING: when it turns runnable */
	int on_cpu;                    /* running (or halted in place) on some CPU */
};

struct run_queue {
	struct rq_entry *head;
	int count;
};

void rq_init(struct run_queue *q);
/* Adds e (its state set; on no CPU) behind every entry already there. */
void rq_add(struct run_queue *q, struct rq_entry *e);
void rq_remove(struct run_queue *q, struct rq_entry *e);
void rq_wait(struct rq_entry *e, uint64_t deadline);
void rq_wake(struct rq_entry *e);
/* Every waiting entry runnable (something happened they may wait for). */
void rq_wake_all(struct run_queue *q);
/*
 * The entry to run after cur (NULL: start at the head): the first
 * runnable one going round that no CPU has (cur aside: the caller's own),
 * cur itself last. Waiting entries whose deadline
 * is <= now turn runnable on the way. NULL when none can run; *wake_at
 * then holds the earliest deadline among the waiting (RQ_NO_DEADLINE: none).
 */
struct rq_entry *rq_pick(struct run_queue *q, struct rq_entry *cur, uint64_t now,
			 uint64_t *wake_at);
/* Runnable entries other than e (on a CPU or not). */
int rq_others_runnable(const struct run_queue *q, const struct rq_entry *e);

#endif
