/* Names and sizes seen from several CPUs while one thread changes them.
 * The changer, round after round, creates x, renames it to y, unlinks y,
 * and appends 64 bytes to a file, checking after each step what its own
 * change must show: x gone after the rename, y gone after the unlink, the
 * appended size. Three watchers meanwhile stat x, y and the file without
 * pause (the file also through a symlink), and open y when it is there;
 * the sizes they see never go back. A kernel whose LOOKUP and
 * GETATTR waits let its lock go must not cache a reply that another CPU's
 * change made out of date while it waited (a stale y after the unlink, an
 * old size after the append). argv[1]: a directory to work in. Prints
 * "names: ...". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"

#define ROUNDS 400
#define WATCHERS 3
#define PIECE 64

static char x[256], y[256], grow[256], link_[256];
static atomic_int done;

static void *watch(void *arg)
{
	(void)arg;
	int fd = open(grow, O_RDONLY);
	CHECK(fd >= 0);
	off_t last = 0;
	while (!atomic_load(&done)) {
		struct stat st;
		CHECK(stat(x, &st) == 0 || errno == ENOENT);
		CHECK(stat(y, &st) == 0 || errno == ENOENT);
		int yfd = open(y, O_RDONLY);
		CHECK(yfd >= 0 || errno == ENOENT);
		if (yfd >= 0)
			CHECK(close(yfd) == 0);
		char target[16];
		CHECK(readlink(link_, target, sizeof(target)) == 4 && memcmp(target, "grow", 4) == 0);
		for (int how = 0; how < 3; how++) {
			CHECK((how == 0 ? fstat(fd, &st) : stat(how == 1 ? grow : link_, &st)) == 0);
			if (st.st_size < last || st.st_size % PIECE)
				FAIL("the file's size went from %lld to %lld (%s)", (long long)last,
				     (long long)st.st_size, how == 0 ? "fstat" : how == 1 ? "stat" : "link");
			last = st.st_size;
		}
	}
	close(fd);
	return NULL;
}

static void gone(const char *path, int round, const char *after)
{
	struct stat st;
	if (stat(path, &st) == 0)
		FAIL("round %d: %s still there after the %s (inode %llu, %llu links)", round, path,
		     after, (unsigned long long)st.st_ino, (unsigned long long)st.st_nlink);
	CHECK(errno == ENOENT);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	snprintf(x, sizeof(x), "%s/x", argv[1]);
	snprintf(y, sizeof(y), "%s/y", argv[1]);
	snprintf(grow, sizeof(grow), "%s/grow", argv[1]);
	snprintf(link_, sizeof(link_), "%s/link", argv[1]);
	int g = open(grow, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	CHECK(g >= 0);
	CHECK(symlink("grow", link_) == 0);
	pthread_t t[WATCHERS];
	for (int i = 0; i < WATCHERS; i++)
		CHECK(pthread_create(&t[i], NULL, watch, NULL) == 0);
	char piece[PIECE];
	memset(piece, 'g', sizeof(piece));
	for (int r = 0; r < ROUNDS; r++) {
		int fd = open(x, O_WRONLY | O_CREAT | O_EXCL, 0644);
		CHECK(fd >= 0);
		struct stat made, st;
		CHECK(fstat(fd, &made) == 0);
		CHECK(close(fd) == 0);
		CHECK(rename(x, y) == 0);
		gone(x, r, "rename");
		CHECK(stat(y, &st) == 0);
		if (st.st_ino != made.st_ino)
			FAIL("round %d: y is inode %llu, not the %llu renamed to it", r,
			     (unsigned long long)st.st_ino, (unsigned long long)made.st_ino);
		CHECK(unlink(y) == 0);
		gone(y, r, "unlink");
		CHECK(write(g, piece, sizeof(piece)) == (ssize_t)sizeof(piece));
		for (int by_fd = 0; by_fd < 2; by_fd++) {
			CHECK((by_fd ? fstat(g, &st) : stat(grow, &st)) == 0);
			if (st.st_size != (off_t)(r + 1) * PIECE)
				FAIL("round %d: the file is %lld bytes after the append, not %lld (%s)", r,
				     (long long)st.st_size, (long long)(r + 1) * PIECE,
				     by_fd ? "fstat" : "stat");
		}
	}
	atomic_store(&done, 1);
	for (int i = 0; i < WATCHERS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	CHECK(close(g) == 0);
	CHECK(unlink(grow) == 0);
	CHECK(unlink(link_) == 0);
	OK("names");
	printf("names: %d rounds, %d watchers\n", ROUNDS, WATCHERS);
	return 0;
}
