/*
 * Unit tests for lib/virtq.c: the driver side driven against the device
 * side in one process. Device addresses are host pointer values; the
 * translation callback only accepts ranges inside a test-owned "guest
 * memory" arena. Hostile peers are simulated by writing the rings by hand.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pier/errno.h>
#include <pier/virtq.h>

/* Guest memory: rings at the start, indirect tables and buffers after. */
#define ARENA_SIZE (256u * 1024)
#define TABLE_OFF (40u * 1024)
#define BUF_OFF (64u * 1024)
/* The last page is read-only for the device. */
#define RO_OFF (ARENA_SIZE - 4096)

static _Alignas(4096) unsigned char mem[ARENA_SIZE];
static _Alignas(16) unsigned char meta[16 * VIRTQ_MAX_SIZE];
static struct virtq q;
static struct virtq_dev d;
static unsigned xlate_calls;

static uint64_t gpa(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static unsigned char *buf(size_t off)
{
	return mem + BUF_OFF + off;
}

static struct vring_desc *table(void)
{
	return (struct vring_desc *)(mem + TABLE_OFF);
}

static void *xlate(void *ctx, uint64_t addr, uint64_t len, bool write)
{
	uint64_t base = gpa(mem), size = sizeof(mem);
	assert_ptr_equal(ctx, mem);
	xlate_calls++;
	if (addr < base || addr - base > size || len > size - (addr - base))
		return NULL;
	if (write && addr - base + len > RO_OFF)
		return NULL;
	return (void *)(uintptr_t)addr;
}

static void pair_init(uint16_t size, bool event_idx)
{
	memset(mem, 0, sizeof(mem));
	memset(meta, 0xa5, sizeof(meta)); /* virtq_init must not rely on zeroed meta */
	assert_true(virtq_ring_bytes(size) <= TABLE_OFF);
	assert_true(virtq_meta_bytes(size) <= sizeof(meta));
	assert_int_equal(virtq_init(&q, size, mem, gpa(mem), meta, event_idx), 0);
	assert_int_equal(virtq_dev_init(&d, size, q.desc_addr, q.avail_addr, q.used_addr,
					event_idx, xlate, mem),
			 0);
	assert_int_equal(q.num_free, size);
	assert_false(q.broken);
	assert_false(d.broken);
}

static uint16_t last_head(void)
{
	return q.avail->ring[(uint16_t)(q.avail->idx - 1) & (q.size - 1)];
}

/* ---- sizes and argument checks ---- */

static void test_init_sizes(void **state)
{
	(void)state;
	static const uint16_t bad[] = { 0, 3, 6, 100, 1023, 1025, 2048, 4096, 0x8000, 0xffff };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(virtq_init(&q, bad[i], mem, gpa(mem), meta, false), -EINVAL);
		assert_int_equal(virtq_dev_init(&d, bad[i], gpa(mem), gpa(mem + 16384),
						gpa(mem + 20480), false, xlate, mem),
				 -EINVAL);
	}
	for (uint16_t s = 1; s <= VIRTQ_MAX_SIZE; s = (uint16_t)(s * 2)) {
		assert_int_equal(virtq_ring_bytes(s) % 4096, 0);
		pair_init(s, s & 1);
		/* The used ring is page aligned and after the avail ring and its event word. */
		assert_int_equal(q.used_addr % 4096, 0);
		assert_true(q.avail_addr + 6 + 2u * s <= q.used_addr);
		assert_true(q.used_addr + 6 + 8u * s <= q.desc_addr + virtq_ring_bytes(s));
	}
	/* Rings outside guest memory. */
	assert_int_equal(virtq_dev_init(&d, 8, gpa(mem) - 4096, gpa(mem + 128),
					gpa(mem + 4096), false, xlate, mem),
			 -EINVAL);
	assert_int_equal(virtq_dev_init(&d, 8, gpa(mem), gpa(mem) + ARENA_SIZE - 8,
					gpa(mem + 4096), false, xlate, mem),
			 -EINVAL);
	assert_int_equal(virtq_dev_init(&d, 8, gpa(mem), gpa(mem + 128), UINT64_MAX - 16,
					false, xlate, mem),
			 -EINVAL);
	/* The used and avail rings are written by the device: not in read-only memory. */
	assert_int_equal(virtq_dev_init(&d, 8, gpa(mem), gpa(mem + 128), gpa(mem + RO_OFF),
					false, xlate, mem),
			 -EINVAL);
	/* A read-only descriptor table is fine. */
	assert_int_equal(virtq_dev_init(&d, 8, gpa(mem + RO_OFF), gpa(mem + 128),
					gpa(mem + 4096), false, xlate, mem),
			 0);
}

static void test_add_errors(void **state)
{
	(void)state;
	pair_init(4, false);
	int t[4];
	struct virtq_buf b[5] = { { gpa(buf(0)), 8 },	 { gpa(buf(8)), 8 },  { gpa(buf(16)), 8 },
				  { gpa(buf(24)), 8 }, { gpa(buf(32)), 8 } };
	assert_int_equal(virtq_add(&q, b, 0, b, 0, &t[0]), -EINVAL);
	assert_int_equal(virtq_add(&q, b, 1, NULL, 0, NULL), -EINVAL);
	assert_int_equal(virtq_add(&q, b, 3, b + 3, 2, &t[0]), -EINVAL); /* more than size */
	assert_int_equal(q.num_free, 4);
	assert_int_equal(q.avail->idx, 0);

	assert_int_equal(virtq_add(&q, b, 2, b + 2, 1, &t[0]), 0);
	assert_int_equal(q.num_free, 1);
	assert_int_equal(virtq_add(&q, b, 1, b + 1, 1, &t[1]), -ENOSPC);
	assert_int_equal(q.num_free, 1);
	assert_int_equal(q.avail->idx, 1);
	assert_int_equal(virtq_add(&q, NULL, 0, b + 4, 1, &t[1]), 0); /* in-only */
	assert_int_equal(q.num_free, 0);
	assert_int_equal(virtq_add(&q, b, 1, NULL, 0, &t[2]), -ENOSPC);
	assert_int_equal(q.avail->idx, 2);

	/* Completing one frees exactly its descriptors. */
	struct virtq_elem e;
	uint32_t len;
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.nout, 2);
	assert_int_equal(e.nin, 1);
	virtq_dev_push(&d, e.head, 8);
	assert_ptr_equal(virtq_get_used(&q, &len), &t[0]);
	assert_int_equal(len, 8);
	assert_int_equal(q.num_free, 3);
	assert_int_equal(virtq_add(&q, b, 3, NULL, 0, &t[2]), 0);
	assert_int_equal(virtq_add(&q, b, 1, NULL, 0, &t[3]), -ENOSPC);
	assert_false(q.broken);
}

