/*
 * Unit tests for lib/fuse_msg.c: request headers, reply header checks, the
 * fixed-size payload checkers (full, compat-size, short, implausible) and
 * READDIR / READDIRPLUS buffers built here record by record, plus random
 * and bit-flipped input. Payloads are checked from exact-size heap copies
 * so ASan catches any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <pier/errno.h>
#include <pier/fuse_msg.h>

#define DT_DIR_ 4
#define DT_REG_ 8

/* An exact-size heap copy of n bytes (at least one byte allocated). */
static void *dup_exact(const void *p, uint32_t n)
{
	void *q = malloc(n ? n : 1);
	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

static struct fuse_attr good_attr(uint32_t mode)
{
	return (struct fuse_attr){
		.ino = 42, .size = 4096, .blocks = 8, .mode = mode, .nlink = 1,
		.uid = 1000, .gid = 1000, .blksize = 4096,
	};
}

static struct fuse_entry_out good_entry(uint64_t nodeid, uint32_t mode)
{
	return (struct fuse_entry_out){
		.nodeid = nodeid, .generation = 3, .entry_valid = 1, .attr_valid = 1,
		.attr = good_attr(mode),
	};
}

/* ---- fuse_msg_header ---- */

static void test_header(void **state)
{
	(void)state;
	struct fuse_in_header h;
	memset(&h, 0xa5, sizeof(h));
	fuse_msg_header(&h, FUSE_LOOKUP, 0x1122334455667788ULL, 77, 123);
	assert_int_equal(h.len, 123);
	assert_int_equal(h.opcode, FUSE_LOOKUP);
	assert_true(h.unique == 0x1122334455667788ULL);
	assert_int_equal(h.nodeid, 77);
	assert_int_equal(h.uid, 0);
	assert_int_equal(h.gid, 0);
	assert_int_equal(h.pid, 0);
	/* Nothing of the old contents survives, padding included. */
	struct fuse_in_header want = { .len = 123, .opcode = FUSE_LOOKUP,
				       .unique = 0x1122334455667788ULL, .nodeid = 77 };
	assert_memory_equal(&h, &want, sizeof(h));
}

/* ---- fuse_msg_reply ---- */

static struct fuse_out_header out_hdr(uint32_t len, int32_t error, uint64_t unique)
{
	return (struct fuse_out_header){ .len = len, .error = error, .unique = unique };
}

static void test_reply_ok(void **state)
{
	(void)state;
	const uint32_t H = sizeof(struct fuse_out_header);
	struct fuse_out_header h = out_hdr(H + 128, 0, 9);
	assert_int_equal(fuse_msg_reply(&h, H + 128, 9), 128);
	h = out_hdr(H, 0, 9);
	assert_int_equal(fuse_msg_reply(&h, H, 9), 0);
	h = out_hdr(UINT32_MAX, 0, 9);
	assert_true(fuse_msg_reply(&h, UINT32_MAX, 9) == (int64_t)UINT32_MAX - H);
}

static void test_reply_error(void **state)
{
	(void)state;
	const uint32_t H = sizeof(struct fuse_out_header);
	struct fuse_out_header h = out_hdr(H, -ENOENT, 5);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -ENOENT);
	h = out_hdr(H, -1, 5);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -1);
	h = out_hdr(H, -FUSE_MSG_ERRNO_MAX, 5);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -FUSE_MSG_ERRNO_MAX);
	/* The server's own EPROTO passes through too, so -EPROTO alone does not
	 * say "malformed": the client tells the two apart by the header
	 * (regression: fuzz/regress/fuse_reply/server-eproto-closes-connection,
	 * tests/unit/test_fuse_client.c). */
	h = out_hdr(H, -EPROTO, 5);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -EPROTO);
	/* An error with a payload behind it. */
	h = out_hdr(H + 8, -ENOENT, 5);
	assert_int_equal(fuse_msg_reply(&h, H + 8, 5), -EPROTO);
	/* Errors of the wrong sign or out of the errno range. */
	h = out_hdr(H, ENOENT, 5);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -EPROTO);
	h = out_hdr(H, 1, 5);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -EPROTO);
	h = out_hdr(H, -FUSE_MSG_ERRNO_MAX - 1, 5); /* ERESTARTSYS and up */
	assert_int_equal(fuse_msg_reply(&h, H, 5), -EPROTO);
	h = out_hdr(H, -4096, 5);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -EPROTO);
	h = out_hdr(H, INT32_MIN, 5);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -EPROTO);
	h = out_hdr(H, INT32_MAX, 5);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -EPROTO);
}

