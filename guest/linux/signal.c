/* Pending signals, handlers and default actions (see signal.h). */
#include <asm/sigcontext.h>
#include <linux/signal.h>
#include <asm/ucontext.h>
#include <asm-generic/siginfo.h>
#include <asm/unistd_64.h>
#include <pier/errno.h>
#include <pier/sigframe.h>
#include <pier/string.h>
#include "../arch/x86_64/gdt.h"
#include "../drivers/virtio_console.h"
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "../arch/x86_64/trap.h"
#include "../fs/vfs.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "../kernel/task.h"
#include "process.h"
#include "signal.h"

#define BIT(sig) (1ULL << ((sig) - 1))
/* Default action: nothing. */
#define IGNORED_BY_DEFAULT (BIT(SIGCHLD) | BIT(SIGCONT) | BIT(SIGURG) | BIT(SIGWINCH))
/* Default action: stop; nobody could resume the only process: dropped. */
#define STOPS (BIT(SIGTSTP) | BIT(SIGTTIN) | BIT(SIGTTOU) | BIT(SIGSTOP))
#define UNBLOCKABLE (BIT(SIGKILL) | BIT(SIGSTOP))
#define FXSAVE_BYTES SIGFRAME_FXSAVE
/* Flags a handler's sigreturn may change: CF PF AF ZF SF TF DF OF AC. */
#define USER_FLAGS 0x40dd5ULL

/* What Linux puts on the stack for a handler (x86_64 rt_sigframe). */
struct rt_sigframe {
	uint64_t pretcode; /* sa_restorer: the handler returns into it */
	struct ucontext uc;
	siginfo_t info;
};


/* The process's pending set (sent to it: any thread not blocking one
 * takes it) is current->proc->sigpending, with what came with each in
 * its pinfo. */
#define pending (current->proc->sigpending)

static uint64_t handler_in(const struct process *p, int sig)
{
	return p->sigactions[sig][0];
}

static uint64_t handler_of(int sig)
{
	return handler_in(current->proc, sig);
}

static bool ignored_by(const struct process *p, int sig)
{
	uint64_t h = handler_in(p, sig);
	return h == 1 /* SIG_IGN */ || (h == 0 && (BIT(sig) & (IGNORED_BY_DEFAULT | STOPS)));
}

static bool ignored(int sig)
{
	return ignored_by(current->proc, sig);
}

/* An ignored signal is dropped when sent, unless the receiver blocks it:
 * then it waits, for sigtimedwait or a signalfd to take (Linux's rule;
 * catatonit's SIGCHLD, say). A process's is the main thread's mask. */
static bool blocked_by_main(const struct process *p, int sig)
{
	const struct task *t = task_find(p->pid);
	return t && (t->sigmask & BIT(sig));
}

static bool dropped_by(const struct process *p, const struct task *t, int sig)
{
	if (!ignored_by(p, sig))
		return false;
	return t ? !(t->sigmask & BIT(sig)) : !blocked_by_main(p, sig);
}

bool signal_init_shielded;

void signal_post_proc(struct process *p, int sig, const struct sig_info *in)
{
	if (sig < 1 || sig > 64 || p->state != PROC_LIVE || dropped_by(p, NULL, sig))
		return;
	/* A container's init: what it has no handler for passes it by, but
	 * SIGKILL and SIGSTOP, and what it blocks, which waits for its
	 * signalfd or sigtimedwait (Linux's rules for a pid namespace's init:
	 * catatonit's SIGCHLD). */
	if (signal_init_shielded && p->pid == 1 && handler_in(p, sig) == 0 && sig != SIGKILL &&
	    sig != SIGSTOP && !blocked_by_main(p, sig))
		return;
	if (!p->pinfo && !(p->pinfo = kzalloc(65 * sizeof(struct sig_info))))
		return;
	p->sigpending |= BIT(sig);
	p->pinfo[sig] = *in; /* not queued: a second one before delivery merges */
	task_wake_all(); /* a waiting thread may be the one to take it */
	task_kick_running(); /* and one running program code on another CPU */
}