/* ---- round trips ---- */

static void test_round_trip(void **state)
{
	(void)state;
	pair_init(8, false);
	unsigned char *hdr = buf(0), *body = buf(64), *resp = buf(128), *status = buf(256);
	memcpy(hdr, "HDR", 3);
	memcpy(body, "hello", 5);
	struct virtq_buf out[2] = { { gpa(hdr), 3 }, { gpa(body), 5 } };
	struct virtq_buf in[2] = { { gpa(resp), 16 }, { gpa(status), 8 } };
	int token;
	uint32_t len = 12345;
	struct virtq_elem e, e2;

	assert_false(virtq_has_used(&q));
	assert_null(virtq_get_used(&q, &len));
	assert_int_equal(len, 12345);
	assert_int_equal(virtq_dev_pop(&d, &e), 0);

	assert_int_equal(virtq_add(&q, out, 2, in, 2, &token), 0);
	assert_int_equal(q.num_free, 4);
	assert_true(virtq_kick_needed(&q));

	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.head, last_head());
	assert_int_equal(e.nout, 2);
	assert_int_equal(e.nin, 2);
	assert_int_equal(e.out_bytes, 8);
	assert_int_equal(e.in_bytes, 24);
	assert_ptr_equal(e.seg[0].base, hdr);
	assert_int_equal(e.seg[0].len, 3);
	assert_ptr_equal(e.seg[1].base, body);
	assert_int_equal(e.seg[1].len, 5);
	assert_ptr_equal(e.seg[2].base, resp);
	assert_int_equal(e.seg[2].len, 16);
	assert_ptr_equal(e.seg[3].base, status);
	assert_int_equal(e.seg[3].len, 8);
	assert_memory_equal(e.seg[1].base, "hello", 5);
	assert_int_equal(virtq_dev_pop(&d, &e2), 0);

	memcpy(e.seg[2].base, "world", 5);
	((unsigned char *)e.seg[3].base)[0] = 7;
	virtq_dev_push(&d, e.head, 17);
	assert_true(virtq_dev_notify_needed(&d));

	assert_true(virtq_has_used(&q));
	assert_ptr_equal(virtq_get_used(&q, &len), &token);
	assert_int_equal(len, 17);
	assert_memory_equal(resp, "world", 5);
	assert_int_equal(status[0], 7);
	assert_int_equal(q.num_free, 8);
	assert_false(virtq_has_used(&q));
	assert_null(virtq_get_used(&q, &len));

	/* Exactly the writable size is accepted; an out-only request completes with 0. */
	assert_int_equal(virtq_add(&q, out, 1, in, 2, &token), 0);
	assert_int_equal(virtq_add(&q, out, 2, NULL, 0, &e2), 0);
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(virtq_dev_pop(&d, &e2), 1);
	assert_int_equal(e2.nout, 2);
	assert_int_equal(e2.nin, 0);
	assert_int_equal(e2.in_bytes, 0);
	virtq_dev_push(&d, e2.head, 0);
	virtq_dev_push(&d, e.head, 24);
	assert_ptr_equal(virtq_get_used(&q, &len), &e2);
	assert_int_equal(len, 0);
	assert_ptr_equal(virtq_get_used(&q, &len), &token);
	assert_int_equal(len, 24);
	assert_int_equal(q.num_free, 8);
	assert_false(q.broken);
	assert_false(d.broken);

	/* Zero-length buffers are skipped by the device. */
	struct virtq_buf z[3] = { { gpa(hdr), 0 }, { gpa(body), 5 }, { 0, 0 } };
	assert_int_equal(virtq_add(&q, z, 2, z + 2, 1, &token), 0);
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.nout, 1);
	assert_int_equal(e.nin, 0);
	assert_ptr_equal(e.seg[0].base, body);
	virtq_dev_push(&d, e.head, 0);
	assert_ptr_equal(virtq_get_used(&q, &len), &token);
	assert_int_equal(q.num_free, 8);
}

/* A full chain of `size` descriptors, and a whole queue of single ones. */
static void test_full_queue(void **state)
{
	(void)state;
	pair_init(16, false);
	struct virtq_buf b[16];
	int t[16];
	for (int i = 0; i < 16; i++)
		b[i] = (struct virtq_buf){ gpa(buf(64u * i)), (uint32_t)(i + 1) };
	assert_int_equal(virtq_add(&q, b, 10, b + 10, 6, &t[0]), 0);
	assert_int_equal(q.num_free, 0);
	struct virtq_elem e;
	uint32_t len;
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.nout, 10);
	assert_int_equal(e.nin, 6);
	for (int i = 0; i < 16; i++) {
		assert_ptr_equal(e.seg[i].base, buf(64u * i));
		assert_int_equal(e.seg[i].len, i + 1);
	}
	virtq_dev_push(&d, e.head, 11 + 12 + 13 + 14 + 15 + 16);
	assert_ptr_equal(virtq_get_used(&q, &len), &t[0]);
	assert_int_equal(q.num_free, 16);

	for (int i = 0; i < 16; i++)
		assert_int_equal(virtq_add(&q, &b[i], 1, NULL, 0, &t[i]), 0);
	assert_int_equal(virtq_add(&q, b, 1, NULL, 0, &t[0]), -ENOSPC);
	bool seen[16] = { false };
	for (int i = 0; i < 16; i++) {
		assert_int_equal(virtq_dev_pop(&d, &e), 1);
		assert_false(seen[e.head]);
		seen[e.head] = true;
		assert_ptr_equal(e.seg[0].base, buf(64u * i));
		virtq_dev_push(&d, e.head, 0);
	}
	for (int i = 0; i < 16; i++)
		assert_ptr_equal(virtq_get_used(&q, &len), &t[i]);
	assert_null(virtq_get_used(&q, &len));
	assert_int_equal(q.num_free, 16);
}

static uint32_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

#define NSLOTS 16
#define SLOT_BYTES 1024

struct req {
	bool inflight;
	unsigned nout, nin;
	uint32_t out_len[3], in_len[3];
	uint32_t in_total;
	unsigned char seed;
};

static struct req reqs[NSLOTS];

static unsigned char *slot_out(unsigned s, unsigned k)
{
	return buf(s * SLOT_BYTES + k * 64);
}

static unsigned char *slot_in(unsigned s, unsigned k)
{
	return buf(s * SLOT_BYTES + 512 + k * 128);
}

