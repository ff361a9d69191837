/* File system calls on the read-only fixture: files DIR
 *
 * open/openat, read, pread64, readv, lseek, stat family, statx, close,
 * dup/dup2/dup3, fcntl, access/faccessat, readlink/readlinkat, getdents64,
 * getcwd/chdir/fchdir, statfs/fstatfs, umask. Opening for writing must fail
 * with EROFS when PIER_EXPECT_EROFS=1 (the guest), and succeed otherwise
 * (the host, where nothing is written). DIR must be an absolute path
 * without symbolic links (getcwd is compared with it). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/fs.h> /* RWF_* */

#include "check.h"

static const char *dir;
static int expect_erofs;
static char path_buf[PATH_MAX];

/* DIR/name, in a static buffer. */
static const char *P(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
	return path_buf;
}

static int open_ro(const char *name)
{
	return (int)CHECK_SYS(open(P(name), O_RDONLY));
}

static void test_open(void)
{
	int fd = open_ro("hello.txt");
	CHECK(fd >= 3);
	CHECK_SYS(close(fd));

	int dfd = (int)CHECK_SYS(open(dir, O_RDONLY | O_DIRECTORY));
	fd = (int)CHECK_SYS(openat(dfd, "hello.txt", O_RDONLY));
	CHECK_SYS(close(fd));
	fd = (int)CHECK_SYS(openat(dfd, "sub/b", O_RDONLY));
	CHECK_SYS(close(fd));
	/* An absolute path ignores dirfd; AT_FDCWD is the working directory. */
	fd = (int)CHECK_SYS(openat(-1, P("hello.txt"), O_RDONLY));
	CHECK_SYS(close(fd));
	fd = (int)CHECK_SYS(syscall(SYS_openat, AT_FDCWD, P("sub/a"), O_RDONLY));
	CHECK_SYS(close(fd));
	fd = (int)CHECK_SYS(syscall(SYS_open, P("sub/c"), O_RDONLY));
	CHECK_SYS(close(fd));
	/* Through the symbolic link, and not. */
	fd = (int)CHECK_SYS(openat(dfd, "link", O_RDONLY));
	CHECK_SYS(close(fd));
	CHECK_ERR(openat(dfd, "link", O_RDONLY | O_NOFOLLOW), ELOOP);

	CHECK_ERR(open(P("no-such-file"), O_RDONLY), ENOENT);
	CHECK_ERR(open(P("dangling"), O_RDONLY), ENOENT);
	CHECK_ERR(open(P("hello.txt/x"), O_RDONLY), ENOTDIR);
	CHECK_ERR(open(P("hello.txt"), O_RDONLY | O_DIRECTORY), ENOTDIR);
	CHECK_ERR(openat(dfd, "sub/zzz", O_RDONLY), ENOENT);
	CHECK_ERR(openat(12345, "hello.txt", O_RDONLY), EBADF);
	/* A relative path against a file descriptor that is not a directory. */
	fd = open_ro("hello.txt");
	CHECK_ERR(openat(fd, "x", O_RDONLY), ENOTDIR);
	CHECK_SYS(close(fd));
	CHECK_SYS(close(dfd));

	/* O_CLOEXEC shows in F_GETFD. */
	fd = (int)CHECK_SYS(open(P("hello.txt"), O_RDONLY | O_CLOEXEC));
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_SYS(close(fd));
	/* The lowest free descriptor is used. */
	int a = open_ro("sub/a"), b = open_ro("sub/b");
	CHECK_EQ(b, a + 1);
	CHECK_SYS(close(a));
	int c = open_ro("sub/c");
	CHECK_EQ(c, a);
	CHECK_SYS(close(b));
	CHECK_SYS(close(c));
	OK("open");
}

static void test_open_write(void)
{
	static const int modes[] = { O_WRONLY, O_RDWR, O_WRONLY | O_APPEND };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (expect_erofs) {
			CHECK_ERR(open(P("hello.txt"), modes[i]), EROFS);
		} else {
			int fd = (int)CHECK_SYS(open(P("hello.txt"), modes[i]));
			CHECK_SYS(close(fd));
		}
	}
	if (expect_erofs) {
		CHECK_ERR(open(P("new-file"), O_WRONLY | O_CREAT | O_EXCL, 0644), EROFS);
		CHECK_ERR(creat(P("new-file"), 0644), EROFS);
		CHECK_ERR(openat(AT_FDCWD, P("hello.txt"), O_WRONLY | O_TRUNC), EROFS);
		CHECK_ERR(open(P("new-file"), O_RDONLY), ENOENT);
	} else {
		int fd = (int)CHECK_SYS(open(P("new-file"), O_WRONLY | O_CREAT | O_EXCL, 0644));
		CHECK_SYS(close(fd));
		CHECK_SYS(unlink(P("new-file")));
	}
	OK("open_write");
}

