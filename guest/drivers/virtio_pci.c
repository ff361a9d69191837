/*
 * The virtio-pci modern transport (virtio 1.x, 4.1): vendor capabilities
 * locate the common, notify, ISR and device configuration structures in
 * the BARs; interrupts come by MSI-X when the device has it, else INTx.
 */
#include <stddef.h>
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>
#include <pier/errno.h>
#include <pier/fmt.h>

#include <pier/string.h>
#include "../arch/x86_64/irq.h"
#include "../kernel/console.h"
#include "../kernel/stats.h"
#include "../mm/mm.h"
#include "pci.h"
#include "virtio.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_MODERN_BASE 0x1040 /* + device id */

struct vpci {
	struct virtio_dev dev;
	struct pci_dev pci;
	volatile struct virtio_pci_common_cfg *common;
	volatile uint8_t *notify_base;
	uint32_t notify_len, notify_mult;
	volatile uint8_t *isr;
	volatile uint8_t *device_cfg;
	uint32_t device_cfg_len;
	volatile uint32_t *msix_table; /* NULL: no MSI-X */
	uint16_t msix_entries;
	int vector;
	volatile uint16_t *notify_addr[VIRTIO_MAX_QUEUES];
};

bool virtio_pci_intx;

static struct vpci *vp(struct virtio_dev *d)
{
	return d->transport;
}

static uint64_t get_features(struct virtio_dev *d)
{
	volatile struct virtio_pci_common_cfg *c = vp(d)->common;
	c->device_feature_select = 0;
	uint64_t lo = c->device_feature;
	c->device_feature_select = 1;
	return lo | (uint64_t)c->device_feature << 32;
}

static void set_features(struct virtio_dev *d, uint64_t f)
{
	volatile struct virtio_pci_common_cfg *c = vp(d)->common;
	c->guest_feature_select = 0;
	c->guest_feature = (uint32_t)f;
	c->guest_feature_select = 1;
	c->guest_feature = (uint32_t)(f >> 32);
}

static uint8_t get_status(struct virtio_dev *d)
{
	return vp(d)->common->device_status;
}

static void set_status(struct virtio_dev *d, uint8_t s)
{
	vp(d)->common->device_status = s;
}

static uint16_t queue_max(struct virtio_dev *d, uint16_t idx)
{
	volatile struct virtio_pci_common_cfg *c = vp(d)->common;
	if (idx >= c->num_queues)
		return 0;
	c->queue_select = idx;
	return c->queue_size;
}

static int queue_enable(struct virtio_dev *d, uint16_t idx, const struct virtq *q)
{
	struct vpci *v = vp(d);
	volatile struct virtio_pci_common_cfg *c = v->common;
	c->queue_select = idx;
	c->queue_size = q->size;
	c->queue_desc_lo = (uint32_t)q->desc_addr;
	c->queue_desc_hi = (uint32_t)(q->desc_addr >> 32);
	c->queue_avail_lo = (uint32_t)q->avail_addr;
	c->queue_avail_hi = (uint32_t)(q->avail_addr >> 32);
	c->queue_used_lo = (uint32_t)q->used_addr;
	c->queue_used_hi = (uint32_t)(q->used_addr >> 32);
	if (v->msix_table) {
		c->queue_msix_vector = 0; /* every queue shares table entry 0 */
		if (c->queue_msix_vector != 0) {
			kprintf("virtio %s: device refused MSI-X vector for queue %u\n", d->name, idx);
			return -EIO;
		}
	}
	/* The notify address must lie inside the notify structure. */
	uint64_t off = (uint64_t)c->queue_notify_off * v->notify_mult;
	if (off + 2 > v->notify_len) {
		virtio_fail(d, "queue notify offset outside its capability");
		return -EIO;
	}
	v->notify_addr[idx] = (volatile uint16_t *)(v->notify_base + off);
	c->queue_enable = 1;
	return 0;
}

static void notify(struct virtio_dev *d, uint16_t idx)
{
	*vp(d)->notify_addr[idx] = idx;
	stats.kicks++;
}

static int config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct vpci *v = vp(d);
	if (!v->device_cfg || off > v->device_cfg_len || len > v->device_cfg_len - off)
		return -EINVAL;
	virtio_config_copy(v->device_cfg, off, buf, len);
	return 0;
}

static void on_irq(void *arg)
{
	struct vpci *v = arg;
	if (!v->msix_table)
		(void)*v->isr; /* reading ISR acknowledges the INTx line */
	if (v->dev.on_irq)
		v->dev.on_irq(&v->dev);
}

