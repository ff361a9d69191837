/*
 * The kernel console: COM1, with printf. Log lines get a "[seconds.nanos]"
 * timestamp when verbose logging is on.
 */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

void console_init(void);
void console_write(const char *s, size_t len);
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kvprintf(const char *fmt, va_list ap);

/* Turns "[seconds]" prefixes on every console line on or off. */
void console_set_timestamps(int on);

#endif
