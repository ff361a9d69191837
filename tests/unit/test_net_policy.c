/* Unit tests for host/net/policy.c: --publish specs good and bad, modes,
 * which sockets, flags and options pass, and the names both ways: where a
 * guest's bind goes on the host, where its connect goes, and what the
 * guest sees of the host's names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include "net_addr.h"
#include "net/policy.h"

/* a is ip:port exactly. */
static void assert_inaddr(const struct sockaddr_storage *a, socklen_t len, const char *ip, int port)
{
	char text[INET6_ADDRSTRLEN];
	const void *raw = a->ss_family == AF_INET6
				  ? (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr
				  : (const void *)&((const struct sockaddr_in *)a)->sin_addr;
	assert_true(a->ss_family == AF_INET || a->ss_family == AF_INET6);
	assert_int_equal(len, a->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						      : sizeof(struct sockaddr_in6));
	assert_non_null(inet_ntop(a->ss_family, raw, text, sizeof(text)));
	assert_string_equal(text, ip);
	assert_int_equal(net_addr_port(a, len), port);
}

static socklen_t unaddr(struct sockaddr_storage *a, const char *name, size_t namelen)
{
	memset(a, 0, sizeof(*a));
	a->ss_family = AF_UNIX;
	memcpy(((struct sockaddr_un *)a)->sun_path, name, namelen);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + namelen);
}

static void test_publish_specs_that_parse(void **state)
{
	(void)state;
	struct net_publish p;
	char err[128] = "";
	assert_int_equal(net_publish_parse("8080:80", &p, err, sizeof(err)), 0);
	assert_int_equal(p.type, SOCK_STREAM);
	assert_int_equal(p.guest_port, 80);
	assert_inaddr(&p.host, p.host_len, "0.0.0.0", 8080);
	assert_int_equal(net_publish_parse("127.0.0.1:8080:80/udp", &p, err, sizeof(err)), 0);
	assert_int_equal(p.type, SOCK_DGRAM);
	assert_inaddr(&p.host, p.host_len, "127.0.0.1", 8080);
	assert_int_equal(net_publish_parse("[::1]:8080:80", &p, err, sizeof(err)), 0);
	assert_int_equal(p.type, SOCK_STREAM);
	assert_inaddr(&p.host, p.host_len, "::1", 8080);
	assert_int_equal(p.guest_port, 80);
	assert_int_equal(net_publish_parse("[::]:1:65535/tcp", &p, err, sizeof(err)), 0);
	assert_inaddr(&p.host, p.host_len, "::", 1);
	assert_int_equal(p.guest_port, 65535);
	assert_string_equal(err, "");
}

static void test_publish_specs_that_do_not(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "8080", ":80", "8080:", ":", "0:80", "8080:0", "65536:80", "8080:65536",
		"99999999999:80", "-1:80", "+80:80", " 8080:80", "8080:80 ", "8080:80x",
		"a:b", "8080:80/", "8080:80/sctp", "8080:80/tcp/udp", "1:2:3:4",
		"::1:8080:80", "[::1]8080:80", "[::1:8080:80", "[::1]:8080", "[nonsense]:1:2",
		"[1.2.3.4]:1:2", "1.2.3:8080:80", "300.1.1.1:1:2", "localhost:1:2",
		":8080:80", "1.2.3.4:80",
		"11111111111111111111111111111111111111111111111111111111111111111111111111"
		"11111111111111111111111111111111111111111111111111111111111111:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct net_publish p;
		char err[128] = "";
		if (net_publish_parse(bad[i], &p, err, sizeof(err)) != -1)
			fail_msg("\"%s\" parsed", bad[i]);
		assert_true(strlen(err) > 0);
	}
}

