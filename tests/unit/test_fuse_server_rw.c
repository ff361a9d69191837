/*
 * Unit tests for the writable side of host/fuse_server*.c: every request
 * that changes the tree or a file, first doing what it should (checked on
 * the host tree with stat and read), then hostile (names that try to
 * leave, symlinks at the name, lying lengths, handles of the wrong kind or
 * node, overflowing offsets). Each test gets a fresh tree (build_rw_tree)
 * beside files holding SECRET; after each, nothing outside the tree may
 * have changed. The fuzz loop over these requests is in test_fuse_server.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <cmocka.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <pier/fuse_msg.h>
#include "dax_map.h"
#include "fuse_server.h"
#include "fuse_server_harness.h"

static uint64_t outside_digest;
static mode_t saved_umask;

/* ---- fixtures ---- */

static int group_setup(void **state)
{
	(void)state;
	strcpy(base, "/tmp/pier-fuse-rw-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(tree, sizeof(tree), "%s/tree", base);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	scratch_remove_tree(base);
	return 0;
}

/* A fresh tree and a writable server on it, not yet initialized. The
 * process umask is 022 so creations exercise the chmod that makes modes
 * exact. */
static int rw_up(void **state)
{
	(void)state;
	build_rw_tree(tree);
	outside_digest = tree_digest(base, tree);
	saved_umask = umask(022);
	srv = fuse_server_new(tree, false);
	assert_non_null(srv);
	return 0;
}

/*
 * Takes away (or gives back) the capabilities that let root ignore
 * permission bits, in the effective set only: a 0200 file is then
 * write-only to this process whoever runs the tests.
 */
static void dac_override(bool on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	assert_int_equal(syscall(SYS_capget, &h, d), 0);
	uint32_t bits = 1u << CAP_DAC_OVERRIDE | 1u << CAP_DAC_READ_SEARCH;
	if (on)
		d[0].effective |= bits & d[0].permitted;
	else
		d[0].effective &= ~bits;
	assert_int_equal(syscall(SYS_capset, &h, d), 0);
}

/* Whatever the test did, nothing beside the tree changed. */
static int rw_down(void **state)
{
	(void)state;
	dac_override(true); /* after a failed test that had taken it away */
	fuse_server_free(srv);
	srv = NULL;
	umask(saved_umask);
	if (tree_digest(base, tree) != outside_digest) {
		print_error("something outside the served tree changed\n");
		return -1;
	}
	return 0;
}

/* ---- the host side ---- */

static const char *host(const char *rel)
{
	static char p[512];
	path_in(p, sizeof(p), tree, rel);
	return p;
}

static struct stat host_stat(const char *rel)
{
	struct stat st;
	assert_int_equal(lstat(host(rel), &st), 0);
	return st;
}

static bool host_exists(const char *rel)
{
	struct stat st;
	return lstat(host(rel), &st) == 0;
}

/* The file's bytes (up to cap); their count. */
static size_t host_read(const char *rel, void *buf, size_t cap)
{
	int fd = open(host(rel), O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = pread(fd, buf, cap, 0);
	assert_true(n >= 0);
	close(fd);
	return (size_t)n;
}

static void assert_host_content(const char *rel, const char *text)
{
	char buf[256];
	size_t n = host_read(rel, buf, sizeof(buf));
	assert_int_equal(n, strlen(text));
	assert_memory_equal(buf, text, n);
}

/* The files beside the tree still hold SECRET and nothing else. */
static void assert_outside_intact(void)
{
	char p[512], buf[64];
	const char *names[] = { "outside", "outside_abs" };
	for (int i = 0; i < 2; i++) {
		path_in(p, sizeof(p), base, names[i]);
		int fd = open(p, O_RDONLY);
		assert_true(fd >= 0);
		ssize_t n = read(fd, buf, sizeof(buf));
		close(fd);
		assert_int_equal(n, strlen(SECRET));
		assert_memory_equal(buf, SECRET, strlen(SECRET));
	}
}

/* ---- requests ---- */

static int64_t entry_of(int64_t r, struct fuse_entry_out *e)
{
	if (r < 0)
		return r;
	assert_int_equal(fuse_msg_entry(payload(), (uint32_t)r, e), 0);
	assert_true(fuse_msg_attr_ok(&e->attr));
	assert_true(e->nodeid != 0);
	return 0;
}

static int64_t create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
		      uint32_t um, struct fuse_entry_out *e, uint64_t *fh)
{
	struct fuse_create_in in = { .flags = flags, .mode = S_IFREG | mode, .umask = um };
	int64_t r = call2(FUSE_CREATE, parent, &in, sizeof(in), name, strlen(name) + 1);
	if (r < 0)
		return r;
	assert_int_equal(r, sizeof(*e) + sizeof(struct fuse_open_out));
	memcpy(e, payload(), sizeof(*e));
	assert_true(fuse_msg_attr_ok(&e->attr) && e->nodeid != 0);
	struct fuse_open_out o;
	memcpy(&o, payload() + sizeof(*e), sizeof(o));
	*fh = o.fh;
	return 0;
}

static int64_t make_dir(uint64_t parent, const char *name, uint32_t mode, uint32_t um,
			struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = um };
	return entry_of(call2(FUSE_MKDIR, parent, &in, sizeof(in), name, strlen(name) + 1), e);
}

/* SYMLINK's payload: name, NUL, target, NUL. */
static int64_t make_symlink(uint64_t parent, const char *name, const char *target,
			    struct fuse_entry_out *e)
{
	size_t nl = strlen(name) + 1, tl = strlen(target) + 1;
	char *pl = malloc(nl + tl);
	memcpy(pl, name, nl);
	memcpy(pl + nl, target, tl);
	int64_t r = entry_of(call(FUSE_SYMLINK, parent, pl, nl + tl), e);
	free(pl);
	return r;
}

static int64_t make_link(uint64_t old, uint64_t newparent, const char *name,
			 struct fuse_entry_out *e)
{
	struct fuse_link_in in = { .oldnodeid = old };
	return entry_of(call2(FUSE_LINK, newparent, &in, sizeof(in), name, strlen(name) + 1), e);
}

/* RENAME (flags < 0) or RENAME2, with the two names as given. */
static int64_t rename_raw(uint64_t parent, uint64_t newdir, int64_t flags, const void *names,
			  size_t len)
{
	if (flags < 0) {
		struct fuse_rename_in in = { .newdir = newdir };
		return call2(FUSE_RENAME, parent, &in, sizeof(in), names, len);
	}
	struct fuse_rename2_in in = { .newdir = newdir, .flags = (uint32_t)flags };
	return call2(FUSE_RENAME2, parent, &in, sizeof(in), names, len);
}

static int64_t rename_names(uint64_t parent, uint64_t newdir, int64_t flags, const char *from,
			    const char *to)
{
	char buf[600];
	size_t a = strlen(from) + 1, b = strlen(to) + 1;
	assert_true(a + b <= sizeof(buf));
	memcpy(buf, from, a);
	memcpy(buf + a, to, b);
	return rename_raw(parent, newdir, flags, buf, a + b);
}

static int64_t remove_name(uint32_t op, uint64_t parent, const char *name)
{
	return call(op, parent, name, strlen(name) + 1);
}

static int64_t write_fh(uint64_t fh, uint64_t off, const void *data, uint32_t size)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = size };
	int64_t r = call2(FUSE_WRITE, 1, &in, sizeof(in), data, size);
	if (r < 0)
		return r;
	assert_int_equal(r, sizeof(struct fuse_write_out));
	return ((struct fuse_write_out *)payload())->size;
}

static int64_t setattr(uint64_t node, const struct fuse_setattr_in *in, struct fuse_attr *out)
{
	int64_t r = call(FUSE_SETATTR, node, in, sizeof(*in));
	if (r < 0)
		return r;
	struct fuse_attr_out ao;
	assert_int_equal(fuse_msg_attr(payload(), (uint32_t)r, &ao), 0);
	if (out)
		*out = ao.attr;
	return 0;
}

static int64_t fallocate_fh(uint64_t fh, uint64_t off, uint64_t len, uint32_t mode)
{
	struct fuse_fallocate_in in = { .fh = fh, .offset = off, .length = len, .mode = mode };
	return call(FUSE_FALLOCATE, 1, &in, sizeof(in));
}

