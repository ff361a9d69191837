/*
 * File-system workloads timed from inside the program: the same static
 * binary runs on the host, in a Linux guest and in Pier's guest, so the
 * numbers compare like with like. Only plain syscalls (open, read, pread,
 * write, pwrite, fsync, mmap, stat, getdents64 via readdir, mkdir, unlink,
 * rmdir, clock_gettime); no threads, no hints.
 * Usage: fsbench seq [--mmap] [--bs BYTES] [--passes N] FILE...
 *        fsbench rand [--count N] [--seed S] [--bs BYTES] FILE...
 *        fsbench stat [--passes N] [--pause-ms MS] DIR
 *        fsbench openread DIR | walk DIR | start
 *        fsbench seqwrite [--verify] [--bs BYTES] --size BYTES FILE
 *        fsbench randwrite [--verify] [--count N] [--seed S] [--bs BYTES] FILE
 *        fsbench create [--count N] [--bs BYTES] DIR
 * Output: JSON lines on stdout, one object per measurement ("op" names it);
 * errors go to stderr with exit status 1. The write workloads read back
 * what they wrote after the clock stops and fail if it differs; --verify
 * does only that read-back, e.g. on the host after a guest wrote the file.
 *
 * In Pier's guest each line also says what its measured part cost:
 * "requests" by FUSE opcode, virtio "kicks" and page "faults", the
 * differences of /proc/pier/stats across it (elsewhere there is no such
 * file and the lines have no counts). --passes repeats a measurement on the
 * same files or names (seq: one open, read N times; stat: one listing,
 * stat N times), a line each, so a second pass shows what caching saves.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The check reads words with memcpy, i.e. in host order: x86_64 only. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fsbench's check assumes a little-endian machine"
#endif

#define FSB_MAX_DEPTH 64	/* deeper trees are refused, not followed */
#define FSB_OPENREAD_BUF (64 * 1024)

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double secs_since(uint64_t t0)
{
	return (now_ns() - t0) / 1e9;
}

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fsbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- Pier's counters (/proc/pier/stats: "NAME KEY=N ..." lines) ---- */

#define FSB_COUNTS_MAX 96

struct fsb_count {
	char name[40];
	uint64_t v;
};

static int counts_fd = -2; /* -2: not opened yet; -1: no such file here */
static struct fsb_count counts_base[FSB_COUNTS_MAX];
static int counts_nbase;

/* The counters now: each request count by opcode ("LOOKUP"), "kicks" and
 * "faults" (every kind summed). Read with pread at 0, which makes the
 * file anew, through one descriptor: no path walk (a LOOKUP) each time. */
static int counts_read(struct fsb_count *out)
{
	static char text[16384];
	if (counts_fd == -2)
		counts_fd = open("/proc/pier/stats", O_RDONLY | O_CLOEXEC);
	if (counts_fd < 0)
		return 0;
	ssize_t len = pread(counts_fd, text, sizeof(text) - 1, 0);
	if (len <= 0)
		return 0;
	text[len] = 0;
	int n = 0;
	uint64_t faults = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char name[40];
		unsigned long long v;
		if (sscanf(line, "%39s count=%llu", name, &v) != 2)
			continue;
		const char *as = !strncmp(name, "fuse.", 5) ? name + 5
			       : !strcmp(name, "virtio.kick") ? "kicks" : NULL;
		if (!strncmp(name, "fault.", 6))
			faults += v;
		if (as && n < FSB_COUNTS_MAX - 1) {
			snprintf(out[n].name, sizeof(out[n].name), "%s", as);
			out[n++].v = v;
		}
	}
	snprintf(out[n].name, sizeof(out[n].name), "faults");
	out[n++].v = faults;
	return n;
}

static void counts_begin(void)
{
	counts_nbase = counts_read(counts_base);
}

/* ',"requests":{...},"kicks":N,"faults":N' since counts_begin; "" where
 * there are no counters. The result lives until the next call. */
