/*
 * TLB shoot-down: when the kernel takes a page away from an address
 * space, or narrows its rights, the other CPUs that have the space loaded
 * drop their cached translations before the change is relied on.
 */
#ifndef GUEST_TLB_H
#define GUEST_TLB_H

#include <stdbool.h>

struct mm;

/*
 * Every other CPU whose CR3 holds m reloads it (an IPI each) and this
 * returns once all have; with drop they load the boot page tables
 * instead (m is about to be freed). Called by the kernel lock's holder
 * after changing m's page tables; costs nothing with one CPU online, or
 * when no other CPU has m.
 */
void tlb_shootdown(struct mm *m, bool drop);

/* Option tlb_twice=1: each IPI goes twice, as a nested TCG once delivered
 * one; the tests show that costs a count, nothing more. */
extern bool tlb_send_twice;

/* The shoot-down IPI's handler, on the CPU it was sent to. */
void tlb_answer(void);

/* For statistics: shoot-down IPIs sent, answered, and received with
 * nothing left to answer (sent twice, or late). */
void tlb_counts(unsigned long *ipis, unsigned long *answered, unsigned long *extra);

#endif
