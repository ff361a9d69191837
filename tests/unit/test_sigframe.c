/* Unit tests for lib/sigframe.c: where a signal handler's frame goes.
 * Explicit cases with hand-computed addresses (plain red zone, entering
 * the alternate stack, a nested signal staying on it below the current
 * rsp, rsp exactly at the alt stack's top and base, disabled and
 * zero-size alt stacks, onstack not asked while on the alt stack), the
 * real x86_64 rt_sigframe size (440) from the kernel's uapi headers, and
 * a seeded random run of many cases checked against a model and against
 * the invariants: fpstate 64-aligned, frame + 8 16-aligned, the frame
 * block below the FXSAVE block without overlap, both wholly below the
 * start point (alt top or rsp - 128), and no more space wasted than the
 * alignment needs.
 * No <stdlib.h> here: it pulls glibc's sigset_t/timeval, which clash
 * with the kernel's <asm/signal.h> that <asm/ucontext.h> needs. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <asm/sigcontext.h>
#include <linux/signal.h>
#include <asm/ucontext.h>
#include <asm-generic/siginfo.h>
#include <pier/sigframe.h>

/* What guest/linux/signal.c writes for a handler. */
struct rt_sigframe {
	uint64_t pretcode;
	struct ucontext uc;
	siginfo_t info;
};
#define KSIZE sizeof(struct rt_sigframe)

static bool inside(uint64_t rsp, const struct sigframe_stack *alt)
{
	return rsp > alt->sp && rsp - alt->sp <= alt->size;
}

/* The model: where the frame starts (everything goes below it). */
static uint64_t model_start(uint64_t rsp, const struct sigframe_stack *alt, bool onstack,
			    bool *on_alt)
{
	if (onstack && !alt->disabled && alt->size && !inside(rsp, alt)) {
		*on_alt = true;
		return alt->sp + alt->size;
	}
	*on_alt = inside(rsp, alt);
	return rsp - SIGFRAME_RED_ZONE;
}

/* Checks p against the model and every invariant; returns the start. */
static uint64_t check(struct sigframe_place p, uint64_t rsp, const struct sigframe_stack *alt,
		      bool onstack, uint64_t size)
{
	bool on_alt;
	uint64_t start = model_start(rsp, alt, onstack, &on_alt);
	assert_int_equal(p.fpstate % 64, 0);
	assert_int_equal((p.frame + 8) % 16, 0);
	/* The FXSAVE image wholly below the start, at most 63 bytes lost. */
	assert_true(p.fpstate + SIGFRAME_FXSAVE <= start);
	assert_true(p.fpstate + SIGFRAME_FXSAVE + 64 > start);
	/* The frame wholly below the FXSAVE image, no overlap, tight. */
	assert_true(p.frame + size <= p.fpstate);
	assert_true(p.frame < p.fpstate && p.frame + size <= p.fpstate); /* [frame,+size) ∩ [fp,+512) = ∅ */
	assert_true(p.frame + size + 24 > p.fpstate);
	/* Exactly Linux's arithmetic. */
	assert_int_equal(p.fpstate, (start - SIGFRAME_FXSAVE) & ~63ULL);
	assert_int_equal(p.frame, ((p.fpstate - size) & ~15ULL) - 8);
	/* A disabled stack with its old range kept cannot come from the guest
	 * (sigaltstack zeroes sp and size); on_alt there is not specified. */
	if (!(alt->disabled && inside(rsp, alt)))
		assert_int_equal(p.on_alt, on_alt);
	if (start == rsp - SIGFRAME_RED_ZONE) /* the red zone untouched */
		assert_true(p.fpstate + SIGFRAME_FXSAVE <= rsp - SIGFRAME_RED_ZONE);
	return start;
}

static struct sigframe_place place(uint64_t rsp, const struct sigframe_stack *alt, bool onstack,
				   uint64_t size)
{
	struct sigframe_place p = sigframe_place(rsp, alt, onstack, size);
	check(p, rsp, alt, onstack, size);
	return p;
}

static const struct sigframe_stack none = { 0, 0, false };
static const struct sigframe_stack alt = { 0x10000000, 0x2000, false }; /* top 0x10002000 */

static void test_real_frame_size(void **state)
{
	(void)state;
	/* pretcode 8 + ucontext 304 (flags, link, stack_t 24, sigcontext 256,
	 * sigset 8) + siginfo 128. */
	assert_int_equal(sizeof(struct sigcontext), 256);
	assert_int_equal(sizeof(siginfo_t), 128);
	assert_int_equal(KSIZE, 440);
	assert_int_equal(offsetof(struct rt_sigframe, uc), 8);
}

static void test_red_zone(void **state)
{
	(void)state;
	struct sigframe_place p = place(0x7fff00001000, &none, false, KSIZE);
	assert_int_equal(p.fpstate, 0x7fff00000d80); /* 0x1000 - 128 - 512 */
	assert_int_equal(p.frame, 0x7fff00000bb8);
	assert_false(p.on_alt);
	/* Unaligned rsp, a bigger frame; SA_ONSTACK without a stack. */
	p = place(0x7fff00000fff, &none, true, 1000);
	assert_int_equal(p.fpstate, 0x7fff00000d40);
	assert_int_equal(p.frame, 0x7fff00000948);
	assert_false(p.on_alt);
}

