/*
 * ACPI tables (see acpi.h). Each table is laid out by its byte offsets in
 * the ACPI 6.x specification; the DSDT's AML is encoded by hand from the
 * specification's grammar (chapter 20), which needs only names, integers,
 * strings, buffers, packages, Scope and Device.
 */
#include <string.h>
#include "acpi.h"

#define HDR_LEN 36
#define RSDP_LEN 36
#define FADT_LEN 276
#define OEM_ID "PIER  "
#define OEM_TABLE "PIERVMM "

/* A byte buffer that refuses to overflow: `bad` is set instead. */
struct out {
	uint8_t *p;
	size_t len, cap;
	int bad;
};

static void put(struct out *o, const void *src, size_t n)
{
	if (o->bad || n > o->cap - o->len) {
		o->bad = 1;
		return;
	}
	memcpy(o->p + o->len, src, n);
	o->len += n;
}

static void put8(struct out *o, uint8_t v) { put(o, &v, 1); }

/* n <= 8 little-endian bytes of v. */
static void put_le(struct out *o, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put8(o, (uint8_t)(v >> (8 * i)));
}

static void put_zero(struct out *o, size_t n)
{
	while (n-- && !o->bad)
		put8(o, 0);
}

/* Stores n little-endian bytes at an offset already written. */
static void set_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static void align16(struct out *o)
{
	while (!o->bad && o->len % 16)
		put8(o, 0);
}

/* A table's standard header; its length and checksum are set by end_table. */
static size_t begin_table(struct out *o, const char sig[4], uint8_t rev)
{
	align16(o);
	size_t at = o->len;
	put(o, sig, 4);
	put_le(o, 0, 4); /* length */
	put8(o, rev);
	put8(o, 0);      /* checksum */
	put(o, OEM_ID, 6);
	put(o, OEM_TABLE, 8);
	put_le(o, 1, 4); /* OEM revision */
	put(o, "PIER", 4);
	put_le(o, 1, 4); /* creator revision */
	return at;
}

static void end_table(struct out *o, size_t at)
{
	if (o->bad)
		return;
	set_le(o->p + at + 4, o->len - at, 4);
	o->p[at + 9] = checksum(o->p + at, o->len - at);
}

/* Generic Address Structure: an 8-bit register at an I/O port. */
static void put_gas_port(struct out *o, uint16_t port)
{
	put8(o, 1);  /* system I/O space */
	put8(o, 8);  /* register bit width */
	put8(o, 0);  /* bit offset */
	put8(o, 1);  /* byte access */
	put_le(o, port, 8);
}

static void put_gas_none(struct out *o) { put_zero(o, 12); }

#define FADT_HW_REDUCED_ACPI (1u << 20)
#define FADT_RESET_REG_SUP (1u << 10)
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)

static size_t fadt(struct out *o, uint64_t dsdt)
{
	size_t at = begin_table(o, "FACP", 6);
	put_le(o, 0, 4);         /* FIRMWARE_CTRL: no FACS (hardware-reduced) */
	put_le(o, 0, 4);         /* DSDT: the 64-bit X_DSDT below holds it */
	put_zero(o, 109 - 44);   /* the legacy fields, offsets 44-108: none here */
	put_le(o, BOOT_ARCH_VGA_NOT_PRESENT, 2); /* IAPC_BOOT_ARCH, 109 */
	put8(o, 0);
	put_le(o, FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP, 4); /* Flags, 112 */
	put_gas_port(o, ACPI_PORT_RESET);                      /* RESET_REG, 116 */
	put8(o, ACPI_RESET_VALUE);                             /* 128 */
	put_le(o, 0, 2);         /* ARM_BOOT_ARCH */
	put8(o, 0);              /* FADT minor version: 6.0 */
	put_le(o, 0, 8);         /* X_FIRMWARE_CTRL, 132 */
	put_le(o, dsdt, 8);      /* X_DSDT, 140 */
	for (int i = 0; i < 8; i++)
		put_gas_none(o); /* X_PM1a_EVT_BLK ... X_GPE1_BLK, 148-243 */
	put_gas_port(o, ACPI_PORT_SLEEP_CTL);                  /* 244 */
	put_gas_port(o, ACPI_PORT_SLEEP_STS);                  /* 256 */
	put(o, "PIERVMM\0", 8);  /* hypervisor vendor identity, 268 */
	end_table(o, at);
	return at;
}

