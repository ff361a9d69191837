/*
 * The control channel to the VMM (include/pier/ports.h): boot milestones
 * the host timestamps, and the final exit status.
 */
#ifndef GUEST_CONTROL_H
#define GUEST_CONTROL_H

#include <stdbool.h>

/* stats=1: the counters (stats.h) go to the host as "stat" lines at exit. */
extern bool control_stats;

/* timing=1 (pier run --timing): every milestone goes out, not only "program". */
extern bool control_timing;

/* Reports a named milestone ("kmain", "ready", ...). */
void control_milestone(const char *name);

/* Ends the VM with the given 8-bit status. */
__attribute__((noreturn)) void control_exit(int status);

/* Ends the VM with PIER_EXIT_PANIC, flagged as a panic. */
__attribute__((noreturn)) void control_exit_panic(void);
/* Ends the VM reporting that the program was killed by signal sig. */
__attribute__((noreturn)) void control_exit_signal(int sig);

/*
 * A kernel warning: on the console normally, but while a program owns the
 * console (quiet), as a "log" line that pier prints on its stderr.
 */
void kwarn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A kernel warning while the program runs that is not about its outcome
 * (a system call it lacks): on the console when the kernel speaks
 * (verbose, --log), else a "warn" line that pier only counts, so the
 * program's stderr stays its own.
 */
void knote(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
