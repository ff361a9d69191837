/*
 * Guest RAM as pier's VMM owns it: anonymous memory mapped once in the VMM
 * on a 2 MiB boundary, with transparent huge pages asked for, handed to KVM
 * as one or two memory slots (below the 32-bit device hole, and from
 * 4 GiB on). Every guest physical address the VMM touches goes through
 * guest_mem_ptr, which checks the whole range.
 */
#ifndef HOST_VMM_GUEST_MEM_H
#define HOST_VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>

/* RAM above this address moves to 4 GiB: the hole holds the virtio-mmio
 * devices, the I/O APIC and the local APIC. */
#define GUEST_MEM_HOLE_START 0xc0000000ULL
#define GUEST_MEM_HIGH_START 0x100000000ULL

struct guest_mem {
	uint8_t *map;     /* the mapping (host, less its alignment) */
	uint64_t map_len;
	uint8_t *host;    /* all of RAM, contiguous in the VMM, 2 MiB aligned */
	uint64_t size;
	uint64_t low_size; /* bytes at guest 0; the rest sits at 4 GiB */
};

/* Creates and maps `size` bytes of RAM; 0 or -errno. */
int guest_mem_init(struct guest_mem *m, uint64_t size);
void guest_mem_free(struct guest_mem *m);

/* Host pointer for [gpa, gpa+len) if all of it is RAM, else NULL. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

#endif