/* Device: check the element against the request it came from, write a reply. */
static uint32_t serve(const struct virtq_elem *e)
{
	assert_true(e->nout + e->nin > 0);
	uintptr_t first = (uintptr_t)e->seg[0].base - (uintptr_t)buf(0);
	unsigned s = (unsigned)(first / SLOT_BYTES);
	assert_true(s < NSLOTS);
	struct req *r = &reqs[s];
	assert_true(r->inflight);
	assert_int_equal(e->nout, r->nout);
	assert_int_equal(e->nin, r->nin);
	unsigned sum = 0;
	uint64_t out_bytes = 0, in_bytes = 0;
	for (unsigned k = 0; k < e->nout; k++) {
		assert_ptr_equal(e->seg[k].base, slot_out(s, k));
		assert_int_equal(e->seg[k].len, r->out_len[k]);
		for (uint32_t i = 0; i < e->seg[k].len; i++)
			sum += ((unsigned char *)e->seg[k].base)[i];
		out_bytes += e->seg[k].len;
	}
	for (unsigned k = 0; k < e->nin; k++) {
		assert_ptr_equal(e->seg[e->nout + k].base, slot_in(s, k));
		assert_int_equal(e->seg[e->nout + k].len, r->in_len[k]);
		in_bytes += e->seg[e->nout + k].len;
	}
	assert_int_equal(e->out_bytes, out_bytes);
	assert_int_equal(e->in_bytes, in_bytes);
	/* Reply: (sum + i) for a random prefix of the writable bytes. */
	uint32_t len = in_bytes ? rnd() % (uint32_t)(in_bytes + 1) : 0, i = 0;
	for (unsigned k = e->nout; k < e->nout + e->nin && i < len; k++)
		for (uint32_t j = 0; j < e->seg[k].len && i < len; j++, i++)
			((unsigned char *)e->seg[k].base)[j] = (unsigned char)(sum + i);
	return len;
}

/* Driver: check a completion's reply. */
static void check_reply(struct req *r, uint32_t len)
{
	unsigned s = (unsigned)(r - reqs), sum = 0;
	assert_true(r->inflight);
	assert_true(len <= r->in_total);
	for (unsigned k = 0; k < r->nout; k++)
		for (uint32_t i = 0; i < r->out_len[k]; i++)
			sum += slot_out(s, k)[i];
	uint32_t i = 0;
	for (unsigned k = 0; k < r->nin && i < len; k++)
		for (uint32_t j = 0; j < r->in_len[k] && i < len; j++, i++)
			assert_int_equal(slot_in(s, k)[j], (unsigned char)(sum + i));
	r->inflight = false;
}

static void check_free_count(void)
{
	unsigned used = 0;
	for (unsigned s = 0; s < NSLOTS; s++)
		if (reqs[s].inflight)
			used += reqs[s].nout + reqs[s].nin;
	assert_int_equal(q.num_free + used, q.size);
}

static void stress(uint16_t size, bool event_idx, unsigned nreq, uint32_t seed)
{
	pair_init(size, event_idx);
	memset(reqs, 0, sizeof(reqs));
	rng_state = seed;
	struct virtq_elem *pending = calloc(NSLOTS, sizeof(*pending));
	assert_non_null(pending);
	unsigned npending = 0, added = 0, completed = 0, enospc = 0, maxflight = 0;

	while (completed < nreq) {
		/* Driver: add a few requests. */
		unsigned nadd = rnd() % 4;
		for (unsigned a = 0; a < nadd && added < nreq; a++) {
			unsigned s;
			for (s = 0; s < NSLOTS && reqs[s].inflight; s++)
				;
			if (s == NSLOTS)
				break;
			struct req *r = &reqs[s];
			struct virtq_buf out[3], in[3];
			do {
				r->nout = rnd() % 4;
				r->nin = rnd() % 4;
			} while (r->nout + r->nin == 0 || r->nout + r->nin > size);
			r->in_total = 0;
			for (unsigned k = 0; k < r->nout; k++) {
				r->out_len[k] = 1 + rnd() % 64;
				for (uint32_t i = 0; i < r->out_len[k]; i++)
					slot_out(s, k)[i] = (unsigned char)rnd();
				out[k] = (struct virtq_buf){ gpa(slot_out(s, k)), r->out_len[k] };
			}
			for (unsigned k = 0; k < r->nin; k++) {
				r->in_len[k] = 1 + rnd() % 128;
				r->in_total += r->in_len[k];
				memset(slot_in(s, k), 0, r->in_len[k]);
				in[k] = (struct virtq_buf){ gpa(slot_in(s, k)), r->in_len[k] };
			}
			uint16_t before = q.num_free;
			int ret = virtq_add(&q, out, r->nout, in, r->nin, r);
			if (ret == -ENOSPC) {
				assert_true(before < r->nout + r->nin);
				assert_int_equal(q.num_free, before);
				enospc++;
				break;
			}
			assert_int_equal(ret, 0);
			r->inflight = true;
			added++;
			check_free_count();
		}
		unsigned flight = 0;
		for (unsigned s = 0; s < NSLOTS; s++)
			flight += reqs[s].inflight;
		if (flight > maxflight)
			maxflight = flight;
		virtq_kick_needed(&q);

		/* Device: take some, complete some, in random order. */
		unsigned npop = rnd() % 4;
		for (unsigned p = 0; p < npop; p++) {
			if (npending == NSLOTS)
				break;
			int ret = virtq_dev_pop(&d, &pending[npending]);
			assert_true(ret >= 0);
			if (ret == 0)
				break;
			npending++;
		}
		unsigned npush = npending ? rnd() % (npending + 1) : 0;
		if (added == nreq)
			npush = npending; /* drain at the end */
		for (unsigned p = 0; p < npush; p++) {
			unsigned k = rnd() % npending;
			uint32_t len = serve(&pending[k]);
			virtq_dev_push(&d, pending[k].head, len);
			pending[k] = pending[--npending];
		}
		virtq_dev_notify_needed(&d);

		/* Driver: take completions. */
		unsigned nget = (added == nreq) ? ~0u : rnd() % 4;
		for (unsigned g = 0; g < nget; g++) {
			uint32_t len;
			struct req *r = virtq_get_used(&q, &len);
			if (!r)
				break;
			check_reply(r, len);
			completed++;
			check_free_count();
		}
		assert_false(q.broken);
		assert_false(d.broken);
	}
	assert_int_equal(added, nreq);
	assert_int_equal(npending, 0);
	assert_int_equal(q.num_free, size);
	assert_false(virtq_has_used(&q));
	struct virtq_elem e;
	assert_int_equal(virtq_dev_pop(&d, &e), 0);
	for (unsigned s = 0; s < NSLOTS; s++)
		assert_false(reqs[s].inflight);
	/* Several requests really were in flight at once, and the queue filled up. */
	assert_true(maxflight >= (size >= 8 ? 4u : 2u));
	if (size <= 8)
		assert_true(enospc > 0);
	free(pending);
}

