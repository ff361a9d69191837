/*
 * panic() and the frame-pointer backtrace (the kernel is built with
 * -fno-omit-frame-pointer, so each frame starts with [saved rbp, return]).
 */
#include <stdarg.h>
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

void panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	spin_panic_mode(); /* the report goes out whatever lock is held */
	console_set_quiet(0);
	kprintf("\nPANIC at %s:%d: ", file, line);
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	/* Which processor and thread (the other processors only halt today:
	 * they run no task, smp.h). */
	kprintf("on CPU %u (of %d online), task %d\n", irq_lapic_id(), smp_cpus_online(),
		current ? current->tid : 0);
	backtrace_print((uint64_t)__builtin_frame_address(0));
	control_exit_panic();
}
