/* Unit tests for host/net/files.c (NET_SENDFILE's host side): a share in
 * a scratch directory, files named by tag, path and inode number, sent to
 * one end of a non-blocking socket pair and read back from the other. The
 * bytes, the path and inode checks (nothing outside the share, by "..",
 * absolute or escaping symlinks), malformed requests, a file renamed over,
 * a FIFO (never opened), the bound on open files and its LRU, and no
 * descriptor left behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "scratch_dir.h"
#include "net/files.h"

#define BIG (3u << 20) /* the large file: 3 MiB */

/* The scratch tree: top/share is the share "data", top/other the share
 * "other", top/outside a file outside both. */
static char top[64], share[96], other[96], outside[96];
static struct net_policy pol;
static struct net_files files;
static int sp[2];       /* sp[0]: where the files are sent; sp[1]: read here */
static int fds_before;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/test_net_files.XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(share, sizeof(share), "%s/share", top);
	snprintf(other, sizeof(other), "%s/other", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	assert_int_equal(mkdir(share, 0755), 0);
	assert_int_equal(mkdir(other, 0755), 0);
	scratch_put_file(top, "outside", "the outside file's bytes");
	memset(&pol, 0, sizeof(pol));
	pol.mode = NET_MODE_HOST;
	pol.nshares = 2;
	pol.shares[0] = (struct net_share){ "data", share };
	pol.shares[1] = (struct net_share){ "other", other };
	fds_before = count_fds();
	net_files_init(&files, &pol);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp), 0);
	return 0;
}

/* Closes everything: no descriptor of net_files may stay open. */
static int teardown(void **state)
{
	(void)state;
	net_files_close(&files);
	close(sp[0]);
	close(sp[1]);
	int left = count_fds();
	scratch_remove_tree(top);
	assert_int_equal(left, fds_before);
	return 0;
}

static uint64_t ino_of(const char *dir, const char *name)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(stat(p, &st), 0);
	return (uint64_t)st.st_ino;
}

/* A request's tail: tag and path, each NUL-ended, in a buffer of exactly
 * its length (so ASan sees any read past it); freed by the caller. */
static uint8_t *tail_of(const char *tag, const char *path, size_t *len)
{
	size_t a = strlen(tag) + 1, b = strlen(path) + 1;
	uint8_t *t = malloc(a + b);
	memcpy(t, tag, a);
	memcpy(t + a, path, b);
	*len = a + b;
	return t;
}

static int64_t send_file(const char *tag, const char *path, uint64_t ino, int64_t off, int64_t count)
{
	size_t len;
	uint8_t *t = tail_of(tag, path, &len);
	int64_t r = net_files_send(&files, sp[0], t, len, ino, off, count);
	free(t);
	return r;
}

/* Reads what is waiting on sp[1] into buf (at most cap bytes); how much. */
static size_t drain(uint8_t *buf, size_t cap)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t n = read(sp[1], buf + got, cap - got);
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
		assert_true(n > 0);
		got += (size_t)n;
	}
	return got;
}

