/* pier's terminal (see terminal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "terminal.h"

static struct {
	uint32_t tty;       /* streams the program is told are terminals */
	uint32_t real;      /* streams that really are */
	uint8_t saved[3][CONSOLE_TERMIOS_BYTES];
	uint8_t prog[3][CONSOLE_TERMIOS_BYTES]; /* the program's last, per stream */
	uint32_t set;       /* streams the program set modes on */
	bool changed;       /* the program set modes: restore at the end */
} term;

/* A plain cooked terminal, for --tty without one (the kernel's defaults:
 * ICRNL IXON, OPOST ONLCR, B38400 CS8 CREAD HUPCL, ISIG ICANON ECHO...). */
static void default_modes(uint8_t *t)
{
	static const uint8_t cc[19] = { 3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22 };
	uint32_t flags[4] = { 0x0500, 0x0005, 0x04bf, 0x8a3b };
	memset(t, 0, CONSOLE_TERMIOS_BYTES);
	memcpy(t, flags, sizeof(flags));
	memcpy(t + 17, cc, sizeof(cc)); /* after the four flags and c_line */
}

void terminal_init(bool force)
{
	for (int fd = 0; fd < 3; fd++)
		if (ioctl(fd, TCGETS, term.saved[fd]) == 0)
			term.real |= 1u << fd;
	term.tty = force ? 7 : term.real;
	atexit(terminal_restore);
}

/* The first real terminal among 0-2, or -1. */
static int first_tty(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (term.real >> fd & 1)
			return fd;
	return -1;
}

void terminal_hello(struct console_ctl_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = CONSOLE_CTL_HELLO;
	m->tty = term.tty;
	struct stat a, b;
	if (fstat(STDOUT_FILENO, &a) == 0 && fstat(STDERR_FILENO, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		m->how |= CONSOLE_HELLO_SHARED_OUTPUT; /* same file: at least it may be */
	int fd = first_tty();
	if (fd >= 0)
		memcpy(m->termios, term.saved[fd], sizeof(m->termios));
	else
		default_modes(m->termios);
	struct console_ctl_msg w;
	m->rows = 24;
	m->cols = 80;
	if (terminal_winsize(&w)) {
		m->rows = w.rows;
		m->cols = w.cols;
	}
}

bool terminal_winsize(struct console_ctl_msg *m)
{
	struct winsize ws;
	int fd = first_tty();
	if (fd < 0 || ioctl(fd, TIOCGWINSZ, &ws) || !ws.ws_row || !ws.ws_col)
		return false;
	memset(m, 0, sizeof(*m));
	m->type = CONSOLE_CTL_WINSIZE;
	m->rows = ws.ws_row;
	m->cols = ws.ws_col;
	return true;
}

void terminal_apply(const struct console_ctl_msg *m)
{
	if (m->arg > 2 || !(term.real >> m->arg & 1) ||
	    (m->how != TCSETS && m->how != TCSETSW && m->how != TCSETSF))
		return;
	term.changed = true;
	term.set |= 1u << m->arg;
	memcpy(term.prog[m->arg], m->termios, CONSOLE_TERMIOS_BYTES);
	uint8_t t[CONSOLE_TERMIOS_BYTES];
	memcpy(t, m->termios, sizeof(t));
	while (ioctl((int)m->arg, m->how, t) < 0 && errno == EINTR)
		;
}

bool terminal_stdin_is_tty(void)
{
	return term.real & 1;
}

void terminal_restore(void)
{
	if (!term.changed)
		return;
	int e = errno;
	for (int fd = 0; fd < 3; fd++)
		if (term.real >> fd & 1)
			ioctl(fd, TCSETSW, term.saved[fd]);
	errno = e;
}

void terminal_suspend(void)
{
	terminal_restore();
}

void terminal_resume(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (term.set >> fd & 1)
			ioctl(fd, TCSETSW, term.prog[fd]);
}
