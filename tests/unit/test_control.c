/* Unit tests for host/control.c: the parser of the guest's control lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "control.h"

static void feed(struct control *c, const char *s, uint64_t ns)
{
	control_feed(c, s, strlen(s), ns);
}

static void test_milestones_and_exit(void **state)
{
	(void)state;
	struct control c;
	control_init(&c);
	feed(&c, "milestone km", 10);
	feed(&c, "ain\nmilestone ready\n", 20); /* split across reads */
	assert_int_equal(control_milestone_ns(&c, "kmain"), 20);
	assert_int_equal(control_milestone_ns(&c, "ready"), 20);
	assert_int_equal(control_milestone_ns(&c, "nope"), -1);
	assert_int_equal(c.state, CONTROL_RUNNING);
	feed(&c, "exit 255\n", 30);
	assert_int_equal(c.state, CONTROL_EXITED);
	assert_int_equal(c.status, 255);
	assert_int_equal(c.exit_ns, 30);
	/* Nothing after the final line changes the result. */
	feed(&c, "exit 3\npanic\n", 40);
	assert_int_equal(c.status, 255);
	assert_int_equal(c.bad_lines, 2);
}

static void test_panic(void **state)
{
	(void)state;
	struct control c;
	control_init(&c);
	feed(&c, "panic\n", 5);
	assert_int_equal(c.state, CONTROL_PANICKED);
}

static void test_hostile_lines(void **state)
{
	(void)state;
	struct control c;
	control_init(&c);
	char big[1000];
	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	feed(&c, big, 1);
	feed(&c, "exit -1\nexit 256\nexit 3x\nexit \nbogus\nmilestone \n", 2);
	control_feed(&c, "exit\0 1\n", 8, 3);
	assert_int_equal(c.state, CONTROL_RUNNING);
	assert_int_equal(c.bad_lines, 8);
	for (int i = 0; i < 40; i++)
		feed(&c, "milestone m\n", 4); /* more than fit: dropped, counted */
	assert_int_equal(c.nmilestones, CONTROL_MAX_MILESTONES);
	feed(&c, "exit 0\n", 5);
	assert_int_equal(c.state, CONTROL_EXITED);
	assert_int_equal(c.status, 0);
}

static char logged[256];
static int nlogged;

static void record_log(const char *text)
{
	snprintf(logged, sizeof(logged), "%s", text);
	nlogged++;
}

static void test_log_lines(void **state)
{
	(void)state;
	struct control c;
	control_init(&c);
	const char *in = "log hello there\nlog \n";
	control_feed(&c, in, strlen(in), 1); /* without a callback: dropped */
	assert_int_equal(nlogged, 0);
	c.on_log = record_log;
	in = "log system call 999 not implemented\nexit 3\nlog late\n";
	control_feed(&c, in, strlen(in), 2);
	assert_int_equal(nlogged, 1);
	assert_string_equal(logged, "system call 999 not implemented");
	assert_int_equal(c.state, CONTROL_EXITED);
	assert_int_equal(c.status, 3);
}

/* "killed N": the program died of signal N (1..64): exited, status 128+N. */
static void test_killed(void **state)
{
	(void)state;
	struct control c;
	control_init(&c);
	feed(&c, "milestone ready\nkil", 5);
	feed(&c, "led 13", 6); /* split across reads */
	assert_int_equal(c.state, CONTROL_RUNNING);
	feed(&c, "\n", 7);
	assert_int_equal(c.state, CONTROL_EXITED);
	assert_int_equal(c.status, 128 + 13);
	assert_int_equal(c.killed_by, 13);
	assert_int_equal(c.exit_ns, 7);
	assert_int_equal(c.bad_lines, 0);
	/* Final: nothing after it counts. */
	feed(&c, "killed 9\nexit 0\npanic\n", 8);
	assert_int_equal(c.state, CONTROL_EXITED);
	assert_int_equal(c.status, 141);
	assert_int_equal(c.killed_by, 13);
	assert_int_equal(c.exit_ns, 7);
	assert_int_equal(c.bad_lines, 3);
	/* The bounds. */
	control_init(&c);
	feed(&c, "killed 1\n", 1);
	assert_int_equal(c.state, CONTROL_EXITED);
	assert_int_equal(c.status, 129);
	assert_int_equal(c.killed_by, 1);
	control_init(&c);
	feed(&c, "killed 64\n", 1);
	assert_int_equal(c.status, 192);
	assert_int_equal(c.killed_by, 64);
	/* "exit N" is not a death by signal. */
	control_init(&c);
	feed(&c, "exit 137\n", 1);
	assert_int_equal(c.status, 137);
	assert_int_equal(c.killed_by, 0);
}

/* Malformed "killed" lines are counted and change nothing. */
static void test_killed_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"killed 0\n",   "killed 65\n",  "killed x\n",   "killed 13 \n", "killed \n",
		"killed\n",     "killed -9\n",  "killed 13x\n", "killed 0x0d\n", "Killed 13\n",
		"killed 13\r\n", "killed 99999999999999999999\n", "killed 4294967309\n",
		"killed 1 3\n",
	};
	const unsigned n = sizeof(bad) / sizeof(bad[0]);
	struct control c;
	control_init(&c);
	for (unsigned i = 0; i < n; i++) {
		feed(&c, bad[i], i);
		assert_int_equal(c.bad_lines, i + 1);
		assert_int_equal(c.state, CONTROL_RUNNING);
		assert_int_equal(c.status, 0);
		assert_int_equal(c.killed_by, 0);
	}
	/* With a NUL inside: the line is cut there, so malformed too. */
	control_feed(&c, "killed 1\0" "3\n", 11, 50);
	assert_int_equal(c.bad_lines, n + 1);
	assert_int_equal(c.state, CONTROL_RUNNING);
	/* A good one still ends the run. */
	feed(&c, "killed 2\n", 60);
	assert_int_equal(c.state, CONTROL_EXITED);
	assert_int_equal(c.status, 130);
	assert_int_equal(c.killed_by, 2);
	assert_int_equal(c.exit_ns, 60);
	assert_int_equal(c.bad_lines, n + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_lines),
		cmocka_unit_test(test_milestones_and_exit),
		cmocka_unit_test(test_panic),
		cmocka_unit_test(test_hostile_lines),
		cmocka_unit_test(test_killed),
		cmocka_unit_test(test_killed_malformed),
	};
	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
