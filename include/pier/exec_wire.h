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
 * Every record is a header and `len` bytes; integers little-endian (both
 * sides x86_64). exec_wire_reader cuts a byte stream into records and
 * refuses a header it cannot trust, for the guest and the host alike.
 */
#ifndef PIER_EXEC_WIRE_H
#define PIER_EXEC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct exec_wire_header {
	uint32_t session;   /* the host's number for the exec'd program; 0: none */
	uint16_t kind;
	uint16_t flags;     /* 0 */
	uint32_t len;       /* payload bytes after the header */
};
_Static_assert(sizeof(struct exec_wire_header) == 12, "exec_wire_header layout");

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

/* The largest payload; a record fits one 64 KiB transmit buffer. */
#define EXEC_WIRE_PAYLOAD_MAX (64u * 1024 - sizeof(struct exec_wire_header))
/* A data record's payload, at most (STDIN, STDOUT, STDERR). */
#define EXEC_WIRE_DATA_MAX (16u * 1024)
/* Unacknowledged STDIN bytes a session may have in flight. */
#define EXEC_WIRE_WINDOW (64u * 1024)

struct exec_wire_reader {
	struct exec_wire_header h;
	uint32_t have;      /* bytes of the current record (header included) */
	bool broken;        /* a bad header came: nothing more is trusted */
	uint8_t buf[sizeof(struct exec_wire_header) + EXEC_WIRE_PAYLOAD_MAX];
};

void exec_wire_reader_init(struct exec_wire_reader *r);

/*
 * Takes bytes from p (n of them) until one record is whole: returns how
 * many it took, and sets *done when r->h and r->buf hold a record
 * (payload at r->buf + sizeof header). The caller handles it and calls
 * again with the rest. A header with a kind it does not know or a length
 * over the limit sets r->broken (and takes everything from then on).
 */
size_t exec_wire_feed(struct exec_wire_reader *r, const uint8_t *p, size_t n, bool *done);

/* The payload of the record just completed. */
static inline const uint8_t *exec_wire_payload(const struct exec_wire_reader *r)
{
	return r->buf + sizeof(struct exec_wire_header);
}

/* Writes a header for kind and len into out. Returns its size. */
size_t exec_wire_header(void *out, uint32_t session, enum exec_wire_kind kind, uint32_t len);

#endif
