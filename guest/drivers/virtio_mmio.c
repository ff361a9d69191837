/*
 * The virtio-mmio transport, version 2 (virtio 1.x, 4.2). Devices are named
 * on the command line as virtio_mmio.device=SIZE@ADDR:IRQ, the form QEMU's
 * microvm (and pier's VMM) append; there is nothing to scan.
 */
#include <linux/virtio_mmio.h>
#include <pier/errno.h>
#include <pier/fmt.h>
#include <pier/string.h>
#include "../arch/x86_64/irq.h"
#include "../kernel/console.h"
#include "../kernel/stats.h"
#include "../mm/mm.h"
#include "virtio.h"

#define MMIO_MAGIC 0x74726976 /* "virt" */
#define MMIO_MIN_SIZE 0x200

#define MMIO_MAX_DEVICES 32

struct vmmio {
	struct virtio_dev dev;
	volatile uint8_t *base;
	uint64_t size;
	unsigned irq;
	int vector;
	uint32_t sel; /* QUEUE_SEL as last written, ~0 if unknown: see select_queue */
};

static struct vmmio *probed[MMIO_MAX_DEVICES]; /* for virtio_mmio_scribble */
static int nprobed;

static struct vmmio *vm(struct virtio_dev *d)
{
	return d->transport;
}

static uint32_t rd(struct vmmio *m, uint32_t off)
{
	return *(volatile uint32_t *)(m->base + off);
}

static void wr(struct vmmio *m, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(m->base + off) = v;
}

