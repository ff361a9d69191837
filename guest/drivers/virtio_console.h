/*
 * The virtio console (virtio 1.2, 5.3) with the multiport feature: the
 * program's stdin, stdout and stderr and pier's control records, each on a
 * port the host names (include/pier/console_ctl.h). Ports are found by
 * name, whatever their numbers.
 *
 * Reads take what the host has sent, waiting when nothing is there; the
 * host closing its end of a port is end-of-file once every byte before it
 * is read. Writes are copied into the port's transmit buffers and return:
 * the host consumes them in the background, at its own pace (flow control:
 * a writer waits only when all its buffers are in flight). Output to two
 * ports keeps its order: a write to one port first waits until the other
 * ports' buffers are consumed.
 */
#ifndef GUEST_VIRTIO_CONSOLE_H
#define GUEST_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pier/console_ctl.h>

enum vcon_stream { VCON_STDIN, VCON_STDOUT, VCON_STDERR, VCON_CTL, VCON_STREAMS };

/*
 * Finds the device, sets it up and waits (a few seconds at most) for the
 * host's ports and its HELLO record. Returns 0, or -ENODEV (no device, or
 * not pier's ports: the caller keeps the serial console) or -EIO.
 */
int vcon_init(void);

/* Whether vcon_init succeeded. */
bool vcon_present(void);

/*
 * Reads up to len bytes of stdin into buf (kernel or checked user memory).
 * Returns the bytes read (at least 1), 0 at end of file, -EAGAIN when
 * nonblock and nothing is there, -EINTR when a signal came in meanwhile.
 */
int64_t vcon_read(void *buf, size_t len, bool nonblock);

/* Whether a read would not wait (data or end of file). */
bool vcon_readable(void);

/*
 * Writes len bytes to stdout or stderr. Returns len, the bytes written
 * before the host closed the port, or -EPIPE when it was closed already.
 */
int64_t vcon_write(enum vcon_stream s, const void *buf, size_t len);

/* Whether the host has closed stream s (a write would fail with EPIPE). */
bool vcon_closed(enum vcon_stream s);

/* Takes in what the device has sent (signals among it); cheap when idle. */
void vcon_poll(void);

/* Waits until the host has consumed all output. */
void vcon_flush(void);

/* The host's HELLO: terminals (bit n: fd n), modes and size. */
uint32_t vcon_tty_mask(void);
const struct console_ctl_msg *vcon_tty_state(void);

/* Asks the host to set the terminal modes of fd (TCSETS/W/F in how). */
int vcon_set_termios(int fd, uint32_t how, const void *termios);

/* The ports that carry records (include/pier/wire.h). */
enum vcon_records { VCON_EXEC, VCON_NET, VCON_RECORD_PORTS };
struct wire_header;

/* From now on which's records go to on_record, called wherever the
 * device is looked at (so it must not wait): its receive buffers go to
 * the device now, or once the port is named. */
void vcon_records_start(enum vcon_records which,
			void (*on_record)(const struct wire_header *h, const uint8_t *payload));
/* Whether the host offers that port (and has not closed it). */
bool vcon_records_offered(enum vcon_records which);

/* A piece of a record's payload. */
struct vcon_part {
	const void *p;
	size_t len;
};
/*
 * Sends one record (payload: the parts, at most WIRE_PAYLOAD_MAX in all),
 * waiting for a transmit buffer. 0, -EPIPE (the host closed the port),
 * -EINTR (interruptible, and a signal came meanwhile), -EIO or -EINVAL.
 */
int vcon_records_send(enum vcon_records which, uint32_t id, unsigned kind,
		      const struct vcon_part *parts, unsigned nparts, bool interruptible);
/* Handed each SIGNAL record's number (set by the system-call layer). */
extern void (*vcon_on_signal)(int sig);
/* Asked while waiting whether to give up with EINTR. */
extern bool (*vcon_interrupted)(void);

#endif
