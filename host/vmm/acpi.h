/*
 * ACPI tables describing pier's VMM to a guest that looks for them (Linux;
 * Pier's own kernel ignores them): RSDP, XSDT, a hardware-reduced FADT
 * (no PM timer, SCI or legacy blocks; power-off and reset through two
 * I/O ports), a MADT (local APICs and the I/O APIC), and a DSDT whose AML
 * names each virtio-mmio device as QEMU's microvm and Firecracker do
 * (_HID "LNRO0005", its page and its GSI), so a kernel without
 * virtio_mmio.device= on its command line still finds them, and COM1.
 *
 * The layout follows the ACPI 6.x specification; no OS resource is touched
 * here, so the unit test builds the tables in memory and disassembles them
 * with iasl.
 */
#ifndef HOST_VMM_ACPI_H
#define HOST_VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* Where the tables go: the RSDP first, in the BIOS area a kernel also
 * scans (0xe0000-0xfffff), which the memory map marks reserved. */
#define ACPI_BASE 0xe0000
#define ACPI_AREA_END 0x100000

/* The FADT's sleep control and status registers and its reset register. */
#define ACPI_PORT_SLEEP_CTL 0x600
#define ACPI_PORT_SLEEP_STS 0x601
#define ACPI_PORT_RESET 0x602
#define ACPI_RESET_VALUE 0x1
/* A sleep-control write enters state SLP_TYP (bits 2-4) when SLP_EN (bit
 * 5) is set; \_S5_ in the DSDT names this SLP_TYP for soft-off. */
#define ACPI_SLP_EN 0x20
#define ACPI_SLP_TYP(v) (((v) >> 2) & 7)
#define ACPI_S5_TYP 5

/* COM1, always there (serial.h). */
#define ACPI_COM1_PORT 0x3f8
#define ACPI_COM1_IRQ 4

struct acpi_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

#define ACPI_MAX_DEVS 16
#define ACPI_MAX_CPUS 64

/*
 * Where a PC's firmware starts after a reset (real mode, f000:fff0): the
 * VMM puts ACPI_RESET_STUB_LEN bytes there that write the reset register.
 * Linux on a hardware-reduced machine without EFI reboots by jumping
 * here (its reboot order is EFI, then the BIOS's reset vector), so this is
 * how its reboot reaches the VMM.
 */
#define ACPI_RESET_VECTOR 0xffff0
#define ACPI_RESET_STUB_LEN 9
void acpi_reset_stub(uint8_t out[ACPI_RESET_STUB_LEN]);

/*
 * Writes the tables into buf, which the guest sees at guest-physical
 * `gpa` (the RSDP is at gpa, every pointer in the tables is physical).
 * Returns the bytes used, or 0 when cap is too small or a count is out of
 * range.
 */
size_t acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, unsigned ncpus, uint32_t ioapic_addr,
		  const struct acpi_mmio_dev *devs, unsigned ndevs);

#endif