static int64_t lseek_fh(uint64_t fh, int64_t off, uint32_t whence)
{
	struct fuse_lseek_in in = { .fh = fh, .offset = (uint64_t)off, .whence = whence };
	int64_t r = call(FUSE_LSEEK, 1, &in, sizeof(in));
	if (r < 0)
		return r;
	assert_int_equal(r, sizeof(struct fuse_lseek_out));
	return (int64_t)((struct fuse_lseek_out *)payload())->offset;
}

static int64_t copy_range(uint64_t node_in, uint64_t fh_in, uint64_t off_in, uint64_t node_out,
			  uint64_t fh_out, uint64_t off_out, uint64_t len, uint64_t flags)
{
	struct fuse_copy_file_range_in in = { .fh_in = fh_in, .off_in = off_in,
					      .nodeid_out = node_out, .fh_out = fh_out,
					      .off_out = off_out, .len = len, .flags = flags };
	int64_t r = call(FUSE_COPY_FILE_RANGE, node_in, &in, sizeof(in));
	if (r < 0)
		return r;
	assert_int_equal(r, sizeof(struct fuse_write_out));
	return ((struct fuse_write_out *)payload())->size;
}

/* Names a guest may try instead of one component. */
static const char *const bad_names[] = { "a/b", "../outside", "/tmp/pier-escape", "..", ".",
					 "sub/../../outside", "x/" };

/* ---- tests ---- */

static void test_rw_init(void **state)
{
	(void)state;
	struct fuse_init_in in = {
		.major = 7, .minor = FUSE_KERNEL_MINOR_VERSION, .max_readahead = 65536,
		.flags = FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_WRITEBACK_CACHE |
			 FUSE_HANDLE_KILLPRIV | FUSE_HANDLE_KILLPRIV_V2 | FUSE_DONT_MASK |
			 FUSE_POSIX_ACL | FUSE_MAX_PAGES | FUSE_INIT_EXT,
	};
	int64_t r = call(FUSE_INIT, 0, &in, sizeof(in));
	struct fuse_init_out o;
	assert_int_equal(fuse_msg_init(payload(), (uint32_t)r, &o), 0);
	assert_true(o.flags & FUSE_ATOMIC_O_TRUNC);
	assert_true(o.flags & FUSE_BIG_WRITES);
	assert_false(o.flags & (FUSE_WRITEBACK_CACHE | FUSE_HANDLE_KILLPRIV |
				FUSE_HANDLE_KILLPRIV_V2 | FUSE_DONT_MASK | FUSE_POSIX_ACL));
	assert_int_equal(o.max_write, FUSE_SERVER_MAX_READ);
	/* A read-only server offers none of the writing flags. */
	fuse_server_free(srv);
	srv = fuse_server_new(tree, true);
	r = call(FUSE_INIT, 0, &in, sizeof(in));
	assert_int_equal(fuse_msg_init(payload(), (uint32_t)r, &o), 0);
	assert_false(o.flags & (FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES));
}

static void test_rw_create(void **state)
{
	(void)state;
	init();
	struct fuse_entry_out e, e2;
	uint64_t fh, fh2;
	size_t live = stats().live_nodes;
	assert_int_equal(create(1, "new.txt", O_RDWR | O_CREAT, 0666, 022, &e, &fh), 0);
	assert_true(S_ISREG(e.attr.mode));
	assert_int_equal(e.attr.mode & 07777, 0644);
	assert_int_equal(host_stat("new.txt").st_mode & 07777, 0644);
	assert_int_equal(e.attr.ino, host_stat("new.txt").st_ino);
	assert_int_equal(stats().live_nodes, live + 1); /* one lookup counted */
	assert_int_equal(stats().open_handles, 1);
	assert_int_equal(write_fh(fh, 0, "abc", 3), 3);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 100), 3);
	assert_memory_equal(payload(), "abc", 3);
	assert_host_content("new.txt", "abc");
	/* O_EXCL: the name exists. */
	assert_int_equal(create(1, "new.txt", O_RDWR | O_CREAT | O_EXCL, 0666, 022, &e2, &fh2),
			 -EEXIST);
	/* Without it: opened, O_TRUNC honoured, the same node (counted again). */
	assert_int_equal(create(1, "new.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600, 0, &e2, &fh2), 0);
	assert_true(e2.nodeid == e.nodeid);
	assert_int_equal(e2.attr.size, 0);
	assert_int_equal(host_stat("new.txt").st_size, 0);
	assert_int_equal(host_stat("new.txt").st_mode & 07777, 0644); /* not re-moded */
	assert_int_equal(stats().live_nodes, live + 1);
	assert_int_equal(release(fh2, false), 0);
	assert_int_equal(release(fh, false), 0);
	forget(e.nodeid, 2);
	assert_int_equal(stats().live_nodes, live);

	/* Modes are exactly mode & ~umask, whatever pier's own umask. */
	const struct { const char *name; uint32_t mode, um, want; mode_t proc; } m[] = {
		{ "m1", 0666, 0, 0666, 077 }, { "m2", 0777, 027, 0750, 0 },
		{ "m3", 04755, 0, 04755, 022 }, { "m4", 0, 0, 0, 022 }, { "m5", 0640, 0, 0640, 0777 },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		umask(m[i].proc);
		assert_int_equal(create(1, m[i].name, O_WRONLY | O_CREAT, m[i].mode, m[i].um, &e,
					&fh), 0);
		assert_int_equal(host_stat(m[i].name).st_mode & 07777, m[i].want);
		assert_int_equal(e.attr.mode & 07777, m[i].want);
		/* A guest O_WRONLY is O_RDWR here (DAX can map it). */
		assert_int_equal(write_fh(fh, 0, "x", 1), 1);
		assert_int_equal(read_fh(FUSE_READ, fh, 0, 10), 1);
		assert_int_equal(release(fh, false), 0);
	}
	umask(022);
	/* A read-only create: the file is there, the handle cannot write. */
	assert_int_equal(create(1, "ro.txt", O_RDONLY | O_CREAT, 0444, 0, &e, &fh), 0);
	assert_int_equal(host_stat("ro.txt").st_mode & 07777, 0444);
	assert_int_equal(write_fh(fh, 0, "x", 1), -EBADF);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 10), 0);
	/* O_APPEND: writes land at the end whatever their offset. */
	assert_int_equal(create(1, "app.txt", O_WRONLY | O_CREAT | O_APPEND, 0644, 0, &e, &fh), 0);
	assert_int_equal(write_fh(fh, 0, "one", 3), 3);
	assert_int_equal(write_fh(fh, 0, "two", 3), 3);
	assert_host_content("app.txt", "onetwo");
	/* In a subdirectory. */
	uint64_t sub = lookup_ok(1, "sub");
	assert_int_equal(create(sub, "deep.txt", O_RDWR | O_CREAT, 0644, 0, &e, &fh), 0);
	assert_true(host_exists("sub/deep.txt"));
	/* No access mode at all: refused, nothing created. */
	assert_int_equal(create(1, "acc.txt", O_ACCMODE | O_CREAT, 0644, 0, &e, &fh), -EINVAL);
	assert_false(host_exists("acc.txt"));
	/* A reply buffer too small for entry and handle: nothing created. */
	live = stats().live_nodes;
	size_t handles = stats().open_handles;
	struct fuse_create_in ci = { .flags = O_RDWR, .mode = S_IFREG | 0644 };
	uint8_t pl[64];
	memcpy(pl, &ci, sizeof(ci));
	memcpy(pl + sizeof(ci), "small", 6);
	assert_int_equal(call_cap(FUSE_CREATE, 1, pl, sizeof(ci) + 6,
				  sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out)),
			 -EOVERFLOW);
	assert_false(host_exists("small"));
	assert_int_equal(stats().live_nodes, live);
	assert_int_equal(stats().open_handles, handles);
}

