/*
 * The Linux system-call layer: the frame syscall_entry (user.S) builds, and
 * the table of handlers, one per system-call number.
 */
#ifndef GUEST_SYSCALL_H
#define GUEST_SYSCALL_H

#include <stdint.h>

/* As pushed by syscall_entry, lowest address first. */
struct syscall_frame {
	uint64_t r15, r14, r13, r12, rbx, rbp, r9, r8, r10, rdx, rsi, rdi, nr, cs, rflags, rip, rsp;
};

typedef int64_t (*syscall_fn)(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
			      uint64_t a4, uint64_t a5);

#define SYSCALL_MAX 512
extern const syscall_fn syscall_table[SYSCALL_MAX];
extern const char *const syscall_names[SYSCALL_MAX];

/* Sets the MSRs for the syscall instruction and the kernel entry stack. */
void syscall_init(void);

int64_t syscall_dispatch(struct syscall_frame *f);

/* The frame of the system call being served (rt_sigreturn rewrites it):
 * the current task's (task.h). */
#define syscall_current (current->frame)

/* Ends the program with status (0-255) after unmounting file systems. */
__attribute__((noreturn)) void process_exit(int status);
/* Ends the program as killed by sig: the status a shell sees is 128 + sig,
 * and pier's own process dies of sig too. */
__attribute__((noreturn)) void process_exit_signal(int sig);

/* Handler definitions: SYS(read) { ... } with arguments a0..a5. */
#define SYS(name)                                                                       \
	int64_t sys_##name(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, \
			   uint64_t a5)

#include "syscall_decls.h"

#endif
