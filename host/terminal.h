/*
 * pier's own standard streams as the program sees them: which are
 * terminals, their modes and size (sent to the guest in the console's
 * HELLO record), the modes the program sets (applied to pier's terminal,
 * whose line discipline then echoes, edits lines and turns ^C into
 * SIGINT exactly as for a local program), and putting every terminal back
 * the way it was on every way out of pier.
 */
#ifndef HOST_TERMINAL_H
#define HOST_TERMINAL_H

#include <stdbool.h>
#include <pier/console_ctl.h>

/* Looks at fds 0-2 and saves their modes; force: --tty (the program's
 * streams are terminals even where pier's are not). */
void terminal_init(bool force);

/* The HELLO record: terminal streams, modes, size. */
void terminal_hello(struct console_ctl_msg *m);

/* A WINSIZE record with the terminal's current size; false when there is
 * no terminal to ask. */
bool terminal_winsize(struct console_ctl_msg *m);

/* A SET_TERMIOS record from the guest (checked: stream 0-2 and a
 * terminal, how one of TCSETS, TCSETSW, TCSETSF). */
void terminal_apply(const struct console_ctl_msg *m);

/* Whether pier's stdin is a terminal (its end of file, ^D, is one read's). */
bool terminal_stdin_is_tty(void);

/* Puts the saved modes back. Async-signal-safe; idempotent. */
void terminal_restore(void);

/* Around a ^Z: the saved modes back for the shell, then the program's
 * again. */
void terminal_suspend(void);
void terminal_resume(void);

#endif