static void test_rw_create_hostile(void **state)
{
	(void)state;
	init();
	struct fuse_entry_out e;
	uint64_t fh;
	size_t live = stats().live_nodes;
	uint64_t bad = stats().bad_requests;
	uint64_t sub = lookup_ok(1, "sub");
	live++;
	/* A symlink at the name is never followed: not with O_TRUNC, not
	 * with O_EXCL, not to an absolute path, not to "..". */
	const char *links[] = { "up", "abs", "updir" };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(create(1, links[i], O_WRONLY | O_CREAT | O_TRUNC, 0644, 0, &e, &fh),
				 -ELOOP);
		assert_int_equal(create(1, links[i], O_RDWR | O_CREAT | O_EXCL, 0644, 0, &e, &fh),
				 -EEXIST);
		assert_int_equal(create(1, links[i], O_RDONLY | O_CREAT | O_APPEND, 0644, 0, &e, &fh),
				 -ELOOP);
	}
	assert_int_equal(create(sub, "up2", O_WRONLY | O_CREAT | O_TRUNC, 0644, 0, &e, &fh), -ELOOP);
	assert_true(S_ISLNK(host_stat("up").st_mode));
	assert_outside_intact();
	/* A FIFO is never opened (it would block), a directory is one. */
	assert_int_equal(create(1, "fifo", O_WRONLY | O_CREAT, 0644, 0, &e, &fh), -EACCES);
	assert_int_equal(create(1, "fifo", O_RDONLY | O_CREAT, 0644, 0, &e, &fh), -EACCES);
	assert_int_equal(create(1, "sub", O_RDWR | O_CREAT, 0644, 0, &e, &fh), -EISDIR);
	/* Names that are not one component. */
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		int64_t r = create(1, bad_names[i], O_RDWR | O_CREAT, 0644, 0, &e, &fh);
		assert_true(r == -EINVAL || r == -EPERM);
		r = create(sub, bad_names[i], O_RDWR | O_CREAT | O_EXCL, 0644, 0, &e, &fh);
		assert_true(r == -EINVAL || r == -EPERM);
	}
	char name[300];
	memset(name, 'n', sizeof(name));
	name[256] = 0;
	assert_int_equal(create(1, name, O_RDWR | O_CREAT, 0644, 0, &e, &fh), -EINVAL);
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0644 };
	assert_int_equal(call2(FUSE_CREATE, 1, &ci, sizeof(ci), "", 1), -EINVAL);
	assert_int_equal(call2(FUSE_CREATE, 1, &ci, sizeof(ci), "nonul", 5), -EINVAL);
	assert_int_equal(call2(FUSE_CREATE, 1, &ci, sizeof(ci), "in\0side", 8), -EINVAL);
	assert_int_equal(call2(FUSE_CREATE, 1, &ci, sizeof(ci), NULL, 0), -EINVAL);
	assert_int_equal(call(FUSE_CREATE, 1, &ci, sizeof(ci) - 1), -EINVAL);
	assert_true(stats().bad_requests >= bad + 6);
	/* Parents that are not directories, or not nodes at all. */
	uint64_t hello = lookup_ok(1, "hello.txt"), up = lookup_ok(1, "up");
	live += 2;
	assert_int_equal(create(hello, "x", O_RDWR | O_CREAT, 0644, 0, &e, &fh), -ENOTDIR);
	assert_int_equal(create(up, "x", O_RDWR | O_CREAT, 0644, 0, &e, &fh), -ENOTDIR);
	assert_int_equal(create(1ull << 32 | 1, "x", O_RDWR | O_CREAT, 0644, 0, &e, &fh), -ENOENT);
	assert_int_equal(create(0, "x", O_RDWR | O_CREAT, 0644, 0, &e, &fh), -ENOENT);
	/* The others refuse the same way. */
	assert_int_equal(make_dir(1, "up", 0755, 0, &e), -EEXIST);
	assert_int_equal(make_symlink(1, "up", "x", &e), -EEXIST);
	assert_int_equal(make_dir(up, "x", 0755, 0, &e), -ENOTDIR);
	assert_int_equal(make_symlink(hello, "x", "y", &e), -ENOTDIR);
	/* Nothing counted, nothing open, nothing made. */
	assert_int_equal(stats().live_nodes, live);
	assert_int_equal(stats().open_handles, 0);
	assert_false(host_exists("x"));
	assert_outside_intact();
	char p[512];
	path_in(p, sizeof(p), base, "pier-escape");
	assert_int_not_equal(access(p, F_OK), 0);
	assert_int_not_equal(access("/tmp/pier-escape", F_OK), 0);
}

static void test_rw_open_write(void **state)
{
	(void)state;
	init();
	uint64_t hello = lookup_ok(1, "hello.txt"), sub = lookup_ok(1, "sub");
	uint64_t up = lookup_ok(1, "up"), fifo = lookup_ok(1, "fifo");
	uint64_t fh, fh2, dfh;
	/* O_WRONLY: writes in place; readable too (opened O_RDWR). */
	assert_int_equal(open_node(hello, O_WRONLY, false, &fh), 0);
	assert_int_equal(write_fh(fh, 0, "HELLO", 5), 5);
	assert_host_content("hello.txt", "HELLO world\n");
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 5), 5);
	assert_int_equal(release(fh, false), 0);
	/* O_APPEND stays on the host fd. */
	assert_int_equal(open_node(hello, O_RDWR | O_APPEND, false, &fh), 0);
	assert_int_equal(write_fh(fh, 0, "!!", 2), 2);
	assert_host_content("hello.txt", "HELLO world\n!!");
	assert_int_equal(release(fh, false), 0);
	/* A read-only handle cannot write. */
	assert_int_equal(open_node(hello, O_RDONLY, false, &fh), 0);
	assert_int_equal(write_fh(fh, 0, "no", 2), -EBADF);
	assert_int_equal(release(fh, false), 0);
	assert_host_content("hello.txt", "HELLO world\n!!");
	/* O_TRUNC, with write access and (as Linux allows) without. */
	assert_int_equal(open_node(hello, O_WRONLY | O_TRUNC, false, &fh), 0);
	assert_int_equal(host_stat("hello.txt").st_size, 0);
	assert_int_equal(write_fh(fh, 0, "again", 5), 5);
	assert_int_equal(release(fh, false), 0);
	assert_int_equal(open_node(hello, O_RDONLY | O_TRUNC, false, &fh), 0);
	assert_int_equal(host_stat("hello.txt").st_size, 0);
	assert_int_equal(write_fh(fh, 0, "x", 1), -EBADF);
	assert_int_equal(release(fh, false), 0);
	/* Flags OPEN ignores: O_CREAT/O_EXCL (CREATE's), O_DIRECT (dropped:
	 * the guest's bytes are not aligned for it), O_NOATIME. */
	assert_int_equal(open_node(hello, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_NOATIME, false,
				   &fh), 0);
	assert_int_equal(write_fh(fh, 1, "odd", 3), 3);
	assert_int_equal(release(fh, false), 0);
	/* O_SYNC is kept and harmless. */
	assert_int_equal(open_node(hello, O_WRONLY | O_SYNC, false, &fh), 0);
	assert_int_equal(write_fh(fh, 0, "s", 1), 1);
	assert_int_equal(release(fh, false), 0);
	/* Not a file to write: refused without being opened. */
	assert_int_equal(open_node(hello, O_ACCMODE, false, &fh), -EINVAL);
	assert_int_equal(open_node(sub, O_WRONLY, false, &fh), -EISDIR);
	assert_int_equal(open_node(sub, O_WRONLY, true, &fh), -EISDIR);
	assert_int_equal(open_node(sub, O_RDONLY | O_TRUNC, true, &fh), -EISDIR);
	assert_int_equal(open_node(up, O_WRONLY, false, &fh), -ELOOP);
	assert_int_equal(open_node(up, O_RDWR | O_TRUNC, false, &fh), -ELOOP);
	assert_int_equal(open_node(fifo, O_WRONLY, false, &fh), -EACCES);
	assert_outside_intact();

	/* WRITE, hostile. */
	assert_int_equal(open_node(hello, O_RDWR, false, &fh), 0);
	assert_int_equal(open_node(hello, O_RDONLY, false, &fh2), 0);
	assert_int_equal(open_node(sub, O_RDONLY, true, &dfh), 0);
	uint64_t bad = stats().bad_requests;
	struct fuse_write_in wi = { .fh = fh, .offset = 0, .size = 10 };
	assert_int_equal(call2(FUSE_WRITE, 1, &wi, sizeof(wi), "short", 5), -EINVAL);
	wi.size = 2;
	assert_int_equal(call2(FUSE_WRITE, 1, &wi, sizeof(wi), "longer", 6), -EINVAL);
	wi.size = 0xffffffff;
	assert_int_equal(call2(FUSE_WRITE, 1, &wi, sizeof(wi), "x", 1), -EINVAL);
	assert_int_equal(call(FUSE_WRITE, 1, &wi, sizeof(wi) - 1), -EINVAL);
	assert_true(stats().bad_requests >= bad + 4);
	assert_int_equal(write_fh(fh2, 0, "ro", 2), -EBADF);
	assert_int_equal(write_fh(dfh, 0, "dir", 3), -EBADF);
	assert_int_equal(write_fh(0, 0, "x", 1), -EBADF);
	assert_int_equal(write_fh(fh ^ (1ull << 40), 0, "x", 1), -EBADF);
	assert_int_equal(write_fh(fh + 7, 0, "x", 1), -EBADF);
	const uint64_t offs[] = { UINT64_MAX, 1ull << 63, INT64_MAX, INT64_MAX - 1, UINT64_MAX - 2 };
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		assert_int_equal(write_fh(fh, offs[i], "xx", 2), -EINVAL);
	/* Zero bytes at any sane offset: nothing written. */
	assert_int_equal(write_fh(fh, 12345, NULL, 0), 0);
	/* The biggest write; one byte more is refused. */
	uint8_t *big = malloc(FUSE_SERVER_MAX_READ + 1);
	for (size_t i = 0; i <= FUSE_SERVER_MAX_READ; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(write_fh(fh, 4096, big, FUSE_SERVER_MAX_READ), FUSE_SERVER_MAX_READ);
	assert_int_equal(write_fh(fh, 0, big, FUSE_SERVER_MAX_READ + 1), -EINVAL);
	uint8_t *back = malloc(FUSE_SERVER_MAX_READ);
	int fd = open(host("hello.txt"), O_RDONLY);
	assert_int_equal(pread(fd, back, FUSE_SERVER_MAX_READ, 4096), FUSE_SERVER_MAX_READ);
	close(fd);
	assert_memory_equal(back, big, FUSE_SERVER_MAX_READ);
	free(back);
	free(big);
	/* A released handle is stale. */
	assert_int_equal(release(fh, false), 0);
	assert_int_equal(write_fh(fh, 0, "x", 1), -EBADF);
	assert_int_equal(release(fh2, false), 0);
	assert_int_equal(release(dfh, true), 0);
}

