/*
 * A thread waiting for the host does not stop the others: while the main
 * thread reads a large file in one read() (hundreds of FUSE_READs when
 * nothing maps the file), a second thread runs in program code. It notes
 * the first moment it ran after the read began; that must come in the
 * first half of the read, not at its end (where a thread would get its
 * turn anyway, when the reader's time slice is found over). Prints
 *   hostwait first-run-in-first-half yes|no
 * Run by tests/integration/test_threads.py. Usage: hostwait FILE BYTES
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile int stop, started;
static volatile uint64_t t0, first;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* the vDSO: no system call */
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *watch(void *arg)
{
	(void)arg;
	started = 1;
	while (!stop)
		if (t0 && !first)
			first = now_ns();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	size_t len = (size_t)strtoull(argv[2], NULL, 0);
	char *buf = malloc(len);
	int fd = open(argv[1], O_RDONLY);
	if (!buf || fd < 0)
		return 3;
	pthread_t t;
	if (pthread_create(&t, NULL, watch, NULL) != 0)
		return 4;
	while (!started)
		usleep(1000);
	t0 = now_ns();
	ssize_t n = read(fd, buf, len);
	uint64_t t1 = now_ns();
	stop = 1;
	pthread_join(t, NULL);
	if (n != (ssize_t)len)
		return 5;
	if (getenv("HOSTWAIT_DEBUG"))
		fprintf(stderr, "first %lld ns after, read %llu ns\n", first ? (long long)(first - t0) : -1LL,
			(unsigned long long)(t1 - t0));
	printf("hostwait first-run-in-first-half %s\n",
	       first && first < t0 + (t1 - t0) / 2 ? "yes" : "no");
	return 0;
}