static const char *counts_json(void)
{
	static char out[2048];
	struct fsb_count now[FSB_COUNTS_MAX];
	int n = counts_read(now);
	size_t len = 0;
	out[0] = 0;
	if (!n)
		return out;
	len = (size_t)snprintf(out, sizeof(out), ",\"requests\":{");
	uint64_t kicks = 0, faults = 0;
	int any = 0;
	for (int i = 0; i < n; i++) {
		uint64_t was = 0;
		for (int k = 0; k < counts_nbase; k++)
			if (!strcmp(counts_base[k].name, now[i].name))
				was = counts_base[k].v;
		uint64_t d = now[i].v - was;
		if (!strcmp(now[i].name, "kicks"))
			kicks = d;
		else if (!strcmp(now[i].name, "faults"))
			faults = d;
		else if (d && len < sizeof(out) - 64)
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s\"%s\":%" PRIu64,
						any++ ? "," : "", now[i].name, d);
	}
	snprintf(out + len, sizeof(out) - len, "},\"kicks\":%" PRIu64 ",\"faults\":%" PRIu64,
		 kicks, faults);
	return out;
}

/* Rates of an empty or too-quick run print as 0: JSON has no inf or nan. */
static double per(double num, double den)
{
	return den > 0 ? num / den : 0;
}

/*
 * Sum of the first 64-bit little-endian word of every 64-byte line of buf
 * (a line too short for a word: its bytes one by one). Every cache line is
 * read, so every page really comes in, but the program's own arithmetic
 * stays small next to the I/O it measures (summing every word capped a
 * nested guest at its CPU speed). Callers only split a file at multiples
 * of 64, so the sum of a file does not depend on how it was read.
 */
static uint64_t check_sum(const unsigned char *buf, size_t len)
{
	uint64_t sum = 0, w;
	for (size_t i = 0; i < len; i += 64) {
		if (i + 8 <= len) {
			memcpy(&w, buf + i, 8);
			sum += w;
		} else {
			for (size_t j = i; j < len; j++)
				sum += buf[j];
		}
	}
	return sum;
}

/* Reads until len bytes or end of file; returns the count (short only at EOF). */
static size_t read_full(int fd, unsigned char *buf, size_t len, const char *path)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0)
			die("%s: read: %m", path);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static int open_file(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("%s: %m", path);
	if (fstat(fd, st) < 0)
		die("%s: fstat: %m", path);
	if (!S_ISREG(st->st_mode))
		die("%s: not a regular file", path);
	return fd;
}

static uint64_t parse_num(const char *opt, const char *s, uint64_t min, uint64_t max,
			  uint64_t align)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		die("%s: bad value '%s' (%" PRIu64 "..%" PRIu64 ")", opt, s, min, max);
	if (v % align)
		die("%s: %s is not a multiple of %" PRIu64, opt, s, align);
	return v;
}

/* xorshift64 (Marsaglia 2003): fixed and tiny, so every system draws the same offsets. */
static uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

struct fsb_opts {
	int mmap, verify;
	size_t bs;
	uint64_t count, seed, size, passes, pause_ms;
};

/* Which options a command takes (parse_opts). */
enum {
	FSB_OPT_MMAP = 1 << 0,
	FSB_OPT_BS = 1 << 1,
	FSB_OPT_COUNT = 1 << 2,
	FSB_OPT_SEED = 1 << 3,
	FSB_OPT_SIZE = 1 << 4,
	FSB_OPT_VERIFY = 1 << 5,
	FSB_OPT_PASSES = 1 << 6,
	FSB_OPT_PAUSE = 1 << 7,
};

/*
 * Parses the options of command cmd that `allowed` names; returns the index
 * of the first operand, dying with usage if there is none.
 */
