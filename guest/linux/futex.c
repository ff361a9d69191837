/*
 * futex(2) and the futex work of a thread's exit (clear_child_tid, the
 * robust list). Waiters are tasks (task.futex) in one futex_queue keyed
 * as key_of says (private and shared operations alike: for a private
 * mapping Linux's two keys are the same too). A waiter sleeps in task_wait and looks
 * again after every wake-up: woken (unqueued), a signal, its deadline.
 */
#include <stddef.h>
#include <linux/futex.h>
#include <pier/errno.h>
#include <pier/futex_queue.h>
#include "../kernel/rtc.h"
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "../mm/vm.h"
#include "futex.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"

#define ROBUST_LIST_LIMIT 2048 /* entries walked at most, as Linux */

static struct futex_queue waiters; /* zeroed: every bucket empty */

/*
 * Where waiters on uaddr meet: a shared mapping's word by its physical
 * address (every process mapping the page meets there, as Linux keys
 * shared futexes by page), any other word by (address space, address).
 * Addresses of user space are below 2^47: the space's id goes above.
 */
static uint64_t key_of(uint64_t uaddr)
{
	struct vma *v = vm_find(uaddr);
	if (v && v->shared && user_check(uaddr, 4, false) == 0) {
		uint64_t pa = vm_phys(uaddr);
		if (pa)
			return pa | 1ULL << 63;
	}
	return uaddr | (uint64_t)vm_id(current->mm) << 47;
}

static void wake_task(struct fq_waiter *w, void *arg)
{
	(void)arg;
	task_wake((struct task *)((char *)w - offsetof(struct task, futex)));
}

int futex_wake(uint64_t uaddr, int n)
{
	return fq_wake(&waiters, key_of(uaddr), FUTEX_BITSET_MATCH_ANY, n, wake_task, NULL);
}

/* The deadline (time_ns) of a futex timeout: relative for FUTEX_WAIT,
 * absolute for FUTEX_WAIT_BITSET on the clock the op names. */
static int64_t deadline_of(uint64_t uts, bool absolute, bool realtime, uint64_t *deadline)
{
	*deadline = RQ_NO_DEADLINE;
	if (!uts)
		return 0;
	uint64_t ns;
	int64_t err = read_timespec(uts, &ns);
	if (err)
		return err;
	if (!absolute) {
		*deadline = time_ns() + ns;
	} else {
		uint64_t base = realtime ? rtc_boot_epoch_ns() : 0;
		*deadline = ns > base ? ns - base : 0;
	}
	return 0;
}