static void test_many_requests(void **state)
{
	(void)state;
	stress(8, false, 5000, 0x12345678);
	stress(16, false, 5000, 0xdeadbeef);
	stress(8, true, 5000, 0xcafef00d);
	stress(4, true, 3000, 0x0badc0de);
	/* More than 65536 requests: the 16-bit indices wrap. */
	stress(16, true, 70000, 0x1f2e3d4c);
}

/* ---- hostile device ---- */

static int tok[3];
static uint16_t heads[3];

/* Three requests in a queue of 8: out+in (2 descs), out only, 2 x in. */
static void add_three(void)
{
	pair_init(8, false);
	struct virtq_buf o = { gpa(buf(0)), 16 }, i[2] = { { gpa(buf(64)), 32 },
							   { gpa(buf(128)), 32 } };
	assert_int_equal(virtq_add(&q, &o, 1, i, 1, &tok[0]), 0);
	heads[0] = last_head();
	assert_int_equal(virtq_add(&q, &o, 1, NULL, 0, &tok[1]), 0);
	heads[1] = last_head();
	assert_int_equal(virtq_add(&q, NULL, 0, i, 2, &tok[2]), 0);
	heads[2] = last_head();
	assert_int_equal(q.num_free, 3);
}

static void used_raw(uint32_t id, uint32_t len)
{
	struct vring_used_elem *u = &q.used->ring[q.used->idx & (q.size - 1)];
	u->id = id;
	u->len = len;
	q.used->idx++;
}

/* The queue is broken: nothing more goes in or out, and the tokens of
 * `mask` (bits for tok[0..2]) come back once each. */
static void expect_broken(unsigned mask)
{
	uint32_t len = 0xdead;
	assert_null(virtq_get_used(&q, &len)); /* noticing the bogus entry breaks the queue */
	assert_true(q.broken);
	assert_null(virtq_get_used(&q, &len));
	assert_int_equal(len, 0xdead);
	struct virtq_buf o = { gpa(buf(0)), 16 };
	int t;
	assert_int_equal(virtq_add(&q, &o, 1, NULL, 0, &t), -EIO);
	assert_int_equal(virtq_add(&q, NULL, 0, NULL, 0, NULL), -EIO);
	unsigned got = 0;
	void *p;
	while ((p = virtq_take_broken(&q))) {
		int k = (int *)p - tok;
		assert_true(k >= 0 && k < 3);
		assert_false(got & (1u << k));
		got |= 1u << k;
	}
	assert_int_equal(got, mask);
	assert_null(virtq_take_broken(&q));
	assert_null(virtq_get_used(&q, &len));
}

static void test_take_broken_on_healthy_queue(void **state)
{
	(void)state;
	add_three();
	assert_null(virtq_take_broken(&q));
	uint32_t len;
	used_raw(heads[1], 0);
	assert_ptr_equal(virtq_get_used(&q, &len), &tok[1]);
	assert_false(q.broken);
}

static void test_device_id_out_of_range(void **state)
{
	(void)state;
	static const uint32_t ids[] = { 8, 9, 0xffff, 0x10000, 0xffffffffu };
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		add_three();
		used_raw(ids[k], 0);
		assert_true(virtq_has_used(&q));
		expect_broken(7);
	}
}

static void test_device_id_not_in_flight(void **state)
{
	(void)state;
	/* A descriptor in the middle of a chain, and free descriptors. */
	uint16_t bad[5];
	add_three();
	bad[0] = q.desc[heads[0]].next;
	bad[1] = q.desc[heads[2]].next;
	for (int i = 0, n = 2; i < 8; i++)
		if (i != heads[0] && i != heads[1] && i != heads[2] && i != bad[0] &&
		    i != bad[1] && n < 5)
			bad[n++] = (uint16_t)i;
	for (int k = 0; k < 5; k++) {
		add_three();
		used_raw(bad[k], 0);
		expect_broken(7);
	}
}

static void test_device_completes_twice(void **state)
{
	(void)state;
	uint32_t len;
	add_three();
	used_raw(heads[0], 4);
	used_raw(heads[0], 4);
	assert_ptr_equal(virtq_get_used(&q, &len), &tok[0]);
	assert_int_equal(len, 4);
	assert_false(q.broken);
	assert_null(virtq_get_used(&q, &len));
	expect_broken(6);

	/* Twice, with a legitimate completion in between. */
	add_three();
	used_raw(heads[2], 64);
	used_raw(heads[1], 0);
	used_raw(heads[2], 1);
	assert_ptr_equal(virtq_get_used(&q, &len), &tok[2]);
	assert_int_equal(len, 64);
	assert_ptr_equal(virtq_get_used(&q, &len), &tok[1]);
	assert_int_equal(len, 0);
	assert_null(virtq_get_used(&q, &len));
	expect_broken(1);
}

static void test_device_len_too_big(void **state)
{
	(void)state;
	uint32_t len;
	add_three();
	used_raw(heads[1], 1); /* out-only request: nothing writable */
	expect_broken(7);

	add_three();
	used_raw(heads[0], 32); /* exactly the writable size: fine */
	used_raw(heads[2], 65);
	assert_ptr_equal(virtq_get_used(&q, &len), &tok[0]);
	assert_int_equal(len, 32);
	assert_null(virtq_get_used(&q, &len));
	expect_broken(6);

	add_three();
	used_raw(heads[0], 0xffffffffu);
	expect_broken(7);
}

static void test_device_used_idx_jump(void **state)
{
	(void)state;
	static const uint16_t jumps[] = { 9, 100, 0x8000, 0xffff };
	for (size_t k = 0; k < sizeof(jumps) / sizeof(jumps[0]); k++) {
		add_three();
		/* Even with valid entries in the ring, the index is impossible. */
		q.used->ring[0] = (struct vring_used_elem){ heads[0], 0 };
		q.used->idx = jumps[k];
		expect_broken(7);
	}
	/* After some completions the jump is measured from last_used. */
	uint32_t len;
	add_three();
	used_raw(heads[1], 0);
	assert_ptr_equal(virtq_get_used(&q, &len), &tok[1]);
	q.used->idx = (uint16_t)(q.used->idx + 9);
	expect_broken(5);
	/* A jump of exactly size is possible (a full ring), but each entry is
	 * still checked: ring[0] (id 0 = heads[0], len 0) is valid, ring[1]
	 * (id 0 again) is not. */
	add_three();
	assert_int_equal(heads[0], 0);
	q.used->idx = 8;
	assert_ptr_equal(virtq_get_used(&q, &len), &tok[0]);
	assert_int_equal(len, 0);
	expect_broken(6);
}

/* The device scribbles over desc[].next (and flags) of in-flight
 * descriptors: the driver's free list must not follow them. */
