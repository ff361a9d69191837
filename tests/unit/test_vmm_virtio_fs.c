/*
 * End-to-end tests for host/vmm/virtio_fs_dev.c without KVM: the device
 * runs (with its own thread) on a real guest_mem serving a temporary
 * directory, and the test is the guest driver. It programs the transport
 * through virtio_mmio_read/write as a vCPU's MMIO exits would, drives
 * queue 1 with the driver side of lib/virtq.c over rings placed in guest
 * RAM (addresses are guest physical), and talks FUSE with buffers in
 * guest RAM, split over several descriptors. Completion is awaited by
 * polling the used ring, with a deadline. Hostile chains must break the
 * queue, never the device, and the thread must always stop cleanly.
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
#include <ftw.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <linux/fuse.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <pier/fuse_msg.h>
#include <pier/virtq.h>
#include "fuse_server.h"
#include "vmm/guest_mem.h"
#include "vmm/virtio_fs_dev.h"
#include "scratch_dir.h"

#define MiB (1ULL << 20)
#define RAM_SIZE (16 * MiB)
#define BASE 0xd0000000ULL
#define QSIZE 64
/* Guest physical layout the "driver" uses. */
#define RING0 0x100000ULL       /* hiprio queue */
#define RING1 0x110000ULL       /* request queue */
#define RING2 0x120000ULL       /* a second request queue */
#define REQ 0x200000ULL         /* request header */
#define REQ_PL 0x201000ULL      /* request payload, its own descriptor */
#define BULK 0x300000ULL        /* large readable data for hostile requests */
#define REP 0x600000ULL         /* reply header */
#define REQ2 0x700000ULL        /* another request at once: its header */
#define REP2 0x701000ULL        /* and its reply */
#define REP_PL 0x601000ULL      /* reply payload pieces, with gaps between */
#define PIECE_GAP 0x1000ULL
#define TIMEOUT_MS 10000

#define HELLO "hello from the host\n"
#define BIG_SIZE (200 * 1024 + 77)

static char base[64], tree[96];
static struct guest_mem m;
static struct virtio_fs_dev d;
static struct virtq q0, q1, q2;
static void *meta0, *meta1, *meta2;
static uint64_t unique_ctr = 1;
static uint8_t rep[FUSE_SERVER_MAX_READ + 4096]; /* the reply, reassembled */
static unsigned tok; /* token for virtq_add */

static uint8_t *gp(uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&m, gpa, len);
	assert_non_null(p);
	return p;
}

static uint8_t big_byte(size_t i)
{
	return (uint8_t)(i * 31 + i / 509);
}

static void put_file(const char *rel, const void *data, size_t len)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The shared tree: hello.txt, big.bin, sub/inner.txt. */
static int setup(void **state)
{
	(void)state;
	strcpy(base, "/tmp/pier-vfsdev-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(tree, sizeof(tree), "%s/tree", base);
	assert_int_equal(mkdir(tree, 0755), 0);
	put_file("hello.txt", HELLO, strlen(HELLO));
	uint8_t *big = malloc(BIG_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i++)
		big[i] = big_byte(i);
	put_file("big.bin", big, BIG_SIZE);
	free(big);
	char p[256];
	snprintf(p, sizeof(p), "%s/sub", tree);
	assert_int_equal(mkdir(p, 0755), 0);
	put_file("sub/inner.txt", "inner\n", 6);
	meta0 = malloc(virtq_meta_bytes(QSIZE));
	meta1 = malloc(virtq_meta_bytes(QSIZE));
	meta2 = malloc(virtq_meta_bytes(QSIZE));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	scratch_remove_tree(base);
	free(meta0);
	free(meta1);
	free(meta2);
	return 0;
}

static bool workers_started(const struct virtio_fs_dev *v)
{
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		if (v->workers[i].started)
			return true;
	return false;
}

static int dev_up(void **state)
{
	(void)state;
	assert_int_equal(guest_mem_init(&m, RAM_SIZE), 0);
	assert_int_equal(virtio_fs_dev_start(&d, &m, BASE, 16, "root", tree, true, 1), 0);
	return 0;
}

static int dev_down(void **state)
{
	(void)state;
	virtio_fs_dev_stop(&d); /* must join the threads, whatever the guest did */
	assert_false(workers_started(&d));
	assert_null(d.server);
	guest_mem_free(&m);
	return 0;
}

static uint32_t rd(uint64_t off)
{
	return virtio_mmio_read(&d.t, off, 4);
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_write(&d.t, off, 4, v);
}

static uint64_t efd_take(int fd)
{
	uint64_t v = 0;
	ssize_t n = read(fd, &v, sizeof(v));
	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	return v;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = { 0, 100 * 1000 };
	nanosleep(&ts, NULL);
}

/* Device counters, kept by atomics (several queue threads count). */
static uint64_t dev_requests(void)
{
	return __atomic_load_n(&d.requests, __ATOMIC_RELAXED);
}

static uint64_t dev_errors(void)
{
	return __atomic_load_n(&d.errors, __ATOMIC_RELAXED);
}

static bool dev_queue_broken(unsigned qi)
{
	pthread_mutex_lock(&d.t.lock);
	bool b = d.t.q[qi].vq.broken;
	pthread_mutex_unlock(&d.t.lock);
	return b;
}

/* Sets queue qi up over `ring` and tells the device. */
static void queue_up(unsigned qi, struct virtq *q, uint64_t ring, void *meta, bool event_idx)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, qi);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(VIRTIO_MMIO_QUEUE_NUM_MAX) >= QSIZE);
	memset(gp(ring, virtq_ring_bytes(QSIZE)), 0, virtq_ring_bytes(QSIZE));
	assert_int_equal(virtq_init(q, QSIZE, gp(ring, virtq_ring_bytes(QSIZE)), ring, meta,
				    event_idx),
			 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc_addr);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc_addr >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail_addr);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(q->avail_addr >> 32));
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used_addr);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(q->used_addr >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
}

