/*
 * Fault cases for tests/integration/test_faults.py: what a program sees
 * when the host side fails under it. Not a progspec case: each subcommand
 * needs the host to set a trap around it (progspec.OWN_HARNESS).
 *
 *   faults fill DIR MODE    writes records into DIR until ENOSPC; prints
 *                           "synced K" once record K is durable, then on
 *                           the first failure "enospc K OP" (or "error K OP
 *                           ERRNO"), reads every synced record back and
 *                           exits 3 (ENOSPC/EDQUOT) or 4 (another errno).
 *                           MODE says where record K goes:
 *                             append  appended to DIR/log, fsync(log)
 *                             files   a new file DIR/rec-K, fsync, close
 *                             inplace slot K of DIR/big (made sparse, 64 MiB,
 *                                     up front), pwrite + fsync
 *                             mmap    slot K of DIR/big through a MAP_SHARED
 *                                     mapping, msync(MS_SYNC)
 *   faults gone DIR         writes, reads and stats files in DIR, prints
 *                           "ready" after a few rounds, and goes on until
 *                           20 rounds in a row had a failure; prints "err
 *                           OP ERRNO" once per distinct failure and exits 4
 *                           (5: no error in 60 s; 6: rounds still succeed
 *                           30 s after the first failure)
 *   faults perm DIR         DIR/locked and DIR/secret are mode 000 and not
 *                           ours (pier runs unprivileged, or the guest has
 *                           -o uid=): every use of them must fail with
 *                           EACCES (chdir may pass; then what follows must
 *                           not); DIR/open must still work. Prints "perm OP
 *                           ERRNO" per attempt, exits 0 if all were as
 *                           expected and 1 otherwise
 *   faults daxmap DIR N     maps DIR/big and DIR/m000..m(N-1) all at once
 *                           (the even-numbered m files shared and writable,
 *                           the rest private, read-only), touches and checks
 *                           every page, stores ~byte at offset 8 of every
 *                           page of the shared ones, checks all again, msyncs,
 *                           unmaps and read()s them all; exits 0 ("daxmap ok
 *                           PAGES") or 3 ("daxmap ENOMEM ...")
 *   faults mem MB HOW       HOW: malloc (one block), chunks (8 MiB blocks),
 *                           brk: gets MB MiB and writes every page; prints
 *                           "mem touched MB" and exits 0, or "mem ENOMEM"
 *                           and exits 3 when the allocation is refused
 *   faults fork             fork, vfork, clone, clone3, posix_spawn: each
 *                           child's exit status reaches the parent
 *                           ("fork OP ok"); 0 if so
 *   faults nosys            io_uring_setup, a number past the table (1000)
 *                           and a negative one: ENOSYS; 0 if so
 *   faults many IN OUT ID   reads IN, writes "ID HASH\n" to OUT/out-ID,
 *                           reads it back, prints "many ID HASH"
 *                           (HASH: FNV-1a 64 of IN, 16 hex digits)
 *   faults busy DIR         file reads, writes and stats in DIR in a loop;
 *                           "ready" after 20 rounds; on the first failure
 *                           prints "fail OP ERRNO", tries every kind of
 *                           operation again ("after OP RESULT") and exits 4;
 *                           5 if nothing failed within 100 s
 *
 * Records (fill) are fsync_crash.c's: "REC %08d %08d %08x\n" (K, payload
 * length, CRC-32 of the payload), payload byte i == (K * 131 + i * 7 +
 * (i >> 10)) & 0xff.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define HDR_LEN 31
#define SLOT (64 * 1024)
#define BIG_SIZE (64LL << 20)
#define MAX_PAYLOAD (SLOT - HDR_LEN)
#define PG 4096u

extern char **environ;

static const char *ename(int e)
{
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case EROFS: return "EROFS";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ESTALE: return "ESTALE";
	case EDQUOT: return "EDQUOT";
	case ENOTCONN: return "ENOTCONN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EPROTO: return "EPROTO";
	case ECONNABORTED: return "ECONNABORTED";
	case ESHUTDOWN: return "ESHUTDOWN";
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	default: {
		static char buf[32];
		snprintf(buf, sizeof(buf), "errno%d", e);
		return buf;
	}
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* ---- fill ---------------------------------------------------------------- */