static void test_device_scribbles_links(void **state)
{
	(void)state;
	pair_init(8, false);
	int t[8];
	struct virtq_buf o = { gpa(buf(0)), 16 }, in = { gpa(buf(64)), 16 };
	uint16_t h[3];
	for (int k = 0; k < 3; k++) {
		assert_int_equal(virtq_add(&q, &o, 1, &in, 1, &t[k]), 0);
		h[k] = last_head();
	}
	struct virtq_elem e[3];
	for (int k = 0; k < 3; k++)
		assert_int_equal(virtq_dev_pop(&d, &e[k]), 1);
	for (int i = 0; i < 8; i++) {
		q.desc[i].next = (uint16_t)(i & 1 ? 0xffff : i); /* self loops, garbage */
		q.desc[i].flags = 0xffff;
		q.desc[i].len = 0xffffffffu;
	}
	uint32_t len;
	virtq_dev_push(&d, h[2], 1);
	virtq_dev_push(&d, h[0], 2);
	virtq_dev_push(&d, h[1], 3);
	assert_ptr_equal(virtq_get_used(&q, &len), &t[2]);
	assert_ptr_equal(virtq_get_used(&q, &len), &t[0]);
	assert_ptr_equal(virtq_get_used(&q, &len), &t[1]);
	assert_int_equal(len, 3);
	assert_false(q.broken);
	assert_int_equal(q.num_free, 8);

	/* The free list still holds each descriptor exactly once. */
	for (int k = 0; k < 8; k++)
		assert_int_equal(virtq_add(&q, &o, 1, NULL, 0, &t[k]), 0);
	assert_int_equal(virtq_add(&q, &o, 1, NULL, 0, &t[0]), -ENOSPC);
	bool seen[8] = { false };
	for (int k = 0; k < 8; k++) {
		struct virtq_elem x;
		assert_int_equal(virtq_dev_pop(&d, &x), 1);
		assert_int_equal(x.nout, 1);
		assert_int_equal(x.nin, 0);
		assert_false(seen[x.head]);
		seen[x.head] = true;
		/* Scribble again while in flight. */
		q.desc[x.head].next = (uint16_t)((x.head + 3) & 7);
		virtq_dev_push(&d, x.head, 0);
	}
	for (int k = 0; k < 8; k++)
		assert_ptr_equal(virtq_get_used(&q, &len), &t[k]);
	assert_int_equal(q.num_free, 8);

	/* And a chain over the whole queue is well formed. */
	struct virtq_buf all[8];
	for (int k = 0; k < 8; k++)
		all[k] = (struct virtq_buf){ gpa(buf(64u * k)), (uint32_t)(k + 1) };
	assert_int_equal(virtq_add(&q, all, 4, all + 4, 4, &t[0]), 0);
	struct virtq_elem x;
	assert_int_equal(virtq_dev_pop(&d, &x), 1);
	assert_int_equal(x.nout, 4);
	assert_int_equal(x.nin, 4);
	for (int k = 0; k < 8; k++)
		assert_ptr_equal(x.seg[k].base, buf(64u * k));
	virtq_dev_push(&d, x.head, 5 + 6 + 7 + 8);
	assert_ptr_equal(virtq_get_used(&q, &len), &t[0]);
	assert_int_equal(q.num_free, 8);
	assert_false(q.broken);
}

/* ---- hostile driver ---- */

static void put_desc(struct vring_desc *t, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	t[i] = (struct vring_desc){ addr, len, flags, next };
}

static void publish(uint16_t head)
{
	q.avail->ring[q.avail->idx & (q.size - 1)] = head;
	q.avail->idx++;
}

static void expect_pop(int want, int head)
{
	struct virtq_elem e;
	int ret = virtq_dev_pop(&d, &e);
	assert_int_equal(ret, want);
	if (want > 0)
		return;
	assert_true(d.broken);
	if (head >= 0)
		assert_int_equal(e.head, head);
	/* Broken for good, even with valid requests behind. */
	put_desc(q.desc, 7, gpa(buf(0)), 8, 0, 0);
	publish(7);
	assert_true(virtq_dev_pop(&d, &e) < 0);
	assert_true(virtq_dev_pop(&d, &e) < 0);
}

#define N VRING_DESC_F_NEXT
#define W VRING_DESC_F_WRITE
#define I VRING_DESC_F_INDIRECT

static void test_driver_nothing_available(void **state)
{
	(void)state;
	pair_init(8, false);
	struct virtq_elem e;
	assert_int_equal(virtq_dev_pop(&d, &e), 0);
	assert_int_equal(virtq_dev_pop(&d, &e), 0);
	put_desc(q.desc, 3, gpa(buf(0)), 8, 0, 0);
	publish(3);
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.head, 3);
	assert_int_equal(virtq_dev_pop(&d, &e), 0);
	assert_false(d.broken);
}

static void test_driver_bad_head(void **state)
{
	(void)state;
	static const uint16_t bad[] = { 8, 9, 0x100, 0xffff };
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		pair_init(8, false);
		publish(bad[k]);
		expect_pop(-EINVAL, -1);
	}
}

static void test_driver_bad_next(void **state)
{
	(void)state;
	pair_init(8, false);
	put_desc(q.desc, 0, gpa(buf(0)), 8, N, 1);
	put_desc(q.desc, 1, gpa(buf(8)), 8, N, 8);
	publish(0);
	expect_pop(-EINVAL, 0);

	pair_init(8, false);
	put_desc(q.desc, 2, gpa(buf(0)), 8, N, 0xffff);
	publish(2);
	expect_pop(-EINVAL, 2);
}

static void test_driver_loop(void **state)
{
	(void)state;
	/* Self loop. */
	pair_init(8, false);
	put_desc(q.desc, 0, gpa(buf(0)), 8, N, 0);
	publish(0);
	expect_pop(-EINVAL, 0);

	/* Two-element loop. */
	pair_init(8, false);
	put_desc(q.desc, 4, gpa(buf(0)), 8, N, 5);
	put_desc(q.desc, 5, gpa(buf(8)), 8, N, 4);
	publish(4);
	expect_pop(-EINVAL, 4);

	/* A loop of writable zero-length descriptors (no segment limit to hit). */
	pair_init(8, false);
	for (uint16_t i = 0; i < 8; i++)
		put_desc(q.desc, i, gpa(buf(0)), 0, N | W, (uint16_t)((i + 1) & 7));
	publish(0);
	expect_pop(-EINVAL, 0);

	/* A chain over all 8 descriptors is fine; one more link is a loop. */
	pair_init(8, false);
	for (uint16_t i = 0; i < 8; i++)
		put_desc(q.desc, i, gpa(buf(8u * i)), 8, i < 7 ? N : 0, (uint16_t)(i + 1));
	publish(0);
	struct virtq_elem e;
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.nout, 8);
	q.desc[7].flags = N;
	q.desc[7].next = 0;
	publish(0);
	expect_pop(-EINVAL, 0);
}

