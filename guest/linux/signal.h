/*
 * Signals: pending ones (from pier, which passes on what its own process
 * receives, the terminal's ^C among them; from the program's own kill();
 * SIGPIPE from its writes) wait until the program next leaves the kernel.
 * A system call's return is where the kernel acts (and a fault, for the
 * signal the fault raises): a handler runs on a Linux-layout signal frame (rt_sigframe:
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

/* What comes with a signal, for the handler's siginfo. */
struct sig_info {
	int code;         /* SI_USER, SI_TKILL, SI_TIMER, or a fault's *_ERR code */
	int pid;
	uint32_t uid;
	uint64_t addr;    /* a fault's address */
	uint64_t value;   /* sigev_value of a timer */
	int timerid, overrun;
};

/* Marks sig (1-64) pending for the current process (unless it would be
 * ignored): SI_USER. */
void signal_post(int sig);
/* kill(): sig for process p, SI_USER from the caller. */
struct process;
void signal_send(struct process *p, int sig);
/* Either with what the handler's siginfo says. */
void signal_post_proc(struct process *p, int sig, const struct sig_info *in);
/* sig (0: none) for every live member of process group pgid, with in;
 * how many there are. */
int signal_group(int pgid, int sig, const struct sig_info *in);
/* A signal pier passed on (its own, the terminal's ^C): to the tty's
 * foreground process group when the console is a terminal, else to pid 1. */
void signal_from_host(int sig);
/* A signal for one thread (tgkill, tkill): SI_TKILL. */
struct task;
void signal_post_thread(struct task *t, int sig);
/* Either (t NULL: the process), with what the handler's siginfo says. */
void signal_post_info(struct task *t, int sig, const struct sig_info *in);

/* A fault in program code (trap frame tf): when the program has a handler
 * for sig and does not block it, sets tf up to run it (siginfo with code
 * and addr) and returns true; false: the default action is the caller's. */
struct trap_frame;
bool signal_fault(struct trap_frame *tf, int sig, int code, uint64_t addr);
/* On the way back to program code from an interrupt (a timer): the first
 * deliverable signal's handler is set up on tf, or its default action. */
void signal_deliver_trap(struct trap_frame *tf);

/* Whether a pending signal would end a wait with EINTR (looks at the
 * console for new ones first). */
bool signal_interrupts(void);

/* At the end of system call f with result ret: runs the handler of the
 * first deliverable signal, or its default action. Returns the value for
 * the program's rax. */
int64_t signal_deliver(struct syscall_frame *f, int64_t ret);

/* The last step before a system call returns: after rt_sigreturn, the
 * exit path restores rcx and r11 too (user.S full_restore). */
void signal_exit_path(void);

/* rt_sigpending: the pending signals the mask holds back. */
uint64_t signal_pending_blocked(void);

/* rt_sigaction changed sig's action: a pending sig now ignored goes. */
void signal_action_changed(int sig);

/* rt_sigsuspend: mask until the next handler runs, whose frame then
 * records the mask of before. */
void signal_suspend(uint64_t mask);

/* rt_sigreturn: back to the context a handler interrupted; its rax. */
int64_t signal_return(struct syscall_frame *f);

/* container=1: pid 1 is a container's init, which a signal it has no
 * handler for passes by (all but SIGKILL and SIGSTOP), as in a pid
 * namespace: `podman stop` of a `sleep` then waits and kills, as with runc. */
extern bool signal_init_shielded;

/* Takes the lowest pending signal in mask (the thread's first, then the
 * process's), blocked or not, without acting on it: sigtimedwait's and a
 * signalfd's read. The signal, with *in; 0 when none is pending. */
int signal_dequeue(uint64_t mask, struct sig_info *in);
/* The signals in mask pending for current (thread or process). */
uint64_t signal_pending_in(uint64_t mask);
/* A siginfo_t as a handler or sigtimedwait gets it. */
struct siginfo;
void signal_fill_info(struct siginfo *si, int sig, const struct sig_info *in);

/* A signalfd (signal_wait.c): read takes pending signals of its set;
 * poll says POLLIN while one is pending. */
struct ofile;
int64_t signalfd_read(struct ofile *of, uint64_t ubuf, uint64_t len);
short signalfd_poll(struct ofile *of);

#endif
