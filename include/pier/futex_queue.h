/*
 * Futex waiters: who sleeps on which user address, in arrival order, and
 * the wake, requeue and wake-op rules of futex(2). Pure logic: the guest
 * embeds a waiter in each task and does the sleeping; unit tests drive it
 * against a model. A key is the caller's choice (the guest's futex.c
 * keys by address space and address, or by page for shared memory).
 * Not thread-safe; the caller serialises.
 */
#ifndef PIER_FUTEX_QUEUE_H
#define PIER_FUTEX_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#define FQ_BUCKETS 64

struct fq_waiter {
	uint64_t key;
	uint32_t bitset;
	bool queued;              /* false once woken or taken out */
	struct fq_waiter *next;   /* in its bucket, oldest first */
};

struct futex_queue {
	struct fq_waiter *bucket[FQ_BUCKETS];
};

typedef void (*fq_wake_fn)(struct fq_waiter *w, void *arg);

void fq_init(struct futex_queue *q);
/* Queues w on key behind the waiters already there. */
void fq_enqueue(struct futex_queue *q, struct fq_waiter *w, uint64_t key, uint32_t bitset);
/* Takes w out if it is still queued (a timeout, a signal); true if it was. */
bool fq_dequeue(struct futex_queue *q, struct fq_waiter *w);
/* Wakes up to n waiters on key whose bitset shares a bit with bitset,
 * oldest first: each is unqueued, then passed to wake. Returns how many. */
int fq_wake(struct futex_queue *q, uint64_t key, uint32_t bitset, int n, fq_wake_fn wake,
	    void *arg);
/* FUTEX_CMP_REQUEUE's work: wakes up to nwake on key, then moves up to
 * nmove of the rest (in order) to key2. Returns woken + moved. */
int fq_requeue(struct futex_queue *q, uint64_t key, uint64_t key2, int nwake, int nmove,
	       fq_wake_fn wake, void *arg);
/* Waiters on key. */
int fq_count(const struct futex_queue *q, uint64_t key);

/* FUTEX_WAKE_OP's encoded operation on the old value: the value to store
 * and whether the comparison holds. -ENOSYS (Linux's answer) for an
 * unknown operation or comparison, else 0. */
int fq_wake_op(uint32_t encoded, uint32_t old, uint32_t *store, bool *cmp);

#endif
