/*
 * fw_cfg, reduced to reading one named file (see fw_cfg.h): the signature
 * and the DMA feature bit through the data port, the directory through
 * the data port (a few hundred bytes), the file itself with one DMA
 * transfer (one exit however long it is). The directory's sizes come from
 * the host and are bounded before use.
 */
#include <stdbool.h>
#include <pier/errno.h>
#include <pier/ports.h>
#include <pier/string.h>
#include <linux/qemu_fw_cfg.h>
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/memlayout.h"
#include "../mm/mm.h"
#include "fw_cfg.h"

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static void select_key(uint16_t key)
{
	outw(FW_CFG_PORT_SEL, key);
}

static void read_bytes(void *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)buf)[i] = inb(FW_CFG_PORT_DATA);
}

static uint32_t be32(uint32_t v)
{
	return __builtin_bswap32(v);
}

static bool present_with_dma(void)
{
	char sig[4];
	uint32_t id;
	select_key(FW_CFG_SIGNATURE);
	read_bytes(sig, 4);
	if (memcmp(sig, "QEMU", 4) != 0)
		return false;
	select_key(FW_CFG_ID);
	read_bytes(&id, 4); /* little-endian, like the guest */
	return id & FW_CFG_VERSION_DMA;
}

static int dma_read(uint16_t key, void *buf, uint32_t len);

/* The file's key and size from the directory, read by DMA (a port read
 * per byte would be an exit per byte); 0, -ENOENT or -ENOMEM. */
static int find(const char *name, uint16_t *key, uint32_t *size)
{
	static uint32_t count __attribute__((aligned(8)));
	if (dma_read(FW_CFG_FILE_DIR, &count, sizeof(count)))
		return -ENOENT;
	uint32_t n = be32(count);
	if (n > 0x4000) /* keys are 14 bits: no more files than that */
		return -ENOENT;
	uint32_t len = (uint32_t)sizeof(count) + n * (uint32_t)sizeof(struct fw_cfg_file);
	uint8_t *dir = kmalloc(len);
	if (!dir)
		return -ENOMEM;
	int err = dma_read(FW_CFG_FILE_DIR, dir, len) ? -EIO : -ENOENT;
	for (uint32_t i = 0; i < n && err == -ENOENT; i++) {
		struct fw_cfg_file e;
		memcpy(&e, dir + sizeof(count) + i * sizeof(e), sizeof(e));
		e.name[sizeof(e.name) - 1] = '\0';
		if (strcmp(e.name, name) == 0) {
			*key = __builtin_bswap16(e.select);
			*size = be32(e.size);
			err = 0;
		}
	}
	kfree(dir);
	return err;
}

/* One DMA read of len bytes of item key into buf (physically contiguous). */
static int dma_read(uint16_t key, void *buf, uint32_t len)
{
	static volatile struct fw_cfg_dma_access acc __attribute__((aligned(16)));
	acc.control = be32((uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ);
	acc.length = be32(len);
	acc.address = __builtin_bswap64(virt_to_phys(buf));
	uint64_t pa = virt_to_phys((const void *)&acc);
	__asm__ volatile("" ::: "memory");
	outl(FW_CFG_PORT_DMA, be32((uint32_t)(pa >> 32)));
	outl(FW_CFG_PORT_DMA + 4, be32((uint32_t)pa)); /* starts it */
	/* Both QEMU and pier finish during the port write; the loop is what
	 * the protocol promises, not what they need. */
	uint32_t ctl;
	while ((ctl = be32(acc.control)) & ~FW_CFG_DMA_CTL_ERROR)
		cpu_relax();
	return ctl & FW_CFG_DMA_CTL_ERROR ? -EIO : 0;
}

int fw_cfg_read_file(const char *name, size_t max, void **buf, size_t *len)
{
	if (!present_with_dma())
		return -ENODEV;
	uint16_t key;
	uint32_t size;
	int err = find(name, &key, &size);
	if (err)
		return err;
	if (size > max)
		return -EFBIG;
	void *b = kmalloc(size ? size : 1);
	if (!b)
		return -ENOMEM;
	err = size ? dma_read(key, b, size) : 0;
	if (err) {
		kfree(b);
		return err;
	}
	*buf = b;
	*len = size;
	return 0;
}
