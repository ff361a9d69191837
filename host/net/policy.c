/* What the guest's sockets may do, and their names both ways (see policy.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include "policy.h"

#define SUN_OFF offsetof(struct sockaddr_un, sun_path)
/* The host's abstract names for the VM's Unix sockets start so. */
#define HOST_PREFIX "pier-net-"

static int fail(char *err, size_t errlen, const char *spec, const char *why)
{
	snprintf(err, errlen, "publish \"%s\": %s", spec, why);
	return -1;
}

/* A port 1-65535, all decimal digits: the n bytes at s. -1 otherwise. */
static int parse_port(const char *s, size_t n)
{
	long v = 0;
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

int net_publish_parse(const char *spec, struct net_publish *out, char *err, size_t errlen)
{
	const char *usage = "expected [ADDR:]HOSTPORT:GUESTPORT[/tcp|/udp]";
	char buf[128];
	if (strlen(spec) >= sizeof(buf))
		return fail(err, errlen, spec, "too long");
	strcpy(buf, spec);
	memset(out, 0, sizeof(*out));
	out->type = SOCK_STREAM;
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (!strcmp(slash + 1, "udp"))
			out->type = SOCK_DGRAM;
		else if (strcmp(slash + 1, "tcp"))
			return fail(err, errlen, spec, "the protocol is tcp or udp");
	}
	struct sockaddr_in *in = (struct sockaddr_in *)&out->host;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->host;
	in->sin_family = AF_INET; /* 0.0.0.0 unless an address is given */
	out->host_len = sizeof(*in);
	char *ports = buf;
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');
		if (!end || end[1] != ':')
			return fail(err, errlen, spec, usage);
		*end = '\0';
		memset(in6, 0, sizeof(*in6));
		in6->sin6_family = AF_INET6;
		out->host_len = sizeof(*in6);
		if (inet_pton(AF_INET6, buf + 1, &in6->sin6_addr) != 1)
			return fail(err, errlen, spec, "not an IPv6 address");
		ports = end + 2;
	} else {
		char *first = strchr(buf, ':'), *last = strrchr(buf, ':');
		if (first && first != last) {
			if (strchr(first + 1, ':') != last)
				return fail(err, errlen, spec, "an IPv6 address goes in brackets");
			*first = '\0';
			if (inet_pton(AF_INET, buf, &in->sin_addr) != 1)
				return fail(err, errlen, spec, "not an IPv4 address");
			ports = first + 1;
		}
	}
	char *colon = strchr(ports, ':');
	if (!colon || strchr(colon + 1, ':'))
		return fail(err, errlen, spec, usage);
	int host = parse_port(ports, (size_t)(colon - ports));
	int guest = parse_port(colon + 1, strlen(colon + 1));
	if (host < 0 || guest < 0)
		return fail(err, errlen, spec, "a port is a number from 1 to 65535");
	net_addr_set_port(&out->host, (uint16_t)host);
	out->guest_port = (uint16_t)guest;
	return 0;
}

int net_policy_publish(struct net_policy *p, const char *spec, char *err, size_t errlen)
{
	struct net_publish e;
	if (net_publish_parse(spec, &e, err, errlen))
		return -1;
	if (p->npublish >= NET_PUBLISH_MAX)
		return fail(err, errlen, spec, "too many published ports");
	/* One guest socket binds one host address: a second entry could never be used. */
	for (int i = 0; i < p->npublish; i++)
		if (p->publish[i].type == e.type && p->publish[i].guest_port == e.guest_port)
			return fail(err, errlen, spec, "that guest port is published already");
	p->publish[p->npublish++] = e;
	return 0;
}

int net_mode_parse(const char *s, enum net_mode *out)
{
	if (!strcmp(s, "host"))
		*out = NET_MODE_HOST;
	else if (!strcmp(s, "loopback"))
		*out = NET_MODE_LOOPBACK;
	else if (!strcmp(s, "none"))
		*out = NET_MODE_NONE;
	else
		return -1;
	return 0;
}

int net_socket_check(const struct net_policy *p, int64_t domain, int64_t type, int64_t protocol)
{
	/* The wire carries no SOCK_NONBLOCK/SOCK_CLOEXEC: those are the guest's. */
	if (type & ~(int64_t)0xf)
		return -EINVAL;
	if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX)
		return -EAFNOSUPPORT;
	bool inet = domain != AF_UNIX;
	if (inet && p->mode == NET_MODE_NONE)
		return -EAFNOSUPPORT;
	if (type == SOCK_RAW)
		return -EPERM;
	if (type != SOCK_STREAM && type != SOCK_DGRAM && (type != SOCK_SEQPACKET || inet))
		return -ESOCKTNOSUPPORT;
	if (protocol == 0)
		return 0;
	if (!inet)
		return protocol == PF_UNIX ? 0 : -EPROTONOSUPPORT;
	return protocol == (type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP) ? 0 : -EPROTONOSUPPORT;
}