void signal_post_info(struct task *t, int sig, const struct sig_info *in)
{
	if (!t) {
		signal_post_proc(current->proc, sig, in);
		return;
	}
	if (sig < 1 || sig > 64 || dropped_by(t->proc, t, sig))
		return;
	{
		if (!t->siginfo)
			t->siginfo = kzalloc(65 * sizeof(struct sig_info));
		t->sigpending |= BIT(sig);
		if (t->siginfo)
			t->siginfo[sig] = *in;
	}
	task_wake_all(); /* a waiting thread may be the one to take it */
	task_kick_running(); /* and one running program code on another CPU */
}

void signal_post(int sig)
{
	signal_send(current->proc, sig);
}

struct to_group {
	int pgid, sig, found;
	const struct sig_info *in;
};

static void send_to_member(struct process *p, void *arg)
{
	struct to_group *g = arg;
	if (p->pgid == g->pgid && p->state == PROC_LIVE) {
		g->found++;
		if (g->sig)
			signal_post_proc(p, g->sig, g->in);
	}
}

int signal_group(int pgid, int sig, const struct sig_info *in)
{
	struct to_group g = { pgid, sig, 0, in };
	process_for_each(send_to_member, &g);
	return g.found;
}

void signal_from_host(int sig)
{
	/* The terminal's keys (^C, ^\, window size) go to its foreground
	 * group, as a terminal sends them; the rest, and everything when
	 * there is no terminal, to pid 1, as a container engine's kill. */
	bool keys = sig == SIGINT || sig == SIGQUIT || sig == SIGWINCH;
	struct sig_info tty = { .code = SI_KERNEL }; /* the terminal's, as Linux's tty */
	if (keys && vcon_tty_mask() && signal_group(tty_foreground_pgrp, sig, &tty))
		return;
	struct process *init = process_find(1);
	struct sig_info in = { .code = SI_USER, .pid = 0, .uid = 0 }; /* from outside */
	if (init)
		signal_post_proc(init, sig, &in);
}

void signal_send(struct process *p, int sig)
{
	struct sig_info in = { .code = SI_USER, .pid = current ? current->proc->pid : 0,
			       .uid = vfs_uid };
	signal_post_proc(p, sig, &in);
}

void signal_post_thread(struct task *t, int sig)
{
	struct sig_info in = { .code = SI_TKILL, .pid = current->proc->pid, .uid = vfs_uid };
	signal_post_info(t, sig, &in);
}

uint64_t signal_pending_blocked(void)
{
	return (pending | current->sigpending) & current->sigmask;
}

static void drop_ignored(struct task *t, void *arg)
{
	if (t->proc == current->proc)
		t->sigpending &= ~*(uint64_t *)arg;
}

void signal_action_changed(int sig)
{
	if (ignored(sig)) {
		uint64_t bit = BIT(sig);
		pending &= ~bit;
		task_for_each(drop_ignored, &bit);
	}
}

struct taker {
	uint64_t bits;
	int tid;
};

static void lowest_taker(struct task *t, void *arg)
{
	struct taker *k = arg;
	if (t->proc == current->proc && (k->bits & ~t->sigmask) &&
	    (k->tid == 0 || t->tid < k->tid))
		k->tid = t->tid;
}

/* Whether a process signal pending now interrupts current's wait: only
 * for one thread (the lowest-numbered that does not block it, the main
 * thread first), so that the others' waits do not end with EINTR for a
 * signal another thread takes. */
static bool takes_process_signal(void)
{
	struct taker k = { pending & ~current->sigmask, 0 };
	if (!k.bits)
		return false;
	if (current->proc->nthreads == 1)
		return true;
	k.bits = pending;
	task_for_each(lowest_taker, &k);
	return k.tid == current->tid;
}

