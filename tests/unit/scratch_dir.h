/* Scratch directories for the unit tests that serve real files: putting a
 * file in one, removing one with everything in it. cmocka's asserts: include
 * after <cmocka.h>. */
#ifndef PIER_TESTS_SCRATCH_DIR_H
#define PIER_TESTS_SCRATCH_DIR_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* dir/name with `data` in it, created or truncated, mode 0644. */
static inline void scratch_put_file(const char *dir, const char *name, const char *data)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static int scratch_remove_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

/* Removes dir and everything below it, symlinks not followed. */
static inline void scratch_remove_tree(const char *dir)
{
	nftw(dir, scratch_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
