/* Unit tests for guest/arch/x86_64/copy_nofault.S, run on the host (it is
 * plain x86-64): a copy that a fault stops returns exactly the bytes it
 * did not copy, with every byte before the fault copied, whether the
 * fault is in the destination or the source; an unfaulted copy returns 0.
 * The SIGSEGV handler plays the guest's fault handler (linux/fault.c): a
 * fault at copy_nofault_insn resumes at copy_nofault_fixup. */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <cmocka.h>

#define PAGE 4096

uint64_t copy_nofault(void *dst, const void *src, uint64_t len);
extern char copy_nofault_insn[], copy_nofault_fixup[];

static int faults;
static uintptr_t fault_addr;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	ucontext_t *uc = ctx;
	if (uc->uc_mcontext.gregs[REG_RIP] != (greg_t)(uintptr_t)copy_nofault_insn)
		abort(); /* a fault anywhere else is a real one */
	faults++;
	fault_addr = (uintptr_t)si->si_addr;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)copy_nofault_fixup;
}

static uint8_t *pages; /* three pages, the last without access */

/* Ours, in the test itself: cmocka puts its own in place around each. */
static void catch_faults(void)
{
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	assert_int_equal(sigaction(SIGSEGV, &sa, NULL), 0);
}

static int setup(void **state)
{
	(void)state;
	pages = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || mprotect(pages + 2 * PAGE, PAGE, PROT_NONE))
		return -1;
	faults = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	munmap(pages, 3 * PAGE);
	return 0;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void test_whole_copy(void **state)
{
	(void)state;
	catch_faults();
	static uint8_t src[3000], dst[3000];
	fill(src, sizeof(src), 1);
	assert_int_equal(copy_nofault(dst, src, sizeof(src)), 0);
	assert_memory_equal(dst, src, sizeof(src));
	assert_int_equal(copy_nofault(dst, src, 0), 0);
	assert_int_equal(faults, 0);
}

/* Into the pages: 100 bytes before the end of the second, then the third. */
static void test_fault_in_destination(void **state)
{
	(void)state;
	catch_faults();
	static uint8_t src[PAGE];
	fill(src, sizeof(src), 9);
	uint8_t *to = pages + 2 * PAGE - 100;
	assert_int_equal(copy_nofault(to, src, sizeof(src)), PAGE - 100);
	assert_int_equal(faults, 1);
	assert_ptr_equal((void *)fault_addr, pages + 2 * PAGE);
	assert_memory_equal(to, src, 100);
}

/* Out of the pages: from 1000 bytes before the end of the second. */
static void test_fault_in_source(void **state)
{
	(void)state;
	catch_faults();
	static uint8_t dst[2 * PAGE];
	memset(dst, 0xee, sizeof(dst));
	uint8_t *from = pages + 2 * PAGE - 1000;
	fill(from, 1000, 3);
	assert_int_equal(copy_nofault(dst, from, sizeof(dst)), sizeof(dst) - 1000);
	assert_int_equal(faults, 1);
	assert_memory_equal(dst, from, 1000);
	assert_int_equal(dst[1000], 0xee); /* nothing past the fault */
}

/* The first byte faults: nothing copied, all left. */
static void test_fault_at_once(void **state)
{
	(void)state;
	catch_faults();
	static uint8_t src[64];
	assert_int_equal(copy_nofault(pages + 2 * PAGE, src, sizeof(src)), sizeof(src));
	assert_int_equal(faults, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whole_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_in_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_in_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_at_once, setup, teardown),
	};
	return cmocka_run_group_tests_name("copy_nofault", tests, NULL, NULL);
}
