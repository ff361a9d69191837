/* The program's standard streams (see stdio.h). */
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <asm-generic/termios.h>
#include <linux/fcntl.h>
#include <asm-generic/poll.h>
#include <linux/signal.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../drivers/virtio_console.h"
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "../mm/vm.h"
#include "signal.h"
#include "exec_session.h"
#include "stdio.h"
#include "process.h"

_Static_assert(sizeof(struct termios) == CONSOLE_TERMIOS_BYTES, "kernel termios size");

static bool interrupted(void)
{
	return signal_interrupts();
}

void stdio_init(void)
{
	vcon_on_signal = signal_from_host;
	vcon_interrupted = interrupted;
	for (int fd = 0; fd < 3; fd++) {
		struct ofile *of = ofile_new(OF_CONSOLE);
		of->flags = fd == 0 ? O_RDONLY : O_WRONLY;
		of->stream = fd;
		fd_install(of, fd, false);
	}
	if (vcon_present())
		exec_session_init();
}

/* The stream an ofile stands for: its own, or for the terminal (opened
 * as /dev/tty or /dev/console) the first standard stream that is one. */
static int stream_of(const struct ofile *of)
{
	if (of->stream != STDIO_TERMINAL)
		return of->stream;
	uint32_t mask = vcon_present() ? vcon_tty_mask() : 7;
	for (int s = 0; s < 3; s++)
		if (mask >> s & 1)
			return s;
	return 1;
}

int stdio_open_terminal(uint32_t minor, uint64_t flags)
{
	/* /dev/tty (5:0) is the controlling terminal, which only a console
	 * with a terminal gives; /dev/console (5:1) is the console itself. */
	if (minor == 0 && vcon_present() && !vcon_tty_mask())
		return -ENXIO;
	struct ofile *of = ofile_new(OF_CONSOLE);
	if (!of)
		return -ENOMEM;
	of->flags = (uint32_t)flags & (O_ACCMODE | O_NONBLOCK);
	of->stream = STDIO_TERMINAL;
	int fd = fd_install(of, 0, flags & O_CLOEXEC);
	if (fd < 0)
		ofile_put(of);
	return fd;
}

bool stdio_is_terminal(const struct ofile *of)
{
	if (of->obj)
		return exec_session_is_terminal(of);
	return !vcon_present() || (vcon_tty_mask() >> stream_of(of) & 1);
}

int64_t stdio_read(struct ofile *of, void *buf, uint64_t len)
{
	if (of->obj) /* a stream of pier-oci exec's program */
		return exec_session_read(of, buf, len);
	if (!vcon_present())
		return (int64_t)console_read(buf, len);
	if (of->stream != 0 && of->stream != STDIO_TERMINAL)
		return -EBADF; /* the output ports carry nothing to read */
	return vcon_read(buf, len, of->flags & O_NONBLOCK);
}

int64_t stdio_write(struct ofile *of, const void *buf, uint64_t len)
{
	/* pier run --timing's "first-output": the thesis timed a program's
	 * start to its first output. Any writer's first byte counts; one CPU
	 * runs the kernel, so a plain flag is enough. */
	static bool said;
	if (!said && len) {
		said = true;
		control_milestone("first-output");
	}
	if (of->obj)
		return exec_session_write(of, buf, len);
	if (!vcon_present()) {
		console_write_raw(buf, len);
		return (int64_t)len;
	}
	int stream = stream_of(of);
	if (stream == 0)
		stream = 1; /* the terminal is stdin's alone: write where its output goes */
	if (of->stream == 0)
		return -EBADF;
	int64_t r = vcon_write(stream == 1 ? VCON_STDOUT : VCON_STDERR, buf, len);
	if (r == -EPIPE)
		signal_post(SIGPIPE); /* as a pipe without readers does */
	return r;
}

short stdio_poll(struct ofile *of)
{
	if (of->obj)
		return exec_session_poll(of);
	if (!vcon_present())
		return POLLOUT | (console_readable() ? POLLIN : 0);
	/* Only a reader's poll looks at stdin: that starts pier taking input. */
	short in = of->stream == 0 || of->stream == STDIO_TERMINAL ? (vcon_readable() ? POLLIN : 0)
								    : 0;
	if (of->stream == 0)
		return in;
	int out = stream_of(of) == 2 ? VCON_STDERR : VCON_STDOUT;
	return in | (vcon_closed(out) ? POLLERR : POLLOUT);
}

int64_t stdio_pgrp_ioctl(uint64_t cmd, uint64_t arg, int sid, int *fg_pgrp)
{
	if (cmd == TIOCSPGRP) {
		int pgrp;
		if (copy_from_user(&pgrp, arg, sizeof(pgrp)))
			return -EFAULT;
		if (pgrp <= 0)
			return -EINVAL;
		*fg_pgrp = pgrp;
		return 0;
	}
	int id = cmd == TIOCGSID ? sid : *fg_pgrp;
	return copy_to_user(arg, &id, sizeof(id));
}

static bool is_tty(const struct ofile *of)
{
	return stdio_is_terminal(of);
}

/* Without pier's console: the serial line, said to be a plain terminal. */
static void serial_termios(struct termios *t)
{
	memset(t, 0, sizeof(*t));
	t->c_iflag = ICRNL;
	t->c_oflag = OPOST | ONLCR;
	t->c_cflag = B115200 | CS8 | CREAD;
	t->c_lflag = ISIG | ICANON | ECHO | ECHOE;
}

int64_t stdio_ioctl(struct ofile *of, uint64_t cmd, uint64_t arg)
{
	if (of->obj)
		return exec_session_ioctl(of, cmd, arg);
	if (cmd == FIONREAD) {
		int n = (of->stream == 0 || of->stream == STDIO_TERMINAL) && stdio_poll(of) & POLLIN
				? 1 : 0; /* at least */
		return copy_to_user(arg, &n, sizeof(n));
	}
	if (!is_tty(of))
		return -ENOTTY;
	const struct console_ctl_msg *st = vcon_tty_state();
	switch (cmd) {
	case TCGETS: {
		struct termios t;
		if (vcon_present())
			memcpy(&t, st->termios, sizeof(t));
		else
			serial_termios(&t);
		return copy_to_user(arg, &t, sizeof(t));
	}
	case TCSETS: case TCSETSW: case TCSETSF: {
		struct termios t;
		if (copy_from_user(&t, arg, sizeof(t)))
			return -EFAULT;
		return vcon_present() ? vcon_set_termios(stream_of(of), (uint32_t)cmd, &t) : 0;
	}
	case TIOCGWINSZ: {
		struct winsize w = { .ws_row = 24, .ws_col = 80 };
		if (vcon_present() && st->rows && st->cols) {
			w.ws_row = st->rows;
			w.ws_col = st->cols;
		}
		return copy_to_user(arg, &w, sizeof(w));
	}
	case TIOCSWINSZ:
		return 0; /* the host's terminal decides its size */
	case TIOCGPGRP: case TIOCGSID: case TIOCSPGRP:
		/* pier's console is pid 1's session's controlling terminal. */
		return stdio_pgrp_ioctl(cmd, arg, 1, &tty_foreground_pgrp);
	default:
		return -ENOTTY;
	}
}
