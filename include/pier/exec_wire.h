/*
 * `pier-oci exec`: more programs in a running VM. They travel on the
 * console port pier.exec (include/pier/console_ctl.h) as records, one
 * byte stream each way, many sessions (one per exec'd program) on it:
 *
 *   host -> guest: SPAWN (what to run), STDIN, STDIN_EOF, SIGNAL, WINSIZE,
 *                  CLOSE (the host end went away)
 *   guest -> host: STARTED (its pid), STDOUT, STDERR, EXIT (wait status),
 *                  ERROR (it could not start: status and why), TERMIOS
 *                  (a terminal mode change), CREDIT (input taken)
 *
 * Input is windowed: the host has at most EXEC_WIRE_WINDOW bytes of STDIN
 * unacknowledged per session; the guest's CREDIT says how many more it
 * may send. So the guest never has to refuse a record and one slow reader
 * holds up nobody else. Output is the port's own flow control.
 *
 * The records are wire.h's (header: the session as its id).
 */
#ifndef PIER_EXEC_WIRE_H
#define PIER_EXEC_WIRE_H

#include <stdint.h>
#include <pier/wire.h>

enum exec_wire_kind {
	EXEC_SPAWN = 1,     /* struct exec_spawn, then a run_args block */
	EXEC_STDIN = 2,
	EXEC_STDIN_EOF = 3,
	EXEC_SIGNAL = 4,    /* u32 signal number */
	EXEC_CREDIT = 5,    /* u32 bytes */
	EXEC_CLOSE = 6,
	EXEC_STARTED = 7,   /* u32 pid */
	EXEC_STDOUT = 8,
	EXEC_STDERR = 9,
	EXEC_EXIT = 10,     /* u32 wait status, as wait4 gives it */
	EXEC_ERROR = 11,    /* u32 exit status (126, 127), then the message */
	EXEC_TERMIOS = 12,  /* the kernel's struct termios (CONSOLE_TERMIOS_BYTES) */
	EXEC_WINSIZE = 13,  /* host -> guest: the terminal's new size, u16 rows, u16 cols */
	EXEC_KINDS
};

/* SPAWN's fixed part. */
struct exec_spawn {
	uint32_t uid, gid;
	uint32_t flags;      /* EXEC_SPAWN_* */
	uint16_t rows, cols; /* the terminal's size (EXEC_SPAWN_TTY) */
	uint8_t termios[36]; /* its modes (EXEC_SPAWN_TERMIOS): the kernel's struct termios */
};
_Static_assert(sizeof(struct exec_spawn) == 52, "exec_spawn layout");
#define EXEC_SPAWN_TTY 1u     /* stdin, stdout and stderr are one terminal */
#define EXEC_SPAWN_TERMIOS 2u /* termios holds its modes */

/* A data record's payload, at most (STDIN, STDOUT, STDERR). */
#define EXEC_WIRE_DATA_MAX (16u * 1024)
/* Unacknowledged STDIN bytes a session may have in flight. */
#define EXEC_WIRE_WINDOW (64u * 1024)

#endif