/* The driver's side of device initialization (virtio 1.x, 3.1.1). */
static void driver_init(bool event_idx, bool hiprio)
{
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_FS);
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t f = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t)rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	assert_true(f & (1ULL << VIRTIO_F_VERSION_1));
	assert_true(f & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	uint64_t want = (1ULL << VIRTIO_F_VERSION_1) |
			(event_idx ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		     VIRTIO_CONFIG_S_FEATURES_OK;
	wr(VIRTIO_MMIO_STATUS, s);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), s);
	if (hiprio)
		queue_up(0, &q0, RING0, meta0, event_idx);
	queue_up(1, &q1, RING1, meta1, event_idx);
	wr(VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), s | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void notify(unsigned qi)
{
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

/* Waits for the next completion on q; returns the bytes written, or -1
 * when none came within `ms`. */
static int64_t wait_used(struct virtq *q, void *token, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	uint32_t len;
	void *t;
	while (!(t = virtq_get_used(q, &len))) {
		assert_false(q->broken);
		if (now_ms() > end)
			return -1;
		nap();
	}
	assert_ptr_equal(t, token);
	return len;
}

/*
 * One FUSE request on queue qi: the header and payload in two readable
 * descriptors, the reply header in one writable descriptor and `cap` bytes
 * of payload room in `pieces` writable descriptors with gaps between them.
 * Returns the bytes the device wrote; the reply, reassembled, is in rep.
 */
static int64_t send(struct virtq *q, unsigned qi, uint32_t op, uint64_t nodeid,
		    const void *pl, uint32_t plen, uint32_t cap, unsigned pieces)
{
	struct fuse_in_header h;
	fuse_msg_header(&h, op, unique_ctr++, nodeid, (uint32_t)(sizeof(h) + plen));
	memcpy(gp(REQ, sizeof(h)), &h, sizeof(h));
	if (plen)
		memcpy(gp(REQ_PL, plen), pl, plen);
	struct virtq_buf out[2] = { { REQ, sizeof(h) }, { REQ_PL, plen } };
	struct virtq_buf in[17];
	unsigned nin = 0;
	in[nin++] = (struct virtq_buf){ REP, sizeof(struct fuse_out_header) };
	uint32_t piece = pieces ? (cap + pieces - 1) / pieces : 0;
	uint64_t at = REP_PL;
	for (uint32_t left = cap; left && nin < 17; nin++) {
		uint32_t n = left < piece ? left : piece;
		in[nin] = (struct virtq_buf){ at, n };
		memset(gp(at, n), 0xa5, n);
		at += n + PIECE_GAP;
		left -= n;
	}
	memset(gp(REP, sizeof(struct fuse_out_header)), 0xa5, sizeof(struct fuse_out_header));
	assert_int_equal(virtq_add(q, out, plen ? 2 : 1, in, nin, &tok), 0);
	notify(qi);
	int64_t n = wait_used(q, &tok, TIMEOUT_MS);
	assert_true(n >= 0); /* else the device never answered */
	/* Reassemble what the device wrote, in descriptor order. */
	size_t got = 0;
	for (unsigned i = 0; i < nin && got < (uint64_t)n; i++) {
		size_t take = in[i].len < n - got ? in[i].len : (size_t)n - got;
		memcpy(rep + got, gp(in[i].addr, take), take);
		got += take;
	}
	return n;
}

/* A request on queue 1 with its reply checked; returns the payload length
 * or the server's -errno. */
static int64_t call(uint32_t op, uint64_t nodeid, const void *pl, uint32_t plen, uint32_t cap,
		    unsigned pieces)
{
	int64_t n = send(&q1, 1, op, nodeid, pl, plen, cap, pieces);
	assert_true(n >= (int64_t)sizeof(struct fuse_out_header));
	int64_t r = fuse_msg_reply((const struct fuse_out_header *)rep, (uint32_t)n, unique_ctr - 1);
	assert_true(r != -EPROTO);
	return r;
}

static const uint8_t *payload(void)
{
	return rep + sizeof(struct fuse_out_header);
}

static void fuse_init(void)
{
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 65536, .flags = FUSE_MAX_PAGES | FUSE_INIT_EXT,
	};
	int64_t r = call(FUSE_INIT, 0, &in, sizeof(in), sizeof(struct fuse_init_out), 1);
	assert_true(r > 0);
	struct fuse_init_out out;
	assert_int_equal(fuse_msg_init(payload(), (uint32_t)r, &out), 0);
	assert_int_equal(out.major, FUSE_KERNEL_VERSION);
}

