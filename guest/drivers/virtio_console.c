/*
 * virtio console driver (see virtio_console.h). Queue 2 and 3 are the
 * control queues of the multiport protocol; port n has its receive queue
 * at 2 + 2n and its transmit queue at 3 + 2n. Every length and port id
 * the device hands back is checked before it is used.
 */
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/irq.h"
#include "../arch/x86_64/memlayout.h"
#include "../kernel/console.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "virtio.h"
#include "virtio_console.h"
#include <pier/exec_wire.h>
#include <pier/net_wire.h>
#include "../kernel/task.h"

#define PAGE 4096u
/* Output: few large buffers, each one notification. Input: many smaller
 * ones, since QEMU's socket chardev hands over at most 4 KiB at a time
 * and every buffer in flight is one more it can fill meanwhile. */
#define TX_BUF (64u * 1024)
#define TX_BUFS 4
#define RX_BUF (16u * 1024)
#define RX_BUFS 32
#define CTL_BUF 128u            /* control message + port name */
#define CTL_BUFS 16
#define QUEUE_SIZE 64
#define SETUP_TIMEOUT_NS 10000000000ULL
#define SPIN_NS 50000ULL        /* before halting, when the device is polled */
#define WAIT_MAX_NS 100000000ULL /* a look at least this often, whatever woke us */

struct buf {
	uint8_t *va;
	uint64_t pa;
	uint32_t cap, len, off;
	bool busy;              /* posted (receive) or in flight (transmit) */
};

struct port {
	bool added, ready;
	bool host_open, was_open;
	char name[32];
	struct virtio_queue *rxq, *txq;
	struct buf rx[RX_BUFS], tx[TX_BUFS];
	unsigned nrx, ntx;           /* how many of them it has: by its role */
	struct buf *done[RX_BUFS]; /* received, in order; done[dhead] first */
	unsigned dhead, dcount;
	unsigned inflight;
};

static struct {
	struct virtio_dev *dev;
	struct virtio_queue *c_rx, *c_tx;
	struct buf crx[CTL_BUFS];
	struct port ports[CONSOLE_MAX_PORTS];
	struct port *stream[VCON_STREAMS];
	uint8_t ctl_partial[sizeof(struct console_ctl_msg)];
	unsigned ctl_partial_len;
	struct console_ctl_msg hello;
	bool have_hello, present;
	struct port *last_out;  /* the output port written last */
	bool stdin_started;     /* its buffers posted, pier told (STDIN_WANTED) */
	unsigned eof_typed;     /* ^D records not yet read as end of file */
	uint32_t sync_sent, sync_seen;
	uint64_t waits; /* wait_a_little's task_waits: the kernel lock went meanwhile */
} con;

/* The ports that carry records (wire.h): pier.exec and pier.net. */
static struct record_port {
	const char *name;
	uint16_t kinds;
	struct port *pt;         /* when the host offers it */
	struct wire_reader *in;  /* its records from the host, in parts */
	bool started;            /* its receive buffers posted (vcon_records_start) */
	void (*on_record)(const struct wire_header *h, const uint8_t *payload);
} recs[VCON_RECORD_PORTS] = {
	[VCON_EXEC] = { CONSOLE_PORT_EXEC, EXEC_KINDS, NULL, NULL, false, NULL },
	[VCON_NET] = { CONSOLE_PORT_NET, NET_KINDS, NULL, NULL, false, NULL },
};

static void give_all_rx(struct port *pt);

static struct record_port *records_named(const char *name)
{
	for (unsigned i = 0; i < VCON_RECORD_PORTS; i++)
		if (strcmp(recs[i].name, name) == 0)
			return &recs[i];
	return NULL;
}

static struct record_port *records_of(const struct port *pt)
{
	for (unsigned i = 0; i < VCON_RECORD_PORTS; i++)
		if (pt && recs[i].pt == pt)
			return &recs[i];
	return NULL;
}

void (*vcon_on_signal)(int sig);
bool (*vcon_interrupted)(void);
/* Records came, or buffers went: whoever waits for them looks again
 * (execd, a socket call, a poll), even while a program computes. */
static void on_irq(struct virtio_dev *d)
{
	(void)d;
	task_wake_all();
}

