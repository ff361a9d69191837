/*
 * Starting the application processors (see smp.h). For each: a stack,
 * the start-up page's words filled (its own addresses, the boot page
 * tables, the stack, the entry), INIT, STARTUP, and a wait for it to say
 * it is up; a second STARTUP after 10 ms if it has not (the MP start-up
 * algorithm sends two; a processor already running ignores the second).
 * APIC IDs are taken as 0..N-1, which QEMU's -smp and pier's --cpus give;
 * one that does not answer is left out and named. The CPUs online are
 * smp_cpus[0..online-1], numbered in the order they came up.
 */
#include <stdbool.h>
#include <pier/low_page.h>
#include <pier/string.h>
#include "../../kernel/console.h"
#include "../../kernel/panic.h"
#include "../../kernel/task.h"
#include "../../kernel/time.h"
#include "../../mm/mm.h"
#include "cpu.h"
#include "gdt.h"
#include "irq.h"
#include "memlayout.h"
#include "paging.h"
#include "smp.h"
#include "trap.h"

#define SECOND_STARTUP_NS 10000000ULL /* 10 ms */
#define AP_WAIT_NS 5000000000ULL      /* emulated twice over, a start takes ms */
#define BOOT_TABLES_LEN (7 * 4096)    /* PML4, two PDPTs, four PDs (boot.S, pier's VMM) */

extern char ap_trampoline[], ap_trampoline_end[], ap_gdt[], ap_gdtr[], ap_far32[], ap_far64[],
	ap_cr3[], ap_stack[], ap_entry[], ap_arg[], ap_pm32[], ap_lm64[];

struct ap {
	int online;          /* written by the processor itself when it is up */
	int abandoned;       /* it did not answer in time: its slot went to another */
	struct cpu *cpu;     /* its slot in smp_cpus */
};

struct cpu smp_cpus[SMP_MAX_CPUS];
static struct ap aps[SMP_MAX_CPUS]; /* by APIC ID */
int smp_online = 1;
/* The boot CPU's control bits, taken by each AP: after INIT, CR0 has
 * the caches disabled (CD, NW), which only a write clears. */
static uint64_t boot_cr0, boot_cr4;
extern uint64_t syscall_cpu_slots[]; /* user.S: 8 words per CPU */

void cpu_set_kernel_stack(struct cpu *c, uint64_t top)
{
	syscall_cpu_slots[c->index * 8 + 1] = top; /* the system-call entry's */
	gdt_set_kernel_stack(c->gdt, top);         /* interrupts' and faults' */
}

static int stopped; /* CPUs a panic stopped */
static int crash_cpu = -1;

void smp_crash_on(int cpu)
{
	__atomic_store_n(&crash_cpu, cpu, __ATOMIC_RELEASE);
	irq_send_resched(smp_cpus[cpu].apic_id);
}

void smp_crash_check(void)
{
	if (__atomic_load_n(&crash_cpu, __ATOMIC_ACQUIRE) == cpu_this()->index)
		panic("crash=ap requested");
}

int smp_stop_others(void)
{
	int n = smp_cpus_online();
	if (n == 1)
		return 0;
	irq_send_nmi_others();
	uint64_t t0 = time_ns();
	while (__atomic_load_n(&stopped, __ATOMIC_ACQUIRE) < n - 1 && time_ns() - t0 < 100000000ULL)
		cpu_relax();
	return __atomic_load_n(&stopped, __ATOMIC_ACQUIRE);
}

void smp_stopped(void)
{
	__atomic_add_fetch(&stopped, 1, __ATOMIC_RELEASE);
	cpu_halt_forever();
}

/* The processor's first C code, on its idle task's stack: its own GDT
 * and TSS, the kernel's IDT, the boot CPU's control bits, its system-call
 * entry, its local APIC; then it reports in and runs tasks. */
__attribute__((noreturn)) static void ap_main(struct ap *ap)
{
	if (__atomic_load_n(&ap->abandoned, __ATOMIC_ACQUIRE))
		cpu_halt_forever(); /* too late: its CPU slot is another's */
	struct cpu *c = ap->cpu;
	gdt_load_ap(c->gdt);
	idt_load();
	write_cr0(boot_cr0);
	write_cr4(boot_cr4);
	syscall_cpu_init(c);
	irq_init_ap();
	cpu_set_kernel_stack(c, c->idle->kstack_top);
	__atomic_store_n(&ap->online, 1, __ATOMIC_RELEASE);
	task_idle_loop();
}

static void put(uint8_t *page, const char *field, uint64_t v, unsigned len)
{
	memcpy(page + (field - ap_trampoline), &v, len);
}