bool signal_interrupts(void)
{
	if (!((pending | current->sigpending) & ~current->sigmask))
		vcon_poll(); /* signals from pier arrive on the console */
	return (current->sigpending & ~current->sigmask) || takes_process_signal();
}

int signal_dequeue(uint64_t mask, struct sig_info *in)
{
	vcon_poll(); /* signals from pier arrive on the console */
	uint64_t ready = (pending | current->sigpending) & mask;
	for (int sig = 1; ready && sig <= 64; sig++) {
		if (!(ready & BIT(sig)))
			continue;
		if (current->sigpending & BIT(sig)) {
			current->sigpending &= ~BIT(sig);
			*in = current->siginfo ? current->siginfo[sig] : (struct sig_info){ 0 };
		} else {
			pending &= ~BIT(sig);
			*in = current->proc->pinfo ? current->proc->pinfo[sig] : (struct sig_info){ 0 };
		}
		return sig;
	}
	return 0;
}

uint64_t signal_pending_in(uint64_t mask)
{
	return (pending | current->sigpending) & mask;
}

/* The program's registers at the moment a handler is set up: all of them
 * from a fault's trap frame; from a system call what sysret would leave
 * (rcx the return address, r11 the flags). */
struct uregs {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, rflags;
	uint64_t trapno, err, cr2;
};

static void fill_context(struct sigcontext *c, const struct uregs *r, uint64_t fpstate)
{
	memset(c, 0, sizeof(*c));
	c->r8 = r->r8, c->r9 = r->r9, c->r10 = r->r10, c->r11 = r->r11;
	c->r12 = r->r12, c->r13 = r->r13, c->r14 = r->r14, c->r15 = r->r15;
	c->rdi = r->rdi, c->rsi = r->rsi, c->rbp = r->rbp, c->rbx = r->rbx, c->rdx = r->rdx;
	c->rax = r->rax, c->rcx = r->rcx, c->rsp = r->rsp, c->rip = r->rip;
	c->eflags = r->rflags;
	c->cs = GDT_USER_CS | 3;
	c->trapno = r->trapno, c->err = r->err, c->cr2 = r->cr2;
	c->oldmask = current->sigmask;
	c->fpstate = (struct _fpstate *)fpstate;
}

void signal_fill_info(siginfo_t *si, int sig, const struct sig_info *in)
{
	memset(si, 0, sizeof(*si));
	si->si_signo = sig;
	si->si_code = in->code;
	si->si_errno = 0;
	switch (sig) {
	case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP:
		if (in->code > 0) { /* from the CPU: where */
			si->si_addr = (void *)in->addr;
			return;
		}
		break;
	default:
		break;
	}
	if (in->code == SI_TIMER) {
		si->si_tid = in->timerid;
		si->si_overrun = in->overrun;
		si->si_value.sival_ptr = (void *)in->value;
	} else {
		si->si_pid = in->pid;
		si->si_uid = in->uid;
		si->si_value.sival_ptr = (void *)in->value;
	}
}

/* Interrupted calls that a handler with SA_RESTART makes start again. */
static bool restartable(uint64_t nr)
{
	return nr == __NR_read || nr == __NR_write || nr == __NR_readv || nr == __NR_writev ||
	       nr == __NR_ioctl || nr == __NR_wait4 || nr == __NR_pread64 || nr == __NR_pwrite64 ||
	       nr == __NR_futex || nr == __NR_fcntl;
}

/* Sets up the handler of sig on r (rip, rsp and the argument registers
 * change); false: the frame could not be written (the program then dies
 * of SIGSEGV, as on Linux). */
