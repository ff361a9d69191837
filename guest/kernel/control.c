/*
 * Control-channel writer: text lines on PIER_PORT_CONTROL, then the exit
 * port. Lines are short and few, so the port-I/O exit per byte is fine.
 */
#include <pier/fmt.h>
#include <pier/ports.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include <stdarg.h>
#include "console.h"
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

void kwarn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (console_is_quiet()) {
		/* The console belongs to the program: send it to pier's stderr. */
		char buf[120] = "log ";
		fmt_vsnprintf(buf + 4, sizeof(buf) - 4, fmt, ap);
		size_t n = strlen(buf);
		while (n > 4 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
			buf[--n] = 0;
		for (char *p = buf; *p; p++)
			if (*p == '\n')
				*p = ' ';
		control_line(buf);
	} else {
		kvprintf(fmt, ap);
	}
	va_end(ap);
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

void control_exit_signal(int sig)
{
	char buf[32];
	fmt_snprintf(buf, sizeof(buf), "killed %d", sig & 0x7f);
	control_line(buf);
	outl(PIER_PORT_EXIT, (uint32_t)(128 + sig) & 0x7f);
	cpu_halt_forever();
}
