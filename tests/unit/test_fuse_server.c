/*
 * Unit and fuzz tests for host/fuse_server*.c: raw FUSE request bytes in,
 * reply bytes out, against a temporary tree with symlinks that point
 * outside it. No reply may ever carry bytes from outside the tree. Here:
 * the read-only server (every write refused, nothing changed), and the
 * fuzz loops over both kinds of server; test_fuse_server_rw.c has the
 * writable server's requests one by one.
 */
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
#include "dax_map.h"
#include "fuse_server.h"
#include "fuse_server_harness.h"
#include "fuse_server_priv.h"
#include "scratch_dir.h"

#define BIG_SIZE (300 * 1024 + 123)
#define MANY 100

/* A tree: hello.txt, big.bin, sub/inner.txt, many/f000..f099, a FIFO,
 * symlinks up -> ../outside, abs -> /etc/passwd, updir -> .., and
 * sub/up2 -> ../../outside; the file ../outside holds SECRET. */
static int setup(void **state)
{
	(void)state;
	strcpy(base, "/tmp/pier-fuse-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(tree, sizeof(tree), "%s/tree", base);
	assert_int_equal(mkdir(tree, 0755), 0);
	char p[256];
	snprintf(p, sizeof(p), "%s/outside", base);
	int fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(fd, SECRET, strlen(SECRET)), (ssize_t)strlen(SECRET));
	close(fd);
	put_file("hello.txt", "hello world\n", 12);
	uint8_t *big = malloc(BIG_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	put_file("big.bin", big, BIG_SIZE);
	free(big);
	snprintf(p, sizeof(p), "%s/sub", tree);
	assert_int_equal(mkdir(p, 0755), 0);
	put_file("sub/inner.txt", "inner\n", 6);
	snprintf(p, sizeof(p), "%s/many", tree);
	assert_int_equal(mkdir(p, 0755), 0);
	for (int i = 0; i < MANY; i++) {
		char n[32];
		snprintf(n, sizeof(n), "many/f%03d", i);
		put_file(n, n, strlen(n));
	}
	snprintf(p, sizeof(p), "%s/fifo", tree);
	assert_int_equal(mkfifo(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/up", tree);
	assert_int_equal(symlink("../outside", p), 0);
	snprintf(p, sizeof(p), "%s/abs", tree);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/updir", tree);
	assert_int_equal(symlink("..", p), 0);
	snprintf(p, sizeof(p), "%s/sub/up2", tree);
	assert_int_equal(symlink("../../outside", p), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	scratch_remove_tree(base);
	return 0;
}

static int srv_up(void **state)
{
	(void)state;
	srv = fuse_server_new(tree, true);
	assert_non_null(srv);
	return 0;
}

static int srv_down(void **state)
{
	(void)state;
	fuse_server_free(srv);
	srv = NULL;
	return 0;
}

static void test_new_refuses(void **state)
{
	(void)state;
	char p[256];
	snprintf(p, sizeof(p), "%s/hello.txt", tree);
	assert_null(fuse_server_new(p, true));
	assert_int_equal(errno, ENOTDIR);
	assert_null(fuse_server_new(p, false));
	assert_int_equal(errno, ENOTDIR);
	assert_null(fuse_server_new("/nonexistent/pier", true));
	assert_null(fuse_server_new("/nonexistent/pier", false));
	/* Writable serving exists (test_fuse_server_rw.c tests it). */
	struct fuse_server *w = fuse_server_new(tree, false);
	assert_non_null(w);
	fuse_server_free(w);
}

static void test_init(void **state)
{
	(void)state;
	assert_int_equal(call(FUSE_GETATTR, 1, &(struct fuse_getattr_in){ 0 },
			      sizeof(struct fuse_getattr_in)), -EIO);
	/* Too old a minor, too old a major, a short INIT: refused. */
	struct fuse_init_in in = { .major = 7, .minor = 10 };
	assert_int_equal(call(FUSE_INIT, 0, &in, sizeof(in)), -EPROTO);
	in.major = 6;
	assert_int_equal(call(FUSE_INIT, 0, &in, sizeof(in)), -EPROTO);
	in.major = 7;
	in.minor = 38;
	assert_int_equal(call(FUSE_INIT, 0, &in, 12), -EINVAL);
	/* A newer major gets our version back, and no session. */
	in.major = 8;
	int64_t r = call(FUSE_INIT, 0, &in, sizeof(in));
	assert_true(r >= 8);
	assert_int_equal(((struct fuse_init_out *)payload())->major, 7);
	assert_int_equal(call(FUSE_STATFS, 1, NULL, 0), -EIO);
	/* An old kernel's 16-byte INIT is fine. */
	in.major = 7;
	in.minor = 31;
	r = call(FUSE_INIT, 0, &in, 16);
	assert_true(r > 0);
	assert_int_equal(((struct fuse_init_out *)payload())->minor, 31);
	assert_int_equal(call(FUSE_INIT, 0, &in, sizeof(in)), -EPROTO);
	/* DESTROY ends the session. */
	assert_int_equal(call(FUSE_DESTROY, 1, NULL, 0), 0);
	assert_int_equal(call(FUSE_STATFS, 1, NULL, 0), -EIO);
	init();
	assert_true(call(FUSE_STATFS, 1, NULL, 0) > 0);
}

static void test_roundtrip(void **state)
{
	(void)state;
	init();
	struct fuse_entry_out e;
	assert_int_equal(lookup_name(1, "hello.txt", &e), 0);
	assert_int_equal(e.attr.size, 12);
	assert_true(S_ISREG(e.attr.mode));
	uint64_t hello = e.nodeid;
	assert_true(call(FUSE_GETATTR, hello, &(struct fuse_getattr_in){ 0 },
			 sizeof(struct fuse_getattr_in)) > 0);
	struct fuse_attr_out ao;
	assert_int_equal(fuse_msg_attr(payload(), sizeof(ao), &ao), 0);
	assert_int_equal(ao.attr.size, 12);
	assert_int_equal(ao.attr.ino, e.attr.ino);
	/* The same inode twice: the same node. */
	assert_int_equal(lookup_ok(1, "hello.txt"), hello);

	uint64_t fh;
	assert_int_equal(open_node(hello, O_RDONLY, false, &fh), 0);
	assert_int_equal(stats().open_handles, 1);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 4096), 12);
	assert_memory_equal(payload(), "hello world\n", 12);
	assert_int_equal(read_fh(FUSE_READ, fh, 6, 3), 3);
	assert_memory_equal(payload(), "wor", 3);
	assert_int_equal(read_fh(FUSE_READ, fh, 100, 10), 0);
	/* A reply buffer smaller than the request: the read shrinks. */
	struct fuse_read_in ri = { .fh = fh, .offset = 0, .size = 4096 };
	assert_int_equal(call_cap(FUSE_READ, 1, &ri, sizeof(ri), 16 + 5), 5);
	assert_memory_equal(payload(), "hello", 5);
	assert_int_equal(read_fh(FUSE_READDIR, fh, 0, 4096), -EBADF);
	assert_int_equal(release(fh, true), -EBADF);
	assert_int_equal(release(fh, false), 0);
	assert_int_equal(release(fh, false), -EBADF);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 4096), -EBADF);
	assert_int_equal(stats().open_handles, 0);

	/* Read-only: no writing opens, no writes, no creation. */
	assert_int_equal(open_node(hello, O_WRONLY, false, &fh), -EROFS);
	assert_int_equal(open_node(hello, O_RDWR, false, &fh), -EROFS);
	assert_int_equal(open_node(hello, O_RDONLY | O_TRUNC, false, &fh), -EROFS);
	assert_int_equal(call(FUSE_MKDIR, 1, "x\0\0\0\0\0\0\0\0\0", 10), -EROFS);
	assert_int_equal(call(FUSE_WRITE, hello, NULL, 0), -EROFS);
	assert_int_equal(call(9999, 1, NULL, 0), -ENOSYS);
	assert_int_equal(call(FUSE_GETXATTR, 1, NULL, 0), -ENOSYS);
	assert_int_equal(open_node(hello, O_RDONLY, true, &fh), -ENOTDIR);
	assert_int_equal(open_node(1, O_RDONLY, false, &fh), -EISDIR);
	struct fuse_access_in ai = { .mask = R_OK };
	assert_int_equal(call(FUSE_ACCESS, hello, &ai, sizeof(ai)), 0);
	ai.mask = W_OK;
	assert_int_equal(call(FUSE_ACCESS, hello, &ai, sizeof(ai)), -EROFS);
	ai.mask = 0x100;
	assert_int_equal(call(FUSE_ACCESS, hello, &ai, sizeof(ai)), -EINVAL);
	int64_t r = call(FUSE_STATFS, hello, NULL, 0);
	struct fuse_statfs_out so;
	assert_int_equal(fuse_msg_statfs(payload(), (uint32_t)r, &so), 0);
	assert_true(so.st.namelen > 0 && so.st.namelen <= FUSE_NAME_MAX);
	assert_int_equal(call(FUSE_READLINK, hello, NULL, 0), -EINVAL);

	/* Into a subdirectory. */
	uint64_t sub = lookup_ok(1, "sub");
	uint64_t inner = lookup_ok(sub, "inner.txt");
	assert_int_equal(open_node(inner, O_RDONLY, false, &fh), 0);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 100), 6);
	assert_memory_equal(payload(), "inner\n", 6);
	assert_int_equal(release(fh, false), 0);
	assert_int_equal(lookup_name(hello, "x", &e), -ENOTDIR);
	assert_int_equal(lookup_name(1, "nope", &e), -ENOENT);

	/* A big file, read whole in one reply and in pieces. */
	uint64_t big = lookup_ok(1, "big.bin");
	assert_int_equal(open_node(big, O_RDONLY, false, &fh), 0);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 0xffffffff), BIG_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i += 4099)
		assert_int_equal(payload()[i], (uint8_t)(i * 7 + i / 251));
	assert_int_equal(read_fh(FUSE_READ, fh, BIG_SIZE - 10, 4096), 10);
	assert_int_equal(payload()[9], (uint8_t)((BIG_SIZE - 1) * 7 + (BIG_SIZE - 1) / 251));
	assert_int_equal(release(fh, false), 0);

	/* A FIFO is never opened (it could block the device thread). */
	uint64_t fifo = lookup_ok(1, "fifo");
	assert_int_equal(open_node(fifo, O_RDONLY, false, &fh), -EACCES);
}

