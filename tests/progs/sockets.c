/*
 * Sockets as Linux gives them, judged natively first (selfcheck.py), then
 * in the guest, where they are the host's served over pier.net: Unix
 * socket pairs and names, TCP and UDP on loopback, blocking and
 * non-blocking connect, poll, select and epoll (level, edge, one-shot,
 * RDHUP, a peer gone) on sockets beside a pipe, timeouts, a blocked
 * receive woken by another thread, scatter and gather, the errors, and
 * splice between sockets and pipes.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

#define WAIT_MS 5000 /* for what must come: generous, never the test's pace */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static short poll1(int fd, short events, int ms)
{
	struct pollfd p = { fd, events, 0 };
	int n = poll(&p, 1, ms);
	CHECK(n >= 0);
	return n ? p.revents : 0;
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	CHECK_SYS(getsockname(fd, (struct sockaddr *)&a, &len));
	CHECK(len == sizeof(a) && a.sin_family == AF_INET);
	return ntohs(a.sin_port);
}

/* A TCP listener on 127.0.0.1 (an ephemeral port). */
static int listener(void)
{
	int fd = CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	int one = 1;
	CHECK_SYS(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	struct sockaddr_in a = loopback(0);
	CHECK_SYS(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	CHECK_SYS(listen(fd, 8));
	return fd;
}

/* A connected pair over TCP loopback: *client, *server. */
static void tcp_pair(int lfd, int *client, int *server)
{
	*client = CHECK_SYS(socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loopback(port_of(lfd));
	CHECK_SYS(connect(*client, (struct sockaddr *)&a, sizeof(a)));
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	*server = CHECK_SYS(accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC));
	CHECK(len == sizeof(peer) && peer.sin_family == AF_INET);
	CHECK(ntohs(peer.sin_port) == port_of(*client)); /* the peer is the client */
	CHECK(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
}

static void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		CHECK(w > 0);
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static void unix_pairs(void)
{
	int sv[2];
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	CHECK(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	struct stat st;
	CHECK_SYS(fstat(sv[0], &st));
	CHECK(S_ISSOCK(st.st_mode));
	CHECK(write(sv[0], "ping", 4) == 4);
	char buf[16];
	CHECK(read(sv[1], buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0);
	CHECK(send(sv[1], "pong", 4, 0) == 4);
	CHECK(recv(sv[0], buf, sizeof(buf), 0) == 4 && memcmp(buf, "pong", 4) == 0);
	/* Nothing there: a non-blocking receive says so. */
	CHECK(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
	/* Half-closed: the reader sees the end, and RDHUP. */
	CHECK_SYS(shutdown(sv[0], SHUT_WR));
	CHECK(poll1(sv[1], POLLIN | POLLRDHUP, WAIT_MS) & POLLRDHUP);
	CHECK(read(sv[1], buf, sizeof(buf)) == 0);
	CHECK(write(sv[1], "back", 4) == 4); /* the other way still works */
	CHECK(read(sv[0], buf, sizeof(buf)) == 4);
	/* The peer gone: HUP, and EPIPE for a writer that ignores SIGPIPE. */
	close(sv[1]);
	CHECK(poll1(sv[0], POLLIN, WAIT_MS) & POLLHUP);
	signal(SIGPIPE, SIG_IGN);
	CHECK(send(sv[0], "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE);
	CHECK(write(sv[0], "x", 1) == -1 && errno == EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(sv[0]);

	/* Datagrams keep their bounds. */
	CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	CHECK(send(sv[0], "one", 3, 0) == 3 && send(sv[0], "three", 5, 0) == 5);
	CHECK(recv(sv[1], buf, sizeof(buf), 0) == 3);
	CHECK(recv(sv[1], buf, 2, MSG_TRUNC) == 5); /* its whole length */
	close(sv[0]);
	close(sv[1]);
	OK("unix_pairs");
}

/* A name inside the VM (a path here, no file the host sees), and an
 * abstract one. */
static void unix_names(void)
{
	for (int abstract = 0; abstract < 2; abstract++) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int n = snprintf(a.sun_path + abstract, sizeof(a.sun_path) - 1,
				 "/tmp/pier-sockets-%d-%d", (int)getpid(), abstract);
		socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + abstract + n +
					     !abstract);
		int srv = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
		CHECK_SYS(bind(srv, (struct sockaddr *)&a, alen));
		CHECK_SYS(listen(srv, 4));
		struct sockaddr_un got;
		socklen_t glen = sizeof(got);
		CHECK_SYS(getsockname(srv, (struct sockaddr *)&got, &glen));
		CHECK(glen == alen && memcmp(&got, &a, alen) == 0);
		int c = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
		CHECK_SYS(connect(c, (struct sockaddr *)&a, alen));
		int s = CHECK_SYS(accept(srv, NULL, NULL));
		CHECK(write(c, "hi", 2) == 2);
		char buf[4];
		CHECK(read(s, buf, sizeof(buf)) == 2);
		glen = sizeof(got);
		CHECK_SYS(getpeername(c, (struct sockaddr *)&got, &glen));
		CHECK(glen == alen && memcmp(&got, &a, alen) == 0);
		close(c);
		close(s);
		close(srv);
		if (!abstract)
			unlink(a.sun_path);
	}
	/* Nobody there. */
	struct sockaddr_un none = { .sun_family = AF_UNIX, .sun_path = "/tmp/pier-sockets-none" };
	int c = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK(connect(c, (struct sockaddr *)&none, sizeof(none)) == -1 && errno == ENOENT);
	close(c);
	OK("unix_names");
}

static void *echo_bulk(void *arg)
{
	int fd = *(int *)arg;
	static char buf[65536];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		CHECK(r >= 0);
		if (r == 0)
			break;
		write_all(fd, buf, (size_t)r);
	}
	shutdown(fd, SHUT_WR);
	return NULL;
}

/* TCP on loopback: names, options, FIONREAD, and 1 MiB through an echo
 * thread byte for byte. */
static void tcp_loopback(void)
{
	int lfd = listener();
	int val = 0;
	socklen_t vlen = sizeof(val);
	CHECK_SYS(getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &val, &vlen));
	CHECK(val == 1);
	int c, s;
	tcp_pair(lfd, &c, &s);
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	CHECK_SYS(getpeername(c, (struct sockaddr *)&peer, &len));
	CHECK(ntohs(peer.sin_port) == port_of(lfd));
	int one = 1;
	CHECK_SYS(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	vlen = sizeof(val);
	CHECK_SYS(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &val, &vlen));
	CHECK(val != 0 && vlen == sizeof(val));
	vlen = sizeof(val);
	CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_TYPE, &val, &vlen));
	CHECK(val == SOCK_STREAM);
	CHECK(write(s, "0123456789", 10) == 10);
	CHECK(poll1(c, POLLIN, WAIT_MS) & POLLIN);
	int avail = -1;
	CHECK_SYS(ioctl(c, FIONREAD, &avail));
	CHECK(avail == 10);
	char small[10];
	CHECK(recv(c, small, 4, MSG_PEEK) == 4);
	CHECK(recv(c, small, 10, MSG_WAITALL) == 10 && memcmp(small, "0123456789", 10) == 0);

	pthread_t t;
	CHECK(pthread_create(&t, NULL, echo_bulk, &s) == 0);
	enum { BULK = 1 << 20 };
	static char out[BULK], in[BULK];
	for (size_t i = 0; i < BULK; i++)
		out[i] = (char)(i * 31 + i / 977);
	/* Writes and reads interleaved, so neither side's buffers fill up. */
	size_t sent = 0, got = 0;
	while (got < BULK) {
		if (sent < BULK) {
			size_t n = BULK - sent < 100000 ? BULK - sent : 100000;
			write_all(c, out + sent, n);
			sent += n;
			if (sent == BULK)
				CHECK_SYS(shutdown(c, SHUT_WR));
		}
		while (got < sent) {
			ssize_t r = read(c, in + got, sent - got);
			CHECK(r > 0);
			got += (size_t)r;
		}
	}
	CHECK(memcmp(in, out, BULK) == 0);
	CHECK(read(c, in, 1) == 0); /* the echo's end */
	CHECK(pthread_join(t, NULL) == 0);
	close(c);
	close(s);
	close(lfd);
	OK("tcp_loopback");
}

/* connect: non-blocking with EINPROGRESS and SO_ERROR, and refused. */
static void connects(void)
{
	int lfd = listener();
	int c = CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	struct sockaddr_in a = loopback(port_of(lfd));
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	CHECK(r == 0 || errno == EINPROGRESS);
	CHECK(poll1(c, POLLOUT, WAIT_MS) & POLLOUT);
	int err = -1;
	socklen_t len = sizeof(err);
	CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len));
	CHECK(err == 0);
	int s = CHECK_SYS(accept(lfd, NULL, NULL));
	/* Non-blocking reads of nothing: EAGAIN; FIONBIO turns it off and on. */
	char b;
	CHECK(read(c, &b, 1) == -1 && errno == EAGAIN);
	close(s);
	close(c);

	/* A port with nobody: a closed listener's. */
	uint16_t dead = port_of(lfd);
	close(lfd);
	c = CHECK_SYS(socket(AF_INET, SOCK_STREAM, 0));
	a = loopback(dead);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == ECONNREFUSED);
	close(c);
	c = CHECK_SYS(socket(AF_INET, SOCK_STREAM, 0));
	int on = 1;
	CHECK_SYS(ioctl(c, FIONBIO, &on));
	CHECK(fcntl(c, F_GETFL) & O_NONBLOCK);
	r = connect(c, (struct sockaddr *)&a, sizeof(a));
	CHECK(r == -1 && (errno == EINPROGRESS || errno == ECONNREFUSED));
	if (errno == EINPROGRESS) {
		CHECK(poll1(c, POLLOUT, WAIT_MS) & (POLLOUT | POLLERR));
		len = sizeof(err);
		CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len));
		CHECK(err == ECONNREFUSED);
	}
	close(c);
	OK("connects");
}

