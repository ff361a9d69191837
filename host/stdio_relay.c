/* The program's stdio under QEMU (see stdio_relay.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <sys/un.h>
#include <unistd.h>
#include <pier/console_ctl.h>
#include "fdio.h"
#include "run.h"
#include "stdio_relay.h"
#include "terminal.h"
#include "threads.h"

#define CHUNK (64 * 1024)

static const char *const sock_names[RELAY_SOCKS] = { "con-in.sock", "con-out.sock",
						     "con-err.sock", "con-ctl.sock", "serial.sock" };
static const char *const port_names[RELAY_SOCKS] = { CONSOLE_PORT_STDIN, CONSOLE_PORT_STDOUT,
						     CONSOLE_PORT_STDERR, CONSOLE_PORT_CTL, NULL };
static const int port_nrs[RELAY_SOCKS] = { CONSOLE_NR_STDIN, CONSOLE_NR_STDOUT, CONSOLE_NR_STDERR,
					   CONSOLE_NR_CTL, 0 };

int stdio_relay_listen(struct stdio_relay *r, const char *dir, int log_fd)
{
	memset(r, 0, sizeof(*r));
	r->open = true;
	r->log_fd = log_fd;
	r->stop_pipe[0] = r->stop_pipe[1] = -1;
	pthread_mutex_init(&r->ctl_lock, NULL);
	for (int i = 0; i < RELAY_SOCKS; i++)
		r->listen_fd[i] = r->fd[i] = -1;
	if (pipe2(r->stop_pipe, O_CLOEXEC)) {
		perror("pier: pipe");
		return -1;
	}
	for (int i = 0; i < RELAY_SOCKS; i++) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		if (snprintf(r->path[i], sizeof(r->path[i]), "%s/%s", dir, sock_names[i]) >=
		    (int)sizeof(a.sun_path)) {
			fprintf(stderr, "pier: %s: path too long for a socket\n", dir);
			return -1;
		}
		memcpy(a.sun_path, r->path[i], strlen(r->path[i]) + 1);
		r->listen_fd[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (r->listen_fd[i] < 0 || bind(r->listen_fd[i], (struct sockaddr *)&a, sizeof(a)) ||
		    listen(r->listen_fd[i], 1)) {
			fprintf(stderr, "pier: %s: %s\n", r->path[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

void stdio_relay_qemu_args(struct stdio_relay *r, bool pci, int max_ports, const char **args,
			   int *n)
{
	char (*s)[192] = r->qemu_arg;
	int k = 0;
	snprintf(s[k], sizeof(s[k]), "%s,id=vser,max_ports=%d",
		 pci ? "virtio-serial-pci,disable-legacy=on" : "virtio-serial-device", max_ports);
	args[(*n)++] = "-device";
	args[(*n)++] = s[k++];
	for (int i = 0; i < RELAY_SOCKS; i++) {
		snprintf(s[k], sizeof(s[k]), "socket,id=relay%d,path=%s", i, r->path[i]);
		args[(*n)++] = "-chardev";
		args[(*n)++] = s[k++];
		if (!port_names[i]) {
			args[(*n)++] = "-serial";
			snprintf(s[k], sizeof(s[k]), "chardev:relay%d", i);
		} else {
			args[(*n)++] = "-device";
			snprintf(s[k], sizeof(s[k]), "virtserialport,bus=vser.0,nr=%d,chardev=relay%d,"
				 "name=%s", port_nrs[i], i, port_names[i]);
		}
		args[(*n)++] = s[k++];
	}
}

/*
 * One record to the guest. The main thread sends signals: it must not
 * hang on a guest that takes no records (pier's own signals, --timeout
 * and the grace period run there), so a record that finds no room within
 * a second is dropped whole; one begun is finished (the stream is
 * records).
 */
