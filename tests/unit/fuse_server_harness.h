/*
 * The request side of the FUSE server unit tests (test_fuse_server.c,
 * test_fuse_server_rw.c): raw FUSE request bytes in, reply bytes out,
 * every reply checked for well-formedness and for bytes from outside the
 * tree. Header-only, like scratch_dir.h: one test binary includes it.
 */
#ifndef PIER_TESTS_FUSE_SERVER_HARNESS_H
#define PIER_TESTS_FUSE_SERVER_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <linux/fuse.h>
#include <pier/fuse_msg.h>
#include "fuse_server.h"
#include "scratch_dir.h"

#define SECRET "SECRET-OUTSIDE-THE-TREE"
#define PASSWD_MARK "root:x:0:0"

static char base[64], tree[96];
static struct fuse_server *srv;
static uint64_t unique_ctr = 1;
static uint8_t rep[FUSE_SERVER_MAX_READ + 4096];

static inline void put_file(const char *rel, const void *data, size_t len)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Every reply, valid request or not, must pass this. */
static inline void check_reply(size_t n, size_t cap, uint64_t unique, bool expect_reply)
{
	assert_true(n <= cap);
	if (n == 0)
		return;
	assert_true(expect_reply);
	assert_true(n >= sizeof(struct fuse_out_header));
	struct fuse_out_header o;
	memcpy(&o, rep, sizeof(o));
	assert_int_equal(o.len, n);
	assert_true(o.unique == unique);
	assert_true(o.error <= 0 && o.error >= -4095);
	if (o.error)
		assert_int_equal(n, sizeof(o));
	assert_null(memmem(rep, n, SECRET, strlen(SECRET)));
	assert_null(memmem(rep, n, PASSWD_MARK, strlen(PASSWD_MARK)));
}

/* Sends raw bytes; returns the reply length. */
static inline size_t raw(const void *req, size_t len, size_t cap)
{
	uint64_t u = 0;
	if (len >= sizeof(struct fuse_in_header))
		memcpy(&u, (const uint8_t *)req + offsetof(struct fuse_in_header, unique), 8);
	memset(rep, 0xa5, cap < sizeof(rep) ? cap : sizeof(rep));
	size_t n = fuse_server_handle(srv, req, len, rep, cap);
	check_reply(n, cap, u, true);
	return n;
}

static inline size_t build(uint8_t *buf, uint32_t op, uint64_t nodeid, const void *pl, size_t plen)
{
	struct fuse_in_header h;
	fuse_msg_header(&h, op, unique_ctr++, nodeid, (uint32_t)(sizeof(h) + plen));
	memcpy(buf, &h, sizeof(h));
	if (plen)
		memcpy(buf + sizeof(h), pl, plen);
	return sizeof(h) + plen;
}

/* One request with reply capacity `cap`; returns payload length or -errno. */
static inline int64_t call_cap(uint32_t op, uint64_t nodeid, const void *pl, size_t plen, size_t cap)
{
	static uint8_t buf[FUSE_SERVER_MAX_READ + 8192]; /* a largest WRITE and more */
	assert_true(plen <= sizeof(buf) - sizeof(struct fuse_in_header));
	size_t len = build(buf, op, nodeid, pl, plen);
	size_t n = raw(buf, len, cap);
	if (n == 0)
		return INT64_MIN;
	int64_t r = fuse_msg_reply((struct fuse_out_header *)rep, (uint32_t)n, unique_ctr - 1);
	assert_true(r != -EPROTO || ((struct fuse_out_header *)rep)->error == -EPROTO);
	return r;
}

static inline int64_t call(uint32_t op, uint64_t nodeid, const void *pl, size_t plen)
{
	return call_cap(op, nodeid, pl, plen, sizeof(rep));
}

/* A request whose payload is a fixed struct `a` followed by `b` (names, data). */
static inline int64_t call2(uint32_t op, uint64_t nodeid, const void *a, size_t alen,
			    const void *b, size_t blen)
{
	static uint8_t pl[FUSE_SERVER_MAX_READ + 4096];
	assert_true(alen + blen <= sizeof(pl));
	if (alen)
		memcpy(pl, a, alen);
	if (blen)
		memcpy(pl + alen, b, blen);
	return call(op, nodeid, pl, alen + blen);
}