static uint32_t crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static size_t payload_len(long k)
{
	return 1 + (size_t)(k * 7919 % (MAX_PAYLOAD - 1));
}

static unsigned char rec[HDR_LEN + MAX_PAYLOAD];
static unsigned char got[HDR_LEN + MAX_PAYLOAD];

static size_t make_record(long k)
{
	size_t n = payload_len(k);
	unsigned char *p = rec + HDR_LEN;
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((k * 131 + (long)i * 7 + (long)(i >> 10)) & 0xff);
	char hdr[HDR_LEN + 1];
	snprintf(hdr, sizeof(hdr), "REC %08ld %08zu %08x\n", k, n, crc32(p, n));
	memcpy(rec, hdr, HDR_LEN);
	return HDR_LEN + n;
}

/* Writes all of p at off (short writes continued); 0 or the errno. */
static int write_all(int fd, const unsigned char *p, size_t n, long long off)
{
	while (n) {
		ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, off);
		if (w < 0)
			return errno;
		if (w == 0)
			return EIO;
		p += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

struct fill {
	int dfd, log_fd, big_fd;
	const char *mode;
	long long log_end;
	long long rec_off[1 << 16]; /* append: where record K starts */
};

static struct fill F;

/* Stores record k; 0 or the errno, with *op naming what failed. */
static int fill_one(long k, const char **op)
{
	size_t n = make_record(k);
	int e;
	if (strcmp(F.mode, "append") == 0) {
		*op = "write";
		if ((e = write_all(F.log_fd, rec, n, -1)))
			return e;
		F.rec_off[k] = F.log_end;
		F.log_end += (long long)n;
		*op = "fsync";
		return fsync(F.log_fd) ? errno : 0;
	}
	if (strcmp(F.mode, "files") == 0) {
		char name[32];
		snprintf(name, sizeof(name), "rec-%08ld", k);
		*op = "open";
		int fd = openat(F.dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return errno;
		*op = "write";
		for (size_t off = 0; off < n; off += 16384)
			if ((e = write_all(fd, rec + off, n - off < 16384 ? n - off : 16384,
					   (long long)off))) {
				close(fd);
				return e;
			}
		*op = "fsync";
		if (fsync(fd)) {
			e = errno;
			close(fd);
			return e;
		}
		*op = "close";
		return close(fd) ? errno : 0;
	}
	long long at = (long long)k * SLOT;
	if (at + SLOT > BIG_SIZE) {
		*op = "out-of-slots";
		return EFBIG;
	}
	if (strcmp(F.mode, "inplace") == 0) {
		*op = "pwrite";
		if ((e = write_all(F.big_fd, rec, n, at)))
			return e;
		*op = "fsync";
		return fsync(F.big_fd) ? errno : 0;
	}
	/* mmap: the store of a full file system is SIGBUS on Linux */
	*op = "mmap";
	unsigned char *m = mmap(NULL, SLOT, PROT_READ | PROT_WRITE, MAP_SHARED, F.big_fd, at);
	if (m == MAP_FAILED)
		return errno;
	memcpy(m, rec, n);
	*op = "msync";
	e = msync(m, SLOT, MS_SYNC) ? errno : 0;
	munmap(m, SLOT);
	return e;
}

static void fill_check(long k)
{
	size_t n = make_record(k);
	if (strcmp(F.mode, "append") == 0) {
		CHECK_EQ(pread(F.log_fd, got, n, F.rec_off[k]), (ssize_t)n);
	} else if (strcmp(F.mode, "files") == 0) {
		char name[32];
		snprintf(name, sizeof(name), "rec-%08ld", k);
		int fd = (int)CHECK_SYS(openat(F.dfd, name, O_RDONLY));
		CHECK_EQ(pread(fd, got, sizeof(got), 0), (ssize_t)n);
		CHECK_SYS(close(fd));
	} else {
		CHECK_EQ(pread(F.big_fd, got, n, (long long)k * SLOT), (ssize_t)n);
	}
	if (memcmp(got, rec, n))
		FAIL("record %ld read back is not what was written", k);
}

static int cmd_fill(const char *dir, const char *mode)
{
	F.mode = mode;
	F.dfd = (int)CHECK_SYS(open(dir, O_RDONLY | O_DIRECTORY));
	if (strcmp(mode, "append") == 0) {
		F.log_fd = (int)CHECK_SYS(openat(F.dfd, "log", O_RDWR | O_CREAT | O_APPEND, 0644));
	} else if (strcmp(mode, "inplace") == 0 || strcmp(mode, "mmap") == 0) {
		F.big_fd = (int)CHECK_SYS(openat(F.dfd, "big", O_RDWR | O_CREAT, 0644));
		CHECK_SYS(ftruncate(F.big_fd, BIG_SIZE)); /* sparse: no space taken */
	} else if (strcmp(mode, "files")) {
		FAIL("fill: unknown mode %s", mode);
	}
	long k;
	int e = 0;
	const char *op = "";
	for (k = 0; k < (1 << 16); k++) {
		if ((e = fill_one(k, &op)))
			break;
		say("synced %ld\n", k);
	}
	if (!e)
		FAIL("fill: %ld records and no error: is DIR on a small file system?", k);
	if (e == ENOSPC || e == EDQUOT)
		say("enospc %ld %s\n", k, op);
	else
		say("error %ld %s %s\n", k, op, ename(e));
	/* Everything reported synced reads back intact in the guest too. */
	for (long i = 0; i < k; i++)
		fill_check(i);
	say("readback ok %ld\n", k);
	return e == ENOSPC || e == EDQUOT ? 3 : 4;
}

/* ---- gone ---------------------------------------------------------------- */

#define MAX_SEEN 64
static char seen[MAX_SEEN][48];
static int nseen;

/* Notes a failure of op with errno e (printed once per kind); returns 1. */
static int failed(const char *op, int e)
{
	char key[48];
	snprintf(key, sizeof(key), "%s %s", op, ename(e));
	for (int i = 0; i < nseen; i++)
		if (strcmp(seen[i], key) == 0)
			return 1;
	if (nseen < MAX_SEEN)
		memcpy(seen[nseen++], key, sizeof(key));
	say("err %s\n", key);
	return 1;
}

/* One round of file work in DIR; returns how many operations failed out
 * of *ops. */
static int gone_round(const char *dir, long i, int *ops)
{
	char path[512], sub[512];
	static unsigned char buf[8192];
	int bad = 0, fd;
	memset(buf, (int)(i & 0xff), sizeof(buf));
	*ops = 0;

	snprintf(path, sizeof(path), "%s/f-%ld", dir, i);
	(*ops)++;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		bad += failed("create", errno);
	} else {
		(*ops)++;
		if (write_all(fd, buf, sizeof(buf), 0))
			bad += failed("write", errno);
		(*ops)++;
		if (fsync(fd))
			bad += failed("fsync", errno);
		(*ops)++;
		if (close(fd))
			bad += failed("close", errno);
	}
	struct stat st;
	(*ops)++;
	if (stat(path, &st))
		bad += failed("stat", errno);
	(*ops)++;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		bad += failed("open", errno);
	} else {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0)
			bad += failed("read", errno);
		close(fd);
	}
	snprintf(sub, sizeof(sub), "%s/d-%ld", dir, i);
	(*ops)++;
	if (mkdir(sub, 0755))
		bad += failed("mkdir", errno);
	(*ops)++;
	DIR *d = opendir(dir);
	if (!d) {
		bad += failed("opendir", errno);
	} else {
		errno = 0;
		while (readdir(d))
			;
		if (errno)
			bad += failed("readdir", errno);
		closedir(d);
	}
	if (i >= 2) { /* keep the directory small */
		snprintf(path, sizeof(path), "%s/f-%ld", dir, i - 2);
		(*ops)++;
		if (unlink(path))
			bad += failed("unlink", errno);
		snprintf(sub, sizeof(sub), "%s/d-%ld", dir, i - 2);
		(*ops)++;
		if (rmdir(sub))
			bad += failed("rmdir", errno);
	}
	return bad;
}

