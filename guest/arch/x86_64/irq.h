/*
 * Device interrupts: the local APIC, I/O APIC routing, MSI messages and a
 * small table of handlers for vectors IRQ_VECTOR_BASE..IDT_STUBS-1.
 *
 * The kernel runs with interrupts off; it turns them on only inside
 * irq_wait_until() (a halt), so a handler never interrupts kernel code
 * that holds state. Program code runs with them on while it has several
 * threads or an armed timer, and always with several CPUs (kernel/task.c).
 * Device interrupts go to the boot CPU.
 */
#ifndef GUEST_IRQ_H
#define GUEST_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#define IRQ_VECTOR_BASE 32
#define IDT_STUBS 64

typedef void (*irq_handler_fn)(void *arg);

/* Masks the legacy PICs and enables the local APIC. */
void irq_init(void);

/* An application processor's own local APIC: enabled, timer masked. */
void irq_init_ap(void);

/* This CPU's local APIC ID. */
unsigned irq_lapic_id(void);

/* The start-up messages (Intel SDM "MP initialization"): INIT, then
 * STARTUP with the page the processor starts at in real mode (below 1
 * MiB, 4 KiB aligned). False if the local APIC did not send it. */
bool irq_send_init(unsigned apic);
bool irq_send_startup(unsigned apic, uint64_t page);
/* Between CPUs (kernel/task.c, mm/tlb.c): a reschedule IPI wakes a
 * halted CPU to look at the run queue; a TLB IPI has it reload CR3
 * (tlb_answer). Neither wakes waiters nor preempts program code. */
void irq_send_resched(unsigned apic);
void irq_send_tlb(unsigned apic);
bool irq_is_ipi(unsigned vector);
bool irq_is_tlb(unsigned vector);
/* An NMI to every other CPU (panic stops them). */
void irq_send_nmi_others(void);

/* Takes a free vector and installs the handler; returns the vector or -1. */
int irq_alloc_vector(irq_handler_fn fn, void *arg);

/* Routes a GSI (I/O APIC input) to a vector. Returns 0 or -1. */
int irq_route_gsi(unsigned gsi, int vector, bool level);

/* The MSI address/data pair that delivers `vector` to this CPU. */
void irq_msi_message(int vector, uint64_t *addr, uint32_t *data);

/* Called from trap_dispatch for vectors >= IRQ_VECTOR_BASE. */
void irq_dispatch(unsigned vector);

/* Halts until an interrupt, or deadline (time_ns), or 100 ms have passed. */
void irq_wait_until(uint64_t deadline);

/* Starts the one-shot local APIC timer: an interrupt in ns (at most 100 ms). */
void irq_timer_arm_ns(uint64_t ns);
bool irq_is_timer(unsigned vector);

/* Interrupts handled so far, for statistics. */
uint64_t irq_count(void);

#endif
