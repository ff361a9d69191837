/*
 * Spinlocks with the lock order enforced (include/pier/lock_order.h):
 * every lock names its class, every acquisition is checked against the
 * locks the running task holds, and an inversion panics naming both.
 * Always on: the check is a compare per lock held, and an inversion found
 * in a test run is one that would deadlock two CPUs some day.
 *
 * Taken today by the heap, pmem, the scheduler and the console; the rest
 * of the kernel's shared state takes them as it leaves the kernel lock
 * (ARCHITECTURE.md).
 */
#ifndef GUEST_SPINLOCK_H
#define GUEST_SPINLOCK_H

#include <stdint.h>
#include <pier/lock_order.h>

struct spinlock {
	int locked;
	const struct lock_class *cls;
};

#define SPINLOCK_INIT(c) { 0, (c) }

/* ARCHITECTURE.md's order, outermost first. */
extern const struct lock_class lock_class_tree, lock_class_proc, lock_class_futex,
	lock_class_mm, lock_class_vfs, lock_class_fuse_conn, lock_class_virtq, lock_class_dax,
	lock_class_pmem, lock_class_heap, lock_class_rq, lock_class_sched, lock_class_console;

void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
/* With interrupts off on this CPU until the matching unlock (a lock an
 * interrupt handler also takes); returns the flags to give back. */
uint64_t spin_lock_irqsave(struct spinlock *l);
void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags);

/* The kernel is panicking: locks are neither checked nor waited for (the
 * report must get out, whatever was held when it started). */
void spin_panic_mode(void);

#endif
