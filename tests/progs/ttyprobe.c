/* What a program sees of its standard streams, for
 * tests/integration/test_stdio.py and test_tty.py. Every line it prints
 * goes to stdout with write(2), unbuffered, so that a test reading a
 * terminal or a pipe sees each line as soon as it is made.
 *
 *   ttyprobe [probe]     one line per fd 0, 1, 2:
 *                          "fdN tty=0|1 tcgets=ok|ERRNO winsz=ROWSxCOLS|ERRNO"
 *                        then "ttyprobe: done"
 *   ttyprobe winch [N]   the probe, then "winch: waiting"; each SIGWINCH
 *                        (up to N, default 1) prints "winch ROWSxCOLS"
 *                        (TIOCGWINSZ of fd 1 when it arrives); exits 0
 *                        after the Nth, 1 when none came within 60 s
 *   ttyprobe raw         the probe, then stdin in non-canonical mode
 *                        without echo (tcsetattr ~ICANON ~ECHO, VMIN 1):
 *                        "raw: ready", then "raw HEX" for every read(0)
 *                        until a read holds 'q' or returns 0 or an error.
 *                        Leaves the terminal that way: putting it back
 *                        is the job of whoever ran the program.
 *   ttyprobe line        the probe, then "line: ready" and one read(0) in
 *                        the terminal's mode as it is: "line HEX"
 *   ttyprobe block       "block: reading", then read(0); a read that
 *                        returns prints "block: read returned N" and
 *                        exits 3 (a ^C should have ended it first)
 *   ttyprobe cat FD      copies stdin to fd FD until end of file, binary
 *                        safe, nothing else printed (busybox's `sh -c
 *                        'cat >&2'` needs fork or exec, which the guest
 *                        does not have)
 *   ttyprobe interleave N   N write(2)s alternating between fd 1 and fd
 *                        2: write i goes to fd 1 + i % 2 and is
 *                        "I:" then (I * 37) % 300 bytes 'a' + I % 26
 *                        then "\n" (test_stdio.py builds the same bytes)
 *
 * Exit status 2 for a usage error or a failed write. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t winches;

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			exit(2);
		p += w;
		n -= (size_t)w;
	}
}

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char buf[16384];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		exit(2);
	write_all(1, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static const char *errname(int e)
{
	static char other[32];
	switch (e) {
	case ENOTTY: return "ENOTTY";
	case EBADF: return "EBADF";
	case EINVAL: return "EINVAL";
	case ENOSYS: return "ENOSYS";
	case EIO: return "EIO";
	case EFAULT: return "EFAULT";
	case EPERM: return "EPERM";
	}
	snprintf(other, sizeof(other), "errno%d", e);
	return other;
}

static const char *winsz(int fd)
{
	static char buf[64];
	struct winsize ws;
	memset(&ws, 0, sizeof(ws));
	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return errname(errno);
	snprintf(buf, sizeof(buf), "%ux%u", ws.ws_row, ws.ws_col);
	return buf;
}

static void probe(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		errno = 0;
		int tty = isatty(fd);
		struct termios t;
		const char *tc = tcgetattr(fd, &t) == 0 ? "ok" : errname(errno);
		char ws[64];
		snprintf(ws, sizeof(ws), "%s", winsz(fd));
		say("fd%d tty=%d tcgets=%s winsz=%s\n", fd, tty, tc, ws);
	}
}

static void hexline(const char *tag, const unsigned char *p, ssize_t n)
{
	char buf[2 * 4096 + 1];
	for (ssize_t i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	buf[2 * n] = 0;
	say("%s %s\n", tag, buf);
}

static void on_winch(int sig)
{
	(void)sig;
	winches++;
}

static int do_winch(int want)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_winch;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGWINCH, &sa, NULL) < 0) {
		say("winch: sigaction: %s\n", errname(errno));
		return 2;
	}
	probe();
	say("winch: waiting\n");
	int seen = 0;
	struct timespec start, now, nap = {0, 10 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		while (seen < winches) {
			seen++;
			say("winch %s\n", winsz(1));
		}
		if (seen >= want)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 60) {
			say("winch: none came within 60 s\n");
			return 1;
		}
		nanosleep(&nap, NULL);
	}
}

static int do_raw(void)
{
	struct termios t;
	probe();
	if (tcgetattr(0, &t) < 0) {
		say("raw: tcgetattr: %s\n", errname(errno));
		return 2;
	}
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(0, TCSANOW, &t) < 0) {
		say("raw: tcsetattr: %s\n", errname(errno));
		return 2;
	}
	say("raw: ready\n");
	for (;;) {
		unsigned char b[4096];
		ssize_t n = read(0, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			say("raw: read returned %zd%s%s\n", n, n < 0 ? " " : "",
			    n < 0 ? errname(errno) : "");
			return 1;
		}
		hexline("raw", b, n);
		if (memchr(b, 'q', (size_t)n))
			return 0;
	}
}

static int do_line(void)
{
	unsigned char b[4096];
	probe();
	say("line: ready\n");
	ssize_t n;
	do
		n = read(0, b, sizeof(b));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		say("line: read: %s\n", errname(errno));
		return 1;
	}
	hexline("line", b, n);
	return 0;
}

static int do_block(void)
{
	char b[256];
	say("block: reading\n");
	ssize_t n = read(0, b, sizeof(b));
	say("block: read returned %zd\n", n);
	return 3;
}

static int do_cat(int fd)
{
	static char b[1 << 16];
	for (;;) {
		ssize_t n = read(0, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		if (n == 0)
			return 0;
		write_all(fd, b, (size_t)n);
	}
}

/* Reads to end of file twice, printing each read in hex: a terminal's
 * ^D ends one read, and reading goes on after it. */
static int do_eof2(void)
{
	unsigned char b[4096];
	say("eof2: ready\n");
	for (int round = 1; round <= 2; round++) {
		for (;;) {
			ssize_t n = read(0, b, sizeof(b));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				say("eof2: read: %s\n", errname(errno));
				return 1;
			}
			if (n == 0)
				break;
			hexline("eof2", b, n);
		}
		say("eof2: end %d\n", round);
	}
	return 0;
}

static int do_interleave(long count)
{
	static char b[400];
	for (long i = 0; i < count; i++) {
		int n = snprintf(b, sizeof(b), "%ld:", i);
		long fill = (i * 37) % 300;
		memset(b + n, 'a' + (int)(i % 26), (size_t)fill);
		b[n + fill] = '\n';
		write_all(1 + (int)(i % 2), b, (size_t)(n + fill + 1));
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "probe";
	if (!strcmp(mode, "probe")) {
		probe();
		say("ttyprobe: done\n");
		return 0;
	}
	if (!strcmp(mode, "winch"))
		return do_winch(argc > 2 ? atoi(argv[2]) : 1);
	if (!strcmp(mode, "raw"))
		return do_raw();
	if (!strcmp(mode, "line"))
		return do_line();
	if (!strcmp(mode, "block"))
		return do_block();
	if (!strcmp(mode, "cat") && argc > 2)
		return do_cat(atoi(argv[2]));
	if (!strcmp(mode, "eof2"))
		return do_eof2();
	if (!strcmp(mode, "interleave") && argc > 2)
		return do_interleave(atol(argv[2]));
	fprintf(stderr, "usage: ttyprobe [probe|winch [N]|raw|line|block|cat FD|eof2|interleave N]\n");
	return 2;
}
