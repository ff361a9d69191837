/*
 * virtio-fs driver: queue 0 is the high-priority queue (FORGET and
 * BATCH_FORGET), queues 1.. carry requests. Each CPU sends on a request
 * queue of its own (CPU i on queue 1 + i mod the count), as many as the
 * device offers and there are CPUs: on pier's device each queue has its
 * own host thread, so one CPU's request never waits behind another's.
 */
#include <linux/virtio_fs.h>
#include <linux/virtio_ids.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/memlayout.h"
#include "../kernel/console.h"
#include "../kernel/stats.h"
#include "../kernel/task.h"
#include "../mm/mm.h"
#include "virtio.h"
#include "virtio_fs.h"

#define VFS_QUEUE_SIZE 128
#define MAX_SEGS 16

/* Request queues we use at most: the transport's, less the hiprio one. */
#define MAX_REQUEST_QUEUES (VIRTIO_MAX_QUEUES - 1)

struct virtio_fs {
	struct virtio_dev *dev;
	struct virtio_queue *hiprio;
	struct virtio_queue *request[MAX_REQUEST_QUEUES];
	unsigned nrequest;
	char tag[sizeof(((struct virtio_fs_config *)0)->tag) + 1];
	struct fuse_transport t;
};

/* Guest virtual buffers to device addresses. Kernel buffers are linear
 * in physical memory (direct map or kernel image), so one segment each. */
static int to_bufs(const struct fuse_iov *iov, unsigned n, struct virtq_buf *b)
{
	if (n > MAX_SEGS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		b[i] = (struct virtq_buf){ virt_to_phys(iov[i].base), iov[i].len };
	return 0;
}

static int64_t vfs_call(void *ctx, const struct fuse_iov *out, unsigned nout,
			const struct fuse_iov *in, unsigned nin, bool may_unlock)
{
	struct virtio_fs *fs = ctx;
	struct virtq_buf ob[MAX_SEGS], ib[MAX_SEGS];
	if (to_bufs(out, nout, ob) || to_bufs(in, nin, ib))
		return -EINVAL;
	unsigned q = cpu_this()->index % fs->nrequest;
	if (q + 1 < STATS_FS_QUEUES)
		stats.fs_queue[q + 1]++;
	return virtio_call(fs->request[q], ob, nout, ib, nin, may_unlock);
}

static int vfs_send_noreply(void *ctx, const struct fuse_iov *out, unsigned nout)
{
	struct virtio_fs *fs = ctx;
	struct virtq_buf ob[MAX_SEGS];
	if (to_bufs(out, nout, ob))
		return -EINVAL;
	/* Wait for the device to hand the buffers back: they live on our stack. */
	int64_t r = virtio_call(fs->hiprio, ob, nout, NULL, 0, false);
	return r < 0 ? (int)r : 0;
}

static int read_tag(struct virtio_dev *d, char *tag, size_t size)
{
	struct virtio_fs_config cfg;
	if (d->ops->config_read(d, offsetof(struct virtio_fs_config, tag), cfg.tag, sizeof(cfg.tag)))
		return -EIO;
	size_t n = strnlen((const char *)cfg.tag, sizeof(cfg.tag));
	if (n == 0 || n >= size)
		return -EIO;
	memcpy(tag, cfg.tag, n);
	tag[n] = 0;
	return 0;
}

struct fuse_transport *virtio_fs_open(const char *tag)
{
	char t[40];
	struct virtio_dev *d = NULL;
	for (unsigned i = 0; (d = virtio_find(VIRTIO_ID_FS, i)) != NULL; i++)
		if (read_tag(d, t, sizeof(t)) == 0 && strcmp(t, tag) == 0)
			break;
	if (!d)
		return NULL;
	struct virtio_fs *fs = kzalloc(sizeof(*fs));
	if (!fs)
		return NULL;
	d->claimed = true;
	fs->dev = d;
	memcpy(fs->tag, t, strlen(t) + 1); /* read_tag: at most 36 bytes */
	uint32_t nreq = 0;
	if (d->ops->config_read(d, offsetof(struct virtio_fs_config, num_request_queues), &nreq,
				sizeof(nreq)) ||
	    nreq == 0) {
		virtio_fail(d, "no request queues");
		return NULL;
	}
	if (virtio_negotiate(d, 1ULL << VIRTIO_RING_F_EVENT_IDX))
		return NULL;
	/* A queue per CPU where the device has them; a hostile count is
	 * only ever a bound here. */
	fs->nrequest = (unsigned)smp_cpus_online();
	if (fs->nrequest > nreq)
		fs->nrequest = nreq;
	if (fs->nrequest > MAX_REQUEST_QUEUES)
		fs->nrequest = MAX_REQUEST_QUEUES;
	fs->hiprio = virtio_queue_setup(d, 0, VFS_QUEUE_SIZE);
	bool ok = fs->hiprio != NULL;
	for (unsigned i = 0; ok && i < fs->nrequest; i++)
		ok = (fs->request[i] = virtio_queue_setup(d, (uint16_t)(1 + i), VFS_QUEUE_SIZE));
	if (!ok) {
		virtio_fail(d, "queue setup failed");
		return NULL;
	}
	virtio_ready(d);
	fs->t = (struct fuse_transport){ .call = vfs_call, .send_noreply = vfs_send_noreply,
					 .ctx = fs, .tag = fs->tag };
	uint64_t addr, len;
	if (d->ops->shm_region(d, VIRTIO_FS_SHMCAP_ID_CACHE, &addr, &len) == 0) {
		fs->t.dax_addr = addr;
		fs->t.dax_len = len;
	}
	kprintf("virtio-fs '%s' on %s: %u request queue(s) offered, %u used, %s, %s\n", fs->tag,
		d->name, nreq, fs->nrequest, d->polling ? "polling" : "interrupts",
		fs->t.dax_len ? "DAX window" : "no DAX window");
	return &fs->t;
}

void virtio_fs_list_tags(void)
{
	struct virtio_dev *d;
	char t[40];
	int n = 0;
	for (unsigned i = 0; (d = virtio_find(VIRTIO_ID_FS, i)) != NULL; i++)
		if (read_tag(d, t, sizeof(t)) == 0)
			kprintf("%s'%s'", n++ ? ", " : "  virtio-fs tags available: ", t);
	kprintf(n ? "\n" : "  no virtio-fs devices found\n");
}
