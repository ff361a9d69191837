/*
 * Signal handlers as programs use them: siginfo from kill and tgkill,
 * the alternate stack, faults reaching handlers (SIGSEGV with si_addr and
 * si_code, a handler that siglongjmps out, one that repairs the fault and
 * returns into the middle of the faulting code, SIGFPE, SIGILL, SIGTRAP),
 * per-thread masks, EINTR against SA_RESTART, and timers: alarm,
 * setitimer, timer_create with SIGEV_SIGNAL and SIGEV_THREAD_ID.
 *
 * Built static (musl, glibc) for every target, and dynamic against the
 * Debian root's glibc by test_dynamic.py.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

/* glibc 2.36 names the thread id field only inside its union. */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static volatile sig_atomic_t hits;
static volatile int got_sig, got_code, got_pid;
static void *volatile got_addr;
static volatile uintptr_t handler_sp;

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void on_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int here;
	handler_sp = (uintptr_t)&here;
	got_sig = sig;
	got_code = si->si_code;
	got_pid = si->si_pid;
	got_addr = si->si_addr;
	hits++;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO | flags };
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(sig, &sa, NULL));
}

static void siginfo_and_altstack(void)
{
	install(SIGUSR1, on_info, 0);
	hits = 0;
	CHECK_SYS(kill(getpid(), SIGUSR1));
	CHECK(hits == 1 && got_sig == SIGUSR1 && got_code == SI_USER && got_pid == getpid());
	CHECK_SYS(syscall(SYS_tgkill, getpid(), tid(), SIGUSR1));
	CHECK(hits == 2 && got_code == SI_TKILL);

	static char alt[64 * 1024];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) }, old;
	CHECK_SYS(sigaltstack(&ss, &old));
	install(SIGUSR2, on_info, SA_ONSTACK);
	CHECK_SYS(raise(SIGUSR2));
	CHECK(handler_sp > (uintptr_t)alt && handler_sp < (uintptr_t)alt + sizeof(alt));
	CHECK_SYS(raise(SIGUSR1)); /* no SA_ONSTACK: the ordinary stack */
	CHECK(!(handler_sp > (uintptr_t)alt && handler_sp < (uintptr_t)alt + sizeof(alt)));
	OK("siginfo_and_altstack");
}

static sigjmp_buf escape;

static void jump_out(int sig, siginfo_t *si, void *uc)
{
	on_info(sig, si, uc);
	siglongjmp(escape, 1);
}

static char *page;

/* Makes the page writable again and returns: the faulting store is
 * retried with every register as it was. */
static void repair(int sig, siginfo_t *si, void *uc)
{
	on_info(sig, si, uc);
	mprotect(page, 4096, PROT_READ | PROT_WRITE);
}

static void faults_reach_handlers(void)
{
	static char alt[64 * 1024]; /* as gawk does: SIGSEGV on an alternate stack */
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) };
	CHECK_SYS(sigaltstack(&ss, NULL));
	install(SIGSEGV, jump_out, SA_ONSTACK);
	volatile int *bad = (int *)16;
	hits = 0;
	if (sigsetjmp(escape, 1) == 0) {
		*bad = 1;
		FAIL("the store to address 16 did not fault");
	}
	CHECK(hits == 1 && got_sig == SIGSEGV && got_code == SEGV_MAPERR && got_addr == (void *)bad);
	CHECK(handler_sp > (uintptr_t)alt && handler_sp < (uintptr_t)alt + sizeof(alt));

	/* The mask came back with siglongjmp: a second fault is caught too. */
	page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(page != MAP_FAILED);
	if (sigsetjmp(escape, 1) == 0) {
		page[10] = 1;
		FAIL("the store to a read-only page did not fault");
	}
	CHECK(hits == 2 && got_code == SEGV_ACCERR && got_addr == page + 10);

	/* A handler that repairs and returns: the store happens after all,
	 * and a loop around it keeps its registers. */
	install(SIGSEGV, repair, 0);
	CHECK_SYS(mprotect(page, 4096, PROT_READ | PROT_WRITE));
	volatile uint64_t sum = 0;
	for (uint64_t i = 0; i < 100; i++) {
		if (i == 50)
			mprotect(page, 4096, PROT_READ);
		page[i] = (char)i;
		sum += i;
	}
	CHECK(hits == 3 && sum == 4950 && page[50] == 50 && page[99] == 99);
	munmap(page, 4096);
	OK("faults_reach_handlers");
}

static void other_faults(void)
{
	install(SIGFPE, jump_out, 0);
	volatile int zero = 0, one = 1;
	if (sigsetjmp(escape, 1) == 0) {
		one = one / zero;
		FAIL("division by zero did not trap");
	}
	CHECK(got_sig == SIGFPE && got_code == FPE_INTDIV);

	install(SIGILL, jump_out, 0);
	if (sigsetjmp(escape, 1) == 0) {
		__asm__ volatile("ud2");
		FAIL("ud2 did not trap");
	}
	CHECK(got_sig == SIGILL && got_code == ILL_ILLOPN && got_addr != NULL);

	install(SIGTRAP, on_info, 0);
	hits = 0;
	__asm__ volatile("int3"); /* the handler returns after the breakpoint */
	CHECK(hits == 1 && got_sig == SIGTRAP);
	OK("other_faults");
}

static volatile pid_t taken_by;

static void note_thread(int sig)
{
	(void)sig;
	taken_by = tid();
}

static int pfd[2];