static uint64_t lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int64_t r = call(FUSE_LOOKUP, parent, name, (uint32_t)strlen(name) + 1,
			 sizeof(struct fuse_entry_out), 1);
	assert_true(r > 0);
	assert_int_equal(fuse_msg_entry(payload(), (uint32_t)r, e), 0);
	assert_true(e->nodeid > 1);
	return e->nodeid;
}

static uint64_t open_file(uint64_t node)
{
	struct fuse_open_in in = { .flags = O_RDONLY };
	int64_t r = call(FUSE_OPEN, node, &in, sizeof(in), sizeof(struct fuse_open_out), 1);
	assert_true(r > 0);
	struct fuse_open_out out;
	assert_int_equal(fuse_msg_open(payload(), (uint32_t)r, &out), 0);
	return out.fh;
}

static int64_t read_file(uint64_t node, uint64_t fh, uint64_t off, uint32_t size,
			 unsigned pieces)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	return call(FUSE_READ, node, &in, sizeof(in), size, pieces);
}

/* ---- the transport as a guest finds it ---- */

static void test_identity_and_config(void **state)
{
	(void)state;
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_FS);
	/* The tag, NUL-padded, and one request queue. */
	char tag[37] = { 0 };
	for (unsigned i = 0; i < 36; i += 4) {
		uint32_t v = rd(VIRTIO_MMIO_CONFIG + i);
		memcpy(tag + i, &v, 4);
	}
	assert_string_equal(tag, "root");
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + 36), 1);
	assert_int_equal(d.t.nqueues, 2);
	assert_int_equal(d.t.base, BASE);
	assert_int_equal(d.t.gsi, 16);
}

static void test_start_errors(void **state)
{
	(void)state;
	struct virtio_fs_dev e;
	char p[160];
	snprintf(p, sizeof(p), "%s/missing", base);
	assert_int_equal(virtio_fs_dev_start(&e, &m, BASE + 0x1000, 17, "x", p, true, 1), -1);
	assert_int_equal(virtio_fs_dev_start(&e, &m, BASE + 0x1000, 17, "x", p, false, 1), -1);
	/* A tag of 36 bytes fits (not NUL-terminated), 37 does not. */
	const char *t36 = "abcdefghijklmnopqrstuvwxyz0123456789";
	assert_int_equal(strlen(t36), 36);
	assert_int_equal(virtio_fs_dev_start(&e, &m, BASE + 0x1000, 17, t36, tree, true, 1), 0);
	assert_memory_equal(e.config.tag, t36, 36);
	virtio_fs_dev_stop(&e);
	char t37[40];
	snprintf(t37, sizeof(t37), "%s7", t36);
	assert_int_equal(virtio_fs_dev_start(&e, &m, BASE + 0x1000, 17, t37, tree, true, 1), -1);
}

/* ---- a FUSE session over the queue ---- */

