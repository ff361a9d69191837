/*
 * Reader for cpio "newc" archives (magic "070701", and "070702" whose
 * checksum is not verified) held in memory, such as an initramfs. The
 * archive is untrusted: every header is checked against the bytes that are
 * actually there, and the first problem stops the walk.
 *
 * Each entry is a 110-byte header of ASCII fields (8 hex digits each), the
 * NUL-terminated name, padding to a 4-byte boundary, the data, and padding
 * again; boundaries are counted from the start of the archive. The entry
 * named "TRAILER!!!" ends it.
 *
 * The reader reports entries as they are, leaving policy to the caller:
 *  - names are not normalised ("./a/b", "a//b", "..", "/x" all come back
 *    verbatim), and an empty name (name size 1) is allowed;
 *  - the file type in mode is not checked against the data: a symlink's
 *    target is its data (not NUL-terminated), a directory normally has none;
 *  - hard links are not resolved: the writer emits every name of a file
 *    with the same ino (and devmajor/devminor) and nlink > 1, and puts the
 *    data only on the last of them, the others having size 0;
 *  - the contents of padding bytes are not checked (writers use zeros).
 */
#ifndef PIER_CPIO_H
#define PIER_CPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPIO_HEADER_SIZE 110

/* The file type bits of cpio_entry.mode (the st_mode values). */
#define CPIO_S_IFMT 0170000
#define CPIO_S_IFSOCK 0140000
#define CPIO_S_IFLNK 0120000
#define CPIO_S_IFREG 0100000
#define CPIO_S_IFBLK 0060000
#define CPIO_S_IFDIR 0040000
#define CPIO_S_IFCHR 0020000
#define CPIO_S_IFIFO 0010000

struct cpio_entry {
	const char *name;  /* into the archive, NUL-terminated, no NUL inside */
	size_t namelen;    /* strlen(name) */
	uint32_t mode, uid, gid, nlink, mtime, ino;
	uint32_t devmajor, devminor, rdevmajor, rdevminor;
	const void *data;  /* into the archive; size bytes */
	size_t size;
};

struct cpio_iter {
	const uint8_t *buf;
	size_t len;
	size_t off;        /* the next header; after the trailer, just past it */
	bool done;         /* the trailer was read */
	int err;           /* the error that stopped the walk, or 0 */
	const char *why;   /* what was wrong, for messages; NULL without error */
};

/* Starts a walk over [buf, buf+len). The buffer must outlive the entries. */
void cpio_iter_init(struct cpio_iter *it, const void *buf, size_t len);

/*
 * Reads the next entry into *out. Returns 1 for an entry, 0 once the trailer
 * has been read (and on every call after), or a negative errno:
 *   -EINVAL  malformed: bad magic, a field that is not 8 hex digits, name
 *            size 0, a name not ending in its only NUL
 *   -ENODATA the archive ends early: inside a header, name, data or
 *            padding, or at an entry boundary without a trailer (so a
 *            truncated archive is never taken for a complete one)
 * An error is sticky: later calls return it again, and it->why says what
 * was wrong. Bytes after the trailer (cpio pads to 512, and archives may be
 * concatenated) are not looked at; it->off tells where they start.
 */
int cpio_next(struct cpio_iter *it, struct cpio_entry *out);

#endif
