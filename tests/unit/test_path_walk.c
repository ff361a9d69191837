/*
 * Unit tests for lib/path_walk.c over a fake file system: components, ".",
 * "..", slashes, name and path limits, symlinks (relative, absolute, chains,
 * loops, the 40-link limit, splicing limits), error propagation, search
 * permission, mount crossings and the depth limit. After every walk all
 * reference counts must be back where they were, plus one on the node
 * returned, and every operation must be handed a node the walk holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <linux/errno.h>
#include <pier/path_walk.h>

/* ---- The fake file system ---- */

#define MAX_NODES 1024
#define NAME_BUF 300

struct node {
	char name[NAME_BUF];
	uint32_t mode;            /* S_IFDIR, S_IFREG or S_IFLNK */
	struct node *parent;
	struct node *child, *next; /* children, as a list */
	char *target;             /* symlink target */
	int refs;
	int refs0;                /* refs when the current walk started */
	bool searchable;
	struct node *mounted;     /* root of what is mounted here */
	int lookup_err;           /* injected errors (0: none) */
	int mode_err;
	int mode_skip;            /* successful mode calls before mode_err */
	int readlink_err;
};

static struct node pool[MAX_NODES];
static int nnodes;
static struct node *root;     /* the tree the tests walk */
static struct path_walk pw;
static int fs_ctx;            /* the ctx handed to path_walk */

/* Calls per operation, for checking what the walk did (or did not) do. */
static int n_lookup, n_readlink, n_search;

static struct node *node_new(struct node *parent, const char *name, uint32_t mode)
{
	assert_true(nnodes < MAX_NODES);
	assert_true(strlen(name) < NAME_BUF);
	struct node *n = &pool[nnodes++];
	memset(n, 0, sizeof(*n));
	strcpy(n->name, name);
	n->mode = mode;
	n->refs = 1; /* the tree's own */
	n->searchable = true;
	n->parent = parent;
	if (parent) {
		n->next = parent->child;
		parent->child = n;
	}
	return n;
}

static struct node *mkdir_(struct node *parent, const char *name)
{
	return node_new(parent, name, S_IFDIR | 0755);
}

static struct node *mkfile(struct node *parent, const char *name)
{
	return node_new(parent, name, S_IFREG | 0644);
}

static struct node *mklink(struct node *parent, const char *name, const char *target)
{
	struct node *n = node_new(parent, name, S_IFLNK | 0777);
	n->target = strdup(target);
	assert_non_null(n->target);
	return n;
}

static bool in_pool(const void *p)
{
	const struct node *n = p;
	return n >= pool && n < pool + nnodes;
}

/* Every node an operation sees must be one the walk holds a reference to. */
static struct node *held(void *ctx, void *p)
{
	assert_ptr_equal(ctx, &fs_ctx);
	assert_true(in_pool(p));
	struct node *n = p;
	if (n->refs <= n->refs0)
		fail_msg("operation on \"%s\" without a reference (refs %d, at start %d)",
			 n->name, n->refs, n->refs0);
	return n;
}

static int fs_lookup(void *ctx, void *dir, const char *name, uint32_t len, void **child)
{
	struct node *d = held(ctx, dir);
	n_lookup++;
	assert_true(S_ISDIR(d->mode)); /* the walk checked */
	assert_true(len > 0 && len <= 255);
	assert_null(memchr(name, '/', len));
	if (d->lookup_err)
		return d->lookup_err;
	for (struct node *c = d->child; c; c = c->next) {
		if (strlen(c->name) == len && memcmp(c->name, name, len) == 0) {
			c->refs++;
			*child = c;
			return 0;
		}
	}
	return -ENOENT;
}

static int fs_mode(void *ctx, void *node, uint32_t *mode)
{
	struct node *n = held(ctx, node);
	if (n->mode_err) {
		if (n->mode_skip == 0)
			return n->mode_err;
		n->mode_skip--;
	}
	*mode = n->mode;
	return 0;
}

static int fs_may_search(void *ctx, void *dir)
{
	struct node *d = held(ctx, dir);
	n_search++;
	return d->searchable ? 0 : -EACCES;
}

static int fs_readlink(void *ctx, void *node, char *buf, uint32_t size)
{
	struct node *n = held(ctx, node);
	n_readlink++;
	assert_true(S_ISLNK(n->mode));
	if (n->readlink_err)
		return n->readlink_err;
	size_t len = strlen(n->target);
	if (len + 1 > size)
		return -ENAMETOOLONG;
	memcpy(buf, n->target, len + 1);
	return (int)len;
}

static void *fs_mounted(void *ctx, void *node)
{
	struct node *n = held(ctx, node);
	if (!n->mounted)
		return NULL;
	n->mounted->refs++;
	return n->mounted;
}

static void fs_get(void *ctx, void *node)
{
	assert_ptr_equal(ctx, &fs_ctx);
	assert_true(in_pool(node));
	((struct node *)node)->refs++;
}

static void fs_put(void *ctx, void *node)
{
	assert_ptr_equal(ctx, &fs_ctx);
	assert_true(in_pool(node));
	struct node *n = node;
	if (n->refs <= n->refs0)
		fail_msg("put of \"%s\" the walk does not hold (refs %d, at start %d)",
			 n->name, n->refs, n->refs0);
	n->refs--;
}