static void test_session(void **state)
{
	(void)state;
	driver_init(false, false);
	assert_int_equal(efd_take(d.t.irq_fd), 0);
	fuse_init();
	/* Every completion interrupts (no event index, interrupts not suppressed). */
	assert_int_equal(efd_take(d.t.irq_fd), 1);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING,
			 VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	struct fuse_entry_out e;
	uint64_t hello = lookup(1, "hello.txt", &e);
	assert_int_equal(e.attr.size, strlen(HELLO));
	assert_true(S_ISREG(e.attr.mode));
	assert_int_equal(efd_take(d.t.irq_fd), 1);
	uint64_t fh = open_file(hello);
	int64_t r = read_file(hello, fh, 0, 4096, 1);
	assert_int_equal(r, strlen(HELLO));
	assert_memory_equal(payload(), HELLO, strlen(HELLO));
	/* Reading from an offset, into a reply buffer smaller than the file. */
	r = read_file(hello, fh, 6, 4, 1);
	assert_int_equal(r, 4);
	assert_memory_equal(payload(), HELLO + 6, 4);

	/* A large read scattered over 16 descriptors with gaps between them. */
	uint64_t big = lookup(1, "big.bin", &e);
	assert_int_equal(e.attr.size, BIG_SIZE);
	uint64_t bfh = open_file(big);
	const uint64_t off = 1000;
	r = read_file(big, bfh, off, 128 * 1024, 16);
	assert_int_equal(r, 128 * 1024);
	for (size_t i = 0; i < (size_t)r; i++)
		if (payload()[i] != big_byte(off + i))
			fail_msg("big.bin byte %zu: %#x, expected %#x", off + i, payload()[i],
				 big_byte(off + i));
	/* Nothing was written into the gaps between the pieces. */
	uint64_t gap = REP_PL + 128 * 1024 / 16;
	for (uint64_t a = gap; a < gap + PIECE_GAP; a++)
		assert_int_equal(*gp(a, 1), 0);
	/* The tail of the file: a short read. */
	r = read_file(big, bfh, BIG_SIZE - 10, 4096, 3);
	assert_int_equal(r, 10);
	assert_int_equal(payload()[9], big_byte(BIG_SIZE - 1));

	/* Errors travel back as FUSE errors. */
	assert_int_equal(call(FUSE_LOOKUP, 1, "nope", 5, sizeof(struct fuse_entry_out), 1),
			 -ENOENT);
	uint64_t sub = lookup(1, "sub", &e);
	assert_true(S_ISDIR(e.attr.mode));
	uint64_t inner = lookup(sub, "inner.txt", &e);
	uint64_t ifh = open_file(inner);
	assert_int_equal(read_file(inner, ifh, 0, 100, 2), 6);
	assert_memory_equal(payload(), "inner\n", 6);
	/* One interrupt per completion since the last check. */
	assert_int_equal(efd_take(d.t.irq_fd), 12);
	assert_int_equal(dev_requests(), 14);
	assert_int_equal(dev_errors(), 0);
	assert_false(dev_queue_broken(1));
}

/*
 * The device passes the share's read-only flag to its server: writing
 * requests get EROFS from a read-only device and change the tree through
 * a writable one (a large WRITE gathered from guest RAM included).
 */
static void test_writable_session(void **state)
{
	(void)state;
	uint8_t pl[64];
	struct fuse_mkdir_in mk = { .mode = 0755 };
	memcpy(pl, &mk, sizeof(mk));
	memcpy(pl + sizeof(mk), "newdir", 7);
	driver_init(false, false);
	fuse_init();
	assert_int_equal(call(FUSE_MKDIR, 1, pl, sizeof(mk) + 7, sizeof(struct fuse_entry_out), 1),
			 -EROFS);
	virtio_fs_dev_stop(&d);
	assert_int_equal(virtio_fs_dev_start(&d, &m, BASE, 16, "root", tree, false, 1), 0);
	driver_init(false, false);
	fuse_init();
	assert_int_equal(call(FUSE_MKDIR, 1, pl, sizeof(mk) + 7, sizeof(struct fuse_entry_out), 1),
			 sizeof(struct fuse_entry_out));
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT | O_EXCL, .mode = S_IFREG | 0644 };
	memcpy(pl, &ci, sizeof(ci));
	memcpy(pl + sizeof(ci), "written.bin", 12);
	const uint32_t both = sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out);
	assert_int_equal(call(FUSE_CREATE, 1, pl, sizeof(ci) + 12, both, 2), both);
	struct fuse_open_out oo;
	memcpy(&oo, payload() + sizeof(struct fuse_entry_out), sizeof(oo));
	const uint32_t size = 256 * 1024;
	uint8_t *w = malloc(sizeof(struct fuse_write_in) + size);
	struct fuse_write_in wi = { .fh = oo.fh, .offset = 4096, .size = size };
	memcpy(w, &wi, sizeof(wi));
	for (uint32_t i = 0; i < size; i++)
		w[sizeof(wi) + i] = big_byte(i);
	assert_int_equal(call(FUSE_WRITE, 1, w, sizeof(wi) + size, sizeof(struct fuse_write_out), 1),
			 sizeof(struct fuse_write_out));
	assert_int_equal(((struct fuse_write_out *)payload())->size, size);
	/* On the host. */
	char p[256];
	snprintf(p, sizeof(p), "%s/written.bin", tree);
	uint8_t *back = malloc(size);
	int fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, back, size, 4096), size);
	close(fd);
	assert_memory_equal(back, w + sizeof(wi), size);
	free(back);
	free(w);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 4096 + size);
	assert_int_equal(unlink(p), 0); /* the other tests share the tree */
	snprintf(p, sizeof(p), "%s/newdir", tree);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(dev_errors(), 0);
}

