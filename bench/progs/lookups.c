/*
 * lookups: path walks from several threads at once (issue 23's figures).
 *
 *   lookups THREADS FILES DIR
 *
 * Thread t stats DIR/t.0 ... DIR/t.(FILES-1), names it has not seen
 * before, so each is a LOOKUP the first time (the harness makes the
 * files). Prints "LOOKUPS N NS": the stats made by all threads, and the
 * wall time from their common start to the last one's end, on
 * CLOCK_MONOTONIC. Fails if a stat fails.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static const char *dir;
static long files;
static pthread_barrier_t start;

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *walker(void *arg)
{
	long t = (long)arg;
	char path[4096];
	pthread_barrier_wait(&start);
	for (long i = 0; i < files; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%ld.%ld", dir, t, i);
		if (stat(path, &st) != 0) {
			perror(path);
			exit(1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: lookups THREADS FILES DIR\n");
		return 2;
	}
	long threads = atol(argv[1]);
	files = atol(argv[2]);
	dir = argv[3];
	if (threads < 1 || threads > 64 || files < 1) {
		fprintf(stderr, "lookups: 1-64 threads, at least one file\n");
		return 2;
	}
	pthread_t t[64];
	pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
	for (long i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, walker, (void *)i)) {
			fprintf(stderr, "lookups: pthread_create failed\n");
			return 1;
		}
	pthread_barrier_wait(&start);
	long long t0 = now_ns();
	for (long i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("LOOKUPS %ld %lld\n", threads * files, now_ns() - t0);
	return 0;
}
