/*
 * Kernel entries. PVH (Xen "HVM direct boot" ABI, as QEMU -kernel
 * implements it): the loader enters pvh_start in 32-bit protected mode,
 * paging off, %ebx holding the physical address of struct hvm_start_info.
 * We build page tables for the layout in memlayout.h, switch to long mode
 * and call kmain(start_info). Pier's 64-bit entry (pier_entry64, named by
 * the "Pier" note): pier's VMM has already built the same page tables and
 * entered long mode, %rdi = start_info; far less emulated ring-0 work.
 */
#include <pier/pvh.h>
#include "memlayout.h"

#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define PTE_PW 0x3     /* present, writable */
#define PTE_LARGE 0x80 /* 2 MiB page in a page directory */

/* The note QEMU looks for: name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY. */
	.section .note.pvh, "a", @note
	.p2align 2
	.long 4, 8, 18
	.asciz "Xen"
	.p2align 2
	.quad pvh_start

	.section .note.pier, "a", @note
	.p2align 2
	.long 5, 8, PIER_ELFNOTE_ENTRY64
	.asciz "Pier"
	.p2align 2
	.quad pier_entry64

	.section .boot.text, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	mov %ebx, %edi          /* start_info: kept for kmain's first argument */
	mov $boot_stack_top32, %esp

	/* Page directories: 4 x 512 entries of 2 MiB cover the low 4 GiB. */
	mov $boot_pd, %ebx
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $(PTE_PW | PTE_LARGE), %eax
	mov %eax, (%ebx, %ecx, 8)
	mov %ecx, %eax
	shr $11, %eax           /* bits 32+ of (ecx << 21) */
	mov %eax, 4(%ebx, %ecx, 8)
	inc %ecx
	cmp $2048, %ecx
	jne 1b

	/* Low PDPT: its 4 entries point at the 4 page directories. */
	mov $boot_pdpt_low, %ebx
	mov $boot_pd + PTE_PW, %eax
	mov %eax, 0(%ebx)
	add $4096, %eax
	mov %eax, 8(%ebx)
	add $4096, %eax
	mov %eax, 16(%ebx)
	add $4096, %eax
	mov %eax, 24(%ebx)

	/* High PDPT: entry 510 (-2 GiB) maps the first GiB for the image. */
	movl $boot_pd + PTE_PW, boot_pdpt_high + 510 * 8

	/* PML4: identity (0), direct map (256), kernel image (511). */
	movl $boot_pdpt_low + PTE_PW, boot_pml4 + 0 * 8
	movl $boot_pdpt_low + PTE_PW, boot_pml4 + 256 * 8
	movl $boot_pdpt_high + PTE_PW, boot_pml4 + 511 * 8

	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PE | CR0_PG | CR0_WP), %eax
	mov %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $0x08, $long_entry

	.code64
long_entry:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov %edi, %edi          /* zero-extend the start_info address */
	jmp long_common

	.globl pier_entry64
pier_entry64:
	cli
	cld
long_common:
	mov %cr3, %rax
	movabs %rax, boot_pml4_phys
	movabs $boot_stack_top, %rsp
	xor %ebp, %ebp          /* ends the backtrace frame chain */
	movabs $kmain, %rax
	call *%rax
2:	hlt
	jmp 2b

	.section .boot.data, "aw"
	.p2align 3
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff /* 0x10: data */
boot_gdt_ptr:
	.word boot_gdt_ptr - boot_gdt - 1
	.long boot_gdt

	/* Page tables live in the loaded image, already zero. */
	.p2align 12
	.globl boot_pml4
boot_pml4:	.fill 4096, 1, 0
boot_pdpt_low:	.fill 4096, 1, 0
boot_pdpt_high:	.fill 4096, 1, 0
boot_pd:	.fill 4 * 4096, 1, 0
	.fill 256, 1, 0         /* a few words of stack for the 32-bit part */
boot_stack_top32:

	.section .data
	.p2align 3
	.globl boot_pml4_phys
boot_pml4_phys:	.quad 0

	/* Aligned to its size, as every kernel stack (kstack.h): the first
	 * task starts on it and finds itself from its base. */
	.section .bss
	.p2align 16
	.globl boot_stack_bottom
boot_stack_bottom:
	.skip 65536
	.globl boot_stack_top
boot_stack_top:
