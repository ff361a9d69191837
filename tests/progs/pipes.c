/* Pipes within one process: pipes
 *
 * pipe/pipe2 (write then read back), O_NONBLOCK and O_CLOEXEC, end of
 * file, poll, ioctl(TCGETS) -> ENOTTY, lseek -> ESPIPE, fstat -> FIFO,
 * isatty(1) (any answer, as long as it answers). */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static void test_pipe(void)
{
	int p[2] = { -1, -1 };
	char buf[64];

	CHECK_SYS(pipe(p));
	CHECK(p[0] >= 0 && p[1] >= 0 && p[0] != p[1]);
	CHECK_EQ(write(p[1], "abc", 3), 3);
	CHECK_EQ(write(p[1], "defg", 4), 4);
	CHECK_EQ(read(p[0], buf, 2), 2);
	CHECK_MEM(buf, "ab", 2);
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 5);
	CHECK_MEM(buf, "cdefg", 5);

	/* Page-sized and vectored transfers. */
	static unsigned char big[8192], back[8192];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 13 + 1);
	CHECK_EQ(write(p[1], big, sizeof(big)), sizeof(big));
	size_t got = 0;
	while (got < sizeof(back))
		got += (size_t)CHECK_SYS(read(p[0], back + got, sizeof(back) - got));
	CHECK_MEM(back, big, sizeof(big));
	struct iovec iov[2] = { { "hello ", 6 }, { "pipe", 4 } };
	CHECK_EQ(writev(p[1], iov, 2), 10);
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 10);
	CHECK_MEM(buf, "hello pipe", 10);

	/* Ends are one-way; nothing to seek; a FIFO to fstat. */
	CHECK_ERR(write(p[0], "x", 1), EBADF);
	CHECK_ERR(read(p[1], buf, 1), EBADF);
	CHECK_ERR(lseek(p[0], 0, SEEK_SET), ESPIPE);
	CHECK_ERR(pread(p[0], buf, 1, 0), ESPIPE);
	struct stat st;
	CHECK_SYS(fstat(p[0], &st));
	CHECK(S_ISFIFO(st.st_mode));
	CHECK_SYS(fstat(p[1], &st));
	CHECK(S_ISFIFO(st.st_mode));
	CHECK_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK_EQ(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY);
	CHECK_EQ(fcntl(p[0], F_GETFD), 0);

	/* Closing the write end: the rest is read, then end of file. */
	CHECK_EQ(write(p[1], "tail", 4), 4);
	CHECK_SYS(close(p[1]));
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 4);
	CHECK_MEM(buf, "tail", 4);
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 0);
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 0);
	CHECK_SYS(close(p[0]));

	/* Writing with no reader: EPIPE once SIGPIPE is ignored. */
	CHECK_SYS(pipe(p));
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	CHECK_SYS(close(p[0]));
	CHECK_ERR(write(p[1], "x", 1), EPIPE);
	CHECK_SYS(close(p[1]));
	CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	OK("pipe");
}

static void test_pipe2(void)
{
	int p[2];
	char buf[16];

	CHECK_SYS(pipe2(p, O_CLOEXEC));
	CHECK_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC);
	CHECK_EQ(fcntl(p[1], F_GETFD), FD_CLOEXEC);
	CHECK_EQ(write(p[1], "xy", 2), 2);
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 2);
	CHECK_MEM(buf, "xy", 2);
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));

	CHECK_SYS(syscall(SYS_pipe2, p, O_NONBLOCK));
	CHECK_EQ(fcntl(p[0], F_GETFD), 0);
	CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(p[1], F_GETFL) & O_NONBLOCK);
	/* Empty: EAGAIN instead of waiting forever. */
	CHECK_ERR(read(p[0], buf, sizeof(buf)), EAGAIN);
	/* Fill it until it is full, then read it all back in order. */
	static unsigned char chunk[1024];
	size_t total = 0;
	for (;;) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = (unsigned char)((total + i) % 251);
		errno = 0;
		ssize_t n = write(p[1], chunk, sizeof(chunk));
		if (n < 0) {
			CHECK_EQ(errno, EAGAIN);
			break;
		}
		total += (size_t)n;
		if (total > (16u << 20))
			FAIL("a non-blocking pipe took %zu bytes without filling up", total);
	}
	CHECK(total >= 4096);
	size_t got = 0;
	for (;;) {
		errno = 0;
		ssize_t n = read(p[0], chunk, sizeof(chunk));
		if (n < 0) {
			CHECK_EQ(errno, EAGAIN);
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			if (chunk[i] != (got + (size_t)i) % 251)
				FAIL("byte %zu of the pipe is %u", got + (size_t)i, chunk[i]);
		got += (size_t)n;
	}
	CHECK_EQ(got, total);
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));

	CHECK_ERR(pipe2(p, 0x12345678), EINVAL);
	OK("pipe2");
}

