/* The final state writes.c leaves in DIR (FINAL[]), its sizes and
 * patterns, and the checks of a directory against it from inside: each
 * name's type, mode, link count, size, target, time and content, and each
 * directory's listing. Included by writes.c only; check_final, which
 * prints a checkpoint, stays there (progspec.py reads them from PROG.c). */
#ifndef PIER_PROGS_WRITES_FINAL_H
#define PIER_PROGS_WRITES_FINAL_H

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define KIB 1024LL
#define MIB (1024 * KIB)
#define PAGE 4096LL

/* Sizes and places: each crosses something (a FUSE message, a 2 MiB DAX
 * chunk, a page) or lands well past the end of the file. */
#define BIG_SIZE (3 * MIB + 5)
#define BIG_PATCH (2 * MIB - 10) /* 20 bytes across the first chunk boundary */
#define SPARSE_TAIL (8 * MIB + 5)
#define SPARSE_SIZE (SPARSE_TAIL + 4)
#define PUNCH_SIZE (1 * MIB)
#define PUNCH_AT (256 * KIB)
#define PUNCH_LEN (256 * KIB)
#define PUNCH_GROW (64 * KIB)
#define KEEP_SIZE_ (8 * KIB)
#define ZERO_SIZE (64 * KIB)
#define ZERO_AT PAGE
#define ZERO_LEN (2 * PAGE)
#define TRUNC_SIZE 6000
#define CFR_PART (100 * KIB)
#define SENDFILE_FROM 12345
#define SENDFILE_SIZE 50000
#define MAP_SIZE (3 * PAGE + 100)
#define MAP_LEN (4 * PAGE)

/* Fixed times set with utimensat/futimens (the harness compares them). */
#define TIMES_ATIME 1000000000, 500000000
#define TIMES_MTIME 1234567890, 123456789
#define FUTIMENS_MTIME 1300000000, 1

static const char *dir;
static int dfd = -1;

/* Byte i of pattern `seed`: no long runs of zeros, different per seed. */
static inline unsigned char pat(int seed, long long i)
{
	return (unsigned char)((i * 7 + (i >> 8) * 3 + seed * 89 + 1) & 0xff);
}

static void pat_fill(unsigned char *buf, size_t n, int seed, long long from)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pat(seed, from + (long long)i);
}

/* DIR/name, in one of four rotating buffers (two paths per call at most). */
static const char *P(const char *name)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ & 3];
	snprintf(b, PATH_MAX, "%s/%s", dir, name);
	return b;
}

/* The final state. A file's content is zeros over [0, size) with the
 * segments applied over it in order. */
enum { SEG_END, SEG_PAT, SEG_LIT, SEG_ZERO };
struct seg {
	int kind;
	long long off, len;
	int seed;
	long long from; /* SEG_PAT: byte at off + k is pat(seed, from + k) */
	const char *lit;
};
#define PAT(o, l, s, f) { SEG_PAT, (o), (l), (s), (f), NULL }
#define LIT(o, s) { SEG_LIT, (o), (long long)sizeof(s) - 1, 0, 0, (s) }
#define ZERO(o, l) { SEG_ZERO, (o), (l), 0, 0, NULL }

struct want {
	const char *name; /* relative to DIR */
	char type;        /* 'f', 'd', 'l' */
	unsigned mode;    /* permission bits, sticky included */
	unsigned nlink;
	long long size;   /* files; symbolic links: strlen(target) */
	const char *target;
	long long mtime_s; /* nonzero: this exact mtime (and mtime_ns) */
	long mtime_ns;
	struct seg segs[6];
};

#define TXT(name, mode, s) { name, 'f', mode, 1, sizeof(s) - 1, NULL, 0, 0, { LIT(0, s) } }
#define DIRE(name, mode, nlink) { name, 'd', mode, nlink, -1, NULL, 0, 0, { { SEG_END } } }
#define SYML(name, t) { name, 'l', 0777, 1, sizeof(t) - 1, t, 0, 0, { { SEG_END } } }

