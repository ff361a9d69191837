/*
 * End-to-end tests for host/vmm/virtio_console_dev.c without KVM: the
 * device runs (with its own thread) on a real guest_mem, and the test is
 * the guest driver. It programs the transport through virtio_mmio_read/
 * write as a vCPU's MMIO exits would, drives all twelve queues with the
 * driver side of lib/virtq.c over rings placed in guest RAM (addresses
 * are guest physical), and speaks the multiport control protocol (virtio
 * 1.2, 5.3.6.2) and pier.ctl's records (include/pier/console_ctl.h).
 *
 * The device reads pier's fd 0 and writes fds 1 and 2 itself, so around
 * each case those are pipes (the originals saved and put back): the test
 * feeds stdin and reads stdout and stderr. The C library's stdout and
 * stderr streams (cmocka's messages, the device's diagnostics) and
 * AddressSanitizer's reports go to copies of the original descriptors
 * instead, so nothing but the program's bytes reaches the pipes. (GCC's
 * UBSan runtime keeps writing to fd 2: a UBSan report in the middle of a
 * case ends in that case's stderr pipe, and the binary dies without a
 * summary, which tools/run-unit-tests.sh counts as a failure.) SIGPIPE
 * is ignored: a reader gone is EPIPE.
 *
 * Every wait polls with a deadline, so a device that stops answering
 * fails the case instead of hanging the run.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <cmocka.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <pier/console_ctl.h>
#include <pier/virtq.h>
#include "vmm/guest_mem.h"
#include "vmm/virtio_console_dev.h"

#define MiB (1ULL << 20)
#define RAM_SIZE (128 * MiB)
#define BASE 0xd0000000ULL
#define GSI 17
#define NQ (2 + 2 * CONSOLE_MAX_PORTS)
#define QSIZE 64
#define TIMEOUT_MS 5000u

/* Queues: control receive/transmit, then port n at 2 + 2n / 3 + 2n. */
#define CRX 2u
#define CTX 3u
#define PRX(p) (2u + 2u * (p))
#define PTX(p) (3u + 2u * (p))

/* Guest physical layout: one ring per queue, then per queue QSIZE buffer
 * slots of 128 KiB each (a slot is a request's memory and its token). */
#define RING(qi) (0x100000ULL + (uint64_t)(qi) * 0x10000)
#define SLOT_BYTES 0x20000ULL
#define SLOT(qi, k) (0x400000ULL + (uint64_t)(qi) * QSIZE * SLOT_BYTES + (uint64_t)(k) * SLOT_BYTES)
#define FILL 0xee /* what receive buffers hold before the device writes */

#define CTL_BUFS 16
#define CTL_CAP 128u
#define REC_BUFS 8
#define REC_CAP 256u

static struct guest_mem m;
static struct virtio_console_dev d;
static struct virtq Q[NQ];
static void *meta[NQ];

struct slot {
	unsigned qi, k;
};
static struct slot slots[NQ][QSIZE];
static bool busy[NQ][QSIZE];
static uint32_t cap_of[NQ][QSIZE];

/* pier.ctl bytes from the device, cut into records here (a stream). */
static uint8_t recs[4096];
static size_t nrecs;
static struct console_ctl_msg hello; /* the last HELLO */

static int saved[3] = { -1, -1, -1 };
static int in_w = -1, out_r = -1, err_r = -1; /* the test's ends of the pipes */
static int real_err = -1, real_out = -1;

static const char *const port_name[CONSOLE_MAX_PORTS] = {
	NULL, CONSOLE_PORT_STDIN, CONSOLE_PORT_STDOUT, CONSOLE_PORT_STDERR, CONSOLE_PORT_CTL,
	[CONSOLE_NR_NET] = CONSOLE_PORT_NET, [CONSOLE_NR_EXEC] = CONSOLE_PORT_EXEC,
};
static int exec_sock = -1; /* the test's end of pier.exec's socket (dev_up_exec) */
/* max_nr_ports the device must say: ports 0-4 (stdio and ctl) without
 * relays; up to pier.exec's with it (dev_up_exec). */
static uint32_t offered_ports;

/* ---- basics ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = { 0, 200 * 1000 };
	nanosleep(&ts, NULL);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static uint8_t *gp(uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&m, gpa, len);
	assert_non_null(p);
	return p;
}

static uint32_t rd(uint64_t off)
{
	return virtio_mmio_read(&d.t, off, 4);
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_write(&d.t, off, 4, v);
}

static void notify(unsigned qi)
{
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

static uint64_t efd_take(int fd)
{
	uint64_t v = 0;
	if (read(fd, &v, sizeof(v)) < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	return v;
}

/* A device field, read under the lock the device thread works under. */
#define LOCKED(expr)                                                                     \
	__extension__({                                                                  \
		pthread_mutex_lock(&d.t.lock);                                           \
		__typeof__(expr) locked_v_ = (expr);                                     \
		pthread_mutex_unlock(&d.t.lock);                                         \
		locked_v_;                                                               \
	})

/* Waits until cond (re-evaluated) holds; false after `ms`. */
#define WAIT_FOR(cond, ms)                                                               \
	__extension__({                                                                  \
		uint64_t wait_end_ = now_ms() + (ms);                                    \
		bool wait_ok_;                                                           \
		while (!(wait_ok_ = (cond)) && now_ms() < wait_end_)                     \
			nap();                                                           \
		wait_ok_;                                                                \
	})

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 8) * 13 + (i >> 16));
}

/* ---- requests: slots, submitting, completions ---- */

static unsigned free_slot(unsigned qi)
{
	for (unsigned k = 0; k < QSIZE; k++)
		if (!busy[qi][k])
			return k;
	fail_msg("queue %u: no free slot", qi);
	return 0;
}

static void submit(unsigned qi, unsigned k, const struct virtq_buf *out, unsigned nout,
		   const struct virtq_buf *in, unsigned nin)
{
	assert_false(busy[qi][k]);
	assert_int_equal(virtq_add(&Q[qi], out, nout, in, nin, &slots[qi][k]), 0);
	busy[qi][k] = true;
	notify(qi);
}

/* The next completion on qi within `ms` (0: only what is there now), or
 * NULL. A bad used-ring entry fails the test. */
static struct slot *wait_used(unsigned qi, uint32_t *len, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	for (;;) {
		struct slot *s = virtq_get_used(&Q[qi], len);
		if (s) {
			assert_true(busy[qi][s->k]);
			busy[qi][s->k] = false;
			return s;
		}
		if (Q[qi].broken)
			fail_msg("queue %u: the device put a bad entry in the used ring", qi);
		if (now_ms() >= end)
			return NULL;
		nap();
	}
}

static struct slot *must_used(unsigned qi, uint32_t *len)
{
	struct slot *s = wait_used(qi, len, TIMEOUT_MS);
	if (!s)
		fail_msg("queue %u: no completion within %u ms", qi, TIMEOUT_MS);
	return s;
}

static void post_rx_at(unsigned qi, unsigned k, uint32_t cap)
{
	memset(gp(SLOT(qi, k), cap), FILL, cap);
	struct virtq_buf in = { SLOT(qi, k), cap };
	cap_of[qi][k] = cap;
	submit(qi, k, NULL, 0, &in, 1);
}

static void post_rx(unsigned qi, uint32_t cap)
{
	post_rx_at(qi, free_slot(qi), cap);
}

/*
 * Queues n bytes on transmit queue qi in `segs` readable descriptors with
 * gaps of garbage between them (a device reading one pointer for the
 * whole length would send the garbage). Not waited for.
 */
static struct slot *tx(unsigned qi, const void *p, size_t n, unsigned segs)
{
	unsigned k = free_slot(qi);
	struct virtq_buf out[8];
	assert_true(segs >= 1 && segs <= 8);
	assert_true(n + (segs - 1) * 256 <= SLOT_BYTES);
	memset(gp(SLOT(qi, k), SLOT_BYTES), 'G', SLOT_BYTES);
	size_t per = (n + segs - 1) / segs, done = 0;
	uint64_t at = SLOT(qi, k);
	for (unsigned i = 0; i < segs; i++) {
		size_t c = n - done < per ? n - done : per;
		memcpy(gp(at, c ? c : 1), (const uint8_t *)p + done, c);
		out[i] = (struct virtq_buf){ at, (uint32_t)c };
		at += c + 256;
		done += c;
	}
	submit(qi, k, out, segs, NULL, 0);
	return &slots[qi][k];
}

/* Waits for the completion of s, the next one on its queue, length 0. */
static void tx_done(struct slot *s)
{
	uint32_t len;
	struct slot *got = must_used(s->qi, &len);
	assert_ptr_equal(got, s);
	assert_int_equal(len, 0);
}

/* ---- pier's descriptors ---- */

static void read_exact(int fd, void *buf, size_t n)
{
	size_t got = 0;
	uint64_t end = now_ms() + TIMEOUT_MS;
	while (got < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		uint64_t now = now_ms();
		if (now >= end || poll(&p, 1, (int)(end - now)) == 0)
			fail_msg("fd %d: %zu of %zu bytes within %u ms", fd, got, n, TIMEOUT_MS);
		ssize_t k = read(fd, (uint8_t *)buf + got, n - got);
		if (k < 0 && errno == EAGAIN)
			continue;
		assert_true(k > 0);
		got += (size_t)k;
	}
}

