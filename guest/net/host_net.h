/*
 * The guest's sockets are the host's (include/pier/net_wire.h): each call
 * is a record on pier.net and its reply, each socket's readiness is what
 * the host last said about it. This file is the client of that protocol;
 * linux/sys_socket.c gives programs the system calls on top of it.
 */
#ifndef GUEST_NET_HOST_NET_H
#define GUEST_NET_HOST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pier/net_wire.h>
#include "../drivers/virtio_console.h"

struct net_sock {
	uint32_t id;             /* the host's number */
	int domain, type;
	uint32_t events;         /* its readiness as the host last said (POLL*) */
	uint64_t changes;        /* bumped at each change of events: epoll's edges */
	uint64_t rcvtimeo_ns, sndtimeo_ns; /* SO_RCVTIMEO, SO_SNDTIMEO; 0: none */
	bool closed;             /* the host's socket is gone (NET_CLOSE sent) */
};

/* What a call answers: result (a count, a socket, or -errno), the
 * socket's readiness after it, and its address and data copied into the
 * buffers given (each cut at its cap; *_len says what the host had). */
struct net_answer {
	int64_t result;
	uint32_t events;
	void *addr;
	uint32_t addr_cap, addr_len;
	void *data;
	uint32_t data_cap, data_len;
};

/* Whether the host serves sockets (it offers pier.net). */
bool net_available(void);

/* Takes pier.net's records from now on (at boot, once the console is up). */
void net_init(void);

/*
 * One call: kind on socket s (NULL for NET_SOCKET and NET_SOCKETPAIR),
 * its three arguments and its bytes (tail parts), and waits for the
 * reply. Returns the result; ans (may be NULL) gets the rest. -EIO when
 * the host stopped serving. Not interrupted by signals: the host never
 * blocks on a call, so the reply comes soon.
 */
int64_t net_call(struct net_sock *s, unsigned kind, int64_t a0, int64_t a1, int64_t a2,
		 const struct vcon_part *tail, unsigned ntail, struct net_answer *ans);

/* A socket object for the host's number id (from NET_SOCKET, NET_ACCEPT,
 * NET_SOCKETPAIR), with readiness events; NULL when out of memory (the
 * host's socket is closed then). */
struct net_sock *net_sock_new(uint32_t id, int domain, int type, uint32_t events);

/* Closes the host's socket and frees s. */
void net_sock_free(struct net_sock *s);

/*
 * Waits until s is ready for one of mask (POLLERR and POLLHUP always
 * count), a signal comes (-EINTR) or deadline passes (-EAGAIN; ~0: none).
 */
int net_wait(struct net_sock *s, uint32_t mask, uint64_t deadline);

/* The kernel log's line at the end: calls and bytes each way. */
void net_report(void);

/* Its readiness now (what the host last said). */
uint32_t net_poll(struct net_sock *s);

#endif
