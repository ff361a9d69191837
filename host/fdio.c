/* See fdio.h. */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include "fdio.h"

bool fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			struct pollfd w = { fd, POLLOUT, 0 };
			poll(&w, 1, -1);
		} else if (!(n < 0 && errno == EINTR)) {
			return false;
		}
	}
	return true;
}
