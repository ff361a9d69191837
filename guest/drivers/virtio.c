/*
 * Transport-independent virtio: handshake (virtio 1.x, 3.1.1), queues, and
 * synchronous requests. A request is submitted and then waited for, by
 * halting until an interrupt or by spinning on the used ring
 * (virtio_poll=1). Whoever looks at a queue's used ring marks every
 * request it finds there done, its own or another waiter's.
 */
#include <linux/virtio_config.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/irq.h"
#include "../arch/x86_64/memlayout.h"
#include "../kernel/console.h"
#include "../kernel/stats.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "virtio.h"
#include "../kernel/task.h"

/* While waiting, how often to look for the device's NEEDS_RESET status (a
 * register read: a VM exit, so not on every spin). */
#define WAIT_MAX_NS 100000000ULL /* a look at least this often, whatever woke us */
#define POLL_SPIN_NS 50000ULL   /* polling: spin this long before others run */
#define STATUS_CHECK_NS 10000000ULL
#define MAX_DEVICES 16

bool virtio_polling;
unsigned virtio_test_latency_us;
unsigned virtio_timeout_s = 60;
static struct virtio_dev *devices[MAX_DEVICES];
static unsigned ndevices;

void virtio_add_device(struct virtio_dev *d)
{
	if (ndevices == MAX_DEVICES) {
		kprintf("virtio: too many devices, ignoring %s\n", d->name);
		return;
	}
	d->polling = virtio_polling;
	devices[ndevices++] = d;
}

struct virtio_dev *virtio_find(uint32_t device_id, unsigned n)
{
	for (unsigned i = 0; i < ndevices; i++)
		if (devices[i]->device_id == device_id && !devices[i]->claimed && n-- == 0)
			return devices[i];
	return NULL;
}

void virtio_fail(struct virtio_dev *d, const char *why)
{
	kprintf("virtio %s: %s; device marked failed\n", d->name, why);
	d->failed = true;
	d->ops->set_status(d, d->ops->get_status(d) | VIRTIO_CONFIG_S_FAILED);
}

int virtio_negotiate(struct virtio_dev *d, uint64_t wanted)
{
	d->ops->set_status(d, 0); /* reset */
	for (int i = 0; i < 1000000 && d->ops->get_status(d) != 0; i++)
		cpu_relax();
	d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	uint64_t offered = d->ops->get_features(d);
	if (!(offered & (1ULL << VIRTIO_F_VERSION_1))) {
		virtio_fail(d, "device does not offer VIRTIO_F_VERSION_1");
		return -EIO;
	}
	d->features = offered & (wanted | (1ULL << VIRTIO_F_VERSION_1));
	d->ops->set_features(d, d->features);
	d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				      VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(d->ops->get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		virtio_fail(d, "device refused our features");
		return -EIO;
	}
	if (!d->polling && d->ops->irq_setup(d) < 0) {
		kprintf("virtio %s: no interrupt, completing by polling\n", d->name);
		d->polling = true;
	}
	return 0;
}

struct virtio_queue *virtio_queue_setup(struct virtio_dev *d, uint16_t idx, uint16_t max_size)
{
	uint16_t size = d->ops->queue_max(d, idx);
	if (size == 0 || idx >= VIRTIO_MAX_QUEUES) {
		kprintf("virtio %s: queue %u does not exist\n", d->name, idx);
		return NULL;
	}
	/* Queue sizes must be powers of two for split rings; take the largest
	 * one that fits both limits. */
	uint16_t want = 1;
	while ((uint32_t)want * 2 <= size && (uint32_t)want * 2 <= max_size)
		want = (uint16_t)(want * 2);
	size_t ring_bytes = virtq_ring_bytes(want);
	uint64_t pa = pmem_alloc((ring_bytes + 4095) / 4096);
	struct virtio_queue *q = kzalloc(sizeof(*q));
	void *meta = kmalloc(virtq_meta_bytes(want));
	if (!pa || !q || !meta) {
		kprintf("virtio %s: out of memory for queue %u\n", d->name, idx);
		return NULL;
	}
	q->dev = d;
	q->index = idx;
	q->lock = (struct spinlock)SPINLOCK_INIT(&lock_class_virtq);
	bool event_idx = d->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	virtq_init(&q->vq, want, phys_to_virt(pa), pa, meta, event_idx);
	if (d->polling)
		virtq_set_interrupts(&q->vq, false);
	if (d->ops->queue_enable(d, idx, &q->vq) < 0)
		return NULL;
	d->queues[idx] = q;
	if (idx + 1u > d->nqueues)
		d->nqueues = idx + 1u;
	return q;
}

