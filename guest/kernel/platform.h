/*
 * What the guest runs on, found out rather than assumed: the hypervisor's
 * CPUID signature, whether ring-0 code is emulated (kvm_pvm: ~2,500x slower
 * than ring 3, see shared/docs/platform.md), and the privilege level a
 * `syscall` from the program really arrives at (CPL0 on hardware, QEMU and
 * real KVM; CPL3 on kvm_pvm).
 */
#ifndef GUEST_PLATFORM_H
#define GUEST_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

struct platform {
	char hypervisor[13];    /* CPUID 0x40000000 signature; "" on bare metal */
	uint64_t ring0_loop_ns; /* ns per iteration of a 2-instruction ring-0 loop */
	bool ring0_emulated;    /* that loop is far slower than any CPU runs it */
	int syscall_cpl;        /* -1 until the program's first system call */
};

extern struct platform platform;

/* Fills `platform` (after time_init) and prints it on the console. */
void platform_detect(void);

/* The hypervisor as a word for messages: KVM, TCG, ..., or "none". */
const char *platform_hypervisor_name(void);

/* Called by the system-call path with the CPL the entry found itself at. */
void platform_note_syscall_cpl(int cpl);

#endif