static int cmd_gone(const char *dir)
{
	double t0 = now(), first_err = 0;
	long failing = 0;
	for (long i = 0;; i++) {
		int ops, bad = gone_round(dir, i, &ops);
		if (i == 3)
			say("ready\n");
		if (bad && !first_err)
			first_err = now();
		failing = bad ? failing + 1 : 0;
		if (failing >= 20) {
			say("gone: %d kinds of failure; 20 rounds in a row failed, %.1f s after the "
			    "first\n", nseen, now() - first_err);
			return 4;
		}
		if (first_err && now() - first_err > 30) {
			say("gone: rounds still succeed 30 s after the first failure\n");
			return 6;
		}
		if (!first_err && now() - t0 > 60) {
			say("gone: no error in 60 s\n");
			return 5;
		}
	}
}

/* ---- perm ---------------------------------------------------------------- */

static int perm_bad;

static void expect_eacces(const char *op, long r)
{
	int e = r < 0 ? errno : 0;
	say("perm %s %s\n", op, ename(e));
	if (e != EACCES)
		perm_bad = 1;
}

static int cmd_perm(const char *dir)
{
	char locked[512], inside[512], path[512];
	snprintf(locked, sizeof(locked), "%s/locked", dir);
	snprintf(inside, sizeof(inside), "%s/locked/file", dir);
	struct stat st;
	/* The directory itself: its attributes are the parent's to give. */
	CHECK_SYS(stat(locked, &st));
	CHECK_EQ(st.st_mode & 07777, 0);
	errno = 0;
	DIR *d = opendir(locked);
	expect_eacces("opendir", d ? 0 : -1);
	if (d)
		closedir(d);
	expect_eacces("open-dir", open(locked, O_RDONLY | O_DIRECTORY));
	expect_eacces("stat-inside", stat(inside, &st));
	expect_eacces("open-inside", open(inside, O_RDONLY));
	snprintf(path, sizeof(path), "%s/locked/new", dir);
	expect_eacces("create-inside", open(path, O_WRONLY | O_CREAT, 0644));
	expect_eacces("mkdir-inside", mkdir(path, 0755));
	/* chdir itself may pass: a guest that believes it is root (uid 0, the
	 * default) checks no modes, and Linux's virtio-fs (default_permissions)
	 * does not ask the server either. What it leads to must not. */
	errno = 0;
	long r = chdir(locked);
	say("perm chdir %s\n", ename(r < 0 ? errno : 0));
	if (r == 0) {
		expect_eacces("open-after-chdir", open("file", O_RDONLY));
		expect_eacces("opendir-after-chdir", opendir(".") ? 0 : -1);
		CHECK_SYS(chdir("/"));
	} else if (errno != EACCES) {
		perm_bad = 1;
	}
	/* The locked file beside it (mode 000, not ours). */
	snprintf(path, sizeof(path), "%s/secret", dir);
	expect_eacces("open-secret", open(path, O_RDONLY));
	expect_eacces("write-secret", open(path, O_WRONLY));
	/* Still usable: the open directory next to it. */
	snprintf(path, sizeof(path), "%s/open/ok.txt", dir);
	int fd = (int)CHECK_SYS(open(path, O_RDONLY));
	char buf[16] = { 0 };
	CHECK_EQ(read(fd, buf, sizeof(buf) - 1), 3);
	CHECK_STR(buf, "ok\n");
	CHECK_SYS(close(fd));
	snprintf(path, sizeof(path), "%s/open/made-by-guest", dir);
	fd = (int)CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_EXCL, 0644));
	CHECK_EQ(write(fd, "guest\n", 6), 6);
	CHECK_SYS(close(fd));
	say("perm open-dir-usable OK\n");
	return perm_bad;
}

