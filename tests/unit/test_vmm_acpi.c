/*
 * Unit tests for host/vmm/acpi.c: the tables pier's VMM gives a guest that
 * reads ACPI. The checks are independent of the builder: checksums and
 * pointers are followed by hand, and ACPICA's own disassembler (iasl -d,
 * Debian's acpica-tools) reads every table back, so an AML encoding error
 * or a field at a wrong offset shows as a parse error or a wrong value.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "vmm/acpi.h"

#define GPA 0xe0000
static uint8_t buf[ACPI_AREA_END - ACPI_BASE];
static const struct acpi_mmio_dev devs[] = {
	{ 0xd0000000, 0x1000, 16 }, { 0xd0001000, 0x1000, 17 }, { 0xd0008000, 0x1000, 5 },
};

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* The table at guest-physical gpa, checked: inside what was built, its
 * length sane and its checksum zero. */
static const uint8_t *table(size_t built, uint64_t gpa, const char *sig)
{
	assert_true(gpa >= GPA && gpa - GPA + 36 <= built);
	const uint8_t *t = buf + (gpa - GPA);
	assert_memory_equal(t, sig, 4);
	uint32_t len = (uint32_t)le(t + 4, 4);
	assert_true(len >= 36 && gpa - GPA + len <= built);
	assert_int_equal(sum(t, len), 0);
	return t;
}

static size_t build(void)
{
	size_t n = acpi_build(buf, sizeof(buf), GPA, 2, 0xfec00000, devs, 3);
	assert_true(n > 0);
	return n;
}

static void test_rsdp_xsdt_and_checksums(void **state)
{
	(void)state;
	size_t n = build();
	assert_memory_equal(buf, "RSD PTR ", 8);
	assert_int_equal(sum(buf, 20), 0);
	assert_int_equal(buf[15], 2);             /* revision */
	assert_int_equal(le(buf + 20, 4), 36);    /* length */
	assert_int_equal(sum(buf, 36), 0);
	const uint8_t *x = table(n, le(buf + 24, 8), "XSDT");
	assert_int_equal(le(x + 4, 4), 36 + 16);
	const uint8_t *f = table(n, le(x + 36, 8), "FACP");
	const uint8_t *m = table(n, le(x + 44, 8), "APIC");
	assert_int_equal(le(f + 4, 4), 276);
	assert_int_equal(f[8], 6);
	assert_true(le(f + 112, 4) & (1u << 20));            /* hardware-reduced */
	assert_int_equal(le(f + 244 + 4, 8), ACPI_PORT_SLEEP_CTL);
	assert_int_equal(le(f + 116 + 4, 8), ACPI_PORT_RESET);
	table(n, le(f + 140, 8), "DSDT");
	/* MADT: two local APICs (IDs 0, 1), then the I/O APIC. */
	assert_int_equal(le(m + 4, 4), 44 + 2 * 8 + 12);
	assert_int_equal(m[44], 0);
	assert_int_equal(m[44 + 3], 0);
	assert_int_equal(m[52 + 3], 1);
	assert_int_equal(m[60], 1);
	assert_int_equal(le(m + 64, 4), 0xfec00000);
}

static void test_refusals(void **state)
{
	(void)state;
	assert_int_equal(acpi_build(buf, 100, GPA, 1, 0xfec00000, devs, 3), 0);
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, 0, 0xfec00000, devs, 3), 0);
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, ACPI_MAX_CPUS + 1, 0xfec00000, devs, 3),
			 0);
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, 1, 0xfec00000, devs, ACPI_MAX_DEVS + 1),
			 0);
	/* Every size short of the whole is refused, never overrun. */
	size_t n = build();
	for (size_t cap = 0; cap < n; cap += 7)
		assert_int_equal(acpi_build(buf, cap, GPA, 2, 0xfec00000, devs, 3), 0);
}

/* Writes the table at gpa to DIR/NAME.dat, runs iasl -d on it and
 * returns its disassembly (the caller frees). */
