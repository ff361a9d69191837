/*
 * A fw_cfg device with QEMU's x86 ports and DMA interface, offering the
 * few items a Pier guest reads: the signature, the feature word, the file
 * directory and named files (pier's argument block, "opt/pier/args").
 * Read-only: the guest's writes and DMA writes fail. Every DMA descriptor
 * and buffer address comes from the guest and is checked against its RAM.
 */
#ifndef HOST_VMM_FW_CFG_H
#define HOST_VMM_FW_CFG_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;

#define FW_CFG_MAX_FILES 4

struct fw_cfg_blob {
	uint16_t key;
	const uint8_t *data; /* not owned */
	uint32_t len;
};

struct fw_cfg {
	const struct guest_mem *mem;
	uint16_t select;
	uint32_t offset;      /* into the selected item */
	uint32_t dma_high;    /* the high half of the DMA address, as written */
	uint8_t sig[4], id[4];
	uint8_t dir[4 + FW_CFG_MAX_FILES * 64];
	struct fw_cfg_blob files[FW_CFG_MAX_FILES];
	char names[FW_CFG_MAX_FILES][56];
	unsigned nfiles;
	uint64_t dma_errors;  /* refused descriptors (bad addresses, writes) */
};

void fw_cfg_init(struct fw_cfg *f, const struct guest_mem *mem);

/* Offers `len` bytes at data (kept, not copied) as file `name`; 0, or -1
 * when the table is full or the name too long. */
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, uint32_t len);

/* Whether port is one of the device's. */
bool fw_cfg_port(uint16_t port);

/* One port access of size bytes: out (data holds what the guest wrote)
 * or in (data to fill). */
void fw_cfg_io(struct fw_cfg *f, uint16_t port, bool out, uint8_t *data, unsigned size);

#endif
