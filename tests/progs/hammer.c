/* Eight threads on one file at once (issue 23's concurrency test): each
 * owns a 64 KiB region of it and changes it 1,500 times with a seeded
 * generator, keeping a model of what the region must hold. Even threads
 * use pwrite and pread (checking each read against the model), odd ones
 * the shared mapping of the whole file (stores and loads, loads checked);
 * thread 0 also truncates the file's tail over and over (never into the
 * regions). At the end the mapping is synced and gone, and one pread of
 * the file must equal the models, its tail zeros, its size the last
 * truncation's. Mapped and read()/write() accesses never share a page:
 * without a DAX window Pier's shared mappings are copies written back at
 * msync and munmap (linux/file_map.c), coherent with read() only then.
 *
 *   hammer FILE [SEED]   prints "hammer: 8 threads, N operations" */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"

#define THREADS 8
#define REGION (64 * 1024)
#define BODY (THREADS * REGION)
#define TAIL_MAX (64 * 1024)
#define OPS 1500
#define SPAN_MAX 9000 /* crosses pages, and region-sized ones are rare */

static int fd;
static uint8_t *map;
static uint8_t model[THREADS][REGION];
static long final_size; /* thread 0's last truncation */
static uint64_t seed0;

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *work(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t s = seed0 * 2654435761u + (uint64_t)me * 97 + 1;
	uint8_t *mine = model[me], buf[SPAN_MAX];
	off_t base = (off_t)me * REGION;
	for (int op = 0; op < OPS; op++) {
		size_t len = 1 + next(&s) % SPAN_MAX;
		size_t at = next(&s) % (REGION - len + 1);
		int write = next(&s) % 2;
		if (write)
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)next(&s);
		if (me % 2 == 0 && write) {
			CHECK(pwrite(fd, buf, len, base + (off_t)at) == (ssize_t)len);
			memcpy(mine + at, buf, len);
		} else if (me % 2 == 0) {
			CHECK(pread(fd, buf, len, base + (off_t)at) == (ssize_t)len);
			if (memcmp(buf, mine + at, len))
				FAIL("thread %d op %d: pread of %zu at %zu differs", me, op, len, at);
		} else if (write) {
			memcpy(map + base + at, buf, len);
			memcpy(mine + at, buf, len);
		} else if (memcmp(map + base + at, mine + at, len)) {
			FAIL("thread %d op %d: mapped load of %zu at %zu differs", me, op, len, at);
		}
		if (me == 0 && op % 10 == 0) {
			long size = BODY + (long)(next(&s) % (TAIL_MAX + 1));
			CHECK(ftruncate(fd, size) == 0);
			final_size = size;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	CHECK(argc >= 2);
	seed0 = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, BODY) == 0);
	final_size = BODY;
	map = mmap(NULL, BODY, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, work, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	OK("threads");
	CHECK(msync(map, BODY, MS_SYNC) == 0);
	CHECK(munmap(map, BODY) == 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	if (st.st_size != final_size)
		FAIL("size %lld, last truncation %ld", (long long)st.st_size, final_size);
	uint8_t *all = malloc((size_t)st.st_size);
	CHECK(all != NULL);
	CHECK(pread(fd, all, (size_t)st.st_size, 0) == st.st_size);
	for (int i = 0; i < THREADS; i++)
		if (memcmp(all + (size_t)i * REGION, model[i], REGION))
			FAIL("region %d differs from its model", i);
	for (long i = BODY; i < st.st_size; i++)
		if (all[i])
			FAIL("tail byte %ld is %d, not 0", i, all[i]);
	OK("final");
	CHECK(close(fd) == 0);
	printf("hammer: %d threads, %d operations\n", THREADS, THREADS * OPS);
	return 0;
}
