/*
 * Host stand-ins for the guest kernel services that guest code compiled
 * into a fuzz harness calls (guest/fs/fuse.c: kprintf, kmalloc, kfree).
 * Include in exactly one file of a harness: these are definitions.
 *
 * kprintf formats into a buffer (so a bad format still runs under the
 * sanitizers) and prints nothing unless PIER_FUZZ_VERBOSE is set.
 */
#ifndef PIER_FUZZ_GUEST_SHIMS_H
#define PIER_FUZZ_GUEST_SHIMS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "../guest/kernel/console.h"
#include "../guest/kernel/stats.h"
#include "../guest/mm/mm.h"

int kvprintf(const char *fmt, va_list ap)
{
	static char line[1024];
	static int verbose = -1;
	if (verbose < 0)
		verbose = getenv("PIER_FUZZ_VERBOSE") != NULL;
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (verbose)
		fputs(line, stderr);
	return n;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}

/* The counters fuse.c adds to (guest/kernel/stats.c holds them in the guest). */
struct guest_stats stats;

void *kmalloc(size_t size)
{
	return malloc(size ? size : 1);
}

void *kzalloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

void kfree(void *p)
{
	free(p);
}

#endif
