/*
 * Unit tests for lib/dax_window.c: init checks, each policy's eviction order,
 * pins, per-inode drops, and random operation sequences replayed against a
 * plain model (arrays and linear scans, eviction order by timestamps).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/errno.h>
#include <pier/dax_window.h>

#define MIB (1ULL << 20)
#define NPOL 3
static const enum dax_policy policies[NPOL] = { DAX_POLICY_LRU, DAX_POLICY_LIFO, DAX_POLICY_LINUX };

static struct dax_window win;
static void *mem;

static struct dax_window *mk(uint64_t window_len, uint64_t chunk, uint32_t align, enum dax_policy p)
{
	free(mem);
	size_t len = dax_window_bytes((uint32_t)(window_len / chunk));
	mem = malloc(len);
	assert_non_null(mem);
	assert_int_equal(dax_window_init(&win, window_len, chunk, align, p, mem, len), 0);
	assert_int_equal(dax_window_check(&win), 0);
	return &win;
}

static int teardown(void **state)
{
	(void)state;
	free(mem);
	mem = NULL;
	return 0;
}

/* Allocates after a checked miss, expecting chunk want and no victims. */
static void alloc_fresh(struct dax_window *w, uint64_t nodeid, uint64_t index, uint32_t want)
{
	struct dax_victims v;
	assert_int_equal(dax_find(w, nodeid, index), DAX_NONE);
	assert_int_equal(dax_alloc(w, nodeid, index, &v), want);
	assert_int_equal(v.n, 0);
}

/* Allocates, expecting to overwrite chunk want, which mapped (vn, vi). */
static void alloc_over(struct dax_window *w, uint64_t nodeid, uint64_t index, uint32_t want,
		       uint64_t vn, uint64_t vi)
{
	struct dax_victims v;
	assert_int_equal(dax_alloc(w, nodeid, index, &v), want);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.v[0].chunk, want);
	assert_int_equal(v.v[0].nodeid, vn);
	assert_int_equal(v.v[0].index, vi);
	assert_int_equal(dax_window_check(w), 0);
}

static uint64_t buf[4096];

static int init(struct dax_window *w, uint64_t window_len, uint64_t chunk, uint32_t align,
		enum dax_policy p, size_t len)
{
	return dax_window_init(w, window_len, chunk, align, p, buf, len);
}