/* Reads a whole directory in chunks of `chunk` bytes; returns the count. */
static int list_dir(uint64_t dir, uint32_t op, uint32_t chunk, char names[][FUSE_NAME_MAX + 1],
		    int max, uint64_t *nodeids)
{
	uint64_t fh;
	assert_int_equal(open_node(dir, O_RDONLY | O_DIRECTORY, true, &fh), 0);
	uint64_t off = 0;
	int count = 0;
	for (;;) {
		int64_t r = read_fh(op, fh, off, chunk);
		if (r < 0)
			print_error("readdir at %llu: %lld\n", (unsigned long long)off, (long long)r);
		assert_true(r >= 0);
		if (r == 0)
			break;
		uint32_t pos = 0;
		struct fuse_dirent_view v;
		int k;
		while ((k = fuse_msg_dirent_next(payload(), (uint32_t)r, &pos,
						 op == FUSE_READDIRPLUS, &v)) == 1) {
			assert_true(count < max);
			memcpy(names[count], v.name, v.namelen);
			names[count][v.namelen] = 0;
			if (nodeids)
				nodeids[count] = v.entry.nodeid;
			count++;
			off = v.off;
		}
		assert_int_equal(k, 0);
	}
	assert_int_equal(release(fh, true), 0);
	return count;
}

static int find_name(char names[][FUSE_NAME_MAX + 1], int n, const char *name)
{
	int hits = 0;
	for (int i = 0; i < n; i++)
		hits += strcmp(names[i], name) == 0;
	return hits;
}

static void test_readdir(void **state)
{
	(void)state;
	init();
	static char names[MANY + 8][FUSE_NAME_MAX + 1];
	uint64_t ids[MANY + 8];
	uint64_t many = lookup_ok(1, "many");
	assert_int_equal(stats().live_nodes, 2);
	/* Chunks too small for more than a couple of records: every entry
	 * exactly once across the calls. */
	int n = list_dir(many, FUSE_READDIR, 80, names, MANY + 8, NULL);
	assert_int_equal(n, MANY + 2);
	for (int i = 0; i < MANY; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "f%03d", i);
		assert_int_equal(find_name(names, n, nm), 1);
	}
	assert_int_equal(stats().live_nodes, 2); /* READDIR looks nothing up */

	n = list_dir(many, FUSE_READDIRPLUS, 600, names, MANY + 8, ids);
	assert_int_equal(n, MANY + 2);
	assert_int_equal(stats().live_nodes, 2 + MANY);
	for (int i = 0; i < n; i++) {
		bool dot = !strcmp(names[i], ".") || !strcmp(names[i], "..");
		assert_true(dot ? ids[i] == 0 : ids[i] != 0);
		if (!dot)
			forget(ids[i], 1);
	}
	assert_int_equal(stats().live_nodes, 2);

	/* The root: symlinks listed as themselves, "outside" absent. */
	n = list_dir(1, FUSE_READDIRPLUS, 4096, names, MANY + 8, ids);
	assert_int_equal(find_name(names, n, "up"), 1);
	assert_int_equal(find_name(names, n, "hello.txt"), 1);
	assert_int_equal(find_name(names, n, "outside"), 0);
	for (int i = 0; i < n; i++)
		if (ids[i])
			forget(ids[i], 1);
	assert_int_equal(stats().live_nodes, 2);
	/* A reply too small for one record: empty, nothing counted. */
	uint64_t fh;
	assert_int_equal(open_node(1, O_RDONLY, true, &fh), 0);
	assert_int_equal(read_fh(FUSE_READDIRPLUS, fh, 0, 20), 0);
	assert_int_equal(stats().live_nodes, 2);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 20), -EBADF);
	assert_int_equal(release(fh, false), -EBADF);
	assert_int_equal(release(fh, true), 0);
}

