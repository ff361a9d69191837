/* NET_SENDFILE's files (see files.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "files.h"

#define PATH_MAX_ 4096
#define SEND_MAX (1LL << 30) /* per call: the socket takes far less anyway */

void net_files_init(struct net_files *f, const struct net_policy *policy)
{
	memset(f, 0, sizeof(*f));
	f->policy = policy;
	for (int i = 0; i < NET_SHARES_MAX; i++)
		f->dirfd[i] = -1;
	for (int i = 0; i < NET_FILES_OPEN; i++)
		f->open[i].fd = -1;
}

static void forget(struct net_files *f, int i)
{
	if (f->open[i].fd >= 0)
		close(f->open[i].fd);
	free(f->open[i].path);
	f->open[i].fd = -1;
	f->open[i].path = NULL;
}

void net_files_close(struct net_files *f)
{
	for (int i = 0; i < NET_FILES_OPEN; i++)
		forget(f, i);
	for (int i = 0; i < NET_SHARES_MAX; i++) {
		if (f->dirfd[i] >= 0)
			close(f->dirfd[i]);
		f->dirfd[i] = -1;
	}
}

static int share_of(struct net_files *f, const char *tag)
{
	for (int i = 0; i < f->policy->nshares && i < NET_SHARES_MAX; i++)
		if (strcmp(f->policy->shares[i].tag, tag) == 0) {
			if (f->dirfd[i] < 0)
				f->dirfd[i] = open(f->policy->shares[i].dir,
						   O_PATH | O_DIRECTORY | O_CLOEXEC);
			return f->dirfd[i] >= 0 ? i : -1;
		}
	return -1;
}

/* Opens path beneath dirfd as how says; -1 when it cannot. */
static int open_beneath(int dirfd, const char *path, uint64_t flags)
{
	/* Beneath the share only: no "..", absolute or magic link out of it. */
	struct open_how how = { .flags = flags,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	return (int)syscall(SYS_openat2, dirfd, *path ? path : ".", &how, sizeof(how));
}

/* Whether path still names inode ino (a cached file may have been renamed
 * over since: the answer must not depend on what happens to be cached). */
static bool still_names(int dirfd, const char *path, uint64_t ino)
{
	int fd = open_beneath(dirfd, path, O_PATH | O_CLOEXEC);
	struct stat st;
	bool same = fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == ino;
	if (fd >= 0)
		close(fd);
	return same;
}

/* The file open already, or opened now (the least recently used one
 * makes room); -1 when it cannot be, or is not the guest's file. */
static int file_fd(struct net_files *f, int share, const char *path, uint64_t ino)
{
	int victim = -1; /* a free slot, else the least recently used */
	for (int i = 0; i < NET_FILES_OPEN; i++) {
		if (f->open[i].fd < 0) {
			if (victim < 0 || f->open[victim].fd >= 0)
				victim = i;
			continue;
		}
		if (f->open[i].share == share && f->open[i].ino == ino &&
		    strcmp(f->open[i].path, path) == 0) {
			if (!still_names(f->dirfd[share], path, ino)) {
				forget(f, i); /* renamed over: as if never opened */
				return -1;
			}
			f->open[i].used = ++f->clock;
			return f->open[i].fd;
		}
		if (victim < 0 || (f->open[victim].fd >= 0 && f->open[i].used < f->open[victim].used))
			victim = i;
	}
	/* O_NONBLOCK: a FIFO put there must not hang the thread (it is no regular file). */
	int fd = open_beneath(f->dirfd[share], path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != ino) {
		close(fd); /* renamed over, or never the guest's file: it copies itself */
		return -1;
	}
	char *copy = strdup(path);
	if (!copy) {
		close(fd);
		return -1;
	}
	forget(f, victim);
	f->open[victim].fd = fd;
	f->open[victim].share = share;
	f->open[victim].ino = ino;
	f->open[victim].path = copy;
	f->open[victim].used = ++f->clock;
	return fd;
}

int64_t net_files_send(struct net_files *f, int sock, const uint8_t *tail, size_t tail_len,
		       uint64_t ino, int64_t offset, int64_t count)
{
	const char *tag = (const char *)tail;
	size_t tag_len = strnlen(tag, tail_len);
	if (tag_len == tail_len || offset < 0 || count < 0)
		return -EINVAL;
	const char *path = tag + tag_len + 1;
	size_t path_len = strnlen(path, tail_len - tag_len - 1);
	if (path_len == tail_len - tag_len - 1 || path_len >= PATH_MAX_)
		return -EINVAL;
	int share = share_of(f, tag);
	int fd = share < 0 ? -1 : file_fd(f, share, path, ino);
	if (fd < 0)
		return -ESTALE;
	off_t off = offset;
	ssize_t n = sendfile(sock, fd, &off, count > SEND_MAX ? SEND_MAX : (size_t)count);
	return n < 0 ? -errno : n;
}