static int parse_opts(int argc, char **argv, unsigned allowed, const char *cmd,
		      const char *usage, struct fsb_opts *o)
{
	int i;
	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		int more = i + 1 < argc;
		if (!strcmp(a, "--mmap") && (allowed & FSB_OPT_MMAP))
			o->mmap = 1;
		else if (!strcmp(a, "--verify") && (allowed & FSB_OPT_VERIFY))
			o->verify = 1;
		else if (!strcmp(a, "--bs") && (allowed & FSB_OPT_BS) && more)
			/* 64s keep the check's line grid */
			o->bs = parse_num(a, argv[++i], 64, 64u << 20, 64);
		else if (!strcmp(a, "--count") && (allowed & FSB_OPT_COUNT) && more)
			o->count = parse_num(a, argv[++i], 1, UINT32_MAX, 1);
		else if (!strcmp(a, "--seed") && (allowed & FSB_OPT_SEED) && more)
			/* 0 is xorshift's fixed point */
			o->seed = parse_num(a, argv[++i], 1, UINT64_MAX, 1);
		else if (!strcmp(a, "--passes") && (allowed & FSB_OPT_PASSES) && more)
			o->passes = parse_num(a, argv[++i], 1, 1000, 1);
		else if (!strcmp(a, "--pause-ms") && (allowed & FSB_OPT_PAUSE) && more)
			o->pause_ms = parse_num(a, argv[++i], 0, 3600000, 1);
		else if (!strcmp(a, "--size") && (allowed & FSB_OPT_SIZE) && more)
			o->size = parse_num(a, argv[++i], 64, (uint64_t)1 << 40, 64);
		else
			die("%s: unknown option %s", cmd, a);
	}
	if (i == argc)
		die("usage: fsbench %s", usage);
	return i;
}

static void cmd_seq(int argc, char **argv)
{
	struct fsb_opts o = {.bs = 131072, .passes = 1};
	int i = parse_opts(argc, argv, FSB_OPT_MMAP | FSB_OPT_BS | FSB_OPT_PASSES, "seq",
			   "seq [--mmap] [--bs BYTES] [--passes N] FILE...", &o);
	unsigned char *buf = o.mmap ? NULL : malloc(o.bs);
	int *fds = calloc((size_t)argc, sizeof(int));
	off_t *sizes = calloc((size_t)argc, sizeof(off_t));
	if ((!o.mmap && !buf) || !fds || !sizes)
		die("out of memory");
	/* Each pass reads every file whole; the first opens them (its time and
	 * counts include that), and they close after the last. */
	for (uint64_t pass = 0; pass < o.passes; pass++) {
		counts_begin();
		uint64_t bytes = 0, check = 0, t0 = now_ns();
		for (int f = i; f < argc; f++) {
			if (!pass) {
				struct stat st;
				fds[f] = open_file(argv[f], &st);
				sizes[f] = st.st_size;
			}
			int fd = fds[f];
			if (o.mmap) {
				size_t len = (size_t)sizes[f];
				/* mmap of length 0 is EINVAL: an empty file has nothing to touch. */
				if (len) {
					unsigned char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
					if (p == MAP_FAILED)
						die("%s: mmap: %m", argv[f]);
					check += check_sum(p, len);
					munmap(p, len);
				}
				bytes += len;
			} else {
				size_t n;
				off_t got = 0;
				if (pass && lseek(fd, 0, SEEK_SET) < 0)
					die("%s: lseek: %m", argv[f]);
				while ((n = read_full(fd, buf, o.bs, argv[f])) > 0) {
					check += check_sum(buf, n);
					got += (off_t)n;
				}
				/* A file that shrank under us would skew MiB/s silently. */
				if (got < sizes[f])
					die("%s: short read: %lld of %lld bytes", argv[f],
					    (long long)got, (long long)sizes[f]);
				bytes += (uint64_t)got;
			}
		}
		double s = secs_since(t0);
		printf("{\"op\":\"seq\",\"mode\":\"%s\",\"pass\":%" PRIu64 ",\"files\":%d,"
		       "\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"mib_s\":%.3f,\"check\":%" PRIu64
		       "%s}\n", o.mmap ? "mmap" : "read", pass + 1, argc - i, bytes, s,
		       per(bytes / 1048576.0, s), check, counts_json());
	}
	for (int f = i; f < argc; f++)
		close(fds[f]);
}

