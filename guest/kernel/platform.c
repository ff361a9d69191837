/*
 * Platform detection. The ring-0 probe times a short loop: a CPU, QEMU's
 * TCG or hardware virtualisation runs an iteration in a few nanoseconds,
 * kvm_pvm's instruction emulator in about a microsecond (measured: 0.8 M
 * iterations/s), so a threshold of 300 ns is far from both. The guest's choices that depend on it (polled
 * virtqueues by default, see options.c) come from here.
 */
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "console.h"
#include "platform.h"
#include "time.h"

#define PROBE_ITERATIONS 256
#define EMULATED_NS_PER_ITERATION 300

struct platform platform = { .syscall_cpl = -1 };

static void read_signature(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 31)))
		return; /* the "hypervisor present" bit is clear */
	cpuid(0x40000000, 0, r);
	memcpy(platform.hypervisor, &r[1], 4);
	memcpy(platform.hypervisor + 4, &r[2], 4);
	memcpy(platform.hypervisor + 8, &r[3], 4);
	platform.hypervisor[12] = 0;
}

/* The best of a few runs: the first pays for TCG's translation, and any
 * run may be stretched by the host preempting the vCPU. */
static void probe_ring0(void)
{
	uint64_t best = ~0ULL;
	for (int run = 0; run < 3; run++) {
		uint64_t n = PROBE_ITERATIONS, t0 = time_ns();
		__asm__ volatile("1: dec %0; jnz 1b" : "+r"(n));
		uint64_t ns = (time_ns() - t0) / PROBE_ITERATIONS;
		best = ns < best ? ns : best;
	}
	platform.ring0_loop_ns = best;
	platform.ring0_emulated = best >= EMULATED_NS_PER_ITERATION;
}

const char *platform_hypervisor_name(void)
{
	static const struct { const char *sig, *name; } known[] = {
		{ "KVMKVMKVM", "KVM" }, { "TCGTCGTCGTCG", "TCG" },
		{ "Microsoft Hv", "Hyper-V" }, { "VMwareVMware", "VMware" },
		{ "XenVMMXenVMM", "Xen" },
	};
	if (!platform.hypervisor[0])
		return "none";
	for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(platform.hypervisor, known[i].sig) == 0)
			return known[i].name;
	return platform.hypervisor;
}

void platform_detect(void)
{
	read_signature();
	probe_ring0();
	kprintf("platform: hypervisor %s, ring 0 %s (%llu ns per loop iteration)\n",
		platform_hypervisor_name(), platform.ring0_emulated ? "emulated" : "native",
		(unsigned long long)platform.ring0_loop_ns);
}

void platform_note_syscall_cpl(int cpl)
{
	if (platform.syscall_cpl == cpl)
		return;
	platform.syscall_cpl = cpl;
	kprintf("platform: system calls arrive at CPL%d%s\n", cpl,
		cpl ? " (kvm_pvm-style: the entry returns without sysret)" : "");
}
