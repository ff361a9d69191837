/*
 * Control-channel writer: text lines on PIER_PORT_CONTROL, then the exit
 * port. Lines are short and few, so the port-I/O exit per byte is fine.
 */
#include <pier/fmt.h>
#include <pier/ports.h>
#include "../arch/x86_64/cpu.h"
#include "control.h"

static void control_line(const char *s)
{
	for (; *s; s++)
		outb(PIER_PORT_CONTROL, (uint8_t)*s);
	outb(PIER_PORT_CONTROL, '\n');
}

void control_milestone(const char *name)
{
	char buf[64];
	fmt_snprintf(buf, sizeof(buf), "milestone %s", name);
	control_line(buf);
}

void control_exit(int status)
{
	char buf[32];
	status &= 0xff;
	fmt_snprintf(buf, sizeof(buf), "exit %d", status);
	control_line(buf);
	/* isa-debug-exit keeps 7 bits; the line above carries the rest. */
	outl(PIER_PORT_EXIT, (uint32_t)status & 0x7f);
	cpu_halt_forever();
}

void control_exit_panic(void)
{
	control_line("panic");
	outl(PIER_PORT_EXIT, PIER_EXIT_PANIC);
	cpu_halt_forever();
}