static uint64_t get_features(struct virtio_dev *d)
{
	wr(vm(d), VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = rd(vm(d), VIRTIO_MMIO_DEVICE_FEATURES);
	wr(vm(d), VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return lo | (uint64_t)rd(vm(d), VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static void set_features(struct virtio_dev *d, uint64_t f)
{
	wr(vm(d), VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(vm(d), VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(vm(d), VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(vm(d), VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static uint8_t get_status(struct virtio_dev *d)
{
	return (uint8_t)rd(vm(d), VIRTIO_MMIO_STATUS);
}

static void set_status(struct virtio_dev *d, uint8_t s)
{
	wr(vm(d), VIRTIO_MMIO_STATUS, s);
}

/* Every queue register acts on the queue QUEUE_SEL names; writing it costs
 * an exit, so it is written only when it changes (~0: not known yet). */
static void select_queue(struct vmmio *m, uint16_t idx)
{
	if (m->sel != idx)
		wr(m, VIRTIO_MMIO_QUEUE_SEL, idx);
	m->sel = idx;
}

static uint16_t queue_max(struct virtio_dev *d, uint16_t idx)
{
	select_queue(vm(d), idx);
	if (rd(vm(d), VIRTIO_MMIO_QUEUE_READY))
		return 0; /* already in use: not ours to set up */
	uint32_t n = rd(vm(d), VIRTIO_MMIO_QUEUE_NUM_MAX);
	return n > 0xffff ? 0xffff : (uint16_t)n;
}

static int queue_enable(struct virtio_dev *d, uint16_t idx, const struct virtq *q)
{
	struct vmmio *m = vm(d);
	select_queue(m, idx);
	wr(m, VIRTIO_MMIO_QUEUE_NUM, q->size);
	wr(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc_addr);
	wr(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc_addr >> 32));
	wr(m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail_addr);
	wr(m, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(q->avail_addr >> 32));
	wr(m, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used_addr);
	wr(m, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(q->used_addr >> 32));
	wr(m, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

static void notify(struct virtio_dev *d, uint16_t idx)
{
	wr(vm(d), VIRTIO_MMIO_QUEUE_NOTIFY, idx);
	stats.kicks++;
}

static int config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct vmmio *m = vm(d);
	uint64_t room = m->size - VIRTIO_MMIO_CONFIG;
	if (off > room || len > room - off)
		return -EINVAL;
	virtio_config_copy(m->base + VIRTIO_MMIO_CONFIG, off, buf, len);
	return 0;
}

static void on_irq(void *arg)
{
	struct vmmio *m = arg;
	/* Acknowledge, or a level-triggered line keeps firing. */
	wr(m, VIRTIO_MMIO_INTERRUPT_ACK, rd(m, VIRTIO_MMIO_INTERRUPT_STATUS));
	if (m->dev.on_irq)
		m->dev.on_irq(&m->dev);
}

static int irq_setup(struct virtio_dev *d)
{
	struct vmmio *m = vm(d);
	m->vector = irq_alloc_vector(on_irq, m);
	if (m->vector < 0)
		return -EIO;
	return irq_route_gsi(m->irq, m->vector, false);
}

static int shm_region(struct virtio_dev *d, uint8_t id, uint64_t *addr, uint64_t *len)
{
	struct vmmio *m = vm(d);
	wr(m, VIRTIO_MMIO_SHM_SEL, id);
	uint64_t n = rd(m, VIRTIO_MMIO_SHM_LEN_LOW) | (uint64_t)rd(m, VIRTIO_MMIO_SHM_LEN_HIGH) << 32;
	uint64_t a = rd(m, VIRTIO_MMIO_SHM_BASE_LOW) |
		     (uint64_t)rd(m, VIRTIO_MMIO_SHM_BASE_HIGH) << 32;
	if (n == ~0ULL || n == 0)
		return -ENOENT; /* "no such region" reads as all ones */
	if (a + n < a)
		return -EINVAL;
	*addr = a;
	*len = n;
	return 0;
}

static const struct virtio_ops vmmio_ops = {
	.get_features = get_features,
	.set_features = set_features,
	.get_status = get_status,
	.set_status = set_status,
	.queue_max = queue_max,
	.queue_enable = queue_enable,
	.notify = notify,
	.config_read = config_read,
	.irq_setup = irq_setup,
	.shm_region = shm_region,
};

/* Parses "SIZE@ADDR:IRQ" (SIZE may carry K/M/G, numbers may be hex). */
static int parse_spec(const char *s, uint64_t *size, uint64_t *addr, unsigned *irq)
{
	char buf[64];
	size_t n = strnlen(s, sizeof(buf));
	if (n == sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	char *at = strchr(buf, '@'), *colon = at ? strchr(at, ':') : NULL;
	if (!at || !colon)
		return -EINVAL;
	*at = *colon = 0;
	unsigned long long sz, a, i;
	if (cmdline_parse_u64(buf, &sz) || cmdline_parse_u64(at + 1, &a) ||
	    cmdline_parse_u64(colon + 1, &i) || i > 255)
		return -EINVAL;
	*size = sz;
	*addr = a;
	*irq = (unsigned)i;
	return 0;
}

static void probe_one(const char *spec)
{
	uint64_t size, addr;
	unsigned irq;
	if (parse_spec(spec, &size, &addr, &irq) || size < MMIO_MIN_SIZE) {
		kprintf("virtio-mmio: bad device spec '%s', ignored\n", spec);
		return;
	}
	volatile uint8_t *base = mmio_map(addr, size);
	if (!base)
		return;
	uint32_t magic = *(volatile uint32_t *)base;
	uint32_t version = *(volatile uint32_t *)(base + VIRTIO_MMIO_VERSION);
	uint32_t id = *(volatile uint32_t *)(base + VIRTIO_MMIO_DEVICE_ID);
	if (magic != MMIO_MAGIC || id == 0)
		return; /* an empty slot: microvm lists every slot */
	if (version != 2) {
		kprintf("virtio-mmio %llx: version %u (legacy) not supported\n",
			(unsigned long long)addr, version);
		return;
	}
	struct vmmio *m = kzalloc(sizeof(*m));
	if (!m)
		return;
	m->base = base;
	m->sel = ~0u;
	m->size = size;
	m->irq = irq;
	m->dev.ops = &vmmio_ops;
	m->dev.transport = m;
	m->dev.device_id = id;
	fmt_snprintf(m->dev.name, sizeof(m->dev.name), "mmio %llx", (unsigned long long)addr);
	virtio_add_device(&m->dev);
	if (nprobed < MMIO_MAX_DEVICES)
		probed[nprobed++] = m;
	kprintf("virtio %s: device %u, irq %u\n", m->dev.name, id, irq);
}

void virtio_mmio_probe_all(const struct cmdline *cl)
{
	for (int i = 0; i < cl->nopts; i++)
		if (strcmp(cl->opts[i].key, "virtio_mmio.device") == 0)
			probe_one(cl->opts[i].value);
}

/*
 * Test-only (crash=virtio): what a buggy or hostile driver could do to the
 * device's register file. Queue layouts outside RAM, misaligned or huge,
 * queues made ready and notified, nonsense status and feature bits, then
 * pseudo-random writes of every width across registers and configuration
 * space. The VMM must survive all of it.
 */
void virtio_mmio_scribble(uint64_t seed)
{
	static const uint32_t sels[] = { 0, 1, 7, 0xffffffff };
	for (int d = 0; d < nprobed; d++) {
		struct vmmio *m = probed[d];
		m->sel = ~0u;
		for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
			wr(m, VIRTIO_MMIO_QUEUE_SEL, sels[i]);
			wr(m, VIRTIO_MMIO_QUEUE_READY, 0);
			wr(m, VIRTIO_MMIO_QUEUE_NUM, i & 1 ? 0xffffffff : 1024);
			wr(m, VIRTIO_MMIO_QUEUE_DESC_LOW, 0xfffff000);
			wr(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0xffffffff);
			wr(m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 1);
			wr(m, VIRTIO_MMIO_QUEUE_USED_LOW, 0xfee00000);
			wr(m, VIRTIO_MMIO_QUEUE_READY, 1);
			wr(m, VIRTIO_MMIO_QUEUE_NOTIFY, sels[i]);
		}
		wr(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0xdeadbeef);
		wr(m, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
		wr(m, VIRTIO_MMIO_STATUS, 0xff);
		uint64_t x = seed | 1;
		for (int i = 0; i < 4096; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
			uint32_t off = (uint32_t)(x >> 32) % (uint32_t)m->size, v = (uint32_t)x;
			switch ((x >> 20) & 3) {
			case 0: *(volatile uint8_t *)(m->base + off) = (uint8_t)v; break;
			case 1: *(volatile uint16_t *)(m->base + (off & ~1u)) = (uint16_t)v; break;
			default: wr(m, off & ~3u, v); break;
			}
		}
		kprintf("virtio %s: scribbled over its registers (crash_seed=%llu)\n", m->dev.name,
			(unsigned long long)seed);
	}
}