/* Nothing (more) is waiting on fd. */
static void expect_no_more(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	assert_int_equal(poll(&p, 1, 0), 0);
}

static void expect_output(int fd, const void *want, size_t n)
{
	uint8_t *got = malloc(n ? n : 1);
	read_exact(fd, got, n);
	assert_memory_equal(got, want, n);
	free(got);
	expect_no_more(fd);
}

static void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);
	assert_true(fl >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK), 0);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- the transport, as a driver sets it up ---- */

static void queue_up(unsigned qi)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, qi);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(VIRTIO_MMIO_QUEUE_NUM_MAX) >= QSIZE);
	uint8_t *ring = gp(RING(qi), virtq_ring_bytes(QSIZE));
	memset(ring, 0, virtq_ring_bytes(QSIZE));
	assert_int_equal(virtq_init(&Q[qi], QSIZE, ring, RING(qi), meta[qi], false), 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)Q[qi].desc_addr);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(Q[qi].desc_addr >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)Q[qi].avail_addr);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(Q[qi].avail_addr >> 32));
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)Q[qi].used_addr);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(Q[qi].used_addr >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
}

/* Device initialization (virtio 1.x 3.1.1): reset, features, all queues. */
static void driver_init(void)
{
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	memset(busy, 0, sizeof(busy));
	nrecs = 0;
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t f = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t)rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	assert_true(f & (1ULL << VIRTIO_F_VERSION_1));
	assert_true(f & (1ULL << VIRTIO_CONSOLE_F_MULTIPORT));
	uint64_t want = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_CONSOLE_F_MULTIPORT);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		     VIRTIO_CONFIG_S_FEATURES_OK;
	wr(VIRTIO_MMIO_STATUS, s);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), s);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + offsetof(struct virtio_console_config,
							  max_nr_ports)),
			 offered_ports);
	for (unsigned qi = 0; qi < NQ; qi++)
		queue_up(qi);
	wr(VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), s | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* ---- the control queues ---- */

struct ctl {
	uint32_t id;
	uint16_t event, value;
	uint32_t len;
	char name[CTL_CAP];
};

/* Sends the bytes at p as one control message in `segs` descriptors and
 * waits for the device to take it. */
static void ctl_send_raw(const void *p, uint32_t n, unsigned segs)
{
	tx_done(tx(CTX, p, n, segs));
}

static void ctl_send(uint32_t id, uint16_t event, uint16_t value)
{
	struct virtio_console_control c = { .id = id, .event = event, .value = value };
	ctl_send_raw(&c, sizeof(c), 1);
}

static bool ctl_recv(struct ctl *c, unsigned ms)
{
	uint32_t len;
	struct slot *s = wait_used(CRX, &len, ms);
	if (!s)
		return false;
	memset(c, 0, sizeof(*c));
	c->len = len;
	assert_true(len >= sizeof(struct virtio_console_control));
	assert_true(len < CTL_CAP);
	struct virtio_console_control h;
	memcpy(&h, gp(SLOT(CRX, s->k), sizeof(h)), sizeof(h));
	c->id = h.id;
	c->event = h.event;
	c->value = h.value;
	memcpy(c->name, gp(SLOT(CRX, s->k), len) + sizeof(h), len - sizeof(h));
	post_rx_at(CRX, s->k, CTL_CAP);
	return true;
}

static void expect_ctl(uint32_t id, uint16_t event, uint16_t value)
{
	struct ctl c;
	if (!ctl_recv(&c, TIMEOUT_MS))
		fail_msg("no control message (wanted id %u event %u value %u)", id, event, value);
	if (c.id != id || c.event != event || c.value != value)
		fail_msg("control message id %u event %u value %u (len %u); wanted id %u event %u "
			 "value %u", c.id, c.event, c.value, c.len, id, event, value);
	assert_int_equal(c.len, sizeof(struct virtio_console_control));
}

static void expect_name(uint32_t id, const char *name)
{
	struct ctl c;
	if (!ctl_recv(&c, TIMEOUT_MS))
		fail_msg("no PORT_NAME for port %u", id);
	if (c.id != id || c.event != VIRTIO_CONSOLE_PORT_NAME)
		fail_msg("control message id %u event %u value %u; wanted PORT_NAME of %u", c.id,
			 c.event, c.value, id);
	/* The name follows the header, no terminating NUL needed. */
	assert_int_equal(c.len, sizeof(struct virtio_console_control) + strlen(name));
	assert_string_equal(c.name, name);
}

/* No control message within ms (for phases where no probe works). */
static void expect_no_ctl_for(unsigned ms)
{
	struct ctl c;
	if (ctl_recv(&c, ms))
		fail_msg("unexpected control message id %u event %u value %u", c.id, c.event,
			 c.value);
}

/* ---- pier.ctl records ---- */

static bool rec_recv(struct console_ctl_msg *r, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	while (nrecs < sizeof(*r)) {
		uint64_t now = now_ms();
		uint32_t len;
		struct slot *s = wait_used(PRX(CONSOLE_NR_CTL), &len, now < end ? (unsigned)(end - now) : 0);
		if (!s)
			return false;
		assert_true(nrecs + len <= sizeof(recs));
		memcpy(recs + nrecs, gp(SLOT(s->qi, s->k), len ? len : 1), len);
		nrecs += len;
		post_rx_at(s->qi, s->k, cap_of[s->qi][s->k]);
	}
	memcpy(r, recs, sizeof(*r));
	nrecs -= sizeof(*r);
	memmove(recs, recs + sizeof(*r), nrecs);
	return true;
}

static void expect_record(uint32_t type, uint32_t arg, struct console_ctl_msg *out)
{
	struct console_ctl_msg r;
	if (!rec_recv(&r, TIMEOUT_MS))
		fail_msg("no pier.ctl record (wanted type %u arg %u)", type, arg);
	if (r.type != type || r.arg != arg)
		fail_msg("pier.ctl record type %u arg %u; wanted type %u arg %u", r.type, r.arg, type,
			 arg);
	if (out)
		*out = r;
}

/*
 * Proves the device sent no control message since the last one taken:
 * a signal record goes out on pier.ctl, and the device delivers pending
 * control messages before records (same pass), so once the record is
 * here anything pending on the control queue would be too.
 */
static void expect_quiet(void)
{
	virtio_console_dev_signal(&d, SIGUSR2);
	expect_record(CONSOLE_CTL_SIGNAL, SIGUSR2, NULL);
	struct ctl c;
	if (ctl_recv(&c, 0))
		fail_msg("unexpected control message id %u event %u value %u", c.id, c.event,
			 c.value);
}

/* ---- the handshake ---- */

static void post_ctl_buffers(void)
{
	for (unsigned i = 0; i < CTL_BUFS; i++)
		post_rx(CRX, CTL_CAP);
	for (unsigned i = 0; i < REC_BUFS; i++)
		post_rx(PRX(CONSOLE_NR_CTL), REC_CAP);
}

static void device_ready(void)
{
	ctl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t p = 1; p <= CONSOLE_NR_CTL; p++)
		expect_ctl(p, VIRTIO_CONSOLE_PORT_ADD, 1);
}

static void check_hello(const struct console_ctl_msg *h)
{
	assert_int_equal(h->type, CONSOLE_CTL_HELLO);
	assert_int_equal(h->arg, 0);
	assert_int_equal(h->tty, 0); /* pipes, and terminal_init never ran */
	assert_int_equal(h->rows, 24);
	assert_int_equal(h->cols, 80);
	uint32_t iflag, lflag;
	memcpy(&iflag, h->termios, 4);
	memcpy(&lflag, h->termios + 12, 4);
	assert_true(iflag & 0400);     /* ICRNL: a cooked terminal's defaults */
	assert_true(lflag & 0000002);  /* ICANON */
	assert_int_equal(h->termios[17 + 0], 3); /* VINTR is ^C */
}

/* PORT_READY(p) and its answer: the name, the host side's state, and for
 * pier.ctl the HELLO record. */
static void port_ready(uint32_t p, uint16_t open)
{
	ctl_send(p, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_name(p, port_name[p]);
	expect_ctl(p, VIRTIO_CONSOLE_PORT_OPEN, open);
	if (p == CONSOLE_NR_CTL) {
		expect_record(CONSOLE_CTL_HELLO, 0, &hello);
		check_hello(&hello);
	}
}

/* The whole handshake; open[p]: the PORT_OPEN value expected for port p. */
static void handshake_expect(const uint16_t open[CONSOLE_MAX_PORTS])
{
	driver_init();
	post_ctl_buffers();
	device_ready();
	for (uint32_t p = 1; p <= CONSOLE_NR_CTL; p++)
		port_ready(p, open[p]);
}

static void handshake(void)
{
	static const uint16_t all[CONSOLE_MAX_PORTS] = { 0, 1, 1, 1, 1 };
	handshake_expect(all);
}

/* The guest opens stdin and posts n receive buffers of cap bytes. */
static void stdin_open(unsigned n, uint32_t cap)
{
	ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_OPEN, 1);
	for (unsigned i = 0; i < n; i++)
		post_rx(PRX(CONSOLE_NR_STDIN), cap);
}

