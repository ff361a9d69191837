/* Which CPUs a program's threads run on (issue 23). The CPU count must
 * agree three ways (sched_getaffinity, sysconf from /sys, the processor
 * lines of /proc/cpuinfo); then THREADS threads spin in program code,
 * each asking getcpu (the system call, and sched_getcpu, which is the
 * vDSO's) between stretches, until together they have run on every CPU
 * (or on two, where the machine has more CPUs than threads). A scheduler
 * that keeps every task on one CPU never gets there: the harness's
 * timeout fails it.
 * Prints "cpus: N online, threads ran on N (getcpu), N (vdso)". */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "check.h"

#define THREADS 8

static int ncpus;
static unsigned long long seen_sys, seen_vdso; /* a bit per CPU, any thread */
static int stop;

static int bits(unsigned long long m)
{
	return __builtin_popcountll(m);
}

static void *spin(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		unsigned cpu = 1000;
		CHECK(syscall(SYS_getcpu, &cpu, NULL, NULL) == 0);
		CHECK(cpu < (unsigned)ncpus && cpu < 64);
		__atomic_or_fetch(&seen_sys, 1ULL << cpu, __ATOMIC_RELAXED);
		int v = sched_getcpu();
		CHECK(v >= 0 && v < ncpus && v < 64);
		__atomic_or_fetch(&seen_vdso, 1ULL << v, __ATOMIC_RELAXED);
		for (volatile int i = 0; i < 20000; i++)
			; /* program code, no system call: only a timer takes the CPU */
	}
	return NULL;
}

static int cpuinfo_processors(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	CHECK(f != NULL);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strncmp(line, "processor", 9) == 0;
	fclose(f);
	return n;
}

int main(void)
{
	cpu_set_t set;
	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
	ncpus = CPU_COUNT(&set);
	CHECK(ncpus >= 1);
	CHECK(sysconf(_SC_NPROCESSORS_ONLN) == ncpus);
	CHECK(cpuinfo_processors() == ncpus);
	OK("count");

	int want = ncpus <= THREADS ? ncpus : 2;
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, spin, NULL) == 0);
	while (bits(__atomic_load_n(&seen_sys, __ATOMIC_RELAXED)) < want ||
	       bits(__atomic_load_n(&seen_vdso, __ATOMIC_RELAXED)) < want)
		usleep(10000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	OK("spread");
	printf("cpus: %d online, threads ran on %d (getcpu), %d (vdso)\n", ncpus, bits(seen_sys),
	       bits(seen_vdso));
	return 0;
}
