/* A thread blocked in a pipe read or write whose buffer another thread
 * unmaps meanwhile (the kernel lets its lock go while a task waits, so
 * the munmap runs): as Linux, the read is EFAULT and leaves the pipe's
 * byte in it, the write ends with what it wrote before (or EFAULT), and
 * the kernel never touches the vanished buffer.
 * Prints "unmapwait: all passed". */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include "check.h"

#define BIG (256 * 1024) /* more than a pipe holds: the write blocks */

static int fds[2];
static char *region;
static long result;

static void *reader(void *arg)
{
	(void)arg;
	ssize_t r = read(fds[0], region, 4096);
	result = r < 0 ? -errno : r;
	return NULL;
}

static void *writer(void *arg)
{
	(void)arg;
	ssize_t r = write(fds[1], region, BIG);
	result = r < 0 ? -errno : r;
	return NULL;
}

static char *mapped(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	return p;
}

int main(void)
{
	pthread_t t;
	char c = 0;

	CHECK(pipe(fds) == 0);
	region = mapped(65536);
	CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
	usleep(100000); /* it waits for data by now (if not, EFAULT at once) */
	CHECK(munmap(region, 65536) == 0);
	CHECK(write(fds[1], "x", 1) == 1);
	CHECK(pthread_join(t, NULL) == 0);
	if (result != -EFAULT)
		FAIL("read into an unmapped buffer gave %ld", result);
	CHECK(read(fds[0], &c, 1) == 1 && c == 'x'); /* still in the pipe */
	OK("read");

	region = mapped(BIG);
	for (int i = 0; i < BIG; i++)
		region[i] = (char)(i * 7 + i / 4096);
	CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
	usleep(100000); /* the pipe is full, the writer waits for room */
	CHECK(munmap(region, BIG) == 0);
	static char back[BIG];
	long got = read(fds[0], back, BIG); /* room: the writer wakes */
	CHECK(got >= 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
	for (long r; (r = read(fds[0], back + got, BIG - (size_t)got)) > 0;)
		got += r;
	if (!(result == -EFAULT ? got == 0 : result > 0 && result < BIG && got == result))
		FAIL("write gave %ld, read back %ld", result, got);
	for (long i = 0; i < got; i++)
		if (back[i] != (char)(i * 7 + i / 4096))
			FAIL("byte %ld of what was written", i);
	OK("write");
	printf("unmapwait: all passed\n");
	return 0;
}
