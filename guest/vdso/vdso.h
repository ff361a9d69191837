/*
 * The vDSO's data page (vvar), shared by the kernel (which fills it at
 * exec, in linux/vdso_map.c) and the vDSO's own code (vdso.c), which
 * reads the clock from it without a system call. The TSC's conversion is
 * the kernel's own (kernel/time.c): ns = ((tsc - tsc_base) * ns_mult) >> 32.
 */
#ifndef GUEST_VDSO_H
#define GUEST_VDSO_H

#include <stdint.h>

#define VDSO_DATA_VERSION 1
#define VDSO_CPU_RDTSCP 1u

struct vdso_data {
	uint32_t version;   /* VDSO_DATA_VERSION; 0: not filled (use system calls) */
	uint32_t flags;     /* VDSO_CPU_RDTSCP: RDTSCP's TSC_AUX is the CPU's number */
	uint64_t tsc_base;
	uint64_t ns_mult;
	uint64_t epoch_ns;  /* CLOCK_REALTIME at monotonic 0 */
};

#endif
