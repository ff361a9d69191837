/* Unit tests for lib/heap.c: alignment, reuse, growth, exhaustion, bad frees. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/errno.h>
#include <pier/heap.h>

static _Alignas(64) unsigned char arena[64 * 1024];
static struct heap h;

static int setup(void **state)
{
	(void)state;
	heap_init(&h, NULL, NULL);
	heap_add_region(&h, arena, sizeof(arena));
	return 0;
}

static void test_alloc_free_roundtrip(void **state)
{
	(void)state;
	size_t total = h.bytes_total;
	void *p = heap_alloc(&h, 100, 0);
	assert_non_null(p);
	assert_true((unsigned char *)p >= arena && (unsigned char *)p + 100 <= arena + sizeof(arena));
	assert_true(heap_usable_size(&h, p) >= 100);
	memset(p, 0xab, 100);
	assert_int_equal(h.nallocs, 1);
	assert_int_equal(heap_free(&h, p), 0);
	assert_int_equal(h.nallocs, 0);
	assert_int_equal(h.bytes_used, 0);
	/* Coalescing gives the whole arena back as one block. */
	void *big = heap_alloc(&h, total - 64, 0);
	assert_non_null(big);
	assert_int_equal(heap_free(&h, big), 0);
}

static void test_alignment(void **state)
{
	(void)state;
	void *ptrs[8];
	size_t aligns[8] = { 0, 16, 32, 64, 128, 256, 4096, 8192 };
	for (int i = 0; i < 8; i++) {
		ptrs[i] = heap_alloc(&h, 40 + i, aligns[i]);
		assert_non_null(ptrs[i]);
		assert_int_equal((uintptr_t)ptrs[i] % (aligns[i] ? aligns[i] : HEAP_MIN_ALIGN), 0);
		memset(ptrs[i], i, 40 + i);
	}
	for (int i = 0; i < 8; i++) {
		unsigned char *b = ptrs[i];
		for (int k = 0; k < 40 + i; k++)
			assert_int_equal(b[k], i); /* no overlap between blocks */
	}
	for (int i = 7; i >= 0; i--)
		assert_int_equal(heap_free(&h, ptrs[i]), 0);
	assert_int_equal(h.bytes_used, 0);
	assert_null(heap_alloc(&h, 10, 48)); /* not a power of two */
}

static void test_exhaustion(void **state)
{
	(void)state;
	void *ptrs[4096];
	int n = 0;
	while (n < 4096 && (ptrs[n] = heap_alloc(&h, 1000, 0)))
		n++;
	assert_true(n > 40 && n < 4096);
	assert_null(heap_alloc(&h, 1000, 0));
	assert_null(heap_alloc(&h, SIZE_MAX, 0));
	for (int i = 0; i < n; i += 2)
		assert_int_equal(heap_free(&h, ptrs[i]), 0);
	/* Freed holes are reused, but none is big enough for 2000 bytes. */
	assert_non_null(ptrs[0] = heap_alloc(&h, 1000, 0));
	assert_null(heap_alloc(&h, 2000, 0));
	assert_int_equal(heap_free(&h, ptrs[0]), 0);
	for (int i = 1; i < n; i += 2)
		assert_int_equal(heap_free(&h, ptrs[i]), 0);
	assert_int_equal(h.bytes_used, 0);
	assert_non_null(heap_alloc(&h, 2000, 0));
}

static void test_double_free_detected(void **state)
{
	(void)state;
	void *a = heap_alloc(&h, 64, 0);
	void *b = heap_alloc(&h, 64, 0);
	assert_int_equal(heap_free(&h, a), 0);
	size_t used = h.bytes_used;
	assert_int_equal(heap_free(&h, a), -EINVAL);
	assert_int_equal(h.bytes_used, used); /* untouched */
	assert_int_equal(heap_free(&h, b), 0);
	assert_int_equal(heap_free(&h, b), -EINVAL); /* after coalescing too */
	assert_int_equal(heap_free(&h, NULL), 0);
}

static void test_foreign_pointers(void **state)
{
	(void)state;
	char *p = heap_alloc(&h, 256, 0);
	assert_int_equal(heap_free(&h, p + 16), -EINVAL); /* interior */
	assert_int_equal(heap_free(&h, p + 1), -EINVAL);  /* misaligned */
	assert_int_equal(heap_usable_size(&h, p + 32), 0);
	assert_int_equal(h.nallocs, 1);
	assert_int_equal(heap_free(&h, p), 0);
}

static int grow_calls;
static unsigned char grow_arena[1 << 20] __attribute__((aligned(16)));
static size_t grow_used;

static int grow(void *ctx, size_t min_bytes, void **region, size_t *len)
{
	(void)ctx;
	size_t want = min_bytes < 65536 ? 65536 : min_bytes;
	if (grow_used + want > sizeof(grow_arena))
		return -ENOMEM;
	grow_calls++;
	*region = grow_arena + grow_used;
	*len = want;
	grow_used += want;
	return 0;
}

static void test_grow(void **state)
{
	(void)state;
	struct heap g;
	grow_calls = 0;
	grow_used = 0;
	heap_init(&g, grow, NULL);
	void *p = heap_alloc(&g, 100, 0);
	assert_non_null(p);
	assert_int_equal(grow_calls, 1);
	void *big = heap_alloc(&g, 200000, 4096);
	assert_non_null(big);
	assert_int_equal((uintptr_t)big % 4096, 0);
	assert_int_equal(grow_calls, 2);
	/* The grow source runs dry: NULL, not a crash. */
	assert_null(heap_alloc(&g, 900000, 0));
	assert_int_equal(heap_free(&g, big), 0);
	assert_int_equal(heap_free(&g, p), 0);
}

static void test_zero_size_unique(void **state)
{
	(void)state;
	void *a = heap_alloc(&h, 0, 0), *b = heap_alloc(&h, 0, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(heap_free(&h, a), 0);
	assert_int_equal(heap_free(&h, b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_alloc_free_roundtrip, setup),
		cmocka_unit_test_setup(test_alignment, setup),
		cmocka_unit_test_setup(test_exhaustion, setup),
		cmocka_unit_test_setup(test_double_free_detected, setup),
		cmocka_unit_test_setup(test_foreign_pointers, setup),
		cmocka_unit_test(test_grow),
		cmocka_unit_test_setup(test_zero_size_unique, setup),
	};
	return cmocka_run_group_tests_name("heap", tests, NULL, NULL);
}