static void test_reply_bad_header(void **state)
{
	(void)state;
	const uint32_t H = sizeof(struct fuse_out_header);
	/* len disagrees with what the device wrote, either way. */
	struct fuse_out_header h = out_hdr(H + 16, 0, 5);
	assert_int_equal(fuse_msg_reply(&h, H + 8, 5), -EPROTO);
	assert_int_equal(fuse_msg_reply(&h, H + 24, 5), -EPROTO);
	h = out_hdr(H, -ENOENT, 5);
	assert_int_equal(fuse_msg_reply(&h, H + 8, 5), -EPROTO);
	/* Fewer bytes than the header itself. */
	for (uint32_t w = 0; w < H; w++) {
		h = out_hdr(w, 0, 5);
		assert_int_equal(fuse_msg_reply(&h, w, 5), -EPROTO);
		h = out_hdr(w, -ENOENT, 5);
		assert_int_equal(fuse_msg_reply(&h, w, 5), -EPROTO);
	}
	/* Someone else's reply, success or error. */
	h = out_hdr(H + 8, 0, 6);
	assert_int_equal(fuse_msg_reply(&h, H + 8, 5), -EPROTO);
	h = out_hdr(H, -ENOENT, 6);
	assert_int_equal(fuse_msg_reply(&h, H, 5), -EPROTO);
	h = out_hdr(H, 0, 5 | (1ULL << 63));
	assert_int_equal(fuse_msg_reply(&h, H, 5), -EPROTO);
}

/* ---- fuse_msg_name_ok ---- */

static void test_name_ok(void **state)
{
	(void)state;
	char name[FUSE_NAME_MAX + 2];
	memset(name, 'x', sizeof(name));
	assert_true(fuse_msg_name_ok("a", 1));
	assert_true(fuse_msg_name_ok("hello.txt", 9));
	assert_true(fuse_msg_name_ok("..x", 3));
	assert_false(fuse_msg_name_ok("", 0));
	assert_false(fuse_msg_name_ok("abc", 0));
	assert_false(fuse_msg_name_ok("a/b", 3));
	assert_false(fuse_msg_name_ok("/", 1));
	assert_false(fuse_msg_name_ok("ab/", 3));
	assert_false(fuse_msg_name_ok("a\0b", 3));
	assert_false(fuse_msg_name_ok("ab\0", 3));
	/* Only the first len bytes count. */
	assert_true(fuse_msg_name_ok("ab/", 2));
	assert_true(fuse_msg_name_ok(name, FUSE_NAME_MAX));
	assert_false(fuse_msg_name_ok(name, FUSE_NAME_MAX + 1));
	assert_false(fuse_msg_name_ok(name, UINT32_MAX));
	name[FUSE_NAME_MAX - 1] = '/';
	assert_false(fuse_msg_name_ok(name, FUSE_NAME_MAX));
	/* Exact-size heap copy: no read past len. */
	char *h = dup_exact("abcdefghij", 10);
	assert_true(fuse_msg_name_ok(h, 10));
	free(h);
}

/* ---- fuse_msg_attr_ok ---- */

static void test_attr_ok(void **state)
{
	(void)state;
	static const uint32_t good[] = { S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR,
					 S_IFBLK, S_IFIFO, S_IFSOCK };
	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct fuse_attr a = good_attr(good[i] | 0755);
		assert_true(fuse_msg_attr_ok(&a));
	}
	for (uint32_t t = 0; t < 16; t++) {
		uint32_t mode = t << 12;
		bool known = false;
		for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++)
			known |= mode == good[i];
		struct fuse_attr a = good_attr(mode | 0644);
		assert_int_equal(fuse_msg_attr_ok(&a), known);
	}
	struct fuse_attr a = good_attr(S_IFREG);
	a.size = INT64_MAX;
	a.blocks = INT64_MAX;
	assert_true(fuse_msg_attr_ok(&a));
	a.size = (uint64_t)INT64_MAX + 1;
	assert_false(fuse_msg_attr_ok(&a));
	a.size = UINT64_MAX;
	assert_false(fuse_msg_attr_ok(&a));
	a = good_attr(S_IFREG);
	a.blocks = (uint64_t)INT64_MAX + 1;
	assert_false(fuse_msg_attr_ok(&a));
}

/* ---- fuse_msg_entry ---- */

static int entry_from(const void *p, uint32_t len, struct fuse_entry_out *out)
{
	void *h = dup_exact(p, len);
	memset(out, 0xcc, sizeof(*out));
	int r = fuse_msg_entry(h, len, out);
	free(h);
	return r;
}

static void test_entry(void **state)
{
	(void)state;
	struct fuse_entry_out e = good_entry(2, S_IFDIR | 0755), out;
	e.attr.flags = 0x5a5a;
	assert_int_equal(entry_from(&e, sizeof(e), &out), 0);
	assert_memory_equal(&out, &e, sizeof(e));
	/* A longer reply (a newer struct) is cut to ours. */
	uint8_t big[sizeof(e) + 16];
	memset(big, 0x77, sizeof(big));
	memcpy(big, &e, sizeof(e));
	assert_int_equal(entry_from(big, sizeof(big), &out), 0);
	assert_memory_equal(&out, &e, sizeof(e));

	/* The pre-7.9 size: the tail (attr.flags, padding) reads as zero. */
	assert_int_equal(entry_from(&e, FUSE_COMPAT_ENTRY_OUT_SIZE, &out), 0);
	assert_memory_equal(&out, &e, FUSE_COMPAT_ENTRY_OUT_SIZE);
	const uint8_t *tail = (const uint8_t *)&out + FUSE_COMPAT_ENTRY_OUT_SIZE;
	for (size_t i = 0; i < sizeof(out) - FUSE_COMPAT_ENTRY_OUT_SIZE; i++)
		assert_int_equal(tail[i], 0);
	assert_int_equal(out.attr.flags, 0);

	/* Anything shorter is refused. */
	for (uint32_t n = 0; n < FUSE_COMPAT_ENTRY_OUT_SIZE; n++)
		assert_int_equal(entry_from(&e, n, &out), -EPROTO);
}