static void test_escapes(void **state)
{
	(void)state;
	init();
	struct fuse_entry_out e;
	uint64_t live = stats().live_nodes;
	assert_int_equal(lookup_name(1, "..", &e), -EPERM);
	assert_int_equal(lookup_name(1, ".", &e), -EPERM);
	assert_int_equal(lookup_name(1, "../outside", &e), -EINVAL);
	assert_int_equal(lookup_name(1, "/etc/passwd", &e), -EINVAL);
	assert_int_equal(lookup_name(1, "sub/inner.txt", &e), -EINVAL);
	assert_int_equal(lookup_name(1, "", &e), -EINVAL);
	assert_int_equal(call(FUSE_LOOKUP, 1, "hello.txt\0x", 12), -EINVAL);
	assert_int_equal(call(FUSE_LOOKUP, 1, "hello.txt\0\0", 11), -EINVAL);
	assert_int_equal(call(FUSE_LOOKUP, 1, "hello.txt", 9), -EINVAL);
	assert_int_equal(call(FUSE_LOOKUP, 1, NULL, 0), -EINVAL);
	char name[300];
	memset(name, 'a', sizeof(name));
	name[256] = 0;
	assert_int_equal(lookup_name(1, name, &e), -EINVAL);
	name[255] = 0;
	assert_int_equal(lookup_name(1, name, &e), -ENOENT);
	assert_int_equal(stats().live_nodes, live);

	/* Symlinks: the link itself, never its target. */
	const char *links[] = { "up", "abs", "updir" };
	const char *texts[] = { "../outside", "/etc/passwd", ".." };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(lookup_name(1, links[i], &e), 0);
		assert_true(S_ISLNK(e.attr.mode));
		uint64_t fh;
		assert_int_equal(open_node(e.nodeid, O_RDONLY, false, &fh), -ELOOP);
		assert_int_equal(open_node(e.nodeid, O_RDONLY, true, &fh), -ENOTDIR);
		assert_int_equal(call(FUSE_READLINK, e.nodeid, NULL, 0), strlen(texts[i]));
		assert_memory_equal(payload(), texts[i], strlen(texts[i]));
		struct fuse_entry_out e2;
		assert_int_equal(lookup_name(e.nodeid, "outside", &e2), -ENOTDIR);
		assert_int_equal(lookup_name(e.nodeid, "passwd", &e2), -ENOTDIR);
		assert_true(call(FUSE_GETATTR, e.nodeid, &(struct fuse_getattr_in){ 0 },
				 sizeof(struct fuse_getattr_in)) > 0);
		assert_true(S_ISLNK(((struct fuse_attr_out *)payload())->attr.mode));
	}
	uint64_t sub = lookup_ok(1, "sub");
	assert_int_equal(lookup_name(sub, "up2", &e), 0);
	assert_true(S_ISLNK(e.attr.mode));
	assert_int_equal(lookup_name(sub, "..", &e), -EPERM);
	/* Names of files outside, from every directory we have. */
	assert_int_equal(lookup_name(1, "outside", &e), -ENOENT);
	assert_int_equal(lookup_name(sub, "outside", &e), -ENOENT);
	/* A reply buffer too small for the entry: error, nothing counted. */
	live = stats().live_nodes;
	assert_int_equal(call_cap(FUSE_LOOKUP, 1, "big.bin", 8, 40), -EOVERFLOW);
	assert_int_equal(stats().live_nodes, live);
	/* A reply buffer too small for a header: nothing at all. */
	assert_int_equal(call_cap(FUSE_LOOKUP, 1, "big.bin", 8, 15), INT64_MIN);
	assert_int_equal(stats().live_nodes, live);
}

static void test_bogus_ids(void **state)
{
	(void)state;
	init();
	const uint64_t nodes[] = { 0, 2, 3, 1ull << 32 | 1, UINT64_MAX, 0xffffffff, 1ull << 20 };
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		assert_int_equal(call(FUSE_GETATTR, nodes[i], &(struct fuse_getattr_in){ 0 },
				      sizeof(struct fuse_getattr_in)), -ENOENT);
		assert_int_equal(call(FUSE_LOOKUP, nodes[i], "hello.txt", 10), -ENOENT);
		assert_int_equal(call(FUSE_READLINK, nodes[i], NULL, 0), -ENOENT);
		forget(nodes[i], 1);
	}
	const uint64_t fhs[] = { 0, 1, 2, 1ull << 32 | 1, UINT64_MAX, 0xffffffff, 65536 };
	for (size_t i = 0; i < sizeof(fhs) / sizeof(fhs[0]); i++) {
		assert_int_equal(read_fh(FUSE_READ, fhs[i], 0, 10), -EBADF);
		assert_int_equal(read_fh(FUSE_READDIRPLUS, fhs[i], 0, 4096), -EBADF);
		assert_int_equal(release(fhs[i], false), -EBADF);
		assert_int_equal(release(fhs[i], true), -EBADF);
	}
	/* A forgotten node's id goes stale; its slot comes back with a new id. */
	uint64_t hello = lookup_ok(1, "hello.txt");
	forget(hello, 1);
	assert_int_equal(call(FUSE_GETATTR, hello, &(struct fuse_getattr_in){ 0 },
			      sizeof(struct fuse_getattr_in)), -ENOENT);
	uint64_t again = lookup_ok(1, "hello.txt");
	assert_true(again != hello);
	assert_int_equal((uint32_t)again, (uint32_t)hello);
	/* Same for a released handle. */
	uint64_t fh, fh2;
	assert_int_equal(open_node(again, O_RDONLY, false, &fh), 0);
	assert_int_equal(release(fh, false), 0);
	assert_int_equal(open_node(again, O_RDONLY, false, &fh2), 0);
	assert_true(fh != fh2);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 10), -EBADF);
	assert_int_equal(read_fh(FUSE_READ, fh2, 0, 10), 10);
	/* Forgetting the root more often than it was looked up keeps it. */
	forget(1, UINT64_MAX);
	assert_true(call(FUSE_STATFS, 1, NULL, 0) > 0);
}

static void test_read_offsets(void **state)
{
	(void)state;
	init();
	uint64_t fh;
	assert_int_equal(open_node(lookup_ok(1, "big.bin"), O_RDONLY, false, &fh), 0);
	const uint64_t bad[] = { UINT64_MAX, UINT64_MAX - 4095, 1ull << 63, INT64_MAX,
				 INT64_MAX - 100 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(read_fh(FUSE_READ, fh, bad[i], 4096), -EINVAL);
		assert_int_equal(read_fh(FUSE_READ, fh, bad[i], 0xffffffff), -EINVAL);
	}
	assert_int_equal(read_fh(FUSE_READ, fh, INT64_MAX - 4096, 4096), 0);
	assert_int_equal(read_fh(FUSE_READ, fh, INT64_MAX, 0), 0);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 0), 0);
	uint64_t dfh;
	assert_int_equal(open_node(1, O_RDONLY, true, &dfh), 0);
	assert_int_equal(read_fh(FUSE_READDIRPLUS, dfh, UINT64_MAX, 4096), -EINVAL);
	assert_true(read_fh(FUSE_READDIR, dfh, INT64_MAX - 8192, 4096) >= 0);
	/* Arbitrary offsets the server never gave: an error or a listing,
	 * never a crash. */
	for (uint64_t off = 1; off < (1ull << 62); off = off * 3 + 1)
		(void)read_fh(FUSE_READDIRPLUS, dfh, off, 4096);
}

/* REMOVEMAPPING's wire form: a 4-byte count, then the entries unpadded. */
static void removemapping_req(uint8_t *buf, uint32_t count, const struct fuse_removemapping_one *r)
{
	struct fuse_removemapping_in h = { .count = count };
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), r, 2 * sizeof(*r));
}

/* Valid requests covering every op, with live ids from this session. */
#define CORPUS_MAX 160
struct corpus {
	uint8_t req[CORPUS_MAX][600];
	size_t len[CORPUS_MAX];
	int n;
};

static void add(struct corpus *c, uint32_t op, uint64_t node, const void *pl, size_t plen)
{
	assert_true(c->n < CORPUS_MAX && plen + sizeof(struct fuse_in_header) <= sizeof(c->req[0]));
	c->len[c->n] = build(c->req[c->n], op, node, pl, plen);
	c->n++;
}

/* A request whose payload is `a` then `b` (a fixed struct, then names). */
static void add2(struct corpus *c, uint32_t op, uint64_t node, const void *a, size_t alen,
		 const void *b, size_t blen)
{
	uint8_t pl[600];
	assert_true(alen + blen <= sizeof(pl));
	if (alen)
		memcpy(pl, a, alen);
	memcpy(pl + alen, b, blen);
	add(c, op, node, pl, alen + blen);
}

