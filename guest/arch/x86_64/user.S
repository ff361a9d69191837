/*
 * Crossing into and out of the program (CPL3).
 *
 * syscall_entry is the LSTAR target. On hardware (and QEMU, and real KVM)
 * it runs at CPL0 with the user's RSP still loaded; on this machine's
 * kvm_pvm it runs at CPL3 (see shared/docs/platform.md). So the entry uses
 * no privileged instruction (no swapgs: there is one CPU and the stack
 * pointer comes from a kernel variable), records the CPL it found in the
 * frame, and returns with sysretq only when it really is at CPL0;
 * otherwise with popfq + jmp, which is what works there.
 */
#include "gdt.h"

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
	.globl syscall_entry
syscall_entry:
	mov %rsp, syscall_user_rsp(%rip)
	mov syscall_kernel_rsp(%rip), %rsp
	pushq syscall_user_rsp(%rip)  /* frame: see struct syscall_frame */
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
	cmpb $0, syscall_full_restore(%rip)
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
 * into the middle of anything). rcx and r11 come from globals that
 * signal.c filled; the rest from the frame as for any system call.
 */
full_restore:
	movb $0, syscall_full_restore(%rip)
	POP_SAVED
	mov 16(%rsp), %rcx             /* frame: nr, cs, rflags, rip, rsp */
	mov %rcx, full_rflags(%rip)
	mov 24(%rsp), %rcx
	mov %rcx, full_rip(%rip)
	mov 32(%rsp), %rcx
	mov %rcx, full_rsp(%rip)
	testb $3, 8(%rsp)              /* the CPL the entry found */
	jnz 2f
	add $40, %rsp                  /* the kernel stack is empty again */
	pushq $(GDT_USER_DS | 3)
	pushq full_rsp(%rip)
	pushq full_rflags(%rip)
	pushq $(GDT_USER_CS | 3)
	pushq full_rip(%rip)
	mov full_rcx(%rip), %rcx
	mov full_r11(%rip), %r11
	iretq
2:	add $40, %rsp                  /* at CPL3 (kvm_pvm): no iret there */
	pushq full_rflags(%rip)
	popfq
	mov full_rcx(%rip), %rcx
	mov full_r11(%rip), %r11
	mov full_rsp(%rip), %rsp
	jmp *full_rip(%rip)

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

	.data
	.globl syscall_user_rsp, syscall_kernel_rsp
syscall_user_rsp: .quad 0
syscall_kernel_rsp: .quad 0
	.globl syscall_full_restore, full_rcx, full_r11
syscall_full_restore: .byte 0
	.balign 8
full_rcx: .quad 0
full_r11: .quad 0
full_rflags: .quad 0
full_rip: .quad 0
full_rsp: .quad 0