static void test_read(void)
{
	char buf[64];
	int fd = open_ro("hello.txt");

	memset(buf, 'x', sizeof(buf));
	CHECK_EQ(read(fd, buf, 5), 5);
	CHECK_MEM(buf, "hello", 5);
	CHECK_EQ(buf[5], 'x');
	CHECK_EQ(read(fd, buf, sizeof(buf)), 7);
	CHECK_MEM(buf, ", pier\n", 7);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 0);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 0);
	CHECK_EQ(read(fd, buf, 0), 0);
	CHECK_EQ(syscall(SYS_read, fd, buf, sizeof(buf)), 0);
	CHECK_SYS(close(fd));

	fd = open_ro("link");
	CHECK_EQ(read(fd, buf, sizeof(buf)), 12);
	CHECK_MEM(buf, HELLO, 12);
	CHECK_SYS(close(fd));

	fd = open_ro("empty");
	CHECK_EQ(read(fd, buf, sizeof(buf)), 0);
	CHECK_SYS(close(fd));

	/* Many pages in one read, and page-straddling small reads. */
	static unsigned char big[PAGES_SIZE + 4096];
	fd = open_ro("pages.bin");
	size_t got = 0;
	for (;;) {
		ssize_t n = CHECK_SYS(read(fd, big + got, sizeof(big) - got));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	CHECK_EQ(got, PAGES_SIZE);
	for (size_t i = 0; i < PAGES_SIZE; i++)
		if (big[i] != pages_byte(i))
			FAIL("pages.bin byte %zu: 0x%02x, expected 0x%02x", i, big[i],
			     pages_byte(i));
	CHECK_SYS(close(fd));

	int dfd = (int)CHECK_SYS(open(dir, O_RDONLY | O_DIRECTORY));
	CHECK_ERR(read(dfd, buf, sizeof(buf)), EISDIR);
	CHECK_SYS(close(dfd));
	CHECK_ERR(read(9999, buf, 1), EBADF);
	OK("read");
}

static void test_pread_readv(void)
{
	char buf[64];
	int fd = open_ro("hello.txt");

	CHECK_EQ(pread(fd, buf, 4, 7), 4);
	CHECK_MEM(buf, "pier", 4);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
	CHECK_EQ(syscall(SYS_pread64, fd, buf, 100, 0), 12);
	CHECK_MEM(buf, HELLO, 12);
	CHECK_EQ(pread(fd, buf, 10, 12), 0);
	CHECK_EQ(pread(fd, buf, 10, 1000), 0);
	CHECK_EQ(pread(fd, buf, 10, 10), 2);
	CHECK_MEM(buf, "r\n", 2);
	CHECK_ERR(pread(fd, buf, 1, -1), EINVAL);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);

	char p1[5], p2[2], p3[100];
	struct iovec iov[3] = {
		{ p1, sizeof(p1) }, { p2, sizeof(p2) }, { p3, sizeof(p3) },
	};
	CHECK_EQ(readv(fd, iov, 3), 12);
	CHECK_MEM(p1, "hello", 5);
	CHECK_MEM(p2, ", ", 2);
	CHECK_MEM(p3, "pier\n", 5);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 12);
	CHECK_EQ(readv(fd, iov, 3), 0);
	CHECK_SYS(lseek(fd, 3, SEEK_SET));
	struct iovec iov2[2] = { { p1, 0 }, { p2, 2 } };
	CHECK_EQ(syscall(SYS_readv, fd, iov2, 2), 2);
	CHECK_MEM(p2, "lo", 2);
	CHECK_SYS(close(fd));

	/* Across page boundaries of pages.bin. */
	unsigned char pb[300];
	fd = open_ro("pages.bin");
	static const off_t offs[] = { 0, 4000, 4096, 8191, 3 * 4096 - 250, PAGES_SIZE - 300 };
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		CHECK_EQ(pread(fd, pb, sizeof(pb), offs[k]), sizeof(pb));
		for (size_t i = 0; i < sizeof(pb); i++)
			if (pb[i] != pages_byte((size_t)offs[k] + i))
				FAIL("pread pages.bin at %ld+%zu: 0x%02x, expected 0x%02x",
				     (long)offs[k], i, pb[i], pages_byte((size_t)offs[k] + i));
	}
	CHECK_EQ(pread(fd, pb, sizeof(pb), PAGES_SIZE - 10), 10);
	CHECK_SYS(close(fd));

	/* preadv at an offset, and preadv2 (-1: the file position). */
	fd = open_ro("hello.txt");
	struct iovec iov3[2] = { { p1, 4 }, { p2, 2 } };
	CHECK_EQ(syscall(SYS_preadv, fd, iov3, 2, 7L, 0L), 5);
	CHECK_MEM(p1, "pier", 4);
	CHECK_MEM(p2, "\n", 1);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
	CHECK_ERR(syscall(SYS_preadv, fd, iov3, 2, -1L, 0L), EINVAL);
	CHECK_EQ(syscall(SYS_preadv2, fd, iov3, 2, -1L, 0L, 0), 6);
	CHECK_MEM(p1, "hell", 4);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 6);
	CHECK_EQ(syscall(SYS_preadv2, fd, iov3, 2, 0L, 0L, RWF_HIPRI), 6); /* a hint */
	CHECK_ERR(syscall(SYS_preadv2, fd, iov3, 2, 0L, 0L, 0x40000000), EOPNOTSUPP);
	int pp[2];
	CHECK_SYS(pipe(pp));
	CHECK_ERR(syscall(SYS_preadv, pp[0], iov3, 2, 0L, 0L), ESPIPE);
	CHECK_SYS(close(pp[0]));
	CHECK_SYS(close(pp[1]));
	CHECK_SYS(close(fd));
	OK("pread_readv");
}

