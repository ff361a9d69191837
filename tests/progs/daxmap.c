/*
 * File mappings against read(), for the DAX tests (tests/integration/
 * test_dax.py); not in the fixture-driven CASES, it takes its own files.
 *   daxmap check FILE      mmap (private and shared, whole and at an
 *                          offset) reads what read() reads; a private
 *                          mapping made writable does not write the file
 *   daxmap pasteof FILE    touches the first whole page past the end of
 *                          the file: must die of SIGBUS
 *   daxmap hold FILE GO    maps FILE shared, prints "ready SUM", waits for
 *                          the file GO to appear, reads every page again
 *                          and prints "after SUM"
 *   daxmap reread GO FILE...  read()s each FILE and prints "FILE SIZE SUM",
 *                          then "ready", waits for GO and 1.5 s (past the
 *                          attribute timeout), and does it again
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

#define PG 4096u

static unsigned char *read_all(int fd, size_t n)
{
	unsigned char *b = malloc(n ? n : 1);
	CHECK(b != NULL);
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, b + got, n - got, (off_t)got);
		CHECK(r > 0);
		got += (size_t)r;
	}
	return b;
}

static uint64_t sum(const unsigned char *p, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i] * (uint64_t)(i % 251 + 1);
	return s;
}

static void compare(const unsigned char *m, const unsigned char *want, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (m[i] != want[i])
			FAIL("%s: byte %zu is 0x%02x, read() gave 0x%02x", what, i, m[i], want[i]);
}

static int check(const char *path)
{
	int fd = (int)CHECK_SYS(open(path, O_RDONLY));
	struct stat st;
	CHECK_SYS(fstat(fd, &st));
	size_t n = (size_t)st.st_size;
	CHECK(n > 3 * (2u << 20)); /* spans several DAX chunks */
	unsigned char *want = read_all(fd, n);
	unsigned char *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
	unsigned char *s = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED && s != MAP_FAILED);
	compare(p, want, n, "private mapping");
	compare(s, want, n, "shared mapping");
	size_t tail = n % PG ? PG - n % PG : 0;
	for (size_t i = 0; i < tail; i++)
		CHECK_EQ(p[n + i], 0);
	/* At an offset that is not a chunk boundary, across one. */
	off_t at = (2 << 20) - 3 * PG;
	unsigned char *o = mmap(NULL, 6 * PG, PROT_READ, MAP_SHARED, fd, at);
	CHECK(o != MAP_FAILED);
	compare(o, want + at, 6 * PG, "mapping at an offset");
	OK("mmap_read");
	/* Private, then writable: a copy; the file and other mappings keep theirs. */
	CHECK_SYS(mprotect(p, n, PROT_READ | PROT_WRITE));
	memset(p + PG, 0x5a, 2 * PG);
	CHECK_EQ(s[PG], want[PG]);
	unsigned char b;
	CHECK_EQ(pread(fd, &b, 1, PG), 1);
	CHECK_EQ(b, want[PG]);
	compare(p + 3 * PG, want + 3 * PG, n - 3 * PG, "private copy");
	/* A shared read-only mapping of a read-only file stays read-only. */
	CHECK_ERR(mprotect(s, PG, PROT_READ | PROT_WRITE), EACCES);
	OK("mmap_private_copy");
	/* After close, after munmap of part, the rest still reads. */
	CHECK_SYS(close(fd));
	CHECK_SYS(munmap(s, 4 * PG));
	compare(s + 4 * PG, want + 4 * PG, n - 4 * PG, "after close and partial munmap");
	CHECK_SYS(munmap(s + 4 * PG, n - 4 * PG));
	CHECK_SYS(munmap(p, n));
	CHECK_SYS(munmap(o, 6 * PG));
	OK("mmap_lifetime");
	printf("daxmap: all passed\n");
	return 0;
}

static int pasteof(const char *path)
{
	int fd = (int)CHECK_SYS(open(path, O_RDONLY));
	struct stat st;
	CHECK_SYS(fstat(fd, &st));
	size_t pages = ((size_t)st.st_size + PG - 1) / PG;
	volatile unsigned char *m = mmap(NULL, (pages + 2) * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	printf("last byte %u\n", m[st.st_size - 1]);
	fflush(stdout);
	printf("past the end %u\n", m[pages * PG + 10]); /* SIGBUS here */
	return 0;
}

static void wait_for(const char *go)
{
	struct stat st;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	for (int i = 0; stat(go, &st) != 0; i++) {
		if (i > 1200)
			FAIL("%s never appeared", go);
		nanosleep(&ts, NULL);
	}
}

static void print_sums(char **files, int n)
{
	for (int i = 0; i < n; i++) {
		int fd = (int)CHECK_SYS(open(files[i], O_RDONLY));
		struct stat st;
		CHECK_SYS(fstat(fd, &st));
		unsigned char *b = read_all(fd, (size_t)st.st_size);
		printf("%s %llu %llu\n", files[i], (unsigned long long)st.st_size,
		       (unsigned long long)sum(b, (size_t)st.st_size));
		free(b);
		close(fd);
	}
	fflush(stdout);
}

static int reread(const char *go, char **files, int n)
{
	print_sums(files, n);
	printf("ready\n");
	fflush(stdout);
	wait_for(go);
	struct timespec ts = { 1, 500 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	print_sums(files, n);
	return 0;
}

static int hold(const char *path, const char *go)
{
	int fd = (int)CHECK_SYS(open(path, O_RDONLY));
	struct stat st;
	CHECK_SYS(fstat(fd, &st));
	size_t n = (size_t)st.st_size;
	const unsigned char *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	printf("ready %llu\n", (unsigned long long)sum(m, n));
	fflush(stdout);
	wait_for(go);
	printf("after %llu\n", (unsigned long long)sum(m, n));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return check(argv[2]);
	if (argc == 3 && strcmp(argv[1], "pasteof") == 0)
		return pasteof(argv[2]);
	if (argc == 4 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], argv[3]);
	if (argc >= 4 && strcmp(argv[1], "reread") == 0)
		return reread(argv[2], argv + 3, argc - 3);
	fprintf(stderr, "usage: daxmap check|pasteof FILE | daxmap hold FILE GO | "
			"daxmap reread GO FILE...\n");
	return 2;
}