static void test_init_args(void **state)
{
	(void)state;
	struct dax_window w;
	size_t need = dax_window_bytes(32);
	assert_true(need > 0 && need <= sizeof(buf));
	assert_int_equal(dax_window_bytes(0), 0);
	assert_int_equal(dax_window_bytes(DAX_MAX_CHUNKS + 1), 0);
	assert_int_equal(init(&w, 64 * MIB, 2 * MIB, 21, DAX_POLICY_LRU, need), 0); /* chunk == align */
	assert_int_equal(w.nchunks, 32);
	assert_int_equal(dax_free_count(&w), 32);
	assert_int_equal(init(&w, 64 * MIB, 2 * MIB, 22, DAX_POLICY_LRU, need), -EINVAL); /* > chunk */
	assert_int_equal(init(&w, 64 * MIB, 2 * MIB, 64, DAX_POLICY_LRU, need), -EINVAL);
	assert_int_equal(init(&w, 64 * MIB, 3 * MIB, 12, DAX_POLICY_LRU, need), -EINVAL); /* not 2^n */
	assert_int_equal(init(&w, 64 * MIB, 2048, 11, DAX_POLICY_LRU, need), -EINVAL);    /* < 4 KiB */
	assert_int_equal(init(&w, 2 * MIB - 1, 2 * MIB, 12, DAX_POLICY_LRU, need), -EINVAL); /* no chunk */
	assert_int_equal(init(&w, 0, 2 * MIB, 12, DAX_POLICY_LRU, need), -EINVAL);
	assert_int_equal(init(&w, 64 * MIB, 2 * MIB, 12, DAX_POLICY_LRU, need - 1), -EINVAL);
	assert_int_equal(init(&w, 64 * MIB, 2 * MIB, 12, (enum dax_policy)3, need), -EINVAL);
	assert_int_equal(init(&w, 4096ULL * (DAX_MAX_CHUNKS + 1), 4096, 12, DAX_POLICY_LRU, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(dax_window_init(&w, 64 * MIB, 2 * MIB, 12, DAX_POLICY_LRU, (char *)buf + 4, need),
			 -EINVAL); /* unaligned memory */
	/* A window that is not a whole number of chunks loses its tail. */
	assert_int_equal(init(&w, 65 * MIB, 2 * MIB, 12, DAX_POLICY_LIFO, need), 0);
	assert_int_equal(w.nchunks, 32);
	assert_int_equal(dax_chunk_offset(&w, 31), 62 * MIB);
	assert_int_equal(dax_file_index(&w, 5 * MIB), 2);
	assert_int_equal(dax_window_check(&w), 0);
}

static void test_one_chunk_window(void **state)
{
	(void)state;
	for (int p = 0; p < NPOL; p++) {
		struct dax_window *w = mk(4 * MIB, 4 * MIB, 12, policies[p]);
		struct dax_victims v;
		alloc_fresh(w, 1, 0, 0);
		assert_int_equal(dax_find(w, 1, 0), 0);
		alloc_over(w, 1, 1, 0, 1, 0);
		assert_int_equal(dax_find(w, 1, 0), DAX_NONE);
		assert_int_equal(dax_pin(w, 0), 0);
		assert_int_equal(dax_alloc(w, 2, 0, &v), DAX_NONE);
		assert_int_equal(v.n, 0);
		assert_int_equal(w->stats.pinned_full, 1);
		assert_int_equal(dax_unpin(w, 0), 0);
		alloc_over(w, 2, 0, 0, 1, 1);
		assert_int_equal(w->stats.hits + w->stats.misses, 3);
		assert_int_equal(w->stats.evictions, 2);
	}
}

static void test_all_pinned(void **state)
{
	(void)state;
	for (int p = 0; p < NPOL; p++) {
		struct dax_window *w = mk(4 * 64 * 1024, 64 * 1024, 16, policies[p]);
		struct dax_victims v;
		uint32_t out[4];
		for (uint32_t i = 0; i < 3; i++)
			alloc_fresh(w, 5, i, i);
		assert_int_equal(dax_alloc(w, 5, 0, &v), DAX_NONE); /* already mapped: refused */
		for (uint32_t i = 0; i < 3; i++)
			assert_int_equal(dax_pin(w, i), 0);
		alloc_fresh(w, 5, 3, 3); /* LINUX: the reclaim finds nothing unpinned */
		assert_int_equal(dax_pin(w, 3), 0);
		assert_int_equal(dax_pin(w, 3), 0);
		assert_int_equal(dax_alloc(w, 6, 0, &v), DAX_NONE);
		assert_int_equal(dax_alloc(w, 6, 1, &v), DAX_NONE);
		assert_int_equal(w->stats.pinned_full, 2);
		assert_int_equal(dax_drop(w, 2), -EBUSY);
		assert_int_equal(dax_drop_inode(w, 5, out, 4), 0);
		assert_int_equal(dax_unpin(w, 3), 0);
		assert_int_equal(dax_alloc(w, 6, 0, &v), DAX_NONE); /* still pinned once */
		assert_int_equal(dax_unpin(w, 3), 0);
		alloc_over(w, 6, 0, 3, 5, 3);
		assert_int_equal(dax_find(w, 5, 2), 2); /* pinned chunks survive */
	}
}

static void test_lru_order(void **state)
{
	(void)state;
	struct dax_window *w = mk(3 * MIB, MIB, 12, DAX_POLICY_LRU);
	alloc_fresh(w, 1, 0, 0);
	alloc_fresh(w, 1, 1, 1);
	alloc_fresh(w, 1, 2, 2);
	assert_int_equal(dax_find(w, 1, 0), 0);
	alloc_over(w, 2, 0, 1, 1, 1);  /* (1,1) is least recently used */
	assert_int_equal(dax_find(w, 1, 2), 2);
	alloc_over(w, 2, 1, 0, 1, 0);
	assert_int_equal(dax_pin(w, 1), 0);
	assert_int_equal(dax_unpin(w, 1), 0); /* unpinning makes it newest */
	alloc_over(w, 2, 2, 2, 1, 2);
}

static void test_lifo_stack(void **state)
{
	(void)state;
	struct dax_window *w = mk(4 * MIB, MIB, 12, DAX_POLICY_LIFO);
	for (uint32_t i = 0; i < 4; i++)
		alloc_fresh(w, 1, i, i);
	assert_int_equal(dax_find(w, 1, 3), 3); /* a hit does not reorder a stack */
	alloc_over(w, 1, 4, 3, 1, 3);
	alloc_over(w, 1, 5, 3, 1, 4);
	assert_int_equal(dax_drop(w, 1), 0);
	alloc_fresh(w, 1, 6, 1);                /* lowest free first */
	alloc_over(w, 1, 7, 1, 1, 6);           /* newest allocation goes first */
	assert_int_equal(dax_pin(w, 1), 0);
	alloc_over(w, 1, 8, 3, 1, 5);           /* pinned top skipped */
}

static void test_linux_batches(void **state)
{
	(void)state;
	struct dax_window *w = mk(64 * MIB, 2 * MIB, 21, DAX_POLICY_LINUX);
	struct dax_victims v;
	assert_int_equal(w->linux_low, 6); /* 20% of 32, rounded down as Linux does */
	for (uint32_t i = 0; i < 26; i++)
		alloc_fresh(w, 1, i, i);
	assert_int_equal(dax_free_count(w), 6);
	assert_int_equal(w->stats.reclaims, 0);
	assert_int_equal(dax_find(w, 1, 0), 0); /* hits do not change allocation order */
	assert_int_equal(dax_alloc(w, 2, 0, &v), 0);
	assert_int_equal(v.n, 10);
	for (uint32_t i = 0; i < 10; i++)
		assert_int_equal(v.v[i].chunk, i);
	assert_int_equal(dax_free_count(w), 15);
	assert_int_equal(w->stats.reclaims, 1);
	assert_int_equal(dax_pin(w, 10), 0);
	for (uint32_t i = 1; i < 10; i++)
		alloc_fresh(w, 2, i, i);
	assert_int_equal(dax_alloc(w, 3, 0, &v), 11); /* pinned chunk 10 is passed over */
	assert_int_equal(v.n, 10);
	assert_int_equal(v.v[0].chunk, 11);
	assert_int_equal(v.v[9].chunk, 20);
	assert_int_equal(dax_window_check(w), 0);
}

static void test_drop_inode_and_errors(void **state)
{
	(void)state;
	struct dax_window *w = mk(16 * MIB, MIB, 12, DAX_POLICY_LRU);
	uint32_t out[16], seen = 0;
	for (uint32_t i = 0; i < 10; i++)
		alloc_fresh(w, 7, i, i);
	for (uint32_t i = 0; i < 3; i++)
		alloc_fresh(w, 8, i, 10 + i);
	w->chunks[0].flags = 5;
	assert_int_equal(dax_pin(w, 4), 0);
	assert_int_equal(dax_drop_inode(w, 7, out, 4), 4);
	assert_int_equal(dax_drop_inode(w, 7, out + 4, 4), 4);
	assert_int_equal(dax_drop_inode(w, 7, out + 8, 4), 1);
	assert_int_equal(dax_drop_inode(w, 7, out, 4), 0);
	for (uint32_t i = 0; i < 9; i++) {
		assert_true(out[i] < 10 && out[i] != 4 && !(seen & (1u << out[i])));
		seen |= 1u << out[i];
	}
	assert_int_equal(dax_free_count(w), 16 - 4);
	assert_int_equal(dax_peek(w, 7, 4), 4);
	assert_int_equal(dax_peek(w, 8, 2), 12);
	assert_int_equal(dax_window_check(w), 0);
	/* Flags are the caller's until the chunk changes hands. */
	w->chunks[12].flags = 3;
	assert_int_equal(dax_find(w, 8, 2), 12);
	assert_int_equal(w->chunks[12].flags, 3);
	assert_int_equal(dax_drop(w, 12), 0);
	alloc_fresh(w, 9, 0, 0);
	assert_int_equal(w->chunks[0].flags, 0);
	/* Misuse is refused and changes nothing. */
	assert_int_equal(dax_pin(w, 15), -EINVAL);
	assert_int_equal(dax_pin(w, 16), -EINVAL);
	assert_int_equal(dax_pin(w, DAX_NONE), -EINVAL);
	assert_int_equal(dax_unpin(w, 0), -EINVAL);
	assert_int_equal(dax_drop(w, 15), -EINVAL);
	assert_int_equal(dax_drop(w, 4), -EBUSY);
	assert_int_equal(dax_window_check(w), 0);
}

/* The model: what each chunk holds, with a timestamp that orders eviction. */
struct m_chunk {
	uint8_t used, flags;
	uint32_t pins;
	uint64_t nodeid, index, stamp;
};

struct model {
	enum dax_policy pol;
	uint32_t n, nfree, low, per_node;
	struct m_chunk *ch;
	uint32_t *key_chunk; /* dense (nodeid, index) -> chunk */
	uint64_t clock;
	struct dax_stats st;
};

#define NODES 4

static uint32_t *m_key(const struct model *m, uint64_t nodeid, uint64_t index)
{
	return &m->key_chunk[(nodeid - 1) * m->per_node + index];
}

/* The used, unpinned chunk with the lowest (oldest) or highest stamp. */
static uint32_t m_pick(const struct model *m, int newest)
{
	uint32_t best = DAX_NONE;
	for (uint32_t c = 0; c < m->n; c++) {
		const struct m_chunk *k = &m->ch[c];
		if (k->used && !k->pins && (best == DAX_NONE ||
		    (newest ? k->stamp > m->ch[best].stamp : k->stamp < m->ch[best].stamp)))
			best = c;
	}
	return best;
}

static void m_release(struct model *m, uint32_t c)
{
	*m_key(m, m->ch[c].nodeid, m->ch[c].index) = DAX_NONE;
	m->ch[c].used = 0;
	m->nfree++;
}

static void m_evict(struct model *m, uint32_t c, struct dax_victims *v)
{
	v->v[v->n++] = (struct dax_victim){ c, m->ch[c].nodeid, m->ch[c].index };
	m_release(m, c);
	m->st.evictions++;
}

static uint32_t m_alloc(struct model *m, uint64_t nodeid, uint64_t index, struct dax_victims *v)
{
	v->n = 0;
	if (m->pol == DAX_POLICY_LINUX) {
		uint32_t c;
		while (v->n < DAX_MAX_VICTIMS && (m->nfree <= m->low || v->n % 10) &&
		       (c = m_pick(m, 0)) != DAX_NONE)
			m_evict(m, c, v);
		m->st.reclaims += v->n > 0;
	} else if (m->nfree == 0 && m_pick(m, 0) != DAX_NONE) {
		m_evict(m, m_pick(m, m->pol == DAX_POLICY_LIFO), v);
	}
	for (uint32_t c = 0; c < m->n; c++) {
		if (!m->ch[c].used) {
			m->ch[c] = (struct m_chunk){ 1, 0, 0, nodeid, index, ++m->clock };
			*m_key(m, nodeid, index) = c;
			m->nfree--;
			m->st.allocs++;
			return c;
		}
	}
	m->st.pinned_full++;
	return DAX_NONE;
}

static void m_compare(const struct model *m, const struct dax_window *w)
{
	assert_int_equal(dax_window_check(w), 0);
	assert_int_equal(dax_free_count(w), m->nfree);
	for (uint32_t c = 0; c < m->n; c++) {
		const struct dax_chunk *k = &w->chunks[c];
		assert_int_equal(k->used, m->ch[c].used);
		if (!k->used)
			continue;
		assert_int_equal(k->nodeid, m->ch[c].nodeid);
		assert_int_equal(k->index, m->ch[c].index);
		assert_int_equal(k->pins, m->ch[c].pins);
		assert_int_equal(k->flags, m->ch[c].flags);
		assert_int_equal(dax_peek(w, k->nodeid, k->index), c); /* one chunk per key */
	}
	assert_memory_equal(&w->stats, &m->st, sizeof(m->st));
}

static uint64_t rng_state;
static uint32_t rnd(uint32_t bound)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)((rng_state >> 11) % bound);
}

