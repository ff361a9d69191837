/* Unit tests for lib/run_args.c: the block that carries cwd, argv and envp
 * to the guest, built on one side and checked, as hostile input, on the
 * other. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/errno.h>
#include <pier/run_args.h>

/* Builds the block for these strings into a fresh buffer (*len bytes). */
static uint8_t *build(const char *cwd, int argc, char **argv, int envc, char **envp,
		      size_t *len)
{
	int e2big;
	*len = run_args_size(cwd, argc, argv, envc, envp, &e2big);
	assert_int_not_equal(*len, 0);
	uint8_t *b = malloc(*len);
	assert_non_null(b);
	run_args_write(b, cwd, argc, argv, envc, envp);
	return b;
}

static void test_round_trip_of_any_bytes(void **state)
{
	(void)state;
	static char every[256]; /* bytes 0x01..0xff */
	for (int i = 1; i < 256; i++)
		every[i - 1] = (char)i;
	char *argv[] = { "/bin/prog", "", "two words", "\"quoted\" 'too'", "back\\slash",
			 "new\nline", "--", every, "" };
	char *envp[] = { "A=1", "EMPTY=", "Q=\"x\"", "" };
	size_t len;
	uint8_t *b = build("/a dir/with \"quotes\"", 9, argv, 4, envp, &len);
	struct run_args a;
	const char *why = "unset";
	assert_int_equal(run_args_check(b, len, &a, &why), 0);
	assert_null(why);
	assert_string_equal(a.cwd, "/a dir/with \"quotes\"");
	assert_int_equal(a.argc, 9);
	assert_int_equal(a.envc, 4);
	const char *s = a.argv0;
	for (int i = 0; i < 9; i++, s = run_args_next(s))
		assert_string_equal(s, argv[i]);
	assert_ptr_equal(s, a.env0);
	for (int i = 0; i < 4; i++, s = run_args_next(s))
		assert_string_equal(s, envp[i]);
	assert_ptr_equal(s, (const char *)b + len);
	free(b);
}

static void test_no_environment(void **state)
{
	(void)state;
	char *argv[] = { "prog" };
	size_t len;
	uint8_t *b = build("/", 1, argv, 0, NULL, &len);
	struct run_args a;
	const char *why;
	assert_int_equal(run_args_check(b, len, &a, &why), 0);
	assert_int_equal(a.envc, 0);
	assert_ptr_equal(a.env0, (const char *)b + len);
	free(b);
}

/* Linux's limits: 131,072 bytes a string with its NUL, 2 MiB of strings
 * and pointers; the host refuses what breaks them, so does the check. */
static void test_limits(void **state)
{
	(void)state;
	char *big = malloc(RUN_ARGS_STRLEN_MAX + 1);
	assert_non_null(big);
	memset(big, 'x', RUN_ARGS_STRLEN_MAX);
	big[RUN_ARGS_STRLEN_MAX - 1] = '\0'; /* the longest allowed */
	char *argv[] = { "prog", big };
	int e2big;
	size_t len;
	uint8_t *b = build("/", 2, argv, 0, NULL, &len);
	struct run_args a;
	const char *why;
	assert_int_equal(run_args_check(b, len, &a, &why), 0);
	free(b);
	big[RUN_ARGS_STRLEN_MAX - 1] = 'x'; /* one byte more */
	big[RUN_ARGS_STRLEN_MAX] = '\0';
	assert_int_equal(run_args_size("/", 2, argv, 0, NULL, &e2big), 0);
	assert_int_equal(e2big, 1);

	/* 2 MiB in all: 16 strings of 131,064 bytes + NUL + pointer fill it
	 * exactly; one byte more is over. */
	enum { N = 16, EACH = RUN_ARGS_TOTAL_MAX / N - 8 - 1 };
	char *many[N];
	for (int i = 0; i < N; i++) {
		many[i] = malloc(EACH + 2);
		memset(many[i], 'a' + i, EACH + 1);
		many[i][EACH] = '\0';
	}
	b = build("/", N, many, 0, NULL, &len);
	assert_int_equal(run_args_check(b, len, &a, &why), 0);
	free(b);
	many[N - 1][EACH] = 'z';
	many[N - 1][EACH + 1] = '\0';
	assert_int_equal(run_args_size("/", N, many, 0, NULL, &e2big), 0);
	assert_int_equal(e2big, 1);
	/* The same in a block written by hand past the host's check. */
	len = sizeof(struct run_args_header) + 2 + (size_t)N * (EACH + 1) + 1;
	b = calloc(1, len);
	struct run_args_header h = { .argc = N, .len = (uint32_t)(len - sizeof(h)) };
	memcpy(h.magic, RUN_ARGS_MAGIC, 8);
	memcpy(b, &h, sizeof(h));
	char *p = (char *)b + sizeof(h);
	p += 2; /* cwd "/" */
	p[-2] = '/';
	for (int i = 0; i < N; i++) {
		size_t n = strlen(many[i]) + 1;
		memcpy(p, many[i], n);
		p += n;
	}
	assert_int_equal(run_args_check(b, len, &a, &why), -E2BIG);
	assert_string_equal(why, "arguments and environment over 2 MiB");
	free(b);
	for (int i = 0; i < N; i++)
		free(many[i]);
	free(big);

	char *cwd = malloc(RUN_ARGS_CWD_MAX + 1);
	memset(cwd, 'd', RUN_ARGS_CWD_MAX);
	cwd[0] = '/';
	cwd[RUN_ARGS_CWD_MAX] = '\0';
	assert_int_equal(run_args_size(cwd, 1, argv, 0, NULL, &e2big), 0);
	assert_int_equal(e2big, 0); /* ENAMETOOLONG, not E2BIG */
	free(cwd);
}

