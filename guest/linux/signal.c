/* Pending signals, handlers and default actions (see signal.h). */
#include <asm/sigcontext.h>
#include <linux/signal.h>
#include <asm/ucontext.h>
#include <asm-generic/siginfo.h>
#include <asm/unistd_64.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/gdt.h"
#include "../drivers/virtio_console.h"
#include "../kernel/console.h"
#include "../kernel/control.h"
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
#define RED_ZONE 128
#define FXSAVE_BYTES 512
/* Flags a handler's sigreturn may change: CF PF AF ZF SF TF DF OF AC. */
#define USER_FLAGS 0x40dd5ULL

/* What Linux puts on the stack for a handler (x86_64 rt_sigframe). */
struct rt_sigframe {
	uint64_t pretcode; /* sa_restorer: the handler returns into it */
	struct ucontext uc;
	siginfo_t info;
};

static uint64_t pending; /* sent to the process: any thread not blocking one takes it */

static uint64_t handler_of(int sig)
{
	return proc.sigactions[sig][0];
}

static bool ignored(int sig)
{
	uint64_t h = handler_of(sig);
	return h == 1 /* SIG_IGN */ || (h == 0 && (BIT(sig) & (IGNORED_BY_DEFAULT | STOPS)));
}

void signal_post(int sig)
{
	if (sig >= 1 && sig <= 64 && !ignored(sig)) {
		pending |= BIT(sig);
		task_wake_all(); /* a waiting thread may be the one to take it */
	}
}

void signal_post_thread(struct task *t, int sig)
{
	if (sig >= 1 && sig <= 64 && !ignored(sig)) {
		t->sigpending |= BIT(sig);
		task_wake_all();
	}
}

uint64_t signal_pending_blocked(void)
{
	return (pending | current->sigpending) & current->sigmask;
}

