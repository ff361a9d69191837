/*
 * libFuzzer harness for the DEVICE side of split virtqueues: lib/virtq.c's
 * virtq_dev_* over a hostile guest's rings, and pier's virtio-fs device
 * (host/vmm/virtio_mmio.c + virtio_fs_dev.c) that gathers requests from
 * such rings into the FUSE server and scatters replies back.
 *
 * Guest RAM is a buffer of its own allocation (so ASan sees every byte
 * past it) described as a struct guest_mem; the input writes whatever it
 * likes into it: descriptor tables, avail rings, indirect tables (nested,
 * with NEXT, misaligned, huge), loops, addresses outside RAM, zero and huge
 * lengths, avail index jumps.
 *
 * Input: byte 0: bit 0 EVENT_IDX, bit 1 virtio-fs mode (else raw virtq),
 * bit 2 split RAM (RAM_LOW bytes at 0, the rest at 4 GiB), bit 3 (raw) the
 * last page of RAM is not writable for the device. Raw mode then reads
 * byte 1 (log2 of the queue size; 11..15 are bad sizes) and three u32 ring
 * addresses (bit 31: an address at 4 GiB + the low 31 bits) for
 * virtq_dev_init. Then operations, a selector byte each plus operands
 * (see the OP_ list): raw memory writes, single descriptors in the table
 * or anywhere, avail ring entries and index jumps, flags and event words,
 * a well-formed direct or indirect chain made available in one go, a FUSE
 * request header written with its length right; in raw mode pop, push,
 * notify, the device touching what it popped, and re-init; in virtio-fs
 * mode MMIO register writes and reads, a whole queue setup sequence, and
 * a kick that serves (synchronously: the device's serve() without its
 * thread, so each input is deterministic).
 *
 * Checked in raw mode: virtq_dev_init accepts exactly the rings a model
 * here accepts (a power-of-two size <= 1024, each ring inside RAM and
 * aligned); every virtq_dev_pop agrees with a model walk of the same
 * memory (empty / error / the very same segments, head and byte counts),
 * which also means every segment lies inside RAM, within one RAM region,
 * writable ones outside the read-only page, at most VIRTQ_MAX_SEGS; pop
 * writes exactly what the model writes (avail_event) and nothing else; a
 * broken queue stays broken; pop never loops (libFuzzer's timeout). In
 * virtio-fs mode: every element the device pops lies in RAM, every push
 * completes the element just popped with at most its writable bytes, one
 * kick's serve() ends, no SECRET (a file outside the served tree) reaches
 * RAM, no fd leaks. In both: ASan/UBSan, LeakSanitizer.
 *
 * Seeds: PIER_FUZZ_WRITE_SEEDS=DIR build/fuzz/virtq_device writes the seed
 * corpus (fuzz/corpus/virtq_device/) into DIR and exits. PIER_FUZZ_TRACE=1
 * prints what each init, pop and kick did; PIER_FUZZ_VERBOSE=1 lets the
 * device's own messages through.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/fuse.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <pier/virtq.h>
#include "vmm/guest_mem.h"
#include "fuzz_host.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where diagnostics go: the real stderr (see LLVMFuzzerInitialize). */
static FILE *report;
static bool trace; /* PIER_FUZZ_TRACE: what each pop, init and kick did */

