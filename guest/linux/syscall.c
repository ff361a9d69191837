/*
 * System-call dispatch: the table lookup, strace output, and the one-time
 * report of calls we do not implement.
 */
#include <asm/unistd_64.h>
#include <pier/errno.h>
#include <pier/fmt.h>
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/gdt.h"
#include "../fs/vfs.h"
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "process.h"
#include "syscall.h"
#include "../kernel/platform.h"
#include "../drivers/virtio_console.h"
#include "signal.h"
#include "../kernel/task.h"
#include "../kernel/time.h"

extern const uint64_t syscall_entry_table[SMP_MAX_CPUS]; /* user.S: each CPU's entry */
extern char boot_stack_bottom[];                          /* boot.S */
/* pid 1's main thread's kernel stack (kstack.h: aligned to its size). */
static uint8_t syscall_stack[KSTACK_SIZE] __attribute__((aligned(KSTACK_SIZE)));
static uint8_t reported[SYSCALL_MAX / 8 + 1];

void syscall_cpu_init(struct cpu *c)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE | EFER_NXE);
	/* STAR: kernel CS/SS from 0x08, user SS/CS from 0x10 + 8/16 (| 3). */
	wrmsr(MSR_STAR, ((uint64_t)GDT_KERNEL_DS << 48) | ((uint64_t)GDT_KERNEL_CS << 32));
	wrmsr(MSR_LSTAR, syscall_entry_table[c->index]);
	/* Entry with IF, TF, DF, AC clear. */
	wrmsr(MSR_FMASK, 0x200 | 0x100 | 0x400 | 0x40000);
	/* SSE for the program: the kernel itself never touches those
	 * registers, so their state is switched only between tasks. */
	write_cr0((read_cr0() & ~(1ULL << 2)) | (1ULL << 1)); /* EM off, MP on */
	write_cr4(read_cr4() | (1ULL << 9) | (1ULL << 10));    /* OSFXSR, OSXMMEXCPT */
	/* RDTSCP's TSC_AUX: the CPU's number, for getcpu in the vDSO. */
	if (cpu_has_rdtscp())
		wrmsr(MSR_TSC_AUX, (uint64_t)c->index);
}

void syscall_init(void)
{
	/* pid 1's main thread runs on syscall_stack; this code is on the
	 * boot stack, which is the task's too until the program starts. */
	task_init(syscall_stack, boot_stack_bottom, 1);
	syscall_cpu_init(&smp_cpus[0]);
}

/* "[pid N] " once there are several processes or threads, as strace -f. */
static const char *strace_pid(void)
{
	static char buf[24];
	if (process_count() == 1 && task_count() == 1)
		return "";
	fmt_snprintf(buf, sizeof(buf), "[pid %d] ", current->tid);
	return buf;
}

int64_t syscall_dispatch(struct syscall_frame *f)
{
	current->frame = f;
	kernel_enter();
	uint64_t t0 = time_ns();
	uint64_t nr = f->nr;
	platform_note_syscall_cpl((int)(f->cs & 3));
	syscall_fn fn = nr < SYSCALL_MAX ? syscall_table[nr] : NULL;
	const char *name = nr < SYSCALL_MAX && syscall_names[nr] ? syscall_names[nr] : "unknown";
	int64_t r;
	if (!fn) {
		if (nr >= SYSCALL_MAX || !(reported[nr / 8] & (1 << (nr % 8)))) {
			knote("system call %lld (%s) not implemented: ENOSYS\n", (long long)nr, name);
			if (nr < SYSCALL_MAX)
				reported[nr / 8] |= (uint8_t)(1 << (nr % 8));
		}
		r = -ENOSYS;
	} else {
		if (current->proc->strace && (nr == __NR_exit || nr == __NR_exit_group ||
					      nr == __NR_execve || nr == __NR_execveat))
			kprintf("strace: %s%s(0x%llx) ...\n", strace_pid(), name,
				(unsigned long long)f->rdi);
		r = fn(f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9);
	}
	if (current->proc->strace)
		kprintf("strace: %s%s(0x%llx, 0x%llx, 0x%llx, 0x%llx, 0x%llx, 0x%llx) = %lld\n",
			strace_pid(), name, (unsigned long long)f->rdi,
			(unsigned long long)f->rsi, (unsigned long long)f->rdx,
			(unsigned long long)f->r10, (unsigned long long)f->r8,
			(unsigned long long)f->r9, (long long)r);
	task_account_syscall(time_ns() - t0);
	task_before_user(&f->rflags); /* may run the other threads first */
	r = signal_deliver(f, r);
	signal_exit_path();
	kernel_leave();
	return r;
}
