/*
 * libFuzzer harness for the DRIVER side of lib/virtq.c (what the guest's
 * virtio driver uses), against a hostile device: the fuzz input is a queue
 * configuration and then a script of operations, the device's among them.
 *
 * Input: byte 0 picks the size (1 << (b % 11): 1..1024), byte 1 bit 0
 * EVENT_IDX; then operations, one selector byte each plus operands:
 *   add            a chain of nout readable + nin writable buffers
 *                  (lengths from the input, sometimes huge; sometimes a NULL
 *                  token, an empty or oversized request)
 *   complete       the device writes a well-formed used element for a
 *                  request in flight (length <= its writable bytes)
 *   complete-raw   the device writes any id and length (out of range, not
 *                  in flight, a chain middle, a duplicate, too long)
 *   publish        the device stores used->idx: its count, or a jump
 *   poll           virtq_get_used until NULL
 *   take-broken    virtq_take_broken until NULL
 *   kick, interrupts on/off
 *   scribble       the device writes bytes anywhere in the shared rings
 *                  (descriptors, avail ring, used ring, flags, event words)
 *
 * A model kept here says what each call must return, and checks:
 *  - virtq_add's result (0, -EIO broken, -EINVAL, -ENOSPC) and the chain it
 *    wrote: descriptors none of which is in flight, the right count,
 *    addresses, lengths and flags, a head published in the avail ring;
 *  - virtq_get_used returns only tokens that were added and are in flight,
 *    each once, with a length <= the request's writable bytes, and marks
 *    the queue broken exactly on a bad used ring (index too far ahead, id
 *    out of range or not the head of a request in flight, length too big);
 *  - num_free matches the model and never exceeds the size; the driver's
 *    private free list holds exactly the free descriptors, each once;
 *  - a broken queue stays broken (no completions, adds fail with -EIO) and
 *    virtq_take_broken returns every in-flight token exactly once;
 *  - virtq_has_used, virtq_kick_needed and the interrupt-suppression words
 *    agree with the ring state.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pier/errno.h>
#include <pier/virtq.h>
#include "fuzz_check.h"

#define MAX_OPS 4096
#define MAX_CHAIN 8 /* buffers per add (beyond the size sometimes) */

struct req {
	bool live;        /* added, not yet completed or taken back */
	bool returned;    /* handed back (completed or taken from a broken queue) */
	uint16_t head, n;
	uint64_t writable;
};

static struct {
	struct virtq q;
	void *ring, *meta;
	uint16_t size, mask;
	bool event_idx;
	/* The model. */
	struct req reqs[MAX_OPS];
	int token_ids[MAX_OPS];  /* tokens are &token_ids[i]: distinct, known */
	unsigned nreqs;
	uint32_t owner[VIRTQ_MAX_SIZE]; /* request index + 1 owning a descriptor, or 0 */
	uint16_t num_free, avail_idx, last_used, kicked_idx;
	bool broken, intr_off;
	uint16_t dev_used;       /* the device's next used slot */
} m;

static struct req *req_of_token(void *token)
{
	int *t = token;
	CHECK(t >= m.token_ids && t < m.token_ids + m.nreqs);
	return &m.reqs[t - m.token_ids];
}

/* The request in flight whose head is id, or NULL. */
static struct req *live_head(uint32_t id)
{
	if (id >= m.size || !m.owner[id])
		return NULL;
	struct req *r = &m.reqs[m.owner[id] - 1];
	return r->live && r->head == id ? r : NULL;
}

static uint16_t *used_event_word(void)
{
	return &m.q.avail->ring[m.size];
}

static uint16_t *avail_event_word(void)
{
	return (uint16_t *)&m.q.used->ring[m.size];
}

static void check_state(void)
{
	CHECK(m.q.broken == m.broken);
	CHECK(m.q.num_free == m.num_free && m.q.num_free <= m.size);
	CHECK(m.q.last_used == m.last_used);
	CHECK(m.q.avail_idx == m.avail_idx);
	if (m.broken)
		return; /* chains stay out of the free list for good */
	/* The private free list: num_free distinct descriptors, none in flight. */
	static uint8_t seen[VIRTQ_MAX_SIZE];
	memset(seen, 0, m.size);
	uint16_t d = m.q.free_head;
	for (unsigned k = 0; k < m.q.num_free; k++) {
		CHECK(d < m.size && !seen[d] && !m.owner[d]);
		seen[d] = 1;
		d = m.q.next[d];
	}
}