/* UDP: the sender's address, datagram bounds, scatter and gather. */
static void udp(void)
{
	int a = CHECK_SYS(socket(AF_INET, SOCK_DGRAM, 0));
	int b = CHECK_SYS(socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in aa = loopback(0), ba = loopback(0);
	CHECK_SYS(bind(a, (struct sockaddr *)&aa, sizeof(aa)));
	CHECK_SYS(bind(b, (struct sockaddr *)&ba, sizeof(ba)));
	ba = loopback(port_of(b));
	CHECK(sendto(a, "datagram", 8, 0, (struct sockaddr *)&ba, sizeof(ba)) == 8);
	char buf[64];
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	CHECK(poll1(b, POLLIN, WAIT_MS) & POLLIN);
	CHECK(recvfrom(b, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) == 8);
	CHECK(flen == sizeof(from) && ntohs(from.sin_port) == port_of(a));
	CHECK(memcmp(buf, "datagram", 8) == 0);
	CHECK(recv(b, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
	/* Gathered from three pieces, scattered into two: one datagram. */
	struct iovec out[3] = { { "ab", 2 }, { "cde", 3 }, { "f", 1 } };
	struct msghdr m = { .msg_name = &ba, .msg_namelen = sizeof(ba), .msg_iov = out,
			    .msg_iovlen = 3 };
	CHECK(sendmsg(a, &m, 0) == 6);
	char p1[4] = { 0 }, p2[8] = { 0 };
	struct iovec in[2] = { { p1, 4 }, { p2, 8 } };
	struct msghdr r = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = in,
			    .msg_iovlen = 2 };
	CHECK(poll1(b, POLLIN, WAIT_MS) & POLLIN);
	CHECK(recvmsg(b, &r, 0) == 6);
	CHECK(memcmp(p1, "abcd", 4) == 0 && memcmp(p2, "ef", 2) == 0);
	CHECK(r.msg_namelen == sizeof(from) && ntohs(from.sin_port) == port_of(a));
	/* connect() on a datagram socket: send() without an address. */
	CHECK_SYS(connect(a, (struct sockaddr *)&ba, sizeof(ba)));
	CHECK(send(a, "x", 1, 0) == 1);
	CHECK(poll1(b, POLLIN, WAIT_MS) & POLLIN);
	CHECK(recv(b, buf, sizeof(buf), 0) == 1);
	/* sendmmsg, recvmmsg (glibc's resolver sends its two queries so):
	 * one datagram each, each one's length in its msg_len. */
	struct iovec q[2] = { { "query-A", 7 }, { "query-AAAA", 10 } };
	struct mmsghdr mm[4] = { { .msg_hdr = { .msg_iov = &q[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &q[1], .msg_iovlen = 1 } } };
	CHECK(sendmmsg(a, mm, 2, 0) == 2 && mm[0].msg_len == 7 && mm[1].msg_len == 10);
	char got[4][16];
	struct iovec gi[4];
	for (int i = 0; i < 4; i++) {
		gi[i] = (struct iovec){ got[i], sizeof(got[i]) };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &gi[i], .msg_iovlen = 1 } };
	}
	CHECK(recvmmsg(b, mm, 4, MSG_WAITFORONE, NULL) == 2);
	CHECK(mm[0].msg_len == 7 && memcmp(got[0], "query-A", 7) == 0);
	CHECK(mm[1].msg_len == 10 && memcmp(got[1], "query-AAAA", 10) == 0);
	CHECK(recvmmsg(b, mm, 4, MSG_DONTWAIT, NULL) == -1 && errno == EAGAIN);
	close(a);
	close(b);
	OK("udp");
}

/* poll, select and epoll over a socket and a pipe together. */
static void readiness(void)
{
	int lfd = listener();
	int c, s;
	tcp_pair(lfd, &c, &s);
	int p[2];
	CHECK_SYS(pipe(p));
	/* select: nothing yet, then the socket only. */
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(c, &rd);
	FD_SET(p[0], &rd);
	struct timeval tv = { 0, 0 };
	CHECK(select((c > p[0] ? c : p[0]) + 1, &rd, NULL, NULL, &tv) == 0);
	CHECK(write(s, "x", 1) == 1);
	FD_ZERO(&rd);
	FD_SET(c, &rd);
	FD_SET(p[0], &rd);
	tv = (struct timeval){ WAIT_MS / 1000, 0 };
	CHECK(select((c > p[0] ? c : p[0]) + 1, &rd, NULL, NULL, &tv) == 1);
	CHECK(FD_ISSET(c, &rd) && !FD_ISSET(p[0], &rd));
	/* A listener is readable when a connection waits. */
	CHECK(poll1(lfd, POLLIN, 0) == 0);
	int c2 = CHECK_SYS(socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loopback(port_of(lfd));
	CHECK_SYS(connect(c2, (struct sockaddr *)&a, sizeof(a)));
	CHECK(poll1(lfd, POLLIN, WAIT_MS) & POLLIN);
	int s2 = CHECK_SYS(accept(lfd, NULL, NULL));

	int ep = CHECK_SYS(epoll_create1(EPOLL_CLOEXEC));
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.u32 = 2 };
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, c2, &ev));
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLONESHOT, .data.u32 = 3 };
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	struct epoll_event got[4];
	/* Level: c has its byte, and again while it has it. */
	CHECK(epoll_wait(ep, got, 4, WAIT_MS) == 1 && got[0].data.u32 == 1);
	CHECK(epoll_wait(ep, got, 4, 0) == 1);
	char b;
	CHECK(read(c, &b, 1) == 1);
	CHECK(epoll_wait(ep, got, 4, 0) == 0);
	/* Edge: reported once; drained, then new data: once more. */
	CHECK(write(s2, "yy", 2) == 2);
	CHECK(epoll_wait(ep, got, 4, WAIT_MS) == 1 && got[0].data.u32 == 2);
	CHECK(epoll_wait(ep, got, 4, 0) == 0);
	char two[2];
	CHECK(read(c2, two, 2) == 2);
	CHECK(write(s2, "z", 1) == 1);
	CHECK(epoll_wait(ep, got, 4, WAIT_MS) == 1 && got[0].data.u32 == 2);
	CHECK(read(c2, two, 2) == 1);
	/* Edge: new data while still readable is an edge too (Linux wakes the
	 * entry at each arrival), and only that: none while nothing comes. */
	CHECK(write(s2, "a", 1) == 1);
	CHECK(epoll_wait(ep, got, 4, WAIT_MS) == 1 && got[0].data.u32 == 2);
	CHECK(write(s2, "b", 1) == 1);
	CHECK(epoll_wait(ep, got, 4, WAIT_MS) == 1 && got[0].data.u32 == 2);
	CHECK(epoll_wait(ep, got, 4, 100) == 0);
	CHECK(read(c2, two, 2) == 2 && two[0] == 'a' && two[1] == 'b');
	/* One-shot: the pipe once, then not until re-armed. */
	CHECK(write(p[1], "p", 1) == 1);
	CHECK(epoll_wait(ep, got, 4, WAIT_MS) == 1 && got[0].data.u32 == 3);
	CHECK(epoll_wait(ep, got, 4, 0) == 0);
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLONESHOT, .data.u32 = 3 };
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	CHECK(epoll_wait(ep, got, 4, 0) == 1 && got[0].data.u32 == 3);
	CHECK(read(p[0], &b, 1) == 1);
	/* RDHUP: the peer shut its side. */
	CHECK_SYS(shutdown(s2, SHUT_WR));
	CHECK(epoll_wait(ep, got, 4, WAIT_MS) == 1 && got[0].data.u32 == 2);
	CHECK(got[0].events & EPOLLRDHUP);
	/* The peer gone: c reports HUP (and IN: the end of file). */
	close(s);
	CHECK(epoll_wait(ep, got, 4, WAIT_MS) >= 1);
	short r = poll1(c, POLLIN, WAIT_MS);
	CHECK(r & POLLIN);
	CHECK(read(c, &b, 1) == 0);
	close(ep);
	close(c);
	close(c2);
	close(s2);
	close(lfd);
	close(p[0]);
	close(p[1]);
	OK("readiness");
}

