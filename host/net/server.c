/* pier.net's host end (see server.h): the guest's socket calls, served on
 * host sockets by one thread; what they may reach is policy.c's. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pier/net_wire.h>
#include "files.h"
#include "server.h"
#include "../threads.h"

#define SOCK_MAX 4096              /* the guest's sockets are numbered 1 .. SOCK_MAX */
#define OUT_LIMIT (256 * 1024)     /* past this much output waiting, no call is read */
#define RECORD_MAX (sizeof(struct wire_header) + WIRE_PAYLOAD_MAX)
/* Output goes in only while at most OUT_LIMIT waits, and one call adds a
 * reply and one NET_EVENT at most: this always holds it. */
#define OUT_CAP (OUT_LIMIT + 2 * RECORD_MAX)
#define OPT_MAX 256                /* an option's value, either way */
#define POLL_ASK (POLLIN | POLLOUT | POLLPRI | POLLRDHUP) /* and POLLERR, POLLHUP */
#define SOCK_EPOLL (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET)

_Static_assert(sizeof(struct net_result) + sizeof(struct sockaddr_storage) + NET_WIRE_DATA_MAX <=
		       WIRE_PAYLOAD_MAX, "a reply fits one record");

/* What epoll's events are about; a socket's tag is TAG_SOCK + its slot. */
enum { TAG_STOP, TAG_STREAM, TAG_LISTEN, TAG_SOCK };

enum stream_state {
	STREAM_WAITING,            /* for the connection on the listening socket */
	STREAM_SERVING,
	STREAM_ENDED,              /* EOF, an error, or a malformed record: sockets closed */
};

struct sock {
	int fd;
	int domain, type;
	uint32_t sent;             /* the readiness the guest last heard of */
	bool dirty;                /* epoll saw something: poll it, tell the guest if it changed */
	uint32_t arrived;          /* EPOLLIN, EPOLLOUT: what epoll woke for since the last event */
	bool bound;                /* bind holds its names */
	uint16_t accepted_port;    /* accepted by a VM listener: that one's guest port */
	struct net_bind bind;
};

struct net_server {
	int stream, listen_fd, stop_fd, ep;
	enum stream_state state;
	uint32_t stream_watch;     /* what epoll watches on the stream now */
	pthread_t thread;
	struct net_policy policy;
	struct net_files files;    /* NET_SENDFILE's: the shares' files it keeps open */
	struct sock *socks[SOCK_MAX];
	struct net_bind *binds[SOCK_MAX];  /* &socks[i]->bind of each bound socket */
	int nslots;                /* slots at and above this are all free */
	int ndirty;
	uint8_t *out;              /* records for the guest: out_start .. out_end */
	size_t out_start, out_end, out_peak;
	uint8_t in[64 * 1024];     /* read from the stream, not yet fed to the reader */
	size_t in_start, in_end;
	struct wire_reader reader;
	uint8_t data[NET_WIRE_DATA_MAX]; /* NET_RECV's and NET_GETOPT's bytes */
};

/* One call (untrusted: from the guest) and what its reply carries. */
struct call {
	uint32_t id;
	struct net_call c;
	const uint8_t *tail;       /* the call's own bytes after struct net_call */
	size_t tail_len;
	int slot;                  /* its socket, or -1 */
	int events_of;             /* the socket whose readiness the reply carries, or -1 */
	int announce;              /* a new socket whose readiness follows as NET_EVENT, or -1 */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	const void *data;
	size_t data_len;
	uint32_t other;            /* NET_SOCKETPAIR's second socket */
};

static size_t out_waiting(const struct net_server *s)
{
	return s->out_end - s->out_start;
}

/* Room for need more bytes of output. */
static uint8_t *out_room(struct net_server *s, size_t need)
{
	if (s->out_end + need > OUT_CAP) {
		memmove(s->out, s->out + s->out_start, out_waiting(s));
		s->out_end -= s->out_start;
		s->out_start = 0;
	}
	if (s->out_end + need > OUT_CAP) {
		fprintf(stderr, "pier: net: %s:%d: output past its bound\n", __FILE__, __LINE__);
		abort();
	}
	return s->out + s->out_end;
}