static const struct want FINAL[] = {
	TXT("append.log", 0644, "one\ntwo\nthree\nfour\nfive\n"),
	TXT("basic.txt", 0600, "Hello, writes\nsecond line\n"),
	{ "big.bin", 'f', 0644, 1, BIG_SIZE, NULL, 0, 0,
	  { PAT(0, BIG_SIZE, 1, 0), PAT(BIG_PATCH, 20, 2, 0) } },
	{ "cfr.bin", 'f', 0644, 1, 3 * CFR_PART, NULL, 0, 0,
	  { PAT(0, CFR_PART, 1, PAGE), PAT(2 * CFR_PART, CFR_PART, 1, PAGE + CFR_PART) } },
	TXT("creat.txt", 0640, "creat\n"),
	DIRE("dir-new", 0755, 2),
	TXT("dir-new/inner.txt", 0644, "inner\n"),
	DIRE("empty-dir", 0755, 2),
	{ "futimens.txt", 'f', 0644, 1, 9, NULL, FUTIMENS_MTIME, { LIT(0, "futimens\n") } },
	{ "hard-1", 'f', 0644, 3, 12, NULL, 0, 0, { LIT(0, "linked\nmore\n") } },
	{ "hard-2", 'f', 0644, 3, 12, NULL, 0, 0, { LIT(0, "linked\nmore\n") } },
	TXT("keep-me.txt", 0644, "keep\n"),
	{ "keep.bin", 'f', 0644, 1, KEEP_SIZE_, NULL, 0, 0, { PAT(0, KEEP_SIZE_, 4, 0) } },
	TXT("made-through-link.txt", 0644, "through\n"),
	{ "mapped.bin", 'f', 0644, 1, MAP_SIZE, NULL, 0, 0,
	  { PAT(0, MAP_SIZE, 7, 0), LIT(0, "MAP0"), LIT(100, "write"), LIT(PAGE + 1, "again"),
	    LIT(2 * PAGE + 10, "middle"), LIT(3 * PAGE + 96, "tail") } },
	TXT("mode.txt", 0751, "mode\n"),
	TXT("noreplace.txt", 0644, "noreplace\n"),
	TXT("otrunc.txt", 0644, "new\n"),
	DIRE("over-empty", 0755, 2),
	TXT("over-empty/a.txt", 0644, "a\n"),
	{ "punch.bin", 'f', 0644, 1, PUNCH_SIZE + PUNCH_GROW, NULL, 0, 0,
	  { PAT(0, PUNCH_SIZE, 3, 0), ZERO(PUNCH_AT, PUNCH_LEN) } },
	{ "rdonly-created", 'f', 0644, 1, 0, NULL, 0, 0, { { SEG_END } } },
	TXT("renamed.txt", 0644, "to be renamed\n"),
	TXT("replaced.txt", 0644, "replacer\n"),
	{ "sendfile.bin", 'f', 0644, 1, SENDFILE_SIZE, NULL, 0, 0,
	  { PAT(0, SENDFILE_SIZE, 1, SENDFILE_FROM) } },
	{ "sparse.bin", 'f', 0644, 1, SPARSE_SIZE, NULL, 0, 0,
	  { LIT(0, "head"), LIT(SPARSE_TAIL, "tail") } },
	DIRE("sticky", 01777, 2),
	DIRE("sub", 0755, 3),
	DIRE("sub/child", 0700, 2),
	{ "sub/hard-3", 'f', 0644, 3, 12, NULL, 0, 0, { LIT(0, "linked\nmore\n") } },
	TXT("sub/moved.txt", 0644, "moved\n"),
	DIRE("swap-a", 0755, 2),
	TXT("swap-a/inside.txt", 0644, "inside\n"),
	TXT("swap-b", 0644, "was a\n"),
	SYML("sym-dangling", "nowhere"),
	SYML("sym-dir", "sub"),
	SYML("sym-made", "made-through-link.txt"),
	SYML("sym-rel", "basic.txt"),
	{ "times.txt", 'f', 0644, 1, 6, NULL, TIMES_MTIME, { LIT(0, "times\n") } },
	{ "trunc.bin", 'f', 0644, 1, TRUNC_SIZE, NULL, 0, 0, { PAT(0, 3000, 6, 0) } },
	TXT("writev.txt", 0644, "abcdefgh\n"),
	{ "zero.bin", 'f', 0644, 1, ZERO_SIZE, NULL, 0, 0,
	  { PAT(0, ZERO_SIZE, 5, 0), ZERO(ZERO_AT, ZERO_LEN) } },
};
#define NFINAL (sizeof(FINAL) / sizeof(FINAL[0]))
/* Directories directly in DIR (its link count is 2 + this). */
#define FINAL_TOP_DIRS 6

/* The expected bytes [off, off + n) of w, into buf. */
static void want_fill(const struct want *w, long long off, unsigned char *buf, size_t n)
{
	memset(buf, 0, n);
	for (const struct seg *s = w->segs; s < w->segs + 6 && s->kind != SEG_END; s++) {
		long long a = s->off > off ? s->off : off;
		long long b = s->off + s->len < off + (long long)n ? s->off + s->len : off + (long long)n;
		if (a >= b)
			continue;
		unsigned char *d = buf + (a - off);
		if (s->kind == SEG_PAT)
			pat_fill(d, (size_t)(b - a), s->seed, s->from + (a - s->off));
		else if (s->kind == SEG_LIT)
			memcpy(d, s->lit + (a - s->off), (size_t)(b - a));
		else
			memset(d, 0, (size_t)(b - a));
	}
}

static const struct want *find_want(const char *name)
{
	for (size_t i = 0; i < NFINAL; i++)
		if (strcmp(FINAL[i].name, name) == 0)
			return &FINAL[i];
	FAIL("no final entry %s", name);
}

