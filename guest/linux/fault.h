/*
 * Faults of the program: page faults inside its regions are demand paging;
 * anything else ends it with the signal Linux would send, and the exit
 * status a shell shows for that (128 + signal).
 */
#ifndef GUEST_FAULT_H
#define GUEST_FAULT_H

#include "../arch/x86_64/trap.h"

/* Handles an exception from ring 3, or a kernel page fault on a user address. */
void user_fault(struct trap_frame *f, uint64_t cr2);

#endif