static void cmd_rand(int argc, char **argv)
{
	struct fsb_opts o = {.bs = 4096, .count = 20000, .seed = 1};
	int i = parse_opts(argc, argv, FSB_OPT_BS | FSB_OPT_COUNT | FSB_OPT_SEED, "rand",
			   "rand [--count N] [--seed S] [--bs BYTES] FILE...", &o);
	int nfiles = argc - i;
	/* All opened up front: the timed loop is preads only. Never freed: we exit next. */
	struct stat *st = malloc(nfiles * sizeof(*st));
	int *fds = malloc(nfiles * sizeof(*fds));
	unsigned char *buf = malloc(o.bs);
	if (!st || !fds || !buf)
		die("out of memory");
	for (int f = 0; f < nfiles; f++) {
		fds[f] = open_file(argv[i + f], &st[f]);
		if (st[f].st_size == 0)
			die("%s: empty file", argv[i + f]);
	}
	counts_begin();
	uint64_t bytes = 0, check = 0, t0 = now_ns();
	for (uint64_t k = 0; k < o.count; k++) {
		int f = xorshift64(&o.seed) % nfiles;
		/* A partial last block counts as a block: small files still get reads. */
		off_t size = st[f].st_size;
		off_t off = (off_t)(xorshift64(&o.seed) % (((uint64_t)size + o.bs - 1) / o.bs) * o.bs);
		size_t want = size - off < (off_t)o.bs ? (size_t)(size - off) : o.bs;
		ssize_t n = pread(fds[f], buf, o.bs, off);
		if (n < 0)
			die("%s: pread: %m", argv[i + f]);
		if ((size_t)n != want)
			die("%s: short pread at %lld: %zd of %zu bytes", argv[i + f],
			    (long long)off, n, want);
		check += check_sum(buf, (size_t)n);
		bytes += (uint64_t)n;
	}
	double s = secs_since(t0);
	printf("{\"op\":\"rand\",\"reads\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"seconds\":%.6f,\"us_per_op\":%.3f,\"ops_s\":%.1f,\"check\":%" PRIu64 "%s}\n",
	       o.count, bytes, s, per(s * 1e6, o.count), per(o.count, s), check, counts_json());
}

/* Paths collected before a timed phase, NUL-separated in one growing block (never freed). */
struct fsb_paths {
	char *buf;
	size_t len, cap, count;
};

static void paths_add(struct fsb_paths *p, const char *path)
{
	size_t n = strlen(path) + 1;
	if (p->len + n > p->cap) {
		p->cap = (p->len + n) * 2;
		p->buf = realloc(p->buf, p->cap);
		if (!p->buf)
			die("out of memory");
	}
	memcpy(p->buf + p->len, path, n);
	p->len += n;
	p->count++;
}

static void join(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		die("%s/%s: path longer than PATH_MAX", dir, name);
}

/* Counts of the walk: every entry lstat'ed, as find(1) or du(1) would. */
struct fsb_walk {
	uint64_t files, dirs, bytes;
};

/*
 * Lists dir; with depth >= 0 also every directory under it (to FSB_MAX_DEPTH),
 * symlinks not followed. Adds regular files (and, when recursing, directories)
 * to out if given; lstats every entry and counts it in w if given, else only
 * where readdir gives no d_type. Returns the number of entries, "." and ".."
 * left out.
 */
static uint64_t scan_dir(const char *dir, int depth, struct fsb_paths *out, struct fsb_walk *w)
{
	if (depth > FSB_MAX_DEPTH)
		die("%s: deeper than %d levels", dir, FSB_MAX_DEPTH);
	DIR *d = opendir(dir);
	if (!d)
		die("%s: %m", dir);
	uint64_t entries = 0;
	struct dirent *e;
	struct stat st;
	char path[PATH_MAX];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		entries++;
		join(path, dir, e->d_name);
		int type = e->d_type;
		if (w || type == DT_UNKNOWN) {
			if (lstat(path, &st) < 0)
				die("%s: %m", path);
			type = S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : DT_UNKNOWN;
		}
		if (type == DT_REG) {
			if (out)
				paths_add(out, path);
			if (w) {
				w->files++;
				w->bytes += (uint64_t)st.st_size;
			}
		} else if (type == DT_DIR && depth >= 0) {
			if (out)
				paths_add(out, path);
			if (w)
				w->dirs++;
			entries += scan_dir(path, depth + 1, out, w);
		}
	}
	closedir(d);
	return entries;
}

