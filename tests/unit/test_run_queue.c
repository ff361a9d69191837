/* Unit tests for lib/run_queue.c: round-robin order, cur considered last,
 * waiting entries skipped, deadlines waking entries on the way, *wake_at,
 * rq_remove of head/middle/only keeping the ring whole, rq_wake_all,
 * rq_others_runnable, entries another CPU has skipped, entries whose
 * allowed CPUs exclude the picker, the runnable count, and a seeded random
 * run checked against a model. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pier/run_queue.h>

#define N 6
static struct run_queue q;
static struct rq_entry e[N];

/* The ring must hold exactly exp[0..n) from the head, linked both ways. */
static void check_ring(struct rq_entry *const *exp, int n)
{
	assert_int_equal(q.count, n);
	if (!n) {
		assert_null(q.head);
		return;
	}
	struct rq_entry *x = q.head;
	for (int i = 0; i < n; i++, x = x->next) {
		assert_ptr_equal(x, exp[i]);
		assert_ptr_equal(x->next->prev, x);
		assert_ptr_equal(x->prev, exp[(i + n - 1) % n]);
	}
	assert_ptr_equal(x, q.head);
}
#define EXPECT_RING(...)                                                           \
	do {                                                                       \
		struct rq_entry *r_[] = { __VA_ARGS__ };                           \
		check_ring(r_, (int)(sizeof r_ / sizeof r_[0]));                   \
	} while (0)

/* n runnable entries e[0..n), in that order. */
static void fill(int n)
{
	rq_init(&q);
	memset(e, 0x5a, sizeof e); /* nothing may rely on a zeroed entry */
	for (int i = 0; i < N; i++)
		e[i].q = NULL, e[i].allowed = ~0ULL;
	for (int i = 0; i < n; i++) {
		rq_wake(&e[i]);
		rq_add(&q, &e[i]);
	}
}

static struct rq_entry *pick(struct rq_entry *cur, uint64_t now, uint64_t *wake_at)
{
	uint64_t dummy;
	return rq_pick(&q, cur, 0, now, wake_at ? wake_at : &dummy);
}

static void test_empty(void **state)
{
	(void)state;
	uint64_t wake_at = 0;
	fill(0);
	check_ring(NULL, 0);
	assert_null(pick(NULL, 5, &wake_at));
	assert_int_equal(wake_at, RQ_NO_DEADLINE);
	assert_int_equal(rq_others_runnable(&q, NULL), 0);
	rq_wake_all(&q);
}

static void test_round_robin(void **state)
{
	(void)state;
	fill(4);
	EXPECT_RING(&e[0], &e[1], &e[2], &e[3]);
	struct rq_entry *cur = pick(NULL, 0, NULL);
	assert_ptr_equal(cur, &e[0]);
	for (int i = 1; i < 10; i++) {
		cur = pick(cur, 0, NULL);
		assert_ptr_equal(cur, &e[i % 4]);
	}
	/* A single entry runs again and again. */
	fill(1);
	assert_ptr_equal(pick(&e[0], 0, NULL), &e[0]);
}

static void test_cur_last_and_waiting_skipped(void **state)
{
	(void)state;
	uint64_t wake_at = 0;
	fill(4);
	rq_wait(&e[2], RQ_NO_DEADLINE);
	assert_ptr_equal(pick(&e[1], 10, NULL), &e[3]); /* e2 skipped */
	rq_wait(&e[3], RQ_NO_DEADLINE);
	assert_ptr_equal(pick(&e[1], 10, NULL), &e[0]); /* round the end */
	rq_wait(&e[0], RQ_NO_DEADLINE);
	assert_ptr_equal(pick(&e[1], 10, NULL), &e[1]); /* cur, last */
	rq_wait(&e[1], RQ_NO_DEADLINE);
	assert_null(pick(&e[1], 10, &wake_at));
	assert_int_equal(wake_at, RQ_NO_DEADLINE);
	rq_wake(&e[2]);
	assert_int_equal(e[2].deadline, RQ_NO_DEADLINE);
	assert_ptr_equal(pick(&e[2], 10, NULL), &e[2]);
	assert_ptr_equal(pick(NULL, 10, NULL), &e[2]);
}

/* A task on another CPU is that CPU's: runnable or not, nobody else
 * picks it; the caller's own (cur) still comes last. */