void virtio_ready(struct virtio_dev *d)
{
	d->ops->set_status(d, d->ops->get_status(d) | VIRTIO_CONFIG_S_DRIVER_OK);
}

struct request {
	bool done;     /* set (release) by whoever reaps it, under the queue's lock */
	bool failed;   /* the queue was given up on with it in flight */
	uint32_t len;
};

/* Fails every request still in flight on a broken queue; q->lock held. */
static void fail_inflight(struct virtio_queue *q)
{
	struct request *r;
	while ((r = virtq_take_broken(&q->vq)) != NULL) {
		r->failed = true;
		r->len = 0;
		__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	}
}

/* Gives up on q's device: every request in flight, its waiter's on any
 * CPU, and every later one fails with EIO. The first to give up says why. */
static int64_t give_up(struct virtio_queue *q, const char *why)
{
	spin_lock(&q->lock);
	q->vq.broken = true;
	fail_inflight(q);
	spin_unlock(&q->lock);
	if (!q->dev->failed)
		virtio_fail(q->dev, why);
	return -EIO;
}

/* Marks every request in q's used ring done; whether the ring is broken
 * (an entry with a bad id or length). */
static bool reap(struct virtio_queue *q)
{
	spin_lock(&q->lock);
	struct request *r;
	uint32_t len;
	while ((r = virtq_get_used(&q->vq, &len)) != NULL) {
		r->len = len;
		__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	}
	bool broken = q->vq.broken;
	spin_unlock(&q->lock);
	return broken;
}

enum wait_end { ANSWERED, BAD_RING, NO_ANSWER, NEEDS_RESET };

/* A wait's turn for the others: with the kernel lock kept, or not ours. */
static void wait_until(bool unlocked, uint64_t deadline)
{
	if (unlocked)
		task_wait(deadline);
	else
		task_wait_holding(deadline);
}

static void wait_yield(bool unlocked)
{
	if (unlocked)
		task_yield();
	else
		task_yield_holding();
}

/* Waits for req (halting, spinning or letting others run); with `unlocked`
 * the kernel lock is not ours meanwhile. *waited: it halted for an
 * interrupt at least once. */
static enum wait_end wait_answer(struct virtio_queue *q, struct request *req, bool unlocked,
				 bool *waited)
{
	uint64_t now = time_ns(), start = now, next_check = now + STATUS_CHECK_NS;
	uint64_t deadline = now + virtio_timeout_s * 1000000000ULL;
	uint64_t earliest = now + virtio_test_latency_us * 1000ULL;
	for (;;) {
		if (reap(q))
			return BAD_RING;
		now = time_ns();
		if (__atomic_load_n(&req->done, __ATOMIC_ACQUIRE) && now >= earliest)
			return ANSWERED;
		if (now > deadline)
			return NO_ANSWER;
		if (now > next_check) {
			next_check = now + STATUS_CHECK_NS;
			__atomic_add_fetch(&stats.status_looks, 1, __ATOMIC_RELAXED);
			if (q->dev->ops->get_status(q->dev) & VIRTIO_CONFIG_S_NEEDS_RESET)
				return NEEDS_RESET;
		}
		if (q->dev->polling) {
			/* Most answers come within microseconds: spin. Past that,
			 * the program's other threads get a turn between looks. */
			if (now - start <= POLL_SPIN_NS)
				cpu_relax();
			else
				wait_yield(unlocked);
		} else if (now < earliest) {
			wait_until(unlocked, earliest); /* the test's slow host */
		} else if (!__atomic_load_n(&req->done, __ATOMIC_ACQUIRE) &&
			   !virtq_has_used(&q->vq)) {
			/* The interrupt ends this (any device interrupt wakes every
			 * waiter); the program's other threads run meanwhile. Held,
			 * the kernel lock stays ours: no other task enters the
			 * kernel until the answer is in. */
			wait_until(unlocked, time_ns() + WAIT_MAX_NS);
			*waited = true;
		}
	}
}

