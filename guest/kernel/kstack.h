/*
 * Kernel stacks and what sits at their base. Every task's kernel stack is
 * KSTACK_SIZE bytes aligned to its size, and its lowest bytes hold a
 * struct kstack_base: whose stack it is, and the full-restore words the
 * system-call exit reads (user.S). So code on any CPU finds its task from
 * its stack pointer, without a per-CPU register: `current` below. The
 * entry needs no privileged instruction for it (no swapgs, which kvm_pvm
 * runs at CPL3), and GS stays the program's.
 *
 * Included by assembly too: the offsets are the struct's (checked).
 */
#ifndef GUEST_KSTACK_H
#define GUEST_KSTACK_H

#define KSTACK_SIZE (64 * 1024)
#define KSB_TASK 8         /* 0: no task (the boot stack before the first, the fault stack) */
#define KSB_FULL 16        /* nonzero: the exit restores rcx and r11 too */
#define KSB_FULL_RCX 24
#define KSB_FULL_R11 32
#define KSB_FULL_RFLAGS 40 /* the exit's scratch words */
#define KSB_FULL_RIP 48
#define KSB_FULL_RSP 56

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

struct task;

struct kstack_base {
	uint64_t reserved;
	struct task *task;
	uint64_t full_restore, full_rcx, full_r11;
	uint64_t full_rflags, full_rip, full_rsp;
};
_Static_assert(offsetof(struct kstack_base, task) == KSB_TASK, "user.S offsets");
_Static_assert(offsetof(struct kstack_base, full_restore) == KSB_FULL, "user.S offsets");
_Static_assert(offsetof(struct kstack_base, full_rcx) == KSB_FULL_RCX, "user.S offsets");
_Static_assert(offsetof(struct kstack_base, full_r11) == KSB_FULL_R11, "user.S offsets");
_Static_assert(offsetof(struct kstack_base, full_rsp) == KSB_FULL_RSP, "user.S offsets");

/* The base of the stack this code runs on. */
static inline struct kstack_base *kstack_base(void)
{
	uint64_t sp;
	__asm__("mov %%rsp, %0" : "=r"(sp));
	return (struct kstack_base *)(sp & ~(uint64_t)(KSTACK_SIZE - 1));
}

/* The task whose kernel stack this is (NULL before the first task). The
 * same on every CPU the task runs on, and fixed for a function's life:
 * a switch changes stacks, not a running frame's task. One load, no
 * check (a check made a system call a fifth slower under TCG): so every
 * stack the kernel runs on is aligned to KSTACK_SIZE with its base
 * meaning this, or zero (the boot stack in .bss, the fault stacks). */
static inline struct task *kstack_task(void)
{
	return kstack_base()->task;
}

/* Makes [bottom, bottom + KSTACK_SIZE) task t's stack. */
static inline void kstack_claim(void *bottom, struct task *t)
{
	struct kstack_base *b = bottom;
	*b = (struct kstack_base){ .task = t };
}
#endif

#endif
