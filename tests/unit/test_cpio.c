/*
 * Unit tests for lib/cpio.c: archives built here field by field, archives
 * written by GNU cpio itself, and hostile ones (every truncation, bad
 * digits, bad sizes, bad names, random corruption). Archives are parsed
 * from exact-size heap copies so ASan catches any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <pier/cpio.h>
#include <pier/errno.h>

/* ---- building archives ---- */

struct ar {
	uint8_t buf[16384];
	size_t len;
	uint32_t next_ino;
};

static void put(struct ar *a, const void *p, size_t n)
{
	assert_true(n <= sizeof(a->buf) - a->len);
	if (n)
		memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void pad(struct ar *a)
{
	static const uint8_t zeros[4];
	put(a, zeros, (4 - (a->len & 3)) & 3);
}

/* An entry with an explicit name size (the name bytes are namesize long). */
static size_t add_raw(struct ar *a, const char *magic, const char *name, size_t namesize,
		      uint32_t mode, uint32_t nlink, const void *data, size_t size)
{
	char hdr[CPIO_HEADER_SIZE + 1];
	size_t at = a->len;
	int n = snprintf(hdr, sizeof(hdr), "%s%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
			 magic, ++a->next_ino, mode, 1000u, 100u, nlink, 0x65000000u, size, 8u, 1u,
			 0u, 0u, namesize, 0u);
	assert_int_equal(n, CPIO_HEADER_SIZE);
	put(a, hdr, CPIO_HEADER_SIZE);
	put(a, name, namesize);
	pad(a);
	put(a, data, size);
	pad(a);
	return at;
}

/* Returns the offset of the entry's header. */
static size_t add(struct ar *a, const char *name, uint32_t mode, const void *data, size_t size)
{
	return add_raw(a, "070701", name, strlen(name) + 1, mode, 1, data, size);
}

static size_t add_trailer(struct ar *a)
{
	return add(a, "TRAILER!!!", 0, NULL, 0);
}

/* Overwrites header field i (0 = ino ... 12 = check) of the header at off. */
static void set_field(struct ar *a, size_t off, int i, const char *eight)
{
	assert_int_equal(strlen(eight), 8);
	memcpy(a->buf + off + 6 + 8 * i, eight, 8);
}

enum { F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE, F_DEVMAJOR, F_DEVMINOR,
       F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK, NFIELDS };

/* A small archive with each padding case: names and data of every length mod 4. */
static struct ar sample;
static size_t sample_hello, sample_trailer;

static void build_sample(void)
{
	memset(&sample, 0, sizeof(sample));
	add(&sample, ".", CPIO_S_IFDIR | 0755, NULL, 0);
	add(&sample, "./a", CPIO_S_IFDIR | 0755, NULL, 0);
	sample_hello = add(&sample, "./a/hello.txt", CPIO_S_IFREG | 0644, "hello\n", 6);
	add(&sample, "./a/link", CPIO_S_IFLNK | 0777, "hello.txt", 9);
	add(&sample, "./empty", CPIO_S_IFREG | 0600, NULL, 0);
	add(&sample, "x1", CPIO_S_IFREG | 0644, "1", 1);
	add(&sample, "x22", CPIO_S_IFREG | 0644, "22", 2);
	add(&sample, "x333", CPIO_S_IFREG | 0644, "333", 3);
	add(&sample, "x4444", CPIO_S_IFREG | 0644, "4444", 4);
	sample_trailer = add_trailer(&sample);
}

static int setup(void **state)
{
	(void)state;
	build_sample();
	return 0;
}

/* ---- walking ---- */

struct walk {
	int rc;            /* the first non-1 result */
	int n;             /* entries seen */
	const char *why;
	size_t off;
};

/*
 * Walks a copy of [buf, buf+len) in a buffer of exactly that size, checking
 * that every entry lies inside it.
 */
static struct walk walk(const void *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	struct cpio_iter it;
	struct cpio_entry e;
	struct walk w = { 0 };
	cpio_iter_init(&it, copy, len);
	while ((w.rc = cpio_next(&it, &e)) == 1) {
		w.n++;
		const uint8_t *name = (const uint8_t *)e.name, *data = e.data;
		assert_true(name >= copy && name + e.namelen < copy + len);
		assert_int_equal(strlen(e.name), e.namelen);
		assert_true(data >= copy && e.size <= len && data - copy <= (ptrdiff_t)(len - e.size));
		assert_int_equal((data - copy) % 4, 0);
	}
	assert_true(w.rc == 0 || w.rc == -EINVAL || w.rc == -ENODATA);
	assert_true(it.off <= len);
	/* Sticky: the same answer again. */
	assert_int_equal(cpio_next(&it, &e), w.rc);
	assert_true((w.rc < 0) == (it.why != NULL));
	w.why = it.why;
	w.off = it.off;
	free(copy);
	return w;
}

static void test_sample_entries(void **state)
{
	(void)state;
	uint8_t *copy = malloc(sample.len);
	memcpy(copy, sample.buf, sample.len);
	struct cpio_iter it;
	struct cpio_entry e;
	cpio_iter_init(&it, copy, sample.len);

	static const struct {
		const char *name;
		uint32_t mode;
		const char *data;
	} want[] = {
		{ ".", CPIO_S_IFDIR | 0755, "" },
		{ "./a", CPIO_S_IFDIR | 0755, "" },
		{ "./a/hello.txt", CPIO_S_IFREG | 0644, "hello\n" },
		{ "./a/link", CPIO_S_IFLNK | 0777, "hello.txt" },
		{ "./empty", CPIO_S_IFREG | 0600, "" },
		{ "x1", CPIO_S_IFREG | 0644, "1" },
		{ "x22", CPIO_S_IFREG | 0644, "22" },
		{ "x333", CPIO_S_IFREG | 0644, "333" },
		{ "x4444", CPIO_S_IFREG | 0644, "4444" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(cpio_next(&it, &e), 1);
		assert_string_equal(e.name, want[i].name);
		assert_int_equal(e.namelen, strlen(want[i].name));
		assert_int_equal(e.mode, want[i].mode);
		assert_int_equal(e.size, strlen(want[i].data));
		assert_memory_equal(e.data, want[i].data, e.size);
		assert_int_equal(e.ino, i + 1);
		assert_int_equal(e.uid, 1000);
		assert_int_equal(e.gid, 100);
		assert_int_equal(e.nlink, 1);
		assert_int_equal(e.mtime, 0x65000000);
		assert_int_equal(e.devmajor, 8);
		assert_int_equal(e.devminor, 1);
		assert_int_equal(e.rdevmajor, 0);
		assert_int_equal(e.rdevminor, 0);
	}
	assert_int_equal(cpio_next(&it, &e), 0);
	assert_int_equal(it.off, sample.len);
	assert_null(it.why);
	assert_int_equal(cpio_next(&it, &e), 0);
	free(copy);
}

/* Lower-case digits, the crc magic, a device node's rdev, a full 32-bit value. */
static void test_field_variants(void **state)
{
	(void)state;
	struct ar a = { 0 };
	size_t dev = add(&a, "dev/null", CPIO_S_IFCHR | 0666, NULL, 0);
	add_trailer(&a);
	memcpy(a.buf + dev, "070702", 6);
	set_field(&a, dev, F_CHECK, "deadBEEF"); /* not verified */
	set_field(&a, dev, F_MODE, "000021b6");
	set_field(&a, dev, F_RDEVMAJOR, "00000001");
	set_field(&a, dev, F_RDEVMINOR, "00000003");
	set_field(&a, dev, F_MTIME, "FFFFFFFF");

	struct cpio_iter it;
	struct cpio_entry e;
	cpio_iter_init(&it, a.buf, a.len);
	assert_int_equal(cpio_next(&it, &e), 1);
	assert_string_equal(e.name, "dev/null");
	assert_int_equal(e.mode, CPIO_S_IFCHR | 0666);
	assert_int_equal(e.rdevmajor, 1);
	assert_int_equal(e.rdevminor, 3);
	assert_int_equal(e.mtime, 0xffffffffu);
	assert_int_equal(cpio_next(&it, &e), 0);
}

/* Names come back verbatim, including ones the caller must reject. */
static void test_names_verbatim(void **state)
{
	(void)state;
	static const char *names[] = { "./a/b", "/abs", "..", "a//b/../c", "" };
	struct ar a = { 0 };
	for (size_t i = 0; i < 5; i++)
		add(&a, names[i], CPIO_S_IFREG | 0644, "z", 1);
	add_trailer(&a);
	struct cpio_iter it;
	struct cpio_entry e;
	cpio_iter_init(&it, a.buf, a.len);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(cpio_next(&it, &e), 1);
		assert_string_equal(e.name, names[i]);
	}
	assert_int_equal(cpio_next(&it, &e), 0);
}

/* The archive need not be aligned in memory: padding is counted from its start. */
static void test_unaligned_buffer(void **state)
{
	(void)state;
	uint8_t *mem = malloc(sample.len + 3);
	for (size_t shift = 1; shift <= 3; shift++) {
		memcpy(mem + shift, sample.buf, sample.len);
		struct cpio_iter it;
		struct cpio_entry e;
		int n = 0, rc;
		cpio_iter_init(&it, mem + shift, sample.len);
		while ((rc = cpio_next(&it, &e)) == 1)
			n++;
		assert_int_equal(rc, 0);
		assert_int_equal(n, 9);
	}
	free(mem);
}

/* Bytes after the trailer are never read, and off says where they start. */
static void test_after_trailer(void **state)
{
	(void)state;
	struct ar a = sample;
	size_t end = a.len;
	put(&a, "garbage, or a second archive", 28);
	struct walk w = walk(a.buf, a.len);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.n, 9);
	assert_int_equal(w.off, end);
}