static void test_lseek(void)
{
	char buf[16];
	int fd = open_ro("hello.txt");

	CHECK_EQ(lseek(fd, 0, SEEK_END), 12);
	CHECK_EQ(lseek(fd, -5, SEEK_END), 7);
	CHECK_EQ(read(fd, buf, 4), 4);
	CHECK_MEM(buf, "pier", 4);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 11);
	CHECK_EQ(lseek(fd, -4, SEEK_CUR), 7);
	CHECK_EQ(lseek(fd, 2, SEEK_SET), 2);
	CHECK_EQ(read(fd, buf, 3), 3);
	CHECK_MEM(buf, "llo", 3);
	/* Beyond the end: allowed, reads return 0. */
	CHECK_EQ(lseek(fd, 100, SEEK_SET), 100);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 0);
	CHECK_EQ(lseek(fd, 10, SEEK_END), 22);
	CHECK_EQ(lseek(fd, 5, SEEK_CUR), 27);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 0);
	CHECK_EQ(syscall(SYS_lseek, fd, 1, SEEK_SET), 1);
	CHECK_ERR(lseek(fd, -1, SEEK_SET), EINVAL);
	CHECK_ERR(lseek(fd, -100, SEEK_END), EINVAL);
	CHECK_ERR(lseek(fd, 0, 12345), EINVAL);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 1);
	CHECK_SYS(close(fd));
	CHECK_ERR(lseek(fd, 0, SEEK_SET), EBADF);
	OK("lseek");
}

static void check_hello_stat(const struct stat *st, const char *what)
{
	if (!S_ISREG(st->st_mode))
		FAIL("%s: mode 0%o is not a regular file", what, (unsigned)st->st_mode);
	if (st->st_size != 12)
		FAIL("%s: size %lld, expected 12", what, (long long)st->st_size);
	if ((st->st_mode & 07777) != 0644)
		FAIL("%s: permissions 0%o, expected 0644", what, (unsigned)(st->st_mode & 07777));
	if (st->st_nlink < 1 || st->st_blksize <= 0 || st->st_ino == 0)
		FAIL("%s: nlink %lu blksize %ld ino %lu", what, (unsigned long)st->st_nlink,
		     (long)st->st_blksize, (unsigned long)st->st_ino);
	if (st->st_mtime < 1577836800) /* 2020-01-01: the harness just made it */
		FAIL("%s: mtime %lld", what, (long long)st->st_mtime);
}

