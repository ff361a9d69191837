/* Threads reading one open file at its shared position (read, readv) on
 * several CPUs: every read takes its own part of the file, none the same
 * offset, as on Linux, where the position is locked for the call. A
 * kernel that lets its lock go while a read waits for the host, without
 * holding the position, hands two threads one offset: a block read twice.
 * argv[1]: the file to make (BLOCKS blocks, each starting with its offset).
 * Prints "posreads: N blocks by T threads". */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "check.h"

#define BLOCK 4096
#define BLOCKS 512
#define THREADS 4

static int fd, use_readv;
static int seen[BLOCKS];

static uint8_t byte_of(uint64_t block, int k)
{
	return (uint8_t)(block * 31 + (uint64_t)k);
}

static void check_block(const uint8_t *b)
{
	uint64_t off;
	memcpy(&off, b, sizeof(off));
	if (off % BLOCK || off / BLOCK >= BLOCKS)
		FAIL("a block read at no block's start: %llu", (unsigned long long)off);
	for (int k = 8; k < BLOCK; k++)
		if (b[k] != byte_of(off / BLOCK, k))
			FAIL("byte %d of block %llu", k, (unsigned long long)(off / BLOCK));
	__atomic_add_fetch(&seen[off / BLOCK], 1, __ATOMIC_RELAXED);
}

static void *reader(void *arg)
{
	(void)arg;
	uint8_t b[BLOCK];
	for (;;) {
		ssize_t n;
		if (use_readv) { /* two halves: one position for the whole vector */
			struct iovec v[2] = { { b, BLOCK / 2 }, { b + BLOCK / 2, BLOCK / 2 } };
			n = readv(fd, v, 2);
		} else {
			n = read(fd, b, BLOCK);
		}
		if (n == 0)
			return NULL;
		if (n != BLOCK)
			FAIL("a read of %zd bytes", n);
		check_block(b);
	}
}

static void round_of(const char *name)
{
	pthread_t t[THREADS];
	memset(seen, 0, sizeof(seen));
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, reader, NULL) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	for (int i = 0; i < BLOCKS; i++)
		if (seen[i] != 1)
			FAIL("%s: block %d read %d times", name, i, seen[i]);
	CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)BLOCKS * BLOCK);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	int w = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(w >= 0);
	uint8_t b[BLOCK];
	for (uint64_t i = 0; i < BLOCKS; i++) {
		uint64_t off = i * BLOCK;
		for (int k = 0; k < BLOCK; k++)
			b[k] = byte_of(i, k);
		memcpy(b, &off, sizeof(off));
		CHECK(write(w, b, BLOCK) == BLOCK);
	}
	CHECK(close(w) == 0);
	fd = open(argv[1], O_RDONLY);
	CHECK(fd >= 0);
	round_of("read");
	OK("read");
	use_readv = 1;
	round_of("readv");
	OK("readv");
	printf("posreads: %d blocks by %d threads\n", BLOCKS, THREADS);
	return 0;
}
