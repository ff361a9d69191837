/*
 * PCI configuration access and enumeration. Firmware (SeaBIOS on q35) has
 * assigned BARs before our PVH entry runs; we only read them.
 */
#include <stdbool.h>
#include <linux/pci_regs.h>
#include "../arch/x86_64/cpu.h"
#include "pci.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc

static void select(const struct pci_dev *d, uint8_t off)
{
	outl(CONFIG_ADDRESS, 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)d->slot << 11 |
				     (uint32_t)d->func << 8 | (off & 0xfc));
}

uint32_t pci_read32(const struct pci_dev *d, uint8_t off)
{
	select(d, off);
	return inl(CONFIG_DATA);
}

uint16_t pci_read16(const struct pci_dev *d, uint8_t off)
{
	return (uint16_t)(pci_read32(d, off) >> ((off & 2) * 8));
}

uint8_t pci_read8(const struct pci_dev *d, uint8_t off)
{
	return (uint8_t)(pci_read32(d, off) >> ((off & 3) * 8));
}

void pci_write32(const struct pci_dev *d, uint8_t off, uint32_t v)
{
	select(d, off);
	outl(CONFIG_DATA, v);
}

void pci_write16(const struct pci_dev *d, uint8_t off, uint16_t v)
{
	uint32_t old = pci_read32(d, off), shift = (off & 2) * 8;
	pci_write32(d, off, (old & ~(0xffffu << shift)) | (uint32_t)v << shift);
}

uint64_t pci_bar(const struct pci_dev *d, int n, uint64_t *size)
{
	if (n < 0 || n > 5)
		return 0;
	uint8_t off = (uint8_t)(PCI_BASE_ADDRESS_0 + 4 * n);
	uint32_t lo = pci_read32(d, off);
	if (lo & PCI_BASE_ADDRESS_SPACE_IO)
		return 0;
	bool is64 = (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
	if (is64 && n == 5)
		return 0;
	uint32_t hi = is64 ? pci_read32(d, off + 4) : 0;
	/* Size the BAR with decoding off, so the probe value never decodes. */
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND, cmd & ~(PCI_COMMAND_MEMORY | PCI_COMMAND_IO));
	pci_write32(d, off, 0xffffffff);
	uint64_t mask = pci_read32(d, off) & PCI_BASE_ADDRESS_MEM_MASK;
	pci_write32(d, off, lo);
	if (is64) {
		pci_write32(d, off + 4, 0xffffffff);
		mask |= (uint64_t)pci_read32(d, off + 4) << 32;
		pci_write32(d, off + 4, hi);
	} else {
		mask |= 0xffffffff00000000ULL;
	}
	pci_write16(d, PCI_COMMAND, cmd);
	uint64_t addr = ((uint64_t)hi << 32) | (lo & PCI_BASE_ADDRESS_MEM_MASK);
	uint64_t sz = ~mask + 1;
	if (size)
		*size = sz;
	return mask ? addr : 0;
}

void pci_enable(const struct pci_dev *d)
{
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t from)
{
	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	uint8_t off = from ? pci_read8(d, (uint8_t)(from + PCI_CAP_LIST_NEXT))
			   : pci_read8(d, PCI_CAPABILITY_LIST);
	/* 48 steps at most: the list lives in 192 bytes, a loop must end. */
	for (int steps = 0; off >= 0x40 && steps < 48; steps++) {
		off &= 0xfc;
		if (pci_read8(d, off) == id)
			return off;
		off = pci_read8(d, (uint8_t)(off + PCI_CAP_LIST_NEXT));
	}
	return 0;
}

static void scan_bus(uint8_t bus, void (*fn)(struct pci_dev *d), int depth)
{
	for (uint8_t slot = 0; slot < 32; slot++) {
		for (uint8_t func = 0; func < 8; func++) {
			struct pci_dev d = { .bus = bus, .slot = slot, .func = func };
			uint32_t id = pci_read32(&d, PCI_VENDOR_ID);
			if ((id & 0xffff) == 0xffff) {
				if (func == 0)
					break;
				continue;
			}
			d.vendor = id & 0xffff;
			d.device = id >> 16;
			d.irq_pin = pci_read8(&d, PCI_INTERRUPT_PIN);
			uint8_t type = pci_read8(&d, PCI_HEADER_TYPE);
			if ((type & 0x7f) == PCI_HEADER_TYPE_BRIDGE && depth < 8) {
				uint8_t secondary = pci_read8(&d, PCI_SECONDARY_BUS);
				if (secondary > bus)
					scan_bus(secondary, fn, depth + 1);
			} else {
				fn(&d);
			}
			if (func == 0 && !(type & 0x80))
				break; /* single-function device */
		}
	}
}

void pci_scan(void (*fn)(struct pci_dev *d))
{
	/* Every PCI machine has its host bridge at 00:00.0; where nothing
	 * answers there (pier's VMM, QEMU's microvm) there is no bus to walk,
	 * and 31 more empty slots would be 62 port exits for nothing. */
	struct pci_dev host = { 0 };
	if ((pci_read32(&host, PCI_VENDOR_ID) & 0xffff) == 0xffff)
		return;
	scan_bus(0, fn, 0);
}
