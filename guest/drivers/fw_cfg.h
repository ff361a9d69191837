/*
 * QEMU's fw_cfg device (x86 I/O ports, DMA interface), which pier's VMM
 * offers too: how pier hands the guest its argument block.
 */
#ifndef GUEST_FW_CFG_H
#define GUEST_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads the fw_cfg file `name` into a new kernel buffer (kfree it):
 * 0 with *buf and *len set, -ENODEV (no fw_cfg, or no DMA), -ENOENT (no
 * such file), -EFBIG (more than max bytes), -ENOMEM or -EIO.
 */
int fw_cfg_read_file(const char *name, size_t max, void **buf, size_t *len);

#endif
