/* Time: clock
 *
 * clock_gettime (REALTIME after 2020-01-01, MONOTONIC never going back),
 * clock_getres, gettimeofday, time, nanosleep and clock_nanosleep (20 ms
 * measured with MONOTONIC: at least 20 ms). */
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define Y2020 1577836800LL

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static int64_t now_ns(clockid_t c)
{
	struct timespec t;
	CHECK_SYS(clock_gettime(c, &t));
	CHECK(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
	return ns(&t);
}

static void test_gettime(void)
{
	struct timespec t;
	CHECK_SYS(clock_gettime(CLOCK_REALTIME, &t));
	CHECK(t.tv_sec > Y2020);
	CHECK(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
	CHECK_SYS(syscall(SYS_clock_gettime, CLOCK_REALTIME, &t));
	CHECK(t.tv_sec > Y2020);

	int64_t prev = now_ns(CLOCK_MONOTONIC);
	int64_t first = prev;
	for (int i = 0; i < 2000; i++) {
		int64_t cur = now_ns(CLOCK_MONOTONIC);
		if (cur < prev)
			FAIL("CLOCK_MONOTONIC went back: %lld after %lld", (long long)cur,
			     (long long)prev);
		prev = cur;
	}
	CHECK(prev > first); /* and it does move */
	struct timespec r;
	CHECK_SYS(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &r));
	CHECK(ns(&r) >= prev);

	/* The other clocks a libc or a runtime asks for. */
	static const clockid_t others[] = {
		CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE,
		CLOCK_BOOTTIME, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (clock_gettime(others[i], &t) != 0)
			FAIL("clock_gettime(%d): errno %d %s", (int)others[i], errno,
			     strerror(errno));
	CHECK_ERR(syscall(SYS_clock_gettime, 12345, &t), EINVAL);
	OK("clock_gettime");
}

static void test_getres(void)
{
	struct timespec r;
	CHECK_SYS(clock_getres(CLOCK_MONOTONIC, &r));
	CHECK_EQ(r.tv_sec, 0);
	CHECK(r.tv_nsec > 0 && r.tv_nsec <= 10000000L);
	CHECK_SYS(clock_getres(CLOCK_REALTIME, &r));
	CHECK(r.tv_sec == 0 && r.tv_nsec > 0 && r.tv_nsec <= 10000000L);
	CHECK_SYS(syscall(SYS_clock_getres, CLOCK_MONOTONIC, &r));
	CHECK_SYS(syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL));
	CHECK_ERR(syscall(SYS_clock_getres, 12345, &r), EINVAL);
	OK("clock_getres");
}

static void test_gettimeofday(void)
{
	struct timeval tv;
	struct timespec ts;
	CHECK_SYS(gettimeofday(&tv, NULL));
	CHECK_SYS(clock_gettime(CLOCK_REALTIME, &ts));
	CHECK(tv.tv_sec > Y2020);
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	CHECK(ts.tv_sec - tv.tv_sec >= 0 && ts.tv_sec - tv.tv_sec <= 2);
	CHECK_SYS(syscall(SYS_gettimeofday, &tv, NULL));
	CHECK(tv.tv_sec > Y2020);
	OK("gettimeofday");
}

static void test_time(void)
{
	time_t a = time(NULL), b = 0;
	time_t c = time(&b);
	CHECK(a > Y2020);
	CHECK_EQ(b, c);
	CHECK(c - a >= 0 && c - a <= 2);
	time_t raw = (time_t)syscall(SYS_time, NULL);
	CHECK(raw - a >= 0 && raw - a <= 2);
	OK("time");
}

/* Sleeps 20 ms with SLEEP and checks MONOTONIC moved at least that far. */
#define SLEPT_20MS(what, SLEEP)                                                  \
	do {                                                                     \
		int64_t t0_ = now_ns(CLOCK_MONOTONIC);                           \
		CHECK_SYS(SLEEP);                                                \
		int64_t dt_ = now_ns(CLOCK_MONOTONIC) - t0_;                     \
		if (dt_ < 20000000LL || dt_ > 5000000000LL)                      \
			FAIL("%s: slept %lld ns, expected 20 ms", what,          \
			     (long long)dt_);                                    \
	} while (0)

static void test_sleep(void)
{
	struct timespec d = { 0, 20000000L }, rem = { 7, 7 };

	SLEPT_20MS("nanosleep", nanosleep(&d, &rem));
	SLEPT_20MS("SYS_nanosleep", syscall(SYS_nanosleep, &d, NULL));
	SLEPT_20MS("clock_nanosleep MONOTONIC",
		   -clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL));
	SLEPT_20MS("SYS_clock_nanosleep REALTIME",
		   syscall(SYS_clock_nanosleep, CLOCK_REALTIME, 0, &d, NULL));

	/* Absolute deadline. */
	struct timespec until;
	CHECK_SYS(clock_gettime(CLOCK_MONOTONIC, &until));
	int64_t t0 = ns(&until);
	until.tv_nsec += 20000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL), 0);
	CHECK(now_ns(CLOCK_MONOTONIC) >= ns(&until));
	CHECK(now_ns(CLOCK_MONOTONIC) - t0 >= 20000000LL);
	/* A deadline in the past returns at once. */
	CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL), 0);

	/* Zero sleeps; bad arguments. */
	struct timespec z = { 0, 0 };
	CHECK_SYS(nanosleep(&z, NULL));
	struct timespec bad = { 0, 1000000000L };
	CHECK_ERR(nanosleep(&bad, NULL), EINVAL);
	struct timespec neg = { -1, 0 };
	CHECK_ERR(nanosleep(&neg, NULL), EINVAL);
	CHECK_SYS(usleep(1000));
	OK("nanosleep");
}

int main(void)
{
	test_gettime();
	test_getres();
	test_gettimeofday();
	test_time();
	test_sleep();
	printf("clock: all passed\n");
	return 0;
}
