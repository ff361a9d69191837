/*
 * pier's virtio console (virtio 1.2, 5.3, multiport): the program's stdin,
 * stdout and stderr straight from and to pier's own descriptors 0, 1, 2,
 * and the pier.ctl port (include/pier/console_ctl.h), served by a thread of
 * its own. Flow control is the queues': output is taken from the guest only
 * as fast as pier's stdout takes it, input read only into buffers the guest
 * has posted. EOF on stdin and a reader gone from stdout or stderr are the
 * port's host side closing (VIRTIO_CONSOLE_PORT_OPEN 0), after the last
 * byte.
 */
#ifndef HOST_VMM_VIRTIO_CONSOLE_DEV_H
#define HOST_VMM_VIRTIO_CONSOLE_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <linux/virtio_console.h>
#include <pier/console_ctl.h>
#include "virtio_mmio.h"

#define CONSOLE_DEV_PENDING 64 /* control messages and records not yet delivered */

/* A control message with a port name, or one pier.ctl record. */
struct console_pending {
	uint8_t bytes[sizeof(struct console_ctl_msg)];
	uint32_t len;
};

struct console_fifo {
	struct console_pending m[CONSOLE_DEV_PENDING];
	unsigned head, count;
};

/* A port whose bytes pass to and from a stream socket as they are, with
 * the requests held across rounds while the socket is full (output) or
 * empty (input). */
struct console_relay {
	unsigned port;                 /* CONSOLE_NR_EXEC or CONSOLE_NR_NET */
	int fd;
	struct virtq_elem tx, rx;
	bool have_tx, have_rx;
	uint64_t tx_off;               /* bytes of tx already sent */
	uint64_t generation;           /* the queues they came from */
};
enum { CONSOLE_RELAY_EXEC, CONSOLE_RELAY_NET, CONSOLE_RELAYS };

struct virtio_console_dev {
	struct virtio_mmio t;
	struct virtio_console_config config;
	pthread_t thread;
	bool inited;                   /* virtio_console_dev_start ran: stop frees */
	bool started;
	int stop_fd, wake_fd;
	/* Under t.lock: */
	struct console_fifo control;   /* to the guest's control receive queue */
	struct console_fifo records;   /* to the guest on pier.ctl */
	bool guest_ready;              /* DEVICE_READY seen */
	bool port_ready[CONSOLE_MAX_PORTS], guest_open[CONSOLE_MAX_PORTS];
	bool host_closed[CONSOLE_MAX_PORTS];
	uint8_t rec[sizeof(struct console_ctl_msg)]; /* a record from the guest, in parts */
	unsigned rec_len;
	uint64_t generation;           /* bumped by a device reset */
	struct virtq_elem held;        /* a stdin buffer waiting for input */
	bool have_held;
	uint64_t held_generation;      /* the queue it came from */
	bool input_irq;                /* input pushed: interrupt at the round's end */
	/* pier.exec and pier.net: each a byte stream to its server
	 * (exec_server.h, net/server.h); fd -1 when the VM does not offer it. */
	struct console_relay relay[CONSOLE_RELAYS];
	uint64_t bytes_in, bytes_out[CONSOLE_MAX_PORTS], errors;
};

/* Creates the device at `base` with interrupt `gsi` and starts its thread;
 * exec_fd, net_fd >= 0 (taken over): the pier.exec, pier.net port is
 * offered and carried over that stream socket. 0, or -1 after a message. */
int virtio_console_dev_start(struct virtio_console_dev *d, struct guest_mem *mem, uint64_t base,
			     uint32_t gsi, int exec_fd, int net_fd);

/* Passes signal sig, or the terminal's new size (sig == SIGWINCH), to the
 * program on pier.ctl. Any thread. */
void virtio_console_dev_signal(struct virtio_console_dev *d, int sig);

/* Stops the thread and frees everything; nothing on a device never
 * started (all zeros). */
void virtio_console_dev_stop(struct virtio_console_dev *d);

#endif
