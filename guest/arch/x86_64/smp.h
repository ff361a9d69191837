/*
 * The application processors (every CPU but the boot one): how many the
 * VMM gave (the command line's cpus=N, from pier's --cpus: QEMU's -smp N),
 * started by INIT and STARTUP messages through ap_boot.S. Today they
 * come up, load their own GDT and TSS, the kernel's IDT, enable their
 * local APIC, report in,
 * and halt with interrupts off: the scheduler runs every task on the boot
 * CPU (ARCHITECTURE.md, "Several CPUs", says what comes next).
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <pier/pvh.h>

#define SMP_MAX_CPUS 64

/* Starts the processors beyond the boot one, up to want in all; after
 * irq_init and kheap_init, while the start info is still whole. Returns
 * the CPUs online, the boot one included. */
int smp_start(const struct hvm_start_info *si, unsigned want);

/* CPUs online (1 before smp_start). */
int smp_cpus_online(void);

#endif
