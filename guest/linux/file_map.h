/*
 * Program mappings of files whose pages the file system can hand out
 * itself (virtio-fs with a DAX window): the region's pages are the
 * window's, mapped into the program with no copy, set up chunk by chunk
 * as the program faults on them. The region holds the open file.
 */
#ifndef GUEST_FILE_MAP_H
#define GUEST_FILE_MAP_H

#include <stdbool.h>
#include <stdint.h>
#include "process.h"

/*
 * Maps [addr, addr+len) (free, page-aligned) to the file of `of` from
 * offset off. 0; -EOPNOTSUPP when the file cannot be mapped without a
 * copy (the caller copies instead); another -errno.
 */
int file_map_add(uint64_t addr, uint64_t len, uint32_t prot, struct ofile *of, uint64_t off,
		 bool shared);

#endif
