/*
 * IDT setup and the exception report: vector, name, error code, RIP, CR2,
 * registers and a backtrace, then the VM ends with PIER_EXIT_PANIC.
 */
#include <stdint.h>
#include "../../kernel/console.h"
#include "../../kernel/control.h"
#include "../../kernel/panic.h"
#include "cpu.h"
#include "gdt.h"
#include "trap.h"
#include "irq.h"
#include "smp.h"
#include "../../mm/vm.h"
#include "../../linux/fault.h"
#include "../../kernel/task.h"
#include "../../linux/signal.h"

struct idt_entry {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type; /* present | DPL | gate type */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};
_Static_assert(sizeof(struct idt_entry) == 16, "IDT entry is 16 bytes");

static struct idt_entry idt[256];
extern const uint64_t isr_table[IDT_STUBS];

static const char *const names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
	"invalid opcode", "device not available", "double fault", "coprocessor overrun",
	"invalid TSS", "segment not present", "stack fault", "general protection",
	"page fault", "reserved", "x87 FP error", "alignment check", "machine check",
	"SIMD FP error", "virtualization", "control protection",
};

static void set_gate(int vec, uint64_t handler, int ist)
{
	idt[vec] = (struct idt_entry){
		.offset_lo = handler & 0xffff,
		.selector = GDT_KERNEL_CS,
		.ist = ist,
		/* Present, 64-bit interrupt gate; DPL 3 for int3 and into, which
		 * programs raise themselves (debuggers, sanitizers): through a
		 * DPL 0 gate they would be #GP, not SIGTRAP. */
		.type = vec == 3 || vec == 4 ? 0xee : 0x8e,
		.offset_mid = (handler >> 16) & 0xffff,
		.offset_hi = handler >> 32,
	};
}

void idt_init(void)
{
	/* The double fault and the NMI on a stack of their own: an NMI can
	 * come between the system-call entry and its switch of stacks. */
	for (int v = 0; v < IDT_STUBS; v++)
		set_gate(v, isr_table[v], v == 8 || v == 2 ? GDT_IST_FAULT : 0);
	idt_load();
}

void idt_load(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

void trap_dispatch(struct trap_frame *f)
{
	bool from_user = (f->cs & 3) == 3;
	if (f->vector == 2 && panic_started())
		smp_stopped(); /* another CPU panics: this one stops */
	if (f->vector >= IRQ_VECTOR_BASE) {
		irq_dispatch((unsigned)f->vector);
		bool timer = irq_is_timer((unsigned)f->vector);
		bool ipi = irq_is_ipi((unsigned)f->vector); /* handled: nobody to wake */
		if (!timer && !ipi)
			task_wake_all(); /* a device: its waiters look again */
		if (!from_user || irq_is_tlb((unsigned)f->vector))
			return; /* in the kernel (a halt): its waiter will look */
		/* Program code was interrupted: a slice's end, a program timer,
		 * or a device's answer (its waiter runs at once); a reschedule
		 * IPI only brings a signal in (task_kick_running). */
		if (!ipi)
			task_interrupted_user(&f->rflags, timer);
		/* A timer's signal, a tgkill, pier's ^C: handled with the kernel
		 * lock; if a task waiting for the host has it, at a later look. */
		if (kernel_try_enter()) {
			signal_deliver_trap(f);
			kernel_leave();
		}
		return;
	}
	/* CR2 now: waiting for the kernel lock below lets other tasks run,
	 * and their page faults would overwrite it. */
	uint64_t cr2 = f->vector == 14 ? read_cr2() : 0;
	if (from_user || (f->vector == 14 && cr2 < USER_TOP)) {
		bool took = kernel_enter(); /* from the kernel: already held */
		bool io = task_io_unlock_pause(); /* its waits keep the lock (task.h) */
		user_fault(f, cr2); /* returns if the fault was resolved (demand paging) */
		task_io_unlock_resume(io);
		if (took)
			kernel_leave();
		return;
	}
	int stopped = panic_stop_cpus();
	console_set_quiet(0);
	const char *name = f->vector < 32 && names[f->vector] ? names[f->vector] : "unknown";
	kprintf("\nFATAL EXCEPTION %llu (%s) error=0x%llx\n",
		(unsigned long long)f->vector, name, (unsigned long long)f->error);
	kprintf("  rip=%016llx cs=%llx rflags=%llx rsp=%016llx ss=%llx\n",
		(unsigned long long)f->rip, (unsigned long long)f->cs,
		(unsigned long long)f->rflags, (unsigned long long)f->rsp,
		(unsigned long long)f->ss);
	kprintf("  cr2=%016llx cr3=%016llx\n", (unsigned long long)read_cr2(),
		(unsigned long long)read_cr3());
	kprintf("  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n",
		(unsigned long long)f->rax, (unsigned long long)f->rbx,
		(unsigned long long)f->rcx, (unsigned long long)f->rdx);
	kprintf("  rsi=%016llx rdi=%016llx rbp=%016llx\n",
		(unsigned long long)f->rsi, (unsigned long long)f->rdi,
		(unsigned long long)f->rbp);
	kprintf("  #  %016llx (faulting rip)\n", (unsigned long long)f->rip);
	panic_print_where(stopped);
	backtrace_print(f->rbp);
	control_exit_panic();
}