static void test_stat(void)
{
	struct stat st, st2;
	int fd = open_ro("hello.txt");
	int dfd = (int)CHECK_SYS(open(dir, O_RDONLY | O_DIRECTORY));

	CHECK_SYS(fstat(fd, &st));
	check_hello_stat(&st, "fstat hello.txt");
	CHECK_SYS(syscall(SYS_fstat, fd, &st2));
	check_hello_stat(&st2, "SYS_fstat hello.txt");
	CHECK_EQ(st.st_ino, st2.st_ino);
	CHECK_EQ(st.st_dev, st2.st_dev);
	CHECK_SYS(stat(P("hello.txt"), &st2));
	check_hello_stat(&st2, "stat hello.txt");
	CHECK_EQ(st.st_ino, st2.st_ino);
	CHECK_SYS(syscall(SYS_stat, P("hello.txt"), &st2));
	check_hello_stat(&st2, "SYS_stat hello.txt");
	/* glibc's fstat is newfstatat(fd, "", AT_EMPTY_PATH). */
	CHECK_SYS(syscall(SYS_newfstatat, fd, "", &st2, AT_EMPTY_PATH));
	check_hello_stat(&st2, "newfstatat AT_EMPTY_PATH");
	CHECK_SYS(syscall(SYS_newfstatat, dfd, "hello.txt", &st2, 0));
	check_hello_stat(&st2, "newfstatat dfd hello.txt");
	CHECK_ERR(syscall(SYS_newfstatat, fd, "", &st2, 0), ENOENT);

	/* The symbolic link: followed by stat, not by lstat. */
	CHECK_SYS(stat(P("link"), &st2));
	check_hello_stat(&st2, "stat link");
	CHECK_EQ(st.st_ino, st2.st_ino);
	CHECK_SYS(lstat(P("link"), &st2));
	CHECK(S_ISLNK(st2.st_mode));
	CHECK_EQ(st2.st_size, 9); /* strlen("hello.txt") */
	CHECK(st2.st_ino != st.st_ino);
	CHECK_SYS(syscall(SYS_lstat, P("link"), &st2));
	CHECK(S_ISLNK(st2.st_mode));
	CHECK_SYS(fstatat(dfd, "link", &st2, AT_SYMLINK_NOFOLLOW));
	CHECK(S_ISLNK(st2.st_mode));
	CHECK_SYS(syscall(SYS_newfstatat, dfd, "link", &st2, AT_SYMLINK_NOFOLLOW));
	CHECK(S_ISLNK(st2.st_mode));
	CHECK_EQ(st2.st_size, 9);
	CHECK_SYS(fstatat(dfd, "link", &st2, 0));
	check_hello_stat(&st2, "fstatat link");
	CHECK_ERR(stat(P("dangling"), &st2), ENOENT);
	CHECK_SYS(lstat(P("dangling"), &st2));
	CHECK(S_ISLNK(st2.st_mode));
	CHECK_EQ(st2.st_size, 7); /* strlen("nowhere") */

	/* Directories, the empty file, errors. */
	CHECK_SYS(stat(dir, &st2));
	CHECK(S_ISDIR(st2.st_mode));
	CHECK(st2.st_nlink >= 2);
	CHECK_SYS(fstat(dfd, &st2));
	CHECK(S_ISDIR(st2.st_mode));
	CHECK_SYS(fstatat(dfd, "sub", &st2, 0));
	CHECK(S_ISDIR(st2.st_mode));
	CHECK_SYS(stat(P("sub/c"), &st2));
	CHECK(S_ISREG(st2.st_mode));
	CHECK_EQ(st2.st_size, 3);
	CHECK_SYS(stat(P("empty"), &st2));
	CHECK(S_ISREG(st2.st_mode));
	CHECK_EQ(st2.st_size, 0);
	CHECK_SYS(stat(P("pages.bin"), &st2));
	CHECK_EQ(st2.st_size, PAGES_SIZE);
	CHECK(st2.st_blocks * 512 >= PAGES_SIZE);
	CHECK_ERR(stat(P("no-such-file"), &st2), ENOENT);
	CHECK_ERR(stat(P("hello.txt/x"), &st2), ENOTDIR);
	CHECK_ERR(stat("", &st2), ENOENT);
	CHECK_ERR(fstat(9999, &st2), EBADF);
	CHECK_SYS(stat("/", &st2));
	CHECK(S_ISDIR(st2.st_mode));
	CHECK_SYS(close(fd));
	CHECK_SYS(close(dfd));
	OK("stat");
}

/* struct statx from <linux/stat.h>: musl 1.2.3 has neither the struct nor
 * the wrapper, and musl-gcc does not see the kernel headers. */
struct px_statx_ts {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};
struct px_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	struct px_statx_ts atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare2[14];
};
_Static_assert(sizeof(struct px_statx) == 256, "struct statx is 256 bytes");
#define PX_STATX_TYPE 0x1u
#define PX_STATX_MODE 0x2u
#define PX_STATX_INO 0x100u
#define PX_STATX_SIZE 0x200u
#define PX_STATX_BASIC_STATS 0x7ffu

/* statx itself, not a libc's fallback to stat: pier's kernel has it, as
 * every Linux since 4.11 does, so ENOSYS is a failure. */