static void test_event_idx(void **state)
{
	(void)state;
	driver_init(true, false);
	assert_true(d.t.q[1].vq.event_idx);
	fuse_init();
	assert_int_equal(efd_take(d.t.irq_fd), 1);
	/* A polling driver asks for no interrupts: none come. */
	virtq_set_interrupts(&q1, false);
	struct fuse_entry_out e;
	lookup(1, "hello.txt", &e);
	lookup(1, "big.bin", &e);
	assert_int_equal(efd_take(d.t.irq_fd), 0);
	virtq_set_interrupts(&q1, true);
	lookup(1, "sub", &e);
	assert_int_equal(efd_take(d.t.irq_fd), 1);
	/* Notifications: the device keeps its avail event current, so the
	 * driver's kick check asks for one for every new request. */
	struct fuse_in_header h;
	fuse_msg_header(&h, FUSE_LOOKUP, unique_ctr++, 1, sizeof(h) + 4);
	memcpy(gp(REQ, sizeof(h)), &h, sizeof(h));
	memcpy(gp(REQ + sizeof(h), 4), "sub", 4);
	struct virtq_buf out = { REQ, sizeof(h) + 4 }, in = { REP, 4096 };
	assert_int_equal(virtq_add(&q1, &out, 1, &in, 1, &tok), 0);
	assert_true(virtq_kick_needed(&q1));
	notify(1);
	assert_true(wait_used(&q1, &tok, TIMEOUT_MS) > 0);
	assert_int_equal(dev_errors(), 0);
}

/* FORGET on the high-priority queue: no reply, the node is dropped. */
static void test_hiprio_forget(void **state)
{
	(void)state;
	driver_init(false, true);
	fuse_init();
	struct fuse_entry_out e;
	uint64_t node = lookup(1, "hello.txt", &e);
	struct fuse_server_stats st;
	pthread_mutex_lock(&d.t.lock);
	fuse_server_get_stats(d.server, &st);
	pthread_mutex_unlock(&d.t.lock);
	assert_int_equal(st.live_nodes, 2);
	struct fuse_forget_in f = { .nlookup = 1 };
	int64_t n = send(&q0, 0, FUSE_FORGET, node, &f, sizeof(f), 64, 1);
	assert_int_equal(n, 0);
	pthread_mutex_lock(&d.t.lock);
	fuse_server_get_stats(d.server, &st);
	pthread_mutex_unlock(&d.t.lock);
	assert_int_equal(st.live_nodes, 1);
	/* The forgotten node id is stale now. */
	assert_true(call(FUSE_GETATTR, node, &(struct fuse_getattr_in){ 0 },
			 sizeof(struct fuse_getattr_in), sizeof(struct fuse_attr_out), 1) < 0);
}

/* ---- requests the device refuses without breaking the queue ---- */

static void test_oversized_request(void **state)
{
	(void)state;
	driver_init(false, false);
	fuse_init();
	/* A header and two 600 KiB readable buffers: over the device's bound. */
	struct fuse_in_header h;
	uint64_t u = unique_ctr++;
	fuse_msg_header(&h, FUSE_LOOKUP, u, 1, sizeof(h) + 5);
	memcpy(gp(REQ, sizeof(h)), &h, sizeof(h));
	memcpy(gp(REQ + sizeof(h), 5), "sub\0\0", 5);
	struct virtq_buf out[3] = { { REQ, sizeof(h) + 5 }, { BULK, 600 * 1024 },
				    { BULK + 600 * 1024, 600 * 1024 } };
	struct virtq_buf in = { REP, 4096 };
	assert_int_equal(virtq_add(&q1, out, 3, &in, 1, &tok), 0);
	notify(1);
	int64_t n = wait_used(&q1, &tok, TIMEOUT_MS);
	assert_int_equal(n, sizeof(struct fuse_out_header));
	struct fuse_out_header o;
	memcpy(&o, gp(REP, sizeof(o)), sizeof(o));
	assert_int_equal(o.len, sizeof(o));
	assert_int_equal(o.error, -E2BIG);
	assert_true(o.unique == u);
	assert_int_equal(dev_errors(), 1);
	/* The queue still works. */
	struct fuse_entry_out e;
	lookup(1, "sub", &e);
	assert_false(dev_queue_broken(1));
}

