/* Unit tests for lib/page_alloc.c: ranges, alignment, exhaustion, bad frees. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <linux/errno.h>
#include <pier/page_alloc.h>

#define NPAGES 1000
static uint64_t bits[(NPAGES + 63) / 64];
static struct page_alloc pa;

static int setup(void **state)
{
	(void)state;
	/* Span starts at 1 MiB; RAM is pages 0..499 and 600..999 (a hole). */
	page_alloc_init(&pa, 0x100000, NPAGES, bits);
	assert_int_equal(page_alloc_add_range(&pa, 0x100000, 500 * PAGE_SIZE), 500);
	assert_int_equal(page_alloc_add_range(&pa, 0x100000 + 600 * PAGE_SIZE, 400 * PAGE_SIZE), 400);
	return 0;
}

static void test_starts_all_used(void **state)
{
	(void)state;
	struct page_alloc p;
	uint64_t b[2], out;
	page_alloc_init(&p, 0, 100, b);
	assert_int_equal(p.nfree, 0);
	assert_int_equal(page_alloc_alloc(&p, 1, 1, &out), -ENOMEM);
}

static void test_partial_pages_not_added(void **state)
{
	(void)state;
	struct page_alloc p;
	uint64_t b[2];
	page_alloc_init(&p, 0, 100, b);
	/* Only the whole page inside [0x800, 0x2800) is usable RAM. */
	assert_int_equal(page_alloc_add_range(&p, 0x800, 0x2000), 1);
	/* Outside the span: clipped to nothing. */
	assert_int_equal(page_alloc_add_range(&p, 200 * PAGE_SIZE, PAGE_SIZE), 0);
}

static void test_alloc_never_in_hole(void **state)
{
	(void)state;
	uint64_t out;
	for (int i = 0; i < 900; i++) {
		assert_int_equal(page_alloc_alloc(&pa, 1, 1, &out), 0);
		uint64_t idx = (out - 0x100000) / PAGE_SIZE;
		assert_true(idx < 500 || idx >= 600);
	}
	assert_int_equal(pa.nfree, 0);
	assert_int_equal(page_alloc_alloc(&pa, 1, 1, &out), -ENOMEM);
}

static void test_run_and_alignment(void **state)
{
	(void)state;
	uint64_t out;
	/* 16 pages aligned to 64 KiB (16 pages). */
	assert_int_equal(page_alloc_alloc(&pa, 16, 16, &out), 0);
	assert_int_equal(out % (16 * PAGE_SIZE), 0);
	/* Runs never straddle the hole at pages 500..599. */
	assert_int_equal(page_alloc_alloc(&pa, 450, 1, &out), 0);
	assert_true(out + 450 * PAGE_SIZE <= 0x100000 + 500 * PAGE_SIZE);
	assert_int_equal(page_alloc_alloc(&pa, 390, 1, &out), 0);
	assert_true(out >= 0x100000 + 600 * PAGE_SIZE);
	/* Too long for any gap. */
	assert_int_equal(page_alloc_alloc(&pa, 501, 1, &out), -ENOMEM);
	assert_int_equal(page_alloc_alloc(&pa, 2, 3, &out), -EINVAL); /* align not a power of two */
	assert_int_equal(page_alloc_alloc(&pa, 0, 1, &out), -EINVAL);
}

static void test_reserve(void **state)
{
	(void)state;
	uint64_t before = pa.nfree, out;
	/* Reserving a byte range takes every page it touches. */
	assert_int_equal(page_alloc_reserve_range(&pa, 0x100000 + 10, PAGE_SIZE), 2);
	assert_int_equal(pa.nfree, before - 2);
	assert_int_equal(page_alloc_alloc(&pa, 1, 1, &out), 0);
	assert_true(out >= 0x100000 + 2 * PAGE_SIZE);
}

static void test_double_free_detected(void **state)
{
	(void)state;
	uint64_t a, b;
	assert_int_equal(page_alloc_alloc(&pa, 4, 1, &a), 0);
	assert_int_equal(page_alloc_alloc(&pa, 1, 1, &b), 0);
	uint64_t nfree = pa.nfree;
	assert_int_equal(page_alloc_free(&pa, a, 4), 0);
	assert_int_equal(pa.nfree, nfree + 4);
	assert_int_equal(page_alloc_free(&pa, a, 4), -EINVAL);
	/* A range mixing a free and a used page is refused whole. */
	assert_int_equal(page_alloc_free(&pa, a + 3 * PAGE_SIZE, 2), -EINVAL);
	assert_int_equal(pa.nfree, nfree + 4);
	assert_int_equal(page_alloc_free(&pa, b, 1), 0);
}

static void test_bad_frees(void **state)
{
	(void)state;
	uint64_t a;
	assert_int_equal(page_alloc_alloc(&pa, 1, 1, &a), 0);
	assert_int_equal(page_alloc_free(&pa, a + 1, 1), -EINVAL);        /* unaligned */
	assert_int_equal(page_alloc_free(&pa, 0, 1), -EINVAL);            /* below span */
	assert_int_equal(page_alloc_free(&pa, 0x100000 + NPAGES * PAGE_SIZE, 1), -EINVAL);
	assert_int_equal(page_alloc_free(&pa, a, NPAGES * 2), -EINVAL);   /* runs off the end */
	assert_int_equal(page_alloc_free(&pa, a, 1), 0);
}

static void test_free_then_reuse_exhaustion(void **state)
{
	(void)state;
	uint64_t pages[900];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 900; i++)
			assert_int_equal(page_alloc_alloc(&pa, 1, 1, &pages[i]), 0);
		assert_int_equal(pa.nfree, 0);
		for (int i = 0; i < 900; i++)
			assert_int_equal(page_alloc_free(&pa, pages[i], 1), 0);
		assert_int_equal(pa.nfree, 900);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_all_used),
		cmocka_unit_test(test_partial_pages_not_added),
		cmocka_unit_test_setup(test_alloc_never_in_hole, setup),
		cmocka_unit_test_setup(test_run_and_alignment, setup),
		cmocka_unit_test_setup(test_reserve, setup),
		cmocka_unit_test_setup(test_double_free_detected, setup),
		cmocka_unit_test_setup(test_bad_frees, setup),
		cmocka_unit_test_setup(test_free_then_reuse_exhaustion, setup),
	};
	return cmocka_run_group_tests_name("page_alloc", tests, NULL, NULL);
}