static int64_t mono_ms(void)
{
	struct timespec t;
	CHECK_SYS(clock_gettime(CLOCK_MONOTONIC, &t));
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void test_poll(void)
{
	int p[2];
	char buf[8];
	CHECK_SYS(pipe(p));

	struct pollfd f[2] = {
		{ .fd = p[0], .events = POLLIN },
		{ .fd = p[1], .events = POLLOUT },
	};
	/* Empty: only the write end is ready. */
	CHECK_EQ(poll(f, 2, 0), 1);
	CHECK_EQ(f[0].revents, 0);
	CHECK_EQ(f[1].revents, POLLOUT);
	CHECK_EQ(poll(f, 1, 0), 0);
	/* A timeout that expires waits at least that long. */
	int64_t t0 = mono_ms();
	CHECK_EQ(poll(f, 1, 30), 0);
	CHECK(mono_ms() - t0 >= 29);

	CHECK_EQ(write(p[1], "z", 1), 1);
	CHECK_EQ(poll(f, 2, 0), 2);
	CHECK_EQ(f[0].revents, POLLIN);
	CHECK_EQ(f[1].revents, POLLOUT);
	CHECK_EQ(poll(f, 1, -1), 1); /* ready, so no wait */
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 1);
	CHECK_EQ(poll(f, 1, 0), 0);

	/* Negative descriptors are skipped; bad ones are POLLNVAL. */
	struct pollfd g[2] = { { .fd = -1, .events = POLLIN }, { .fd = 9999, .events = POLLIN } };
	CHECK_EQ(poll(g, 2, 0), 1);
	CHECK_EQ(g[0].revents, 0);
	CHECK_EQ(g[1].revents, POLLNVAL);

	/* The writer goes: the reader sees POLLHUP. */
	CHECK_SYS(close(p[1]));
	CHECK_EQ(poll(f, 1, 0), 1);
	CHECK(f[0].revents & POLLHUP);
	CHECK_SYS(close(p[0]));

	/* ppoll with a zero timeout. */
	CHECK_SYS(pipe(p));
	struct timespec zero = { 0, 0 };
	struct pollfd h = { .fd = p[0], .events = POLLIN };
	CHECK_EQ(ppoll(&h, 1, &zero, NULL), 0);
	CHECK_EQ(write(p[1], "q", 1), 1);
	CHECK_EQ(ppoll(&h, 1, &zero, NULL), 1);
	CHECK_EQ(h.revents, POLLIN);
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
	OK("poll");
}

static void test_ioctl(void)
{
	int p[2];
	struct termios t;
	CHECK_SYS(pipe(p));
	CHECK_ERR(ioctl(p[0], TCGETS, &t), ENOTTY);
	CHECK_ERR(syscall(SYS_ioctl, p[1], TCGETS, &t), ENOTTY);
	CHECK_ERR(tcgetattr(p[0], &t), ENOTTY);
	CHECK_EQ(isatty(p[0]), 0);
	CHECK_ERR(ioctl(9999, TCGETS, &t), EBADF);
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));

	/* stdout may or may not be a terminal: ask, accept either answer. */
	int tty = isatty(1);
	CHECK(tty == 0 || tty == 1);
	fprintf(stderr, "note: isatty(1) = %d\n", tty);
	OK("ioctl");
}

int main(void)
{
	test_pipe();
	test_pipe2();
	test_poll();
	test_ioctl();
	printf("pipes: all passed\n");
	return 0;
}