/* ---- daxmap -------------------------------------------------------------- */

/* Byte i of page p of file f as the host wrote it (the big file is f = 1000). */
static unsigned char dax_byte(unsigned f, size_t p, size_t i)
{
	return (unsigned char)((f * 31 + p + i * 7) & 0xff);
}

/* The byte the program stores at DAX_MARK of every page of a shared,
 * writable mapping (the even-numbered files). */
#define DAX_MARK 8
static unsigned char dax_want(unsigned f, size_t p, size_t i, int written)
{
	unsigned char b = dax_byte(f, p, i);
	return written && i == DAX_MARK ? (unsigned char)~b : b;
}

struct dmap {
	unsigned f;
	size_t size;
	int shared;  /* MAP_SHARED, PROT_WRITE, file open O_RDWR */
	unsigned char *m;
};

static size_t dax_check(const struct dmap *d, int written)
{
	size_t bad = 0;
	for (size_t off = 0; off < d->size; off += PG) {
		size_t p = off / PG, n = d->size - off < PG ? d->size - off : PG;
		for (size_t i = 0; i < n; i += 61) /* every 61st byte, the mark, the last */
			bad += d->m[off + i] != dax_want(d->f, p, i, written);
		if (n > DAX_MARK)
			bad += d->m[off + DAX_MARK] != dax_want(d->f, p, DAX_MARK, written);
		bad += d->m[off + n - 1] != dax_want(d->f, p, n - 1, written);
	}
	return bad;
}