static void op_add(struct fz *in)
{
	uint8_t shape = fz_u8(in);
	unsigned nout = shape & 7, nin = (shape >> 3) & 7;
	bool null_token = (shape & 0xc0) == 0xc0 && fz_u8(in) == 0x5a;
	struct virtq_buf out[MAX_CHAIN], inb[MAX_CHAIN];
	uint64_t writable = 0;
	for (unsigned k = 0; k < nout + nin; k++) {
		uint8_t how = fz_u8(in);
		struct virtq_buf b = { .addr = fz_u64(in) };
		b.len = how & 1 ? fz_u32(in) : (how & 2 ? 0xffffffffu : how >> 2);
		if (k < nout) {
			out[k] = b;
		} else {
			inb[k - nout] = b;
			writable += b.len;
		}
	}
	unsigned n = nout + nin;
	int want = m.broken ? -EIO
		   : null_token || n == 0 || n > m.size ? -EINVAL
		   : n > m.num_free ? -ENOSPC : 0;
	unsigned ri = m.nreqs;
	CHECK(ri < MAX_OPS);
	void *token = null_token ? NULL : &m.token_ids[ri];
	int rc = virtq_add(&m.q, out, nout, inb, nin, token);
	CHECK(rc == want);
	if (rc)
		return;
	m.nreqs++;
	/* The head is what the driver just published; the device would read
	 * the same entry (it has no chance to change it in between here). */
	CHECK(m.q.avail->idx == (uint16_t)(m.avail_idx + 1));
	uint16_t head = m.q.avail->ring[m.avail_idx & m.mask];
	m.avail_idx++;
	struct req *r = &m.reqs[ri];
	*r = (struct req){ .live = true, .head = head, .n = (uint16_t)n, .writable = writable };
	uint16_t d = head;
	for (unsigned k = 0; k < n; k++) {
		CHECK(d < m.size);
		CHECK(!m.owner[d]); /* never a descriptor still in flight */
		m.owner[d] = ri + 1;
		const struct vring_desc *desc = &m.q.desc[d];
		const struct virtq_buf *b = k < nout ? &out[k] : &inb[k - nout];
		CHECK(desc->addr == b->addr && desc->len == b->len);
		CHECK(!!(desc->flags & VRING_DESC_F_WRITE) == (k >= nout));
		CHECK(!!(desc->flags & VRING_DESC_F_NEXT) == (k + 1 < n));
		CHECK(!(desc->flags & VRING_DESC_F_INDIRECT));
		d = desc->next;
	}
	m.num_free = (uint16_t)(m.num_free - n);
}

static void push_used(uint32_t id, uint32_t len)
{
	struct vring_used_elem *e = &m.q.used->ring[m.dev_used & m.mask];
	e->id = id;
	e->len = len;
	m.dev_used++;
}

/* The device completes one request in flight, correctly. */
static void op_complete(struct fz *in)
{
	uint16_t pick = fz_u16(in);
	uint32_t lenpick = fz_u32(in);
	uint8_t publish = fz_u8(in);
	unsigned nlive = 0;
	for (unsigned i = 0; i < m.nreqs; i++)
		nlive += m.reqs[i].live;
	if (!nlive)
		return;
	unsigned want = pick % nlive;
	for (unsigned i = 0; i < m.nreqs; i++) {
		struct req *r = &m.reqs[i];
		if (!r->live || want--)
			continue;
		uint64_t cap = r->writable > UINT32_MAX ? UINT32_MAX : r->writable;
		push_used(r->head, (uint32_t)(cap == UINT32_MAX ? lenpick : lenpick % (cap + 1)));
		break;
	}
	if (publish & 1)
		__atomic_store_n(&m.q.used->idx, m.dev_used, __ATOMIC_RELEASE);
}

static void op_complete_raw(struct fz *in)
{
	uint8_t how = fz_u8(in);
	uint32_t id = how & 1 ? fz_u32(in) : fz_u16(in) & (how & 2 ? 0xffff : 2 * m.size - 1);
	uint32_t len = how & 4 ? fz_u32(in) : fz_u8(in);
	push_used(id, len);
	if (how & 8)
		__atomic_store_n(&m.q.used->idx, m.dev_used, __ATOMIC_RELEASE);
}

static void op_publish(struct fz *in)
{
	uint8_t how = fz_u8(in);
	uint16_t idx = m.dev_used;
	if (how & 1)
		idx = (uint16_t)(idx + fz_u16(in)); /* a jump, forward or (mod 2^16) back */
	if (how & 2)
		m.dev_used = idx;
	__atomic_store_n(&m.q.used->idx, idx, __ATOMIC_RELEASE);
}

/* What virtq_get_used must return now, per the model (and updates it). */
static void *expect_used(uint32_t *len)
{
	if (m.broken)
		return NULL;
	uint16_t idx = m.q.used->idx;
	if (idx == m.last_used)
		return NULL;
	if ((uint16_t)(idx - m.last_used) > m.size) {
		m.broken = true;
		return NULL;
	}
	const struct vring_used_elem *e = &m.q.used->ring[m.last_used & m.mask];
	struct req *r = live_head(e->id);
	if (!r || e->len > r->writable) {
		m.broken = true;
		return NULL;
	}
	m.last_used++;
	*len = e->len;
	return &m.token_ids[r - m.reqs];
}

static void retire(struct req *r)
{
	CHECK(r->live && !r->returned);
	r->live = false;
	r->returned = true;
}