/* Nothing waits on sp[1]. */
static void nothing_sent(void)
{
	char c;
	assert_int_equal(recv(sp[1], &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* Sends count bytes of the file from off, as a server would (advancing by
 * what each call sent, reading when the socket is full), and checks that
 * exactly want[0..count) arrives. */
static void send_and_check(const char *tag, const char *path, uint64_t ino, int64_t off,
			   size_t count, const uint8_t *want)
{
	uint8_t *got = malloc(count + 1);
	size_t sent = 0, recvd = 0;
	int idle = 0;
	while (recvd < count) {
		if (sent < count) {
			int64_t n = send_file(tag, path, ino, off + (int64_t)sent, (int64_t)(count - sent));
			if (n != -EAGAIN) {
				assert_true(n > 0);
				assert_true((size_t)n <= count - sent);
				sent += (size_t)n;
			}
		}
		size_t d = drain(got + recvd, count - recvd);
		recvd += d;
		/* Neither side moving twice in a row would loop forever. */
		idle = d ? 0 : idle + 1;
		assert_true(idle < 1000);
	}
	assert_int_equal(sent, count);
	assert_int_equal(recvd, count);
	assert_memory_equal(got, want, count);
	free(got);
	nothing_sent();
}

/* Bytes that differ from place to place (no period a wrong offset hides). */
static uint8_t *varied(size_t n)
{
	uint8_t *b = malloc(n);
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)(x >> 24);
	}
	return b;
}

static void put_bytes(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	for (size_t done = 0; done < n;) {
		ssize_t w = write(fd, b + done, n - done);
		assert_true(w > 0);
		done += (size_t)w;
	}
	close(fd);
}

static void test_the_bytes_are_the_files(void **state)
{
	(void)state;
	uint8_t *b = varied(BIG);
	put_bytes(share, "big", b, BIG);
	uint64_t ino = ino_of(share, "big");
	send_and_check("data", "big", ino, 0, BIG, b);
	/* From the middle, for less than the rest. */
	size_t off = (1u << 20) + 12345, count = (1u << 20) + 777;
	send_and_check("data", "big", ino, (int64_t)off, count, b + off);
	/* A count past the end: the rest of the file. */
	off = BIG - 100000;
	send_and_check("data", "big", ino, (int64_t)off, 100000, b + off);
	int64_t r = send_file("data", "big", ino, (int64_t)off, 1 << 30);
	assert_int_equal(r, 100000);
	uint8_t tail[100000];
	assert_int_equal(drain(tail, sizeof(tail)), 100000);
	assert_memory_equal(tail, b + off, 100000);
	nothing_sent();
	free(b);
}

static void test_a_subdirectory_and_a_second_share(void **state)
{
	(void)state;
	assert_int_equal(mkdir(strcat(strcpy((char[128]){ 0 }, share), "/sub"), 0755), 0);
	scratch_put_file(share, "sub/f", "in data's sub");
	scratch_put_file(share, "f", "data's f");
	scratch_put_file(other, "f", "other's f");
	uint64_t sub = ino_of(share, "sub/f"), df = ino_of(share, "f"), of = ino_of(other, "f");
	send_and_check("data", "sub/f", sub, 0, 13, (const uint8_t *)"in data's sub");
	/* ".." that stays beneath the share is a path like any other. */
	send_and_check("data", "sub/../f", df, 0, 8, (const uint8_t *)"data's f");
	send_and_check("data", "f", df, 0, 8, (const uint8_t *)"data's f");
	/* The same path in the other share is another file (the cache knows). */
	send_and_check("other", "f", of, 0, 9, (const uint8_t *)"other's f");
	assert_int_equal(send_file("other", "f", df, 0, 100), -ESTALE);
	assert_int_equal(send_file("data", "f", of, 0, 100), -ESTALE);
	send_and_check("data", "f", df, 2, 6, (const uint8_t *)"ta's f");
	nothing_sent();
}

static void test_not_that_file_is_stale(void **state)
{
	(void)state;
	scratch_put_file(share, "f", "hello");
	assert_int_equal(mkdir(strcat(strcpy((char[128]){ 0 }, share), "/dir"), 0755), 0);
	uint64_t ino = ino_of(share, "f");
	/* A wrong inode number, before the file is open and after. */
	assert_int_equal(send_file("data", "f", ino + 1, 0, 5), -ESTALE);
	assert_int_equal(send_file("data", "f", 0, 0, 5), -ESTALE);
	send_and_check("data", "f", ino, 0, 5, (const uint8_t *)"hello");
	assert_int_equal(send_file("data", "f", ino + 1, 0, 5), -ESTALE);
	/* A directory, with its own inode number; the share itself. */
	assert_int_equal(send_file("data", "dir", ino_of(share, "dir"), 0, 5), -ESTALE);
	assert_int_equal(send_file("data", "", ino_of(top, "share"), 0, 5), -ESTALE);
	assert_int_equal(send_file("data", ".", ino_of(top, "share"), 0, 5), -ESTALE);
	/* A missing file, and one below a file. */
	assert_int_equal(send_file("data", "missing", ino, 0, 5), -ESTALE);
	assert_int_equal(send_file("data", "f/x", ino, 0, 5), -ESTALE);
	/* An unknown tag, and a tag that is a prefix of a known one. */
	assert_int_equal(send_file("nope", "f", ino, 0, 5), -ESTALE);
	assert_int_equal(send_file("dat", "f", ino, 0, 5), -ESTALE);
	assert_int_equal(send_file("", "f", ino, 0, 5), -ESTALE);
	nothing_sent();
}

static void test_nothing_outside_the_share(void **state)
{
	(void)state;
	char p[256];
	uint64_t out = ino_of(top, "outside");
	struct stat pw;
	assert_int_equal(stat("/etc/passwd", &pw), 0);
	/* By "..", with the outside file's own inode number. */
	assert_int_equal(send_file("data", "../outside", out, 0, 100), -ESTALE);
	assert_int_equal(send_file("data", "../share/../outside", out, 0, 100), -ESTALE);
	assert_int_equal(send_file("data", "../../../../../../../../etc/passwd", pw.st_ino, 0, 100),
			 -ESTALE);
	/* By an absolute path. */
	assert_int_equal(send_file("data", outside, out, 0, 100), -ESTALE);
	assert_int_equal(send_file("data", "/etc/passwd", pw.st_ino, 0, 100), -ESTALE);
	/* By absolute symlinks inside the share. */
	snprintf(p, sizeof(p), "%s/abs", share);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	assert_int_equal(send_file("data", "abs", pw.st_ino, 0, 100), -ESTALE);
	snprintf(p, sizeof(p), "%s/abs2", share);
	assert_int_equal(symlink(outside, p), 0);
	assert_int_equal(send_file("data", "abs2", out, 0, 100), -ESTALE);
	/* By relative symlinks that climb out (as the last component, and as
	 * a directory on the way). */
	snprintf(p, sizeof(p), "%s/rel", share);
	assert_int_equal(symlink("../../etc/passwd", p), 0);
	assert_int_equal(send_file("data", "rel", pw.st_ino, 0, 100), -ESTALE);
	snprintf(p, sizeof(p), "%s/rel2", share);
	assert_int_equal(symlink("../../../../../../../../etc/passwd", p), 0);
	assert_int_equal(send_file("data", "rel2", pw.st_ino, 0, 100), -ESTALE);
	snprintf(p, sizeof(p), "%s/rel3", share);
	assert_int_equal(symlink("../outside", p), 0);
	assert_int_equal(send_file("data", "rel3", out, 0, 100), -ESTALE);
	snprintf(p, sizeof(p), "%s/up", share);
	assert_int_equal(symlink("..", p), 0);
	assert_int_equal(send_file("data", "up/outside", out, 0, 100), -ESTALE);
	/* By a magic link: absolute, and beneath a share that is /proc/self. */
	assert_int_equal(send_file("data", "/proc/self/fd/0", 0, 0, 100), -ESTALE);
	int fd = open(outside, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct net_policy proc = pol;
	proc.shares[1] = (struct net_share){ "proc", "/proc/self" };
	net_files_close(&files);
	net_files_init(&files, &proc);
	snprintf(p, sizeof(p), "fd/%d", fd);
	assert_int_equal(send_file("proc", p, out, 0, 100), -ESTALE);
	net_files_close(&files);
	net_files_init(&files, &pol);
	close(fd);
	/* Never a byte of them. */
	nothing_sent();
}

static void test_a_symlink_inside_the_share_works(void **state)
{
	(void)state;
	char p[256];
	scratch_put_file(share, "target", "the target");
	assert_int_equal(mkdir(strcat(strcpy((char[128]){ 0 }, share), "/sub"), 0755), 0);
	uint64_t ino = ino_of(share, "target");
	snprintf(p, sizeof(p), "%s/link", share);
	assert_int_equal(symlink("target", p), 0);
	snprintf(p, sizeof(p), "%s/sub/link", share);
	assert_int_equal(symlink("../target", p), 0);
	snprintf(p, sizeof(p), "%s/sublink", share);
	assert_int_equal(symlink("sub", p), 0);
	send_and_check("data", "link", ino, 0, 10, (const uint8_t *)"the target");
	send_and_check("data", "sub/link", ino, 4, 6, (const uint8_t *)"target");
	send_and_check("data", "sublink/link", ino, 0, 3, (const uint8_t *)"the");
	/* The link's own inode number is not the file's. */
	struct stat st;
	snprintf(p, sizeof(p), "%s/link", share);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(send_file("data", "link", st.st_ino, 0, 10), -ESTALE);
	nothing_sent();
}

static void test_malformed_requests_are_invalid(void **state)
{
	(void)state;
	scratch_put_file(share, "f", "hello");
	uint64_t ino = ino_of(share, "f");
	uint8_t *t = malloc(16);
	/* Empty; no NUL after the tag; no NUL after the path. */
	assert_int_equal(net_files_send(&files, sp[0], t, 0, ino, 0, 5), -EINVAL);
	memcpy(t, "data", 4);
	assert_int_equal(net_files_send(&files, sp[0], t, 4, ino, 0, 5), -EINVAL);
	memcpy(t, "data\0", 5);
	assert_int_equal(net_files_send(&files, sp[0], t, 5, ino, 0, 5), -EINVAL);
	memcpy(t, "data\0f", 6);
	assert_int_equal(net_files_send(&files, sp[0], t, 6, ino, 0, 5), -EINVAL);
	/* The NUL is there, but past tail_len. */
	memcpy(t, "data\0f\0", 7);
	assert_int_equal(net_files_send(&files, sp[0], t, 6, ino, 0, 5), -EINVAL);
	/* Well formed, the same bytes: it works. */
	assert_int_equal(net_files_send(&files, sp[0], t, 7, ino, 0, 5), 5);
	uint8_t got[8];
	assert_int_equal(drain(got, sizeof(got)), 5);
	assert_memory_equal(got, "hello", 5);
	free(t);
	/* A negative offset or count. */
	assert_int_equal(send_file("data", "f", ino, -1, 5), -EINVAL);
	assert_int_equal(send_file("data", "f", ino, INT64_MIN, 5), -EINVAL);
	assert_int_equal(send_file("data", "f", ino, 0, -1), -EINVAL);
	assert_int_equal(send_file("data", "f", ino, 0, INT64_MIN), -EINVAL);
	/* Malformed first: whatever it names. */
	assert_int_equal(send_file("data", "missing", ino, -1, 5), -EINVAL);
	assert_int_equal(send_file("data", "missing", ino, 0, -1), -EINVAL);
	assert_int_equal(send_file("nope", "f", ino, -1, 5), -EINVAL);
	/* A path longer than any: 5000 bytes, and 4096 (no room for its NUL
	 * in PATH_MAX). 4095 is a path, just not one that is there. */
	char *longp = malloc(5001);
	for (int i = 0; i < 5000; i++)
		longp[i] = i % 2 ? '/' : 'a';
	longp[5000] = 0;
	assert_int_equal(send_file("data", longp, ino, 0, 5), -EINVAL);
	longp[4096] = 0;
	assert_int_equal(send_file("data", longp, ino, 0, 5), -EINVAL);
	longp[4095] = 0;
	assert_int_equal(send_file("data", longp, ino, 0, 5), -ESTALE);
	free(longp);
	nothing_sent();
}

/* path in the share, swapped for a new file with other bytes by rename(2). */
static void rename_over(const char *path, const char *bytes)
{
	char from[256], to[256];
	scratch_put_file(share, "new.tmp", bytes);
	snprintf(from, sizeof(from), "%s/new.tmp", share);
	snprintf(to, sizeof(to), "%s/%s", share, path);
	assert_int_equal(rename(from, to), 0);
}

static void test_a_file_renamed_over_is_another(void **state)
{
	(void)state;
	scratch_put_file(share, "f", "old bytes");
	uint64_t old = ino_of(share, "f");
	send_and_check("data", "f", old, 0, 9, (const uint8_t *)"old bytes");
	rename_over("f", "new bytes");
	uint64_t new = ino_of(share, "f");
	assert_true(new != old); /* the old file is still open: its number is not free */
	/* The new inode is the new file, never the old file open already. */
	send_and_check("data", "f", new, 0, 9, (const uint8_t *)"new bytes");
	send_and_check("data", "f", new, 4, 5, (const uint8_t *)"bytes");
	nothing_sent();
}

/* The old inode, once its path names another file, is stale, whether it
 * was open already or not. */
static void test_the_old_inode_of_a_path_renamed_over_is_stale(void **state)
{
	(void)state;
	scratch_put_file(share, "g", "first");
	uint64_t first = ino_of(share, "g");
	rename_over("g", "second");
	/* Not open before: stale. */
	assert_int_equal(send_file("data", "g", first, 0, 6), -ESTALE);
	uint64_t second = ino_of(share, "g");
	send_and_check("data", "g", second, 0, 6, (const uint8_t *)"second");
	rename_over("g", "third");
	uint64_t third = ino_of(share, "g");
	send_and_check("data", "g", third, 0, 5, (const uint8_t *)"third");
	/* Open before: as stale, never the old fd for the old inode. */
	assert_int_equal(send_file("data", "g", second, 0, 6), -ESTALE);
	nothing_sent();
}

static void test_more_files_than_stay_open(void **state)
{
	(void)state;
	enum { N = NET_FILES_OPEN + 8 };
	uint64_t ino[N];
	char name[N][16], bytes[N][32];
	for (int i = 0; i < N; i++) {
		snprintf(name[i], sizeof(name[i]), "f%d", i);
		snprintf(bytes[i], sizeof(bytes[i]), "file number %d", i);
		scratch_put_file(share, name[i], bytes[i]);
		ino[i] = ino_of(share, name[i]);
	}
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N; i++) {
			int j = round == 1 ? N - 1 - i : i;
			send_and_check("data", name[j], ino[j], 0, strlen(bytes[j]),
				       (const uint8_t *)bytes[j]);
		}
	/* No more than NET_FILES_OPEN stay open (and the share's directory). */
	assert_int_equal(count_fds(), fds_before + 2 + NET_FILES_OPEN + 1);
	nothing_sent();
}

/* Whether a file of the share is among those open. */
static bool is_open(const char *path)
{
	for (int i = 0; i < NET_FILES_OPEN; i++)
		if (files.open[i].fd >= 0 && strcmp(files.open[i].path, path) == 0)
			return true;
	return false;
}

static void test_the_least_recently_used_file_makes_room(void **state)
{
	(void)state;
	enum { N = NET_FILES_OPEN + 2 };
	uint64_t ino[N];
	char name[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(name[i], sizeof(name[i]), "f%d", i);
		scratch_put_file(share, name[i], "x");
		ino[i] = ino_of(share, name[i]);
	}
	for (int i = 0; i < NET_FILES_OPEN; i++)
		send_and_check("data", name[i], ino[i], 0, 1, (const uint8_t *)"x");
	for (int i = 0; i < NET_FILES_OPEN; i++)
		assert_true(is_open(name[i]));
	/* f0 used again: f1 is the least recently used, then f2. */
	send_and_check("data", name[0], ino[0], 0, 1, (const uint8_t *)"x");
	send_and_check("data", name[NET_FILES_OPEN], ino[NET_FILES_OPEN], 0, 1, (const uint8_t *)"x");
	assert_true(is_open(name[0]));
	assert_false(is_open(name[1]));
	assert_true(is_open(name[2]));
	send_and_check("data", name[N - 1], ino[N - 1], 0, 1, (const uint8_t *)"x");
	assert_true(is_open(name[0]));
	assert_false(is_open(name[2]));
	assert_true(is_open(name[3]));
	/* A failed request evicts nothing. */
	assert_int_equal(send_file("data", "missing", 1, 0, 1), -ESTALE);
	assert_int_equal(send_file("data", name[3], ino[3] + 1000, 0, 1), -ESTALE);
	for (int i = 3; i < N; i++)
		assert_true(is_open(name[i]));
	assert_int_equal(count_fds(), fds_before + 2 + NET_FILES_OPEN + 1);
}

static void test_at_or_past_the_end_is_zero(void **state)
{
	(void)state;
	scratch_put_file(share, "f", "hello");
	scratch_put_file(share, "empty", "");
	uint64_t ino = ino_of(share, "f");
	assert_int_equal(send_file("data", "f", ino, 5, 100), 0);
	assert_int_equal(send_file("data", "f", ino, 6, 100), 0);
	assert_int_equal(send_file("data", "f", ino, 1 << 20, 100), 0);
	assert_int_equal(send_file("data", "f", ino, 1LL << 40, INT64_MAX), 0);
	assert_int_equal(send_file("data", "empty", ino_of(share, "empty"), 0, 100), 0);
	/* A count of 0, anywhere. */
	assert_int_equal(send_file("data", "f", ino, 0, 0), 0);
	assert_int_equal(send_file("data", "f", ino, 2, 0), 0);
	nothing_sent();
	/* Still the file after all that. */
	send_and_check("data", "f", ino, 0, 5, (const uint8_t *)"hello");
}

static void test_a_full_socket_is_eagain(void **state)
{
	(void)state;
	uint8_t *b = varied(BIG);
	put_bytes(share, "big", b, BIG);
	uint64_t ino = ino_of(share, "big");
	int64_t sent = 0, n;
	while ((n = send_file("data", "big", ino, sent, BIG - sent)) > 0)
		sent += n;
	assert_int_equal(n, -EAGAIN);
	assert_true(sent > 0 && sent < (int64_t)BIG);
	/* What went is the start of the file. */
	uint8_t *got = malloc((size_t)sent);
	assert_int_equal(drain(got, (size_t)sent), (size_t)sent);
	assert_memory_equal(got, b, (size_t)sent);
	nothing_sent();
	free(got);
	free(b);
	/* A closed peer: sendfile's own error. */
	signal(SIGPIPE, SIG_IGN);
	close(sp[1]);
	sp[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(send_file("data", "big", ino, 0, 10), -EPIPE);
}

/* A FIFO in the share (put there on the host) is not the guest's file: it
 * is never opened, which would wait for a writer that never comes. In a
 * child, so that a hang ends (alarm) rather than stalling the tests. */
static void test_a_fifo_is_stale_not_a_hang(void **state)
{
	(void)state;
	char p[256];
	snprintf(p, sizeof(p), "%s/fifo", share);
	assert_int_equal(mkfifo(p, 0644), 0);
	uint64_t ino = ino_of(share, "fifo");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(1);
		_exit(send_file("data", "fifo", ino, 0, 10) == -ESTALE ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("net_files_send of a FIFO did not return (signal %d): it opened it",
			 WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_close_then_init_again(void **state)
{
	(void)state;
	scratch_put_file(share, "f", "hello");
	scratch_put_file(other, "f", "world");
	send_and_check("data", "f", ino_of(share, "f"), 0, 5, (const uint8_t *)"hello");
	send_and_check("other", "f", ino_of(other, "f"), 0, 5, (const uint8_t *)"world");
	assert_int_equal(count_fds(), fds_before + 2 + 2 + 2);
	net_files_close(&files);
	assert_int_equal(count_fds(), fds_before + 2);
	/* Twice is harmless, and it works again after init. */
	net_files_close(&files);
	assert_int_equal(count_fds(), fds_before + 2);
	net_files_init(&files, &pol);
	send_and_check("data", "f", ino_of(share, "f"), 1, 4, (const uint8_t *)"ello");
	/* A share whose directory is not there: stale, nothing left open. */
	struct net_policy gone = pol;
	gone.shares[1].dir = "/nonexistent/test_net_files";
	net_files_close(&files);
	net_files_init(&files, &gone);
	assert_int_equal(send_file("other", "f", ino_of(other, "f"), 0, 5), -ESTALE);
	assert_int_equal(count_fds(), fds_before + 2);
	net_files_close(&files);
	net_files_init(&files, &pol);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_the_bytes_are_the_files),
		T(test_a_subdirectory_and_a_second_share),
		T(test_not_that_file_is_stale),
		T(test_nothing_outside_the_share),
		T(test_a_symlink_inside_the_share_works),
		T(test_malformed_requests_are_invalid),
		T(test_a_file_renamed_over_is_another),
		T(test_the_old_inode_of_a_path_renamed_over_is_stale),
		T(test_more_files_than_stay_open),
		T(test_the_least_recently_used_file_makes_room),
		T(test_at_or_past_the_end_is_zero),
		T(test_a_full_socket_is_eagain),
		T(test_a_fifo_is_stale_not_a_hang),
		T(test_close_then_init_again),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
