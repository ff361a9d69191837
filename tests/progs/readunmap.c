/* Big preads into a buffer that another thread unmaps and maps again all
 * the while (issue 23): in Pier's guest a read's copy out of the DAX
 * window, and its FUSE_READ's wait, run without the kernel lock, so the
 * munmap can come in the middle of a read. Every read gives all it asked
 * for, a part, or EFAULT, and the bytes that came are the file's; the
 * kernel never faults on the vanished buffer (copy_nofault).
 *   readunmap FILE   FILE: at least 2 MiB of preads.c's pattern
 *   prints "readunmap: N reads" */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include "check.h"

#define SIZE (2 << 20)
#define READS 1000

static uint8_t *volatile buf;
static volatile int done, pause_asked, paused;

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i * 13 + i / 4099) & 0xff);
}

static void *remapper(void *arg)
{
	(void)arg;
	while (!done) {
		if (pause_asked) { /* the buffer mapped, while the reader looks at it */
			paused = 1;
			while (pause_asked && !done)
				;
			paused = 0;
			continue;
		}
		CHECK(munmap(buf, SIZE) == 0);
		void *p = mmap(buf, SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		CHECK(p == buf);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	int fd = open(argv[1], O_RDONLY);
	CHECK(fd >= 0);
	buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, remapper, NULL) == 0);
	long full = 0, part = 0, efault = 0;
	for (int i = 0; i < READS; i++) {
		ssize_t n = pread(fd, buf, SIZE, 0);
		if (n < 0) {
			CHECK(errno == EFAULT);
			efault++;
			continue;
		}
		CHECK(n > 0 && n <= SIZE);
		if (n == SIZE)
			full++;
		else
			part++;
		/* What came is the file's, unless the buffer went (and came
		 * back zeroed) since: only a byte that differs from both says
		 * the kernel wrote a wrong one. Looked at with the remapper
		 * paused, the buffer mapped. */
		pause_asked = 1;
		while (!paused)
			;
		for (ssize_t k = 0; k < n; k += 4096)
			CHECK(buf[k] == pattern((uint64_t)k) || buf[k] == 0);
		pause_asked = 0;
		while (paused)
			;
	}
	done = 1;
	CHECK(pthread_join(t, NULL) == 0);
	OK("reads");
	fprintf(stderr, "readunmap: %ld whole, %ld part, %ld EFAULT\n", full, part, efault);
	printf("readunmap: %d reads\n", READS);
	return 0;
}
