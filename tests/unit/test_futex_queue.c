/* Unit tests for lib/futex_queue.c: FIFO wakes, bitset matching, keys sharing a
 * bucket, dequeue, requeue (limits, order, key == key2), FUTEX_WAKE_OP decoding
 * (every op, OPARG_SHIFT, every comparison, unknown ones), and a seeded random
 * run of enqueue/dequeue/wake/requeue checked step by step against a model. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <limits.h>
#include <cmocka.h>
#include <linux/errno.h>
#include <linux/futex.h>
#include <pier/futex_queue.h>

#define ANY FUTEX_BITSET_MATCH_ANY

static struct futex_queue q;
static struct fq_waiter *woken[256]; /* what the wake callback saw, in order */
static int nwoken;

static int setup(void **state)
{
	(void)state;
	fq_init(&q);
	nwoken = 0;
	return 0;
}

static void record(struct fq_waiter *w, void *arg)
{
	assert_ptr_equal(arg, &nwoken);
	assert_false(w->queued); /* unqueued before it is passed on */
	assert_true(nwoken < 256);
	woken[nwoken++] = w;
}

/* The callback saw exactly exp (NULL-terminated), in order: how many. */
static int expect(struct fq_waiter *const *exp)
{
	int n = 0;
	for (; exp[n]; n++)
		assert_true(n < nwoken && woken[n] == exp[n]);
	assert_int_equal(nwoken, n);
	nwoken = 0;
	return n;
}
#define WOKEN(...) expect((struct fq_waiter *[]){ __VA_ARGS__, NULL })

static int wake(uint64_t key, uint32_t bits, int n)
{
	return fq_wake(&q, key, bits, n, record, &nwoken);
}

static void wakes(uint64_t key, uint32_t bits, int n, struct fq_waiter *const *exp)
{
	int r = wake(key, bits, n);
	assert_int_equal(r, expect(exp));
}
/* Wakes up to n on key: exactly the waiters listed (NULL: none), in order. */
#define WAKES(key, bits, n, ...) wakes(key, bits, n, (struct fq_waiter *[]){ __VA_ARGS__, NULL })

static int requeue(uint64_t key, uint64_t key2, int nwake, int nmove)
{
	return fq_requeue(&q, key, key2, nwake, nmove, record, &nwoken);
}

static void enq(struct fq_waiter *w, int n, uint64_t key, uint32_t bits)
{
	for (int i = 0; i < n; i++)
		fq_enqueue(&q, &w[i], key, bits);
}

/* The bucket key lands in, seen through the public table. */
static int bucket_index(uint64_t key)
{
	struct futex_queue t;
	struct fq_waiter w;
	fq_init(&t);
	fq_enqueue(&t, &w, key, ANY);
	int i = 0;
	while (t.bucket[i] != &w)
		assert_true(++i < FQ_BUCKETS);
	return i;
}

/* Another aligned key in the same bucket as key. */
static uint64_t collide(uint64_t key)
{
	uint64_t k = key + 4;
	while (bucket_index(k) != bucket_index(key))
		k += 4;
	return k;
}

static void test_fifo_and_dequeue(void **state)
{
	struct fq_waiter w[5];
	WAKES(0x1000, ANY, INT_MAX, NULL);
	enq(w, 5, 0x1000, ANY);
	assert_int_equal(fq_count(&q, 0x1000), 5);
	WAKES(0x1000, ANY, 0, NULL);
	WAKES(0x1000, ANY, 2, &w[0], &w[1]);
	assert_false(fq_dequeue(&q, &w[0])); /* already woken */
	assert_int_equal(fq_count(&q, 0x1000), 3);
	fq_enqueue(&q, &w[0], 0x1000, ANY); /* back in, now the youngest */
	assert_true(fq_dequeue(&q, &w[3]));
	assert_false(w[3].queued);
	assert_false(fq_dequeue(&q, &w[3])); /* already out */
	WAKES(0x1000, ANY, INT_MAX, &w[2], &w[4], &w[0]);
	assert_int_equal(fq_count(&q, 0x1000), 0);
	fq_enqueue(&q, &w[1], 0x1000, ANY); /* a NULL callback is allowed */
	assert_int_equal(fq_wake(&q, 0x1000, ANY, 1, NULL, NULL), 1);
	assert_false(w[1].queued);
}

