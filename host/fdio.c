/* See fdio.h. */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include "fdio.h"

bool fd_write_all_until(int fd, const void *buf, size_t len, int stop_fd)
{
	const char *p = buf;
	while (len) {
		if (stop_fd >= 0) {
			/* Wait for room (or the stop) first: a blocking write to a
			 * full pipe would not see the stop. */
			struct pollfd w[2] = { { fd, POLLOUT, 0 }, { stop_fd, POLLIN, 0 } };
			if (poll(w, 2, -1) < 0 && errno != EINTR)
				return false;
			if (w[1].revents) {
				errno = ECANCELED;
				return false;
			}
			if (!w[0].revents)
				continue;
		}
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

bool fd_write_all(int fd, const void *buf, size_t len)
{
	return fd_write_all_until(fd, buf, len, -1);
}