static int64_t futex_wait(uint64_t uaddr, uint32_t val, uint64_t deadline, uint32_t bitset)
{
	if (!bitset)
		return -EINVAL;
	uint32_t v;
	if (copy_from_user(&v, uaddr, sizeof(v)))
		return -EFAULT;
	if (v != val)
		return -EAGAIN;
	struct fq_waiter *w = &current->futex;
	fq_enqueue(&waiters, w, key_of(uaddr), bitset);
	int64_t r;
	for (;;) {
		if (!w->queued) { /* a wake-up beats a signal or a timeout */
			r = 0;
			break;
		}
		if (signal_interrupts()) {
			r = -EINTR;
			break;
		}
		if (time_ns() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		task_wait(deadline);
	}
	fq_dequeue(&waiters, w);
	return r;
}

static int64_t futex_wake_op(uint64_t uaddr, int nwake, uint64_t uaddr2, int nwake2,
			     uint32_t encoded)
{
	uint32_t old, store;
	bool cmp;
	if (uaddr2 & 3)
		return -EINVAL;
	if (copy_from_user(&old, uaddr2, sizeof(old)))
		return -EFAULT;
	int err = fq_wake_op(encoded, old, &store, &cmp);
	if (err)
		return err;
	if (copy_to_user(uaddr2, &store, sizeof(store)))
		return -EFAULT;
	int n = futex_wake(uaddr, nwake);
	if (cmp)
		n += futex_wake(uaddr2, nwake2);
	return n;
}

SYS(futex)
{
	uint64_t uaddr = a0, uaddr2 = a4;
	uint32_t op = (uint32_t)a1, val = (uint32_t)a2, val3 = (uint32_t)a5;
	uint32_t cmd = op & FUTEX_CMD_MASK;
	bool realtime = op & FUTEX_CLOCK_REALTIME;
	if (uaddr & 3)
		return -EINVAL;
	if (realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET)
		return -ENOSYS;
	uint64_t deadline;
	int64_t err;
	switch (cmd) {
	case FUTEX_WAIT:
		val3 = FUTEX_BITSET_MATCH_ANY;
		__attribute__((fallthrough));
	case FUTEX_WAIT_BITSET:
		err = deadline_of(a3, cmd == FUTEX_WAIT_BITSET, realtime, &deadline);
		return err ? err : futex_wait(uaddr, val, deadline, val3);
	case FUTEX_WAKE:
		val3 = FUTEX_BITSET_MATCH_ANY;
		__attribute__((fallthrough));
	case FUTEX_WAKE_BITSET:
		if (!val3)
			return -EINVAL;
		/* Linux wakes one even when asked for none (its count check
		 * comes after the first wake). */
		return fq_wake(&waiters, key_of(uaddr), val3,
			       val == 0 ? 1 : (int)(val > 0x7fffffff ? 0x7fffffff : val), wake_task,
			       NULL);
	case FUTEX_CMP_REQUEUE: {
		uint32_t v;
		if (copy_from_user(&v, uaddr, sizeof(v)))
			return -EFAULT;
		if (v != val3)
			return -EAGAIN;
	}
		__attribute__((fallthrough));
	case FUTEX_REQUEUE:
		if ((int32_t)val < 0 || (int32_t)a3 < 0)
			return -EINVAL;
		if (uaddr2 & 3)
			return -EINVAL;
		return fq_requeue(&waiters, key_of(uaddr), key_of(uaddr2), (int)val, (int)(int32_t)a3, wake_task,
				  NULL);
	case FUTEX_WAKE_OP:
		return futex_wake_op(uaddr, (int)val, uaddr2, (int)(int32_t)a3, val3);
	default:
		return -ENOSYS; /* the PI operations: glibc uses them only when asked to */
	}
}

/* A lock held by the exiting thread: marked OWNER_DIED, a waiter woken. */
static void robust_release(uint64_t uaddr, int tid)
{
	uint32_t v;
	if ((uaddr & 3) || copy_from_user(&v, uaddr, sizeof(v)))
		return;
	if ((v & FUTEX_TID_MASK) != (uint32_t)tid)
		return;
	uint32_t nv = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
	if (copy_to_user(uaddr, &nv, sizeof(nv)))
		return;
	if (v & FUTEX_WAITERS)
		futex_wake(uaddr, 1);
}

void futex_thread_exit(struct task *t)
{
	if (t->robust_list) {
		struct robust_list_head h;
		if (copy_from_user(&h, t->robust_list, sizeof(h)) == 0) {
			uint64_t e = (uint64_t)h.list.next;
			for (int i = 0; i < ROBUST_LIST_LIMIT && e && e != t->robust_list; i++) {
				uint64_t next;
				if (copy_from_user(&next, e, sizeof(next)))
					break;
				if (e != (uint64_t)h.list_op_pending)
					robust_release((uint64_t)((int64_t)e + h.futex_offset), t->tid);
				e = next;
			}
			if (h.list_op_pending)
				robust_release((uint64_t)((int64_t)(uint64_t)h.list_op_pending +
							  h.futex_offset), t->tid);
		}
	}
	if (t->clear_child_tid) {
		uint32_t zero = 0;
		if (copy_to_user(t->clear_child_tid, &zero, sizeof(zero)) == 0)
			futex_wake(t->clear_child_tid, 1);
	}
}
