/*
 * What the FUSE client needs from below: send a request, get the reply.
 * The virtio-fs driver is one implementation; a loopback to the host-side
 * FUSE server can be another (unit tests, fuzzing).
 */
#ifndef GUEST_FUSE_TRANSPORT_H
#define GUEST_FUSE_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

struct fuse_iov {
	void *base;
	uint32_t len;
};

struct fuse_transport {
	/* Request in `out`, reply into `in`; returns bytes of reply or -errno.
	 * may_unlock: the caller touches nothing another task could change or
	 * free while the reply is awaited, so the wait may let the kernel lock
	 * go (if the task allows it too: task_io_unlock_begin). */
	int64_t (*call)(void *ctx, const struct fuse_iov *out, unsigned nout,
			const struct fuse_iov *in, unsigned nin, bool may_unlock);
	/* A request with no reply (FORGET, BATCH_FORGET): 0 or -errno. */
	int (*send_noreply)(void *ctx, const struct fuse_iov *out, unsigned nout);
	void *ctx;
	const char *tag;
	/* DAX window (shared memory region 0), or len 0 when there is none. */
	uint64_t dax_addr, dax_len;
};

#endif