static void send_record(struct stdio_relay *r, const struct console_ctl_msg *m)
{
	pthread_mutex_lock(&r->ctl_lock);
	int fd = r->fd[RELAY_CTL];
	size_t done = 0;
	int waits = 0;
	while (fd >= 0 && done < sizeof(*m)) {
		ssize_t w = send(fd, (const char *)m + done, sizeof(*m) - done, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if (done == 0 && waits++ == 10) {
				fprintf(stderr, "pier: the guest takes no control records; one dropped\n");
				break;
			}
			struct pollfd p = { fd, POLLOUT, 0 };
			poll(&p, 1, 100);
			continue;
		}
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	pthread_mutex_unlock(&r->ctl_lock);
}

void stdio_relay_signal(struct stdio_relay *r, int sig)
{
	struct console_ctl_msg m = { .type = CONSOLE_CTL_SIGNAL, .arg = (uint32_t)sig };
	if (sig == SIGWINCH && !terminal_winsize(&m))
		return;
	send_record(r, &m);
}

struct relay_state {
	char in[CHUNK];
	size_t in_len, in_off;
	bool in_wanted;        /* the program read stdin (STDIN_WANTED): feed it */
	bool in_eof;           /* pier's stdin ended (or failed) */
	bool in_shut;          /* ... and pier.stdin's socket is half-closed */
	bool eof_typed;        /* ^D at the terminal, not passed on yet */
	char rec[sizeof(struct console_ctl_msg)];
	size_t rec_len;
	char buf[CHUNK];       /* pier.ctl */
	char log[CHUNK];       /* serial: the kernel's log, up to a whole line */
	size_t log_len;
	char out[CHUNK];       /* stdout and stderr (pump_ctl calls pump_out) */
};

static void close_sock(struct stdio_relay *r, int i)
{
	if (i == RELAY_CTL)
		pthread_mutex_lock(&r->ctl_lock);
	if (r->fd[i] >= 0)
		close(r->fd[i]);
	r->fd[i] = -1;
	if (i == RELAY_CTL)
		pthread_mutex_unlock(&r->ctl_lock);
}

static void accept_one(struct stdio_relay *r, int i)
{
	int fd = accept4(r->listen_fd[i], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	close(r->listen_fd[i]);
	r->listen_fd[i] = -1;
	if (i == RELAY_CTL)
		pthread_mutex_lock(&r->ctl_lock);
	r->fd[i] = fd;
	if (i == RELAY_CTL)
		pthread_mutex_unlock(&r->ctl_lock);
	if (i == RELAY_CTL) {
		struct console_ctl_msg hello;
		terminal_hello(&hello);
		if (r->exec)
			hello.how |= CONSOLE_HELLO_EXEC;
		if (r->net)
			hello.how |= CONSOLE_HELLO_NET;
		send_record(r, &hello);
	}
}

/* Output of the guest, one chunk (all: until the socket is empty, what a
 * SYNC needs; else one, so input and records get their turn while a
 * program streams output faster than pier's stdout takes it). */
static void pump_out(struct stdio_relay *r, struct relay_state *st, int i, bool all)
{
	char *buf = st->out;
	int to = i == RELAY_STDOUT ? STDOUT_FILENO : STDERR_FILENO;
	for (;;) {
		ssize_t n = read(r->fd[i], buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_sock(r, i); /* QEMU went */
			return;
		}
		if (!fd_write_all_until(to, buf, (size_t)n, r->stop_pipe[0])) {
			close_sock(r, i); /* the reader is gone: the guest sees EPIPE */
			return;
		}
		if (!all)
			return;
	}
}

/* The kernel's log (serial) in whole lines: it often goes to the same file
 * as the program's stderr (another socket), and a line cut where a read
 * ended could have the program's bytes in its middle. A line longer than
 * the buffer goes as it is; the rest when QEMU goes or pier stops. */
static void log_out(struct stdio_relay *r, struct relay_state *st, bool all)
{
	size_t end = st->log_len;
	while (!all && end && st->log[end - 1] != '\n')
		end--;
	if (!end && st->log_len == sizeof(st->log))
		end = st->log_len;
	if (!end)
		return;
	fd_write_all_until(r->log_fd, st->log, end, r->stop_pipe[0]);
	memmove(st->log, st->log + end, st->log_len - end);
	st->log_len -= end;
}

static void pump_log(struct stdio_relay *r, struct relay_state *st)
{
	ssize_t n = read(r->fd[RELAY_SERIAL], st->log + st->log_len, sizeof(st->log) - st->log_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		log_out(r, st, true);
		close_sock(r, RELAY_SERIAL); /* QEMU went */
		return;
	}
	st->log_len += (size_t)n;
	log_out(r, st, false);
}

static void pump_ctl(struct stdio_relay *r, struct relay_state *st)
{
	ssize_t n = read(r->fd[RELAY_CTL], st->buf, sizeof(st->buf));
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		close_sock(r, RELAY_CTL);
		return;
	}
	for (ssize_t k = 0; k < n; k++) {
		st->rec[st->rec_len++] = st->buf[k];
		if (st->rec_len == sizeof(st->rec)) {
			struct console_ctl_msg m;
			memcpy(&m, st->rec, sizeof(m));
			st->rec_len = 0;
			if (m.type == CONSOLE_CTL_STDIN_WANTED) {
				st->in_wanted = true;
			} else if (m.type == CONSOLE_CTL_SET_TERMIOS) {
				terminal_apply(&m);
			} else if (m.type == CONSOLE_CTL_SYNC) {
				/* QEMU put the earlier output in its sockets before the
				 * guest asked: write it all out, then answer. */
				for (int i = RELAY_STDOUT; i <= RELAY_STDERR; i++)
					if (r->fd[i] >= 0)
						pump_out(r, st, i, true);
				send_record(r, &m);
			}
		}
	}
}

static void pump_in(struct stdio_relay *r, struct relay_state *st, bool readable)
{
	int fd = r->fd[RELAY_STDIN];
	if (st->in_len == 0 && !st->in_eof && !st->eof_typed && readable) {
		ssize_t n = read(STDIN_FILENO, st->in, sizeof(st->in));
		if (n > 0) {
			st->in_len = (size_t)n;
			st->in_off = 0;
		} else if (n == 0 && terminal_stdin_is_tty()) {
			st->eof_typed = true; /* ^D: passed on once the bytes before it are */
		} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			st->in_eof = true;
		}
	}
	while (st->in_len) {
		ssize_t w = send(fd, st->in + st->in_off, st->in_len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) { /* QEMU went: nothing more to give */
			st->in_len = 0;
			st->in_eof = true;
			break;
		}
		st->in_off += (size_t)w;
		st->in_len -= (size_t)w;
	}
	if (st->in_eof && !st->in_shut) {
		shutdown(fd, SHUT_WR); /* end of file, after the last byte */
		st->in_shut = true;
	}
	/* The ^D record goes on another socket: only once QEMU has taken
	 * every byte typed before it. */
	int unread = 0;
	if (st->eof_typed && !st->in_len && ioctl(fd, SIOCOUTQ, &unread) == 0 && unread == 0) {
		struct console_ctl_msg eof = { .type = CONSOLE_CTL_EOF };
		send_record(r, &eof);
		st->eof_typed = false;
	}
}

