/* Unit tests for lib/lock_order.c: the documented order is accepted,
 * every inversion and every self-nesting is caught naming the lock held,
 * releases in any order keep the list right, and the limits hold. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pier/lock_order.h>

/* ARCHITECTURE.md's order, outermost first. */
static const struct lock_class order[] = {
	{ "proc.lock", 10 }, { "mm.lock", 20 }, { "vfs.lock", 30 }, { "fuse_conn.lock", 40 },
	{ "virtq.lock", 50 }, { "dax.lock", 60 }, { "pmem.lock", 70 }, { "heap.lock", 80 },
	{ "console.lock", 90 },
};
#define N (sizeof(order) / sizeof(order[0]))

static void test_the_whole_order_nests(void **state)
{
	(void)state;
	struct lock_held h = { .n = 0 };
	for (unsigned i = 0; i < N; i++) {
		assert_null(lock_order_conflict(&h, &order[i]));
		assert_int_equal(lock_held_push(&h, &order[i]), 0);
	}
	for (unsigned i = N; i-- > 0;)
		assert_int_equal(lock_held_pop(&h, &order[i]), 0);
	assert_int_equal(h.n, 0);
}

static void test_every_inversion_names_the_lock_held(void **state)
{
	(void)state;
	for (unsigned outer = 0; outer < N; outer++)
		for (unsigned inner = 0; inner < N; inner++) {
			struct lock_held h = { .n = 0 };
			lock_held_push(&h, &order[outer]);
			const struct lock_class *c = lock_order_conflict(&h, &order[inner]);
			if (inner > outer)
				assert_null(c);
			else /* inside-out, or the same class twice */
				assert_ptr_equal(c, &order[outer]);
		}
}

static void test_a_deeper_held_lock_is_found(void **state)
{
	(void)state;
	/* vfs, then heap: taking dax is fine below vfs but not below heap. */
	struct lock_held h = { .n = 0 };
	lock_held_push(&h, &order[2]);
	lock_held_push(&h, &order[7]);
	assert_ptr_equal(lock_order_conflict(&h, &order[5]), &order[7]);
	assert_ptr_equal(lock_order_conflict(&h, &order[0]), &order[2]);
	assert_null(lock_order_conflict(&h, &order[8]));
}

static void test_release_in_any_order(void **state)
{
	(void)state;
	struct lock_held h = { .n = 0 };
	lock_held_push(&h, &order[1]);
	lock_held_push(&h, &order[3]);
	lock_held_push(&h, &order[6]);
	assert_int_equal(lock_held_pop(&h, &order[3]), 0); /* the middle one first */
	assert_int_equal(h.n, 2);
	assert_ptr_equal(h.cls[0], &order[1]);
	assert_ptr_equal(h.cls[1], &order[6]);
	assert_null(lock_order_conflict(&h, &order[7]));
	assert_ptr_equal(lock_order_conflict(&h, &order[3]), &order[6]);
	assert_int_equal(lock_held_pop(&h, &order[3]), -1); /* not held any more */
	assert_int_equal(lock_held_pop(&h, &order[6]), 0);
	assert_int_equal(lock_held_pop(&h, &order[1]), 0);
	assert_int_equal(lock_held_pop(&h, &order[1]), -1);
	assert_int_equal(h.n, 0);
}

static void test_too_many_held(void **state)
{
	(void)state;
	struct lock_class many[LOCK_HELD_MAX + 1];
	struct lock_held h = { .n = 0 };
	for (unsigned i = 0; i <= LOCK_HELD_MAX; i++) {
		many[i] = (struct lock_class){ "l", i + 1 };
		assert_int_equal(lock_held_push(&h, &many[i]), i < LOCK_HELD_MAX ? 0 : -1);
	}
	assert_int_equal(h.n, LOCK_HELD_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_whole_order_nests),
		cmocka_unit_test(test_every_inversion_names_the_lock_held),
		cmocka_unit_test(test_a_deeper_held_lock_is_found),
		cmocka_unit_test(test_release_in_any_order),
		cmocka_unit_test(test_too_many_held),
	};
	return cmocka_run_group_tests_name("lock_order", tests, NULL, NULL);
}
