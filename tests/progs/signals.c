/* Signal state (no signal is delivered): signals
 *
 * rt_sigaction install and read back, rt_sigprocmask block/unblock/set,
 * sigaltstack set, read back and disable. */
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

/* The kernel's struct sigaction on x86_64 (not the libc's). */
struct k_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};
#define K_SA_RESTORER 0x04000000UL
#define K_SIGSET_SIZE 8

static void handler1(int sig)
{
	(void)sig;
}

static void handler2(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
}

static void restorer(void)
{
}

static uint64_t bit(int sig)
{
	return 1ULL << (sig - 1);
}

static void test_sigaction(void)
{
	struct sigaction sa, old;

	/* The default before anyone installs anything. */
	CHECK_SYS(sigaction(SIGUSR1, NULL, &old));
	CHECK(old.sa_handler == SIG_DFL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler1;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaddset(&sa.sa_mask, SIGTERM);
	sa.sa_flags = SA_RESTART;
	CHECK_SYS(sigaction(SIGUSR1, &sa, &old));
	CHECK(old.sa_handler == SIG_DFL);
	memset(&old, 0, sizeof(old));
	CHECK_SYS(sigaction(SIGUSR1, NULL, &old));
	CHECK(old.sa_handler == handler1);
	CHECK(old.sa_flags & SA_RESTART);
	CHECK(!(old.sa_flags & SA_SIGINFO));
	CHECK(sigismember(&old.sa_mask, SIGUSR2));
	CHECK(sigismember(&old.sa_mask, SIGTERM));
	CHECK(!sigismember(&old.sa_mask, SIGINT));

	/* Replacing returns the previous one. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler2;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	CHECK_SYS(sigaction(SIGUSR1, &sa, &old));
	CHECK(old.sa_handler == handler1);
	CHECK_SYS(sigaction(SIGUSR1, NULL, &old));
	CHECK(old.sa_sigaction == handler2);
	CHECK_EQ(old.sa_flags & (SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART),
		 SA_SIGINFO | SA_ONSTACK | SA_NODEFER);

	/* SIG_IGN, and back to SIG_DFL. */
	CHECK(signal(SIGUSR2, SIG_IGN) == SIG_DFL);
	CHECK(signal(SIGUSR2, SIG_DFL) == SIG_IGN);
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	CHECK_SYS(sigaction(SIGPIPE, NULL, &old));
	CHECK(old.sa_handler == SIG_IGN);

	/* The raw call: the kernel's layout, exactly what was given. */
	struct k_sigaction k = {
		.handler = handler1,
		.flags = K_SA_RESTORER | SA_RESTART,
		.restorer = restorer,
		.mask = bit(SIGINT) | bit(SIGALRM),
	}, ko;
	memset(&ko, 0, sizeof(ko));
	CHECK_SYS(syscall(SYS_rt_sigaction, SIGALRM, &k, NULL, K_SIGSET_SIZE));
	CHECK_SYS(syscall(SYS_rt_sigaction, SIGALRM, NULL, &ko, K_SIGSET_SIZE));
	CHECK(ko.handler == handler1);
	CHECK(ko.restorer == restorer);
	CHECK_EQ(ko.flags, K_SA_RESTORER | SA_RESTART);
	CHECK_EQ(ko.mask & (bit(SIGINT) | bit(SIGALRM)), bit(SIGINT) | bit(SIGALRM));
	/* SIGKILL and SIGSTOP cannot be blocked in a handler's mask. */
	k.mask = bit(SIGKILL) | bit(SIGSTOP) | bit(SIGHUP);
	CHECK_SYS(syscall(SYS_rt_sigaction, SIGALRM, &k, &ko, K_SIGSET_SIZE));
	CHECK_SYS(syscall(SYS_rt_sigaction, SIGALRM, NULL, &ko, K_SIGSET_SIZE));
	CHECK_EQ(ko.mask, bit(SIGHUP));

	/* Refusals. */
	CHECK_ERR(syscall(SYS_rt_sigaction, SIGALRM, &k, NULL, 16), EINVAL);
	CHECK_ERR(syscall(SYS_rt_sigaction, SIGKILL, &k, NULL, K_SIGSET_SIZE), EINVAL);
	CHECK_ERR(syscall(SYS_rt_sigaction, SIGSTOP, &k, NULL, K_SIGSET_SIZE), EINVAL);
	CHECK_ERR(syscall(SYS_rt_sigaction, 0, &k, NULL, K_SIGSET_SIZE), EINVAL);
	CHECK_ERR(syscall(SYS_rt_sigaction, 65, &k, NULL, K_SIGSET_SIZE), EINVAL);
	/* Reading SIGKILL's action is allowed. */
	CHECK_SYS(syscall(SYS_rt_sigaction, SIGKILL, NULL, &ko, K_SIGSET_SIZE));
	CHECK(ko.handler == SIG_DFL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler1;
	CHECK_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL);

	/* Real-time signals too. */
	CHECK_SYS(syscall(SYS_rt_sigaction, 64, &k, NULL, K_SIGSET_SIZE));
	CHECK_SYS(syscall(SYS_rt_sigaction, 64, NULL, &ko, K_SIGSET_SIZE));
	CHECK(ko.handler == handler1);
	OK("sigaction");
}

static void test_sigprocmask(void)
{
	sigset_t s, old, cur;

	sigemptyset(&s);
	CHECK_SYS(sigprocmask(SIG_BLOCK, &s, &old));
	CHECK(!sigismember(&old, SIGUSR1));

	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGCHLD);
	CHECK_SYS(sigprocmask(SIG_BLOCK, &s, NULL));
	CHECK_SYS(sigprocmask(SIG_SETMASK, NULL, &cur));
	CHECK(sigismember(&cur, SIGUSR1));
	CHECK(sigismember(&cur, SIGCHLD));
	CHECK(!sigismember(&cur, SIGUSR2));

	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	CHECK_SYS(sigprocmask(SIG_UNBLOCK, &s, NULL));
	CHECK_SYS(sigprocmask(SIG_BLOCK, NULL, &cur));
	CHECK(sigismember(&cur, SIGUSR1));
	CHECK(!sigismember(&cur, SIGCHLD));

	/* SIGKILL and SIGSTOP are silently left out. */
	sigemptyset(&s);
	sigaddset(&s, SIGKILL);
	sigaddset(&s, SIGSTOP);
	sigaddset(&s, SIGTERM);
	CHECK_SYS(sigprocmask(SIG_SETMASK, &s, NULL));
	CHECK_SYS(sigprocmask(SIG_SETMASK, NULL, &cur));
	CHECK(!sigismember(&cur, SIGKILL));
	CHECK(!sigismember(&cur, SIGSTOP));
	CHECK(sigismember(&cur, SIGTERM));
	CHECK(!sigismember(&cur, SIGUSR1));

	/* The raw call with the kernel's 8-byte set. */
	uint64_t k = bit(SIGHUP) | bit(40), ko = 0;
	CHECK_SYS(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &k, &ko, K_SIGSET_SIZE));
	CHECK_EQ(ko, bit(SIGTERM));
	CHECK_SYS(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &ko, K_SIGSET_SIZE));
	CHECK_EQ(ko, bit(SIGHUP) | bit(40));
	CHECK_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &k, NULL, 16), EINVAL);
	CHECK_ERR(syscall(SYS_rt_sigprocmask, 99, &k, NULL, K_SIGSET_SIZE), EINVAL);

	/* Pending: nothing was sent. */
	sigset_t pend;
	CHECK_SYS(sigpending(&pend));
	CHECK(!sigismember(&pend, SIGHUP));
	CHECK(!sigismember(&pend, SIGUSR1));

	CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
	CHECK_SYS(sigprocmask(SIG_SETMASK, NULL, &cur));
	CHECK(!sigismember(&cur, SIGHUP));
	OK("sigprocmask");
}