/* FLUSH, FSYNC, FSYNCDIR, LSEEK: any server answers them. */
static void add_file_ops(struct corpus *c, uint64_t file, uint64_t fh, uint64_t dfh)
{
	struct fuse_flush_in fl = { .fh = fh };
	add(c, FUSE_FLUSH, file, &fl, sizeof(fl));
	struct fuse_fsync_in fs = { .fh = fh, .fsync_flags = 1 };
	add(c, FUSE_FSYNC, file, &fs, sizeof(fs));
	fs.fh = dfh;
	add(c, FUSE_FSYNCDIR, 1, &fs, sizeof(fs));
	struct fuse_lseek_in ls = { .fh = fh, .offset = 100, .whence = SEEK_DATA };
	add(c, FUSE_LSEEK, file, &ls, sizeof(ls));
}

/*
 * Every request that changes something, aimed at directory `dir`, file
 * `file` (handle fh_w, writable on a writable server) and file `src`
 * (handle fh_src, readable).
 */
static void add_write_ops(struct corpus *c, uint64_t dir, uint64_t file, uint64_t fh_w,
			  uint64_t src, uint64_t fh_src)
{
	struct fuse_create_in cr = { .flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0644,
				     .umask = 022 };
	add2(c, FUSE_CREATE, dir, &cr, sizeof(cr), "fz_new", 7);
	cr.flags = O_WRONLY | O_TRUNC | O_APPEND;
	add2(c, FUSE_CREATE, dir, &cr, sizeof(cr), "fz_new", 7);
	struct fuse_mkdir_in mk = { .mode = 0755, .umask = 022 };
	add2(c, FUSE_MKDIR, dir, &mk, sizeof(mk), "fz_dir", 7);
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0644 };
	add2(c, FUSE_MKNOD, dir, &mn, sizeof(mn), "fz_nod", 7);
	add(c, FUSE_SYMLINK, dir, "fz_ln\0../outside", 17);
	struct fuse_link_in li = { .oldnodeid = file };
	add2(c, FUSE_LINK, dir, &li, sizeof(li), "fz_hl", 6);
	add(c, FUSE_UNLINK, dir, "fz_hl", 6);
	add(c, FUSE_RMDIR, dir, "fz_dir", 7);
	struct fuse_rename_in rn = { .newdir = dir };
	add2(c, FUSE_RENAME, dir, &rn, sizeof(rn), "fz_new\0fz_new2", 15);
	struct fuse_rename2_in rn2 = { .newdir = dir, .flags = RENAME_NOREPLACE };
	add2(c, FUSE_RENAME2, dir, &rn2, sizeof(rn2), "fz_new2\0fz_new", 15);
	rn2.flags = RENAME_EXCHANGE;
	add2(c, FUSE_RENAME2, dir, &rn2, sizeof(rn2), "fz_new\0fz_ln", 13);
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0640 };
	add(c, FUSE_SETATTR, file, &sa, sizeof(sa));
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE | FATTR_FH, .size = 100, .fh = fh_w };
	add(c, FUSE_SETATTR, file, &sa, sizeof(sa));
	sa = (struct fuse_setattr_in){ .valid = FATTR_ATIME | FATTR_MTIME | FATTR_MTIME_NOW,
				       .atime = 1000, .atimensec = 5 };
	add(c, FUSE_SETATTR, file, &sa, sizeof(sa));
	sa = (struct fuse_setattr_in){ .valid = FATTR_UID | FATTR_GID, .uid = getuid(),
				       .gid = getgid() };
	add(c, FUSE_SETATTR, file, &sa, sizeof(sa));
	struct fuse_write_in wi = { .fh = fh_w, .offset = 3, .size = 5 };
	add2(c, FUSE_WRITE, file, &wi, sizeof(wi), "fuzz!", 5);
	struct fuse_fallocate_in fa = { .fh = fh_w, .offset = 0, .length = 4096 };
	add(c, FUSE_FALLOCATE, file, &fa, sizeof(fa));
	fa.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	add(c, FUSE_FALLOCATE, file, &fa, sizeof(fa));
	struct fuse_copy_file_range_in cf = { .fh_in = fh_src, .nodeid_out = file, .fh_out = fh_w,
					      .off_out = 16, .len = 4096 };
	add(c, FUSE_COPY_FILE_RANGE, src, &cf, sizeof(cf));
	struct fuse_access_in ai = { .mask = W_OK };
	add(c, FUSE_ACCESS, file, &ai, sizeof(ai));
	struct fuse_setupmapping_in si = { .fh = fh_w, .len = 4096, .moffset = 8192,
		.flags = FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE };
	add(c, FUSE_SETUPMAPPING, file, &si, sizeof(si));
	struct fuse_setxattr_in sx = { .size = 1 };
	add2(c, FUSE_SETXATTR, file, &sx, sizeof(sx), "user.fz\0x", 9);
	add(c, FUSE_REMOVEXATTR, file, "user.fz", 8);
	add2(c, FUSE_TMPFILE, dir, &cr, sizeof(cr), "fz_tmp", 7);
}

