/*
 * pier's virtio-fs device: a virtio-mmio transport whose requests are
 * handed to a FUSE server (host/fuse_server.c) for one host directory.
 * Queue 0 is the high-priority queue (FORGET); queues 1..N are request
 * queues, one per vCPU (the guest sends each CPU's requests on its own).
 * Every queue has a thread of its own, so no request waits behind another
 * queue's; the one FUSE server is safe for that (its own lock, file I/O
 * outside it).
 */
#ifndef HOST_VMM_VIRTIO_FS_DEV_H
#define HOST_VMM_VIRTIO_FS_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <linux/virtio_fs.h>
#include "../dax_map.h"
#include "virtio_mmio.h"

struct fuse_server;

/* Request queues at most: the transport's queues but the high-priority one. */
#define VIRTIO_FS_DEV_MAX_REQUEST_QUEUES (VIRTIO_MMIO_MAX_QUEUES - 1)

/* One queue's server thread and what it owns. */
struct virtio_fs_worker {
	struct virtio_fs_dev *d;
	unsigned qi;              /* its queue: 0 high priority, 1.. requests */
	pthread_t thread;
	bool started;
	struct virtq_elem elem;   /* the request being served */
	uint8_t *req, *reply;     /* its bytes, gathered; its reply */
	uint64_t requests;        /* answered from this queue (--stats) */
};

struct virtio_fs_dev {
	struct virtio_mmio t;
	struct virtio_fs_config config;
	struct fuse_server *server;
	unsigned nworkers;        /* queues, the high-priority one included */
	struct virtio_fs_worker workers[VIRTIO_MMIO_MAX_QUEUES];
	int stop_fd;              /* readable: every worker stops */
	uint64_t requests;        /* taken from all queues (atomic: PIER_FAULT counts them) */
	uint64_t errors;          /* atomic */
	struct dax_map dax;       /* the DAX window; dax.len 0: none */
	uint64_t exit_after;      /* PIER_FAULT=fs-thread-exit:N (tests); 0: never */
	const char *died;         /* why a thread stopped on its own; NULL: none did */
};

/*
 * Creates the device for `dir` at guest address `base` with interrupt
 * `gsi` and `nreq` request queues (1..VIRTIO_FS_DEV_MAX_REQUEST_QUEUES)
 * and starts their threads. 0, or -1 after a message.
 * The environment variable PIER_FAULT=fs-thread-exit:N (for fault tests)
 * makes the thread that takes the Nth request stop, leaving it unanswered,
 * as if the thread had been killed; d->died then says why. The device then
 * says it needs a reset, so the guest fails every request at once.
 */
int virtio_fs_dev_start(struct virtio_fs_dev *d, struct guest_mem *mem, uint64_t base,
			uint32_t gsi, const char *tag, const char *dir, bool readonly,
			unsigned nreq);

/*
 * Gives the device a DAX window of `len` bytes (a page multiple) that the
 * guest finds at guest-physical `gpa` (the caller maps d->dax.base there).
 * Call between creating the device and the guest's first request: before
 * virtio_fs_dev_start's thread can see a request, i.e. right after it.
 * 0, or -1 after a message.
 */
int virtio_fs_dev_add_dax(struct virtio_fs_dev *d, uint64_t gpa, uint64_t len);
/* The FUSE server's cache time (--cache) and whether it counts requests
 * (--stats); when virtio_fs_dev_add_dax may be called. 0, or -1 (no memory). */
int virtio_fs_dev_configure(struct virtio_fs_dev *d, uint64_t cache_timeout_s, bool count);

struct stats_table;
/* --stats rows of n devices, summed: requests by opcode with the host's
 * time, requests by queue, DAX setups and removals, interrupts. Threads
 * stopped first. */
void virtio_fs_devs_stats(const struct virtio_fs_dev *devs, int n, struct stats_table *t);

/* Stops the thread and frees everything. */
void virtio_fs_dev_stop(struct virtio_fs_dev *d);

#endif
