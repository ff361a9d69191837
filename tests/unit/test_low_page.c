/* Unit tests for lib/low_page.c: the application processors' start-up
 * page is the highest free RAM page under 640 KiB, never one the boot
 * still reads, never outside RAM, never in the first 64 KiB. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pier/low_page.h>

/* pier's VMM: RAM 0-0x9ffff; boot tables 0x2000-0x8fff, start info 0x9000. */
static const struct hvm_memmap_table_entry ram[] = {
	{ 0, 0xa0000, PVH_MEMMAP_TYPE_RAM, 0 },
	{ 0xf0000, 0x10000, PVH_MEMMAP_TYPE_RESERVED, 0 },
	{ 0x100000, 0x1000000, PVH_MEMMAP_TYPE_RAM, 0 },
};

static void test_highest_free_page(void **state)
{
	(void)state;
	struct low_range busy[] = { { 0x2000, 0x7000 }, { 0x9000, 0x1000 }, { 0x10000, 0x10000 } };
	assert_int_equal(low_page_pick(ram, 3, busy, 3), 0x9e000);
}

static void test_busy_pages_are_skipped(void **state)
{
	(void)state;
	/* A command line over the top pages, one byte into the next. */
	struct low_range busy[] = { { 0x9c001, 0x3000 } };
	assert_int_equal(low_page_pick(ram, 3, busy, 1), 0x9b000);
	struct low_range empty[] = { { 0x9e000, 0 } }; /* nothing there */
	assert_int_equal(low_page_pick(ram, 3, empty, 1), 0x9e000);
}

static void test_only_ram_counts(void **state)
{
	(void)state;
	/* QEMU's map: RAM ends at 0x9fc00 (the EBDA), so 0x9f000 is out. */
	static const struct hvm_memmap_table_entry qemu[] = {
		{ 0, 0x9fc00, PVH_MEMMAP_TYPE_RAM, 0 },
		{ 0x9fc00, 0x400, PVH_MEMMAP_TYPE_RESERVED, 0 },
	};
	assert_int_equal(low_page_pick(qemu, 2, NULL, 0), 0x9e000);
	static const struct hvm_memmap_table_entry holes[] = {
		{ 0x20000, 0x800, PVH_MEMMAP_TYPE_RAM, 0 },     /* half a page */
		{ 0x30000, 0x1000, PVH_MEMMAP_TYPE_ACPI, 0 },   /* not RAM */
		{ 0x40000, 0x1000, PVH_MEMMAP_TYPE_RAM, 0 },
	};
	assert_int_equal(low_page_pick(holes, 3, NULL, 0), 0x40000);
	struct low_range busy[] = { { 0x40000, 1 } };
	assert_int_equal(low_page_pick(holes, 3, busy, 1), 0);
}

static void test_never_below_64k_or_from_a_wrapping_entry(void **state)
{
	(void)state;
	static const struct hvm_memmap_table_entry low[] = {
		{ 0, 0x10000, PVH_MEMMAP_TYPE_RAM, 0 },
		{ 0x50000, ~0ULL, PVH_MEMMAP_TYPE_RAM, 0 }, /* hostile: wraps */
	};
	assert_int_equal(low_page_pick(low, 2, NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_highest_free_page),
		cmocka_unit_test(test_busy_pages_are_skipped),
		cmocka_unit_test(test_only_ram_counts),
		cmocka_unit_test(test_never_below_64k_or_from_a_wrapping_entry),
	};
	return cmocka_run_group_tests_name("low_page", tests, NULL, NULL);
}