static void test_on_cpu_skipped(void **state)
{
	(void)state;
	uint64_t wake_at = 0;
	fill(4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(e[i].on_cpu, 0); /* rq_add: on no CPU */
	e[1].on_cpu = 1;
	assert_ptr_equal(pick(&e[0], 10, NULL), &e[2]);
	e[2].on_cpu = 1;
	assert_ptr_equal(pick(&e[0], 10, NULL), &e[3]);
	e[3].on_cpu = 1;
	e[0].on_cpu = 1;
	assert_ptr_equal(pick(&e[0], 10, NULL), &e[0]); /* our own */
	assert_null(pick(NULL, 10, &wake_at));          /* an idle CPU: nothing */
	assert_int_equal(wake_at, RQ_NO_DEADLINE);
	assert_ptr_equal(pick(&e[1], 10, NULL), &e[1]);
	/* A waiting task on a CPU turns runnable at its deadline, and stays
	 * its CPU's; once switched out, anyone's. */
	rq_wait(&e[1], 20);
	assert_ptr_equal(pick(&e[2], 30, NULL), &e[2]);
	assert_int_equal(e[1].state, RQ_RUNNABLE);
	e[1].on_cpu = 0;
	assert_ptr_equal(pick(&e[2], 30, NULL), &e[1]);
}

static void test_deadlines(void **state)
{
	(void)state;
	uint64_t wake_at = 0;
	fill(4);
	rq_wait(&e[0], 300);
	rq_wait(&e[1], 200);
	rq_wait(&e[2], RQ_NO_DEADLINE);
	rq_wait(&e[3], 250);
	assert_null(pick(&e[3], 199, &wake_at));
	assert_int_equal(wake_at, 200);
	for (int i = 0; i < 4; i++)
		assert_int_equal(e[i].state, RQ_WAITING);
	/* Deadline == now counts; e1 turns runnable on the way from e0. */
	assert_ptr_equal(pick(&e[3], 200, &wake_at), &e[1]);
	assert_int_equal(e[1].state, RQ_RUNNABLE);
	assert_int_equal(e[1].deadline, RQ_NO_DEADLINE);
	assert_int_equal(e[0].state, RQ_WAITING);
	assert_int_equal(e[3].state, RQ_WAITING);
	assert_ptr_equal(pick(&e[1], 200, NULL), &e[1]);
	/* Several due: the first one going round from cur wins. */
	assert_ptr_equal(pick(&e[1], 1000, NULL), &e[3]);
	assert_int_equal(e[0].state, RQ_WAITING); /* not reached yet */
	rq_wait(&e[1], 500);
	rq_wait(&e[3], 400);
	assert_ptr_equal(pick(&e[2], 350, NULL), &e[0]); /* e3 not due, e0 is */
	assert_int_equal(e[0].state, RQ_RUNNABLE);
	rq_wait(&e[0], 600);
	assert_null(pick(NULL, 350, &wake_at));
	assert_int_equal(wake_at, 400);
}

static void test_remove(void **state)
{
	(void)state;
	fill(5);
	rq_remove(&q, &e[0]); /* the head */
	assert_null(e[0].next);
	assert_null(e[0].prev);
	EXPECT_RING(&e[1], &e[2], &e[3], &e[4]);
	rq_remove(&q, &e[3]); /* the middle */
	EXPECT_RING(&e[1], &e[2], &e[4]);
	rq_remove(&q, &e[4]); /* the tail */
	EXPECT_RING(&e[1], &e[2]);
	rq_add(&q, &e[0]);
	EXPECT_RING(&e[1], &e[2], &e[0]);
	assert_ptr_equal(pick(&e[2], 0, NULL), &e[0]);
	assert_ptr_equal(pick(&e[0], 0, NULL), &e[1]);
	rq_remove(&q, &e[1]);
	rq_remove(&q, &e[2]);
	EXPECT_RING(&e[0]);
	rq_remove(&q, &e[0]); /* the only one */
	check_ring(NULL, 0);
	assert_null(pick(NULL, 0, NULL));
	rq_add(&q, &e[3]);
	EXPECT_RING(&e[3]);
	assert_ptr_equal(pick(NULL, 0, NULL), &e[3]);
}

static void test_wake_all_and_others(void **state)
{
	(void)state;
	uint64_t wake_at = 0;
	fill(4);
	assert_int_equal(rq_others_runnable(&q, &e[0]), 3);
	assert_int_equal(rq_others_runnable(&q, NULL), 4);
	rq_wait(&e[0], 100);
	rq_wait(&e[2], RQ_NO_DEADLINE);
	assert_int_equal(rq_others_runnable(&q, &e[0]), 2);
	assert_int_equal(rq_others_runnable(&q, &e[1]), 1);
	assert_int_equal(rq_others_runnable(&q, &e[5]), 2); /* not queued */
	rq_wait(&e[1], 50);
	rq_wait(&e[3], 70);
	assert_null(pick(NULL, 10, &wake_at));
	assert_int_equal(wake_at, 50);
	rq_wake_all(&q);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(e[i].state, RQ_RUNNABLE);
		assert_int_equal(e[i].deadline, RQ_NO_DEADLINE);
	}
	assert_int_equal(rq_others_runnable(&q, &e[3]), 3);
	EXPECT_RING(&e[0], &e[1], &e[2], &e[3]);
}

