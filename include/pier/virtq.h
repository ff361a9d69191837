/*
 * Split virtqueues (virtio 1.x, section 2.7), both sides of them.
 *
 * The driver side is what the guest uses to hand buffers to a device; the
 * device side is what a device model (pier's VMM, and the unit tests that
 * drive one side against the other) uses to take them. Each side treats the
 * other as hostile: the driver checks every used-ring id and length, the
 * device checks every descriptor index, chain and address.
 *
 * Ring layout and flags come from <linux/virtio_ring.h>. Both sides are
 * little-endian x86 only, so no byte swapping.
 */
#ifndef PIER_VIRTQ_H
#define PIER_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

#define VIRTQ_MAX_SIZE 1024u

/* One buffer as the device sees it: a device ("physical") address. */
struct virtq_buf {
	uint64_t addr;
	uint32_t len;
};

/* ---- driver side ---- */

struct virtq {
	uint16_t size;           /* power of two, <= VIRTQ_MAX_SIZE */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_addr, avail_addr, used_addr; /* device addresses */
	bool event_idx;          /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool broken;             /* the device misbehaved: no more requests */
	bool intr_off;           /* virtq_set_interrupts(q, false) is in force */
	uint16_t free_head, num_free;
	uint16_t avail_idx;      /* our copy: never trust what is in shared memory */
	uint16_t last_used;
	uint16_t kicked_idx;     /* avail_idx at the last notification */
	/* Private bookkeeping the device cannot touch. Per head: the caller's
	 * token (NULL when free), chain length, writable bytes; per descriptor:
	 * the next link (chain or free list). */
	void **token;
	uint32_t *in_bytes;
	uint16_t *chain_len;
	uint16_t *next;
};

/* Bytes of shared memory for the rings of a queue of `size` entries. */
size_t virtq_ring_bytes(uint16_t size);
/* Bytes of private bookkeeping memory virtq_init needs. */
size_t virtq_meta_bytes(uint16_t size);

/*
 * Sets up a queue over `ring` (virtq_ring_bytes, zeroed, 4096-aligned, at
 * device address ring_addr) and `meta` (virtq_meta_bytes, private).
 * Returns 0 or -EINVAL for a bad size.
 */
int virtq_init(struct virtq *q, uint16_t size, void *ring, uint64_t ring_addr, void *meta,
	       bool event_idx);

/*
 * Makes a request available: `out` buffers the device reads, then `in`
 * buffers it writes. `token` (non-NULL) comes back from virtq_get_used.
 * Returns 0, -ENOSPC when there are not enough free descriptors, -EIO when
 * the queue is broken, -EINVAL for an empty request or a NULL token.
 */
int virtq_add(struct virtq *q, const struct virtq_buf *out, unsigned nout,
	      const struct virtq_buf *in, unsigned nin, void *token);

/* After virtq_add: whether the device asked to be notified. */
bool virtq_kick_needed(struct virtq *q);

/* Whether the used ring has entries we have not consumed (cheap poll). */
bool virtq_has_used(const struct virtq *q);

/*
 * Takes the next completed request: returns its token and sets *len to the
 * bytes the device wrote; NULL when nothing is pending. A bogus id (out of
 * range, not in flight) or a length beyond what the request could hold
 * marks the queue broken and returns NULL; the caller then fails whatever
 * it still waits for (virtq_take_broken).
 */
void *virtq_get_used(struct virtq *q, uint32_t *len);

/* On a broken queue: hands back in-flight tokens one by one, then NULL. */
void *virtq_take_broken(struct virtq *q);

/* Asks the device not to interrupt (polling) or to interrupt again. */
void virtq_set_interrupts(struct virtq *q, bool on);

/* ---- device side ---- */

/*
 * Translates a driver address range to a pointer the device may use, or
 * NULL if any byte of it lies outside guest memory. `write` says the
 * device will write there.
 */
typedef void *(*virtq_xlate_fn)(void *ctx, uint64_t addr, uint64_t len, bool write);

/* Buffers in one request, at most: Linux's virtio-fs puts each page of a
 * READ or WRITE in a buffer of its own, up to max_pages (256 = 1 MiB, as
 * pier's FUSE server offers), after up to three for the headers. */
#define VIRTQ_MAX_SEGS 264

struct virtq_seg {
	void *base;
	uint32_t len;
};

/* One request, as the device sees it: readable segments, then writable. */
struct virtq_elem {
	uint16_t head;
	unsigned nout, nin;
	uint64_t out_bytes, in_bytes;
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

struct virtq_dev {
	uint16_t size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	bool event_idx;
	bool broken;
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t signalled_used; /* used_idx when we last interrupted */
	virtq_xlate_fn xlate;
	void *ctx;
};

/*
 * Attaches to a queue the driver set up at the given addresses. Returns 0,
 * or -EINVAL if the size is bad, a ring lies outside guest memory, or a
 * ring is misaligned (descriptors 16, avail 2, used 4 bytes: 2.7).
 */
int virtq_dev_init(struct virtq_dev *d, uint16_t size, uint64_t desc_addr,
		   uint64_t avail_addr, uint64_t used_addr, bool event_idx, virtq_xlate_fn xlate,
		   void *ctx);

/*
 * Takes the next available request. Returns 1 with *e filled, 0 when none
 * is available, or a negative errno when the driver broke the protocol
 * (head or next index out of range, a loop, a readable segment after a
 * writable one, an address outside guest memory, too many segments, a
 * nested or misaligned indirect table). On error the queue is marked
 * broken; when the head itself was valid it is returned through *e->head
 * so the caller can complete it with length 0.
 */
int virtq_dev_pop(struct virtq_dev *d, struct virtq_elem *e);

/* Copies a request's readable segments into buf (at most cap bytes);
 * the bytes copied. */
size_t virtq_elem_gather(const struct virtq_elem *e, void *buf, size_t cap);

/* Copies len bytes of buf over a request's writable segments, as far as
 * they go; the bytes copied. */
size_t virtq_elem_scatter(const struct virtq_elem *e, const void *buf, size_t len);

/* Completes a request: `len` bytes were written into its writable part. */
void virtq_dev_push(struct virtq_dev *d, uint16_t head, uint32_t len);

/* After pushes: whether the driver wants an interrupt now. */
bool virtq_dev_notify_needed(struct virtq_dev *d);

#endif
