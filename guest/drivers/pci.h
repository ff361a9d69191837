/*
 * PCI configuration space through the legacy 0xcf8/0xcfc ports (present on
 * q35 and i440fx; harmless where there is no PCI) and a bus scan.
 */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include <stdint.h>

struct pci_dev {
	uint8_t bus, slot, func;
	uint16_t vendor, device;
	uint8_t irq_pin; /* 1-4 = INTA-INTD, 0 = none */
};

uint32_t pci_read32(const struct pci_dev *d, uint8_t off);
uint16_t pci_read16(const struct pci_dev *d, uint8_t off);
uint8_t pci_read8(const struct pci_dev *d, uint8_t off);
void pci_write32(const struct pci_dev *d, uint8_t off, uint32_t v);
void pci_write16(const struct pci_dev *d, uint8_t off, uint16_t v);

/* Physical address and size of memory BAR n, or 0 when absent/unassigned. */
uint64_t pci_bar(const struct pci_dev *d, int n, uint64_t *size);

/* Enables memory decoding and bus mastering (DMA). */
void pci_enable(const struct pci_dev *d);

/* Offset of the first/next capability with this id after `from` (0 = start), or 0. */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t from);

/* Calls fn for every function on bus 0 and the buses behind its bridges. */
void pci_scan(void (*fn)(struct pci_dev *d));

#endif