static void dax_path(char *path, size_t cap, const char *dir, unsigned f)
{
	if (f == 1000)
		snprintf(path, cap, "%s/big", dir);
	else
		snprintf(path, cap, "%s/m%03u", dir, f);
}

static int cmd_daxmap(const char *dir, int n)
{
	struct dmap maps[257];
	char path[512];
	int nm = 0;
	if (n > 256)
		FAIL("daxmap: at most 256 files");
	for (int k = -1; k < n; k++) {
		struct dmap *d = &maps[nm];
		d->f = k < 0 ? 1000 : (unsigned)k;
		d->shared = k >= 0 && k % 2 == 0;
		dax_path(path, sizeof(path), dir, d->f);
		int fd = (int)CHECK_SYS(open(path, d->shared ? O_RDWR : O_RDONLY));
		struct stat st;
		CHECK_SYS(fstat(fd, &st));
		d->size = (size_t)st.st_size;
		d->m = mmap(NULL, d->size, d->shared ? PROT_READ | PROT_WRITE : PROT_READ,
			    d->shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
		int e = errno;
		close(fd);
		if (d->m == MAP_FAILED) {
			say("daxmap %s %s after %d mappings\n", e == ENOMEM ? "ENOMEM" : "mmap-failed",
			    ename(e), nm);
			return e == ENOMEM ? 3 : 1;
		}
		nm++;
	}
	/* Everything mapped at once: touch every page, check, mark the shared
	 * ones, check everything again while it is all still mapped. */
	size_t pages = 0, bad = 0;
	for (int i = 0; i < nm; i++) {
		bad += dax_check(&maps[i], 0);
		pages += (maps[i].size + PG - 1) / PG;
	}
	if (bad)
		FAIL("daxmap: %zu bytes differ while everything is mapped", bad);
	for (int i = 0; i < nm; i++) {
		const struct dmap *d = &maps[i];
		if (!d->shared)
			continue;
		for (size_t off = 0; off + DAX_MARK < d->size; off += PG)
			d->m[off + DAX_MARK] = dax_want(d->f, off / PG, DAX_MARK, 1);
	}
	for (int i = 0; i < nm; i++)
		bad += dax_check(&maps[i], maps[i].shared);
	if (bad)
		FAIL("daxmap: %zu bytes differ after the stores", bad);
	say("daxmap mapped %d files, %zu pages all correct\n", nm, pages);
	for (int i = 0; i < nm; i++) {
		if (maps[i].shared)
			CHECK_SYS(msync(maps[i].m, maps[i].size, MS_SYNC));
		CHECK_SYS(munmap(maps[i].m, maps[i].size));
	}
	/* The window again, for read(): every byte, not a sample. */
	static unsigned char buf[1 << 16];
	for (int i = 0; i < nm; i++) {
		dax_path(path, sizeof(path), dir, maps[i].f);
		int fd = (int)CHECK_SYS(open(path, O_RDONLY));
		for (size_t off = 0; off < maps[i].size;) {
			ssize_t r = CHECK_SYS(pread(fd, buf, sizeof(buf), (off_t)off));
			CHECK(r > 0);
			for (ssize_t j = 0; j < r; j++) {
				size_t o = off + (size_t)j;
				if (buf[j] != dax_want(maps[i].f, o / PG, o % PG, maps[i].shared))
					FAIL("daxmap: %s byte %zu differs after unmapping", path, o);
			}
			off += (size_t)r;
		}
		CHECK_SYS(close(fd));
	}
	say("daxmap ok %zu\n", pages);
	return 0;
}

/* ---- mem ----------------------------------------------------------------- */

static int cmd_mem(long mb, const char *how)
{
	size_t total = (size_t)mb << 20, done = 0;
	if (strcmp(how, "malloc") == 0) {
		unsigned char *p = malloc(total);
		if (!p) {
			say("mem ENOMEM malloc %ld MiB\n", mb);
			return 3;
		}
		for (size_t i = 0; i < total; i += PG)
			p[i] = (unsigned char)i;
	} else if (strcmp(how, "chunks") == 0) {
		while (done < total) {
			unsigned char *p = malloc(8 << 20);
			if (!p) {
				say("mem ENOMEM after %zu MiB\n", done >> 20);
				return 3;
			}
			for (size_t i = 0; i < (8u << 20); i += PG)
				p[i] = (unsigned char)i;
			done += 8 << 20;
		}
	} else if (strcmp(how, "brk") == 0) {
		/* The system call itself: musl's sbrk() only answers sbrk(0). */
		unsigned char *p = (unsigned char *)syscall(SYS_brk, 0L);
		while (done < total) {
			unsigned char *want = p + done + (1 << 20);
			if ((unsigned char *)syscall(SYS_brk, want) != want) {
				say("mem ENOMEM brk after %zu MiB\n", done >> 20);
				return 3;
			}
			for (size_t i = 0; i < (1u << 20); i += PG)
				p[done + i] = 1;
			done += 1 << 20;
		}
	} else {
		FAIL("mem: unknown way %s", how);
	}
	say("mem touched %ld\n", mb);
	return 0;
}

/* ---- fork, nosys --------------------------------------------------------- */

static int fork_bad;

static void expect_enosys(const char *what, const char *op, long r, int e)
{
	say("%s %s %s\n", what, op, r == -1 ? ename(e) : "succeeded");
	if (r != -1 || e != ENOSYS)
		fork_bad = 1;
}

/* The child of one way to fork exits with code; the parent must see it. */
static void expect_child(const char *op, long r, int e, int code)
{
	if (r == -1) {
		say("fork %s %s\n", op, ename(e));
		fork_bad = 1;
		return;
	}
	int st = 0;
	pid_t w = waitpid((pid_t)r, &st, 0);
	int ok = w == r && WIFEXITED(st) && WEXITSTATUS(st) == code;
	say("fork %s %s\n", op, ok ? "ok" : "wrong status");
	if (!ok)
		fork_bad = 1;
}

static int cmd_fork(char *self)
{
	pid_t p = fork();
	if (p == 0)
		_exit(41);
	expect_child("fork", p, errno, 41);
	p = vfork();
	if (p == 0)
		_exit(42);
	expect_child("vfork", p, errno, 42);
	long r = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
	if (r == 0)
		_exit(43);
	expect_child("clone", r, errno, 43);
#ifdef SYS_clone3
	struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
		 tls; } args = { .exit_signal = SIGCHLD };
	r = syscall(SYS_clone3, &args, sizeof(args));
	if (r == 0)
		_exit(44);
	expect_child("clone3", r, errno, 44);
#endif
	pid_t child;
	char *argv[] = { self, "nosys", NULL };
	int e = posix_spawn(&child, self, NULL, NULL, argv, environ);
	expect_child("posix_spawn", e ? -1 : child, e, 0);
	return fork_bad;
}

