/*
 * Threads as glibc and musl make them: pthread_create/join (clone with the
 * thread flags, CLONE_SETTLS, CLONE_CHILD_CLEARTID), mutexes and condition
 * variables (futex WAIT/WAKE/REQUEUE), timed waits, pipes between threads,
 * signals to one thread and per-thread masks, the futex system call's own
 * answers, and exit from a thread ending the whole process.
 *
 * Nothing here spins waiting for another thread: it must pass where
 * threads change only at system calls too (see guest/kernel/task.h).
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include "check.h"

#define NTHREADS 8
#define ROUNDS 10000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static __thread int mine;

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct worker {
	int index;
	pid_t tid;
	int tls_seen;
};

static void *count(void *arg)
{
	struct worker *w = arg;
	mine = w->index + 100;
	w->tid = tid();
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
		if (i % 1000 == 0)
			sched_yield();
	}
	w->tls_seen = mine;
	return (void *)(intptr_t)(w->index * 2);
}

static void create_join(void)
{
	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];
	mine = 1;
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .index = i };
		CHECK(pthread_create(&th[i], NULL, count, &w[i]) == 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		void *ret;
		CHECK(pthread_join(th[i], &ret) == 0);
		CHECK((intptr_t)ret == i * 2);
		CHECK(w[i].tls_seen == i + 100); /* each its own TLS */
		CHECK(w[i].tid > 0 && w[i].tid != getpid());
		for (int j = 0; j < i; j++)
			CHECK(w[j].tid != w[i].tid);
	}
	CHECK(counter == (long)NTHREADS * ROUNDS);
	CHECK(mine == 1);
	CHECK(tid() == getpid()); /* the main thread's id is the process's */
	OK("create_join");
}

/* A bounded queue between producer and consumer threads. */
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static int queue[16], qhead, qlen;

static void *produce(void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 1; i <= n; i++) {
		pthread_mutex_lock(&lock);
		while (qlen == 16)
			pthread_cond_wait(&not_full, &lock);
		queue[(qhead + qlen++) % 16] = i;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static int started, released, gone;

static void *wait_for_go(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	started++;
	pthread_cond_broadcast(&not_empty); /* "one more is waiting" */
	while (!released)
		pthread_cond_wait(&go, &lock);
	gone++;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void condvars(void)
{
	pthread_t p;
	long sum = 0;
	CHECK(pthread_create(&p, NULL, produce, (void *)(intptr_t)1000) == 0);
	for (int got = 0; got < 1000; got++) {
		pthread_mutex_lock(&lock);
		while (qlen == 0)
			pthread_cond_wait(&not_empty, &lock);
		sum += queue[qhead];
		qhead = (qhead + 1) % 16;
		qlen--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&lock);
	}
	CHECK(pthread_join(p, NULL) == 0);
	CHECK(sum == 1000L * 1001 / 2);

	/* Four waiters, one broadcast: all four go. */
	pthread_t w[4];
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&w[i], NULL, wait_for_go, NULL) == 0);
	pthread_mutex_lock(&lock);
	while (started < 4)
		pthread_cond_wait(&not_empty, &lock);
	released = 1;
	pthread_cond_broadcast(&go);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 4; i++)
		CHECK(pthread_join(w[i], NULL) == 0);
	CHECK(gone == 4);
	OK("condvars");
}

static void timed_waits(void)
{
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec until;
	double t0 = now_s(CLOCK_MONOTONIC);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 100 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lock);
	CHECK(pthread_cond_timedwait(&c, &lock, &until) == ETIMEDOUT);
	pthread_mutex_unlock(&lock);
	CHECK(now_s(CLOCK_MONOTONIC) - t0 >= 0.099);

	/* The same on CLOCK_MONOTONIC (FUTEX_WAIT_BITSET without REALTIME). */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	CHECK(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0);
	CHECK(pthread_cond_init(&c, &ca) == 0);
	t0 = now_s(CLOCK_MONOTONIC);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += 50 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lock);
	CHECK(pthread_cond_timedwait(&c, &lock, &until) == ETIMEDOUT);
	pthread_mutex_unlock(&lock);
	CHECK(now_s(CLOCK_MONOTONIC) - t0 >= 0.049);
	OK("timed_waits");
}

static int pfd[2];
#define BIG (200 * 1024)

static void *read_one(void *arg)
{
	char *buf = arg;
	CHECK(read(pfd[0], buf, 5) == 5); /* blocks until main writes */
	return NULL;
}

static void *write_big(void *arg)
{
	(void)arg;
	static char data[BIG];
	for (int i = 0; i < BIG; i++)
		data[i] = (char)(i * 13);
	CHECK(write(pfd[1], data, BIG) == BIG); /* more than a pipe holds */
	return NULL;
}

