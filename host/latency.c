/*
 * Latency histogram (latency.h). Values below 2^SUB each have a bucket;
 * above, bucket (e - SUB + 1) << SUB | m holds [(2^SUB + m) << (e - SUB),
 * (2^SUB + m + 1) << (e - SUB)) where e is the top bit's position.
 */
#include "latency.h"

#define SUB LATENCY_SUB_BITS

unsigned latency_bucket(uint64_t ns)
{
	if (ns < (1u << SUB))
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns);
	unsigned m = (unsigned)(ns >> (e - SUB)) & ((1u << SUB) - 1);
	return (e - SUB + 1) << SUB | m;
}

uint64_t latency_bucket_low(unsigned i)
{
	if (i < (1u << SUB))
		return i;
	unsigned e = (i >> SUB) + SUB - 1, m = i & ((1u << SUB) - 1);
	return (uint64_t)((1u << SUB) + m) << (e - SUB);
}

void latency_add(struct latency *l, uint64_t ns)
{
	l->count++;
	l->sum_ns += ns;
	l->bucket[latency_bucket(ns)]++;
}

void latency_merge(struct latency *a, const struct latency *b)
{
	a->count += b->count;
	a->sum_ns += b->sum_ns;
	for (unsigned i = 0; i < LATENCY_BUCKETS; i++)
		a->bucket[i] += b->bucket[i];
}

uint64_t latency_quantile(const struct latency *l, double q)
{
	if (!l->count)
		return 0;
	/* The sample of rank ceil(q * count), counting from 1. */
	uint64_t rank = (uint64_t)(q * (double)l->count);
	if ((double)rank < q * (double)l->count)
		rank++;
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
		seen += l->bucket[i];
		if (seen >= rank) {
			uint64_t lo = latency_bucket_low(i);
			uint64_t hi = i + 1 < LATENCY_BUCKETS ? latency_bucket_low(i + 1) : lo;
			return lo + (hi - lo) / 2;
		}
	}
	return 0;
}