/* One access as the FUSE client makes it: find, else alloc (and maybe fail setup). */
static void step_access(struct model *m, struct dax_window *w)
{
	uint64_t nodeid = 1 + rnd(NODES), index = rnd(m->per_node);
	uint32_t want = *m_key(m, nodeid, index);
	assert_int_equal(dax_find(w, nodeid, index), want);
	if (want != DAX_NONE) {
		m->st.hits++;
		if (m->pol == DAX_POLICY_LRU)
			m->ch[want].stamp = ++m->clock;
		return;
	}
	m->st.misses++;
	if (rnd(10) == 0)
		return; /* caller chose FUSE_READ */
	struct dax_victims got, exp;
	uint32_t c = dax_alloc(w, nodeid, index, &got);
	assert_int_equal(c, m_alloc(m, nodeid, index, &exp));
	assert_int_equal(got.n, exp.n);
	for (uint32_t i = 0; i < exp.n; i++) {
		assert_int_equal(got.v[i].chunk, exp.v[i].chunk);
		assert_int_equal(got.v[i].nodeid, exp.v[i].nodeid);
		assert_int_equal(got.v[i].index, exp.v[i].index);
	}
	if (c == DAX_NONE) { /* refused only when every chunk is pinned */
		for (uint32_t i = 0; i < m->n; i++)
			assert_true(m->ch[i].used && m->ch[i].pins);
	} else if (m->pol == DAX_POLICY_LINUX && got.n < DAX_MAX_VICTIMS &&
		   dax_free_count(w) < m->low) { /* short of 20% only when pins forbid more */
		for (uint32_t i = 0; i < m->n; i++)
			assert_true(i == c || !m->ch[i].used || m->ch[i].pins);
	}
	if (c != DAX_NONE && rnd(20) == 0) { /* SETUPMAPPING failed */
		assert_int_equal(dax_drop(w, c), 0);
		m_release(m, c);
	}
}