/* ---- hostile archives ---- */

/* Any cut before the end of the trailer is an error, never a shorter archive. */
static void test_every_truncation(void **state)
{
	(void)state;
	for (size_t cut = 0; cut < sample.len; cut++) {
		struct walk w = walk(sample.buf, cut);
		assert_int_equal(w.rc, -ENODATA);
		assert_true(w.n <= 9);
	}
	/* Cut at an entry boundary and zero-filled, as a disk image would be. */
	struct ar a = sample;
	memset(a.buf + sample_trailer, 0, a.len - sample_trailer);
	struct walk w = walk(a.buf, a.len + 512);
	assert_int_equal(w.rc, -ENODATA);
	assert_int_equal(w.n, 9);
	assert_string_equal(w.why, "archive ends without a trailer");
}

static void test_empty_buffer(void **state)
{
	(void)state;
	struct cpio_iter it;
	struct cpio_entry e;
	cpio_iter_init(&it, NULL, 0);
	assert_int_equal(cpio_next(&it, &e), -ENODATA);
	assert_int_equal(walk("", 0).rc, -ENODATA);
	static const uint8_t zeros[1024];
	assert_int_equal(walk(zeros, sizeof(zeros)).rc, -ENODATA);
}

static void test_missing_trailer(void **state)
{
	(void)state;
	struct walk w = walk(sample.buf, sample_trailer);
	assert_int_equal(w.rc, -ENODATA);
	assert_int_equal(w.n, 9);
	/* Garbage where the trailer should be is malformed rather than short. */
	struct ar a = sample;
	memcpy(a.buf + sample_trailer, "GARBAGE", 7);
	w = walk(a.buf, a.len);
	assert_int_equal(w.rc, -EINVAL);
	assert_int_equal(w.n, 9);
}