static int alloc_buf(struct buf *b, uint32_t cap)
{
	uint64_t pa = pmem_alloc((cap + PAGE - 1) / PAGE);
	if (!pa)
		return -ENOMEM;
	*b = (struct buf){ .va = phys_to_virt(pa), .pa = pa, .cap = cap };
	return 0;
}

/* Gives b back to the device; the notification (a VM exit) only when
 * kick, so a reader that drained many buffers gives them back in one. */
static void give_rx(struct virtio_queue *q, struct buf *b, bool kick)
{
	struct virtq_buf in = { b->pa, b->cap };
	b->len = b->off = 0;
	b->busy = true;
	if (virtq_add(&q->vq, NULL, 0, &in, 1, b) == 0 && kick && virtq_kick_needed(&q->vq))
		q->dev->ops->notify(q->dev, q->index);
}

static void post_rx(struct virtio_queue *q, struct buf *b)
{
	give_rx(q, b, true);
}

/* n buffers to q with one notification (set-up: not one exit each). */
static void post_rx_all(struct virtio_queue *q, struct buf *bufs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		give_rx(q, &bufs[i], false);
	if (n && virtq_kick_needed(&q->vq))
		q->dev->ops->notify(q->dev, q->index);
}

/* A control message to the device (multiport protocol). */
static void send_control(uint32_t id, uint16_t event, uint16_t value)
{
	struct virtio_console_control m = { .id = id, .event = event, .value = value };
	static struct virtio_console_control out; /* kernel image: linear */
	out = m;
	struct virtq_buf b = { virt_to_phys(&out), sizeof(out) };
	virtio_call(con.c_tx, &b, 1, NULL, 0, false);
}

static struct port *port_by_name(const char *name)
{
	for (unsigned i = 0; i < CONSOLE_MAX_PORTS; i++)
		if (con.ports[i].ready && strcmp(con.ports[i].name, name) == 0)
			return &con.ports[i];
	return NULL;
}

static void on_ctl_record(const struct console_ctl_msg *m)
{
	switch (m->type) {
	case CONSOLE_CTL_HELLO:
		con.hello = *m;
		con.have_hello = true;
		break;
	case CONSOLE_CTL_SIGNAL:
		if (m->arg >= 1 && m->arg <= 64 && vcon_on_signal)
			vcon_on_signal((int)m->arg);
		break;
	case CONSOLE_CTL_SYNC:
		con.sync_seen = m->arg;
		break;
	case CONSOLE_CTL_EOF:
		con.eof_typed++;
		break;
	case CONSOLE_CTL_WINSIZE:
		con.hello.rows = m->rows;
		con.hello.cols = m->cols;
		if (vcon_on_signal)
			vcon_on_signal(28); /* SIGWINCH */
		break;
	default:
		break; /* unknown records are skipped: newer hosts may send more */
	}
}

/* Bytes on pier.ctl: cut into records (a record may span buffers). */
static void on_ctl_bytes(const uint8_t *p, uint32_t n)
{
	while (n) {
		uint32_t want = sizeof(struct console_ctl_msg) - con.ctl_partial_len;
		uint32_t take = n < want ? n : want;
		memcpy(con.ctl_partial + con.ctl_partial_len, p, take);
		con.ctl_partial_len += take;
		p += take;
		n -= take;
		if (con.ctl_partial_len == sizeof(struct console_ctl_msg)) {
			struct console_ctl_msg m;
			memcpy(&m, con.ctl_partial, sizeof(m));
			con.ctl_partial_len = 0;
			on_ctl_record(&m);
		}
	}
}

/* A port's buffers once its name says what it is for; -ENOENT for a port
 * that is not pier's (left closed). */