static inline const uint8_t *payload(void)
{
	return rep + sizeof(struct fuse_out_header);
}

static inline void init(void)
{
	struct fuse_init_in in = {
		.major = 7, .minor = FUSE_KERNEL_MINOR_VERSION, .max_readahead = 65536,
		.flags = FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES | FUSE_ASYNC_READ | FUSE_INIT_EXT |
			 FUSE_WRITEBACK_CACHE,
	};
	int64_t r = call(FUSE_INIT, 0, &in, sizeof(in));
	assert_true(r > 0);
	struct fuse_init_out o;
	assert_int_equal(fuse_msg_init(payload(), (uint32_t)r, &o), 0);
	assert_true(o.flags & FUSE_DO_READDIRPLUS);
	assert_true(o.flags & FUSE_MAX_PAGES);
	assert_false(o.flags & FUSE_WRITEBACK_CACHE);
	assert_int_equal(o.max_pages, FUSE_SERVER_MAX_READ / 4096);
}

static inline int64_t lookup_name(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int64_t r = call(FUSE_LOOKUP, parent, name, strlen(name) + 1);
	if (r >= 0) {
		assert_int_equal(fuse_msg_entry(payload(), (uint32_t)r, e), 0);
		assert_true(fuse_msg_attr_ok(&e->attr));
		assert_true(e->nodeid != 0);
		return 0;
	}
	return r;
}

static inline uint64_t lookup_ok(uint64_t parent, const char *name)
{
	struct fuse_entry_out e;
	assert_int_equal(lookup_name(parent, name, &e), 0);
	return e.nodeid;
}

static inline int64_t open_node(uint64_t node, uint32_t flags, bool dir, uint64_t *fh)
{
	struct fuse_open_in in = { .flags = flags };
	int64_t r = call(dir ? FUSE_OPENDIR : FUSE_OPEN, node, &in, sizeof(in));
	if (r < 0)
		return r;
	struct fuse_open_out o;
	assert_int_equal(fuse_msg_open(payload(), (uint32_t)r, &o), 0);
	*fh = o.fh;
	return 0;
}

static inline int64_t read_fh(uint32_t op, uint64_t fh, uint64_t off, uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	return call(op, 1, &in, sizeof(in));
}

static inline int64_t release(uint64_t fh, bool dir)
{
	struct fuse_release_in in = { .fh = fh };
	return call(dir ? FUSE_RELEASEDIR : FUSE_RELEASE, 1, &in, sizeof(in));
}

static inline void forget(uint64_t node, uint64_t n)
{
	uint8_t buf[64];
	struct fuse_forget_in in = { .nlookup = n };
	size_t len = build(buf, FUSE_FORGET, node, &in, sizeof(in));
	assert_int_equal(fuse_server_handle(srv, buf, len, rep, sizeof(rep)), 0);
}

static inline struct fuse_server_stats stats(void)
{
	struct fuse_server_stats st;
	fuse_server_get_stats(srv, &st);
	return st;
}

static inline void path_in(char *p, size_t cap, const char *dir, const char *rel)
{
	assert_true(snprintf(p, cap, "%s/%s", dir, rel) < (int)cap);
}

static inline void put_file_in(const char *dir, const char *rel, const void *data, size_t len)
{
	char p[512];
	path_in(p, sizeof(p), dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

#define RW_DATA_SIZE (3 * 4096 + 100)

/*
 * A writable tree at `dir` (fresh: whatever was there is removed), beside
 * the files `outside` and `outside_abs` of its parent directory, which hold
 * SECRET: hello.txt, data.bin (RW_DATA_SIZE bytes, byte i = i * 13), sub/
 * with inner.txt, empty/, a FIFO, symlinks up -> ../outside, abs -> the
 * absolute path of outside_abs, updir -> .., sub/up2 -> ../../outside.
 */
static int unlock_dnr;

static inline int unlock_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)f;
	if (flag == FTW_D || flag == FTW_DNR) {
		unlock_dnr += flag == FTW_DNR;
		chmod(p, 0700);
	}
	return 0;
}

