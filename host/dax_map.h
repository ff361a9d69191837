/*
 * The host half of the virtio-fs DAX window: one reserved range of the VMM's
 * address space (handed to KVM as guest memory) into which FUSE_SETUPMAPPING
 * maps host files, MAP_SHARED, so the guest reads the host's page cache
 * with plain loads. Where nothing is mapped the window is PROT_NONE.
 *
 * Past end of file: only the file's whole pages up to EOF are mapped from
 * the file; the rest of a mapping is private zero pages, read-only. A file
 * truncated on the host while mapped would make the guest's access fail
 * inside KVM (KVM_RUN returns EFAULT, never SIGBUS to the VMM):
 * dax_map_repair() then puts zero pages where the file no longer reaches,
 * so the guest reads zeros there. Thread-safe (device threads set up and
 * remove, the vCPU thread repairs).
 */
#ifndef PIER_DAX_MAP_H
#define PIER_DAX_MAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct dax_map_rec;

struct dax_map {
	uint8_t *base;          /* the window in the VMM */
	uint64_t len;
	uint64_t page;          /* host page size: the mapping alignment */
	pthread_mutex_t lock;
	struct dax_map_rec *recs; /* live mappings, sorted by window offset, disjoint */
	uint32_t nrecs, cap;
	uint64_t setups, removes, repairs;
	uint64_t setup_bytes, removed_bytes; /* file bytes mapped; window bytes unmapped */
};

/* Reserves a window of len bytes (a multiple of the page size); 0 or -errno. */
int dax_map_init(struct dax_map *d, uint64_t len);
/* Unmaps the window and closes what the mappings hold. NULL-safe on a zeroed struct. */
void dax_map_free(struct dax_map *d);

/*
 * Maps [foff, foff+len) of the file open at fd (not taken: it is
 * duplicated) at window offset moff, replacing whatever overlapped there.
 * Offsets and length must be page-aligned, len > 0, the range inside the
 * window. 0 or -errno (EINVAL for a bad range; the window is unchanged).
 */
int dax_map_setup(struct dax_map *d, int fd, uint64_t foff, uint64_t moff, uint64_t len,
		  bool writable);

/* Makes [moff, moff+len) PROT_NONE again (alignment and range as above). */
int dax_map_remove(struct dax_map *d, uint64_t moff, uint64_t len);

/* Every mapping gone (session reset). */
void dax_map_clear(struct dax_map *d);

/*
 * Re-checks each mapping's file size: pages the file no longer has become
 * zero pages. Returns how many mappings changed (0: nothing to repair).
 */
int dax_map_repair(struct dax_map *d);

#endif
