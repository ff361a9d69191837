/*
 * COM1 as a 16550 UART seen from the guest: bytes written to it go to
 * pier's stdout, bytes on pier's stdin arrive as received data. Pier's
 * kernel polls the line status; Linux's driver sends a process's output
 * only on the transmitter-empty interrupt, so that one is raised (through
 * `irq`) when the guest enables it and after each byte. Received data
 * raises none: a guest that wants input polls. No modem lines.
 */
#ifndef HOST_VMM_SERIAL_H
#define HOST_VMM_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1 0x3f8
#define SERIAL_PORTS 8

struct serial {
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	int in_fd, out_fd;
	bool in_eof;
	uint8_t in_buf[256];
	size_t in_head, in_len;
	char out_buf[4096];
	size_t out_len;
	unsigned idle_polls;  /* line-status reads since the last byte sent */
	bool thr_irq;         /* a transmitter-empty interrupt is pending */
	void (*irq)(void *ctx); /* raises COM1's interrupt line; may be NULL */
	void *irq_ctx;
};

#define SERIAL_COM1_IRQ 4

void serial_init(struct serial *s, int in_fd, int out_fd);
/* Port offset 0..7 from the base. */
void serial_write(struct serial *s, unsigned off, uint8_t v);
uint8_t serial_read(struct serial *s, unsigned off);
/* Writes out whatever output is buffered. */
void serial_flush(struct serial *s);

#endif