static void step_other(struct model *m, struct dax_window *w)
{
	uint32_t c = rnd(m->n), op = rnd(10), out[8];
	struct m_chunk *k = &m->ch[c];
	if (op < 3) {
		int r = dax_pin(w, c);
		assert_int_equal(r, k->used ? 0 : -EINVAL);
		k->pins += r == 0;
	} else if (op < 7) {
		int r = dax_unpin(w, c);
		assert_int_equal(r, k->used && k->pins ? 0 : -EINVAL);
		if (r == 0 && --k->pins == 0)
			k->stamp = ++m->clock;
	} else if (op < 8) {
		assert_int_equal(dax_drop(w, c), !k->used ? -EINVAL : k->pins ? -EBUSY : 0);
		if (k->used && !k->pins)
			m_release(m, c);
	} else if (op < 9) {
		uint64_t nodeid = 1 + rnd(NODES + 1);
		uint32_t max = 1 + rnd(8), avail = 0;
		for (uint32_t i = 0; i < m->n; i++)
			avail += m->ch[i].used && !m->ch[i].pins && m->ch[i].nodeid == nodeid;
		uint32_t got = dax_drop_inode(w, nodeid, out, max);
		assert_int_equal(got, avail < max ? avail : max);
		for (uint32_t i = 0; i < got; i++) {
			k = &m->ch[out[i]];
			assert_true(k->used && !k->pins && k->nodeid == nodeid);
			m_release(m, out[i]);
		}
	} else if (k->used) {
		k->flags = w->chunks[c].flags = (uint8_t)rnd(256);
	}
}

