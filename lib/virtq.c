/*
 * Split virtqueues, driver and device side (see include/pier/virtq.h).
 *
 * Shared-memory fields are read once with __atomic loads and copied: a
 * hostile peer may change them at any moment, so no check is ever done on
 * a value that is read again afterwards.
 */
#include <pier/errno.h>
#include <pier/string.h>
#include <pier/virtq.h>

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define FULL_FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)

static bool size_ok(uint16_t size)
{
	return size && size <= VIRTQ_MAX_SIZE && (size & (size - 1)) == 0;
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Layout: descriptors, then the avail ring, then (page aligned) the used ring. */
static size_t avail_off(uint16_t size)
{
	return 16u * size;
}

static size_t used_off(uint16_t size)
{
	return align_up(avail_off(size) + 6 + 2u * size, 4096);
}

size_t virtq_ring_bytes(uint16_t size)
{
	return align_up(used_off(size) + 6 + 8u * size, 4096);
}

size_t virtq_meta_bytes(uint16_t size)
{
	return (size_t)size * (sizeof(void *) + 2 * sizeof(uint16_t) + sizeof(uint32_t));
}

/* The event-index words live just past each ring (virtio 1.x, 2.7.10). */
static uint16_t *used_event(struct vring_avail *a, uint16_t size)
{
	return &a->ring[size];
}

static uint16_t *avail_event(struct vring_used *u, uint16_t size)
{
	return (uint16_t *)&u->ring[size];
}

/* ---- driver side ---- */

int virtq_init(struct virtq *q, uint16_t size, void *ring, uint64_t ring_addr, void *meta,
	       bool event_idx)
{
	if (!size_ok(size))
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->size = size;
	q->desc = ring;
	q->avail = (struct vring_avail *)((char *)ring + avail_off(size));
	q->used = (struct vring_used *)((char *)ring + used_off(size));
	q->desc_addr = ring_addr;
	q->avail_addr = ring_addr + avail_off(size);
	q->used_addr = ring_addr + used_off(size);
	q->event_idx = event_idx;
	q->token = meta;
	q->in_bytes = (uint32_t *)(q->token + size);
	q->chain_len = (uint16_t *)(q->in_bytes + size);
	q->next = q->chain_len + size;
	memset(meta, 0, virtq_meta_bytes(size));
	for (uint16_t i = 0; i < size; i++)
		q->next[i] = (uint16_t)(i + 1 < size ? i + 1 : 0);
	q->free_head = 0;
	q->num_free = size;
	return 0;
}

int virtq_add(struct virtq *q, const struct virtq_buf *out, unsigned nout,
	      const struct virtq_buf *in, unsigned nin, void *token)
{
	unsigned n = nout + nin;
	if (q->broken)
		return -EIO;
	if (!token || n == 0 || n > q->size)
		return -EINVAL;
	if (n > q->num_free)
		return -ENOSPC;
	uint16_t head = q->free_head, i = head;
	uint64_t writable = 0;
	for (unsigned k = 0; k < n; k++) {
		const struct virtq_buf *b = k < nout ? &out[k] : &in[k - nout];
		struct vring_desc *d = &q->desc[i];
		d->addr = b->addr;
		d->len = b->len;
		d->flags = (uint16_t)((k < nout ? 0 : VRING_DESC_F_WRITE) |
				      (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		d->next = q->next[i]; /* links come from our private copy */
		if (k >= nout)
			writable += b->len;
		i = q->next[i];
	}
	q->free_head = i;
	q->num_free = (uint16_t)(q->num_free - n);
	q->token[head] = token;
	q->chain_len[head] = (uint16_t)n;
	q->in_bytes[head] = writable > UINT32_MAX ? UINT32_MAX : (uint32_t)writable;
	STORE(&q->avail->ring[q->avail_idx & (q->size - 1)], head);
	q->avail_idx++;
	STORE_REL(&q->avail->idx, q->avail_idx); /* descriptors visible before idx */
	return 0;
}

bool virtq_kick_needed(struct virtq *q)
{
	FULL_FENCE(); /* our avail->idx store before reading the device's flags */
	uint16_t old = q->kicked_idx, now = q->avail_idx;
	q->kicked_idx = now;
	if (q->event_idx)
		return vring_need_event(LOAD(avail_event(q->used, q->size)), now, old);
	return !(LOAD(&q->used->flags) & VRING_USED_F_NO_NOTIFY);
}

bool virtq_has_used(const struct virtq *q)
{
	return LOAD_ACQ(&q->used->idx) != q->last_used;
}

/* Returns a completed chain to the free list, walking our private links. */
static void free_chain(struct virtq *q, uint16_t head)
{
	uint16_t n = q->chain_len[head], last = head;
	for (uint16_t k = 0; k + 1 < n; k++)
		last = q->next[last];
	q->next[last] = q->free_head;
	q->free_head = head;
	q->token[head] = NULL;
	q->chain_len[head] = 0;
	q->in_bytes[head] = 0;
	q->num_free = (uint16_t)(q->num_free + n);
}

void *virtq_get_used(struct virtq *q, uint32_t *len)
{
	if (q->broken)
		return NULL;
	/* One read of the device's index: it may change it between two. */
	uint16_t used_idx = LOAD_ACQ(&q->used->idx);
	if (used_idx == q->last_used)
		return NULL;
	if ((uint16_t)(used_idx - q->last_used) > q->size) {
		q->broken = true; /* the device claims more completions than slots */
		return NULL;
	}
	const struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
	uint32_t id = LOAD(&e->id), written = LOAD(&e->len);
	if (id >= q->size || !q->token[id] || written > q->in_bytes[id]) {
		q->broken = true;
		return NULL;
	}
	q->last_used++;
	if (q->event_idx && !q->intr_off)
		STORE(used_event(q->avail, q->size), q->last_used);
	void *token = q->token[id];
	free_chain(q, (uint16_t)id);
	*len = written;
	return token;
}

void *virtq_take_broken(struct virtq *q)
{
	if (!q->broken)
		return NULL;
	for (uint16_t i = 0; i < q->size; i++)
		if (q->token[i]) {
			void *t = q->token[i];
			q->token[i] = NULL;
			return t;
		}
	return NULL;
}

void virtq_set_interrupts(struct virtq *q, bool on)
{
	q->intr_off = !on; /* virtq_get_used must not re-arm the event index */
	if (q->event_idx) {
		/* With event index, "no interrupts" is an event far in the past. */
		STORE(used_event(q->avail, q->size), on ? q->last_used : (uint16_t)(q->last_used - 1));
	} else {
		STORE(&q->avail->flags, on ? 0 : VRING_AVAIL_F_NO_INTERRUPT);
	}
	FULL_FENCE();
}

/* ---- device side ---- */

int virtq_dev_init(struct virtq_dev *d, uint16_t size, uint64_t desc_addr,
		   uint64_t avail_addr, uint64_t used_addr, bool event_idx, virtq_xlate_fn xlate,
		   void *ctx)
{
	memset(d, 0, sizeof(*d));
	if (!size_ok(size))
		return -EINVAL;
	d->desc = xlate(ctx, desc_addr, 16u * size, false);
	d->avail = xlate(ctx, avail_addr, 6 + 2u * size, true);
	d->used = xlate(ctx, used_addr, 6 + 8u * size, true);
	if (!d->desc || !d->avail || !d->used)
		return -EINVAL;
	/* Misaligned rings would make every access below undefined (2.7). */
	if ((uintptr_t)d->desc % 16 || (uintptr_t)d->avail % 2 || (uintptr_t)d->used % 4)
		return -EINVAL;
	d->size = size;
	d->event_idx = event_idx;
	d->xlate = xlate;
	d->ctx = ctx;
	return 0;
}

static int dev_fail(struct virtq_dev *d, int err)
{
	d->broken = true;
	return err;
}

/* Adds one descriptor's buffer to the element, in order: readable first. */
static int add_seg(struct virtq_dev *d, struct virtq_elem *e, uint64_t addr, uint32_t len,
		   uint16_t flags)
{
	bool write = flags & VRING_DESC_F_WRITE;
	if (!write && e->nin)
		return -EINVAL; /* a readable buffer after a writable one */
	if (len == 0)
		return 0;
	if (e->nout + e->nin >= VIRTQ_MAX_SEGS)
		return -E2BIG;
	void *p = d->xlate(d->ctx, addr, len, write);
	if (!p)
		return -EFAULT;
	e->seg[e->nout + e->nin] = (struct virtq_seg){ p, len };
	if (write) {
		e->nin++;
		e->in_bytes += len;
	} else {
		e->nout++;
		e->out_bytes += len;
	}
	return 0;
}

/* Walks an indirect table: one level only, its own bounds and loop limit. */
static int walk_indirect(struct virtq_dev *d, struct virtq_elem *e, uint64_t addr, uint32_t len)
{
	if (len == 0 || len % sizeof(struct vring_desc) || len / sizeof(struct vring_desc) > 0xffff)
		return -EINVAL;
	const struct vring_desc *t = d->xlate(d->ctx, addr, len, false);
	if (!t)
		return -EFAULT;
	if ((uintptr_t)t % _Alignof(struct vring_desc))
		return -EINVAL; /* reading it would be a misaligned access */
	uint32_t n = len / sizeof(struct vring_desc), i = 0;
	for (uint32_t steps = 0;; steps++) {
		if (i >= n || steps >= n)
			return -EINVAL; /* out of the table, or a loop */
		struct vring_desc desc = { LOAD(&t[i].addr), LOAD(&t[i].len), LOAD(&t[i].flags),
					   LOAD(&t[i].next) };
		if (desc.flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;
		int err = add_seg(d, e, desc.addr, desc.len, desc.flags);
		if (err)
			return err;
		if (!(desc.flags & VRING_DESC_F_NEXT))
			return 0;
		i = desc.next;
	}
}

int virtq_dev_pop(struct virtq_dev *d, struct virtq_elem *e)
{
	if (d->broken)
		return -EIO;
	uint16_t avail_idx = LOAD_ACQ(&d->avail->idx);
	if (avail_idx == d->last_avail) {
		if (!d->event_idx)
			return 0;
		/* About to wait for a notification: publish where we stopped,
		 * then look again. The driver stores avail->idx, fences, then
		 * reads avail_event; we store avail_event, fence, then read
		 * avail->idx: one of us must see the other's store, or a request
		 * could sit there with nobody told (x86 reorders a store with a
		 * later load). */
		STORE(avail_event(d->used, d->size), d->last_avail);
		FULL_FENCE();
		avail_idx = LOAD_ACQ(&d->avail->idx);
		if (avail_idx == d->last_avail)
			return 0;
	}
	if ((uint16_t)(avail_idx - d->last_avail) > d->size)
		return dev_fail(d, -EINVAL);
	uint16_t head = LOAD(&d->avail->ring[d->last_avail & (d->size - 1)]);
	d->last_avail++;
	if (d->event_idx)
		STORE(avail_event(d->used, d->size), d->last_avail);
	e->head = head;
	e->nout = e->nin = 0;
	e->out_bytes = e->in_bytes = 0;
	if (head >= d->size)
		return dev_fail(d, -EINVAL);
	uint16_t i = head;
	for (unsigned steps = 0;; steps++) {
		if (i >= d->size || steps >= d->size)
			return dev_fail(d, -EINVAL);
		struct vring_desc desc = { LOAD(&d->desc[i].addr), LOAD(&d->desc[i].len),
					   LOAD(&d->desc[i].flags), LOAD(&d->desc[i].next) };
		int err;
		if (desc.flags & VRING_DESC_F_INDIRECT) {
			/* An indirect descriptor must be the whole chain (2.7.5.3.1). */
			if ((desc.flags & VRING_DESC_F_NEXT) || steps)
				return dev_fail(d, -EINVAL);
			err = walk_indirect(d, e, desc.addr, desc.len);
			return err ? dev_fail(d, err) : 1;
		}
		err = add_seg(d, e, desc.addr, desc.len, desc.flags);
		if (err)
			return dev_fail(d, err);
		if (!(desc.flags & VRING_DESC_F_NEXT))
			return 1;
		i = desc.next;
	}
}

void virtq_dev_push(struct virtq_dev *d, uint16_t head, uint32_t len)
{
	struct vring_used_elem *u = &d->used->ring[d->used_idx & (d->size - 1)];
	STORE(&u->id, head);
	STORE(&u->len, len);
	d->used_idx++;
	STORE_REL(&d->used->idx, d->used_idx);
}

bool virtq_dev_notify_needed(struct virtq_dev *d)
{
	FULL_FENCE(); /* our used->idx store before reading the driver's flags */
	uint16_t old = d->signalled_used, now = d->used_idx;
	d->signalled_used = now;
	if (d->event_idx)
		return vring_need_event(LOAD(used_event(d->avail, d->size)), now, old);
	return !(LOAD(&d->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

size_t virtq_elem_gather(const struct virtq_elem *e, void *buf, size_t cap)
{
	size_t n = 0;
	for (unsigned i = 0; i < e->nout && n < cap; i++) {
		size_t take = e->seg[i].len < cap - n ? e->seg[i].len : cap - n;
		memcpy((uint8_t *)buf + n, e->seg[i].base, take);
		n += take;
	}
	return n;
}

size_t virtq_elem_scatter(const struct virtq_elem *e, const void *buf, size_t len)
{
	size_t n = 0;
	for (unsigned i = e->nout; i < e->nout + e->nin && n < len; i++) {
		size_t put = e->seg[i].len < len - n ? e->seg[i].len : len - n;
		memcpy(e->seg[i].base, (const uint8_t *)buf + n, put);
		n += put;
	}
	return n;
}
