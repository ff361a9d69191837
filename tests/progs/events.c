/*
 * Event and IPC interfaces that servers and runtimes lean on: SysV shared
 * memory (shmget/shmat/shmdt/shmctl with private and keyed segments),
 * timerfd (one-shot, periodic, absolute, gettime), eventfd (counter and
 * semaphore modes, poll readiness), select/pselect timeouts and readiness,
 * resource usage and CPU-time clocks, process priorities, and
 * posix_fadvise on a file and on a pipe.
 *
 * Nothing here writes a file: the root is read-only in the guest. The file
 * fadvise looks at is the program itself (argv[0], /bin/events there).
 * Times are only ever checked from below: a busy host may be late.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/shm.h>
#include <sys/timerfd.h>
#include "check.h"

#define PAGE 4096
#define SEG_SIZE (3 * PAGE + 100)

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t read_u64(int fd)
{
	uint64_t v = 0;
	CHECK_EQ(CHECK_SYS(read(fd, &v, sizeof v)), sizeof v);
	return v;
}

static void write_u64(int fd, uint64_t v)
{
	CHECK_EQ(CHECK_SYS(write(fd, &v, sizeof v)), sizeof v);
}

static short poll_events(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	CHECK_SYS(poll(&p, 1, timeout_ms));
	return p.revents;
}

static void shm_private(void)
{
	int id = CHECK_SYS(shmget(IPC_PRIVATE, SEG_SIZE, IPC_CREAT | 0600));
	char *a = shmat(id, NULL, 0), *b = shmat(id, NULL, 0);
	CHECK(a != (void *)-1 && b != (void *)-1 && a != b);
	CHECK_EQ(a[0], 0); /* new segments are zeroed */
	CHECK_EQ(b[SEG_SIZE - 1], 0);
	strcpy(a, "through a");
	CHECK_STR(b, "through a");
	a[SEG_SIZE - 1] = 'z'; /* the last requested byte */
	CHECK_EQ(b[SEG_SIZE - 1], 'z');

	struct shmid_ds ds;
	CHECK_SYS(shmctl(id, IPC_STAT, &ds));
	CHECK_EQ(ds.shm_segsz, SEG_SIZE);
	CHECK_EQ(ds.shm_nattch, 2);
	CHECK_EQ(ds.shm_perm.mode & 0777, 0600);
	CHECK_SYS(shmdt(b));
	CHECK_SYS(shmctl(id, IPC_STAT, &ds));
	CHECK_EQ(ds.shm_nattch, 1);
	CHECK_ERR(shmdt(b), EINVAL); /* detached already */
	CHECK_ERR(shmdt(a + 1), EINVAL); /* not page-aligned */

	/* Read-only attach: sees the data (writing would fault). */
	const char *r = shmat(id, NULL, SHM_RDONLY);
	CHECK(r != (void *)-1);
	CHECK_STR(r, "through a");
	CHECK_EQ(r[SEG_SIZE - 1], 'z');
	CHECK_SYS(shmdt(r));

	/* Removed while attached: usable until the last detach. */
	CHECK_SYS(shmctl(id, IPC_RMID, NULL));
	strcpy(a + PAGE, "after rmid");
	CHECK_STR(a + PAGE, "after rmid");
	CHECK_STR(a, "through a");
	CHECK_SYS(shmdt(a));
	CHECK_ERR(shmctl(id, IPC_STAT, &ds), EINVAL); /* gone now */
	OK("shm_private");
}