/* FORGET, BATCH_FORGET, DESTROY: the ends of a session. */
static void add_forgets(struct corpus *c, uint64_t a, uint64_t b)
{
	struct fuse_forget_in fi = { .nlookup = 1 };
	add(c, FUSE_FORGET, a, &fi, sizeof(fi));
	struct {
		struct fuse_batch_forget_in h;
		struct fuse_forget_one f[2];
	} bf = { { .count = 2 }, { { a, 1 }, { b, 1 } } };
	add(c, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	add(c, FUSE_DESTROY, 1, NULL, 0);
}

static void make_corpus(struct corpus *c)
{
	c->n = 0;
	uint64_t hello = lookup_ok(1, "hello.txt"), sub = lookup_ok(1, "sub");
	uint64_t up = lookup_ok(1, "up"), big = lookup_ok(1, "big.bin");
	uint64_t fh, dfh;
	assert_int_equal(open_node(big, O_RDONLY, false, &fh), 0);
	assert_int_equal(open_node(1, O_RDONLY, true, &dfh), 0);
	struct fuse_init_in ii = { .major = 7, .minor = 38, .flags = 0xffffffff,
				   .flags2 = 0xffffffff };
	add(c, FUSE_INIT, 0, &ii, sizeof(ii));
	const char *names[] = { "hello.txt", "sub", "up", "abs", "updir", "fifo", "big.bin",
				"inner.txt", "up2", "many" };
	for (int i = 0; i < 10; i++) {
		add(c, FUSE_LOOKUP, 1, names[i], strlen(names[i]) + 1);
		add(c, FUSE_LOOKUP, sub, names[i], strlen(names[i]) + 1);
	}
	struct fuse_getattr_in gi = { 0 };
	add(c, FUSE_GETATTR, hello, &gi, sizeof(gi));
	add(c, FUSE_GETATTR, up, &gi, sizeof(gi));
	struct fuse_open_in oi = { .flags = O_RDONLY };
	add(c, FUSE_OPEN, big, &oi, sizeof(oi));
	add(c, FUSE_OPEN, hello, &oi, sizeof(oi));
	add(c, FUSE_OPENDIR, 1, &oi, sizeof(oi));
	add(c, FUSE_OPENDIR, sub, &oi, sizeof(oi));
	struct fuse_read_in ri = { .fh = fh, .offset = 4096, .size = 8192 };
	add(c, FUSE_READ, 1, &ri, sizeof(ri));
	ri.fh = dfh;
	ri.offset = 0;
	add(c, FUSE_READDIR, 1, &ri, sizeof(ri));
	add(c, FUSE_READDIRPLUS, 1, &ri, sizeof(ri));
	struct fuse_release_in rl = { .fh = fh };
	add(c, FUSE_RELEASE, 1, &rl, sizeof(rl));
	rl.fh = dfh;
	add(c, FUSE_RELEASEDIR, 1, &rl, sizeof(rl));
	add(c, FUSE_READLINK, up, NULL, 0);
	add(c, FUSE_STATFS, 1, NULL, 0);
	struct fuse_access_in ai = { .mask = R_OK };
	add(c, FUSE_ACCESS, hello, &ai, sizeof(ai));
	struct fuse_setupmapping_in si = { .fh = fh, .foffset = 4096, .len = 8192, .moffset = 16384,
					   .flags = FUSE_SETUPMAPPING_FLAG_READ };
	add(c, FUSE_SETUPMAPPING, big, &si, sizeof(si));
	uint8_t rm[4 + 2 * sizeof(struct fuse_removemapping_one)];
	removemapping_req(rm, 2, (struct fuse_removemapping_one[]){ { 16384, 4096 }, { 0, 8192 } });
	add(c, FUSE_REMOVEMAPPING, big, rm, sizeof(rm));
	add_file_ops(c, big, fh, dfh);
	add_write_ops(c, 1, hello, fh, big, fh); /* all EROFS */
	add_forgets(c, hello, sub);
}

/* The same for the writable tree (build_rw_tree), its own writes included. */
static void make_corpus_rw(struct corpus *c)
{
	c->n = 0;
	uint64_t hello = lookup_ok(1, "hello.txt"), sub = lookup_ok(1, "sub");
	uint64_t up = lookup_ok(1, "up"), data = lookup_ok(1, "data.bin");
	uint64_t fh_w, fh_r, dfh;
	assert_int_equal(open_node(hello, O_RDWR, false, &fh_w), 0);
	assert_int_equal(open_node(data, O_RDONLY, false, &fh_r), 0);
	assert_int_equal(open_node(1, O_RDONLY, true, &dfh), 0);
	struct fuse_init_in ii = { .major = 7, .minor = 38, .flags = 0xffffffff,
				   .flags2 = 0xffffffff };
	add(c, FUSE_INIT, 0, &ii, sizeof(ii));
	const char *names[] = { "hello.txt", "sub", "up", "abs", "updir", "fifo", "data.bin",
				"inner.txt", "up2", "empty", "fz_new", "fz_ln" };
	for (int i = 0; i < 12; i++) {
		add(c, FUSE_LOOKUP, 1, names[i], strlen(names[i]) + 1);
		if (i % 3 == 0)
			add(c, FUSE_LOOKUP, sub, names[i], strlen(names[i]) + 1);
	}
	struct fuse_getattr_in gi = { 0 };
	add(c, FUSE_GETATTR, hello, &gi, sizeof(gi));
	add(c, FUSE_GETATTR, up, &gi, sizeof(gi));
	struct fuse_open_in oi = { .flags = O_RDWR };
	add(c, FUSE_OPEN, hello, &oi, sizeof(oi));
	oi.flags = O_WRONLY | O_TRUNC;
	add(c, FUSE_OPEN, data, &oi, sizeof(oi));
	oi.flags = O_RDONLY;
	add(c, FUSE_OPENDIR, sub, &oi, sizeof(oi));
	struct fuse_read_in ri = { .fh = fh_w, .offset = 0, .size = 8192 };
	add(c, FUSE_READ, 1, &ri, sizeof(ri));
	ri.fh = dfh;
	add(c, FUSE_READDIRPLUS, 1, &ri, sizeof(ri));
	struct fuse_release_in rl = { .fh = fh_w };
	add(c, FUSE_RELEASE, 1, &rl, sizeof(rl));
	add(c, FUSE_READLINK, up, NULL, 0);
	add(c, FUSE_STATFS, 1, NULL, 0);
	add_file_ops(c, hello, fh_w, dfh);
	add_write_ops(c, 1, hello, fh_w, data, fh_r);
	add_write_ops(c, sub, hello, fh_w, data, fh_r);
	add_forgets(c, hello, sub);
}

/*
 * A read-only server refuses every request that would change something
 * with EROFS, well-formed and aimed at real files and handles, and the
 * tree (symlinks out of it included) stays exactly as it was.
 */
static void test_ro_refuses_writes(void **state)
{
	(void)state;
	uint64_t before = tree_digest(base, NULL);
	fuse_server_free(srv);
	static struct dax_map win; /* static: srv_down may still see it after a failure */
	assert_int_equal(dax_map_init(&win, 16 * 4096), 0);
	srv = fuse_server_new(tree, true);
	fuse_server_set_dax(srv, &win);
	init();
	uint64_t hello = lookup_ok(1, "hello.txt"), big = lookup_ok(1, "big.bin"), fh, dfh;
	uint64_t targets[] = { 1, hello, lookup_ok(1, "sub"), lookup_ok(1, "up"),
			       lookup_ok(1, "abs"), lookup_ok(1, "fifo") };
	assert_int_equal(open_node(big, O_RDONLY, false, &fh), 0);
	assert_int_equal(open_node(1, O_RDONLY, true, &dfh), 0);
	struct corpus *c = malloc(sizeof(*c));
	c->n = 0;
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
		add_write_ops(c, targets[t], t ? targets[t] : hello, fh, big, fh);
	int refused = 0;
	for (int i = 0; i < c->n; i++) {
		uint32_t op = ((struct fuse_in_header *)c->req[i])->opcode;
		size_t n = raw(c->req[i], c->len[i], sizeof(rep));
		assert_int_equal(n, sizeof(struct fuse_out_header));
		int err = ((struct fuse_out_header *)rep)->error;
		if (err != -EROFS)
			print_error("opcode %u: %d\n", op, err);
		assert_int_equal(err, -EROFS);
		refused++;
	}
	assert_int_equal(refused, 24 * 6); /* 24 requests per target */
	/* Opening for writing or with O_TRUNC, any node. */
	const uint32_t wflags[] = { O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_TRUNC,
				    O_RDWR | O_APPEND, O_WRONLY | O_CREAT | O_EXCL };
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
		for (size_t k = 0; k < sizeof(wflags) / sizeof(wflags[0]); k++) {
			uint64_t x;
			assert_int_equal(open_node(targets[t], wflags[k], false, &x), -EROFS);
			assert_int_equal(open_node(targets[t], wflags[k], true, &x), -EROFS);
		}
	struct fuse_access_in ai = { .mask = W_OK | R_OK };
	assert_int_equal(call(FUSE_ACCESS, hello, &ai, sizeof(ai)), -EROFS);
	/* Refused before even the lengths are looked at. */
	for (uint32_t op = 0; op < 64; op++)
		if (op == FUSE_SETATTR || op == FUSE_WRITE || op == FUSE_CREATE ||
		    op == FUSE_RENAME2 || op == FUSE_TMPFILE)
			assert_int_equal(call(op, hello, NULL, 0), -EROFS);
	/* What only reads or syncs still works. */
	struct fuse_flush_in fl = { .fh = fh };
	assert_int_equal(call(FUSE_FLUSH, big, &fl, sizeof(fl)), 0);
	struct fuse_fsync_in fs = { .fh = fh };
	assert_int_equal(call(FUSE_FSYNC, big, &fs, sizeof(fs)), 0);
	fs.fh = dfh;
	assert_int_equal(call(FUSE_FSYNCDIR, 1, &fs, sizeof(fs)), 0);
	struct fuse_lseek_in ls = { .fh = fh, .whence = SEEK_END };
	assert_int_equal(call(FUSE_LSEEK, big, &ls, sizeof(ls)), sizeof(struct fuse_lseek_out));
	assert_int_equal(((struct fuse_lseek_out *)payload())->offset, BIG_SIZE);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 16), 16);
	free(c);
	fuse_server_free(srv);
	srv = NULL;
	dax_map_free(&win);
	assert_true(tree_digest(base, NULL) == before);
}

