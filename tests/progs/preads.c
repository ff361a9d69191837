/* pread while other threads take things away (issue 23): in Pier's guest
 * a pread's FUSE_READ lets the kernel lock go while it waits for the
 * host, so other threads' system calls run meanwhile. Four threads at
 * once for ROUNDS rounds each:
 *   checker   preads 64 KiB at seeded offsets into its own buffer: every
 *             byte as the file's pattern says (the reads of the others in
 *             flight at the same time change nothing of it)
 *   unmapper  preads into a page-aligned buffer that the remapper thread
 *             unmaps and maps again over and over: each read returns the
 *             bytes asked for or fails with EFAULT, and the kernel goes on
 *   closer    preads through a dup of the file that the remapper closes
 *             and dups again: each read returns bytes or fails with EBADF
 *   remapper  the one that takes them away
 * Linux allows the same outcomes (a buffer unmapped by another thread
 * during read(2) may also be written before it goes).
 *
 *   preads FILE   FILE holds pattern bytes (byte i == (i * 13 + i / 4099) & 0xff)
 *                 and is at least 4 MiB; prints "preads: N checked, N
 *                 unmapped-buffer reads, N closed-fd reads" */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"

#define CHUNK 65536
#define ROUNDS 400

static int fd;
static off_t size;
static uint8_t *volatile shared_buf; /* the unmapper's, mapped and unmapped */
static volatile int shared_fd = -1;  /* the closer's, closed and dup'ed */
static volatile int done;
static long checked, mapped_reads, fd_reads, efaults, ebadfs;

static uint8_t pattern(off_t i)
{
	return (uint8_t)((i * 13 + i / 4099) & 0xff);
}

static off_t offset(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (off_t)(*s % (uint64_t)(size - CHUNK));
}

static void *checker(void *arg)
{
	(void)arg;
	uint8_t *buf = malloc(CHUNK);
	CHECK(buf != NULL);
	uint64_t s = 7;
	for (int r = 0; r < ROUNDS; r++) {
		off_t at = offset(&s);
		CHECK(pread(fd, buf, CHUNK, at) == CHUNK);
		for (int i = 0; i < CHUNK; i++)
			if (buf[i] != pattern(at + i))
				FAIL("byte %lld is %u, not %u", (long long)(at + i), buf[i],
				     pattern(at + i));
		checked++;
	}
	free(buf);
	return NULL;
}

static void *unmapper(void *arg)
{
	(void)arg;
	uint64_t s = 11;
	for (int r = 0; r < ROUNDS; r++) {
		/* Linux may also copy part before the buffer goes: short. */
		ssize_t n = pread(fd, shared_buf, CHUNK, offset(&s));
		CHECK((n > 0 && n <= CHUNK) || (n < 0 && errno == EFAULT));
		if (n < 0)
			efaults++;
		mapped_reads++;
	}
	return NULL;
}

static void *closer(void *arg)
{
	(void)arg;
	uint8_t *buf = malloc(CHUNK);
	CHECK(buf != NULL);
	uint64_t s = 13;
	for (int r = 0; r < ROUNDS; r++) {
		off_t at = offset(&s);
		ssize_t n = pread(shared_fd, buf, CHUNK, at);
		/* The number may name another file by now (a dup of ours, or
		 * of the file: the same bytes), or none. */
		CHECK(n == CHUNK || (n < 0 && errno == EBADF));
		if (n < 0)
			ebadfs++;
		else
			CHECK(buf[0] == pattern(at) && buf[CHUNK - 1] == pattern(at + CHUNK - 1));
		fd_reads++;
	}
	free(buf);
	return NULL;
}

static void *remapper(void *arg)
{
	(void)arg;
	while (!done) {
		CHECK(munmap(shared_buf, CHUNK) == 0);
		sched_yield();
		CHECK(mmap(shared_buf, CHUNK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == shared_buf);
		int old = shared_fd;
		CHECK(close(old) == 0);
		sched_yield();
		CHECK(dup2(fd, old) == old);
		sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: preads FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	CHECK(fd >= 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size >= 4 << 20);
	size = st.st_size;
	shared_buf = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(shared_buf != MAP_FAILED);
	shared_fd = dup(fd);
	CHECK(shared_fd >= 0);
	pthread_t t[3], rm;
	void *(*fn[3])(void *) = { checker, unmapper, closer };
	CHECK(pthread_create(&rm, NULL, remapper, NULL) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_create(&t[i], NULL, fn[i], NULL) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	done = 1;
	CHECK(pthread_join(rm, NULL) == 0);
	OK("races");
	printf("preads: %ld checked, %ld unmapped-buffer reads, %ld closed-fd reads\n", checked,
	       mapped_reads, fd_reads);
	fprintf(stderr, "preads: %ld EFAULT, %ld EBADF\n", efaults, ebadfs);
	return 0;
}