/*
 * Puts req on q; *kick: the device wants a notification. A full ring is
 * waited out: tasks whose requests wait without the kernel lock (a READ,
 * a LOOKUP: 32 of them fill a 128-descriptor ring) may have filled it,
 * and their answers make room; so does any other CPU's on a shared queue.
 */
static int add_request(struct virtio_queue *q, const struct virtq_buf *out, unsigned nout,
		       const struct virtq_buf *in, unsigned nin, struct request *req, bool *kick)
{
	uint64_t deadline = 0;
	for (;;) {
		spin_lock(&q->lock);
		int err = q->vq.broken ? -EIO : virtq_add(&q->vq, out, nout, in, nin, req);
		*kick = !err && virtq_kick_needed(&q->vq);
		spin_unlock(&q->lock);
		if (err != -ENOSPC)
			return err;
		uint64_t now = time_ns();
		if (!deadline) {
			deadline = now + virtio_timeout_s * 1000000000ULL;
			__atomic_add_fetch(&stats.queue_full, 1, __ATOMIC_RELAXED);
		}
		if (reap(q))
			return (int)give_up(q, "bad used-ring entry (id or length)");
		if (now > deadline) {
			kprintf("virtio %s: no room in a queue within %u s (virtio_timeout=)\n",
				q->dev->name, virtio_timeout_s);
			return (int)give_up(q, "the device stopped answering");
		}
		task_yield_holding(); /* the waiters on this CPU reap too */
		cpu_relax();
	}
}

int64_t virtio_call(struct virtio_queue *q, const struct virtq_buf *out, unsigned nout,
		    const struct virtq_buf *in, unsigned nin, bool may_unlock)
{
	struct request req = { 0 };
	if (q->dev->failed)
		return -EIO;
	bool kick;
	int err = add_request(q, out, nout, in, nin, &req, &kick);
	if (err)
		return err;
	if (kick)
		q->dev->ops->notify(q->dev, q->index);
	bool unlocked = may_unlock && task_io_leave();
	bool waited = false;
	enum wait_end end = wait_answer(q, &req, unlocked, &waited);
	if (unlocked) {
		kernel_enter();
		stats.unlocked_waits++;
	}
	switch (end) {
	case BAD_RING:
		return give_up(q, "bad used-ring entry (id or length)");
	case NO_ANSWER:
		kprintf("virtio %s: no answer within %u s (virtio_timeout=)\n", q->dev->name,
			virtio_timeout_s);
		return give_up(q, "the device stopped answering");
	case NEEDS_RESET:
		return give_up(q, "the device says it failed (NEEDS_RESET)");
	case ANSWERED:
		break;
	}
	if (req.failed)
		return -EIO; /* another waiter gave the queue up */
	if (waited)
		stats.done_irq++;
	else
		stats.done_polled++;
	return req.len;
}

void virtio_config_copy(const volatile uint8_t *cfg, uint32_t off, void *buf, uint32_t len)
{
	const volatile uint8_t *p = cfg + off;
	if (len == 2 && !(off & 1)) {
		uint16_t v = *(const volatile uint16_t *)p;
		memcpy(buf, &v, 2);
	} else if ((len == 4 || len == 8) && !(off & 3)) {
		for (uint32_t i = 0; i < len; i += 4) {
			uint32_t v = *(const volatile uint32_t *)(p + i);
			memcpy((uint8_t *)buf + i, &v, 4);
		}
	} else {
		for (uint32_t i = 0; i < len; i++)
			((uint8_t *)buf)[i] = p[i];
	}
}