static void test_enter_alt(void **state)
{
	(void)state;
	struct sigframe_place p = place(0x7fff00001000, &alt, true, KSIZE);
	assert_int_equal(p.fpstate, 0x10001e00); /* top - 512, no red zone */
	assert_int_equal(p.frame, 0x10001c38);
	assert_true(p.on_alt);
	/* Without SA_ONSTACK the alt stack is not used. */
	p = place(0x7fff00001000, &alt, false, KSIZE);
	assert_int_equal(p.fpstate, 0x7fff00000d80);
	assert_false(p.on_alt);
}

static void test_nested_stays_on_alt(void **state)
{
	(void)state;
	struct sigframe_place first = place(0x7fff00001000, &alt, true, KSIZE);
	/* A second signal while the first handler runs on the alt stack. */
	struct sigframe_place p = place(first.frame, &alt, true, KSIZE);
	assert_true(p.on_alt);
	assert_true(p.fpstate + SIGFRAME_FXSAVE <= first.frame - SIGFRAME_RED_ZONE);
	assert_int_equal(p.fpstate, (first.frame - 128 - 512) & ~63ULL);
	assert_true(p.frame > alt.sp);
	/* Deep nesting runs off the alt stack's bottom: the frame is then
	 * below alt.sp and the caller has to notice (Linux kills with SIGSEGV). */
	uint64_t rsp = first.frame;
	int depth = 0;
	do {
		p = place(rsp, &alt, true, KSIZE);
		rsp = p.frame;
		assert_true(p.on_alt);
	} while (rsp >= alt.sp && ++depth < 100);
	assert_int_equal(depth, 6); /* 7224 bytes left, ~1100 a frame */
	assert_true(rsp < alt.sp); /* on_alt still true: nothing else says so */
}

static void test_alt_edges(void **state)
{
	(void)state;
	uint64_t top = alt.sp + alt.size;
	/* rsp == top counts as on the alt stack (an empty one in use). */
	struct sigframe_place p = place(top, &alt, true, KSIZE);
	assert_int_equal(p.fpstate, (top - 128 - 512) & ~63ULL);
	assert_true(p.on_alt);
	/* rsp == base does not: switch to the top. */
	p = place(alt.sp, &alt, true, KSIZE);
	assert_int_equal(p.fpstate, 0x10001e00);
	assert_true(p.on_alt);
	/* Just above the top, just above the base. */
	p = place(top + 1, &alt, true, KSIZE);
	assert_int_equal(p.fpstate, 0x10001e00);
	p = place(alt.sp + 1, &alt, true, KSIZE);
	assert_int_equal(p.fpstate, (alt.sp + 1 - 128 - 512) & ~63ULL);
	assert_true(p.on_alt);
}

static void test_disabled_or_empty(void **state)
{
	(void)state;
	struct sigframe_stack dis = alt;
	dis.disabled = true;
	struct sigframe_place p = place(0x7fff00001000, &dis, true, KSIZE);
	assert_int_equal(p.fpstate, 0x7fff00000d80);
	assert_false(p.on_alt);
	struct sigframe_stack empty = { 0x10000000, 0, false };
	p = place(0x7fff00001000, &empty, true, KSIZE);
	assert_int_equal(p.fpstate, 0x7fff00000d80);
	assert_false(p.on_alt);
	p = place(0x10000000, &empty, true, KSIZE); /* rsp at its "top" */
	assert_int_equal(p.fpstate, (0x10000000 - 128 - 512) & ~63ULL);
	assert_false(p.on_alt);
}

static void test_onstack_not_asked_while_on_alt(void **state)
{
	(void)state;
	struct sigframe_place p = place(0x10001000, &alt, false, KSIZE);
	assert_int_equal(p.fpstate, (0x10001000 - 128 - 512) & ~63ULL);
	assert_true(p.on_alt); /* running on it already */
}

static uint64_t rng = 0x5eed5eed12345678ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_random(void **state)
{
	(void)state;
	int used_alt = 0, nested = 0, red = 0;
	for (int i = 0; i < 200000; i++) {
		struct sigframe_stack a = { 0x1000000 + (rnd() % 0x7f000000000ULL), 0, false };
		uint64_t kind = rnd() % 8;
		if (kind) /* 1 in 8: no stack */
			a.size = 1 + rnd() % (kind == 1 ? 600 : 0x20000);
		a.disabled = rnd() % 6 == 0;
		uint64_t rsp;
		switch (rnd() % 5) {
		case 0: rsp = a.sp + (a.size ? 1 + rnd() % a.size : 0); break; /* inside */
		case 1: rsp = a.sp + a.size - (rnd() % 2); break;               /* top edge */
		case 2: rsp = a.sp + (rnd() % 2); break;                        /* base edge */
		default: rsp = 0x1000000 + rnd() % 0x7ff000000000ULL; break;
		}
		bool onstack = rnd() & 1;
		uint64_t size = 440 + rnd() % 761;
		struct sigframe_place p = sigframe_place(rsp, &a, onstack, size);
		uint64_t start = check(p, rsp, &a, onstack, size);
		if (start != rsp - SIGFRAME_RED_ZONE)
			used_alt++;
		else if (p.on_alt)
			nested++;
		else
			red++;
	}
	/* Every path taken many times. */
	assert_true(used_alt > 10000 && nested > 10000 && red > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_frame_size),
		cmocka_unit_test(test_red_zone),
		cmocka_unit_test(test_enter_alt),
		cmocka_unit_test(test_nested_stays_on_alt),
		cmocka_unit_test(test_alt_edges),
		cmocka_unit_test(test_disabled_or_empty),
		cmocka_unit_test(test_onstack_not_asked_while_on_alt),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