static const struct pw_ops ops = {
	.lookup = fs_lookup,
	.mode = fs_mode,
	.may_search = fs_may_search,
	.readlink = fs_readlink,
	.mounted = fs_mounted,
	.get = fs_get,
	.put = fs_put,
};

/* may_search and mounted are optional. */
static const struct pw_ops bare_ops = {
	.lookup = fs_lookup,
	.mode = fs_mode,
	.readlink = fs_readlink,
	.get = fs_get,
	.put = fs_put,
};

static const char *nname(const struct node *n)
{
	return n ? n->name : "(none)";
}

/*
 * Walks path from start and checks the reference balance: everything back
 * to where it was, except one more on the node returned (then put here).
 */
static int walk_ops(const struct pw_ops *o, struct node *start, const char *path, bool follow,
		    struct node **out)
{
	for (int i = 0; i < nnodes; i++)
		pool[i].refs0 = pool[i].refs;
	void *res = NULL;
	int err = path_walk(&pw, o, &fs_ctx, start, path, follow, &res);
	struct node *got = NULL;
	if (err == 0) {
		if (!in_pool(res))
			fail_msg("walk(\"%.80s\") succeeded without a node", path);
		got = res;
	}
	for (int i = 0; i < nnodes; i++) {
		struct node *n = &pool[i];
		int want = n->refs0 + (n == got ? 1 : 0);
		if (n->refs != want)
			fail_msg("walk(\"%.80s\") = %d: \"%s\" has refs %d, expected %d",
				 path, err, n->name, n->refs, want);
	}
	if (got)
		got->refs--; /* the caller's put */
	if (out)
		*out = got;
	return err;
}

static int walk(struct node *start, const char *path, bool follow, struct node **out)
{
	return walk_ops(&ops, start, path, follow, out);
}

/* Expects walk(start, path, follow) to give err and want (NULL on errors). */
#define EXPECT_AT(start, path, follow, err, want) do { \
	struct node *got_ = NULL; \
	const char *path_ = (path); \
	int e_ = walk((start), path_, (follow), &got_); \
	struct node *want_ = (want); \
	if (e_ != (err) || got_ != want_) \
		fail_msg("walk(\"%.80s\", follow=%d) = %d \"%s\", expected %d \"%s\"", \
			 path_, (int)(follow), e_, nname(got_), (err), nname(want_)); \
} while (0)

#define OK(path, want) EXPECT_AT(root, path, true, 0, want)
#define OK_NOFOLLOW(path, want) EXPECT_AT(root, path, false, 0, want)
#define FAILS(path, err) EXPECT_AT(root, path, true, err, NULL)
#define FAILS_NOFOLLOW(path, err) EXPECT_AT(root, path, false, err, NULL)

/*
 * The standard tree:
 *   /a/b/f          /a/lb -> b      /a/b/lup -> ..    /a/b/labs2 -> /file
 *   /file           /labs -> /a/b   /ldir -> a        /lfile -> file
 *   /dang -> nowhere                /chain1 -> chain2 -> labs
 *   /loop1 -> loop2 -> loop1        /self -> self     /empty -> ""
 *   /noexec/x (noexec not searchable)                 /lnx -> noexec/x
 *   /mnt, with M mounted on it: M/m/g, M/tolower -> ../a, M/mup -> ..
 */
static struct node *n_a, *n_b, *n_f, *n_file, *n_lb, *n_lup, *n_labs, *n_ldir, *n_lfile,
	*n_dang, *n_chain1, *n_loop1, *n_self, *n_empty, *n_noexec, *n_x, *n_mnt, *n_M, *n_m,
	*n_g;

static int setup(void **state)
{
	(void)state;
	nnodes = 0;
	n_lookup = n_readlink = n_search = 0;
	root = mkdir_(NULL, "/");
	n_a = mkdir_(root, "a");
	n_b = mkdir_(n_a, "b");
	n_f = mkfile(n_b, "f");
	n_lb = mklink(n_a, "lb", "b");
	n_lup = mklink(n_b, "lup", "..");
	mklink(n_b, "labs2", "/file");
	n_file = mkfile(root, "file");
	n_labs = mklink(root, "labs", "/a/b");
	n_ldir = mklink(root, "ldir", "a");
	n_lfile = mklink(root, "lfile", "file");
	n_dang = mklink(root, "dang", "nowhere");
	n_chain1 = mklink(root, "chain1", "chain2");
	mklink(root, "chain2", "labs");
	n_loop1 = mklink(root, "loop1", "loop2");
	mklink(root, "loop2", "loop1");
	n_self = mklink(root, "self", "self");
	n_empty = mklink(root, "empty", "");
	n_noexec = mkdir_(root, "noexec");
	n_noexec->searchable = false;
	n_x = mkfile(n_noexec, "x");
	mklink(root, "lnx", "noexec/x");
	n_mnt = mkdir_(root, "mnt");
	n_M = mkdir_(NULL, "M");
	n_mnt->mounted = n_M;
	n_m = mkdir_(n_M, "m");
	n_g = mkfile(n_m, "g");
	mklink(n_M, "tolower", "../a");
	mklink(n_M, "mup", "..");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int leaked = 0;
	for (int i = 0; i < nnodes; i++) {
		if (pool[i].refs != 1)
			leaked++; /* references left over across walks */
		free(pool[i].target);
		pool[i].target = NULL;
	}
	nnodes = 0;
	assert_int_equal(leaked, 0);
	return 0;
}