static void pipes_between(void)
{
	pthread_t t;
	char got[8] = { 0 };
	CHECK_SYS(pipe(pfd));
	CHECK(pthread_create(&t, NULL, read_one, got) == 0);
	usleep(50000);
	CHECK(write(pfd[1], "hello", 5) == 5);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(memcmp(got, "hello", 5) == 0);

	CHECK(pthread_create(&t, NULL, write_big, NULL) == 0);
	static char in[BIG];
	size_t n = 0;
	while (n < BIG) {
		ssize_t r = read(pfd[0], in + n, BIG - n);
		CHECK(r > 0);
		n += (size_t)r;
	}
	CHECK(pthread_join(t, NULL) == 0);
	for (int i = 0; i < BIG; i++)
		CHECK(in[i] == (char)(i * 13));
	close(pfd[0]);
	close(pfd[1]);
	OK("pipes_between");
}

static volatile pid_t handled_by;
static volatile int handled;

static void note_tid(int sig)
{
	(void)sig;
	handled_by = tid();
	handled++;
}

static pthread_cond_t poked = PTHREAD_COND_INITIALIZER;
static int stop_waiting;
static pid_t waiter_tid;

static void *block_usr2_and_wait(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	CHECK(pthread_sigmask(SIG_BLOCK, &s, NULL) == 0);
	pthread_mutex_lock(&lock);
	waiter_tid = tid();
	pthread_cond_broadcast(&poked);
	while (!stop_waiting)
		pthread_cond_wait(&poked, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void thread_signals(void)
{
	struct sigaction sa = { .sa_handler = note_tid };
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, block_usr2_and_wait, NULL) == 0);
	pthread_mutex_lock(&lock);
	while (!waiter_tid)
		pthread_cond_wait(&poked, &lock);
	pthread_mutex_unlock(&lock);

	/* To that thread: its handler runs there, its wait goes on. */
	CHECK(pthread_kill(t, SIGUSR1) == 0);
	for (int i = 0; i < 200 && !handled; i++)
		usleep(5000);
	CHECK(handled == 1);
	CHECK(handled_by == waiter_tid);

	/* To the process: the thread blocks it, so main takes it. */
	CHECK_SYS(kill(getpid(), SIGUSR2));
	for (int i = 0; i < 200 && handled < 2; i++)
		usleep(5000);
	CHECK(handled == 2);
	CHECK(handled_by == getpid());

	pthread_mutex_lock(&lock);
	stop_waiting = 1;
	pthread_cond_broadcast(&poked);
	pthread_mutex_unlock(&lock);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(pthread_kill(pthread_self(), 0) == 0);
	OK("thread_signals");
}

static long futex(uint32_t *a, int op, uint32_t val, const struct timespec *ts, uint32_t *a2,
		  uint32_t val3)
{
	return syscall(SYS_futex, a, op, val, ts, a2, val3);
}

static uint32_t word;

static void *wait_word(void *arg)
{
	(void)arg;
	long r = futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return (void *)r;
}

static void futex_answers(void)
{
	struct timespec ts = { 0, 20 * 1000000L };
	CHECK_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0), EAGAIN);
	double t0 = now_s(CLOCK_MONOTONIC);
	CHECK_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), ETIMEDOUT);
	CHECK(now_s(CLOCK_MONOTONIC) - t0 >= 0.019);
	CHECK(futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0);
	CHECK_ERR(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0), EINVAL);
	CHECK_ERR(futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1, &word, 7), EAGAIN);
	CHECK_ERR(futex((uint32_t *)((char *)&word + 1), FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0),
		  EINVAL);

	pthread_t t;
	CHECK(pthread_create(&t, NULL, wait_word, NULL) == 0);
	int woken = 0;
	for (int i = 0; i < 400 && !woken; i++) {
		usleep(5000); /* until the thread is waiting */
		woken = (int)futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
	CHECK(woken == 1);
	void *r;
	CHECK(pthread_join(t, &r) == 0);
	CHECK(r == (void *)0);
	OK("futex_answers");
}

static void scheduling(void)
{
	cpu_set_t set;
	CHECK(sched_yield() == 0);
	CHECK_SYS(sched_getaffinity(0, sizeof(set), &set));
	CHECK(CPU_COUNT(&set) >= 1);
	CHECK_SYS(sched_setaffinity(0, sizeof(set), &set));
	CHECK(sched_getcpu() >= 0);
	OK("scheduling");
}

static void *exit_everything(void *arg)
{
	(void)arg;
	printf("threads: all passed\n");
	fflush(stdout);
	exit(0); /* exit_group from a thread: main's join never returns */
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	create_join();
	condvars();
	timed_waits();
	pipes_between();
	thread_signals();
	futex_answers();
	scheduling();
	pthread_t t;
	CHECK(pthread_create(&t, NULL, exit_everything, NULL) == 0);
	pthread_join(t, NULL);
	FAIL("the process outlived exit() in a thread");
}