static void *send_later(void *arg)
{
	int fd = *(int *)arg;
	usleep(50000);
	CHECK(write(fd, "late", 4) == 4);
	return NULL;
}

/* A blocked receive woken by another thread's send; a receive timeout. */
static void blocking(void)
{
	int sv[2];
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, send_later, &sv[1]) == 0);
	char buf[8];
	CHECK(read(sv[0], buf, sizeof(buf)) == 4 && memcmp(buf, "late", 4) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	struct timeval tv = { 0, 100000 };
	CHECK_SYS(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	struct timeval back;
	socklen_t len = sizeof(back);
	CHECK_SYS(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &back, &len));
	CHECK(back.tv_sec == 0 && back.tv_usec == 100000);
	double t0 = now_s();
	CHECK(read(sv[0], buf, sizeof(buf)) == -1 && errno == EAGAIN);
	CHECK(now_s() - t0 >= 0.09);
	close(sv[0]);
	close(sv[1]);
	OK("blocking");
}

static void errors(void)
{
	int p[2];
	CHECK_SYS(pipe(p));
	struct sockaddr_in a = loopback(0);
	CHECK(bind(p[0], (struct sockaddr *)&a, sizeof(a)) == -1 && errno == ENOTSOCK);
	CHECK(bind(999, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EBADF);
	close(p[0]);
	close(p[1]);
	CHECK(socket(AF_INET, SOCK_STREAM | 0x1000000, 0) == -1 && errno == EINVAL);
	int s = CHECK_SYS(socket(AF_INET, SOCK_STREAM, 0));
	CHECK(accept(s, NULL, NULL) == -1 && errno == EINVAL); /* not listening */
	char b;
	CHECK(recv(s, &b, 1, 0) == -1 && errno == ENOTCONN);
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	CHECK(getpeername(s, (struct sockaddr *)&peer, &len) == -1 && errno == ENOTCONN);
	int v;
	len = sizeof(v);
	CHECK(getsockopt(s, SOL_SOCKET, 12345, &v, &len) == -1 && errno == ENOPROTOOPT);
	close(s);
	OK("errors");
}

#define SPLICED (1 << 20)

/* The byte at offset i of the spliced stream. */
static char spliced_byte(size_t i)
{
	return (char)(i * 131 + i / 4096);
}

struct stream_check {
	int fd;
	size_t got;
};

/* Reads the stream to its end, checking every byte; counts them. */
static void *verify_stream(void *arg)
{
	struct stream_check *sc = arg;
	static char buf[65536];
	size_t at = 0;
	for (;;) {
		ssize_t r = read(sc->fd, buf, sizeof(buf));
		CHECK(r >= 0);
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++, at++)
			CHECK(buf[i] == spliced_byte(at));
	}
	sc->got = at;
	return NULL;
}

