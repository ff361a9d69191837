/* Signals sent to pier (see run_signals.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "run.h"
#include "run_signals.h"
#include "terminal.h"

#define BIT(sig) (1ULL << ((sig) - 1))
static const int passed_on[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
				 SIGTSTP };
#define ENDING (BIT(SIGINT) | BIT(SIGTERM) | BIT(SIGHUP) | BIT(SIGQUIT))

static volatile sig_atomic_t pending_lo, pending_hi; /* 32 bits each */
static void (*wake_fn)(int sig);
static uint64_t forwarded;
static int fatal;
static int grace_sig;
static uint64_t grace_end;
static bool job_control; /* a shell could resume us after ^Z */

static void on_signal(int sig)
{
	if (sig <= 32)
		pending_lo |= (sig_atomic_t)(1u << (sig - 1));
	else
		pending_hi |= (sig_atomic_t)(1u << (sig - 33));
	if (wake_fn)
		wake_fn(sig);
}

void run_signals_install(void (*wake)(int sig))
{
	wake_fn = wake;
	/* As Linux does for an orphaned process group: ^Z stops only a run
	 * whose parent, a job-control shell, is in our session but not in our
	 * group. (Looked at now: later the filter forbids asking.) */
	pid_t parent = getppid();
	job_control = getsid(parent) == getsid(0) && getpgid(parent) != getpgrp();
	struct rlimit none = { 0, 0 };
	setrlimit(RLIMIT_CORE, &none);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < sizeof(passed_on) / sizeof(passed_on[0]); i++)
		sigaction(passed_on[i], &sa, NULL);
}

uint64_t run_signals_take(void)
{
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	uint64_t v = (uint32_t)pending_lo | (uint64_t)(uint32_t)pending_hi << 32;
	pending_lo = pending_hi = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return v;
}

enum run_signal_action run_signals_action(int sig, bool program_running)
{
	if (sig == SIGWINCH)
		return program_running ? RUN_SIGNAL_PASS : RUN_SIGNAL_IGNORE;
	if (sig == SIGTSTP)
		return job_control ? RUN_SIGNAL_SUSPEND : RUN_SIGNAL_IGNORE;
	if (!program_running || ((BIT(sig) & ENDING) && (forwarded & BIT(sig)))) {
		fatal = fatal ? fatal : sig;
		return RUN_SIGNAL_END_VM;
	}
	forwarded |= BIT(sig);
	if ((BIT(sig) & ENDING) && !grace_end) {
		grace_sig = sig;
		grace_end = run_now_ns() + RUN_SIGNAL_GRACE_NS;
	}
	return RUN_SIGNAL_PASS;
}

int run_signals_dispatch(bool running, void (*pass)(void *ctx, int sig), void *ctx, int also)
{
	uint64_t sigs = run_signals_take();
	int end = 0;
	for (int sig = 1; sigs && sig <= 64; sig++) {
		if (!(sigs & BIT(sig)))
			continue;
		sigs &= ~BIT(sig);
		switch (run_signals_action(sig, running)) {
		case RUN_SIGNAL_SUSPEND:
			run_suspend(also);
			if (running)
				pass(ctx, SIGWINCH); /* the size may have changed meanwhile */
			break;
		case RUN_SIGNAL_PASS:
			pass(ctx, sig);
			break;
		case RUN_SIGNAL_END_VM:
			end = end ? end : sig;
			break;
		case RUN_SIGNAL_IGNORE:
			break;
		}
	}
	return end;
}

uint64_t run_signals_grace_end(void)
{
	return fatal ? 0 : grace_end;
}

bool run_signals_overdue(uint64_t now)
{
	if (!grace_end || fatal || now < grace_end)
		return false;
	fprintf(stderr, "pier: the program did not act on %s within %llu s (it made no system "
			"call meanwhile)\n", strsignal(grace_sig),
		(unsigned long long)(RUN_SIGNAL_GRACE_NS / 1000000000ULL));
	fatal = grace_sig;
	return true;
}

int run_signals_fatal(void)
{
	return fatal;
}

void run_suspend(int also)
{
	terminal_suspend();
	if (also > 0)
		kill(also, SIGSTOP);
	raise(SIGSTOP); /* here until the shell's SIGCONT */
	if (also > 0)
		kill(also, SIGCONT);
	terminal_resume();
}

void run_die_of(int sig)
{
	terminal_restore();
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigaction(sig, &dfl, NULL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	_exit(128 + sig);
}
