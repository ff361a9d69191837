/*
 * pier's virtio console (see virtio_console_dev.h). Queue 2 and 3 are the
 * control queues; port n receives on 2 + 2n and transmits on 3 + 2n. The
 * guest is hostile: control messages are size-checked, port ids bounded,
 * and each request's segments were checked against guest RAM by the queue
 * code. Blocking I/O on pier's descriptors happens without the lock, so
 * the vCPU is never held up by a slow reader.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_ids.h>
#include "../fdio.h"
#include "../terminal.h"
#include "virtio_console_dev.h"
#include "../threads.h"

#define NQUEUES (2 + 2 * CONSOLE_MAX_PORTS)
#define RXQ(port) (2u + 2u * (port))
#define TXQ(port) (3u + 2u * (port))
#define CONTROL_RX 2u
#define CONTROL_TX 3u

static const char *const port_names[CONSOLE_MAX_PORTS] = {
	[CONSOLE_NR_STDIN] = CONSOLE_PORT_STDIN, [CONSOLE_NR_STDOUT] = CONSOLE_PORT_STDOUT,
	[CONSOLE_NR_STDERR] = CONSOLE_PORT_STDERR, [CONSOLE_NR_CTL] = CONSOLE_PORT_CTL,
	[CONSOLE_NR_EXEC] = CONSOLE_PORT_EXEC,
	[CONSOLE_NR_NET] = CONSOLE_PORT_NET,
};

_Static_assert(sizeof(struct console_ctl_msg) >= sizeof(struct virtio_console_control) + 16,
	       "room for a control message and a port name");

static void fifo_put(struct console_fifo *f, const void *p, uint32_t len)
{
	if (f->count == CONSOLE_DEV_PENDING || len > sizeof(f->m[0].bytes))
		return; /* a guest that never takes its messages loses the newest */
	struct console_pending *m = &f->m[(f->head + f->count++) % CONSOLE_DEV_PENDING];
	memcpy(m->bytes, p, len);
	m->len = len;
}

static void control(struct virtio_console_dev *d, uint32_t id, uint16_t event, uint16_t value,
		    const char *name)
{
	uint8_t b[sizeof(struct virtio_console_control) + 16];
	struct virtio_console_control m = { .id = id, .event = event, .value = value };
	memcpy(b, &m, sizeof(m));
	size_t n = name ? strlen(name) : 0; /* our own names: short */
	memcpy(b + sizeof(m), name ? name : "", n);
	fifo_put(&d->control, b, (uint32_t)(sizeof(m) + n));
}

static void record(struct virtio_console_dev *d, const struct console_ctl_msg *r)
{
	fifo_put(&d->records, r, sizeof(*r));
}

/* HELLO goes before anything queued for the port (a signal in the boot
 * window): the guest reads the terminal state first. */
static void record_first(struct virtio_console_dev *d, const struct console_ctl_msg *r)
{
	struct console_fifo *f = &d->records;
	if (f->count == CONSOLE_DEV_PENDING)
		f->count--; /* the newest goes */
	f->head = (f->head + CONSOLE_DEV_PENDING - 1) % CONSOLE_DEV_PENDING;
	f->count++;
	memcpy(f->m[f->head].bytes, r, sizeof(*r));
	f->m[f->head].len = sizeof(*r);
}

/* The next request on queue qi: 1, 0 (none), -1 (queue broken: the
 * device now needs a reset). Lock held. */
static int pop(struct virtio_console_dev *d, unsigned qi, struct virtq_elem *e)
{
	struct virtio_mmio_queue *q = &d->t.q[qi];
	if (!q->ready || q->vq.broken)
		return 0;
	int r = virtq_dev_pop(&q->vq, e);
	if (r < 0) {
		fprintf(stderr, "pier: virtio-console: the guest broke queue %u (%s); the device "
				"needs a reset\n", qi, strerror(-r));
		d->errors++;
		virtio_mmio_needs_reset(&d->t);
		return -1;
	}
	return r;
}

static void push(struct virtio_console_dev *d, unsigned qi, uint16_t head, uint32_t len)
{
	struct virtio_mmio_queue *q = &d->t.q[qi];
	if (!q->ready || q->vq.broken)
		return;
	virtq_dev_push(&q->vq, head, len);
	if (virtq_dev_notify_needed(&q->vq))
		virtio_mmio_interrupt(&d->t);
}

