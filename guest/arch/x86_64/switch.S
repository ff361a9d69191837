/*
 * Switching kernel stacks between tasks (task.c). The callee-saved
 * registers go on the old task's stack and its stack pointer into *save;
 * the new task's registers come off its own stack. A task that never ran
 * "returns" into task_first_return, which finishes the switch (task.c)
 * and leaves through the system-call exit path with the frame task_clone
 * copied (clone's 0 in the child).
 */
	.text
	.globl task_switch
/* task_switch(uint64_t *save_ksp, uint64_t new_ksp) */
task_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	mov %rsp, (%rdi)
	mov %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

	.globl task_first_return
task_first_return:
	call task_switch_finish        /* the task before it is off this CPU */
	xor %eax, %eax
	jmp syscall_return

/* A task that starts in the kernel (task_spawn): fn (rbx) with arg (r12),
 * which fills the frame at the stack's top and returns 0, then on to the
 * program as task_first_return. */
	.globl task_first_call
task_first_call:
	call task_switch_finish
	mov %r12, %rdi
	call *%rbx
	jmp syscall_return
