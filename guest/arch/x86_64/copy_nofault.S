/*
 * copy_nofault(dst, src, len): memcpy that a page fault may stop. Returns
 * how many bytes it did not copy: 0, or what was left at the fault. The
 * kernel copies to a program's memory with it while it does not hold the
 * kernel lock (a DAX window read: another thread may unmap that memory
 * meanwhile); a fault at copy_nofault_insn that demand paging cannot
 * resolve resumes at copy_nofault_fixup (linux/fault.c) rather than
 * panicking. rep movsb stops at the faulting byte with rcx the count left,
 * so the count is exact. Plain x86-64: the host unit test runs it too.
 */
	.text
	.globl copy_nofault, copy_nofault_insn, copy_nofault_fixup
	.type copy_nofault, @function
copy_nofault:
	mov %rdx, %rcx
copy_nofault_insn:
	rep movsb
copy_nofault_fixup:
	mov %rcx, %rax
	ret
	.size copy_nofault, . - copy_nofault
	.section .note.GNU-stack, "", @progbits
