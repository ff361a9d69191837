/*
 * The two standard-stream workloads of bench/stdio, the same binary on the
 * host and in the guest:
 *
 *   stream out BYTES   writes BYTES to stdout in 64 KiB write()s (the last
 *                      one shorter), retrying short writes; prints nothing else
 *   stream in          reads stdin to its end in 64 KiB read()s and prints
 *                      "in BYTES" on stdout
 *
 * The bytes written are a fixed pattern (not zeros), filled once. Exit
 * status 1 with a message on stderr if a write or read fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 65536

static char buf[CHUNK];

static int out(long long n)
{
	for (int i = 0; i < CHUNK; i++)
		buf[i] = (char)(i * 131 + 7);
	while (n > 0) {
		size_t want = n < CHUNK ? (size_t)n : CHUNK;
		size_t done = 0;
		while (done < want) {
			ssize_t w = write(1, buf + done, want - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				fprintf(stderr, "stream: write: %s\n", w < 0 ? strerror(errno) : "wrote 0");
				return 1;
			}
			done += (size_t)w;
		}
		n -= (long long)want;
	}
	return 0;
}

static int in(void)
{
	long long n = 0;
	for (;;) {
		ssize_t r = read(0, buf, CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "stream: read: %s\n", strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		n += r;
	}
	printf("in %lld\n", n);
	return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "out")) {
		char *end;
		long long n = strtoll(argv[2], &end, 10);
		if (*end || n < 0) {
			fprintf(stderr, "stream: bad byte count %s\n", argv[2]);
			return 2;
		}
		return out(n);
	}
	if (argc == 2 && !strcmp(argv[1], "in"))
		return in();
	fprintf(stderr, "usage: stream out BYTES | stream in\n");
	return 2;
}