static void op_poll(void)
{
	for (unsigned i = 0; i <= (unsigned)m.size + 1; i++) {
		CHECK(virtq_has_used(&m.q) == (m.q.used->idx != m.last_used));
		uint32_t want_len = 0, len = 0xdeadbeef;
		void *want = expect_used(&want_len);
		void *got = virtq_get_used(&m.q, &len);
		CHECK(got == want);
		if (!got)
			return;
		struct req *r = req_of_token(got);
		CHECK(len == want_len && len <= r->writable);
		retire(r);
		for (unsigned d = 0; d < m.size; d++)
			if (m.owner[d] == (uint32_t)(r - m.reqs) + 1)
				m.owner[d] = 0;
		m.num_free = (uint16_t)(m.num_free + r->n);
		if (m.event_idx && !m.intr_off)
			CHECK(*used_event_word() == m.last_used);
	}
	CHECK(!"virtq_get_used returned more than size entries in one poll");
}

static void op_take_broken(void)
{
	if (!m.broken) {
		CHECK(virtq_take_broken(&m.q) == NULL);
		return;
	}
	void *t;
	while ((t = virtq_take_broken(&m.q)) != NULL)
		retire(req_of_token(t));
	for (unsigned i = 0; i < m.nreqs; i++)
		CHECK(!m.reqs[i].live); /* every one in flight came back */
	CHECK(virtq_take_broken(&m.q) == NULL);
}

static void op_kick(void)
{
	uint16_t old = m.kicked_idx, now = m.avail_idx;
	bool want = m.event_idx ? vring_need_event(*avail_event_word(), now, old)
				: !(m.q.used->flags & VRING_USED_F_NO_NOTIFY);
	CHECK(virtq_kick_needed(&m.q) == want);
	m.kicked_idx = now;
}

static void op_interrupts(bool on)
{
	virtq_set_interrupts(&m.q, on);
	m.intr_off = !on;
	if (m.event_idx)
		CHECK(*used_event_word() == (on ? m.last_used : (uint16_t)(m.last_used - 1)));
	else
		CHECK(m.q.avail->flags == (on ? 0 : VRING_AVAIL_F_NO_INTERRUPT));
}

/* The device writes what it likes into the shared rings. */
static void op_scribble(struct fz *in)
{
	size_t bytes = virtq_ring_bytes(m.size);
	uint8_t how = fz_u8(in);
	size_t at;
	switch (how & 3) {
	case 0: /* a descriptor */
		at = (size_t)(fz_u16(in) & m.mask) * 16 + (how >> 2) % 16;
		break;
	case 1: /* the used ring's flags, idx or an element */
		at = (size_t)((uint8_t *)m.q.used - (uint8_t *)m.ring) + fz_u16(in) % (4 + 8u * m.size);
		break;
	case 2: /* the event words */
		at = how & 4 ? (size_t)((uint8_t *)avail_event_word() - (uint8_t *)m.ring)
			     : (size_t)((uint8_t *)used_event_word() - (uint8_t *)m.ring);
		break;
	default:
		at = fz_u32(in) % bytes;
		break;
	}
	uint8_t n = 1 + (how >> 5); /* 1..8 bytes */
	for (uint8_t k = 0; k < n && at + k < bytes; k++)
		((uint8_t *)m.ring)[at + k] = fz_u8(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fz in = { data, len };
	memset(&m, 0, sizeof(m));
	m.size = (uint16_t)(1u << (fz_u8(&in) % 11));
	m.mask = (uint16_t)(m.size - 1);
	m.event_idx = fz_u8(&in) & 1;
	m.ring = aligned_alloc(4096, virtq_ring_bytes(m.size));
	m.meta = malloc(virtq_meta_bytes(m.size)); /* exact: ASan sees any overrun */
	CHECK(m.ring && m.meta);
	memset(m.ring, 0, virtq_ring_bytes(m.size));
	memset(m.meta, 0xa5, virtq_meta_bytes(m.size));
	/* Sizes that are not powers of two up to VIRTQ_MAX_SIZE are refused untouched. */
	static const uint16_t bad[] = { 0, 3, 2 * VIRTQ_MAX_SIZE, 0xffff };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(virtq_init(&m.q, bad[i], m.ring, 0x100000, m.meta, m.event_idx) == -EINVAL);
	if (m.size > 2)
		CHECK(virtq_init(&m.q, (uint16_t)(m.size + 1), m.ring, 0, m.meta, false) == -EINVAL);
	CHECK(virtq_init(&m.q, m.size, m.ring, 0x100000, m.meta, m.event_idx) == 0);
	m.num_free = m.size;
	check_state();

	for (unsigned ops = 0; fz_left(&in) && ops < MAX_OPS; ops++) {
		uint8_t op = fz_u8(&in);
		switch (op % 12) {
		case 0: case 1: case 2:
			op_add(&in);
			break;
		case 3: case 4:
			op_complete(&in);
			break;
		case 5:
			op_complete_raw(&in);
			break;
		case 6:
			op_publish(&in);
			break;
		case 7: case 8:
			op_poll();
			break;
		case 9:
			op_take_broken();
			break;
		case 10:
			if (op & 0x80)
				op_kick();
			else
				op_interrupts(op & 0x40);
			break;
		default:
			op_scribble(&in);
			break;
		}
		check_state();
	}
	/* The end of a run: a broken queue gives back everything in flight. */
	if (m.broken)
		op_take_broken();
	free(m.ring);
	free(m.meta);
	return 0;
}
