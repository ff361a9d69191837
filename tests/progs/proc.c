/* Process identity and resources: proc
 *
 * getpid/gettid/getppid, the uid and gid calls, uname, sysinfo,
 * getrlimit/prlimit64, sched_yield, sched_getaffinity, arch_prctl(GET_FS)
 * against the thread pointer, __thread variables, set_tid_address,
 * getrandom. */
#include <sched.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "check.h"

#define PX_ARCH_SET_FS 0x1002
#define PX_ARCH_GET_FS 0x1003
#define PX_ARCH_GET_GS 0x1004

static void test_ids(void)
{
	pid_t pid = getpid();
	CHECK(pid > 0);
	CHECK_EQ(syscall(SYS_getpid), pid);
	/* One thread: its id is the process id. */
	CHECK_EQ(syscall(SYS_gettid), pid);
	CHECK(getppid() >= 0);
	CHECK_EQ(syscall(SYS_getppid), getppid());
	CHECK(getppid() != pid);

	uid_t uid = getuid();
	gid_t gid = getgid();
	CHECK_EQ(syscall(SYS_getuid), uid);
	CHECK_EQ(syscall(SYS_geteuid), geteuid());
	CHECK_EQ(syscall(SYS_getgid), gid);
	CHECK_EQ(syscall(SYS_getegid), getegid());
	/* Nothing here is set-id. */
	CHECK_EQ(geteuid(), uid);
	CHECK_EQ(getegid(), gid);
	OK("ids");
}

static void test_uname(void)
{
	struct utsname u;
	memset(&u, 0x7f, sizeof(u));
	CHECK_SYS(uname(&u));
	CHECK_STR(u.sysname, "Linux");
	CHECK_STR(u.machine, "x86_64");
	/* Terminated, and a release a libc can parse ("6.1.0", "5.15-pier"). */
	CHECK(memchr(u.release, 0, sizeof(u.release)) != NULL);
	CHECK(memchr(u.nodename, 0, sizeof(u.nodename)) != NULL);
	CHECK(memchr(u.version, 0, sizeof(u.version)) != NULL);
	CHECK(u.release[0] >= '1' && u.release[0] <= '9');
	CHECK(strchr(u.release, '.') != NULL);
	struct utsname raw;
	CHECK_SYS(syscall(SYS_uname, &raw));
	CHECK_STR(raw.sysname, u.sysname);
	CHECK_STR(raw.release, u.release);
	OK("uname");
}

static void test_sysinfo(void)
{
	struct sysinfo si;
	memset(&si, 0xff, sizeof(si));
	CHECK_SYS(sysinfo(&si));
	CHECK(si.mem_unit >= 1);
	CHECK(si.totalram > 0);
	CHECK(si.freeram <= si.totalram);
	CHECK((unsigned long long)si.totalram * si.mem_unit >= (8ULL << 20));
	CHECK((long)si.uptime >= 0);
	CHECK(si.procs >= 1);
	CHECK(si.totalswap >= si.freeswap);
	OK("sysinfo");
}

static void test_rlimit(void)
{
	static const int res[] = { RLIMIT_STACK, RLIMIT_NOFILE };
	for (size_t i = 0; i < 2; i++) {
		struct rlimit rl, raw;
		CHECK_SYS(getrlimit(res[i], &rl));
		CHECK(rl.rlim_cur > 0);
		CHECK(rl.rlim_max == RLIM_INFINITY || rl.rlim_cur <= rl.rlim_max);
		/* prlimit64 on this process, by 0 and by its pid. */
		memset(&raw, 0, sizeof(raw));
		CHECK_SYS(syscall(SYS_prlimit64, 0, res[i], NULL, &raw));
		CHECK_EQ(raw.rlim_cur, rl.rlim_cur);
		CHECK_EQ(raw.rlim_max, rl.rlim_max);
		CHECK_SYS(syscall(SYS_prlimit64, getpid(), res[i], NULL, &raw));
		CHECK_EQ(raw.rlim_cur, rl.rlim_cur);
		CHECK_SYS(syscall(SYS_getrlimit, res[i], &raw));
		CHECK_EQ(raw.rlim_cur, rl.rlim_cur);
		CHECK_SYS(prlimit(0, res[i], NULL, &raw));
		CHECK_EQ(raw.rlim_max, rl.rlim_max);
	}
	struct rlimit rl;
	CHECK_SYS(getrlimit(RLIMIT_STACK, &rl));
	CHECK(rl.rlim_cur >= 128 * 1024);
	CHECK_SYS(getrlimit(RLIMIT_NOFILE, &rl));
	CHECK(rl.rlim_cur >= 64);
	CHECK_ERR(getrlimit(1000, &rl), EINVAL);
	OK("rlimit");
}

