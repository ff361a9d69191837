/*
 * Interrupt and exception entry: the IDT, the register frame the assembly
 * stubs (isr.S) build, and the C dispatcher.
 */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include <stdint.h>

/* Laid out by isr.S: pushed registers, then vector, error code, CPU frame. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

void idt_init(void);
/* Loads the table idt_init filled (an application processor). */
void idt_load(void);
void trap_dispatch(struct trap_frame *f);

#endif