static size_t madt(struct out *o, unsigned ncpus, uint32_t ioapic_addr)
{
	size_t at = begin_table(o, "APIC", 4);
	put_le(o, 0xfee00000, 4); /* local APIC address */
	put_le(o, 0, 4);          /* flags: no 8259 pair to mask */
	for (unsigned i = 0; i < ncpus; i++) {
		put8(o, 0);               /* processor local APIC */
		put8(o, 8);
		put8(o, (uint8_t)i);      /* processor UID */
		put8(o, (uint8_t)i);      /* APIC ID */
		put_le(o, 1, 4);          /* enabled */
	}
	put8(o, 1);                       /* I/O APIC */
	put8(o, 12);
	put8(o, 0);                       /* its ID (KVM's I/O APIC says 0) */
	put8(o, 0);
	put_le(o, ioapic_addr, 4);
	put_le(o, 0, 4);                  /* its first GSI */
	end_table(o, at);
	return at;
}

/* ---- AML ---- */

#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_WORD 0x0b
#define AML_DWORD 0x0c
#define AML_STRING 0x0d
#define AML_QWORD 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_EXT 0x5b
#define AML_DEVICE 0x82

/* Opens an object whose PkgLength comes first: 4 bytes are held for it
 * and aml_close writes the shortest encoding, moving the body down. */
static size_t aml_open(struct out *o)
{
	size_t at = o->len;
	put_le(o, 0, 4);
	return at;
}

