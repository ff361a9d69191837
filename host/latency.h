/*
 * A latency histogram for --stats: log-linear buckets (8 per power of
 * two, so a quantile is within 1/8 of the true value), fixed size, no
 * allocation per sample. Not thread-safe: one per serving thread.
 */
#ifndef HOST_LATENCY_H
#define HOST_LATENCY_H

#include <stdint.h>

#define LATENCY_SUB_BITS 3
#define LATENCY_BUCKETS ((64 - LATENCY_SUB_BITS + 1) << LATENCY_SUB_BITS)

struct latency {
	uint64_t count, sum_ns;
	uint32_t bucket[LATENCY_BUCKETS];
};

void latency_add(struct latency *l, uint64_t ns);
/* Merges b into a. */
void latency_merge(struct latency *a, const struct latency *b);
/* The q-quantile (0 < q <= 1): the middle of the bucket it falls in; 0 for
 * an empty histogram. */
uint64_t latency_quantile(const struct latency *l, double q);

/* Bucket index of ns, and the smallest value in bucket i (for tests). */
unsigned latency_bucket(uint64_t ns);
uint64_t latency_bucket_low(unsigned i);

#endif