static int port_buffers(struct port *pt)
{
	unsigned nrx, ntx;
	uint32_t rx_size = RX_BUF, tx_size = TX_BUF;
	struct record_port *rp;
	if (strcmp(pt->name, CONSOLE_PORT_STDIN) == 0) {
		nrx = RX_BUFS, ntx = 0;
	} else if (strcmp(pt->name, CONSOLE_PORT_STDOUT) == 0 ||
		   strcmp(pt->name, CONSOLE_PORT_STDERR) == 0) {
		nrx = 0, ntx = TX_BUFS;
	} else if (strcmp(pt->name, CONSOLE_PORT_CTL) == 0) {
		nrx = 8, ntx = 2, rx_size = tx_size = PAGE; /* 56-byte records */
	} else if ((rp = records_named(pt->name)) != NULL) {
		nrx = 8, ntx = TX_BUFS; /* a record fits one transmit buffer */
		if (!rp->in && !(rp->in = kmalloc(sizeof(*rp->in))))
			return -ENOMEM;
		wire_reader_init(rp->in, rp->kinds);
	} else {
		return -ENOENT;
	}
	for (unsigned i = 0; i < nrx; i++)
		if (alloc_buf(&pt->rx[i], rx_size))
			return -ENOMEM;
	for (unsigned i = 0; i < ntx; i++)
		if (alloc_buf(&pt->tx[i], tx_size))
			return -ENOMEM;
	pt->nrx = nrx;
	pt->ntx = ntx;
	/* stdin's wait for the program's first read (stdin_start), a record
	 * port's for someone to take its records (vcon_records_start). */
	if (strcmp(pt->name, CONSOLE_PORT_STDIN) != 0 && !records_named(pt->name))
		post_rx_all(pt->rxq, pt->rx, nrx);
	return 0;
}

static void on_control(const uint8_t *p, uint32_t len)
{
	struct virtio_console_control m;
	if (len < sizeof(m))
		return;
	memcpy(&m, p, sizeof(m));
	if (m.event == VIRTIO_CONSOLE_DEVICE_READY)
		return;
	if (m.id >= CONSOLE_MAX_PORTS) {
		/* A port we have no queues for: tell the device we cannot use it. */
		if (m.event == VIRTIO_CONSOLE_PORT_ADD)
			send_control(m.id, VIRTIO_CONSOLE_PORT_READY, 0);
		return;
	}
	struct port *pt = &con.ports[m.id];
	switch (m.event) {
	case VIRTIO_CONSOLE_PORT_ADD:
		pt->added = true;
		send_control(m.id, VIRTIO_CONSOLE_PORT_READY, pt->rxq && pt->txq);
		break;
	case VIRTIO_CONSOLE_PORT_REMOVE:
		pt->ready = pt->host_open = false;
		break;
	case VIRTIO_CONSOLE_PORT_NAME: {
		if (pt->ready)
			break; /* a port in use keeps its name */
		uint32_t n = len - (uint32_t)sizeof(m);
		if (n >= sizeof(pt->name))
			n = sizeof(pt->name) - 1;
		memcpy(pt->name, p + sizeof(m), n);
		pt->name[n] = 0;
		pt->name[strnlen(pt->name, n)] = 0;
		/* One of pier's, with queues: buffers for its role (once: a port
		 * removed and named again keeps them), then open. */
		if (pt->added && !pt->ready && pt->rxq && pt->txq &&
		    (pt->nrx || pt->ntx || port_buffers(pt) == 0)) {
			pt->ready = true;
			struct record_port *rp = records_named(pt->name);
			if (rp) {
				rp->pt = pt;
				virtq_set_interrupts(&pt->rxq->vq, true);
				if (rp->on_record && !rp->started) { /* taken already: go */
					rp->started = true;
					give_all_rx(pt);
				}
			}
			send_control(m.id, VIRTIO_CONSOLE_PORT_OPEN, 1);
		}
		break;
	}
	case VIRTIO_CONSOLE_PORT_OPEN:
		pt->host_open = m.value != 0;
		pt->was_open |= pt->host_open;
		break;
	default:
		break; /* RESIZE of port 0: pier.ctl carries sizes */
	}
}

/* Bytes on a record port: records for its taker (exec sessions, sockets).
 * Both are built so that every record can be taken at once (exec input
 * is windowed, net replies have their callers waiting), so the buffer
 * goes straight back. A broken stream is dropped. */
static void on_record_bytes(struct record_port *rp, const uint8_t *p, uint32_t n)
{
	while (n && !rp->in->broken) {
		bool done;
		size_t took = wire_feed(rp->in, p, n, &done);
		p += took;
		n -= (uint32_t)took;
		if (done && rp->on_record)
			rp->on_record(&rp->in->h, wire_payload(rp->in));
	}
	if (rp->in->broken && n)
		kprintf("virtio-console: a malformed record on %s; it is not read any more\n",
			rp->name);
}

/* Takes everything the device has finished: control messages first, so a
 * port's closing is known before its last data is looked at. */
