/* Unit tests for lib/fmt.c, checked against the C library's snprintf. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <pier/fmt.h>

#define SAME(...)                                                              \
	do {                                                                   \
		char a[128], b[128];                                           \
		int na = fmt_snprintf(a, sizeof(a), __VA_ARGS__);             \
		int nb = snprintf(b, sizeof(b), __VA_ARGS__);                  \
		assert_string_equal(a, b);                                     \
		assert_int_equal(na, nb);                                      \
	} while (0)

static void test_matches_libc(void **state)
{
	(void)state;
	SAME("plain");
	SAME("%d %i %u", -42, 7, 4000000000u);
	SAME("%ld %lld %llu", -1L, -9223372036854775807LL - 1, 18446744073709551615ULL);
	SAME("%x %X %o %lx", 0xbeefu, 0xbeefu, 8u, 0xffffffffffUL);
	SAME("[%5d] [%-5d] [%05d] [%016llx]", 42, 42, -42, 0x1234ULL);
	SAME("[%s] [%10s] [%-10s] [%.3s]", "abc", "abc", "abc", "abcdef");
	SAME("%c%c %%", 'o', 'k');
	SAME("%zu", (size_t)123456);
	SAME("%*d|%.*s", 6, 12, 2, "xyz");
}

static void test_truncation(void **state)
{
	(void)state;
	char buf[8];
	int n = fmt_snprintf(buf, sizeof(buf), "%s", "0123456789");
	assert_int_equal(n, 10);
	assert_string_equal(buf, "0123456");
	assert_int_equal(fmt_snprintf(NULL, 0, "%d", 12345), 5);
}

static void test_null_string_and_pointer(void **state)
{
	(void)state;
	char buf[64];
	const char *volatile null_str = NULL; /* hidden from the format checker */
	fmt_snprintf(buf, sizeof(buf), "%s", null_str);
	assert_string_equal(buf, "(null)");
	fmt_snprintf(buf, sizeof(buf), "%p", (void *)0x1000);
	assert_string_equal(buf, "0x1000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_libc),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_null_string_and_pointer),
	};
	return cmocka_run_group_tests_name("fmt", tests, NULL, NULL);
}
