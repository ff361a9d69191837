/*
 * Socket system calls on the host's sockets (net/host_net.h). The host's
 * sockets never block; here the program's do: a call that would block
 * (-EAGAIN from the host) waits for the socket's readiness and tries
 * again, unless the descriptor is non-blocking, a timeout passes
 * (SO_RCVTIMEO, SO_SNDTIMEO, kept here) or a signal comes. SIGPIPE is
 * the guest's to send. Data passes through a kernel buffer: replies are
 * taken wherever the console is looked at, maybe in another address space.
 */
#include <asm-generic/poll.h>
#include <asm-generic/socket.h>
#include <linux/fcntl.h>
#include <linux/signal.h>
#include <linux/in.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../fs/virtiofs.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "../net/host_net.h"
#include "process.h"
#include "signal.h"
#include "socket.h"
#include "syscall.h"

#define ADDR_MAX 128           /* sizeof(struct sockaddr_storage) */
#define OPT_MAX 256
#define SOCK_TYPE_MASK 0xf
/* Linux's values, which its user-space headers alone give. */
#define SOCK_STREAM 1
#define SOCK_NONBLOCK O_NONBLOCK
#define SOCK_CLOEXEC O_CLOEXEC
#define MSG_NOSIGNAL_ 0x4000
#define MSG_DONTWAIT_ 0x40
#define MSG_WAITALL_ 0x100
#define MSG_PEEK_ 0x2
#define MSG_TRUNC_ 0x20
#define SHUT_RDWR_ 2

/* The flags as <linux/socket.h>'s user headers do not give them. */
struct user_msghdr_ {
	uint64_t name;
	int32_t namelen;
	uint32_t pad0;
	uint64_t iov;
	uint64_t iovlen;
	uint64_t control;
	uint64_t controllen;
	int32_t flags;
	uint32_t pad1;
};

static struct net_sock *sock_of(int fd, int64_t *err)
{
	struct ofile *of = fd_get(fd);
	*err = !of ? -EBADF : of->kind != OF_SOCKET ? -ENOTSOCK : 0;
	return *err ? NULL : of->obj;
}

static bool nonblocking(int fd)
{
	struct ofile *of = fd_get(fd);
	return of && (of->flags & O_NONBLOCK);
}

static uint64_t deadline_after(uint64_t ns)
{
	return ns ? time_ns() + ns : ~0ULL;
}

/* A new descriptor for the host's socket id (its events as given). */
static int64_t install(uint32_t id, int domain, int type, uint32_t events, uint64_t flags)
{
	struct net_sock *s = net_sock_new(id, domain, type, events);
	if (!s)
		return -ENOMEM;
	return fd_new_object(OF_SOCKET, s, flags & (O_NONBLOCK | O_CLOEXEC));
}

