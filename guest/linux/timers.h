/* The program timers of a process (timers.c) at exec and exit. */
#ifndef GUEST_TIMERS_H
#define GUEST_TIMERS_H

struct process;
/* execve: POSIX timers go (alarm and ITIMER_REAL stay, as on Linux). */
void timers_exec(struct process *p);
/* exit: all of p's go. */
void timers_exit(struct process *p);

#endif