int net_send_flags(int64_t guest)
{
	const int64_t allowed = MSG_DONTWAIT | MSG_MORE | MSG_EOR | MSG_OOB | MSG_CONFIRM |
				MSG_NOSIGNAL;
	if (guest & ~allowed)
		return -EINVAL;
	return (int)guest | MSG_NOSIGNAL | MSG_DONTWAIT;
}

int net_recv_flags(int64_t guest)
{
	const int64_t allowed = MSG_PEEK | MSG_TRUNC | MSG_OOB | MSG_WAITALL | MSG_DONTWAIT;
	if (guest & ~allowed)
		return -EINVAL;
	/* The guest waits for more itself: the host never does. */
	return ((int)guest & ~MSG_WAITALL) | MSG_DONTWAIT;
}

int net_policy_tcp_binds(const struct net_policy *p, uint16_t *ports, int max, bool *connect)
{
	*connect = p->mode != NET_MODE_NONE;
	if (p->same_ports)
		return -1;
	if (p->mode == NET_MODE_NONE || max < 1)
		return 0;
	int n = 0;
	ports[n++] = 0;
	for (int i = 0; i < p->npublish && n < max; i++) {
		if (p->publish[i].type != SOCK_STREAM)
			continue;
		uint16_t port = (uint16_t)net_addr_port(&p->publish[i].host, p->publish[i].host_len);
		bool seen = false;
		for (int j = 0; j < n; j++)
			seen |= ports[j] == port;
		if (!seen)
			ports[n++] = port;
	}
	return n;
}

bool net_opt_allowed(int64_t level, int64_t name, bool get)
{
	switch (level) {
	case SOL_SOCKET:
		switch (name) {
		case SO_REUSEADDR: case SO_REUSEPORT: case SO_KEEPALIVE: case SO_RCVBUF:
		case SO_SNDBUF: case SO_LINGER: case SO_BROADCAST: case SO_RCVLOWAT:
		case SO_OOBINLINE: case SO_PRIORITY:
			return true;
		case SO_ERROR: case SO_TYPE: case SO_DOMAIN: case SO_PROTOCOL: case SO_ACCEPTCONN:
			return get;
		}
		return false;
	case IPPROTO_TCP:
		switch (name) {
		case TCP_NODELAY: case TCP_CORK: case TCP_KEEPIDLE: case TCP_KEEPINTVL:
		case TCP_KEEPCNT: case TCP_DEFER_ACCEPT: case TCP_QUICKACK: case TCP_USER_TIMEOUT:
			return true;
		case TCP_INFO: case TCP_MAXSEG:
			return get;
		}
		return false;
	/* RECVERR: glibc's resolver sets it and gives up if it cannot (it
	 * makes a UDP socket's ICMP errors its recv's errors). Nothing that
	 * needs control messages back: the guest gets none. */
	case IPPROTO_IP:
		return name == IP_TOS || name == IP_TTL || name == IP_RECVERR ||
		       name == IP_MTU_DISCOVER;
	case IPPROTO_IPV6:
		return name == IPV6_V6ONLY || name == IPV6_TCLASS || name == IPV6_RECVERR ||
		       name == IPV6_MTU_DISCOVER || name == IPV6_UNICAST_HOPS;
	}
	return false;
}

static bool is_in4(const struct sockaddr_storage *a, socklen_t len)
{
	return a->ss_family == AF_INET && len >= sizeof(struct sockaddr_in);
}

static bool is_in6(const struct sockaddr_storage *a, socklen_t len)
{
	return a->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6);
}

static const struct in6_addr *addr6(const struct sockaddr_storage *a)
{
	return &((const struct sockaddr_in6 *)a)->sin6_addr;
}

static uint32_t addr4(const struct sockaddr_storage *a)
{
	return ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
}

/* The IPv4 address inside a v4-mapped one (::ffff:a.b.c.d). */
static uint32_t mapped4(const struct in6_addr *a)
{
	uint32_t v;
	memcpy(&v, &a->s6_addr[12], 4);
	return ntohl(v);
}

