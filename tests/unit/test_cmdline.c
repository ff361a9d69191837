/* Unit tests for lib/cmdline.c: options, arguments, quotes, limits, numbers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <linux/errno.h>
#include <pier/cmdline.h>

static void test_options_and_args(void **state)
{
	(void)state;
	char buf[] = "verbose exit=3  virtio_mmio.device=512@0xfeb00e00:12 -- /bin/prog -x \"two words\" --";
	struct cmdline cl;
	assert_int_equal(cmdline_parse(buf, &cl), 0);
	assert_int_equal(cl.nopts, 3);
	assert_string_equal(cl.opts[0].key, "verbose");
	assert_string_equal(cl.opts[0].value, "1");
	assert_string_equal(cmdline_get(&cl, "exit"), "3");
	assert_string_equal(cmdline_get(&cl, "virtio_mmio.device"), "512@0xfeb00e00:12");
	assert_null(cmdline_get(&cl, "missing"));
	assert_int_equal(cl.argc, 4);
	assert_string_equal(cl.argv[0], "/bin/prog");
	assert_string_equal(cl.argv[2], "two words");
	assert_string_equal(cl.argv[3], "--"); /* only the first -- separates */
	assert_null(cl.argv[4]);
}

static void test_empty_and_value_with_equals(void **state)
{
	(void)state;
	char empty[] = "   ";
	struct cmdline cl;
	assert_int_equal(cmdline_parse(empty, &cl), 0);
	assert_int_equal(cl.nopts, 0);
	assert_int_equal(cl.argc, 0);
	char buf[] = "env=A=B exit=1 exit=2 \"\"";
	assert_int_equal(cmdline_parse(buf, &cl), 0);
	assert_string_equal(cmdline_get(&cl, "env"), "A=B");
	assert_string_equal(cmdline_get(&cl, "exit"), "2"); /* the last one wins */
	assert_int_equal(cl.nopts, 4);
	assert_string_equal(cl.opts[3].key, "");
}

static void test_unterminated_quote(void **state)
{
	(void)state;
	char buf[] = "a=\"b c";
	struct cmdline cl;
	assert_int_equal(cmdline_parse(buf, &cl), -EINVAL);
}

static void test_too_many(void **state)
{
	(void)state;
	char buf[4096] = "";
	for (int i = 0; i <= CMDLINE_MAX_OPTS; i++)
		strcat(buf, "x ");
	struct cmdline cl;
	assert_int_equal(cmdline_parse(buf, &cl), -E2BIG);
	strcpy(buf, "--");
	for (int i = 0; i <= CMDLINE_MAX_ARGS; i++)
		strcat(buf, " y");
	assert_int_equal(cmdline_parse(buf, &cl), -E2BIG);
}

/* microvm appends virtio_mmio.device= after our "--": still an option. */
static void test_vmm_appended_after_args(void **state)
{
	(void)state;
	char buf[] = "rootfs=virtiofs -- /bin/prog -x virtio_mmio.device=512@0xfeb00e00:12";
	struct cmdline cl;
	assert_int_equal(cmdline_parse(buf, &cl), 0);
	assert_int_equal(cl.argc, 2);
	assert_string_equal(cl.argv[1], "-x");
	assert_null(cl.argv[2]);
	assert_string_equal(cmdline_get(&cl, "virtio_mmio.device"), "512@0xfeb00e00:12");
}

static void test_numbers(void **state)
{
	(void)state;
	unsigned long long v;
	assert_int_equal(cmdline_parse_u64("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(cmdline_parse_u64("0x1F", &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(cmdline_parse_u64("2M", &v), 0);
	assert_int_equal(v, 2 << 20);
	assert_int_equal(cmdline_parse_u64("1g", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(cmdline_parse_u64("", &v), -EINVAL);
	assert_int_equal(cmdline_parse_u64("0x", &v), -EINVAL);
	assert_int_equal(cmdline_parse_u64("12q", &v), -EINVAL);
	assert_int_equal(cmdline_parse_u64("1MB", &v), -EINVAL);
	assert_int_equal(cmdline_parse_u64("99999999999999999999", &v), -EINVAL);
	assert_int_equal(cmdline_parse_u64("17179869184G", &v), -EINVAL); /* overflows on shift */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_and_args),
		cmocka_unit_test(test_empty_and_value_with_equals),
		cmocka_unit_test(test_unterminated_quote),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_vmm_appended_after_args),
	};
	return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