static struct dax_stats run_random(uint64_t window_len, uint64_t chunk, uint32_t align,
				   enum dax_policy pol, uint64_t seed, uint32_t ops, uint32_t every)
{
	struct dax_window *w = mk(window_len, chunk, align, pol);
	struct model m = { .pol = pol, .n = w->nchunks, .nfree = w->nchunks, .low = w->linux_low };
	m.per_node = (2 * m.n + 3 + NODES - 1) / NODES; /* twice the window: evictions happen */
	size_t nkeys = (NODES + 1) * (size_t)m.per_node;
	m.ch = calloc(m.n, sizeof(*m.ch));
	m.key_chunk = malloc(nkeys * 4);
	assert_true(m.ch && m.key_chunk);
	memset(m.key_chunk, 0xff, nkeys * 4);
	rng_state = seed;
	for (uint32_t i = 0; i < ops; i++) {
		if (rnd(4))
			step_access(&m, w);
		else
			step_other(&m, w);
		if (i % every == 0)
			m_compare(&m, w);
	}
	m_compare(&m, w);
	assert_true(m.st.evictions > 0);
	assert_int_equal(w->stats.hits + w->stats.misses, m.st.hits + m.st.misses);
	free(m.ch);
	free(m.key_chunk);
	return m.st;
}

