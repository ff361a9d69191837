/*
 * Program faults (see fault.h).
 */
#include <linux/signal.h>
#include <asm-generic/siginfo.h>
#include <pier/errno.h>
#include "../arch/x86_64/cpu.h"
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "../kernel/panic.h"
#include "../kernel/stats.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "fault.h"
#include "signal.h"
#include "syscall.h"

#define PF_PRESENT 1
#define PF_WRITE 2
#define PF_USER 4
#define PF_INSTR 16

static const char *signame(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGILL: return "SIGILL";
	case SIGFPE: return "SIGFPE";
	case SIGTRAP: return "SIGTRAP";
	case SIGBUS: return "SIGBUS";
	default: return "signal";
	}
}

static int signal_for(uint64_t vector)
{
	switch (vector) {
	case 0: case 16: case 19: return SIGFPE; /* divide, x87, SIMD */
	case 1: case 3: return SIGTRAP;
	case 6: return SIGILL;
	case 17: return SIGBUS; /* alignment check */
	default: return SIGSEGV; /* #GP, #PF, #SS, ... */
	}
}

/* siginfo's si_code for a fault, as Linux's traps give it. */
static int si_code_for(const struct trap_frame *f, int sig, uint64_t addr)
{
	switch (f->vector) {
	case 14:
		if (sig == SIGBUS)
			return BUS_ADRERR;
		return vm_find(addr) ? SEGV_ACCERR : SEGV_MAPERR;
	case 0: return FPE_INTDIV;
	case 16: case 19: return FPE_FLTINV;
	case 6: return ILL_ILLOPN;
	case 1: return TRAP_TRACE;
	case 17: return BUS_ADRALN;
	default: return SI_KERNEL; /* #GP, int3 and the rest */
	}
}

void user_fault(struct trap_frame *f, uint64_t cr2)
{
	uint64_t addr = f->vector == 14 ? cr2 : 0;
	int why = 0;
	/* Not present: demand paging; present and written: copy on write. */
	if (f->vector == 14 && (!(f->error & PF_PRESENT) || (f->error & PF_WRITE)) &&
	    (why = vm_fault(addr, f->error & PF_WRITE, f->error & PF_INSTR)) == 0)
		return; /* a page of one of its regions, now there */
	if ((f->cs & 3) != 3 && f->rip == (uint64_t)copy_nofault_insn) {
		f->rip = (uint64_t)copy_nofault_fixup; /* it returns what is left */
		stats.copy_faults++;
		return;
	}
	if ((f->cs & 3) != 3)
		panic("kernel fault on user address %llx at rip %llx (unchecked user access)",
		      (unsigned long long)addr, (unsigned long long)f->rip);
	if (why == -ENOMEM) {
		/* Guest RAM is used up: what Linux's OOM killer does (SIGKILL),
		 * said plainly, rather than a SIGSEGV the program did not earn. */
		kwarn("program killed by SIGKILL: out of memory (%llu KiB of guest RAM, all in use)\n",
		      (unsigned long long)(pmem_total_pages() * 4));
		kwarn("  at the %s of 0x%llx, rip 0x%llx: give the VM more with --mem\n",
		      f->error & PF_WRITE ? "write" : "read", (unsigned long long)addr,
		      (unsigned long long)f->rip);
		process_exit_signal(SIGKILL);
	}
	int sig = why == -ENXIO ? SIGBUS : signal_for(f->vector); /* past a mapped file's end */
	uint64_t where = f->vector == 14 ? addr : f->rip;
	if (signal_fault(f, sig, si_code_for(f, sig, addr), where))
		return; /* the program's handler runs (it may longjmp out, or return) */
	if (f->vector == 14)
		kwarn("program killed by %s (%s of address 0x%llx) at rip 0x%llx\n", signame(sig),
		      f->error & PF_INSTR ? "execution" : f->error & PF_WRITE ? "write" : "read",
		      (unsigned long long)addr, (unsigned long long)f->rip);
	else
		kwarn("program killed by %s (exception %llu) at rip 0x%llx\n", signame(sig),
		      (unsigned long long)f->vector, (unsigned long long)f->rip);
	process_exit_signal(sig);
}