static void test_the_policy_takes_each_guest_port_once(void **state)
{
	(void)state;
	struct net_policy p = { .mode = NET_MODE_HOST };
	char err[128];
	assert_int_equal(net_policy_publish(&p, "8080:80", err, sizeof(err)), 0);
	assert_int_equal(net_policy_publish(&p, "8080:80/udp", err, sizeof(err)), 0);
	assert_int_equal(net_policy_publish(&p, "127.0.0.1:9090:80", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "published already"));
	assert_int_equal(net_policy_publish(&p, "nonsense", err, sizeof(err)), -1);
	assert_int_equal(p.npublish, 2);
	for (int i = 2; i < NET_PUBLISH_MAX; i++) {
		char spec[32];
		snprintf(spec, sizeof(spec), "%d:%d", 10000 + i, 100 + i);
		assert_int_equal(net_policy_publish(&p, spec, err, sizeof(err)), 0);
	}
	assert_int_equal(net_policy_publish(&p, "1:1", err, sizeof(err)), -1);
	assert_int_equal(p.npublish, NET_PUBLISH_MAX);
}

static void test_modes(void **state)
{
	(void)state;
	enum net_mode m = NET_MODE_NONE;
	assert_int_equal(net_mode_parse("host", &m), 0);
	assert_int_equal(m, NET_MODE_HOST);
	assert_int_equal(net_mode_parse("loopback", &m), 0);
	assert_int_equal(m, NET_MODE_LOOPBACK);
	assert_int_equal(net_mode_parse("none", &m), 0);
	assert_int_equal(m, NET_MODE_NONE);
	assert_int_equal(net_mode_parse("", &m), -1);
	assert_int_equal(net_mode_parse("Host", &m), -1);
	assert_int_equal(net_mode_parse("bridge", &m), -1);
	assert_int_equal(m, NET_MODE_NONE);
}

static void test_which_sockets_are_made(void **state)
{
	(void)state;
	struct net_policy host = { .mode = NET_MODE_HOST }, none = { .mode = NET_MODE_NONE };
	assert_int_equal(net_socket_check(&host, AF_INET, SOCK_STREAM, 0), 0);
	assert_int_equal(net_socket_check(&host, AF_INET6, SOCK_DGRAM, IPPROTO_UDP), 0);
	assert_int_equal(net_socket_check(&host, AF_INET, SOCK_STREAM, IPPROTO_TCP), 0);
	assert_int_equal(net_socket_check(&host, AF_UNIX, SOCK_SEQPACKET, 0), 0);
	assert_int_equal(net_socket_check(&host, AF_INET, SOCK_SEQPACKET, 0), -ESOCKTNOSUPPORT);
	assert_int_equal(net_socket_check(&host, AF_INET, SOCK_RAW, 0), -EPERM);
	assert_int_equal(net_socket_check(&host, AF_INET, 7, 0), -ESOCKTNOSUPPORT);
	assert_int_equal(net_socket_check(&host, AF_PACKET, SOCK_DGRAM, 0), -EAFNOSUPPORT);
	assert_int_equal(net_socket_check(&host, AF_NETLINK, SOCK_DGRAM, 0), -EAFNOSUPPORT);
	assert_int_equal(net_socket_check(&host, -1, SOCK_DGRAM, 0), -EAFNOSUPPORT);
	assert_int_equal(net_socket_check(&host, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), -EINVAL);
	assert_int_equal(net_socket_check(&host, AF_INET, -1, 0), -EINVAL);
	assert_int_equal(net_socket_check(&host, AF_INET, SOCK_STREAM, IPPROTO_UDP), -EPROTONOSUPPORT);
	assert_int_equal(net_socket_check(&host, AF_INET, SOCK_DGRAM, IPPROTO_ICMP), -EPROTONOSUPPORT);
	assert_int_equal(net_socket_check(&host, AF_UNIX, SOCK_STREAM, 5), -EPROTONOSUPPORT);
	assert_int_equal(net_socket_check(&none, AF_INET, SOCK_STREAM, 0), -EAFNOSUPPORT);
	assert_int_equal(net_socket_check(&none, AF_INET6, SOCK_DGRAM, 0), -EAFNOSUPPORT);
	assert_int_equal(net_socket_check(&none, AF_UNIX, SOCK_DGRAM, 0), 0);
}

