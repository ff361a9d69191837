/*
 * The guest's sockets, served by the host: the console port pier.net
 * (include/pier/console_ctl.h) carries wire.h records each way.
 *
 *   guest -> host: a call (kinds NET_SOCKET .. NET_SENDFILE); the header's id
 *                  is the call's number, its payload a struct net_call and
 *                  then the call's own bytes (an address, data, an option).
 *   host -> guest: NET_REPLY, id the call's number: a struct net_result,
 *                  then addr_len bytes of address, then data;
 *                  NET_EVENT, id a socket: its readiness changed (u32
 *                  events, POLL* bits as <asm-generic/poll.h>), or new
 *                  input or room came while it stayed the same
 *                  (NET_EVENT_NEW set: EPOLLET reports each arrival).
 *
 * Every socket is a real one of the host's, non-blocking there; the guest
 * waits (for a reply, then for NET_EVENT) where its program would block.
 * Every reply says the socket's readiness right after the call, and the
 * host sends NET_EVENT when that readiness changes, so the last
 * record the guest read about a socket is what it is now: poll, select
 * and epoll are answered in the guest without asking the host.
 *
 * Sockets are the host's numbers (never 0); the host checks each one, and
 * every length, and answers a call it cannot trust with -EINVAL or -EBADF.
 * Results are Linux's: a count, a socket, or -errno. Addresses are Linux
 * struct sockaddr bytes as the program gave them; the host translates the
 * guest's ports and paths to its own and back (a published port, a
 * listener only the VM reaches, a Unix socket's path inside the VM).
 */
#ifndef PIER_NET_WIRE_H
#define PIER_NET_WIRE_H

#include <stdint.h>
#include <pier/wire.h>

enum net_wire_kind {
	NET_SOCKET = 1,    /* arg: domain, type (no SOCK_NONBLOCK/CLOEXEC), protocol
	                    * -> result: the socket */
	NET_SOCKETPAIR,    /* arg: domain, type, protocol -> result: one socket;
	                    * data: u32 the other */
	NET_BIND,          /* tail: the address */
	NET_LISTEN,        /* arg: backlog */
	NET_ACCEPT,        /* -> result: the new socket; addr: its peer */
	NET_CONNECT,       /* tail: the address -> 0, or -EINPROGRESS: done when the
	                    * socket is writable, NET_GETOPT SO_ERROR says how */
	NET_SEND,          /* arg: flags (MSG_*), address length; tail: that address,
	                    * then the bytes -> bytes taken */
	NET_RECV,          /* arg: flags (MSG_*), bytes at most -> result: bytes (with
	                    * MSG_TRUNC a datagram's whole length); addr: the sender;
	                    * data: the bytes */
	NET_SHUTDOWN,      /* arg: how (SHUT_*) */
	NET_NAME,          /* arg: 0 its own, 1 its peer's -> addr */
	NET_SETOPT,        /* arg: level, name; tail: the value */
	NET_GETOPT,        /* arg: level, name, length at most -> data: the value */
	NET_NREAD,         /* -> result: bytes ready to read (FIONREAD) */
	NET_CLOSE,         /* the socket is gone; no reply events after this one */
	NET_SENDFILE,      /* arg: offset, bytes at most, the file's inode number;
	                    * tail: the share's tag, NUL, the path inside it, NUL
	                    * -> bytes sent straight from the host's file (no copy
	                    * through the guest); -ESTALE: the host cannot open
	                    * that same file (the guest copies instead) */
	NET_REPLY,         /* host -> guest */
	NET_EVENT,         /* host -> guest */
	NET_KINDS
};

/* In a NET_EVENT: data or room arrived though the readiness did not
 * change (Linux's epoll wakes an edge-triggered entry at each arrival). */
#define NET_EVENT_NEW (1u << 31)

/* A call's fixed part. */
struct net_call {
	uint32_t sock;     /* 0 for NET_SOCKET and NET_SOCKETPAIR */
	uint32_t pad;      /* 0 */
	int64_t arg[3];
};
_Static_assert(sizeof(struct net_call) == 32, "net_call layout");

/* A reply's fixed part. */
struct net_result {
	int64_t result;    /* >= 0, or -errno */
	uint32_t events;   /* the socket's readiness after the call (POLL* bits) */
	uint32_t addr_len; /* bytes of address after this; data follows them */
};
_Static_assert(sizeof(struct net_result) == 16, "net_result layout");

/* The most data one call carries (NET_SEND's bytes, NET_RECV's), so that
 * a call or a reply with an address fits one record. */
#define NET_WIRE_DATA_MAX (WIRE_PAYLOAD_MAX - sizeof(struct net_call) - 128)

#endif