static void test_statx(void)
{
	struct px_statx sx;
	struct stat st;

	memset(&sx, 0xee, sizeof(sx));
	CHECK_SYS(syscall(SYS_statx, AT_FDCWD, P("hello.txt"), 0, PX_STATX_BASIC_STATS, &sx));
	CHECK((sx.mask & (PX_STATX_TYPE | PX_STATX_MODE | PX_STATX_SIZE | PX_STATX_INO)) ==
	      (PX_STATX_TYPE | PX_STATX_MODE | PX_STATX_SIZE | PX_STATX_INO));
	CHECK(S_ISREG(sx.mode));
	CHECK_EQ(sx.mode & 07777, 0644);
	CHECK_EQ(sx.size, 12);
	CHECK_SYS(stat(P("hello.txt"), &st));
	CHECK_EQ(sx.ino, st.st_ino);
	CHECK_EQ(sx.mtime.tv_sec, st.st_mtime);

	int dfd = (int)CHECK_SYS(open(dir, O_RDONLY | O_DIRECTORY));
	CHECK_SYS(syscall(SYS_statx, dfd, "link", AT_SYMLINK_NOFOLLOW, PX_STATX_BASIC_STATS, &sx));
	CHECK(S_ISLNK(sx.mode));
	CHECK_EQ(sx.size, 9);
	CHECK_SYS(syscall(SYS_statx, dfd, "link", 0, PX_STATX_BASIC_STATS, &sx));
	CHECK(S_ISREG(sx.mode));
	CHECK_SYS(syscall(SYS_statx, dfd, "", AT_EMPTY_PATH, PX_STATX_BASIC_STATS, &sx));
	CHECK(S_ISDIR(sx.mode));
	CHECK_ERR(syscall(SYS_statx, dfd, "nope", 0, PX_STATX_BASIC_STATS, &sx), ENOENT);
	CHECK_SYS(close(dfd));
	OK("statx");
}

static void test_close(void)
{
	int fd = open_ro("hello.txt");
	char c;

	CHECK_EQ(close(fd), 0);
	CHECK_ERR(close(fd), EBADF);
	CHECK_ERR(read(fd, &c, 1), EBADF);
	CHECK_ERR(close(-1), EBADF);
	CHECK_ERR(syscall(SYS_close, 100000), EBADF);
	OK("close");
}

static void test_dup(void)
{
	char buf[16];
	int fd = open_ro("hello.txt");
	int spare = open_ro("sub/a");

	/* dup: lowest free number, shared offset, no close-on-exec. */
	CHECK_SYS(close(spare));
	CHECK_SYS(fcntl(fd, F_SETFD, FD_CLOEXEC));
	int d = (int)CHECK_SYS(dup(fd));
	CHECK_EQ(d, spare);
	CHECK_EQ(fcntl(d, F_GETFD), 0);
	CHECK_EQ(read(fd, buf, 5), 5);
	CHECK_EQ(lseek(d, 0, SEEK_CUR), 5);
	CHECK_EQ(read(d, buf, 2), 2);
	CHECK_MEM(buf, ", ", 2);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 7);

	/* dup2 to a chosen number, onto an open descriptor, onto itself. */
	CHECK_EQ(dup2(fd, 50), 50);
	CHECK_EQ(lseek(50, 0, SEEK_CUR), 7);
	int other = open_ro("sub/c");
	CHECK_EQ(dup2(d, other), other);
	CHECK_EQ(lseek(other, 0, SEEK_CUR), 7); /* now hello.txt, not sub/c */
	CHECK_EQ(dup2(fd, fd), fd);
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC); /* untouched */
	CHECK_ERR(dup2(9999, 51), EBADF);
	CHECK_ERR(dup2(fd, -1), EBADF);
	CHECK_ERR(dup(9999), EBADF);

	/* dup3: flags, and equal numbers refused. */
	CHECK_EQ(dup3(fd, 51, O_CLOEXEC), 51);
	CHECK_EQ(fcntl(51, F_GETFD), FD_CLOEXEC);
	CHECK_EQ(dup3(fd, 52, 0), 52);
	CHECK_EQ(fcntl(52, F_GETFD), 0);
	CHECK_ERR(dup3(fd, fd, 0), EINVAL);
	CHECK_ERR(syscall(SYS_dup3, fd, 53, 0x12345), EINVAL);
	CHECK_EQ(syscall(SYS_dup2, fd, 53), 53);
	int d4 = (int)CHECK_SYS(syscall(SYS_dup, fd));
	CHECK_EQ(lseek(d4, 0, SEEK_CUR), 7);

	/* Closing one copy leaves the others working. */
	CHECK_SYS(close(fd));
	CHECK_EQ(pread(50, buf, 5, 0), 5);
	CHECK_MEM(buf, "hello", 5);
	CHECK_SYS(close(50));
	CHECK_SYS(close(51));
	CHECK_SYS(close(52));
	CHECK_SYS(close(53));
	CHECK_SYS(close(d4));
	CHECK_SYS(close(other));
	CHECK_SYS(close(d));
	OK("dup");
}