static void test_driver_readable_after_writable(void **state)
{
	(void)state;
	pair_init(8, false);
	put_desc(q.desc, 0, gpa(buf(0)), 8, N, 1);
	put_desc(q.desc, 1, gpa(buf(8)), 8, N | W, 2);
	put_desc(q.desc, 2, gpa(buf(16)), 8, 0, 0);
	publish(0);
	expect_pop(-EINVAL, 0);
}

static void test_driver_bad_addresses(void **state)
{
	(void)state;
	uint64_t base = gpa(mem), end = base + ARENA_SIZE;
	struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
	} bad[] = {
		{ 0, 8, 0 },
		{ base - 1, 8, 0 },
		{ base - 8, 16, W },
		{ end, 1, 0 },
		{ end - 4, 8, 0 },
		{ end - 1, 0xffffffffu, 0 },
		{ base + 100, 0xffffffffu, W },
		{ UINT64_MAX - 10, 100, 0 }, /* addr + len wraps */
		{ UINT64_MAX, 1, W },
		{ gpa(mem + RO_OFF), 16, W }, /* the device may only read there */
		{ gpa(mem + RO_OFF) - 8, 16, W },
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		pair_init(8, false);
		put_desc(q.desc, 1, gpa(buf(0)), 8, N, 2);
		put_desc(q.desc, 2, bad[k].addr, bad[k].len, bad[k].flags, 0);
		publish(1);
		expect_pop(-EFAULT, 1);
	}
	/* The very end of guest memory, readable, is fine. */
	pair_init(8, false);
	put_desc(q.desc, 0, end - 8, 8, 0, 0);
	publish(0);
	struct virtq_elem e;
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_ptr_equal(e.seg[0].base, mem + ARENA_SIZE - 8);
	put_desc(q.desc, 0, base, ARENA_SIZE, 0, 0);
	publish(0);
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.out_bytes, ARENA_SIZE);
}

static void test_driver_too_many_segments(void **state)
{
	(void)state;
	struct virtq_elem e;
	/* Exactly VIRTQ_MAX_SEGS is fine. */
	pair_init(512, false); /* room for a chain of VIRTQ_MAX_SEGS + 1 */
	for (uint16_t i = 0; i < VIRTQ_MAX_SEGS; i++)
		put_desc(q.desc, i, gpa(buf(i)), 1, i + 1 < VIRTQ_MAX_SEGS ? N : 0,
			 (uint16_t)(i + 1));
	publish(0);
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.nout, VIRTQ_MAX_SEGS);
	assert_int_equal(e.out_bytes, VIRTQ_MAX_SEGS);

	pair_init(512, false);
	for (uint16_t i = 0; i <= VIRTQ_MAX_SEGS; i++)
		put_desc(q.desc, i, gpa(buf(i)), 1, i < VIRTQ_MAX_SEGS ? N : 0, (uint16_t)(i + 1));
	publish(0);
	expect_pop(-E2BIG, 0);

	/* The same through an indirect table. */
	pair_init(8, false);
	for (uint16_t i = 0; i <= VIRTQ_MAX_SEGS; i++)
		put_desc(table(), i, gpa(buf(i)), 1, i < VIRTQ_MAX_SEGS ? W | N : W,
			 (uint16_t)(i + 1));
	put_desc(q.desc, 0, gpa(table()), (VIRTQ_MAX_SEGS + 1) * 16, I, 0);
	publish(0);
	expect_pop(-E2BIG, 0);
}

static void test_driver_indirect_valid(void **state)
{
	(void)state;
	pair_init(8, false);
	struct vring_desc *t = table();
	/* Table order is given by next links, not by position. */
	put_desc(t, 0, gpa(buf(0)), 10, N, 2);
	put_desc(t, 2, gpa(buf(16)), 20, N, 1);
	put_desc(t, 1, gpa(buf(64)), 30, W | N, 3);
	put_desc(t, 3, gpa(buf(128)), 40, W, 0);
	put_desc(q.desc, 5, gpa(t), 4 * 16, I, 0);
	publish(5);
	struct virtq_elem e;
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.head, 5);
	assert_int_equal(e.nout, 2);
	assert_int_equal(e.nin, 2);
	assert_int_equal(e.out_bytes, 30);
	assert_int_equal(e.in_bytes, 70);
	assert_ptr_equal(e.seg[0].base, buf(0));
	assert_ptr_equal(e.seg[1].base, buf(16));
	assert_ptr_equal(e.seg[2].base, buf(64));
	assert_ptr_equal(e.seg[3].base, buf(128));
	assert_int_equal(e.seg[3].len, 40);

	/* The device ignores the write flag on the descriptor pointing at the
	 * table (2.7.5.3.2), and a table may sit in read-only memory. */
	memcpy(mem + RO_OFF, t, 4 * 16);
	put_desc(q.desc, 6, gpa(mem + RO_OFF), 4 * 16, I | W, 0);
	publish(6);
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.nin, 2);
	assert_false(d.broken);

}

