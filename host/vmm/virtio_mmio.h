/*
 * The virtio-mmio transport (version 2, virtio 1.x section 4.2), device
 * side: the register file a guest driver programs, queues handed to a
 * device model once the driver marks them ready, and the interrupt. The
 * guest is hostile: every register write is checked, and a bad queue
 * configuration leaves the queue unusable instead of trusting it.
 *
 * Threads: the vCPU thread calls virtio_mmio_read/write; the device's own
 * thread calls virtio_mmio_lock/unlock around queue work and
 * virtio_mmio_interrupt after completing requests.
 */
#ifndef HOST_VMM_VIRTIO_MMIO_H
#define HOST_VMM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <pier/virtq.h>
#include "guest_mem.h"

#define VIRTIO_MMIO_SIZE 0x1000
#define VIRTIO_MMIO_MAX_QUEUES 16 /* the console: 2 control + 2 per port, 7 ports */
#define VIRTIO_MMIO_QUEUE_MAX 1024

struct virtio_mmio_queue {
	uint32_t num;
	bool ready;               /* the driver set QueueReady and the rings checked out */
	uint64_t desc, avail, used;
	struct virtq_dev vq;      /* valid while ready */
	int notify_fd;            /* eventfd the device thread waits on */
	uint64_t gen;             /* bumped whenever the rings change (reset, ready
				   * set or cleared): a request taken before is stale */
};

struct virtio_mmio {
	uint64_t base;
	uint32_t gsi;
	uint32_t device_id;
	uint64_t device_features;
	const uint8_t *config;    /* device configuration space (read-only here) */
	uint32_t config_len;
	unsigned nqueues;
	struct guest_mem *mem;

	pthread_mutex_t lock;
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel, queue_sel, shm_sel;
	uint64_t driver_features;
	uint32_t int_status;
	struct virtio_mmio_queue q[VIRTIO_MMIO_MAX_QUEUES];
	int irq_fd;               /* eventfd wired to the guest's GSI */
	void (*on_reset)(void *ctx); /* the driver reset the device (lock held) */
	void *ctx;
	uint64_t bad_writes;      /* rejected register writes (for diagnostics) */
	uint64_t interrupts;      /* raised (--stats); under the lock */
	uint64_t shm_base, shm_len; /* shared memory region 0 (DAX window); len 0: none */
};

/* Sets up the register file and one notify eventfd per queue. 0 or -errno. */
int virtio_mmio_init(struct virtio_mmio *t, struct guest_mem *mem, uint64_t base, uint32_t gsi,
		     uint32_t device_id, uint64_t features, const void *config,
		     uint32_t config_len, unsigned nqueues);
void virtio_mmio_free(struct virtio_mmio *t);

/* Register access from the vCPU; off is relative to base, len 1, 2, 4. */
uint32_t virtio_mmio_read(struct virtio_mmio *t, uint64_t off, unsigned len);
void virtio_mmio_write(struct virtio_mmio *t, uint64_t off, unsigned len, uint32_t v);

/* Raises the used-buffer interrupt (the caller holds the lock). */
void virtio_mmio_interrupt(struct virtio_mmio *t);

/* The driver broke the protocol: sets DEVICE_NEEDS_RESET and raises the
 * configuration-change interrupt (virtio 1.x 2.1.2), lock held. */
void virtio_mmio_needs_reset(struct virtio_mmio *t);

#endif
