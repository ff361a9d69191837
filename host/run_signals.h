/*
 * Signals sent to pier while it runs a program: SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are the program's, passed on to
 * it (the terminal's ^C, ^\ included); SIGTSTP (^Z) suspends the run. Before the program runs, and on a
 * second SIGINT, SIGTERM, SIGHUP or SIGQUIT, they end the VM instead: a
 * program that never enters its kernel (it runs with interrupts off)
 * could otherwise not be stopped short of SIGKILL.
 */
#ifndef HOST_RUN_SIGNALS_H
#define HOST_RUN_SIGNALS_H

#include <stdbool.h>
#include <stdint.h>

/* Installs the handlers; `wake` (may be NULL) is called from the handler
 * (async-signal-safe work only) so a waiting loop notices. Also turns off
 * core files: pier's memory holds the guest's, which must not land on
 * disk when pier dies of the program's SIGSEGV. */
void run_signals_install(void (*wake)(int sig));

/* Takes the signals received since the last call (bit sig-1). */
uint64_t run_signals_take(void);

enum run_signal_action {
	RUN_SIGNAL_PASS, RUN_SIGNAL_IGNORE, RUN_SIGNAL_END_VM,
	RUN_SIGNAL_SUSPEND, /* SIGTSTP (the terminal's ^Z): run_suspend() */
};

/*
 * What to do with `sig`: pass it to the program, ignore it (SIGWINCH with
 * no program yet), or end the VM (no program yet, or the second of a kind
 * that ends programs). `program_running`: the guest said it started the
 * program. Remembers what was passed on.
 */
enum run_signal_action run_signals_action(int sig, bool program_running);

/*
 * Takes the signals received since the last call and acts on each:
 * pass(ctx, sig) hands one to the program (running: the guest runs it and
 * can take them), ^Z suspends the run with `also` (run_suspend) and then
 * passes SIGWINCH. Returns the first that ends the VM, or 0.
 */
int run_signals_dispatch(bool running, void (*pass)(void *ctx, int sig), void *ctx, int also);

/* The signal that ended the VM (0: none), for the 128 + N status. */
int run_signals_fatal(void);

/* How long a program has to act on a passed-on SIGINT, SIGTERM, SIGHUP or
 * SIGQUIT before the VM is ended for it. */
#define RUN_SIGNAL_GRACE_NS 3000000000ULL

/* When the grace period of the first such signal passed on ends (ns of
 * run_now_ns), or 0 when none is running. */
uint64_t run_signals_grace_end(void);

/* At time now: whether that grace period is over; the VM then ends as
 * if by the signal (run_signals_fatal), after a message saying why. */
bool run_signals_overdue(uint64_t now);

/*
 * ^Z (only where a job-control shell could resume the run, as Linux
 * ignores it for an orphaned process group): the whole run stops as a
 * local program would, with pier's terminal
 * back in the modes it had and `also` (QEMU's process; 0: none) stopped
 * too; when the shell continues it, the program's modes come back. The
 * caller then passes SIGWINCH on: the size may have changed meanwhile.
 */
void run_suspend(int also);

/* After cleanup: dies of sig as the program did, or exits 128 + sig if
 * that fails. */
__attribute__((noreturn)) void run_die_of(int sig);

#endif
