/*
 * The virtio-fs device (see virtio_fs_dev.h). Each request's readable part
 * is gathered into one buffer for the FUSE server and the reply scattered
 * back over the writable part; both sizes are bounded, so a guest cannot
 * make the device allocate or copy more than one maximal request.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/fuse.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <pier/fuse_msg.h>
#include "../fuse_server.h"
#include "../stats.h"
#include "virtio_fs_dev.h"
#include "../threads.h"

#define VFS_QUEUES 2
/* A request: headers plus the largest payload we accept (WRITE later). */
#define VFS_REQ_MAX (FUSE_SERVER_MAX_READ + 4096)
#define VFS_REPLY_MAX (FUSE_SERVER_MAX_READ + 4096)

/* An error reply for a request we could not hand to the server. */
static size_t error_reply(struct virtio_fs_dev *d, size_t req_len, int err)
{
	if (req_len < sizeof(struct fuse_in_header))
		return 0;
	struct fuse_in_header in;
	memcpy(&in, d->req, sizeof(in));
	struct fuse_out_header out = { .len = sizeof(out), .error = -err, .unique = in.unique };
	memcpy(d->reply, &out, sizeof(out));
	return sizeof(out);
}

/* Answers one request: its reply goes back over its writable buffers. */
static void serve_one(struct virtio_fs_dev *d, struct virtio_mmio_queue *q)
{
	const struct virtq_elem *e = &d->elem;
	size_t req_len = virtq_elem_gather(e, d->req, VFS_REQ_MAX);
	size_t cap = e->in_bytes < VFS_REPLY_MAX ? (size_t)e->in_bytes : VFS_REPLY_MAX;
	size_t n;
	if (e->out_bytes > VFS_REQ_MAX) {
		d->errors++;
		n = error_reply(d, req_len, E2BIG);
	} else {
		n = fuse_server_handle(d->server, d->req, req_len, d->reply, cap);
	}
	d->requests++;
	n = virtq_elem_scatter(e, d->reply, n <= cap ? n : 0);
	virtq_dev_push(&q->vq, e->head, (uint32_t)n);
}

/* Serves every available request of every ready queue; under the lock.
 * false: the thread must stop (an injected fault). */
static bool serve(struct virtio_fs_dev *d)
{
	bool notify = false;
	for (unsigned qi = 0; qi < VFS_QUEUES; qi++) {
		struct virtio_mmio_queue *q = &d->t.q[qi];
		bool served = false;
		while (q->ready && !q->vq.broken) {
			int r = virtq_dev_pop(&q->vq, &d->elem);
			if (r == 0)
				break;
			if (r < 0) {
				fprintf(stderr, "pier: virtio-fs %s: the guest broke queue %u (%s); "
						"the device needs a reset\n",
					d->config.tag, qi, strerror(-r));
				d->errors++;
				virtio_mmio_needs_reset(&d->t);
				break;
			}
			if (d->exit_after && d->requests + 1 == d->exit_after) {
				d->died = "PIER_FAULT stopped it with a request unanswered";
				/* Nobody answers from now on. The status says so (virtio
				 * 1.x, 2.1.2), so the guest's driver fails its requests
				 * with EIO at once rather than at its timeout. */
				virtio_mmio_needs_reset(&d->t);
				return false;
			}
			serve_one(d, q);
			served = true;
		}
		if (served && virtq_dev_notify_needed(&q->vq))
			notify = true;
	}
	if (notify)
		virtio_mmio_interrupt(&d->t);
	return true;
}

