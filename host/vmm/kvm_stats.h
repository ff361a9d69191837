/*
 * KVM's own counters for a VM or a vCPU (its binary statistics,
 * KVM_GET_STATS_FD): the exits and faults KVM handles without pier
 * seeing them. Opened while the VMM may still open things; read at the
 * end with pread only (seccomp allows that).
 */
#ifndef HOST_VMM_KVM_STATS_H
#define HOST_VMM_KVM_STATS_H

#include <stdint.h>

struct stats_table;

struct kvm_stats {
	int fd;              /* -1: KVM has none (older than 5.14) */
	uint32_t ndesc;
	char (*names)[48];   /* each counter's name, truncated */
	uint32_t *offset;    /* its place in the data block; UINT32_MAX: not a counter we keep */
	uint32_t data_offset;
	uint32_t data_len;
};

/* From the fd of a VM or vCPU. 0, or -1 (ks->fd -1: nothing to read later). */
int kvm_stats_open(struct kvm_stats *ks, int kvm_fd, int obj_fd);
/* Adds every nonzero cumulative counter as host row "kvm.PREFIX.NAME". */
void kvm_stats_read(const struct kvm_stats *ks, const char *prefix, struct stats_table *t);
/* One counter's value now; 0 when there is no such counter. */
uint64_t kvm_stats_value(const struct kvm_stats *ks, const char *name);
void kvm_stats_close(struct kvm_stats *ks);

#endif
