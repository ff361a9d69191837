/* pier.exec's host end (see exec_server.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <pier/exec_wire.h>
#include "exec_server.h"
#include "threads.h"

#define MAX_CLIENTS 64
#define RECORD_MAX (sizeof(struct wire_header) + WIRE_PAYLOAD_MAX)

/* One record on its way out, and how much of it went. */
struct outbox {
	uint8_t *buf;
	size_t len, off;
};

struct client {
	int fd;                      /* -1: a free slot */
	uint32_t id;                 /* 0 until its SPAWN went to the guest */
	struct wire_reader in;
	struct outbox out;
};

struct exec_server {
	char path[4096];
	int listen_fd, port_fd, stop_fd;
	int port_listen_fd;          /* until the port's connection came; then -1 */
	pthread_t thread;
	struct wire_reader from_guest;
	uint8_t pin[4096];           /* read from the port, not yet fed to from_guest */
	size_t pin_len, pin_off;
	struct outbox to_guest;
	uint32_t closes[MAX_CLIENTS]; /* CLOSEs waiting for the outbox */
	int nclose;
	uint32_t next_session;
	struct client clients[MAX_CLIENTS];
};

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Queues one record (header and payload) in an empty outbox. */
static void put(struct outbox *o, uint32_t session, unsigned kind, const void *p, uint32_t len)
{
	o->len = wire_put_header(o->buf, session, kind, len);
	if (len)
		memcpy(o->buf + o->len, p, len);
	o->len += len;
	o->off = 0;
}

/* Sends what it can; false when the other end is gone. */
static bool flush(int fd, struct outbox *o)
{
	while (o->off < o->len) {
		ssize_t n = send(fd, o->buf + o->off, o->len - o->off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		o->off += (size_t)n;
	}
	o->len = o->off = 0;
	return true;
}

static void drop_client(struct exec_server *s, struct client *c)
{
	/* The guest's side of it ends too: output then fails with EPIPE
	 * and input ends, as when runc exec's pipes close. The CLOSE waits
	 * for the outbox if that is busy (serve sends it). */
	if (c->id && s->nclose < MAX_CLIENTS)
		s->closes[s->nclose++] = c->id;
	close(c->fd);
	c->fd = -1;
	c->id = 0;
	c->out.len = c->out.off = 0;
}

static struct client *by_session(struct exec_server *s, uint32_t session)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0 && s->clients[i].id == session && session)
			return &s->clients[i];
	return NULL;
}

/* A client's record, if the outbox to the guest is free (the caller
 * checks). Clients send only what a host may send. */
static void from_client(struct exec_server *s, struct client *c)
{
	const struct wire_header *h = &c->in.h;
	if (h->kind == EXEC_SPAWN && !c->id) {
		c->id = ++s->next_session ? s->next_session : ++s->next_session;
	} else if (!c->id || h->kind == EXEC_SPAWN ||
		   (h->kind != EXEC_STDIN && h->kind != EXEC_STDIN_EOF && h->kind != EXEC_SIGNAL &&
		    h->kind != EXEC_WINSIZE)) {
		fprintf(stderr, "pier: exec: a client sent a record out of turn; dropped\n");
		drop_client(s, c);
		return;
	}
	put(&s->to_guest, c->id, h->kind, wire_payload(&c->in), h->len);
}

/* Reads one client while the outbox to the guest is free: at most one
 * record comes out of it per call. */
static void read_client(struct exec_server *s, struct client *c)
{
	uint8_t b[4096];
	/* Byte by byte up to the record's end would be slow; instead read
	 * only what the current record still lacks (or its header). */
	size_t want = c->in.have < sizeof(struct wire_header)
			      ? sizeof(struct wire_header) - c->in.have
			      : sizeof(struct wire_header) + c->in.h.len - c->in.have;
	if (c->in.have == sizeof(struct wire_header) + c->in.h.len &&
	    c->in.have >= sizeof(struct wire_header))
		want = sizeof(struct wire_header); /* the last one was taken */
	if (want > sizeof(b))
		want = sizeof(b);
	ssize_t n = recv(c->fd, b, want, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		drop_client(s, c);
		return;
	}
	bool done;
	size_t took = wire_feed(&c->in, b, (size_t)n, &done);
	if (c->in.broken || took != (size_t)n) {
		fprintf(stderr, "pier: exec: a client sent a malformed record; dropped\n");
		drop_client(s, c);
		return;
	}
	if (done)
		from_client(s, c);
}

