/*
 * Preemption: a thread that never makes a system call must not keep the
 * CPU from a thread whose sleep has ended. The spinner stops when main
 * sets the flag, or (without preemption) after a bounded count; main
 * says which happened:
 *   preempt flag-seen        main ran while the spinner spun
 *   preempt count-ran-out    it did not (no preemption)
 * Run by tests/integration/test_threads.py.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define LIMIT (1ULL << 31) /* about a second natively */

static volatile int flag, started;
static volatile uint64_t spins;

static void *spin(void *arg)
{
	(void)arg;
	started = 1;
	while (!flag && spins < LIMIT)
		spins++;
	return NULL;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, spin, NULL) != 0)
		return 2;
	/* Until the spinner runs (on this CPU once main sleeps, or on
	 * another, which on a slow nested machine may take longer than a
	 * sleep), then once more: each sleep must still end. */
	while (!started)
		usleep(1000);
	usleep(20000);
	flag = 1;
	pthread_join(t, NULL);
	printf("preempt %s\n", spins < LIMIT ? "flag-seen" : "count-ran-out");
	return 0;
}
