/*
 * Pieces the host-side harnesses (fuzz_fuse_server.c, fuzz_virtq_device.c)
 * share: counting open descriptors (none may leak per input) and building
 * seed files. The including harness defines die(what), which reports what
 * failed with errno and aborts.
 */
#ifndef PIER_FUZZ_HOST_H
#define PIER_FUZZ_HOST_H

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void die(const char *what);

/* Entries of /proc/self/fd (the directory's own included: compare counts). */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		die("/proc/self/fd");
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A seed input, built up with seed_put and written with seed_file. */
struct seed {
	uint8_t b[8192];
	size_t n;
};

static void seed_put(struct seed *s, const void *p, size_t n)
{
	if (s->n + n > sizeof(s->b))
		die("seed too big");
	if (n)
		memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void seed_file(const char *dir, const char *name, const struct seed *s)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
		die("seed path too long");
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f))
		die(p);
}

#endif