static void test_entry_negative(void **state)
{
	(void)state;
	struct fuse_entry_out e = { .nodeid = 0, .entry_valid = 5 }, out;
	assert_int_equal(entry_from(&e, sizeof(e), &out), 0);
	assert_int_equal(out.nodeid, 0);
	assert_int_equal(out.entry_valid, 5);
	assert_int_equal(entry_from(&e, FUSE_COMPAT_ENTRY_OUT_SIZE, &out), 0);
	assert_int_equal(entry_from(&e, FUSE_COMPAT_ENTRY_OUT_SIZE - 1, &out), -EPROTO);
}

static void test_entry_bad(void **state)
{
	(void)state;
	struct fuse_entry_out e = good_entry(FUSE_ROOT_ID, S_IFDIR | 0755), out;
	assert_int_equal(entry_from(&e, sizeof(e), &out), -EPROTO);
	e = good_entry(2, 0644); /* no file type */
	assert_int_equal(entry_from(&e, sizeof(e), &out), -EPROTO);
	e = good_entry(2, 0170000 | 0644); /* S_IFMT itself */
	assert_int_equal(entry_from(&e, sizeof(e), &out), -EPROTO);
	e = good_entry(2, 0030000); /* unused type 3 */
	assert_int_equal(entry_from(&e, FUSE_COMPAT_ENTRY_OUT_SIZE, &out), -EPROTO);
	e = good_entry(2, S_IFREG | 0644);
	e.attr.size = (uint64_t)INT64_MAX + 1;
	assert_int_equal(entry_from(&e, sizeof(e), &out), -EPROTO);
	e.attr.size = INT64_MAX;
	assert_int_equal(entry_from(&e, sizeof(e), &out), 0);
	e.attr.blocks = UINT64_MAX;
	assert_int_equal(entry_from(&e, sizeof(e), &out), -EPROTO);
}

/* ---- fuse_msg_attr ---- */

static int attr_from(const void *p, uint32_t len, struct fuse_attr_out *out)
{
	void *h = dup_exact(p, len);
	memset(out, 0xcc, sizeof(*out));
	int r = fuse_msg_attr(h, len, out);
	free(h);
	return r;
}

static void test_attr(void **state)
{
	(void)state;
	struct fuse_attr_out a = { .attr_valid = 7, .attr_valid_nsec = 9,
				   .attr = good_attr(S_IFREG | 0600) }, out;
	a.attr.flags = 0x33;
	assert_int_equal(attr_from(&a, sizeof(a), &out), 0);
	assert_memory_equal(&out, &a, sizeof(a));

	assert_int_equal(attr_from(&a, FUSE_COMPAT_ATTR_OUT_SIZE, &out), 0);
	assert_memory_equal(&out, &a, FUSE_COMPAT_ATTR_OUT_SIZE);
	const uint8_t *tail = (const uint8_t *)&out + FUSE_COMPAT_ATTR_OUT_SIZE;
	for (size_t i = 0; i < sizeof(out) - FUSE_COMPAT_ATTR_OUT_SIZE; i++)
		assert_int_equal(tail[i], 0);

	for (uint32_t n = 0; n < FUSE_COMPAT_ATTR_OUT_SIZE; n++)
		assert_int_equal(attr_from(&a, n, &out), -EPROTO);

	a.attr.mode = 0644;
	assert_int_equal(attr_from(&a, sizeof(a), &out), -EPROTO);
	a.attr.mode = S_IFLNK | 0777;
	assert_int_equal(attr_from(&a, sizeof(a), &out), 0);
	a.attr.size = UINT64_MAX;
	assert_int_equal(attr_from(&a, sizeof(a), &out), -EPROTO);
	a.attr.size = 0;
	a.attr.blocks = (uint64_t)INT64_MAX + 1;
	assert_int_equal(attr_from(&a, FUSE_COMPAT_ATTR_OUT_SIZE, &out), -EPROTO);
}

/* ---- fuse_msg_open ---- */

static void test_open(void **state)
{
	(void)state;
	struct fuse_open_out o = { .fh = 0xdeadbeef, .open_flags = FOPEN_KEEP_CACHE }, out;
	void *h = dup_exact(&o, sizeof(o));
	memset(&out, 0xcc, sizeof(out));
	assert_int_equal(fuse_msg_open(h, sizeof(o), &out), 0);
	assert_memory_equal(&out, &o, sizeof(o));
	free(h);
	for (uint32_t n = 0; n < sizeof(o); n++) {
		h = dup_exact(&o, n);
		assert_int_equal(fuse_msg_open(h, n, &out), -EPROTO);
		free(h);
	}
}

/* ---- fuse_msg_statfs ---- */

static int statfs_from(const void *p, uint32_t len, struct fuse_statfs_out *out)
{
	void *h = dup_exact(p, len);
	memset(out, 0xcc, sizeof(*out));
	int r = fuse_msg_statfs(h, len, out);
	free(h);
	return r;
}

static void test_statfs(void **state)
{
	(void)state;
	struct fuse_statfs_out s = { .st = { .blocks = 1000, .bfree = 400, .bavail = 300,
					     .files = 50, .ffree = 10, .bsize = 4096,
					     .namelen = 255, .frsize = 4096 } }, out;
	assert_int_equal(statfs_from(&s, sizeof(s), &out), 0);
	assert_memory_equal(&out, &s, sizeof(s));

	assert_int_equal(statfs_from(&s, FUSE_COMPAT_STATFS_SIZE, &out), 0);
	assert_memory_equal(&out, &s, FUSE_COMPAT_STATFS_SIZE);
	assert_int_equal(out.st.frsize, 0);
	const uint8_t *tail = (const uint8_t *)&out + FUSE_COMPAT_STATFS_SIZE;
	for (size_t i = 0; i < sizeof(out) - FUSE_COMPAT_STATFS_SIZE; i++)
		assert_int_equal(tail[i], 0);

	for (uint32_t n = 0; n < FUSE_COMPAT_STATFS_SIZE; n++)
		assert_int_equal(statfs_from(&s, n, &out), -EPROTO);

	struct fuse_statfs_out b = s;
	b.st.bsize = 0;
	assert_int_equal(statfs_from(&b, sizeof(b), &out), -EPROTO);
	b = s;
	b.st.bfree = b.st.blocks + 1;
	assert_int_equal(statfs_from(&b, sizeof(b), &out), -EPROTO);
	b.st.bfree = b.st.blocks; /* an empty file system */
	assert_int_equal(statfs_from(&b, sizeof(b), &out), 0);
	b.st.blocks = b.st.bfree = 0;
	assert_int_equal(statfs_from(&b, FUSE_COMPAT_STATFS_SIZE, &out), 0);
}

/* ---- fuse_msg_init ---- */

static int init_from(const void *p, uint32_t len, struct fuse_init_out *out)
{
	void *h = dup_exact(p, len);
	memset(out, 0xcc, sizeof(*out));
	int r = fuse_msg_init(h, len, out);
	free(h);
	return r;
}

static void test_init(void **state)
{
	(void)state;
	struct fuse_init_out i = { .major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION,
				   .max_readahead = 1 << 20, .flags = FUSE_DO_READDIRPLUS,
				   .max_write = 1 << 20, .max_pages = 256 }, out;
	assert_int_equal(init_from(&i, sizeof(i), &out), 0);
	assert_memory_equal(&out, &i, sizeof(i));

	i.minor = FUSE_MIN_MINOR;
	assert_int_equal(init_from(&i, sizeof(i), &out), 0);
	i.minor = FUSE_MIN_MINOR - 1;
	assert_int_equal(init_from(&i, sizeof(i), &out), -EPROTO);
	i.minor = 0;
	assert_int_equal(init_from(&i, sizeof(i), &out), -EPROTO);
	i.minor = 99; /* a newer minor is the server's to downgrade, not an error */
	assert_int_equal(init_from(&i, sizeof(i), &out), 0);

	i.minor = FUSE_KERNEL_MINOR_VERSION;
	i.major = FUSE_KERNEL_VERSION + 1;
	assert_int_equal(init_from(&i, sizeof(i), &out), -EPROTO);
	i.major = FUSE_KERNEL_VERSION - 1;
	assert_int_equal(init_from(&i, sizeof(i), &out), -EPROTO);
	i.major = 0;
	assert_int_equal(init_from(&i, sizeof(i), &out), -EPROTO);

	/* The 7.22 size: everything after max_write reads as zero. */
	i.major = FUSE_KERNEL_VERSION;
	assert_int_equal(init_from(&i, FUSE_COMPAT_22_INIT_OUT_SIZE, &out), 0);
	assert_memory_equal(&out, &i, FUSE_COMPAT_22_INIT_OUT_SIZE);
	assert_int_equal(out.max_pages, 0);
	assert_int_equal(out.time_gran, 0);
	const uint8_t *tail = (const uint8_t *)&out + FUSE_COMPAT_22_INIT_OUT_SIZE;
	for (size_t k = 0; k < sizeof(out) - FUSE_COMPAT_22_INIT_OUT_SIZE; k++)
		assert_int_equal(tail[k], 0);

	for (uint32_t n = 0; n < FUSE_COMPAT_22_INIT_OUT_SIZE; n++)
		assert_int_equal(init_from(&i, n, &out), -EPROTO);
	assert_int_equal(init_from(&i, FUSE_COMPAT_INIT_OUT_SIZE, &out), -EPROTO);
}

/* ---- READDIR / READDIRPLUS buffers ---- */

struct dbuf {
	uint8_t buf[8192];
	uint32_t len;
	bool plus;
};

/* Appends one record with its FUSE_DIRENT_ALIGN padding (zeros). */
static void put_dirent(struct dbuf *d, const struct fuse_entry_out *e, uint64_t ino, uint64_t off,
		       uint32_t type, const void *name, uint32_t namelen)
{
	uint32_t head = d->plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	uint32_t rec = FUSE_DIRENT_ALIGN(head + namelen);
	assert_true(rec <= sizeof(d->buf) - d->len);
	uint8_t *p = d->buf + d->len;
	memset(p, 0, rec);
	struct fuse_dirent de = { .ino = ino, .off = off, .namelen = namelen, .type = type };
	if (d->plus) {
		struct fuse_entry_out none = { 0 };
		memcpy(p, e ? e : &none, sizeof(*e));
		memcpy(p + offsetof(struct fuse_direntplus, dirent), &de, FUSE_NAME_OFFSET);
	} else {
		memcpy(p, &de, FUSE_NAME_OFFSET);
	}
	memcpy(p + head, name, namelen);
	d->len += rec;
}

static void put_name(struct dbuf *d, const struct fuse_entry_out *e, uint64_t ino, uint64_t off,
		     uint32_t type, const char *name)
{
	put_dirent(d, e, ino, off, type, name, (uint32_t)strlen(name));
}

/* Runs the iterator over an exact-size copy of the first len bytes. */
struct walk {
	int r;                  /* the last return value */
	unsigned n;             /* records returned */
	uint32_t pos;
	struct fuse_dirent_view v[16];
	char names[16][FUSE_NAME_MAX + 1];
};

static void walk(const struct dbuf *d, uint32_t len, struct walk *w)
{
	uint8_t *h = dup_exact(d->buf, len);
	memset(w, 0, sizeof(*w));
	for (;;) {
		struct fuse_dirent_view v;
		uint32_t before = w->pos;
		w->r = fuse_msg_dirent_next(h, len, &w->pos, d->plus, &v);
		if (w->r != 1) {
			assert_int_equal(w->pos, before);
			break;
		}
		assert_true(w->pos > before && w->pos <= len);
		assert_true((const uint8_t *)v.name >= h && v.namelen <= len &&
			    (const uint8_t *)v.name + v.namelen <= h + len);
		assert_true(w->n < 16);
		w->v[w->n] = v;
		memcpy(w->names[w->n], v.name, v.namelen);
		w->names[w->n][v.namelen] = 0;
		w->v[w->n].name = w->names[w->n]; /* h is freed below */
		w->n++;
	}
	free(h);
}

static void build_listing(struct dbuf *d, bool plus)
{
	memset(d, 0, sizeof(*d));
	d->plus = plus;
	struct fuse_entry_out e1 = good_entry(10, S_IFREG | 0644);
	struct fuse_entry_out e2 = good_entry(11, S_IFDIR | 0755);
	struct fuse_entry_out e3 = good_entry(12, S_IFLNK | 0777);
	put_name(d, NULL, 100, 1, DT_DIR_, ".");
	put_name(d, NULL, 2, 2, DT_DIR_, "..");
	put_name(d, &e1, 101, 3, DT_REG_, "file.txt");          /* 8: no padding */
	put_name(d, &e2, 102, 4, DT_DIR_, "subdirectory");      /* needs padding */
	put_name(d, &e3, 103, 5, 10, "l");
	put_name(d, NULL, 104, 6, DT_REG_, "unlooked-up-name"); /* plus: nodeid 0 */
}

static void check_listing(const struct walk *w, bool plus)
{
	static const char *names[] = { ".", "..", "file.txt", "subdirectory", "l",
				       "unlooked-up-name" };
	static const uint64_t inos[] = { 100, 2, 101, 102, 103, 104 };
	static const uint32_t types[] = { DT_DIR_, DT_DIR_, DT_REG_, DT_DIR_, 10, DT_REG_ };
	static const uint64_t nodes[] = { 0, 0, 10, 11, 12, 0 };
	assert_int_equal(w->n, 6);
	for (unsigned i = 0; i < 6; i++) {
		assert_string_equal(w->v[i].name, names[i]);
		assert_int_equal(w->v[i].namelen, strlen(names[i]));
		assert_int_equal(w->v[i].ino, inos[i]);
		assert_int_equal(w->v[i].off, i + 1);
		assert_int_equal(w->v[i].type, types[i]);
		assert_int_equal(w->v[i].entry.nodeid, plus ? nodes[i] : 0);
		if (plus && nodes[i]) {
			struct fuse_entry_out want = good_entry(nodes[i], 0);
			want.attr.mode = w->v[i].entry.attr.mode;
			assert_memory_equal(&w->v[i].entry, &want, sizeof(want));
		}
		if (!plus) {
			struct fuse_entry_out zero = { 0 };
			assert_memory_equal(&w->v[i].entry, &zero, sizeof(zero));
		}
	}
}

static void test_readdir(void **state)
{
	(void)state;
	for (int plus = 0; plus < 2; plus++) {
		struct dbuf d;
		struct walk w;
		build_listing(&d, plus);
		walk(&d, d.len, &w);
		assert_int_equal(w.r, 0);
		assert_int_equal(w.pos, d.len);
		check_listing(&w, plus);
	}
}

