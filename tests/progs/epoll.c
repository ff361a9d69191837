/*
 * epoll over pipes, eventfds and timerfds: level-triggered reports that
 * repeat, EPOLLET that reports a rise once, EPOLLONESHOT until re-armed,
 * the errors of epoll_ctl, timeouts, a wait ended by another thread's
 * write, and a closed descriptor leaving the interest list.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void triggers(void)
{
	int ep = CHECK_SYS(epoll_create1(EPOLL_CLOEXEC));
	int p[2];
	CHECK_SYS(pipe(p));
	int efd = CHECK_SYS(eventfd(0, EFD_NONBLOCK));
	CHECK_SYS(add(ep, p[0], EPOLLIN, 1));
	CHECK_SYS(add(ep, efd, EPOLLIN | EPOLLET, 2));
	struct epoll_event got[4];
	CHECK(epoll_wait(ep, got, 4, 0) == 0);
	CHECK(write(p[1], "ab", 2) == 2);
	uint64_t one = 1;
	CHECK(write(efd, &one, 8) == 8);
	int n = CHECK_SYS(epoll_wait(ep, got, 4, 0));
	CHECK(n == 2);
	/* Level: the pipe again while it has data; edge: the eventfd not,
	 * until something new happens to it (drained or not, as Linux). */
	n = CHECK_SYS(epoll_wait(ep, got, 4, 0));
	CHECK(n == 1 && got[0].data.u64 == 1 && (got[0].events & EPOLLIN));
	CHECK(write(efd, &one, 8) == 8); /* a new event */
	n = CHECK_SYS(epoll_wait(ep, got, 4, 0));
	CHECK(n == 2);
	n = CHECK_SYS(epoll_wait(ep, got, 4, 0));
	CHECK(n == 1 && got[0].data.u64 == 1);
	uint64_t v;
	CHECK(read(efd, &v, 8) == 8 && v == 2);
	CHECK(epoll_wait(ep, got, 4, 0) == 1); /* drained: not ready */
	CHECK(write(efd, &one, 8) == 8);
	n = CHECK_SYS(epoll_wait(ep, got, 4, 0));
	CHECK(n == 2);
	char buf[4];
	CHECK(read(p[0], buf, 4) == 2);
	CHECK(epoll_wait(ep, got, 4, 0) == 0);

	/* ONESHOT: once, then nothing until EPOLL_CTL_MOD. */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 3 };
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	CHECK(write(p[1], "c", 1) == 1);
	CHECK(epoll_wait(ep, got, 4, 0) == 1 && got[0].data.u64 == 3);
	CHECK(epoll_wait(ep, got, 4, 0) == 0);
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	CHECK(epoll_wait(ep, got, 4, 0) == 1);

	/* The write end: writable. The read end closed: it leaves the list. */
	CHECK_SYS(add(ep, p[1], EPOLLOUT, 4));
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
	close(p[0]);
	n = CHECK_SYS(epoll_wait(ep, got, 4, 0));
	CHECK(n == 1 && got[0].data.u64 == 4 && (got[0].events & (EPOLLOUT | EPOLLERR)));
	close(p[1]);
	close(efd);
	close(ep);
	OK("triggers");
}

static void ctl_errors(int argc, char **argv)
{
	(void)argc;
	int ep = CHECK_SYS(epoll_create1(0));
	int efd = CHECK_SYS(eventfd(0, 0));
	CHECK_SYS(add(ep, efd, EPOLLIN, 0));
	CHECK_ERR(add(ep, efd, EPOLLIN, 0), EEXIST);
	int p[2];
	CHECK_SYS(pipe(p));
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT); /* never added */
	CHECK_ERR(add(ep, ep, EPOLLIN, 0), EINVAL);
	int file = CHECK_SYS(open(argv[0], O_RDONLY));
	CHECK_ERR(add(ep, file, EPOLLIN, 0), EPERM);
	CHECK_ERR(add(efd, ep, EPOLLIN, 0), EINVAL); /* not an epoll descriptor */
	CHECK_ERR(add(ep, 999, EPOLLIN, 0), EBADF);
	struct epoll_event got;
	CHECK_ERR(epoll_wait(ep, &got, 0, 0), EINVAL);
	close(p[0]);
	close(p[1]);
	close(file);
	close(efd);
	close(ep);
	OK("ctl_errors");
}

static int wp[2];

static void *write_later(void *arg)
{
	(void)arg;
	usleep(50000);
	CHECK(write(wp[1], "x", 1) == 1);
	return NULL;
}

static void waiting(void)
{
	int ep = CHECK_SYS(epoll_create1(0));
	CHECK_SYS(pipe(wp));
	CHECK_SYS(add(ep, wp[0], EPOLLIN, 7));
	struct epoll_event got;
	double t0 = now_s();
	CHECK(epoll_wait(ep, &got, 1, 30) == 0);
	CHECK(now_s() - t0 >= 0.029);

	pthread_t t;
	CHECK(pthread_create(&t, NULL, write_later, NULL) == 0);
	CHECK(epoll_wait(ep, &got, 1, 5000) == 1 && got.data.u64 == 7);
	CHECK(pthread_join(t, NULL) == 0);

	/* A timerfd: its expiry ends the wait. */
	int tfd = CHECK_SYS(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
	struct itimerspec its = { .it_value = { 0, 20000000 } };
	CHECK_SYS(timerfd_settime(tfd, 0, &its, NULL));
	CHECK_SYS(add(ep, tfd, EPOLLIN, 8));
	char c;
	CHECK(read(wp[0], &c, 1) == 1);
	t0 = now_s();
	CHECK(epoll_wait(ep, &got, 1, 5000) == 1 && got.data.u64 == 8);
	CHECK(now_s() - t0 >= 0.015);
	close(tfd);
	close(wp[0]);
	close(wp[1]);
	close(ep);
	OK("waiting");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	triggers();
	ctl_errors(argc, argv);
	waiting();
	printf("epoll: all passed\n");
	return 0;
}