static int cmd_nosys(void)
{
	errno = 0;
	long r = syscall(SYS_io_uring_setup, 8L, (void *)0);
	expect_enosys("nosys", "io_uring_setup", r, errno);
	errno = 0;
	r = syscall(1000L, 1L, 2L, 3L);
	expect_enosys("nosys", "1000", r, errno);
	errno = 0;
	r = syscall(-5L);
	expect_enosys("nosys", "-5", r, errno);
	/* Still alive and well: an implemented call works. */
	CHECK_EQ(syscall(SYS_getpid), getpid());
	say("nosys alive\n");
	return fork_bad;
}

/* ---- many ---------------------------------------------------------------- */

static int cmd_many(const char *in, const char *out, const char *id)
{
	static unsigned char buf[1 << 16];
	uint64_t h = 0xcbf29ce484222325ULL;
	int fd = (int)CHECK_SYS(open(in, O_RDONLY));
	for (;;) {
		ssize_t r = CHECK_SYS(read(fd, buf, sizeof(buf)));
		if (!r)
			break;
		for (ssize_t i = 0; i < r; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ULL;
		}
	}
	CHECK_SYS(close(fd));
	char path[512], line[64], back[64] = { 0 };
	snprintf(path, sizeof(path), "%s/out-%s", out, id);
	int n = snprintf(line, sizeof(line), "%s %016llx\n", id, (unsigned long long)h);
	fd = (int)CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ(write(fd, line, (size_t)n), n);
	CHECK_SYS(fsync(fd));
	CHECK_SYS(close(fd));
	fd = (int)CHECK_SYS(open(path, O_RDONLY));
	CHECK_EQ(read(fd, back, sizeof(back) - 1), n);
	CHECK_SYS(close(fd));
	CHECK_STR(back, line);
	say("many %s %016llx\n", id, (unsigned long long)h);
	return 0;
}

