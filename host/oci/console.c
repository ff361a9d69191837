/*
 * process.terminal with --console-socket: the runtime makes a
 * pseudo-terminal, keeps the slave for the container's stdio and hands the
 * master to the engine (conmon, containerd's shim) over the Unix socket,
 * as an SCM_RIGHTS message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "oci.h"

static int send_fd(int sock, int fd, const char *name)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int oci_console_open(const char *socket_path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		oci_error("--console-socket %s: %s", socket_path, strerror(ENAMETOOLONG));
		return -1;
	}
	strcpy(addr.sun_path, socket_path);
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	char *name = master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0
			     ? ptsname(master) : NULL;
	int slave = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
	if (slave < 0) {
		oci_error("cannot allocate a pseudo-terminal: %s", strerror(errno));
		if (master >= 0)
			close(master);
		return -1;
	}
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) ||
	    send_fd(sock, master, name)) {
		oci_error("--console-socket %s: %s", socket_path, strerror(errno));
		close(slave);
		slave = -1;
	}
	if (sock >= 0)
		close(sock);
	close(master);
	return slave;
}
