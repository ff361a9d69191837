/*
 * libFuzzer harness for the guest's FUSE reply handling: lib/fuse_msg.c's
 * checkers on their own, and the real client guest/fs/fuse.c compiled for
 * the host over a fake transport whose "device" answers every request with
 * bytes from the fuzz input. Kernel services come from guest_shims.h.
 *
 * Input: byte 0 bit 0 picks the mode.
 *
 * Checker mode (bit 0 clear): records of a selector byte, a u16 length and
 * that many bytes, each handed as an exact-size heap copy (ASan sees any
 * read past it) to fuse_msg_reply, fuse_msg_entry/attr/open/statfs/init,
 * a READDIR or READDIRPLUS walk with fuse_msg_dirent_next, or
 * fuse_msg_name_ok. What each accepts is checked against its contract.
 *
 * Client mode (bit 0 set; bit 1: the transport has a DAX window): FUSE_INIT,
 * then operations, each a selector byte (op % 24 the request, op / 24 its
 * flag bits) and operands: lookup, getattr, open, release, read, readdir
 * with the walk virtiofs.c does, readlink, statfs, access, DAX mappings,
 * create, mkdir, symlink, link, unlink, rename, setattr, write, flush,
 * fsync, fallocate, lseek, copy_file_range, forget, destroy. Names are any
 * bytes ('/', NUL, "." and "..", too long). Each request the client sends
 * takes one reply from the input: a control byte, then
 *   bit 7       the transport fails (-EIO, or -EAGAIN with bit 6)
 *   bits 0-1    0 raw bytes (header included); 1 a header made here (the
 *               right unique, len = the length returned) and a payload;
 *               2 an error reply with an error value from the input; 3 raw
 *               bytes with the unique (bit 2) and/or len (bit 3) patched in
 *   bit 4       the length returned is any value up to the buffers' size,
 *               not the bytes written (the device lies; the rest of the
 *               buffers keeps a poison pattern)
 * Lengths never exceed the buffers offered: guest/drivers/virtio.c's queue
 * refuses such a completion before the client sees it.
 *
 * Checks: every request is well formed (header length = bytes sent,
 * uniques strictly increasing, names NUL-terminated valid components); a
 * reply the client accepts obeys fuse.h (entries with a real node id and
 * plausible attributes, reads no longer than asked, NUL-terminated link
 * targets without inner NULs, sane statfs, INIT limits); errors are
 * negative errnos; a malformed reply leaves the connection dead, and a dead
 * connection sends nothing more (and never comes back to life); a
 * well-formed error reply, whatever its errno (EPROTO too), closes nothing
 * and comes back to the caller of a one-request operation as it was sent.
 *
 * PIER_FUZZ_VERBOSE=1 in the environment traces each step (for replaying
 * an input by hand).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pier/errno.h>
#include <pier/fuse_msg.h>
#include "../guest/fs/fuse.h"
#include "fuzz_check.h"
#include "guest_shims.h"

#define MAX_OPS 256
#define MAX_IO (128u * 1024)   /* read/write sizes the harness asks for */
#define POISON 0xa5

static struct fz in;
static int trace = -1; /* PIER_FUZZ_VERBOSE set: say what each step did (replaying by hand) */

/* ---- checker mode ---- */