/* A string of n copies of c. */
static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* The child of dir called name (no walk, no references). */
static struct node *child(struct node *dir, const char *name)
{
	for (struct node *c = dir->child; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	fail_msg("no \"%s\" in \"%s\"", name, dir->name);
	return NULL;
}

/* ---- Tests ---- */

static void test_absolute_and_relative(void **state)
{
	(void)state;
	OK("/", root);
	OK("/a", n_a);
	OK("/a/b", n_b);
	OK("/a/b/f", n_f);
	OK("/file", n_file);
	OK("a", n_a);
	OK("a/b/f", n_f);
	/* The root passed in is also where relative paths start. */
	EXPECT_AT(n_a, "b/f", true, 0, n_f);
	EXPECT_AT(n_a, "b", true, 0, n_b);
	/* ... and what "/" means: a chroot-like walk. */
	EXPECT_AT(n_a, "/b/f", true, 0, n_f);
	EXPECT_AT(n_a, "/a", true, -ENOENT, NULL);
	EXPECT_AT(n_a, "..", true, 0, n_a);
	EXPECT_AT(n_a, "../../b", true, 0, n_b);
	/* A walk from a file: the path must not ask it for names. */
	EXPECT_AT(n_file, "/", true, 0, n_file);
	EXPECT_AT(n_file, "x", true, -ENOTDIR, NULL);
}

static void test_dot_and_dotdot(void **state)
{
	(void)state;
	OK(".", root);
	OK("./", root);
	OK("..", root);
	OK("/.", root);
	OK("/..", root);
	OK("/../..", root);
	OK("/../../a", n_a);
	OK("/a/..", root);
	OK("/a/b/..", n_a);
	OK("/a/b/../..", root);
	OK("/a/b/../../..", root);
	OK("/a/../a/./b", n_b);
	OK("./a/./b/./f", n_f);
	OK("a/b/../b/f", n_f);
	OK("/a/./.", n_a);
	OK("/a/b/./", n_b);
	OK("/a/b/../", n_a);
	/* ".." and "." need a directory to be in. */
	FAILS("/file/.", -ENOTDIR);
	FAILS("/file/..", -ENOTDIR);
	FAILS("/a/b/f/../f", -ENOTDIR);
	/* Names that only start with dots are names. */
	struct node *dots = mkfile(n_a, "...");
	struct node *dotx = mkfile(n_a, ".x");
	struct node *dotdotx = mkfile(n_a, "..x");
	OK("/a/...", dots);
	OK("/a/.x", dotx);
	OK("/a/..x", dotdotx);
	FAILS("/a/.y", -ENOENT);
}

static void test_slashes(void **state)
{
	(void)state;
	OK("//", root);
	OK("///", root);
	OK("//a", n_a);
	OK("//a///b//f", n_f);
	OK("a//b", n_b);
	OK("/a//.//b", n_b);
	OK("a/b//", n_b);
}

static void test_trailing_slash(void **state)
{
	(void)state;
	OK("/a/", n_a);
	OK("/a/b/", n_b);
	OK("/a/b//", n_b);
	OK_NOFOLLOW("/a/", n_a);
	FAILS("/file/", -ENOTDIR);
	FAILS("/file//", -ENOTDIR);
	FAILS("/a/b/f/", -ENOTDIR);
	FAILS_NOFOLLOW("/file/", -ENOTDIR);
	/* A symlink with a trailing slash is followed, even with follow off. */
	OK("/ldir/", n_a);
	OK_NOFOLLOW("/ldir/", n_a);
	OK_NOFOLLOW("/ldir//", n_a);
	OK_NOFOLLOW("/ldir/.", n_a);
	OK_NOFOLLOW("/a/lb/", n_b);
	/* ... and must then be a directory. */
	FAILS("/lfile/", -ENOTDIR);
	FAILS_NOFOLLOW("/lfile/", -ENOTDIR);
	struct node *lfs = mklink(root, "lfs", "file/");
	FAILS("/lfs", -ENOTDIR);
	OK_NOFOLLOW("/lfs", lfs);
	mklink(root, "lds", "a/");
	OK("/lds", n_a);
	OK("/lds/b", n_b);
}

static void test_not_a_directory(void **state)
{
	(void)state;
	FAILS("/file/x", -ENOTDIR);
	FAILS("file/x", -ENOTDIR);
	FAILS("/a/b/f/x", -ENOTDIR);
	FAILS("/a/b/f/x/y", -ENOTDIR);
	FAILS("/lfile/x", -ENOTDIR);
	FAILS_NOFOLLOW("/file/x", -ENOTDIR);
	/* Not looked up in: the walk decides before asking. */
	int before = n_lookup;
	FAILS("/file/x", -ENOTDIR);
	assert_int_equal(n_lookup, before + 1); /* just "file" */
}

static void test_missing(void **state)
{
	(void)state;
	FAILS("/nope", -ENOENT);
	FAILS("nope", -ENOENT);
	FAILS("/nope/", -ENOENT);
	FAILS("/nope/x", -ENOENT);
	FAILS("/a/nope/f", -ENOENT);
	FAILS("/a/b/nope", -ENOENT);
	FAILS("/a/b/F", -ENOENT);
	FAILS_NOFOLLOW("/a/nope", -ENOENT);
}

static void test_empty_path(void **state)
{
	(void)state;
	int before = n_lookup;
	FAILS("", -ENOENT);
	FAILS_NOFOLLOW("", -ENOENT);
	EXPECT_AT(n_a, "", true, -ENOENT, NULL);
	assert_int_equal(n_lookup, before);
}

static void test_name_max(void **state)
{
	(void)state;
	char path[400];
	char *n255 = rep('n', 255), *n256 = rep('n', 256);
	struct node *long_file = mkfile(root, n255);
	mkfile(root, n256); /* exists, but the name is still too long */
	snprintf(path, sizeof(path), "/%s", n255);
	OK(path, long_file);
	snprintf(path, sizeof(path), "/%s/", n255);
	FAILS(path, -ENOTDIR);
	snprintf(path, sizeof(path), "/%s", n256);
	FAILS(path, -ENAMETOOLONG);
	snprintf(path, sizeof(path), "/a/%s/b", n256);
	FAILS(path, -ENAMETOOLONG);
	snprintf(path, sizeof(path), "%s", n256);
	int before = n_lookup;
	FAILS(path, -ENAMETOOLONG);
	assert_int_equal(n_lookup, before); /* refused before asking */
	/* A 255-byte name that is not there is just missing. */
	snprintf(path, sizeof(path), "/a/%s", n255);
	FAILS(path, -ENOENT);
	/* Through a symlink too. */
	snprintf(path, sizeof(path), "a/%s", n256);
	mklink(root, "llong", path);
	FAILS("/llong", -ENAMETOOLONG);
	free(n255);
	free(n256);
}

static void test_path_max(void **state)
{
	(void)state;
	/* PW_PATH_MAX - 1 bytes: fine; PW_PATH_MAX: too long. */
	char *p = rep('/', PW_PATH_MAX);
	p[PW_PATH_MAX - 2] = 'a';
	p[PW_PATH_MAX - 1] = 0;
	assert_int_equal(strlen(p), PW_PATH_MAX - 1);
	OK(p, n_a);
	free(p);
	p = rep('/', PW_PATH_MAX);
	p[PW_PATH_MAX - 1] = 'a';
	assert_int_equal(strlen(p), PW_PATH_MAX);
	int before = n_lookup;
	FAILS(p, -ENAMETOOLONG);
	assert_int_equal(n_lookup, before);
	free(p);
	/* Much longer than that: refused without reading it all (ASan checks). */
	p = rep('/', 3 * PW_PATH_MAX);
	FAILS(p, -ENAMETOOLONG);
	free(p);

	/* The same lengths made of real components: "a/./././.../b". */
	char buf[PW_PATH_MAX + 8];
	size_t len = 0;
	buf[len++] = 'a';
	while (len < PW_PATH_MAX - 3) {
		buf[len++] = '/';
		buf[len++] = '.';
	}
	/* len is PW_PATH_MAX - 3 (odd count of "/." after "a" keeps parity) */
	assert_int_equal(len, PW_PATH_MAX - 3);
	buf[len++] = '/';
	buf[len++] = 'b';
	buf[len] = 0;
	assert_int_equal(strlen(buf), PW_PATH_MAX - 1);
	OK(buf, n_b);
	buf[len - 1] = '/';
	buf[len++] = 'b';
	buf[len] = 0;
	assert_int_equal(strlen(buf), PW_PATH_MAX);
	FAILS(buf, -ENAMETOOLONG);
}

static void test_symlink_relative(void **state)
{
	(void)state;
	/* Resolved from the directory holding the link, not from the root. */
	OK("/a/lb", n_b);
	OK("/a/lb/f", n_f);
	OK("a/lb/../lb/f", n_f);
	OK("/ldir", n_a);
	OK("/ldir/b/f", n_f);
	OK("/ldir/lb/f", n_f);
	OK("/lfile", n_file);
	/* "b" also exists at the root: a relative target must not find that. */
	struct node *rb = mkdir_(root, "rb");
	mklink(n_a, "lrb", "rb");
	FAILS("/a/lrb", -ENOENT);
	mklink(root, "lrb", "rb");
	OK("/lrb", rb);
	/* A target with "." and ".." and slashes of its own. */
	mklink(n_b, "lcomplex", ".//..//b/./f");
	OK("/a/b/lcomplex", n_f);
	/* Relative through two directories. */
	mklink(root, "lf", "a/b/f");
	OK("/lf", n_f);
	EXPECT_AT(n_a, "/lb/f", true, 0, n_f);
}

static void test_symlink_absolute(void **state)
{
	(void)state;
	OK("/labs", n_b);
	OK("/labs/f", n_f);
	OK("/labs/..", n_a);
	OK("/labs/../..", root);
	OK("/a/b/labs2", n_file);
	OK("a/b/labs2", n_file);
	mklink(n_b, "lroot", "/");
	OK("/a/b/lroot", root);
	OK("/a/b/lroot/a/b/f", n_f);
	mklink(n_b, "ldots", "/a/b/../b/f");
	OK("/a/b/ldots", n_f);
	mklink(n_b, "lslashes", "///a//b/");
	OK("/a/b/lslashes", n_b);
	/* "/" in a target is the root of the walk. */
	mklink(n_b, "lrel_root", "/b");
	EXPECT_AT(n_a, "b/lrel_root/f", true, 0, n_f);
}

static void test_symlink_chain(void **state)
{
	(void)state;
	OK("/chain1", n_b);
	OK("/chain1/f", n_f);
	OK("/chain1/../b/f", n_f);
	OK_NOFOLLOW("/chain1/f", n_f);
	/* A chain through relative, absolute and ".." links. */
	mklink(root, "c1", "a/lb/lup");   /* -> /a */
	mklink(n_a, "c2", "/c1/lb/lup/lb"); /* -> /a/b */
	OK("/c1", n_a);
	OK("/a/c2", n_b);
	OK("/a/c2/labs2", n_file);
}

static void test_symlink_dotdot(void **state)
{
	(void)state;
	OK("/a/b/lup", n_a);
	OK("/a/b/lup/", n_a);
	OK("/a/b/lup/b/f", n_f);
	OK("/a/b/lup/..", root);
	OK("/a/b/lup/b/lup/b", n_b);
	OK_NOFOLLOW("/a/b/lup", n_lup);
	mklink(root, "rootup", "..");
	OK("/rootup", root);
	OK("/rootup/rootup/a", n_a);
	mklink(n_b, "up2", "../..");
	OK("/a/b/up2", root);
	OK("/a/b/up2/file", n_file);
	/* Through a link to a directory, ".." is the target's parent. */
	OK("/labs/..", n_a);
	OK("/a/lb/..", n_a);
}

static void test_symlink_dangling(void **state)
{
	(void)state;
	FAILS("/dang", -ENOENT);
	FAILS("/dang/", -ENOENT);
	FAILS("/dang/x", -ENOENT);
	OK_NOFOLLOW("/dang", n_dang);
	FAILS_NOFOLLOW("/dang/", -ENOENT);
	FAILS_NOFOLLOW("/dang/x", -ENOENT);
	mklink(root, "ldang", "dang");
	FAILS("/ldang", -ENOENT);
	mklink(root, "dangabs", "/a/nowhere/x");
	FAILS("/dangabs", -ENOENT);
}

static void test_nofollow(void **state)
{
	(void)state;
	OK_NOFOLLOW("/labs", n_labs);
	OK_NOFOLLOW("/ldir", n_ldir);
	OK_NOFOLLOW("/lfile", n_lfile);
	OK_NOFOLLOW("/chain1", n_chain1);
	OK_NOFOLLOW("/a/lb", n_lb);
	OK_NOFOLLOW("a/lb", n_lb);
	OK_NOFOLLOW("/empty", n_empty);
	OK_NOFOLLOW("/self", n_self);
	OK_NOFOLLOW("/loop1", n_loop1);
	/* Intermediate links are followed all the same. */
	OK_NOFOLLOW("/ldir/b", n_b);
	OK_NOFOLLOW("/labs/f", n_f);
	OK_NOFOLLOW("/a/lb/f", n_f);
	OK_NOFOLLOW("/chain1/lup", n_lup);
	/* The last component through links is still not followed. */
	OK_NOFOLLOW("/ldir/lb", n_lb);
	OK_NOFOLLOW("/labs/labs2", child(n_b, "labs2"));
	/* A link as the last component of a link's target, followed because the
	 * link itself was: the flag is about the last component of the path. */
	mklink(root, "to_lb", "a/lb");
	OK("/to_lb", n_b);
	int before = n_readlink;
	OK_NOFOLLOW("/labs", n_labs);
	assert_int_equal(n_readlink, before); /* not even read */
}

static void test_loop(void **state)
{
	(void)state;
	FAILS("/loop1", -ELOOP);
	FAILS("/loop1/", -ELOOP);
	FAILS("/loop1/x", -ELOOP);
	FAILS_NOFOLLOW("/loop1/x", -ELOOP);
	FAILS_NOFOLLOW("/loop1/", -ELOOP);
	FAILS("/self", -ELOOP);
	FAILS("/self/x", -ELOOP);
	/* A loop through directories: /a/b/l -> ../lb/l */
	mklink(n_b, "l", "../lb/l");
	FAILS("/a/b/l", -ELOOP);
	mklink(n_b, "abs_loop", "/a/b/abs_loop");
	FAILS("/a/b/abs_loop", -ELOOP);
	/* The count is per walk: a walk after a loop starts from zero. */
	OK("/chain1/f", n_f);
}

/* Makes links name<first>..name<last>, each to the next, the last to "a". */
static void make_chain(const char *prefix, int first, int last)
{
	char name[32], target[32];
	for (int i = first; i <= last; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		if (i == last)
			snprintf(target, sizeof(target), "a");
		else
			snprintf(target, sizeof(target), "%s%d", prefix, i + 1);
		mklink(root, name, target);
	}
}

static void test_link_limit(void **state)
{
	(void)state;
	make_chain("c", 0, 40); /* c0 -> c1 -> ... -> c40 -> a */
	OK("/c1", n_a);          /* 40 links */
	OK("/c1/b/f", n_f);
	OK("c1/", n_a);
	FAILS("/c0", -ELOOP);    /* 41 */
	FAILS("/c0/b", -ELOOP);
	FAILS("/c0/", -ELOOP);
	/* The limit counts every link in the walk, not one chain. */
	OK("/c21/../c21", n_a);   /* 20 + 20 */
	FAILS("/c21/../c20", -ELOOP); /* 20 + 21 */
	OK("/c21/../c22/b/lup", n_a);       /* 20 + 19 + 1 */
	FAILS("/c21/../c21/b/lup", -ELOOP); /* 20 + 20 + 1 */
	/* Not followed at the end: nothing read, or 40 read before it. */
	OK_NOFOLLOW("/c0", child(root, "c0"));
	OK_NOFOLLOW("/c1/b/lup", n_lup);
	FAILS_NOFOLLOW("/c0/", -ELOOP);
	FAILS_NOFOLLOW("/c0/b", -ELOOP);
}

static void test_empty_target(void **state)
{
	(void)state;
	FAILS("/empty", -ENOENT);
	FAILS("/empty/", -ENOENT);
	FAILS("/empty/x", -ENOENT);
	FAILS_NOFOLLOW("/empty/x", -ENOENT);
	mklink(root, "lempty", "empty");
	FAILS("/lempty", -ENOENT);
}

static void test_splice_too_long(void **state)
{
	(void)state;
	/* big -> "////...///a" (T bytes): the walk splices it in front of the
	 * rest of the path, rest being R bytes; T + "/" + R + NUL must fit. */
	enum { T = 3000 };
	char *target = rep('/', T);
	target[T - 1] = 'a';
	mklink(root, "big", target);
	free(target);
	OK("/big", n_a);
	size_t r = PW_PATH_MAX - T - 2; /* just fits */
	char *path = malloc(4 + r + 1);
	assert_non_null(path);
	memcpy(path, "/big", 4);
	memset(path + 4, '/', r);
	path[4 + r - 1] = 'b';
	path[4 + r] = 0;
	OK(path, n_b);
	OK_NOFOLLOW(path, n_b);
	free(path);
	r++; /* one byte too many */
	path = malloc(4 + r + 1);
	assert_non_null(path);
	memcpy(path, "/big", 4);
	memset(path + 4, '/', r);
	path[4 + r - 1] = 'b';
	path[4 + r] = 0;
	FAILS(path, -ENAMETOOLONG);
	free(path);

	/* Links that grow the path each time round. */
	char *t2 = rep('/', 2106);
	memcpy(t2, "grow", 4);
	t2[2105] = 'a';
	mklink(root, "grow", t2); /* "grow///...///a": itself, then 2101 more */
	free(t2);
	FAILS("/grow", -ENAMETOOLONG);
}

static void test_longest_target(void **state)
{
	(void)state;
	/* A target of PW_PATH_MAX - 1 bytes, the longest there is. */
	char *target = rep('/', PW_PATH_MAX - 1);
	target[PW_PATH_MAX - 2] = 'a';
	struct node *l = mklink(root, "longest", target);
	free(target);
	OK_NOFOLLOW("/longest", l);
	OK("/longest", n_a); /* nothing after it: the target alone fits */
	FAILS("/longest/b", -ENAMETOOLONG);
	/* One more byte is more than readlink can give. */
	target = rep('/', PW_PATH_MAX);
	target[PW_PATH_MAX - 1] = 'a';
	mklink(root, "toolong", target);
	free(target);
	FAILS("/toolong", -ENAMETOOLONG);
}

static void test_errors_propagate(void **state)
{
	(void)state;
	/* lookup */
	n_a->lookup_err = -EIO;
	OK("/a", n_a);
	OK("/a/", n_a);
	OK("/a/..", root);
	OK("/a/.", n_a);
	FAILS("/a/b", -EIO);
	FAILS("/a/b/f", -EIO);
	FAILS("/ldir/b", -EIO);
	FAILS("/labs", -EIO);
	FAILS_NOFOLLOW("/a/lb", -EIO);
	n_a->lookup_err = -ENOMEM;
	FAILS("/a/nope", -ENOMEM);
	n_a->lookup_err = 0;

	/* mode, of the node looked up */
	n_b->mode_err = -EIO;
	FAILS("/a/b", -EIO);
	FAILS("/a/b/", -EIO);
	FAILS("/a/lb", -EIO);
	FAILS_NOFOLLOW("/a/b", -EIO);
	OK("/a", n_a);
	n_b->mode_err = 0;
	n_lb->mode_err = -ESTALE;
	FAILS_NOFOLLOW("/a/lb", -ESTALE);
	n_lb->mode_err = 0;

	/* mode, of a directory being walked (b passes as a child, then fails) */
	n_b->mode_err = -EIO;
	n_b->mode_skip = 1;
	FAILS("/a/b/f", -EIO);
	n_b->mode_skip = 1;
	FAILS("/a/b/..", -EIO);
	/* ... and when a trailing slash asks for it again */
	n_b->mode_skip = 1;
	FAILS("/a/b/", -EIO);
	n_b->mode_skip = 1;
	FAILS("/a/b//", -EIO);
	n_b->mode_err = 0;
	n_b->mode_skip = 0;

	/* mode of the root */
	root->mode_err = -EIO;
	FAILS("/a", -EIO);
	FAILS("..", -EIO);
	root->mode_err = 0;

	/* readlink */
	n_labs->readlink_err = -EIO;
	FAILS("/labs", -EIO);
	FAILS("/labs/f", -EIO);
	FAILS("/chain1", -EIO);
	FAILS_NOFOLLOW("/labs/", -EIO);
	OK_NOFOLLOW("/labs", n_labs); /* not read */
	n_labs->readlink_err = -ENOMEM;
	FAILS("/labs", -ENOMEM);
	n_labs->readlink_err = 0;
	OK("/chain1", n_b);
}

static void test_may_search(void **state)
{
	(void)state;
	/* Searching the root is fine; searching noexec is not. */
	OK("/noexec", n_noexec);
	OK("/noexec/", n_noexec);
	OK_NOFOLLOW("/noexec", n_noexec);
	int before = n_lookup;
	FAILS("/noexec/x", -EACCES);
	assert_int_equal(n_lookup, before + 1); /* only "noexec", not "x" */
	FAILS("/noexec/nope", -EACCES);    /* not ENOENT: it cannot tell */
	FAILS("/noexec/x/", -EACCES);
	FAILS("/lnx", -EACCES);
	OK_NOFOLLOW("/lnx", child(root, "lnx"));
	/* "." and ".." in a directory need search permission too (Linux). */
	FAILS("/noexec/.", -EACCES);
	FAILS("/noexec/..", -EACCES);
	FAILS("/noexec/../a", -EACCES);
	/* ... and come before the name's length is looked at (Linux). */
	char path[300];
	char *n256 = rep('n', 256);
	snprintf(path, sizeof(path), "/noexec/%s", n256);
	free(n256);
	FAILS(path, -EACCES);
	/* The root itself not searchable. */
	root->searchable = false;
	OK("/", root);
	FAILS("/a", -EACCES);
	FAILS("a", -EACCES);
	FAILS("/..", -EACCES);
	FAILS_NOFOLLOW("/labs", -EACCES);
	root->searchable = true;
	/* Permission of a directory reached through a link. */
	n_b->searchable = false;
	FAILS("/labs/f", -EACCES);
	FAILS("/a/lb/f", -EACCES);
	OK("/labs", n_b);
	FAILS("/a/b/lup", -EACCES);
	n_b->searchable = true;
	assert_true(n_search > 0);
}

static void test_optional_ops(void **state)
{
	(void)state;
	/* Without may_search, everything is searchable; without mounted, mount
	 * points are just directories. */
	struct node *got;
	assert_int_equal(walk_ops(&bare_ops, root, "/noexec/x", true, &got), 0);
	assert_ptr_equal(got, n_x);
	assert_int_equal(walk_ops(&bare_ops, root, "/mnt", true, &got), 0);
	assert_ptr_equal(got, n_mnt);
	assert_int_equal(walk_ops(&bare_ops, root, "/mnt/m", true, &got), -ENOENT);
	assert_int_equal(walk_ops(&bare_ops, root, "/labs/f", true, &got), 0);
	assert_ptr_equal(got, n_f);
}

static void test_mount(void **state)
{
	(void)state;
	/* The mount point is replaced by the root mounted on it. */
	OK("/mnt", n_M);
	OK("/mnt/", n_M);
	OK_NOFOLLOW("/mnt", n_M);
	OK("/mnt/.", n_M);
	OK("/mnt/m", n_m);
	OK("/mnt/m/g", n_g);
	OK("/mnt/m/../m/g", n_g);
	FAILS("/mnt/m/g/", -ENOTDIR);
	FAILS("/mnt/nope", -ENOENT);
	/* ".." from the mounted root goes to the mount point's parent. */
	OK("/mnt/..", root);
	OK("/mnt/../a", n_a);
	OK("/mnt/m/../..", root);
	OK("/mnt/m/../../mnt/m", n_m);
	/* Links inside the mount: ".." relative, and "/" is the walk's root. */
	OK("/mnt/tolower", n_a);
	OK("/mnt/tolower/b/f", n_f);
	OK("/mnt/mup", root);
	OK("/mnt/m/../mup/file", n_file);
	mklink(n_m, "abs", "/mnt/m/g");
	OK("/mnt/m/abs", n_g);
	/* Reaching the mount point through a link. */
	mklink(root, "lmnt", "mnt");
	mklink(n_a, "lmnt2", "../mnt/m");
	OK("/lmnt", n_M);
	OK("/lmnt/m/g", n_g);
	OK("/a/lmnt2", n_m);
	OK("/a/lmnt2/..", n_M);
	OK("/a/lmnt2/../..", root);
	/* Permission is the mounted root's, not the mount point's. */
	n_mnt->searchable = false;
	OK("/mnt/m", n_m);
	n_mnt->searchable = true;
	n_M->searchable = false;
	FAILS("/mnt/m", -EACCES);
	FAILS("/mnt/..", -EACCES);
	n_M->searchable = true;
	/* Errors on the mounted root. */
	n_M->lookup_err = -EIO;
	FAILS("/mnt/m", -EIO);
	n_M->lookup_err = 0;
	n_M->mode_err = -EIO;
	FAILS("/mnt/m", -EIO);
	FAILS("/mnt/", -EIO);
	n_M->mode_err = 0;
}

static void test_mount_stacked(void **state)
{
	(void)state;
	/* M2 mounted on M mounted on /mnt: the top one wins. */
	struct node *m2 = mkdir_(NULL, "M2");
	struct node *h = mkfile(m2, "h");
	n_M->mounted = m2;
	OK("/mnt", m2);
	OK("/mnt/h", h);
	FAILS("/mnt/m", -ENOENT);
	OK("/mnt/..", root);
	FAILS("/mnt/h/..", -ENOTDIR);
	n_mnt->mounted = NULL;
	OK("/mnt", n_mnt);
	FAILS("/mnt/m", -ENOENT);
}

static void test_mount_types(void **state)
{
	(void)state;
	/* What counts is the type of what is mounted, not of the mount point. */
	struct node *mpf = mkdir_(root, "mpf");
	struct node *ffile = mkfile(NULL, "F");
	mpf->mounted = ffile;
	OK("/mpf", ffile);
	FAILS("/mpf/", -ENOTDIR);
	FAILS("/mpf/x", -ENOTDIR);
	FAILS("/mpf/..", -ENOTDIR);
	struct node *fmp = mkfile(root, "fmp");
	struct node *droot = mkdir_(NULL, "D");
	struct node *dx = mkfile(droot, "dx");
	fmp->mounted = droot;
	OK("/fmp", droot);
	OK("/fmp/", droot);
	OK("/fmp/dx", dx);
	OK("/fmp/..", root);
}

static void test_mount_on_root(void **state)
{
	(void)state;
	/* Something mounted on the walk's root: that is where walks start. */
	struct node *r2 = mkdir_(NULL, "R2");
	struct node *y = mkdir_(r2, "y");
	mklink(y, "abs", "/y");
	root->mounted = r2;
	OK("/", r2);
	OK(".", r2);
	OK("/..", r2);
	OK("/y", y);
	OK("y/..", r2);
	OK("/y/../..", r2);
	OK("/y/abs", y);
	FAILS("/a", -ENOENT);
	root->mounted = NULL;
}

static void test_depth(void **state)
{
	(void)state;
	/* d/d/.../d, PW_MAX_DEPTH of them: the root takes a level, so
	 * PW_MAX_DEPTH - 1 levels below it are the most there can be. */
	struct node *d[PW_MAX_DEPTH + 1];
	struct node *parent = root;
	for (int i = 0; i < PW_MAX_DEPTH; i++)
		parent = d[i] = mkdir_(parent, "d");
	char path[4 * PW_MAX_DEPTH];
	size_t len = 0;
	for (int i = 0; i < PW_MAX_DEPTH - 1; i++) {
		memcpy(path + len, "d/", 2);
		len += 2;
	}
	path[len] = 0;
	OK(path, d[PW_MAX_DEPTH - 2]);
	strcat(path, "..");
	OK(path, d[PW_MAX_DEPTH - 3]);
	path[len] = 0;
	strcat(path, "../d");
	OK(path, d[PW_MAX_DEPTH - 2]);
	path[len] = 0;
	strcat(path, ".");
	OK(path, d[PW_MAX_DEPTH - 2]);
	path[len] = 0;
	strcat(path, "d");
	FAILS(path, -ENAMETOOLONG);
	FAILS_NOFOLLOW(path, -ENAMETOOLONG);
	path[len] = 0;
	strcat(path, "d/../..");
	FAILS(path, -ENAMETOOLONG);
	/* A missing name at the limit is still missing... */
	path[len] = 0;
	strcat(path, "nope");
	FAILS(path, -ENOENT);
	/* ... and going too deep through a link is too deep as well. */
	path[len] = 0;
	mklink(d[PW_MAX_DEPTH - 2], "deeper", "d");
	strcat(path, "deeper");
	FAILS(path, -ENAMETOOLONG);
	/* Not followed, the link itself takes a level there is no room for. */
	FAILS_NOFOLLOW(path, -ENAMETOOLONG);
	/* An absolute link at the bottom starts again from the top. */
	path[len] = 0;
	mklink(d[PW_MAX_DEPTH - 2], "top", "/a/b/f");
	strcat(path, "top");
	OK(path, n_f);
	/* Depth is about directories held, not components walked. */
	len = 0;
	for (int i = 0; i < 2 * PW_MAX_DEPTH; i++) {
		memcpy(path + len, "a/../", 5);
		len += 5;
		if (len > sizeof(path) - 8)
			break;
	}
	strcpy(path + len, "a");
	OK(path, n_a);
}

static void test_walk_struct_reused(void **state)
{
	(void)state;
	/* One struct path_walk for many walks, errors in between. */
	for (int i = 0; i < 3; i++) {
		FAILS("/loop1", -ELOOP);
		OK("/chain1/lup", n_a);
		FAILS("/a/b/f/x", -ENOTDIR);
		OK("/mnt/m/g", n_g);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_absolute_and_relative),
		T(test_dot_and_dotdot),
		T(test_slashes),
		T(test_trailing_slash),
		T(test_not_a_directory),
		T(test_missing),
		T(test_empty_path),
		T(test_name_max),
		T(test_path_max),
		T(test_symlink_relative),
		T(test_symlink_absolute),
		T(test_symlink_chain),
		T(test_symlink_dotdot),
		T(test_symlink_dangling),
		T(test_nofollow),
		T(test_loop),
		T(test_link_limit),
		T(test_empty_target),
		T(test_splice_too_long),
		T(test_longest_target),
		T(test_errors_propagate),
		T(test_may_search),
		T(test_optional_ops),
		T(test_mount),
		T(test_mount_stacked),
		T(test_mount_types),
		T(test_mount_on_root),
		T(test_depth),
		T(test_walk_struct_reused),
	};
	return cmocka_run_group_tests_name("path_walk", tests, NULL, NULL);
}