/* Every corpus request cut short, and with a header that lies about it. */
static void truncate_corpus(void (*make)(struct corpus *c))
{
	init();
	struct corpus *c = malloc(sizeof(*c));
	make(c);
	uint8_t buf[600];
	for (int i = 0; i < c->n; i++) {
		uint32_t op = ((struct fuse_in_header *)c->req[i])->opcode;
		if (op == FUSE_DESTROY || op == FUSE_INIT)
			continue;
		bool noreply = op == FUSE_FORGET || op == FUSE_BATCH_FORGET;
		for (size_t len = 0; len < c->len[i]; len++) {
			/* Consistent header, short payload. */
			memcpy(buf, c->req[i], c->len[i]);
			if (len >= sizeof(struct fuse_in_header))
				((struct fuse_in_header *)buf)->len = (uint32_t)len;
			size_t n = raw(buf, len, sizeof(rep));
			if (len < sizeof(struct fuse_in_header) || noreply)
				assert_int_equal(n, 0);
			else
				assert_true(((struct fuse_out_header *)rep)->error < 0);
			/* Lying header: claims the full length. */
			memcpy(buf, c->req[i], c->len[i]);
			n = raw(buf, len, sizeof(rep));
			if (len >= sizeof(struct fuse_in_header) && !noreply)
				assert_int_equal(((struct fuse_out_header *)rep)->error, -EINVAL);
		}
		/* Claims less, and more, than what came. */
		memcpy(buf, c->req[i], c->len[i]);
		((struct fuse_in_header *)buf)->len = (uint32_t)c->len[i] + 1;
		if (raw(buf, c->len[i], sizeof(rep)))
			assert_int_equal(((struct fuse_out_header *)rep)->error, -EINVAL);
		((struct fuse_in_header *)buf)->len = 0xffffffff;
		if (raw(buf, c->len[i], sizeof(rep)))
			assert_int_equal(((struct fuse_out_header *)rep)->error, -EINVAL);
	}
	free(c);
}

static void test_truncated_and_lying(void **state)
{
	(void)state;
	truncate_corpus(make_corpus);
	/* Short fixed structs get EINVAL, not a read past the request. */
	assert_int_equal(call(FUSE_READ, 1, &(struct fuse_read_in){ 0 }, 39), -EINVAL);
	assert_int_equal(call(FUSE_OPEN, 1, &(struct fuse_open_in){ 0 }, 7), -EINVAL);
	assert_true(stats().bad_requests > 0);
}

/* The same on a writable server: no cut-short request changes anything. */
static void test_truncated_rw(void **state)
{
	(void)state;
	char wtree[128];
	path_in(wtree, sizeof(wtree), base, "wtree");
	build_rw_tree(wtree);
	fuse_server_free(srv);
	srv = fuse_server_new(wtree, false);
	assert_non_null(srv);
	uint64_t before = tree_digest(base, NULL);
	uint64_t bad = stats().bad_requests;
	truncate_corpus(make_corpus_rw);
	assert_true(tree_digest(base, NULL) == before);
	/* Every fixed struct of the writing ops is checked before use. */
	const uint32_t ops[] = { FUSE_CREATE, FUSE_MKDIR, FUSE_MKNOD, FUSE_LINK, FUSE_RENAME,
				 FUSE_RENAME2, FUSE_SETATTR, FUSE_WRITE, FUSE_FALLOCATE,
				 FUSE_COPY_FILE_RANGE, FUSE_FLUSH, FUSE_FSYNC, FUSE_FSYNCDIR,
				 FUSE_LSEEK };
	uint8_t zeros[128] = { 0 };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		assert_int_equal(call(ops[i], 1, zeros, 3), -EINVAL);
	assert_true(stats().bad_requests >= bad + sizeof(ops) / sizeof(ops[0]));
	fuse_server_free(srv);
	srv = NULL;
	scratch_remove_tree(wtree);
}

