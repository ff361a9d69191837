/*
 * A small printf engine for the freestanding guest (and host unit tests).
 * Supports %d %i %u %x %X %o %p %s %c %%, the l/ll/z/h length modifiers,
 * width, precision for %s, and the '-', '0' flags.
 */
#ifndef PIER_FMT_H
#define PIER_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Called for every output character. */
typedef void (*fmt_sink)(void *ctx, char c);

/* Formats into a sink; returns the number of characters produced. */
int fmt_vformat(fmt_sink sink, void *ctx, const char *fmt, va_list ap);

/*
 * Formats into buf (always NUL-terminated when size > 0); returns the length
 * the full output would have had, like C99 vsnprintf.
 */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
