/*
 * GDT and TSS. The selector order (kernel code, kernel data, user data,
 * user code) is the one SYSCALL/SYSRET require. The TSS gives the double
 * fault handler its own stack (IST1), so a kernel stack overflow still
 * reaches the panic report.
 */
#include <stdint.h>
#include <pier/string.h>
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

static uint64_t gdt[7];
static struct tss tss;
static uint8_t ist1_stack[16384] __attribute__((aligned(16)));

struct __attribute__((packed)) descriptor_ptr {
	uint16_t limit;
	uint64_t base;
};

static void load_gdt(void);

void gdt_init(void)
{
	gdt[0] = 0;
	gdt[GDT_KERNEL_CS / 8] = 0x00af9a000000ffff; /* 64-bit code, DPL 0 */
	gdt[GDT_KERNEL_DS / 8] = 0x00cf92000000ffff; /* data, DPL 0 */
	gdt[GDT_USER_DS / 8] = 0x00cff2000000ffff;   /* data, DPL 3 */
	gdt[GDT_USER_CS / 8] = 0x00affa000000ffff;   /* 64-bit code, DPL 3 */

	memset(&tss, 0, sizeof(tss));
	tss.ist[0] = (uint64_t)(ist1_stack + sizeof(ist1_stack));
	tss.iomap_base = sizeof(tss); /* no I/O permission bitmap */
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
	gdt[GDT_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			   (0x89ULL << 40) /* present, 64-bit TSS available */ |
			   (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[GDT_TSS / 8 + 1] = base >> 32;

	load_gdt();
	__asm__ volatile("ltr %w0" : : "r"(GDT_TSS));
}

/* Loads the table and reloads every segment register from it. */
static void load_gdt(void)
{
	struct descriptor_ptr p = { sizeof(gdt) - 1, (uint64_t)gdt };
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
		"1:"
		: : "m"(p), "r"((uint64_t)GDT_KERNEL_DS), "i"(GDT_KERNEL_CS)
		: "rax", "memory");
}

void gdt_load_ap(void)
{
	load_gdt(); /* no task register: the one TSS is the boot CPU's (busy) */
}

void gdt_set_kernel_stack(uint64_t rsp0)
{
	tss.rsp[0] = rsp0;
}
