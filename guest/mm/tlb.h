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

/* The shoot-down IPI's handler, on the CPU it was sent to. */
void tlb_answer(void);

/* Shoot-down IPIs sent so far, for statistics. */
unsigned long tlb_ipis(void);

#endif
