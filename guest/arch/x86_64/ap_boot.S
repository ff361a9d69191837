/*
 * The application processors' way into the kernel. A STARTUP message
 * starts a processor in real mode at CS = page >> 4, IP 0; smp.c copies
 * these bytes to such a page below 1 MiB and fills the words at the end
 * (absolute addresses, the stack and the entry) first. The code finds its
 * own base in CS, so it runs wherever it was copied: real mode, then
 * protected mode on the small table below, then long mode on the boot
 * page tables (identity for the low 4 GiB, where this page is), and a
 * jump to ap_entry's high address with %rdi = ap_arg.
 */
#include "memlayout.h"

#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11) /* the kernel's page tables use NX */

#define OFF(sym) ((sym) - ap_trampoline)

	.section .rodata
	.balign 16
	.globl ap_trampoline, ap_trampoline_end
	.globl ap_gdt, ap_gdtr, ap_far32, ap_far64, ap_cr3, ap_stack, ap_entry, ap_arg, ap_pm32, ap_lm64
	.code16
ap_trampoline:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	xor %ebx, %ebx
	mov %ax, %bx
	shl $4, %ebx            /* the page's physical address, kept to the end */
	lgdtl OFF(ap_gdtr)
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	ljmpl *OFF(ap_far32)

	.code32
ap_pm32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov OFF(ap_cr3)(%ebx), %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $(EFER_LME | EFER_NXE), %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PE | CR0_PG | CR0_WP), %eax
	mov %eax, %cr0
	ljmp *OFF(ap_far64)(%ebx)

	.code64
ap_lm64:
	mov %ebx, %ebx          /* zero-extended: the upper half is not promised */
	mov OFF(ap_stack)(%rbx), %rsp
	mov OFF(ap_arg)(%rbx), %rdi
	xor %ebp, %ebp          /* ends the backtrace frame chain */
	jmp *OFF(ap_entry)(%rbx)

	.balign 8
ap_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff /* 0x10: data */
	.quad 0x00af9a000000ffff /* 0x18: 64-bit code */
ap_gdtr:
	.word ap_gdtr - ap_gdt - 1
	.long 0                 /* the page + OFF(ap_gdt) */
	.balign 8
ap_far32:
	.long 0                 /* the page + OFF(ap_pm32) */
	.word 0x08
	.balign 8
ap_far64:
	.long 0                 /* the page + OFF(ap_lm64) */
	.word 0x18
	.balign 8
ap_cr3:	.quad 0                 /* below 4 GiB: loaded in 32-bit mode */
ap_stack: .quad 0
ap_entry: .quad 0
ap_arg:	.quad 0
ap_trampoline_end:
