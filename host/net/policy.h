/*
 * What the guest's sockets may do on the host, and how their names are
 * translated (include/pier/net_wire.h says why there are two sets of
 * names). Pure logic, no sockets: host/net/server.c asks, and the unit
 * tests check the answers.
 *
 * Internet names: a guest port P is the guest's own. A published port
 * (--publish) binds the host address and port it names; any other bind
 * goes to the host's loopback, port 0, so an unpublished listener is
 * reachable only from the host itself and from the VM. A guest that
 * connects to a loopback address and port P reaches its own listener on
 * P, wherever the host put it. Unix names are names inside the VM: each
 * bind gets an abstract host name of its own, nothing in the file system.
 */
#ifndef HOST_NET_POLICY_H
#define HOST_NET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum net_mode { NET_MODE_HOST, NET_MODE_LOOPBACK, NET_MODE_NONE };

#define NET_PUBLISH_MAX 32

struct net_publish {
	int type;                      /* SOCK_STREAM or SOCK_DGRAM (/udp) */
	struct sockaddr_storage host;  /* the host address and port it is reached on */
	socklen_t host_len;
	uint16_t guest_port;
};

/* A directory the guest has as a virtio-fs share: NET_SENDFILE reads its
 * files (strings kept by the caller for the server's life). */
#define NET_SHARES_MAX 16
struct net_share {
	const char *tag, *dir;
};

struct net_policy {
	enum net_mode mode;
	/* Every guest port is the host's own, as asked (pier-oci: the VM is
	 * the container, its process in the container's network namespace,
	 * where the engine forwards the ports it publishes). */
	bool same_ports;
	int npublish;
	struct net_publish publish[NET_PUBLISH_MAX];
	int nshares;
	struct net_share shares[NET_SHARES_MAX];
};

/* "[ADDR:]HOSTPORT:GUESTPORT[/tcp|/udp]": ADDR an IPv4 address or [IPv6]
 * in brackets, default 0.0.0.0; ports 1-65535. 0, or -1 with a message in
 * err. */
int net_publish_parse(const char *spec, struct net_publish *out, char *err, size_t errlen);

/* Parses spec and appends it to p (a guest port published twice, or more
 * than NET_PUBLISH_MAX, is an error). 0, or -1 with a message in err. */
int net_policy_publish(struct net_policy *p, const char *spec, char *err, size_t errlen);

/* The TCP ports pier's process may bind under p, for the kernel to hold
 * it to (Landlock): 0 (the host's choice, for a listener only the VM
 * reaches) and each published TCP port, at most max of them into ports;
 * *connect whether it may connect at all. How many, or -1 when p leaves
 * the ports to the guest (same_ports: the container's namespace). */
int net_policy_tcp_binds(const struct net_policy *p, uint16_t *ports, int max, bool *connect);

/* "host" (outbound allowed), "loopback" (only the VM's own listeners),
 * "none" (no AF_INET/AF_INET6 at all; AF_UNIX still works). 0 or -1. */
int net_mode_parse(const char *s, enum net_mode *out);

/* NET_SOCKET's arguments (untrusted: from the guest): 0 when the host may
 * make that socket, else Linux's -errno for it. */
int net_socket_check(const struct net_policy *p, int64_t domain, int64_t type, int64_t protocol);

/* A guest's MSG_* flags for NET_SEND / NET_RECV: the host's flags to use
 * (never blocking, never SIGPIPE), or -EINVAL for a flag not allowed. */
int net_send_flags(int64_t guest);
int net_recv_flags(int64_t guest);

/* Whether NET_SETOPT (get false) or NET_GETOPT (get true) may pass this
 * option to the host. */
bool net_opt_allowed(int64_t level, int64_t name, bool get);