static void shm_keyed(void)
{
	key_t key = (key_t)(0x50690000 ^ (getpid() & 0xffff));
	int id;
	/* A key some earlier run left behind is taken: try the next one. */
	while ((id = shmget(key, SEG_SIZE, IPC_CREAT | IPC_EXCL | 0600)) < 0 && errno == EEXIST)
		key++;
	CHECK(id >= 0);
	CHECK_ERR(shmget(key, SEG_SIZE, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	CHECK_EQ(CHECK_SYS(shmget(key, SEG_SIZE, 0)), id);
	CHECK_EQ(CHECK_SYS(shmget(key, 0, 0)), id); /* size 0: any size */
	CHECK_EQ(CHECK_SYS(shmget(key, 10, IPC_CREAT | 0600)), id);
	CHECK_ERR(shmget(key, SEG_SIZE + 4 * PAGE, 0), EINVAL);
	CHECK_ERR(shmget(key, SEG_SIZE + 4 * PAGE, IPC_CREAT | 0600), EINVAL);

	char *p = shmat(id, NULL, 0);
	CHECK(p != (void *)-1);
	strcpy(p + SEG_SIZE - 6, "keyed");
	char *q = shmat(CHECK_SYS(shmget(key, 0, 0)), NULL, 0);
	CHECK(q != (void *)-1);
	CHECK_STR(q + SEG_SIZE - 6, "keyed");
	CHECK_SYS(shmdt(q));
	CHECK_SYS(shmdt(p));
	CHECK_SYS(shmctl(id, IPC_RMID, NULL));
	CHECK_ERR(shmget(key, 0, 0), ENOENT); /* the key went with it */
	OK("shm_keyed");
}

static void timerfd_oneshot(void)
{
	int fd = CHECK_SYS(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	CHECK(CHECK_SYS(fcntl(fd, F_GETFD)) & FD_CLOEXEC);
	CHECK(CHECK_SYS(fcntl(fd, F_GETFL)) & O_NONBLOCK);
	uint64_t n;
	CHECK_ERR(read(fd, &n, sizeof n), EAGAIN); /* never armed */

	struct itimerspec it = { .it_value = { 0, 20 * 1000000L } }, cur;
	double t0 = now_s(CLOCK_MONOTONIC);
	CHECK_SYS(timerfd_settime(fd, 0, &it, NULL));
	CHECK_SYS(timerfd_gettime(fd, &cur));
	CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0);
	CHECK(cur.it_value.tv_nsec <= 20 * 1000000L && cur.it_interval.tv_nsec == 0);
	CHECK_EQ(poll_events(fd, 1000), POLLIN);
	CHECK(now_s(CLOCK_MONOTONIC) - t0 >= 0.019);
	CHECK_EQ(read_u64(fd), 1);
	CHECK_ERR(read(fd, &n, sizeof n), EAGAIN); /* consumed */
	/* Expired and not periodic: disarmed, gettime says zeros. */
	CHECK_SYS(timerfd_gettime(fd, &cur));
	CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 &&
	      cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 0);
	close(fd);
	OK("timerfd_oneshot");
}

static void timerfd_periodic(void)
{
	int fd = CHECK_SYS(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
	struct itimerspec it = { .it_interval = { 0, 10 * 1000000L },
				 .it_value = { 0, 10 * 1000000L } }, cur;
	CHECK_SYS(timerfd_settime(fd, 0, &it, NULL));
	struct timespec nap = { 0, 55 * 1000000L };
	while (nanosleep(&nap, &nap) != 0) /* EINTR: sleep the rest */
		CHECK(errno == EINTR);
	CHECK(read_u64(fd) >= 3);
	CHECK_SYS(timerfd_gettime(fd, &cur)); /* still armed */
	CHECK(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 10 * 1000000L);
	CHECK(cur.it_value.tv_sec > 0 || cur.it_value.tv_nsec > 0);
	close(fd);

	/* Absolute, on the realtime clock, already past: fires at once. */
	fd = CHECK_SYS(timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK));
	struct itimerspec past = { .it_value = { 1, 0 } };
	CHECK_SYS(timerfd_settime(fd, TFD_TIMER_ABSTIME, &past, NULL));
	CHECK_EQ(poll_events(fd, 1000), POLLIN);
	CHECK_EQ(read_u64(fd), 1);
	unsigned char small[4];
	CHECK_ERR(read(fd, small, sizeof small), EINVAL);
	close(fd);

	/* Errors. */
	CHECK_ERR(timerfd_create(CLOCK_MONOTONIC, 0x4000), EINVAL);
	CHECK_ERR(timerfd_create(12345, 0), EINVAL);
	fd = CHECK_SYS(timerfd_create(CLOCK_MONOTONIC, 0));
	CHECK_ERR(timerfd_settime(fd, 0x100, &it, NULL), EINVAL);
	struct itimerspec bad = { .it_value = { 0, 1000000000L } };
	CHECK_ERR(timerfd_settime(fd, 0, &bad, NULL), EINVAL);
	close(fd);
	int p[2];
	CHECK_SYS(pipe(p));
	CHECK_ERR(timerfd_settime(p[0], 0, &it, NULL), EINVAL);
	CHECK_ERR(timerfd_gettime(p[0], &cur), EINVAL);
	close(p[0]);
	close(p[1]);
	OK("timerfd_periodic");
}

static void eventfd_counter(void)
{
	int fd = CHECK_SYS(eventfd(3, EFD_NONBLOCK));
	uint64_t n;
	CHECK_EQ(poll_events(fd, 0), POLLIN | POLLOUT);
	CHECK_EQ(read_u64(fd), 3);
	CHECK_ERR(read(fd, &n, sizeof n), EAGAIN);
	CHECK_EQ(poll_events(fd, 0), POLLOUT);
	write_u64(fd, 5);
	write_u64(fd, 7);
	CHECK_EQ(poll_events(fd, 0), POLLIN | POLLOUT);
	CHECK_EQ(read_u64(fd), 12);
	n = UINT64_MAX;
	CHECK_ERR(write(fd, &n, sizeof n), EINVAL);
	unsigned char small[4] = { 1, 0, 0, 0 };
	CHECK_ERR(read(fd, small, sizeof small), EINVAL);
	close(fd);

	int s = CHECK_SYS(eventfd(2, EFD_NONBLOCK | EFD_SEMAPHORE | EFD_CLOEXEC));
	CHECK(CHECK_SYS(fcntl(s, F_GETFD)) & FD_CLOEXEC);
	CHECK_EQ(read_u64(s), 1);
	CHECK_EQ(read_u64(s), 1);
	CHECK_ERR(read(s, &n, sizeof n), EAGAIN);
	CHECK_EQ(poll_events(s, 0), POLLOUT);
	close(s);
	CHECK_ERR(eventfd(0, 0x10), EINVAL);
	OK("eventfd_counter");
}

static void select_pselect(void)
{
	int e = CHECK_SYS(eventfd(1, EFD_NONBLOCK));
	int p[2];
	CHECK_SYS(pipe(p));
	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_SET(e, &rd);
	FD_SET(p[0], &rd);
	struct timeval tv = { 1, 0 };
	CHECK_EQ(CHECK_SYS(select((e > p[0] ? e : p[0]) + 1, &rd, NULL, NULL, &tv)), 1);
	CHECK(FD_ISSET(e, &rd) && !FD_ISSET(p[0], &rd));

	/* Nothing ready: waits the whole timeout. */
	read_u64(e);
	FD_ZERO(&rd);
	FD_SET(e, &rd);
	FD_SET(p[0], &rd);
	tv = (struct timeval){ 0, 30000 };
	double t0 = now_s(CLOCK_MONOTONIC);
	CHECK_EQ(CHECK_SYS(select((e > p[0] ? e : p[0]) + 1, &rd, NULL, NULL, &tv)), 0);
	CHECK(now_s(CLOCK_MONOTONIC) - t0 >= 0.029);
	CHECK(!FD_ISSET(e, &rd) && !FD_ISSET(p[0], &rd));

	/* A pipe's write end is writable, an empty read end not. */
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(p[1], &wr);
	tv = (struct timeval){ 1, 0 };
	CHECK_EQ(CHECK_SYS(select(p[1] + 1, &rd, &wr, NULL, &tv)), 1);
	CHECK(FD_ISSET(p[1], &wr) && !FD_ISSET(p[0], &rd));

	/* pselect (pselect6) with a timespec, nothing ready. */
	FD_ZERO(&rd);
	FD_SET(e, &rd);
	struct timespec ts = { 0, 10 * 1000000L };
	t0 = now_s(CLOCK_MONOTONIC);
	CHECK_EQ(CHECK_SYS(pselect(e + 1, &rd, NULL, NULL, &ts, NULL)), 0);
	CHECK(now_s(CLOCK_MONOTONIC) - t0 >= 0.009);
	CHECK(!FD_ISSET(e, &rd));

	/* A closed descriptor in the set. */
	int closed = CHECK_SYS(dup(e));
	close(closed);
	FD_ZERO(&rd);
	FD_SET(closed, &rd);
	tv = (struct timeval){ 0, 0 };
	CHECK_ERR(select(closed + 1, &rd, NULL, NULL, &tv), EBADF);
	tv = (struct timeval){ 0, -1 };
	FD_ZERO(&rd);
	CHECK_ERR(select(1, &rd, NULL, NULL, &tv), EINVAL);
	close(e);
	close(p[0]);
	close(p[1]);
	OK("select_pselect");
}

static void usage_and_priority(void)
{
	struct rusage ru;
	memset(&ru, 0xff, sizeof ru);
	CHECK_SYS(getrusage(RUSAGE_SELF, &ru));
	CHECK(ru.ru_utime.tv_sec >= 0 && ru.ru_stime.tv_sec >= 0);
	CHECK(ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 &&
	      ru.ru_stime.tv_usec >= 0 && ru.ru_stime.tv_usec < 1000000);
	memset(&ru, 0xff, sizeof ru);
	CHECK_SYS(getrusage(RUSAGE_CHILDREN, &ru)); /* none ever waited for */
	CHECK(ru.ru_utime.tv_sec == 0 && ru.ru_utime.tv_usec == 0 &&
	      ru.ru_stime.tv_sec == 0 && ru.ru_stime.tv_usec == 0);
	CHECK(ru.ru_minflt == 0 && ru.ru_majflt == 0);
	CHECK_ERR(getrusage(42, &ru), EINVAL);

	/* ~20 ms of work shows in the process's CPU clock. */
	double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), t0 = now_s(CLOCK_MONOTONIC);
	volatile unsigned long x = 1;
	while (now_s(CLOCK_MONOTONIC) - t0 < 0.02)
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
	CHECK(now_s(CLOCK_PROCESS_CPUTIME_ID) > c0);
	CHECK(now_s(CLOCK_THREAD_CPUTIME_ID) > 0);

	errno = 0; /* -1 is a valid answer: errno tells */
	int prio = getpriority(PRIO_PROCESS, 0);
	CHECK(errno == 0 && prio >= -20 && prio <= 19);
	CHECK_EQ(getpriority(PRIO_PROCESS, getpid()), prio);
	int want = prio < 19 ? prio + 1 : 19;
	CHECK_SYS(setpriority(PRIO_PROCESS, 0, want));
	errno = 0;
	CHECK_EQ(getpriority(PRIO_PROCESS, 0), want);
	CHECK(errno == 0);
	CHECK_ERR(getpriority(99, 0), EINVAL);
	OK("usage_and_priority");
}

static void fadvise(const char *self)
{
	int fd = CHECK_SYS(open(self, O_RDONLY | O_CLOEXEC));
	CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL), 0);
	CHECK_EQ(posix_fadvise(fd, 0, 0, 12345), EINVAL);
	CHECK_EQ(posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL), EINVAL);
	close(fd);
	int p[2];
	CHECK_SYS(pipe(p));
	CHECK_EQ(posix_fadvise(p[0], 0, 0, POSIX_FADV_SEQUENTIAL), ESPIPE);
	close(p[0]);
	close(p[1]);
	CHECK_EQ(posix_fadvise(p[0], 0, 0, POSIX_FADV_SEQUENTIAL), EBADF);
	OK("fadvise");
}

int main(int argc, char **argv)
{
	(void)argc;
	shm_private();
	shm_keyed();
	timerfd_oneshot();
	timerfd_periodic();
	eventfd_counter();
	select_pselect();
	usage_and_priority();
	fadvise(argv[0]);
	printf("events: all passed\n");
	return 0;
}
