/*
 * libFuzzer harness for lib/run_args.c's check: the fuzz input is an
 * argument block as the guest would read it from fw_cfg (seeds:
 * fuzz/corpus/run_args/, from fuzz/gen_run_args_seeds.py).
 *
 * Checks:
 *  - the check reads only inside the block, and returns 0 with why NULL,
 *    or -EINVAL/-E2BIG with a reason;
 *  - an accepted block keeps every promise of include/pier/run_args.h:
 *    argc >= 1, an absolute cwd, argc + envc strings each under 131,072
 *    bytes, 2 MiB of strings and pointers at most, walking them with
 *    run_args_next ends exactly at the block's end, env0 where argv ends;
 *  - writing the accepted strings again gives the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pier/errno.h>
#include <pier/run_args.h>
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly `size` bytes, so ASan sees any read past it. */
	uint8_t *b = malloc(size ? size : 1);
	if (size)
		memcpy(b, data, size);
	struct run_args a;
	const char *why = NULL;
	int err = run_args_check(b, size, &a, &why);
	if (err) {
		CHECK(err == -EINVAL || err == -E2BIG);
		CHECK(why != NULL);
		free(b);
		return 0;
	}
	CHECK(why == NULL);
	CHECK(a.argc >= 1 && a.cwd[0] == '/');
	CHECK(strlen(a.cwd) < RUN_ARGS_CWD_MAX);
	char **strs = malloc(((size_t)a.argc + a.envc) * sizeof(char *));
	const char *s = a.argv0;
	uint64_t total = 0;
	for (uint32_t i = 0; i < a.argc + a.envc; i++, s = run_args_next(s)) {
		if (i == a.argc)
			CHECK(s == a.env0);
		CHECK(strlen(s) + 1 <= RUN_ARGS_STRLEN_MAX);
		total += strlen(s) + 1 + 8;
		strs[i] = (char *)s;
	}
	CHECK(total <= RUN_ARGS_TOTAL_MAX);
	CHECK(s == (const char *)b + size);
	if (!a.envc)
		CHECK(a.env0 == (const char *)b + size);
	int e2big;
	size_t n = run_args_size(a.cwd, (int)a.argc, strs, (int)a.envc, strs + a.argc, &e2big);
	CHECK(n == size);
	uint8_t *again = malloc(n);
	run_args_write(again, a.cwd, (int)a.argc, strs, (int)a.envc, strs + a.argc);
	CHECK(memcmp(again, b, n) == 0);
	free(again);
	free(strs);
	free(b);
	return 0;
}