bool net_addr_is_loopback(const struct sockaddr_storage *a, socklen_t len)
{
	if (is_in4(a, len))
		return addr4(a) >> 24 == 127;
	if (is_in6(a, len))
		return IN6_IS_ADDR_LOOPBACK(addr6(a)) ||
		       (IN6_IS_ADDR_V4MAPPED(addr6(a)) && mapped4(addr6(a)) >> 24 == 127);
	return false;
}

bool net_addr_is_any(const struct sockaddr_storage *a, socklen_t len)
{
	if (is_in4(a, len))
		return addr4(a) == INADDR_ANY;
	if (is_in6(a, len))
		return IN6_IS_ADDR_UNSPECIFIED(addr6(a)) ||
		       (IN6_IS_ADDR_V4MAPPED(addr6(a)) && mapped4(addr6(a)) == INADDR_ANY);
	return false;
}

int net_addr_port(const struct sockaddr_storage *a, socklen_t len)
{
	if (is_in4(a, len))
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (is_in6(a, len))
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return -1;
}

void net_addr_set_port(struct sockaddr_storage *a, uint16_t port)
{
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons(port);
	else if (a->ss_family == AF_INET6)
		((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}

static socklen_t inet_size(int family)
{
	return family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

int net_addr_convert(const struct sockaddr_storage *in, socklen_t inlen, int family,
		     struct sockaddr_storage *out, socklen_t *outlen)
{
	struct sockaddr_storage a;
	memset(&a, 0, sizeof(a));
	int port = net_addr_port(in, inlen);
	if (port < 0 || (family != AF_INET && family != AF_INET6))
		return -EADDRNOTAVAIL;
	if (in->ss_family == family) {
		memcpy(&a, in, inet_size(family));
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
		uint32_t v4 = htonl(addr4(in));
		a6->sin6_family = AF_INET6;
		a6->sin6_addr.s6_addr[10] = a6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&a6->sin6_addr.s6_addr[12], &v4, 4);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
		a4->sin_family = AF_INET;
		if (IN6_IS_ADDR_V4MAPPED(addr6(in)))
			a4->sin_addr.s_addr = htonl(mapped4(addr6(in)));
		else if (!IN6_IS_ADDR_UNSPECIFIED(addr6(in)))
			return -EADDRNOTAVAIL;
	}
	net_addr_set_port(&a, (uint16_t)port);
	*out = a;
	*outlen = inet_size(family);
	return 0;
}

/* The loopback address of family, port 0; for IPv6, ::ffff:127.0.0.1 when
 * mapped (so IPv4 peers reach it), else ::1. */
static void loopback(int family, bool mapped, struct sockaddr_storage *out, socklen_t *len)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)out;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
		a->sin6_family = AF_INET6;
		if (mapped) {
			uint32_t v4 = htonl(INADDR_LOOPBACK);
			a->sin6_addr.s6_addr[10] = a->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&a->sin6_addr.s6_addr[12], &v4, 4);
		} else {
			a->sin6_addr = in6addr_loopback;
		}
	}
	*len = inet_size(family);
}

/* Linux's checks of an Internet address given to a socket of family. */
static int check_inet(int family, const struct sockaddr_storage *a, socklen_t len)
{
	if (len < inet_size(family))
		return -EINVAL;
	return a->ss_family == family ? 0 : -EAFNOSUPPORT;
}

static bool is_inet_bind(const struct net_bind *b)
{
	return b && (b->family == AF_INET || b->family == AF_INET6);
}

/* The VM's socket of type bound to guest port, one of family first. */
static const struct net_bind *find_port(int family, int type, uint16_t port,
					struct net_bind *const *binds, size_t n)
{
	const struct net_bind *other = NULL;
	for (size_t i = 0; i < n && port; i++) {
		const struct net_bind *b = binds[i];
		if (!is_inet_bind(b) || b->type != type || b->guest_port != port)
			continue;
		if (b->family == family)
			return b;
		if (!other)
			other = b;
	}
	return other;
}

/* Whether a guest socket of family already has (type, port): IPv4 and
 * IPv6 count apart, as with IPV6_V6ONLY (nginx's "listen 80; listen
 * [::]:80;" binds both). */
static bool port_taken(int family, int type, uint16_t port, struct net_bind *const *binds,
		       size_t n)
{
	const struct net_bind *b = find_port(family, type, port, binds, n);
	return b && b->family == family;
}

/* Whether a guest socket holds publish entry i already (the other family's
 * bind of that port then stays inside the VM). */