/* Input: the interrupt waits until every buffer stdin can fill now is
 * filled, so a waiting reader wakes once per burst, not per buffer. */
static void push_input(struct virtio_console_dev *d, uint16_t head, uint32_t len)
{
	struct virtio_mmio_queue *q = &d->t.q[RXQ(CONSOLE_NR_STDIN)];
	if (!q->ready || q->vq.broken)
		return;
	virtq_dev_push(&q->vq, head, len);
	d->input_irq |= virtq_dev_notify_needed(&q->vq);
}

/* The relayed ports exist only with their servers. */
static bool port_offered(const struct virtio_console_dev *d, uint32_t port)
{
	for (unsigned i = 0; i < CONSOLE_RELAYS; i++)
		if (d->relay[i].port == port)
			return d->relay[i].fd >= 0;
	return true;
}

static void on_control(struct virtio_console_dev *d, const struct virtio_console_control *m)
{
	uint32_t id = m->id;
	switch (m->event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		if (!m->value || d->guest_ready)
			return;
		d->guest_ready = true;
		for (uint32_t p = 1; p < CONSOLE_MAX_PORTS; p++)
			if (port_offered(d, p))
				control(d, p, VIRTIO_CONSOLE_PORT_ADD, 1, NULL);
		return;
	case VIRTIO_CONSOLE_PORT_READY:
		if (id == 0 || id >= CONSOLE_MAX_PORTS || d->port_ready[id] || !m->value ||
		    !port_offered(d, id))
			return;
		d->port_ready[id] = true;
		control(d, id, VIRTIO_CONSOLE_PORT_NAME, 1, port_names[id]);
		control(d, id, VIRTIO_CONSOLE_PORT_OPEN, !d->host_closed[id], NULL);
		if (id == CONSOLE_NR_CTL) {
			struct console_ctl_msg hello;
			terminal_hello(&hello);
			if (d->relay[CONSOLE_RELAY_EXEC].fd >= 0)
				hello.how |= CONSOLE_HELLO_EXEC;
			if (d->relay[CONSOLE_RELAY_NET].fd >= 0)
				hello.how |= CONSOLE_HELLO_NET;
			record_first(d, &hello);
		}
		return;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (id < CONSOLE_MAX_PORTS)
			d->guest_open[id] = m->value != 0;
		return;
	default:
		return; /* nothing else is the driver's to send */
	}
}

/* Records from the guest on pier.ctl, possibly split over requests. */
static void on_records(struct virtio_console_dev *d, const uint8_t *p, size_t n)
{
	while (n) {
		size_t take = sizeof(d->rec) - d->rec_len;
		take = take < n ? take : n;
		memcpy(d->rec + d->rec_len, p, take);
		d->rec_len += (unsigned)take;
		p += take;
		n -= take;
		if (d->rec_len == sizeof(d->rec)) {
			struct console_ctl_msg m;
			memcpy(&m, d->rec, sizeof(m));
			d->rec_len = 0;
			if (m.type == CONSOLE_CTL_SET_TERMIOS)
				terminal_apply(&m);
			else if (m.type == CONSOLE_CTL_SYNC)
				record(d, &m); /* what came back is written: output is synchronous */
		}
	}
}

static void take_guest_messages(struct virtio_console_dev *d, struct virtq_elem *e)
{
	int r;
	while ((r = pop(d, CONTROL_TX, e)) > 0) {
		struct virtio_console_control m;
		if (virtq_elem_gather(e, &m, sizeof(m)) == sizeof(m))
			on_control(d, &m);
		push(d, CONTROL_TX, e->head, 0);
	}
	while ((r = pop(d, TXQ(CONSOLE_NR_CTL), e)) > 0) {
		for (unsigned i = 0; i < e->nout; i++) /* a byte stream: every byte */
			on_records(d, e->seg[i].base, e->seg[i].len);
		push(d, TXQ(CONSOLE_NR_CTL), e->head, 0);
	}
}

