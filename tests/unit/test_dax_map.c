/*
 * Unit tests for host/dax_map.c: files mapped into a window read back
 * through it; past end of file is zeros; a file truncated under its
 * mapping is repaired to zeros instead of faulting; overlapping setups
 * replace, split and trim; hostile offsets and lengths are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include "dax_map.h"

#define PG 4096u

static char path_a[64], path_b[64];
static int fd_a, fd_b, probe[2];

static int make_file(char *path, uint8_t seed, size_t len)
{
	strcpy(path, "/tmp/pier-dax-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	uint8_t *buf = malloc(len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 13 + i / 4099);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	free(buf);
	return fd;
}

static uint8_t byte_of(uint8_t seed, size_t i)
{
	return (uint8_t)(seed + i * 13 + i / 4099);
}

static int setup(void **state)
{
	(void)state;
	fd_a = make_file(path_a, 1, 5 * PG + 100); /* 6 pages, the last partial */
	fd_b = make_file(path_b, 77, 16 * PG);
	assert_int_equal(pipe(probe), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(fd_a);
	close(fd_b);
	unlink(path_a);
	unlink(path_b);
	close(probe[0]);
	close(probe[1]);
	return 0;
}

/* Whether the byte at p can be read, without touching it ourselves:
 * write(2) from it fails with EFAULT where nothing is mapped. */
static bool readable(const uint8_t *p)
{
	char c;
	if (write(probe[1], p, 1) != 1)
		return false;
	assert_int_equal(read(probe[0], &c, 1), 1);
	return true;
}

static void test_maps_file_and_zeros_past_eof(void **state)
{
	(void)state;
	struct dax_map d;
	assert_int_equal(dax_map_init(&d, 64 * PG), 0);
	assert_false(readable(d.base));
	assert_int_equal(dax_map_setup(&d, fd_a, 0, 8 * PG, 8 * PG, false), 0);
	const uint8_t *w = d.base + 8 * PG;
	for (size_t i = 0; i < 5 * PG + 100; i++)
		if (w[i] != byte_of(1, i))
			fail_msg("byte %zu differs", i);
	for (size_t i = 5 * PG + 100; i < 8 * PG; i++)
		if (w[i])
			fail_msg("byte %zu past EOF is %u", i, w[i]);
	assert_false(readable(d.base + 7 * PG));
	assert_false(readable(d.base + 16 * PG));
	/* From a file offset: page 2 of the file at window page 0. */
	assert_int_equal(dax_map_setup(&d, fd_a, 2 * PG, 0, PG, false), 0);
	assert_int_equal(d.base[5], byte_of(1, 2 * PG + 5));
	dax_map_free(&d);
}

static void test_truncated_file_is_repaired_to_zeros(void **state)
{
	(void)state;
	struct dax_map d;
	assert_int_equal(dax_map_init(&d, 16 * PG), 0);
	assert_int_equal(dax_map_setup(&d, fd_b, 0, 0, 16 * PG, false), 0);
	assert_int_equal(d.base[10 * PG], byte_of(77, 10 * PG));
	assert_int_equal(ftruncate(fd_b, 3 * PG), 0);
	/* Page 10 is now beyond EOF: touching it would SIGBUS. */
	assert_int_equal(dax_map_repair(&d), 1);
	assert_int_equal(dax_map_repair(&d), 0); /* nothing more to do */
	assert_int_equal(d.base[10 * PG], 0);
	assert_int_equal(d.base[15 * PG + 7], 0);
	assert_int_equal(d.base[2 * PG + 1], byte_of(77, 2 * PG + 1)); /* still the file */
	dax_map_free(&d);
	/* Put the file back for the other tests. */
	close(fd_b);
	unlink(path_b);
	fd_b = make_file(path_b, 77, 16 * PG);
}

static void test_overlapping_setup_replaces_and_splits(void **state)
{
	(void)state;
	struct dax_map d;
	assert_int_equal(dax_map_init(&d, 32 * PG), 0);
	assert_int_equal(dax_map_setup(&d, fd_b, 0, 0, 16 * PG, false), 0);
	/* B's pages 4..7 replaced by A's pages 0..3: one record split in two. */
	assert_int_equal(dax_map_setup(&d, fd_a, 0, 4 * PG, 4 * PG, false), 0);
	assert_int_equal(d.nrecs, 3u);
	assert_int_equal(d.base[3 * PG], byte_of(77, 3 * PG));
	assert_int_equal(d.base[4 * PG + 9], byte_of(1, 9));
	assert_int_equal(d.base[8 * PG + 9], byte_of(77, 8 * PG + 9));
	/* Removing across two records trims both. */
	assert_int_equal(dax_map_remove(&d, 2 * PG, 4 * PG), 0);
	assert_int_equal(d.nrecs, 3u);
	assert_true(readable(d.base + PG));
	assert_false(readable(d.base + 2 * PG));
	assert_false(readable(d.base + 5 * PG));
	assert_true(readable(d.base + 6 * PG));
	assert_int_equal(d.base[6 * PG], byte_of(1, 2 * PG));
	/* After the split, repairing must follow each piece's own offset. */
	assert_int_equal(dax_map_repair(&d), 0);
	dax_map_clear(&d);
	assert_int_equal(d.nrecs, 0u);
	assert_false(readable(d.base));
	dax_map_free(&d);
}

static void test_hostile_ranges_are_refused(void **state)
{
	(void)state;
	struct dax_map d;
	assert_int_equal(dax_map_init(&d, 8 * PG), 0);
	assert_int_equal(dax_map_setup(&d, fd_a, 0, 0, 0, false), -EINVAL);
	assert_int_equal(dax_map_setup(&d, fd_a, 1, 0, PG, false), -EINVAL);
	assert_int_equal(dax_map_setup(&d, fd_a, 0, 1, PG, false), -EINVAL);
	assert_int_equal(dax_map_setup(&d, fd_a, 0, 0, PG + 1, false), -EINVAL);
	assert_int_equal(dax_map_setup(&d, fd_a, 0, 4 * PG, 5 * PG, false), -EINVAL);
	assert_int_equal(dax_map_setup(&d, fd_a, 0, ~0ULL & ~(PG - 1ULL), PG, false), -EINVAL);
	assert_int_equal(dax_map_setup(&d, fd_a, 0, 8 * PG, PG, false), -EINVAL);
	assert_int_equal(dax_map_setup(&d, fd_a, ~0ULL & ~(PG - 1ULL), 0, PG, false), -EINVAL);
	assert_int_equal(dax_map_setup(&d, -1, 0, 0, PG, false), -EBADF);
	assert_int_equal(dax_map_remove(&d, 0, 0), -EINVAL);
	assert_int_equal(dax_map_remove(&d, 4 * PG, ~0ULL & ~(PG - 1ULL)), -EINVAL);
	/* A mapping far past end of file is all zeros, not a fault. */
	assert_int_equal(dax_map_setup(&d, fd_a, 1024 * PG, 0, 2 * PG, false), 0);
	assert_int_equal(d.base[PG + 5], 0);
	assert_int_equal(d.nrecs, 1u);
	dax_map_free(&d);
	assert_int_equal(dax_map_init(&d, PG + 1), -EINVAL);
	assert_int_equal(dax_map_init(&d, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_file_and_zeros_past_eof),
		cmocka_unit_test(test_truncated_file_is_repaired_to_zeros),
		cmocka_unit_test(test_overlapping_setup_replaces_and_splits),
		cmocka_unit_test(test_hostile_ranges_are_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
