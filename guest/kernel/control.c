/*
 * Control-channel writer: text lines on PIER_PORT_CONTROL, then the exit
 * port. A line goes out as one string instruction; KVM's emulator still
 * exits once per byte (pier's VMM takes any count per exit), so lines are
 * few and short: milestones only for --timing, counters only for --stats.
 */
#include <pier/fmt.h>
#include <pier/ports.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include <stdarg.h>
#include "console.h"
#include "control.h"
#include "stats.h"

bool control_stats;

static void control_line(const char *s)
{
	char buf[160];
	size_t n = strlen(s);
	if (n > sizeof(buf) - 1)
		n = sizeof(buf) - 1; /* the host refuses longer lines anyway */
	memcpy(buf, s, n);
	buf[n++] = '\n';
	const char *p = buf;
	__asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"((uint16_t)PIER_PORT_CONTROL)
			 : "memory");
}

static void stat_line(void *ctx, const char *text)
{
	(void)ctx;
	char buf[128];
	fmt_snprintf(buf, sizeof(buf), "stat %s", text);
	control_line(buf);
}

/* The counters (stats.h), when the host asked for them (stats=1). */
static void report_stats(void)
{
	if (control_stats)
		stats_write(stat_line, NULL);
}

bool control_timing;

void control_milestone(const char *name)
{
	/* "program" the host always needs (signals go to the program once it
	 * runs); the others only for --timing: each byte is an exit. */
	if (!control_timing && strcmp(name, "program") != 0)
		return;
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
	report_stats();
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
	report_stats();
	control_line(buf);
	outl(PIER_PORT_EXIT, (uint32_t)(128 + sig) & 0x7f);
	cpu_halt_forever();
}