static void drop_ignored(struct task *t, void *arg)
{
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
	if ((k->bits & ~t->sigmask) && (k->tid == 0 || t->tid < k->tid))
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
	if (task_count() == 1)
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

/* The stack the handler runs on: the alternate one if asked for, set up,
 * and not already in use; else the program's own. */
static uint64_t handler_stack(uint64_t flags, uint64_t rsp)
{
	uint64_t base = current->altstack[0], size = current->altstack[2];
	bool on_alt = rsp > base && rsp <= base + size;
	if ((flags & SA_ONSTACK) && !(current->altstack[1] & SS_DISABLE) && size && !on_alt)
		return base + size;
	return rsp - RED_ZONE;
}

static void fill_context(struct sigcontext *c, const struct syscall_frame *f, int64_t rax,
			 uint64_t rip, uint64_t fpstate)
{
	memset(c, 0, sizeof(*c));
	c->r8 = f->r8, c->r9 = f->r9, c->r10 = f->r10, c->r11 = f->rflags;
	c->r12 = f->r12, c->r13 = f->r13, c->r14 = f->r14, c->r15 = f->r15;
	c->rdi = f->rdi, c->rsi = f->rsi, c->rbp = f->rbp, c->rbx = f->rbx, c->rdx = f->rdx;
	c->rax = (uint64_t)rax;
	c->rcx = f->rip;
	c->rsp = f->rsp;
	c->rip = rip;
	c->eflags = f->rflags;
	c->cs = GDT_USER_CS | 3;
	c->oldmask = current->sigmask;
	c->fpstate = (struct _fpstate *)fpstate;
}

/* Interrupted calls that a handler with SA_RESTART makes start again. */
static bool restartable(uint64_t nr)
{
	return nr == __NR_read || nr == __NR_write || nr == __NR_readv || nr == __NR_writev ||
	       nr == __NR_ioctl || nr == __NR_wait4 || nr == __NR_pread64 || nr == __NR_pwrite64;
}

/* Sets up the handler of sig to run when f returns; false: the frame
 * could not be written (the program then dies of SIGSEGV, as on Linux). */
static bool run_handler(struct syscall_frame *f, int sig, int64_t *ret)
{
	uint64_t *act = proc.sigactions[sig];
	uint64_t handler = act[0], flags = act[1], restorer = act[2], mask = act[3];
	if (handler >= USER_TOP) /* sysretq to a non-canonical address faults in ring 0 */
		return false;
	uint64_t rip = f->rip;
	int64_t rax = *ret;
	if (*ret == -EINTR && (flags & SA_RESTART) && restartable(f->nr)) {
		rip -= 2; /* back onto the syscall instruction */
		rax = (int64_t)f->nr;
	}
	uint64_t sp = handler_stack(flags, f->rsp);
	uint64_t fp = (sp - FXSAVE_BYTES) & ~63ULL;
	/* The handler starts as if called: rsp + 8 16-byte aligned. */
	uint64_t frame = ((fp - sizeof(struct rt_sigframe)) & ~15ULL) - 8;
	static uint8_t fx[FXSAVE_BYTES] __attribute__((aligned(16)));
	__asm__ volatile("fxsave64 %0" : "=m"(fx));
	struct rt_sigframe k;
	memset(&k, 0, sizeof(k));
	k.pretcode = restorer;
	k.uc.uc_stack.ss_sp = (void *)current->altstack[0];
	k.uc.uc_stack.ss_flags = (int)current->altstack[1];
	k.uc.uc_stack.ss_size = current->altstack[2];
	fill_context(&k.uc.uc_mcontext, f, rax, rip, fp);
	k.uc.uc_sigmask = current->sig_suspended ? current->saved_mask : current->sigmask;
	current->sig_suspended = false;
	k.info.si_signo = sig;
	k.info.si_code = 0; /* SI_USER */
	if (copy_to_user(fp, fx, sizeof(fx)) || copy_to_user(frame, &k, sizeof(k)))
		return false;
	current->sigmask |= mask | ((flags & SA_NODEFER) ? 0 : BIT(sig));
	current->sigmask &= ~UNBLOCKABLE;
	if (flags & SA_RESETHAND)
		act[0] = 0;
	f->rsp = frame;
	f->rip = handler;
	f->rdi = (uint64_t)sig;
	f->rsi = frame + offsetof(struct rt_sigframe, info);
	f->rdx = frame + offsetof(struct rt_sigframe, uc);
	f->rflags &= ~(0x400ULL | 0x100ULL); /* DF, TF clear in the handler */
	*ret = 0;
	return true;
}

int64_t signal_deliver(struct syscall_frame *f, int64_t ret)
{
	vcon_poll(); /* signals from pier arrive on the console */
	uint64_t ready = (pending | current->sigpending) & ~current->sigmask;
	for (int sig = 1; ready && sig <= 64; sig++) {
		if (!(ready & BIT(sig)))
			continue;
		if (current->sigpending & BIT(sig)) /* the thread's own first */
			current->sigpending &= ~BIT(sig);
		else
			pending &= ~BIT(sig);
		ready &= ~BIT(sig);
		if (ignored(sig))
			continue;
		uint64_t h = handler_of(sig);
		if (h == 0)
			process_exit_signal(sig); /* the default action ends it */
		if (!(proc.sigactions[sig][1] & SA_RESTORER)) {
			kwarn("signal %d: a handler without SA_RESTORER cannot return\n", sig);
			process_exit_signal(sig);
		}
		if (!run_handler(f, sig, &ret)) {
			kwarn("signal %d: no room for the handler's frame at 0x%llx\n", sig,
			      (unsigned long long)f->rsp);
			process_exit_signal(SIGSEGV);
		}
		return ret; /* one at a time: the next when this handler is done */
	}
	if (current->sig_suspended) { /* rt_sigsuspend woken by nothing a handler took */
		current->sigmask = current->saved_mask;
		current->sig_suspended = false;
	}
	return ret;
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
		static uint8_t fx[FXSAVE_BYTES] __attribute__((aligned(16)));
		if (copy_from_user(fx, (uint64_t)c->fpstate, sizeof(fx))) {
			kwarn("rt_sigreturn: bad FPU state pointer\n");
			process_exit_signal(SIGSEGV);
		}
		/* MXCSR bits the CPU does not have would fault in the kernel:
		 * keep those its MXCSR_MASK (offset 28 of an FXSAVE image; 0
		 * means the architectural 0xffbf) says it has. */
		static uint8_t now[FXSAVE_BYTES] __attribute__((aligned(16)));
		__asm__ volatile("fxsave64 %0" : "=m"(now));
		uint32_t mxcsr, mask;
		memcpy(&mask, now + 28, sizeof(mask));
		memcpy(&mxcsr, fx + 24, sizeof(mxcsr));
		mxcsr &= mask ? mask : 0xffbf;
		memcpy(fx + 24, &mxcsr, sizeof(mxcsr));
		__asm__ volatile("fxrstor64 %0" : : "m"(fx));
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
	return (int64_t)c->rax;
}
