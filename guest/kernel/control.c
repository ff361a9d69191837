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

/* On the console, or (quiet) as a control line starting with `kind`. */
static void warn_line(const char *kind, const char *fmt, va_list ap)
{
	if (console_is_quiet()) {
		/* The program's streams are its own: pier reports the line. */
		char buf[120];
		size_t k = strlen(kind);
		memcpy(buf, kind, k + 1);
		fmt_vsnprintf(buf + k, sizeof(buf) - k, fmt, ap);
		size_t n = strlen(buf);
		while (n > k && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
			buf[--n] = 0;
		for (char *p = buf; *p; p++)
			if (*p == '\n')
				*p = ' ';
		control_line(buf);
	} else {
		kvprintf(fmt, ap);
	}
}

void kwarn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	warn_line("log ", fmt, ap);
	va_end(ap);
}

void knote(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	warn_line("warn ", fmt, ap);
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
