/*
 * Signals taken synchronously, as init programs take them (catatonit and
 * podman's --init use signalfd, tini sigtimedwait): with the set blocked,
 * a signalfd reads what is pending of it (several at once, nothing when
 * non-blocking and none, readable to poll only then, a new set through
 * signalfd4 on the same fd), sigtimedwait takes one or times out, and
 * SIGCHLD, ignored by default, still waits for them while blocked: a
 * child's exit is read with its pid.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include "check.h"

static void block(sigset_t *set)
{
	CHECK_EQ(sigprocmask(SIG_BLOCK, set, NULL), 0);
}

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return CHECK_SYS(poll(&p, 1, 0)) == 1 && (p.revents & POLLIN);
}

static void signalfd_reads(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	block(&set);
	int fd = CHECK_SYS(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
	struct signalfd_siginfo si[4];
	CHECK_ERR(read(fd, si, sizeof si), EAGAIN);
	CHECK(!readable(fd));
	CHECK_SYS(kill(getpid(), SIGUSR2));
	CHECK_SYS(kill(getpid(), SIGUSR1));
	CHECK(readable(fd));
	/* Both at once, the lower number first, with who sent them. */
	CHECK_EQ(CHECK_SYS(read(fd, si, sizeof si)), 2 * sizeof si[0]);
	CHECK_EQ(si[0].ssi_signo, SIGUSR1);
	CHECK_EQ(si[1].ssi_signo, SIGUSR2);
	CHECK_EQ(si[0].ssi_pid, (uint32_t)getpid());
	CHECK_EQ(si[0].ssi_code, SI_USER);
	CHECK(!readable(fd));
	/* A buffer too small for one is EINVAL. */
	CHECK_ERR(read(fd, si, sizeof si[0] - 1), EINVAL);
	/* A new set on the same descriptor: only SIGUSR2 now. */
	sigset_t only2;
	sigemptyset(&only2);
	sigaddset(&only2, SIGUSR2);
	CHECK_EQ(CHECK_SYS(signalfd(fd, &only2, 0)), fd);
	CHECK_SYS(kill(getpid(), SIGUSR1));
	CHECK(!readable(fd));
	CHECK_SYS(kill(getpid(), SIGUSR2));
	CHECK_EQ(CHECK_SYS(read(fd, si, sizeof si)), sizeof si[0]);
	CHECK_EQ(si[0].ssi_signo, SIGUSR2);
	/* SIGUSR1 is still pending for the process: sigtimedwait takes it. */
	siginfo_t info;
	CHECK_EQ(sigtimedwait(&set, &info, &(struct timespec){ 0, 0 }), SIGUSR1);
	CHECK_EQ(info.si_pid, getpid());
	CHECK_ERR(sigtimedwait(&set, &info, &(struct timespec){ 0, 20 * 1000 * 1000 }), EAGAIN);
	/* Not a signalfd: EINVAL; not a descriptor: EBADF. */
	int p[2];
	CHECK_SYS(pipe(p));
	CHECK_ERR(signalfd(p[0], &set, 0), EINVAL);
	CHECK_ERR(signalfd(1000, &set, 0), EBADF);
	close(p[0]);
	close(p[1]);
	close(fd);
	OK("signalfd+sigtimedwait");
}

static void child_exit_is_read(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	block(&set);
	int fd = CHECK_SYS(signalfd(-1, &set, 0));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0)
		_exit(7);
	struct signalfd_siginfo si;
	CHECK_EQ(CHECK_SYS(read(fd, &si, sizeof si)), sizeof si); /* blocks until it exits */
	CHECK_EQ(si.ssi_signo, SIGCHLD);
	CHECK_EQ(si.ssi_pid, (uint32_t)pid);
	int status;
	CHECK_EQ(CHECK_SYS(waitpid(pid, &status, 0)), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	close(fd);
	OK("SIGCHLD-via-signalfd");
}

int main(void)
{
	signalfd_reads();
	child_exit_is_read();
	printf("sigwait: all passed\n");
	return 0;
}