static void cmd_stat(int argc, char **argv)
{
	struct fsb_opts o = {.passes = 1};
	int i = parse_opts(argc, argv, FSB_OPT_PASSES | FSB_OPT_PAUSE, "stat",
			   "stat [--passes N] [--pause-ms MS] DIR", &o);
	if (argc - i != 1)
		die("stat: one DIR");
	struct fsb_paths p = {0};
	counts_begin();
	uint64_t t0 = now_ns();
	uint64_t entries = scan_dir(argv[i], 0, &p, NULL);
	double ls = secs_since(t0);
	printf("{\"op\":\"list\",\"entries\":%" PRIu64 ",\"seconds\":%.6f%s}\n", entries, ls,
	       counts_json());
	/* Pass 1 right after the listing, each next one after the pause. */
	for (uint64_t pass = 0; pass < o.passes; pass++) {
		if (pass && o.pause_ms) {
			struct timespec ts = { (time_t)(o.pause_ms / 1000),
					       (long)(o.pause_ms % 1000) * 1000000 };
			nanosleep(&ts, NULL);
		}
		struct stat st;
		counts_begin();
		t0 = now_ns();
		for (size_t off = 0; off < p.len; off += strlen(p.buf + off) + 1)
			if (stat(p.buf + off, &st) < 0)
				die("%s: %m", p.buf + off);
		double s = secs_since(t0);
		printf("{\"op\":\"stat\",\"pass\":%" PRIu64 ",\"files\":%zu,\"seconds\":%.6f,"
		       "\"us_per_op\":%.3f,\"ops_s\":%.1f%s}\n", pass + 1, p.count, s,
		       per(s * 1e6, p.count), per(p.count, s), counts_json());
	}
}

static void cmd_openread(const char *dir)
{
	struct fsb_paths p = {0};
	scan_dir(dir, -1, &p, NULL);	/* untimed; depth -1: this directory only */
	static unsigned char buf[FSB_OPENREAD_BUF];
	counts_begin();
	uint64_t bytes = 0, check = 0, t0 = now_ns();
	for (size_t off = 0; off < p.len; off += strlen(p.buf + off) + 1) {
		const char *path = p.buf + off;
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			die("%s: %m", path);
		size_t n;
		while ((n = read_full(fd, buf, sizeof(buf), path)) > 0) {
			check += check_sum(buf, n);
			bytes += n;
		}
		close(fd);
	}
	double s = secs_since(t0);
	printf("{\"op\":\"openread\",\"files\":%zu,\"bytes\":%" PRIu64
	       ",\"seconds\":%.6f,\"us_per_op\":%.3f,\"ops_s\":%.1f,\"check\":%" PRIu64 "%s}\n",
	       p.count, bytes, s, per(s * 1e6, p.count), per(p.count, s), check, counts_json());
}

static void cmd_walk(const char *dir)
{
	struct fsb_walk w = {0};
	counts_begin();
	uint64_t t0 = now_ns();
	uint64_t entries = scan_dir(dir, 0, NULL, &w);
	double s = secs_since(t0);
	printf("{\"op\":\"walk\",\"entries\":%" PRIu64 ",\"files\":%" PRIu64 ",\"dirs\":%" PRIu64
	       ",\"bytes\":%" PRIu64 ",\"seconds\":%.6f%s}\n", entries, w.files, w.dirs, w.bytes, s,
	       counts_json());
}

/*
 * The write workloads' bytes: len (a multiple of 8) pseudo-random bytes from
 * a fixed seed, the same on every system. Each block written gets its own
 * stamp in its first word (block_stamp), so a block that lands in the wrong
 * place, twice, or not at all fails the read-back. Never freed: we exit next.
 */
static unsigned char *block_pattern(size_t len)
{
	unsigned char *p = malloc(len);
	uint64_t state = 0x9e3779b97f4a7c15u, w;	/* any nonzero seed: 2^64 / golden ratio */
	if (!p)
		die("out of memory");
	for (size_t i = 0; i < len; i += 8) {
		w = xorshift64(&state);
		memcpy(p + i, &w, 8);
	}
	return p;
}

static void block_stamp(unsigned char *block, uint64_t stamp)
{
	memcpy(block, &stamp, 8);
}

/* Writes all len bytes, at the file position (off < 0) or at off. */
static void write_full(int fd, const unsigned char *buf, size_t len, off_t off, const char *path)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = off < 0 ? write(fd, buf + done, len - done)
				    : pwrite(fd, buf + done, len - done, off + (off_t)done);
		if (n < 0)
			die("%s: %s: %m", path, off < 0 ? "write" : "pwrite");
		if (n == 0)
			die("%s: %s wrote nothing", path, off < 0 ? "write" : "pwrite");
		done += (size_t)n;
	}
}