SYS(socket)
{
	int domain = (int)a0, type = (int)a1 & SOCK_TYPE_MASK;
	uint64_t flags = a1 & ~(uint64_t)SOCK_TYPE_MASK;
	if (flags & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (!net_available())
		return -EAFNOSUPPORT; /* pier serves no sockets to this VM */
	struct net_answer ans = { 0 };
	int64_t r = net_call(NULL, NET_SOCKET, domain, type, (int64_t)a2, NULL, 0, &ans);
	if (r < 0)
		return r;
	return install((uint32_t)r, domain, type, ans.events, flags);
}

SYS(socketpair)
{
	int domain = (int)a0, type = (int)a1 & SOCK_TYPE_MASK;
	uint64_t flags = a1 & ~(uint64_t)SOCK_TYPE_MASK;
	if (flags & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (user_check(a3, 2 * sizeof(int), true))
		return -EFAULT;
	if (!net_available())
		return -EAFNOSUPPORT;
	uint32_t other = 0;
	struct net_answer ans = { .data = &other, .data_cap = sizeof(other) };
	int64_t r = net_call(NULL, NET_SOCKETPAIR, domain, type, (int64_t)a2, NULL, 0, &ans);
	if (r < 0)
		return r;
	if (ans.data_len != sizeof(other) || !other) {
		struct net_sock *s = net_sock_new((uint32_t)r, domain, type, 0);
		if (s)
			net_sock_free(s);
		return -EIO;
	}
	int64_t fd0 = install((uint32_t)r, domain, type, ans.events, flags);
	if (fd0 < 0) {
		struct net_sock *s = net_sock_new(other, domain, type, 0);
		if (s)
			net_sock_free(s);
		return fd0;
	}
	/* The other end's readiness: an empty pair is writable both ways. */
	int64_t fd1 = install(other, domain, type, POLLOUT | POLLWRNORM, flags);
	if (fd1 < 0) {
		fd_close((int)fd0);
		return fd1;
	}
	int fds[2] = { (int)fd0, (int)fd1 };
	copy_to_user(a3, fds, sizeof(fds));
	return 0;
}

/* The program's address (addrlen bytes at uaddr) into buf. */
static int64_t get_addr(uint64_t uaddr, uint64_t addrlen, uint8_t *buf)
{
	if ((int64_t)addrlen < 0 || addrlen > ADDR_MAX)
		return -EINVAL;
	if (addrlen && copy_from_user(buf, uaddr, addrlen))
		return -EFAULT;
	return (int64_t)addrlen;
}

/* An address for the program: at most *ulen bytes to uaddr, the whole
 * length to *ulen (Linux's rule). Nothing when uaddr is 0. */
static int64_t put_addr(uint64_t uaddr, uint64_t ulen, const uint8_t *addr, uint32_t len)
{
	if (!uaddr)
		return 0;
	int32_t cap;
	if (copy_from_user(&cap, ulen, sizeof(cap)))
		return -EFAULT;
	if (cap < 0)
		return -EINVAL;
	uint32_t n = len < (uint32_t)cap ? len : (uint32_t)cap;
	if (n > ADDR_MAX)
		n = ADDR_MAX;
	if ((n && copy_to_user(uaddr, addr, n)) || copy_to_user(ulen, &len, sizeof(len)))
		return -EFAULT;
	return 0;
}

static int64_t addr_call(uint64_t fd, unsigned kind, uint64_t uaddr, uint64_t addrlen)
{
	int64_t err;
	struct net_sock *s = sock_of((int)fd, &err);
	if (!s)
		return err;
	uint8_t addr[ADDR_MAX];
	int64_t n = get_addr(uaddr, addrlen, addr);
	if (n < 0)
		return n;
	struct vcon_part part = { addr, (size_t)n };
	return net_call(s, kind, 0, 0, 0, &part, 1, NULL);
}

SYS(bind)
{
	return addr_call(a0, NET_BIND, a1, a2);
}

SYS(connect)
{
	int64_t err;
	struct net_sock *s = sock_of((int)a0, &err);
	if (!s)
		return err;
	int64_t r = addr_call(a0, NET_CONNECT, a1, a2);
	if (r != -EINPROGRESS || nonblocking((int)a0))
		return r;
	/* Blocking: done when writable, and SO_ERROR says how it went. */
	err = net_wait(s, POLLOUT, deadline_after(s->sndtimeo_ns));
	if (err)
		return err == -EAGAIN ? -EINPROGRESS : err;
	int so_error = 0;
	struct net_answer ans = { .data = &so_error, .data_cap = sizeof(so_error) };
	r = net_call(s, NET_GETOPT, SOL_SOCKET, SO_ERROR, sizeof(so_error), NULL, 0, &ans);
	return r < 0 ? r : -so_error;
}

SYS(listen)
{
	int64_t err;
	struct net_sock *s = sock_of((int)a0, &err);
	return s ? net_call(s, NET_LISTEN, (int)a1, 0, 0, NULL, 0, NULL) : err;
}

static int64_t do_accept(uint64_t fd, uint64_t uaddr, uint64_t ulen, uint64_t flags)
{
	int64_t err;
	struct net_sock *s = sock_of((int)fd, &err);
	if (!s)
		return err;
	if (flags & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	uint8_t addr[ADDR_MAX];
	uint64_t deadline = deadline_after(s->rcvtimeo_ns);
	for (;;) {
		struct net_answer ans = { .addr = addr, .addr_cap = sizeof(addr) };
		int64_t r = net_call(s, NET_ACCEPT, 0, 0, 0, NULL, 0, &ans);
		if (r >= 0) {
			uint32_t alen = ans.addr_len < ADDR_MAX ? ans.addr_len : ADDR_MAX;
			/* A new connection is writable; readable when data came. */
			int64_t nfd = install((uint32_t)r, s->domain, s->type, POLLOUT | POLLWRNORM,
					      flags);
			if (nfd < 0)
				return nfd;
			if (put_addr(uaddr, ulen, addr, alen)) {
				fd_close((int)nfd);
				return -EFAULT;
			}
			return nfd;
		}
		if (r != -EAGAIN || nonblocking((int)fd))
			return r;
		err = net_wait(s, POLLIN, deadline);
		if (err)
			return err;
	}
}

SYS(accept)
{
	return do_accept(a0, a1, a2, 0);
}

SYS(accept4)
{
	return do_accept(a0, a1, a2, a3);
}

/* One piece (at most a record's data) from kernel memory: waits for
 * room unless dontwait. */
static int64_t send_piece(struct net_sock *s, bool dontwait, uint64_t deadline, const uint8_t *p,
			  uint64_t n, int flags, const uint8_t *addr, uint32_t alen)
{
	for (;;) {
		struct vcon_part parts[2] = { { addr, alen }, { p, n } };
		int64_t r = net_call(s, NET_SEND, flags & ~MSG_DONTWAIT_, alen, 0, parts, 2, NULL);
		if (r != -EAGAIN || dontwait)
			return r;
		r = net_wait(s, POLLOUT, deadline);
		if (r)
			return r;
	}
}

/* The end of a send: SIGPIPE for a broken stream (unless MSG_NOSIGNAL),
 * and what was sent if anything was. */
static int64_t sent(uint64_t done, int64_t r, int flags)
{
	if (r == -EPIPE && !(flags & MSG_NOSIGNAL_) && !done)
		signal_post_thread(current, SIGPIPE);
	return done ? (int64_t)done : r;
}

/*
 * Sends len bytes from the program's memory (user address ubuf) to s, with
 * an optional address: in pieces of at most a record's data; a blocking
 * stream sends them all (unless a signal or a timeout comes), a datagram
 * goes whole or not at all.
 */
static int64_t sock_send(struct net_sock *s, bool nonblock, uint64_t ubuf, uint64_t len,
			 int flags, const uint8_t *addr, uint32_t alen)
{
	if (s->type != SOCK_STREAM && len > NET_WIRE_DATA_MAX)
		return -EMSGSIZE;
	if (user_check(ubuf, len, false))
		return -EFAULT;
	uint8_t *buf = kmalloc(len < NET_WIRE_DATA_MAX ? (len ? len : 1) : NET_WIRE_DATA_MAX);
	if (!buf)
		return -ENOMEM;
	bool dontwait = nonblock || (flags & MSG_DONTWAIT_);
	uint64_t deadline = deadline_after(s->sndtimeo_ns), done = 0;
	int64_t r;
	do {
		uint64_t n = len - done < NET_WIRE_DATA_MAX ? len - done : NET_WIRE_DATA_MAX;
		memcpy(buf, (const uint8_t *)ubuf + done, n); /* checked above */
		r = send_piece(s, dontwait, deadline, buf, n, flags, addr, alen);
		if (r <= 0)
			break;
		done += (uint64_t)r;
	} while (done < len);
	kfree(buf);
	return sent(done, r, flags);
}

/* One receive of at most cap bytes into buf (kernel memory), waiting for
 * data unless dontwait; the sender's address into addr. */
static int64_t recv_piece(struct net_sock *s, bool dontwait, uint64_t deadline, uint8_t *buf,
			  uint64_t cap, int flags, uint8_t *addr, uint32_t *alen, uint32_t *got)
{
	for (;;) {
		struct net_answer ans = { .addr = addr, .addr_cap = addr ? ADDR_MAX : 0,
					  .data = buf, .data_cap = (uint32_t)cap };
		int64_t r = net_call(s, NET_RECV, flags & ~(MSG_DONTWAIT_ | MSG_WAITALL_),
				     (int64_t)cap, 0, NULL, 0, &ans);
		if (r >= 0) {
			*got = ans.data_len < cap ? ans.data_len : (uint32_t)cap;
			if (alen)
				*alen = ans.addr_len < ADDR_MAX ? ans.addr_len : ADDR_MAX;
			return r;
		}
		if (r != -EAGAIN || dontwait)
			return r;
		r = net_wait(s, POLLIN | POLLRDHUP, deadline);
		if (r)
			return r;
	}
}

/*
 * Receives at most len bytes into the program's memory at ubuf (and the
 * sender's address into addr, *alen its length): waiting for data unless
 * non-blocking; MSG_WAITALL waits for all of len on a stream. A datagram's
 * result is its whole length with MSG_TRUNC, as on Linux.
 */
static int64_t sock_recv(struct net_sock *s, bool nonblock, uint64_t ubuf, uint64_t len,
			 int flags, uint8_t *addr, uint32_t *alen)
{
	if (user_check(ubuf, len, true))
		return -EFAULT;
	uint64_t cap = len < NET_WIRE_DATA_MAX ? len : NET_WIRE_DATA_MAX;
	uint8_t *buf = kmalloc(cap ? cap : 1);
	if (!buf)
		return -ENOMEM;
	bool dontwait = nonblock || (flags & MSG_DONTWAIT_);
	bool all = (flags & MSG_WAITALL_) && s->type == SOCK_STREAM && !(flags & MSG_PEEK_);
	uint64_t deadline = deadline_after(s->rcvtimeo_ns), done = 0;
	int64_t r;
	for (;;) {
		uint64_t want = len - done < cap ? len - done : cap;
		uint32_t got = 0;
		r = recv_piece(s, dontwait || (done && !all), deadline, buf, want, flags,
			       done ? NULL : addr, done ? NULL : alen, &got);
		if (r < 0)
			break;
		if (copy_to_user(ubuf + done, buf, got)) { /* again: recv_piece may have waited */
			r = -EFAULT;
			break;
		}
		if (s->type != SOCK_STREAM) {
			kfree(buf);
			return r;
		}
		done += got;
		if (r == 0 || done >= len || (!all && got < want))
			break;
	}
	kfree(buf);
	return done ? (int64_t)done : r;
}

int64_t socket_read(struct ofile *of, uint64_t ubuf, uint64_t len)
{
	return sock_recv(of->obj, of->flags & O_NONBLOCK, ubuf, len, 0, NULL, NULL);
}

int64_t socket_write(struct ofile *of, uint64_t ubuf, uint64_t len)
{
	return sock_send(of->obj, of->flags & O_NONBLOCK, ubuf, len, 0, NULL, 0);
}

int64_t socket_read_kernel(struct ofile *of, void *p, uint64_t len, bool nonblock)
{
	struct net_sock *s = of->obj;
	uint32_t got = 0;
	nonblock |= of->flags & O_NONBLOCK;
	int64_t r = recv_piece(s, nonblock, deadline_after(s->rcvtimeo_ns), p,
			       len < NET_WIRE_DATA_MAX ? len : NET_WIRE_DATA_MAX, 0, NULL, NULL, &got);
	return r < 0 ? r : (int64_t)got;
}

int64_t socket_write_kernel(struct ofile *of, const void *p, uint64_t len, bool nonblock)
{
	struct net_sock *s = of->obj;
	nonblock |= of->flags & O_NONBLOCK;
	uint64_t deadline = deadline_after(s->sndtimeo_ns), done = 0;
	int64_t r;
	do {
		uint64_t n = len - done < NET_WIRE_DATA_MAX ? len - done : NET_WIRE_DATA_MAX;
		r = send_piece(s, nonblock, deadline, (const uint8_t *)p + done, n, 0, NULL, 0);
		if (r <= 0)
			break;
		done += (uint64_t)r;
	} while (done < len);
	return sent(done, r, 0);
}

SYS(sendto)
{
	int64_t err;
	struct net_sock *s = sock_of((int)a0, &err);
	if (!s)
		return err;
	uint8_t addr[ADDR_MAX];
	int64_t alen = a4 ? get_addr(a4, a5, addr) : 0;
	if (alen < 0)
		return alen;
	return sock_send(s, nonblocking((int)a0), a1, a2, (int)a3, addr, (uint32_t)alen);
}

SYS(recvfrom)
{
	int64_t err;
	struct net_sock *s = sock_of((int)a0, &err);
	if (!s)
		return err;
	uint8_t addr[ADDR_MAX];
	uint32_t alen = 0;
	int64_t r = sock_recv(s, nonblocking((int)a0), a1, a2, (int)a3, a4 ? addr : NULL, &alen);
	if (r >= 0 && a4 && put_addr(a4, a5, addr, alen < ADDR_MAX ? alen : ADDR_MAX))
		return -EFAULT;
	return r;
}

/* A datagram from or to several iovecs: gathered into, or scattered
 * from, one kernel buffer, so that it stays one datagram. */
static int64_t dgram_vec(struct net_sock *s, bool nonblock, const struct user_msghdr_ *m,
			 int flags, bool send, uint8_t *addr, uint32_t *alen)
{
	uint64_t len = 0;
	for (uint64_t i = 0; i < m->iovlen; i++) {
		struct iovec v;
		if (copy_from_user(&v, m->iov + i * sizeof(v), sizeof(v)))
			return -EFAULT;
		len += v.iov_len;
		if (len > NET_WIRE_DATA_MAX) {
			if (send)
				return -EMSGSIZE;
			len = NET_WIRE_DATA_MAX;
			break;
		}
	}
	uint8_t *buf = kmalloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	bool dontwait = nonblock || (flags & MSG_DONTWAIT_);
	int64_t r = 0;
	uint32_t got = 0;
	if (!send)
		r = recv_piece(s, dontwait, deadline_after(s->rcvtimeo_ns), buf, len, flags, addr,
			       alen, &got);
	for (uint64_t i = 0, at = 0; i < m->iovlen && r >= 0 && at < (send ? len : got); i++) {
		struct iovec v;
		uint64_t end = send ? len : got;
		if (copy_from_user(&v, m->iov + i * sizeof(v), sizeof(v)))
			r = -EFAULT;
		uint64_t n = v.iov_len < end - at ? v.iov_len : end - at;
		if (r >= 0 && (send ? copy_from_user(buf + at, (uint64_t)v.iov_base, n)
				    : copy_to_user((uint64_t)v.iov_base, buf + at, n)))
			r = -EFAULT;
		at += n;
	}
	if (send && r >= 0)
		r = sent(0, send_piece(s, dontwait, deadline_after(s->sndtimeo_ns), buf, len, flags,
				       addr, *alen), flags);
	kfree(buf);
	return r;
}

/* sendmsg and recvmsg: one piece per iovec, the first that comes short
 * ends the call (a datagram's vector is gathered whole). */
static int64_t msg_io(uint64_t fd, uint64_t umsg, uint64_t flags, bool send)
{
	int64_t err;
	struct net_sock *s = sock_of((int)fd, &err);
	if (!s)
		return err;
	struct user_msghdr_ m;
	if (copy_from_user(&m, umsg, sizeof(m)))
		return -EFAULT;
	if (m.iovlen > 1024)
		return -EMSGSIZE;
	if (send && m.controllen)
		return -EOPNOTSUPP; /* no descriptors or credentials pass between programs */
	uint8_t addr[ADDR_MAX];
	uint32_t alen = 0;
	if (send && m.name) {
		int64_t n = get_addr(m.name, (uint64_t)(int64_t)m.namelen, addr);
		if (n < 0)
			return n;
		alen = (uint32_t)n;
	}
	bool nonblock = nonblocking((int)fd);
	int64_t total = 0;
	if (s->type != SOCK_STREAM && m.iovlen > 1) {
		total = dgram_vec(s, nonblock, &m, (int)flags, send, addr, &alen);
		if (total < 0)
			return total;
	}
	for (uint64_t i = 0; i < m.iovlen && !(s->type != SOCK_STREAM && m.iovlen > 1); i++) {
		struct iovec v;
		if (copy_from_user(&v, m.iov + i * sizeof(v), sizeof(v)))
			return -EFAULT;
		if (v.iov_len == 0 && m.iovlen > 1)
			continue;
		/* Once some came, a receive takes only what is there already. */
		int64_t n = send ? sock_send(s, nonblock, (uint64_t)v.iov_base, v.iov_len,
					     (int)flags, addr, alen)
				 : sock_recv(s, nonblock || total, (uint64_t)v.iov_base, v.iov_len,
					     (int)flags, m.name && !total ? addr : NULL,
					     !total ? &alen : NULL);
		if (n < 0) {
			if (total)
				break;
			return n;
		}
		total += n;
		if ((uint64_t)n < v.iov_len || s->type != SOCK_STREAM)
			break;
	}
	if (!send) {
		uint64_t off_name = offsetof(struct user_msghdr_, namelen);
		uint64_t off_ctl = offsetof(struct user_msghdr_, controllen);
		uint64_t off_flags = offsetof(struct user_msghdr_, flags);
		uint64_t zero = 0;
		int32_t mflags = 0;
		if (m.name && put_addr(m.name, umsg + off_name, addr, alen < ADDR_MAX ? alen : ADDR_MAX))
			return -EFAULT;
		if (copy_to_user(umsg + off_ctl, &zero, sizeof(zero)) ||
		    copy_to_user(umsg + off_flags, &mflags, sizeof(mflags)))
			return -EFAULT;
	}
	return total;
}

SYS(sendmsg)
{
	return msg_io(a0, a1, a2, true);
}

SYS(recvmsg)
{
	return msg_io(a0, a1, a2, false);
}

/* sendmmsg and recvmmsg: sendmsg or recvmsg per message, each one's
 * length into its msg_len; an error after the first ends the call with
 * the count so far, as on Linux. recvmmsg's MSG_WAITFORONE waits for
 * the first message only; its timeout is looked at after each message,
 * as Linux does. (glibc's resolver sends its A and AAAA queries with
 * sendmmsg.) */
#define MSG_WAITFORONE_ 0x10000
#define MMSG_SIZE (sizeof(struct user_msghdr_) + 8) /* msg_len, padding */
static int64_t mmsg_io(uint64_t fd, uint64_t uvec, uint64_t vlen, uint64_t flags,
		       uint64_t utimeout, bool send)
{
	uint64_t end = ~0ULL;
	if (utimeout) {
		uint64_t ns;
		int64_t err = read_timespec(utimeout, &ns);
		if (err)
			return err;
		end = time_ns() + ns;
	}
	bool wait_one = !send && (flags & MSG_WAITFORONE_);
	flags &= ~(uint64_t)MSG_WAITFORONE_;
	uint64_t done = 0;
	for (vlen = vlen < 1024 ? vlen : 1024; done < vlen; done++) {
		uint64_t at = uvec + done * MMSG_SIZE;
		int64_t r = msg_io(fd, at, flags | (wait_one && done ? MSG_DONTWAIT_ : 0), send);
		uint32_t len = (uint32_t)r;
		if (r >= 0 && copy_to_user(at + sizeof(struct user_msghdr_), &len, sizeof(len)))
			r = -EFAULT;
		if (r < 0)
			return done ? (int64_t)done : r;
		if (time_ns() >= end) {
			done++;
			break;
		}
	}
	return (int64_t)done;
}

SYS(sendmmsg)
{
	return mmsg_io(a0, a1, a2, a3, 0, true);
}

SYS(recvmmsg)
{
	return mmsg_io(a0, a1, a2, a3, a4, false);
}

SYS(shutdown)
{
	int64_t err;
	struct net_sock *s = sock_of((int)a0, &err);
	if (!s)
		return err;
	if (a1 > SHUT_RDWR_)
		return -EINVAL;
	return net_call(s, NET_SHUTDOWN, (int64_t)a1, 0, 0, NULL, 0, NULL);
}

static int64_t name_call(uint64_t fd, uint64_t uaddr, uint64_t ulen, int peer)
{
	int64_t err;
	struct net_sock *s = sock_of((int)fd, &err);
	if (!s)
		return err;
	uint8_t addr[ADDR_MAX];
	struct net_answer ans = { .addr = addr, .addr_cap = sizeof(addr) };
	int64_t r = net_call(s, NET_NAME, peer, 0, 0, NULL, 0, &ans);
	if (r < 0)
		return r;
	if (!uaddr)
		return -EFAULT;
	return put_addr(uaddr, ulen, addr, ans.addr_len < ADDR_MAX ? ans.addr_len : ADDR_MAX);
}

SYS(getsockname)
{
	return name_call(a0, a1, a2, 0);
}

SYS(getpeername)
{
	return name_call(a0, a1, a2, 1);
}

/* struct timeval <-> ns, for SO_RCVTIMEO and SO_SNDTIMEO. */
struct timeval_ {
	int64_t sec, usec;
};

SYS(setsockopt)
{
	int64_t err;
	struct net_sock *s = sock_of((int)a0, &err);
	if (!s)
		return err;
	int level = (int)a1, name = (int)a2;
	if (a4 > OPT_MAX)
		return -EINVAL;
	uint8_t val[OPT_MAX];
	if (a4 && copy_from_user(val, a3, a4))
		return -EFAULT;
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD)) {
		struct timeval_ tv;
		if (a4 < sizeof(tv))
			return -EINVAL;
		memcpy(&tv, val, sizeof(tv));
		if (tv.usec < 0 || tv.usec >= 1000000)
			return -EDOM;
		uint64_t ns = tv.sec < 0 ? 0 : (uint64_t)tv.sec * 1000000000ULL + (uint64_t)tv.usec * 1000;
		*(name == SO_RCVTIMEO_OLD ? &s->rcvtimeo_ns : &s->sndtimeo_ns) = ns;
		return 0;
	}
	struct vcon_part part = { val, a4 };
	return net_call(s, NET_SETOPT, level, name, 0, &part, 1, NULL);
}

SYS(getsockopt)
{
	int64_t err;
	struct net_sock *s = sock_of((int)a0, &err);
	if (!s)
		return err;
	int level = (int)a1, name = (int)a2;
	int32_t len;
	if (copy_from_user(&len, a4, sizeof(len)))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	uint8_t val[OPT_MAX];
	uint32_t got;
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD)) {
		uint64_t ns = name == SO_RCVTIMEO_OLD ? s->rcvtimeo_ns : s->sndtimeo_ns;
		struct timeval_ tv = { (int64_t)(ns / 1000000000ULL), (int64_t)(ns % 1000000000ULL / 1000) };
		memcpy(val, &tv, sizeof(tv));
		got = sizeof(tv);
	} else {
		uint32_t cap = (uint32_t)len < OPT_MAX ? (uint32_t)len : OPT_MAX;
		struct net_answer ans = { .data = val, .data_cap = cap };
		int64_t r = net_call(s, NET_GETOPT, level, name, cap, NULL, 0, &ans);
		if (r < 0)
			return r;
		got = ans.data_len < cap ? ans.data_len : cap;
	}
	if (got > (uint32_t)len)
		got = (uint32_t)len;
	if ((got && copy_to_user(a3, val, got)) || copy_to_user(a4, &got, sizeof(got)))
		return -EFAULT;
	return 0;
}

