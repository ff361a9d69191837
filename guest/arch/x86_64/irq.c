/*
 * Local APIC (xAPIC, memory mapped), I/O APICs and the vector table.
 *
 * Where the I/O APICs are: QEMU puts the first at 0xfec00000 (GSIs 0-23) on
 * every machine, and microvm a second at 0xfec10000 (GSIs 24-47) for its
 * virtio-mmio devices. We take those addresses rather than parse ACPI's
 * MADT and check each by its version register before use.
 */
#include <stddef.h>
#include "../../kernel/console.h"
#include "../../kernel/panic.h"
#include "../../kernel/time.h"
#include "../../mm/tlb.h"
#include "cpu.h"
#include "irq.h"
#include "memlayout.h"
#include "smp.h"

#define LAPIC_BASE 0xfee00000ULL
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_SPURIOUS_VECTOR (IDT_STUBS - 1)
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3e0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_INIT 0x500u
#define ICR_STARTUP 0x600u
#define ICR_NMI 0x400u
#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_ASSERT (1u << 14)
#define ICR_PENDING (1u << 12) /* delivery status: not yet accepted */
#define LAPIC_TIMER_VECTOR (IDT_STUBS - 2)
/* Between the CPUs: look at the run queue again; reload CR3. */
#define IPI_RESCHED_VECTOR (IDT_STUBS - 3)
#define IPI_TLB_VECTOR (IDT_STUBS - 4)
/* The longest halt: a device that never interrupts cannot hang a waiter
 * past this, whatever deadline it asked for. */
#define WAKE_MAX_NS 100000000ULL
/* Before calibration: about 100 ms with QEMU's 1 GHz APIC bus, divider 16. */
#define WAKE_COUNT 6250000

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))

static const uint64_t ioapic_base[] = { 0xfec00000ULL, 0xfec10000ULL };

struct irq_slot {
	irq_handler_fn fn;
	void *arg;
};

static struct irq_slot slots[IDT_STUBS - IRQ_VECTOR_BASE];
static uint64_t handled;
static uint64_t timer_ticks_per_ms; /* 0: not calibrated */

static volatile uint32_t *lapic_reg(uint32_t off)
{
	return (volatile uint32_t *)phys_to_virt(LAPIC_BASE + off);
}

static uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
	*(volatile uint32_t *)phys_to_virt(base + IOAPIC_REGSEL) = reg;
	return *(volatile uint32_t *)phys_to_virt(base + IOAPIC_WINDOW);
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)phys_to_virt(base + IOAPIC_REGSEL) = reg;
	*(volatile uint32_t *)phys_to_virt(base + IOAPIC_WINDOW) = v;
}

void irq_init(void)
{
	/* The 8259 PICs would deliver on vectors that clash with exceptions. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	irq_init_ap(); /* this CPU's local APIC, as every other CPU's */
	/* The timer's rate against the TSC clock (time_init came first): the
	 * APIC bus is 1 GHz under QEMU and KVM, but nothing promises it. */
	uint64_t t0 = time_ns();
	*lapic_reg(LAPIC_TIMER_INITIAL) = 0xffffffffu;
	while (time_ns() - t0 < 2000000ULL)
		cpu_relax();
	uint32_t left = *lapic_reg(LAPIC_TIMER_CURRENT);
	uint64_t ns = time_ns() - t0;
	*lapic_reg(LAPIC_TIMER_INITIAL) = 0;
	if (ns && left)
		timer_ticks_per_ms = (uint64_t)(0xffffffffu - left) * 1000000ULL / ns;
	*lapic_reg(LAPIC_LVT_TIMER) = LAPIC_TIMER_VECTOR;
}

void irq_init_ap(void)
{
	*lapic_reg(LAPIC_SVR) = 0x100 | LAPIC_SPURIOUS_VECTOR; /* software enable */
	*lapic_reg(LAPIC_TIMER_DIVIDE) = 0x3;                  /* divide by 16 */
	/* One-shot; masked until the boot CPU has measured its rate (an AP
	 * starts after that and takes its timer at once). */
	*lapic_reg(LAPIC_LVT_TIMER) = LAPIC_TIMER_VECTOR | (timer_ticks_per_ms ? 0 : 1u << 16);
}

unsigned irq_lapic_id(void)
{
	return *lapic_reg(LAPIC_ID) >> 24;
}

/* Sends an interprocessor message (ICR low word `cmd`) to APIC ID apic
 * and waits until the local APIC has sent it; false if it never did.
 * With interrupts off (as the kernel runs): a handler sending one in the
 * middle would change the destination under this one. */