/* Reads exactly len bytes at off; dies on a short read. */
static void pread_full(int fd, unsigned char *buf, size_t len, off_t off, const char *path)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n < 0)
			die("%s: pread: %m", path);
		if (n == 0)
			die("%s: short pread at %lld: %zu of %zu bytes", path, (long long)off, got, len);
		got += (size_t)n;
	}
}

/* fsync and close, checked: a lost write may only show up here. */
static void sync_close(int fd, const char *path, int do_sync)
{
	if (do_sync && fsync(fd) < 0)
		die("%s: fsync: %m", path);
	if (close(fd) < 0)
		die("%s: close: %m", path);
}

/*
 * seqwrite's read-back: path must hold nblk blocks of bs bytes, block k the
 * pattern stamped with k, and nothing more. Returns the file's check_sum.
 */
static uint64_t seqwrite_check(const char *path, unsigned char *pat, size_t bs, uint64_t nblk)
{
	struct stat st;
	int fd = open_file(path, &st);
	if ((uint64_t)st.st_size != nblk * bs)
		die("%s: %lld bytes, %" PRIu64 " written", path, (long long)st.st_size, nblk * bs);
	unsigned char *buf = malloc(bs);
	if (!buf)
		die("out of memory");
	uint64_t check = 0;
	for (uint64_t k = 0; k < nblk; k++) {
		if (read_full(fd, buf, bs, path) != bs)
			die("%s: short read in block %" PRIu64, path, k);
		block_stamp(pat, k);
		if (memcmp(buf, pat, bs))
			die("%s: block %" PRIu64 " is not what was written", path, k);
		check += check_sum(buf, bs);
	}
	if (read_full(fd, buf, 1, path))
		die("%s: longer than written", path);
	free(buf);
	close(fd);
	return check;
}

static void cmd_seqwrite(int argc, char **argv)
{
	struct fsb_opts o = {.bs = 131072};
	int i = parse_opts(argc, argv, FSB_OPT_BS | FSB_OPT_SIZE | FSB_OPT_VERIFY, "seqwrite",
			   "seqwrite [--verify] [--bs BYTES] --size BYTES FILE", &o);
	if (argc - i != 1)
		die("seqwrite: one FILE");
	if (!o.size || o.size % o.bs)
		die("seqwrite: --size must be a multiple of --bs (%zu)", o.bs);
	const char *path = argv[i];
	uint64_t nblk = o.size / o.bs;
	unsigned char *pat = block_pattern(o.bs);
	if (o.verify) {
		uint64_t check = seqwrite_check(path, pat, o.bs, nblk);
		printf("{\"op\":\"verify\",\"bytes\":%" PRIu64 ",\"check\":%" PRIu64 "}\n", o.size,
		       check);
		return;
	}
	/* A new file: O_EXCL, so a leftover from an earlier run is an error, not a rewrite. */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		die("%s: %m", path);
	counts_begin();
	uint64_t t0 = now_ns();
	for (uint64_t k = 0; k < nblk; k++) {
		block_stamp(pat, k);
		write_full(fd, pat, o.bs, -1, path);
	}
	double ws = secs_since(t0);
	if (fsync(fd) < 0)
		die("%s: fsync: %m", path);
	double s = secs_since(t0);
	char counts[2048];
	snprintf(counts, sizeof(counts), "%s", counts_json());
	sync_close(fd, path, 0);
	uint64_t check = seqwrite_check(path, pat, o.bs, nblk);
	printf("{\"op\":\"seqwrite\",\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"write_seconds\":%.6f"
	       ",\"mib_s\":%.3f,\"write_mib_s\":%.3f,\"check\":%" PRIu64 "%s}\n",
	       o.size, s, ws, per(o.size / 1048576.0, s), per(o.size / 1048576.0, ws), check,
	       counts);
}

