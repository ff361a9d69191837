/*
 * NET_SENDFILE's files: the guest names a file of one of its shares (tag
 * and path inside it) and its inode number; the host opens that file
 * beneath the share's directory (never outside it: openat2 with
 * RESOLVE_BENEATH, no magic links) and sends from it to a socket with
 * sendfile(2), so the bytes never pass through the guest. The last few
 * files stay open, for the next request of the same file.
 */
#ifndef HOST_NET_FILES_H
#define HOST_NET_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "policy.h"

#define NET_FILES_OPEN 16

struct net_files {
	const struct net_policy *policy; /* its shares */
	int dirfd[NET_SHARES_MAX];       /* each share's directory, opened at first use; -1 */
	struct {
		int fd;                  /* -1: free */
		int share;
		uint64_t ino;
		char *path;
		uint64_t used;           /* when last used (a counter), for eviction */
	} open[NET_FILES_OPEN];
	uint64_t clock;
};

void net_files_init(struct net_files *f, const struct net_policy *policy);
/* Closes everything. */
void net_files_close(struct net_files *f);

/*
 * Sends at most count bytes of the file at offset from the share tagged
 * tail's first string, path its second (tail_len bytes, both NUL-ended),
 * whose inode number must be ino, to socket sock (non-blocking). Bytes
 * sent, -EAGAIN, -ESTALE when it is not that file or cannot be opened,
 * -EINVAL for a malformed request, or sendfile's -errno.
 */
int64_t net_files_send(struct net_files *f, int sock, const uint8_t *tail, size_t tail_len,
		       uint64_t ino, int64_t offset, int64_t count);

#endif