static void *dup_exact(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	CHECK(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

static bool name_ok_ref(const char *s, uint32_t n)
{
	if (n == 0 || n > FUSE_NAME_MAX)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == 0)
			return false;
	return true;
}

static bool is_dot(const char *s, uint32_t n)
{
	return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

static bool attr_plausible(const struct fuse_attr *a)
{
	switch (a->mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return false;
	}
	return a->size <= INT64_MAX && a->blocks <= INT64_MAX;
}

/* What a fixed-size checker copied: the reply's bytes, zeros after. */
static void check_copy(const void *out, size_t full, const void *p, uint32_t len)
{
	size_t n = len < full ? len : full;
	CHECK(memcmp(out, p, n) == 0);
	for (size_t i = n; i < full; i++)
		CHECK(((const uint8_t *)out)[i] == 0);
}

/* Walks a READDIR(PLUS) buffer as guest/fs/virtiofs.c does, checking each record. */
static int walk_dirents(const void *buf, uint32_t len, bool plus)
{
	uint32_t pos = 0, count = 0;
	struct fuse_dirent_view d;
	int r;
	while ((r = fuse_msg_dirent_next(buf, len, &pos, plus, &d)) == 1) {
		count++;
		CHECK(count <= len / FUSE_NAME_OFFSET); /* each record moves on */
		CHECK(pos <= len);
		const char *b = buf;
		CHECK(d.name > b && d.name + d.namelen <= b + len);
		CHECK(d.namelen >= 1 && d.namelen <= FUSE_NAME_MAX);
		bool dot = is_dot(d.name, d.namelen);
		CHECK(dot || name_ok_ref(d.name, d.namelen));
		CHECK(d.name + d.namelen <= b + pos);
		if (plus && d.entry.nodeid) {
			CHECK(attr_plausible(&d.entry.attr));
			CHECK(dot || d.entry.nodeid != FUSE_ROOT_ID);
		}
		if (!plus)
			CHECK(d.entry.nodeid == 0);
	}
	CHECK(r == 0 || r == -EPROTO);
	CHECK(r < 0 || pos >= len);
	return r;
}

static void checker_record(uint8_t sel, const uint8_t *bytes, uint32_t len)
{
	void *p = dup_exact(bytes, len);
	switch (sel % 9) {
	case 0: {
		/* The header from the record, the written length and unique from the input. */
		struct fuse_out_header h = { 0 };
		memcpy(&h, p, len < sizeof(h) ? len : sizeof(h));
		uint32_t written = fz_u32(&in);
		uint64_t unique = fz_u8(&in) & 1 ? h.unique : fz_u64(&in);
		int64_t r = fuse_msg_reply(&h, written, unique);
		if (r >= 0) {
			CHECK(written >= sizeof(h) && h.len == written && h.unique == unique);
			CHECK(h.error == 0 && r == (int64_t)(written - sizeof(h)));
		} else if (r != -EPROTO) {
			CHECK(r >= -FUSE_MSG_ERRNO_MAX && h.error == r && written == sizeof(h) && h.len == written);
		}
		break;
	}
	case 1: {
		struct fuse_entry_out e;
		if (fuse_msg_entry(p, len, &e) == 0) {
			CHECK(len >= FUSE_COMPAT_ENTRY_OUT_SIZE);
			check_copy(&e, sizeof(e), p, len);
			CHECK(e.nodeid == 0 || (e.nodeid != FUSE_ROOT_ID && attr_plausible(&e.attr)));
		}
		break;
	}
	case 2: {
		struct fuse_attr_out a;
		if (fuse_msg_attr(p, len, &a) == 0) {
			CHECK(len >= FUSE_COMPAT_ATTR_OUT_SIZE);
			check_copy(&a, sizeof(a), p, len);
			CHECK(attr_plausible(&a.attr));
		}
		break;
	}
	case 3: {
		struct fuse_open_out o;
		if (fuse_msg_open(p, len, &o) == 0) {
			CHECK(len >= sizeof(o));
			check_copy(&o, sizeof(o), p, len);
		}
		break;
	}
	case 4: {
		struct fuse_statfs_out s;
		if (fuse_msg_statfs(p, len, &s) == 0) {
			CHECK(len >= FUSE_COMPAT_STATFS_SIZE);
			check_copy(&s, sizeof(s), p, len);
			CHECK(s.st.bsize && s.st.bfree <= s.st.blocks);
		}
		break;
	}
	case 5: {
		struct fuse_init_out o;
		if (fuse_msg_init(p, len, &o) == 0) {
			CHECK(len >= FUSE_COMPAT_22_INIT_OUT_SIZE);
			check_copy(&o, sizeof(o), p, len);
			CHECK(o.major == FUSE_KERNEL_VERSION && o.minor >= FUSE_MIN_MINOR);
		}
		break;
	}
	case 6:
	case 7:
		walk_dirents(p, len, sel % 9 == 7);
		break;
	default:
		CHECK(fuse_msg_name_ok(p, len) == name_ok_ref(p, len));
		break;
	}
	free(p);
}

static void checker_mode(void)
{
	while (fz_left(&in)) {
		uint8_t sel = fz_u8(&in);
		uint32_t len = fz_u16(&in);
		if (len > fz_left(&in))
			len = (uint32_t)fz_left(&in);
		const uint8_t *bytes = in.p;
		in.p += len;
		in.n -= len;
		checker_record(sel, bytes, len);
	}
}

/* ---- client mode: the fake device ---- */

static struct {
	struct fuse_transport t;
	struct fuse_conn c;
	uint64_t last_unique;
	unsigned calls;          /* requests that reached the transport */
	uint32_t last_opcode;
	int32_t last_error;      /* the last reply was a well-formed error reply with this */
} s;

/* The bytes of the out iovs after the header, flattened (names, args). */
static uint8_t req_body[2 * 4096 + 1024];

/* Whether [p, p+n) is exactly `count` NUL-terminated strings; sets *lens. */
static bool split_names(const uint8_t *p, uint32_t n, unsigned count, uint32_t *lens)
{
	uint32_t at = 0;
	for (unsigned k = 0; k < count; k++) {
		const uint8_t *z = at < n ? memchr(p + at, 0, n - at) : NULL;
		if (!z)
			return false;
		lens[k] = (uint32_t)(z - (p + at));
		at += lens[k] + 1;
	}
	return at == n;
}

/* Names a request carries must be valid single components (SYMLINK's target aside). */
static void check_request_names(uint32_t opcode, const uint8_t *body, uint32_t n)
{
	uint32_t fixed, lens[2];
	unsigned names = 1;
	switch (opcode) {
	case FUSE_LOOKUP: case FUSE_UNLINK: case FUSE_RMDIR: fixed = 0; break;
	case FUSE_MKDIR: fixed = sizeof(struct fuse_mkdir_in); break;
	case FUSE_CREATE: fixed = sizeof(struct fuse_create_in); break;
	case FUSE_LINK: fixed = sizeof(struct fuse_link_in); break;
	case FUSE_RENAME: fixed = sizeof(struct fuse_rename_in); names = 2; break;
	case FUSE_RENAME2: fixed = sizeof(struct fuse_rename2_in); names = 2; break;
	case FUSE_SYMLINK: fixed = 0; names = 2; break;
	default: return;
	}
	CHECK(n >= fixed);
	CHECK(split_names(body + fixed, n - fixed, names, lens));
	const char *name = (const char *)body + fixed;
	CHECK(name_ok_ref(name, lens[0]));
	if (opcode == FUSE_RENAME || opcode == FUSE_RENAME2)
		CHECK(name_ok_ref(name + lens[0] + 1, lens[1]));
	if (opcode == FUSE_SYMLINK)
		CHECK(lens[1] > 0 && lens[1] < 4096);
}

static void check_request(const struct fuse_iov *out, unsigned nout)
{
	CHECK(nout >= 1 && out[0].len == sizeof(struct fuse_in_header));
	struct fuse_in_header h;
	memcpy(&h, out[0].base, sizeof(h));
	uint64_t total = 0, body = 0;
	for (unsigned i = 0; i < nout; i++) {
		CHECK(out[i].base != NULL || out[i].len == 0);
		total += out[i].len;
		if (i > 0) {
			if (body + out[i].len <= sizeof(req_body))
				memcpy(req_body + body, out[i].base, out[i].len);
			body += out[i].len;
		}
	}
	CHECK(h.len == total);
	CHECK(h.unique == s.last_unique + 1);
	s.last_unique = h.unique;
	s.last_opcode = h.opcode;
	if (body <= sizeof(req_body))
		check_request_names(h.opcode, req_body, (uint32_t)body);
}

static int64_t fake_call(void *ctx, const struct fuse_iov *out, unsigned nout,
			 const struct fuse_iov *iov, unsigned nin, bool may_unlock)
{
	CHECK(ctx == &s);
	/* Only the waits of READ, WRITE, the syncs, LOOKUP, GETATTR, OPEN,
	 * OPENDIR and READLINK may let the kernel lock go (fuse_transport.h). */
	CHECK(nout >= 1 && out[0].len >= sizeof(struct fuse_in_header));
	uint32_t op = ((const struct fuse_in_header *)out[0].base)->opcode;
	CHECK(may_unlock == (op == FUSE_READ || op == FUSE_WRITE || op == FUSE_FSYNC ||
			     op == FUSE_FSYNCDIR || op == FUSE_LOOKUP || op == FUSE_GETATTR ||
			     op == FUSE_OPEN || op == FUSE_OPENDIR || op == FUSE_READLINK));
	CHECK(!s.c.dead); /* a dead connection sends nothing */
	check_request(out, nout);
	s.calls++;
	CHECK(nin >= 1 && iov[0].len == sizeof(struct fuse_out_header));
	uint64_t cap = 0;
	for (unsigned i = 0; i < nin; i++) {
		CHECK(iov[i].base != NULL || iov[i].len == 0);
		memset(iov[i].base, POISON, iov[i].len); /* stale contents, reproducibly */
		cap += iov[i].len;
	}
	CHECK(cap <= UINT32_MAX);
	s.last_error = 0;
	if (!fz_left(&in))
		return -EIO; /* the device is gone: ends every retry loop */
	uint8_t ctl = fz_u8(&in);
	if (ctl & 0x80)
		return ctl & 0x40 ? -EAGAIN : -EIO;
	/* The reply, built in a flat buffer and scattered over the iovs. */
	static uint8_t reply[MAX_IO + 4096];
	uint32_t n = 0;
	struct fuse_out_header oh = { .unique = s.last_unique };
	switch (ctl & 3) {
	case 1: {
		uint32_t plen = fz_u16(&in);
		if (ctl & 0x20)
			plen |= (uint32_t)fz_u8(&in) << 16; /* up to 16 MiB: long reads */
		n = sizeof(oh) + plen;
		if (n > sizeof(reply))
			n = sizeof(reply);
		fz_bytes(&in, reply + sizeof(oh), n - sizeof(oh));
		break;
	}
	case 2:
		oh.error = (int32_t)fz_u32(&in);
		n = sizeof(oh);
		break;
	default:
		n = fz_u16(&in);
		if (n > sizeof(reply))
			n = sizeof(reply);
		fz_bytes(&in, reply, n);
		break;
	}
	if (n > cap)
		n = (uint32_t)cap;
	uint32_t ret = n;
	if (ctl & 0x10)
		ret = (uint32_t)(fz_u32(&in) % (cap + 1));
	if (trace)
		fprintf(stderr, "  opcode %u unique %llu: reply ctl %#x, %u bytes, returns %u\n",
			s.last_opcode, (unsigned long long)s.last_unique, ctl, n, ret);
	if ((ctl & 3) == 1 || (ctl & 3) == 2) {
		oh.len = ret;
		memcpy(reply, &oh, sizeof(oh) < n ? sizeof(oh) : n);
	} else if ((ctl & 3) == 3) {
		if ((ctl & 4) && n >= offsetof(struct fuse_out_header, unique) + 8)
			memcpy(reply + offsetof(struct fuse_out_header, unique), &s.last_unique, 8);
		if ((ctl & 8) && n >= 4)
			memcpy(reply, &ret, 4);
	}
	uint32_t at = 0;
	for (unsigned i = 0; i < nin && at < n; i++) {
		uint32_t k = n - at < iov[i].len ? n - at : iov[i].len;
		memcpy(iov[i].base, reply + at, k);
		at += k;
	}
	/* What the client now sees: a well-formed error reply is a valid answer. */
	struct fuse_out_header got;
	memcpy(&got, iov[0].base, sizeof(got));
	if (ret == sizeof(got) && got.len == ret && got.unique == s.last_unique && got.error < 0 &&
	    got.error >= -FUSE_MSG_ERRNO_MAX)
		s.last_error = got.error;
	return ret;
}

static int fake_noreply(void *ctx, const struct fuse_iov *out, unsigned nout)
{
	CHECK(ctx == &s);
	check_request(out, nout);
	CHECK(s.last_opcode == FUSE_BATCH_FORGET);
	struct fuse_batch_forget_in b;
	CHECK(nout == 2 && out[1].len >= sizeof(b));
	memcpy(&b, out[1].base, sizeof(b));
	CHECK(b.count >= 1 && out[1].len == sizeof(b) + b.count * sizeof(struct fuse_forget_one));
	return fz_u8(&in) == 0xee ? -EIO : 0;
}

/* ---- client mode: operations ---- */

/* The result of a one-request operation, for the error-passing check. */
static int64_t result;
static bool have_result;
#define RESULT(x) (have_result = true, result = (x))

static uint64_t node_id(void)
{
	uint8_t b = fz_u8(&in);
	return b < 0xf0 ? b : fz_u64(&in); /* mostly small, sometimes anything */
}

/* A name from the input (any bytes: '/', NUL, ".", too long), in an exact heap copy. */
static char *take_name(uint32_t *len)
{
	uint32_t n = fz_u8(&in);
	if (n == 0xff)
		n = fz_u16(&in) % 1024;
	char *p = malloc(n ? n : 1);
	CHECK(p);
	fz_bytes(&in, p, n);
	*len = n;
	return p;
}

static bool errno_ok(int64_t r)
{
	return r < 0 && r >= -FUSE_MSG_ERRNO_MAX;
}

static void check_entry_result(int r, const struct fuse_entry_out *e)
{
	if (r == 0) {
		CHECK(e->nodeid != 0 && e->nodeid != FUSE_ROOT_ID);
		CHECK(attr_plausible(&e->attr));
	} else {
		CHECK(errno_ok(r));
	}
}

/* A request refused before sending: the name was bad. */
static bool name_refused(int r, const char *name, uint32_t len)
{
	if (name_ok_ref(name, len))
		return false;
	CHECK(r == (len > FUSE_NAME_MAX ? -ENAMETOOLONG : -EINVAL));
	return true;
}

static void op_readdir(struct fuse_conn *c)
{
	uint64_t node = node_id(), fh = fz_u64(&in), off = fz_u64(&in);
	uint32_t len = fz_u16(&in) + 1u;
	void *buf = malloc(len);
	CHECK(buf);
	bool plus = false, want_plus = c->readdirplus;
	int64_t n = fuse_readdir(c, node, fh, off, buf, len, &plus);
	if (n >= 0) {
		CHECK((uint64_t)n <= len);
		CHECK(plus == c->readdirplus && (!plus || want_plus));
		/* As virtiofs.c: a malformed listing closes the connection. */
		walk_dirents(buf, (uint32_t)n, plus);
	} else {
		CHECK(errno_ok(n));
	}
	free(buf);
}

static void op_read(struct fuse_conn *c)
{
	uint64_t node = node_id(), fh = fz_u64(&in), off = fz_u64(&in);
	uint32_t len = fz_u32(&in) % (MAX_IO + 1);
	void *buf = malloc(len ? len : 1);
	CHECK(buf);
	int64_t r = fuse_read(c, node, fh, buf, len, off);
	CHECK(errno_ok(r) || (r >= 0 && (uint64_t)r <= len));
	free(buf);
}

static void op_write(struct fuse_conn *c)
{
	uint64_t node = node_id(), fh = fz_u64(&in), off = fz_u64(&in);
	uint32_t len = fz_u32(&in) % (MAX_IO + 1);
	void *buf = malloc(len ? len : 1);
	CHECK(buf);
	memset(buf, 'w', len);
	int64_t r = fuse_write(c, node, fh, buf, len, off);
	CHECK(errno_ok(r) || (r >= 0 && (uint64_t)r <= len));
	free(buf);
}

static void op_readlink(struct fuse_conn *c)
{
	uint64_t node = node_id();
	uint32_t size = fz_u16(&in) % 8192;
	char *buf = malloc(size ? size : 1);
	CHECK(buf);
	int r = (int)RESULT(fuse_readlink(c, node, buf, size));
	if (r >= 0) {
		CHECK(r > 0 && (uint32_t)r < size);
		CHECK(buf[r] == 0 && strlen(buf) == (size_t)r);
	} else {
		CHECK(errno_ok(r));
	}
	free(buf);
}

static void op_lookup_like(struct fuse_conn *c, uint8_t which)
{
	uint64_t dir = node_id();
	uint32_t len;
	char *name = take_name(&len);
	struct fuse_entry_out e;
	int r;
	switch (which % 4) {
	case 0:
		r = (int)RESULT(fuse_lookup(c, dir, name, len, &e));
		if (!name_refused(r, name, len))
			check_entry_result(r, &e);
		break;
	case 1:
		r = (int)RESULT(fuse_mkdir(c, dir, name, len, fz_u32(&in), &e));
		if (!name_refused(r, name, len))
			check_entry_result(r, &e);
		break;
	case 2:
		r = (int)RESULT(fuse_link(c, node_id(), dir, name, len, &e));
		if (!name_refused(r, name, len))
			check_entry_result(r, &e);
		break;
	default: {
		uint64_t fh = 0;
		uint32_t flags = fz_u32(&in), mode = fz_u32(&in);
		r = (int)RESULT(fuse_create(c, dir, name, len, flags, mode, &e, &fh));
		if (!name_refused(r, name, len))
			check_entry_result(r, &e);
		break;
	}
	}
	free(name);
}

static void op_symlink(struct fuse_conn *c)
{
	uint64_t dir = node_id();
	uint32_t len, tlen = fz_u16(&in) % 4200;
	char *name = take_name(&len);
	char *target = malloc(tlen + 1);
	CHECK(target);
	fz_bytes(&in, target, tlen);
	target[tlen] = 0;
	struct fuse_entry_out e;
	int r = (int)RESULT(fuse_symlink(c, dir, name, len, target, &e));
	size_t t = strlen(target);
	if (t == 0)
		CHECK(r == -ENOENT);
	else if (t >= 4096)
		CHECK(r == -ENAMETOOLONG);
	else if (!name_refused(r, name, len))
		check_entry_result(r, &e);
	free(target);
	free(name);
}

static void op_unlink_rename(struct fuse_conn *c, uint8_t which)
{
	uint64_t dir = node_id();
	uint32_t len, len2;
	char *name = take_name(&len);
	int r;
	if (which & 1) {
		char *name2 = take_name(&len2);
		uint32_t flags = fz_u8(&in) & 7;
		r = (int)RESULT(fuse_rename(c, dir, name, len, node_id(), name2, len2, flags));
		if (!name_refused(r, name, len) && !name_refused(r, name2, len2))
			CHECK(r == 0 || errno_ok(r));
		free(name2);
	} else {
		r = (int)RESULT(fuse_unlink(c, dir, name, len, which & 2));
		if (!name_refused(r, name, len))
			CHECK(r == 0 || errno_ok(r));
	}
	free(name);
}

static void op_removemapping(struct fuse_conn *c)
{
	uint32_t n = fz_u16(&in) % 300;
	struct fuse_removemapping_one *r = malloc((n ? n : 1) * sizeof(*r));
	CHECK(r);
	fz_bytes(&in, r, n * sizeof(*r));
	int rc = (int)RESULT(fuse_removemapping(c, r, n));
	if (n == 0 || n > FUSE_REMOVEMAPPING_MAX)
		CHECK(rc == -EINVAL);
	else
		CHECK(rc == 0 || errno_ok(rc));
	free(r);
}

static void op_forget(struct fuse_conn *c)
{
	unsigned n = fz_u8(&in);
	uint64_t *ids = malloc((n ? n : 1) * 8), *counts = malloc((n ? n : 1) * 8);
	CHECK(ids && counts);
	for (unsigned i = 0; i < n; i++) {
		ids[i] = i + 2;
		counts[i] = 1 + i % 3;
	}
	int r = fuse_forget(c, ids, counts, n);
	CHECK(r == 0 || r == -EIO);
	free(ids);
	free(counts);
}

static void check_init(const struct fuse_conn *c)
{
	CHECK(c->minor >= FUSE_MIN_MINOR && c->minor <= FUSE_KERNEL_MINOR_VERSION);
	CHECK(c->max_pages >= 1 && c->max_read == (uint32_t)c->max_pages * 4096);
	CHECK(!(c->flags & FUSE_MAP_ALIGNMENT) || s.t.dax_len);
	CHECK(c->map_alignment == 0 || (c->flags & FUSE_MAP_ALIGNMENT));
	CHECK(c->readdirplus == !!(c->flags & FUSE_DO_READDIRPLUS));
}

/* op % 24 says which request; op / 24 (0..10) carries its flag bits. */
static void client_op(struct fuse_conn *c, uint8_t op)
{
	int r;
	unsigned var = op / 24;
	switch (op % 24) {
	case 0: case 1: case 2: case 3:
		op_lookup_like(c, op % 24);
		break;
	case 4: {
		struct fuse_attr_out a;
		r = (int)RESULT(fuse_getattr(c, node_id(), &a));
		CHECK(r == 0 ? attr_plausible(&a.attr) : errno_ok(r));
		break;
	}
	case 5: {
		uint64_t fh = 0;
		uint64_t node = node_id();
		r = (int)RESULT(fuse_open(c, node, var & 1, fz_u32(&in), &fh));
		CHECK(r == 0 || errno_ok(r));
		break;
	}
	case 6: {
		uint64_t node = node_id();
		r = (int)RESULT(fuse_release(c, node, var & 1, fz_u64(&in)));
		CHECK(r == 0 || errno_ok(r));
		break;
	}
	case 7:
		op_read(c);
		break;
	case 8:
		op_readdir(c);
		break;
	case 9:
		op_readlink(c);
		break;
	case 10: {
		struct fuse_kstatfs st;
		r = (int)RESULT(fuse_statfs(c, &st));
		CHECK(r == 0 ? st.bsize != 0 && st.bfree <= st.blocks : errno_ok(r));
		break;
	}
	case 11: {
		uint64_t node = node_id();
		r = (int)RESULT(fuse_access(c, node, fz_u8(&in) & 7));
		CHECK(r == 0 || errno_ok(r));
		break;
	}
	case 12: {
		/* One operand per statement: argument order is unspecified in C. */
		uint64_t node = node_id(), fh = fz_u64(&in), foff = fz_u64(&in), len = fz_u64(&in);
		uint64_t moff = fz_u64(&in);
		r = (int)RESULT(fuse_setupmapping(c, node, fh, foff, len, moff, fz_u8(&in) & 3));
		CHECK(r == 0 || errno_ok(r));
		break;
	}
	case 13:
		op_removemapping(c);
		break;
	case 14:
		op_symlink(c);
		break;
	case 15:
		op_unlink_rename(c, var);
		break;
	case 16: {
		struct fuse_setattr_in sa;
		fz_bytes(&in, &sa, sizeof(sa));
		struct fuse_attr_out a;
		r = (int)RESULT(fuse_setattr(c, node_id(), &sa, &a));
		CHECK(r == 0 ? attr_plausible(&a.attr) : errno_ok(r));
		break;
	}
	case 17:
		op_write(c);
		break;
	case 18: {
		uint64_t node = node_id();
		r = var & 1 ? fuse_flush(c, node, fz_u64(&in))
			    : fuse_fsync(c, node, fz_u64(&in), var & 2, var & 4);
		CHECK(r == 0 || errno_ok(r));
		break;
	}
	case 19: {
		uint64_t node = node_id(), fh = fz_u64(&in), off = fz_u64(&in);
		uint8_t mode = fz_u8(&in);
		r = fuse_fallocate(c, node, fh, mode, off, fz_u64(&in));
		CHECK(r == 0 || errno_ok(r));
		break;
	}
	case 20: {
		uint64_t node = node_id(), fh = fz_u64(&in), off = fz_u64(&in);
		int64_t o = fuse_lseek(c, node, fh, off, fz_u8(&in) % 5);
		CHECK(o >= 0 || errno_ok(o));
		break;
	}
	case 21: {
		uint64_t a = node_id(), fa = fz_u64(&in), oa = fz_u64(&in), b = node_id();
		uint64_t fb = fz_u64(&in), ob = fz_u64(&in), len = fz_u64(&in);
		int64_t n = fuse_copy_file_range(c, a, fa, oa, b, fb, ob, len);
		CHECK(n >= 0 ? (uint64_t)n <= len : errno_ok(n));
		break;
	}
	case 22:
		op_forget(c);
		break;
	default:
		if (var & 1) {
			fuse_destroy(c);
			CHECK(c->dead);
		}
		break;
	}
}

static void client_mode(uint8_t mode)
{
	memset(&s, 0, sizeof(s));
	s.t = (struct fuse_transport){ .call = fake_call, .send_noreply = fake_noreply, .ctx = &s,
				       .tag = "fuzz" };
	if (mode & 2) {
		s.t.dax_addr = 1ULL << 40;
		s.t.dax_len = 1ULL << 30;
	}
	struct fuse_conn *c = &s.c;
	int r = fuse_init(c, &s.t);
	if (r) {
		CHECK(errno_ok(r));
		/* -EPROTO: a malformed reply closed the connection, or the
		 * server itself answered EPROTO (which closes nothing). */
		if (r == -EPROTO)
			CHECK(c->dead == (s.last_error != -EPROTO));
		/* A failed INIT: the client would not mount. Requests still
		 * must not misbehave, so go on (most fail at once when dead). */
	} else {
		check_init(c);
	}
	for (unsigned k = 0; fz_left(&in) && k < MAX_OPS; k++) {
		bool dead = c->dead;
		unsigned calls = s.calls;
		uint64_t unique = c->unique;
		uint8_t op = fz_u8(&in);
		if (trace)
			fprintf(stderr, "op %u (%u)\n", op % 24, op);
		s.last_error = 0;
		have_result = false;
		client_op(c, op);
		/* An error reply is an answer, not a protocol violation: whatever
		 * the errno, it must not close the connection, and a request of
		 * one round trip passes it on (RENAME2's ENOSYS becomes EINVAL). */
		if (!dead && s.last_error && op % 24 != 23)
			CHECK(!c->dead);
		if (!dead && s.last_error && have_result &&
		    !(s.last_opcode == FUSE_RENAME2 && s.last_error == -ENOSYS))
			CHECK(result == s.last_error);
		if (trace)
			fprintf(stderr, "  -> dead %d, %u requests\n", c->dead, s.calls);
		if (dead)
			CHECK(c->dead && s.calls == calls); /* stays dead, sends nothing */
		CHECK(c->unique >= unique);
		CHECK(c->unique == s.last_unique);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	in = (struct fz){ data, len };
	if (trace < 0)
		trace = getenv("PIER_FUZZ_VERBOSE") != NULL;
	uint8_t mode = fz_u8(&in);
	if (mode & 1)
		client_mode(mode);
	else
		checker_mode();
	return 0;
}