static void test_fcntl(void)
{
	int fd = open_ro("hello.txt");

	CHECK_EQ(fcntl(fd, F_GETFD), 0);
	CHECK_SYS(fcntl(fd, F_SETFD, FD_CLOEXEC));
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_SYS(fcntl(fd, F_SETFD, 0));
	CHECK_EQ(fcntl(fd, F_GETFD), 0);

	int fl = (int)CHECK_SYS(fcntl(fd, F_GETFL));
	CHECK_EQ(fl & O_ACCMODE, O_RDONLY);
	CHECK_EQ(fl & O_NONBLOCK, 0);
	CHECK_SYS(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
	CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	/* F_SETFL cannot change the access mode. */
	CHECK_SYS(fcntl(fd, F_SETFL, O_RDWR));
	CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);

	int d = (int)CHECK_SYS(fcntl(fd, F_DUPFD, 20));
	CHECK(d >= 20);
	CHECK_EQ(fcntl(d, F_GETFD), 0);
	int d2 = (int)CHECK_SYS(fcntl(fd, F_DUPFD, 20));
	CHECK(d2 > 20 && d2 != d);
	int d3 = (int)CHECK_SYS(fcntl(fd, F_DUPFD_CLOEXEC, 30));
	CHECK(d3 >= 30);
	CHECK_EQ(fcntl(d3, F_GETFD), FD_CLOEXEC);
	CHECK_EQ(lseek(fd, 3, SEEK_SET), 3);
	CHECK_EQ(lseek(d3, 0, SEEK_CUR), 3);
	CHECK_ERR(fcntl(9999, F_GETFD), EBADF);
	CHECK_ERR(fcntl(fd, F_DUPFD, -1), EINVAL);
	CHECK_SYS(close(d));
	CHECK_SYS(close(d2));
	CHECK_SYS(close(d3));

	int dfd = (int)CHECK_SYS(open(dir, O_RDONLY | O_DIRECTORY));
	CHECK_EQ(fcntl(dfd, F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK_SYS(close(dfd));
	CHECK_SYS(close(fd));
	OK("fcntl");
}

static void test_access(void)
{
	int dfd = (int)CHECK_SYS(open(dir, O_RDONLY | O_DIRECTORY));

	CHECK_EQ(access(P("hello.txt"), F_OK), 0);
	CHECK_EQ(access(P("hello.txt"), R_OK), 0);
	CHECK_EQ(syscall(SYS_access, P("hello.txt"), R_OK), 0);
	/* Not even root may execute a file without any x bit. */
	CHECK_ERR(access(P("hello.txt"), X_OK), EACCES);
	CHECK_EQ(access(P("sub"), X_OK), 0);
	CHECK_EQ(access(P("link"), R_OK), 0);
	CHECK_ERR(access(P("dangling"), F_OK), ENOENT);
	CHECK_ERR(access(P("no-such-file"), F_OK), ENOENT);
	CHECK_ERR(access(P("hello.txt/x"), F_OK), ENOTDIR);
	CHECK_EQ(faccessat(dfd, "sub/a", R_OK, 0), 0);
	CHECK_EQ(syscall(SYS_faccessat, dfd, "sub/b", R_OK), 0);
	CHECK_ERR(faccessat(dfd, "sub/zzz", F_OK, 0), ENOENT);
	CHECK_ERR(access(P("hello.txt"), 0x100), EINVAL);
	CHECK_SYS(close(dfd));
	OK("access");
}

static void test_readlink(void)
{
	char buf[64];
	int dfd = (int)CHECK_SYS(open(dir, O_RDONLY | O_DIRECTORY));

	memset(buf, '#', sizeof(buf));
	CHECK_EQ(readlink(P("link"), buf, sizeof(buf)), 9);
	CHECK_MEM(buf, "hello.txt#", 10); /* not terminated */
	CHECK_EQ(readlink(P("link"), buf, 4), 4);
	CHECK_MEM(buf, "hell", 4);
	CHECK_EQ(syscall(SYS_readlink, P("dangling"), buf, sizeof(buf)), 7);
	CHECK_MEM(buf, "nowhere", 7);
	CHECK_EQ(readlinkat(dfd, "link", buf, sizeof(buf)), 9);
	CHECK_MEM(buf, "hello.txt", 9);
	CHECK_EQ(syscall(SYS_readlinkat, dfd, "dangling", buf, sizeof(buf)), 7);
	CHECK_ERR(readlink(P("hello.txt"), buf, sizeof(buf)), EINVAL);
	CHECK_ERR(readlink(P("sub"), buf, sizeof(buf)), EINVAL);
	CHECK_ERR(readlink(P("no-such-file"), buf, sizeof(buf)), ENOENT);
	/* musl turns a size of 0 into 1: ask the kernel itself. */
	CHECK_ERR(syscall(SYS_readlinkat, dfd, "link", buf, 0), EINVAL);
	CHECK_SYS(close(dfd));
	OK("readlink");
}

struct px_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static void test_getdents(void)
{
	/* Through opendir/readdir (getdents64 underneath). */
	DIR *d = opendir(P("sub"));
	CHECK(d != NULL);
	int seen = 0, dots = 0;
	struct dirent *e;
	for (errno = 0; (e = readdir(d)) != NULL; errno = 0) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
			dots++;
			CHECK_EQ(e->d_type, DT_DIR);
			continue;
		}
		if (strlen(e->d_name) != 1 || e->d_name[0] < 'a' || e->d_name[0] > 'c')
			FAIL("unexpected entry sub/%s", e->d_name);
		int bit = 1 << (e->d_name[0] - 'a');
		if (seen & bit)
			FAIL("sub/%s listed twice", e->d_name);
		seen |= bit;
		CHECK_EQ(e->d_type, DT_REG);
		CHECK(e->d_ino != 0);
	}
	CHECK_EQ(errno, 0);
	CHECK_EQ(seen, 7);
	CHECK_EQ(dots, 2);
	rewinddir(d);
	int again = 0;
	while ((e = readdir(d)) != NULL)
		again++;
	CHECK_EQ(again, 5);
	CHECK_SYS(closedir(d));

	/* The types in the top directory. */
	d = opendir(dir);
	CHECK(d != NULL);
	int found = 0;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, "hello.txt")) {
			CHECK_EQ(e->d_type, DT_REG);
			found |= 1;
		} else if (!strcmp(e->d_name, "sub")) {
			CHECK_EQ(e->d_type, DT_DIR);
			found |= 2;
		} else if (!strcmp(e->d_name, "link")) {
			CHECK_EQ(e->d_type, DT_LNK);
			found |= 4;
		} else if (!strcmp(e->d_name, "dangling")) {
			CHECK_EQ(e->d_type, DT_LNK);
			found |= 8;
		}
	}
	CHECK_EQ(found, 15);
	CHECK_SYS(closedir(d));

	/* Raw getdents64 with a small buffer: many calls for many/ (the
	 * offsets must carry on where the last call stopped). */
	int fd = (int)CHECK_SYS(open(P("many"), O_RDONLY | O_DIRECTORY));
	static unsigned char seen_many[MANY_COUNT];
	_Alignas(8) char buf[128];
	int calls = 0, entries = 0;
	for (;;) {
		long n = CHECK_SYS(syscall(SYS_getdents64, fd, buf, sizeof(buf)));
		if (n == 0)
			break;
		calls++;
		for (long off = 0; off < n;) {
			struct px_dirent64 *de = (struct px_dirent64 *)(buf + off);
			CHECK(de->d_reclen >= offsetof(struct px_dirent64, d_name) + 2 &&
			      off + de->d_reclen <= n);
			CHECK_EQ(de->d_reclen % 8, 0);
			off += de->d_reclen;
			entries++;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char *end;
			long k = strtol(de->d_name + 1, &end, 10);
			if (de->d_name[0] != 'f' || *end || strlen(de->d_name) != 4 || k < 0 ||
			    k >= MANY_COUNT)
				FAIL("unexpected entry many/%s", de->d_name);
			if (seen_many[k]++)
				FAIL("many/%s listed twice", de->d_name);
			CHECK_EQ(de->d_type, DT_REG);
		}
	}
	CHECK_EQ(entries, MANY_COUNT + 2);
	CHECK(calls > 10);
	for (int k = 0; k < MANY_COUNT; k++)
		if (!seen_many[k])
			FAIL("many/f%03d not listed", k);
	CHECK_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
	/* Back to the start with lseek; a buffer too small for one entry. */
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK(syscall(SYS_getdents64, fd, buf, sizeof(buf)) > 0);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_ERR(syscall(SYS_getdents64, fd, buf, 8), EINVAL);
	CHECK_SYS(close(fd));
	fd = open_ro("hello.txt");
	CHECK_ERR(syscall(SYS_getdents64, fd, buf, sizeof(buf)), ENOTDIR);
	CHECK_SYS(close(fd));
	OK("getdents");
}

