/*
 * Crossing into and out of the program (CPL3).
 *
 * Each CPU's LSTAR is its own entry stub (syscall_entry_N below), which
 * saves the program's RSP in the CPU's slot and loads the kernel stack
 * from it, RIP-relative: the entry needs no free register and no per-CPU
 * segment base. On hardware (and QEMU, and real KVM) it runs at CPL0 with
 * the user's RSP still loaded; on this machine's kvm_pvm it runs at CPL3
 * (see shared/docs/platform.md). So the entry uses no privileged
 * instruction (no swapgs), records the CPL it found in the frame, and
 * returns with sysretq only when it really is at CPL0; otherwise with
 * popfq + jmp, which is what works there.
 */
#include "gdt.h"
#include "smp.h"
#include "../../kernel/kstack.h"

#define SLOT_SIZE 64 /* a cache line per CPU: no CPU writes another's */

/* The registers syscall_entry saved, back (the frame's lower part). */
.macro POP_SAVED
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	popq %r9
	popq %r8
	popq %r10
	popq %rdx
	popq %rsi
	popq %rdi
.endm

	.text
/* CPU n's entry: its slot holds the program's RSP (word 0) while the
 * kernel stack (word 1, set at every switch) is loaded. */
.macro ENTRY_STUB n
	.balign 32
syscall_entry_\n:
	mov %rsp, syscall_cpu_slots + \n * SLOT_SIZE(%rip)
	mov syscall_cpu_slots + \n * SLOT_SIZE + 8(%rip), %rsp
	pushq syscall_cpu_slots + \n * SLOT_SIZE(%rip) /* frame: see struct syscall_frame */
	jmp syscall_entry_common
.endm

.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63
ENTRY_STUB \n
.endr

syscall_entry_common:
	pushq %rcx                     /* user rip */
	pushq %r11                     /* user rflags */
	sub $8, %rsp
	movw %cs, (%rsp)               /* the CPL we arrived at */
	pushq %rax                     /* system call number */
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %r10
	pushq %r8
	pushq %r9
	pushq %rbp                     /* the program's: callee-saved for it too */
	pushq %rbx                     /* callee-saved as well; in the frame so */
	pushq %r12                     /* a signal handler's context holds them */
	pushq %r13                     /* and rt_sigreturn can put them back */
	pushq %r14
	pushq %r15
	cld
	xor %ebp, %ebp                 /* backtraces stop here */
	mov %rsp, %rdi
	call syscall_dispatch          /* result in %rax */
	.globl syscall_return          /* a new task's first return (switch.S) */
syscall_return:
	mov %rsp, %rcx                 /* the task's stack base: see kstack.h */
	and $~(KSTACK_SIZE - 1), %rcx
	cmpq $0, KSB_FULL(%rcx)
	jne full_restore
	POP_SAVED
	add $8, %rsp                   /* number */
	testb $3, (%rsp)
	jnz 1f
	add $8, %rsp
	popq %r11
	popq %rcx
	popq %rsp
	sysretq
1:	add $8, %rsp                   /* arrived at CPL3: return without sysret */
	popq %r11
	popq %rcx
	pushq %r11                     /* the flags, through the kernel stack: */
	popfq                          /* the program's red zone stays untouched */
	popq %rsp
	jmp *%rcx

/*
 * rt_sigreturn's way back: every register as the signal context says,
 * rcx and r11 too (sysret would take them for rip and rflags, and the
 * interrupted code may have been using them: a fault's handler returns
 * into the middle of anything). rcx and r11 come from the stack base
 * (%rcx here), which signal.c filled; the rest from the frame as for any
 * system call.
 */
full_restore:
	movq $0, KSB_FULL(%rcx)
	POP_SAVED
	mov 16(%rsp), %r11             /* frame: nr, cs, rflags, rip, rsp */
	mov %r11, KSB_FULL_RFLAGS(%rcx)
	mov 24(%rsp), %r11
	mov %r11, KSB_FULL_RIP(%rcx)
	mov 32(%rsp), %r11
	mov %r11, KSB_FULL_RSP(%rcx)
	testb $3, 8(%rsp)              /* the CPL the entry found */
	jnz 2f
	add $40, %rsp                  /* the kernel stack is empty again */
	pushq $(GDT_USER_DS | 3)
	pushq KSB_FULL_RSP(%rcx)
	pushq KSB_FULL_RFLAGS(%rcx)
	pushq $(GDT_USER_CS | 3)
	pushq KSB_FULL_RIP(%rcx)
	mov KSB_FULL_R11(%rcx), %r11
	mov KSB_FULL_RCX(%rcx), %rcx
	iretq
	/* At CPL3 (kvm_pvm, one CPU there): no iret, and the jump needs its
	 * target somewhere rcx is not; a global does, with one CPU. */
2:	add $40, %rsp
	mov KSB_FULL_RIP(%rcx), %r11
	mov %r11, cpl3_full_rip(%rip)
	pushq KSB_FULL_RFLAGS(%rcx)
	popfq
	mov KSB_FULL_R11(%rcx), %r11
	mov KSB_FULL_RSP(%rcx), %rsp
	mov KSB_FULL_RCX(%rcx), %rcx
	jmp *cpl3_full_rip(%rip)

/* enter_user(rip, rsp): starts the program; never returns. */
	.globl enter_user
enter_user:
	pushq $(GDT_USER_DS | 3)
	pushq %rsi
	pushq $0x2                     /* rflags: interrupts stay off in the program */
	pushq $(GDT_USER_CS | 3)
	pushq %rdi
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	iretq

	.section .rodata
	.balign 8
	.globl syscall_entry_table     /* each CPU's LSTAR */
syscall_entry_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63
	.quad syscall_entry_\n
.endr

	.data
	.balign SLOT_SIZE
	.globl syscall_cpu_slots
syscall_cpu_slots:
	.fill SMP_MAX_CPUS * SLOT_SIZE, 1, 0
cpl3_full_rip: .quad 0