static inline void build_rw_tree(const char *dir)
{
	char p[512], parent[512];
	/* A guest (the fuzz) may have taken the permissions away: give
	 * every directory back to us, pass by pass, so it can be removed. */
	for (int pass = 0; pass < 16 && access(dir, F_OK) == 0; pass++) {
		unlock_dnr = 0;
		chmod(dir, 0700);
		nftw(dir, unlock_one, 16, FTW_PHYS);
		if (!unlock_dnr)
			break;
	}
	scratch_remove_tree(dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_true(snprintf(parent, sizeof(parent), "%s/..", dir) < (int)sizeof(parent));
	path_in(p, sizeof(p), parent, "outside");
	if (access(p, F_OK))
		put_file_in(parent, "outside", SECRET, strlen(SECRET));
	path_in(p, sizeof(p), parent, "outside_abs");
	if (access(p, F_OK))
		put_file_in(parent, "outside_abs", SECRET, strlen(SECRET));
	put_file_in(dir, "hello.txt", "hello world\n", 12);
	uint8_t data[RW_DATA_SIZE];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	put_file_in(dir, "data.bin", data, sizeof(data));
	path_in(p, sizeof(p), dir, "sub");
	assert_int_equal(mkdir(p, 0755), 0);
	put_file_in(dir, "sub/inner.txt", "inner\n", 6);
	path_in(p, sizeof(p), dir, "empty");
	assert_int_equal(mkdir(p, 0755), 0);
	path_in(p, sizeof(p), dir, "fifo");
	assert_int_equal(mkfifo(p, 0644), 0);
	path_in(p, sizeof(p), dir, "up");
	assert_int_equal(symlink("../outside", p), 0);
	char abs_target[512];
	char *real_parent = realpath(parent, NULL);
	assert_non_null(real_parent);
	path_in(abs_target, sizeof(abs_target), real_parent, "outside_abs");
	free(real_parent);
	path_in(p, sizeof(p), dir, "abs");
	assert_int_equal(symlink(abs_target, p), 0);
	path_in(p, sizeof(p), dir, "updir");
	assert_int_equal(symlink("..", p), 0);
	path_in(p, sizeof(p), dir, "sub/up2");
	assert_int_equal(symlink("../../outside", p), 0);
}

/*
 * A fingerprint of everything beneath a directory: names, types, modes,
 * owners, link counts, sizes, mtimes and ctimes, file bytes and link texts
 * (not atimes: reading changes them), below the top directory itself.
 * The subtree at path `skip` is left out (NULL: none).
 */
static uint64_t digest_acc;
static const char *digest_skip;

static inline void digest_mix(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		digest_acc = (digest_acc ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
}

static inline int digest_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)flag;
	if (digest_skip && strcmp(p, digest_skip) == 0)
		return FTW_SKIP_SUBTREE;
	digest_mix(p, strlen(p) + 1);
	if (f->level == 0)
		return FTW_CONTINUE; /* the top's times change with `skip` */
	uint64_t v[] = { st->st_mode, st->st_uid, st->st_gid, st->st_nlink, (uint64_t)st->st_size,
			 (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec,
			 (uint64_t)st->st_ctim.tv_sec, (uint64_t)st->st_ctim.tv_nsec, st->st_ino };
	digest_mix(v, sizeof(v));
	char buf[4096];
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlink(p, buf, sizeof(buf));
		if (n > 0)
			digest_mix(buf, (size_t)n);
	} else if (S_ISREG(st->st_mode)) {
		int fd = open(p, O_RDONLY | O_NOFOLLOW);
		ssize_t n;
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			digest_mix(buf, (size_t)n);
		if (fd >= 0)
			close(fd);
	}
	return FTW_CONTINUE;
}

static inline uint64_t tree_digest(const char *dir, const char *skip)
{
	digest_acc = 0xcbf29ce484222325ull;
	digest_skip = skip;
	assert_int_equal(nftw(dir, digest_one, 16, FTW_PHYS | FTW_ACTIONRETVAL), 0);
	return digest_acc;
}

#endif