static void test_flags_and_options(void **state)
{
	(void)state;
	assert_int_equal(net_send_flags(0), MSG_NOSIGNAL | MSG_DONTWAIT);
	assert_int_equal(net_send_flags(MSG_MORE | MSG_OOB), MSG_MORE | MSG_OOB | MSG_NOSIGNAL |
								  MSG_DONTWAIT);
	assert_int_equal(net_send_flags(MSG_FASTOPEN), -EINVAL);
	assert_int_equal(net_send_flags(-1), -EINVAL);
	assert_int_equal(net_send_flags((int64_t)1 << 40), -EINVAL);
	assert_int_equal(net_recv_flags(MSG_WAITALL | MSG_PEEK), MSG_PEEK | MSG_DONTWAIT);
	assert_int_equal(net_recv_flags(MSG_TRUNC), MSG_TRUNC | MSG_DONTWAIT);
	assert_int_equal(net_recv_flags(MSG_ERRQUEUE), -EINVAL);
	assert_int_equal(net_recv_flags(MSG_CMSG_CLOEXEC), -EINVAL);
	assert_true(net_opt_allowed(SOL_SOCKET, SO_REUSEADDR, false));
	assert_true(net_opt_allowed(SOL_SOCKET, SO_LINGER, true));
	assert_true(net_opt_allowed(SOL_SOCKET, SO_ERROR, true));
	assert_false(net_opt_allowed(SOL_SOCKET, SO_ERROR, false));
	assert_false(net_opt_allowed(SOL_SOCKET, SO_BINDTODEVICE, false));
	assert_false(net_opt_allowed(SOL_SOCKET, SO_MARK, false));
	assert_true(net_opt_allowed(IPPROTO_TCP, TCP_NODELAY, false));
	assert_true(net_opt_allowed(IPPROTO_TCP, TCP_INFO, true));
	assert_false(net_opt_allowed(IPPROTO_TCP, TCP_INFO, false));
	assert_false(net_opt_allowed(IPPROTO_TCP, TCP_FASTOPEN, false));
	assert_true(net_opt_allowed(IPPROTO_IP, IP_RECVERR, false));
	assert_true(net_opt_allowed(IPPROTO_IPV6, IPV6_RECVERR, false));
	assert_false(net_opt_allowed(IPPROTO_IP, IP_FREEBIND, false)); /* binds what is not ours */
	assert_false(net_opt_allowed(IPPROTO_IP, IP_PKTINFO, false));  /* answers in cmsgs */
	assert_true(net_opt_allowed(IPPROTO_IP, IP_TTL, false));
	assert_false(net_opt_allowed(IPPROTO_IP, IP_TRANSPARENT, false));
	assert_true(net_opt_allowed(IPPROTO_IPV6, IPV6_V6ONLY, false));
	assert_false(net_opt_allowed(SOL_SOCKET + ((int64_t)1 << 32), SO_REUSEADDR, false));
	assert_false(net_opt_allowed(IPPROTO_UDP, 1, false));
}

static void test_internet_address_helpers(void **state)
{
	(void)state;
	struct sockaddr_storage a, b;
	socklen_t len, blen;
	const char *loop[] = { "127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1" };
	const char *other[] = { "10.0.0.1", "0.0.0.0", "::", "::ffff:10.1.1.1", "fe80::1", "128.0.0.1" };
	for (size_t i = 0; i < 4; i++) {
		len = inaddr(&a, loop[i], 1);
		assert_true(net_addr_is_loopback(&a, len));
		assert_false(net_addr_is_loopback(&a, len - 1)); /* too short to be one */
	}
	for (size_t i = 0; i < 6; i++) {
		len = inaddr(&a, other[i], 1);
		assert_false(net_addr_is_loopback(&a, len));
	}
	assert_true(net_addr_is_any(&a, inaddr(&a, "0.0.0.0", 0)));
	assert_true(net_addr_is_any(&a, inaddr(&a, "::", 0)));
	assert_true(net_addr_is_any(&a, inaddr(&a, "::ffff:0.0.0.0", 0)));
	assert_false(net_addr_is_any(&a, inaddr(&a, "::1", 0)));
	len = unaddr(&a, "/x", 3);
	assert_int_equal(net_addr_port(&a, len), -1);
	assert_false(net_addr_is_loopback(&a, len));

	len = inaddr(&a, "10.1.2.3", 99);
	assert_int_equal(net_addr_convert(&a, len, AF_INET6, &b, &blen), 0);
	assert_inaddr(&b, blen, "::ffff:10.1.2.3", 99);
	assert_int_equal(net_addr_convert(&b, blen, AF_INET, &a, &len), 0);
	assert_inaddr(&a, len, "10.1.2.3", 99);
	len = inaddr(&a, "::", 7);
	assert_int_equal(net_addr_convert(&a, len, AF_INET, &b, &blen), 0);
	assert_inaddr(&b, blen, "0.0.0.0", 7);
	len = inaddr(&a, "::1", 7);
	assert_int_equal(net_addr_convert(&a, len, AF_INET, &b, &blen), -EADDRNOTAVAIL);
	assert_int_equal(net_addr_convert(&a, len - 1, AF_INET6, &b, &blen), -EADDRNOTAVAIL);
	net_addr_set_port(&a, 4242);
	assert_inaddr(&a, len, "::1", 4242);
}