static void out_done(struct net_server *s, size_t n)
{
	s->out_end += n;
	if (out_waiting(s) > s->out_peak)
		__atomic_store_n(&s->out_peak, out_waiting(s), __ATOMIC_RELAXED);
}

static uint32_t sock_poll(const struct sock *k)
{
	struct pollfd p = { k->fd, POLL_ASK, 0 };
	if (poll(&p, 1, 0) < 0)
		return POLLERR;
	return (uint16_t)p.revents;
}

static void put_event(struct net_server *s, int slot, uint32_t events)
{
	uint8_t *p = out_room(s, sizeof(struct wire_header) + sizeof(events));
	size_t n = wire_put_header(p, (uint32_t)slot + 1, NET_EVENT, sizeof(events));
	memcpy(p + n, &events, sizeof(events));
	out_done(s, n + sizeof(events));
}

static void put_reply(struct net_server *s, const struct call *c, int64_t result)
{
	struct net_result r = { .result = result, .addr_len = c->addr_len };
	if (c->events_of >= 0 && s->socks[c->events_of])
		r.events = s->socks[c->events_of]->sent = sock_poll(s->socks[c->events_of]);
	size_t len = sizeof(r) + c->addr_len + c->data_len;
	uint8_t *p = out_room(s, sizeof(struct wire_header) + len);
	size_t n = wire_put_header(p, c->id, NET_REPLY, (uint32_t)len);
	memcpy(p + n, &r, sizeof(r));
	memcpy(p + n + sizeof(r), &c->addr, c->addr_len);
	if (c->data_len)
		memcpy(p + n + sizeof(r) + c->addr_len, c->data, c->data_len);
	out_done(s, n + len);
}

/* The lowest free slot at or above from, or -1. */
static int free_slot(const struct net_server *s, int from)
{
	for (int i = from; i < SOCK_MAX; i++)
		if (!s->socks[i])
			return i;
	return -1;
}

/* Takes fd into slot. 0, or -errno (fd closed). */
static int sock_install(struct net_server *s, int slot, int fd, int domain, int type)
{
	struct sock *k = calloc(1, sizeof(*k));
	struct epoll_event e = { .events = SOCK_EPOLL, .data.u64 = TAG_SOCK + (uint64_t)slot };
	if (!k || epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e)) {
		int err = k ? errno : ENOMEM;
		close(fd);
		free(k);
		return -err;
	}
	k->fd = fd;
	k->domain = domain;
	k->type = type;
	s->socks[slot] = k;
	if (slot >= s->nslots)
		s->nslots = slot + 1;
	return 0;
}

