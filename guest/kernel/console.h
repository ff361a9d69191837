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

/*
 * Quiet: kprintf prints nothing (while a program runs, so its output is
 * all there is on the console); returns the previous setting. Panics and
 * fault reports turn it off first.
 */
int console_set_quiet(int on);
int console_is_quiet(void);

/* The program's output: bytes as they are, no "\r" added, no timestamps. */
void console_write_raw(const char *s, size_t len);

/* Reads what the console has received, without waiting; bytes read. */
size_t console_read(char *buf, size_t len);
int console_readable(void);

#endif