static void test_driver_indirect_bad(void **state)
{
	(void)state;
	struct vring_desc *t = table();
	static const uint32_t bad_len[] = { 0, 8, 17, 31, 0x100008, 0xfffffff0u };

	/* Nested indirect. */
	pair_init(8, false);
	put_desc(t, 0, gpa(buf(0)), 8, N, 1);
	put_desc(t, 1, gpa(t + 4), 32, I, 0);
	put_desc(q.desc, 0, gpa(t), 2 * 16, I, 0);
	publish(0);
	expect_pop(-EINVAL, 0);

	/* Indirect with NEXT. */
	pair_init(8, false);
	put_desc(t, 0, gpa(buf(0)), 8, 0, 0);
	put_desc(q.desc, 0, gpa(t), 16, I | N, 1);
	put_desc(q.desc, 1, gpa(buf(0)), 8, 0, 0);
	publish(0);
	expect_pop(-EINVAL, 0);

	/* Indirect in the middle of a chain. */
	pair_init(8, false);
	put_desc(q.desc, 0, gpa(buf(0)), 8, N, 1);
	put_desc(q.desc, 1, gpa(t), 16, I, 0);
	publish(0);
	expect_pop(-EINVAL, 0);

	/* Bad table lengths. */
	for (size_t k = 0; k < sizeof(bad_len) / sizeof(bad_len[0]); k++) {
		pair_init(8, false);
		put_desc(t, 0, gpa(buf(0)), 8, 0, 0);
		put_desc(q.desc, 0, gpa(t), bad_len[k], I, 0);
		publish(0);
		struct virtq_elem e;
		assert_true(virtq_dev_pop(&d, &e) < 0);
		assert_true(d.broken);
	}

	/* A table outside guest memory, or running off its end. */
	pair_init(8, false);
	put_desc(q.desc, 0, gpa(mem) + ARENA_SIZE - 16, 32, I, 0);
	publish(0);
	expect_pop(-EFAULT, 0);
	pair_init(8, false);
	put_desc(q.desc, 0, UINT64_MAX - 15, 32, I, 0);
	publish(0);
	expect_pop(-EFAULT, 0);

	/* A loop inside the table. */
	pair_init(8, false);
	put_desc(t, 0, gpa(buf(0)), 8, N, 1);
	put_desc(t, 1, gpa(buf(8)), 8, N, 0);
	put_desc(q.desc, 0, gpa(t), 2 * 16, I, 0);
	publish(0);
	expect_pop(-EINVAL, 0);

	/* A zero-length loop inside a big table. */
	pair_init(8, false);
	for (uint16_t i = 0; i < 256; i++)
		put_desc(t, i, gpa(buf(0)), 0, N, (uint16_t)((i + 1) & 255));
	put_desc(q.desc, 0, gpa(t), 256 * 16, I, 0);
	publish(0);
	expect_pop(-EINVAL, 0);

	/* next beyond the table. */
	pair_init(8, false);
	put_desc(t, 0, gpa(buf(0)), 8, N, 2);
	put_desc(t, 1, gpa(buf(8)), 8, 0, 0);
	put_desc(t, 2, gpa(buf(8)), 8, 0, 0); /* exists in memory but not in the table */
	put_desc(q.desc, 0, gpa(t), 2 * 16, I, 0);
	publish(0);
	expect_pop(-EINVAL, 0);

	/* Readable after writable, and bad addresses, inside the table. */
	pair_init(8, false);
	put_desc(t, 0, gpa(buf(0)), 8, W | N, 1);
	put_desc(t, 1, gpa(buf(8)), 8, 0, 0);
	put_desc(q.desc, 0, gpa(t), 2 * 16, I, 0);
	publish(0);
	expect_pop(-EINVAL, 0);
	pair_init(8, false);
	put_desc(t, 0, gpa(buf(0)), 8, N, 1);
	put_desc(t, 1, UINT64_MAX - 3, 8, W, 0);
	put_desc(q.desc, 0, gpa(t), 2 * 16, I, 0);
	publish(0);
	expect_pop(-EFAULT, 0);
}

static void test_driver_avail_idx_jump(void **state)
{
	(void)state;
	static const uint16_t jumps[] = { 9, 200, 0x8000, 0xffff };
	for (size_t k = 0; k < sizeof(jumps) / sizeof(jumps[0]); k++) {
		pair_init(8, false);
		for (uint16_t i = 0; i < 8; i++) {
			put_desc(q.desc, i, gpa(buf(8u * i)), 8, 0, 0);
			q.avail->ring[i] = i;
		}
		q.avail->idx = jumps[k];
		struct virtq_elem e;
		assert_true(virtq_dev_pop(&d, &e) < 0);
		assert_true(d.broken);
		assert_true(virtq_dev_pop(&d, &e) < 0);
	}
	/* Exactly size is a full ring: fine. Measured from last_avail after that. */
	pair_init(8, false);
	for (uint16_t i = 0; i < 8; i++) {
		put_desc(q.desc, i, gpa(buf(8u * i)), 8, 0, 0);
		q.avail->ring[i] = i;
	}
	q.avail->idx = 8;
	struct virtq_elem e;
	for (uint16_t i = 0; i < 3; i++) {
		assert_int_equal(virtq_dev_pop(&d, &e), 1);
		assert_int_equal(e.head, i);
	}
	q.avail->idx = 3 + 8;
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	q.avail->idx = 4 + 9;
	assert_true(virtq_dev_pop(&d, &e) < 0);
	assert_true(d.broken);
}

/* Misaligned tables and rings are rejected, not accessed (that would be UB). */
static void test_driver_misaligned(void **state)
{
	(void)state;
	struct virtq_elem e;
	struct vring_desc tmp[2] = { { gpa(buf(0)), 8, N, 1 }, { gpa(buf(64)), 8, W, 0 } };
	static const unsigned skew[] = { 1, 2, 4 };
	for (size_t k = 0; k < sizeof(skew) / sizeof(skew[0]); k++) {
		pair_init(8, false);
		unsigned char *odd = mem + TABLE_OFF + skew[k];
		memcpy(odd, tmp, sizeof(tmp));
		put_desc(q.desc, 0, gpa(odd), sizeof(tmp), I, 0);
		publish(0);
		expect_pop(-EINVAL, 0);
	}
	/* An 8-byte aligned table is fine. */
	pair_init(8, false);
	memcpy(mem + TABLE_OFF + 8, tmp, sizeof(tmp));
	put_desc(q.desc, 0, gpa(mem + TABLE_OFF + 8), sizeof(tmp), I, 0);
	publish(0);
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.nout, 1);
	assert_int_equal(e.nin, 1);

	/* Rings: descriptors 16, avail 2, used 4 bytes aligned. */
	memset(mem, 0, sizeof(mem));
	uint64_t dsc = gpa(mem), av = gpa(mem + 4096), us = gpa(mem + 8192);
	assert_int_equal(virtq_dev_init(&d, 8, dsc + 8, av, us, false, xlate, mem), -EINVAL);
	assert_int_equal(virtq_dev_init(&d, 8, dsc + 1, av, us, false, xlate, mem), -EINVAL);
	assert_int_equal(virtq_dev_init(&d, 8, dsc, av + 1, us, false, xlate, mem), -EINVAL);
	assert_int_equal(virtq_dev_init(&d, 8, dsc, av, us + 2, false, xlate, mem), -EINVAL);
	assert_int_equal(virtq_dev_init(&d, 8, dsc, av, us + 1, false, xlate, mem), -EINVAL);
	/* The minimum alignments, not page alignment, are what is required. */
	assert_int_equal(virtq_dev_init(&d, 8, dsc + 16, av + 2, us + 4, false, xlate, mem), 0);
	struct vring_desc *dt = (struct vring_desc *)(mem + 16);
	struct vring_avail *ar = (struct vring_avail *)(mem + 4096 + 2);
	struct vring_used *ur = (struct vring_used *)(mem + 8192 + 4);
	dt[3] = (struct vring_desc){ gpa(buf(0)), 8, 0, 0 };
	ar->ring[0] = 3;
	ar->idx = 1;
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	assert_int_equal(e.head, 3);
	virtq_dev_push(&d, 3, 0);
	assert_int_equal(ur->idx, 1);
	assert_int_equal(ur->ring[0].id, 3);
}

/* ---- notification suppression ---- */

static void add_one(int *t)
{
	struct virtq_buf in = { gpa(buf(64)), 8 };
	assert_int_equal(virtq_add(&q, NULL, 0, &in, 1, t), 0);
}