static void cmd_randwrite(int argc, char **argv)
{
	struct fsb_opts o = {.bs = 4096, .count = 20000, .seed = 1};
	int i = parse_opts(argc, argv, FSB_OPT_BS | FSB_OPT_COUNT | FSB_OPT_SEED | FSB_OPT_VERIFY,
			   "randwrite",
			   "randwrite [--verify] [--count N] [--seed S] [--bs BYTES] FILE", &o);
	if (argc - i != 1)
		die("randwrite: one FILE");
	const char *path = argv[i];
	struct stat st;
	int fd = open(path, o.verify ? O_RDONLY : O_RDWR);
	if (fd < 0)
		die("%s: %m", path);
	if (fstat(fd, &st) < 0)
		die("%s: fstat: %m", path);
	if (!S_ISREG(st.st_mode))
		die("%s: not a regular file", path);
	/* Whole blocks only: every write lands inside the file and never grows it. */
	uint64_t nblk = (uint64_t)st.st_size / o.bs;
	if (!nblk)
		die("%s: smaller than one block", path);
	/* Untimed: the offsets, and which write touches each block last (0: none). */
	uint64_t *blk = malloc(o.count * sizeof(*blk));
	uint32_t *last = calloc(nblk, sizeof(*last));
	unsigned char *pat = block_pattern(o.bs), *buf = malloc(o.bs);
	if (!blk || !last || !buf)
		die("out of memory");
	for (uint64_t k = 0; k < o.count; k++) {
		blk[k] = xorshift64(&o.seed) % nblk;
		last[blk[k]] = (uint32_t)(k + 1);
	}
	double s = 0, ws = 0;
	char counts[2048] = "";
	if (!o.verify) {
		counts_begin();
		uint64_t t0 = now_ns();
		for (uint64_t k = 0; k < o.count; k++) {
			block_stamp(pat, k + 1);
			write_full(fd, pat, o.bs, (off_t)(blk[k] * o.bs), path);
		}
		ws = secs_since(t0);
		if (fsync(fd) < 0)
			die("%s: fsync: %m", path);
		s = secs_since(t0);
		snprintf(counts, sizeof(counts), "%s", counts_json());
		if (fstat(fd, &st) < 0)
			die("%s: fstat: %m", path);
		if ((uint64_t)st.st_size / o.bs != nblk)
			die("%s: size changed to %lld", path, (long long)st.st_size);
	}
	/* Untimed read-back, in the same order: each block holds its last write. */
	uint64_t check = 0;
	for (uint64_t k = 0; k < o.count; k++) {
		pread_full(fd, buf, o.bs, (off_t)(blk[k] * o.bs), path);
		block_stamp(pat, last[blk[k]]);
		if (memcmp(buf, pat, o.bs))
			die("%s: block at %" PRIu64 " is not write %u's", path, blk[k] * o.bs,
			    last[blk[k]]);
		check += check_sum(buf, o.bs);
	}
	sync_close(fd, path, 0);
	if (o.verify) {
		printf("{\"op\":\"verify\",\"writes\":%" PRIu64 ",\"check\":%" PRIu64 "}\n", o.count,
		       check);
		return;
	}
	printf("{\"op\":\"randwrite\",\"writes\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"seconds\":%.6f,\"write_seconds\":%.6f,\"us_per_op\":%.3f,\"ops_s\":%.1f"
	       ",\"check\":%" PRIu64 "%s}\n", o.count, o.count * o.bs, s, ws, per(s * 1e6, o.count),
	       per(o.count, s), check, counts);
}

