/*
 * virtio-mmio transport, device side (see virtio_mmio.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include "virtio_mmio.h"

static void *xlate(void *ctx, uint64_t addr, uint64_t len, bool write)
{
	(void)write;
	return guest_mem_ptr(ctx, addr, len);
}

int virtio_mmio_init(struct virtio_mmio *t, struct guest_mem *mem, uint64_t base, uint32_t gsi,
		     uint32_t device_id, uint64_t features, const void *config,
		     uint32_t config_len, unsigned nqueues)
{
	*t = (struct virtio_mmio){
		.base = base, .gsi = gsi, .device_id = device_id, .mem = mem,
		.device_features = features | (1ULL << VIRTIO_F_VERSION_1),
		.config = config, .config_len = config_len, .nqueues = nqueues, .irq_fd = -1,
	};
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->q[i].notify_fd = -1;
	if (nqueues > VIRTIO_MMIO_MAX_QUEUES)
		return -EINVAL;
	pthread_mutex_init(&t->lock, NULL);
	t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->irq_fd < 0)
		return -errno;
	for (unsigned i = 0; i < nqueues; i++) {
		t->q[i].notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->q[i].notify_fd < 0)
			return -errno;
	}
	return 0;
}

void virtio_mmio_free(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		if (t->q[i].notify_fd >= 0)
			close(t->q[i].notify_fd);
		t->q[i].notify_fd = -1;
	}
	if (t->irq_fd >= 0)
		close(t->irq_fd);
	t->irq_fd = -1;
}

/* Back to the state after power-on: every queue forgotten. */
static void reset(struct virtio_mmio *t)
{
	if (t->on_reset)
		t->on_reset(t->ctx);
	t->status = 0;
	t->driver_features = 0;
	t->int_status = 0;
	t->dev_features_sel = t->drv_features_sel = t->queue_sel = t->shm_sel = 0;
	for (unsigned i = 0; i < t->nqueues; i++) {
		struct virtio_mmio_queue *q = &t->q[i];
		q->num = 0;
		q->ready = false;
		q->gen++;
		q->desc = q->avail = q->used = 0;
	}
}

static struct virtio_mmio_queue *cur_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->nqueues ? &t->q[t->queue_sel] : NULL;
}

static void set_ready(struct virtio_mmio *t, struct virtio_mmio_queue *q, uint32_t v)
{
	q->gen++;
	if (!v) {
		q->ready = false;
		return;
	}
	bool event_idx = t->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	if (q->num == 0 || q->num > VIRTIO_MMIO_QUEUE_MAX || (q->num & (q->num - 1)) ||
	    virtq_dev_init(&q->vq, (uint16_t)q->num, q->desc, q->avail, q->used, event_idx, xlate,
			   t->mem)) {
		fprintf(stderr, "pier: virtio-mmio %#llx: queue %u rejected (size %u, rings "
				"outside RAM or misaligned)\n", (unsigned long long)t->base,
			t->queue_sel, q->num);
		t->bad_writes++;
		return;
	}
	q->ready = true;
}

static void set_status(struct virtio_mmio *t, uint32_t v)
{
	if (v == 0) {
		reset(t);
		return;
	}
	/* FEATURES_OK only if the driver asked for nothing we lack and took
	 * VERSION_1 (no legacy interface here). */
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    ((t->driver_features & ~t->device_features) ||
	     !(t->driver_features & (1ULL << VIRTIO_F_VERSION_1))))
		v &= ~(uint32_t)VIRTIO_CONFIG_S_FEATURES_OK;
	t->status = v;
}

static uint32_t read_config(struct virtio_mmio *t, uint64_t off, unsigned len)
{
	uint32_t v = 0;
	if (len <= sizeof(v) && off < t->config_len && len <= t->config_len - off)
		memcpy(&v, t->config + off, len);
	return v;
}

