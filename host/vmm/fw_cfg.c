/*
 * fw_cfg for pier's VMM (see fw_cfg.h): the items and the DMA interface of
 * QEMU's device, as far as a Pier guest uses them. The protocol's numbers
 * and structures come from <linux/qemu_fw_cfg.h>.
 */
#include <endian.h>
#include <stddef.h>
#include <string.h>
#include <linux/qemu_fw_cfg.h>
#include <pier/ports.h>
#include "fw_cfg.h"
#include "guest_mem.h"

#define DMA_SIGNATURE_LEN 8 /* "QEMU CFG" read back from the DMA port */

void fw_cfg_init(struct fw_cfg *f, const struct guest_mem *mem)
{
	memset(f, 0, sizeof(*f));
	f->mem = mem;
	memcpy(f->sig, "QEMU", 4);
	uint32_t id = htole32(FW_CFG_VERSION | FW_CFG_VERSION_DMA);
	memcpy(f->id, &id, 4);
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, uint32_t len)
{
	if (f->nfiles == FW_CFG_MAX_FILES || strlen(name) >= FW_CFG_MAX_FILE_PATH)
		return -1;
	unsigned i = f->nfiles++;
	f->files[i] = (struct fw_cfg_blob){ (uint16_t)(FW_CFG_FILE_FIRST + i), data, len };
	struct fw_cfg_file e = { .size = htobe32(len), .select = htobe16(f->files[i].key) };
	strcpy(e.name, name);
	memcpy(f->dir + 4 + i * sizeof(e), &e, sizeof(e));
	uint32_t count = htobe32(f->nfiles);
	memcpy(f->dir, &count, 4);
	return 0;
}

/* The selected item's bytes; an unknown key is empty (QEMU reads 0s). */
static struct fw_cfg_blob item(const struct fw_cfg *f)
{
	switch (f->select) {
	case FW_CFG_SIGNATURE: return (struct fw_cfg_blob){ f->select, f->sig, 4 };
	case FW_CFG_ID: return (struct fw_cfg_blob){ f->select, f->id, 4 };
	case FW_CFG_FILE_DIR:
		return (struct fw_cfg_blob){ f->select, f->dir,
					     (uint32_t)(4 + f->nfiles * sizeof(struct fw_cfg_file)) };
	}
	for (unsigned i = 0; i < f->nfiles; i++)
		if (f->files[i].key == f->select)
			return f->files[i];
	return (struct fw_cfg_blob){ f->select, NULL, 0 };
}

/* n bytes of the selected item at the current offset into dst (zeros
 * past its end), and the offset moves on. */
static void take(struct fw_cfg *f, uint8_t *dst, uint32_t n)
{
	struct fw_cfg_blob b = item(f);
	uint32_t have = f->offset < b.len ? b.len - f->offset : 0;
	uint32_t k = n < have ? n : have;
	if (dst) {
		if (k)
			memcpy(dst, b.data + f->offset, k);
		memset(dst + k, 0, n - k);
	}
	f->offset += k;
}

/* One DMA descriptor at guest address addr: select, read or skip. */
static void dma(struct fw_cfg *f, uint64_t addr)
{
	struct fw_cfg_dma_access a;
	uint8_t *d = guest_mem_ptr(f->mem, addr, sizeof(a));
	if (!d) {
		f->dma_errors++; /* nowhere to report it: the guest waits in vain */
		return;
	}
	memcpy(&a, d, sizeof(a));
	uint32_t ctl = be32toh(a.control), len = be32toh(a.length);
	bool ok = !(ctl & FW_CFG_DMA_CTL_WRITE);
	if (ctl & FW_CFG_DMA_CTL_SELECT) {
		f->select = (uint16_t)(ctl >> 16);
		f->offset = 0;
	}
	if (ok && (ctl & FW_CFG_DMA_CTL_READ)) {
		uint8_t *dst = len ? guest_mem_ptr(f->mem, be64toh(a.address), len) : NULL;
		if (len && !dst)
			ok = false;
		else
			take(f, dst, len);
	} else if (ok && (ctl & FW_CFG_DMA_CTL_SKIP)) {
		take(f, NULL, len);
	}
	if (!ok)
		f->dma_errors++;
	uint32_t done = htobe32(ok ? 0 : FW_CFG_DMA_CTL_ERROR);
	memcpy(d + offsetof(struct fw_cfg_dma_access, control), &done, 4);
}

bool fw_cfg_port(uint16_t port)
{
	return port == FW_CFG_PORT_SEL || port == FW_CFG_PORT_SEL + 1 || port == FW_CFG_PORT_DATA ||
	       (port >= FW_CFG_PORT_DMA && port < FW_CFG_PORT_DMA + DMA_SIGNATURE_LEN);
}

void fw_cfg_io(struct fw_cfg *f, uint16_t port, bool out, uint8_t *data, unsigned size)
{
	if (port == FW_CFG_PORT_SEL && out && size == 2) {
		uint16_t key;
		memcpy(&key, data, 2);
		f->select = le16toh(key);
		f->offset = 0;
	} else if (port == FW_CFG_PORT_DATA && !out) {
		take(f, data, size);
	} else if ((port == FW_CFG_PORT_DMA || port == FW_CFG_PORT_DMA + 4) && out && size == 4) {
		uint32_t half;
		memcpy(&half, data, 4);
		half = be32toh(half);
		if (port == FW_CFG_PORT_DMA) {
			f->dma_high = half;
		} else {
			dma(f, (uint64_t)f->dma_high << 32 | half);
			f->dma_high = 0;
		}
	} else if (port >= FW_CFG_PORT_DMA && !out) {
		static const char sig[DMA_SIGNATURE_LEN] = "QEMU CFG";
		unsigned at = port - FW_CFG_PORT_DMA;
		for (unsigned i = 0; i < size; i++)
			data[i] = at + i < DMA_SIGNATURE_LEN ? (uint8_t)sig[at + i] : 0;
	} else if (!out) {
		memset(data, 0, size);
	}
}