static void deliver(struct virtio_console_dev *d, struct console_fifo *f, unsigned qi,
		    struct virtq_elem *e)
{
	while (f->count && pop(d, qi, e) > 0) {
		struct console_pending *m = &f->m[f->head];
		f->head = (f->head + 1) % CONSOLE_DEV_PENDING;
		f->count--;
		push(d, qi, e->head, (uint32_t)virtq_elem_scatter(e, m->bytes, m->len));
	}
}

static void host_close(struct virtio_console_dev *d, unsigned port)
{
	if (d->host_closed[port])
		return;
	d->host_closed[port] = true;
	control(d, port, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL);
}

/* One output request of port (stdout or stderr); lock held, dropped
 * around the write. */
static void output(struct virtio_console_dev *d, unsigned port, struct virtq_elem *e)
{
	bool ok = true;
	if (!d->host_closed[port]) {
		uint64_t gen = d->generation;
		pthread_mutex_unlock(&d->t.lock);
		int fd = port == CONSOLE_NR_STDOUT ? STDOUT_FILENO : STDERR_FILENO;
		for (unsigned i = 0; i < e->nout && ok; i++)
			ok = fd_write_all(fd, e->seg[i].base, e->seg[i].len);
		pthread_mutex_lock(&d->t.lock);
		if (gen != d->generation)
			return; /* reset meanwhile: the request is gone with its queue */
		if (ok)
			d->bytes_out[port] += e->out_bytes;
		else
			host_close(d, port);
	}
	push(d, TXQ(port), e->head, 0);
}

/* Reads what stdin has into the held buffer (it has a writable part);
 * lock held, dropped around the read. */
static void input(struct virtio_console_dev *d)
{
	struct virtq_elem *e = &d->held;
	uint64_t gen = d->generation;
	pthread_mutex_unlock(&d->t.lock);
	ssize_t n;
	do
		n = read(STDIN_FILENO, e->seg[e->nout].base, e->seg[e->nout].len);
	while (n < 0 && errno == EINTR);
	int err = errno;
	pthread_mutex_lock(&d->t.lock);
	if (gen != d->generation)
		return; /* reset meanwhile: the buffer went with its queue */
	if (n < 0 && err == EAGAIN)
		return; /* a non-blocking stdin that another reader emptied: kept */
	d->have_held = false;
	if (n > 0) {
		d->bytes_in += (uint64_t)n;
		push_input(d, e->head, (uint32_t)n);
	} else if (n == 0 && terminal_stdin_is_tty()) {
		/* ^D: one read's end of file; the terminal reads on after it.
		 * The buffer stays held for what is typed next. */
		d->have_held = true;
		struct console_ctl_msg eof = { .type = CONSOLE_CTL_EOF };
		record(d, &eof);
	} else {
		host_close(d, CONSOLE_NR_STDIN); /* end of file: after every byte */
	}
}

/* A relayed port: the guest's bytes into its server's socket, and the
 * server's into the guest's buffers, as far as the socket takes and gives
 * without waiting (it is non-blocking); lock held. */