static void sock_close(struct net_server *s, int slot)
{
	struct sock *k = s->socks[slot];
	epoll_ctl(s->ep, EPOLL_CTL_DEL, k->fd, NULL);
	/* close() waits out SO_LINGER's time even on a non-blocking socket:
	 * never in this thread (the data still goes, in the background). */
	struct linger l;
	socklen_t len = sizeof(l);
	if (!getsockopt(k->fd, SOL_SOCKET, SO_LINGER, &l, &len) && l.l_onoff && l.l_linger > 0) {
		l.l_onoff = 0;
		setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(k->fd);
	if (k->dirty)
		s->ndirty--;
	s->binds[slot] = NULL;
	s->socks[slot] = NULL;
	free(k);
	while (s->nslots > 0 && !s->socks[s->nslots - 1])
		s->nslots--;
}

static void close_all(struct net_server *s)
{
	for (int i = 0; i < s->nslots; i++)
		if (s->socks[i])
			sock_close(s, i);
}

/* Binds an Internet socket as the guest asked (see policy.h: a published
 * port, else the host's loopback) and keeps both names. 0 or -errno. */
static int bind_inet(struct net_server *s, int slot, const struct sockaddr_storage *a,
		     socklen_t len)
{
	struct sock *k = s->socks[slot];
	struct net_bind b;
	int r = net_bind_inet(&s->policy, k->domain, k->type, a, len, s->binds,
			      (size_t)s->nslots, &b);
	if (r)
		return r;
	if (bind(k->fd, (struct sockaddr *)&b.host, b.host_len))
		return -errno;
	struct sockaddr_storage real;
	socklen_t rlen = sizeof(real);
	if (getsockname(k->fd, (struct sockaddr *)&real, &rlen))
		return -errno;
	net_bind_bound(&b, &real, rlen);
	k->bind = b;
	k->bound = true;
	s->binds[slot] = &k->bind;
	return 0;
}

static int bind_unix(struct net_server *s, int slot, const struct sockaddr_storage *a,
		     socklen_t len)
{
	struct sock *k = s->socks[slot];
	struct net_bind b;
	if (len == sizeof(sa_family_t) && a->ss_family == AF_UNIX) {
		/* An autobind: the host's name is the guest's too. */
		struct sockaddr_storage real;
		socklen_t rlen = sizeof(real);
		if (bind(k->fd, (const struct sockaddr *)a, len) ||
		    getsockname(k->fd, (struct sockaddr *)&real, &rlen))
			return -errno;
		net_bind_identity(&b, AF_UNIX, k->type, &real, rlen);
	} else {
		int r = net_bind_unix(k->type, a, len, s->binds, (size_t)s->nslots, &b);
		if (r)
			return r;
		if (bind(k->fd, (struct sockaddr *)&b.host, b.host_len))
			return -errno;
	}
	k->bind = b;
	k->bound = true;
	s->binds[slot] = &k->bind;
	return 0;
}

/* An address from the call's bytes: false when its length is no address's. */
static bool take_addr(const uint8_t *p, size_t len, struct sockaddr_storage *a, socklen_t *alen)
{
	if (len < sizeof(sa_family_t) || len > sizeof(*a))
		return false;
	memset(a, 0, sizeof(*a));
	memcpy(a, p, len);
	*alen = (socklen_t)len;
	return true;
}

/* Where a connect or sendto to the guest's address goes (policy.h). */
static int route(struct net_server *s, int slot, const uint8_t *p, size_t len,
		 struct sockaddr_storage *out, socklen_t *outlen)
{
	struct sock *k = s->socks[slot];
	struct sockaddr_storage dst;
	socklen_t dlen;
	if (!take_addr(p, len, &dst, &dlen))
		return -EINVAL;
	int r = net_route(&s->policy, k->domain, k->type, &dst, dlen, s->binds, (size_t)s->nslots,
			  out, outlen);
	if (r)
		return r;
	/* Mode loopback: an unbound socket gets a loopback name the VM knows
	 * before it goes out, so its peer in the VM can answer it. Its error,
	 * if any, shows in the connect or send that follows. */
	if (s->policy.mode == NET_MODE_LOOPBACK && k->domain != AF_UNIX && !k->bound &&
	    !k->accepted_port && net_addr_is_loopback(out, *outlen)) {
		struct sockaddr_storage here = *out;
		net_addr_set_port(&here, 0);
		bind_inet(s, slot, &here, *outlen);
	}
	return 0;
}

static bool as_int(int64_t v, int *out)
{
	*out = (int)v;
	return v >= 0 && v <= 0x7fffffff;
}

static int64_t call_socket(struct net_server *s, struct call *c)
{
	int r = net_socket_check(&s->policy, c->c.arg[0], c->c.arg[1], c->c.arg[2]);
	if (r)
		return r;
	int slot = free_slot(s, 0);
	if (slot < 0)
		return -EMFILE;
	int domain = (int)c->c.arg[0], type = (int)c->c.arg[1];
	int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)c->c.arg[2]);
	if (fd < 0)
		return -errno;
	r = sock_install(s, slot, fd, domain, type);
	if (r)
		return r;
	c->events_of = slot;
	return slot + 1;
}

static int64_t call_socketpair(struct net_server *s, struct call *c)
{
	if (c->c.arg[0] == AF_INET || c->c.arg[0] == AF_INET6)
		return -EOPNOTSUPP;
	int r = net_socket_check(&s->policy, c->c.arg[0], c->c.arg[1], c->c.arg[2]);
	if (r)
		return r;
	int a = free_slot(s, 0), b = a < 0 ? -1 : free_slot(s, a + 1);
	if (b < 0)
		return -EMFILE;
	int type = (int)c->c.arg[1], fds[2];
	if (socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)c->c.arg[2], fds))
		return -errno;
	r = sock_install(s, a, fds[0], AF_UNIX, type);
	if (r) {
		close(fds[1]);
		return r;
	}
	r = sock_install(s, b, fds[1], AF_UNIX, type);
	if (r) {
		sock_close(s, a);
		return r;
	}
	c->events_of = a;
	c->announce = b;
	c->other = (uint32_t)b + 1;
	c->data = &c->other;
	c->data_len = sizeof(c->other);
	return a + 1;
}

