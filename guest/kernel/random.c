/*
 * Random bytes. RDRAND where the CPU offers it (CPUID.1:ECX bit 30);
 * otherwise a SplitMix64 stream over a seed mixed from the TSC, the RTC and
 * the timing of port reads: not cryptographic, which is said at boot.
 */
#include <stdbool.h>
#include <stdint.h>
#include "../arch/x86_64/cpu.h"
#include "console.h"
#include "random.h"
#include "rtc.h"

static bool have_rdrand;
static uint64_t state;

static bool rdrand(uint64_t *v)
{
	unsigned char ok;
	__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
	return ok;
}

static uint64_t splitmix(void)
{
	uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void random_init(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	have_rdrand = r[2] & (1u << 30);
	state = rdtsc() ^ rtc_boot_epoch_ns();
	/* The port reads' timing is entropy only without RDRAND; each is an
	 * exit to the VMM, 64 of them at every boot. */
	for (int i = 0; i < (have_rdrand ? 0 : 64); i++) {
		uint64_t t0 = rdtsc();
		(void)inb(0x80);
		state = (state << 7 | state >> 57) ^ (rdtsc() - t0);
	}
	if (!have_rdrand)
		kprintf("random: no RDRAND; using a TSC-seeded generator (not cryptographic)\n");
}

void random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		uint64_t v;
		if (!have_rdrand || !rdrand(&v))
			v = splitmix();
		for (int i = 0; i < 8 && len; i++, len--, v >>= 8)
			*p++ = (uint8_t)v;
	}
}
