/*
 * GDT and TSS, one set per CPU. The selector order (kernel code, kernel
 * data, user data, user code) is the one SYSCALL/SYSRET require. The TSS
 * gives the double fault handler its own stack (IST1), so a kernel stack
 * overflow still reaches the panic report. Each CPU has its own table
 * because the TSS descriptor in it is marked busy once loaded, and its
 * own TSS for its own rsp0 and fault stack.
 */
#include <stdint.h>
#include <pier/string.h>
#include "../../mm/mm.h"
#include "../../kernel/kstack.h"
#include "gdt.h"

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed)); /* the hardware layout has 8-byte fields at 4-byte offsets */
_Static_assert(sizeof(struct tss) == 104, "TSS is 104 bytes");

#define FAULT_STACK_SIZE 16384

struct gdt_cpu {
	uint64_t gdt[7];
	struct tss tss;
	/* IST1: double faults and NMIs. Aligned to KSTACK_SIZE and zero at
	 * its base, as kstack.h wants of every stack the kernel runs on:
	 * `current` is NULL there. */
	uint8_t *fault_stack;
};

static struct gdt_cpu boot_cpu; /* the boot CPU's: before the heap exists */
static uint8_t boot_fault_stack[FAULT_STACK_SIZE] __attribute__((aligned(KSTACK_SIZE)));

struct __attribute__((packed)) descriptor_ptr {
	uint16_t limit;
	uint64_t base;
};

static void build(struct gdt_cpu *c)
{
	uint64_t *gdt = c->gdt;
	gdt[0] = 0;
	gdt[GDT_KERNEL_CS / 8] = 0x00af9a000000ffff; /* 64-bit code, DPL 0 */
	gdt[GDT_KERNEL_DS / 8] = 0x00cf92000000ffff; /* data, DPL 0 */
	gdt[GDT_USER_DS / 8] = 0x00cff2000000ffff;   /* data, DPL 3 */
	gdt[GDT_USER_CS / 8] = 0x00affa000000ffff;   /* 64-bit code, DPL 3 */

	memset(&c->tss, 0, sizeof(c->tss));
	c->tss.ist[0] = (uint64_t)(c->fault_stack + FAULT_STACK_SIZE);
	c->tss.iomap_base = sizeof(c->tss); /* no I/O permission bitmap */
	uint64_t base = (uint64_t)&c->tss, limit = sizeof(c->tss) - 1;
	gdt[GDT_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			   (0x89ULL << 40) /* present, 64-bit TSS available */ |
			   (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[GDT_TSS / 8 + 1] = base >> 32;
}

/* Loads the table, reloads every segment register from it, and the task
 * register. */
static void load(struct gdt_cpu *c)
{
	struct descriptor_ptr p = { sizeof(c->gdt) - 1, (uint64_t)c->gdt };
	__asm__ volatile(
		"lgdt %0\n\t"
		"mov %1, %%ds\n\t"
		"mov %1, %%es\n\t"
		"mov %1, %%ss\n\t"
		/* Reload CS with a far return to the next instruction. */
		"pushq %2\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"ltr %w3"
		: : "m"(p), "r"((uint64_t)GDT_KERNEL_DS), "i"(GDT_KERNEL_CS), "r"(GDT_TSS)
		: "rax", "memory");
}

void gdt_init(void)
{
	boot_cpu.fault_stack = boot_fault_stack;
	build(&boot_cpu);
	load(&boot_cpu);
}

struct gdt_cpu *gdt_alloc_ap(void)
{
	struct gdt_cpu *c = kmalloc_aligned(sizeof(*c), 16);
	uint8_t *stack = kmalloc_aligned(FAULT_STACK_SIZE, KSTACK_SIZE);
	if (!c || !stack) {
		kfree(c);
		kfree(stack);
		return NULL;
	}
	memset(stack, 0, FAULT_STACK_SIZE);
	c->fault_stack = stack;
	build(c);
	return c;
}

void gdt_load_ap(struct gdt_cpu *c)
{
	load(c);
}

struct gdt_cpu *gdt_boot(void)
{
	return &boot_cpu;
}

void gdt_set_kernel_stack(struct gdt_cpu *c, uint64_t rsp0)
{
	c->tss.rsp[0] = rsp0;
}
