/*
 * The two round trips the guest's design is about, timed from inside the
 * program: one system call that does nothing (getpid, made with syscall()
 * so no C library can cache it) and one 4 KiB pread of a file, which the
 * guest serves with one FUSE_READ (no page cache in the guest).
 * Usage: roundtrip FILE [N]    prints "getpid NS" and "pread4k NS" (ns per call)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: roundtrip FILE [N]\n");
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 10000;
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0 || n <= 0) {
		perror(argv[1]);
		return 1;
	}
	static char buf[4096];
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
		fprintf(stderr, "%s: shorter than 4 KiB\n", argv[1]);
		return 1;
	}
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	double t1 = now_ns();
	for (long i = 0; i < n; i++)
		if (pread(fd, buf, sizeof(buf), (i % 16) * 4096) != (ssize_t)sizeof(buf)) {
			perror("pread");
			return 1;
		}
	double t2 = now_ns();
	printf("getpid %.0f\npread4k %.0f\n", (t1 - t0) / n, (t2 - t1) / n);
	return 0;
}