int64_t socket_sendfile(struct ofile *out, struct ofile *in, uint64_t off, uint64_t count)
{
	struct vnode *v = in->file->vn;
	const char *tag = virtiofs_tag(v), *path = in->path, *mnt = v->mnt->path;
	size_t mlen = strlen(mnt);
	if (!tag || !path || strncmp(path, mnt, mlen) != 0)
		return -ESTALE;
	/* The path inside the share: the open's path past the mount point. */
	const char *rel = path + mlen;
	while (*rel == '/')
		rel++;
	struct net_sock *s = out->obj;
	struct vcon_part parts[2] = { { tag, strlen(tag) + 1 }, { rel, strlen(rel) + 1 } };
	uint64_t deadline = deadline_after(s->sndtimeo_ns);
	for (;;) {
		int64_t r = net_call(s, NET_SENDFILE, (int64_t)off, (int64_t)count,
				     (int64_t)v->attr.ino, parts, 2, NULL);
		if (r != -EAGAIN || (out->flags & O_NONBLOCK))
			return r == -EPIPE ? sent(0, r, 0) : r;
		r = net_wait(s, POLLOUT, deadline);
		if (r)
			return r;
	}
}

short socket_poll(struct ofile *of)
{
	return (short)net_poll(of->obj);
}

uint64_t socket_events(struct ofile *of)
{
	struct net_sock *s = of->obj;
	net_poll(s);
	return s->changes;
}

int64_t socket_ioctl(struct ofile *of, uint64_t cmd, uint64_t arg)
{
	if (cmd == 0x541B) { /* FIONREAD */
		int64_t r = net_call(of->obj, NET_NREAD, 0, 0, 0, NULL, 0, NULL);
		if (r < 0)
			return r;
		int n = (int)r;
		return copy_to_user(arg, &n, sizeof(n)) ? -EFAULT : 0;
	}
	return -ENOTTY;
}

void socket_free(struct ofile *of)
{
	net_sock_free(of->obj);
	of->obj = NULL;
}