static bool send_ipi(unsigned apic, uint32_t cmd)
{
	*lapic_reg(LAPIC_ICR_HIGH) = apic << 24;
	*lapic_reg(LAPIC_ICR_LOW) = cmd; /* this write sends it */
	uint64_t t0 = time_ns();
	while (*lapic_reg(LAPIC_ICR_LOW) & ICR_PENDING)
		if (time_ns() - t0 > 100000000ULL)
			return false;
	return true;
}

bool irq_send_init(unsigned apic)
{
	return send_ipi(apic, ICR_INIT | ICR_ASSERT);
}

bool irq_send_startup(unsigned apic, uint64_t page)
{
	return send_ipi(apic, ICR_STARTUP | ICR_ASSERT | (uint32_t)(page >> 12));
}

void irq_send_resched(unsigned apic)
{
	send_ipi(apic, IPI_RESCHED_VECTOR);
}

void irq_send_tlb(unsigned apic)
{
	send_ipi(apic, IPI_TLB_VECTOR);
}

void irq_send_nmi_others(void)
{
	send_ipi(0, ICR_NMI | ICR_ASSERT | ICR_ALL_BUT_SELF);
}

bool irq_is_ipi(unsigned vector)
{
	return vector == IPI_RESCHED_VECTOR || vector == IPI_TLB_VECTOR;
}

bool irq_is_tlb(unsigned vector)
{
	return vector == IPI_TLB_VECTOR;
}

void irq_timer_arm_ns(uint64_t ns)
{
	uint64_t count = WAKE_COUNT;
	if (ns > WAKE_MAX_NS)
		ns = WAKE_MAX_NS;
	if (timer_ticks_per_ms)
		count = ns * timer_ticks_per_ms / 1000000ULL;
	*lapic_reg(LAPIC_TIMER_INITIAL) = count ? (uint32_t)count : 1;
}

bool irq_is_timer(unsigned vector)
{
	return vector == LAPIC_TIMER_VECTOR;
}

int irq_alloc_vector(irq_handler_fn fn, void *arg)
{
	for (int v = IRQ_VECTOR_BASE; v < IPI_TLB_VECTOR; v++)
		if (!slots[v - IRQ_VECTOR_BASE].fn) {
			slots[v - IRQ_VECTOR_BASE] = (struct irq_slot){ fn, arg };
			return v;
		}
	return -1;
}

int irq_route_gsi(unsigned gsi, int vector, bool level)
{
	unsigned first = 0;
	for (size_t i = 0; i < sizeof(ioapic_base) / sizeof(ioapic_base[0]); i++) {
		uint32_t ver = ioapic_read(ioapic_base[i], IOAPIC_VER);
		if (ver == 0xffffffff || (ver & 0xff) == 0)
			continue; /* nothing there */
		unsigned pins = ((ver >> 16) & 0xff) + 1;
		if (gsi >= first && gsi < first + pins) {
			unsigned pin = gsi - first;
			uint32_t apic_id = *lapic_reg(LAPIC_ID) >> 24;
			/* Fixed delivery, physical destination, active high. */
			ioapic_write(ioapic_base[i], IOAPIC_REDTBL(pin) + 1, apic_id << 24);
			ioapic_write(ioapic_base[i], IOAPIC_REDTBL(pin),
				     (uint32_t)vector | (level ? 1u << 15 : 0));
			return 0;
		}
		first += pins;
	}
	kprintf("irq: no I/O APIC input for GSI %u\n", gsi);
	return -1;
}

void irq_msi_message(int vector, uint64_t *addr, uint32_t *data)
{
	uint32_t apic_id = *lapic_reg(LAPIC_ID) >> 24;
	*addr = LAPIC_BASE | ((uint64_t)apic_id << 12);
	*data = (uint32_t)vector; /* fixed delivery, edge */
}

void irq_dispatch(unsigned vector)
{
	if (vector == LAPIC_SPURIOUS_VECTOR)
		return; /* spurious interrupts take no EOI */
	if (vector == LAPIC_TIMER_VECTOR || vector == IPI_RESCHED_VECTOR) {
		*lapic_reg(LAPIC_EOI) = 0; /* a wake-up only */
		if (vector == IPI_RESCHED_VECTOR)
			smp_crash_check();
		return;
	}
	if (vector == IPI_TLB_VECTOR) {
		tlb_answer();
		*lapic_reg(LAPIC_EOI) = 0;
		return;
	}
	struct irq_slot *s = &slots[vector - IRQ_VECTOR_BASE];
	handled++;
	if (s->fn)
		s->fn(s->arg);
	*lapic_reg(LAPIC_EOI) = 0;
}

void irq_wait_until(uint64_t deadline)
{
	uint64_t now = time_ns();
	if (deadline <= now)
		return;
	irq_timer_arm_ns(deadline - now);
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	*lapic_reg(LAPIC_TIMER_INITIAL) = 0;
}

uint64_t irq_count(void)
{
	return handled;
}