static void test_bitset_match(void **state)
{
	struct fq_waiter w[4];
	fq_enqueue(&q, &w[0], 0x2000, 1);
	fq_enqueue(&q, &w[1], 0x2000, 2);
	fq_enqueue(&q, &w[2], 0x2000, ANY);
	fq_enqueue(&q, &w[3], 0x2000, 4 | 8);
	WAKES(0x2000, 0x10, INT_MAX, &w[2]); /* only ANY shares 0x10 */
	/* n counts matching waiters only: w0 (bit 0) is skipped, not counted. */
	WAKES(0x2000, 2 | 8, 1, &w[1]);
	WAKES(0x2000, 0, INT_MAX, NULL);
	WAKES(0x2000, 0x70, INT_MAX, NULL);
	assert_true(w[0].queued && w[3].queued);
	WAKES(0x2000, ANY, INT_MAX, &w[0], &w[3]);
}

static void test_colliding_keys(void **state)
{
	uint64_t k1 = 0x7f1234560000, k2 = collide(k1), k3 = collide(k2);
	uint64_t keys[3] = { k1, k2, k3 };
	struct fq_waiter w[9];
	for (int i = 0; i < 9; i++)
		fq_enqueue(&q, &w[i], keys[i % 3], ANY);
	for (int k = 0; k < 3; k++)
		assert_int_equal(fq_count(&q, keys[k]), 3);
	WAKES(k2, ANY, 2, &w[1], &w[4]);
	assert_int_equal(fq_count(&q, k1), 3);
	assert_int_equal(fq_count(&q, k2), 1);
	assert_true(fq_dequeue(&q, &w[3]));
	WAKES(k1, ANY, INT_MAX, &w[0], &w[6]);
	WAKES(k3, ANY, INT_MAX, &w[2], &w[5], &w[8]);
	WAKES(k2, ANY, INT_MAX, &w[7]);
	for (int i = 0; i < FQ_BUCKETS; i++)
		assert_null(q.bucket[i]);
}

static void test_requeue_moves_in_order(void **state)
{
	struct fq_waiter a[5], b[2];
	enq(b, 2, 0x5000, 1);
	fq_enqueue(&q, &a[0], 0x4000, 4);
	fq_enqueue(&q, &a[1], 0x4000, 2);
	enq(&a[2], 3, 0x4000, 1);
	/* Wakes a0 whatever its bitset, moves a1 and a2 behind b0 and b1. */
	assert_int_equal(requeue(0x4000, 0x5000, 1, 2), 3);
	WOKEN(&a[0]);
	assert_int_equal(fq_count(&q, 0x4000), 2);
	assert_int_equal(fq_count(&q, 0x5000), 4);
	assert_true(a[1].queued && a[1].key == 0x5000);
	WAKES(0x5000, 2, INT_MAX, &a[1]); /* a1 kept its bitset */
	WAKES(0x5000, ANY, INT_MAX, &b[0], &b[1], &a[2]);
	/* Fewer waiters than asked for: moves what is there. */
	assert_int_equal(requeue(0x4000, 0x5000, 0, 10), 2);
	WOKEN(NULL);
	assert_int_equal(fq_count(&q, 0x4000), 0);
	/* Onto a key sharing the bucket of the source. */
	uint64_t k2 = collide(0x5000);
	assert_int_equal(requeue(0x5000, k2, 0, 1), 1);
	assert_int_equal(fq_count(&q, k2), 1);
	WAKES(0x5000, ANY, INT_MAX, &a[4]);
	WAKES(k2, ANY, INT_MAX, &a[3]);
}

static void test_requeue_same_key(void **state)
{
	struct fq_waiter w[5];
	enq(w, 5, 0x6000, ANY);
	int r = requeue(0x6000, 0x6000, 1, 2);
	WOKEN(&w[0]);
	/* The rest stay where they were, in order. */
	assert_int_equal(fq_count(&q, 0x6000), 4);
	WAKES(0x6000, ANY, INT_MAX, &w[1], &w[2], &w[3], &w[4]);
	/* Linux's futex_requeue() counts the waiters "requeued" onto the same
	 * futex too (task_count rises in both arms; requeue_futex() leaves them
	 * in place): FUTEX_CMP_REQUEUE returns woken + requeued, here 1 + 2. */
	assert_int_equal(r, 3);
}

/* FUTEX_OP with an unsigned op, so that OPARG_SHIFT << 28 stays defined. */
static uint32_t enc(uint32_t op, int oparg, uint32_t cmp, int cmparg)
{
	return FUTEX_OP(op, oparg, cmp, cmparg);
}

static uint32_t op_store(uint32_t op, int oparg, uint32_t old)
{
	uint32_t store = 0xdeadbeef;
	bool cmp;
	assert_int_equal(fq_wake_op(enc(op, oparg, FUTEX_OP_CMP_EQ, 0), old, &store, &cmp), 0);
	return store;
}