static void test_bad_magic(void **state)
{
	(void)state;
	static const char *magics[] = { "070707", "070700", "070703", "07070X", "170701",
					"\xc7\x71\x00\x00\x00\x00", "707010", "      " };
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		struct ar a = sample;
		memcpy(a.buf, magics[i], 6);
		struct walk w = walk(a.buf, a.len);
		assert_int_equal(w.rc, -EINVAL);
		assert_int_equal(w.n, 0);
		/* The same in the trailer. */
		a = sample;
		memcpy(a.buf + sample_trailer, magics[i], 6);
		w = walk(a.buf, a.len);
		assert_int_equal(w.rc, -EINVAL);
		assert_int_equal(w.n, 9);
	}
}

/* Every field, every position: one non-hex byte is enough. */
static void test_non_hex_digits(void **state)
{
	(void)state;
	static const char bad[] = { 'g', 'G', 'x', ' ', '-', '+', '\0', '\n', '/', ':', '@', '`',
				    (char)0x80, (char)0xff };
	size_t headers[] = { 0, sample_hello, sample_trailer };
	for (size_t h = 0; h < 3; h++) {
		for (int f = 0; f < NFIELDS; f++) {
			for (int pos = 0; pos < 8; pos++) {
				for (size_t b = 0; b < sizeof(bad); b++) {
					struct ar a = sample;
					a.buf[headers[h] + 6 + 8 * f + pos] = (uint8_t)bad[b];
					struct walk w = walk(a.buf, a.len);
					assert_int_equal(w.rc, -EINVAL);
					assert_string_equal(w.why, "header field is not 8 hex digits");
				}
			}
		}
	}
}