/* Device: pop one request and complete it. */
static void serve_one(void)
{
	struct virtq_elem e;
	assert_int_equal(virtq_dev_pop(&d, &e), 1);
	virtq_dev_push(&d, e.head, 8);
}

static void drain(unsigned n)
{
	uint32_t len;
	for (unsigned i = 0; i < n; i++)
		assert_non_null(virtq_get_used(&q, &len));
	assert_null(virtq_get_used(&q, &len));
}

static void test_notify_flags(void **state)
{
	(void)state;
	int t[8];
	pair_init(8, false);
	add_one(&t[0]);
	assert_true(virtq_kick_needed(&q));
	add_one(&t[1]);
	assert_true(virtq_kick_needed(&q)); /* without event_idx: every time */
	q.used->flags = VRING_USED_F_NO_NOTIFY;
	add_one(&t[2]);
	assert_false(virtq_kick_needed(&q));
	q.used->flags = 0;
	add_one(&t[3]);
	assert_true(virtq_kick_needed(&q));

	serve_one();
	assert_true(virtq_dev_notify_needed(&d));
	virtq_set_interrupts(&q, false);
	assert_int_equal(q.avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
	serve_one();
	assert_false(virtq_dev_notify_needed(&d));
	drain(2);
	serve_one();
	assert_false(virtq_dev_notify_needed(&d));
	virtq_set_interrupts(&q, true);
	assert_int_equal(q.avail->flags, 0);
	serve_one();
	assert_true(virtq_dev_notify_needed(&d));
	drain(2);
	assert_int_equal(q.num_free, 8);
}

static void test_notify_event_idx(void **state)
{
	(void)state;
	int t[8];
	pair_init(8, true);
	uint16_t *avail_event = (uint16_t *)&q.used->ring[8];
	uint16_t *used_event = &q.avail->ring[8];

	/* Kicks: the device's avail_event decides; flags are ignored. */
	q.used->flags = VRING_USED_F_NO_NOTIFY;
	add_one(&t[0]);
	assert_true(virtq_kick_needed(&q)); /* avail_event 0: crossed by 0 -> 1 */
	struct virtq_elem e[8];
	assert_int_equal(virtq_dev_pop(&d, &e[0]), 1);
	assert_int_equal(*avail_event, 1); /* the device asks for a kick at the next one */
	add_one(&t[1]);
	add_one(&t[2]);
	assert_true(virtq_kick_needed(&q));
	add_one(&t[3]);
	assert_false(virtq_kick_needed(&q)); /* the device has not caught up yet */
	assert_int_equal(virtq_dev_pop(&d, &e[1]), 1);
	assert_int_equal(virtq_dev_pop(&d, &e[2]), 1);
	assert_int_equal(virtq_dev_pop(&d, &e[3]), 1);
	assert_int_equal(virtq_dev_pop(&d, &e[4]), 0);
	assert_int_equal(*avail_event, 4);
	add_one(&t[4]);
	assert_true(virtq_kick_needed(&q));
	assert_int_equal(virtq_dev_pop(&d, &e[4]), 1);
	/* Finding the ring empty re-publishes where the device stopped, so a
	 * stale or scribbled avail_event cannot leave the next request
	 * unannounced (the device then sleeps until a kick). */
	*avail_event = 0;
	assert_int_equal(virtq_dev_pop(&d, &e[5]), 0);
	assert_int_equal(*avail_event, 5);
	/* A device asking for a kick only at a later index. */
	*avail_event = 7;
	add_one(&t[5]);
	assert_false(virtq_kick_needed(&q)); /* 6 */
	add_one(&t[6]);
	assert_false(virtq_kick_needed(&q)); /* 7 */
	add_one(&t[7]);
	assert_true(virtq_kick_needed(&q)); /* 8 crosses 7 */
	assert_int_equal(q.num_free, 0);

	/* Interrupts: the driver's used_event decides; flags are ignored. */
	q.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	assert_int_equal(*used_event, 0);
	virtq_dev_push(&d, e[0].head, 0);
	assert_true(virtq_dev_notify_needed(&d));
	virtq_dev_push(&d, e[1].head, 0);
	assert_false(virtq_dev_notify_needed(&d)); /* the driver has not looked yet */
	drain(2);
	assert_int_equal(*used_event, 2);
	virtq_dev_push(&d, e[2].head, 0);
	assert_true(virtq_dev_notify_needed(&d));

	/* Interrupts off: no interrupt, also after the driver consumed entries. */
	virtq_set_interrupts(&q, false);
	virtq_dev_push(&d, e[3].head, 0);
	assert_false(virtq_dev_notify_needed(&d));
	drain(2);
	virtq_dev_push(&d, e[4].head, 0);
	assert_false(virtq_dev_notify_needed(&d));
	drain(1);
	for (int k = 5; k < 8; k++)
		assert_int_equal(virtq_dev_pop(&d, &e[k]), 1);
	virtq_dev_push(&d, e[5].head, 0);
	assert_false(virtq_dev_notify_needed(&d));
	/* Back on: the next completion interrupts. */
	virtq_set_interrupts(&q, true);
	drain(1);
	virtq_dev_push(&d, e[6].head, 0);
	assert_true(virtq_dev_notify_needed(&d));
	virtq_dev_push(&d, e[7].head, 0);
	assert_false(virtq_dev_notify_needed(&d));
	drain(2);
	assert_int_equal(q.num_free, 8);
	assert_false(q.broken);
	assert_false(d.broken);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_sizes),
		cmocka_unit_test(test_add_errors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_full_queue),
		cmocka_unit_test(test_many_requests),
		cmocka_unit_test(test_take_broken_on_healthy_queue),
		cmocka_unit_test(test_device_id_out_of_range),
		cmocka_unit_test(test_device_id_not_in_flight),
		cmocka_unit_test(test_device_completes_twice),
		cmocka_unit_test(test_device_len_too_big),
		cmocka_unit_test(test_device_used_idx_jump),
		cmocka_unit_test(test_device_scribbles_links),
		cmocka_unit_test(test_driver_nothing_available),
		cmocka_unit_test(test_driver_bad_head),
		cmocka_unit_test(test_driver_bad_next),
		cmocka_unit_test(test_driver_loop),
		cmocka_unit_test(test_driver_readable_after_writable),
		cmocka_unit_test(test_driver_bad_addresses),
		cmocka_unit_test(test_driver_too_many_segments),
		cmocka_unit_test(test_driver_indirect_valid),
		cmocka_unit_test(test_driver_indirect_bad),
		cmocka_unit_test(test_driver_avail_idx_jump),
		cmocka_unit_test(test_driver_misaligned),
		cmocka_unit_test(test_notify_flags),
		cmocka_unit_test(test_notify_event_idx),
	};
	return cmocka_run_group_tests_name("virtq", tests, NULL, NULL);
}
