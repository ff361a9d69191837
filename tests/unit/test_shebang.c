/* Unit tests for lib/shebang.c: the interpreter and its one optional
 * argument as Linux's binfmt_script takes them (spaces and tabs around
 * them, an argument with spaces inside kept whole, a carriage return kept
 * as part of the name as Linux keeps it), files that are not scripts, a
 * "#!" with nothing after it, and the 256-byte limit: an interpreter path
 * cut by it is refused, an argument cut by it is kept as far as it goes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <pier/errno.h>
#include <pier/shebang.h>

static int parse(const char *text, struct shebang *s)
{
	memset(s, 0x5a, sizeof(*s)); /* no field may keep what was there */
	return shebang_parse(text, strlen(text), s);
}

static void test_interpreter_only(void **state)
{
	(void)state;
	struct shebang s;
	assert_int_equal(parse("#!/bin/sh\necho hi\n", &s), 1);
	assert_string_equal(s.interp, "/bin/sh");
	assert_int_equal(s.has_arg, 0);
	assert_string_equal(s.arg, "");
	assert_int_equal(parse("#!   /bin/sh   \t\n", &s), 1);
	assert_string_equal(s.interp, "/bin/sh");
	assert_int_equal(s.has_arg, 0);
	assert_int_equal(parse("#!/bin/sh", &s), 1); /* no newline: the file's end */
	assert_string_equal(s.interp, "/bin/sh");
}

static void test_one_argument_kept_whole(void **state)
{
	(void)state;
	struct shebang s;
	assert_int_equal(parse("#!/usr/bin/env python3\n", &s), 1);
	assert_string_equal(s.interp, "/usr/bin/env");
	assert_int_equal(s.has_arg, 1);
	assert_string_equal(s.arg, "python3");
	assert_int_equal(parse("#! /usr/bin/awk  -f -v x=1 \t\nBEGIN{}\n", &s), 1);
	assert_string_equal(s.interp, "/usr/bin/awk");
	assert_string_equal(s.arg, "-f -v x=1");
	assert_int_equal(parse("#!/bin/sh\r\n", &s), 1); /* Linux: "/bin/sh\r" */
	assert_string_equal(s.interp, "/bin/sh\r");
}

static void test_not_scripts(void **state)
{
	(void)state;
	struct shebang s;
	assert_int_equal(parse("\177ELF\2\1\1", &s), 0);
	assert_int_equal(parse("#", &s), 0);
	assert_int_equal(parse("", &s), 0);
	assert_int_equal(parse("# comment\n", &s), 0);
	assert_int_equal(parse("#!\n", &s), -ENOEXEC);
	assert_int_equal(parse("#!  \t \n/bin/sh\n", &s), -ENOEXEC);
	assert_int_equal(shebang_parse("#!\0/bin/sh", 10, &s), -ENOEXEC);
}

static void test_the_256_byte_limit(void **state)
{
	(void)state;
	struct shebang s;
	char buf[600];
	/* An interpreter path running past byte 256: refused. */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "#!/", 3);
	assert_int_equal(shebang_parse(buf, sizeof(buf), &s), -ENOEXEC);
	assert_int_equal(shebang_parse(buf, SHEBANG_HEAD, &s), -ENOEXEC);
	/* A short file whose only line has no newline: all of it counts. */
	assert_int_equal(shebang_parse(buf, 100, &s), 1);
	assert_int_equal(strlen(s.interp), 98);
	/* The path ends in time; the argument is cut at byte 256. */
	memcpy(buf, "#!/bin/sh ", 10);
	assert_int_equal(shebang_parse(buf, sizeof(buf), &s), 1);
	assert_string_equal(s.interp, "/bin/sh");
	assert_int_equal(s.has_arg, 1);
	assert_int_equal(strlen(s.arg), SHEBANG_HEAD - 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interpreter_only),
		cmocka_unit_test(test_one_argument_kept_whole),
		cmocka_unit_test(test_not_scripts),
		cmocka_unit_test(test_the_256_byte_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