static void test_rw_mkdir_symlink_link(void **state)
{
	(void)state;
	init();
	struct fuse_entry_out e, e2;
	/* MKDIR: exact modes, sticky bit included. */
	assert_int_equal(make_dir(1, "d1", 0777, 0, &e), 0);
	assert_true(S_ISDIR(e.attr.mode));
	assert_int_equal(host_stat("d1").st_mode & 07777, 0777);
	assert_int_equal(e.attr.mode & 07777, 0777);
	assert_int_equal(make_dir(1, "d2", 01777, 0, &e), 0);
	assert_int_equal(host_stat("d2").st_mode & 07777, 01777);
	assert_int_equal(make_dir(1, "d3", 0777, 077, &e), 0);
	assert_int_equal(host_stat("d3").st_mode & 07777, 0700);
	assert_int_equal(make_dir(e.nodeid, "inner", 0755, 0, &e2), 0);
	assert_true(S_ISDIR(host_stat("d3/inner").st_mode));
	assert_int_equal(make_dir(1, "sub", 0755, 0, &e), -EEXIST);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		int64_t r = make_dir(1, bad_names[i], 0755, 0, &e);
		assert_true(r == -EINVAL || r == -EPERM);
	}
	/* MKNOD: not served (see fuse_server_write.c). */
	struct fuse_mknod_in mn = { .mode = S_IFREG | 0644 };
	assert_int_equal(call2(FUSE_MKNOD, 1, &mn, sizeof(mn), "node", 5), -EPERM);
	mn.mode = S_IFIFO | 0644;
	assert_int_equal(call2(FUSE_MKNOD, 1, &mn, sizeof(mn), "node", 5), -EPERM);
	assert_false(host_exists("node"));

	/* SYMLINK: the text is stored as given and never followed. */
	assert_int_equal(make_symlink(1, "ln", "../outside", &e), 0);
	assert_true(S_ISLNK(e.attr.mode));
	char buf[PATH_MAX + 16];
	assert_int_equal(readlink(host("ln"), buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "../outside", 10);
	assert_int_equal(call(FUSE_READLINK, e.nodeid, NULL, 0), 10);
	assert_memory_equal(payload(), "../outside", 10);
	/* Up to PATH_MAX - 1 bytes of text; one more is refused. */
	char *target = malloc(PATH_MAX + 1);
	memset(target, 'x', PATH_MAX);
	target[PATH_MAX - 1] = 0;
	assert_int_equal(make_symlink(1, "long", target, &e), 0);
	assert_int_equal(readlink(host("long"), buf, sizeof(buf)), PATH_MAX - 1);
	target[PATH_MAX - 1] = 'x';
	target[PATH_MAX] = 0;
	assert_int_equal(make_symlink(1, "toolong", target, &e), -EINVAL);
	free(target);
	assert_int_equal(call(FUSE_SYMLINK, 1, "ln2\0a\0b", 8), -EINVAL);   /* a NUL inside */
	assert_int_equal(call(FUSE_SYMLINK, 1, "ln2\0abc", 7), -EINVAL);    /* no last NUL */
	assert_int_equal(call(FUSE_SYMLINK, 1, "ln2", 4), -EINVAL);         /* no target */
	assert_int_equal(call(FUSE_SYMLINK, 1, "ln2", 3), -EINVAL);         /* no NUL at all */
	assert_int_equal(call(FUSE_SYMLINK, 1, "ln2\0", 5), -ENOENT);       /* "": as symlink(2) */
	assert_int_equal(call(FUSE_SYMLINK, 1, "../ln2\0x", 9), -EINVAL);
	assert_int_equal(call(FUSE_SYMLINK, 1, "..\0x", 5), -EPERM);
	assert_false(host_exists("ln2"));

	/* LINK: a second name for the same node. */
	uint64_t hello = lookup_ok(1, "hello.txt"), sub = lookup_ok(1, "sub");
	assert_int_equal(make_link(hello, sub, "hl", &e), 0);
	assert_true(e.nodeid == hello);
	assert_int_equal(e.attr.nlink, 2);
	assert_int_equal(host_stat("sub/hl").st_ino, host_stat("hello.txt").st_ino);
	forget(hello, 1);
	/* A symlink node is linked itself, not its target. */
	uint64_t up = lookup_ok(1, "up");
	assert_int_equal(make_link(up, 1, "up_hl", &e), 0);
	assert_true(S_ISLNK(host_stat("up_hl").st_mode));
	assert_int_equal(host_stat("up_hl").st_nlink, 2);
	assert_int_equal(readlink(host("up_hl"), buf, sizeof(buf)), 10);
	/* Refused: directories (the root too), stale and bogus nodes, bad
	 * names, parents that are not directories, names that exist. */
	assert_int_equal(make_link(sub, 1, "dirlink", &e), -EPERM);
	assert_int_equal(make_link(1, sub, "rootlink", &e), -EPERM);
	assert_int_equal(make_link(1ull << 32 | 7, 1, "bogus", &e), -ENOENT);
	assert_int_equal(make_link(0, 1, "bogus", &e), -ENOENT);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		int64_t r = make_link(hello, 1, bad_names[i], &e);
		assert_true(r == -EINVAL || r == -EPERM);
	}
	assert_int_equal(make_link(hello, hello, "x", &e), -ENOTDIR);
	assert_int_equal(make_link(hello, up, "x", &e), -ENOTDIR);
	assert_int_equal(make_link(hello, 1, "data.bin", &e), -EEXIST);
	struct fuse_link_in li = { .oldnodeid = hello };
	assert_int_equal(call(FUSE_LINK, 1, &li, sizeof(li)), -EINVAL);
	assert_int_equal(call(FUSE_LINK, 1, &li, sizeof(li) - 2), -EINVAL);
	assert_outside_intact();
}

