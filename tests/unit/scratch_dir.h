/* Scratch directories for the unit tests that serve real files: removing
 * one with everything in it. */
#ifndef PIER_TESTS_SCRATCH_DIR_H
#define PIER_TESTS_SCRATCH_DIR_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

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