static void poll_device(void)
{
	struct buf *b;
	uint32_t len;
	if (!con.dev || con.dev->failed)
		return;
	while ((b = virtq_get_used(&con.c_rx->vq, &len)) != NULL) {
		if (len <= b->cap)
			on_control(b->va, len);
		post_rx(con.c_rx, b);
	}
	for (unsigned i = 0; i < CONSOLE_MAX_PORTS; i++) {
		struct port *pt = &con.ports[i];
		if (!pt->rxq)
			continue;
		while ((b = virtq_get_used(&pt->rxq->vq, &len)) != NULL) {
			b->busy = false;
			b->len = len <= b->cap ? len : 0;
			b->off = 0;
			/* By name: records may come before ports_named() ran. */
			if (strcmp(pt->name, CONSOLE_PORT_CTL) == 0) {
				on_ctl_bytes(b->va, b->len);
				post_rx(pt->rxq, b);
			} else if (records_of(pt)) {
				on_record_bytes(records_of(pt), b->va, b->len);
				post_rx(pt->rxq, b);
			} else if (b->len == 0) {
				post_rx(pt->rxq, b); /* nothing in it: not the end of anything */
			} else if (pt->dcount < pt->nrx) {
				pt->done[(pt->dhead + pt->dcount++) % pt->nrx] = b;
			}
		}
		while ((b = virtq_get_used(&pt->txq->vq, &len)) != NULL) {
			b->busy = false;
			pt->inflight--;
		}
		if (pt->rxq->vq.broken || pt->txq->vq.broken) {
			virtio_fail(con.dev, "bad used-ring entry on a port queue");
			return;
		}
	}
	if (con.c_rx->vq.broken)
		virtio_fail(con.dev, "bad used-ring entry on the control queue");
}

void vcon_poll(void)
{
	if (con.present)
		poll_device();
}

/* Every queue of the console, for turning interrupts on and off. */
static void set_interrupts(bool on)
{
	virtq_set_interrupts(&con.c_rx->vq, on);
	for (unsigned i = 0; i < CONSOLE_MAX_PORTS; i++)
		if (con.ports[i].rxq) {
			/* Records come whatever the program does. */
			virtq_set_interrupts(&con.ports[i].rxq->vq, on || records_of(&con.ports[i]));
			virtq_set_interrupts(&con.ports[i].txq->vq, on);
		}
}

static bool anything_used(void)
{
	if (virtq_has_used(&con.c_rx->vq))
		return true;
	for (unsigned i = 0; i < CONSOLE_MAX_PORTS; i++)
		if (con.ports[i].rxq &&
		    (virtq_has_used(&con.ports[i].rxq->vq) || virtq_has_used(&con.ports[i].txq->vq)))
			return true;
	return false;
}

/*
 * Until the next completion (or a while). The device interrupts only
 * while we wait here: a reader busy copying a stream out of its buffers
 * needs no interrupt per buffer (under QEMU one comes every 4 KiB).
 */
static void wait_a_little(void)
{
	if (con.dev->polling) {
		uint64_t end = time_ns() + SPIN_NS;
		while (time_ns() < end && !anything_used())
			cpu_relax();
	}
	set_interrupts(true);
	if (!anything_used()) { /* the program's other threads run meanwhile */
		con.waits++;
		task_wait(time_ns() + WAIT_MAX_NS);
	}
	set_interrupts(false);
}

static bool dead(void)
{
	return !con.dev || con.dev->failed;
}

bool vcon_present(void)
{
	return con.present;
}

static bool port_closed(const struct port *pt)
{
	return !pt || !pt->ready || (pt->was_open && !pt->host_open);
}

bool vcon_closed(enum vcon_stream s)
{
	poll_device();
	return dead() || port_closed(con.stream[s]);
}

static int64_t send_bytes(struct port *pt, const void *buf, size_t len);

/* Every receive buffer of a port that held them back, in one notification. */
static void give_all_rx(struct port *pt)
{
	for (unsigned i = 0; i < pt->nrx; i++)
		give_rx(pt->rxq, &pt->rx[i], false);
	if (pt->nrx && virtq_kick_needed(&pt->rxq->vq))
		con.dev->ops->notify(con.dev, pt->rxq->index);
}

