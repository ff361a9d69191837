/*
 * Where a signal handler's frame goes (x86_64 Linux's layout): on the
 * alternate stack when the handler asked for it (SA_ONSTACK), one is set
 * up, and the interrupted code is not already on it; else below the
 * interrupted stack's 128-byte red zone. The FXSAVE image first, 64-byte
 * aligned, then the rt_sigframe below it, placed so that the handler
 * starts as if called (rsp + 8 is 16-byte aligned). Pure arithmetic, so
 * unit tests check it against the rules; guest/linux/signal.c uses it.
 */
#ifndef PIER_SIGFRAME_H
#define PIER_SIGFRAME_H

#include <stdbool.h>
#include <stdint.h>

#define SIGFRAME_RED_ZONE 128
#define SIGFRAME_FXSAVE 512

struct sigframe_stack {
	uint64_t sp, size;   /* the alternate stack (sigaltstack) */
	bool disabled;       /* SS_DISABLE */
};

struct sigframe_place {
	uint64_t frame;      /* the rt_sigframe: the handler's rsp */
	uint64_t fpstate;    /* the FXSAVE image */
	bool on_alt;         /* on the alternate stack */
};

/* The frame for a handler of rt_sigframe_size bytes, interrupted at rsp. */
struct sigframe_place sigframe_place(uint64_t rsp, const struct sigframe_stack *alt,
				     bool onstack, uint64_t rt_sigframe_size);

#endif