static int64_t call_bind(struct net_server *s, struct call *c)
{
	struct sock *k = s->socks[c->slot];
	struct sockaddr_storage a;
	socklen_t len;
	if (k->bound || !take_addr(c->tail, c->tail_len, &a, &len))
		return -EINVAL;
	if (k->domain == AF_UNIX)
		return bind_unix(s, c->slot, &a, len);
	return bind_inet(s, c->slot, &a, len);
}

static int64_t call_listen(struct net_server *s, struct call *c)
{
	struct sock *k = s->socks[c->slot];
	int backlog = c->c.arg[0] < 0 || c->c.arg[0] > SOMAXCONN ? SOMAXCONN : (int)c->c.arg[0];
	if (k->domain != AF_UNIX && !k->bound) {
		/* The host would bind it to every address, port any: the
		 * guest's own bind to any port goes to the loopback instead. */
		struct sockaddr_storage any;
		memset(&any, 0, sizeof(any));
		any.ss_family = (sa_family_t)k->domain;
		int r = bind_inet(s, c->slot, &any, k->domain == AF_INET
						? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		if (r)
			return r;
	}
	return listen(k->fd, backlog) ? -errno : 0;
}

static int64_t call_accept(struct net_server *s, struct call *c)
{
	struct sock *l = s->socks[c->slot];
	int slot = free_slot(s, 0);
	if (slot < 0)
		return -EMFILE; /* the connection waits in the backlog, as in Linux */
	socklen_t len = sizeof(c->addr);
	int fd = accept4(l->fd, (struct sockaddr *)&c->addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = sock_install(s, slot, fd, l->domain, l->type);
	if (r)
		return r;
	if (l->bound && l->domain != AF_UNIX)
		s->socks[slot]->accepted_port = l->bind.guest_port;
	c->addr_len = len < sizeof(c->addr) ? len : sizeof(c->addr);
	net_name_to_guest(l->type, s->binds, (size_t)s->nslots, &c->addr, &c->addr_len);
	c->announce = slot;
	return slot + 1;
}

static int64_t call_connect(struct net_server *s, struct call *c)
{
	struct sockaddr_storage to;
	socklen_t len;
	int r = route(s, c->slot, c->tail, c->tail_len, &to, &len);
	if (r)
		return r;
	return connect(s->socks[c->slot]->fd, (struct sockaddr *)&to, len) ? -errno : 0;
}

static int64_t call_send(struct net_server *s, struct call *c)
{
	int flags = net_send_flags(c->c.arg[0]);
	int64_t alen = c->c.arg[1];
	if (flags < 0 || alen < 0 || (uint64_t)alen > c->tail_len ||
	    (uint64_t)alen > sizeof(struct sockaddr_storage) ||
	    c->tail_len - (size_t)alen > NET_WIRE_DATA_MAX)
		return -EINVAL;
	struct sockaddr_storage to;
	socklen_t len = 0;
	if (alen) {
		int r = route(s, c->slot, c->tail, (size_t)alen, &to, &len);
		if (r)
			return r;
	}
	ssize_t n = sendto(s->socks[c->slot]->fd, c->tail + alen, c->tail_len - (size_t)alen,
			   flags, alen ? (struct sockaddr *)&to : NULL, len);
	return n < 0 ? -errno : n;
}

static int64_t call_recv(struct net_server *s, struct call *c)
{
	struct sock *k = s->socks[c->slot];
	int flags = net_recv_flags(c->c.arg[0]);
	if (flags < 0 || c->c.arg[1] < 0)
		return -EINVAL;
	size_t max = c->c.arg[1] > (int64_t)NET_WIRE_DATA_MAX ? NET_WIRE_DATA_MAX : (size_t)c->c.arg[1];
	socklen_t len = sizeof(c->addr);
	ssize_t n = recvfrom(k->fd, s->data, max, flags, (struct sockaddr *)&c->addr, &len);
	if (n < 0)
		return -errno;
	c->addr_len = len < sizeof(c->addr) ? len : sizeof(c->addr);
	net_name_to_guest(k->type, s->binds, (size_t)s->nslots, &c->addr, &c->addr_len);
	c->data = s->data;
	/* MSG_TRUNC on a stream discards: nothing was written to s->data. */
	if (!(k->type == SOCK_STREAM && (flags & MSG_TRUNC)))
		c->data_len = (size_t)n < max ? (size_t)n : max;
	return n;
}

static int64_t call_shutdown(struct net_server *s, struct call *c)
{
	int how;
	if (!as_int(c->c.arg[0], &how) || how > SHUT_RDWR)
		return -EINVAL;
	return shutdown(s->socks[c->slot]->fd, how) ? -errno : 0;
}

static int64_t call_name(struct net_server *s, struct call *c)
{
	struct sock *k = s->socks[c->slot];
	if (c->c.arg[0] != 0 && c->c.arg[0] != 1)
		return -EINVAL;
	bool own = c->c.arg[0] == 0;
	if (own && k->bound) {
		c->addr = k->bind.guest;
		c->addr_len = k->bind.guest_len;
		return 0;
	}
	socklen_t len = sizeof(c->addr);
	int r = own ? getsockname(k->fd, (struct sockaddr *)&c->addr, &len)
		    : getpeername(k->fd, (struct sockaddr *)&c->addr, &len);
	if (r)
		return -errno;
	c->addr_len = len < sizeof(c->addr) ? len : sizeof(c->addr);
	if (own && k->accepted_port)
		net_addr_set_port(&c->addr, k->accepted_port);
	else
		net_name_to_guest(k->type, s->binds, (size_t)s->nslots, &c->addr, &c->addr_len);
	return 0;
}

static int64_t call_setopt(struct net_server *s, struct call *c)
{
	if (!net_opt_allowed(c->c.arg[0], c->c.arg[1], false))
		return -ENOPROTOOPT;
	if (c->tail_len > OPT_MAX)
		return -EINVAL;
	return setsockopt(s->socks[c->slot]->fd, (int)c->c.arg[0], (int)c->c.arg[1], c->tail,
			  (socklen_t)c->tail_len) ? -errno : 0;
}

static int64_t call_getopt(struct net_server *s, struct call *c)
{
	if (!net_opt_allowed(c->c.arg[0], c->c.arg[1], true))
		return -ENOPROTOOPT;
	if (c->c.arg[2] < 0)
		return -EINVAL;
	/* Every allowed value is shorter: a larger buffer is fine, as in Linux. */
	socklen_t len = c->c.arg[2] > OPT_MAX ? OPT_MAX : (socklen_t)c->c.arg[2];
	if (getsockopt(s->socks[c->slot]->fd, (int)c->c.arg[0], (int)c->c.arg[1], s->data, &len))
		return -errno;
	c->data = s->data;
	c->data_len = len;
	return 0;
}

static int64_t call_nread(struct net_server *s, struct call *c)
{
	int n;
	return ioctl(s->socks[c->slot]->fd, FIONREAD, &n) ? -errno : n;
}

static int64_t call_close(struct net_server *s, struct call *c)
{
	sock_close(s, c->slot);
	c->events_of = -1;
	return 0;
}

static int64_t call_sendfile(struct net_server *s, struct call *c)
{
	if (c->c.arg[2] < 0)
		return -EINVAL;
	return net_files_send(&s->files, s->socks[c->slot]->fd, c->tail, c->tail_len,
			      (uint64_t)c->c.arg[2], c->c.arg[0], c->c.arg[1]);
}

static int64_t (*const calls[NET_REPLY])(struct net_server *, struct call *) = {
	[NET_SOCKET] = call_socket,     [NET_SOCKETPAIR] = call_socketpair,
	[NET_BIND] = call_bind,         [NET_LISTEN] = call_listen,
	[NET_ACCEPT] = call_accept,     [NET_CONNECT] = call_connect,
	[NET_SEND] = call_send,         [NET_RECV] = call_recv,
	[NET_SHUTDOWN] = call_shutdown, [NET_NAME] = call_name,
	[NET_SETOPT] = call_setopt,     [NET_GETOPT] = call_getopt,
	[NET_NREAD] = call_nread,       [NET_CLOSE] = call_close,
	[NET_SENDFILE] = call_sendfile,
};

/* The record the reader holds: a call, answered with one NET_REPLY. */
static void handle(struct net_server *s)
{
	const struct wire_header *h = &s->reader.h;
	struct call c = { .id = h->id, .slot = -1, .events_of = -1, .announce = -1 };
	int64_t r = -EINVAL; /* too short, a kind only the host sends, pad set */
	if (h->len >= sizeof(c.c) && h->kind < NET_REPLY) {
		memcpy(&c.c, wire_payload(&s->reader), sizeof(c.c));
		c.tail = wire_payload(&s->reader) + sizeof(c.c);
		c.tail_len = h->len - sizeof(c.c);
		bool makes = h->kind == NET_SOCKET || h->kind == NET_SOCKETPAIR;
		if (c.c.pad || (makes && c.c.sock))
			r = -EINVAL;
		else if (makes)
			r = calls[h->kind](s, &c);
		else if (!c.c.sock || c.c.sock > SOCK_MAX || !s->socks[c.c.sock - 1])
			r = -EBADF;
		else {
			c.slot = c.events_of = (int)c.c.sock - 1;
			r = calls[h->kind](s, &c);
		}
	}
	put_reply(s, &c, r);
	if (c.announce >= 0) { /* a new socket's first readiness, whatever it is */
		struct sock *k = s->socks[c.announce];
		k->sent = sock_poll(k);
		put_event(s, c.announce, k->sent);
	}
}

/* The guest is gone, or can no longer be trusted: its sockets go. */
static void end(struct net_server *s)
{
	close_all(s);
	if (s->stream >= 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->stream, NULL);
	s->state = STREAM_ENDED;
	s->out_start = s->out_end = 0;
	s->in_start = s->in_end = 0;
}

static void flush(struct net_server *s)
{
	while (out_waiting(s)) {
		ssize_t n = send(s->stream, s->out + s->out_start, out_waiting(s),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			end(s);
			return;
		}
		s->out_start += (size_t)n;
	}
	s->out_start = s->out_end = 0;
}

static void read_stream(struct net_server *s)
{
	if (s->in_start < s->in_end)
		return; /* what was read is not used up yet */
	ssize_t n = recv(s->stream, s->in, sizeof(s->in), MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		end(s);
		return;
	}
	s->in_start = 0;
	s->in_end = (size_t)n;
}

/* Sockets epoll saw: their readiness to the guest, where it changed. */
static void announce_dirty(struct net_server *s)
{
	for (int i = 0; i < s->nslots && s->ndirty && out_waiting(s) <= OUT_LIMIT; i++) {
		struct sock *k = s->socks[i];
		if (!k || !k->dirty)
			continue;
		k->dirty = false;
		s->ndirty--;
		uint32_t now = sock_poll(k);
		bool arrived = k->arrived & now; /* and still there */
		k->arrived = 0;
		if (now != k->sent)
			put_event(s, i, now);
		else if (arrived)
			put_event(s, i, now | NET_EVENT_NEW);
		k->sent = now;
	}
}

/* Everything that can go now: output out, calls in (while the output
 * waiting stays under its limit), readiness changes out; again while
 * calls read earlier wait and output went out. */
static void pump(struct net_server *s)
{
	do {
		flush(s);
		while (s->state == STREAM_SERVING && s->in_start < s->in_end &&
		       out_waiting(s) <= OUT_LIMIT) {
			bool done;
			s->in_start += wire_feed(&s->reader, s->in + s->in_start,
						 s->in_end - s->in_start, &done);
			if (s->reader.broken) {
				fprintf(stderr, "pier: net: malformed record from the guest; "
						"its sockets are closed\n");
				end(s);
				return;
			}
			if (done)
				handle(s);
		}
		if (s->state != STREAM_SERVING)
			return;
		announce_dirty(s);
		flush(s);
		if (s->state != STREAM_SERVING)
			return;
	} while (s->in_start < s->in_end && out_waiting(s) <= OUT_LIMIT);
	/* Read more only once what was read is used up, and the guest keeps up. */
	bool more = s->in_start == s->in_end && out_waiting(s) <= OUT_LIMIT;
	uint32_t want = (more ? EPOLLIN : 0) | (out_waiting(s) ? EPOLLOUT : 0);
	if (want != s->stream_watch) {
		struct epoll_event e = { .events = want, .data.u64 = TAG_STREAM };
		epoll_ctl(s->ep, EPOLL_CTL_MOD, s->stream, &e);
		s->stream_watch = want;
	}
}

static void accept_stream(struct net_server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED))
		return;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, s->listen_fd, NULL);
	close(s->listen_fd);
	s->listen_fd = -1;
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = TAG_STREAM };
	if (fd < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e)) {
		fprintf(stderr, "pier: net: the port's connection: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		s->state = STREAM_ENDED;
		return;
	}
	s->stream = fd;
	s->stream_watch = EPOLLIN;
	s->state = STREAM_SERVING;
}

