/*
 * The guest's cost counters (stats.h) and their text form, which the
 * control channel carries to the host at exit and /proc/pier/stats shows.
 */
#include <pier/fmt.h>
#include "../fs/fuse_dax.h"
#include "../mm/tlb.h"
#include "cpu_queues.h"
#include "stats.h"

struct guest_stats stats;

static struct {
	bool marked;
	uint64_t requests, kicks, faults;
} startup;

static uint64_t all_requests(void)
{
	uint64_t n = 0;
	for (uint32_t op = 0; op < FUSE_MSG_OPCODES; op++)
		n += stats.fuse[op].count;
	return n;
}

void stats_mark_startup(void)
{
	if (startup.marked)
		return;
	startup.marked = true;
	startup.requests = all_requests();
	startup.kicks = stats.kicks;
	for (int i = 0; i < STATS_FAULTS; i++)
		startup.faults += stats.fault[i];
}

static const char *const fallback_names[STATS_FALLBACKS] = {
	[FALLBACK_NO_WINDOW] = "no_window",
	[FALLBACK_POLICY] = "policy",
	[FALLBACK_UNMAPPABLE] = "unmappable",
};

static const char *const fault_names[STATS_FAULTS] = {
	[FAULT_ANON] = "anon",
	[FAULT_FILE_WINDOW] = "file_window",
	[FAULT_FILE_COPY] = "file_copy",
	[FAULT_COW_FILE] = "cow_file",
	[FAULT_COW_FORK] = "cow_fork",
};

typedef void (*line_fn)(void *ctx, const char *text);

static void one(line_fn line, void *ctx, const char *key, uint64_t v)
{
	char buf[96];
	if (!v)
		return;
	fmt_snprintf(buf, sizeof(buf), "%s count=%llu", key, (unsigned long long)v);
	line(ctx, buf);
}

static void two(line_fn line, void *ctx, const char *key, const char *a, uint64_t va,
		const char *b, uint64_t vb)
{
	char buf[96];
	if (!va && !vb)
		return;
	fmt_snprintf(buf, sizeof(buf), "%s %s=%llu %s=%llu", key, a, (unsigned long long)va, b,
		     (unsigned long long)vb);
	line(ctx, buf);
}

void stats_write(line_fn line, void *ctx)
{
	char buf[96], key[48];
	for (uint32_t op = 0; op < FUSE_MSG_OPCODES; op++) {
		const struct stats_fuse_op *s = &stats.fuse[op];
		const char *name = fuse_msg_opcode_name(op);
		if (!s->count)
			continue;
		fmt_snprintf(buf, sizeof(buf), "fuse.%s count=%llu out=%llu in=%llu",
			     name ? name : "unknown", (unsigned long long)s->count,
			     (unsigned long long)s->out, (unsigned long long)s->in);
		line(ctx, buf);
	}
	for (int q = 1; q < STATS_FS_QUEUES; q++) {
		fmt_snprintf(key, sizeof(key), "virtio_fs.queue%d", q);
		one(line, ctx, key, stats.fs_queue[q]);
	}
	for (int i = 0; i < STATS_FALLBACKS; i++) {
		fmt_snprintf(key, sizeof(key), "fallback.%s", fallback_names[i]);
		one(line, ctx, key, stats.fallback[i]);
	}
	two(line, ctx, "copied", "window", stats.copied_window, "fuse_read",
	    stats.copied_fuse_read);
	two(line, ctx, "cache.name", "hit", stats.name_hit, "miss", stats.name_miss);
	two(line, ctx, "cache.attr", "hit", stats.attr_hit, "miss", stats.attr_miss);
	two(line, ctx, "cache.stale", "attrs", stats.attr_stale, "names", stats.name_stale);
	for (int i = 0; i < STATS_FAULTS; i++) {
		fmt_snprintf(key, sizeof(key), "fault.%s", fault_names[i]);
		one(line, ctx, key, stats.fault[i]);
	}
	one(line, ctx, "virtio.kick", stats.kicks);
	one(line, ctx, "virtio.status_look", stats.status_looks);
	one(line, ctx, "virtio.unlocked_wait", stats.unlocked_waits);
	one(line, ctx, "virtio.queue_full", stats.queue_full);
	one(line, ctx, "copy.faulted", stats.copy_faults);
	if (startup.marked) {
		fmt_snprintf(buf, sizeof(buf), "startup requests=%llu kicks=%llu faults=%llu",
			     (unsigned long long)startup.requests, (unsigned long long)startup.kicks,
			     (unsigned long long)startup.faults);
		line(ctx, buf);
	}
	two(line, ctx, "virtio.done", "polled", stats.done_polled, "irq", stats.done_irq);
	uint64_t moved[CQ_MOVES];
	cq_moves(moved);
	if (moved[CQ_MOVE_IDLE] || moved[CQ_MOVE_BALANCE] || moved[CQ_MOVE_AFFINITY]) {
		fmt_snprintf(buf, sizeof(buf), "sched.migrate idle=%llu balance=%llu affinity=%llu",
			     (unsigned long long)moved[CQ_MOVE_IDLE],
			     (unsigned long long)moved[CQ_MOVE_BALANCE],
			     (unsigned long long)moved[CQ_MOVE_AFFINITY]);
		line(ctx, buf);
	}
	unsigned long ipis, answered, extra;
	tlb_counts(&ipis, &answered, &extra);
	if (ipis || extra) {
		fmt_snprintf(buf, sizeof(buf), "tlb.shootdown ipis=%lu answered=%lu extra=%lu", ipis,
			     answered, extra);
		line(ctx, buf);
	}
	struct dax_stats w;
	struct fuse_dax_stats d;
	if (fuse_dax_totals(&w, &d)) {
		fmt_snprintf(buf, sizeof(buf), "window hit=%llu miss=%llu evict=%llu",
			     (unsigned long long)w.hits, (unsigned long long)w.misses,
			     (unsigned long long)w.evictions);
		line(ctx, buf);
		fmt_snprintf(buf, sizeof(buf), "window.setup count=%llu failed=%llu",
			     (unsigned long long)d.setups, (unsigned long long)d.setup_errors);
		line(ctx, buf);
		two(line, ctx, "window.remove", "requests", d.remove_msgs, "chunks", d.removed);
		two(line, ctx, "window.pages", "mapped", d.pages_mapped, "refused",
		    d.pages_refused);
		one(line, ctx, "window.copy_unlocked", d.unlocked_copies);
	}
}
