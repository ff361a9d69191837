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
	for (int v = 0; v < IDT_STUBS; v++)
		set_gate(v, isr_table[v], v == 8 ? GDT_IST_FAULT : 0);
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

void trap_dispatch(struct trap_frame *f)
{
	if (f->vector >= IRQ_VECTOR_BASE) {
		irq_dispatch((unsigned)f->vector);
		if (!irq_is_timer((unsigned)f->vector))
			task_wake_all(); /* a device: its waiters look again */
		else if ((f->cs & 3) == 3)
			task_tick_from_user(&f->rflags); /* a slice's end, a program timer */
		if ((f->cs & 3) == 3)
			signal_deliver_trap(f); /* a timer's signal, a tgkill, pier's ^C */
		return;
	}
	if ((f->cs & 3) == 3 || (f->vector == 14 && read_cr2() < USER_TOP)) {
		user_fault(f); /* returns if the fault was resolved (demand paging) */
		return;
	}
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
	backtrace_print(f->rbp);
	control_exit_panic();
}
