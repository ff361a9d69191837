/*
 * COM1 serial console (16550 UART at 0x3f8). Output is polled: the kernel
 * never waits for interrupts to print, so early and panic output always get
 * through. Bytes are gathered into the UART's 16-byte transmit FIFO and
 * sent with one `rep outsb` once it is empty: one VM exit per 16 bytes
 * instead of two per byte. Every public function leaves nothing buffered,
 * so console output always precedes what the control port says next.
 */
#include <pier/fmt.h>
#include "../arch/x86_64/cpu.h"
#include "console.h"
#include "spinlock.h"
#include "time.h"

#define COM1 0x3f8
#define LSR_THR_EMPTY 0x20

static int timestamps;
static int quiet;
static int at_line_start = 1;

void console_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB on to set the divisor */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1, DLAB off */
	outb(COM1 + 2, 0xc7); /* FIFOs on and cleared */
	outb(COM1 + 4, 0x03); /* DTR, RTS */
}

#define UART_FIFO 16
static char fifo[UART_FIFO];
static unsigned fifo_len;

/*
 * Waits until the UART takes bytes again. A reader that is slow (pier's
 * stderr relay on a loaded host, for a tenth of a second or more) holds
 * the line busy: writing anyway would lose the bytes, so the wait is long
 * (2 s). A UART that never empties is missing: after one such wait the
 * kernel stops waiting for it, rather than hang.
 */
static void serial_wait(void)
{
	static int missing;
	if (missing || (inb(COM1 + 5) & LSR_THR_EMPTY))
		return;
	uint64_t start = time_ns();
	for (unsigned i = 0;; i++) {
		if (inb(COM1 + 5) & LSR_THR_EMPTY)
			return;
		/* Before the clock runs (time_ns() 0), count reads instead. */
		if (start ? time_ns() - start > 2000000000ULL : i > 1000000) {
			missing = 1;
			return;
		}
	}
}

static void serial_flush(void)
{
	if (!fifo_len)
		return;
	serial_wait();
	outsb(COM1, fifo, fifo_len);
	fifo_len = 0;
}

static void serial_putc(char c)
{
	fifo[fifo_len++] = c;
	if (fifo_len == UART_FIFO)
		serial_flush();
}

int console_readable(void)
{
	return inb(COM1 + 5) & 1;
}

size_t console_read(char *buf, size_t len)
{
	size_t n = 0;
	while (n < len && (inb(COM1 + 5) & 1)) /* LSR data ready */
		buf[n++] = (char)inb(COM1);
	return n;
}

static void put_timestamp(void)
{
	char buf[32];
	uint64_t ns = time_ns();
	int n = fmt_snprintf(buf, sizeof(buf), "[%5llu.%09llu] ",
			     (unsigned long long)(ns / 1000000000),
			     (unsigned long long)(ns % 1000000000));
	for (int i = 0; i < n; i++)
		serial_putc(buf[i]);
}

static void console_putc(char c)
{
	if (at_line_start && timestamps)
		put_timestamp();
	if (c == '\n')
		serial_putc('\r');
	serial_putc(c);
	at_line_start = c == '\n';
}

/* The serial line and the line-start state: a line leaves whole. */
static struct spinlock console_lock = SPINLOCK_INIT(&lock_class_console);

void console_write(const char *s, size_t len)
{
	uint64_t flags = spin_lock_irqsave(&console_lock);
	for (size_t i = 0; i < len; i++)
		console_putc(s[i]);
	serial_flush();
	spin_unlock_irqrestore(&console_lock, flags);
}

void console_set_timestamps(int on)
{
	timestamps = on;
}

int console_is_quiet(void)
{
	return quiet;
}

int console_set_quiet(int on)
{
	int was = quiet;
	quiet = on;
	return was;
}

void console_write_raw(const char *s, size_t len)
{
	uint64_t flags = spin_lock_irqsave(&console_lock);
	for (size_t i = 0; i < len; i++)
		serial_putc(s[i]);
	serial_flush();
	if (len)
		at_line_start = s[len - 1] == '\n';
	spin_unlock_irqrestore(&console_lock, flags);
}

static void sink(void *ctx, char c)
{
	(void)ctx;
	console_putc(c);
}

int kvprintf(const char *fmt, va_list ap)
{
	if (quiet)
		return 0;
	uint64_t flags = spin_lock_irqsave(&console_lock);
	int n = fmt_vformat(sink, NULL, fmt, ap);
	serial_flush();
	spin_unlock_irqrestore(&console_lock, flags);
	return n;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}