static void *serve(void *arg)
{
	struct net_server *s = arg;
	struct epoll_event ev[64];
	for (;;) {
		if (s->state == STREAM_SERVING)
			pump(s);
		int n = epoll_wait(s->ep, ev, 64, -1);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "pier: net: epoll: %s; the guest's sockets are closed\n",
				strerror(errno));
			end(s);
			uint64_t v;
			while (read(s->stop_fd, &v, sizeof(v)) < 0 && errno == EINTR)
				; /* blocking: until stop */
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			if (tag == TAG_STOP)
				return NULL;
			if (tag == TAG_LISTEN && s->state == STREAM_WAITING) {
				accept_stream(s);
			} else if (tag == TAG_STREAM && s->state == STREAM_SERVING) {
				/* The guest's end closed both ways (HUP) or failed. */
				if (ev[i].events & (EPOLLERR | EPOLLHUP))
					end(s);
				else if (ev[i].events & EPOLLIN)
					read_stream(s);
			} else if (tag >= TAG_SOCK && tag - TAG_SOCK < SOCK_MAX) {
				/* The slot may hold a newer socket: polling that one is harmless. */
				struct sock *k = s->socks[tag - TAG_SOCK];
				if (!k)
					continue;
				/* Each wake-up of the host's edge-triggered entry is
				 * an arrival (input, room, a connection). */
				k->arrived |= ev[i].events & (EPOLLIN | EPOLLOUT);
				if (!k->dirty) {
					k->dirty = true;
					s->ndirty++;
				}
			}
		}
	}
}