static bool run_handler(struct uregs *r, int sig, const struct sig_info *in)
{
	uint64_t *act = current->proc->sigactions[sig];
	uint64_t handler = act[0], flags = act[1], restorer = act[2], mask = act[3];
	if (handler >= USER_TOP) /* sysretq to a non-canonical address faults in ring 0 */
		return false;
	struct sigframe_stack alt = { current->altstack[0], current->altstack[2],
				      current->altstack[1] & SS_DISABLE };
	struct sigframe_place at = sigframe_place(r->rsp, &alt, flags & SA_ONSTACK,
						  sizeof(struct rt_sigframe));
	uint64_t fp = at.fpstate, frame = at.frame;
	/* Nested handlers that used the alternate stack up: the frame would
	 * fall off its bottom, so the program dies of SIGSEGV, as on Linux. */
	if (at.on_alt && !alt.disabled && frame < alt.sp)
		return false;
	/* On this task's stack, aligned by hand: the kernel's entry paths do
	 * not keep the ABI's 16-byte stack alignment, which FXSAVE needs. */
	uint8_t fx_space[FXSAVE_BYTES + 15];
	uint8_t *fx = (uint8_t *)(((uint64_t)fx_space + 15) & ~15ULL);
	__asm__ volatile("fxsave64 (%0)" : : "r"(fx) : "memory");
	struct rt_sigframe k;
	memset(&k, 0, sizeof(k));
	k.pretcode = restorer;
	k.uc.uc_stack.ss_sp = (void *)current->altstack[0];
	k.uc.uc_stack.ss_flags = (int)current->altstack[1];
	k.uc.uc_stack.ss_size = current->altstack[2];
	fill_context(&k.uc.uc_mcontext, r, fp);
	k.uc.uc_sigmask = current->sig_suspended ? current->saved_mask : current->sigmask;
	signal_fill_info(&k.info, sig, in);
	if (copy_to_user(fp, fx, FXSAVE_BYTES) || copy_to_user(frame, &k, sizeof(k)))
		return false;
	current->sig_suspended = false;
	/* SS_AUTODISARM: the alternate stack is off while its handler runs;
	 * rt_sigreturn brings it back from uc_stack. */
	if (at.on_alt && (current->altstack[1] & SS_AUTODISARM)) {
		current->altstack[0] = current->altstack[2] = 0;
		current->altstack[1] = SS_DISABLE;
	}
	current->sigmask |= mask | ((flags & SA_NODEFER) ? 0 : BIT(sig));
	current->sigmask &= ~UNBLOCKABLE;
	if (flags & SA_RESETHAND)
		act[0] = 0;
	r->rsp = frame;
	r->rip = handler;
	r->rdi = (uint64_t)sig;
	r->rsi = frame + offsetof(struct rt_sigframe, info);
	r->rdx = frame + offsetof(struct rt_sigframe, uc);
	r->rax = 0; /* no vector registers used: what varargs handlers read */
	r->rflags &= ~(0x400ULL | 0x100ULL); /* DF, TF clear in the handler */
	return true;
}

/* The checks before a handler runs; false: the program dies (said why). */
static bool handler_usable(int sig)
{
	if (!(current->proc->sigactions[sig][1] & SA_RESTORER)) {
		kwarn("signal %d: a handler without SA_RESTORER cannot return\n", sig);
		return false;
	}
	return true;
}

bool signal_fault(struct trap_frame *tf, int sig, int code, uint64_t addr)
{
	uint64_t h = handler_of(sig);
	/* As Linux's forced signals: blocked or ignored, the default kills. */
	if (h <= 1 || (current->sigmask & BIT(sig)) || !handler_usable(sig))
		return false;
	struct uregs r = {
		.r8 = tf->r8, .r9 = tf->r9, .r10 = tf->r10, .r11 = tf->r11, .r12 = tf->r12,
		.r13 = tf->r13, .r14 = tf->r14, .r15 = tf->r15, .rdi = tf->rdi, .rsi = tf->rsi,
		.rbp = tf->rbp, .rbx = tf->rbx, .rdx = tf->rdx, .rax = tf->rax, .rcx = tf->rcx,
		.rsp = tf->rsp, .rip = tf->rip, .rflags = tf->rflags, .trapno = tf->vector,
		.err = tf->error, .cr2 = tf->vector == 14 ? addr : 0,
	};
	struct sig_info in = { .code = code, .addr = addr };
	if (!run_handler(&r, sig, &in))
		return false;
	tf->rsp = r.rsp, tf->rip = r.rip, tf->rdi = r.rdi, tf->rsi = r.rsi, tf->rdx = r.rdx;
	tf->rax = r.rax, tf->rflags = r.rflags;
	return true;
}

