/*
 * TLB shoot-down (see tlb.h). Only the kernel lock's holder changes page
 * tables, so one shoot-down is in flight at a time: one set of words.
 *
 * Who has m: each CPU publishes the space it loads (struct cpu's mm,
 * vm_activate) before loading it, with a full barrier; the sender changes
 * the tables, then a full barrier, then reads the CPUs' spaces. Either
 * the sender sees a CPU's m, or that CPU loaded m's tables after the
 * change: nothing stale survives.
 */
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/irq.h"
#include "../arch/x86_64/paging.h"
#include "../kernel/panic.h"
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "tlb.h"

#define ANSWER_NS 5000000000ULL /* a CPU that does not answer in 5 s is stuck */

static int waiting;       /* answers still due */
static struct mm *to_drop; /* drop: the space the CPUs leave */
static unsigned long sent;

void tlb_shootdown(struct mm *m, bool drop)
{
	int n = smp_cpus_online();
	if (n == 1 || !m)
		return;
	struct cpu *self = cpu_this();
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the tables' change before the look */
	to_drop = drop ? m : NULL;
	int due = 0;
	for (int i = 0; i < n; i++) {
		struct cpu *c = &smp_cpus[i];
		if (c == self || __atomic_load_n(&c->mm, __ATOMIC_SEQ_CST) != m)
			continue;
		__atomic_add_fetch(&waiting, 1, __ATOMIC_SEQ_CST);
		irq_send_tlb(c->apic_id);
		due++;
	}
	if (!due)
		return;
	sent += (unsigned long)due;
	uint64_t t0 = time_ns();
	while (__atomic_load_n(&waiting, __ATOMIC_ACQUIRE)) {
		if (time_ns() - t0 > ANSWER_NS)
			panic("TLB shoot-down: %d of %d CPUs did not answer in 5 s",
			      __atomic_load_n(&waiting, __ATOMIC_RELAXED), due);
		cpu_relax();
	}
	to_drop = NULL;
}

void tlb_answer(void)
{
	struct cpu *c = cpu_this();
	struct mm *drop = __atomic_load_n(&to_drop, __ATOMIC_ACQUIRE);
	if (drop && c->mm == drop) {
		__atomic_store_n(&c->mm, NULL, __ATOMIC_SEQ_CST);
		write_cr3(boot_pml4_phys);
	} else {
		write_cr3(read_cr3()); /* every non-global entry goes */
	}
	c->tlb_flushes++;
	__atomic_sub_fetch(&waiting, 1, __ATOMIC_RELEASE);
}

unsigned long tlb_ipis(void)
{
	return sent;
}