/* The program's first look at stdin: from now on pier may take input. */
static void stdin_start(void)
{
	struct port *pt = con.stream[VCON_STDIN];
	if (con.stdin_started)
		return;
	con.stdin_started = true;
	give_all_rx(pt);
	struct console_ctl_msg m = { .type = CONSOLE_CTL_STDIN_WANTED };
	send_bytes(con.stream[VCON_CTL], &m, sizeof(m));
}

bool vcon_readable(void)
{
	stdin_start();
	poll_device();
	struct port *pt = con.stream[VCON_STDIN];
	return dead() || pt->dcount || con.eof_typed || port_closed(pt);
}

int64_t vcon_read(void *buf, size_t len, bool nonblock)
{
	struct port *pt = con.stream[VCON_STDIN];
	if (len == 0)
		return 0;
	stdin_start();
	for (;;) {
		poll_device();
		if (dead())
			return -EIO;
		if (pt->dcount)
			break;
		if (con.eof_typed) {
			con.eof_typed--; /* ^D: this read ends, the next may go on */
			return 0;
		}
		if (port_closed(pt))
			return 0;
		if (nonblock)
			return -EAGAIN;
		if (vcon_interrupted && vcon_interrupted())
			return -EINTR;
		wait_a_little();
		if (user_buf_gone(buf, len, true))
			return -EFAULT; /* unmapped by another thread meanwhile */
	}
	size_t n = 0;
	bool reposted = false;
	while (n < len && pt->dcount) {
		struct buf *b = pt->done[pt->dhead];
		uint32_t take = b->len - b->off;
		if (take > len - n)
			take = (uint32_t)(len - n);
		memcpy((uint8_t *)buf + n, b->va + b->off, take);
		n += take;
		b->off += take;
		if (b->off == b->len) {
			pt->dhead = (pt->dhead + 1) % pt->nrx;
			pt->dcount--;
			give_rx(pt->rxq, b, false);
			reposted = true;
		}
	}
	if (reposted && virtq_kick_needed(&pt->rxq->vq))
		con.dev->ops->notify(con.dev, pt->rxq->index);
	return (int64_t)n;
}

/* Waits until no port but `keep` has output in flight. */
static void drain_others(const struct port *keep)
{
	for (;;) {
		poll_device();
		bool busy = false;
		for (unsigned i = 0; i < CONSOLE_MAX_PORTS; i++)
			busy |= &con.ports[i] != keep && con.ports[i].inflight &&
				!port_closed(&con.ports[i]) && (!keep || !records_of(&con.ports[i]));
		if (!busy || dead() || (keep && vcon_interrupted && vcon_interrupted()))
			return;
		wait_a_little();
	}
}

/* A transmit buffer of pt to fill; NULL with *err when the port closed,
 * the device failed or (interruptible) a signal came meanwhile. */
static struct buf *free_tx_wait(struct port *pt, int64_t *err, bool interruptible)
{
	if (!pt->ntx) {
		*err = -EBADF; /* an input port */
		return NULL;
	}
	for (;;) {
		poll_device();
		if (dead() || port_closed(pt)) {
			*err = dead() ? -EIO : -EPIPE;
			return NULL;
		}
		for (unsigned i = 0; i < pt->ntx; i++)
			if (!pt->tx[i].busy)
				return &pt->tx[i];
		if (interruptible && vcon_interrupted && vcon_interrupted()) {
			*err = -EINTR; /* a reader that does not read: ^C still works */
			return NULL;
		}
		wait_a_little();
	}
}


/*
 * Before output changes ports, when stdout and stderr share one file: the
 * other port's bytes must be written out first. The device has taken them
 * once their buffers come back; under QEMU that means they are in a
 * socket to pier, so pier is asked (SYNC) to write out what it has.
 */
static struct buf *free_tx(struct port *pt, int64_t *err)
{
	return free_tx_wait(pt, err, pt != con.stream[VCON_CTL]);
}

