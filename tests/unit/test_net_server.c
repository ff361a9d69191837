/* Unit tests for host/net/server.c, driven as a guest drives it: wire
 * records on one end of a socket pair. TCP and UDP between the VM's own
 * sockets by their guest names, published ports from the host, out to a
 * host listener (mode host) or not (mode loopback), Unix sockets by names
 * the host's file system never sees, mode none, hostile calls, a broken
 * stream, a guest that stops reading, and no descriptor left behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include "net_addr.h"
#include <pier/net_wire.h>
#include "net/server.h"

#define SOCKS 64 /* the socket numbers these tests see stay below this */

/* The guest's end of pier.net, and what it last heard of each socket. */
static struct {
	int fd;
	uint32_t next_id;
	struct wire_reader *r;
	uint8_t buf[64 * 1024];
	size_t start, end;
	uint32_t ev[SOCKS];
	uint32_t last_event;  /* the socket of the last NET_EVENT */
} g;

/* The last NET_REPLY. */
static struct {
	int64_t result;
	uint32_t events;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint8_t data[WIRE_PAYLOAD_MAX];
	size_t data_len;
} rep;

static struct net_server *srv;
static int fds_before;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void start_with(const struct net_policy *p)
{
	fds_before = count_fds();
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	srv = net_server_start(sp[1], false, p);
	assert_non_null(srv);
	g.fd = sp[0];
	g.next_id = 1;
	g.start = g.end = 0;
	memset(g.ev, 0, sizeof(g.ev));
	if (!g.r)
		g.r = malloc(sizeof(*g.r));
	wire_reader_init(g.r, NET_KINDS);
}

static void start(enum net_mode mode, const char *publish)
{
	struct net_policy p = { .mode = mode };
	char err[128];
	if (publish)
		assert_int_equal(net_policy_publish(&p, publish, err, sizeof(err)), 0);
	start_with(&p);
}

/* Stops the server: nothing of it may stay open. */
static void finish(void)
{
	net_server_stop(srv);
	srv = NULL;
	close(g.fd);
	assert_int_equal(count_fds(), fds_before);
}

static void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		assert_true(w > 0);
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
	}
}

/* The next record from the server within timeout_ms; false if none. */
static bool next_record(int timeout_ms)
{
	for (;;) {
		while (g.start < g.end) {
			bool done;
			g.start += wire_feed(g.r, g.buf + g.start, g.end - g.start, &done);
			assert_false(g.r->broken);
			if (done)
				return true;
		}
		struct pollfd p = { g.fd, POLLIN, 0 };
		if (poll(&p, 1, timeout_ms) != 1)
			return false;
		ssize_t n = read(g.fd, g.buf, sizeof(g.buf));
		if (n <= 0)
			return false;
		g.start = 0;
		g.end = (size_t)n;
	}
}

/* Takes the next record (5 s at most): an event is noted, a reply kept in rep. */
static unsigned take(void)
{
	assert_true(next_record(5000));
	const struct wire_header *h = &g.r->h;
	const uint8_t *p = wire_payload(g.r);
	if (h->kind == NET_EVENT) {
		assert_int_equal(h->len, 4);
		assert_true(h->id > 0 && h->id < SOCKS);
		memcpy(&g.ev[h->id], p, 4);
		g.last_event = h->id;
		return NET_EVENT;
	}
	assert_int_equal(h->kind, NET_REPLY);
	struct net_result r;
	assert_true(h->len >= sizeof(r));
	memcpy(&r, p, sizeof(r));
	assert_true(r.addr_len <= sizeof(rep.addr) && sizeof(r) + r.addr_len <= h->len);
	rep.result = r.result;
	rep.events = r.events;
	memset(&rep.addr, 0, sizeof(rep.addr));
	memcpy(&rep.addr, p + sizeof(r), r.addr_len);
	rep.addr_len = r.addr_len;
	rep.data_len = h->len - sizeof(r) - r.addr_len;
	memcpy(rep.data, p + sizeof(r) + r.addr_len, rep.data_len);
	return NET_REPLY;
}

/* Sends one call (any bytes for its payload) without waiting; its id. */
static uint32_t send_raw(unsigned kind, const void *payload, size_t len)
{
	uint8_t *b = malloc(sizeof(struct wire_header) + len);
	uint32_t id = g.next_id++;
	size_t n = wire_put_header(b, id, kind, (uint32_t)len);
	memcpy(b + n, payload, len);
	write_all(g.fd, b, n + len);
	free(b);
	return id;
}

static uint32_t send_call(unsigned kind, uint32_t sock, int64_t a0, int64_t a1, int64_t a2,
			  const void *tail, size_t tlen)
{
	uint8_t *b = malloc(sizeof(struct net_call) + tlen);
	struct net_call c = { .sock = sock, .arg = { a0, a1, a2 } };
	memcpy(b, &c, sizeof(c));
	if (tlen)
		memcpy(b + sizeof(c), tail, tlen);
	uint32_t id = send_raw(kind, b, sizeof(c) + tlen);
	free(b);
	return id;
}

/* The reply to call id (events before it are noted). */
static int64_t reply_to(uint32_t id)
{
	while (take() != NET_REPLY)
		;
	assert_int_equal(g.r->h.id, id);
	return rep.result;
}