/* fd's content from offset 0 must be w's, read with read() in 64 KiB
 * pieces; then end of file. */
static void check_content_fd(int fd, const struct want *w, const char *what)
{
	static unsigned char got[64 * KIB], want[64 * KIB];
	long long off = 0;

	CHECK_SYS(lseek(fd, 0, SEEK_SET));
	while (off < w->size) {
		size_t n = (size_t)(w->size - off < (long long)sizeof(got) ? w->size - off
									  : (long long)sizeof(got));
		ssize_t r = read(fd, got, n);
		if (r != (ssize_t)n)
			FAIL("%s: read of %zu bytes at %lld gave %zd (errno %d %s)", what, n, off, r,
			     errno, strerror(errno));
		want_fill(w, off, want, n);
		for (size_t i = 0; i < n; i++)
			if (got[i] != want[i])
				FAIL("%s: byte %lld is 0x%02x, expected 0x%02x", what, off + (long long)i,
				     got[i], want[i]);
		off += (long long)n;
	}
	CHECK_EQ(read(fd, got, 1), 0);
}

/* Name `name` (relative to DIR) must be exactly w: type, mode, links, size,
 * target, time, content. */
static void check_entry(const struct want *w)
{
	struct stat st;
	char what[PATH_MAX + 32];

	snprintf(what, sizeof(what), "final %s", w->name);
	errno = 0;
	if (fstatat(dfd, w->name, &st, AT_SYMLINK_NOFOLLOW))
		FAIL("%s: lstat: errno %d %s", what, errno, strerror(errno));
	int type = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : '?';
	if (type != w->type)
		FAIL("%s: type %c, expected %c", what, type, w->type);
	if ((st.st_mode & 07777) != w->mode)
		FAIL("%s: mode 0%o, expected 0%o", what, (unsigned)(st.st_mode & 07777), w->mode);
	if (st.st_nlink != w->nlink)
		FAIL("%s: %lu links, expected %u", what, (unsigned long)st.st_nlink, w->nlink);
	if (w->type != 'd' && st.st_size != w->size)
		FAIL("%s: size %lld, expected %lld", what, (long long)st.st_size, w->size);
	if (w->mtime_s && (st.st_mtim.tv_sec != w->mtime_s || st.st_mtim.tv_nsec != w->mtime_ns))
		FAIL("%s: mtime %lld.%09ld, expected %lld.%09ld", what, (long long)st.st_mtim.tv_sec,
		     st.st_mtim.tv_nsec, w->mtime_s, w->mtime_ns);
	if (w->type == 'l') {
		char buf[PATH_MAX];
		ssize_t n = CHECK_SYS(readlinkat(dfd, w->name, buf, sizeof(buf)));
		if (n != w->size || memcmp(buf, w->target, (size_t)n) != 0)
			FAIL("%s: target \"%.*s\", expected \"%s\"", what, (int)n, buf, w->target);
	} else if (w->type == 'f') {
		int fd = (int)CHECK_SYS(openat(dfd, w->name, O_RDONLY | O_NOFOLLOW));
		check_content_fd(fd, w, what);
		CHECK_SYS(close(fd));
	}
}

/* Directory `rel` ("" for DIR) lists exactly the FINAL names under it. */
static void check_listing(const char *rel)
{
	size_t rl = strlen(rel), expected = 0, seen = 0;
	int fd = (int)CHECK_SYS(openat(dfd, rl ? rel : ".", O_RDONLY | O_DIRECTORY));
	DIR *d = fdopendir(fd);
	CHECK(d != NULL);
	for (size_t i = 0; i < NFINAL; i++) {
		const char *n = FINAL[i].name;
		if (rl ? (strncmp(n, rel, rl) == 0 && n[rl] == '/' && !strchr(n + rl + 1, '/'))
		       : !strchr(n, '/'))
			expected++;
	}
	struct dirent *e;
	for (errno = 0; (e = readdir(d)) != NULL; errno = 0) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char full[PATH_MAX];
		snprintf(full, sizeof(full), "%s%s%s", rel, rl ? "/" : "", e->d_name);
		const struct want *w = NULL;
		for (size_t i = 0; i < NFINAL && !w; i++)
			if (!strcmp(FINAL[i].name, full))
				w = &FINAL[i];
		if (!w)
			FAIL("listing of DIR/%s: unexpected entry %s", rel, e->d_name);
		unsigned char t = w->type == 'f' ? DT_REG : w->type == 'd' ? DT_DIR : DT_LNK;
		if (e->d_type != DT_UNKNOWN && e->d_type != t)
			FAIL("listing of DIR/%s: %s has d_type %d, expected %d", rel, e->d_name,
			     e->d_type, t);
		seen++;
	}
	CHECK_EQ(errno, 0);
	CHECK_SYS(closedir(d));
	if (seen != expected)
		FAIL("listing of DIR/%s: %zu entries, expected %zu", rel, seen, expected);
}

#endif