static void aml_close(struct out *o, size_t at)
{
	if (o->bad)
		return;
	size_t body = o->len - at - 4;
	unsigned n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
	size_t total = body + n;
	if (total > 0xfffffff) {
		o->bad = 1;
		return;
	}
	uint8_t enc[4];
	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (unsigned i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(o->p + at + n, o->p + at + 4, body);
	memcpy(o->p + at, enc, n);
	o->len = at + total;
}

static void aml_int(struct out *o, uint64_t v)
{
	if (v <= 1) {
		put8(o, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		put8(o, AML_BYTE);
		put8(o, (uint8_t)v);
	} else if (v <= 0xffff) {
		put8(o, AML_WORD);
		put_le(o, v, 2);
	} else if (v <= 0xffffffff) {
		put8(o, AML_DWORD);
		put_le(o, v, 4);
	} else {
		put8(o, AML_QWORD);
		put_le(o, v, 8);
	}
}

/* Name(NAME, ...): a NameSeg, or "\\" and one for a name at the root. */
static void aml_name(struct out *o, const char *name)
{
	put8(o, AML_NAME);
	put(o, name, strlen(name));
}

static void aml_string(struct out *o, const char *s)
{
	put8(o, AML_STRING);
	put(o, s, strlen(s) + 1);
}

/* _CRS of one device: its MMIO page and its interrupt, edge-triggered
 * and active-high (a pulse per notification, as irqfd gives). */
static void aml_crs(struct out *o, const struct acpi_mmio_dev *d)
{
	aml_name(o, "_CRS");
	put8(o, AML_BUFFER);
	size_t at = aml_open(o);
	aml_int(o, 12 + 9 + 2);
	put8(o, 0x86);            /* Memory32Fixed */
	put_le(o, 9, 2);
	put8(o, 1);               /* read-write */
	put_le(o, d->base, 4);
	put_le(o, d->size, 4);
	put8(o, 0x89);            /* Extended Interrupt */
	put_le(o, 6, 2);
	put8(o, 0x03);            /* consumer, edge, active-high, exclusive */
	put8(o, 1);               /* one interrupt */
	put_le(o, d->gsi, 4);
	put8(o, 0x79);            /* end tag */
	put8(o, 0);               /* checksum: none */
	aml_close(o, at);
}

static void aml_device(struct out *o, unsigned i, const struct acpi_mmio_dev *d)
{
	static const char hex[] = "0123456789ABCDEF";
	char seg[4] = { 'V', 'R', hex[(i >> 4) & 0xf], hex[i & 0xf] };
	put8(o, AML_EXT);
	put8(o, AML_DEVICE);
	size_t at = aml_open(o);
	put(o, seg, 4);
	aml_name(o, "_HID");
	aml_string(o, "LNRO0005");
	aml_name(o, "_UID");
	aml_int(o, i);
	aml_crs(o, d);
	aml_close(o, at);
}

/*
 * COM1 as a PC's firmware names it (PNP0501 at 0x3f8, IRQ 4). Linux needs
 * this on a hardware-reduced machine: there it sets up no legacy
 * interrupts of its own, and the port's driver gets IRQ 4 only through
 * this description.
 */
static void aml_com1(struct out *o)
{
	put8(o, AML_EXT);
	put8(o, AML_DEVICE);
	size_t at = aml_open(o);
	put(o, "COM1", 4);
	aml_name(o, "_HID");
	aml_int(o, 0x0105d041);    /* EisaId ("PNP0501"), compressed */
	aml_name(o, "_UID");
	aml_int(o, 1);
	aml_name(o, "_CRS");
	put8(o, AML_BUFFER);
	size_t buf = aml_open(o);
	aml_int(o, 8 + 3 + 2);
	put8(o, 0x47);             /* I/O ports */
	put8(o, 1);                /* 16-bit decode */
	put_le(o, ACPI_COM1_PORT, 2);
	put_le(o, ACPI_COM1_PORT, 2);
	put8(o, 1);                /* alignment */
	put8(o, 8);                /* eight ports */
	put8(o, 0x22);             /* IRQ, no flags: ISA's edge, active-high */
	put_le(o, 1u << ACPI_COM1_IRQ, 2);
	put8(o, 0x79);
	put8(o, 0);
	aml_close(o, buf);
	aml_close(o, at);
}

static size_t dsdt(struct out *o, const struct acpi_mmio_dev *devs, unsigned ndevs)
{
	size_t at = begin_table(o, "DSDT", 2);
	put8(o, AML_SCOPE);
	size_t scope = aml_open(o);
	put(o, "\\_SB_", 5);
	aml_com1(o);
	for (unsigned i = 0; i < ndevs; i++)
		aml_device(o, i, &devs[i]);
	aml_close(o, scope);
	/* \_S5_: soft-off's SLP_TYP for the sleep control register. */
	aml_name(o, "\\_S5_");
	put8(o, AML_PACKAGE);
	size_t pkg = aml_open(o);
	put8(o, 2);
	aml_int(o, ACPI_S5_TYP);
	aml_int(o, ACPI_S5_TYP);
	aml_close(o, pkg);
	end_table(o, at);
	return at;
}

size_t acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, unsigned ncpus, uint32_t ioapic_addr,
		  const struct acpi_mmio_dev *devs, unsigned ndevs)
{
	if (ncpus == 0 || ncpus > ACPI_MAX_CPUS || ndevs > ACPI_MAX_DEVS)
		return 0;
	struct out o = { buf, 0, cap, 0 };
	/* RSDP (revision 2), pointing at the XSDT written next. */
	put(&o, "RSD PTR ", 8);
	put8(&o, 0);        /* checksum of the first 20 bytes */
	put(&o, OEM_ID, 6);
	put8(&o, 2);
	put_le(&o, 0, 4);   /* RSDT: none, the XSDT serves */
	put_le(&o, RSDP_LEN, 4);
	put_le(&o, 0, 8);   /* XSDT address, set below */
	put8(&o, 0);        /* extended checksum */
	put_le(&o, 0, 3);
	size_t dsdt_at = dsdt(&o, devs, ndevs);
	size_t fadt_at = fadt(&o, gpa + dsdt_at);
	size_t madt_at = madt(&o, ncpus, ioapic_addr);
	size_t xsdt_at = begin_table(&o, "XSDT", 1);
	put_le(&o, gpa + fadt_at, 8);
	put_le(&o, gpa + madt_at, 8);
	end_table(&o, xsdt_at);
	if (o.bad)
		return 0;
	set_le(buf + 24, gpa + xsdt_at, 8);
	buf[8] = checksum(buf, 20);
	buf[32] = checksum(buf, RSDP_LEN);
	return o.len;
}

void acpi_reset_stub(uint8_t out[ACPI_RESET_STUB_LEN])
{
	const uint8_t code[ACPI_RESET_STUB_LEN] = {
		0xba, ACPI_PORT_RESET & 0xff, ACPI_PORT_RESET >> 8, /* mov dx, port */
		0xb0, ACPI_RESET_VALUE,                             /* mov al, value */
		0xee,                                               /* out dx, al */
		0xf4,                                               /* hlt */
		0xeb, 0xfd,                                         /* jmp to the hlt */
	};
	memcpy(out, code, sizeof(code));
}