/* Takes records from the port (reading more when what was read is used
 * up) until one waits for a client that cannot take it yet. false: the VM
 * is gone, or its stream broke. */
static bool read_port(struct exec_server *s)
{
	if (s->pin_off == s->pin_len) {
		ssize_t n = recv(s->port_fd, s->pin, sizeof(s->pin), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return true;
		if (n <= 0)
			return false;
		s->pin_len = (size_t)n;
		s->pin_off = 0;
	}
	while (s->pin_off < s->pin_len) {
		bool done;
		s->pin_off += wire_feed(&s->from_guest, s->pin + s->pin_off,
					     s->pin_len - s->pin_off, &done);
		if (s->from_guest.broken) {
			fprintf(stderr, "pier: exec: the guest sent a malformed record; exec stops\n");
			return false;
		}
		if (!done)
			continue;
		const struct wire_header *h = &s->from_guest.h;
		struct client *c = by_session(s, h->id);
		if (!c)
			continue; /* its client went away */
		put(&c->out, h->id, h->kind, wire_payload(&s->from_guest), h->len);
		if (!flush(c->fd, &c->out))
			drop_client(s, c);
		else if (c->out.len)
			return true; /* the rest waits in pin until this client takes it */
	}
	return true;
}

static bool client_output_waits(const struct exec_server *s)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0 && s->clients[i].out.len)
			return true;
	return false;
}

static void accept_client(struct exec_server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->clients[i].fd < 0) {
			struct client *c = &s->clients[i];
			c->fd = fd;
			c->id = 0;
			wire_reader_init(&c->in, EXEC_KINDS);
			return;
		}
	close(fd); /* too many at once: that client sees its connection end */
}

static void *serve(void *arg)
{
	struct exec_server *s = arg;
	struct pollfd p[MAX_CLIENTS + 3];
	for (;;) {
		if (!s->to_guest.len && s->nclose)
			put(&s->to_guest, s->closes[--s->nclose], EXEC_CLOSE, NULL, 0);
		if (s->port_fd >= 0 && s->to_guest.len && !flush(s->port_fd, &s->to_guest))
			break;
		bool client_out = client_output_waits(s);
		if (!client_out && s->pin_off < s->pin_len) { /* left over from a stall */
			if (!read_port(s))
				break;
			continue;
		}
		int n = 0;
		p[n++] = (struct pollfd){ s->stop_fd, POLLIN, 0 };
		p[n++] = (struct pollfd){ s->listen_fd, POLLIN, 0 };
		if (s->port_fd >= 0)
			p[n++] = (struct pollfd){ s->port_fd,
						  (short)((client_out ? 0 : POLLIN) |
							  (s->to_guest.len ? POLLOUT : 0)), 0 };
		else /* the port's connection first: records wait for it */
			p[n++] = (struct pollfd){ s->port_listen_fd, POLLIN, 0 };
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &s->clients[i];
			short ev = (short)((s->to_guest.len ? 0 : POLLIN) | (c->out.len ? POLLOUT : 0));
			p[n++] = (struct pollfd){ c->fd, c->fd >= 0 ? ev : 0, 0 };
		}
		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (p[1].revents)
			accept_client(s);
		if (s->port_fd < 0) {
			if (p[2].revents) {
				s->port_fd = accept4(s->port_listen_fd, NULL, NULL,
						     SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (s->port_fd >= 0) {
					close(s->port_listen_fd);
					s->port_listen_fd = -1;
				}
			}
			p[2].revents = 0;
		}
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &s->clients[i];
			short rev = p[3 + i].revents;
			if (c->fd < 0 || !rev)
				continue;
			if (c->out.len && !flush(c->fd, &c->out)) {
				drop_client(s, c);
				continue;
			}
			if (rev & (POLLIN | POLLHUP | POLLERR) && !s->to_guest.len && !s->nclose)
				read_client(s, c);
			if (s->port_fd >= 0 && s->to_guest.len && !flush(s->port_fd, &s->to_guest))
				goto out;
		}
		if (!client_output_waits(s) && p[2].revents & (POLLIN | POLLHUP | POLLERR) &&
		    !read_port(s))
			break;
	}