static int irq_setup(struct virtio_dev *d)
{
	struct vpci *v = vp(d);
	v->vector = irq_alloc_vector(on_irq, v);
	if (v->vector < 0)
		return -EIO;
	if (v->msix_table) {
		uint64_t addr;
		uint32_t data;
		irq_msi_message(v->vector, &addr, &data);
		v->msix_table[0] = (uint32_t)addr;
		v->msix_table[1] = (uint32_t)(addr >> 32);
		v->msix_table[2] = data;
		v->msix_table[3] = 0; /* unmasked */
		uint8_t cap = pci_find_cap(&v->pci, PCI_CAP_ID_MSIX, 0);
		uint16_t ctl = pci_read16(&v->pci, (uint8_t)(cap + PCI_MSIX_FLAGS));
		pci_write16(&v->pci, (uint8_t)(cap + PCI_MSIX_FLAGS),
			    (ctl | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
		v->common->msix_config = VIRTIO_MSI_NO_VECTOR;
		return 0;
	}
	/* INTx: firmware wrote the ISA IRQ it routed our pin to; QEMU's
	 * chipsets raise the I/O APIC input of the same number. */
	uint8_t line = pci_read8(&v->pci, PCI_INTERRUPT_LINE);
	if (!v->pci.irq_pin || line == 0 || line == 0xff)
		return -EIO;
	return irq_route_gsi(line, v->vector, true);
}

static int shm_region(struct virtio_dev *d, uint8_t id, uint64_t *addr, uint64_t *len)
{
	struct vpci *v = vp(d);
	for (uint8_t cap = pci_find_cap(&v->pci, PCI_CAP_ID_VNDR, 0); cap;
	     cap = pci_find_cap(&v->pci, PCI_CAP_ID_VNDR, cap)) {
		if (pci_read8(&v->pci, cap + offsetof(struct virtio_pci_cap, cfg_type)) !=
			    VIRTIO_PCI_CAP_SHARED_MEMORY_CFG ||
		    pci_read8(&v->pci, cap + offsetof(struct virtio_pci_cap, id)) != id)
			continue;
		uint8_t bar = pci_read8(&v->pci, cap + offsetof(struct virtio_pci_cap, bar));
		uint64_t off = pci_read32(&v->pci, cap + offsetof(struct virtio_pci_cap, offset)) |
			       (uint64_t)pci_read32(&v->pci, cap + offsetof(struct virtio_pci_cap64,
									   offset_hi)) << 32;
		uint64_t n = pci_read32(&v->pci, cap + offsetof(struct virtio_pci_cap, length)) |
			     (uint64_t)pci_read32(&v->pci, cap + offsetof(struct virtio_pci_cap64,
									 length_hi)) << 32;
		uint64_t bar_size, base = pci_bar(&v->pci, bar, &bar_size);
		if (!base || off > bar_size || n > bar_size - off)
			return -EINVAL;
		*addr = base + off;
		*len = n;
		return 0;
	}
	return -ENOENT;
}

static const struct virtio_ops vpci_ops = {
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

/* Maps the part of a BAR a capability points at, checking it fits the BAR. */
static volatile uint8_t *map_cap(struct vpci *v, uint8_t cap, uint32_t min_len, uint32_t *len)
{
	uint8_t bar = pci_read8(&v->pci, cap + offsetof(struct virtio_pci_cap, bar));
	uint32_t off = pci_read32(&v->pci, cap + offsetof(struct virtio_pci_cap, offset));
	uint32_t n = pci_read32(&v->pci, cap + offsetof(struct virtio_pci_cap, length));
	uint64_t bar_size, base = pci_bar(&v->pci, bar, &bar_size);
	if (!base || n < min_len || off > bar_size || n > bar_size - off)
		return NULL;
	if (len)
		*len = n;
	return mmio_map(base + off, n);
}

static void probe(struct pci_dev *p)
{
	if (p->vendor != VIRTIO_PCI_VENDOR || p->device < VIRTIO_PCI_MODERN_BASE ||
	    p->device > VIRTIO_PCI_MODERN_BASE + 0xff)
		return; /* transitional (legacy) ids are not supported */
	struct vpci *v = kzalloc(sizeof(*v));
	if (!v)
		return;
	v->pci = *p;
	v->dev.ops = &vpci_ops;
	v->dev.transport = v;
	v->dev.device_id = p->device - VIRTIO_PCI_MODERN_BASE;
	fmt_snprintf(v->dev.name, sizeof(v->dev.name), "pci %02x:%02x.%x", p->bus, p->slot, p->func);
	pci_enable(p);
	for (uint8_t cap = pci_find_cap(p, PCI_CAP_ID_VNDR, 0); cap;
	     cap = pci_find_cap(p, PCI_CAP_ID_VNDR, cap)) {
		uint8_t type = pci_read8(p, cap + offsetof(struct virtio_pci_cap, cfg_type));
		if (type == VIRTIO_PCI_CAP_COMMON_CFG && !v->common)
			v->common = (volatile void *)map_cap(
				v, cap, sizeof(struct virtio_pci_common_cfg), NULL);
		else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !v->notify_base) {
			v->notify_base = map_cap(v, cap, 2, &v->notify_len);
			v->notify_mult = pci_read32(
				p, cap + offsetof(struct virtio_pci_notify_cap, notify_off_multiplier));
		} else if (type == VIRTIO_PCI_CAP_ISR_CFG && !v->isr)
			v->isr = map_cap(v, cap, 1, NULL);
		else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !v->device_cfg)
			v->device_cfg = map_cap(v, cap, 0, &v->device_cfg_len);
	}
	if (!v->common || !v->notify_base || !v->isr) {
		kprintf("virtio %s: missing or bad capabilities, ignored\n", v->dev.name);
		kfree(v);
		return;
	}
	uint8_t msix = virtio_pci_intx ? 0 : pci_find_cap(p, PCI_CAP_ID_MSIX, 0);
	if (msix) {
		uint32_t table = pci_read32(p, (uint8_t)(msix + PCI_MSIX_TABLE));
		uint64_t bar_size, base = pci_bar(p, table & PCI_MSIX_TABLE_BIR, &bar_size);
		uint32_t off = table & PCI_MSIX_TABLE_OFFSET;
		if (base && off <= bar_size && bar_size - off >= 16)
			v->msix_table = mmio_map(base + off, 16);
	}
	virtio_add_device(&v->dev);
	kprintf("virtio %s: device %u, %s\n", v->dev.name, v->dev.device_id,
		v->msix_table ? "MSI-X" : "INTx");
}

void virtio_pci_probe_all(void)
{
	pci_scan(probe);
}