/* Entries another CPU may not run are not its to pick, wake or wait for;
 * the runnable count follows every state change of a queued entry, and
 * none of an entry on no queue. */
static void test_allowed_and_runnable(void **state)
{
	(void)state;
	uint64_t wake_at = 0;
	fill(4);
	assert_int_equal(q.runnable, 4);
	e[0].allowed = 1ULL << 0;
	e[1].allowed = 1ULL << 63;
	assert_ptr_equal(rq_pick(&q, NULL, 63, 0, &wake_at), &e[1]);
	assert_ptr_equal(rq_pick(&q, &e[1], 63, 0, &wake_at), &e[2]);
	e[2].allowed = e[3].allowed = 1ULL << 0;
	assert_ptr_equal(rq_pick(&q, &e[1], 63, 0, &wake_at), &e[1]); /* cur, last */
	assert_null(rq_pick(&q, NULL, 5, 0, &wake_at)); /* nobody allows CPU 5 */
	assert_int_equal(wake_at, RQ_NO_DEADLINE);
	/* A deadline counts only for a CPU the entry allows. */
	rq_wait(&e[0], 50);
	rq_wait(&e[1], 30);
	assert_int_equal(q.runnable, 2);
	e[2].on_cpu = e[3].on_cpu = 1;
	assert_null(rq_pick(&q, NULL, 0, 10, &wake_at));
	assert_int_equal(wake_at, 50);
	assert_null(rq_pick(&q, NULL, 63, 10, &wake_at));
	assert_int_equal(wake_at, 30);
	/* At 60 both are due; CPU 0 wakes and takes e0 only. */
	assert_ptr_equal(rq_pick(&q, NULL, 0, 60, &wake_at), &e[0]);
	assert_int_equal(e[1].state, RQ_WAITING);
	rq_wait(&e[0], 500);
	assert_ptr_equal(rq_pick(&q, NULL, 63, 60, &wake_at), &e[1]);
	assert_int_equal(q.runnable, 3);
	rq_wake(&e[1]); /* already runnable: counted once */
	assert_int_equal(q.runnable, 3);
	rq_remove(&q, &e[1]);
	assert_int_equal(q.runnable, 2);
	assert_null(e[1].q);
	rq_wait(&e[1], RQ_NO_DEADLINE); /* on no queue: nobody's count */
	rq_wake(&e[1]);
	assert_int_equal(q.runnable, 2);
	assert_int_equal(e[0].state, RQ_WAITING);
	rq_remove(&q, &e[0]); /* a waiting one leaves: no change */
	assert_int_equal(q.runnable, 2);
	rq_wake_all(&q);
	assert_int_equal(q.runnable, 2);
	rq_wait(&e[2], RQ_NO_DEADLINE);
	rq_add(&q, &e[0]); /* waiting: not counted */
	assert_int_equal(q.runnable, 1);
	rq_wake_all(&q);
	assert_int_equal(q.runnable, 3);
}

/* ---- Random run against a model: the ring as an array from the head. ---- */
#define RN 12
static struct rq_entry re[RN];
static int ring[RN], nring;
static bool in_q[RN], m_wait[RN];
static uint64_t m_dl[RN];
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (rng >> 16) % n;
}

static int pos_of(int id)
{
	for (int i = 0; i < nring; i++)
		if (ring[i] == id)
			return i;
	fail_msg("entry %d not in the model ring", id);
	return -1;
}