static void test_cwd(void)
{
	char buf[PATH_MAX], want[PATH_MAX];
	char *saved = getcwd(NULL, 0);
	CHECK(saved != NULL);

	CHECK_SYS(chdir(dir));
	CHECK(getcwd(buf, sizeof(buf)) == buf);
	CHECK_STR(buf, dir);
	/* The raw call returns the length, terminating NUL included. */
	CHECK_EQ(syscall(SYS_getcwd, buf, sizeof(buf)), strlen(dir) + 1);
	errno = 0;
	CHECK(getcwd(buf, 2) == NULL && errno == ERANGE);
	CHECK_ERR(syscall(SYS_getcwd, buf, 2), ERANGE);

	/* Relative paths now start here. */
	int fd = (int)CHECK_SYS(open("hello.txt", O_RDONLY));
	CHECK_SYS(close(fd));
	fd = (int)CHECK_SYS(openat(AT_FDCWD, "sub/a", O_RDONLY));
	CHECK_SYS(close(fd));
	int dfd = (int)CHECK_SYS(open(".", O_RDONLY | O_DIRECTORY));

	CHECK_SYS(chdir("sub"));
	snprintf(want, sizeof(want), "%s/sub", dir);
	CHECK(getcwd(buf, sizeof(buf)) != NULL);
	CHECK_STR(buf, want);
	CHECK_EQ(access("a", R_OK), 0);
	CHECK_SYS(chdir(".."));
	CHECK(getcwd(buf, sizeof(buf)) != NULL);
	CHECK_STR(buf, dir);

	CHECK_SYS(chdir("/"));
	CHECK(getcwd(buf, sizeof(buf)) != NULL);
	CHECK_STR(buf, "/");
	CHECK_SYS(fchdir(dfd));
	CHECK(getcwd(buf, sizeof(buf)) != NULL);
	CHECK_STR(buf, dir);
	CHECK_EQ(access("link", R_OK), 0);

	CHECK_ERR(chdir("hello.txt"), ENOTDIR);
	CHECK_ERR(chdir("no-such-dir"), ENOENT);
	fd = open_ro("hello.txt");
	CHECK_ERR(fchdir(fd), ENOTDIR);
	CHECK_SYS(close(fd));
	CHECK_ERR(fchdir(9999), EBADF);
	CHECK(getcwd(buf, sizeof(buf)) != NULL);
	CHECK_STR(buf, dir);

	CHECK_SYS(chdir(saved));
	free(saved);
	CHECK_SYS(close(dfd));
	OK("cwd");
}