static void test_random_sequences(void **state)
{
	(void)state;
	static const struct { uint64_t window, chunk; uint32_t align, ops, check_every; } cfg[] = {
		{ 2 * MIB, 2 * MIB, 12, 3000, 1 },              /* one chunk */
		{ 4 * MIB, 2 * MIB, 21, 3000, 1 },              /* two, chunk == alignment */
		{ 3 * 4096 + 100, 4096, 12, 4000, 1 },          /* floor of a ragged window */
		{ 64 * MIB, 2 * MIB, 16, 6000, 1 },             /* Linux's 20% is 6 of 32 */
		{ 100 * 65536ULL, 65536, 16, 8000, 1 },         /* two bitmap levels */
		{ 5000 * 4096ULL, 4096, 12, 20000, 499 },       /* three bitmap levels */
	};
	struct dax_stats sum[NPOL] = { 0 };
	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		for (int p = 0; p < NPOL; p++) {
			for (uint64_t seed = 1; seed <= 3; seed++) {
				struct dax_stats st = run_random(cfg[i].window, cfg[i].chunk,
					cfg[i].align, policies[p], seed * 0x9e3779b97f4a7c15ULL + i,
					cfg[i].ops, cfg[i].check_every);
				sum[p].hits += st.hits;
				sum[p].reclaims += st.reclaims;
				sum[p].pinned_full += st.pinned_full;
			}
		}
	}
	/* The sequences reached the interesting paths: hits, full pins, batches. */
	for (int p = 0; p < NPOL; p++)
		assert_true(sum[p].hits > 0 && sum[p].pinned_full > 0);
	assert_true(sum[2].reclaims > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_args),
		cmocka_unit_test_teardown(test_one_chunk_window, teardown),
		cmocka_unit_test_teardown(test_all_pinned, teardown),
		cmocka_unit_test_teardown(test_lru_order, teardown),
		cmocka_unit_test_teardown(test_lifo_stack, teardown),
		cmocka_unit_test_teardown(test_linux_batches, teardown),
		cmocka_unit_test_teardown(test_drop_inode_and_errors, teardown),
		cmocka_unit_test_teardown(test_random_sequences, teardown),
	};
	return cmocka_run_group_tests_name("dax_window", tests, NULL, NULL);
}