static bool publish_taken(int i, struct net_bind *const *binds, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (binds[k] && is_inet_bind(binds[k]) && binds[k]->publish == i)
			return true;
	return false;
}

int net_bind_inet(const struct net_policy *p, int family, int type,
		  const struct sockaddr_storage *addr, socklen_t len,
		  struct net_bind *const *binds, size_t n, struct net_bind *out)
{
	int r = check_inet(family, addr, len);
	if (r)
		return r;
	memset(out, 0, sizeof(*out));
	out->family = family;
	out->type = type;
	out->publish = -1;
	memcpy(&out->guest, addr, inet_size(family));
	out->guest_len = inet_size(family);
	if (family == AF_INET6)
		((struct sockaddr_in6 *)&out->guest)->sin6_flowinfo = 0;
	out->guest_port = (uint16_t)net_addr_port(addr, len);
	if (p->same_ports) {
		if (port_taken(family, type, out->guest_port, binds, n))
			return -EADDRINUSE;
		memcpy(&out->host, &out->guest, out->guest_len);
		out->host_len = out->guest_len;
		return 0;
	}
	if (out->guest_port) {
		if (port_taken(family, type, out->guest_port, binds, n))
			return -EADDRINUSE;
		for (int i = 0; i < p->npublish; i++) {
			const struct net_publish *e = &p->publish[i];
			if (e->type != type || e->guest_port != out->guest_port ||
			    publish_taken(i, binds, n))
				continue;
			out->publish = i;
			return net_addr_convert(&e->host, e->host_len, family, &out->host,
						&out->host_len);
		}
	}
	loopback(family, family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(addr6(addr)), &out->host,
		 &out->host_len);
	return 0;
}

void net_bind_bound(struct net_bind *b, const struct sockaddr_storage *host, socklen_t len)
{
	if (len > sizeof(b->host))
		len = sizeof(b->host);
	memcpy(&b->host, host, len);
	b->host_len = len;
	int port = net_addr_port(host, len);
	b->host_port = port > 0 ? (uint16_t)port : 0;
	if (!b->guest_port) { /* "any port": the guest sees the one the host chose */
		b->guest_port = b->host_port;
		net_addr_set_port(&b->guest, b->guest_port);
	}
}

/* A copy of a Unix name as names are compared and reported: a path up to
 * and with its NUL, an abstract name all of it, zeros after. Its length,
 * or 0 when a is no Unix name at all (an unnamed one included). */
static socklen_t unix_copy(const struct sockaddr_storage *a, socklen_t len,
			   struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (a->ss_family != AF_UNIX || len <= SUN_OFF || len > sizeof(struct sockaddr_un))
		return 0;
	const char *name = ((const struct sockaddr_un *)a)->sun_path;
	socklen_t norm = len;
	if (name[0])
		norm = (socklen_t)(SUN_OFF + strnlen(name, len - SUN_OFF) + 1);
	memcpy(out, a, norm < len ? norm : len);
	return norm;
}

/* The VM's Unix socket named name (its guest name, or with host its host name). */
static const struct net_bind *find_unix(const struct sockaddr_storage *name, socklen_t len,
					bool host, struct net_bind *const *binds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct net_bind *b = binds[i];
		if (!b || b->family != AF_UNIX)
			continue;
		const struct sockaddr_storage *bn = host ? &b->host : &b->guest;
		if ((host ? b->host_len : b->guest_len) == len && !memcmp(bn, name, len))
			return b;
	}
	return NULL;
}

