/*
 * DAX window policy benchmark: replays synthetic read traces through the
 * real window manager (lib/dax_window.c) once per policy and counts what
 * the FUSE client would send: FUSE_SETUPMAPPING per miss, FUSE_REMOVEMAPPING
 * requests and entries for victims that are not overwritten in place, and
 * the hit ratio (chunk look-ups served from the window). No I/O, no guest:
 * it compares eviction policies, not transport speed. Fixed seeds, so every
 * run prints the same table.
 *
 * Usage: gcc -std=gnu11 -O2 -Iinclude bench/dax_policy.c lib/dax_window.c \
 *            -o build/bench/dax_policy && build/bench/dax_policy
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pier/dax_window.h>

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define READ_SIZE (128 * KIB) /* a sequential reader's request size */
#define NACCESS 100000

struct counts {
	uint64_t finds, setups, fallbacks, rm_reqs, rm_entries;
};

struct sim {
	struct dax_window w;
	struct counts n;
};

static uint64_t rng;

/* splitmix64: a fixed seed gives a fixed trace. */
static uint64_t rnd64(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t bound)
{
	return rnd64() % bound;
}

/* One read of [off, off+len) of file nodeid, as the FUSE client does it. */
static void sim_read(struct sim *s, uint64_t nodeid, uint64_t off, uint64_t len)
{
	uint64_t first = dax_file_index(&s->w, off), last = dax_file_index(&s->w, off + len - 1);
	for (uint64_t i = first; i <= last; i++) {
		struct dax_victims v;
		s->n.finds++;
		if (dax_find(&s->w, nodeid, i) != DAX_NONE)
			continue;
		uint32_t c = dax_alloc(&s->w, nodeid, i, &v);
		if (c == DAX_NONE) {
			s->n.fallbacks++;
			continue;
		}
		s->n.setups++;
		uint32_t removed = 0;
		for (uint32_t k = 0; k < v.n; k++)
			removed += v.v[k].chunk != c; /* the reused chunk is overwritten, not removed */
		s->n.rm_entries += removed;
		s->n.rm_reqs += removed > 0;
	}
}

static void seq_file(struct sim *s, uint64_t nodeid, uint64_t size)
{
	for (uint64_t off = 0; off < size; off += READ_SIZE)
		sim_read(s, nodeid, off, size - off < READ_SIZE ? size - off : READ_SIZE);
}

/* (1) one file of 1.5x the window, read sequentially twice. */
static void wl_seq_big(struct sim *s)
{
	for (int pass = 0; pass < 2; pass++)
		seq_file(s, 1, 96 * MIB);
}

/* (2) ten 24 MiB files, read one after another, twice. */
static void wl_seq_many(struct sim *s)
{
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t f = 1; f <= 10; f++)
			seq_file(s, f, 24 * MIB);
}

/* (3) uniform random 4 KiB reads over ten 24 MiB files. */
static void wl_rand(struct sim *s)
{
	for (int i = 0; i < NACCESS; i++)
		sim_read(s, 1 + rnd(10), rnd(24 * MIB / (4 * KIB)) * 4 * KIB, 4 * KIB);
}

/*
 * (4) 90%: whole reads of 200 small files (64 KiB), Zipf (s = 1) skew, the
 * way a web server serves its assets; 10%: the next 128 KiB of a 256 MiB
 * file scanned over and over (a log or a backup sweep).
 */