/* The VM's bound sockets, as the server hands them over. */
static struct net_bind bound[8];
static struct net_bind *binds[8];

static void add_bind(int i, const struct net_bind *b)
{
	bound[i] = *b;
	binds[i] = &bound[i];
}

static void clear_binds(void)
{
	memset(binds, 0, sizeof(binds));
}

/* A guest bind as the server does it, with the host's port given. */
static void bind_as_host_would(const struct net_policy *p, int slot, int family, int type,
			       const char *ip, int port, int host_port)
{
	struct sockaddr_storage a, real;
	struct net_bind b;
	socklen_t len = inaddr(&a, ip, port);
	assert_int_equal(net_bind_inet(p, family, type, &a, len, binds, 8, &b), 0);
	real = b.host;
	if (!net_addr_port(&real, b.host_len))
		net_addr_set_port(&real, (uint16_t)host_port);
	net_bind_bound(&b, &real, b.host_len);
	add_bind(slot, &b);
}

/* pier-oci: the VM is the container, its ports the network namespace's. */
static void test_same_ports_bind_as_asked(void **state)
{
	(void)state;
	struct net_policy p = { .mode = NET_MODE_HOST, .same_ports = true };
	clear_binds();
	struct sockaddr_storage a;
	struct net_bind b;
	socklen_t len = inaddr(&a, "0.0.0.0", 80);
	assert_int_equal(net_bind_inet(&p, AF_INET, SOCK_STREAM, &a, len, binds, 8, &b), 0);
	assert_inaddr(&b.host, b.host_len, "0.0.0.0", 80);
	add_bind(0, &b);
	assert_int_equal(net_bind_inet(&p, AF_INET, SOCK_STREAM, &a, len, binds, 8, &b),
			 -EADDRINUSE);
	len = inaddr(&a, "::1", 8443);
	assert_int_equal(net_bind_inet(&p, AF_INET6, SOCK_STREAM, &a, len, binds, 8, &b), 0);
	assert_inaddr(&b.host, b.host_len, "::1", 8443);
	clear_binds();
}