int net_bind_unix(int type, const struct sockaddr_storage *addr, socklen_t len,
		  struct net_bind *const *binds, size_t n, struct net_bind *out)
{
	static unsigned long serial; /* process-wide: several servers, one pid */
	memset(out, 0, sizeof(*out));
	out->family = AF_UNIX;
	out->type = type;
	out->publish = -1;
	out->guest_len = unix_copy(addr, len, &out->guest);
	if (!out->guest_len)
		return -EINVAL;
	if (find_unix(&out->guest, out->guest_len, false, binds, n))
		return -EADDRINUSE;
	struct sockaddr_un *h = (struct sockaddr_un *)&out->host;
	h->sun_family = AF_UNIX;
	int m = snprintf(h->sun_path + 1, sizeof(h->sun_path) - 1, HOST_PREFIX "%d-%lu",
			 (int)getpid(), __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
	out->host_len = (socklen_t)(SUN_OFF + 1 + (size_t)m); /* abstract: no NUL at the end */
	return 0;
}

void net_bind_identity(struct net_bind *b, int family, int type,
		       const struct sockaddr_storage *host, socklen_t len)
{
	memset(b, 0, sizeof(*b));
	b->family = family;
	b->type = type;
	b->publish = -1;
	if (len > sizeof(b->host))
		len = sizeof(b->host);
	memcpy(&b->host, host, len);
	memcpy(&b->guest, host, len);
	b->host_len = b->guest_len = len;
}

/* Where the VM's listener l is reached from a socket of family. */
static int to_listener(const struct net_bind *l, int family, struct sockaddr_storage *out,
		       socklen_t *outlen)
{
	if (net_addr_convert(&l->host, l->host_len, family, out, outlen))
		return -ECONNREFUSED; /* an IPv6-only listener, an IPv4 client */
	if (net_addr_is_any(out, *outlen)) {
		bool mapped = family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(addr6(out));
		loopback(family, mapped, out, outlen);
		net_addr_set_port(out, l->host_port);
	}
	return 0;
}

static int route_unix(const struct sockaddr_storage *dst, socklen_t len,
		      struct net_bind *const *binds, size_t n, struct sockaddr_storage *out,
		      socklen_t *outlen)
{
	struct sockaddr_storage name;
	socklen_t nlen = unix_copy(dst, len, &name);
	if (!nlen)
		return -EINVAL;
	const struct net_bind *b = find_unix(&name, nlen, false, binds, n);
	if (!b) /* as Linux says it: no such file, or no one bound that abstract name */
		return ((const struct sockaddr_un *)&name)->sun_path[0] ? -ENOENT : -ECONNREFUSED;
	*out = b->host;
	*outlen = b->host_len;
	return 0;
}

int net_route(const struct net_policy *p, int family, int type,
	      const struct sockaddr_storage *dst, socklen_t len,
	      struct net_bind *const *binds, size_t n,
	      struct sockaddr_storage *out, socklen_t *outlen)
{
	if (len >= sizeof(sa_family_t) && dst->ss_family == AF_UNSPEC) {
		memset(out, 0, sizeof(*out));
		memcpy(out, dst, len < sizeof(*out) ? len : sizeof(*out));
		*outlen = len < sizeof(*out) ? len : sizeof(*out);
		return 0;
	}
	if (family == AF_UNIX)
		return route_unix(dst, len, binds, n, out, outlen);
	int r = check_inet(family, dst, len);
	if (r)
		return r;
	/* Linux takes a connect to the any address as one to this host. */
	bool local = net_addr_is_loopback(dst, len) || net_addr_is_any(dst, len);
	if (!local && p->mode != NET_MODE_HOST)
		return -ENETUNREACH;
	if (local) {
		const struct net_bind *l =
			find_port(family, type, (uint16_t)net_addr_port(dst, len), binds, n);
		if (l)
			return to_listener(l, family, out, outlen);
		if (p->mode != NET_MODE_HOST)
			return -ECONNREFUSED;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, dst, inet_size(family));
	*outlen = inet_size(family);
	return 0;
}

void net_name_to_guest(int type, struct net_bind *const *binds, size_t n,
		       struct sockaddr_storage *a, socklen_t *len)
{
	if (*len < sizeof(sa_family_t))
		return;
	if (a->ss_family == AF_UNIX) {
		struct sockaddr_storage name;
		socklen_t nlen = unix_copy(a, *len, &name);
		if (!nlen)
			return; /* unnamed */
		const struct net_bind *b = find_unix(&name, nlen, true, binds, n);
		const char *s = ((const struct sockaddr_un *)&name)->sun_path;
		if (b) {
			*a = b->guest;
			*len = b->guest_len;
		} else if (!s[0] && nlen >= SUN_OFF + 1 + strlen(HOST_PREFIX) &&
			   !memcmp(s + 1, HOST_PREFIX, strlen(HOST_PREFIX))) {
			/* a name the VM bound and has let go: no host name leaks */
			memset(a, 0, sizeof(*a));
			a->ss_family = AF_UNIX;
			*len = sizeof(sa_family_t);
		}
		return;
	}
	if (!net_addr_is_loopback(a, *len))
		return;
	int port = net_addr_port(a, *len);
	for (size_t i = 0; i < n && port > 0; i++) {
		const struct net_bind *b = binds[i];
		if (!is_inet_bind(b) || b->type != type || b->host_port != port)
			continue;
		if (net_addr_is_loopback(&b->host, b->host_len) || net_addr_is_any(&b->host, b->host_len)) {
			net_addr_set_port(a, b->guest_port);
			return;
		}
	}
}
