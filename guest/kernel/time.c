/*
 * TSC clock. The frequency comes from CPUID where a hypervisor or the CPU
 * states it; otherwise it is calibrated against PIT channel 0 (1.193182
 * MHz), read by latching its counter, which needs no port 0x61 gate (microvm
 * has none): the median of 7 samples of 1 ms each that were not disturbed
 * (see pit_sample); short, so that some fit between preemptions on a loaded
 * host. Conversion uses a 32.32 fixed-point multiplier so time_ns() is a
 * multiply and a shift, with no division on the hot path.
 */
#include <stdbool.h>
#include "../arch/x86_64/cpu.h"
#include "time.h"

#define PIT_HZ 1193182ULL
#define PIT_CALIBRATE_TICKS 1193 /* 1 ms per sample */
#define PIT_SAMPLES 7            /* trusted samples wanted: their median */
#define PIT_ATTEMPTS 200

static uint64_t tsc_base, tsc_hz, ns_mult; /* ns = ((tsc - base) * mult) >> 32 */
static const char *source = "none";

/* Latches and reads PIT channel 0's 16-bit down-counter. */
static uint16_t pit_read(void)
{
	outb(0x43, 0x00);
	uint8_t lo = inb(0x40);
	uint8_t hi = inb(0x40);
	return (uint16_t)(lo | hi << 8);
}

/*
 * One measurement: TSC ticks over `ticks` of PIT channel 0. *trusted is
 * false when a single step between two reads took more than a quarter of
 * it, in PIT ticks (a misread, or a wrap of the 16-bit counter hidden by a
 * long preemption) or in TSC ticks (the vCPU was not running: under a
 * loaded host, e.g. 50 VMs on one CPU, one sample was seen 300 times off
 * either way, and the 60 s virtio timeout fired after 0.2 s).
 */
static uint64_t pit_sample(uint32_t ticks, bool *trusted)
{
	uint16_t prev = pit_read();
	uint64_t t0 = rdtsc(), tprev = t0, max_tstep = 0;
	uint32_t elapsed = 0, max_step = 0;
	/* Bounded: with no PIT the counter never moves. */
	for (uint32_t i = 0; i < 2000000; i++) {
		uint16_t now = pit_read();
		uint64_t t = rdtsc();
		uint16_t step = (uint16_t)(prev - now); /* counts down, wraps at 65536 */
		elapsed += step;
		if (step > max_step)
			max_step = step;
		if (t - tprev > max_tstep)
			max_tstep = t - tprev;
		prev = now;
		tprev = t;
		if (elapsed >= ticks) {
			*trusted = max_step <= ticks / 4 && max_tstep <= (t - t0) / 4;
			return (t - t0) * PIT_HZ / elapsed;
		}
	}
	*trusted = false;
	return 0;
}

static void sort_u64(uint64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

/* The median of up to PIT_SAMPLES trusted samples (of all samples if none
 * could be trusted), each over PIT_CALIBRATE_TICKS. */
static uint64_t calibrate_pit(void)
{
	/* Channel 0, lo/hi byte, mode 2 (rate generator), full 65536 period. */
	outb(0x43, 0x34);
	outb(0x40, 0);
	outb(0x40, 0);
	uint64_t good[PIT_SAMPLES], any[PIT_ATTEMPTS];
	unsigned ngood = 0, nany = 0;
	for (unsigned a = 0; a < PIT_ATTEMPTS && ngood < PIT_SAMPLES; a++) {
		bool trusted;
		uint64_t hz = pit_sample(PIT_CALIBRATE_TICKS, &trusted);
		if (!hz)
			return 0; /* no PIT */
		any[nany++] = hz;
		if (trusted)
			good[ngood++] = hz;
	}
	uint64_t *v = ngood ? good : any;
	unsigned n = ngood ? ngood : nany;
	sort_u64(v, n);
	return v[n / 2];
}

static uint64_t frequency_from_cpuid(void)
{
	uint32_t r[4];
	cpuid(0x40000000, 0, r);
	/* Hypervisor timing leaf (VMware/KVM convention): EAX = TSC kHz. */
	if (r[0] >= 0x40000010) {
		cpuid(0x40000010, 0, r);
		if (r[0])
			return (uint64_t)r[0] * 1000;
	}
	cpuid(0, 0, r);
	if (r[0] >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2])
			return (uint64_t)r[2] * r[1] / r[0];
	}
	return 0;
}

void time_init(void)
{
	uint64_t hz = frequency_from_cpuid();
	source = "cpuid";
	if (!hz) {
		hz = calibrate_pit();
		source = "pit";
	}
	if (!hz) {
		hz = 1000000000ULL;
		source = "assumed";
	}
	tsc_hz = hz;
	ns_mult = (1000000000ULL << 32) / hz;
	tsc_base = rdtsc();
}

uint64_t time_ns(void)
{
	if (!ns_mult)
		return 0;
	unsigned __int128 d = rdtsc() - tsc_base;
	return (uint64_t)((d * ns_mult) >> 32);
}

void time_params(uint64_t *base, uint64_t *mult)
{
	*base = tsc_base;
	*mult = ns_mult;
}

uint64_t time_tsc_hz(void)
{
	return tsc_hz;
}

const char *time_source(void)
{
	return source;
}