static void test_small_or_missing_reply_buffer(void **state)
{
	(void)state;
	driver_init(false, false);
	fuse_init();
	struct fuse_in_header h;
	fuse_msg_header(&h, FUSE_LOOKUP, unique_ctr++, 1, sizeof(h) + 4);
	memcpy(gp(REQ, sizeof(h)), &h, sizeof(h));
	memcpy(gp(REQ + sizeof(h), 4), "sub", 4);
	struct virtq_buf out = { REQ, sizeof(h) + 4 };
	/* Room for less than a reply header: nothing written, completed anyway. */
	struct virtq_buf in = { REP, 8 };
	memset(gp(REP, 16), 0x5a, 16);
	assert_int_equal(virtq_add(&q1, &out, 1, &in, 1, &tok), 0);
	notify(1);
	assert_int_equal(wait_used(&q1, &tok, TIMEOUT_MS), 0);
	assert_int_equal(*gp(REP, 1), 0x5a);
	/* No writable buffer at all. */
	assert_int_equal(virtq_add(&q1, &out, 1, NULL, 0, &tok), 0);
	notify(1);
	assert_int_equal(wait_used(&q1, &tok, TIMEOUT_MS), 0);
	/* A request shorter than a FUSE header. */
	struct virtq_buf shortr = { REQ, 8 }, in2 = { REP, 4096 };
	assert_int_equal(virtq_add(&q1, &shortr, 1, &in2, 1, &tok), 0);
	notify(1);
	assert_int_equal(wait_used(&q1, &tok, TIMEOUT_MS), 0);
	/* And the queue still works. */
	struct fuse_entry_out e;
	lookup(1, "hello.txt", &e);
	assert_false(dev_queue_broken(1));
}

/* ---- hostile chains: the queue breaks, the device survives ---- */

enum hostile { OUT_OUTSIDE_RAM, OUT_IN_HOLE, IN_OUTSIDE_RAM, IN_WRAPS, BAD_HEAD, BAD_NEXT, LOOP };

static void hostile(enum hostile kind)
{
	driver_init(false, false);
	fuse_init();
	uint64_t served = dev_requests(), errors = dev_errors();
	struct virtq_buf out = { REQ, sizeof(struct fuse_in_header) }, in = { REP, 4096 };
	switch (kind) {
	case OUT_OUTSIDE_RAM: out.addr = RAM_SIZE + 4096; break;
	case OUT_IN_HOLE: out.addr = BASE; break; /* the device's own registers */
	case IN_OUTSIDE_RAM: in.addr = RAM_SIZE - 100; break;
	case IN_WRAPS: in.addr = UINT64_MAX - 100; break;
	default: break;
	}
	assert_int_equal(virtq_add(&q1, &out, 1, &in, 1, &tok), 0);
	uint16_t head = q1.avail->ring[(uint16_t)(q1.avail->idx - 1) & (QSIZE - 1)];
	if (kind == BAD_HEAD)
		q1.avail->ring[(uint16_t)(q1.avail->idx - 1) & (QSIZE - 1)] = QSIZE + 3;
	if (kind == BAD_NEXT)
		q1.desc[head].next = 0xffff;
	if (kind == LOOP)
		q1.desc[q1.desc[head].next].flags |= VRING_DESC_F_NEXT,
			q1.desc[q1.desc[head].next].next = head;
	notify(1);
	uint64_t end = now_ms() + TIMEOUT_MS;
	while (dev_errors() == errors && now_ms() < end)
		nap();
	assert_int_equal(dev_errors(), errors + 1);
	assert_true(dev_queue_broken(1));
	assert_int_equal(dev_requests(), served);
	assert_false(virtq_has_used(&q1)); /* never completed */
	/* The broken queue serves nothing more... */
	struct fuse_in_header h;
	fuse_msg_header(&h, FUSE_LOOKUP, unique_ctr++, 1, sizeof(h) + 4);
	memcpy(gp(REQ, sizeof(h)), &h, sizeof(h));
	memcpy(gp(REQ + sizeof(h), 4), "sub", 4);
	struct virtq_buf good = { REQ, sizeof(h) + 4 }, rin = { REP, 4096 };
	unsigned tok2;
	assert_int_equal(virtq_add(&q1, &good, 1, &rin, 1, &tok2), 0);
	notify(1);
	assert_int_equal(wait_used(&q1, &tok2, 200), -1);
	assert_int_equal(dev_requests(), served);
	/* ...until the driver resets the device and sets it up again. A
	 * virtio reset ends the FUSE session too, so a fresh INIT works. */
	driver_init(false, false);
	assert_false(dev_queue_broken(1));
	fuse_init();
	struct fuse_entry_out e;
	lookup(1, "hello.txt", &e);
	assert_int_equal(dev_requests(), served + 2);
}

