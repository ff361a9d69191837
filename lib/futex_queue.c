/* Futex waiters (see futex_queue.h). */
#include <linux/futex.h>
#include <pier/errno.h>
#include <pier/futex_queue.h>

/* Futex words are 4-byte aligned: drop those bits before hashing. */
static struct fq_waiter **bucket_of(struct futex_queue *q, uint64_t key)
{
	uint64_t h = (key >> 2) * 0x9e3779b97f4a7c15ULL;
	return &q->bucket[h >> 58]; /* the top 6 bits: FQ_BUCKETS */
}

_Static_assert(FQ_BUCKETS == 64, "bucket_of takes 6 bits");

void fq_init(struct futex_queue *q)
{
	for (int i = 0; i < FQ_BUCKETS; i++)
		q->bucket[i] = 0;
}

void fq_enqueue(struct futex_queue *q, struct fq_waiter *w, uint64_t key, uint32_t bitset)
{
	w->key = key;
	w->bitset = bitset;
	w->queued = true;
	w->next = 0;
	struct fq_waiter **pp = bucket_of(q, key);
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
}

bool fq_dequeue(struct futex_queue *q, struct fq_waiter *w)
{
	if (!w->queued)
		return false;
	for (struct fq_waiter **pp = bucket_of(q, w->key); *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			w->queued = false;
			w->next = 0;
			return true;
		}
	return false;
}

int fq_wake(struct futex_queue *q, uint64_t key, uint32_t bitset, int n, fq_wake_fn wake,
	    void *arg)
{
	int woken = 0;
	struct fq_waiter **pp = bucket_of(q, key);
	while (*pp && woken < n) {
		struct fq_waiter *w = *pp;
		if (w->key != key || !(w->bitset & bitset)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->queued = false;
		w->next = 0;
		woken++;
		if (wake)
			wake(w, arg);
	}
	return woken;
}

int fq_requeue(struct futex_queue *q, uint64_t key, uint64_t key2, int nwake, int nmove,
	       fq_wake_fn wake, void *arg)
{
	int done = fq_wake(q, key, FUTEX_BITSET_MATCH_ANY, nwake, wake, arg);
	if (key == key2) { /* they stay where they are, but count (as Linux) */
		int left = fq_count(q, key);
		return done + (left < nmove ? left : nmove);
	}
	int moved = 0;
	struct fq_waiter **pp = bucket_of(q, key);
	while (*pp && moved < nmove) {
		struct fq_waiter *w = *pp;
		if (w->key != key) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		fq_enqueue(q, w, key2, w->bitset);
		moved++;
	}
	return done + moved;
}

int fq_count(const struct futex_queue *q, uint64_t key)
{
	int n = 0;
	for (const struct fq_waiter *w = *bucket_of((struct futex_queue *)q, key); w; w = w->next)
		n += w->key == key;
	return n;
}

/* A 12-bit signed field of the encoded operation. */
static int32_t field12(uint32_t v)
{
	return (int32_t)(v << 20) >> 20;
}

int fq_wake_op(uint32_t encoded, uint32_t old, uint32_t *store, bool *cmp)
{
	uint32_t op = (encoded >> 28) & 7, cmpop = (encoded >> 24) & 15;
	int32_t oparg = field12(encoded >> 12), cmparg = field12(encoded);
	if (encoded & ((uint32_t)FUTEX_OP_OPARG_SHIFT << 28))
		oparg = (int32_t)(1u << (oparg & 31));
	switch (op) {
	case FUTEX_OP_SET: *store = (uint32_t)oparg; break;
	case FUTEX_OP_ADD: *store = old + (uint32_t)oparg; break;
	case FUTEX_OP_OR: *store = old | (uint32_t)oparg; break;
	case FUTEX_OP_ANDN: *store = old & ~(uint32_t)oparg; break;
	case FUTEX_OP_XOR: *store = old ^ (uint32_t)oparg; break;
	default: return -ENOSYS; /* Linux's answer to an unknown operation */
	}
	int32_t o = (int32_t)old;
	switch (cmpop) {
	case FUTEX_OP_CMP_EQ: *cmp = o == cmparg; break;
	case FUTEX_OP_CMP_NE: *cmp = o != cmparg; break;
	case FUTEX_OP_CMP_LT: *cmp = o < cmparg; break;
	case FUTEX_OP_CMP_LE: *cmp = o <= cmparg; break;
	case FUTEX_OP_CMP_GT: *cmp = o > cmparg; break;
	case FUTEX_OP_CMP_GE: *cmp = o >= cmparg; break;
	default: return -ENOSYS;
	}
	return 0;
}
