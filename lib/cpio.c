/*
 * cpio "newc" reader (see include/pier/cpio.h). Offsets, not pointers, are
 * compared with the archive length, and every comparison is written as
 * "n > len - off" with off <= len known, so no sum can wrap.
 */
#include <pier/cpio.h>
#include <pier/errno.h>
#include <pier/string.h>

/* Header fields after the 6-byte magic, in archive order. */
enum {
	F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE,
	F_DEVMAJOR, F_DEVMINOR, F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK,
	NFIELDS
};
_Static_assert(6 + 8 * NFIELDS == CPIO_HEADER_SIZE, "newc header layout");

static const char TRAILER[] = "TRAILER!!!";

void cpio_iter_init(struct cpio_iter *it, const void *buf, size_t len)
{
	/* Keeps buf + off defined arithmetic for an empty archive given as NULL. */
	static const uint8_t empty[1];
	it->buf = buf ? buf : empty;
	it->len = buf ? len : 0;
	it->off = 0;
	it->done = false;
	it->err = 0;
	it->why = NULL;
}

static int fail(struct cpio_iter *it, int err, const char *why)
{
	it->err = err;
	it->why = why;
	return err;
}

/* Exactly 8 hex digits, either case; no sign, space or 0x. */
static bool parse_hex8(const uint8_t *s, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		uint8_t c = s[i];
		uint32_t d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* Bytes needed to take offset off to a multiple of 4. */
static size_t pad4(size_t off)
{
	return (4 - (off & 3)) & 3;
}

int cpio_next(struct cpio_iter *it, struct cpio_entry *out)
{
	if (it->err)
		return it->err;
	if (it->done)
		return 0;

	const uint8_t *h = it->buf + it->off;
	size_t len = it->len, left = len - it->off;
	bool short_hdr = left < CPIO_HEADER_SIZE;
	if (short_hdr || memcmp(h, "07070", 5) != 0 || (h[5] != '1' && h[5] != '2')) {
		/* Nothing or only zeros left: cut at an entry boundary. */
		if (all_zero(h, left))
			return fail(it, -ENODATA, "archive ends without a trailer");
		if (short_hdr)
			return fail(it, -ENODATA, "truncated header");
		return fail(it, -EINVAL, "bad magic (not newc)");
	}

	uint32_t f[NFIELDS];
	for (int i = 0; i < NFIELDS; i++)
		if (!parse_hex8(h + 6 + 8 * i, &f[i]))
			return fail(it, -EINVAL, "header field is not 8 hex digits");

	size_t namesize = f[F_NAMESIZE], size = f[F_FILESIZE];
	size_t name_off = it->off + CPIO_HEADER_SIZE;
	if (namesize == 0)
		return fail(it, -EINVAL, "name size is 0");
	if (namesize > len - name_off)
		return fail(it, -ENODATA, "truncated name");
	const char *name = (const char *)it->buf + name_off;
	/* One NUL, at the end: the name and namelen can never disagree. */
	if (name[namesize - 1] != '\0' || strnlen(name, namesize) != namesize - 1)
		return fail(it, -EINVAL, "name is not NUL-terminated at its size");

	size_t data_off = name_off + namesize;
	if (pad4(data_off) > len - data_off)
		return fail(it, -ENODATA, "truncated padding after name");
	data_off += pad4(data_off);
	if (size > len - data_off)
		return fail(it, -ENODATA, "truncated data");
	size_t end = data_off + size;
	if (pad4(end) > len - end)
		return fail(it, -ENODATA, "truncated padding after data");
	it->off = end + pad4(end);

	if (namesize == sizeof(TRAILER) && memcmp(name, TRAILER, sizeof(TRAILER)) == 0) {
		it->done = true;
		return 0;
	}

	out->name = name;
	out->namelen = namesize - 1;
	out->ino = f[F_INO];
	out->mode = f[F_MODE];
	out->uid = f[F_UID];
	out->gid = f[F_GID];
	out->nlink = f[F_NLINK];
	out->mtime = f[F_MTIME];
	out->devmajor = f[F_DEVMAJOR];
	out->devminor = f[F_DEVMINOR];
	out->rdevmajor = f[F_RDEVMAJOR];
	out->rdevminor = f[F_RDEVMINOR];
	out->data = it->buf + data_off;
	out->size = size;
	return 1;
}
