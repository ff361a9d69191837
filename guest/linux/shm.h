/* System V shared memory and shared anonymous mappings (shm.c). */
#ifndef GUEST_SHM_H
#define GUEST_SHM_H

#include <stdint.h>

/* Maps [addr, addr+len) (free, page aligned) as MAP_SHARED|MAP_ANONYMOUS
 * memory: zeroed pages shared by every process that inherits the region.
 * 0 or -errno. */
int shm_map_anon(uint64_t addr, uint64_t len, uint32_t prot);

#endif
