/* Pinning, and the balancer between per-CPU run queues (issue 23); 2 or
 * more CPUs.
 *   pin:     sched_setaffinity to each CPU in turn; from its return the
 *            caller runs there (getcpu, the system call and the vDSO's),
 *            and stays while it spins; sched_getaffinity says so.
 *   inherit: a thread made by a pinned thread is pinned the same.
 *   einval:  a mask with no CPU online is refused, the old one kept.
 *   balance: a spinner pinned to each CPU but 0, then three spinners
 *            made on CPU 0 (made pinned there, then let go): no CPU is
 *            ever idle, so only a balancer that takes a task over from a
 *            busier queue gets one of the three off CPU 0.
 *   other:   another thread, spinning, is pinned to the last CPU by its
 *            tid: it ends up there and stays.
 * A timeout (the harness's) is the failure of the waits. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "check.h"

static int ncpus;
static int stop, pinned_ready;
static int free_seen_off0; /* a let-go spinner ran on a CPU other than 0 */

static int cpu_now(void)
{
	unsigned sys = 1000;
	CHECK(syscall(SYS_getcpu, &sys, NULL, NULL) == 0);
	int vdso = sched_getcpu();
	CHECK(vdso >= 0 && vdso < ncpus && sys < (unsigned)ncpus);
	return (int)sys;
}

static void pin(pid_t tid, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	CHECK(sched_setaffinity(tid, sizeof(set), &set) == 0);
}

static void unpin(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	for (int i = 0; i < ncpus; i++)
		CPU_SET(i, &set);
	CHECK(sched_setaffinity(0, sizeof(set), &set) == 0);
}

static void spin_a_while(void)
{
	for (volatile int i = 0; i < 200000; i++)
		;
}

static int only_cpu_allowed(void)
{
	cpu_set_t set;
	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
	CHECK(CPU_COUNT(&set) == 1);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			return i;
	return -1;
}

/* A pinned spinner makes no system call in its loop: under TCG (no
 * RDTSCP) even sched_getcpu is one, and a system call can wait for the
 * kernel lock, which would leave its CPU idle for a moment. */
static void *pinned_spinner(void *arg)
{
	int cpu = (int)(long)arg;
	pin(0, cpu);
	CHECK(cpu_now() == cpu);
	spin_a_while(); /* its pages in now: no fault (a wait) in the loop */
	__atomic_add_fetch(&pinned_ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		spin_a_while();
	CHECK(cpu_now() == cpu);
	return NULL;
}

static void *free_spinner(void *arg)
{
	(void)arg;
	CHECK(only_cpu_allowed() == 0); /* inherited from main */
	unpin();
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		spin_a_while();
		if (sched_getcpu() != 0)
			__atomic_store_n(&free_seen_off0, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static pid_t other_tid;
static int other_cpu = -1;

static void *other(void *arg)
{
	(void)arg;
	__atomic_store_n(&other_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		spin_a_while();
		__atomic_store_n(&other_cpu, cpu_now(), __ATOMIC_RELEASE);
	}
	return NULL;
}

/* other's next report, not one from before the call. */
static int fresh_cpu(void)
{
	__atomic_store_n(&other_cpu, -1, __ATOMIC_RELEASE);
	int c;
	while ((c = __atomic_load_n(&other_cpu, __ATOMIC_ACQUIRE)) < 0)
		usleep(1000);
	return c;
}

static void *inherit(void *arg)
{
	(void)arg;
	CHECK(only_cpu_allowed() == 1);
	CHECK(cpu_now() == 1);
	return NULL;
}

int main(void)
{
	cpu_set_t set;
	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
	ncpus = CPU_COUNT(&set);
	CHECK(ncpus >= 2 && ncpus <= 64);

	for (int round = 0; round < 2; round++)
		for (int c = 0; c < ncpus; c++) {
			pin(0, c);
			CHECK(only_cpu_allowed() == c);
			for (int i = 0; i < 20; i++) {
				CHECK(cpu_now() == c);
				spin_a_while();
			}
		}
	OK("pin");

	pin(0, 1);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, inherit, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	OK("inherit");

	CPU_ZERO(&set);
	CPU_SET(ncpus, &set); /* one past the last */
	CHECK(sched_setaffinity(0, sizeof(set), &set) == -1 && errno == EINVAL);
	CHECK(only_cpu_allowed() == 1);
	OK("einval");

	pin(0, 0);
	pthread_t p[64], f[3];
	for (int c = 1; c < ncpus; c++)
		CHECK(pthread_create(&p[c], NULL, pinned_spinner, (void *)(long)c) == 0);
	while (__atomic_load_n(&pinned_ready, __ATOMIC_ACQUIRE) < ncpus - 1)
		usleep(1000);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_create(&f[i], NULL, free_spinner, NULL) == 0);
	while (!__atomic_load_n(&free_seen_off0, __ATOMIC_ACQUIRE))
		usleep(10000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int c = 1; c < ncpus; c++)
		CHECK(pthread_join(p[c], NULL) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_join(f[i], NULL) == 0);
	OK("balance");

	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	unpin();
	CHECK(pthread_create(&t, NULL, other, NULL) == 0);
	while (!__atomic_load_n(&other_tid, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&other_cpu, __ATOMIC_ACQUIRE) < 0)
		usleep(1000);
	pin(other_tid, ncpus - 1);
	/* Two reports there in a row: the second was asked for after the pin
	 * (the first may be from before it). */
	for (int there = 0; there < 2;)
		there = fresh_cpu() == ncpus - 1 ? there + 1 : 0;
	for (int i = 0; i < 20; i++) /* and it stays */
		CHECK(fresh_cpu() == ncpus - 1);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	CHECK(pthread_join(t, NULL) == 0);
	OK("other");
	printf("affinity: %d cpus\n", ncpus);
	return 0;
}