static void *device_thread(void *arg)
{
	struct virtio_fs_dev *d = arg;
	struct pollfd p[VFS_QUEUES + 1];
	for (unsigned i = 0; i < VFS_QUEUES; i++)
		p[i] = (struct pollfd){ d->t.q[i].notify_fd, POLLIN, 0 };
	p[VFS_QUEUES] = (struct pollfd){ d->stop_fd, POLLIN, 0 };
	for (;;) {
		if (poll(p, VFS_QUEUES + 1, -1) < 0 && errno != EINTR) {
			pthread_mutex_lock(&d->t.lock);
			d->died = "poll failed";
			virtio_mmio_needs_reset(&d->t);
			pthread_mutex_unlock(&d->t.lock);
			break;
		}
		if (p[VFS_QUEUES].revents)
			return NULL; /* asked to stop */
		uint64_t v;
		for (unsigned i = 0; i < VFS_QUEUES; i++)
			if (p[i].revents && read(p[i].fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				d->errors++;
		pthread_mutex_lock(&d->t.lock);
		bool go_on = serve(d);
		pthread_mutex_unlock(&d->t.lock);
		if (!go_on)
			break;
	}
	return NULL;
}

/* PIER_FAULT (see virtio_fs_dev.h); 0, or -1 after a message. */
static int fault_from_env(uint64_t *exit_after)
{
	*exit_after = 0;
	const char *f = getenv("PIER_FAULT");
	if (!f || !*f)
		return 0;
	char *end;
	const char *prefix = "fs-thread-exit:";
	if (strncmp(f, prefix, strlen(prefix)) == 0) {
		errno = 0;
		unsigned long long n = strtoull(f + strlen(prefix), &end, 10);
		if (!errno && n > 0 && *end == 0) {
			*exit_after = n;
			return 0;
		}
	}
	fprintf(stderr, "pier: PIER_FAULT=%s not understood (known: fs-thread-exit:N, N >= 1)\n", f);
	return -1;
}

/* A device reset ends the FUSE session, as DESTROY would. */
static void on_reset(void *ctx)
{
	struct virtio_fs_dev *d = ctx;
	struct fuse_in_header in = { .len = sizeof(in), .opcode = FUSE_DESTROY };
	struct fuse_out_header out;
	fuse_server_handle(d->server, &in, sizeof(in), &out, sizeof(out));
}

int virtio_fs_dev_start(struct virtio_fs_dev *d, struct guest_mem *mem, uint64_t base,
			uint32_t gsi, const char *tag, const char *dir, bool readonly)
{
	memset(d, 0, sizeof(*d));
	d->stop_fd = -1;
	if (fault_from_env(&d->exit_after))
		return -1;
	size_t tlen = strlen(tag);
	if (tlen > sizeof(d->config.tag)) {
		fprintf(stderr, "pier: virtio-fs tag %s: longer than %zu bytes\n", tag,
			sizeof(d->config.tag));
		return -1;
	}
	memcpy(d->config.tag, tag, tlen);
	d->config.num_request_queues = VFS_QUEUES - 1;
	d->server = fuse_server_new(dir, readonly);
	if (!d->server) {
		fprintf(stderr, "pier: serving %s: %s\n", dir, strerror(errno));
		return -1;
	}
	d->req = malloc(VFS_REQ_MAX);
	d->reply = malloc(VFS_REPLY_MAX);
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	int err = virtio_mmio_init(&d->t, mem, base, gsi, VIRTIO_ID_FS,
				   1ULL << VIRTIO_RING_F_EVENT_IDX, &d->config, sizeof(d->config),
				   VFS_QUEUES);
	if (!d->req || !d->reply || d->stop_fd < 0 || err) {
		fprintf(stderr, "pier: virtio-fs %s: %s\n", tag, strerror(err ? -err : ENOMEM));
		virtio_fs_dev_stop(d);
		return -1;
	}
	d->t.on_reset = on_reset;
	d->t.ctx = d;
	/* Signals are for the vCPU thread: it is the one KVM_RUN must leave. */
	err = thread_start(&d->thread, device_thread, d);
	if (err) {
		fprintf(stderr, "pier: virtio-fs %s: thread: %s\n", tag, strerror(err));
		virtio_fs_dev_stop(d);
		return -1;
	}
	d->started = true;
	return 0;
}

void virtio_fs_dev_stop(struct virtio_fs_dev *d)
{
	if (d->started) {
		uint64_t one = 1;
		if (write(d->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(d->thread, NULL);
		d->started = false;
	}
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	d->stop_fd = -1;
	virtio_mmio_free(&d->t);
	fuse_server_free(d->server);
	d->server = NULL;
	dax_map_free(&d->dax);
	free(d->req);
	free(d->reply);
	d->req = d->reply = NULL;
}

int virtio_fs_dev_add_dax(struct virtio_fs_dev *d, uint64_t gpa, uint64_t len)
{
	int err = dax_map_init(&d->dax, len);
	if (err) {
		fprintf(stderr, "pier: DAX window of %llu bytes: %s\n", (unsigned long long)len,
			strerror(-err));
		return -1;
	}
	fuse_server_set_dax(d->server, &d->dax);
	pthread_mutex_lock(&d->t.lock);
	d->t.shm_base = gpa;
	d->t.shm_len = len;
	pthread_mutex_unlock(&d->t.lock);
	return 0;
}

int virtio_fs_dev_configure(struct virtio_fs_dev *d, uint64_t cache_timeout_s, bool count)
{
	fuse_server_set_timeout(d->server, cache_timeout_s);
	return count ? fuse_server_count(d->server) : 0;
}

void virtio_fs_devs_stats(const struct virtio_fs_dev *devs, int n, struct stats_table *t)
{
	for (uint32_t op = 0; op < FUSE_MSG_OPCODES; op++) {
		static struct fuse_server_op_stats sum; /* large: its histogram */
		memset(&sum, 0, sizeof(sum));
		for (int i = 0; i < n; i++) {
			const struct fuse_server_op_stats *s = fuse_server_op(devs[i].server, op);
			if (!s)
				continue;
			sum.count += s->count;
			sum.in_bytes += s->in_bytes;
			sum.out_bytes += s->out_bytes;
			latency_merge(&sum.time, &s->time);
		}
		if (!sum.count)
			continue;
		char name[STATS_NAME_MAX];
		const char *opname = fuse_msg_opcode_name(op);
		snprintf(name, sizeof(name), "fuse.%s", opname ? opname : "unknown");
		stats_set(t, "host", name, "count", sum.count);
		stats_set(t, "host", name, "in", sum.in_bytes);
		stats_set(t, "host", name, "out", sum.out_bytes);
		stats_set(t, "host", name, "ns", sum.time.sum_ns);
		stats_set(t, "host", name, "p50_ns", latency_quantile(&sum.time, 0.5));
		stats_set(t, "host", name, "p99_ns", latency_quantile(&sum.time, 0.99));
	}
	for (int i = 0; i < n; i++) {
		const struct dax_map *m = &devs[i].dax;
		if (m->len) {
			stats_add(t, "host", "dax.setup", "count", m->setups);
			stats_add(t, "host", "dax.setup", "bytes", m->setup_bytes);
			stats_add(t, "host", "dax.remove", "count", m->removes);
			stats_add(t, "host", "dax.remove", "bytes", m->removed_bytes);
			stats_add(t, "host", "dax.repair", "count", m->repairs);
		}
		stats_add(t, "host", "irq.virtio_fs", "count", devs[i].t.interrupts);
	}
}
