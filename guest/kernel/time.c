/*
 * TSC clock. The frequency comes from CPUID where a hypervisor or the CPU
 * states it; otherwise it is calibrated by counting TSC ticks over ~10 ms of
 * PIT channel 0 (1.193182 MHz), read by latching its counter, which needs no
 * port 0x61 gate (microvm has none). Conversion uses a 32.32 fixed-point multiplier so time_ns() is a
 * multiply and a shift, with no division on the hot path.
 */
#include "../arch/x86_64/cpu.h"
#include "time.h"

#define PIT_HZ 1193182ULL
#define PIT_CALIBRATE_TICKS 11932 /* 10 ms */

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

static uint64_t calibrate_pit(void)
{
	/* Channel 0, lo/hi byte, mode 2 (rate generator), full 65536 period. */
	outb(0x43, 0x34);
	outb(0x40, 0);
	outb(0x40, 0);
	uint16_t prev = pit_read();
	uint64_t t0 = rdtsc(), elapsed = 0;
	/* Bounded: with no PIT the counter never moves. */
	for (uint32_t i = 0; i < 10000000; i++) {
		uint16_t now = pit_read();
		elapsed += (uint16_t)(prev - now); /* counts down, wraps at 65536 */
		prev = now;
		if (elapsed >= PIT_CALIBRATE_TICKS)
			return (rdtsc() - t0) * PIT_HZ / elapsed;
	}
	return 0;
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

uint64_t time_tsc_hz(void)
{
	return tsc_hz;
}

const char *time_source(void)
{
	return source;
}