static void test_namesize_zero(void **state)
{
	(void)state;
	struct ar a = sample;
	set_field(&a, 0, F_NAMESIZE, "00000000");
	struct walk w = walk(a.buf, a.len);
	assert_int_equal(w.rc, -EINVAL);
	assert_string_equal(w.why, "name size is 0");
}

static void test_name_termination(void **state)
{
	(void)state;
	/* The last byte counted by the name size is not a NUL. */
	struct ar a = { 0 };
	add_raw(&a, "070701", "abc", 3, CPIO_S_IFREG, 1, NULL, 0);
	add_trailer(&a);
	struct walk w = walk(a.buf, a.len);
	assert_int_equal(w.rc, -EINVAL);
	assert_int_equal(w.n, 0);

	/* A NUL inside the name: "ab" to a C string, "ab\0c" by its size. */
	memset(&a, 0, sizeof(a));
	add_raw(&a, "070701", "ab\0c", 5, CPIO_S_IFREG, 1, NULL, 0);
	add_trailer(&a);
	assert_int_equal(walk(a.buf, a.len).rc, -EINVAL);

	/* Nor may the trailer hide behind one: "TRAILER!!!\0junk". */
	memset(&a, 0, sizeof(a));
	add(&a, "f", CPIO_S_IFREG, NULL, 0);
	add_raw(&a, "070701", "TRAILER!!!\0junk", 16, 0, 1, NULL, 0);
	w = walk(a.buf, a.len);
	assert_int_equal(w.rc, -EINVAL);
	assert_int_equal(w.n, 1);

	/* A name size that runs past the end of the archive. */
	a = sample;
	set_field(&a, 0, F_NAMESIZE, "00010000");
	w = walk(a.buf, a.len);
	assert_int_equal(w.rc, -ENODATA);
	assert_string_equal(w.why, "truncated name");
}

/* Sizes at and past the end of the buffer, up to the 32-bit maximum. */
static void test_sizes_past_end(void **state)
{
	(void)state;
	static const char *sizes[] = { "FFFFFFFF", "FFFFFFFC", "80000000", "7FFFFFFF", "00001000" };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct ar a = sample;
		set_field(&a, 0, F_FILESIZE, sizes[i]);
		struct walk w = walk(a.buf, a.len);
		assert_int_equal(w.rc, -ENODATA);
		assert_string_equal(w.why, "truncated data");
		a = sample;
		set_field(&a, 0, F_NAMESIZE, sizes[i]);
		w = walk(a.buf, a.len);
		assert_int_equal(w.rc, -ENODATA);
		assert_string_equal(w.why, "truncated name");
	}

	/* Data that ends exactly at the end of the buffer, but without its padding. */
	struct ar a = { 0 };
	add(&a, "f", CPIO_S_IFREG, "abc", 3);
	struct walk w = walk(a.buf, a.len - 1);
	assert_int_equal(w.rc, -ENODATA);
	assert_string_equal(w.why, "truncated padding after data");
	/* A name that ends exactly at the end of the buffer, without its padding. */
	memset(&a, 0, sizeof(a));
	add(&a, "ab", CPIO_S_IFREG, NULL, 0); /* 110 + 3 = 113, padded to 116 */
	w = walk(a.buf, CPIO_HEADER_SIZE + 3);
	assert_int_equal(w.rc, -ENODATA);
	assert_string_equal(w.why, "truncated padding after name");

	/* A size claiming the following headers as data is read as data. */
	a = sample;
	set_field(&a, 0, F_FILESIZE, "00000074"); /* exactly the "./a" entry */
	w = walk(a.buf, a.len);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.n, 8);
}

