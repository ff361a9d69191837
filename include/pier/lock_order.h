/*
 * The kernel's lock order, enforced: every lock belongs to a class with a
 * level (ARCHITECTURE.md, "Shared state": proc.lock outermost, console.lock
 * innermost), and a task may take a lock only if its level is above that
 * of every lock it holds. The held locks are the task's own list (as
 * Linux's lockdep keeps them per task): spinlocks are never held across a
 * wait, and an interrupt handler's locks go on the interrupted task's list
 * above the ones it holds. Pure logic, unit-tested; the guest's spinlocks
 * (kernel/spinlock.c) check every acquisition and panic naming both locks.
 */
#ifndef PIER_LOCK_ORDER_H
#define PIER_LOCK_ORDER_H

struct lock_class {
	const char *name;   /* "vfs.lock" */
	unsigned level;     /* outermost lowest; two classes may share none */
};

#define LOCK_HELD_MAX 16

struct lock_held {
	const struct lock_class *cls[LOCK_HELD_MAX]; /* in the order taken */
	unsigned n;
};

/* The held class that taking c now would invert against (a level at or
 * above c's: that includes c itself, so no class nests in itself), or
 * NULL when c may be taken. */
const struct lock_class *lock_order_conflict(const struct lock_held *h,
					     const struct lock_class *c);
/* Records that c was taken: 0, or -1 when LOCK_HELD_MAX are held. */
int lock_held_push(struct lock_held *h, const struct lock_class *c);
/* Records that c was given back (in any order, as spin_unlock may be):
 * 0, or -1 when c is not held (an unlock of a lock not taken). */
int lock_held_pop(struct lock_held *h, const struct lock_class *c);

#endif