static void test_readdir_record_sizes(void **state)
{
	(void)state;
	/* Every name length lands each record on an 8-byte boundary. */
	for (int plus = 0; plus < 2; plus++) {
		uint32_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
		for (uint32_t n = 1; n <= FUSE_NAME_MAX; n++) {
			struct dbuf d = { .plus = plus };
			char name[FUSE_NAME_MAX];
			memset(name, 'a' + n % 26, n);
			put_dirent(&d, NULL, n, 1, DT_REG_, name, n);
			put_name(&d, NULL, 7, 2, DT_REG_, "z");
			uint32_t first = FUSE_DIRENT_ALIGN(head + n);
			assert_int_equal(first % 8, 0);
			struct walk w;
			walk(&d, d.len, &w);
			assert_int_equal(w.r, 0);
			assert_int_equal(w.n, 2);
			assert_int_equal(w.v[0].namelen, n);
			assert_memory_equal(w.v[0].name, name, n);
			assert_string_equal(w.v[1].name, "z");
			assert_int_equal(w.v[1].ino, 7);
		}
	}
}

static void test_readdir_empty(void **state)
{
	(void)state;
	for (int plus = 0; plus < 2; plus++) {
		struct fuse_dirent_view v;
		uint32_t pos = 0;
		uint8_t one = 0;
		assert_int_equal(fuse_msg_dirent_next(&one, 0, &pos, plus, &v), 0);
		assert_int_equal(pos, 0);
		/* At or past the end is the end, too. */
		struct dbuf d;
		build_listing(&d, plus);
		pos = d.len;
		assert_int_equal(fuse_msg_dirent_next(d.buf, d.len, &pos, plus, &v), 0);
		assert_int_equal(pos, d.len);
		pos = d.len + 100;
		assert_int_equal(fuse_msg_dirent_next(d.buf, d.len, &pos, plus, &v), 0);
		assert_int_equal(pos, d.len + 100);
	}
}

static void test_readdir_truncated(void **state)
{
	(void)state;
	for (int plus = 0; plus < 2; plus++) {
		struct dbuf d;
		build_listing(&d, plus);
		uint32_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
		/* The last record, "unlooked-up-name" (16), ends unpadded on
		 * 8 bytes in READDIR: use "subdirectory" (12) last instead. */
		struct dbuf e = { .plus = plus };
		struct fuse_entry_out e1 = good_entry(10, S_IFREG | 0644);
		put_name(&e, &e1, 101, 1, DT_REG_, "file.txt");
		uint32_t first = e.len;
		put_name(&e, NULL, 102, 2, DT_DIR_, "subdirectory");
		uint32_t full = first + head + 12;
		assert_true(full < e.len); /* there is padding to cut */
		for (uint32_t len = full; len <= e.len; len++) {
			struct walk w;
			walk(&e, len, &w);
			assert_int_equal(w.r, 0);
			assert_int_equal(w.n, 2);
			assert_int_equal(w.pos, len);
			assert_string_equal(w.v[1].name, "subdirectory");
		}
		/* Cut into the name or the header: the first record still
		 * comes out, then the broken one is refused. */
		for (uint32_t len = first + 1; len < full; len++) {
			struct walk w;
			walk(&e, len, &w);
			assert_int_equal(w.r, -EPROTO);
			assert_int_equal(w.n, 1);
			assert_int_equal(w.pos, first);
		}
		/* Every cut of the whole listing: never a crash, never past len. */
		for (uint32_t len = 1; len <= d.len; len++) {
			struct walk w;
			walk(&d, len, &w);
			assert_true(w.r == 0 || w.r == -EPROTO);
			assert_true(w.pos <= len);
		}
		/* A single header cut short. */
		struct dbuf s = { .plus = plus };
		put_name(&s, NULL, 1, 1, DT_REG_, "x");
		for (uint32_t len = 1; len < head; len++) {
			struct walk w;
			walk(&s, len, &w);
			assert_int_equal(w.r, -EPROTO);
			assert_int_equal(w.n, 0);
			assert_int_equal(w.pos, 0);
		}
	}
}

/* A listing of one good record followed by `bad`; expects the good one, then -EPROTO. */
static void expect_second_bad(bool plus, const struct fuse_entry_out *e, const void *name,
			      uint32_t namelen, uint32_t claimed)
{
	struct dbuf d = { .plus = plus };
	put_name(&d, NULL, 1, 1, DT_REG_, "ok");
	uint32_t first = d.len;
	put_dirent(&d, e, 2, 2, DT_REG_, name, namelen);
	/* Override namelen to what the record claims. */
	uint32_t nl_at = first + (plus ? offsetof(struct fuse_direntplus, dirent) : 0) +
			 offsetof(struct fuse_dirent, namelen);
	memcpy(d.buf + nl_at, &claimed, sizeof(claimed));
	struct walk w;
	walk(&d, d.len, &w);
	assert_int_equal(w.r, -EPROTO);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.v[0].name, "ok");
	assert_int_equal(w.pos, first);
}