/* Collects exactly n bytes from stdin's receive queue (reposting). */
static void stdin_take(uint8_t *dst, size_t n)
{
	size_t got = 0;
	while (got < n) {
		uint32_t len;
		struct slot *s = wait_used(PRX(CONSOLE_NR_STDIN), &len, TIMEOUT_MS);
		if (!s)
			fail_msg("stdin: %zu of %zu bytes within %u ms", got, n, TIMEOUT_MS);
		assert_true(got + len <= n);
		memcpy(dst + got, gp(SLOT(s->qi, s->k), len ? len : 1), len);
		got += len;
		post_rx_at(s->qi, s->k, cap_of[s->qi][s->k]);
	}
}

static void stdout_works(const char *text)
{
	tx_done(tx(PTX(CONSOLE_NR_STDOUT), text, strlen(text), 1));
	expect_output(out_r, text, strlen(text));
}

static void stderr_works(const char *text)
{
	tx_done(tx(PTX(CONSOLE_NR_STDERR), text, strlen(text), 1));
	expect_output(err_r, text, strlen(text));
}

/* The device's thread has taken n requests from queue qi. */
static bool device_took(unsigned qi, uint16_t n)
{
	return LOCKED(d.t.q[qi].vq.last_avail) == n;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
	(void)state;
	for (unsigned qi = 0; qi < NQ; qi++) {
		meta[qi] = malloc(virtq_meta_bytes(QSIZE));
		for (unsigned k = 0; k < QSIZE; k++)
			slots[qi][k] = (struct slot){ qi, k };
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (unsigned qi = 0; qi < NQ; qi++)
		free(meta[qi]);
	return 0;
}

/* Pipes onto 0, 1, 2 (originals saved), fresh RAM, the device started. */
static int dev_up(void **state)
{
	(void)state;
	int pi[2], po[2], pe[2];
	fflush(NULL);
	for (int fd = 0; fd < 3; fd++) {
		saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 10);
		assert_true(saved[fd] >= 0);
	}
	assert_int_equal(pipe2(pi, O_CLOEXEC), 0);
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	assert_int_equal(dup2(pi[0], 0), 0);
	assert_int_equal(dup2(po[1], 1), 1);
	assert_int_equal(dup2(pe[1], 2), 2);
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	in_w = pi[1];
	out_r = po[0];
	err_r = pe[0];
	assert_int_equal(guest_mem_init(&m, RAM_SIZE), 0);
	memset(busy, 0, sizeof(busy));
	nrecs = 0;
	assert_int_equal(virtio_console_dev_start(&d, &m, BASE, GSI, -1, -1), 0);
	offered_ports = CONSOLE_NR_CTL + 1;
	return 0;
}

/* dev_up with pier.exec offered over a socket pair. */
static int dev_up_exec(void **state)
{
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	dev_up(state);
	virtio_console_dev_stop(&d);
	assert_int_equal(virtio_console_dev_start(&d, &m, BASE, GSI, sp[1], -1), 0);
	offered_ports = CONSOLE_NR_EXEC + 1;
	exec_sock = sp[0];
	return 0;
}

/*
 * Our pipe ends closed first (a thread blocked on a full pipe then gets
 * EPIPE), the device stopped (its thread must be joined), the originals
 * back.
 */
static int dev_down(void **state)
{
	(void)state;
	close_fd(&in_w);
	close_fd(&out_r);
	close_fd(&err_r);
	close_fd(&exec_sock);
	virtio_console_dev_stop(&d);
	bool joined = !d.started;
	for (int fd = 0; fd < 3; fd++) {
		dup2(saved[fd], fd);
		close_fd(&saved[fd]);
	}
	if (!joined) {
		/* The thread still uses d and the RAM: nothing can go on. */
		fprintf(stderr, "test_vmm_console: the device thread did not stop\n");
		_exit(1);
	}
	guest_mem_free(&m);
	return 0;
}

/* ==== the device as a driver finds it ==== */

static void test_identity_and_config(void **state)
{
	(void)state;
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	assert_int_equal(d.t.nqueues, NQ);
	assert_int_equal(d.t.base, BASE);
	assert_int_equal(d.t.gsi, GSI);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t hi = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	assert_int_equal(lo, 1u << VIRTIO_CONSOLE_F_MULTIPORT); /* no SIZE, no EMERG_WRITE */
	assert_int_equal(hi, 1u << (VIRTIO_F_VERSION_1 - 32));
	/* struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr. */
	/* Ports 0-4: no relay is offered, so none of their numbers is. */
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + 4), CONSOLE_NR_CTL + 1);
	assert_int_equal(virtio_mmio_read(&d.t, VIRTIO_MMIO_CONFIG + 4, 2), CONSOLE_NR_CTL + 1);
	assert_int_equal(virtio_mmio_read(&d.t, VIRTIO_MMIO_CONFIG + 4, 1), CONSOLE_NR_CTL + 1);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + 0), 0);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + 12), 0); /* past the end */
	/* An emergency write without the feature: refused, nothing breaks. */
	uint64_t bad = d.t.bad_writes;
	wr(VIRTIO_MMIO_CONFIG + 8, 'x');
	assert_int_equal(d.t.bad_writes, bad + 1);
	/* Twelve queues, no more. */
	for (unsigned qi = 0; qi < NQ; qi++) {
		wr(VIRTIO_MMIO_QUEUE_SEL, qi);
		assert_true(rd(VIRTIO_MMIO_QUEUE_NUM_MAX) >= QSIZE);
	}
	wr(VIRTIO_MMIO_QUEUE_SEL, NQ);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	/* A notification for a queue that does not exist is dropped. */
	notify(NQ);
	notify(0xffffffff);
	expect_no_more(out_r);
}

/*
 * DEVICE_READY -> PORT_ADD 1..4; PORT_READY(n) -> PORT_NAME(n) with the
 * name after the header, PORT_OPEN(n, 1); for pier.ctl, then HELLO.
 */