static void test_wake_op_ops_and_unknown(void **state)
{
	const uint32_t S = FUTEX_OP_OPARG_SHIFT;
	static const struct { uint32_t op; int oparg; uint32_t old, want; } t[] = {
		{ FUTEX_OP_SET, 0x00f, 0x0f0, 0x00f }, { FUTEX_OP_ADD, 0x00f, 0x0f0, 0x0ff },
		{ FUTEX_OP_OR, 0x00f, 0x0f0, 0x0ff }, { FUTEX_OP_ANDN, 0x030, 0x0f0, 0x0c0 },
		{ FUTEX_OP_XOR, 0x0ff, 0x0f0, 0x00f },
		/* oparg is a signed 12-bit field */
		{ FUTEX_OP_SET, -1, 7, 0xffffffffu }, { FUTEX_OP_SET, -2048, 7, 0xfffff800u },
		{ FUTEX_OP_SET, 2047, 7, 2047 }, { FUTEX_OP_ADD, -1, 5, 4 },
		{ FUTEX_OP_ADD, 1, 0xffffffffu, 0 }, { FUTEX_OP_ANDN, -2, 0xff, 1 },
		{ FUTEX_OP_XOR, -1, 0x0f0f0f0f, 0xf0f0f0f0u },
		/* OPARG_SHIFT: 1 << oparg, oparg taken mod 32 as Linux does */
		{ FUTEX_OP_SET | S, 31, 0, 0x80000000u }, { FUTEX_OP_ADD | S, 4, 1, 17 },
		{ FUTEX_OP_OR | S, 5, 1, 33 }, { FUTEX_OP_ANDN | S, 3, 0xff, 0xf7 },
		{ FUTEX_OP_XOR | S, 0, 3, 2 }, { FUTEX_OP_SET | S, 33, 0, 2 },
		{ FUTEX_OP_SET | S, -1, 0, 0x80000000u },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		uint32_t got = op_store(t[i].op, t[i].oparg, t[i].old);
		if (got != t[i].want)
			fail_msg("case %zu: %#x, not %#x", i, got, t[i].want);
	}
	uint32_t store;
	bool cmp;
	for (uint32_t op = 5; op < 8; op++) { /* unknown ops and comparisons */
		assert_int_equal(fq_wake_op(enc(op, 1, FUTEX_OP_CMP_EQ, 0), 0, &store, &cmp), -ENOSYS);
		assert_int_equal(fq_wake_op(enc(op | FUTEX_OP_OPARG_SHIFT, 1, FUTEX_OP_CMP_EQ, 0), 0,
					    &store, &cmp), -ENOSYS);
	}
	for (uint32_t c = 6; c < 16; c++)
		assert_int_equal(fq_wake_op(enc(FUTEX_OP_SET, 1, c, 0), 0, &store, &cmp), -ENOSYS);
}

static bool cmp_of(uint32_t cmp, int cmparg, uint32_t old)
{
	uint32_t store;
	bool res = (old ^ (uint32_t)cmparg) & 1; /* varies: an unwritten result shows */
	assert_int_equal(fq_wake_op(enc(FUTEX_OP_ADD, 1, cmp, cmparg), old, &store, &res), 0);
	assert_int_equal(store, old + 1); /* the op is independent of the compare */
	return res;
}

static void test_wake_op_compares(void **state)
{
	static const int32_t olds[] = { INT32_MIN, -3000, -2049, -2048, -2047, -2, -1, 0, 1,
					2046, 2047, 2048, INT32_MAX };
	static const int args[] = { -2048, -2047, -1, 0, 1, 2047 };
	for (size_t i = 0; i < sizeof olds / sizeof olds[0]; i++)
		for (size_t j = 0; j < sizeof args / sizeof args[0]; j++) {
			int32_t o = olds[i], a = args[j];
			uint32_t u = (uint32_t)o;
			assert_int_equal(cmp_of(FUTEX_OP_CMP_EQ, a, u), o == a);
			assert_int_equal(cmp_of(FUTEX_OP_CMP_NE, a, u), o != a);
			assert_int_equal(cmp_of(FUTEX_OP_CMP_LT, a, u), o < a);
			assert_int_equal(cmp_of(FUTEX_OP_CMP_LE, a, u), o <= a);
			assert_int_equal(cmp_of(FUTEX_OP_CMP_GT, a, u), o > a);
			assert_int_equal(cmp_of(FUTEX_OP_CMP_GE, a, u), o >= a);
		}
	assert_true(cmp_of(FUTEX_OP_CMP_EQ, 0xfff, 0xffffffffu)); /* 0xfff is -1 */
}

/* ---- Random run against a model: each waiter's state, key, bitset and
 * arrival stamp (renewed when requeued); queue order is stamp order. ---- */
#define RW 40
#define RK 6
static struct fq_waiter rw[RW];
static struct { bool queued; uint32_t bits; uint64_t key, stamp; } m[RW];
static uint64_t rkeys[RK], stamps, rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (uint32_t)(rng >> 32) % n;
}

