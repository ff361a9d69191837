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

/* A request: headers plus the largest payload we accept (WRITE later). */
#define VFS_REQ_MAX (FUSE_SERVER_MAX_READ + 4096)
#define VFS_REPLY_MAX (FUSE_SERVER_MAX_READ + 4096)

/* An error reply for a request we could not hand to the server. */
static size_t error_reply(struct virtio_fs_worker *w, size_t req_len, int err)
{
	if (req_len < sizeof(struct fuse_in_header))
		return 0;
	struct fuse_in_header in;
	memcpy(&in, w->req, sizeof(in));
	struct fuse_out_header out = { .len = sizeof(out), .error = -err, .unique = in.unique };
	memcpy(w->reply, &out, sizeof(out));
	return sizeof(out);
}

/* The device stops answering (PIER_FAULT): the status says so (virtio
 * 1.x, 2.1.2), so the guest's driver fails its requests with EIO at once
 * rather than at its timeout. Under the lock. */
static void stop_answering(struct virtio_fs_dev *d, const char *why)
{
	if (!d->died)
		d->died = why;
	virtio_mmio_needs_reset(&d->t);
}

/*
 * Takes the next request of w's queue, its bytes gathered into w->req
 * (guest memory is read under the lock: a reset cannot move the rings
 * meanwhile). 1 with *gen the queue's generation then, 0 when there is
 * none, -1 when the worker must stop.
 */
static int take_request(struct virtio_fs_worker *w, size_t *req_len, uint64_t *gen)
{
	struct virtio_fs_dev *d = w->d;
	struct virtio_mmio_queue *q = &d->t.q[w->qi];
	pthread_mutex_lock(&d->t.lock);
	int r = 0;
	if (q->ready && !q->vq.broken && !d->died)
		r = virtq_dev_pop(&q->vq, &w->elem);
	if (r < 0) {
		fprintf(stderr, "pier: virtio-fs %s: the guest broke queue %u (%s); the device "
				"needs a reset\n", d->config.tag, w->qi, strerror(-r));
		__atomic_add_fetch(&d->errors, 1, __ATOMIC_RELAXED);
		virtio_mmio_needs_reset(&d->t);
		r = 0;
	} else if (r > 0 && __atomic_add_fetch(&d->requests, 1, __ATOMIC_RELAXED) ==
				    d->exit_after) {
		stop_answering(d, "PIER_FAULT stopped it with a request unanswered");
		r = -1;
	} else if (r > 0) {
		*req_len = virtq_elem_gather(&w->elem, w->req, VFS_REQ_MAX);
		*gen = q->gen;
	}
	pthread_mutex_unlock(&d->t.lock);
	return r;
}

/*
 * Scatters w's reply of n bytes over the request's writable buffers and
 * hands it back, unless the queue was reset or re-enabled since `gen`:
 * then the request is the old ring's and the guest has forgotten it.
 */
static void give_back(struct virtio_fs_worker *w, size_t n, uint64_t gen)
{
	struct virtio_fs_dev *d = w->d;
	struct virtio_mmio_queue *q = &d->t.q[w->qi];
	pthread_mutex_lock(&d->t.lock);
	if (q->ready && q->gen == gen && !q->vq.broken) {
		n = virtq_elem_scatter(&w->elem, w->reply, n);
		virtq_dev_push(&q->vq, w->elem.head, (uint32_t)n);
		w->requests++;
		if (virtq_dev_notify_needed(&q->vq))
			virtio_mmio_interrupt(&d->t);
	}
	pthread_mutex_unlock(&d->t.lock);
}

/* Answers every available request of w's queue; false: the worker must
 * stop (an injected fault). The FUSE server runs outside the transport's
 * lock: the other queues' workers go on meanwhile. */
static bool serve(struct virtio_fs_worker *w)
{
	size_t req_len;
	uint64_t gen;
	int r;
	while ((r = take_request(w, &req_len, &gen)) > 0) {
		const struct virtq_elem *e = &w->elem;
		size_t cap = e->in_bytes < VFS_REPLY_MAX ? (size_t)e->in_bytes : VFS_REPLY_MAX;
		size_t n;
		if (e->out_bytes > VFS_REQ_MAX) {
			__atomic_add_fetch(&w->d->errors, 1, __ATOMIC_RELAXED);
			n = error_reply(w, req_len, E2BIG);
		} else {
			n = fuse_server_handle(w->d->server, w->req, req_len, w->reply, cap);
		}
		give_back(w, n <= cap ? n : 0, gen);
	}
	return r == 0;
}