static bool wait_online(struct ap *ap, uint64_t ns)
{
	uint64_t t0 = time_ns();
	while (!__atomic_load_n(&ap->online, __ATOMIC_ACQUIRE)) {
		if (time_ns() - t0 > ns)
			return false;
		cpu_relax();
	}
	return true;
}

/* Starts the processor with APIC ID apic as CPU c. */
static bool start_one(unsigned apic, struct ap *ap, struct cpu *c, uint8_t *page,
		      uint64_t page_pa)
{
	c->index = smp_online;
	c->apic_id = apic;
	c->gdt = gdt_alloc_ap();
	ap->cpu = c;
	if (!c->gdt || !task_new_idle(c))
		return false;
	put(page, ap_stack, c->idle->kstack_top, 8);
	put(page, ap_entry, (uint64_t)ap_main, 8);
	put(page, ap_arg, (uint64_t)ap, 8);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!irq_send_init(apic) || !irq_send_startup(apic, page_pa))
		return false;
	if (!wait_online(ap, SECOND_STARTUP_NS) &&
	    (!irq_send_startup(apic, page_pa) || !wait_online(ap, AP_WAIT_NS)))
		return false;
	return true;
}

/* The start-up page: free RAM under 640 KiB that the boot does not read. */
static uint64_t pick_page(const struct hvm_start_info *si)
{
	const char *cmdline = si->cmdline_paddr ? phys_to_virt(si->cmdline_paddr) : "";
	struct low_range busy[] = {
		{ virt_to_phys(si), sizeof(*si) },
		{ si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(struct hvm_memmap_table_entry) },
		{ si->modlist_paddr, (uint64_t)si->nr_modules * sizeof(struct hvm_modlist_entry) },
		{ si->cmdline_paddr, si->cmdline_paddr ? strlen(cmdline) + 1 : 0 },
		{ boot_pml4_phys, BOOT_TABLES_LEN },
	};
	if (si->version < 1 || !si->memmap_paddr)
		return 0;
	return low_page_pick(phys_to_virt(si->memmap_paddr), si->memmap_entries, busy,
			     (int)(sizeof(busy) / sizeof(busy[0])));
}

int smp_start(const struct hvm_start_info *si, unsigned want)
{
	smp_cpus[0].apic_id = irq_lapic_id();
	smp_cpus[0].gdt = gdt_boot();
	if (want <= 1)
		return smp_online;
	if (want > SMP_MAX_CPUS) {
		kprintf("smp: %u CPUs offered, %d used\n", want, SMP_MAX_CPUS);
		want = SMP_MAX_CPUS;
	}
	uint64_t page_pa = pick_page(si);
	if (!page_pa || boot_pml4_phys >= (1ULL << 32)) {
		kprintf("smp: no start-up page below 640 KiB (or page tables above 4 GiB): "
			"1 of %u CPUs used\n", want);
		return smp_online;
	}
	if (!task_new_idle(&smp_cpus[0])) { /* for a task that must move away */
		kprintf("smp: no memory for the boot CPU's idle task: 1 of %u CPUs used\n", want);
		return smp_online;
	}
	uint8_t *page = phys_to_virt(page_pa);
	memcpy(page, ap_trampoline, (size_t)(ap_trampoline_end - ap_trampoline));
	put(page, ap_gdtr + 2, page_pa + (uint64_t)(ap_gdt - ap_trampoline), 4);
	put(page, ap_far32, page_pa + (uint64_t)(ap_pm32 - ap_trampoline), 4);
	put(page, ap_far64, page_pa + (uint64_t)(ap_lm64 - ap_trampoline), 4);
	put(page, ap_cr3, boot_pml4_phys, 8);
	boot_cr0 = read_cr0();
	boot_cr4 = read_cr4();
	unsigned self = irq_lapic_id();
	uint64_t t0 = time_ns();
	for (unsigned apic = 0; apic < want; apic++) {
		if (apic == self)
			continue;
		/* By APIC ID: one that answers late writes only its own
		 * slot, and its stack and tables are never freed. */
		struct ap *ap = &aps[apic];
		if (start_one(apic, ap, &smp_cpus[smp_online], page, page_pa)) {
			__atomic_store_n(&smp_online, smp_online + 1, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&ap->abandoned, 1, __ATOMIC_RELEASE);
			kprintf("smp: the CPU with APIC ID %u did not start\n", apic);
		}
	}
	kprintf("smp: %d of %u CPUs online in %llu us\n", smp_online, want,
		(unsigned long long)((time_ns() - t0) / 1000));
	return smp_online;
}