static void test_binds_go_to_the_loopback_unless_published(void **state)
{
	(void)state;
	struct net_policy p = { .mode = NET_MODE_HOST };
	char err[128];
	assert_int_equal(net_policy_publish(&p, "127.0.0.1:8080:80", err, sizeof(err)), 0);
	assert_int_equal(net_policy_publish(&p, "[::]:5353:53/udp", err, sizeof(err)), 0);
	clear_binds();
	struct sockaddr_storage a;
	struct net_bind b;
	socklen_t len = inaddr(&a, "0.0.0.0", 80);
	assert_int_equal(net_bind_inet(&p, AF_INET, SOCK_STREAM, &a, len, binds, 8, &b), 0);
	assert_inaddr(&b.host, b.host_len, "127.0.0.1", 8080);
	assert_int_equal(b.publish, 0);
	/* The same port over UDP is not published: the loopback, port 0. */
	assert_int_equal(net_bind_inet(&p, AF_INET, SOCK_DGRAM, &a, len, binds, 8, &b), 0);
	assert_inaddr(&b.host, b.host_len, "127.0.0.1", 0);
	assert_int_equal(b.publish, -1);
	len = inaddr(&a, "::", 9000);
	assert_int_equal(net_bind_inet(&p, AF_INET6, SOCK_STREAM, &a, len, binds, 8, &b), 0);
	assert_inaddr(&b.host, b.host_len, "::1", 0);
	len = inaddr(&a, "::ffff:0.0.0.0", 9000);
	assert_int_equal(net_bind_inet(&p, AF_INET6, SOCK_STREAM, &a, len, binds, 8, &b), 0);
	assert_inaddr(&b.host, b.host_len, "::ffff:127.0.0.1", 0);
	/* A published [::] for an IPv4 socket: every IPv4 address, as [::] is. */
	len = inaddr(&a, "0.0.0.0", 53);
	assert_int_equal(net_bind_inet(&p, AF_INET, SOCK_DGRAM, &a, len, binds, 8, &b), 0);
	assert_inaddr(&b.host, b.host_len, "0.0.0.0", 5353);
	/* Bad addresses, as Linux answers them. */
	assert_int_equal(net_bind_inet(&p, AF_INET, SOCK_STREAM, &a, len - 1, binds, 8, &b), -EINVAL);
	len = inaddr(&a, "::1", 80);
	assert_int_equal(net_bind_inet(&p, AF_INET, SOCK_STREAM, &a, len, binds, 8, &b), -EAFNOSUPPORT);
	len = inaddr(&a, "127.0.0.1", 80);
	assert_int_equal(net_bind_inet(&p, AF_INET6, SOCK_STREAM, &a, len, binds, 8, &b), -EINVAL);

	/* Port 0: the guest sees the port the host chose. */
	bind_as_host_would(&p, 0, AF_INET, SOCK_STREAM, "0.0.0.0", 0, 41000);
	assert_int_equal(bound[0].guest_port, 41000);
	assert_int_equal(bound[0].host_port, 41000);
	assert_inaddr(&bound[0].guest, bound[0].guest_len, "0.0.0.0", 41000);
	/* A port the VM has already is in use in its family; IPv6 counts apart
	 * (IPV6_V6ONLY: nginx's "listen 80; listen [::]:80;"), and its bind
	 * of a port IPv4 took published stays inside the VM. */
	bind_as_host_would(&p, 1, AF_INET, SOCK_STREAM, "127.0.0.1", 80, 0);
	len = inaddr(&a, "0.0.0.0", 80);
	assert_int_equal(net_bind_inet(&p, AF_INET, SOCK_STREAM, &a, len, binds, 8, &b), -EADDRINUSE);
	len = inaddr(&a, "::", 80);
	assert_int_equal(net_bind_inet(&p, AF_INET6, SOCK_STREAM, &a, len, binds, 8, &b), 0);
	assert_int_equal(b.publish, -1);
	assert_inaddr(&b.host, b.host_len, "::1", 0);
	add_bind(2, &b);
	assert_int_equal(net_bind_inet(&p, AF_INET6, SOCK_STREAM, &a, len, binds, 8, &b), -EADDRINUSE);
	assert_int_equal(net_bind_inet(&p, AF_INET6, SOCK_DGRAM, &a, len, binds, 8, &b), 0);
	len = inaddr(&a, "0.0.0.0", 41000);
	assert_int_equal(net_bind_inet(&p, AF_INET, SOCK_STREAM, &a, len, binds, 8, &b), -EADDRINUSE);
}

