/*
 * panic() and the frame-pointer backtrace (the kernel is built with
 * -fno-omit-frame-pointer, so each frame starts with [saved rbp, return]).
 */
#include <stdarg.h>
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/irq.h"
#include "../arch/x86_64/memlayout.h"
#include "../arch/x86_64/smp.h"
#include "console.h"
#include "spinlock.h"
#include "control.h"
#include "panic.h"
#include "task.h"

#define BACKTRACE_MAX 16

void backtrace_print(uint64_t rbp)
{
	kprintf("backtrace:\n");
	for (int i = 0; i < BACKTRACE_MAX && rbp; i++) {
		/* Only follow aligned frames inside the kernel's mapped halves. */
		if (rbp % 8 || rbp < DIRECT_MAP_BASE)
			break;
		uint64_t *frame = (uint64_t *)rbp;
		uint64_t ret = frame[1];
		if (!ret)
			break;
		kprintf("  #%d %016llx\n", i, (unsigned long long)ret);
		if (frame[0] <= rbp)
			break; /* frames grow upwards; anything else is garbage */
		rbp = frame[0];
	}
}

static int started;

bool panic_started(void)
{
	return __atomic_load_n(&started, __ATOMIC_ACQUIRE);
}

int panic_stop_cpus(void)
{
	if (__atomic_exchange_n(&started, 1, __ATOMIC_ACQ_REL))
		cpu_halt_forever(); /* another CPU is reporting: its NMI stops us */
	spin_panic_mode(); /* the report goes out whatever lock is held */
	return smp_stop_others();
}

void panic_print_where(int stopped)
{
	/* Which processor (its number, which is its APIC ID) and thread; the
	 * others were stopped first, so nothing more of theirs comes out. */
	kprintf("on CPU %u (of %d online; %d others stopped), task %d\n", irq_lapic_id(),
		smp_cpus_online(), stopped, current ? current->tid : 0);
}

void panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int stopped = panic_stop_cpus();
	console_set_quiet(0);
	kprintf("\nPANIC at %s:%d: ", file, line);
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	panic_print_where(stopped);
	backtrace_print((uint64_t)__builtin_frame_address(0));
	control_exit_panic();
}