/* The first deliverable signal, taken off its pending set (the thread's
 * own first), with what came with it; 0: none. Default actions that end
 * the program happen here. */
static int take_signal(struct sig_info *in)
{
	int sig;
	while ((sig = signal_dequeue(~current->sigmask, in))) {
		if (ignored(sig))
			continue;
		if (handler_of(sig) == 0 || !handler_usable(sig))
			process_exit_signal(sig); /* the default action ends it */
		return sig;
	}
	return 0;
}

void signal_deliver_trap(struct trap_frame *tf)
{
	struct sig_info in;
	int sig = take_signal(&in);
	if (!sig)
		return;
	struct uregs r = {
		.r8 = tf->r8, .r9 = tf->r9, .r10 = tf->r10, .r11 = tf->r11, .r12 = tf->r12,
		.r13 = tf->r13, .r14 = tf->r14, .r15 = tf->r15, .rdi = tf->rdi, .rsi = tf->rsi,
		.rbp = tf->rbp, .rbx = tf->rbx, .rdx = tf->rdx, .rax = tf->rax, .rcx = tf->rcx,
		.rsp = tf->rsp, .rip = tf->rip, .rflags = tf->rflags,
	};
	if (!run_handler(&r, sig, &in)) {
		kwarn("signal %d: no room for the handler's frame at 0x%llx\n", sig,
		      (unsigned long long)tf->rsp);
		process_exit_signal(SIGSEGV);
	}
	tf->rsp = r.rsp, tf->rip = r.rip, tf->rdi = r.rdi, tf->rsi = r.rsi, tf->rdx = r.rdx;
	tf->rax = r.rax, tf->rflags = r.rflags;
}

int64_t signal_deliver(struct syscall_frame *f, int64_t ret)
{
	struct sig_info in;
	int sig = take_signal(&in);
	if (sig) {
		struct uregs r = {
			.r8 = f->r8, .r9 = f->r9, .r10 = f->r10, .r11 = f->rflags, .r12 = f->r12,
			.r13 = f->r13, .r14 = f->r14, .r15 = f->r15, .rdi = f->rdi, .rsi = f->rsi,
			.rbp = f->rbp, .rbx = f->rbx, .rdx = f->rdx, .rax = (uint64_t)ret,
			.rcx = f->rip, .rsp = f->rsp, .rip = f->rip, .rflags = f->rflags,
		};
		if (current->full_restore) /* right after rt_sigreturn: the real ones */
			r.rcx = current->full_rcx, r.r11 = current->full_r11;
		if (ret == -EINTR && (current->proc->sigactions[sig][1] & SA_RESTART) && restartable(f->nr)) {
			r.rip -= 2; /* back onto the syscall instruction */
			r.rax = f->nr;
		}
		if (!run_handler(&r, sig, &in)) {
			kwarn("signal %d: no room for the handler's frame at 0x%llx\n", sig,
			      (unsigned long long)f->rsp);
			process_exit_signal(SIGSEGV);
		}
		f->rsp = r.rsp, f->rip = r.rip, f->rdi = r.rdi, f->rsi = r.rsi, f->rdx = r.rdx;
		f->rflags = r.rflags;
		return (int64_t)r.rax; /* one at a time: the next when this handler is done */
	}
	if (current->sig_suspended) { /* rt_sigsuspend woken by nothing a handler took */
		current->sigmask = current->saved_mask;
		current->sig_suspended = false;
	}
	return ret;
}