static void *relay_thread(void *arg)
{
	struct stdio_relay *r = arg;
	static struct relay_state st;
	memset(&st, 0, sizeof(st));
	for (;;) {
		struct pollfd p[2 * RELAY_SOCKS + 2];
		int who[2 * RELAY_SOCKS + 2], n = 0;
		bool open_out = false;
		for (int i = 0; i < RELAY_SOCKS; i++) {
			if (r->listen_fd[i] >= 0) {
				p[n] = (struct pollfd){ r->listen_fd[i], POLLIN, 0 };
				who[n++] = 100 + i;
				open_out |= i != RELAY_STDIN && i != RELAY_CTL;
			} else if (r->fd[i] >= 0 && !(i == RELAY_STDIN && !st.in_len)) {
				/* pier.stdin is watched only with bytes to give: once
				 * half-closed it reports hang-up for good. */
				short ev = i == RELAY_STDIN ? POLLOUT : POLLIN;
				p[n] = (struct pollfd){ r->fd[i], ev, 0 };
				who[n++] = i;
				open_out |= i == RELAY_STDOUT || i == RELAY_STDERR || i == RELAY_SERIAL;
			}
		}
		if (!open_out)
			break; /* QEMU has gone and all its output is out */
		if (r->fd[RELAY_STDIN] >= 0 && st.in_wanted && !st.in_len && !st.in_eof &&
		    !st.eof_typed) {
			p[n] = (struct pollfd){ STDIN_FILENO, POLLIN, 0 };
			who[n++] = 200;
		}
		p[n] = (struct pollfd){ r->stop_pipe[0], POLLIN, 0 };
		who[n++] = 300;
		if (poll(p, (nfds_t)n, st.eof_typed ? 10 : -1) < 0 && errno != EINTR)
			break;
		bool stdin_readable = false, stop = false;
		for (int k = 0; k < n; k++) {
			if (!p[k].revents)
				continue;
			if (who[k] >= 100 && who[k] < 200)
				accept_one(r, who[k] - 100);
			else if (who[k] == 200)
				stdin_readable = true;
			else if (who[k] == 300)
				stop = true;
		}
		/* In port order: stdout before stderr (see pump_out). */
		for (int i = RELAY_STDOUT; i <= RELAY_STDERR; i++)
			if (r->fd[i] >= 0)
				pump_out(r, &st, i, false);
		if (r->fd[RELAY_SERIAL] >= 0)
			pump_log(r, &st);
		if (r->fd[RELAY_CTL] >= 0)
			pump_ctl(r, &st);
		if (r->fd[RELAY_STDIN] >= 0)
			pump_in(r, &st, stdin_readable);
		if (stop)
			break;
	}
	log_out(r, &st, true); /* a last line without its newline */
	return NULL;
}

