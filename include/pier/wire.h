/*
 * Records on a console port's byte stream: pier.exec (exec_wire.h) and
 * pier.net (net_wire.h) cut their streams the same way. Every record is a
 * 12-byte header and `len` bytes of payload; integers little-endian (both
 * sides x86_64). wire_feed cuts a byte stream into records and refuses a
 * header it cannot trust, for the guest and the host alike.
 */
#ifndef PIER_WIRE_H
#define PIER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wire_header {
	uint32_t id;        /* exec: the session; net: the call's number or the socket */
	uint16_t kind;      /* the port's own kinds, 1 up to its reader's limit */
	uint16_t flags;     /* 0 */
	uint32_t len;       /* payload bytes after the header */
};
_Static_assert(sizeof(struct wire_header) == 12, "wire_header layout");

/* The largest payload; a record fits one 64 KiB transmit buffer. */
#define WIRE_PAYLOAD_MAX (64u * 1024 - sizeof(struct wire_header))

struct wire_reader {
	struct wire_header h;
	uint32_t have;      /* bytes of the current record (header included) */
	uint16_t kinds;     /* kinds are 1 .. kinds - 1 */
	bool broken;        /* a bad header came: nothing more is trusted */
	uint8_t buf[sizeof(struct wire_header) + WIRE_PAYLOAD_MAX];
};

void wire_reader_init(struct wire_reader *r, uint16_t kinds);

/*
 * Takes bytes from p (n of them) until one record is whole: returns how
 * many it took, and sets *done when r->h and r->buf hold a record
 * (payload at wire_payload(r)). The caller handles it and calls again with
 * the rest. A header with a kind out of range, flags, or a length over
 * the limit sets r->broken (and takes everything from then on).
 */
size_t wire_feed(struct wire_reader *r, const uint8_t *p, size_t n, bool *done);

/* The payload of the record just completed. */
static inline const uint8_t *wire_payload(const struct wire_reader *r)
{
	return r->buf + sizeof(struct wire_header);
}

/* Writes a header for kind and len into out. Returns its size. */
size_t wire_put_header(void *out, uint32_t id, unsigned kind, uint32_t len);

#endif