static char *disassemble(const char *dir, size_t built, uint64_t gpa, const char *sig)
{
	const uint8_t *t = table(built, gpa, sig);
	char path[256], cmd[600];
	snprintf(path, sizeof(path), "%s/%s.dat", dir, sig);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(t, 1, le(t + 4, 4), f), le(t + 4, 4));
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat >%s.log 2>&1", dir, sig, sig);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/%s.log", dir, sig);
		(void)!system(cmd);
		fail_msg("iasl -d could not read the %s table", sig);
	}
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, sig);
	f = fopen(path, "r");
	assert_non_null(f);
	static char text[1 << 16];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	return strdup(text);
}

static void expect(const char *text, const char *what)
{
	if (!strstr(text, what))
		fail_msg("the disassembly lacks \"%s\":\n%s", what, text);
}

static void test_iasl_reads_every_table(void **state)
{
	(void)state;
	if (system("command -v iasl >/dev/null") != 0)
		fail_msg("iasl is missing: tools/deps.sh installs acpica-tools");
	char dir[] = "/tmp/pier-acpi-XXXXXX";
	assert_non_null(mkdtemp(dir));
	size_t n = build();
	const uint8_t *x = buf + (le(buf + 24, 8) - GPA);
	uint64_t fadt = le(x + 36, 8), madt = le(x + 44, 8);
	uint64_t dsdt = le(buf + (fadt - GPA) + 140, 8);

	char *d = disassemble(dir, n, dsdt, "DSDT");
	expect(d, "Device (VR00)");
	expect(d, "Device (VR02)");
	expect(d, "Name (_HID, \"LNRO0005\")");
	expect(d, "0xD0008000,         // Address Base");
	expect(d, "0x00001000,         // Address Length");
	expect(d, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )");
	expect(d, "0x00000011,");
	expect(d, "Name (\\_S5, Package (0x02)");
	expect(d, "Device (COM1)");
	expect(d, "Name (_HID, EisaId (\"PNP0501\")");
	expect(d, "IO (Decode16,\n                    0x03F8,");
	expect(d, "IRQNoFlags ()\n                    {4}");
	free(d);

	char *f = disassemble(dir, n, fadt, "FACP");
	expect(f, "Hardware Reduced (V5) : 1");
	expect(f, "Address : 0000000000000600");
	expect(f, "Value to cause reset : 01");
	free(f);

	char *m = disassemble(dir, n, madt, "APIC");
	expect(m, "Local Apic Address : FEE00000");
	expect(m, "Address : FEC00000");
	expect(m, "Local Apic ID : 01");
	free(m);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

/* The reset vector's stub, read back by objdump as 16-bit code: it writes
 * the FADT's reset value to its reset port, then halts for good. */
static void test_reset_stub(void **state)
{
	(void)state;
	uint8_t code[ACPI_RESET_STUB_LEN];
	acpi_reset_stub(code);
	char path[] = "/tmp/pier-stub-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, code, sizeof(code)), (ssize_t)sizeof(code));
	close(fd);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "objdump -D -b binary -m i8086 %s", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	static char text[8192];
	size_t len = fread(text, 1, sizeof(text) - 1, p);
	text[len] = '\0';
	assert_int_equal(pclose(p), 0);
	unlink(path);
	char want[64];
	snprintf(want, sizeof(want), "mov    $0x%x,%%dx", ACPI_PORT_RESET);
	expect(text, want);
	snprintf(want, sizeof(want), "mov    $0x%x,%%al", ACPI_RESET_VALUE);
	expect(text, want);
	expect(text, "out    %al,(%dx)");
	expect(text, "6:\tf4 ");
	expect(text, "jmp    0x6");
	/* It sits inside the area the memory map reserves, past the tables. */
	assert_true(ACPI_RESET_VECTOR + ACPI_RESET_STUB_LEN <= ACPI_AREA_END);
	assert_true(build() <= ACPI_RESET_VECTOR - ACPI_BASE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp_xsdt_and_checksums),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_iasl_reads_every_table),
		cmocka_unit_test(test_reset_stub),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