/* Every way a block from the other side can be wrong: refused, and the
 * check never reads outside it (ASan watches). */
static void test_malformed_blocks(void **state)
{
	(void)state;
	char *argv[] = { "/bin/prog", "arg" };
	char *envp[] = { "K=V" };
	size_t len;
	uint8_t *good = build("/", 2, argv, 1, envp, &len);
	struct run_args a;
	const char *why;
	struct run_args_header h;

	for (size_t n = 0; n < len; n++) { /* every truncation */
		uint8_t *t = malloc(n ? n : 1);
		memcpy(t, good, n);
		assert_int_equal(run_args_check(t, n, &a, &why), -EINVAL);
		free(t);
	}
	uint8_t *b = malloc(len + 1);
#define WITH(field, value)                                                      \
	do {                                                                    \
		memcpy(b, good, len);                                           \
		memcpy(&h, b, sizeof(h));                                       \
		h.field = (value);                                              \
		memcpy(b, &h, sizeof(h));                                       \
		assert_int_equal(run_args_check(b, len, &a, &why), -EINVAL);    \
		assert_non_null(why);                                           \
	} while (0)
	WITH(argc, 0);
	WITH(argc, 3);
	WITH(argc, 0xffffffffu);
	WITH(envc, 2);
	WITH(envc, 0xfffffffeu);
	WITH(len, (uint32_t)len);
	WITH(len, 0xffffffffu);
	WITH(reserved, 1);
	WITH(magic[0], 'X');
	/* A string without its NUL at the end. */
	memcpy(b, good, len);
	b[len - 1] = 'x';
	assert_int_equal(run_args_check(b, len, &a, &why), -EINVAL);
	/* A byte after the last string. */
	memcpy(b, good, len);
	b[len] = '\0';
	memcpy(&h, b, sizeof(h));
	h.len++;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(run_args_check(b, len + 1, &a, &why), -EINVAL);
	assert_string_equal(why, "bytes after the last string");
	/* A relative working directory. */
	memcpy(b, good, len);
	b[sizeof(h)] = 'x';
	assert_int_equal(run_args_check(b, len, &a, &why), -EINVAL);
	free(b);
	free(good);
}

/* Random corruption of a good block: refused or accepted, never a read
 * outside it, and what is accepted holds together. */
static void test_random_corruption(void **state)
{
	(void)state;
	char *argv[] = { "/bin/prog", "a", "", "bc" };
	char *envp[] = { "K=V", "X=" };
	size_t len;
	uint8_t *good = build("/w", 4, argv, 2, envp, &len);
	uint64_t seed = 0x243f6a8885a308d3ull;
	int accepted = 0, refused = 0;
	for (int round = 0; round < 20000; round++) {
		uint8_t *b = malloc(len);
		memcpy(b, good, len);
		for (int k = 0; k < 1 + round % 3; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			b[(seed >> 33) % len] = (seed >> 13) & 1 ? 0 : (uint8_t)(seed >> 20);
		}
		struct run_args a;
		const char *why;
		if (run_args_check(b, len, &a, &why) == 0) {
			accepted++;
			const char *s = a.argv0;
			for (uint32_t i = 0; i < a.argc + a.envc; i++)
				s = run_args_next(s);
			assert_ptr_equal(s, (const char *)b + len);
		} else {
			refused++;
			assert_non_null(why);
		}
		free(b);
	}
	assert_true(accepted > 0 && refused > 0);
	free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_of_any_bytes),
		cmocka_unit_test(test_no_environment),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_malformed_blocks),
		cmocka_unit_test(test_random_corruption),
	};
	return cmocka_run_group_tests_name("run_args", tests, NULL, NULL);
}