static int keep_order(struct port *pt)
{
	if (!(con.hello.how & CONSOLE_HELLO_SHARED_OUTPUT) || pt == con.stream[VCON_CTL])
		return 0;
	struct port *was = con.last_out;
	if (!was || was == pt) {
		con.last_out = pt;
		return 0;
	}
	drain_others(pt);
	if (vcon_interrupted && vcon_interrupted() && was->inflight && !port_closed(was))
		return -EINTR; /* the other port's bytes are not out yet: not past them */
	con.last_out = pt;
	struct console_ctl_msg m = { .type = CONSOLE_CTL_SYNC, .arg = ++con.sync_sent };
	if (send_bytes(con.stream[VCON_CTL], &m, sizeof(m)) != (int64_t)sizeof(m))
		return 0;
	while (con.sync_seen != con.sync_sent && !dead() && !port_closed(con.stream[VCON_CTL])) {
		poll_device();
		if (con.sync_seen != con.sync_sent)
			wait_a_little();
	}
	return 0;
}

static int64_t send_bytes(struct port *pt, const void *buf, size_t len)
{
	size_t done = 0;
	uint64_t waits = con.waits;
	int order = keep_order(pt);
	if (order)
		return order;
	while (done < len) {
		int64_t err = 0;
		struct buf *b = free_tx(pt, &err);
		if (!b)
			return done ? (int64_t)done : err;
		uint32_t n = len - done < b->cap ? (uint32_t)(len - done) : b->cap;
		/* Only after a wait (another thread may have unmapped buf): not
		 * a look at the regions for every buffer of every write. */
		if (con.waits != waits && user_buf_gone((const uint8_t *)buf + done, len - done, false))
			return done ? (int64_t)done : -EFAULT;
		waits = con.waits;
		memcpy(b->va, (const uint8_t *)buf + done, n);
		struct virtq_buf out = { b->pa, n };
		if (virtq_add(&pt->txq->vq, &out, 1, NULL, 0, b))
			return done ? (int64_t)done : -EIO; /* cannot be: a free buffer has a slot */
		b->busy = true;
		pt->inflight++;
		if (virtq_kick_needed(&pt->txq->vq))
			con.dev->ops->notify(con.dev, pt->txq->index);
		done += n;
	}
	return (int64_t)done;
}

int64_t vcon_write(enum vcon_stream s, const void *buf, size_t len)
{
	struct port *pt = con.stream[s];
	poll_device();
	if (dead())
		return -EIO;
	if (port_closed(pt))
		return -EPIPE;
	return send_bytes(pt, buf, len);
}

void vcon_records_start(enum vcon_records which,
			void (*on_record)(const struct wire_header *h, const uint8_t *payload))
{
	struct record_port *rp = &recs[which];
	rp->on_record = on_record;
	if (!rp->pt || rp->started)
		return; /* not named yet: on_control starts it */
	rp->started = true;
	give_all_rx(rp->pt);
}

bool vcon_records_offered(enum vcon_records which)
{
	return recs[which].pt != NULL && !port_closed(recs[which].pt);
}

int vcon_records_send(enum vcon_records which, uint32_t id, unsigned kind,
		      const struct vcon_part *parts, unsigned nparts, bool interruptible)
{
	struct port *pt = recs[which].pt;
	size_t len = 0;
	for (unsigned i = 0; i < nparts; i++)
		len += parts[i].len;
	if (!pt || len > WIRE_PAYLOAD_MAX)
		return -EINVAL;
	int64_t err = 0;
	struct buf *b = free_tx_wait(pt, &err, interruptible);
	if (!b)
		return (int)err;
	/* One record, one buffer: records of several writers never mix. */
	size_t at = wire_put_header(b->va, id, kind, (uint32_t)len);
	for (unsigned i = 0; i < nparts; i++) {
		memcpy(b->va + at, parts[i].p, parts[i].len);
		at += parts[i].len;
	}
	struct virtq_buf out = { b->pa, (uint32_t)at };
	if (virtq_add(&pt->txq->vq, &out, 1, NULL, 0, b))
		return -EIO;
	b->busy = true;
	pt->inflight++;
	if (virtq_kick_needed(&pt->txq->vq))
		con.dev->ops->notify(con.dev, pt->txq->index);
	return 0;
}

void vcon_flush(void)
{
	if (con.present)
		drain_others(NULL);
}

uint32_t vcon_tty_mask(void)
{
	return con.present ? con.hello.tty : 0;
}

const struct console_ctl_msg *vcon_tty_state(void)
{
	return &con.hello;
}