static void test_batch_forget(void **state)
{
	(void)state;
	init();
	uint64_t hello = lookup_ok(1, "hello.txt");
	lookup_ok(1, "hello.txt");
	lookup_ok(1, "hello.txt");
	uint64_t sub = lookup_ok(1, "sub");
	assert_int_equal(stats().live_nodes, 3);
	uint8_t buf[256];
	struct {
		struct fuse_batch_forget_in h;
		struct fuse_forget_one f[2];
	} bf = { { .count = 5 }, { { hello, 3 }, { sub, 1 } } };
	/* A count beyond the payload: ignored whole. */
	size_t len = build(buf, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	assert_int_equal(fuse_server_handle(srv, buf, len, rep, sizeof(rep)), 0);
	bf.h.count = 0xffffffff;
	len = build(buf, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	assert_int_equal(fuse_server_handle(srv, buf, len, rep, sizeof(rep)), 0);
	len = build(buf, FUSE_BATCH_FORGET, 0, &bf, 4);
	assert_int_equal(fuse_server_handle(srv, buf, len, rep, sizeof(rep)), 0);
	assert_int_equal(stats().live_nodes, 3);
	/* Two lookups forgotten of three: hello stays. */
	bf.h.count = 2;
	bf.f[0].nlookup = 2;
	len = build(buf, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	assert_int_equal(fuse_server_handle(srv, buf, len, rep, sizeof(rep)), 0);
	assert_int_equal(stats().live_nodes, 2);
	forget(hello, 1);
	assert_int_equal(stats().live_nodes, 1);
	/* Ids repeated and stale in one batch: harmless. */
	len = build(buf, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	assert_int_equal(fuse_server_handle(srv, buf, len, rep, sizeof(rep)), 0);
	assert_int_equal(stats().live_nodes, 1);
}

static void test_fds_released(void **state)
{
	(void)state;
	fuse_server_free(srv);
	int base_fds = count_fds();
	srv = fuse_server_new(tree, true);
	init();
	int with_root = count_fds();
	assert_int_equal(with_root, base_fds + 1);
	uint64_t many = lookup_ok(1, "many");
	uint64_t ids[MANY];
	for (int i = 0; i < MANY; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "f%03d", i);
		ids[i] = lookup_ok(many, nm);
		lookup_ok(many, nm); /* twice: still one fd */
	}
	assert_int_equal(count_fds(), with_root + 1 + MANY);
	uint64_t fhs[10];
	for (int i = 0; i < 10; i++)
		assert_int_equal(open_node(ids[i], O_RDONLY, false, &fhs[i]), 0);
	assert_int_equal(count_fds(), with_root + 1 + MANY + 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(release(fhs[i], false), 0);
	for (int i = 0; i < MANY; i++)
		forget(ids[i], 2);
	forget(many, 1);
	assert_int_equal(count_fds(), with_root);
	assert_int_equal(stats().live_nodes, 1);
	/* DESTROY and free drop what the guest left behind. */
	lookup_ok(1, "hello.txt");
	uint64_t fh;
	assert_int_equal(open_node(1, O_RDONLY, true, &fh), 0);
	assert_int_equal(call(FUSE_DESTROY, 1, NULL, 0), 0);
	assert_int_equal(count_fds(), with_root);
	init();
	lookup_ok(1, "sub");
	fuse_server_free(srv);
	srv = NULL;
	assert_int_equal(count_fds(), base_fds);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * Keeps a mutated request from making the host allocate much: FALLOCATE
 * and COPY_FILE_RANGE lengths are cut to 64 KiB (the server's answer to
 * big ones is tested directly), so the fuzz cannot fill the disk.
 */
static void fuzz_tame(uint8_t *buf, size_t len)
{
	uint32_t op;
	size_t at = 0, h = sizeof(struct fuse_in_header);
	memcpy(&op, buf + 4, 4);
	if (op == FUSE_FALLOCATE)
		at = h + offsetof(struct fuse_fallocate_in, length);
	else if (op == FUSE_COPY_FILE_RANGE)
		at = h + offsetof(struct fuse_copy_file_range_in, len);
	uint64_t v;
	if (at && len >= at + 8) {
		memcpy(&v, buf + at, 8);
		v &= 0xffff;
		memcpy(buf + at, &v, 8);
	}
}

/* What one fuzz run serves and sends. */
struct fuzz_cfg {
	const char *dir;
	bool readonly;
	void (*make)(struct corpus *c);
	size_t max_nodes;          /* live nodes never reach this */
};

/* A fresh server (and, when writable, a fresh tree) with the window. */
static void fuzz_session(const struct fuzz_cfg *f, struct dax_map *win, struct corpus *c)
{
	fuse_server_free(srv);
	if (!f->readonly)
		build_rw_tree(f->dir);
	srv = fuse_server_new(f->dir, f->readonly);
	assert_non_null(srv);
	fuse_server_set_dax(srv, win);
	init();
	f->make(c);
}

static void fuzz_run(const struct fuzz_cfg *f)
{
	fuse_server_free(srv);
	srv = NULL;
	int base_fds = count_fds();
	struct dax_map win;
	assert_int_equal(dax_map_init(&win, 64 * 4096), 0);
	struct corpus *c = malloc(sizeof(*c));
	fuzz_session(f, &win, c);
	static const uint64_t interesting[] = { 0, 1, 2, 3, 0x7fffffff, 0xffffffff, 1ull << 32,
						1ull << 63, INT64_MAX, UINT64_MAX, 4096, 65536 };
	uint8_t buf[700];
	int iters = getenv("FUSE_FUZZ_ITERS") ? atoi(getenv("FUSE_FUZZ_ITERS")) : 200000;
	int ok_replies = 0, data_replies = 0;
	int ok_by_op[64] = { 0 };
	size_t since = 0; /* requests since the session began */
	for (int it = 0; it < iters; it++, since++) {
		/* A fresh session now and then: DESTROY and FORGET in the
		 * corpus make its ids stale, and stale ids only test errors;
		 * renames and unlinks take the corpus's names away. */
		if (it % 1000 == 999) {
			fuzz_session(f, &win, c);
			since = 0;
		}
		int i = (int)(rnd() % (uint64_t)c->n);
		size_t len = c->len[i];
		memcpy(buf, c->req[i], len);
		int muts = (int)(rnd() % 4); /* 0: a valid request, to move state on */
		for (int m = 0; m < muts; m++) {
			switch (rnd() % 8) {
			case 0: /* flip bytes */
				if (len)
					buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
				break;
			case 1: /* an interesting 64-bit value at an 8-byte slot */
				if (len >= 8) {
					uint64_t v = interesting[rnd() % 12];
					if (rnd() & 1)
						v += rnd() % 3 - 1;
					memcpy(buf + (rnd() % (len / 8)) * 8, &v, 8);
				}
				break;
			case 2: /* truncate */
				len = rnd() % (len + 1);
				break;
			case 3: /* extend with junk */ {
				size_t add_n = rnd() % 64;
				if (len + add_n > sizeof(buf))
					add_n = sizeof(buf) - len;
				for (size_t k = 0; k < add_n; k++)
					buf[len + k] = (uint8_t)rnd();
				len += add_n;
				break;
			}
			case 4: /* another opcode */
				if (len >= 8) {
					uint32_t op = (uint32_t)(rnd() % 56);
					memcpy(buf + 4, &op, 4);
				}
				break;
			case 5: /* keep the header's len honest */
			default:
				break;
			}
		}
		if (len >= 4 && rnd() % 4 != 0) {
			uint32_t l = (uint32_t)len;
			memcpy(buf, &l, 4);
		}
		if (len >= 8)
			fuzz_tame(buf, len);
		size_t cap = rnd() % 3 == 0 ? rnd() % 200 : sizeof(rep);
		uint64_t u = 0;
		if (len >= sizeof(struct fuse_in_header))
			memcpy(&u, buf + 8, 8);
		size_t n = fuse_server_handle(srv, buf, len, rep, cap);
		/* Cheap checks every time; the content scan on a sample. */
		assert_true(n <= cap);
		if (n) {
			struct fuse_out_header o;
			memcpy(&o, rep, sizeof(o));
			assert_true(n >= sizeof(o) && o.len == n && o.unique == u);
			assert_true(o.error <= 0 && o.error >= -4095);
			assert_true(o.error == 0 || n == sizeof(o));
			ok_replies += o.error == 0;
			data_replies += n > sizeof(o);
			if (it % 16 == 0 || n > 1000)
				check_reply(n, cap, u, true);
			uint32_t op;
			memcpy(&op, buf + 4, 4);
			if (o.error == 0 && op < 64)
				ok_by_op[op]++;
			if (op == FUSE_DESTROY && o.error == 0) {
				fuzz_session(f, &win, c);
				since = 0;
			}
		}
		struct fuse_server_stats st = stats();
		assert_true(st.live_nodes >= 1 && st.live_nodes < f->max_nodes);
		/* Each request opens at most one handle; the corpus a few. */
		assert_true(st.open_handles <= since + 8);
	}
	print_message("fuzz (%s): %d requests, %d successes, %d with a payload\n",
		      f->readonly ? "read-only" : "writable", iters, ok_replies, data_replies);
	/* The mutations must leave enough valid requests to reach the ops. */
	assert_true(ok_replies > iters / 10 && data_replies > iters / 20);
	static const uint32_t rw_ops[] = { FUSE_CREATE, FUSE_MKDIR, FUSE_SYMLINK, FUSE_LINK,
		FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME, FUSE_RENAME2, FUSE_SETATTR, FUSE_WRITE,
		FUSE_FALLOCATE, FUSE_COPY_FILE_RANGE, FUSE_SETUPMAPPING, FUSE_ACCESS, FUSE_FLUSH,
		FUSE_FSYNC, FUSE_FSYNCDIR, FUSE_LSEEK, FUSE_READ, FUSE_OPEN };
	for (size_t k = 0; !f->readonly && iters >= 20000 && k < sizeof(rw_ops) / sizeof(rw_ops[0]);
	     k++) {
		if (!ok_by_op[rw_ops[k]])
			print_error("fuzz: opcode %u never succeeded\n", rw_ops[k]);
		assert_true(ok_by_op[rw_ops[k]] > 0);
	}
	free(c);
	fuse_server_free(srv);
	srv = NULL;
	dax_map_free(&win);
	assert_int_equal(count_fds(), base_fds);
}

static void test_fuzz(void **state)
{
	(void)state;
	uint64_t before = tree_digest(base, NULL);
	fuzz_run(&(struct fuzz_cfg){ .dir = tree, .readonly = true, .make = make_corpus,
				     .max_nodes = 200 });
	assert_true(tree_digest(base, NULL) == before); /* nothing changed at all */
}

/*
 * The same against a writable server on its own scratch tree, write
 * requests in the corpus: the tree changes, nothing outside it does (the
 * read-only tree and the SECRET files beside them included).
 */
static void test_fuzz_rw(void **state)
{
	(void)state;
	char wtree[128];
	path_in(wtree, sizeof(wtree), base, "wtree");
	build_rw_tree(wtree);
	uint64_t before = tree_digest(base, wtree);
	fuzz_run(&(struct fuzz_cfg){ .dir = wtree, .readonly = false, .make = make_corpus_rw,
				     .max_nodes = 2000 });
	assert_true(tree_digest(base, wtree) == before);
	scratch_remove_tree(wtree);
}

static int64_t setupmapping(uint64_t node, uint64_t fh, uint64_t foff, uint64_t moff,
			    uint64_t len, uint64_t flags)
{
	struct fuse_setupmapping_in in = { .fh = fh, .foffset = foff, .len = len,
					   .moffset = moff, .flags = flags };
	return call(FUSE_SETUPMAPPING, node, &in, sizeof(in));
}

static void test_dax_mappings(void **state)
{
	(void)state;
	const uint64_t R = FUSE_SETUPMAPPING_FLAG_READ;
	init();
	uint64_t big = lookup_ok(1, "big.bin"), hello = lookup_ok(1, "hello.txt"), fh, dfh;
	assert_int_equal(open_node(big, O_RDONLY, false, &fh), 0);
	/* No window: ENOSYS; a huge page's block size goes through as it is. */
	assert_int_equal(setupmapping(big, fh, 0, 0, 4096, R), -ENOSYS);
	assert_int_equal(fsrv_blksize(srv, 2 << 20), 2 << 20);
	fuse_server_free(srv);
	static struct dax_map win; /* static: srv_down may still see it after a failure */
	assert_int_equal(dax_map_init(&win, 128 * 4096), 0);
	srv = fuse_server_new(tree, true);
	fuse_server_set_dax(srv, &win);
	struct fuse_init_in in = { .major = 7, .minor = FUSE_KERNEL_MINOR_VERSION,
				   .flags = FUSE_MAP_ALIGNMENT | FUSE_INIT_EXT };
	int64_t r = call(FUSE_INIT, 0, &in, sizeof(in));
	struct fuse_init_out o;
	assert_int_equal(fuse_msg_init(payload(), (uint32_t)r, &o), 0);
	assert_true(o.flags & FUSE_MAP_ALIGNMENT);
	assert_int_equal(1u << o.map_alignment, (unsigned)sysconf(_SC_PAGESIZE));
	/* A client of the window is told at most a page (Linux's DAX writes
	 * back nothing else); smaller sizes as they are. */
	assert_int_equal(fsrv_blksize(srv, 2 << 20), 4096);
	assert_int_equal(fsrv_blksize(srv, 1024), 1024);
	big = lookup_ok(1, "big.bin");
	hello = lookup_ok(1, "hello.txt");
	assert_int_equal(open_node(big, O_RDONLY, false, &fh), 0);
	assert_int_equal(open_node(1, O_RDONLY, true, &dfh), 0);
	/* The file's bytes appear in the window, beyond EOF zeros. */
	assert_int_equal(setupmapping(big, fh, 65536, 4096, 65536 * 4, R), 0);
	for (size_t i = 0; i < BIG_SIZE - 65536; i += 997)
		assert_int_equal(win.base[4096 + i], (uint8_t)((i + 65536) * 7 + (i + 65536) / 251));
	assert_int_equal(win.base[4096 + BIG_SIZE - 65536 + 10], 0);
	/* No handle (fh -1, as Linux sends): the node's own file, opened for
	 * the mapping; still never a directory, a missing node, or WRITE on a
	 * read-only server. */
	assert_int_equal(setupmapping(big, UINT64_MAX, 0, 64 * 4096, 4096, R), 0);
	for (size_t i = 0; i < 4096; i += 97)
		assert_int_equal(win.base[64 * 4096 + i], (uint8_t)(i * 7 + i / 251));
	assert_int_equal(setupmapping(1, UINT64_MAX, 0, 0, 4096, R), -EISDIR);
	assert_int_equal(setupmapping(99999, UINT64_MAX, 0, 0, 4096, R), -ENOENT);
	assert_int_equal(setupmapping(big, UINT64_MAX, 0, 0, 4096, FUSE_SETUPMAPPING_FLAG_WRITE),
			 -EROFS);
	assert_int_equal(setupmapping(big, UINT64_MAX, 100, 0, 4096, R), -EINVAL);
	struct fuse_removemapping_one mine[2] = { { 64 * 4096, 4096 }, { 0, 0 } };
	uint8_t rm1[4 + 2 * sizeof(struct fuse_removemapping_one)];
	removemapping_req(rm1, 1, mine);
	assert_int_equal(call(FUSE_REMOVEMAPPING, 1, rm1, sizeof(rm1)), 0);
	/* Refused: another node's handle, a directory handle, a bogus one,
	 * unknown flags, WRITE on a read-only server, bad ranges. */
	assert_int_equal(setupmapping(hello, fh, 0, 0, 4096, R), -EBADF);
	assert_int_equal(setupmapping(1, dfh, 0, 0, 4096, R), -EBADF);
	assert_int_equal(setupmapping(big, fh ^ (1ull << 40), 0, 0, 4096, R), -EBADF);
	assert_int_equal(setupmapping(big, fh, 0, 0, 4096, R | 4), -EINVAL);
	/* A read-only server: EROFS (test_fuse_server_rw.c: EACCES for a
	 * read-only handle of a writable one). */
	assert_int_equal(setupmapping(big, fh, 0, 0, 4096, FUSE_SETUPMAPPING_FLAG_WRITE), -EROFS);
	assert_int_equal(setupmapping(big, fh, 0, 127 * 4096, 2 * 4096, R), -EINVAL);
	assert_int_equal(setupmapping(big, fh, 0, UINT64_MAX - 4095, 4096, R), -EINVAL);
	assert_int_equal(setupmapping(big, fh, 100, 0, 4096, R), -EINVAL);
	assert_int_equal(setupmapping(big, fh, UINT64_MAX - 4095, 0, 4096, R), -EINVAL);
	/* REMOVEMAPPING: all entries checked before any is applied. */
	uint8_t rm[4 + 2 * sizeof(struct fuse_removemapping_one)];
	struct fuse_removemapping_one two[2] = { { 4096, 4096 }, { 1ull << 40, 4096 } };
	removemapping_req(rm, 2, two);
	assert_int_equal(call(FUSE_REMOVEMAPPING, 1, rm, sizeof(rm)), -EINVAL);
	assert_int_equal(win.base[4096], (uint8_t)(65536 * 7 + 65536 / 251)); /* untouched */
	two[1].moffset = 8192;
	removemapping_req(rm, 3, two); /* more entries than the request holds */
	assert_int_equal(call(FUSE_REMOVEMAPPING, 1, rm, sizeof(rm)), -EINVAL);
	removemapping_req(rm, 0, two);
	assert_int_equal(call(FUSE_REMOVEMAPPING, 1, rm, sizeof(rm)), -EINVAL);
	removemapping_req(rm, 2, two);
	assert_int_equal(call(FUSE_REMOVEMAPPING, 1, rm, sizeof(rm)), 0);
	assert_int_equal(win.nrecs, 1u); /* what is left after 12 KiB: one piece */
	/* DESTROY ends the session and every mapping with it. */
	assert_int_equal(call(FUSE_DESTROY, 1, NULL, 0), 0);
	assert_int_equal(win.nrecs, 0u);
	fuse_server_free(srv);
	srv = NULL;
	dax_map_free(&win);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_refuses),
		cmocka_unit_test_setup_teardown(test_init, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_roundtrip, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_readdir, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_ro_refuses_writes, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_escapes, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_bogus_ids, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_read_offsets, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_truncated_and_lying, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_truncated_rw, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_batch_forget, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_fds_released, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_fuzz, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_fuzz_rw, srv_up, srv_down),
		cmocka_unit_test_setup_teardown(test_dax_mappings, srv_up, srv_down),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