static void test_connects_reach_the_vm_first(void **state)
{
	(void)state;
	struct net_policy host = { .mode = NET_MODE_HOST }, lo = { .mode = NET_MODE_LOOPBACK };
	char err[128];
	assert_int_equal(net_policy_publish(&host, "8080:80", err, sizeof(err)), 0);
	lo.publish[0] = host.publish[0];
	lo.npublish = 1;
	clear_binds();
	bind_as_host_would(&host, 0, AF_INET, SOCK_STREAM, "0.0.0.0", 7000, 43000);
	bind_as_host_would(&host, 1, AF_INET, SOCK_STREAM, "0.0.0.0", 80, 0);
	bind_as_host_would(&host, 2, AF_INET6, SOCK_STREAM, "::", 7001, 43001);
	bind_as_host_would(&host, 3, AF_INET, SOCK_DGRAM, "127.0.0.1", 7002, 43002);
	struct sockaddr_storage d, out;
	socklen_t len, olen;
	/* A VM listener, on its host port. */
	len = inaddr(&d, "127.0.0.1", 7000);
	assert_int_equal(net_route(&lo, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen), 0);
	assert_inaddr(&out, olen, "127.0.0.1", 43000);
	len = inaddr(&d, "127.3.2.1", 7000);
	assert_int_equal(net_route(&host, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen), 0);
	assert_inaddr(&out, olen, "127.0.0.1", 43000);
	len = inaddr(&d, "0.0.0.0", 7000);
	assert_int_equal(net_route(&lo, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen), 0);
	assert_inaddr(&out, olen, "127.0.0.1", 43000);
	/* An IPv6 client of an IPv4 listener: v4-mapped. */
	len = inaddr(&d, "::1", 7000);
	assert_int_equal(net_route(&lo, AF_INET6, SOCK_STREAM, &d, len, binds, 8, &out, &olen), 0);
	assert_inaddr(&out, olen, "::ffff:127.0.0.1", 43000);
	len = inaddr(&d, "::1", 7001);
	assert_int_equal(net_route(&lo, AF_INET6, SOCK_STREAM, &d, len, binds, 8, &out, &olen), 0);
	assert_inaddr(&out, olen, "::1", 43001);
	/* An IPv4 client cannot reach an IPv6 listener on ::1. */
	len = inaddr(&d, "127.0.0.1", 7001);
	assert_int_equal(net_route(&host, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen),
			 -ECONNREFUSED);
	/* A published listener on every address: through the loopback. */
	len = inaddr(&d, "127.0.0.1", 80);
	assert_int_equal(net_route(&lo, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen), 0);
	assert_inaddr(&out, olen, "127.0.0.1", 8080);
	/* The type matters: 7002 is UDP only. */
	len = inaddr(&d, "127.0.0.1", 7002);
	assert_int_equal(net_route(&lo, AF_INET, SOCK_DGRAM, &d, len, binds, 8, &out, &olen), 0);
	assert_inaddr(&out, olen, "127.0.0.1", 43002);
	assert_int_equal(net_route(&lo, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen),
			 -ECONNREFUSED);
	/* Not the VM's: the host's own loopback (mode host), or nothing. */
	assert_int_equal(net_route(&host, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen), 0);
	assert_inaddr(&out, olen, "127.0.0.1", 7002);
	len = inaddr(&d, "192.0.2.7", 443);
	assert_int_equal(net_route(&host, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen), 0);
	assert_inaddr(&out, olen, "192.0.2.7", 443);
	assert_int_equal(net_route(&lo, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen),
			 -ENETUNREACH);
	len = inaddr(&d, "2001:db8::1", 443);
	assert_int_equal(net_route(&lo, AF_INET6, SOCK_STREAM, &d, len, binds, 8, &out, &olen),
			 -ENETUNREACH);
	/* Bad addresses; AF_UNSPEC (a datagram disconnect) goes as it is. */
	assert_int_equal(net_route(&host, AF_INET6, SOCK_STREAM, &d, len - 1, binds, 8, &out, &olen),
			 -EINVAL);
	assert_int_equal(net_route(&host, AF_INET, SOCK_STREAM, &d, len, binds, 8, &out, &olen),
			 -EAFNOSUPPORT);
	memset(&d, 0, sizeof(d));
	assert_int_equal(net_route(&lo, AF_INET, SOCK_DGRAM, &d, sizeof(sa_family_t), binds, 8, &out,
				   &olen), 0);
	assert_int_equal(out.ss_family, AF_UNSPEC);
	assert_int_equal(olen, sizeof(sa_family_t));
}

