/* Unit tests for lib/auxv.c: auxv_build gives every key glibc and musl
 * read exactly once with the value passed in (AT_EUID/AT_EGID as the
 * uid/gid, AT_FLAGS and AT_SECURE 0, a 32-bit uid not sign-extended),
 * Linux's order, AT_NULL once and last, the count within AUXV_MAX and
 * nothing written past it; auxv_entry_sp gives a 16-byte aligned rsp
 * with room for argc, argv, envp and the pairs below sp, wasting at most
 * 15 bytes, in hand-computed cases and a seeded random run. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/auxvec.h>
#include <pier/auxv.h>

/* The ABI's numbers, so a wrong header cannot hide a wrong key. */
_Static_assert(AT_NULL == 0 && AT_PHDR == 3 && AT_PAGESZ == 6 && AT_ENTRY == 9, "AT_*");
_Static_assert(AT_PLATFORM == 15 && AT_HWCAP == 16 && AT_SECURE == 23 && AT_RANDOM == 25,
	       "AT_*");
_Static_assert(AT_HWCAP2 == 26 && AT_EXECFN == 31 && AT_SYSINFO_EHDR == 33 &&
		       AT_MINSIGSTKSZ == 51,
	       "AT_*");

static const struct auxv_in in = {
	.sysinfo_ehdr = 0x7ffff7fc1000, .hwcap = 0x178bfbff, .hwcap2 = 0x2,
	.pagesz = 4096, .clktck = 100, .phdr = 0x400040, .phent = 56, .phnum = 13,
	.base = 0x7ffff7fc3000, .entry = 0x401020, .uid = 0xfffffffe, .gid = 1234,
	.random = 0x7fffffffe3a9, .execfn = 0x7fffffffefc0, .platform = 0x7fffffffe3b9,
	.minsigstksz = 3632,
};

/* Linux's create_elf_tables order (x86_64: ARCH_DLINFO first). */
static const uint64_t want[][2] = {
	{ AT_SYSINFO_EHDR, 0x7ffff7fc1000 }, { AT_MINSIGSTKSZ, 3632 },
	{ AT_HWCAP, 0x178bfbff }, { AT_PAGESZ, 4096 }, { AT_CLKTCK, 100 },
	{ AT_PHDR, 0x400040 }, { AT_PHENT, 56 }, { AT_PHNUM, 13 },
	{ AT_BASE, 0x7ffff7fc3000 }, { AT_FLAGS, 0 }, { AT_ENTRY, 0x401020 },
	{ AT_UID, 0xfffffffe }, { AT_EUID, 0xfffffffe }, { AT_GID, 1234 }, { AT_EGID, 1234 },
	{ AT_SECURE, 0 }, { AT_RANDOM, 0x7fffffffe3a9 }, { AT_HWCAP2, 0x2 },
	{ AT_EXECFN, 0x7fffffffefc0 }, { AT_PLATFORM, 0x7fffffffe3b9 },
};
#define NWANT ((int)(sizeof want / sizeof want[0]))
#define SENTINEL 0xa5a5a5a5a5a5a5a5ULL

static uint64_t out[AUXV_MAX + 1][2]; /* one extra row to catch overruns */
static int n;

static int build(void **state)
{
	(void)state;
	for (int i = 0; i <= AUXV_MAX; i++)
		out[i][0] = out[i][1] = SENTINEL;
	n = auxv_build(&in, out);
	return 0;
}

static int find(uint64_t key, int *count)
{
	int at = -1;
	*count = 0;
	for (int i = 0; i < n; i++)
		if (out[i][0] == key) {
			at = i;
			(*count)++;
		}
	return at;
}

static void test_count(void **state)
{
	(void)state;
	assert_true(n >= NWANT + 1);
	assert_true(n <= AUXV_MAX);
	for (int i = n; i <= AUXV_MAX; i++) /* nothing written past the count */
		assert_true(out[i][0] == SENTINEL && out[i][1] == SENTINEL);
}

static void test_every_key_once(void **state)
{
	(void)state;
	for (int k = 0; k < NWANT; k++) {
		int count, at = find(want[k][0], &count);
		if (count != 1 || out[at][1] != want[k][1])
			print_message("key %llu: %d times\n", (unsigned long long)want[k][0], count);
		assert_int_equal(count, 1);
		assert_int_equal(out[at][1], want[k][1]);
	}
}

static void test_no_key_twice(void **state)
{
	(void)state;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			assert_int_not_equal(out[i][0], out[j][0]);
}

static void test_null_last(void **state)
{
	(void)state;
	int count, at = find(AT_NULL, &count);
	assert_int_equal(count, 1);
	assert_int_equal(at, n - 1);
	assert_int_equal(out[n - 1][1], 0);
}

static void test_linux_order(void **state)
{
	(void)state;
	int prev = -1, count;
	for (int k = 0; k < NWANT; k++) {
		int at = find(want[k][0], &count);
		assert_true(at > prev);
		prev = at;
	}
}

/* The values follow the input: all zero in, zeros out (none stale). */
static void test_zero_input(void **state)
{
	(void)state;
	struct auxv_in z;
	memset(&z, 0, sizeof z);
	uint64_t o[AUXV_MAX][2];
	memset(o, 0xff, sizeof o);
	int m = auxv_build(&z, o);
	assert_int_equal(m, n);
	for (int i = 0; i < m; i++)
		assert_int_equal(o[i][1], 0);
}

static void test_entry_sp_cases(void **state)
{
	(void)state;
	/* argc 1, no env, 21 pairs: 46 words, 368 bytes, already aligned. */
	assert_int_equal(auxv_entry_sp(0x1000, 1, 0, 21), 0x1000 - 368);
	/* argc 2: 47 words, 376 bytes, 8 more lost to the alignment. */
	assert_int_equal(auxv_entry_sp(0x1000, 2, 0, 21), 0x1000 - 384);
	/* An unaligned sp (strings end anywhere). */
	assert_int_equal(auxv_entry_sp(0x7fffffffeff7, 1, 2, 21), 0x7fffffffeff7 - 384 - 7);
	/* Nothing at all: argc 0 plus the three NULL/count words, no pairs. */
	assert_int_equal(auxv_entry_sp(0x2000, 0, 0, 0), 0x2000 - 32);
}

static void test_entry_sp_random(void **state)
{
	(void)state;
	srand(20240601);
	int wasted[16] = { 0 };
	for (int i = 0; i < 100000; i++) {
		uint64_t sp = 0x10000000 + ((uint64_t)rand() << 16 ^ (uint64_t)rand());
		uint64_t argc = (uint64_t)rand() % 300, envc = (uint64_t)rand() % 300;
		uint64_t nauxv = 1 + (uint64_t)rand() % AUXV_MAX;
		uint64_t need = 8 * (1 + argc + 1 + envc + 1 + 2 * nauxv);
		uint64_t r = auxv_entry_sp(sp, argc, envc, nauxv);
		assert_int_equal(r % 16, 0);
		assert_true(r + need <= sp);
		assert_true(r > sp - 16 - need);
		wasted[sp - need - r]++;
	}
	for (int w = 0; w < 16; w++) /* every amount of slack was seen */
		assert_true(wasted[w] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_count, build),
		cmocka_unit_test_setup(test_every_key_once, build),
		cmocka_unit_test_setup(test_no_key_twice, build),
		cmocka_unit_test_setup(test_null_last, build),
		cmocka_unit_test_setup(test_linux_order, build),
		cmocka_unit_test_setup(test_zero_input, build),
		cmocka_unit_test(test_entry_sp_cases),
		cmocka_unit_test(test_entry_sp_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