static void test_statfs(void)
{
	struct statfs a, b;
	int fd = open_ro("hello.txt");

	memset(&a, 0, sizeof(a));
	memset(&b, 0xff, sizeof(b));
	CHECK_SYS(statfs(dir, &a));
	CHECK(a.f_bsize > 0);
	CHECK(a.f_namelen > 0);
	CHECK(a.f_bfree <= a.f_blocks);
	CHECK(a.f_bavail <= a.f_blocks);
	CHECK_SYS(fstatfs(fd, &b));
	CHECK_EQ(a.f_type, b.f_type);
	CHECK_EQ(a.f_bsize, b.f_bsize);
	CHECK_EQ(a.f_namelen, b.f_namelen);
	CHECK_SYS(syscall(SYS_statfs, P("sub/a"), &b));
	CHECK_EQ(a.f_type, b.f_type);
	CHECK_SYS(syscall(SYS_fstatfs, fd, &b));
	CHECK_EQ(a.f_type, b.f_type);
	CHECK_ERR(statfs(P("no-such-file"), &b), ENOENT);
	CHECK_ERR(fstatfs(9999, &b), EBADF);
	CHECK_SYS(close(fd));
	OK("statfs");
}

static void test_umask(void)
{
	mode_t old = umask(022);
	CHECK_EQ(umask(077), 022);
	CHECK_EQ(umask(0), 077);
	CHECK_EQ(syscall(SYS_umask, 0777), 0);
	CHECK_EQ(umask(01777) & 0777, 0777); /* only the permission bits stay */
	CHECK_EQ(umask(old), 0777);
	CHECK_EQ(umask(old), old);
	OK("umask");
}

int main(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] != '/') {
		fprintf(stderr, "usage: files /ABSOLUTE/FIXTURE/DIR\n");
		return 2;
	}
	dir = argv[1];
	const char *e = getenv("PIER_EXPECT_EROFS");
	expect_erofs = e && !strcmp(e, "1");

	test_open();
	test_open_write();
	test_read();
	test_pread_readv();
	test_lseek();
	test_stat();
	test_statx();
	test_close();
	test_dup();
	test_fcntl();
	test_access();
	test_readlink();
	test_getdents();
	test_cwd();
	test_statfs();
	test_umask();
	printf("files: all passed\n");
	return 0;
}