static void test_handshake(void **state)
{
	(void)state;
	efd_take(d.t.irq_fd);
	handshake();
	assert_int_equal(hello.how & CONSOLE_HELLO_SHARED_OUTPUT, 0); /* two pipes */
	assert_true(efd_take(d.t.irq_fd) > 0);
	assert_true(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	pthread_mutex_lock(&d.t.lock);
	assert_true(d.guest_ready);
	for (unsigned p = 1; p <= CONSOLE_NR_CTL; p++)
		assert_true(d.port_ready[p]);
	assert_int_equal(d.errors, 0);
	pthread_mutex_unlock(&d.t.lock);
	assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	expect_quiet();
	/* Port 0 (the console port virtio reserves) was never offered. */
	expect_no_more(out_r);
	expect_no_more(err_r);
}

/* With stdout and stderr one file, HELLO says so. */
static void test_hello_shared_output(void **state)
{
	(void)state;
	assert_int_equal(dup2(1, 2), 2);
	handshake();
	assert_true(hello.how & CONSOLE_HELLO_SHARED_OUTPUT);
	/* Both ports write to the one pipe, in order. */
	stdout_works("out ");
	tx_done(tx(PTX(CONSOLE_NR_STDERR), "err\n", 4, 1));
	expect_output(out_r, "err\n", 4);
}

/* ==== stdin ==== */

/*
 * 256 KiB of every byte value (\r, \n, \0 first) through receive buffers
 * of assorted sizes (1 byte to 64 KiB), written as fast as the pipe takes
 * it; closing the write end: PORT_OPEN(1, 0), after the last byte.
 */
static void test_stdin_binary_and_eof(void **state)
{
	(void)state;
	handshake();
	static const uint32_t caps[] = { 1, 7, 100, 4096, 65536, 3, 512, 16384 };
	ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_OPEN, 1);
	for (unsigned i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		post_rx(PRX(CONSOLE_NR_STDIN), caps[i]);
	const size_t total = 256 * 1024 + 13;
	uint8_t *src = malloc(total), *got = malloc(total);
	for (size_t i = 0; i < total; i++)
		src[i] = pattern(i);
	memcpy(src, "\r\n\0line\r\n\0", 11);
	set_nonblock(in_w, true);
	size_t sent = 0, recvd = 0;
	bool eof = false;
	uint64_t end = now_ms() + 6 * TIMEOUT_MS;
	while (!eof) {
		bool progress = false;
		if (sent < total) {
			ssize_t k = write(in_w, src + sent, total - sent);
			if (k > 0)
				sent += (size_t)k, progress = true;
			else
				assert_int_equal(errno, EAGAIN);
		} else if (in_w >= 0) {
			close_fd(&in_w);
		}
		uint32_t len;
		struct slot *s;
		while ((s = wait_used(PRX(CONSOLE_NR_STDIN), &len, 0))) {
			assert_true(recvd + len <= total);
			memcpy(got + recvd, gp(SLOT(s->qi, s->k), len ? len : 1), len);
			recvd += len;
			post_rx_at(s->qi, s->k, cap_of[s->qi][s->k]);
			progress = true;
		}
		struct ctl c;
		if (ctl_recv(&c, 0)) {
			if (c.id != CONSOLE_NR_STDIN || c.event != VIRTIO_CONSOLE_PORT_OPEN || c.value)
				fail_msg("control message id %u event %u value %u during stdin", c.id,
					 c.event, c.value);
			assert_true(in_w < 0); /* not before the end of file */
			eof = true;
		}
		if (now_ms() > end)
			fail_msg("stdin: sent %zu, received %zu of %zu, no EOF", sent, recvd, total);
		if (!progress)
			nap();
	}
	/* The close came after every byte: all of it is in the used ring. */
	uint32_t len;
	struct slot *s;
	while ((s = wait_used(PRX(CONSOLE_NR_STDIN), &len, 0))) {
		assert_true(recvd + len <= total);
		memcpy(got + recvd, gp(SLOT(s->qi, s->k), len ? len : 1), len);
		recvd += len;
	}
	assert_int_equal(recvd, total);
	assert_memory_equal(got, src, total);
	assert_int_equal(LOCKED(d.bytes_in), total);
	free(src);
	free(got);
	expect_quiet();
	/* A new driver (after a reset) is told stdin is closed. */
	static const uint16_t open[CONSOLE_MAX_PORTS] = { 0, 0, 1, 1, 1 };
	handshake_expect(open);
	stdout_works("still fine\n");
}

/* End of file with nothing before it; no buffer is filled. */
static void test_stdin_eof_without_data(void **state)
{
	(void)state;
	handshake();
	stdin_open(2, 4096);
	close_fd(&in_w);
	expect_ctl(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_OPEN, 0);
	uint32_t len;
	struct slot *s = wait_used(PRX(CONSOLE_NR_STDIN), &len, 0);
	if (s)
		assert_int_equal(len, 0);
	expect_quiet();
	assert_int_equal(LOCKED(d.bytes_in), 0);
}

/* Input waits until the guest has opened the port. */
static void test_stdin_waits_for_guest_open(void **state)
{
	(void)state;
	handshake();
	post_rx(PRX(CONSOLE_NR_STDIN), 4096);
	post_rx(PRX(CONSOLE_NR_STDIN), 4096);
	assert_int_equal(write(in_w, "early\n", 6), 6);
	uint32_t len;
	assert_null(wait_used(PRX(CONSOLE_NR_STDIN), &len, 300));
	ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_OPEN, 1);
	uint8_t b[6];
	stdin_take(b, 6);
	assert_memory_equal(b, "early\n", 6);
	/* And keeps flowing. */
	assert_int_equal(write(in_w, "x\0y", 3), 3);
	stdin_take(b, 3);
	assert_memory_equal(b, "x\0y", 3);
}

/* ==== stdout and stderr ==== */

/*
 * Requests on stdout's transmit queue come out on fd 1 byte-exact and in
 * order: binary bytes, several descriptors with garbage between them, a
 * zero-length descriptor in the middle of a chain.
 */