static void wl_hot_scan(struct sim *s)
{
	enum { NHOT = 200 };
	double cdf[NHOT], sum = 0;
	for (int k = 0; k < NHOT; k++)
		cdf[k] = sum += 1.0 / (k + 1);
	uint64_t scan = 0;
	for (int i = 0; i < NACCESS; i++) {
		if (rnd(10) == 0) {
			sim_read(s, 1000, scan, READ_SIZE);
			scan = (scan + READ_SIZE) % (256 * MIB);
			continue;
		}
		double u = (double)(rnd64() >> 11) / (double)(1ULL << 53) * sum;
		int lo = 0, hi = NHOT - 1;
		while (lo < hi) {
			int mid = (lo + hi) / 2;
			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		sim_read(s, 1 + (uint64_t)lo, 0, 64 * KIB);
	}
}

/* (6) random 4 KiB reads, 80% of them into a hot 20% of the same ten files. */
static void wl_rand_skew(struct sim *s)
{
	uint64_t pages = 24 * MIB / (4 * KIB);
	for (int i = 0; i < NACCESS; i++) {
		uint64_t f = 1 + rnd(10), p = rnd(pages);
		if (rnd(10) < 8)
			p %= pages / 5;
		sim_read(s, f, p * 4 * KIB, 4 * KIB);
	}
}

struct workload {
	const char *name;
	void (*run)(struct sim *s);
	uint64_t window, chunk;
};

static const struct workload workloads[] = {
	{ "1 seq 96M file x2", wl_seq_big, 64 * MIB, 2 * MIB },
	{ "2 seq 10x24M x2", wl_seq_many, 64 * MIB, 2 * MIB },
	{ "3 rand 4K 10x24M", wl_rand, 64 * MIB, 2 * MIB },
	{ "4 hot 200x64K+scan", wl_hot_scan, 64 * MIB, 2 * MIB },
	{ "5 = 3, 4M window", wl_rand, 4 * MIB, 2 * MIB },
	{ "6 rand 80/20 10x24M", wl_rand_skew, 64 * MIB, 2 * MIB },
	{ "7 = 4, 64K chunks", wl_hot_scan, 64 * MIB, 64 * KIB },
};

static const struct {
	enum dax_policy p;
	const char *name;
} policies[] = {
	{ DAX_POLICY_LRU, "lru" },
	{ DAX_POLICY_LIFO, "lifo" },
	{ DAX_POLICY_LINUX, "linux" },
};

#define NPOL (sizeof(policies) / sizeof(policies[0]))

int main(void)
{
	printf("%-20s %-6s %8s %8s %8s %8s %8s %7s %7s\n", "workload", "policy", "lookups",
	       "misses", "rm_reqs", "rm_ents", "fallbk", "hit%", "vs_lru");
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		const struct workload *wl = &workloads[i];
		uint64_t lru_misses = 0;
		for (size_t p = 0; p < NPOL; p++) {
			struct sim s = { 0 };
			uint32_t n = (uint32_t)(wl->window / wl->chunk);
			size_t len = dax_window_bytes(n);
			void *mem = malloc(len);
			if (!mem || dax_window_init(&s.w, wl->window, wl->chunk, 12, policies[p].p, mem, len)) {
				fprintf(stderr, "dax_policy: cannot set up %s\n", wl->name);
				return 1;
			}
			rng = 0x5eed0000 + i; /* every policy replays the same trace */
			wl->run(&s);
			if (p == 0)
				lru_misses = s.n.setups;
			printf("%-20s %-6s %8llu %8llu %8llu %8llu %8llu %6.1f%% %7.2f\n", wl->name,
			       policies[p].name, (unsigned long long)s.n.finds,
			       (unsigned long long)s.n.setups, (unsigned long long)s.n.rm_reqs,
			       (unsigned long long)s.n.rm_entries, (unsigned long long)s.n.fallbacks,
			       100.0 * (double)s.w.stats.hits / (double)s.n.finds,
			       lru_misses ? (double)s.n.setups / (double)lru_misses : 0.0);
			free(mem);
		}
	}
	printf("misses = FUSE_SETUPMAPPING requests; rm = FUSE_REMOVEMAPPING requests/entries;\n"
	       "window 64 MiB of 2 MiB chunks unless named; lookups = chunk look-ups (one per\n"
	       "chunk a read touches; sequential reads are %llu KiB).\n",
	       (unsigned long long)(READ_SIZE / KIB));
	return 0;
}
