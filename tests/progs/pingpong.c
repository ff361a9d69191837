/* A futex ping-pong between two threads (issue 23's test of waits and
 * wake-ups between CPUs): one word, raw FUTEX_WAIT and FUTEX_WAKE, each
 * side waiting for its turn and handing the turn over, ROUNDS times. A
 * lost wake-up hangs it (the harness's timeout); a wrong turn fails it.
 * Prints "pingpong: N round trips". */
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "check.h"

#define ROUNDS 10000

static uint32_t turn; /* 0: ping's turn, 1: pong's */
static long seen[2];  /* turns each side took */

static long futex(uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void play(int me)
{
	for (int i = 0; i < ROUNDS; i++) {
		uint32_t t;
		while ((t = __atomic_load_n(&turn, __ATOMIC_ACQUIRE)) != (uint32_t)me) {
			long r = futex(&turn, FUTEX_WAIT_PRIVATE, t);
			CHECK(r == 0 || errno == EAGAIN || errno == EINTR);
		}
		seen[me]++;
		__atomic_store_n(&turn, (uint32_t)!me, __ATOMIC_RELEASE);
		CHECK(futex(&turn, FUTEX_WAKE_PRIVATE, 1) >= 0);
	}
}

static void *pong(void *arg)
{
	(void)arg;
	play(1);
	return NULL;
}

int main(void)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, pong, NULL) == 0);
	play(0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(seen[0] == ROUNDS && seen[1] == ROUNDS);
	OK("pingpong");
	printf("pingpong: %d round trips\n", ROUNDS);
	return 0;
}
