/* Unit tests for host/stats.c (the --stats table, the guest's "stat" lines
 * through the control channel) and host/latency.c (its histogram). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "control.h"
#include "latency.h"
#include "stats.h"

static struct stats_table *new_table(void)
{
	struct stats_table *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	return t;
}

static void test_guest_lines_become_rows(void **state)
{
	(void)state;
	struct stats_table *t = new_table();
	struct control c;
	control_init(&c);
	c.stats = t;
	const char *in = "stat fuse.LOOKUP count=3 out=240 in=432\nstat cache.name hit=7 miss=0\n"
			 "exit 0\n";
	control_feed(&c, in, strlen(in), 1);
	assert_int_equal(c.bad_lines, 0);
	assert_int_equal(stats_get(t, "guest", "fuse.LOOKUP", "count"), 3);
	assert_int_equal(stats_get(t, "guest", "fuse.LOOKUP", "in"), 432);
	assert_int_equal(stats_get(t, "guest", "cache.name", "hit"), 7);
	assert_int_equal(stats_get(t, "guest", "cache.name", "miss"), 0);
	assert_int_equal(stats_get(t, "host", "fuse.LOOKUP", "count"), 0); /* another section */
	assert_int_equal(t->refused, 0);
	/* Without a table (no --stats) the lines are dropped, not bad. */
	control_init(&c);
	control_feed(&c, in, strlen(in), 1);
	assert_int_equal(c.bad_lines, 0);
	free(t);
}

static void test_malformed_guest_lines_are_dropped_whole(void **state)
{
	(void)state;
	struct stats_table *t = new_table();
	static const char *const bad[] = {
		"", "fuse.READ", "fuse.READ ", "fuse.READ count", "fuse.READ count=",
		"fuse.READ count=x", "fuse.READ count=1x", "fuse.READ count=1 in=2 junk",
		"fuse.READ  count=1", "fu\"se count=1", "fuse.READ count=-1",
		"fuse.READ count=99999999999999999999999", /* past 2^64 */
		/* more values than a row holds */
		"fuse.READ a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11",
		"a_name_that_is_far_too_long_for_any_row_of_the_table count=1",
		"fuse.READ count=1 a_key_far_too_long=2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned before = t->refused;
		assert_int_equal(stats_parse_guest(t, bad[i]), -1);
		assert_int_equal(t->refused, before + 1);
	}
	assert_int_equal(t->nrows, 0); /* nothing of a bad line is kept */
	free(t);
}

static void test_rows_are_bounded(void **state)
{
	(void)state;
	struct stats_table *t = new_table();
	char name[32];
	for (int i = 0; i < STATS_MAX_ROWS + 10; i++) {
		snprintf(name, sizeof(name), "row%d", i);
		stats_set(t, "host", name, "count", (uint64_t)i);
	}
	assert_int_equal(t->nrows, STATS_MAX_ROWS);
	assert_int_equal(t->refused, 10);
	stats_add(t, "host", "row5", "count", 10);
	assert_int_equal(stats_get(t, "host", "row5", "count"), 15);
	free(t);
}

static void test_json_has_both_sections(void **state)
{
	(void)state;
	struct stats_table *t = new_table();
	stats_set(t, "host", "exit.mmio", "count", 12);
	assert_int_equal(stats_parse_guest(t, "window hit=1 miss=2 evict=0"), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	stats_write_json(t, f);
	fclose(f);
	assert_non_null(strstr(buf, "\"host\": {\n  \"exit.mmio\": {\"count\": 12}\n}"));
	assert_non_null(strstr(buf, "\"window\": {\"hit\": 1, \"miss\": 2, \"evict\": 0}"));
	assert_non_null(strstr(buf, "\"dropped\": 0}"));
	free(buf);
	free(t);
}

static void test_latency_buckets_hold_their_values(void **state)
{
	(void)state;
	uint64_t x = 0;
	for (int i = 0; i < 4000; i++) {
		unsigned b = latency_bucket(x);
		assert_true(b < LATENCY_BUCKETS);
		assert_true(latency_bucket_low(b) <= x);
		if (b + 1 < LATENCY_BUCKETS)
			assert_true(x < latency_bucket_low(b + 1));
		x = x < 64 ? x + 1 : x + x / 7 + 1;
	}
	assert_true(latency_bucket(UINT64_MAX) < LATENCY_BUCKETS);
}

static void test_latency_quantiles(void **state)
{
	(void)state;
	static struct latency l;
	memset(&l, 0, sizeof(l));
	assert_int_equal(latency_quantile(&l, 0.5), 0);
	/* 1..1000 us: the median 500 us, p99 990 us, each within 1/8. */
	for (uint64_t us = 1; us <= 1000; us++)
		latency_add(&l, us * 1000);
	assert_int_equal(l.count, 1000);
	uint64_t p50 = latency_quantile(&l, 0.5), p99 = latency_quantile(&l, 0.99);
	assert_true(p50 > 500000 * 7 / 8 && p50 < 500000 * 9 / 8);
	assert_true(p99 > 990000 * 7 / 8 && p99 < 990000 * 9 / 8);
	static struct latency m;
	memset(&m, 0, sizeof(m));
	latency_add(&m, 5);
	latency_merge(&m, &l);
	assert_int_equal(m.count, 1001);
	assert_int_equal(m.sum_ns, l.sum_ns + 5);
	assert_int_equal(latency_quantile(&m, 0.0001), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_lines_become_rows),
		cmocka_unit_test(test_malformed_guest_lines_are_dropped_whole),
		cmocka_unit_test(test_rows_are_bounded),
		cmocka_unit_test(test_json_has_both_sections),
		cmocka_unit_test(test_latency_buckets_hold_their_values),
		cmocka_unit_test(test_latency_quantiles),
	};
	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