struct net_server *net_server_start(int fd, bool listening, const struct net_policy *policy)
{
	struct net_server *s = calloc(1, sizeof(*s));
	if (!s || policy->npublish < 0 || policy->npublish > NET_PUBLISH_MAX) {
		fprintf(stderr, "pier: net: %s\n", s ? "bad policy" : strerror(ENOMEM));
		goto fail_fd;
	}
	s->policy = *policy;
	net_files_init(&s->files, &s->policy);
	s->stream = listening ? -1 : fd;
	s->listen_fd = listening ? fd : -1;
	s->state = listening ? STREAM_WAITING : STREAM_SERVING;
	s->stream_watch = EPOLLIN;
	wire_reader_init(&s->reader, NET_KINDS);
	s->out = malloc(OUT_CAP);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	struct epoll_event stop = { .events = EPOLLIN, .data.u64 = TAG_STOP };
	struct epoll_event port = { .events = EPOLLIN,
				    .data.u64 = listening ? TAG_LISTEN : TAG_STREAM };
	if (!s->out || s->ep < 0 || s->stop_fd < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->stop_fd, &stop) ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &port)) {
		fprintf(stderr, "pier: net: %s\n", strerror(s->out ? errno : ENOMEM));
		goto fail;
	}
	int err = thread_start(&s->thread, serve, s);
	if (!err)
		return s;
	fprintf(stderr, "pier: net: thread: %s\n", strerror(err));
fail:
	if (s->ep >= 0)
		close(s->ep);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s->out);
fail_fd:
	close(fd);
	free(s);
	return NULL;
}

void net_server_stop(struct net_server *s)
{
	if (!s)
		return;
	uint64_t one = 1;
	if (write(s->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(s->thread, NULL);
	close_all(s);
	net_files_close(&s->files);
	if (s->stream >= 0)
		close(s->stream);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	close(s->ep);
	close(s->stop_fd);
	free(s->out);
	free(s);
}

size_t net_server_output_peak(const struct net_server *s)
{
	return __atomic_load_n(&s->out_peak, __ATOMIC_RELAXED);
}
