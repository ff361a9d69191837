/*
 * Signals: pending ones (from pier, which passes on what its own process
 * receives, the terminal's ^C among them; from the program's own kill();
 * SIGPIPE from its writes) wait until the program next leaves the kernel.
 * It runs with interrupts off, so a system call's return is where the
 * kernel acts: a handler runs on a Linux-layout signal frame (rt_sigframe:
 * return address, ucontext with the registers and FPU state, siginfo) and
 * rt_sigreturn resumes the program; otherwise the default action ends the
 * program or drops the signal. A signal does not stop the program: with no
 * other process to resume it, stop signals are dropped.
 */
#ifndef GUEST_SIGNAL_H
#define GUEST_SIGNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "syscall.h"

/* Marks sig (1-64) pending (unless it would be ignored). */
void signal_post(int sig);

/* A signal for one thread (tgkill, tkill, a fault). */
struct task;
void signal_post_thread(struct task *t, int sig);

/* Whether a pending signal would end a wait with EINTR (looks at the
 * console for new ones first). */
bool signal_interrupts(void);

/* At the end of system call f with result ret: runs the handler of the
 * first deliverable signal, or its default action. Returns the value for
 * the program's rax. */
int64_t signal_deliver(struct syscall_frame *f, int64_t ret);

/* rt_sigpending: the pending signals the mask holds back. */
uint64_t signal_pending_blocked(void);

/* rt_sigaction changed sig's action: a pending sig now ignored goes. */
void signal_action_changed(int sig);

/* rt_sigsuspend: mask until the next handler runs, whose frame then
 * records the mask of before. */
void signal_suspend(uint64_t mask);

/* rt_sigreturn: back to the context a handler interrupted; its rax. */
int64_t signal_return(struct syscall_frame *f);

#endif