static void test_rw_unlink_rename(void **state)
{
	(void)state;
	init();
	uint64_t sub = lookup_ok(1, "sub"), inner = lookup_ok(sub, "inner.txt");
	uint64_t hello = lookup_ok(1, "hello.txt"), updir = lookup_ok(1, "updir");
	uint64_t data = lookup_ok(1, "data.bin");
	/* RENAME across directories; the node follows its inode. */
	assert_int_equal(rename_names(sub, 1, -1, "inner.txt", "moved.txt"), 0);
	assert_false(host_exists("sub/inner.txt"));
	assert_host_content("moved.txt", "inner\n");
	assert_true(call(FUSE_GETATTR, inner, &(struct fuse_getattr_in){ 0 },
			 sizeof(struct fuse_getattr_in)) > 0);
	assert_int_equal(rename_names(1, sub, 0, "moved.txt", "back.txt"), 0);
	assert_host_content("sub/back.txt", "inner\n");
	/* RENAME2: NOREPLACE, EXCHANGE; nothing else. */
	assert_int_equal(rename_names(1, 1, RENAME_NOREPLACE, "hello.txt", "data.bin"), -EEXIST);
	assert_int_equal(rename_names(1, sub, RENAME_EXCHANGE, "hello.txt", "back.txt"), 0);
	assert_host_content("hello.txt", "inner\n");
	assert_host_content("sub/back.txt", "hello world\n");
	assert_int_equal(rename_names(1, 1, RENAME_WHITEOUT, "hello.txt", "w"), -EINVAL);
	assert_int_equal(rename_names(1, 1, 8, "hello.txt", "w"), -EINVAL);
	assert_int_equal(rename_names(1, 1, 1u << 31, "hello.txt", "w"), -EINVAL);
	assert_int_equal(rename_names(1, 1, RENAME_NOREPLACE | RENAME_EXCHANGE, "hello.txt", "w"),
			 -EINVAL);
	/* A symlink moves as itself. */
	assert_int_equal(rename_names(1, sub, -1, "up", "up_moved"), 0);
	assert_true(S_ISLNK(host_stat("sub/up_moved").st_mode));
	/* A directory cannot go beneath itself. */
	struct fuse_entry_out e;
	assert_int_equal(make_dir(sub, "child", 0755, 0, &e), 0);
	assert_int_equal(rename_names(1, e.nodeid, -1, "sub", "loop"), -EINVAL);

	/* Payloads that are not exactly two names. */
	uint64_t bad = stats().bad_requests;
	assert_int_equal(rename_raw(1, 1, -1, "hello.txt", 10), -EINVAL);
	assert_int_equal(rename_raw(1, 1, -1, "hello.txt\0a\0b", 14), -EINVAL);
	assert_int_equal(rename_raw(1, 1, 0, "hello.txt\0a", 11), -EINVAL);
	assert_int_equal(rename_raw(1, 1, 0, "hello.txt", 9), -EINVAL);
	assert_int_equal(rename_raw(1, 1, 0, "\0a", 3), -EINVAL);
	assert_int_equal(rename_raw(1, 1, -1, NULL, 0), -EINVAL);
	assert_true(stats().bad_requests >= bad + 6);
	/* Names that would leave, either side. */
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		int64_t r = rename_names(1, 1, -1, "hello.txt", bad_names[i]);
		assert_true(r == -EINVAL || r == -EPERM);
		r = rename_names(1, 1, RENAME_NOREPLACE, bad_names[i], "stolen");
		assert_true(r == -EINVAL || r == -EPERM);
		r = rename_names(sub, 1, RENAME_EXCHANGE, "back.txt", bad_names[i]);
		assert_true(r == -EINVAL || r == -EPERM);
	}
	/* Destination directories that are not nodes, or not directories:
	 * a symlink to ".." is never one. */
	assert_int_equal(rename_names(1, 1ull << 32 | 1, -1, "hello.txt", "x"), -ENOENT);
	assert_int_equal(rename_names(1, 0, 0, "hello.txt", "x"), -ENOENT);
	assert_int_equal(rename_names(1, hello, -1, "data.bin", "x"), -ENOTDIR);
	assert_int_equal(rename_names(1, updir, -1, "data.bin", "escaped"), -ENOTDIR);
	assert_int_equal(rename_names(1, updir, RENAME_EXCHANGE, "data.bin", "outside"), -ENOTDIR);
	assert_int_equal(rename_names(updir, 1, -1, "outside", "stolen"), -ENOTDIR);
	assert_false(host_exists("stolen"));
	assert_true(host_exists("data.bin"));

	/* UNLINK and RMDIR. */
	assert_int_equal(remove_name(FUSE_UNLINK, 1, "data.bin"), 0);
	assert_false(host_exists("data.bin"));
	assert_int_equal(remove_name(FUSE_UNLINK, 1, "sub"), -EISDIR);
	assert_int_equal(remove_name(FUSE_RMDIR, 1, "sub"), -ENOTEMPTY);
	assert_int_equal(remove_name(FUSE_RMDIR, 1, "empty"), 0);
	assert_false(host_exists("empty"));
	assert_int_equal(remove_name(FUSE_RMDIR, 1, "hello.txt"), -ENOTDIR);
	assert_int_equal(remove_name(FUSE_UNLINK, 1, "nope"), -ENOENT);
	/* A symlink goes, its target stays. */
	assert_int_equal(remove_name(FUSE_UNLINK, sub, "up_moved"), 0);
	assert_int_equal(remove_name(FUSE_UNLINK, 1, "abs"), 0);
	assert_int_equal(remove_name(FUSE_UNLINK, 1, "updir"), 0);
	assert_outside_intact();
	/* The removed file's node still answers (its fd holds the inode). */
	assert_true(call(FUSE_GETATTR, data, &(struct fuse_getattr_in){ 0 },
			 sizeof(struct fuse_getattr_in)) > 0);
	assert_int_equal(((struct fuse_attr_out *)payload())->attr.nlink, 0);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		int64_t r = remove_name(FUSE_UNLINK, sub, bad_names[i]);
		assert_true(r == -EINVAL || r == -EPERM);
		r = remove_name(FUSE_RMDIR, sub, bad_names[i]);
		assert_true(r == -EINVAL || r == -EPERM);
	}
	assert_int_equal(call(FUSE_UNLINK, 1, "", 1), -EINVAL);
	assert_int_equal(call(FUSE_RMDIR, 1, NULL, 0), -EINVAL);
	assert_int_equal(remove_name(FUSE_UNLINK, 1ull << 32 | 1, "hello.txt"), -ENOENT);
	assert_true(host_exists("sub"));
	assert_outside_intact();
}