static void *worker_thread(void *arg)
{
	struct virtio_fs_worker *w = arg;
	struct virtio_fs_dev *d = w->d;
	struct pollfd p[2] = { { d->t.q[w->qi].notify_fd, POLLIN, 0 }, { d->stop_fd, POLLIN, 0 } };
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			pthread_mutex_lock(&d->t.lock);
			stop_answering(d, "poll failed");
			pthread_mutex_unlock(&d->t.lock);
			break;
		}
		if (p[1].revents)
			return NULL; /* asked to stop */
		uint64_t v;
		if (p[0].revents && read(p[0].fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			__atomic_add_fetch(&d->errors, 1, __ATOMIC_RELAXED);
		if (!serve(w))
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
			uint32_t gsi, const char *tag, const char *dir, bool readonly,
			unsigned nreq)
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
	if (nreq < 1 || nreq > VIRTIO_FS_DEV_MAX_REQUEST_QUEUES) {
		fprintf(stderr, "pier: virtio-fs %s: %u request queues (1 to %u)\n", tag, nreq,
			VIRTIO_FS_DEV_MAX_REQUEST_QUEUES);
		return -1;
	}
	d->config.num_request_queues = nreq;
	d->nworkers = nreq + 1;
	d->server = fuse_server_new(dir, readonly);
	if (!d->server) {
		fprintf(stderr, "pier: serving %s: %s\n", dir, strerror(errno));
		return -1;
	}
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	int err = virtio_mmio_init(&d->t, mem, base, gsi, VIRTIO_ID_FS,
				   1ULL << VIRTIO_RING_F_EVENT_IDX, &d->config, sizeof(d->config),
				   d->nworkers);
	bool nomem = false;
	for (unsigned i = 0; i < d->nworkers; i++) {
		struct virtio_fs_worker *w = &d->workers[i];
		*w = (struct virtio_fs_worker){ .d = d, .qi = i };
		w->req = malloc(VFS_REQ_MAX);
		w->reply = malloc(VFS_REPLY_MAX);
		nomem |= !w->req || !w->reply;
	}
	if (nomem || d->stop_fd < 0 || err) {
		fprintf(stderr, "pier: virtio-fs %s: %s\n", tag, strerror(err ? -err : ENOMEM));
		virtio_fs_dev_stop(d);
		return -1;
	}
	d->t.on_reset = on_reset;
	d->t.ctx = d;
	/* Signals are for the vCPU threads: they are the ones KVM_RUN must leave. */
	for (unsigned i = 0; i < d->nworkers; i++) {
		err = thread_start(&d->workers[i].thread, worker_thread, &d->workers[i]);
		if (err) {
			fprintf(stderr, "pier: virtio-fs %s: thread: %s\n", tag, strerror(err));
			virtio_fs_dev_stop(d);
			return -1;
		}
		d->workers[i].started = true;
	}
	return 0;
}

void virtio_fs_dev_stop(struct virtio_fs_dev *d)
{
	/* The stop eventfd stays readable: every worker sees it. */
	uint64_t one = 1;
	bool told = d->stop_fd >= 0 && write(d->stop_fd, &one, sizeof(one)) == sizeof(one);
	for (unsigned i = 0; i < d->nworkers; i++) {
		struct virtio_fs_worker *w = &d->workers[i];
		if (w->started && told)
			pthread_join(w->thread, NULL);
		w->started = false;
		free(w->req);
		free(w->reply);
		w->req = w->reply = NULL;
	}
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	d->stop_fd = -1;
	virtio_mmio_free(&d->t);
	fuse_server_free(d->server);
	d->server = NULL;
	dax_map_free(&d->dax);
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
		/* Requests by queue: how the guest's CPUs spread them. */
		for (unsigned q = 1; q < devs[i].nworkers; q++) {
			char name[STATS_NAME_MAX];
			snprintf(name, sizeof(name), "virtio_fs.queue%u", q);
			stats_add(t, "host", name, "requests", devs[i].workers[q].requests);
		}
	}
}