uint32_t virtio_mmio_read(struct virtio_mmio *t, uint64_t off, unsigned len)
{
	if (off >= VIRTIO_MMIO_CONFIG)
		return read_config(t, off - VIRTIO_MMIO_CONFIG, len);
	if (len != 4 || (off & 3))
		return 0; /* registers are 32-bit, aligned (4.2.2.2) */
	pthread_mutex_lock(&t->lock);
	struct virtio_mmio_queue *q = cur_queue(t);
	uint32_t v = 0;
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: v = 0x74726976; break; /* "virt" */
	case VIRTIO_MMIO_VERSION: v = 2; break;
	case VIRTIO_MMIO_DEVICE_ID: v = t->device_id; break;
	case VIRTIO_MMIO_VENDOR_ID: v = 0x52454950; break;   /* "PIER" */
	case VIRTIO_MMIO_DEVICE_FEATURES:
		v = t->dev_features_sel < 2 ? (uint32_t)(t->device_features >> (32 * t->dev_features_sel)) : 0;
		break;
	case VIRTIO_MMIO_QUEUE_NUM_MAX: v = q ? VIRTIO_MMIO_QUEUE_MAX : 0; break;
	case VIRTIO_MMIO_QUEUE_READY: v = q && q->ready; break;
	case VIRTIO_MMIO_INTERRUPT_STATUS: v = t->int_status; break;
	case VIRTIO_MMIO_STATUS: v = t->status; break;
	/* Region 0 only; a length of all ones means "no such region" (4.2.2). */
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH: {
		bool has = t->shm_sel == 0 && t->shm_len;
		bool is_len = off == VIRTIO_MMIO_SHM_LEN_LOW || off == VIRTIO_MMIO_SHM_LEN_HIGH;
		bool high = off == VIRTIO_MMIO_SHM_LEN_HIGH || off == VIRTIO_MMIO_SHM_BASE_HIGH;
		uint64_t x = !has ? ~0ULL : is_len ? t->shm_len : t->shm_base;
		v = (uint32_t)(high ? x >> 32 : x);
		break;
	}
	case VIRTIO_MMIO_CONFIG_GENERATION: v = 0; break;
	default: break;
	}
	pthread_mutex_unlock(&t->lock);
	return v;
}

static void set_addr(uint64_t *a, bool high, uint32_t v)
{
	*a = high ? (*a & 0xffffffffULL) | ((uint64_t)v << 32) : (*a & ~0xffffffffULL) | v;
}

void virtio_mmio_write(struct virtio_mmio *t, uint64_t off, unsigned len, uint32_t v)
{
	if (len != 4 || (off & 3) || off >= VIRTIO_MMIO_CONFIG) {
		t->bad_writes++; /* the configuration space is read-only for virtio-fs */
		return;
	}
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		/* Without ioeventfd the notification arrives here. */
		if (v < t->nqueues) {
			uint64_t one = 1;
			if (write(t->q[v].notify_fd, &one, sizeof(one)) < 0)
				t->bad_writes++;
		}
		return;
	}
	pthread_mutex_lock(&t->lock);
	struct virtio_mmio_queue *q = cur_queue(t);
	/* Queue layout may change only while the queue is not ready (4.2.2.2). */
	bool layout_ok = q && !q->ready;
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->dev_features_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->drv_features_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->drv_features_sel < 2 && !(t->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			unsigned sh = 32 * t->drv_features_sel;
			t->driver_features = (t->driver_features & ~(0xffffffffULL << sh)) |
					     ((uint64_t)v << sh);
		}
		break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = v; break;
	case VIRTIO_MMIO_QUEUE_NUM: if (layout_ok) q->num = v; break;
	case VIRTIO_MMIO_QUEUE_READY: if (q) set_ready(t, q, v); break;
	case VIRTIO_MMIO_INTERRUPT_ACK: t->int_status &= ~v; break;
	case VIRTIO_MMIO_STATUS: set_status(t, v); break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (layout_ok) set_addr(&q->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (layout_ok) set_addr(&q->avail, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (layout_ok) set_addr(&q->used, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		break;
	case VIRTIO_MMIO_SHM_SEL: t->shm_sel = v; break;
	default: t->bad_writes++; break;
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_needs_reset(struct virtio_mmio *t)
{
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	t->int_status |= VIRTIO_MMIO_INT_CONFIG;
	uint64_t one = 1;
	if (write(t->irq_fd, &one, sizeof(one)) < 0)
		t->bad_writes++;
}

void virtio_mmio_interrupt(struct virtio_mmio *t)
{
	t->int_status |= VIRTIO_MMIO_INT_VRING;
	t->interrupts++;
	uint64_t one = 1;
	if (write(t->irq_fd, &one, sizeof(one)) < 0)
		t->bad_writes++;
}