/* Random corruption of a valid archive must never crash or read outside it. */
static void test_random_corruption(void **state)
{
	(void)state;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	static const char alphabet[] = "0123456789abcdefABCDEF7\0";
	int outcomes[3] = { 0 }; /* whole archives, -EINVAL, -ENODATA */
	for (int round = 0; round < 20000; round++) {
		struct ar a = sample;
		int nflips = 1 + round % 4;
		for (int k = 0; k < nflips; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t pos = (seed >> 33) % a.len;
			/* Mostly plausible digits, so the walk gets past the hex check. */
			uint8_t v = (seed >> 20) & 1 ? (uint8_t)alphabet[(seed >> 8) % 24]
						     : (uint8_t)(seed >> 12);
			a.buf[pos] = v;
		}
		size_t len = a.len;
		if (round % 3 == 0)
			len = (seed >> 40) % (a.len + 1);
		struct walk w = walk(a.buf, len);
		outcomes[w.rc == 0 ? 0 : w.rc == -EINVAL ? 1 : 2]++;
	}
	/* The rounds reached every outcome, so every check in walk() ran on
	 * corrupt input (the sanitizers watch the rest). */
	assert_true(outcomes[0] > 0 && outcomes[1] > 0 && outcomes[2] > 0);
}

/* ---- archives written by GNU cpio ---- */

static char tmpdir[64];
static uint8_t *cpio_out; /* freed by the teardown should an assertion fail */

static int remove_tmpdir(void **state)
{
	(void)state;
	char cmd[128];
	free(cpio_out);
	cpio_out = NULL;
	if (!tmpdir[0])
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	tmpdir[0] = '\0';
	return system(cmd) == 0 ? 0 : -1;
}

static void make_file(const char *rel, const void *data, size_t size, mode_t mode)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Runs GNU cpio over tmpdir in format fmt and returns the archive (malloc'd). */
static uint8_t *run_cpio(const char *fmt, size_t *len)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "cd %s && find . | LC_ALL=C sort | cpio -o -H %s --quiet", tmpdir,
		 fmt);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, p)) > 0) {
		n += got;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	assert_int_equal(pclose(p), 0);
	*len = n;
	return buf;
}

