/*
 * Unit tests for the VMM's small port devices: host/vmm/serial.c (COM1 as
 * a 16550 seen from the guest, with pipes for pier's stdin and stdout) and
 * host/vmm/cmos.c (the RTC's BCD time). Register offsets and bits are the
 * 16550's and the MC146818's, written out here rather than taken from the
 * code under test.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "vmm/cmos.h"
#include "vmm/serial.h"

/* 16550 registers (offsets from the base) and bits. */
#define RBR 0 /* receive buffer (read), THR (write), DLL with DLAB */
#define IER 1 /* interrupt enable, DLM with DLAB */
#define IIR 2 /* interrupt identification (read), FCR (write) */
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7
#define LCR_DLAB 0x80
#define LSR_DR 0x01   /* data ready */
#define LSR_THRE 0x20 /* transmit holding register empty */
#define LSR_TEMT 0x40 /* transmitter empty */

static struct serial s;
static int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
static char out[8192];

static int serial_up(void **state)
{
	(void)state;
	assert_int_equal(pipe2(in_pipe, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	serial_init(&s, in_pipe[0], out_pipe[1]);
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int serial_down(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		close_fd(&in_pipe[i]);
		close_fd(&out_pipe[i]);
	}
	return 0;
}

/* What arrived on "stdout" so far (the pipe is non-blocking). */
static size_t take_output(void)
{
	size_t got = 0;
	for (;;) {
		ssize_t n = read(out_pipe[0], out + got, sizeof(out) - 1 - got);
		if (n <= 0) {
			assert_true(n < 0 && errno == EAGAIN);
			break;
		}
		got += (size_t)n;
	}
	out[got] = 0;
	return got;
}

/* The guest writing a string to THR, byte by byte. */
static void put(const char *str)
{
	for (; *str; str++)
		serial_write(&s, RBR, (uint8_t)*str);
}

static void feed(const void *data, size_t len)
{
	assert_int_equal(write(in_pipe[1], data, len), (ssize_t)len);
}

/* ---- serial: registers ---- */

static void test_serial_initial_state(void **state)
{
	(void)state;
	assert_int_equal(serial_read(&s, LCR), 0x03); /* 8N1 */
	assert_int_equal(serial_read(&s, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(serial_read(&s, IIR) & 0x01, 0x01); /* no interrupt pending */
	assert_int_equal(serial_read(&s, IIR) & 0xc0, 0xc0); /* FIFOs enabled */
	assert_int_equal(serial_read(&s, MSR) & 0xb0, 0xb0); /* CTS, DSR, DCD */
	assert_int_equal(serial_read(&s, IER), 0);
	assert_int_equal(serial_read(&s, MCR), 0);
	assert_int_equal(serial_read(&s, SCR), 0);
	assert_int_equal(serial_read(&s, RBR), 0); /* nothing received */
	assert_int_equal(take_output(), 0);
}

static void test_serial_registers(void **state)
{
	(void)state;
	serial_write(&s, SCR, 0x5a);
	assert_int_equal(serial_read(&s, SCR), 0x5a);
	serial_write(&s, MCR, 0x0b);
	assert_int_equal(serial_read(&s, MCR), 0x0b);
	serial_write(&s, IER, 0x05);
	assert_int_equal(serial_read(&s, IER), 0x05);
	/* FCR writes and writes to read-only registers change nothing. */
	serial_write(&s, IIR, 0xc7);
	serial_write(&s, LSR, 0x00);
	serial_write(&s, MSR, 0x00);
	assert_int_equal(serial_read(&s, IIR) & 0x0f, 0x01);
	assert_int_equal(serial_read(&s, LSR), LSR_THRE | LSR_TEMT);
	/* Offsets past the eight registers are harmless. */
	serial_write(&s, 8, 'x');
	serial_write(&s, 0xffffffff, '\n');
	(void)serial_read(&s, 8);
	(void)serial_read(&s, 0xffffffff);
	assert_int_equal(take_output(), 0);
	assert_int_equal(s.out_len, 0);
	assert_int_equal(serial_read(&s, SCR), 0x5a);
}

static void test_serial_divisor_latch(void **state)
{
	(void)state;
	serial_write(&s, IER, 0x05);
	/* DLAB on: offsets 0 and 1 are the divisor (115200 / 12 = 9600). */
	serial_write(&s, LCR, LCR_DLAB | 0x03);
	assert_int_equal(serial_read(&s, LCR), LCR_DLAB | 0x03);
	serial_write(&s, RBR, 0x0c);
	serial_write(&s, IER, 0x01);
	assert_int_equal(serial_read(&s, RBR), 0x0c);
	assert_int_equal(serial_read(&s, IER), 0x01);
	/* Writing the divisor is not output. */
	serial_write(&s, RBR, '\n');
	assert_int_equal(s.out_len, 0);
	assert_int_equal(take_output(), 0);
	/* Received data waits while DLAB hides the receive buffer. */
	feed("Q", 1);
	assert_int_equal(serial_read(&s, RBR), '\n'); /* DLL, not the data */
	/* DLAB off: IER and the data registers are back, the divisor kept. */
	serial_write(&s, LCR, 0x03);
	assert_int_equal(serial_read(&s, IER), 0x05);
	assert_int_equal(serial_read(&s, LSR) & LSR_DR, LSR_DR);
	assert_int_equal(serial_read(&s, RBR), 'Q');
	serial_write(&s, LCR, LCR_DLAB | 0x03);
	assert_int_equal(serial_read(&s, RBR), '\n');
	assert_int_equal(serial_read(&s, IER), 0x01);
}

/* ---- serial: output ---- */

static void test_serial_output_line_buffered(void **state)
{
	(void)state;
	put("hel");
	assert_int_equal(take_output(), 0); /* held until the line ends */
	put("lo\n");
	assert_int_equal(take_output(), 6);
	assert_string_equal(out, "hello\n");
	/* A guest polls LSR once before each byte it sends; polling twice with
	 * nothing sent in between means it waits for input: a prompt shows. */
	put("prompt> ");
	assert_int_equal(take_output(), 0);
	assert_int_equal(serial_read(&s, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	serial_write(&s, RBR, '$');
	assert_int_equal(serial_read(&s, LSR) & LSR_THRE, LSR_THRE);
	assert_int_equal(take_output(), 0); /* one poll per byte: still buffered */
	assert_int_equal(serial_read(&s, LSR) & LSR_THRE, LSR_THRE);
	assert_int_equal(take_output(), 9);
	assert_string_equal(out, "prompt> $");
	/* The count starts again with the next byte. */
	put("x");
	(void)serial_read(&s, LSR);
	assert_int_equal(take_output(), 0);
	(void)serial_read(&s, LSR);
	assert_int_equal(take_output(), 1);
	/* And so does serial_flush (the VMM, before reports and at exit). */
	put("tail");
	serial_flush(&s);
	assert_int_equal(take_output(), 4);
	assert_string_equal(out, "tail");
	serial_flush(&s);
	assert_int_equal(take_output(), 0);
	/* Every byte value goes through unchanged. */
	for (unsigned v = 0; v < 256; v++)
		serial_write(&s, RBR, (uint8_t)v);
	serial_flush(&s);
	assert_int_equal(take_output(), 256);
	for (unsigned v = 0; v < 256; v++)
		assert_int_equal((uint8_t)out[v], v);
}

static void test_serial_output_full_buffer(void **state)
{
	(void)state;
	/* A line longer than the buffer goes out when the buffer is full. */
	size_t cap = sizeof(s.out_buf);
	for (size_t i = 0; i + 1 < cap; i++)
		serial_write(&s, RBR, (uint8_t)('a' + i % 26));
	assert_int_equal(take_output(), 0);
	serial_write(&s, RBR, 'Z');
	assert_int_equal(take_output(), cap);
	assert_int_equal(out[0], 'a');
	assert_int_equal(out[cap - 1], 'Z');
	assert_int_equal(s.out_len, 0);
	put("more\n");
	assert_int_equal(take_output(), 5);
}

static void test_serial_output_closed(void **state)
{
	(void)state;
	/* Nobody reads pier's stdout any more: the guest's output is dropped,
	 * nothing blocks or crashes. (SIGPIPE is ignored here; see the report
	 * about pier's own disposition.) */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigaction(SIGPIPE, &ign, &old);
	close_fd(&out_pipe[0]);
	put("lost line\n");
	put("lost");
	serial_flush(&s);
	assert_int_equal(s.out_len, 0);
	assert_int_equal(serial_read(&s, LSR) & LSR_THRE, LSR_THRE);
	sigaction(SIGPIPE, &old, NULL);
}

/* ---- serial: input ---- */

static void test_serial_input(void **state)
{
	(void)state;
	assert_int_equal(serial_read(&s, LSR) & LSR_DR, 0);
	feed("hi", 2);
	assert_int_equal(serial_read(&s, LSR) & LSR_DR, LSR_DR);
	assert_int_equal(serial_read(&s, RBR), 'h');
	assert_int_equal(serial_read(&s, LSR) & LSR_DR, LSR_DR);
	assert_int_equal(serial_read(&s, RBR), 'i');
	assert_int_equal(serial_read(&s, LSR) & LSR_DR, 0);
	assert_int_equal(serial_read(&s, RBR), 0);
	/* RBR alone (a guest that does not poll LSR) gets the data as well. */
	feed("k", 1);
	assert_int_equal(serial_read(&s, RBR), 'k');
	/* More than the device buffers at once: all of it, in order. */
	uint8_t big[1000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	feed(big, sizeof(big));
	for (size_t i = 0; i < sizeof(big); i++) {
		assert_int_equal(serial_read(&s, LSR) & LSR_DR, LSR_DR);
		assert_int_equal(serial_read(&s, RBR), big[i]);
	}
	assert_int_equal(serial_read(&s, LSR) & LSR_DR, 0);
	assert_false(s.in_eof);
}

static void test_serial_input_eof(void **state)
{
	(void)state;
	feed("z", 1);
	close_fd(&in_pipe[1]);
	/* Data before the end is still delivered. */
	assert_int_equal(serial_read(&s, LSR) & LSR_DR, LSR_DR);
	assert_int_equal(serial_read(&s, RBR), 'z');
	/* Then the end: no data, now or later, and no busy reading. */
	assert_int_equal(serial_read(&s, LSR) & LSR_DR, 0);
	assert_true(s.in_eof);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(serial_read(&s, LSR) & LSR_DR, 0);
		assert_int_equal(serial_read(&s, RBR), 0);
	}
	/* Output still works after the input ended. */
	put("bye\n");
	assert_int_equal(take_output(), 4);
}

static void test_serial_no_input(void **state)
{
	(void)state;
	serial_init(&s, -1, out_pipe[1]);
	assert_int_equal(serial_read(&s, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(serial_read(&s, RBR), 0);
	put("ok\n");
	assert_int_equal(take_output(), 3);
}

/* ---- CMOS ---- */

static bool bcd_ok(uint8_t v)
{
	return (v & 0x0f) <= 9 && (v >> 4) <= 9;
}

static int from_bcd(uint8_t v)
{
	assert_true(bcd_ok(v));
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t cmos_reg(struct cmos *c, uint8_t reg)
{
	cmos_write(c, CMOS_PORT_INDEX, reg);
	return cmos_read(c, CMOS_PORT_DATA);
}

static void test_cmos_time(void **state)
{
	(void)state;
	struct cmos c = { 0 };
	/* Read the clock as a guest does; retry if a second ticked meanwhile. */
	for (int attempt = 0;; attempt++) {
		assert_true(attempt < 10);
		time_t t0 = time(NULL);
		int sec = from_bcd(cmos_reg(&c, 0x00)), min = from_bcd(cmos_reg(&c, 0x02)),
		    hour = from_bcd(cmos_reg(&c, 0x04)), wday = from_bcd(cmos_reg(&c, 0x06)),
		    mday = from_bcd(cmos_reg(&c, 0x07)), mon = from_bcd(cmos_reg(&c, 0x08)),
		    year = from_bcd(cmos_reg(&c, 0x09)), century = from_bcd(cmos_reg(&c, 0x32));
		time_t t1 = time(NULL);
		if (t0 != t1)
			continue;
		struct tm tm;
		gmtime_r(&t0, &tm);
		assert_int_equal(sec, tm.tm_sec);
		assert_int_equal(min, tm.tm_min);
		assert_int_equal(hour, tm.tm_hour); /* UTC, 24-hour */
		assert_int_equal(wday, tm.tm_wday + 1); /* 1 = Sunday */
		assert_int_equal(mday, tm.tm_mday);
		assert_int_equal(mon, tm.tm_mon + 1);
		assert_int_equal(century * 100 + year, tm.tm_year + 1900);
		assert_true(century * 100 + year >= 2024);
		break;
	}
}

static void test_cmos_registers(void **state)
{
	(void)state;
	struct cmos c = { 0 };
	uint8_t a = cmos_reg(&c, 0x0a), b = cmos_reg(&c, 0x0b);
	assert_int_equal(a & 0x80, 0);    /* never "update in progress" */
	assert_int_equal(b & 0x02, 0x02); /* 24-hour */
	assert_int_equal(b & 0x04, 0);    /* BCD, not binary */
	assert_int_equal(b & 0x70, 0);    /* no interrupts */
	assert_int_equal(cmos_reg(&c, 0x0d) & 0x80, 0x80); /* battery good */
	/* Bit 7 of the index is the NMI mask, not part of the register number. */
	cmos_write(&c, CMOS_PORT_INDEX, 0x80 | 0x0b);
	assert_int_equal(cmos_read(&c, CMOS_PORT_DATA), b);
	/* The index port reads as nothing there; data writes change nothing. */
	assert_int_equal(cmos_read(&c, CMOS_PORT_INDEX), 0xff);
	cmos_write(&c, CMOS_PORT_INDEX, 0x0b);
	cmos_write(&c, CMOS_PORT_DATA, 0x00);
	assert_int_equal(cmos_read(&c, CMOS_PORT_DATA), b);
	/* Registers without a clock field read as 0 (alarm, NVRAM). */
	static const uint8_t empty[] = { 0x01, 0x03, 0x05, 0x0c, 0x0e, 0x10, 0x31, 0x33, 0x7f };
	for (size_t i = 0; i < sizeof(empty); i++)
		assert_int_equal(cmos_reg(&c, empty[i]), 0);
}

/* The transmitter-empty interrupt: raised when enabled and after a byte,
 * once until the IIR is read, never with the interrupt disabled. */
static unsigned edges;
static void count_edge(void *ctx)
{
	assert_ptr_equal(ctx, &s);
	edges++;
}

static void test_serial_transmit_interrupt(void **state)
{
	(void)state;
	s.irq = count_edge;
	s.irq_ctx = &s;
	edges = 0;
	serial_write(&s, RBR, 'a');
	assert_int_equal(edges, 0);                 /* not enabled: none */
	assert_int_equal(serial_read(&s, IIR) & 0x0f, 0x01);
	serial_write(&s, IER, 0x02);                /* enable THRI: empty now */
	assert_int_equal(edges, 1);
	serial_write(&s, RBR, 'b');                 /* still unacknowledged */
	serial_write(&s, RBR, '\n');
	assert_int_equal(edges, 1);
	assert_int_equal(serial_read(&s, IIR) & 0x0f, 0x02); /* THRI, acknowledged */
	assert_int_equal(serial_read(&s, IIR) & 0x0f, 0x01);
	serial_write(&s, RBR, 'c');
	assert_int_equal(edges, 2);
	serial_write(&s, IER, 0x00);                /* disabled: nothing pending */
	assert_int_equal(serial_read(&s, IIR) & 0x0f, 0x01);
	serial_write(&s, RBR, '\n');
	assert_int_equal(edges, 2);
	serial_flush(&s);
	assert_int_equal(read(out_pipe[0], out, sizeof(out)), 5);
	assert_memory_equal(out, "ab\nc\n", 5);
}

int main(void)
{
#define S(f) cmocka_unit_test_setup_teardown(f, serial_up, serial_down)
	const struct CMUnitTest tests[] = {
		S(test_serial_initial_state),
		S(test_serial_registers),
		S(test_serial_divisor_latch),
		S(test_serial_output_line_buffered),
		S(test_serial_output_full_buffer),
		S(test_serial_output_closed),
		S(test_serial_input),
		S(test_serial_input_eof),
		S(test_serial_no_input),
		S(test_serial_transmit_interrupt),
		cmocka_unit_test(test_cmos_time),
		cmocka_unit_test(test_cmos_registers),
	};
#undef S
	return cmocka_run_group_tests_name("vmm_devices", tests, NULL, NULL);
}
