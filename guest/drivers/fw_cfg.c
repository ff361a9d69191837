/*
 * fw_cfg, reduced to reading one named file (see fw_cfg.h): DMA's
 * presence from the signature its address register reads back, then the
 * directory and the file by DMA (one exit per transfer however long).
 * The directory's sizes come from the host and are bounded before use.
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

static uint32_t be32(uint32_t v)
{
	return __builtin_bswap32(v);
}

/* The DMA address register reads back "QEMU CFG" exactly where fw_cfg
 * has DMA (QEMU's fw_cfg.rst): two exits, where the signature and ID
 * items through the byte-wide data port take ten. */
static bool present_with_dma(void)
{
	uint32_t half[2] = { inl(FW_CFG_PORT_DMA), inl(FW_CFG_PORT_DMA + 4) };
	return memcmp(half, "QEMU CFG", 8) == 0;
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