static void test_host_names_as_the_guest_sees_them(void **state)
{
	(void)state;
	struct net_policy p = { .mode = NET_MODE_HOST };
	clear_binds();
	bind_as_host_would(&p, 0, AF_INET, SOCK_STREAM, "0.0.0.0", 7000, 43000);
	bind_as_host_would(&p, 1, AF_INET6, SOCK_DGRAM, "::", 7001, 43001);
	struct sockaddr_storage a;
	socklen_t len = inaddr(&a, "127.0.0.1", 43000);
	net_name_to_guest(SOCK_STREAM, binds, 8, &a, &len);
	assert_inaddr(&a, len, "127.0.0.1", 7000);
	len = inaddr(&a, "127.0.0.1", 43000); /* another type: not that listener */
	net_name_to_guest(SOCK_DGRAM, binds, 8, &a, &len);
	assert_inaddr(&a, len, "127.0.0.1", 43000);
	len = inaddr(&a, "10.0.0.8", 43000); /* not the loopback: someone else */
	net_name_to_guest(SOCK_STREAM, binds, 8, &a, &len);
	assert_inaddr(&a, len, "10.0.0.8", 43000);
	len = inaddr(&a, "::1", 43001);
	net_name_to_guest(SOCK_DGRAM, binds, 8, &a, &len);
	assert_inaddr(&a, len, "::1", 7001);
	len = inaddr(&a, "127.0.0.1", 50000);
	net_name_to_guest(SOCK_STREAM, binds, 8, &a, &len);
	assert_inaddr(&a, len, "127.0.0.1", 50000);
}

static void test_unix_names_live_in_the_vm(void **state)
{
	(void)state;
	struct net_policy p = { .mode = NET_MODE_NONE };
	const socklen_t off = offsetof(struct sockaddr_un, sun_path);
	clear_binds();
	struct sockaddr_storage a, out;
	struct net_bind b;
	socklen_t len, olen;
	/* A path, given with junk after its NUL: compared and shown up to the NUL. */
	len = unaddr(&a, "/run/app.sock\0junk", 18);
	assert_int_equal(net_bind_unix(SOCK_STREAM, &a, len, binds, 8, &b), 0);
	assert_int_equal(b.guest_len, off + 14);
	assert_memory_equal(((struct sockaddr_un *)&b.guest)->sun_path, "/run/app.sock", 14);
	const char *host = ((struct sockaddr_un *)&b.host)->sun_path;
	char prefix[64];
	int n = snprintf(prefix, sizeof(prefix), "pier-net-%d-", (int)getpid());
	assert_int_equal(host[0], '\0'); /* abstract: nothing on the host's disk */
	assert_memory_equal(host + 1, prefix, (size_t)n);
	assert_int_equal(b.host_len, off + 1 + strlen(host + 1));
	add_bind(0, &b);
	struct net_bind b2;
	assert_int_equal(net_bind_unix(SOCK_DGRAM, &a, unaddr(&a, "/run/app.sock", 13), binds, 8, &b2),
			 -EADDRINUSE);
	assert_int_equal(net_bind_unix(SOCK_DGRAM, &a, unaddr(&a, "\0abs", 4), binds, 8, &b2), 0);
	assert_int_equal(b2.guest_len, off + 4);
	assert_true(memcmp(&b2.host, &b.host, b.host_len) != 0); /* each bind its own */
	add_bind(1, &b2);
	assert_int_equal(net_bind_unix(SOCK_DGRAM, &a, off, binds, 8, &b2), -EINVAL);
	assert_int_equal(net_bind_unix(SOCK_DGRAM, &a, sizeof(struct sockaddr_un) + 1, binds, 8, &b2),
			 -EINVAL);

	/* Connects find the VM's names; others are not there. */
	len = unaddr(&a, "/run/app.sock", 14);
	assert_int_equal(net_route(&p, AF_UNIX, SOCK_STREAM, &a, len, binds, 8, &out, &olen), 0);
	assert_int_equal(olen, bound[0].host_len);
	assert_memory_equal(&out, &bound[0].host, olen);
	len = unaddr(&a, "\0abs", 4);
	assert_int_equal(net_route(&p, AF_UNIX, SOCK_DGRAM, &a, len, binds, 8, &out, &olen), 0);
	assert_memory_equal(&out, &bound[1].host, olen);
	len = unaddr(&a, "/run/other.sock", 15);
	assert_int_equal(net_route(&p, AF_UNIX, SOCK_STREAM, &a, len, binds, 8, &out, &olen), -ENOENT);
	len = unaddr(&a, "\0ab", 3);
	assert_int_equal(net_route(&p, AF_UNIX, SOCK_STREAM, &a, len, binds, 8, &out, &olen),
			 -ECONNREFUSED);
	len = inaddr(&a, "127.0.0.1", 1);
	assert_int_equal(net_route(&p, AF_UNIX, SOCK_STREAM, &a, len, binds, 8, &out, &olen), -EINVAL);

	/* Names back: the VM's host names become guest names again. */
	a = bound[0].host;
	len = bound[0].host_len;
	net_name_to_guest(SOCK_STREAM, binds, 8, &a, &len);
	assert_int_equal(len, off + 14);
	assert_string_equal(((struct sockaddr_un *)&a)->sun_path, "/run/app.sock");
	len = unaddr(&a, "\0pier-net-1-1", 13); /* pier's, but no longer bound */
	net_name_to_guest(SOCK_STREAM, binds, 8, &a, &len);
	assert_int_equal(len, sizeof(sa_family_t));
	len = unaddr(&a, "\0" "0a1b2", 6); /* an autobind: as it is */
	net_name_to_guest(SOCK_DGRAM, binds, 8, &a, &len);
	assert_int_equal(len, off + 6);
	len = off; /* unnamed */
	net_name_to_guest(SOCK_STREAM, binds, 8, &a, &len);
	assert_int_equal(len, off);
	/* An autobind, recorded as itself, is reachable by that name. */
	len = unaddr(&a, "\0" "0a1b2", 6);
	net_bind_identity(&b, AF_UNIX, SOCK_DGRAM, &a, len);
	add_bind(2, &b);
	assert_int_equal(net_route(&p, AF_UNIX, SOCK_DGRAM, &a, len, binds, 8, &out, &olen), 0);
	assert_int_equal(olen, len);
	assert_memory_equal(&out, &a, len);
}