static void test_stdout_exact(void **state)
{
	(void)state;
	handshake();
	uint8_t want[1024];
	size_t n = 0;
	const char *a = "hello, world\r\n";
	uint8_t bin[300];
	for (unsigned i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(255 - i);
	bin[0] = 0;
	bin[1] = '\r';
	bin[2] = '\n';
	struct slot *s1 = tx(PTX(CONSOLE_NR_STDOUT), a, strlen(a), 1);
	memcpy(want + n, a, strlen(a));
	n += strlen(a);
	struct slot *s2 = tx(PTX(CONSOLE_NR_STDOUT), bin, sizeof(bin), 3);
	memcpy(want + n, bin, sizeof(bin));
	n += sizeof(bin);
	/* "abcde", an empty descriptor, "fghij". */
	unsigned k = free_slot(PTX(CONSOLE_NR_STDOUT));
	uint64_t at = SLOT(PTX(CONSOLE_NR_STDOUT), k);
	memcpy(gp(at, 5), "abcde", 5);
	memcpy(gp(at + 1000, 5), "fghij", 5);
	struct virtq_buf out[3] = { { at, 5 }, { at + 500, 0 }, { at + 1000, 5 } };
	submit(PTX(CONSOLE_NR_STDOUT), k, out, 3, NULL, 0);
	struct slot *s3 = &slots[PTX(CONSOLE_NR_STDOUT)][k];
	memcpy(want + n, "abcdefghij", 10);
	n += 10;
	tx_done(s1);
	tx_done(s2);
	tx_done(s3);
	expect_output(out_r, want, n);
	expect_no_more(err_r);
	assert_int_equal(LOCKED(d.bytes_out[CONSOLE_NR_STDOUT]), n);
	assert_int_equal(LOCKED(d.bytes_out[CONSOLE_NR_STDERR]), 0);
	/* Nothing was written into a transmit buffer. */
	assert_memory_equal(gp(at, 5), "abcde", 5);
}

/* stderr likewise, interleaved with stdout: each pipe gets its own bytes
 * in order. */
static void test_stderr_exact_and_interleaved(void **state)
{
	(void)state;
	handshake();
	char o[4096], e[4096];
	size_t no = 0, ne = 0;
	for (unsigned i = 0; i < 20; i++) {
		char b[64];
		int n = snprintf(b, sizeof(b), "out %u\n", i);
		tx(PTX(CONSOLE_NR_STDOUT), b, (size_t)n, 1 + i % 3);
		memcpy(o + no, b, (size_t)n);
		no += (size_t)n;
		n = snprintf(b, sizeof(b), "err %u\r\n%c", i, 0);
		n++;
		tx(PTX(CONSOLE_NR_STDERR), b, (size_t)n, 1 + i % 2);
		memcpy(e + ne, b, (size_t)n);
		ne += (size_t)n;
	}
	uint32_t len;
	for (unsigned i = 0; i < 20; i++) {
		assert_ptr_equal(must_used(PTX(CONSOLE_NR_STDOUT), &len),
				 &slots[PTX(CONSOLE_NR_STDOUT)][i]);
		assert_ptr_equal(must_used(PTX(CONSOLE_NR_STDERR), &len),
				 &slots[PTX(CONSOLE_NR_STDERR)][i]);
	}
	expect_output(out_r, o, no);
	expect_output(err_r, e, ne);
	assert_int_equal(LOCKED(d.bytes_out[CONSOLE_NR_STDERR]), ne);
}

/*
 * 1 MiB in sixteen 64 KiB buffers, read slowly in 4 KiB pieces: nothing
 * lost, and flow control holds throughout: the device completes a buffer
 * only once it is written, so what it has completed is never more than
 * what was read plus what the pipe holds.
 */
static void big_output(unsigned port, int rfd)
{
	handshake();
	const size_t B = 64 * 1024, N = 16, total = B * N;
	uint8_t *src = malloc(total), *got = malloc(total);
	for (size_t i = 0; i < total; i++)
		src[i] = pattern(i + port);
	int cap = fcntl(rfd, F_GETPIPE_SZ);
	assert_true(cap > 0);
	for (size_t i = 0; i < N; i++)
		tx(PTX(port), src + i * B, B, i % 2 ? 1 : 4);
	size_t rdone = 0, completed = 0;
	uint64_t end = now_ms() + 12 * TIMEOUT_MS;
	sleep_ms(200); /* the device fills the pipe and waits */
	while (completed < N || rdone < total) {
		uint32_t len;
		struct slot *s;
		while ((s = wait_used(PTX(port), &len, 0))) {
			assert_ptr_equal(s, &slots[PTX(port)][completed]);
			completed++;
		}
		if (completed * B > rdone + (size_t)cap)
			fail_msg("%zu bytes completed with %zu read and a pipe of %d", completed * B,
				 rdone, cap);
		if (rdone < total) {
			struct pollfd p = { rfd, POLLIN, 0 };
			if (poll(&p, 1, 10) == 1) {
				size_t want = total - rdone < 4096 ? total - rdone : 4096;
				ssize_t k = read(rfd, got + rdone, want);
				if (k < 0)
					assert_int_equal(errno, EAGAIN);
				else
					rdone += (size_t)k;
			}
			struct timespec ts = { 0, 300 * 1000 };
			nanosleep(&ts, NULL); /* a slow reader */
		} else {
			nap();
		}
		if (now_ms() > end)
			fail_msg("read %zu of %zu, %zu of %zu buffers completed", rdone, total,
				 completed, N);
	}
	assert_memory_equal(got, src, total);
	expect_no_more(rfd);
	assert_int_equal(LOCKED(d.bytes_out[port]), total);
	free(src);
	free(got);
}

static void test_stdout_large_slow_reader(void **state)
{
	(void)state;
	big_output(CONSOLE_NR_STDOUT, out_r);
}

/* pier's stderr non-blocking: the device waits for room, loses nothing. */
static void test_stderr_large_nonblocking(void **state)
{
	(void)state;
	set_nonblock(2, true);
	big_output(CONSOLE_NR_STDERR, err_r);
}

/*
 * stdout's reader goes away: the next stdout buffer completes, the device
 * says PORT_OPEN(2, 0) once, later buffers complete without being
 * written, stderr is unaffected, and a new driver is told the port is
 * closed.
 */
static void test_stdout_reader_gone(void **state)
{
	(void)state;
	handshake();
	stdout_works("first");
	close_fd(&out_r);
	tx_done(tx(PTX(CONSOLE_NR_STDOUT), "lost", 4, 1));
	expect_ctl(CONSOLE_NR_STDOUT, VIRTIO_CONSOLE_PORT_OPEN, 0);
	assert_true(LOCKED(d.host_closed[CONSOLE_NR_STDOUT]));
	uint64_t out = LOCKED(d.bytes_out[CONSOLE_NR_STDOUT]);
	for (unsigned i = 0; i < 5; i++)
		tx_done(tx(PTX(CONSOLE_NR_STDOUT), "more", 4, 2));
	assert_int_equal(LOCKED(d.bytes_out[CONSOLE_NR_STDOUT]), out);
	expect_quiet(); /* the close is said once */
	stderr_works("stderr still works\n");
	static const uint16_t open[CONSOLE_MAX_PORTS] = { 0, 1, 0, 1, 1 };
	handshake_expect(open);
	tx_done(tx(PTX(CONSOLE_NR_STDOUT), "after reset", 11, 1));
	assert_int_equal(LOCKED(d.bytes_out[CONSOLE_NR_STDOUT]), out);
	stderr_works("and after the reset\n");
	assert_int_equal(LOCKED(d.errors), 0);
}

/* ==== pier.ctl ==== */

static void ctl_port_send(const void *p, uint32_t n, unsigned segs)
{
	tx_done(tx(PTX(CONSOLE_NR_CTL), p, n, segs));
}

/*
 * Records from the guest: a SET_TERMIOS split over two requests is put
 * together (no terminal here, so applying it does nothing); records of
 * unknown types are skipped; several records in one request, cut at odd
 * places over descriptors; SYNC comes back with its argument.
 */
static void test_ctl_records_from_guest(void **state)
{
	(void)state;
	handshake();
	struct console_ctl_msg t = { .type = CONSOLE_CTL_SET_TERMIOS, .arg = 0, .how = TCSETS };
	memcpy(t.termios, hello.termios, sizeof(t.termios));
	ctl_port_send(&t, 20, 1);
	assert_int_equal(LOCKED(d.rec_len), 20);
	ctl_port_send((uint8_t *)&t + 20, sizeof(t) - 20, 1);
	assert_int_equal(LOCKED(d.rec_len), 0);
	/* Unknown types, and SET_TERMIOS for streams or requests that do not
	 * exist. */
	uint8_t junk[sizeof(struct console_ctl_msg)];
	for (unsigned i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	memcpy(junk, &(uint32_t){ 0xdeadbeef }, 4);
	ctl_port_send(junk, sizeof(junk), 2);
	struct console_ctl_msg z = { 0 };
	ctl_port_send(&z, sizeof(z), 1);
	struct console_ctl_msg bad = t;
	bad.arg = 7;
	ctl_port_send(&bad, sizeof(bad), 1);
	bad.arg = 1;
	bad.how = 0x1234;
	ctl_port_send(&bad, sizeof(bad), 1);
	/* A host-to-guest type from the guest: skipped too. */
	struct console_ctl_msg sig = { .type = CONSOLE_CTL_SIGNAL, .arg = SIGKILL };
	ctl_port_send(&sig, sizeof(sig), 1);
	assert_int_equal(LOCKED(d.rec_len), 0);
	/* SYNC(77) after a termios record and junk, all in one request. */
	uint8_t three[3 * sizeof(struct console_ctl_msg)];
	struct console_ctl_msg s = { .type = CONSOLE_CTL_SYNC, .arg = 77 };
	memcpy(three, &t, sizeof(t));
	memcpy(three + sizeof(t), junk, sizeof(junk));
	memcpy(three + 2 * sizeof(t), &s, sizeof(s));
	ctl_port_send(three, sizeof(three), 5);
	struct console_ctl_msg r;
	expect_record(CONSOLE_CTL_SYNC, 77, &r);
	/* SYNC one byte, then the rest. */
	s.arg = 78;
	ctl_port_send(&s, 1, 1);
	assert_int_equal(LOCKED(d.rec_len), 1);
	ctl_port_send((uint8_t *)&s + 1, sizeof(s) - 1, 3);
	expect_record(CONSOLE_CTL_SYNC, 78, &r);
	assert_int_equal(LOCKED(d.rec_len), 0);
	/* Nothing else came back, and the device goes on. */
	expect_quiet();
	stdout_works("after the records\n");
	assert_int_equal(LOCKED(d.errors), 0);
}

/*
 * pier.ctl is a byte stream: five records in one 280-byte request are
 * five records (a guest writing several at once), and the stream stays
 * in step for the next one.
 */
static void test_ctl_many_records_in_one_request(void **state)
{
	(void)state;
	handshake();
	struct console_ctl_msg five[5];
	memset(five, 0, sizeof(five));
	for (unsigned i = 0; i < 5; i++)
		five[i] = (struct console_ctl_msg){ .type = CONSOLE_CTL_SYNC, .arg = 100 + i };
	ctl_port_send(five, sizeof(five), 1);
	for (unsigned i = 0; i < 5; i++)
		expect_record(CONSOLE_CTL_SYNC, 100 + i, NULL);
	struct console_ctl_msg s = { .type = CONSOLE_CTL_SYNC, .arg = 200 };
	ctl_port_send(&s, sizeof(s), 1);
	expect_record(CONSOLE_CTL_SYNC, 200, NULL);
	assert_int_equal(LOCKED(d.rec_len), 0);
}

/* Signals reach the guest as SIGNAL records, in order; SIGWINCH without a
 * terminal sends nothing; a flood is bounded, not fatal. */
static void test_signal_records(void **state)
{
	(void)state;
	handshake();
	virtio_console_dev_signal(&d, SIGWINCH);
	virtio_console_dev_signal(&d, SIGTERM);
	struct console_ctl_msg r;
	expect_record(CONSOLE_CTL_SIGNAL, SIGTERM, &r);
	assert_int_equal(r.arg, 15);
	struct console_ctl_msg want = { .type = CONSOLE_CTL_SIGNAL, .arg = 15 };
	assert_memory_equal(&r, &want, sizeof(r)); /* the rest is zero */
	virtio_console_dev_signal(&d, SIGINT);
	virtio_console_dev_signal(&d, SIGHUP);
	expect_record(CONSOLE_CTL_SIGNAL, SIGINT, NULL);
	expect_record(CONSOLE_CTL_SIGNAL, SIGHUP, NULL);
	/* 200 at once, with 8 receive buffers: what arrives is in order, at
	 * least the 64 the device keeps, and the device goes on. */
	for (unsigned i = 0; i < 200; i++)
		virtio_console_dev_signal(&d, 1000 + (int)i);
	unsigned n = 0, last = 0;
	while (rec_recv(&r, 500)) {
		assert_int_equal(r.type, CONSOLE_CTL_SIGNAL);
		assert_true(r.arg >= 1000 && r.arg < 1200);
		assert_true(n == 0 || r.arg > last);
		last = r.arg;
		n++;
	}
	assert_true(n >= CONSOLE_DEV_PENDING && n <= 200);
	expect_quiet();
	stdout_works("after the flood\n");
}

/* HELLO is pier.ctl's first record, even when a signal came before the
 * guest said the port was ready. */
static void test_signal_before_ctl_ready(void **state)
{
	(void)state;
	driver_init();
	post_ctl_buffers();
	device_ready();
	for (uint32_t p = 1; p < CONSOLE_NR_CTL; p++)
		port_ready(p, 1);
	virtio_console_dev_signal(&d, SIGINT);
	sleep_ms(100);
	port_ready(CONSOLE_NR_CTL, 1); /* fails if the SIGNAL came first */
	expect_record(CONSOLE_CTL_SIGNAL, SIGINT, NULL);
}

/* ==== a hostile driver ==== */

/* Too short (0, 1, 7 bytes), no readable part: ignored, completed. Split
 * over descriptors or followed by junk: a control message all the same. */
static void test_hostile_short_control(void **state)
{
	(void)state;
	driver_init();
	post_ctl_buffers();
	struct virtio_console_control rdy = { VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1 };
	ctl_send_raw(&rdy, 7, 1);
	ctl_send_raw(&rdy, 7, 3);
	ctl_send_raw(&rdy, 1, 1);
	ctl_send_raw(&rdy, 0, 1);
	/* The message in a writable buffer: not the driver's to send that way. */
	unsigned k = free_slot(CTX);
	memcpy(gp(SLOT(CTX, k), sizeof(rdy)), &rdy, sizeof(rdy));
	struct virtq_buf in = { SLOT(CTX, k), sizeof(rdy) };
	submit(CTX, k, NULL, 0, &in, 1);
	uint32_t len;
	assert_ptr_equal(must_used(CTX, &len), &slots[CTX][k]);
	assert_int_equal(len, 0);
	expect_no_ctl_for(300);
	assert_false(LOCKED(d.guest_ready));
	/* Split 3 + 5: whole. */
	ctl_send_raw(&rdy, sizeof(rdy), 2);
	for (uint32_t p = 1; p <= CONSOLE_NR_CTL; p++)
		expect_ctl(p, VIRTIO_CONSOLE_PORT_ADD, 1);
	/* Followed by junk: the header counts. */
	uint8_t longer[64];
	memset(longer, 0xab, sizeof(longer));
	struct virtio_console_control pr = { CONSOLE_NR_CTL, VIRTIO_CONSOLE_PORT_READY, 1 };
	memcpy(longer, &pr, sizeof(pr));
	ctl_send_raw(longer, sizeof(longer), 1);
	expect_name(CONSOLE_NR_CTL, CONSOLE_PORT_CTL);
	expect_ctl(CONSOLE_NR_CTL, VIRTIO_CONSOLE_PORT_OPEN, 1);
	expect_record(CONSOLE_CTL_HELLO, 0, NULL);
	/* Short PORT_READY for port 1: nothing. */
	pr.id = CONSOLE_NR_STDIN;
	ctl_send_raw(&pr, 6, 1);
	ctl_send_raw(&pr, 4, 2);
	expect_quiet();
	assert_false(LOCKED(d.port_ready[CONSOLE_NR_STDIN]));
	port_ready(CONSOLE_NR_STDIN, 1);
	assert_int_equal(LOCKED(d.errors), 0);
}

/* Port ids out of range, port 0, events only the device sends: ignored. */
static void test_hostile_port_ids(void **state)
{
	(void)state;
	handshake();
	/* pier.exec's and pier.net's numbers too: this VM offers neither. */
	static const uint32_t ids[] = { 0, CONSOLE_NR_EXEC, CONSOLE_NR_NET, CONSOLE_MAX_PORTS, 8, 0x7fffffff,
					0xffffffff };
	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		ctl_send(ids[i], VIRTIO_CONSOLE_PORT_READY, 1);
		ctl_send(ids[i], VIRTIO_CONSOLE_PORT_OPEN, 1);
		ctl_send(ids[i], VIRTIO_CONSOLE_PORT_OPEN, 0);
	}
	static const uint16_t events[] = { VIRTIO_CONSOLE_PORT_ADD, VIRTIO_CONSOLE_PORT_REMOVE,
					   VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_RESIZE,
					   VIRTIO_CONSOLE_PORT_NAME, 8, 0xffff };
	for (unsigned i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		ctl_send(CONSOLE_NR_STDOUT, events[i], 1);
		ctl_send(0xffffffff, events[i], 0xffff);
	}
	expect_quiet();
	stdout_works("ports still fine\n");
	stderr_works("both\n");
	pthread_mutex_lock(&d.t.lock);
	assert_int_equal(d.errors, 0);
	assert_false(d.host_closed[CONSOLE_NR_STDOUT]);
	pthread_mutex_unlock(&d.t.lock);
}

/* ==== pier.exec ==== */

/* The handshake of a VM that offers exec: pier.exec is added and named,
 * and HELLO says so. */
static void exec_handshake(void)
{
	driver_init();
	post_ctl_buffers();
	ctl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t p = 1; p <= CONSOLE_NR_EXEC; p++)
		if (p != CONSOLE_NR_NET) /* not offered here */
			expect_ctl(p, VIRTIO_CONSOLE_PORT_ADD, 1);
	for (uint32_t p = 1; p <= CONSOLE_NR_CTL; p++) {
		ctl_send(p, VIRTIO_CONSOLE_PORT_READY, 1);
		expect_name(p, port_name[p]);
		expect_ctl(p, VIRTIO_CONSOLE_PORT_OPEN, 1);
		if (p == CONSOLE_NR_CTL)
			expect_record(CONSOLE_CTL_HELLO, 0, &hello);
	}
	assert_true(hello.how & CONSOLE_HELLO_EXEC);
	ctl_send(CONSOLE_NR_EXEC, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_name(CONSOLE_NR_EXEC, CONSOLE_PORT_EXEC);
	expect_ctl(CONSOLE_NR_EXEC, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ctl_send(CONSOLE_NR_EXEC, VIRTIO_CONSOLE_PORT_OPEN, 1);
}

/* The guest's bytes on pier.exec reach the socket exactly (over several
 * segments), and the socket's bytes fill the guest's receive buffers. */
static void test_exec_port_both_ways(void **state)
{
	(void)state;
	exec_handshake();
	static const char out[] = "a record, or any bytes: the port is a stream";
	tx_done(tx(PTX(CONSOLE_NR_EXEC), out, sizeof(out) - 1, 3));
	expect_output(exec_sock, out, sizeof(out) - 1);
	post_rx(PRX(CONSOLE_NR_EXEC), 64);
	static const char in[] = "from the exec server";
	assert_int_equal(write(exec_sock, in, sizeof(in) - 1), sizeof(in) - 1);
	uint32_t len;
	struct slot *s = must_used(PRX(CONSOLE_NR_EXEC), &len);
	assert_int_equal(len, sizeof(in) - 1);
	assert_memory_equal(gp(SLOT(s->qi, s->k), len), in, len);
	post_rx_at(s->qi, s->k, 64);
	/* The server going away is the port's host side closing. */
	close_fd(&exec_sock);
	expect_ctl(CONSOLE_NR_EXEC, VIRTIO_CONSOLE_PORT_OPEN, 0);
	stdout_works("stdio goes on\n");
}

/* A socket that takes nothing holds the guest's request (not the device:
 * stdout still flows), and it goes out whole once there is room. */
static void test_exec_port_waits_for_the_socket(void **state)
{
	(void)state;
	exec_handshake();
	int size = 4096;
	setsockopt(d.relay[CONSOLE_RELAY_EXEC].fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	size_t n = 2 * 120 * 1024;
	uint8_t *big = malloc(n), *got = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 7 + 1);
	struct slot *s = tx(PTX(CONSOLE_NR_EXEC), big, n / 2, 1);
	struct slot *t = tx(PTX(CONSOLE_NR_EXEC), big + n / 2, n / 2, 1);
	stdout_works("not held up\n");
	uint32_t len;
	assert_null(wait_used(PTX(CONSOLE_NR_EXEC), &len, 100)); /* still waiting for room */
	read_exact(exec_sock, got, n);
	assert_memory_equal(got, big, n);
	struct slot *first = must_used(PTX(CONSOLE_NR_EXEC), &len);
	struct slot *second = must_used(PTX(CONSOLE_NR_EXEC), &len);
	assert_ptr_equal(first, s);
	assert_ptr_equal(second, t);
	free(big);
	free(got);
}

/* DEVICE_READY(0), DEVICE_READY twice, PORT_READY(0), PORT_READY twice:
 * each answered at most once, and only when it means ready. */
static void test_hostile_repeats(void **state)
{
	(void)state;
	driver_init();
	post_ctl_buffers();
	ctl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 0);
	expect_no_ctl_for(300);
	device_ready();
	ctl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ctl_send(0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	port_ready(CONSOLE_NR_CTL, 1);
	expect_quiet(); /* no second round of PORT_ADD */
	ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_READY, 0);
	expect_quiet();
	port_ready(CONSOLE_NR_STDIN, 1);
	ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_READY, 1);
	ctl_send(CONSOLE_NR_CTL, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_quiet(); /* no second name, open or HELLO */
	port_ready(CONSOLE_NR_STDOUT, 1);
	port_ready(CONSOLE_NR_STDERR, 1);
	stdout_works("ok\n");
	assert_int_equal(LOCKED(d.errors), 0);
}

/*
 * A request the queue code refuses breaks its queue: the device counts
 * it, sets DEVICE_NEEDS_RESET with a configuration interrupt, and goes on
 * serving its other queues; after a reset a fresh handshake works.
 */
enum hostile {
	STDOUT_OUTSIDE_RAM, STDOUT_IN_HOLE, CTL_TX_LOOP, CTL_TX_BAD_HEAD, STDIN_RX_WRAPS,
	CTL_RX_OUTSIDE_RAM, REC_RX_BAD_NEXT,
};

static void hostile(enum hostile kind)
{
	unsigned qi;
	uint64_t errors;
	if (kind == CTL_RX_OUTSIDE_RAM) {
		/* The first control receive buffer reaches past the end of RAM:
		 * the device breaks the queue delivering PORT_ADD. */
		driver_init();
		qi = CRX;
		struct virtq_buf in = { RAM_SIZE - 100, 4096 };
		submit(qi, free_slot(qi), NULL, 0, &in, 1);
		post_ctl_buffers();
		errors = LOCKED(d.errors);
		efd_take(d.t.irq_fd);
		ctl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	} else {
		handshake();
		errors = LOCKED(d.errors);
		efd_take(d.t.irq_fd);
		unsigned k = 0;
		struct virtq_buf out = { SLOT(CTX, 0), 8 }, in = { SLOT(PRX(1), 0), 4096 };
		memset(gp(SLOT(CTX, 0), 8), 0, 8);
		switch (kind) {
		case STDOUT_OUTSIDE_RAM:
		case STDOUT_IN_HOLE:
			qi = PTX(CONSOLE_NR_STDOUT);
			out.addr = kind == STDOUT_IN_HOLE ? BASE : RAM_SIZE + 4096;
			assert_int_equal(virtq_add(&Q[qi], &out, 1, NULL, 0, &slots[qi][k]), 0);
			break;
		case CTL_TX_LOOP: {
			qi = CTX;
			struct virtq_buf two[2] = { out, out };
			assert_int_equal(virtq_add(&Q[qi], two, 2, NULL, 0, &slots[qi][k]), 0);
			uint16_t head = Q[qi].avail->ring[(uint16_t)(Q[qi].avail_idx - 1) & (QSIZE - 1)];
			uint16_t second = Q[qi].desc[head].next;
			Q[qi].desc[second].flags |= VRING_DESC_F_NEXT;
			Q[qi].desc[second].next = head;
			break;
		}
		case CTL_TX_BAD_HEAD:
			qi = CTX;
			assert_int_equal(virtq_add(&Q[qi], &out, 1, NULL, 0, &slots[qi][k]), 0);
			Q[qi].avail->ring[(uint16_t)(Q[qi].avail_idx - 1) & (QSIZE - 1)] = QSIZE + 3;
			break;
		case STDIN_RX_WRAPS:
			ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_OPEN, 1);
			qi = PRX(CONSOLE_NR_STDIN);
			in.addr = UINT64_MAX - 100;
			assert_int_equal(virtq_add(&Q[qi], NULL, 0, &in, 1, &slots[qi][k]), 0);
			break;
		case REC_RX_BAD_NEXT: {
			/* Behind the 8 good buffers, which 8 signals use up. */
			qi = PRX(CONSOLE_NR_CTL);
			k = 40;
			in.addr = SLOT(qi, k);
			struct virtq_buf two[2] = { in, in };
			assert_int_equal(virtq_add(&Q[qi], NULL, 0, two, 2, &slots[qi][k]), 0);
			uint16_t head = Q[qi].avail->ring[(uint16_t)(Q[qi].avail_idx - 1) & (QSIZE - 1)];
			Q[qi].desc[head].next = 0xffff;
			for (int i = 0; i < REC_BUFS + 1; i++)
				virtio_console_dev_signal(&d, SIGINT);
			break;
		}
		default:
			fail();
			return;
		}
		busy[qi][k] = true;
		notify(qi);
	}
	assert_true(WAIT_FOR(LOCKED(d.errors) == errors + 1, TIMEOUT_MS));
	assert_int_equal(LOCKED(d.errors), errors + 1);
	assert_true(LOCKED(d.t.q[qi].vq.broken));
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_true(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_true(efd_take(d.t.irq_fd) > 0);
	if (qi != PRX(CONSOLE_NR_CTL)) {
		uint32_t len;
		assert_null(wait_used(qi, &len, 0)); /* the bad request never completes */
	}
	/* The other queues are still served. */
	stderr_works("the device lives on\n");
	if (qi != PTX(CONSOLE_NR_STDOUT))
		stdout_works("stdout too\n");
	/* A reset clears NEEDS_RESET; a new driver gets a working device. */
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	handshake();
	assert_false(LOCKED(d.t.q[qi].vq.broken));
	stdout_works("after the reset\n");
	stdin_open(1, 64);
	assert_int_equal(write(in_w, "in", 2), 2);
	uint8_t b[2];
	stdin_take(b, 2);
	assert_memory_equal(b, "in", 2);
	expect_quiet();
	assert_int_equal(LOCKED(d.errors), errors + 1);
}

static void test_hostile_stdout_outside_ram(void **state)
{
	(void)state;
	hostile(STDOUT_OUTSIDE_RAM);
}

static void test_hostile_stdout_in_hole(void **state)
{
	(void)state;
	hostile(STDOUT_IN_HOLE);
}

static void test_hostile_control_loop(void **state)
{
	(void)state;
	hostile(CTL_TX_LOOP);
}

static void test_hostile_control_bad_head(void **state)
{
	(void)state;
	hostile(CTL_TX_BAD_HEAD);
}

static void test_hostile_stdin_buffer_wraps(void **state)
{
	(void)state;
	hostile(STDIN_RX_WRAPS);
}

static void test_hostile_control_rx_outside_ram(void **state)
{
	(void)state;
	hostile(CTL_RX_OUTSIDE_RAM);
}

static void test_hostile_ctl_rx_bad_next(void **state)
{
	(void)state;
	hostile(REC_RX_BAD_NEXT);
}

/* pier.ctl receive buffers smaller than a record, too large a record
 * request: the device neither crashes nor stops. */
static void test_hostile_odd_ctl_buffers(void **state)
{
	(void)state;
	driver_init();
	for (unsigned i = 0; i < CTL_BUFS; i++)
		post_rx(CRX, CTL_CAP);
	post_rx(PRX(CONSOLE_NR_CTL), 1);
	post_rx(PRX(CONSOLE_NR_CTL), 20);
	/* A receive "buffer" with no writable part. */
	unsigned k = free_slot(PRX(CONSOLE_NR_CTL));
	struct virtq_buf ro = { SLOT(PRX(CONSOLE_NR_CTL), k), 64 };
	submit(PRX(CONSOLE_NR_CTL), k, &ro, 1, NULL, 0);
	device_ready();
	for (uint32_t p = 1; p <= CONSOLE_NR_CTL; p++) {
		ctl_send(p, VIRTIO_CONSOLE_PORT_READY, 1);
		expect_name(p, port_name[p]);
		expect_ctl(p, VIRTIO_CONSOLE_PORT_OPEN, 1);
	}
	/* HELLO and two signals into them: whatever fits (the used ring's
	 * lengths are checked against each buffer by virtq_get_used), and
	 * nothing into the one without room. */
	virtio_console_dev_signal(&d, SIGINT);
	virtio_console_dev_signal(&d, SIGINT);
	uint32_t len;
	struct slot *s;
	while ((s = wait_used(PRX(CONSOLE_NR_CTL), &len, 300)))
		if (s->k == k)
			assert_int_equal(len, 0);
	/* 64 KiB of records at once, in one descriptor and in eight: more
	 * than the device takes in one go. */
	uint8_t *big = calloc(1, 65536);
	ctl_port_send(big, 65536, 1);
	ctl_port_send(big, 65536, 8);
	free(big);
	stdout_works("still here\n");
	assert_int_equal(LOCKED(d.errors), 0);
}

/* ==== resets ==== */

/*
 * A reset in the middle of the handshake, with control messages and
 * records still undelivered (no buffers for them): the new driver starts
 * from scratch and sees none of the old ones.
 */
static void test_reset_mid_handshake(void **state)
{
	(void)state;
	driver_init();
	ctl_send(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ctl_send(CONSOLE_NR_STDOUT, VIRTIO_CONSOLE_PORT_READY, 1);
	ctl_send(CONSOLE_NR_CTL, VIRTIO_CONSOLE_PORT_READY, 1);
	virtio_console_dev_signal(&d, SIGTERM);
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_false(LOCKED(d.guest_ready));
	handshake(); /* exactly PORT_ADD 1..4, then one HELLO first */
	expect_quiet();
	stdout_works("one\n");
	/* Again after a complete handshake and some traffic. (Stdin only
	 * after it: see test_reset_with_held_stdin_buffer.) */
	stderr_works("traffic\n");
	wr(VIRTIO_MMIO_STATUS, 0);
	handshake();
	stdout_works("two\n");
	uint8_t b[3];
	stdin_open(2, 128);
	assert_int_equal(write(in_w, "def", 3), 3);
	stdin_take(b, 3);
	assert_memory_equal(b, "def", 3);
	assert_int_equal(LOCKED(d.errors), 0);
}

/*
 * A reset while the device is blocked writing stdout (the pipe is full):
 * the write finishes when the reader reads, but its completion must not
 * land in the new driver's rings.
 */
static void test_reset_while_writing(void **state)
{
	(void)state;
	handshake();
	int cap = fcntl(out_r, F_GETPIPE_SZ);
	assert_true(cap > 0 && cap <= 64 * 1024);
	uint8_t *buf = malloc(128 * 1024);
	for (size_t i = 0; i < 128 * 1024; i++)
		buf[i] = pattern(i);
	struct slot *s1 = tx(PTX(CONSOLE_NR_STDOUT), buf, 64 * 1024, 1);
	tx(PTX(CONSOLE_NR_STDOUT), buf + 64 * 1024, 64 * 1024, 1);
	/* The first fills the pipe; the device then blocks on the second. */
	uint32_t len;
	if (cap == 64 * 1024)
		assert_ptr_equal(must_used(PTX(CONSOLE_NR_STDOUT), &len), s1);
	assert_true(WAIT_FOR(device_took(PTX(CONSOLE_NR_STDOUT), 2), TIMEOUT_MS));
	sleep_ms(50);
	wr(VIRTIO_MMIO_STATUS, 0);
	driver_init(); /* new, empty rings where the old ones were */
	uint8_t *got = malloc(128 * 1024);
	read_exact(out_r, got, 128 * 1024); /* what the device took goes out */
	assert_memory_equal(got, buf, 128 * 1024);
	post_ctl_buffers();
	device_ready();
	for (uint32_t p = 1; p <= CONSOLE_NR_CTL; p++)
		port_ready(p, 1);
	assert_null(wait_used(PTX(CONSOLE_NR_STDOUT), &len, 100));
	stdout_works("new session\n");
	free(buf);
	free(got);
}

/*
 * A reset while the device holds a stdin receive buffer (waiting for
 * input): after the new handshake, input goes into the new driver's
 * buffer, not into the memory of the one posted before the reset.
 */
static void test_reset_with_held_stdin_buffer(void **state)
{
	(void)state;
	handshake();
	stdin_open(1, 256); /* slot 0 */
	assert_true(WAIT_FOR(device_took(PRX(CONSOLE_NR_STDIN), 1), TIMEOUT_MS));
	sleep_ms(20);
	wr(VIRTIO_MMIO_STATUS, 0);
	handshake();
	ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_OPEN, 1);
	memset(gp(SLOT(PRX(CONSOLE_NR_STDIN), 0), 256), FILL, 256);
	post_rx_at(PRX(CONSOLE_NR_STDIN), 5, 256);
	assert_int_equal(write(in_w, "xyz", 3), 3);
	uint32_t len;
	struct slot *s = must_used(PRX(CONSOLE_NR_STDIN), &len);
	assert_ptr_equal(s, &slots[PRX(CONSOLE_NR_STDIN)][5]);
	assert_int_equal(len, 3);
	if (memcmp(gp(SLOT(PRX(CONSOLE_NR_STDIN), 5), 3), "xyz", 3) != 0)
		fail_msg("stdin went elsewhere (old buffer holds \"%.3s\")",
			 (const char *)gp(SLOT(PRX(CONSOLE_NR_STDIN), 0), 3));
	assert_int_equal(*gp(SLOT(PRX(CONSOLE_NR_STDIN), 0), 1), FILL);
}

/* Device thread CPU time, in ms. */
static uint64_t device_cpu_ms(void)
{
	clockid_t cid;
	struct timespec ts;
	assert_int_equal(pthread_getcpuclockid(d.thread, &cid), 0);
	assert_int_equal(clock_gettime(cid, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The guest closes stdin while the device holds one of its buffers and
 * input is waiting: the device must wait, not spin, and deliver once the
 * guest opens the port again.
 */
static void test_stdin_closed_by_guest_no_spin(void **state)
{
	(void)state;
	handshake();
	stdin_open(1, 256);
	assert_true(WAIT_FOR(device_took(PRX(CONSOLE_NR_STDIN), 1), TIMEOUT_MS));
	ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_OPEN, 0);
	assert_int_equal(write(in_w, "abc", 3), 3);
	uint64_t before = device_cpu_ms();
	sleep_ms(500);
	uint64_t used = device_cpu_ms() - before;
	uint32_t len;
	assert_null(wait_used(PRX(CONSOLE_NR_STDIN), &len, 0)); /* the port is closed */
	ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_OPEN, 1);
	uint8_t b[3];
	stdin_take(b, 3);
	assert_memory_equal(b, "abc", 3);
	if (used > 100)
		fail_msg("the device thread used %llu ms of CPU in 500 ms while idle",
			 (unsigned long long)used);
}

/*
 * A stdin receive request without a writable part: completed empty (or
 * skipped), never taken for end of file; input goes to the next buffer.
 */
static void test_hostile_stdin_buffer_without_room(void **state)
{
	(void)state;
	handshake();
	ctl_send(CONSOLE_NR_STDIN, VIRTIO_CONSOLE_PORT_OPEN, 1);
	unsigned k = free_slot(PRX(CONSOLE_NR_STDIN));
	struct virtq_buf ro = { SLOT(PRX(CONSOLE_NR_STDIN), k), 64 };
	submit(PRX(CONSOLE_NR_STDIN), k, &ro, 1, NULL, 0);
	post_rx(PRX(CONSOLE_NR_STDIN), 64);
	assert_int_equal(write(in_w, "hello", 5), 5);
	uint8_t got[5];
	size_t n = 0;
	uint64_t end = now_ms() + TIMEOUT_MS;
	while (n < 5 && now_ms() < end) {
		uint32_t len;
		struct slot *s = wait_used(PRX(CONSOLE_NR_STDIN), &len, 50);
		if (s && s->k != k) {
			assert_true(n + len <= 5);
			memcpy(got + n, gp(SLOT(s->qi, s->k), len ? len : 1), len);
			n += len;
		} else if (s) {
			assert_int_equal(len, 0);
		}
		struct ctl c;
		if (ctl_recv(&c, 0))
			fail_msg("control message id %u event %u value %u (stdin taken for closed?)",
				 c.id, c.event, c.value);
	}
	assert_int_equal(n, 5);
	assert_memory_equal(got, "hello", 5);
	assert_false(LOCKED(d.host_closed[CONSOLE_NR_STDIN]));
}

/* Stopping with requests posted and the guest mid-conversation: the
 * thread is joined; the structure starts again. */
static void test_stop_with_pending(void **state)
{
	(void)state;
	handshake();
	stdin_open(4, 4096);
	tx(PTX(CONSOLE_NR_STDOUT), "pending", 7, 1);
	virtio_console_dev_stop(&d);
	assert_false(d.started);
	/* "pending" went out whole before the stop, or not at all. */
	char b[16];
	struct pollfd p = { out_r, POLLIN, 0 };
	if (poll(&p, 1, 0) == 1) {
		read_exact(out_r, b, 7);
		assert_memory_equal(b, "pending", 7);
	}
	assert_int_equal(d.stop_fd, -1);
	assert_int_equal(d.t.irq_fd, -1);
	virtio_console_dev_signal(&d, SIGTERM); /* stopped: ignored */
	assert_int_equal(virtio_console_dev_start(&d, &m, BASE, GSI, -1, -1), 0);
	handshake();
	stdout_works("restarted\n");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(300); /* a hung device thread fails the run instead of hanging it */
	/* The C library's streams and the sanitizers keep the real stdout and
	 * stderr while 0, 1, 2 are the test's pipes. */
	real_err = fcntl(2, F_DUPFD_CLOEXEC, 10);
	real_out = fcntl(1, F_DUPFD_CLOEXEC, 10);
	if (real_err < 0 || real_out < 0)
		return 1;
	fflush(NULL);
	FILE *e = fdopen(real_err, "w"), *o = fdopen(real_out, "w");
	if (!e || !o)
		return 1;
	setvbuf(e, NULL, _IONBF, 0);
	setvbuf(o, NULL, _IOLBF, 0);
	stderr = e;
	stdout = o;
#if defined(__SANITIZE_ADDRESS__)
	__sanitizer_set_report_fd((void *)(intptr_t)real_err);
#endif
#define T(f) cmocka_unit_test_setup_teardown(f, dev_up, dev_down)
	const struct CMUnitTest tests[] = {
		T(test_identity_and_config),
		T(test_handshake),
		T(test_hello_shared_output),
		T(test_stdin_binary_and_eof),
		T(test_stdin_eof_without_data),
		T(test_stdin_waits_for_guest_open),
		T(test_stdout_exact),
		T(test_stderr_exact_and_interleaved),
		T(test_stdout_large_slow_reader),
		T(test_stderr_large_nonblocking),
		T(test_stdout_reader_gone),
		T(test_ctl_records_from_guest),
		T(test_ctl_many_records_in_one_request),
		T(test_signal_records),
		T(test_signal_before_ctl_ready),
		T(test_hostile_short_control),
		T(test_hostile_port_ids),
		cmocka_unit_test_setup_teardown(test_exec_port_both_ways, dev_up_exec, dev_down),
		cmocka_unit_test_setup_teardown(test_exec_port_waits_for_the_socket, dev_up_exec,
						dev_down),
		T(test_hostile_repeats),
		T(test_hostile_stdout_outside_ram),
		T(test_hostile_stdout_in_hole),
		T(test_hostile_control_loop),
		T(test_hostile_control_bad_head),
		T(test_hostile_stdin_buffer_wraps),
		T(test_hostile_control_rx_outside_ram),
		T(test_hostile_ctl_rx_bad_next),
		T(test_hostile_odd_ctl_buffers),
		T(test_hostile_stdin_buffer_without_room),
		T(test_reset_mid_handshake),
		T(test_reset_while_writing),
		T(test_reset_with_held_stdin_buffer),
		T(test_stdin_closed_by_guest_no_spin),
		T(test_stop_with_pending),
	};
#undef T
	return cmocka_run_group_tests_name("vmm_console", tests, group_setup, group_teardown);
}
