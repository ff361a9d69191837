/* Spinlocks and the lock order's check (see spinlock.h). */
#include "../arch/x86_64/cpu.h"
#include "panic.h"
#include "spinlock.h"
#include "task.h"

/* The levels leave room between them for the classes still to come. */
const struct lock_class lock_class_tree = { "tree.lock", 10 };
const struct lock_class lock_class_proc = { "proc.lock", 20 };
const struct lock_class lock_class_futex = { "futex.lock", 25 };
const struct lock_class lock_class_mm = { "mm.lock", 30 };
const struct lock_class lock_class_vfs = { "vfs.lock", 40 };
const struct lock_class lock_class_fuse_conn = { "fuse_conn.lock", 50 };
const struct lock_class lock_class_virtq = { "virtq.lock", 60 };
const struct lock_class lock_class_dax = { "dax.lock", 70 };
/* The heap grows from pmem while it holds heap.lock: heap before pmem. */
const struct lock_class lock_class_heap = { "heap.lock", 80 };
const struct lock_class lock_class_pmem = { "pmem.lock", 90 };
/* The scheduler's: a CPU's run queue (cpu_queues.h), taken by wake-ups
 * from anywhere; the task list. Each holds nothing else (never two rq.locks
 * at once: a task changes queues in two steps). */
const struct lock_class lock_class_rq = { "rq.lock", 94 };
const struct lock_class lock_class_sched = { "sched.lock", 95 };
const struct lock_class lock_class_console = { "console.lock", 100 };

static struct lock_held boot_held; /* before the first task */
static int panicking;

static struct lock_held *held(void)
{
	return current ? &current->held : &boot_held;
}

void spin_panic_mode(void)
{
	panicking = 1;
}

void spin_lock(struct spinlock *l)
{
	if (panicking)
		return;
	struct lock_held *h = held();
	const struct lock_class *bad = lock_order_conflict(h, l->cls);
	if (bad) {
		panicking = 1;
		panic("lock order: %s (level %u) taken while holding %s (level %u)", l->cls->name,
		      l->cls->level, bad->name, bad->level);
	}
	if (lock_held_push(h, l->cls)) {
		panicking = 1;
		panic("lock order: more than %d locks held taking %s", LOCK_HELD_MAX, l->cls->name);
	}
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
}

void spin_unlock(struct spinlock *l)
{
	if (panicking)
		return;
	if (lock_held_pop(held(), l->cls)) {
		panicking = 1;
		panic("lock order: %s given back but not held", l->cls->name);
	}
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

uint64_t spin_lock_irqsave(struct spinlock *l)
{
	uint64_t flags;
	__asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
	spin_lock(l);
	return flags;
}

void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags)
{
	spin_unlock(l);
	if (flags & 0x200) /* IF */
		__asm__ volatile("sti" : : : "memory");
}