static void *poke_then_write(void *arg)
{
	pthread_t main_thread = *(pthread_t *)arg;
	usleep(50000);
	pthread_kill(main_thread, SIGUSR1);
	usleep(50000);
	CHECK(write(pfd[1], "x", 1) == 1);
	return NULL;
}

static void eintr_and_restart(void)
{
	struct sigaction sa = { .sa_handler = note_thread };
	sigemptyset(&sa.sa_mask);
	pthread_t self = pthread_self(), t;
	char c;
	for (int restart = 0; restart < 2; restart++) {
		sa.sa_flags = restart ? SA_RESTART : 0;
		CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
		CHECK_SYS(pipe(pfd));
		taken_by = 0;
		CHECK(pthread_create(&t, NULL, poke_then_write, &self) == 0);
		ssize_t r = read(pfd[0], &c, 1);
		if (restart)
			CHECK(r == 1 && c == 'x'); /* the handler ran, the read went on */
		else
			CHECK(r == -1 && errno == EINTR);
		CHECK(taken_by == getpid());
		CHECK(pthread_join(t, NULL) == 0);
		close(pfd[0]);
		close(pfd[1]);
	}
	OK("eintr_and_restart");
}

static volatile int timer_hits, timer_value;
static volatile pid_t timer_tid;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	timer_value = si->si_value.sival_int;
	timer_tid = tid();
	timer_hits++;
}

/* Says its id, then waits in a read (SA_RESTART: the timer's signal
 * does not end it) until main writes. */
static void *timer_target(void *arg)
{
	pid_t *tidp = arg;
	struct sigaction sa = { .sa_sigaction = on_timer, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGRTMIN, &sa, NULL));
	__atomic_store_n(tidp, tid(), __ATOMIC_SEQ_CST);
	char c;
	CHECK(read(pfd[0], &c, 1) == 1);
	return NULL;
}

static void wait_for(volatile int *counter, int n)
{
	for (int i = 0; i < 400 && *counter < n; i++)
		usleep(5000);
}

static void timers(void)
{
	install(SIGALRM, on_timer, 0);
	timer_hits = 0;
	alarm(5);
	unsigned left = alarm(1); /* re-arming returns what was left, rounded */
	CHECK(left >= 4 && left <= 5);
	struct itimerval it = { .it_value = { 0, 30000 } }, old;
	CHECK_SYS(setitimer(ITIMER_REAL, &it, &old)); /* replaces the alarm */
	CHECK(old.it_value.tv_sec <= 1);
	wait_for(&timer_hits, 1);
	CHECK(timer_hits == 1 && got_sig == SIGALRM && got_code == SI_KERNEL);
	CHECK_SYS(getitimer(ITIMER_REAL, &it));
	CHECK(it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0);

	/* Periodic: three expirations. */
	it = (struct itimerval){ .it_value = { 0, 10000 }, .it_interval = { 0, 10000 } };
	CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
	wait_for(&timer_hits, 4);
	it = (struct itimerval){ 0 };
	CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
	CHECK(timer_hits >= 4);

	/* A loop without system calls still gets its SIGALRM (the timer
	 * interrupts program code). */
	timer_hits = 0;
	it = (struct itimerval){ .it_value = { 0, 20000 } };
	CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
	for (uint64_t spins = 0; !timer_hits && spins < (1ULL << 34); spins++)
		__asm__ volatile("" ::: "memory");
	CHECK(timer_hits == 1);

	/* POSIX timers: a value with the signal, to the process or a thread. */
	install(SIGRTMIN, on_timer, 0);
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN,
			       .sigev_value.sival_int = 42 };
	timer_t id;
	CHECK_SYS(timer_create(CLOCK_MONOTONIC, &ev, &id));
	struct itimerspec ts = { .it_value = { 0, 20000000 } };
	timer_hits = 0;
	CHECK_SYS(timer_settime(id, 0, &ts, NULL));
	wait_for(&timer_hits, 1);
	CHECK(timer_hits == 1 && got_sig == SIGRTMIN && got_code == SI_TIMER && timer_value == 42);
	CHECK_SYS(timer_gettime(id, &ts));
	CHECK(ts.it_value.tv_sec == 0 && ts.it_value.tv_nsec == 0);
	CHECK_SYS(timer_delete(id));

	/* SIGEV_THREAD_ID: to one thread, which blocks in a pipe read. */
	CHECK_SYS(pipe(pfd));
	pthread_t t;
	pthread_t self = pthread_self();
	struct { pid_t tid; } target = { 0 }; /* a struct: timer_target stores through its address */
	(void)self;
	CHECK(pthread_create(&t, NULL, timer_target, &target) == 0);
	while (!__atomic_load_n(&target.tid, __ATOMIC_SEQ_CST))
		usleep(1000);
	ev = (struct sigevent){ .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN,
				.sigev_value.sival_int = 7 };
	ev.sigev_notify_thread_id = target.tid;
	CHECK_SYS(timer_create(CLOCK_REALTIME, &ev, &id));
	ts = (struct itimerspec){ .it_value = { 0, 20000000 } };
	timer_hits = 0;
	CHECK_SYS(timer_settime(id, 0, &ts, NULL));
	wait_for(&timer_hits, 1);
	CHECK(timer_hits == 1 && timer_value == 7 && timer_tid == target.tid);
	CHECK(write(pfd[1], "x", 1) == 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_SYS(timer_delete(id));
	close(pfd[0]);
	close(pfd[1]);
	OK("timers");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	siginfo_and_altstack();
	faults_reach_handlers();
	other_faults();
	eintr_and_restart();
	timers();
	printf("sighandlers: all passed\n");
	return 0;
}
