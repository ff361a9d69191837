/*
 * Time since boot in nanoseconds, from the TSC. time_init() calibrates the
 * TSC against the PIT (or takes the frequency from CPUID when there is no
 * PIT); before that, time_ns() returns 0.
 */
#ifndef GUEST_TIME_H
#define GUEST_TIME_H

#include <stdint.h>

void time_init(void);
uint64_t time_ns(void);
/* The conversion time_ns uses: ns = ((rdtsc - tsc_base) * ns_mult) >> 32
 * (the vDSO computes the same in the program). */
void time_params(uint64_t *tsc_base, uint64_t *ns_mult);
uint64_t time_tsc_hz(void);
/* How the frequency was found: "pit", "cpuid" or "assumed". */
const char *time_source(void);

#endif