/* The oldest queued model waiter on key sharing a bit with bits, or -1. */
static int m_oldest(uint64_t key, uint32_t bits)
{
	int best = -1;
	for (int i = 0; i < RW; i++)
		if (m[i].queued && m[i].key == key && (m[i].bits & bits) &&
		    (best < 0 || m[i].stamp < m[best].stamp))
			best = i;
	return best;
}

/* fq_wake on the model, checked against what the real one woke. */
static int m_wake(uint64_t key, uint32_t bits, int n)
{
	struct fq_waiter *exp[RW + 1];
	int got = 0, id;
	for (; got < n && (id = m_oldest(key, bits)) >= 0; got++)
		exp[got] = &rw[id], m[id].queued = false;
	exp[got] = NULL;
	return expect(exp);
}

static void check_model(void)
{
	int total = 0, queued = 0;
	for (int b = 0; b < FQ_BUCKETS; b++)
		for (struct fq_waiter *w = q.bucket[b]; w; w = w->next, total++) {
			assert_true(w >= rw && w < rw + RW);
			assert_true(m[w - rw].queued && w->key == m[w - rw].key);
		}
	for (int i = 0; i < RW; i++) {
		assert_int_equal(rw[i].queued, m[i].queued);
		queued += m[i].queued;
	}
	assert_int_equal(total, queued);
	for (int k = 0; k < RK; k++) {
		int n = 0, seen = 0;
		uint64_t last = 0;
		for (int i = 0; i < RW; i++)
			n += m[i].queued && m[i].key == rkeys[k];
		assert_int_equal(fq_count(&q, rkeys[k]), n);
		for (struct fq_waiter *w = q.bucket[bucket_index(rkeys[k])]; w; w = w->next)
			if (w->key == rkeys[k]) {
				assert_true(m[w - rw].stamp > last); /* oldest first */
				last = m[w - rw].stamp, seen++;
			}
		assert_int_equal(seen, n);
	}
}

static uint32_t rnd_bits(void)
{
	static const uint32_t pick[] = { ANY, 1, 2, 4, 3, 6, 0x80000000u };
	return rnd(8) == 7 ? rnd(0xffffffffu) | 1 : pick[rnd(7)];
}

static void test_random_model(void **state)
{
	static const int ns[] = { 0, 1, 2, 3, INT_MAX };
	rkeys[0] = 0x7f0000001000, rkeys[1] = collide(rkeys[0]);
	rkeys[2] = 0x7f0000002000, rkeys[3] = collide(rkeys[2]);
	rkeys[4] = 0x7f0000003008, rkeys[5] = 0x1000;
	int wakes = 0, moves = 0;
	for (int step = 0; step < 20000; step++) {
		int r = (int)rnd(10), id = (int)rnd(RW), nw = ns[rnd(5)], nm = ns[rnd(5)];
		uint64_t key = rkeys[rnd(RK)], key2 = rkeys[rnd(RK)];
		if (r < 4) {
			if (m[id].queued)
				continue;
			m[id].queued = true, m[id].key = key, m[id].stamp = ++stamps;
			m[id].bits = rnd_bits();
			fq_enqueue(&q, &rw[id], key, m[id].bits);
		} else if (r == 4) {
			assert_int_equal(fq_dequeue(&q, &rw[id]), m[id].queued);
			m[id].queued = false;
		} else if (r < 8) {
			uint32_t bits = rnd(20) ? rnd_bits() : 0;
			int got = wake(key, bits, nw);
			assert_int_equal(got, m_wake(key, bits, nw));
			wakes += got;
		} else if (key2 != key) { /* key == key2: see test_requeue_same_key */
			int got = requeue(key, key2, nw, nm), want = m_wake(key, ANY, nw);
			for (int k = 0; k < nm && (id = m_oldest(key, ANY)) >= 0; k++, want++, moves++)
				m[id].key = key2, m[id].stamp = ++stamps;
			assert_int_equal(got, want);
		}
		check_model();
	}
	assert_true(wakes > 1000 && moves > 1000); /* the run did exercise both */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fifo_and_dequeue, setup),
		cmocka_unit_test_setup(test_bitset_match, setup),
		cmocka_unit_test_setup(test_colliding_keys, setup),
		cmocka_unit_test_setup(test_requeue_moves_in_order, setup),
		cmocka_unit_test_setup(test_requeue_same_key, setup),
		cmocka_unit_test_setup(test_random_model, setup),
		cmocka_unit_test_setup(test_wake_op_ops_and_unknown, setup),
		cmocka_unit_test_setup(test_wake_op_compares, setup),
	};
	return cmocka_run_group_tests_name("futex_queue", tests, NULL, NULL);
}
