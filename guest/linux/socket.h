/* Sockets as open files (sys_socket.c): what read, write, poll, epoll,
 * ioctl and close do with an OF_SOCKET description (obj: its net_sock). */
#ifndef GUEST_LINUX_SOCKET_H
#define GUEST_LINUX_SOCKET_H

#include <stdbool.h>
#include <stdint.h>

struct ofile;

int64_t socket_read(struct ofile *of, uint64_t ubuf, uint64_t len);
int64_t socket_write(struct ofile *of, uint64_t ubuf, uint64_t len);
/* The same from and to kernel memory (sendfile's and splice's buffers),
 * not waiting if nonblock or the descriptor's O_NONBLOCK says so; a
 * receive takes at most one record's data. */
int64_t socket_write_kernel(struct ofile *of, const void *p, uint64_t len, bool nonblock);
int64_t socket_read_kernel(struct ofile *of, void *p, uint64_t len, bool nonblock);
/* sendfile from a file of a virtio-fs share: the host sends it from its
 * own file (count bytes at most from off). Bytes sent, -errno, or -ESTALE
 * when the host cannot: the caller copies through the guest instead. */
int64_t socket_sendfile(struct ofile *out, struct ofile *in, uint64_t off, uint64_t count);
short socket_poll(struct ofile *of);
uint64_t socket_events(struct ofile *of); /* a count of readiness changes */
int64_t socket_ioctl(struct ofile *of, uint64_t cmd, uint64_t arg);
void socket_free(struct ofile *of);

#endif