static void serve_relay(struct virtio_console_dev *d, struct console_relay *r)
{
	const unsigned port = r->port;
	if (r->fd < 0 || !d->port_ready[port])
		return;
	if (r->generation != d->generation) /* a reset took the held requests */
		r->have_tx = r->have_rx = false;
	r->generation = d->generation;
	for (;;) {
		struct virtq_elem *e = &r->tx;
		if (!r->have_tx) {
			if (pop(d, TXQ(port), e) <= 0)
				break;
			r->have_tx = true;
			r->tx_off = 0;
		}
		uint64_t at = 0;
		bool blocked = false;
		for (unsigned i = 0; i < e->nout && !blocked && !d->host_closed[port]; i++) {
			uint64_t len = e->seg[i].len;
			if (r->tx_off >= at + len) {
				at += len;
				continue;
			}
			uint64_t from = r->tx_off - at;
			ssize_t n = send(r->fd, (uint8_t *)e->seg[i].base + from, len - from,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				blocked = true;
			else if (n <= 0)
				host_close(d, port); /* the server is gone */
			else
				r->tx_off += (uint64_t)n;
			if (n > 0 && (uint64_t)n < len - from)
				blocked = true;
			at += len;
		}
		if (blocked)
			break; /* the rest when the socket has room */
		r->have_tx = false;
		push(d, TXQ(port), e->head, 0);
	}
	while (!d->host_closed[port]) {
		struct virtq_elem *e = &r->rx;
		if (!r->have_rx) {
			while ((r->have_rx = pop(d, RXQ(port), e) > 0) && !e->nin)
				push(d, RXQ(port), e->head, 0);
			if (!r->have_rx)
				break;
		}
		ssize_t n = recv(r->fd, e->seg[e->nout].base, e->seg[e->nout].len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		r->have_rx = false;
		if (n <= 0) {
			push(d, RXQ(port), e->head, 0);
			host_close(d, port);
			break;
		}
		push(d, RXQ(port), e->head, (uint32_t)n);
	}
}

static bool stdin_readable_now(void)
{
	struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
	return poll(&p, 1, 0) > 0; /* POLLHUP too: the read then says end of file */
}

static bool stdin_open(const struct virtio_console_dev *d)
{
	return d->port_ready[CONSOLE_NR_STDIN] && d->guest_open[CONSOLE_NR_STDIN] &&
	       !d->host_closed[CONSOLE_NR_STDIN];
}

/* Serves everything that can be served now; lock held. stdin_ready: poll
 * said stdin has something (or its end). */
static void serve(struct virtio_console_dev *d, struct virtq_elem *e, bool stdin_ready)
{
	take_guest_messages(d, e);
	for (unsigned port = CONSOLE_NR_STDOUT; port <= CONSOLE_NR_STDERR; port++)
		while (pop(d, TXQ(port), e) > 0) {
			output(d, port, e);
			take_guest_messages(d, e); /* a termios change between writes */
		}
	if (d->have_held && d->held_generation != d->generation)
		d->have_held = false; /* its queue went with a reset */
	/* As many buffers as stdin has bytes for right now. */
	for (bool ready = stdin_ready; stdin_open(d); ready = stdin_readable_now()) {
		if (!d->have_held) {
			/* A buffer with no room to write is handed back at once. */
			while ((d->have_held = pop(d, RXQ(CONSOLE_NR_STDIN), &d->held) > 0) &&
			       !d->held.nin)
				push(d, RXQ(CONSOLE_NR_STDIN), d->held.head, 0);
			d->held_generation = d->generation;
		}
		if (!d->have_held || !ready)
			break;
		input(d);
		if (d->have_held)
			break; /* EAGAIN: kept for later */
	}
	if (d->input_irq) {
		d->input_irq = false;
		virtio_mmio_interrupt(&d->t);
	}
	for (unsigned i = 0; i < CONSOLE_RELAYS; i++)
		serve_relay(d, &d->relay[i]);
	deliver(d, &d->control, CONTROL_RX, e);
	if (d->port_ready[CONSOLE_NR_CTL]) /* the guest reads records once it knows the port */
		deliver(d, &d->records, RXQ(CONSOLE_NR_CTL), e);
}

static void *device_thread(void *arg)
{
	struct virtio_console_dev *d = arg;
	struct virtq_elem *e = malloc(sizeof(*e));
	bool stdin_ready = false;
	struct pollfd p[NQUEUES + 3 + CONSOLE_RELAYS];
	if (!e)
		return NULL;
	for (;;) {
		pthread_mutex_lock(&d->t.lock);
		serve(d, e, stdin_ready);
		bool want_stdin = d->have_held && stdin_open(d);
		short relay_events[CONSOLE_RELAYS];
		for (unsigned i = 0; i < CONSOLE_RELAYS; i++)
			relay_events[i] = (short)((d->relay[i].have_tx ? POLLOUT : 0) |
						  (d->relay[i].have_rx ? POLLIN : 0));
		pthread_mutex_unlock(&d->t.lock);
		unsigned n = 0;
		for (unsigned i = 0; i < NQUEUES; i++)
			p[n++] = (struct pollfd){ d->t.q[i].notify_fd, POLLIN, 0 };
		p[n++] = (struct pollfd){ d->stop_fd, POLLIN, 0 };
		p[n++] = (struct pollfd){ d->wake_fd, POLLIN, 0 };
		/* A descriptor with nothing wanted is left out (-1): a hung-up
		 * one would wake poll for ever. */
		p[n++] = (struct pollfd){ want_stdin ? STDIN_FILENO : -1, POLLIN, 0 };
		for (unsigned i = 0; i < CONSOLE_RELAYS; i++)
			p[n++] = (struct pollfd){ relay_events[i] ? d->relay[i].fd : -1,
						  relay_events[i], 0 };
		if (poll(p, n, -1) < 0 && errno != EINTR)
			break;
		if (p[NQUEUES].revents)
			break; /* asked to stop */
		uint64_t v;
		for (unsigned i = 0; i < NQUEUES + 2; i++)
			if (i != NQUEUES && p[i].revents && read(p[i].fd, &v, sizeof(v)) < 0 &&
			    errno != EAGAIN)
				d->errors++;
		/* POLLHUP/POLLERR too: the read then says end of file. */
		stdin_ready = want_stdin && p[NQUEUES + 2].revents;
	}
	free(e);
	return NULL;
}

void virtio_console_dev_signal(struct virtio_console_dev *d, int sig)
{
	if (!d->started)
		return;
	struct console_ctl_msg m = { .type = CONSOLE_CTL_SIGNAL, .arg = (uint32_t)sig };
	if (sig == SIGWINCH && !terminal_winsize(&m))
		return;
	pthread_mutex_lock(&d->t.lock);
	record(d, &m);
	pthread_mutex_unlock(&d->t.lock);
	uint64_t one = 1;
	if (write(d->wake_fd, &one, sizeof(one)) < 0)
		d->errors++;
}

/* A device reset forgets every port (the guest starts over). */
static void on_reset(void *ctx)
{
	struct virtio_console_dev *d = ctx;
	d->generation++;
	d->guest_ready = false;
	memset(d->port_ready, 0, sizeof(d->port_ready));
	memset(d->guest_open, 0, sizeof(d->guest_open));
	d->control.count = d->records.count = 0;
	d->rec_len = 0;
}

int virtio_console_dev_start(struct virtio_console_dev *d, struct guest_mem *mem, uint64_t base,
			     uint32_t gsi, int exec_fd, int net_fd)
{
	memset(d, 0, sizeof(*d));
	d->inited = true;
	d->relay[CONSOLE_RELAY_EXEC] = (struct console_relay){ .port = CONSOLE_NR_EXEC, .fd = exec_fd };
	d->relay[CONSOLE_RELAY_NET] = (struct console_relay){ .port = CONSOLE_NR_NET, .fd = net_fd };
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->config.max_nr_ports = CONSOLE_PORTS_FOR(exec_fd >= 0, net_fd >= 0);
	int err = virtio_mmio_init(&d->t, mem, base, gsi, VIRTIO_ID_CONSOLE,
				   1ULL << VIRTIO_CONSOLE_F_MULTIPORT, &d->config, sizeof(d->config),
				   NQUEUES);
	if (d->stop_fd < 0 || d->wake_fd < 0 || err) {
		fprintf(stderr, "pier: virtio-console: %s\n", strerror(err ? -err : errno));
		virtio_console_dev_stop(d);
		return -1;
	}
	d->t.on_reset = on_reset;
	d->t.ctx = d;
	err = thread_start(&d->thread, device_thread, d);
	if (err) {
		fprintf(stderr, "pier: virtio-console: thread: %s\n", strerror(err));
		virtio_console_dev_stop(d);
		return -1;
	}
	d->started = true;
	return 0;
}

void virtio_console_dev_stop(struct virtio_console_dev *d)
{
	if (!d->inited)
		return;
	if (d->started) {
		uint64_t one = 1;
		struct timespec end;
		clock_gettime(CLOCK_REALTIME, &end);
		end.tv_sec += 1;
		/* The thread may be blocked writing to a reader that stopped
		 * reading (the run is ending by a signal or timeout): then it
		 * is left to end with the process, its memory with it. */
		if (write(d->stop_fd, &one, sizeof(one)) != sizeof(one) ||
		    pthread_timedjoin_np(d->thread, NULL, &end)) {
			pthread_detach(d->thread);
			return;
		}
		d->started = false;
	}
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	for (unsigned i = 0; i < CONSOLE_RELAYS; i++) {
		if (d->relay[i].fd >= 0)
			close(d->relay[i].fd);
		d->relay[i].fd = -1;
	}
	d->stop_fd = d->wake_fd = -1;
	virtio_mmio_free(&d->t);
	d->inited = false;
}
