/*
 * COM1 (see serial.h). Output is buffered until a newline, a full buffer,
 * or the guest polling the line status twice without sending (it waits for
 * input, and a prompt must show), so a line costs one write(2).
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include "serial.h"

#define LCR_DLAB 0x80
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
#define LSR_IDLE 0x40
#define IER_THRI 0x02
#define IIR_NONE 0xc1    /* FIFOs on, no interrupt pending */
#define IIR_THRI 0xc2    /* FIFOs on, transmitter empty */

/* The transmitter is always empty at once: with its interrupt enabled,
 * each time it empties is an interrupt, and one edge until the guest
 * reads the IIR covers every byte sent meanwhile (Linux fills the FIFO
 * from its handler: one edge per 16 bytes, not one per byte). */
static void thr_empty(struct serial *s)
{
	if (!(s->ier & IER_THRI) || s->thr_irq)
		return;
	s->thr_irq = true;
	if (s->irq)
		s->irq(s->irq_ctx);
}

void serial_init(struct serial *s, int in_fd, int out_fd)
{
	*s = (struct serial){ .in_fd = in_fd, .out_fd = out_fd, .lcr = 0x03 };
}

void serial_flush(struct serial *s)
{
	size_t done = 0;
	while (done < s->out_len) {
		ssize_t n = write(s->out_fd, s->out_buf + done, s->out_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* stdout gone: the guest's output is dropped */
		done += (size_t)n;
	}
	s->out_len = 0;
}

/* Takes what is waiting on stdin without blocking. */
static void fill_input(struct serial *s)
{
	if (s->in_len || s->in_eof || s->in_fd < 0)
		return;
	struct pollfd p = { s->in_fd, POLLIN, 0 };
	if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
		return;
	ssize_t n = read(s->in_fd, s->in_buf, sizeof(s->in_buf));
	if (n <= 0) {
		s->in_eof = n == 0 || errno != EINTR;
		return;
	}
	s->in_head = 0;
	s->in_len = (size_t)n;
}

void serial_write(struct serial *s, unsigned off, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;
	switch (off) {
	case 0:
		if (dlab) {
			s->dll = v;
			break;
		}
		s->idle_polls = 0;
		s->out_buf[s->out_len++] = (char)v;
		if (v == '\n' || s->out_len == sizeof(s->out_buf))
			serial_flush(s);
		thr_empty(s);
		break;
	case 1:
		if (dlab) {
			s->dlm = v;
		} else {
			bool was = s->ier & IER_THRI;
			s->ier = v;
			if (!was)
				thr_empty(s);
			else if (!(v & IER_THRI))
				s->thr_irq = false;
		}
		break;
	case 3: s->lcr = v; break;
	case 4: s->mcr = v; break;
	case 7: s->scr = v; break;
	default: break; /* FIFO control, read-only registers */
	}
}

uint8_t serial_read(struct serial *s, unsigned off)
{
	bool dlab = s->lcr & LCR_DLAB;
	switch (off) {
	case 0:
		if (dlab)
			return s->dll;
		fill_input(s);
		if (!s->in_len)
			return 0;
		s->in_len--;
		return s->in_buf[s->in_head++];
	case 1: return dlab ? s->dlm : s->ier;
	case 2:                          /* reading the IIR acknowledges THRI */
		if (s->thr_irq) {
			s->thr_irq = false;
			return IIR_THRI;
		}
		return IIR_NONE;
	case 3: return s->lcr;
	case 4: return s->mcr;
	case 5:
		if (++s->idle_polls >= 2)
			serial_flush(s);
		fill_input(s);
		return LSR_THR_EMPTY | LSR_IDLE | (s->in_len ? LSR_DATA_READY : 0);
	case 6: return 0xb0;             /* CTS, DSR, DCD */
	default: return s->scr;
	}
}