static void test_hostile_out_outside_ram(void **state)
{
	(void)state;
	hostile(OUT_OUTSIDE_RAM);
}

static void test_hostile_out_in_hole(void **state)
{
	(void)state;
	hostile(OUT_IN_HOLE);
}

static void test_hostile_in_outside_ram(void **state)
{
	(void)state;
	hostile(IN_OUTSIDE_RAM);
}

static void test_hostile_in_wraps(void **state)
{
	(void)state;
	hostile(IN_WRAPS);
}

static void test_hostile_bad_head(void **state)
{
	(void)state;
	hostile(BAD_HEAD);
}

static void test_hostile_bad_next(void **state)
{
	(void)state;
	hostile(BAD_NEXT);
}

static void test_hostile_loop(void **state)
{
	(void)state;
	hostile(LOOP);
}

/* Stopping with requests made available but never notified: the thread
 * is joined all the same. */
static void test_stop_with_pending(void **state)
{
	(void)state;
	driver_init(false, false);
	struct virtq_buf out = { REQ, 40 }, in = { REP, 4096 };
	assert_int_equal(virtq_add(&q1, &out, 1, &in, 1, &tok), 0);
	virtio_fs_dev_stop(&d);
	assert_false(workers_started(&d));
	assert_int_equal(d.t.irq_fd, -1);
	assert_int_equal(d.stop_fd, -1);
	/* The same structure starts again (teardown stops it). */
	assert_int_equal(virtio_fs_dev_start(&d, &m, BASE, 16, "root", tree, true, 1), 0);
	driver_init(false, false);
	fuse_init();
}

/*
 * Regression (fixed in host/vmm/virtio_mmio.c, virtio_mmio_free): the queues'
 * notify eventfds are closed but not set to -1, so a second
 * virtio_fs_dev_stop (which otherwise resets everything it frees, as if
 * meant to be idempotent) closes those numbers again: by then they may
 * be someone else's files.
 */
static void test_stop_twice(void **state)
{
	(void)state;
	virtio_fs_dev_stop(&d);
	/* The fds the device had are free now; other files get them. */
	int fds[8];
	for (int i = 0; i < 8; i++)
		assert_true((fds[i] = open("/dev/null", O_RDONLY)) >= 0);
	virtio_fs_dev_stop(&d);
	for (int i = 0; i < 8; i++) {
		assert_true(fcntl(fds[i], F_GETFD) >= 0);
		close(fds[i]);
	}
	assert_int_equal(virtio_fs_dev_start(&d, &m, BASE, 16, "root", tree, true, 1), 0);
}

/*
 * PIER_FAULT=fs-thread-exit:N: the thread stops at its Nth request and
 * leaves it unanswered; the device then says NEEDS_RESET, with a
 * configuration interrupt, and records why it died.
 */
static void test_injected_thread_death(void **state)
{
	(void)state;
	virtio_fs_dev_stop(&d);
	setenv("PIER_FAULT", "fs-thread-exit:2", 1);
	assert_int_equal(virtio_fs_dev_start(&d, &m, BASE, 16, "root", tree, true, 1), 0);
	unsetenv("PIER_FAULT");
	driver_init(false, false);
	fuse_init(); /* request 1 is answered */
	efd_take(d.t.irq_fd);
	struct fuse_in_header h;
	fuse_msg_header(&h, FUSE_GETATTR, unique_ctr++, FUSE_ROOT_ID, sizeof(h));
	memcpy(gp(REQ, sizeof(h)), &h, sizeof(h));
	struct virtq_buf out = { REQ, sizeof(h) }, in = { REP, 4096 };
	assert_int_equal(virtq_add(&q1, &out, 1, &in, 1, &tok), 0);
	notify(1);
	uint64_t end = now_ms() + TIMEOUT_MS;
	while (!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET) && now_ms() < end)
		nap();
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_true(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_true(efd_take(d.t.irq_fd) > 0);
	assert_non_null(d.died);
	uint32_t len;
	assert_null(virtq_get_used(&q1, &len)); /* request 2 was never answered */
}

/*
 * Issue 23: one request queue per vCPU, each with its own thread. With
 * two request queues, a request made available on queue 1 but not
 * notified stays unanswered while queue 2's request is answered (one
 * thread serving every queue would take both on any notify), then
 * queue 1's thread answers its own. Each is counted on its queue.
 */
