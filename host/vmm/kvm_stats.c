/*
 * KVM's binary statistics (kvm_stats.h). Layout (Documentation/virt/kvm/
 * api.rst, 4.133): a header, then num_desc descriptors each followed by
 * name_size bytes of name, then the data; each descriptor's `size` u64
 * values at data_offset + its offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>
#include "../stats.h"
#include "kvm_stats.h"

int kvm_stats_open(struct kvm_stats *ks, int kvm_fd, int obj_fd)
{
	memset(ks, 0, sizeof(*ks));
	ks->fd = -1;
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0)
		return -1;
	int fd = ioctl(obj_fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return -1;
	struct kvm_stats_header h;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.num_desc > 4096 ||
	    h.name_size > 4096) {
		close(fd);
		return -1;
	}
	size_t one = sizeof(struct kvm_stats_desc) + h.name_size;
	size_t all = one * h.num_desc;
	char *descs = malloc(all ? all : 1);
	ks->names = calloc(h.num_desc ? h.num_desc : 1, sizeof(*ks->names));
	ks->offset = calloc(h.num_desc ? h.num_desc : 1, sizeof(*ks->offset));
	if (!descs || !ks->names || !ks->offset ||
	    pread(fd, descs, all, h.desc_offset) != (ssize_t)all) {
		free(descs);
		close(fd);
		kvm_stats_close(ks);
		return -1;
	}
	uint32_t end = 0;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(descs + i * one);
		uint32_t bytes = (uint32_t)d->size * 8;
		ks->offset[i] = UINT32_MAX;
		if ((d->flags & KVM_STATS_TYPE_MASK) != KVM_STATS_TYPE_CUMULATIVE || d->size != 1)
			continue;
		ks->offset[i] = d->offset;
		snprintf(ks->names[i], sizeof(ks->names[i]), "%.*s", (int)h.name_size, d->name);
		if (d->offset + bytes > end)
			end = d->offset + bytes;
	}
	free(descs);
	ks->fd = fd;
	ks->ndesc = h.num_desc;
	ks->data_offset = h.data_offset;
	ks->data_len = end;
	return 0;
}

void kvm_stats_read(const struct kvm_stats *ks, const char *prefix, struct stats_table *t)
{
	if (ks->fd < 0 || !ks->data_len)
		return;
	uint8_t *data = malloc(ks->data_len);
	if (!data || pread(ks->fd, data, ks->data_len, ks->data_offset) != (ssize_t)ks->data_len) {
		free(data);
		return;
	}
	for (uint32_t i = 0; i < ks->ndesc; i++) {
		uint64_t v;
		if (ks->offset[i] == UINT32_MAX)
			continue;
		memcpy(&v, data + ks->offset[i], sizeof(v));
		if (!v)
			continue;
		char name[STATS_NAME_MAX];
		snprintf(name, sizeof(name), "kvm.%s.%s", prefix, ks->names[i]);
		stats_set(t, "host", name, "count", v);
	}
	free(data);
}

uint64_t kvm_stats_value(const struct kvm_stats *ks, const char *name)
{
	uint64_t v = 0;
	for (uint32_t i = 0; ks->fd >= 0 && i < ks->ndesc; i++)
		if (ks->offset[i] != UINT32_MAX && strcmp(ks->names[i], name) == 0 &&
		    pread(ks->fd, &v, sizeof(v), ks->data_offset + ks->offset[i]) != sizeof(v))
			v = 0;
	return v;
}

void kvm_stats_close(struct kvm_stats *ks)
{
	if (ks->fd >= 0)
		close(ks->fd);
	free(ks->names);
	free(ks->offset);
	ks->fd = -1;
	ks->names = NULL;
	ks->offset = NULL;
}