/* splice between sockets and pipes: both ways, the errors, and a full
 * non-blocking socket that leaves in the pipe what it did not take. */
static void splices(void)
{
	int lfd = listener();
	int c, s;
	tcp_pair(lfd, &c, &s);
	int p[2];
	CHECK_SYS(pipe(p));
	write_all(s, "spliced", 7);
	CHECK(poll1(c, POLLIN, WAIT_MS) & POLLIN);
	CHECK(splice(c, NULL, p[1], NULL, 64, 0) == 7);
	CHECK(splice(p[0], NULL, c, NULL, 64, 0) == 7);
	char back[8] = { 0 };
	CHECK(poll1(s, POLLIN, WAIT_MS) & POLLIN);
	CHECK(read(s, back, sizeof(back)) == 7 && memcmp(back, "spliced", 7) == 0);
	/* SPLICE_F_NONBLOCK is the pipe's side; a socket's is its O_NONBLOCK. */
	CHECK(splice(p[0], NULL, c, NULL, 64, SPLICE_F_NONBLOCK) == -1 && errno == EAGAIN);
	CHECK_SYS(fcntl(c, F_SETFL, O_NONBLOCK));
	CHECK(splice(c, NULL, p[1], NULL, 64, 0) == -1 && errno == EAGAIN);
	CHECK(splice(p[0], NULL, p[1], NULL, 1, 0) == -1 && errno == EINVAL);
	loff_t off = 0;
	CHECK(splice(c, &off, p[1], NULL, 1, 0) == -1 && errno == EINVAL);
	CHECK(splice(c, NULL, p[1], &off, 1, 0) == -1 && errno == ESPIPE);
	/* 1 MiB through the pipe into a small non-blocking send buffer; the
	 * reader starts once the socket is full. */
	int small = 4096;
	CHECK_SYS(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	pthread_t t;
	struct stream_check sc = { s, 0 };
	static char chunk[16384];
	size_t queued = 0, sent = 0, blocked = 0;
	while (sent < SPLICED) {
		if (queued < SPLICED && queued - sent + sizeof(chunk) <= 65536) {
			for (size_t i = 0; i < sizeof(chunk); i++)
				chunk[i] = spliced_byte(queued + i);
			write_all(p[1], chunk, sizeof(chunk));
			queued += sizeof(chunk);
			continue;
		}
		ssize_t n = splice(p[0], NULL, c, NULL, 65536, SPLICE_F_NONBLOCK);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			if (!blocked++)
				CHECK(pthread_create(&t, NULL, verify_stream, &sc) == 0);
			CHECK(poll1(c, POLLOUT, WAIT_MS) & POLLOUT);
			continue;
		}
		sent += (size_t)n;
	}
	CHECK(blocked > 0); /* nobody read until it was full */
	CHECK_SYS(shutdown(c, SHUT_WR));
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(sc.got == SPLICED);
	close(p[0]);
	close(p[1]);
	close(c);
	close(s);
	close(lfd);
	OK("splices");
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	unix_pairs();
	unix_names();
	tcp_loopback();
	connects();
	udp();
	readiness();
	blocking();
	errors();
	splices();
	printf("sockets: all passed\n");
	return 0;
}
