/*
 * The host end of pier.net (include/pier/net_wire.h): one thread that
 * serves the guest's socket calls on real host sockets, every one
 * non-blocking, and tells the guest when a socket's readiness changes.
 * What a socket may reach, and the names both sides see, are policy.h's.
 *
 * The guest is hostile: a bad call gets -EINVAL or -EBADF, a malformed
 * record ends the service (its sockets closed, one line on stderr), and a
 * guest that stops reading its replies only stalls itself: past 256 KiB
 * of replies waiting, no more calls are read.
 */
#ifndef HOST_NET_SERVER_H
#define HOST_NET_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include "policy.h"

struct net_server;

/* Serves pier.net's byte stream on fd (a stream socket, taken over;
 * non-blocking is set here). listening: fd is a listening Unix socket
 * (QEMU's chardev connects to it): one connection is accepted first. A
 * copy of policy is kept. NULL with a message on stderr. */
struct net_server *net_server_start(int fd, bool listening, const struct net_policy *policy);

/* Stops the thread, closes every host socket and the stream. NULL is fine. */
void net_server_stop(struct net_server *s);

/* The most bytes that ever waited to go to the guest (for tests: it
 * stays near 256 KiB however far behind the guest is). */
size_t net_server_output_peak(const struct net_server *s);

#endif
