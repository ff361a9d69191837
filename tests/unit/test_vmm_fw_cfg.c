/* Unit tests for host/vmm/fw_cfg.c: the guest's port accesses and DMA
 * descriptors, well-formed and hostile, against 1 MiB of guest RAM. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <endian.h>
#include <string.h>
#include <cmocka.h>
#include <linux/qemu_fw_cfg.h>
#include <pier/ports.h>
#include "vmm/fw_cfg.h"
#include "vmm/guest_mem.h"

#define RAM (1u << 20)
static struct guest_mem mem;
static struct fw_cfg fw;
static uint8_t file[10000];

static int setup(void **state)
{
	(void)state;
	assert_int_equal(guest_mem_init(&mem, RAM), 0);
	fw_cfg_init(&fw, &mem);
	for (size_t i = 0; i < sizeof(file); i++)
		file[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(fw_cfg_add_file(&fw, "opt/pier/args", file, sizeof(file)), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	guest_mem_free(&mem);
	return 0;
}

static void select_key(uint16_t key)
{
	uint16_t le = htole16(key);
	fw_cfg_io(&fw, FW_CFG_PORT_SEL, true, (uint8_t *)&le, 2);
}

static void read_data(void *buf, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fw_cfg_io(&fw, FW_CFG_PORT_DATA, false, (uint8_t *)buf + i, 1);
}

static void test_items_through_the_data_port(void **state)
{
	(void)state;
	char sig[5] = { 0 };
	select_key(FW_CFG_SIGNATURE);
	read_data(sig, 4);
	assert_string_equal(sig, "QEMU");
	uint32_t id;
	select_key(FW_CFG_ID);
	read_data(&id, 4);
	assert_true(le32toh(id) & FW_CFG_VERSION_DMA);
	uint32_t count;
	struct fw_cfg_file e;
	select_key(FW_CFG_FILE_DIR);
	read_data(&count, 4);
	assert_int_equal(be32toh(count), 1);
	read_data(&e, sizeof(e));
	assert_string_equal(e.name, "opt/pier/args");
	assert_int_equal(be32toh(e.size), sizeof(file));
	uint8_t got[16];
	select_key(be16toh(e.select));
	read_data(got, sizeof(got));
	assert_memory_equal(got, file, sizeof(got));
	/* An unknown key reads as zeros, and so does the end of an item. */
	select_key(0x1234);
	memset(got, 0xee, sizeof(got));
	read_data(got, sizeof(got));
	for (unsigned i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], 0);
	uint8_t sig8[8];
	for (unsigned i = 0; i < 8; i++)
		fw_cfg_io(&fw, FW_CFG_PORT_DMA + i, false, sig8 + i, 1);
	assert_memory_equal(sig8, "QEMU CFG", 8);
}

/* Writes a descriptor at guest address at and starts it. */
static uint32_t run_dma(uint64_t at, uint32_t control, uint32_t len, uint64_t buf)
{
	struct fw_cfg_dma_access a = { htobe32(control), htobe32(len), htobe64(buf) };
	uint8_t *p = guest_mem_ptr(&mem, at, sizeof(a));
	if (p)
		memcpy(p, &a, sizeof(a));
	uint32_t hi = htobe32((uint32_t)(at >> 32)), lo = htobe32((uint32_t)at);
	fw_cfg_io(&fw, FW_CFG_PORT_DMA, true, (uint8_t *)&hi, 4);
	fw_cfg_io(&fw, FW_CFG_PORT_DMA + 4, true, (uint8_t *)&lo, 4);
	if (!p)
		return 0xdeadbeef;
	memcpy(&a, p, sizeof(a));
	return be32toh(a.control);
}

static void test_dma_reads_a_file(void **state)
{
	(void)state;
	uint16_t key = FW_CFG_FILE_FIRST;
	uint8_t *dst = guest_mem_ptr(&mem, 0x20000, sizeof(file) + 100);
	memset(dst, 0xee, sizeof(file) + 100);
	uint32_t ctl = (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ;
	assert_int_equal(run_dma(0x1000, ctl, 5000, 0x20000), 0);
	/* Go on where it stopped, past the end: zeros there. */
	assert_int_equal(run_dma(0x1000, FW_CFG_DMA_CTL_READ, sizeof(file) - 5000 + 100,
				 0x20000 + 5000), 0);
	assert_memory_equal(dst, file, sizeof(file));
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(dst[sizeof(file) + i], 0);
	/* Skip, then read. */
	assert_int_equal(run_dma(0x1000, ctl & ~FW_CFG_DMA_CTL_READ, 0, 0), 0);
	assert_int_equal(run_dma(0x1000, FW_CFG_DMA_CTL_SKIP, 9000, 0), 0);
	assert_int_equal(run_dma(0x1000, FW_CFG_DMA_CTL_READ, 10, 0x30000), 0);
	assert_memory_equal(guest_mem_ptr(&mem, 0x30000, 10), file + 9000, 10);
	assert_int_equal(fw.dma_errors, 0);
}

static void test_hostile_dma(void **state)
{
	(void)state;
	uint32_t ctl = (uint32_t)FW_CFG_FILE_FIRST << 16 | FW_CFG_DMA_CTL_SELECT |
		       FW_CFG_DMA_CTL_READ;
	/* A buffer past the end of RAM, or wrapping around: an error, nothing
	 * written. */
	assert_int_equal(run_dma(0x1000, ctl, 4096, RAM - 100), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(run_dma(0x1000, ctl, 0xffffffffu, 0x2000), FW_CFG_DMA_CTL_ERROR);
	assert_int_equal(run_dma(0x1000, ctl, 16, 0xfffffffffffffff0ull), FW_CFG_DMA_CTL_ERROR);
	/* Writes are refused. */
	assert_int_equal(run_dma(0x1000, FW_CFG_DMA_CTL_WRITE, 4, 0x2000), FW_CFG_DMA_CTL_ERROR);
	/* A descriptor outside RAM: counted, nothing touched. */
	uint64_t before = fw.dma_errors;
	run_dma(RAM - 8, ctl, 16, 0x2000);
	run_dma(0xfffffffffffffff8ull, ctl, 16, 0x2000);
	assert_int_equal(fw.dma_errors, before + 2);
	/* Port accesses of odd sizes change nothing. */
	uint8_t b = 0x19;
	fw_cfg_io(&fw, FW_CFG_PORT_SEL, true, &b, 1);
	uint32_t w = 0;
	fw_cfg_io(&fw, FW_CFG_PORT_DMA + 4, true, (uint8_t *)&w, 2);
}

static void test_table_limits(void **state)
{
	(void)state;
	struct fw_cfg f;
	fw_cfg_init(&f, &mem);
	char name[80];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(fw_cfg_add_file(&f, name, file, 1), -1);
	for (unsigned i = 0; i < FW_CFG_MAX_FILES; i++)
		assert_int_equal(fw_cfg_add_file(&f, "x", file, 1), 0);
	assert_int_equal(fw_cfg_add_file(&f, "one more", file, 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items_through_the_data_port),
		cmocka_unit_test(test_dma_reads_a_file),
		cmocka_unit_test(test_hostile_dma),
		cmocka_unit_test(test_table_limits),
	};
	return cmocka_run_group_tests_name("vmm_fw_cfg", tests, setup, teardown);
}
