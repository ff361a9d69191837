/*
 * Virtio devices, independent of transport: the status handshake, feature
 * negotiation, queues and waiting for completions. virtio_pci.c and
 * virtio_mmio.c fill in struct virtio_ops; device drivers (virtio_fs.c) see
 * only struct virtio_dev.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <pier/cmdline.h>
#include <pier/virtq.h>
#include "../kernel/spinlock.h"

struct virtio_dev;

struct virtio_ops {
	uint64_t (*get_features)(struct virtio_dev *d);
	void (*set_features)(struct virtio_dev *d, uint64_t f);
	uint8_t (*get_status)(struct virtio_dev *d);
	void (*set_status)(struct virtio_dev *d, uint8_t s);
	/* Largest size of queue idx, 0 when the queue does not exist. */
	uint16_t (*queue_max)(struct virtio_dev *d, uint16_t idx);
	/* Programs size and ring addresses, routes its interrupt, enables it. */
	int (*queue_enable)(struct virtio_dev *d, uint16_t idx, const struct virtq *q);
	void (*notify)(struct virtio_dev *d, uint16_t idx);
	/* Device-specific configuration space, bounds-checked by the transport. */
	int (*config_read)(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len);
	/* Sets up the device's interrupt (before queues are enabled). */
	int (*irq_setup)(struct virtio_dev *d);
	/* Shared memory region `id` (virtio 1.2, 2.10): guest-physical range. */
	int (*shm_region)(struct virtio_dev *d, uint8_t id, uint64_t *addr, uint64_t *len);
};

struct virtio_queue {
	struct virtio_dev *dev;
	uint16_t index;
	struct spinlock lock;     /* the rings: tasks that let the kernel lock go
				   * while they wait share a queue (virtio_call) */
	struct virtq vq;
};

#define VIRTIO_MAX_QUEUES 16

struct virtio_dev {
	const struct virtio_ops *ops;
	void *transport;          /* the transport's own state */
	char name[32];            /* "pci 00:03.0" or "mmio 0xfeb00000", for messages */
	uint32_t device_id;
	uint64_t features;        /* negotiated */
	bool polling;             /* complete by polling the used ring, no interrupts */
	bool claimed;             /* a driver took it */
	bool failed;              /* given up on: every request fails with EIO */
	unsigned nqueues;
	struct virtio_queue *queues[VIRTIO_MAX_QUEUES];
	/* The driver's word on each interrupt (after the transport's
	 * acknowledgement): it runs in interrupt context, where the kernel's
	 * state may be half-way, so it may only wake a task. */
	void (*on_irq)(struct virtio_dev *d);
};

/* Registers a device found by a transport (kept for drivers to claim). */
void virtio_add_device(struct virtio_dev *d);

/* The n-th unclaimed device with this id, or NULL. */
struct virtio_dev *virtio_find(uint32_t device_id, unsigned n);

/*
 * Resets the device and negotiates features: VIRTIO_F_VERSION_1 is
 * required; `wanted` are the device-specific bits the driver can use.
 * Leaves the device at FEATURES_OK. Returns 0 or -EIO with a message.
 */
int virtio_negotiate(struct virtio_dev *d, uint64_t wanted);

/* Sets up queue idx with at most `max_size` entries. Returns NULL on failure. */
struct virtio_queue *virtio_queue_setup(struct virtio_dev *d, uint16_t idx, uint16_t max_size);

/* Sets DRIVER_OK. */
void virtio_ready(struct virtio_dev *d);

/* Marks the device failed (status FAILED) after a protocol error. */
void virtio_fail(struct virtio_dev *d, const char *why);

/*
 * Submits one request and waits for it: out buffers then in buffers.
 * Returns the number of bytes the device wrote (>= 0), or -EIO when the
 * queue is broken or the device did not answer within the time limit.
 * The kernel lock is kept while waiting, unless both the caller
 * (may_unlock) and the calling task (task_io_unlock_begin) allow
 * otherwise: then others enter the kernel, and send on the same queue,
 * until the answer is in; it is ours again on return either way.
 */
int64_t virtio_call(struct virtio_queue *q, const struct virtq_buf *out, unsigned nout,
		    const struct virtq_buf *in, unsigned nin, bool may_unlock);

/* Transports: probe everything (PCI bus scan, mmio devices from the cmdline). */
void virtio_pci_probe_all(void);
void virtio_mmio_probe_all(const struct cmdline *cl);
/* Test-only: garbage into every virtio-mmio device's registers. */
/* Copies len bytes of device-specific configuration at cfg + off, with the
 * access widths the spec asks for: one caller reads one field, a 16- or
 * 32-bit one by a single aligned access of its size, a 64-bit one as two
 * 32-bit halves, anything else (the tag's bytes) byte by byte. Each access
 * is an exit to the VMM. */
void virtio_config_copy(const volatile uint8_t *cfg, uint32_t off, void *buf, uint32_t len);
void virtio_mmio_scribble(uint64_t seed);

/* Global switch from the command line: virtio_poll=1. */
extern bool virtio_polling;
/* Seconds a request may wait for its answer before the device is given up
 * (virtio_timeout=, default 60). */
extern unsigned virtio_timeout_s;
/* virtio_pci_intx=1: use INTx even where MSI-X is offered (to test INTx). */
extern bool virtio_pci_intx;
/* Test-only (virtio_test_latency_us=N): every request's answer is looked
 * at no sooner than N us after it was sent, as if the host were slow, so
 * tests can see what the program's other threads do meanwhile. */
extern unsigned virtio_test_latency_us;

#endif