static void test_sigaltstack(void)
{
	stack_t ss, old;
	static char stack_mem[64 * 1024];

	memset(&old, 0x55, sizeof(old));
	CHECK_SYS(sigaltstack(NULL, &old));
	CHECK(old.ss_flags & SS_DISABLE);

	ss.ss_sp = stack_mem;
	ss.ss_size = sizeof(stack_mem);
	ss.ss_flags = 0;
	CHECK_SYS(sigaltstack(&ss, &old));
	CHECK(old.ss_flags & SS_DISABLE);
	memset(&old, 0, sizeof(old));
	CHECK_SYS(sigaltstack(NULL, &old));
	CHECK(old.ss_sp == stack_mem);
	CHECK_EQ(old.ss_size, sizeof(stack_mem));
	CHECK_EQ(old.ss_flags, 0); /* not on it */

	/* Too small, bad flags. */
	ss.ss_size = 512;
	CHECK_ERR(sigaltstack(&ss, NULL), ENOMEM);
	ss.ss_size = sizeof(stack_mem);
	ss.ss_flags = 0x1234;
	CHECK_ERR(sigaltstack(&ss, NULL), EINVAL);
	/* Still the first one. */
	CHECK_SYS(syscall(SYS_sigaltstack, NULL, &old));
	CHECK(old.ss_sp == stack_mem);

	ss.ss_flags = SS_DISABLE;
	CHECK_SYS(sigaltstack(&ss, NULL));
	CHECK_SYS(sigaltstack(NULL, &old));
	CHECK(old.ss_flags & SS_DISABLE);
	OK("sigaltstack");
}

int main(void)
{
	test_sigaction();
	test_sigprocmask();
	test_sigaltstack();
	printf("signals: all passed\n");
	return 0;
}