void signal_exit_path(void)
{
	/* user.S's exit reads them from the base of the stack it returns
	 * on, which is this one (kstack.h): per task, whatever CPU. */
	if (current->full_restore) {
		struct kstack_base *b = kstack_base();
		current->full_restore = false;
		b->full_rcx = current->full_rcx;
		b->full_r11 = current->full_r11;
		b->full_restore = 1;
	}
}

void signal_suspend(uint64_t mask)
{
	current->saved_mask = current->sigmask;
	current->sig_suspended = true;
	current->sigmask = mask & ~UNBLOCKABLE;
}

int64_t signal_return(struct syscall_frame *f)
{
	struct ucontext uc;
	if (copy_from_user(&uc, f->rsp, sizeof(uc))) {
		kwarn("rt_sigreturn: no signal frame at 0x%llx\n", (unsigned long long)f->rsp);
		process_exit_signal(SIGSEGV);
	}
	const struct sigcontext *c = &uc.uc_mcontext;
	if (c->fpstate) {
		uint8_t fx_space[FXSAVE_BYTES + 15], now_space[FXSAVE_BYTES + 15];
		uint8_t *fx = (uint8_t *)(((uint64_t)fx_space + 15) & ~15ULL); /* see run_handler */
		uint8_t *now = (uint8_t *)(((uint64_t)now_space + 15) & ~15ULL);
		if (copy_from_user(fx, (uint64_t)c->fpstate, FXSAVE_BYTES)) {
			kwarn("rt_sigreturn: bad FPU state pointer\n");
			process_exit_signal(SIGSEGV);
		}
		/* MXCSR bits the CPU does not have would fault in the kernel:
		 * keep those its MXCSR_MASK (offset 28 of an FXSAVE image; 0
		 * means the architectural 0xffbf) says it has. */
		__asm__ volatile("fxsave64 (%0)" : : "r"(now) : "memory");
		uint32_t mxcsr, mask;
		memcpy(&mask, now + 28, sizeof(mask));
		memcpy(&mxcsr, fx + 24, sizeof(mxcsr));
		mxcsr &= mask ? mask : 0xffbf;
		memcpy(fx + 24, &mxcsr, sizeof(mxcsr));
		__asm__ volatile("fxrstor64 (%0)" : : "r"(fx) : "memory");
	}
	f->r8 = c->r8, f->r9 = c->r9, f->r10 = c->r10;
	f->r12 = c->r12, f->r13 = c->r13, f->r14 = c->r14, f->r15 = c->r15;
	f->rdi = c->rdi, f->rsi = c->rsi, f->rbp = c->rbp, f->rbx = c->rbx, f->rdx = c->rdx;
	if (c->rip >= USER_TOP) {
		kwarn("rt_sigreturn: to address 0x%llx, outside user space\n",
		      (unsigned long long)c->rip);
		process_exit_signal(SIGSEGV);
	}
	f->rsp = c->rsp;
	f->rip = c->rip;
	f->rflags = (f->rflags & ~USER_FLAGS) | (c->eflags & USER_FLAGS);
	current->sigmask = uc.uc_sigmask & ~UNBLOCKABLE;
	/* The alternate stack as the frame says, as Linux's restore_altstack
	 * (what SS_AUTODISARM took away comes back; a bad one is ignored). */
	uint64_t ssf = (uint32_t)uc.uc_stack.ss_flags & (SS_DISABLE | SS_AUTODISARM);
	if ((ssf & SS_DISABLE) || uc.uc_stack.ss_size >= 2048) {
		bool off = ssf & SS_DISABLE;
		current->altstack[0] = off ? 0 : (uint64_t)uc.uc_stack.ss_sp;
		current->altstack[1] = ssf;
		current->altstack[2] = off ? 0 : uc.uc_stack.ss_size;
	}
	/* rcx and r11 too: the exit path takes them (signal_exit_path). */
	current->full_restore = true;
	current->full_rcx = c->rcx;
	current->full_r11 = c->r11;
	return (int64_t)c->rax;
}
