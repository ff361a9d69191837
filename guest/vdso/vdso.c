/*
 * The vDSO: clock_gettime, gettimeofday, time, getcpu and clock_getres
 * answered in the program's own ring, from the TSC and the data page the
 * kernel maps just before this image (vdso.lds: vvar_page). Built as a
 * tiny position-independent shared object (no libc, no relocations) and
 * mapped into every program; glibc and musl find it through
 * AT_SYSINFO_EHDR. Anything it does not know goes to the real system
 * call, so answers never differ from the kernel's.
 */
#include <asm/unistd_64.h>
#include <linux/time_types.h>
#include "vdso.h"

#define NS 1000000000ULL

extern const struct vdso_data vvar_page __attribute__((visibility("hidden")));

static long sys2(long nr, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return r;
}

static long sys3(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

/* The kernel's monotonic clock (ns since boot); 0 if the page is unfilled. */
static uint64_t mono_ns(const volatile struct vdso_data *d)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t tsc = (uint64_t)hi << 32 | lo;
	unsigned __int128 delta = tsc - d->tsc_base;
	return (uint64_t)((delta * d->ns_mult) >> 32);
}

/* The clock's time in ns, or -1 for a clock the system call must answer. */
static int64_t clock_ns(int clock)
{
	const volatile struct vdso_data *d = &vvar_page;
	if (d->version != VDSO_DATA_VERSION)
		return -1;
	switch (clock) {
	case 0: case 5: case 11: /* REALTIME, REALTIME_COARSE, TAI */
		return (int64_t)(d->epoch_ns + mono_ns(d));
	case 1: case 4: case 6: case 7: /* MONOTONIC, _RAW, _COARSE, BOOTTIME */
		return (int64_t)mono_ns(d);
	default:
		return -1;
	}
}

int __vdso_clock_gettime(int clock, struct __kernel_timespec *ts)
{
	int64_t ns = clock_ns(clock);
	if (ns < 0)
		return (int)sys2(__NR_clock_gettime, clock, (long)ts);
	ts->tv_sec = ns / (int64_t)NS;
	ts->tv_nsec = ns % (int64_t)NS;
	return 0;
}

int __vdso_gettimeofday(struct __kernel_old_timeval *tv, void *tz)
{
	int64_t ns = clock_ns(0);
	if (ns < 0)
		return (int)sys2(__NR_gettimeofday, (long)tv, (long)tz);
	if (tv) {
		tv->tv_sec = ns / (int64_t)NS;
		tv->tv_usec = ns % (int64_t)NS / 1000;
	}
	if (tz) { /* struct timezone: minutes west, dst type; UTC */
		((int *)tz)[0] = 0;
		((int *)tz)[1] = 0;
	}
	return 0;
}

long __vdso_time(long *t)
{
	int64_t ns = clock_ns(0);
	if (ns < 0)
		return sys2(__NR_time, (long)t, 0);
	long s = ns / (int64_t)NS;
	if (t)
		*t = s;
	return s;
}

int __vdso_getcpu(unsigned *cpu, unsigned *node, void *cache)
{
	(void)cache;
	const volatile struct vdso_data *d = &vvar_page;
	if (d->version != VDSO_DATA_VERSION || !(d->flags & VDSO_CPU_RDTSCP))
		return (int)sys3(__NR_getcpu, (long)cpu, (long)node, 0);
	uint32_t lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	if (cpu)
		*cpu = aux; /* TSC_AUX: the kernel's number for this CPU */
	if (node)
		*node = 0;
	return 0;
}

int __vdso_clock_getres(int clock, struct __kernel_timespec *res)
{
	if (clock_ns(clock) < 0)
		return (int)sys3(__NR_clock_getres, clock, (long)res, 0);
	if (res) {
		res->tv_sec = 0;
		res->tv_nsec = 1;
	}
	return 0;
}

/* The unprefixed names too, as Linux's vDSO has them. */
int clock_gettime(int, struct __kernel_timespec *)
	__attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct __kernel_old_timeval *, void *)
	__attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
int getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
int clock_getres(int, struct __kernel_timespec *)
	__attribute__((weak, alias("__vdso_clock_getres")));