static int64_t call(unsigned kind, uint32_t sock, int64_t a0, int64_t a1, int64_t a2,
		    const void *tail, size_t tlen)
{
	int64_t r = reply_to(send_call(kind, sock, a0, a1, a2, tail, tlen));
	if (sock && sock < SOCKS)
		g.ev[sock] = rep.events;
	if ((kind == NET_SOCKET || kind == NET_SOCKETPAIR) && r > 0 && r < SOCKS)
		g.ev[r] = rep.events;
	return r;
}

/* Until the guest knows sock has one of mask (events come by themselves). */
static void wait_ready(uint32_t sock, uint32_t mask)
{
	while (!(g.ev[sock] & mask))
		assert_int_equal(take(), NET_EVENT);
}

/* Until a NET_EVENT for sock says one of mask: the server told, unasked. */
static void wait_event(uint32_t sock, uint32_t mask)
{
	do
		assert_int_equal(take(), NET_EVENT);
	while (g.last_event != sock || !(g.ev[sock] & mask));
}

static socklen_t unaddr(struct sockaddr_storage *a, const char *name, size_t namelen)
{
	memset(a, 0, sizeof(*a));
	a->ss_family = AF_UNIX;
	memcpy(((struct sockaddr_un *)a)->sun_path, name, namelen);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + namelen);
}

static int port_of(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
					     : ((const struct sockaddr_in6 *)a)->sin6_port);
}

/* The last reply's address is ip:port. */
static void assert_rep_addr(const char *ip, int port)
{
	struct sockaddr_storage want;
	socklen_t len = inaddr(&want, ip, port);
	assert_int_equal(rep.addr_len, len);
	assert_memory_equal(&rep.addr, &want, len);
}

static int64_t net_socket(int domain, int type)
{
	return call(NET_SOCKET, 0, domain, type, 0, NULL, 0);
}

static int64_t net_bind(uint32_t s, const char *ip, int port)
{
	struct sockaddr_storage a;
	socklen_t len = inaddr(&a, ip, port);
	return call(NET_BIND, s, 0, 0, 0, &a, len);
}

static int64_t net_connect(uint32_t s, const char *ip, int port)
{
	struct sockaddr_storage a;
	socklen_t len = inaddr(&a, ip, port);
	return call(NET_CONNECT, s, 0, 0, 0, &a, len);
}

static int64_t net_sendto(uint32_t s, int flags, const void *addr, size_t alen, const void *data,
			  size_t len)
{
	uint8_t *b = malloc(alen + len + 1);
	if (alen)
		memcpy(b, addr, alen);
	memcpy(b + alen, data, len);
	int64_t r = call(NET_SEND, s, flags, (int64_t)alen, 0, b, alen + len);
	free(b);
	return r;
}

static int64_t net_send(uint32_t s, const void *data, size_t len)
{
	return net_sendto(s, 0, NULL, 0, data, len);
}

/* recv of at most max: the result, the bytes in rep.data. */
static int64_t net_recv(uint32_t s, int flags, int64_t max)
{
	return call(NET_RECV, s, flags, max, 0, NULL, 0);
}

static int64_t net_name(uint32_t s, int peer)
{
	return call(NET_NAME, s, peer, 0, 0, NULL, 0);
}

static int64_t net_close(uint32_t s)
{
	return call(NET_CLOSE, s, 0, 0, 0, NULL, 0);
}

/* recv once ready, expecting exactly text. */
static void expect_data(uint32_t s, const char *text)
{
	wait_ready(s, POLLIN);
	assert_int_equal(net_recv(s, 0, 1000), (int64_t)strlen(text));
	assert_int_equal(rep.data_len, strlen(text));
	assert_memory_equal(rep.data, text, strlen(text));
}

