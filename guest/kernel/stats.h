/*
 * The guest's cost counters (`pier run --stats`, /proc/pier/stats): what
 * it asks of the host and what it does itself, counted where it happens.
 *
 * Always on: each is one add beside work that costs far more (a request,
 * a fault, a copy). The kernel lock is held wherever they change and the
 * guest has one CPU, so plain adds suffice (per-CPU copies when there are
 * more).
 */
#ifndef GUEST_STATS_H
#define GUEST_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <pier/fuse_msg.h>

/* Why a read() went to FUSE_READ rather than the DAX window. */
enum stats_fallback {
	FALLBACK_NO_WINDOW,  /* the connection has none (QEMU, --dax 0, dax=0) */
	FALLBACK_POLICY,     /* the window policy chose FUSE_READ (small, first read) */
	FALLBACK_UNMAPPABLE, /* no chunk could be set up: all pinned, or the host refused */
	STATS_FALLBACKS
};

/* What a demand fault on a program page did. */
enum stats_fault {
	FAULT_ANON,        /* a zeroed page */
	FAULT_FILE_WINDOW, /* a page of the DAX window, no copy */
	FAULT_FILE_COPY,   /* a file page copied into RAM (no window, or private) */
	FAULT_COW_FILE,    /* a private write to a file page: copied */
	FAULT_COW_FORK,    /* a page shared with a fork: copied */
	STATS_FAULTS
};

struct stats_fuse_op {
	uint64_t count, out, in; /* requests; bytes sent and received, headers included */
};

/* virtio-fs request queues counted apart (queue 1 is the first). */
#define STATS_FS_QUEUES 16

struct guest_stats {
	struct stats_fuse_op fuse[FUSE_MSG_OPCODES];
	uint64_t fs_queue[STATS_FS_QUEUES]; /* requests sent on each request queue */
	uint64_t fallback[STATS_FALLBACKS];
	uint64_t copied_window, copied_fuse_read; /* read() bytes by where they came from */
	uint64_t name_hit, name_miss;             /* the name cache, on each path step */
	uint64_t attr_hit, attr_miss;             /* attributes still valid, or asked for */
	/* Replies older than what we knew when they came (a LOOKUP's or
	 * GETATTR's wait lets the kernel lock go): attributes not applied,
	 * names not cached. */
	uint64_t attr_stale, name_stale;
	uint64_t fault[STATS_FAULTS];
	uint64_t kicks;                 /* virtio notifications: each an exit to the VMM */
	uint64_t done_polled, done_irq; /* virtio requests: answer found spinning / after a wait */
	uint64_t status_looks;          /* device status reads of a long wait (NEEDS_RESET?) */
	uint64_t unlocked_waits;        /* device waits that let the kernel lock go */
	uint64_t queue_full;            /* requests that found their virtqueue full and waited */
	uint64_t copy_faults;           /* copy_nofault stopped by a program's unmapped page */
};

extern struct guest_stats stats;

/* The first program is about to run: what booting cost is kept apart
 * ("startup" in the report). */
void stats_mark_startup(void);

static inline void stats_fuse_request(uint32_t opcode, uint64_t out, uint64_t in)
{
	struct stats_fuse_op *s = &stats.fuse[opcode < FUSE_MSG_OPCODES ? opcode : 0];
	s->count++;
	s->out += out;
	s->in += in;
}

/* Hands each counter line ("fuse.LOOKUP count=3 out=240 in=432") to
 * `line`; zero counters are left out. */
void stats_write(void (*line)(void *ctx, const char *text), void *ctx);

#endif