#define CHECK(c)                                                                              \
	do {                                                                                  \
		if (!(c)) {                                                                   \
			fprintf(report ? report : stderr,                                     \
				"fuzz_virtq_device: %s:%d: invariant failed: %s\n", __FILE__,  \
				__LINE__, #c);                                                \
			abort();                                                              \
		}                                                                             \
	} while (0)

#define RAM_SIZE (64u * 1024)
#define RAM_LOW (48u * 1024)
#define HIGH_BASE GUEST_MEM_HIGH_START
#define PAGE 4096u
#define MAX_OPS 256
#define MAX_POPS 64          /* per pop operation */
#define MAX_PENDING 64       /* popped, not yet pushed */
#define MMIO_BASE 0xd0000000ull
#define SECRET "SECRET-OUTSIDE-THE-TREE"

#define M_EVENT_IDX 1
#define M_FS 2
#define M_SPLIT 4
#define M_RO_PAGE 8

enum {
	OP_MEM,        /* u16 off, u8 n, n bytes */
	OP_DESC,       /* u16 idx, u64 addr, u32 len, u16 flags, u16 next: in the table */
	OP_IDESC,      /* u16 ram off, then as OP_DESC: anywhere (indirect tables) */
	OP_AVAIL,      /* u16 slot, u16 head */
	OP_AVAIL_IDX,  /* u16 delta */
	OP_FLAGS,      /* u16 avail flags, u16 used_event, u16 used flags */
	OP_CHAIN,      /* u16 head, u8 nout (bit 7: one address), u8 nin, u16 buf off, u16 seg len */
	OP_INDIRECT,   /* u16 head, u16 table off, then as OP_CHAIN */
	OP_FUSE,       /* u16 off, u32 opcode, u64 nodeid, u8 plen, plen bytes */
	OP_POP,        /* raw: u8 count; fs: kick (serve) */
	OP_PUSH,       /* raw: u8 pending index, u32 len */
	OP_NOTIFY,     /* raw: virtq_dev_notify_needed */
	OP_TOUCH,      /* raw: u8 pending index: write its writable, read its readable bytes */
	OP_REINIT,     /* raw: u8 log2 size, u32 desc, u32 avail, u32 used, u8 event_idx */
	OP_MMIO_W,     /* fs: u16 off, u32 value */
	OP_MMIO_R,     /* fs: u16 off, u8 len */
	OP_SETUP,      /* fs: u8 queue, u8 log2 size, u32 desc, u32 avail, u32 used */
	OP_SELQ,       /* fs: u8 queue the ring ops use */
	OP_COUNT
};

static void die(const char *what)
{
	fprintf(report ? report : stderr, "fuzz_virtq_device: %s: %s\n", what, strerror(errno));
	abort();
}

/* ---- the input ---- */

static const uint8_t *in_p;
static size_t in_n;

static void take(void *out, size_t len)
{
	size_t k = len < in_n ? len : in_n;
	memset(out, 0, len);
	if (k)
		memcpy(out, in_p, k);
	in_p += k;
	in_n -= k;
}

static uint8_t u8(void) { uint8_t v; take(&v, 1); return v; }
static uint16_t u16(void) { uint16_t v; take(&v, 2); return v; }
static uint32_t u32(void) { uint32_t v; take(&v, 4); return v; }
static uint64_t u64(void) { uint64_t v; take(&v, 8); return v; }

/* ---- guest RAM and the model's own translation ---- */

static uint8_t *ram;
static struct guest_mem gm;
static bool ro_page;

static uint64_t gaddr(uint32_t v)
{
	return (v & 0x80000000u) ? HIGH_BASE + (v & 0x7fffffffu) : v;
}

/* The model: where [addr, addr+len) lives in RAM, or NULL. Written apart
 * from guest_mem_ptr on purpose, to check it. */
static uint8_t *model_ptr(uint64_t addr, uint64_t len, bool write)
{
	uint64_t low = gm.low_size, high = gm.size - gm.low_size, off;
	if (addr < low && len <= low - addr)
		off = addr;
	else if (addr >= HIGH_BASE && addr - HIGH_BASE <= high && len <= high - (addr - HIGH_BASE))
		off = low + (addr - HIGH_BASE);
	else
		return NULL;
	if (write && ro_page && off + len > RAM_SIZE - PAGE)
		return NULL;
	return ram + off;
}

static void *dev_xlate(void *ctx, uint64_t addr, uint64_t len, bool write)
{
	uint8_t *p = guest_mem_ptr(ctx, addr, len);
	/* The read-only page: as a device model might refuse writes to ROM. */
	if (p && write && ro_page && (uint64_t)(p - ram) + len > RAM_SIZE - PAGE)
		return NULL;
	return p;
}

/* ---- the rings the ops write: raw queue, or a virtio-fs queue ---- */

static uint16_t qsize;          /* 0: none usable */
static uint64_t q_desc, q_avail, q_used;

static struct vring_desc *ring_desc(uint16_t i)
{
	return qsize ? (struct vring_desc *)model_ptr(q_desc + 16ull * (i & (qsize - 1)), 16, false)
		     : NULL;
}

static struct vring_avail *ring_avail(void)
{
	return qsize ? (struct vring_avail *)model_ptr(q_avail, 6 + 2ull * qsize, false) : NULL;
}

static struct vring_used *ring_used(void)
{
	return qsize ? (struct vring_used *)model_ptr(q_used, 6 + 8ull * qsize, false) : NULL;
}

static bool ring_ok(void)
{
	/* The device writes both rings (event index words, used entries). */
	return qsize && model_ptr(q_avail, 6 + 2ull * qsize, true) &&
	       model_ptr(q_used, 6 + 8ull * qsize, true) &&
	       model_ptr(q_desc, 16ull * qsize, false) && !(q_desc % 16) && !(q_avail % 2) &&
	       !(q_used % 4);
}

static void put_desc(void *at, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	memcpy(at, &d, sizeof(d));
}

static void avail_push(uint16_t head)
{
	struct vring_avail *a = ring_avail();
	if (!a)
		return;
	uint16_t idx;
	memcpy(&idx, &a->idx, 2);
	memcpy(&a->ring[idx & (qsize - 1)], &head, 2);
	idx++;
	memcpy(&a->idx, &idx, 2);
}

/* ---- raw mode: the queue under test and the model ---- */

static struct virtq_dev dq;
static bool d_ok;
static bool event_idx;
static uint16_t m_last_avail;
static bool m_broken;
static struct virtq_elem pending[MAX_PENDING];
static unsigned npending;

struct mseg {
	uint8_t *base;
	uint32_t len;
	bool write;
};

struct mresult {
	int r;            /* 0 empty, 1 a request, -1 the driver broke the queue */
	uint16_t head;
	unsigned nout, nin;
	uint64_t out_bytes, in_bytes;
	struct mseg seg[VIRTQ_MAX_SEGS];
};

/* One descriptor's buffer, as the virtio spec and include/pier/virtq.h say. */
static bool model_seg(struct mresult *m, uint64_t addr, uint32_t len, uint16_t flags)
{
	bool write = flags & VRING_DESC_F_WRITE;
	if (!write && m->nin)
		return false;
	if (!len)
		return true;
	if (m->nout + m->nin >= VIRTQ_MAX_SEGS)
		return false;
	uint8_t *p = model_ptr(addr, len, write);
	if (!p)
		return false;
	m->seg[m->nout + m->nin] = (struct mseg){ p, len, write };
	if (write) {
		m->nin++;
		m->in_bytes += len;
	} else {
		m->nout++;
		m->out_bytes += len;
	}
	return true;
}

static struct vring_desc read_desc(const void *p)
{
	struct vring_desc x;
	memcpy(&x, p, sizeof(x));
	return x;
}

static bool model_indirect(struct mresult *m, uint64_t addr, uint32_t len)
{
	if (!len || len % 16 || len / 16 > 0xffff)
		return false;
	const uint8_t *t = model_ptr(addr, len, false);
	/* Only the ring's table must be 16-aligned (2.7); an indirect one
	 * just must not make its loads misaligned. */
	if (!t || (uintptr_t)t % _Alignof(struct vring_desc))
		return false;
	uint32_t n = len / 16, i = 0;
	for (uint32_t steps = 0; steps < n && i < n; steps++) {
		struct vring_desc x = read_desc(t + 16ull * i);
		if (x.flags & VRING_DESC_F_INDIRECT)
			return false;
		if (!model_seg(m, x.addr, x.len, x.flags))
			return false;
		if (!(x.flags & VRING_DESC_F_NEXT))
			return true;
		i = x.next;
	}
	return false; /* out of the table, or a loop */
}

/* What the next virtq_dev_pop must do, by the spec. */
static void model_pop(struct mresult *m)
{
	memset(m, 0, sizeof(*m));
	if (m_broken) {
		m->r = -1;
		return;
	}
	struct vring_avail *a = ring_avail();
	/* The device writes avail_event as it goes; rings may overlap (the
	 * guest chooses), so the model writes it too, at the same moments,
	 * and reads what follows after it, as the device does. */
	uint8_t *avail_event = (uint8_t *)&ring_used()->ring[qsize];
	uint16_t idx, head;
	memcpy(&idx, &a->idx, 2);
	if (idx == m_last_avail) {
		if (!event_idx)
			return;
		memcpy(avail_event, &m_last_avail, 2);
		memcpy(&idx, &a->idx, 2);
		if (idx == m_last_avail)
			return;
	}
	if ((uint16_t)(idx - m_last_avail) > qsize) {
		m->r = -1;
		m_broken = true;
		return;
	}
	memcpy(&head, &a->ring[m_last_avail & (qsize - 1)], 2);
	m_last_avail++;
	if (event_idx)
		memcpy(avail_event, &m_last_avail, 2);
	m->head = head;
	m->r = -1;
	m_broken = true;
	if (head >= qsize)
		return;
	uint16_t i = head;
	for (unsigned steps = 0; steps < qsize && i < qsize; steps++) {
		struct vring_desc x = read_desc(model_ptr(q_desc + 16ull * i, 16, false));
		if (x.flags & VRING_DESC_F_INDIRECT) {
			if ((x.flags & VRING_DESC_F_NEXT) || steps || !model_indirect(m, x.addr, x.len))
				return;
			break;
		}
		if (!model_seg(m, x.addr, x.len, x.flags))
			return;
		if (!(x.flags & VRING_DESC_F_NEXT))
			break;
		i = x.next;
		if (i >= qsize || steps + 1 >= qsize)
			return;
	}
	m->r = 1;
	m_broken = false;
}

/* What any popped element must be: segments inside RAM, each within one
 * region of it, byte counts that add up, a head inside the queue. */
static void check_elem(const struct virtq_elem *e, uint16_t size)
{
	CHECK(e->head < size && e->nout + e->nin <= VIRTQ_MAX_SEGS);
	uint64_t out = 0, in = 0;
	for (unsigned k = 0; k < e->nout + e->nin; k++) {
		const uint8_t *b = e->seg[k].base;
		CHECK(e->seg[k].len > 0);
		CHECK(b >= ram && e->seg[k].len <= (size_t)(ram + RAM_SIZE - b));
		size_t off = (size_t)(b - ram);
		CHECK(off >= gm.low_size || off + e->seg[k].len <= gm.low_size);
		*(k < e->nout ? &out : &in) += e->seg[k].len;
	}
	CHECK(out == e->out_bytes && in == e->in_bytes);
}

static void check_pop(int r, const struct virtq_elem *e, const struct mresult *m)
{
	CHECK(r <= 1);
	CHECK((r > 0) - (r < 0) == m->r);
	CHECK(dq.broken == (r < 0));
	CHECK(dq.last_avail == m_last_avail);
	if (r != 1)
		return;
	check_elem(e, qsize);
	CHECK(e->head == m->head);
	CHECK(e->nout == m->nout && e->nin == m->nin);
	CHECK(e->out_bytes == m->out_bytes && e->in_bytes == m->in_bytes);
	for (unsigned k = 0; k < e->nout + e->nin; k++)
		CHECK(e->seg[k].base == m->seg[k].base && e->seg[k].len == m->seg[k].len);
}

static void raw_init(uint8_t log2size, uint32_t da, uint32_t aa, uint32_t ua, bool ev)
{
	uint16_t size = log2size < 16 ? (uint16_t)(1u << log2size) : 0;
	qsize = size;
	q_desc = gaddr(da);
	q_avail = gaddr(aa);
	q_used = gaddr(ua);
	event_idx = ev;
	bool model = size <= VIRTQ_MAX_SIZE && ring_ok();
	int r = virtq_dev_init(&dq, size, q_desc, q_avail, q_used, ev, dev_xlate, &gm);
	if (trace)
		fprintf(report, "init size %u desc %#llx avail %#llx used %#llx -> %d\n", size,
			(unsigned long long)q_desc, (unsigned long long)q_avail,
			(unsigned long long)q_used, r);
	CHECK((r == 0) == model);
	d_ok = r == 0;
	if (!d_ok)
		qsize = 0; /* the ring ops have nothing to write to */
	m_last_avail = 0;
	m_broken = false;
	npending = 0;
}

static void raw_pop(unsigned count)
{
	static uint8_t before[RAM_SIZE], after[RAM_SIZE];
	for (unsigned k = 0; k < count && k < MAX_POPS; k++) {
		struct virtq_elem e;
		struct mresult m;
		/* The model writes what the device writes (avail_event), and
		 * rings may overlap: it runs on the RAM as it was, which is
		 * then put back for the device, whose writes must come to the
		 * same RAM as the model's. */
		memcpy(before, ram, RAM_SIZE);
		model_pop(&m);
		memcpy(after, ram, RAM_SIZE);
		memcpy(ram, before, RAM_SIZE);
		int r = virtq_dev_pop(&dq, &e);
		CHECK(memcmp(ram, after, RAM_SIZE) == 0);
		if (trace)
			fprintf(report, "pop -> %d head %u nout %u nin %u out %llu in %llu\n", r,
				e.head, e.nout, e.nin, (unsigned long long)e.out_bytes,
				(unsigned long long)e.in_bytes);
		check_pop(r, &e, &m);
		if (r == 1 && npending < MAX_PENDING)
			pending[npending++] = e;
		if (r <= 0)
			break;
	}
}

/* The device uses what it popped: reads every readable byte, fills every
 * writable one (ASan checks each stays in RAM). */
static void raw_touch(unsigned i)
{
	if (!npending)
		return;
	const struct virtq_elem *e = &pending[i % npending];
	volatile uint8_t sum = 0;
	for (unsigned k = 0; k < e->nout; k++)
		for (uint32_t j = 0; j < e->seg[k].len; j += 61)
			sum ^= ((const uint8_t *)e->seg[k].base)[j];
	for (unsigned k = e->nout; k < e->nout + e->nin; k++)
		memset(e->seg[k].base, 0xdd, e->seg[k].len);
	(void)sum;
}

/* ---- virtio-fs mode ---- */

/*
 * The device's serve loop is static and runs on its own thread; to call it
 * synchronously (each input deterministic) the harness compiles its own
 * copy of virtio_fs_dev.c, the external names renamed so they do not clash
 * with the linked one, and its virtq_dev_pop/push calls routed through
 * these checks: each element popped lies in RAM, each push completes the
 * element just popped with no more bytes than it can hold, and one serve()
 * ends (the guest's rings are all the harness gives it: a device that
 * kept popping forever would be feeding on its own writes).
 */
#define KICK_POPS_MAX (4u * 65536)
static const struct virtq_elem *fs_popped;
static unsigned kick_pops;

static int fz_dev_pop(struct virtq_dev *q, struct virtq_elem *e)
{
	int r = virtq_dev_pop(q, e);
	CHECK(++kick_pops <= KICK_POPS_MAX);
	fs_popped = NULL;
	if (r == 1) {
		check_elem(e, q->size);
		fs_popped = e;
	}
	return r;
}

static void fz_dev_push(struct virtq_dev *q, uint16_t head, uint32_t len)
{
	CHECK(fs_popped && head == fs_popped->head && len <= fs_popped->in_bytes);
	virtq_dev_push(q, head, len);
	fs_popped = NULL;
}

#define virtio_fs_dev_start fz_virtio_fs_dev_start
#define virtio_fs_dev_stop fz_virtio_fs_dev_stop
#define virtio_fs_dev_add_dax fz_virtio_fs_dev_add_dax
#define virtio_fs_dev_configure fz_virtio_fs_dev_configure
#define virtio_fs_devs_stats fz_virtio_fs_devs_stats
#define virtq_dev_pop fz_dev_pop
#define virtq_dev_push fz_dev_push
#include "vmm/virtio_fs_dev.c"
#undef virtq_dev_pop
#undef virtq_dev_push

/* The queues the fuzzed device has: the high-priority one and one request
 * queue (more would be the same code, each with its own worker). */
#define VFS_QUEUES 2

static char base_dir[PATH_MAX - 64], tree[PATH_MAX];
static struct virtio_fs_dev vd;
static unsigned cur_q;
static int base_fds;

static void fs_ring_sync(void)
{
	struct virtio_mmio_queue *q = &vd.t.q[cur_q];
	qsize = q->num && q->num <= VIRTQ_MAX_SIZE && !(q->num & (q->num - 1)) ? (uint16_t)q->num
									      : 0;
	q_desc = q->desc;
	q_avail = q->avail;
	q_used = q->used;
	if (!ring_ok())
		qsize = 0;
}

static void mmio_w(uint32_t off, uint32_t v)
{
	virtio_mmio_write(&vd.t, off, 4, v);
}

static void fs_setup(unsigned qi, uint8_t log2size, uint32_t da, uint32_t aa, uint32_t ua)
{
	uint64_t desc = gaddr(da), avail = gaddr(aa), used = gaddr(ua);
	mmio_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	mmio_w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_w(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 is bit 32 */
	mmio_w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_w(VIRTIO_MMIO_DRIVER_FEATURES, event_idx ? 1u << VIRTIO_RING_F_EVENT_IDX : 0);
	mmio_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				   VIRTIO_CONFIG_S_FEATURES_OK);
	mmio_w(VIRTIO_MMIO_QUEUE_SEL, qi);
	mmio_w(VIRTIO_MMIO_QUEUE_READY, 0);
	mmio_w(VIRTIO_MMIO_QUEUE_NUM, log2size < 32 ? 1u << log2size : 0);
	mmio_w(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	mmio_w(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	mmio_w(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	mmio_w(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	mmio_w(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	mmio_w(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	mmio_w(VIRTIO_MMIO_QUEUE_READY, 1);
	mmio_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	cur_q = qi % VFS_QUEUES;
	fs_ring_sync();
}

/* A kick: the current queue's serve() as its worker thread would (the
 * hooks above check it). */
static void fs_kick(void)
{
	bool secret_before = memmem(ram, RAM_SIZE, SECRET, strlen(SECRET)) != NULL;
	kick_pops = 0;
	(void)serve(&vd.workers[cur_q]);
	if (trace)
		fprintf(report, "kick: %u pops, %llu requests, %llu errors, status %#x\n",
			kick_pops, (unsigned long long)vd.requests,
			(unsigned long long)vd.errors, vd.t.status);
	/* Only files of the tree reach the guest. */
	CHECK(secret_before || !memmem(ram, RAM_SIZE, SECRET, strlen(SECRET)));
}

static void put_file(const char *rel, const char *text)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", base_dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(p);
	close(fd);
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void cleanup(void)
{
	virtio_mmio_free(&vd.t);
	for (unsigned i = 0; i < VFS_QUEUES; i++) {
		free(vd.workers[i].req);
		free(vd.workers[i].reply);
	}
	free(ram);
	if (base_dir[0])
		nftw(base_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_seeds(const char *dir);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	const char *seeds = getenv("PIER_FUZZ_WRITE_SEEDS");
	if (seeds) {
		write_seeds(seeds);
		exit(0);
	}
	/* The device reports each queue a guest breaks on stderr, and the
	 * fuzz breaks queues all the time: host code's stderr goes to
	 * /dev/null (PIER_FUZZ_VERBOSE keeps it). libFuzzer keeps its own
	 * copy of the stream and the sanitizers write to fd 2, so their
	 * reports, and the harness's (to `report`), still show. */
	report = stderr;
	trace = getenv("PIER_FUZZ_TRACE") != NULL;
	if (!getenv("PIER_FUZZ_VERBOSE")) {
		FILE *null = fopen("/dev/null", "w");
		if (null)
			stderr = null;
	}
	ram = aligned_alloc(PAGE, RAM_SIZE);
	if (!ram)
		die("RAM");
	/* The served tree (read-only): a file, a directory, a link out. */
	const char *tmp = getenv("TMPDIR");
	if (snprintf(base_dir, sizeof(base_dir), "%s/pier-fuzz-vq-XXXXXX",
		     tmp && *tmp ? tmp : "/tmp") >= (int)sizeof(base_dir) || !mkdtemp(base_dir))
		die("mkdtemp");
	atexit(cleanup);
	put_file("sentinel", SECRET);
	snprintf(tree, sizeof(tree), "%s/tree", base_dir);
	char p[PATH_MAX];
	if (mkdir(tree, 0755))
		die(tree);
	put_file("tree/hello.txt", "hello world\n");
	snprintf(p, sizeof(p), "%s/sub", tree);
	if (mkdir(p, 0755))
		die(p);
	snprintf(p, sizeof(p), "%s/up", tree);
	if (symlink("../sentinel", p))
		die(p);
	/* The device, without its threads: set up as virtio_fs_dev_start does. */
	memcpy(vd.config.tag, "fuzz", 4);
	vd.config.num_request_queues = VFS_QUEUES - 1;
	vd.nworkers = VFS_QUEUES;
	for (unsigned i = 0; i < VFS_QUEUES; i++) {
		struct virtio_fs_worker *w = &vd.workers[i];
		*w = (struct virtio_fs_worker){ .d = &vd, .qi = i };
		w->req = malloc(VFS_REQ_MAX);
		w->reply = malloc(VFS_REPLY_MAX);
		if (!w->req || !w->reply)
			die("malloc");
	}
	vd.stop_fd = -1;
	if (virtio_mmio_init(&vd.t, &gm, MMIO_BASE, 5, VIRTIO_ID_FS,
			     1ULL << VIRTIO_RING_F_EVENT_IDX, &vd.config, sizeof(vd.config),
			     VFS_QUEUES))
		die("virtio_mmio_init");
	vd.t.on_reset = on_reset;
	vd.t.ctx = &vd;
	base_fds = count_fds();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in_p = data;
	in_n = size;
	uint8_t mode = u8();
	memset(ram, 0, RAM_SIZE);
	gm = (struct guest_mem){ .host = ram, .size = RAM_SIZE,
				  .low_size = (mode & M_SPLIT) ? RAM_LOW : RAM_SIZE };
	event_idx = mode & M_EVENT_IDX;
	bool fs = mode & M_FS;
	ro_page = !fs && (mode & M_RO_PAGE);
	qsize = 0;
	npending = 0;
	if (fs) {
		vd.server = fuse_server_new(tree, true);
		if (!vd.server)
			die("fuse_server_new");
		mmio_w(VIRTIO_MMIO_STATUS, 0); /* reset: queues forgotten (a DESTROY) */
		cur_q = 1;
	} else {
		uint8_t l = u8();
		uint32_t da = u32(), aa = u32(), ua = u32();
		raw_init(l & 0xf, da, aa, ua, event_idx);
	}
	for (unsigned n = 0; n < MAX_OPS && in_n; n++) {
		uint8_t op = u8() % OP_COUNT;
		switch (op) {
		case OP_MEM: {
			uint16_t off = u16();
			uint8_t len = u8();
			uint8_t buf[256];
			take(buf, len);
			size_t at = off % RAM_SIZE, k = len < RAM_SIZE - at ? len : RAM_SIZE - at;
			memcpy(ram + at, buf, k);
			break;
		}
		case OP_DESC: case OP_IDESC: {
			uint16_t where = u16();
			uint64_t addr = u64();
			uint32_t len = u32();
			uint16_t flags = u16(), next = u16();
			void *at = op == OP_DESC ? (void *)ring_desc(where)
						 : (where % RAM_SIZE <= RAM_SIZE - 16
							    ? ram + where % RAM_SIZE : NULL);
			if (at)
				put_desc(at, addr, len, flags, next);
			break;
		}
		case OP_AVAIL: {
			uint16_t slot = u16(), head = u16();
			struct vring_avail *a = ring_avail();
			if (a)
				memcpy(&a->ring[slot & (qsize - 1)], &head, 2);
			break;
		}
		case OP_AVAIL_IDX: {
			uint16_t delta = u16();
			struct vring_avail *a = ring_avail();
			if (a) {
				uint16_t idx;
				memcpy(&idx, &a->idx, 2);
				idx = (uint16_t)(idx + delta);
				memcpy(&a->idx, &idx, 2);
			}
			break;
		}
		case OP_FLAGS: {
			uint16_t af = u16(), ue = u16(), uf = u16();
			struct vring_avail *a = ring_avail();
			struct vring_used *u = ring_used();
			if (a && u) {
				memcpy(&a->flags, &af, 2);
				memcpy(&a->ring[qsize], &ue, 2); /* used_event */
				memcpy(&u->flags, &uf, 2);
			}
			break;
		}
		case OP_CHAIN: case OP_INDIRECT: {
			uint16_t head = u16();
			uint16_t toff = op == OP_INDIRECT ? u16() : 0;
			/* Bit 7 of nout: every buffer at the same address, so
			 * a request can be bigger than RAM (the device's
			 * E2BIG); at most 126 buffers, under VIRTQ_MAX_SEGS
			 * (test_virtq checks that limit). */
			uint8_t bo = u8(), bi = u8();
			uint8_t nout = bo & 0x3f, nin = bi & 0x3f;
			bool same = bo & 0x80;
			uint16_t boff = u16(), slen = u16();
			unsigned total = nout + nin;
			if (!qsize || !total)
				break;
			for (unsigned k = 0; k < total; k++) {
				uint16_t flags = (uint16_t)((k >= nout ? VRING_DESC_F_WRITE : 0) |
							    (k + 1 < total ? VRING_DESC_F_NEXT : 0));
				uint64_t addr = boff + (same ? 0 : (uint64_t)k * slen);
				if (op == OP_CHAIN) {
					uint16_t i = (uint16_t)((head + k) & (qsize - 1));
					put_desc(ring_desc(i), addr, slen, flags,
						 (uint16_t)((i + 1) & (qsize - 1)));
				} else if (toff + 16ull * (k + 1) <= RAM_SIZE) {
					put_desc(ram + toff + 16 * k, addr, slen, flags,
						 (uint16_t)(k + 1));
				}
			}
			if (op == OP_INDIRECT)
				put_desc(ring_desc(head), toff, 16 * total, VRING_DESC_F_INDIRECT, 0);
			avail_push((uint16_t)(head & (qsize - 1)));
			break;
		}
		case OP_FUSE: {
			uint16_t off = u16();
			struct fuse_in_header h = { 0 };
			h.opcode = u32();
			h.nodeid = u64();
			uint8_t plen = u8();
			uint8_t buf[sizeof(h) + 256];
			h.len = (uint32_t)(sizeof(h) + plen);
			h.unique = n + 1;
			memcpy(buf, &h, sizeof(h));
			take(buf + sizeof(h), plen);
			size_t at = off % RAM_SIZE, k = h.len < RAM_SIZE - at ? h.len : RAM_SIZE - at;
			memcpy(ram + at, buf, k);
			break;
		}
		case OP_POP: {
			uint8_t count = u8();
			if (fs)
				fs_kick();
			else if (d_ok)
				raw_pop(count);
			break;
		}
		case OP_PUSH: {
			uint8_t i = u8();
			uint32_t len = u32();
			if (!fs && d_ok && npending) {
				unsigned k = i % npending;
				virtq_dev_push(&dq, pending[k].head, len);
				pending[k] = pending[--npending];
			}
			break;
		}
		case OP_NOTIFY:
			if (!fs && d_ok)
				(void)virtq_dev_notify_needed(&dq);
			break;
		case OP_TOUCH: {
			uint8_t i = u8();
			if (!fs)
				raw_touch(i);
			break;
		}
		case OP_REINIT: {
			uint8_t l = u8();
			uint32_t da = u32(), aa = u32(), ua = u32();
			uint8_t ev = u8();
			if (!fs)
				raw_init(l & 0xf, da, aa, ua, ev & 1);
			break;
		}
		case OP_MMIO_W: {
			uint16_t off = u16();
			uint32_t v = u32();
			if (fs) {
				/* No notify eventfd writes: nothing waits on them. */
				if (off != VIRTIO_MMIO_QUEUE_NOTIFY)
					virtio_mmio_write(&vd.t, off % VIRTIO_MMIO_SIZE, 4, v);
				fs_ring_sync();
			}
			break;
		}
		case OP_MMIO_R: {
			uint16_t off = u16();
			uint8_t len = u8();
			if (fs)
				(void)virtio_mmio_read(&vd.t, off % VIRTIO_MMIO_SIZE, 1u << (len % 3));
			break;
		}
		case OP_SETUP: {
			uint8_t qi = u8(), l = u8();
			uint32_t da = u32(), aa = u32(), ua = u32();
			if (fs)
				fs_setup(qi % VFS_QUEUES, l, da, aa, ua);
			break;
		}
		case OP_SELQ: {
			uint8_t qi = u8();
			if (fs) {
				cur_q = qi % VFS_QUEUES;
				fs_ring_sync();
			}
			break;
		}
		}
	}
	if (fs) {
		mmio_w(VIRTIO_MMIO_STATUS, 0); /* as a guest reboot would */
		fuse_server_free(vd.server);
		vd.server = NULL;
		uint64_t v;
		/* Interrupts raised for the (absent) vCPU: drain them. */
		while (read(vd.t.irq_fd, &v, sizeof(v)) > 0)
			;
		CHECK(count_fds() == base_fds);
	}
	return 0;
}

/* ---- seeds ---- */

static void s8(struct seed *s, uint8_t v) { seed_put(s, &v, 1); }
static void s16(struct seed *s, uint16_t v) { seed_put(s, &v, 2); }
static void s32(struct seed *s, uint32_t v) { seed_put(s, &v, 4); }
static void s64(struct seed *s, uint64_t v) { seed_put(s, &v, 8); }

static void s_raw_head(struct seed *s, uint8_t mode, uint8_t log2size, uint32_t da, uint32_t aa,
		       uint32_t ua)
{
	s->n = 0;
	s8(s, mode);
	s8(s, log2size);
	s32(s, da);
	s32(s, aa);
	s32(s, ua);
}

static void s_desc(struct seed *s, uint8_t op, uint16_t where, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	s8(s, op);
	s16(s, where);
	s64(s, addr);
	s32(s, len);
	s16(s, flags);
	s16(s, next);
}

static void s_avail(struct seed *s, uint16_t slot, uint16_t head)
{
	s8(s, OP_AVAIL);
	s16(s, slot);
	s16(s, head);
}

static void s_idx(struct seed *s, uint16_t delta)
{
	s8(s, OP_AVAIL_IDX);
	s16(s, delta);
}

static void s_chain(struct seed *s, uint16_t head, uint8_t nout, uint8_t nin, uint16_t boff,
		    uint16_t slen)
{
	s8(s, OP_CHAIN);
	s16(s, head);
	s8(s, nout);
	s8(s, nin);
	s16(s, boff);
	s16(s, slen);
}

static void s_indirect(struct seed *s, uint16_t head, uint16_t toff, uint8_t nout, uint8_t nin,
		       uint16_t boff, uint16_t slen)
{
	s8(s, OP_INDIRECT);
	s16(s, head);
	s16(s, toff);
	s8(s, nout);
	s8(s, nin);
	s16(s, boff);
	s16(s, slen);
}

static void s_pop(struct seed *s, uint8_t n)
{
	s8(s, OP_POP);
	s8(s, n);
}

static void s_push(struct seed *s, uint8_t i, uint32_t len)
{
	s8(s, OP_PUSH);
	s8(s, i);
	s32(s, len);
}

static void s_touch_notify(struct seed *s)
{
	s8(s, OP_TOUCH);
	s8(s, 0);
	s8(s, OP_NOTIFY);
}

static void s_fuse(struct seed *s, uint16_t off, uint32_t opcode, uint64_t nodeid, const void *p,
		   uint8_t plen)
{
	s8(s, OP_FUSE);
	s16(s, off);
	s32(s, opcode);
	s64(s, nodeid);
	s8(s, plen);
	seed_put(s, p, plen);
}

static void s_setup(struct seed *s, uint8_t qi, uint8_t log2size, uint32_t da, uint32_t aa,
		    uint32_t ua)
{
	s8(s, OP_SETUP);
	s8(s, qi);
	s8(s, log2size);
	s32(s, da);
	s32(s, aa);
	s32(s, ua);
}

static void write_seeds(const char *dir)
{
	struct seed s;
	const uint16_t R = 0, W = VRING_DESC_F_WRITE, N = VRING_DESC_F_NEXT,
		       I = VRING_DESC_F_INDIRECT;
	/* Raw queues of size 16 at 0 / 0x1000 / 0x2000; buffers from 0x8000. */
	for (int ev = 0; ev < 2; ev++) {
		char name[64];
		/* Good chains of several shapes, popped, touched, pushed. */
		s_raw_head(&s, (uint8_t)ev, 4, 0, 0x1000, 0x2000);
		s_chain(&s, 0, 1, 1, 0x8000, 100);
		s_chain(&s, 2, 3, 2, 0x9000, 512);
		s_indirect(&s, 7, 0x6000, 2, 3, 0xa000, 64);
		s_chain(&s, 8, 0, 4, 0xb000, 8);
		s_chain(&s, 12, 4, 0, 0xc000, 1);
		s_pop(&s, 8);
		s_touch_notify(&s);
		s_push(&s, 0, 100);
		s_push(&s, 0, 0);
		s_push(&s, 1, 5000);
		s8(&s, OP_NOTIFY);
		s_pop(&s, 1);
		snprintf(name, sizeof(name), "raw-good-ev%d", ev);
		seed_file(dir, name, &s);
		/* Flags and event words, then pops that find nothing. */
		s_raw_head(&s, (uint8_t)ev, 3, 0x100, 0x300, 0x400);
		s_chain(&s, 1, 1, 0, 0x8000, 16);
		s8(&s, OP_FLAGS); s16(&s, VRING_AVAIL_F_NO_INTERRUPT); s16(&s, 0); s16(&s, 0);
		s_pop(&s, 3);
		s_push(&s, 0, 1);
		s8(&s, OP_NOTIFY);
		s8(&s, OP_FLAGS); s16(&s, 0); s16(&s, 7); s16(&s, VRING_USED_F_NO_NOTIFY);
		s_push(&s, 0, 1);
		s8(&s, OP_NOTIFY);
		snprintf(name, sizeof(name), "raw-flags-ev%d", ev);
		seed_file(dir, name, &s);
	}
	/* Hostile chains, one seed each: a loop, next out of range, a readable
	 * after a writable, an address outside RAM, a huge length, zero
	 * lengths, too many segments, a bad head, an avail index jump. */
	struct { const char *name; uint16_t flags0, next0; uint64_t addr0; uint32_t len0; } bad[] = {
		{ "raw-loop", R | N, 0, 0x8000, 16 },
		{ "raw-next-oob", R | N, 200, 0x8000, 16 },
		{ "raw-out-of-ram", R, 0, 0x20000, 16 },
		{ "raw-addr-wrap", R, 0, UINT64_MAX - 7, 16 },
		{ "raw-huge-len", W, 0, 0x8000, UINT32_MAX },
		{ "raw-zero-len", R | N, 1, 0x8000, 0 },
		{ "raw-high-ram", R, 0, HIGH_BASE + 0x100, 64 },
	};
	for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		s_raw_head(&s, M_SPLIT, 4, 0, 0x1000, 0x2000);
		s_desc(&s, OP_DESC, 0, bad[k].addr0, bad[k].len0, bad[k].flags0, bad[k].next0);
		s_desc(&s, OP_DESC, 1, 0x8100, 32, W, 0);
		s_avail(&s, 0, 0);
		s_idx(&s, 1);
		s_pop(&s, 2);
		s_touch_notify(&s);
		seed_file(dir, bad[k].name, &s);
	}
	s_raw_head(&s, 0, 4, 0, 0x1000, 0x2000);
	s_desc(&s, OP_DESC, 0, 0x9000, 8, W | N, 1);
	s_desc(&s, OP_DESC, 1, 0x9100, 8, R, 0);
	s_avail(&s, 0, 0);
	s_idx(&s, 1);
	s_pop(&s, 1);
	seed_file(dir, "raw-read-after-write", &s);
	s_raw_head(&s, 0, 7, 0, 0x800, 0x1000);
	for (uint16_t i = 0; i < 70; i++)
		s_desc(&s, OP_DESC, i, 0x8000 + 8u * i, 8, N, (uint16_t)(i + 1));
	s_avail(&s, 0, 0);
	s_idx(&s, 1);
	s_pop(&s, 1);
	seed_file(dir, "raw-too-many-segs", &s);
	s_raw_head(&s, 0, 4, 0, 0x1000, 0x2000);
	s_avail(&s, 0, 16);
	s_idx(&s, 1);
	s_pop(&s, 2);
	seed_file(dir, "raw-bad-head", &s);
	s_raw_head(&s, 1, 4, 0, 0x1000, 0x2000);
	s_chain(&s, 0, 1, 0, 0x8000, 16);
	s_idx(&s, 40);
	s_pop(&s, 2);
	seed_file(dir, "raw-idx-jump", &s);
	/* Indirect tables of three entries (readable, readable, writable):
	 * a good one, one 8-aligned, and nested, with NEXT, misaligned, huge,
	 * zero, odd, looping, next out of the table, reaching out of RAM. */
	struct { const char *name; uint16_t taddr; uint32_t tlen; uint16_t dflags;
		 uint16_t t0flags; uint16_t t0next; } ind[] = {
		{ "raw-ind-good", 0x6000, 48, I, R | N, 1 },
		{ "raw-ind-align8", 0x6008, 48, I, R | N, 1 },
		{ "raw-ind-nested", 0x6000, 48, I, I, 0 },
		{ "raw-ind-next", 0x6000, 48, I | N, R | N, 1 },
		{ "raw-ind-misaligned", 0x6004, 48, I, R | N, 1 },
		{ "raw-ind-huge", 0x6000, 0xfffffff0u, I, R | N, 1 },
		{ "raw-ind-zero", 0x6000, 0, I, R | N, 1 },
		{ "raw-ind-oddlen", 0x6000, 20, I, R | N, 1 },
		{ "raw-ind-loop", 0x6000, 48, I, R | N, 0 },
		{ "raw-ind-next-oob", 0x6000, 48, I, R | N, 9 },
		{ "raw-ind-out-of-ram", 0xfff0, 48, I, R | N, 1 },
	};
	for (unsigned k = 0; k < sizeof(ind) / sizeof(ind[0]); k++) {
		uint16_t t = ind[k].taddr + 48u <= RAM_SIZE ? ind[k].taddr : 0x6000;
		s_raw_head(&s, 0, 4, 0, 0x1000, 0x2000);
		s_desc(&s, OP_IDESC, t, 0x8000, 64, ind[k].t0flags, ind[k].t0next);
		s_desc(&s, OP_IDESC, (uint16_t)(t + 16), 0x8100, 64, R | N, 2);
		s_desc(&s, OP_IDESC, (uint16_t)(t + 32), 0x8200, 64, W, 0);
		s_desc(&s, OP_DESC, 3, ind[k].taddr, ind[k].tlen, ind[k].dflags, 4);
		s_desc(&s, OP_DESC, 4, 0x8400, 64, W, 0);
		s_avail(&s, 0, 3);
		s_idx(&s, 1);
		s_pop(&s, 1);
		s_touch_notify(&s);
		seed_file(dir, ind[k].name, &s);
	}
	/* A chain whose second descriptor is indirect. */
	s_raw_head(&s, 0, 4, 0, 0x1000, 0x2000);
	s_desc(&s, OP_IDESC, 0x6000, 0x8000, 64, R, 0);
	s_desc(&s, OP_DESC, 0, 0x8000, 64, R | N, 1);
	s_desc(&s, OP_DESC, 1, 0x6000, 16, I, 0);
	s_avail(&s, 0, 0);
	s_idx(&s, 1);
	s_pop(&s, 1);
	seed_file(dir, "raw-ind-in-chain", &s);
	/* Bad rings for virtq_dev_init, and a re-init to a good one. */
	s_raw_head(&s, 0, 11, 0, 0x1000, 0x2000);
	s8(&s, OP_REINIT); s8(&s, 4); s32(&s, 8); s32(&s, 0x1000); s32(&s, 0x2000); s8(&s, 0);
	s8(&s, OP_REINIT); s8(&s, 4); s32(&s, 0); s32(&s, 0x1001); s32(&s, 0x2000); s8(&s, 0);
	s8(&s, OP_REINIT); s8(&s, 4); s32(&s, 0); s32(&s, 0x1000); s32(&s, 0x2002); s8(&s, 1);
	s8(&s, OP_REINIT); s8(&s, 10); s32(&s, 0xc000); s32(&s, 0x1000); s32(&s, 0x2000); s8(&s, 1);
	s8(&s, OP_REINIT); s8(&s, 10); s32(&s, 0x80000000u); s32(&s, 0x80003000u); s32(&s, 0x3000); s8(&s, 1);
	s8(&s, OP_REINIT); s8(&s, 0); s32(&s, 0); s32(&s, 0x10); s32(&s, 0x20); s8(&s, 1);
	s_chain(&s, 0, 1, 1, 0x8000, 8);
	s_pop(&s, 1);
	s_push(&s, 0, 8);
	s8(&s, OP_NOTIFY);
	seed_file(dir, "raw-init", &s);
	/* The read-only page: a writable buffer there is refused. */
	s_raw_head(&s, M_RO_PAGE, 4, 0, 0x1000, 0x2000);
	s_chain(&s, 0, 1, 1, 0xf000, 64);
	s_pop(&s, 1);
	seed_file(dir, "raw-ro-page", &s);

	/* virtio-fs: queue 1 at 0/0x1000/0x2000 (16 entries), requests at
	 * 0x8000 + 0x400 k, replies at 0xa000 + 0x400 k (after the request). */
	struct fuse_init_in init = { .major = 7, .minor = 38, .max_readahead = 65536,
				     .flags = FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES };
	struct fuse_open_in oin = { .flags = 0 };
	struct fuse_read_in rin = { .fh = 1, .offset = 0, .size = 4096 };
	for (int ev = 0; ev < 2; ev++) {
		char name[64];
		s.n = 0;
		s8(&s, (uint8_t)(M_FS | ev));
		s_setup(&s, 1, 4, 0, 0x1000, 0x2000);
		s_fuse(&s, 0x8000, FUSE_INIT, 0, &init, sizeof(init));
		s_fuse(&s, 0x8400, FUSE_LOOKUP, 1, "hello.txt", 10);
		s_fuse(&s, 0x8800, FUSE_OPEN, 2, &oin, sizeof(oin));
		s_fuse(&s, 0x8c00, FUSE_READ, 2, &rin, sizeof(rin));
		s_fuse(&s, 0x9000, FUSE_LOOKUP, 1, "up", 3);
		s_fuse(&s, 0x9400, FUSE_READLINK, 3, NULL, 0);
		s_fuse(&s, 0x9800, FUSE_OPENDIR, 1, &oin, sizeof(oin));
		rin.fh = 2;
		s_fuse(&s, 0x9c00, FUSE_READDIRPLUS, 1, &rin, sizeof(rin));
		rin.fh = 1;
		/* Requests as one readable and one writable descriptor each;
		 * the READ's reply split over three pieces. */
		s_chain(&s, 0, 1, 1, 0x8000, 0x400);
		s8(&s, OP_POP); s8(&s, 0);
		s_chain(&s, 2, 1, 1, 0x8400, 0x400);
		s_chain(&s, 4, 1, 1, 0x8800, 0x400);
		s_chain(&s, 6, 1, 3, 0x8c00, 0x400);
		s_chain(&s, 10, 1, 1, 0x9000, 0x400);
		s_chain(&s, 12, 1, 1, 0x9400, 0x400);
		s8(&s, OP_POP); s8(&s, 0);
		s_chain(&s, 14, 1, 1, 0x9800, 0x400);
		s_indirect(&s, 0, 0x6000, 1, 2, 0x9c00, 0x400);
		s8(&s, OP_POP); s8(&s, 0);
		snprintf(name, sizeof(name), "fs-session-ev%d", ev);
		seed_file(dir, name, &s);
	}
	/* virtio-fs: hostile requests: a chain that breaks the queue, a
	 * short header, no writable part, a lying length, the hiprio queue,
	 * and raw register traffic. */
	s.n = 0;
	s8(&s, M_FS);
	s_setup(&s, 0, 3, 0x3000, 0x3400, 0x3800);
	s_setup(&s, 1, 4, 0, 0x1000, 0x2000);
	s_fuse(&s, 0x8000, FUSE_INIT, 0, &init, sizeof(init));
	s_chain(&s, 0, 1, 1, 0x8000, 0x400);
	s8(&s, OP_POP); s8(&s, 0);
	s_chain(&s, 2, 1, 0, 0x8000, 0x400);             /* no room for a reply */
	s_chain(&s, 4, 1, 1, 0x8000, 10);                /* a short header */
	s_chain(&s, 6, 2, 1, 0x8000, 0x7000);            /* the request is huge */
	s8(&s, OP_POP); s8(&s, 0);
	s8(&s, OP_SELQ); s8(&s, 0);
	struct fuse_forget_in fg = { .nlookup = 1 };
	s_fuse(&s, 0x9000, FUSE_FORGET, 2, &fg, sizeof(fg));
	s_chain(&s, 0, 1, 0, 0x9000, sizeof(struct fuse_in_header) + sizeof(fg));
	s8(&s, OP_POP); s8(&s, 0);
	s8(&s, OP_SELQ); s8(&s, 1);
	s_desc(&s, OP_DESC, 8, 0x8000, 64, R | N, 8);    /* a loop: the queue breaks */
	s_avail(&s, 3, 8);
	s_idx(&s, 1);
	s8(&s, OP_POP); s8(&s, 0);
	s8(&s, OP_MMIO_R); s16(&s, VIRTIO_MMIO_STATUS); s8(&s, 2);
	s8(&s, OP_MMIO_R); s16(&s, VIRTIO_MMIO_SHM_LEN_LOW); s8(&s, 2);
	s8(&s, OP_MMIO_R); s16(&s, VIRTIO_MMIO_CONFIG); s8(&s, 1);
	s8(&s, OP_MMIO_W); s16(&s, VIRTIO_MMIO_STATUS); s32(&s, 0);
	s8(&s, OP_MMIO_W); s16(&s, VIRTIO_MMIO_QUEUE_SEL); s32(&s, 1);
	s8(&s, OP_MMIO_W); s16(&s, VIRTIO_MMIO_QUEUE_NUM); s32(&s, 3);
	s8(&s, OP_MMIO_W); s16(&s, VIRTIO_MMIO_QUEUE_READY); s32(&s, 1);
	s8(&s, OP_MMIO_W); s16(&s, VIRTIO_MMIO_QUEUE_NUM); s32(&s, 8);
	s8(&s, OP_MMIO_W); s16(&s, VIRTIO_MMIO_QUEUE_DESC_HIGH); s32(&s, 1);
	s8(&s, OP_MMIO_W); s16(&s, VIRTIO_MMIO_QUEUE_READY); s32(&s, 1);
	s8(&s, OP_POP); s8(&s, 0);
	seed_file(dir, "fs-hostile", &s);
	/* virtio-fs: a request bigger than the device takes (41 x 32 KiB
	 * readable, all over the same RAM), then a good one. */
	s.n = 0;
	s8(&s, M_FS);
	s_setup(&s, 1, 4, 0, 0x1000, 0x2000);
	s_fuse(&s, 0x8000, FUSE_INIT, 0, &init, sizeof(init));
	s_indirect(&s, 0, 0x3000, 0x80 | 41, 1, 0x8000, 0x8000);
	s8(&s, OP_POP); s8(&s, 0);
	s_chain(&s, 1, 1, 1, 0x8000, 0x400);
	s8(&s, OP_POP); s8(&s, 0);
	seed_file(dir, "fs-too-big", &s);
	/* virtio-fs over split RAM: rings and buffers at 4 GiB. */
	s.n = 0;
	s8(&s, M_FS | M_SPLIT | M_EVENT_IDX);
	s_setup(&s, 1, 4, 0x80000000u, 0x80001000u, 0x80001800u);
	s_fuse(&s, 0x8000, FUSE_INIT, 0, &init, sizeof(init));
	s_desc(&s, OP_DESC, 0, 0x8000, 0x400, R | N, 1);
	s_desc(&s, OP_DESC, 1, HIGH_BASE + 0x2000, 0x400, W, 0);
	s_avail(&s, 0, 0);
	s_idx(&s, 1);
	s8(&s, OP_POP); s8(&s, 0);
	seed_file(dir, "fs-split-ram", &s);
}
