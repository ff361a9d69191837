/*
 * TLB shoot-down (see tlb.h). Only the kernel lock's holder changes page
 * tables, so one shoot-down is in flight at a time (checked: `sending`).
 *
 * Who has m: each CPU publishes the space it loads (struct cpu's mm,
 * vm_activate) before loading it, with a full barrier; the sender changes
 * the tables, then a full barrier, then reads the CPUs' spaces. Either
 * the sender sees a CPU's m, or that CPU loaded m's tables after the
 * change: nothing stale survives.
 *
 * Answers go by number, not by count: the sender numbers each shoot-down
 * (`number`, published after the tables' change) and waits until every
 * CPU it sent to has answered that number (`tlb_done`). An IPI that
 * arrives twice, or late, finds its number answered and only counts
 * itself (`tlb_extra`): a countdown would go below zero on it and never
 * end. Nested under QEMU 7.2's TCG one did (-1 of 3 due, 2026-12-07).
 */
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/irq.h"
#include "../arch/x86_64/paging.h"
#include "../kernel/panic.h"
#include "../kernel/task.h"
#include "../kernel/time.h"
#include "tlb.h"

#define ANSWER_NS 5000000000ULL /* a CPU that does not answer in 5 s is stuck */

static unsigned long number;   /* the latest shoot-down's */
static struct mm *to_drop;     /* drop: the space the CPUs leave */
static int sending = -1;       /* the CPU whose shoot-down is in flight */
static unsigned long sent;
bool tlb_send_twice;

/* CPU i has not answered shoot-down n yet. */
static bool unanswered(int i, unsigned long n)
{
	return __atomic_load_n(&smp_cpus[i].tlb_done, __ATOMIC_ACQUIRE) < n;
}

void tlb_shootdown(struct mm *m, bool drop)
{
	int n = smp_cpus_online();
	if (n == 1 || !m)
		return;
	struct cpu *self = cpu_this();
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the tables' change before the look */
	bool due[SMP_MAX_CPUS] = { false };
	int ndue = 0;
	for (int i = 0; i < n; i++) {
		struct cpu *c = &smp_cpus[i];
		if (c != self && __atomic_load_n(&c->mm, __ATOMIC_SEQ_CST) == m) {
			due[i] = true;
			ndue++;
		}
	}
	if (!ndue)
		return; /* the common case (a one-thread program): no shared word written */
	int none = -1;
	if (!__atomic_compare_exchange_n(&sending, &none, self->index, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		panic("TLB shoot-downs from CPUs %d and %d at once", none, self->index);
	to_drop = drop ? m : NULL;
	unsigned long num = number + 1;
	__atomic_store_n(&number, num, __ATOMIC_SEQ_CST); /* with to_drop, before any IPI */
	for (int i = 0; i < n; i++)
		if (due[i])
			irq_send_tlb(smp_cpus[i].apic_id);
	sent += (unsigned long)ndue;
	uint64_t t0 = time_ns();
	for (int i = 0; i < n; i++) {
		while (due[i] && unanswered(i, num)) {
			if (time_ns() - t0 > ANSWER_NS)
				panic("TLB shoot-down %lu: CPU %d (of %d due) did not answer in 5 s", num,
				      i, ndue);
			cpu_relax();
		}
	}
	/* The repeat after the answer: sent at once, the APIC would merge it
	 * with the first while that one waits. */
	for (int i = 0; i < n && tlb_send_twice; i++)
		if (due[i])
			irq_send_tlb(smp_cpus[i].apic_id);
	to_drop = NULL;
	__atomic_store_n(&sending, -1, __ATOMIC_RELEASE);
}

void tlb_answer(void)
{
	struct cpu *c = cpu_this();
	unsigned long num = __atomic_load_n(&number, __ATOMIC_ACQUIRE);
	if (c->tlb_done >= num) {
		c->tlb_extra++;
		return;
	}
	struct mm *drop = __atomic_load_n(&to_drop, __ATOMIC_ACQUIRE);
	if (drop && c->mm == drop) {
		__atomic_store_n(&c->mm, NULL, __ATOMIC_SEQ_CST);
		write_cr3(boot_pml4_phys);
	} else {
		write_cr3(read_cr3()); /* every non-global entry goes */
	}
	c->tlb_flushes++;
	__atomic_store_n(&c->tlb_done, num, __ATOMIC_RELEASE);
}

void tlb_counts(unsigned long *ipis, unsigned long *answered, unsigned long *extra)
{
	*ipis = sent;
	*answered = *extra = 0;
	for (int i = 0; i < smp_cpus_online(); i++) {
		*answered += smp_cpus[i].tlb_flushes;
		*extra += smp_cpus[i].tlb_extra;
	}
}