/* A host socket of type on ip:port; -1 with errno if the host says no. */
static int host_bound(int type, const char *ip, int port)
{
	struct sockaddr_storage a;
	socklen_t len = inaddr(&a, ip, port);
	int fd = socket(a.ss_family, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (bind(fd, (struct sockaddr *)&a, len)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int host_port(int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return port_of(&a);
}

/* A port free on every host address now and outside the range the host
 * picks ephemeral ports from, so the server cannot be given it by chance. */
static int unused_port(int type)
{
	int low = 32768, high = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		assert_int_equal(fscanf(f, "%d %d", &low, &high), 2);
		fclose(f);
	}
	assert_true(low > 11000);
	for (int i = 0; i < 1000; i++) {
		int port = 10000 + (getpid() * 7 + i) % (low - 10000);
		int fd = host_bound(type, "0.0.0.0", port);
		if (fd >= 0) {
			close(fd);
			return port;
		}
	}
	fail_msg("no free port below %d", low);
	return -1;
}

static int host_connect(const char *ip, int port)
{
	struct sockaddr_storage a;
	socklen_t len = inaddr(&a, ip, port);
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&a, len)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Reads exactly n bytes from a host socket (5 s at most for each piece). */
static void host_read(int fd, void *p, size_t n)
{
	while (n) {
		struct pollfd pf = { fd, POLLIN, 0 };
		assert_int_equal(poll(&pf, 1, 5000), 1);
		ssize_t r = read(fd, p, n);
		assert_true(r > 0);
		p = (uint8_t *)p + r;
		n -= (size_t)r;
	}
}

/* The host socket's peer closed: EOF (or a reset) within 5 s. */
static void host_expect_end(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	assert_int_equal(poll(&pf, 1, 5000), 1);
	char b;
	assert_true(read(fd, &b, 1) <= 0);
}

static void test_an_unpublished_listener_is_the_vms_alone(void **state)
{
	(void)state;
	start(NET_MODE_HOST, NULL);
	int port = unused_port(SOCK_STREAM);
	int64_t l = net_socket(AF_INET, SOCK_STREAM);
	assert_int_equal(l, 1);
	assert_int_equal(net_bind(l, "127.0.0.1", port), 0);
	assert_int_equal(call(NET_LISTEN, l, 16, 0, 0, NULL, 0), 0);
	assert_int_equal(net_name(l, 0), 0);
	assert_rep_addr("127.0.0.1", port);
	/* The host's port is not the guest's: the host may take that one
	 * itself, and finds no one listening on it. */
	int mine = host_bound(SOCK_STREAM, "0.0.0.0", port);
	assert_true(mine >= 0);
	close(mine);
	assert_int_equal(host_connect("127.0.0.1", port), -1);
	assert_int_equal(errno, ECONNREFUSED);
	/* Another guest socket reaches it by the guest's name. */
	int64_t c = net_socket(AF_INET, SOCK_STREAM);
	int64_t r = net_connect(c, "127.0.0.1", port);
	assert_true(r == 0 || r == -EINPROGRESS);
	wait_ready(c, POLLOUT);
	assert_int_equal(call(NET_GETOPT, c, SOL_SOCKET, SO_ERROR, 4, NULL, 0), 0);
	assert_int_equal(rep.data_len, 4);
	assert_memory_equal(rep.data, "\0\0\0\0", 4);
	assert_int_equal(net_name(c, 1), 0);
	assert_rep_addr("127.0.0.1", port);
	wait_ready(l, POLLIN);
	int64_t a = call(NET_ACCEPT, l, 0, 0, 0, NULL, 0);
	assert_true(a > 0 && a != l && a != c);
	assert_int_equal(rep.addr.ss_family, AF_INET);
	assert_int_equal(net_name(a, 0), 0);
	assert_rep_addr("127.0.0.1", port);
	assert_int_equal(net_send(c, "ping", 4), 4);
	expect_data(a, "ping");
	assert_int_equal(net_send(a, "pong!", 5), 5);
	expect_data(c, "pong!");
	/* Nothing more to accept: the guest is told to wait, not blocked. */
	assert_int_equal(call(NET_ACCEPT, l, 0, 0, 0, NULL, 0), -EAGAIN);
	assert_int_equal(net_close(a), 0);
	assert_int_equal(net_close(c), 0);
	assert_int_equal(net_close(l), 0);
	finish();
}

static void test_a_published_port_serves_the_host(void **state)
{
	(void)state;
	char spec[64];
	int probe = host_bound(SOCK_STREAM, "127.0.0.1", 0);
	int hp = host_port(probe);
	close(probe);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d:80", hp);
	start(NET_MODE_HOST, spec);
	int64_t l = net_socket(AF_INET, SOCK_STREAM);
	int one = 1;
	assert_int_equal(call(NET_SETOPT, l, SOL_SOCKET, SO_REUSEADDR, 0, &one, sizeof(one)), 0);
	assert_int_equal(net_bind(l, "0.0.0.0", 80), 0);
	assert_int_equal(call(NET_LISTEN, l, 1 << 30, 0, 0, NULL, 0), 0); /* capped, not refused */
	assert_int_equal(net_name(l, 0), 0);
	assert_rep_addr("0.0.0.0", 80);
	int64_t again = net_socket(AF_INET, SOCK_STREAM);
	assert_int_equal(net_bind(again, "0.0.0.0", 80), -EADDRINUSE);
	assert_int_equal(net_close(again), 0);

	int client = host_connect("127.0.0.1", hp);
	assert_true(client >= 0);
	wait_event(l, POLLIN);
	int64_t a = call(NET_ACCEPT, l, 0, 0, 0, NULL, 0);
	assert_true(a > 0);
	assert_rep_addr("127.0.0.1", host_port(client)); /* the host client, as it is */
	assert_int_equal(net_name(a, 0), 0);
	assert_int_equal(port_of(&rep.addr), 80);
	/* The host client writes: the guest hears of it unasked. */
	write_all(client, "hello", 5);
	wait_event(a, POLLIN);
	assert_int_equal(call(NET_NREAD, a, 0, 0, 0, NULL, 0), 5);
	assert_int_equal(net_recv(a, MSG_PEEK, 2), 2);
	assert_memory_equal(rep.data, "he", 2);
	expect_data(a, "hello");

	/* Much more, both ways, byte for byte. */
	enum { N = 300000 };
	uint8_t *out = malloc(N), *in = malloc(N);
	for (size_t i = 0; i < N; i++)
		out[i] = (uint8_t)(i * 7 + i / 251);
	fcntl(client, F_SETFL, O_NONBLOCK);
	size_t sent = 0, got = 0;
	while (got < N) {
		ssize_t w = sent < N ? write(client, out + sent, N - sent) : 0;
		if (w > 0)
			sent += (size_t)w;
		wait_ready(a, POLLIN);
		int64_t r = net_recv(a, 0, 1 << 20);
		assert_true(r > 0 && r <= (int64_t)NET_WIRE_DATA_MAX);
		assert_int_equal(rep.data_len, r);
		memcpy(in + got, rep.data, (size_t)r);
		got += (size_t)r;
	}
	assert_memory_equal(in, out, N);
	memset(in, 0, N);
	sent = got = 0;
	while (got < N) {
		if (sent < N) {
			size_t n = N - sent < 60000 ? N - sent : 60000;
			int64_t r = net_send(a, out + sent, n);
			assert_true(r > 0 || r == -EAGAIN);
			if (r > 0)
				sent += (size_t)r;
		}
		struct pollfd pf = { client, POLLIN, 0 };
		assert_int_equal(poll(&pf, 1, 5000), 1);
		ssize_t n = read(client, in + got, N - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_memory_equal(in, out, N);
	free(out);
	free(in);
	/* The guest's shutdown and close end the host client's stream. */
	assert_int_equal(call(NET_SHUTDOWN, a, SHUT_WR, 0, 0, NULL, 0), 0);
	host_expect_end(client);
	close(client);
	wait_ready(a, POLLRDHUP);
	assert_int_equal(net_close(a), 0);
	assert_int_equal(net_close(l), 0);
	finish();
}

/* A guest socket connected to a listener of the host's (*t), accepted
 * there (*conn), writable as the guest last heard; the listener's port
 * into *port if asked. */
static int64_t connect_to_host(int *t, int *conn, int *port)
{
	*t = host_bound(SOCK_STREAM, "127.0.0.1", 0);
	assert_int_equal(listen(*t, 4), 0);
	if (port)
		*port = host_port(*t);
	int64_t c = net_socket(AF_INET, SOCK_STREAM);
	int64_t r = net_connect(c, "127.0.0.1", host_port(*t));
	assert_true(r == 0 || r == -EINPROGRESS);
	struct pollfd pf = { *t, POLLIN, 0 };
	assert_int_equal(poll(&pf, 1, 5000), 1);
	*conn = accept4(*t, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*conn >= 0);
	wait_ready(c, POLLOUT);
	return c;
}

static void test_out_to_a_host_listener_in_mode_host(void **state)
{
	(void)state;
	start(NET_MODE_HOST, NULL);
	int t, conn, q;
	int64_t c = connect_to_host(&t, &conn, &q);
	assert_int_equal(net_name(c, 1), 0);
	assert_rep_addr("127.0.0.1", q);
	assert_int_equal(net_send(c, "hi", 2), 2);
	char b[2];
	host_read(conn, b, 2);
	assert_memory_equal(b, "hi", 2);
	write_all(conn, "yo", 2);
	expect_data(c, "yo");
	close(conn);
	close(t);
	assert_int_equal(net_close(c), 0);
	finish();
}

/* Linux's epoll wakes an edge-triggered entry at each arrival, readable
 * before or not: the server says so (NET_EVENT_NEW) though the readiness
 * stayed the same, and says nothing while nothing arrives. */
static void test_new_input_on_a_readable_socket_is_told(void **state)
{
	(void)state;
	start(NET_MODE_HOST, NULL);
	int t, conn;
	int64_t c = connect_to_host(&t, &conn, NULL);
	write_all(conn, "a", 1);
	wait_event(c, POLLIN);
	assert_false(g.ev[c] & NET_EVENT_NEW); /* a change, not only an arrival */
	write_all(conn, "b", 1);
	wait_event(c, NET_EVENT_NEW);
	assert_int_equal(g.ev[c] & ~NET_EVENT_NEW, POLLIN | POLLOUT);
	assert_false(next_record(200));
	expect_data(c, "ab");
	close(conn);
	close(t);
	assert_int_equal(net_close(c), 0);
	finish();
}

/* close() with SO_LINGER waits even on a non-blocking socket: the
 * server's thread must not, whatever the guest set. */
static void test_a_lingering_close_does_not_wait(void **state)
{
	(void)state;
	start(NET_MODE_HOST, NULL);
	int t, conn;
	int64_t c = connect_to_host(&t, &conn, NULL);
	struct linger l = { .l_onoff = 1, .l_linger = 30 };
	assert_int_equal(call(NET_SETOPT, c, SOL_SOCKET, SO_LINGER, 0, &l, sizeof(l)), 0);
	/* The host end reads nothing: fill every buffer on the way. */
	uint8_t *junk = calloc(1, 60000);
	while (net_send(c, junk, 60000) > 0)
		;
	assert_int_equal(net_send(c, junk, 60000), -EAGAIN);
	free(junk);
	assert_int_equal(net_close(c), 0); /* within take()'s 5 s, not 30 */
	close(conn);
	close(t);
	finish();
}

static void test_mode_loopback_keeps_to_the_vm(void **state)
{
	(void)state;
	start(NET_MODE_LOOPBACK, NULL);
	int t = host_bound(SOCK_STREAM, "127.0.0.1", 0);
	assert_int_equal(listen(t, 4), 0);
	int64_t c = net_socket(AF_INET, SOCK_STREAM);
	assert_int_equal(net_connect(c, "127.0.0.1", host_port(t)), -ECONNREFUSED);
	assert_int_equal(net_connect(c, "192.0.2.1", 80), -ENETUNREACH);
	struct pollfd pf = { t, POLLIN, 0 };
	assert_int_equal(poll(&pf, 1, 0), 0); /* nothing came */
	close(t);
	/* A listener without a bind: the loopback, a port the guest is told. */
	int64_t l = net_socket(AF_INET, SOCK_STREAM);
	assert_int_equal(call(NET_LISTEN, l, 4, 0, 0, NULL, 0), 0);
	assert_int_equal(net_name(l, 0), 0);
	int lp = port_of(&rep.addr);
	assert_rep_addr("0.0.0.0", lp);
	int64_t r = net_connect(c, "127.0.0.1", lp);
	assert_true(r == 0 || r == -EINPROGRESS);
	wait_ready(l, POLLIN);
	int64_t a = call(NET_ACCEPT, l, 0, 0, 0, NULL, 0);
	assert_true(a > 0);
	/* UDP from an unbound socket: its peer in the VM can answer it. */
	int up = unused_port(SOCK_DGRAM);
	int64_t u1 = net_socket(AF_INET, SOCK_DGRAM), u2 = net_socket(AF_INET, SOCK_DGRAM);
	assert_int_equal(net_bind(u2, "127.0.0.1", up), 0);
	struct sockaddr_storage to;
	socklen_t tolen = inaddr(&to, "127.0.0.1", up);
	assert_int_equal(net_sendto(u1, 0, &to, tolen, "ping", 4), 4);
	expect_data(u2, "ping");
	struct sockaddr_storage from = rep.addr;
	socklen_t fromlen = rep.addr_len;
	assert_int_equal(net_sendto(u2, 0, &from, fromlen, "pong", 4), 4);
	expect_data(u1, "pong");
	assert_rep_addr("127.0.0.1", up);
	for (uint32_t s = 1; s <= 5; s++)
		assert_int_equal(net_close(s), 0);
	finish();
}

static void test_udp_senders_have_guest_names(void **state)
{
	(void)state;
	start(NET_MODE_HOST, NULL);
	int up = unused_port(SOCK_DGRAM);
	int64_t u1 = net_socket(AF_INET, SOCK_DGRAM), u2 = net_socket(AF_INET, SOCK_DGRAM);
	assert_int_equal(net_bind(u1, "127.0.0.1", 0), 0);
	assert_int_equal(net_name(u1, 0), 0);
	int p1 = port_of(&rep.addr);
	assert_true(p1 > 0);
	assert_int_equal(net_bind(u2, "0.0.0.0", up), 0);
	int mine = host_bound(SOCK_DGRAM, "0.0.0.0", up); /* not the host's port */
	assert_true(mine >= 0);
	close(mine);
	struct sockaddr_storage to;
	socklen_t tolen = inaddr(&to, "127.0.0.1", up);
	assert_int_equal(net_sendto(u1, 0, &to, tolen, "datagram", 8), 8);
	wait_ready(u2, POLLIN);
	/* Its length, then it. */
	assert_int_equal(net_recv(u2, MSG_PEEK | MSG_TRUNC, 0), 8);
	assert_int_equal(rep.data_len, 0);
	assert_int_equal(net_recv(u2, MSG_TRUNC, 4), 8);
	assert_int_equal(rep.data_len, 4);
	assert_memory_equal(rep.data, "data", 4);
	assert_rep_addr("127.0.0.1", p1);
	assert_int_equal(net_sendto(u2, 0, &rep.addr, rep.addr_len, "back", 4), 4);
	expect_data(u1, "back");
	assert_rep_addr("127.0.0.1", up);
	assert_int_equal(net_close(u1), 0);
	assert_int_equal(net_close(u2), 0);
	finish();
}

static void test_unix_sockets_in_mode_none(void **state)
{
	(void)state;
	start(NET_MODE_NONE, NULL);
	const socklen_t off = offsetof(struct sockaddr_un, sun_path);
	assert_int_equal(net_socket(AF_INET, SOCK_STREAM), -EAFNOSUPPORT);
	assert_int_equal(net_socket(AF_INET6, SOCK_DGRAM), -EAFNOSUPPORT);
	assert_int_equal(call(NET_SOCKETPAIR, 0, AF_INET, SOCK_STREAM, 0, NULL, 0), -EOPNOTSUPP);
	/* A pair. */
	int64_t a = call(NET_SOCKETPAIR, 0, AF_UNIX, SOCK_STREAM, 0, NULL, 0);
	assert_true(a > 0);
	assert_int_equal(rep.data_len, 4);
	uint32_t b;
	memcpy(&b, rep.data, 4);
	assert_true(b > 0 && b != a);
	assert_int_equal(net_send(a, "to b", 4), 4);
	expect_data(b, "to b");
	assert_int_equal(net_send(b, "to a", 4), 4);
	expect_data(a, "to a");
	/* Names inside the VM, a path the host does not have. */
	const char *path = "/nonexistent-pier-test-dir/app.sock";
	struct sockaddr_storage n;
	socklen_t nlen = unaddr(&n, path, strlen(path) + 1);
	int64_t s = net_socket(AF_UNIX, SOCK_STREAM);
	assert_int_equal(call(NET_BIND, s, 0, 0, 0, &n, nlen), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(call(NET_LISTEN, s, 8, 0, 0, NULL, 0), 0);
	assert_int_equal(net_name(s, 0), 0);
	assert_int_equal(rep.addr_len, nlen);
	assert_memory_equal(&rep.addr, &n, nlen);
	int64_t twice = net_socket(AF_UNIX, SOCK_STREAM);
	assert_int_equal(call(NET_BIND, twice, 0, 0, 0, &n, nlen), -EADDRINUSE);
	int64_t c = net_socket(AF_UNIX, SOCK_STREAM);
	struct sockaddr_storage other;
	socklen_t olen = unaddr(&other, "/nonexistent-pier-test-dir/other", 33);
	assert_int_equal(call(NET_CONNECT, c, 0, 0, 0, &other, olen), -ENOENT);
	olen = unaddr(&other, "\0nobody", 7);
	assert_int_equal(call(NET_CONNECT, c, 0, 0, 0, &other, olen), -ECONNREFUSED);
	assert_int_equal(call(NET_CONNECT, c, 0, 0, 0, &n, nlen), 0);
	assert_int_equal(net_name(c, 1), 0);
	assert_int_equal(rep.addr_len, nlen);
	assert_memory_equal(&rep.addr, &n, nlen);
	wait_ready(s, POLLIN);
	int64_t d = call(NET_ACCEPT, s, 0, 0, 0, NULL, 0);
	assert_true(d > 0);
	assert_int_equal(rep.addr_len, off); /* the client is unnamed */
	assert_int_equal(net_name(d, 0), 0);
	assert_memory_equal(&rep.addr, &n, nlen);
	assert_int_equal(net_send(c, "over a name", 11), 11);
	expect_data(d, "over a name");
	/* Datagrams to an abstract name, answered to an autobound sender. */
	int64_t u1 = net_socket(AF_UNIX, SOCK_DGRAM), u2 = net_socket(AF_UNIX, SOCK_DGRAM);
	struct sockaddr_storage abs, fam;
	socklen_t alen = unaddr(&abs, "\0guest-abs", 10);
	assert_int_equal(call(NET_BIND, u1, 0, 0, 0, &abs, alen), 0);
	unaddr(&fam, "", 0);
	assert_int_equal(call(NET_BIND, u2, 0, 0, 0, &fam, sizeof(sa_family_t)), 0);
	assert_int_equal(net_sendto(u2, 0, &abs, alen, "q", 1), 1);
	expect_data(u1, "q");
	assert_true(rep.addr_len > off);
	struct sockaddr_storage from = rep.addr;
	assert_int_equal(net_sendto(u1, 0, &from, rep.addr_len, "a", 1), 1);
	expect_data(u2, "a");
	assert_int_equal(rep.addr_len, alen);
	assert_memory_equal(&rep.addr, &abs, alen);
	for (uint32_t k = 1; k <= 8; k++)
		assert_int_equal(net_close(k), 0);
	assert_int_equal(access(path, F_OK), -1);
	finish();
}

static void test_hostile_calls_get_errors(void **state)
{
	(void)state;
	start(NET_MODE_HOST, NULL);
	assert_int_equal(call(NET_BIND, 999, 0, 0, 0, NULL, 0), -EBADF);
	assert_int_equal(call(NET_CLOSE, 0, 0, 0, 0, NULL, 0), -EBADF);
	assert_int_equal(call(NET_RECV, 4097, 0, 1, 0, NULL, 0), -EBADF);
	assert_int_equal(call(NET_SEND, 0xffffffff, 0, 0, 0, NULL, 0), -EBADF);
	int64_t s = net_socket(AF_INET, SOCK_DGRAM);
	assert_int_equal(s, 1);
	assert_int_equal(net_close(s), 0);
	assert_int_equal(net_close(s), -EBADF);
	assert_int_equal(net_send(s, "x", 1), -EBADF);
	/* Sockets the host does not make. */
	assert_int_equal(net_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK), -EINVAL);
	assert_int_equal(net_socket(12345, SOCK_STREAM), -EAFNOSUPPORT);
	assert_int_equal(net_socket(AF_PACKET, SOCK_RAW), -EAFNOSUPPORT);
	assert_int_equal(net_socket(AF_INET, SOCK_RAW), -EPERM);
	assert_int_equal(net_socket(AF_INET, SOCK_SEQPACKET), -ESOCKTNOSUPPORT);
	assert_int_equal(call(NET_SOCKET, 7, AF_INET, SOCK_STREAM, 0, NULL, 0), -EINVAL);
	/* Records that are no call. */
	struct net_call bad = { .sock = 0, .pad = 1, .arg = { AF_INET, SOCK_STREAM, 0 } };
	assert_int_equal(reply_to(send_raw(NET_SOCKET, &bad, sizeof(bad))), -EINVAL);
	assert_int_equal(reply_to(send_raw(NET_SOCKET, &bad, 8)), -EINVAL);
	assert_int_equal(reply_to(send_raw(NET_CLOSE, "", 0)), -EINVAL);
	bad.pad = 0;
	assert_int_equal(reply_to(send_raw(NET_REPLY, &bad, sizeof(bad))), -EINVAL);
	assert_int_equal(reply_to(send_raw(NET_EVENT, &bad, sizeof(bad))), -EINVAL);
	/* Lengths and flags out of bounds. */
	s = net_socket(AF_INET, SOCK_DGRAM);
	uint8_t *big = calloc(1, NET_WIRE_DATA_MAX + 1);
	struct sockaddr_storage a;
	socklen_t alen = inaddr(&a, "127.0.0.1", 9);
	assert_int_equal(call(NET_SEND, s, 0, (int64_t)1 << 40, 0, &a, alen), -EINVAL);
	assert_int_equal(call(NET_SEND, s, 0, -1, 0, &a, alen), -EINVAL);
	assert_int_equal(call(NET_SEND, s, 0, alen + 1, 0, &a, alen), -EINVAL);
	assert_int_equal(call(NET_SEND, s, 0, 0, 0, big, NET_WIRE_DATA_MAX + 1), -EINVAL);
	assert_int_equal(call(NET_SEND, s, MSG_ERRQUEUE, 0, 0, "x", 1), -EINVAL);
	assert_int_equal(net_recv(s, 0, INT64_MAX), -EAGAIN); /* capped, and nothing there */
	assert_int_equal(net_recv(s, 0, -1), -EINVAL);
	assert_int_equal(net_recv(s, MSG_ERRQUEUE, 1), -EINVAL);
	assert_int_equal(call(NET_BIND, s, 0, 0, 0, NULL, 0), -EINVAL);
	assert_int_equal(call(NET_BIND, s, 0, 0, 0, big, 200), -EINVAL);
	assert_int_equal(call(NET_BIND, s, 0, 0, 0, &a, alen - 1), -EINVAL);
	alen = inaddr(&a, "::1", 9);
	assert_int_equal(call(NET_BIND, s, 0, 0, 0, &a, alen), -EAFNOSUPPORT);
	assert_int_equal(call(NET_SETOPT, s, SOL_SOCKET, SO_BINDTODEVICE, 0, "lo", 3), -ENOPROTOOPT);
	assert_int_equal(call(NET_SETOPT, s, SOL_SOCKET, SO_RCVBUF, 0, big, 300), -EINVAL);
	assert_int_equal(call(NET_GETOPT, s, SOL_SOCKET, SO_TYPE, -1, NULL, 0), -EINVAL);
	assert_int_equal(call(NET_GETOPT, s, SOL_SOCKET, SO_TYPE, (int64_t)1 << 40, NULL, 0), 0);
	assert_int_equal(rep.data_len, sizeof(int));
	int type;
	memcpy(&type, rep.data, sizeof(type));
	assert_int_equal(type, SOCK_DGRAM);
	assert_int_equal(call(NET_GETOPT, s, SOL_SOCKET, SO_PEERCRED, 64, NULL, 0), -ENOPROTOOPT);
	assert_int_equal(net_name(s, 7), -EINVAL);
	assert_int_equal(call(NET_SHUTDOWN, s, 5, 0, 0, NULL, 0), -EINVAL);
	free(big);
	/* The stream is still good. */
	assert_int_equal(net_bind(s, "127.0.0.1", 0), 0);
	assert_int_equal(net_close(s), 0);
	finish();
}

/* Reads stderr's pipe until the text shows (5 s at most). */
static void expect_stderr(int fd, const char *text)
{
	char buf[1024];
	size_t len = 0;
	while (!memmem(buf, len, text, strlen(text))) {
		struct pollfd pf = { fd, POLLIN, 0 };
		assert_int_equal(poll(&pf, 1, 5000), 1);
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		assert_true(n > 0);
		len += (size_t)n;
	}
}

static void test_a_malformed_record_ends_the_service(void **state)
{
	(void)state;
	int probe = host_bound(SOCK_STREAM, "127.0.0.1", 0);
	int hp = host_port(probe);
	close(probe);
	char spec[64];
	snprintf(spec, sizeof(spec), "127.0.0.1:%d:80", hp);
	start(NET_MODE_HOST, spec);
	int64_t l = net_socket(AF_INET, SOCK_STREAM);
	assert_int_equal(net_bind(l, "0.0.0.0", 80), 0);
	assert_int_equal(call(NET_LISTEN, l, 4, 0, 0, NULL, 0), 0);
	int client = host_connect("127.0.0.1", hp);
	assert_true(client >= 0);
	wait_ready(l, POLLIN);
	assert_true(call(NET_ACCEPT, l, 0, 0, 0, NULL, 0) > 0);

	int err[2], saved = dup(2);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	fflush(stderr);
	dup2(err[1], 2);
	struct wire_header h = { .id = 1, .kind = 0x7fff, .len = 4 };
	write_all(g.fd, &h, sizeof(h));
	expect_stderr(err[0], "pier: net: malformed record from the guest; its sockets are closed\n");
	dup2(saved, 2);
	close(saved);
	close(err[0]);
	close(err[1]);
	/* The guest's sockets are gone; nothing more is answered (records
	 * sent before the break may still be on their way: events only). */
	host_expect_end(client);
	close(client);
	while (next_record(100))
		assert_int_equal(g.r->h.kind, NET_EVENT);
	send_call(NET_SOCKET, 0, AF_INET, SOCK_STREAM, 0, NULL, 0);
	assert_false(next_record(100));
	finish();
}

static void test_a_guest_that_does_not_read_stalls_only_itself(void **state)
{
	(void)state;
	start(NET_MODE_HOST, NULL);
	int64_t a = call(NET_SOCKETPAIR, 0, AF_UNIX, SOCK_STREAM, 0, NULL, 0);
	uint32_t b;
	memcpy(&b, rep.data, 4);
	uint8_t *bytes = malloc(NET_WIRE_DATA_MAX);
	for (size_t i = 0; i < NET_WIRE_DATA_MAX; i++)
		bytes[i] = (uint8_t)(i % 253);
	assert_int_equal(net_send(a, bytes, NET_WIRE_DATA_MAX), NET_WIRE_DATA_MAX);
	wait_ready(b, POLLIN);
	/* 300 replies of 64 KiB, asked for at once, none read yet. */
	enum { CALLS = 300 };
	size_t one = sizeof(struct wire_header) + sizeof(struct net_call);
	uint8_t *calls = malloc(one * CALLS);
	uint32_t first = g.next_id;
	for (int i = 0; i < CALLS; i++) {
		struct net_call c = { .sock = b, .arg = { MSG_PEEK, NET_WIRE_DATA_MAX, 0 } };
		size_t n = wire_put_header(calls + one * i, g.next_id++, NET_RECV, sizeof(c));
		memcpy(calls + one * i + n, &c, sizeof(c));
	}
	write_all(g.fd, calls, one * CALLS);
	free(calls);
	for (int i = 0; i < CALLS; i++) {
		assert_int_equal(reply_to(first + (uint32_t)i), NET_WIRE_DATA_MAX);
		assert_int_equal(rep.data_len, NET_WIRE_DATA_MAX);
		assert_memory_equal(rep.data, bytes, NET_WIRE_DATA_MAX);
	}
	/* Memory stayed bounded: 256 KiB, and one record past it at most. */
	size_t peak = net_server_output_peak(srv);
	assert_true(peak > 0);
	assert_true(peak <= 256 * 1024 + sizeof(struct wire_header) + WIRE_PAYLOAD_MAX + 64);
	free(bytes);
	assert_int_equal(net_close(a), 0);
	assert_int_equal(net_close(b), 0);
	finish();
}

static void test_the_guests_end_closing_closes_its_sockets(void **state)
{
	(void)state;
	int probe = host_bound(SOCK_STREAM, "127.0.0.1", 0);
	int hp = host_port(probe);
	close(probe);
	char spec[64];
	snprintf(spec, sizeof(spec), "127.0.0.1:%d:8000", hp);
	start(NET_MODE_HOST, spec);
	int64_t l = net_socket(AF_INET, SOCK_STREAM);
	assert_int_equal(net_bind(l, "0.0.0.0", 8000), 0);
	assert_int_equal(call(NET_LISTEN, l, 4, 0, 0, NULL, 0), 0);
	int client = host_connect("127.0.0.1", hp);
	assert_true(client >= 0);
	wait_ready(l, POLLIN);
	assert_true(call(NET_ACCEPT, l, 0, 0, 0, NULL, 0) > 0);
	shutdown(g.fd, SHUT_WR); /* the VM's end of the stream: EOF */
	host_expect_end(client);
	close(client);
	finish();
}

static void test_a_listening_stream_takes_one_connection(void **state)
{
	(void)state;
	fds_before = count_fds();
	struct sockaddr_storage a;
	char name[64];
	int n = snprintf(name, sizeof(name), "%cpier-net-test-%d", '\0', (int)getpid());
	socklen_t len = unaddr(&a, name, (size_t)n);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, len), 0);
	assert_int_equal(listen(l, 1), 0);
	struct net_policy p = { .mode = NET_MODE_HOST };
	srv = net_server_start(l, true, &p);
	assert_non_null(srv);
	g.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(g.fd, (struct sockaddr *)&a, len), 0);
	g.next_id = 1;
	g.start = g.end = 0;
	if (!g.r)
		g.r = malloc(sizeof(*g.r));
	wire_reader_init(g.r, NET_KINDS);
	int64_t s = net_socket(AF_UNIX, SOCK_DGRAM);
	assert_int_equal(s, 1);
	assert_true(g.ev[s] & POLLOUT);
	assert_int_equal(net_close(s), 0);
	finish();
	/* Nothing stopped before it started leaks either. */
	fds_before = count_fds();
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	net_server_stop(net_server_start(sp[1], false, &p));
	close(sp[0]);
	net_server_stop(NULL);
	assert_int_equal(count_fds(), fds_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_unpublished_listener_is_the_vms_alone),
		cmocka_unit_test(test_a_published_port_serves_the_host),
		cmocka_unit_test(test_out_to_a_host_listener_in_mode_host),
		cmocka_unit_test(test_new_input_on_a_readable_socket_is_told),
		cmocka_unit_test(test_a_lingering_close_does_not_wait),
		cmocka_unit_test(test_mode_loopback_keeps_to_the_vm),
		cmocka_unit_test(test_udp_senders_have_guest_names),
		cmocka_unit_test(test_unix_sockets_in_mode_none),
		cmocka_unit_test(test_hostile_calls_get_errors),
		cmocka_unit_test(test_a_malformed_record_ends_the_service),
		cmocka_unit_test(test_a_guest_that_does_not_read_stalls_only_itself),
		cmocka_unit_test(test_the_guests_end_closing_closes_its_sockets),
		cmocka_unit_test(test_a_listening_stream_takes_one_connection),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	free(g.r);
	return r;
}