static void check_model(void)
{
	struct rq_entry *exp[RN];
	for (int i = 0; i < nring; i++)
		exp[i] = &re[ring[i]];
	check_ring(exp, nring);
	int runnable = 0;
	for (int i = 0; i < RN; i++) {
		if (!in_q[i])
			continue;
		assert_int_equal(re[i].state, m_wait[i] ? RQ_WAITING : RQ_RUNNABLE);
		assert_int_equal(re[i].deadline, m_dl[i]);
		runnable += !m_wait[i];
	}
	assert_int_equal(q.runnable, runnable);
}

static void test_random_model(void **state)
{
	(void)state;
	rq_init(&q);
	nring = 0;
	memset(in_q, 0, sizeof in_q);
	uint64_t now = 1000;
	int cur = -1, picks = 0, idles = 0;
	for (int step = 0; step < 30000; step++) {
		int r = (int)rnd(16), id = (int)rnd(RN);
		if (r < 3 && !in_q[id]) {
			in_q[id] = true, m_wait[id] = rnd(3) != 0, m_dl[id] = RQ_NO_DEADLINE;
			if (m_wait[id] && rnd(3))
				m_dl[id] = now + rnd(40);
			re[id].state = m_wait[id] ? RQ_WAITING : RQ_RUNNABLE;
			re[id].deadline = m_dl[id];
			re[id].allowed = rnd(4) ? ~0ULL : 1ULL << rnd(2); /* some pinned */
			rq_add(&q, &re[id]);
			ring[nring++] = id;
		} else if (r == 3 && in_q[id]) {
			int p = pos_of(id);
			rq_remove(&q, &re[id]);
			memmove(&ring[p], &ring[p + 1], (size_t)(nring - p - 1) * sizeof ring[0]);
			nring--, in_q[id] = false;
			if (cur == id)
				cur = -1;
		} else if (r < 8 && in_q[id]) {
			m_wait[id] = true, m_dl[id] = rnd(4) ? now + rnd(60) : RQ_NO_DEADLINE;
			rq_wait(&re[id], m_dl[id]);
		} else if (r == 8 && in_q[id]) {
			m_wait[id] = false, m_dl[id] = RQ_NO_DEADLINE;
			rq_wake(&re[id]);
		} else if (r == 9 && !rnd(8)) {
			for (int i = 0; i < nring; i++)
				m_wait[ring[i]] = false, m_dl[ring[i]] = RQ_NO_DEADLINE;
			rq_wake_all(&q);
		} else if (r == 10) {
			int others = 0;
			for (int i = 0; i < nring; i++)
				others += ring[i] != id && !m_wait[ring[i]];
			assert_int_equal(rq_others_runnable(&q, &re[id]), others);
		} else if (r >= 11) {
			now += rnd(12);
			if (cur < 0 || !rnd(4)) /* usually the last pick, else anyone */
				cur = nring && rnd(4) ? ring[rnd((uint64_t)nring)] : -1;
			int start = cur < 0 ? 0 : pos_of(cur) + 1, want = -1, cpu = (int)rnd(2);
			uint64_t wake_at = 0, exp_at = RQ_NO_DEADLINE;
			for (int i = 0; i < nring; i++) {
				int x = ring[(start + i) % nring];
				if (!(re[x].allowed >> cpu & 1))
					continue;
				if (m_wait[x] && m_dl[x] <= now)
					m_wait[x] = false, m_dl[x] = RQ_NO_DEADLINE;
				if (!m_wait[x]) {
					want = x;
					break;
				}
				if (m_dl[x] < exp_at)
					exp_at = m_dl[x];
			}
			struct rq_entry *got =
				rq_pick(&q, cur < 0 ? NULL : &re[cur], cpu, now, &wake_at);
			if (want < 0) {
				assert_null(got);
				assert_int_equal(wake_at, exp_at);
				idles++;
			} else {
				assert_ptr_equal(got, &re[want]);
				cur = want, picks++;
				if (rnd(3)) { /* it runs, then sleeps */
					m_wait[cur] = true;
					m_dl[cur] = rnd(3) ? now + rnd(150) : RQ_NO_DEADLINE;
					rq_wait(&re[cur], m_dl[cur]);
				}
			}
		}
		check_model();
	}
	assert_true(picks > 1000 && idles > 100); /* both outcomes exercised */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_cur_last_and_waiting_skipped),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_on_cpu_skipped),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_wake_all_and_others),
		cmocka_unit_test(test_allowed_and_runnable),
		cmocka_unit_test(test_random_model),
	};
	return cmocka_run_group_tests_name("run_queue", tests, NULL, NULL);
}