static void test_rw_setattr(void **state)
{
	(void)state;
	init();
	uint64_t hello = lookup_ok(1, "hello.txt"), up = lookup_ok(1, "up");
	uint64_t sub = lookup_ok(1, "sub"), fifo = lookup_ok(1, "fifo");
	uint64_t data = lookup_ok(1, "data.bin");
	struct fuse_attr a;
	/* Mode: the permission bits only. */
	struct fuse_setattr_in in = { .valid = FATTR_MODE, .mode = S_IFREG | 0600 };
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(a.mode, S_IFREG | 0600);
	assert_int_equal(host_stat("hello.txt").st_mode & 07777, 0600);
	in.mode = 0170751; /* type bits are not ours to change */
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(host_stat("hello.txt").st_mode, S_IFREG | 0751);
	in.mode = 01777;
	assert_int_equal(setattr(sub, &in, &a), 0);
	assert_int_equal(host_stat("sub").st_mode & 07777, 01777);
	assert_int_equal(setattr(up, &in, &a), -EOPNOTSUPP); /* as lchmod */
	/* Owner: whatever the host allows us. */
	in = (struct fuse_setattr_in){ .valid = FATTR_UID | FATTR_GID, .uid = getuid(),
				       .gid = getgid() };
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(setattr(up, &in, &a), 0); /* the link itself */
	in.uid = 4242;
	in.valid = FATTR_UID;
	int64_t r = setattr(hello, &in, &a);
	assert_true(r == 0 ? host_stat("hello.txt").st_uid == 4242 : r == -EPERM);
	/* Size: without a handle, through a writable one, and with a handle
	 * that cannot write or is another node's (then by reopening). */
	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 5 };
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(a.size, 5);
	assert_int_equal(host_stat("hello.txt").st_size, 5);
	uint64_t fh_w, fh_r, fh_data;
	assert_int_equal(open_node(hello, O_RDWR, false, &fh_w), 0);
	assert_int_equal(open_node(hello, O_RDONLY, false, &fh_r), 0);
	assert_int_equal(open_node(data, O_RDWR, false, &fh_data), 0);
	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE | FATTR_FH, .size = 2, .fh = fh_w };
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(host_stat("hello.txt").st_size, 2);
	in.fh = fh_r;
	in.size = 1;
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(host_stat("hello.txt").st_size, 1);
	in.fh = fh_data;
	in.size = 0;
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(host_stat("hello.txt").st_size, 0);
	assert_int_equal(host_stat("data.bin").st_size, RW_DATA_SIZE); /* not the handle's file */
	in.fh = 12345;
	in.size = 100; /* grows, sparse */
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(host_stat("hello.txt").st_size, 100);
	/* Size of what is not a regular file, or past what a file can be. */
	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 0 };
	assert_int_equal(setattr(sub, &in, &a), -EISDIR);
	assert_int_equal(setattr(1, &in, &a), -EISDIR);
	assert_int_equal(setattr(up, &in, &a), -EINVAL);
	assert_int_equal(setattr(fifo, &in, &a), -EINVAL);
	in.size = 1ull << 63;
	assert_int_equal(setattr(hello, &in, &a), -EINVAL);
	in.size = UINT64_MAX;
	assert_int_equal(setattr(hello, &in, &a), -EINVAL);
	assert_outside_intact();
	/* Times, given and "now". */
	in = (struct fuse_setattr_in){ .valid = FATTR_ATIME | FATTR_MTIME, .atime = 1000,
				       .atimensec = 5, .mtime = 2000, .mtimensec = 999999999 };
	assert_int_equal(setattr(hello, &in, &a), 0);
	struct stat st = host_stat("hello.txt");
	assert_int_equal(st.st_atim.tv_sec, 1000);
	assert_int_equal(st.st_atim.tv_nsec, 5);
	assert_int_equal(st.st_mtim.tv_sec, 2000);
	assert_int_equal(st.st_mtim.tv_nsec, 999999999);
	assert_int_equal(a.mtime, 2000);
	in = (struct fuse_setattr_in){ .valid = FATTR_MTIME | FATTR_MTIME_NOW };
	assert_int_equal(setattr(hello, &in, &a), 0);
	st = host_stat("hello.txt");
	assert_true(llabs((long long)(st.st_mtim.tv_sec - time(NULL))) < 60);
	assert_int_equal(st.st_atim.tv_sec, 1000); /* not asked for */
	in = (struct fuse_setattr_in){ .valid = FATTR_ATIME_NOW };
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_true(llabs((long long)(host_stat("hello.txt").st_atim.tv_sec - time(NULL))) < 60);
	/* On a symlink: the link's own times (its target is outside). */
	in = (struct fuse_setattr_in){ .valid = FATTR_MTIME, .mtime = 3000 };
	assert_int_equal(setattr(up, &in, &a), 0);
	assert_int_equal(host_stat("up").st_mtim.tv_sec, 3000);
	/* Size then times: the times given win over truncation's. */
	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE | FATTR_MTIME, .size = 3, .mtime = 4000 };
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(host_stat("hello.txt").st_mtim.tv_sec, 4000);
	/* A bad time: nothing at all changes, the mode sent with it neither. */
	in = (struct fuse_setattr_in){ .valid = FATTR_MODE | FATTR_MTIME, .mode = 0644,
				       .mtime = 5000, .mtimensec = 1000000000 };
	assert_int_equal(setattr(hello, &in, &a), -EINVAL);
	in.valid = FATTR_MODE | FATTR_ATIME;
	in.atimensec = UTIME_NOW; /* not smuggled through either */
	in.mtimensec = 0;
	assert_int_equal(setattr(hello, &in, &a), -EINVAL);
	assert_int_equal(host_stat("hello.txt").st_mode & 07777, 0751);
	assert_int_equal(host_stat("hello.txt").st_mtim.tv_sec, 4000);
	/* Bits that need nothing, or that no kernel sends yet: ignored. */
	st = host_stat("hello.txt");
	in = (struct fuse_setattr_in){ .valid = FATTR_CTIME | FATTR_LOCKOWNER | FATTR_KILL_SUIDGID |
						 FATTR_FH | (1u << 20) | (1u << 31),
				       .ctime = 1, .fh = 999 };
	assert_int_equal(setattr(hello, &in, &a), 0);
	assert_int_equal(host_stat("hello.txt").st_mtim.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(host_stat("hello.txt").st_size, st.st_size);
	assert_int_equal(a.size, (uint64_t)st.st_size);
	/* Bogus nodes, short requests. */
	assert_int_equal(setattr(1ull << 32 | 1, &in, &a), -ENOENT);
	assert_int_equal(call(FUSE_SETATTR, hello, &in, sizeof(in) - 8), -EINVAL);
	assert_int_equal(release(fh_w, false), 0);
	assert_int_equal(release(fh_r, false), 0);
	assert_int_equal(release(fh_data, false), 0);
	assert_outside_intact();
}

static void test_rw_file_ops(void **state)
{
	(void)state;
	init();
	uint64_t data = lookup_ok(1, "data.bin"), sub = lookup_ok(1, "sub");
	uint64_t fh, fh_r, dfh;
	assert_int_equal(open_node(data, O_RDWR, false, &fh), 0);
	assert_int_equal(open_node(data, O_RDONLY, false, &fh_r), 0);
	assert_int_equal(open_node(sub, O_RDONLY, true, &dfh), 0);
	/* FLUSH, FSYNC, FSYNCDIR: a handle of the right kind is all it takes. */
	struct fuse_flush_in fl = { .fh = fh };
	assert_int_equal(call(FUSE_FLUSH, data, &fl, sizeof(fl)), 0);
	fl.fh = fh_r;
	assert_int_equal(call(FUSE_FLUSH, data, &fl, sizeof(fl)), 0);
	fl.fh = dfh;
	assert_int_equal(call(FUSE_FLUSH, data, &fl, sizeof(fl)), -EBADF);
	fl.fh = 77;
	assert_int_equal(call(FUSE_FLUSH, data, &fl, sizeof(fl)), -EBADF);
	struct fuse_fsync_in fs = { .fh = fh };
	assert_int_equal(call(FUSE_FSYNC, data, &fs, sizeof(fs)), 0);
	fs.fsync_flags = 1;
	assert_int_equal(call(FUSE_FSYNC, data, &fs, sizeof(fs)), 0);
	assert_int_equal(call(FUSE_FSYNCDIR, sub, &fs, sizeof(fs)), -EBADF);
	fs.fh = dfh;
	assert_int_equal(call(FUSE_FSYNCDIR, sub, &fs, sizeof(fs)), 0);
	assert_int_equal(call(FUSE_FSYNC, sub, &fs, sizeof(fs)), -EBADF);

	/* FALLOCATE. */
	assert_int_equal(fallocate_fh(fh, 0, 65536, 0), 0);
	assert_int_equal(host_stat("data.bin").st_size, 65536);
	assert_int_equal(fallocate_fh(fh, 65536, 4096, FALLOC_FL_KEEP_SIZE), 0);
	assert_int_equal(host_stat("data.bin").st_size, 65536);
	assert_int_equal(fallocate_fh(fh, 0, 4096, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE), 0);
	uint8_t buf[8192];
	assert_int_equal(host_read("data.bin", buf, sizeof(buf)), sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], i < 4096 ? 0 : (uint8_t)(i * 13));
	int64_t r = fallocate_fh(fh, 4096, 100, FALLOC_FL_ZERO_RANGE);
	assert_true(r == 0 || r == -EOPNOTSUPP); /* tmpfs has no ZERO_RANGE */
	if (r == 0) {
		assert_int_equal(host_read("data.bin", buf, sizeof(buf)), sizeof(buf));
		assert_int_equal(buf[4096 + 99], 0);
		assert_int_equal(buf[4096 + 100], (uint8_t)((4096 + 100) * 13));
	}
	const uint32_t unsupported[] = { FALLOC_FL_PUNCH_HOLE, FALLOC_FL_COLLAPSE_RANGE,
					 FALLOC_FL_INSERT_RANGE, FALLOC_FL_UNSHARE_RANGE,
					 0x100, 0xffffffff };
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		assert_int_equal(fallocate_fh(fh, 0, 4096, unsupported[i]), -EOPNOTSUPP);
	assert_int_equal(fallocate_fh(fh_r, 0, 4096, 0), -EBADF);
	assert_int_equal(fallocate_fh(dfh, 0, 4096, 0), -EBADF);
	assert_int_equal(fallocate_fh(fh, 0, 0, 0), -EINVAL);
	assert_int_equal(fallocate_fh(fh, INT64_MAX, 1, 0), -EINVAL);
	assert_int_equal(fallocate_fh(fh, 1ull << 63, 4096, 0), -EINVAL);
	assert_int_equal(fallocate_fh(fh, 4096, UINT64_MAX, FALLOC_FL_KEEP_SIZE), -EINVAL);
	assert_int_equal(host_stat("data.bin").st_size, 65536);

	/* LSEEK, on a file with a hole (a file system without holes says
	 * data everywhere: the answers then lie within these bounds). */
	struct fuse_entry_out e;
	uint64_t sp;
	assert_int_equal(create(1, "sparse", O_RDWR | O_CREAT, 0644, 0, &e, &sp), 0);
	assert_int_equal(write_fh(sp, 0, "A", 1), 1);
	assert_int_equal(write_fh(sp, 1 << 20, "B", 1), 1);
	int64_t d = lseek_fh(sp, 8192, SEEK_DATA);
	assert_true(d >= 8192 && d <= 1 << 20);
	int64_t h = lseek_fh(sp, 0, SEEK_HOLE);
	assert_true(h > 0 && h <= (1 << 20) + 1);
	assert_int_equal(lseek_fh(sp, 0, SEEK_END), (1 << 20) + 1);
	assert_int_equal(lseek_fh(sp, 10, SEEK_SET), 10);
	assert_int_equal(lseek_fh(sp, -4, SEEK_CUR), 6);
	assert_int_equal(lseek_fh(sp, -1, SEEK_SET), -EINVAL);
	assert_int_equal(lseek_fh(sp, (1 << 20) + 5, SEEK_DATA), -ENXIO);
	assert_int_equal(lseek_fh(sp, 0, 5), -EINVAL);
	assert_int_equal(lseek_fh(sp, 0, 0xffffffff), -EINVAL);
	assert_int_equal(lseek_fh(dfh, 0, SEEK_DATA), -EBADF);
	assert_int_equal(lseek_fh(sp ^ (1ull << 33), 0, SEEK_DATA), -EBADF);
	/* Reads still come from offsets, not the handle's position. */
	assert_int_equal(read_fh(FUSE_READ, sp, 0, 1), 1);
	assert_int_equal(payload()[0], 'A');

	/* ACCESS with W_OK: asked of the host. */
	struct fuse_access_in ai = { .mask = W_OK };
	assert_int_equal(call(FUSE_ACCESS, data, &ai, sizeof(ai)), 0);
	ai.mask = R_OK | W_OK | X_OK;
	assert_int_equal(call(FUSE_ACCESS, sub, &ai, sizeof(ai)), 0);
	assert_int_equal(release(sp, false), 0);
	assert_int_equal(release(fh, false), 0);
	assert_int_equal(release(fh_r, false), 0);
	assert_int_equal(release(dfh, true), 0);
}

