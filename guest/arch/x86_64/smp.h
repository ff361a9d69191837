/*
 * The processors: how many the VMM gave (the command line's cpus=N, from
 * pier's --cpus: QEMU's -smp N), the application processors (every CPU
 * but the boot one) started by INIT and STARTUP messages through
 * ap_boot.S, and what each CPU keeps of its own (struct cpu). Each AP
 * loads its own GDT and TSS, the kernel's IDT, its system-call entry,
 * enables its local APIC, reports in, and runs the scheduler's idle loop
 * (kernel/task.c): tasks run on every CPU online.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#define SMP_MAX_CPUS 64 /* user.S has this many entry stubs */

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>
#include <pier/pvh.h>

struct task;
struct mm;
struct gdt_cpu;

/* One per processor, by number (0: the boot CPU; APs in APIC ID order).
 * Written by the CPU itself, except where said. */
struct cpu {
	int index;
	unsigned apic_id;
	struct gdt_cpu *gdt;          /* its GDT and TSS (gdt.c) */
	struct task *idle;            /* runs when no task can (the boot CPU's: see task_new_idle) */
	struct task *prev;            /* switched away from, until the switch is done (task.c) */
	struct mm *mm;                /* the address space its CR3 holds (vm.c) */
	uint64_t slice_end;           /* the running task's slice (task.c) */
	uint64_t timer_armed_until;   /* what its APIC timer is set for; 0: off */
	int halted;                   /* in the idle halt: a wake-up sends it an IPI (atomic:
				       * cpu_queues.h) */
	unsigned long tlb_done;       /* the last shoot-down it answered, by number (mm/tlb.c) */
	unsigned long tlb_flushes;    /* shoot-downs it answered */
	unsigned long tlb_extra;      /* shoot-down IPIs with nothing left to answer */
};

extern struct cpu smp_cpus[SMP_MAX_CPUS];

/* Starts the processors beyond the boot one, up to want in all; after
 * irq_init and kheap_init, while the start info is still whole. Returns
 * the CPUs online, the boot one included. */
int smp_start(const struct hvm_start_info *si, unsigned want);

/* CPUs online (1 before smp_start); they are smp_cpus[0..n-1]. Read on
 * every system call: inline. */
extern int smp_online;
static inline int smp_cpus_online(void)
{
	return __atomic_load_n(&smp_online, __ATOMIC_ACQUIRE);
}

/* The stack CPU c switches to on a system call or an interrupt from the
 * program: the running task's (task.c, at every switch). */
void cpu_set_kernel_stack(struct cpu *c, uint64_t top);

/* The system-call MSRs and the program's SSE bits on this CPU (each CPU
 * at its start: syscall.c). */
void syscall_cpu_init(struct cpu *c);

/* Stops every other CPU (an NMI each) and waits a moment for them: for
 * panic. Returns how many said they stopped. */
int smp_stop_others(void);
/* crash=ap (options.c): CPU cpu panics at its next interrupt (a
 * reschedule IPI sent now), to test the stop of the others. */
void smp_crash_on(int cpu);
/* Called at every reschedule IPI: panics on the CPU smp_crash_on named. */
void smp_crash_check(void);

/* The NMI's end on a CPU another one's panic stopped. */
__attribute__((noreturn)) void smp_stopped(void);
#endif

#endif