/* Internet addresses (AF_INET, AF_INET6; len is the address's length). */
bool net_addr_is_loopback(const struct sockaddr_storage *a, socklen_t len);
bool net_addr_is_any(const struct sockaddr_storage *a, socklen_t len);
/* The port, or -1 for an address that has none. */
int net_addr_port(const struct sockaddr_storage *a, socklen_t len);
void net_addr_set_port(struct sockaddr_storage *a, uint16_t port);
/* The same address (and port) for a socket of family: IPv4 <-> v4-mapped
 * IPv6, [::] -> 0.0.0.0. 0, or -EADDRNOTAVAIL when it has no such form. */
int net_addr_convert(const struct sockaddr_storage *in, socklen_t inlen, int family,
		     struct sockaddr_storage *out, socklen_t *outlen);

/* One bound guest socket: the name the guest gave (and sees), and the
 * host socket's real one. The server keeps one per bound socket and hands
 * the lot to the functions below as an array of pointers (NULL: none). */
struct net_bind {
	int family, type;
	uint16_t guest_port;           /* AF_INET/AF_INET6: the port the guest sees */
	uint16_t host_port;
	int publish;                   /* the publish entry it took, or -1 */
	struct sockaddr_storage guest, host;
	socklen_t guest_len, host_len;
};

/*
 * A guest's bind of an Internet socket (family, type) to addr (untrusted):
 * fills out->guest, out->guest_port (0 for "any port") and out->host, the
 * address the host socket is to be bound to. After the host's bind, the
 * caller calls net_bind_bound with the host socket's real name. 0, or
 * -errno: -EINVAL / -EAFNOSUPPORT for a bad address, -EADDRINUSE for a
 * port the VM already has.
 */
int net_bind_inet(const struct net_policy *p, int family, int type,
		  const struct sockaddr_storage *addr, socklen_t len,
		  struct net_bind *const *binds, size_t n, struct net_bind *out);

/* Completes b with the host socket's name: host port, and for a guest
 * port 0 the port the host chose, which the guest then sees. */
void net_bind_bound(struct net_bind *b, const struct sockaddr_storage *host, socklen_t len);

/*
 * A guest's bind of a Unix socket of type to addr (untrusted): fills out
 * with the guest's name and a host abstract name of its own ("\0pier-net-
 * <pid>-<serial>", serial unique in the process). An autobind (addr only a
 * family) has no plan: the caller binds it as is and records the host's
 * name with net_bind_identity. 0, -EINVAL, or -EADDRINUSE.
 */
int net_bind_unix(int type, const struct sockaddr_storage *addr, socklen_t len,
		  struct net_bind *const *binds, size_t n, struct net_bind *out);

/* A bind whose guest name is its host name (a Unix autobind). */
void net_bind_identity(struct net_bind *b, int family, int type,
		       const struct sockaddr_storage *host, socklen_t len);

/*
 * Where a connect or sendto from a socket (family, type) to dst
 * (untrusted) goes on the host: out. The VM's own listener on a loopback
 * port, the host's loopback (mode host), anything (mode host); a Unix
 * name the VM bound. 0, or -errno: -ECONNREFUSED, -ENETUNREACH, -ENOENT,
 * -EINVAL, -EAFNOSUPPORT. An AF_UNSPEC dst (a datagram socket's
 * disconnect) goes as it is.
 */
int net_route(const struct net_policy *p, int family, int type,
	      const struct sockaddr_storage *dst, socklen_t len,
	      struct net_bind *const *binds, size_t n,
	      struct sockaddr_storage *out, socklen_t *outlen);

/*
 * A host name seen by a socket of type (a peer, a sender, an accepted
 * socket's own) as the guest is to see it, in place: a loopback address
 * on one of the VM's listeners' host ports gets that listener's guest
 * port; a Unix name the VM bound gets its guest name; another of pier's
 * abstract names is reported unnamed.
 */
void net_name_to_guest(int type, struct net_bind *const *binds, size_t n,
		       struct sockaddr_storage *a, socklen_t *len);

#endif