static void test_sched(void)
{
	for (int i = 0; i < 10; i++)
		CHECK_EQ(sched_yield(), 0);
	CHECK_EQ(syscall(SYS_sched_yield), 0);

	cpu_set_t set;
	CPU_ZERO(&set);
	CHECK_SYS(sched_getaffinity(0, sizeof(set), &set));
	CHECK(CPU_COUNT(&set) >= 1);
	/* The raw call returns how many bytes of mask it wrote. */
	unsigned long mask[16];
	memset(mask, 0, sizeof(mask));
	long n = CHECK_SYS(syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask));
	CHECK(n >= 8 && n <= (long)sizeof(mask) && n % 8 == 0);
	CHECK(mask[0] != 0);
	CHECK_SYS(syscall(SYS_sched_getaffinity, getpid(), sizeof(mask), mask));
	OK("sched");
}

static __thread int tls_init = 42;
static __thread int tls_zero;
static __thread char tls_str[32] = "thread-local";
static _Thread_local uint64_t tls_big[64];

static void test_tls(void)
{
	/* x86_64 TLS variant II: %fs points at the thread control block, whose
	 * first word points to itself (both libcs), and the static TLS block
	 * sits just below it. */
	uintptr_t tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	CHECK(tp != 0);
	CHECK_EQ((uintptr_t)__builtin_thread_pointer(), tp);

	unsigned long fs = 0;
	CHECK_SYS(syscall(SYS_arch_prctl, PX_ARCH_GET_FS, &fs));
	CHECK_EQ(fs, tp);
	unsigned long gs = 1;
	CHECK_SYS(syscall(SYS_arch_prctl, PX_ARCH_GET_GS, &gs));
	CHECK_ERR(syscall(SYS_arch_prctl, 0x9999, &fs), EINVAL);

	uintptr_t a = (uintptr_t)&tls_init;
	CHECK(a < tp && tp - a < (1u << 20));
	CHECK_EQ(tls_init, 42);
	CHECK_EQ(tls_zero, 0);
	CHECK_STR(tls_str, "thread-local");
	for (int i = 0; i < 64; i++)
		CHECK_EQ(tls_big[i], 0);
	tls_init++;
	tls_zero = 7;
	strcpy(tls_str, "changed");
	for (int i = 0; i < 64; i++)
		tls_big[i] = (uint64_t)i * 3;
	CHECK_EQ(tls_init, 43);
	CHECK_EQ(tls_zero, 7);
	CHECK_STR(tls_str, "changed");
	CHECK_EQ(tls_big[63], 189);
	/* Still there after a system call and setting FS to the same value. */
	CHECK_SYS(syscall(SYS_arch_prctl, PX_ARCH_SET_FS, fs));
	CHECK_EQ(tls_init, 43);
	CHECK_EQ(errno, 0);
	OK("tls");
}

static int clear_me = 1;

static void test_set_tid_address(void)
{
	long tid = CHECK_SYS(syscall(SYS_set_tid_address, &clear_me));
	CHECK_EQ(tid, getpid());
	CHECK_EQ(clear_me, 1);
	OK("set_tid_address");
}

static void test_getrandom(void)
{
	unsigned char a[64], b[64], zero[64];
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(zero, 0, sizeof(zero));
	CHECK_EQ(getrandom(a, sizeof(a), 0), 64);
	CHECK_EQ(syscall(SYS_getrandom, b, sizeof(b), 0), 64);
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
	CHECK(memcmp(b, zero, sizeof(b)) != 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK_EQ(getrandom(a, 16, GRND_NONBLOCK), 16);
	CHECK_EQ(getrandom(a, 0, 0), 0);
	CHECK_ERR(getrandom(a, 16, 0x4000), EINVAL);
	/* A larger request, and the bytes are not one value repeated. */
	static unsigned char big[4096];
	size_t got = 0;
	while (got < sizeof(big))
		got += (size_t)CHECK_SYS(getrandom(big + got, sizeof(big) - got, 0));
	int counts[256] = { 0 };
	for (size_t i = 0; i < sizeof(big); i++)
		counts[big[i]]++;
	for (int v = 0; v < 256; v++)
		if (counts[v] > 100) /* 16 expected */
			FAIL("getrandom: byte 0x%02x appears %d times in 4096", v, counts[v]);
	OK("getrandom");
}

int main(void)
{
	test_ids();
	test_uname();
	test_sysinfo();
	test_rlimit();
	test_sched();
	test_tls();
	test_set_tid_address();
	test_getrandom();
	printf("proc: all passed\n");
	return 0;
}