/* What Landlock is told: port 0 and each published TCP port, once. */
static void test_the_tcp_ports_pier_may_bind(void **state)
{
	(void)state;
	char err[128];
	uint16_t ports[8];
	bool connect;
	struct net_policy p = { .mode = NET_MODE_HOST };
	assert_int_equal(net_policy_publish(&p, "127.0.0.1:8080:80", err, sizeof(err)), 0);
	assert_int_equal(net_policy_publish(&p, "[::1]:8080:81", err, sizeof(err)), 0);
	assert_int_equal(net_policy_publish(&p, "5353:53/udp", err, sizeof(err)), 0);
	assert_int_equal(net_policy_publish(&p, "9000:90", err, sizeof(err)), 0);
	assert_int_equal(net_policy_tcp_binds(&p, ports, 8, &connect), 3);
	assert_int_equal(ports[0], 0);
	assert_int_equal(ports[1], 8080);
	assert_int_equal(ports[2], 9000);
	assert_true(connect);
	assert_int_equal(net_policy_tcp_binds(&p, ports, 2, &connect), 2); /* at most max */
	p.mode = NET_MODE_LOOPBACK;
	assert_int_equal(net_policy_tcp_binds(&p, ports, 8, &connect), 3);
	assert_true(connect); /* to the VM's own listeners, on ports the host picks */
	p.mode = NET_MODE_NONE;
	assert_int_equal(net_policy_tcp_binds(&p, ports, 8, &connect), 0);
	assert_false(connect);
	p.mode = NET_MODE_HOST;
	p.same_ports = true; /* the container's namespace: its ports are its own */
	assert_int_equal(net_policy_tcp_binds(&p, ports, 8, &connect), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_specs_that_parse),
		cmocka_unit_test(test_publish_specs_that_do_not),
		cmocka_unit_test(test_the_policy_takes_each_guest_port_once),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_which_sockets_are_made),
		cmocka_unit_test(test_flags_and_options),
		cmocka_unit_test(test_internet_address_helpers),
		cmocka_unit_test(test_binds_go_to_the_loopback_unless_published),
		cmocka_unit_test(test_same_ports_bind_as_asked),
		cmocka_unit_test(test_connects_reach_the_vm_first),
		cmocka_unit_test(test_host_names_as_the_guest_sees_them),
		cmocka_unit_test(test_unix_names_live_in_the_vm),
		cmocka_unit_test(test_the_tcp_ports_pier_may_bind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