/* ---- busy ---------------------------------------------------------------- */

/* One operation of kind op on DIR; 0 or the errno. */
static int busy_op(const char *dir, int op, long i, int held_fd)
{
	char path[512];
	static unsigned char buf[16384];
	struct stat st;
	int fd, e = 0;
	snprintf(path, sizeof(path), "%s/b-%ld", dir, i % 8);
	switch (op) {
	case 0: /* write a file */
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return errno;
		memset(buf, (int)(i & 0xff), sizeof(buf));
		e = write_all(fd, buf, sizeof(buf), 0);
		if (!e && fsync(fd))
			e = errno;
		if (close(fd) && !e)
			e = errno;
		return e;
	case 1: /* read it */
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return errno;
		if (read(fd, buf, sizeof(buf)) < 0)
			e = errno;
		close(fd);
		return e;
	case 2: /* stat a name not seen for a while */
		snprintf(path, sizeof(path), "%s/nope-%ld", dir, i);
		return stat(path, &st) ? (errno == ENOENT ? 0 : errno) : 0;
	case 3: /* read through a descriptor opened long ago */
		return pread(held_fd, buf, 4096, 0) < 0 ? errno : 0;
	case 4: /* write through it */
		return pwrite(held_fd, buf, 4096, (long long)(i % 16) * 4096) < 0 ? errno : 0;
	default: /* the directory */
		fd = open(dir, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			return errno;
		if (fsync(fd))
			e = errno;
		close(fd);
		return e;
	}
}

static const char *const busy_names[] = { "write", "read", "stat", "pread-held", "pwrite-held",
					  "dir" };

static int cmd_busy(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/held", dir);
	int held = (int)CHECK_SYS(open(path, O_RDWR | O_CREAT, 0644));
	static unsigned char page[4096];
	CHECK_EQ(pwrite(held, page, sizeof(page), 0), (ssize_t)sizeof(page));
	double t0 = now();
	for (long i = 0; now() - t0 < 100; i++) {
		for (int op = 0; op < 6; op++) {
			double t = now();
			int e = busy_op(dir, op, i, held);
			if (!e)
				continue;
			say("fail %s %s after %.1f s (round %ld)\n", busy_names[op], ename(e), now() - t,
			    i);
			int all_failed = 1;
			for (int again = 0; again < 6; again++) {
				t = now();
				int e2 = busy_op(dir, again, i + 1, held);
				say("after %s %s %.1f s\n", busy_names[again], ename(e2), now() - t);
				all_failed &= e2 != 0;
			}
			say("busy: %s\n", all_failed ? "everything fails now" : "some still work");
			return 4;
		}
		if (i == 20)
			say("ready\n");
	}
	say("busy: nothing failed in 100 s\n");
	return 5;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "gone") == 0)
		return cmd_gone(argv[2]);
	if (argc == 3 && strcmp(argv[1], "perm") == 0)
		return cmd_perm(argv[2]);
	if (argc == 4 && strcmp(argv[1], "daxmap") == 0)
		return cmd_daxmap(argv[2], atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "mem") == 0)
		return cmd_mem(atol(argv[2]), argv[3]);
	if (argc == 2 && strcmp(argv[1], "fork") == 0)
		return cmd_fork(argv[0]);
	if (argc == 2 && strcmp(argv[1], "nosys") == 0)
		return cmd_nosys();
	if (argc == 5 && strcmp(argv[1], "many") == 0)
		return cmd_many(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "busy") == 0)
		return cmd_busy(argv[2]);
	fprintf(stderr, "usage: faults fill|gone|perm|daxmap|mem|fork|nosys|many|busy ...\n");
	return 2;
}