static void cmd_create(int argc, char **argv)
{
	struct fsb_opts o = {.bs = 4096, .count = 1000};
	int i = parse_opts(argc, argv, FSB_OPT_BS | FSB_OPT_COUNT, "create",
			   "create [--count N] [--bs BYTES] DIR", &o);
	if (argc - i != 1)
		die("create: one DIR");
	const char *dir = argv[i];
	struct fsb_paths p = {0};
	char path[PATH_MAX], name[32];
	for (uint64_t k = 0; k < o.count; k++) {
		snprintf(name, sizeof(name), "f%05" PRIu64, k);
		join(path, dir, name);
		paths_add(&p, path);
	}
	unsigned char *pat = block_pattern(o.bs), *buf = malloc(o.bs);
	if (!buf)
		die("out of memory");
	uint64_t t0 = now_ns(), k;
	if (mkdir(dir, 0755) < 0)
		die("%s: mkdir: %m", dir);
	double mkdir_s = secs_since(t0);
	counts_begin();
	t0 = now_ns();
	k = 0;
	for (size_t off = 0; off < p.len; off += strlen(p.buf + off) + 1, k++) {
		int fd = open(p.buf + off, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			die("%s: %m", p.buf + off);
		block_stamp(pat, k);
		write_full(fd, pat, o.bs, -1, p.buf + off);
		sync_close(fd, p.buf + off, 0);
	}
	double create_s = secs_since(t0);
	char create_counts[2048];
	snprintf(create_counts, sizeof(create_counts), "%s", counts_json());
	/* Untimed: the directory lists every file, and each holds its block. */
	uint64_t entries = scan_dir(dir, -1, NULL, NULL), check = 0;
	if (entries != o.count)
		die("%s: %" PRIu64 " entries after %" PRIu64 " creates", dir, entries, o.count);
	k = 0;
	for (size_t off = 0; off < p.len; off += strlen(p.buf + off) + 1, k++) {
		int fd = open(p.buf + off, O_RDONLY);
		if (fd < 0)
			die("%s: %m", p.buf + off);
		block_stamp(pat, k);
		if (read_full(fd, buf, o.bs, p.buf + off) != o.bs || memcmp(buf, pat, o.bs) ||
		    read_full(fd, buf, 1, p.buf + off))
			die("%s: not what was written", p.buf + off);
		check += check_sum(buf, o.bs);
		close(fd);
	}
	counts_begin();
	t0 = now_ns();
	for (size_t off = 0; off < p.len; off += strlen(p.buf + off) + 1)
		if (unlink(p.buf + off) < 0)
			die("%s: unlink: %m", p.buf + off);
	double unlink_s = secs_since(t0);
	char unlink_counts[2048];
	snprintf(unlink_counts, sizeof(unlink_counts), "%s", counts_json());
	entries = scan_dir(dir, -1, NULL, NULL);
	if (entries)
		die("%s: %" PRIu64 " entries left after unlinking all", dir, entries);
	t0 = now_ns();
	if (rmdir(dir) < 0)
		die("%s: rmdir: %m", dir);
	double rmdir_s = secs_since(t0);
	printf("{\"op\":\"create\",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"seconds\":%.6f"
	       ",\"us_per_op\":%.3f,\"ops_s\":%.1f,\"mkdir_seconds\":%.6f,\"check\":%" PRIu64
	       "%s}\n", o.count, o.count * o.bs, create_s, per(create_s * 1e6, o.count),
	       per(o.count, create_s), mkdir_s, check, create_counts);
	printf("{\"op\":\"unlink\",\"files\":%" PRIu64 ",\"seconds\":%.6f,\"us_per_op\":%.3f"
	       ",\"ops_s\":%.1f,\"rmdir_seconds\":%.6f%s}\n", o.count, unlink_s,
	       per(unlink_s * 1e6, o.count), per(o.count, unlink_s), rmdir_s, unlink_counts);
}

int main(int argc, char **argv)
{
	uint64_t start = now_ns();	/* first thing: "start" reports it */
	const char *cmd = argc > 1 ? argv[1] : "";
	if (!strcmp(cmd, "seq"))
		cmd_seq(argc - 2, argv + 2);
	else if (!strcmp(cmd, "rand"))
		cmd_rand(argc - 2, argv + 2);
	else if (!strcmp(cmd, "stat"))
		cmd_stat(argc - 2, argv + 2);
	else if (!strcmp(cmd, "openread") && argc == 3)
		cmd_openread(argv[2]);
	else if (!strcmp(cmd, "walk") && argc == 3)
		cmd_walk(argv[2]);
	else if (!strcmp(cmd, "seqwrite"))
		cmd_seqwrite(argc - 2, argv + 2);
	else if (!strcmp(cmd, "randwrite"))
		cmd_randwrite(argc - 2, argv + 2);
	else if (!strcmp(cmd, "create"))
		cmd_create(argc - 2, argv + 2);
	else if (!strcmp(cmd, "start") && argc == 2)
		printf("{\"op\":\"start\",\"ns\":%" PRIu64 "}\n", start);
	else
		die("usage: fsbench seq|rand|stat|openread|walk|start|seqwrite|randwrite|create"
		    " ... (see bench/progs/fsbench.c)");
	/* A lost result line must not look like success to the harness. */
	if (fflush(stdout) == EOF || ferror(stdout))
		die("stdout: %m");
	return 0;
}
