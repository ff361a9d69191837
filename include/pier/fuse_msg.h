/*
 * Building FUSE requests and checking FUSE replies, with no I/O: the guest's
 * FUSE client uses this, and so do host unit tests and fuzzers. The server
 * is untrusted: every reply is checked here before the client reads it.
 * Wire structures come from <linux/fuse.h>.
 */
#ifndef PIER_FUSE_MSG_H
#define PIER_FUSE_MSG_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/fuse.h>

#define FUSE_NAME_MAX 255  /* longest file name we send or accept */
#define FUSE_MIN_MINOR 27  /* oldest protocol minor we talk to (virtiofsd era) */

/* Fills a request header; `len` is the whole request including the header. */
void fuse_msg_header(struct fuse_in_header *h, uint32_t opcode, uint64_t unique,
		     uint64_t nodeid, uint32_t len);

/*
 * Checks a reply header: the device wrote `written` bytes. Returns the
 * payload length (>= 0), the server's error (negative errno,
 * -1..-FUSE_MSG_ERRNO_MAX),
 * or -EPROTO when the header is short, its length disagrees with
 * `written`, its unique does not match, or a "success" carries an error
 * of the wrong sign.
 */
/* The largest errno a server may answer with: from 512 up errnos are
 * kernel-internal (ERESTARTSYS...), refused as Linux's FUSE device does. */
#define FUSE_MSG_ERRNO_MAX 511
int64_t fuse_msg_reply(const struct fuse_out_header *h, uint32_t written, uint64_t unique);

/* Opcodes below this have a name (FUSE_TMPFILE is 51): counters index by it. */
#define FUSE_MSG_OPCODES 52

/* The opcode's name without "FUSE_" ("LOOKUP"), or NULL for one without. */
const char *fuse_msg_opcode_name(uint32_t opcode);

/* Whether name is a valid single path component to send (no '/', no NUL). */
bool fuse_msg_name_ok(const char *name, uint32_t len);

/* Whether the attributes are plausible: a known file type, sane sizes. */
bool fuse_msg_attr_ok(const struct fuse_attr *a);

/*
 * Payload checkers: copy the reply into *out when it is well formed and
 * return 0, else -EPROTO. Shorter replies from older protocol minors are
 * accepted where the protocol allows it, with the missing tail zeroed.
 */
int fuse_msg_entry(const void *p, uint32_t len, struct fuse_entry_out *out);
int fuse_msg_attr(const void *p, uint32_t len, struct fuse_attr_out *out);
int fuse_msg_open(const void *p, uint32_t len, struct fuse_open_out *out);
int fuse_msg_statfs(const void *p, uint32_t len, struct fuse_statfs_out *out);
int fuse_msg_init(const void *p, uint32_t len, struct fuse_init_out *out);

/* One directory entry from a READDIR or READDIRPLUS reply. */
struct fuse_dirent_view {
	uint64_t ino, off;
	uint32_t type;                  /* DT_* as in struct fuse_dirent */
	const char *name;               /* not NUL-terminated */
	uint32_t namelen;
	struct fuse_entry_out entry;    /* READDIRPLUS only */
};

/*
 * Steps through a READDIR(PLUS) reply of `len` bytes from *pos. Returns 1
 * with *out filled, 0 at the end, -EPROTO for a record that does not fit,
 * an empty, too long or '/'-containing name, or bad READDIRPLUS attributes.
 */
int fuse_msg_dirent_next(const void *buf, uint32_t len, uint32_t *pos, bool plus,
			 struct fuse_dirent_view *out);

#endif