static void test_readdir_bad_names(void **state)
{
	(void)state;
	char longname[FUSE_NAME_MAX + 9];
	memset(longname, 'n', sizeof(longname));
	for (int plus = 0; plus < 2; plus++) {
		/* namelen past the end of the buffer (the record is 8 bytes of name). */
		expect_second_bad(plus, NULL, "abcdefgh", 8, 9);
		expect_second_bad(plus, NULL, "abcdefgh", 8, 200);
		expect_second_bad(plus, NULL, "abcdefgh", 8, UINT32_MAX);
		/* namelen 0, namelen > 255 (with the bytes all present). */
		expect_second_bad(plus, NULL, "abcdefgh", 8, 0);
		expect_second_bad(plus, NULL, longname, FUSE_NAME_MAX + 1, FUSE_NAME_MAX + 1);
		expect_second_bad(plus, NULL, longname, FUSE_NAME_MAX + 8, FUSE_NAME_MAX + 8);
		/* '/' or NUL inside the name. */
		expect_second_bad(plus, NULL, "a/b", 3, 3);
		expect_second_bad(plus, NULL, "/", 1, 1);
		expect_second_bad(plus, NULL, "ab/", 3, 3);
		expect_second_bad(plus, NULL, "a\0b", 3, 3);
		expect_second_bad(plus, NULL, "\0", 1, 1);
		expect_second_bad(plus, NULL, ".\0", 2, 2);
		expect_second_bad(plus, NULL, "./", 2, 2);
		/* The longest good name is fine. */
		struct dbuf d = { .plus = plus };
		put_dirent(&d, NULL, 1, 1, DT_REG_, longname, FUSE_NAME_MAX);
		struct walk w;
		walk(&d, d.len, &w);
		assert_int_equal(w.r, 0);
		assert_int_equal(w.n, 1);
		assert_int_equal(w.v[0].namelen, FUSE_NAME_MAX);
		/* "..." and ".x" are ordinary names. */
		d = (struct dbuf){ .plus = plus };
		put_name(&d, NULL, 1, 1, DT_REG_, "...");
		put_name(&d, NULL, 1, 2, DT_REG_, ".x");
		walk(&d, d.len, &w);
		assert_int_equal(w.r, 0);
		assert_int_equal(w.n, 2);
	}
}

static void test_readdirplus_bad_entry(void **state)
{
	(void)state;
	struct fuse_entry_out e = good_entry(20, 0644); /* no file type */
	expect_second_bad(true, &e, "name", 4, 4);
	e = good_entry(20, 0170000);
	expect_second_bad(true, &e, "name", 4, 4);
	e = good_entry(20, S_IFREG | 0644);
	e.attr.size = UINT64_MAX;
	expect_second_bad(true, &e, "name", 4, 4);
	/* A named entry may not claim to be the root. */
	e = good_entry(FUSE_ROOT_ID, S_IFDIR | 0755);
	expect_second_bad(true, &e, "name", 4, 4);
	/* A dot entry with a node id still needs sane attributes... */
	e = good_entry(20, 0644);
	expect_second_bad(true, &e, "..", 2, 2);
	/* ...and ".." may well be the root. */
	struct dbuf d = { .plus = true };
	e = good_entry(FUSE_ROOT_ID, S_IFDIR | 0755);
	put_name(&d, &e, 1, 1, DT_DIR_, "..");
	struct walk w;
	walk(&d, d.len, &w);
	assert_int_equal(w.r, 0);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.v[0].entry.nodeid, FUSE_ROOT_ID);
	/* nodeid 0 means "no entry": its attributes are not looked at. */
	d = (struct dbuf){ .plus = true };
	e = good_entry(0, 0644);
	e.attr.size = UINT64_MAX;
	put_name(&d, &e, 1, 1, DT_REG_, "name");
	walk(&d, d.len, &w);
	assert_int_equal(w.r, 0);
	assert_int_equal(w.n, 1);
	/* The same bytes as a plain READDIR listing mean something else
	 * entirely; the READDIR parse of a READDIRPLUS buffer must not crash. */
	build_listing(&d, true);
	d.plus = false;
	walk(&d, d.len, &w);
	assert_true(w.r == 0 || w.r == -EPROTO);
}