out:
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0) {
			close(s->clients[i].fd); /* clients see the VM end */
			s->clients[i].fd = -1;
		}
	return NULL;
}

int exec_socket_address(const char *path, struct sockaddr_un *a, int *dirfd)
{
	*dirfd = -1;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) < sizeof(a->sun_path)) {
		memcpy(a->sun_path, path, strlen(path) + 1);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (!slash || (size_t)(slash - path) >= sizeof(dir) || strlen(slash) > 64) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	*dirfd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return -1;
	snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d%s", *dirfd, slash);
	return 0;
}

int exec_server_listen(const char *path)
{
	struct sockaddr_un a;
	int dirfd = -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || exec_socket_address(path, &a, &dirfd))
		goto fail;
	unlink(path); /* a stale one from a run that crashed */
	mode_t old = umask(077);
	int bound = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (dirfd >= 0)
		close(dirfd);
	if (bound || listen(fd, 16))
		goto fail;
	return fd;
fail:
	fprintf(stderr, "pier: exec: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

struct exec_server *exec_server_start(const char *path, int listen_fd, int port_fd,
				      bool port_listening)
{
	struct exec_server *s = calloc(1, sizeof(*s));
	uint8_t *bufs = malloc(RECORD_MAX * (MAX_CLIENTS + 1));
	if (listen_fd < 0)
		listen_fd = exec_server_listen(path);
	if (!s || !bufs || listen_fd < 0 || strlen(path) >= sizeof(s->path)) {
		if (listen_fd >= 0)
			fprintf(stderr, "pier: exec: %s\n", strerror(s && bufs ? ENAMETOOLONG : ENOMEM));
		goto fail;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->listen_fd = listen_fd;
	s->port_fd = port_listening ? -1 : port_fd;
	s->port_listen_fd = port_listening ? port_fd : -1;
	s->to_guest.buf = bufs;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		s->clients[i].fd = -1;
		s->clients[i].out.buf = bufs + RECORD_MAX * (size_t)(i + 1);
	}
	wire_reader_init(&s->from_guest, EXEC_KINDS);
	if (!port_listening)
		nonblock(port_fd);
	nonblock(listen_fd);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0) {
		fprintf(stderr, "pier: exec: eventfd: %s\n", strerror(errno));
		goto fail;
	}
	int err = thread_start(&s->thread, serve, s);
	if (!err)
		return s;
	fprintf(stderr, "pier: exec: thread: %s\n", strerror(err));
	close(s->stop_fd);
fail:
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(path);
	}
	close(port_fd);
	free(bufs);
	free(s);
	return NULL;
}

void exec_server_stop(struct exec_server *s)
{
	if (!s)
		return;
	uint64_t one = 1;
	if (write(s->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(s->thread, NULL);
	/* unlinkat: the call pier's seccomp filter allows (a confined VMM
	 * may not reach the state directory at all: pier-oci delete then
	 * removes it). */
	unlinkat(AT_FDCWD, s->path, 0);
	close(s->listen_fd);
	close(s->stop_fd);
	if (s->port_fd >= 0)
		close(s->port_fd);
	if (s->port_listen_fd >= 0)
		close(s->port_listen_fd);
	free(s->to_guest.buf);
	free(s);
}