static void test_gnu_cpio(void **state)
{
	(void)state;
	if (system("command -v cpio >/dev/null 2>&1") != 0)
		fail_msg("GNU cpio is not installed (Debian package cpio; make deps)");

	strcpy(tmpdir, "/tmp/pier-test-cpio-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	char path[512], path2[512];
	snprintf(path, sizeof(path), "%s/d", tmpdir);
	assert_int_equal(mkdir(path, 0750), 0);

	static uint8_t big[5001];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	make_file("d/hello.txt", "hello, world\n", 13, 0640);
	make_file("d/big.bin", big, sizeof(big), 0644);
	make_file("empty", "", 0, 0600);
	make_file("one", "1", 1, 0644);
	make_file("two", "22", 2, 0644);
	make_file("three", "333", 3, 0755);
	make_file("hard1", "linked\n", 7, 0644);
	char longname[200] = "d/";
	memset(longname + 2, 'n', 150);
	make_file(longname, "long", 4, 0644);
	snprintf(path, sizeof(path), "%s/d/link", tmpdir);
	assert_int_equal(symlink("hello.txt", path), 0);
	snprintf(path, sizeof(path), "%s/hard1", tmpdir);
	snprintf(path2, sizeof(path2), "%s/hard2", tmpdir);
	assert_int_equal(link(path, path2), 0);

	static const char *fmts[] = { "newc", "crc" };
	for (int fi = 0; fi < 2; fi++) {
		size_t len;
		uint8_t *buf = cpio_out = run_cpio(fmts[fi], &len);
		assert_true(len > 0);
		assert_int_equal(len % 512, 0);
		assert_memory_equal(buf, fi == 0 ? "070701" : "070702", 6);

		struct cpio_iter it;
		struct cpio_entry e;
		int rc, n = 0, seen_hello = 0, seen_big = 0, seen_link = 0, seen_long = 0;
		int hard_entries = 0, hard_with_data = 0;
		uint32_t hard_ino = 0;
		cpio_iter_init(&it, buf, len);
		while ((rc = cpio_next(&it, &e)) == 1) {
			n++;
			assert_int_equal(e.uid, getuid());
			/* GNU cpio drops the "./" that find printed; don't rely on it. */
			const char *name = e.name;
			if (!strncmp(name, "./", 2))
				name += 2;
			if (!strcmp(e.name, ".")) {
				assert_int_equal(e.mode & CPIO_S_IFMT, CPIO_S_IFDIR);
			} else if (!strcmp(name, "d")) {
				assert_int_equal(e.mode, CPIO_S_IFDIR | 0750);
			} else if (!strcmp(name, "d/hello.txt")) {
				seen_hello++;
				assert_int_equal(e.mode, CPIO_S_IFREG | 0640);
				assert_int_equal(e.size, 13);
				assert_memory_equal(e.data, "hello, world\n", 13);
			} else if (!strcmp(name, "d/big.bin")) {
				seen_big++;
				assert_int_equal(e.size, sizeof(big));
				assert_memory_equal(e.data, big, sizeof(big));
			} else if (!strcmp(name, "d/link")) {
				seen_link++;
				assert_int_equal(e.mode & CPIO_S_IFMT, CPIO_S_IFLNK);
				assert_int_equal(e.size, 9);
				assert_memory_equal(e.data, "hello.txt", 9);
			} else if (!strcmp(name, "empty")) {
				assert_int_equal(e.mode, CPIO_S_IFREG | 0600);
				assert_int_equal(e.size, 0);
			} else if (!strcmp(name, "one")) {
				assert_memory_equal(e.data, "1", e.size);
			} else if (!strcmp(name, "two")) {
				assert_memory_equal(e.data, "22", e.size);
			} else if (!strcmp(name, "three")) {
				assert_int_equal(e.mode, CPIO_S_IFREG | 0755);
				assert_memory_equal(e.data, "333", e.size);
			} else if (!strcmp(name, "hard1") || !strcmp(name, "hard2")) {
				/* Same ino, nlink 2; the data rides on one of them only. */
				hard_entries++;
				assert_int_equal(e.nlink, 2);
				if (hard_ino)
					assert_int_equal(e.ino, hard_ino);
				hard_ino = e.ino;
				if (e.size) {
					hard_with_data++;
					assert_int_equal(e.size, 7);
					assert_memory_equal(e.data, "linked\n", 7);
				}
			} else if (strlen(name) == 152 && !strncmp(name, "d/nnnn", 6)) {
				seen_long++;
				assert_memory_equal(e.data, "long", 4);
			} else {
				fail_msg("unexpected entry %s", e.name);
			}
		}
		assert_int_equal(rc, 0);
		assert_int_equal(n, 12);
		assert_int_equal(seen_hello + seen_big + seen_link + seen_long, 4);
		assert_int_equal(hard_entries, 2);
		assert_int_equal(hard_with_data, 1);
		/* GNU cpio pads to 512-byte blocks with zeros after the trailer. */
		for (size_t i = it.off; i < len; i++)
			assert_int_equal(buf[i], 0);

		/* And it is a hostile-input corpus of its own: every cut fails. */
		for (size_t cut = 0; cut < it.off; cut += 1 + cut % 61)
			assert_int_equal(walk(buf, cut).rc, -ENODATA);
		free(buf);
		cpio_out = NULL;
	}

}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_sample_entries, setup),
		cmocka_unit_test(test_field_variants),
		cmocka_unit_test(test_names_verbatim),
		cmocka_unit_test_setup(test_unaligned_buffer, setup),
		cmocka_unit_test_setup(test_after_trailer, setup),
		cmocka_unit_test_setup(test_every_truncation, setup),
		cmocka_unit_test(test_empty_buffer),
		cmocka_unit_test_setup(test_missing_trailer, setup),
		cmocka_unit_test_setup(test_bad_magic, setup),
		cmocka_unit_test_setup(test_non_hex_digits, setup),
		cmocka_unit_test_setup(test_namesize_zero, setup),
		cmocka_unit_test(test_name_termination),
		cmocka_unit_test_setup(test_sizes_past_end, setup),
		cmocka_unit_test_setup(test_random_corruption, setup),
		cmocka_unit_test_teardown(test_gnu_cpio, remove_tmpdir),
	};
	return cmocka_run_group_tests_name("cpio", tests, NULL, NULL);
}