/* ---- random and bit-flipped input ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Feeds one buffer to every checker; returns the directory records accepted. */
static unsigned fuzz_one(const uint8_t *src, uint32_t len, bool plus, uint32_t start)
{
	uint8_t *h = dup_exact(src, len);
	union {
		struct fuse_entry_out e;
		struct fuse_attr_out a;
		struct fuse_open_out o;
		struct fuse_statfs_out s;
		struct fuse_init_out i;
	} out;
	int r;
	if ((r = fuse_msg_entry(h, len, &out.e)) == 0) {
		assert_true(len >= FUSE_COMPAT_ENTRY_OUT_SIZE);
		assert_true(out.e.nodeid == 0 ||
			    (out.e.nodeid != FUSE_ROOT_ID && fuse_msg_attr_ok(&out.e.attr)));
	} else {
		assert_int_equal(r, -EPROTO);
	}
	if ((r = fuse_msg_attr(h, len, &out.a)) == 0)
		assert_true(len >= FUSE_COMPAT_ATTR_OUT_SIZE && fuse_msg_attr_ok(&out.a.attr));
	else
		assert_int_equal(r, -EPROTO);
	if ((r = fuse_msg_open(h, len, &out.o)) == 0)
		assert_true(len >= sizeof(out.o));
	else
		assert_int_equal(r, -EPROTO);
	if ((r = fuse_msg_statfs(h, len, &out.s)) == 0)
		assert_true(len >= FUSE_COMPAT_STATFS_SIZE && out.s.st.bsize &&
			    out.s.st.bfree <= out.s.st.blocks);
	else
		assert_int_equal(r, -EPROTO);
	if ((r = fuse_msg_init(h, len, &out.i)) == 0)
		assert_true(len >= FUSE_COMPAT_22_INIT_OUT_SIZE && out.i.major == 7 &&
			    out.i.minor >= FUSE_MIN_MINOR);
	else
		assert_int_equal(r, -EPROTO);
	fuse_msg_name_ok((const char *)h, len < 300 ? len : 300);
	if (len >= sizeof(struct fuse_out_header)) {
		struct fuse_out_header oh;
		memcpy(&oh, h, sizeof(oh));
		int64_t rr = fuse_msg_reply(&oh, len, oh.unique ^ (next_rand() & 1));
		assert_true(rr == -EPROTO || (rr >= -FUSE_MSG_ERRNO_MAX && rr <= (int64_t)len));
	}

	uint32_t pos = start, steps = 0;
	struct fuse_dirent_view v;
	uint32_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	for (;;) {
		uint32_t before = pos;
		r = fuse_msg_dirent_next(h, len, &pos, plus, &v);
		if (r != 1) {
			assert_true(r == 0 || r == -EPROTO);
			assert_int_equal(pos, before);
			assert_true(r == -EPROTO || before >= len);
			break;
		}
		assert_true(pos > before && pos <= len);
		assert_true(pos - before >= head);
		assert_true(v.namelen >= 1 && v.namelen <= FUSE_NAME_MAX);
		assert_true((const uint8_t *)v.name == h + before + head);
		assert_true(before + head + v.namelen <= len);
		bool dot = (v.namelen == 1 && v.name[0] == '.') ||
			   (v.namelen == 2 && v.name[0] == '.' && v.name[1] == '.');
		assert_true(dot || fuse_msg_name_ok(v.name, v.namelen));
		if (plus && v.entry.nodeid)
			assert_true(fuse_msg_attr_ok(&v.entry.attr) &&
				    (dot || v.entry.nodeid != FUSE_ROOT_ID));
		assert_true(++steps <= len / 8 + 1);
	}
	free(h);
	return steps;
}

static void test_fuzz(void **state)
{
	(void)state;
	static uint8_t buf[8192];
	struct dbuf base[2];
	build_listing(&base[0], false);
	build_listing(&base[1], true);
	/* More structured seeds: the fixed-size replies, well formed. */
	struct fuse_entry_out e = good_entry(5, S_IFREG | 0644);
	struct fuse_init_out in = { .major = 7, .minor = 31, .max_write = 4096 };
	struct fuse_statfs_out st = { .st = { .blocks = 10, .bfree = 5, .bsize = 512 } };
	unsigned records = 0, runs_ok = 0;
	for (int iter = 0; iter < 100000; iter++) {
		bool plus = next_rand() & 1;
		uint32_t len;
		uint64_t kind = next_rand() % 8;
		if (kind == 0) {
			/* Pure noise. */
			len = (uint32_t)(next_rand() % 600);
			for (uint32_t k = 0; k < len; k++)
				buf[k] = (uint8_t)next_rand();
		} else if (kind == 1) {
			/* A well-formed fixed-size reply of some kind. */
			uint64_t which = next_rand() % 3;
			len = which == 0 ? sizeof(e) : which == 1 ? sizeof(in) : sizeof(st);
			memcpy(buf, which == 0 ? (const void *)&e : which == 1 ? (const void *)&in
											: (const void *)&st, len);
		} else {
			/* A listing; kind 2 gives the other flavour's bytes. */
			const struct dbuf *b = &base[kind == 2 ? !plus : plus];
			len = b->len;
			memcpy(buf, b->buf, len);
		}
		unsigned flips = (unsigned)(next_rand() % 6);
		for (unsigned f = 0; f < flips && len; f++) {
			uint32_t at = (uint32_t)(next_rand() % len);
			buf[at] ^= (uint8_t)(1u << (next_rand() % 8));
		}
		if (len && next_rand() % 4 == 0)
			buf[next_rand() % len] = (next_rand() & 1) ? '/' : 0;
		if (len && next_rand() % 3 == 0)
			len = (uint32_t)(next_rand() % (len + 1));
		/* Mostly from the start; sometimes from anywhere, even past len. */
		uint32_t start = next_rand() % 8 ? 0 : (uint32_t)(next_rand() % (len + 16));
		unsigned n = fuzz_one(buf, len, plus, start);
		records += n;
		runs_ok += n >= 3;
	}
	/* The loop reaches the accepting paths, not just the first check. */
	assert_true(records > 100000);
	assert_true(runs_ok > 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_reply_error),
		cmocka_unit_test(test_reply_bad_header),
		cmocka_unit_test(test_name_ok),
		cmocka_unit_test(test_attr_ok),
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_entry_negative),
		cmocka_unit_test(test_entry_bad),
		cmocka_unit_test(test_attr),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_statfs),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_readdir),
		cmocka_unit_test(test_readdir_record_sizes),
		cmocka_unit_test(test_readdir_empty),
		cmocka_unit_test(test_readdir_truncated),
		cmocka_unit_test(test_readdir_bad_names),
		cmocka_unit_test(test_readdirplus_bad_entry),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests_name("fuse_msg", tests, NULL, NULL);
}