int stdio_relay_start(struct stdio_relay *r)
{
	int err = thread_start(&r->thread, relay_thread, r);
	if (err) {
		fprintf(stderr, "pier: relay thread: %s\n", strerror(err));
		return -1;
	}
	r->started = true;
	return 0;
}

void stdio_relay_finish(struct stdio_relay *r, bool (*give_up)(void))
{
	if (!r->open)
		return;
	if (r->started) {
		/* QEMU is gone; what it left goes out at the reader's pace, as a
		 * local program's last writes wait for theirs, unless pier is
		 * told to stop. */
		for (;;) {
			struct timespec end;
			clock_gettime(CLOCK_REALTIME, &end);
			end.tv_nsec += 200000000L;
			if (end.tv_nsec >= 1000000000L) {
				end.tv_sec++;
				end.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(r->thread, NULL, &end) == 0)
				break;
			if (!give_up())
				continue;
			clock_gettime(CLOCK_REALTIME, &end);
			end.tv_sec += 2;
			if (write(r->stop_pipe[1], "x", 1) != 1 ||
			    pthread_timedjoin_np(r->thread, NULL, &end)) {
				pthread_detach(r->thread);
				r->started = false;
				r->open = false;
				return; /* its descriptors stay: it may still use them */
			}
			break;
		}
		r->started = false;
	}
	for (int i = 0; i < RELAY_SOCKS; i++) {
		if (r->listen_fd[i] >= 0)
			close(r->listen_fd[i]);
		close_sock(r, i);
		if (r->path[i][0])
			unlink(r->path[i]);
	}
	for (int i = 0; i < 2; i++)
		if (r->stop_pipe[i] >= 0)
			close(r->stop_pipe[i]);
	r->open = false;
}