int vcon_set_termios(int fd, uint32_t how, const void *termios)
{
	struct console_ctl_msg m = { .type = CONSOLE_CTL_SET_TERMIOS, .arg = (uint32_t)fd,
				     .how = how };
	memcpy(m.termios, termios, sizeof(m.termios));
	memcpy(con.hello.termios, termios, sizeof(m.termios));
	int64_t r = send_bytes(con.stream[VCON_CTL], &m, sizeof(m));
	drain_others(NULL); /* applied before the program writes in the new mode */
	return r == (int64_t)sizeof(m) ? 0 : -EIO;
}

/* Queues for ports 0..CONSOLE_MAX_PORTS-1 that the device has, buffers
 * for the control queue. */
static int setup_queues(struct virtio_dev *d, uint32_t nports)
{
	con.c_rx = virtio_queue_setup(d, 2, QUEUE_SIZE);
	con.c_tx = virtio_queue_setup(d, 3, QUEUE_SIZE);
	if (!con.c_rx || !con.c_tx)
		return -EIO;
	for (unsigned i = 0; i < CTL_BUFS; i++) {
		if (alloc_buf(&con.crx[i], CTL_BUF))
			return -ENOMEM;
	}
	for (uint32_t p = 1; p < nports && p < CONSOLE_MAX_PORTS; p++) {
		struct port *pt = &con.ports[p];
		pt->rxq = virtio_queue_setup(d, (uint16_t)(2 + 2 * p), QUEUE_SIZE);
		pt->txq = virtio_queue_setup(d, (uint16_t)(3 + 2 * p), QUEUE_SIZE);
		if (!pt->rxq || !pt->txq)
			return -EIO;
	}
	return 0;
}

static bool ports_named(void)
{
	static const char *const names[VCON_STREAMS] = { CONSOLE_PORT_STDIN, CONSOLE_PORT_STDOUT,
							 CONSOLE_PORT_STDERR, CONSOLE_PORT_CTL };
	for (unsigned s = 0; s < VCON_STREAMS; s++)
		if (!(con.stream[s] = port_by_name(names[s])))
			return false;
	return true;
}

/* The streams named and HELLO in, and the record ports it offers named. */
static bool setup_done(void)
{
	if (!ports_named() || !con.have_hello)
		return false;
	return (!(con.hello.how & CONSOLE_HELLO_EXEC) || recs[VCON_EXEC].pt) &&
	       (!(con.hello.how & CONSOLE_HELLO_NET) || recs[VCON_NET].pt);
}

int vcon_init(void)
{
	struct virtio_dev *d = virtio_find(VIRTIO_ID_CONSOLE, 0);
	if (!d)
		return -ENODEV;
	d->claimed = true;
	/* Interrupts even where file requests poll: a reader may wait for a
	 * person at a keyboard, and must not spin meanwhile. */
	d->polling = false;
	if (virtio_negotiate(d, 1ULL << VIRTIO_CONSOLE_F_MULTIPORT))
		return -EIO;
	con.dev = d;
	d->on_irq = on_irq;
	uint32_t nports = 0;
	if (!(d->features & (1ULL << VIRTIO_CONSOLE_F_MULTIPORT)) ||
	    d->ops->config_read(d, offsetof(struct virtio_console_config, max_nr_ports), &nports,
				sizeof(nports)) ||
	    nports < 2) {
		virtio_fail(d, "no multiport support: not pier's console");
		return -ENODEV;
	}
	int err = setup_queues(d, nports);
	if (err) {
		virtio_fail(d, "queue setup failed");
		return err;
	}
	virtio_ready(d);
	set_interrupts(false); /* on only while waiting (wait_a_little) */
	post_rx_all(con.c_rx, con.crx, CTL_BUFS);
	send_control(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	uint64_t end = time_ns() + SETUP_TIMEOUT_NS;
	while (!dead() && !setup_done() && time_ns() < end) {
		poll_device();
		if (!setup_done())
			wait_a_little();
	}
	if (dead() || !setup_done()) {
		kprintf("virtio-console %s: %s\n", d->name,
			dead() ? "failed" : "pier's ports or HELLO did not come");
		return -ENODEV;
	}
	con.present = true;
	kprintf("virtio-console on %s: stdin, stdout, stderr, ctl on ports %d %d %d %d; "
		"terminals: 0x%x\n", d->name, (int)(con.stream[0] - con.ports),
		(int)(con.stream[1] - con.ports), (int)(con.stream[2] - con.ports),
		(int)(con.stream[3] - con.ports), con.hello.tty);
	return 0;
}