static void test_request_queues_have_threads_of_their_own(void **state)
{
	(void)state;
	virtio_fs_dev_stop(&d);
	assert_int_equal(virtio_fs_dev_start(&d, &m, BASE, 16, "root", tree, true, 2), 0);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + 36), 2); /* num_request_queues */
	assert_int_equal(d.t.nqueues, 3);
	driver_init(false, true);
	queue_up(2, &q2, RING2, meta2, false);
	fuse_init(); /* on queue 1 */
	/* Queue 1: GETATTR of the root, made available, not notified. */
	struct fuse_in_header h;
	struct fuse_getattr_in ga = { 0 };
	fuse_msg_header(&h, FUSE_GETATTR, 1000, FUSE_ROOT_ID, sizeof(h) + sizeof(ga));
	memcpy(gp(REQ2, sizeof(h)), &h, sizeof(h));
	memcpy(gp(REQ2 + sizeof(h), sizeof(ga)), &ga, sizeof(ga));
	memset(gp(REP2, 4096), 0, 4096);
	struct virtq_buf out = { REQ2, sizeof(h) + sizeof(ga) }, in = { REP2, 4096 };
	unsigned tok1;
	assert_int_equal(virtq_add(&q1, &out, 1, &in, 1, &tok1), 0);
	/* Queue 2: answered meanwhile. */
	int64_t n = send(&q2, 2, FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga),
			 sizeof(struct fuse_attr_out), 1);
	assert_int_equal(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_attr_out));
	uint32_t len;
	assert_null(virtq_get_used(&q1, &len));
	notify(1);
	assert_int_equal(wait_used(&q1, &tok1, TIMEOUT_MS),
			 sizeof(struct fuse_out_header) + sizeof(struct fuse_attr_out));
	struct fuse_out_header o;
	memcpy(&o, gp(REP2, sizeof(o)), sizeof(o));
	assert_int_equal(o.unique, 1000);
	assert_int_equal(o.error, 0);
	virtio_fs_dev_stop(&d); /* the counts are final once the threads are gone */
	assert_int_equal(d.workers[1].requests, 2); /* INIT and the GETATTR */
	assert_int_equal(d.workers[2].requests, 1);
	assert_int_equal(virtio_fs_dev_start(&d, &m, BASE, 16, "root", tree, true, 1), 0);
}

/* The request queue count must be one the transport can hold. */
static void test_request_queue_count_checked(void **state)
{
	(void)state;
	struct virtio_fs_dev e;
	assert_int_equal(virtio_fs_dev_start(&e, &m, BASE + 0x1000, 17, "x", tree, true, 0), -1);
	assert_int_equal(virtio_fs_dev_start(&e, &m, BASE + 0x1000, 17, "x", tree, true,
					     VIRTIO_FS_DEV_MAX_REQUEST_QUEUES + 1),
			 -1);
	assert_int_equal(virtio_fs_dev_start(&e, &m, BASE + 0x1000, 17, "x", tree, true,
					     VIRTIO_FS_DEV_MAX_REQUEST_QUEUES),
			 0);
	assert_int_equal(e.t.nqueues, VIRTIO_MMIO_MAX_QUEUES);
	virtio_fs_dev_stop(&e);
}

/* A PIER_FAULT value the device does not know stops it from starting. */
static void test_unknown_fault_refused(void **state)
{
	(void)state;
	struct virtio_fs_dev e;
	const char *bad[] = { "fs-thread-exit:0", "fs-thread-exit:", "fs-thread-exit:2x", "boom" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("PIER_FAULT", bad[i], 1);
		assert_int_equal(virtio_fs_dev_start(&e, &m, BASE + 0x1000, 17, "x", tree, true, 1), -1);
	}
	unsetenv("PIER_FAULT");
	assert_null(d.died); /* the running device is untouched */
}

int main(void)
{
	alarm(120); /* a hung device thread fails the run instead of hanging it */
#define T(f) cmocka_unit_test_setup_teardown(f, dev_up, dev_down)
	const struct CMUnitTest tests[] = {
		T(test_identity_and_config),
		T(test_start_errors),
		T(test_injected_thread_death),
		T(test_unknown_fault_refused),
		T(test_session),
		T(test_writable_session),
		T(test_event_idx),
		T(test_hiprio_forget),
		T(test_oversized_request),
		T(test_small_or_missing_reply_buffer),
		T(test_hostile_out_outside_ram),
		T(test_hostile_out_in_hole),
		T(test_hostile_in_outside_ram),
		T(test_hostile_in_wraps),
		T(test_hostile_bad_head),
		T(test_hostile_bad_next),
		T(test_hostile_loop),
		T(test_stop_with_pending),
		T(test_stop_twice),
		T(test_request_queues_have_threads_of_their_own),
		T(test_request_queue_count_checked),
	};
#undef T
	return cmocka_run_group_tests_name("vmm_virtio_fs", tests, setup, teardown);
}