static void test_rw_copy_file_range(void **state)
{
	(void)state;
	init();
	uint64_t data = lookup_ok(1, "data.bin"), hello = lookup_ok(1, "hello.txt");
	uint64_t sub = lookup_ok(1, "sub");
	struct fuse_entry_out e;
	uint64_t fh_r, fh_w, cpy, fh_cr, fh_hello, dfh;
	assert_int_equal(open_node(data, O_RDONLY, false, &fh_r), 0);
	assert_int_equal(create(1, "copy", O_RDWR | O_CREAT, 0644, 0, &e, &fh_w), 0);
	cpy = e.nodeid;
	assert_int_equal(open_node(cpy, O_RDONLY, false, &fh_cr), 0);
	assert_int_equal(open_node(hello, O_RDWR, false, &fh_hello), 0);
	assert_int_equal(open_node(sub, O_RDONLY, true, &dfh), 0);
	/* The whole file; then a length past its end copies what there is. */
	assert_int_equal(copy_range(data, fh_r, 0, cpy, fh_w, 0, RW_DATA_SIZE, 0), RW_DATA_SIZE);
	uint8_t a[RW_DATA_SIZE], b[RW_DATA_SIZE];
	assert_int_equal(host_read("data.bin", a, sizeof(a)), RW_DATA_SIZE);
	assert_int_equal(host_read("copy", b, sizeof(b)), RW_DATA_SIZE);
	assert_memory_equal(a, b, RW_DATA_SIZE);
	assert_int_equal(copy_range(data, fh_r, 100, cpy, fh_w, 0, 1ull << 40, 0), RW_DATA_SIZE - 100);
	assert_int_equal(copy_range(data, fh_r, RW_DATA_SIZE, cpy, fh_w, 0, 4096, 0), 0);
	assert_int_equal(host_stat("copy").st_size, RW_DATA_SIZE);
	/* Handles: fh_in must read and be of this node; fh_out must write
	 * and be nodeid_out's, which must be a live node. */
	assert_int_equal(copy_range(data, fh_r, 0, 1ull << 32 | 1, fh_w, 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(data, fh_r, 0, 0, fh_w, 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(data, fh_r, 0, data, fh_w, 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(data, fh_r, 0, hello, fh_w, 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(data, fh_r, 0, cpy, fh_cr, 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(data, fh_r, 0, cpy, dfh, 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(data, fh_r, 0, sub, dfh, 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(data, fh_r, 0, cpy, 0, 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(data, fh_r, 0, cpy, fh_w ^ (1ull << 40), 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(cpy, fh_r, 0, hello, fh_hello, 0, 10, 0), -EBADF);
	assert_int_equal(copy_range(1ull << 32 | 1, fh_r, 0, cpy, fh_w, 0, 10, 0), -ENOENT);
	assert_int_equal(copy_range(sub, dfh, 0, cpy, fh_w, 0, 10, 0), -EBADF);
	/* Flags, offsets and lengths. */
	assert_int_equal(copy_range(data, fh_r, 0, cpy, fh_w, 0, 10, 1), -EINVAL);
	assert_int_equal(copy_range(data, fh_r, 0, cpy, fh_w, 0, 10, 1ull << 63), -EINVAL);
	assert_int_equal(copy_range(data, fh_r, 1ull << 63, cpy, fh_w, 0, 10, 0), -EINVAL);
	assert_int_equal(copy_range(data, fh_r, 0, cpy, fh_w, UINT64_MAX, 10, 0), -EINVAL);
	assert_int_equal(copy_range(data, fh_r, 0, cpy, fh_w, INT64_MAX, 1, 0), -EINVAL);
	assert_int_equal(copy_range(data, fh_r, 10, cpy, fh_w, 0, INT64_MAX, 0), -EINVAL);
	assert_int_equal(copy_range(data, fh_r, 0, cpy, fh_w, 0, UINT64_MAX, 0), -EINVAL);
	assert_int_equal(call(FUSE_COPY_FILE_RANGE, data, &(struct fuse_copy_file_range_in){ 0 },
			      sizeof(struct fuse_copy_file_range_in) - 1), -EINVAL);
	assert_host_content("hello.txt", "hello world\n");
	assert_int_equal(release(fh_r, false), 0);
	assert_int_equal(release(fh_w, false), 0);
	assert_int_equal(release(fh_cr, false), 0);
	assert_int_equal(release(fh_hello, false), 0);
	assert_int_equal(release(dfh, true), 0);
}

static int64_t setupmapping(uint64_t node, uint64_t fh, uint64_t foff, uint64_t moff,
			    uint64_t len, uint64_t flags)
{
	struct fuse_setupmapping_in in = { .fh = fh, .foffset = foff, .len = len,
					   .moffset = moff, .flags = flags };
	return call(FUSE_SETUPMAPPING, node, &in, sizeof(in));
}

/* Writable DAX mappings: bytes stored through the window reach the file. */
static void test_rw_dax(void **state)
{
	(void)state;
	const uint64_t R = FUSE_SETUPMAPPING_FLAG_READ, W = FUSE_SETUPMAPPING_FLAG_WRITE;
	const uint64_t P = (uint64_t)sysconf(_SC_PAGESIZE);
	static struct dax_map win; /* static: rw_down may still see it after a failure */
	assert_int_equal(dax_map_init(&win, 32 * P), 0);
	fuse_server_set_dax(srv, &win);
	struct fuse_init_in in = { .major = 7, .minor = FUSE_KERNEL_MINOR_VERSION,
				   .flags = FUSE_MAP_ALIGNMENT | FUSE_INIT_EXT };
	assert_true(call(FUSE_INIT, 0, &in, sizeof(in)) > 0);
	uint64_t data = lookup_ok(1, "data.bin"), hello = lookup_ok(1, "hello.txt");
	uint64_t fh_r, fh_rw, fh_wo, fh_app;
	assert_int_equal(open_node(data, O_RDONLY, false, &fh_r), 0);
	assert_int_equal(open_node(data, O_RDWR, false, &fh_rw), 0);
	assert_int_equal(open_node(data, O_WRONLY, false, &fh_wo), 0);
	assert_int_equal(open_node(data, O_RDWR | O_APPEND, false, &fh_app), 0);
	/* A read-only handle: no writable mapping; another node's: none. */
	assert_int_equal(setupmapping(data, fh_r, 0, 0, 4 * P, R | W), -EACCES);
	assert_int_equal(setupmapping(data, fh_r, 0, 0, 4 * P, W), -EACCES);
	assert_int_equal(setupmapping(hello, fh_rw, 0, 0, 4 * P, R | W), -EBADF);
	assert_int_equal(setupmapping(data, fh_r, 0, 0, 4 * P, R), 0);
	/* A writable one: the file's pages shared and writable; past its
	 * end private zero pages. */
	assert_int_equal(setupmapping(data, fh_rw, 0, 0, 8 * P, R | W), 0);
	uint64_t file_pages = (RW_DATA_SIZE + P - 1) / P;
	assert_int_equal(win.base[100], (uint8_t)(100 * 13));
	assert_int_equal(win.base[file_pages * P + 5], 0);
	win.base[100] = 'Z';
	win.base[RW_DATA_SIZE - 1] = 'E';
	char c;
	int fd = open(host("data.bin"), O_RDONLY);
	assert_int_equal(pread(fd, &c, 1, 100), 1);
	assert_int_equal(c, 'Z');
	assert_int_equal(pread(fd, &c, 1, RW_DATA_SIZE - 1), 1);
	assert_int_equal(c, 'E');
	assert_int_equal(host_stat("data.bin").st_size, RW_DATA_SIZE); /* no growth */
	/* And what FUSE_READ sees through the server. */
	assert_int_equal(read_fh(FUSE_READ, fh_r, 100, 1), 1);
	assert_int_equal(payload()[0], 'Z');
	/* A guest O_WRONLY handle is O_RDWR on the host: it maps too. */
	assert_int_equal(setupmapping(data, fh_wo, P, 16 * P, P, R | W), 0);
	win.base[16 * P + 1] = 'W';
	assert_int_equal(pread(fd, &c, 1, P + 1), 1);
	assert_int_equal(c, 'W');
	/* O_APPEND is no bar, as for mmap(2) on Linux (only the append-only
	 * attribute is). */
	assert_int_equal(setupmapping(data, fh_app, 0, 24 * P, P, R | W), 0);
	/* Truncation through the server repairs the window at once: the
	 * pages past the new end read zeros (no SIGBUS in the VMM). */
	uint64_t repairs = win.repairs;
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = P };
	assert_int_equal(call(FUSE_SETATTR, data, &sa, sizeof(sa)), sizeof(struct fuse_attr_out));
	assert_true(win.repairs > repairs);
	assert_int_equal(win.base[P + 10], 0);
	assert_int_equal(win.base[16 * P + 1], 0);
	assert_int_equal(win.base[100], 'Z');
	/* So does an O_TRUNC open. */
	repairs = win.repairs;
	uint64_t fh_t;
	assert_int_equal(open_node(data, O_WRONLY | O_TRUNC, false, &fh_t), 0);
	assert_true(win.repairs > repairs);
	assert_int_equal(win.base[100], 0);
	close(fd);
	assert_int_equal(call(FUSE_DESTROY, 1, NULL, 0), 0);
	assert_int_equal(win.nrecs, 0u);
	fuse_server_free(srv);
	srv = NULL;
	dax_map_free(&win);
}

/*
 * A file the host lets us write but not read: a guest O_WRONLY falls back
 * to O_WRONLY, and that handle cannot READ, map, or feed a copy.
 */
static void test_rw_write_only_handle(void **state)
{
	(void)state;
	const uint64_t R = FUSE_SETUPMAPPING_FLAG_READ, W = FUSE_SETUPMAPPING_FLAG_WRITE;
	static struct dax_map win; /* static: rw_down may still see it after a failure */
	assert_int_equal(dax_map_init(&win, 16 * 4096), 0);
	fuse_server_set_dax(srv, &win);
	init();
	put_file_in(tree, "wo.txt", "private\n", 8);
	assert_int_equal(chmod(host("wo.txt"), 0200), 0);
	uint64_t wo = lookup_ok(1, "wo.txt"), hello = lookup_ok(1, "hello.txt"), fh, fh_h, x;
	assert_int_equal(open_node(hello, O_RDWR, false, &fh_h), 0);
	dac_override(false);
	assert_int_equal(open_node(wo, O_RDONLY, false, &x), -EACCES);
	assert_int_equal(open_node(wo, O_RDWR, false, &x), -EACCES);
	assert_int_equal(open_node(wo, O_WRONLY, false, &fh), 0);
	assert_int_equal(read_fh(FUSE_READ, fh, 0, 100), -EBADF);
	assert_int_equal(write_fh(fh, 0, "PRIV", 4), 4);
	assert_int_equal(setupmapping(wo, fh, 0, 0, 4096, R), -EACCES);
	assert_int_equal(setupmapping(wo, fh, 0, 0, 4096, R | W), -EACCES);
	assert_int_equal(copy_range(wo, fh, 0, hello, fh_h, 0, 8, 0), -EBADF);
	/* A CREATE of it without O_EXCL opens the same way. */
	struct fuse_entry_out e;
	assert_int_equal(create(1, "wo.txt", O_WRONLY | O_CREAT, 0644, 0, &e, &x), 0);
	assert_int_equal(read_fh(FUSE_READ, x, 0, 100), -EBADF);
	dac_override(true);
	assert_host_content("wo.txt", "PRIVate\n");
	assert_host_content("hello.txt", "hello world\n");
	assert_int_equal(call(FUSE_DESTROY, 1, NULL, 0), 0);
	fuse_server_free(srv);
	srv = NULL;
	dax_map_free(&win);
}

/* Every path, failed ones included, gives back its descriptors. */
static void test_rw_fds(void **state)
{
	(void)state;
	init();
	int before = count_fds();
	struct fuse_entry_out e;
	uint64_t fh, ids[10];
	for (int i = 0; i < 10; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(create(1, name, O_RDWR | O_CREAT, 0644, 0, &e, &fh), 0);
		ids[i] = e.nodeid;
		assert_int_equal(write_fh(fh, 0, name, (uint32_t)strlen(name)), (int64_t)strlen(name));
		assert_int_equal(release(fh, false), 0);
	}
	assert_int_equal(count_fds(), before + 10); /* the nodes */
	for (int i = 0; i < 10; i++)
		forget(ids[i], 1);
	assert_int_equal(count_fds(), before);
	/* Failures: symlink at the name, FIFO, no room, bad names. */
	assert_int_equal(create(1, "up", O_WRONLY | O_CREAT, 0644, 0, &e, &fh), -ELOOP);
	assert_int_equal(create(1, "fifo", O_WRONLY | O_CREAT, 0644, 0, &e, &fh), -EACCES);
	assert_int_equal(create(1, "a/b", O_WRONLY | O_CREAT, 0644, 0, &e, &fh), -EINVAL);
	assert_int_equal(make_dir(1, "dd", 0755, 0, &e), 0);
	forget(e.nodeid, 1);
	assert_int_equal(make_symlink(1, "sl", "x", &e), 0);
	forget(e.nodeid, 1);
	uint64_t hello = lookup_ok(1, "hello.txt");
	assert_int_equal(make_link(hello, 1, "hl", &e), 0);
	forget(hello, 2);
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 1 };
	assert_int_equal(call(FUSE_SETATTR, lookup_ok(1, "data.bin"), &sa, sizeof(sa)),
			 sizeof(struct fuse_attr_out));
	assert_int_equal(stats().live_nodes, 2);
	assert_int_equal(stats().open_handles, 0);
	assert_int_equal(count_fds(), before + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rw_init, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_create, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_create_hostile, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_open_write, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_mkdir_symlink_link, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_unlink_rename, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_setattr, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_file_ops, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_copy_file_range, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_dax, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_write_only_handle, rw_up, rw_down),
		cmocka_unit_test_setup_teardown(test_rw_fds, rw_up, rw_down),
	};
	return cmocka_run_group_tests_name("fuse_server_rw", tests, group_setup, group_teardown);
}
