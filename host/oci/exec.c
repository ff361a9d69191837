/*
 * pier-oci exec: another program in a running container's VM (podman
 * exec, ctr task exec, kubectl exec), as runc's `exec` is called:
 *
 *   exec [--process FILE] [--detach] [--pid-file FILE] [--console-socket S]
 *        [--tty] [--cwd DIR] [--env K=V]... [--user UID[:GID]] ID [ARGS...]
 *
 * The program is described as the container's own process is (process.json,
 * or the container's config with ARGS and the flags over it), checked
 * against the root as create checks it, and sent to the VM through the
 * container's exec socket (ID/exec.sock, served by its VMM: exec_server.h).
 *
 * A host process stands for the program: it carries its stdio and signals
 * and exits with its status, or dies of its signal. With --detach it is a
 * child left behind once the program started, and --pid-file holds it
 * (an engine waits for that pid, as for runc's exec'd process); without,
 * it is pier-oci exec itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <asm/termbits.h>
#include <pier/exec_wire.h>
#include <pier/run_args.h>
#include "../exec_server.h"
#include "../fdio.h"
#include "../run_signals.h"
#include "oci.h"

_Static_assert(sizeof(struct termios) == sizeof(((struct exec_spawn *)0)->termios),
	       "the kernel's termios travels in SPAWN");

struct exec_request {
	struct oci_spec spec;
	int in, out, err;       /* the program's stdio on the host */
	int tty;                /* a terminal: in, out and err are it */
	bool own_pty;           /* ... one made here (--console-socket) */
	uint8_t *spawn;         /* SPAWN's payload */
	size_t spawn_len;
};

static int sig_pipe[2] = { -1, -1 };
/* A terminal that is the user's own (exec -t without a console socket):
 * the program changes its modes, so they are put back at the end. */
static int borrowed_tty = -1;
static uint8_t borrowed_modes[sizeof(struct termios)];

/* The proxy's end: the program's status, or death by its signal. */
__attribute__((noreturn)) static void finish(int code, int sig)
{
	if (borrowed_tty >= 0)
		ioctl(borrowed_tty, TCSETSW, borrowed_modes);
	if (sig)
		run_die_of(sig);
	_exit(code);
}

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* full: the signal is one of many already on their way */
	}
	errno = saved;
}

/* Signals to the proxy go on to the program, as to runc's exec'd process
 * through its parent; SIGCHLD and the ones that stop or kill outright
 * are the proxy's own. */
static void forward_signals(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
				    SIGWINCH, SIGALRM, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU };
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK))
		return;
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static bool send_record(int sock, unsigned kind, const void *p, uint32_t len)
{
	uint8_t h[sizeof(struct wire_header)];
	wire_put_header(h, 0, kind, len);
	return fd_write_all(sock, h, sizeof(h)) && (!len || fd_write_all(sock, p, len));
}

/* Tells the waiting parent (--detach) how it went: "S<pid>" or "E<status> <message>". */
static void report(int ready_fd, const char *text)
{
	if (ready_fd >= 0) {
		fd_write_all(ready_fd, text, strlen(text));
		close(ready_fd);
	}
}

/*
 * The proxy: SPAWN, then stdio both ways and signals, until EXIT or
 * ERROR. Ends the process with the program's status.
 */
__attribute__((noreturn)) static void proxy(struct exec_request *r, int sock, int ready_fd)
{
	forward_signals();
	if (r->tty && !r->own_pty && ioctl(r->in, TCGETS, borrowed_modes) == 0)
		borrowed_tty = r->in;
	if (r->own_pty) {
		/* The terminal is ours: its ^C and ^Z come to us as signals,
		 * which go on to the program's foreground group. */
		setsid();
		ioctl(r->in, TIOCSCTTY, 0);
	}
	if (!send_record(sock, EXEC_SPAWN, r->spawn, (uint32_t)r->spawn_len)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "E255 exec: the container's VM does not answer: %s",
			 strerror(errno));
		report(ready_fd, msg);
		finish(255, 0);
	}
	struct wire_reader *rd = malloc(sizeof(*rd));
	if (!rd)
		finish(255, 0);
	wire_reader_init(rd, EXEC_KINDS);
	uint32_t credit = EXEC_WIRE_WINDOW;
	bool in_done = false;
	static uint8_t buf[EXEC_WIRE_DATA_MAX];
	for (;;) {
		struct pollfd p[3] = {
			{ sock, POLLIN, 0 },
			{ !in_done && credit ? r->in : -1, POLLIN, 0 },
			{ sig_pipe[0], POLLIN, 0 },
		};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents & POLLIN) {
			unsigned char s[16];
			ssize_t n = read(sig_pipe[0], s, sizeof(s));
			for (ssize_t i = 0; i < n; i++) {
				uint32_t sig = s[i];
				struct winsize w;
				if (sig == SIGWINCH && r->tty && ioctl(r->out, TIOCGWINSZ, &w) == 0) {
					uint16_t size[2] = { w.ws_row, w.ws_col };
					send_record(sock, EXEC_WINSIZE, size, sizeof(size));
				}
				send_record(sock, EXEC_SIGNAL, &sig, sizeof(sig));
			}
		}
		if (p[1].revents) {
			size_t want = credit < sizeof(buf) ? credit : sizeof(buf);
			ssize_t n = read(r->in, buf, want);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n > 0) {
				credit -= (uint32_t)n;
				send_record(sock, EXEC_STDIN, buf, (uint32_t)n);
			} else {
				/* End of input (or a terminal hung up): the program's
				 * stdin ends; its output goes on. */
				in_done = true;
				send_record(sock, EXEC_STDIN_EOF, NULL, 0);
			}
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = read(sock, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the VM ended under the program */
		for (size_t off = 0; off < (size_t)n;) {
			bool done;
			off += wire_feed(rd, buf + off, (size_t)n - off, &done);
			if (rd->broken) {
				report(ready_fd, "E255 exec: a malformed record from the VM");
				finish(255, 0);
			}
			if (!done)
				continue;
			const uint8_t *pl = wire_payload(rd);
			uint32_t len = rd->h.len, arg = 0;
			if (len >= 4)
				memcpy(&arg, pl, 4);
			switch (rd->h.kind) {
			case EXEC_STARTED: {
				char msg[32];
				snprintf(msg, sizeof(msg), "S%u", arg);
				report(ready_fd, msg);
				ready_fd = -1;
				break;
			}
			case EXEC_STDOUT:
			case EXEC_STDERR:
				/* A reader gone is the program's business (EPIPE
				 * comes back as the session closing): keep going. */
				fd_write_all(rd->h.kind == EXEC_STDOUT ? r->out : r->err, pl, len);
				break;
			case EXEC_CREDIT:
				credit = arg > EXEC_WIRE_WINDOW - credit ? EXEC_WIRE_WINDOW : credit + arg;
				break;
			case EXEC_TERMIOS:
				if (r->tty && len == sizeof(struct termios))
					ioctl(r->in, TCSETS, pl);
				break;
			case EXEC_ERROR: {
				char msg[512];
				snprintf(msg, sizeof(msg), "E%u exec: %.*s", arg,
					 (int)(len > 4 ? len - 4 : 0), (const char *)pl + 4);
				if (ready_fd >= 0)
					report(ready_fd, msg);
				else
					oci_error("%s", msg + 1 + strcspn(msg + 1, " ") + 1);
				finish(arg ? (int)arg : 255, 0);
			}
			case EXEC_EXIT:
				finish(WEXITSTATUS((int)arg),
				       WIFSIGNALED((int)arg) ? WTERMSIG((int)arg) : 0);
			default:
				break;
			}
		}
	}
	/* The VM went away with the program in it: killed, as runc's exec'd
	 * process is when its container's init dies. */
	report(ready_fd, "E255 exec: the container's VM stopped");
	finish(137, SIGKILL);
}

/* SPAWN's payload: the fixed part, then the program's run_args block. */
static int build_spawn(struct exec_request *r)
{
	struct run_options *o = &r->spec.run;
	const char *cwd = o->cwd ? o->cwd : "/";
	int e2big;
	size_t len = run_args_size(cwd, o->argc, o->argv, o->envc, o->env, &e2big);
	if (!len || sizeof(struct exec_spawn) + len > WIRE_PAYLOAD_MAX) {
		oci_error("exec: the program's arguments and environment are too long (pier-oci "
			  "exec takes %zu bytes in all)", (size_t)WIRE_PAYLOAD_MAX);
		return -1;
	}
	struct exec_spawn sp = { .uid = r->spec.uid, .gid = r->spec.gid };
	if (r->tty) {
		struct winsize w;
		sp.flags |= EXEC_SPAWN_TTY;
		if (ioctl(r->out, TIOCGWINSZ, &w) == 0) {
			sp.rows = w.ws_row;
			sp.cols = w.ws_col;
		}
		if (ioctl(r->in, TCGETS, sp.termios) == 0)
			sp.flags |= EXEC_SPAWN_TERMIOS;
	}
	r->spawn_len = sizeof(sp) + len;
	if (!(r->spawn = malloc(r->spawn_len))) {
		oci_error("exec: %s", strerror(ENOMEM));
		return -1;
	}
	memcpy(r->spawn, &sp, sizeof(sp));
	run_args_write(r->spawn + sizeof(sp), cwd, o->argc, o->argv, o->envc, o->env);
	return 0;
}

static int connect_exec(const char *id)
{
	char path[4096];
	oci_state_path(path, sizeof(path), id, "exec.sock");
	struct sockaddr_un a;
	int dirfd, fd = exec_socket_address(path, &a, &dirfd) ? -1
			: socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, err = errno;
		if (dirfd >= 0)
			close(dirfd);
		if (ok)
			return fd;
		close(fd);
		errno = err;
	}
	oci_error("exec: %s: %s (is the container's VM running?)", path, strerror(errno));
	return -1;
}

/* --user UID[:GID] over the config's. */
static int parse_user(const char *s, struct oci_spec *spec)
{
	char *end;
	errno = 0;
	long uid = strtol(s, &end, 10), gid = spec->gid;
	if (*end == ':')
		gid = strtol(end + 1, &end, 10);
	if (errno || *end || uid < 0 || gid < 0 || uid > INT_MAX || gid > INT_MAX) {
		oci_error("exec: --user %s: expected UID[:GID], numbers", s);
		return -1;
	}
	spec->uid = (unsigned)uid;
	spec->gid = (unsigned)gid;
	return 0;
}

int oci_cmd_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "process", required_argument, 0, 'p' },
		{ "detach", no_argument, 0, 'd' },
		{ "pid-file", required_argument, 0, 'P' },
		{ "console-socket", required_argument, 0, 'c' },
		{ "tty", no_argument, 0, 't' },
		{ "cwd", required_argument, 0, 'w' },
		{ "env", required_argument, 0, 'e' },
		{ "user", required_argument, 0, 'u' },
		/* Accepted, as they have no meaning in a VM (docs/oci.md). */
		{ "preserve-fds", required_argument, 0, 'x' },
		{ "process-label", required_argument, 0, 'x' },
		{ "apparmor", required_argument, 0, 'x' },
		{ "cap", required_argument, 0, 'x' },
		{ "cgroup", required_argument, 0, 'x' },
		{ "no-new-privs", no_argument, 0, 'X' },
		{ "ignore-paused", no_argument, 0, 'X' },
		{ 0, 0, 0, 0 },
	};
	const char *process = NULL, *pid_file = NULL, *console = NULL, *cwd = NULL, *user = NULL;
	bool detach = false, tty = false;
	char *envs[256];
	int nenv = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:dP:c:tw:e:u:", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': process = optarg; break;
		case 'd': detach = true; break;
		case 'P': pid_file = optarg; break;
		case 'c': console = optarg; break;
		case 't': tty = true; break;
		case 'w': cwd = optarg; break;
		case 'u': user = optarg; break;
		case 'e':
			if (nenv == 256) {
				oci_error("exec: too many --env");
				return 1;
			}
			envs[nenv++] = optarg;
			break;
		case 'x': case 'X': break;
		default: return 1;
		}
	}
	if (optind >= argc || (!process && optind + 1 >= argc)) {
		oci_error("exec: expected a container id and, without --process, a command");
		return 1;
	}
	const char *id = argv[optind];
	struct oci_state st;
	if (oci_state_load(id, &st)) {
		oci_error("container does not exist: %s", id);
		return 1;
	}
	if (st.status != OCI_RUNNING) {
		oci_error("cannot exec in a %s container", st.status == OCI_CREATED ? "created"
											: "stopped");
		return 1;
	}
	struct exec_request r = { .in = 0, .out = 1, .err = 2 };
	/* The container's process is the default: its environment, cwd, user. */
	if (oci_spec_load(st.bundle, &r.spec, run_now_ns()))
		return 1;
	if (process) {
		if (oci_process_load(process, &r.spec))
			return 1;
	} else {
		struct run_options *o = &r.spec.run;
		o->argv = argv + optind + 1;
		o->argc = argc - optind - 1;
		o->tty = tty;
		if (cwd)
			o->cwd = cwd;
		if (nenv) {
			char **env = calloc((size_t)(o->envc + nenv), sizeof(*env));
			if (!env)
				return 1;
			memcpy(env, o->env, (size_t)o->envc * sizeof(*env));
			memcpy(env + o->envc, envs, (size_t)nenv * sizeof(*env));
			o->env = env;
			o->envc += nenv;
		}
		if (user && parse_user(user, &r.spec))
			return 1;
	}
	if (oci_rootfs_check_program(&r.spec))
		return 255;
	r.tty = r.spec.run.tty;
	int slave = -1;
	if (r.tty && console) {
		if ((slave = oci_console_open(console)) < 0)
			return 1;
		r.in = r.out = r.err = slave;
		r.own_pty = true;
	} else if (r.tty && !isatty(0)) {
		oci_error("exec: a terminal was asked for, but there is neither a console socket "
			  "nor a terminal on stdin");
		return 1;
	}
	if (build_spawn(&r))
		return 1;
	int sock = connect_exec(id);
	if (sock < 0)
		return 1;
	if (!detach) {
		if (oci_write_pid_file(pid_file, getpid()))
			return 1;
		proxy(&r, sock, -1);
	}
	int ready[2];
	if (pipe2(ready, O_CLOEXEC)) {
		oci_error("exec: pipe: %s", strerror(errno));
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		oci_error("exec: fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(ready[0]);
		proxy(&r, sock, ready[1]);
	}
	close(ready[1]);
	close(sock);
	if (slave >= 0)
		close(slave);
	char msg[600] = "";
	size_t got = 0;
	for (ssize_t n; got < sizeof(msg) - 1 &&
			(n = read(ready[0], msg + got, sizeof(msg) - 1 - got)) != 0;)
		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			break;
	msg[got] = '\0';
	if (msg[0] != 'S') {
		/* It did not start: the proxy ends with its status; say why. */
		int status;
		waitpid(pid, &status, 0);
		const char *why = msg[0] == 'E' ? msg + 1 + strcspn(msg + 1, " ") : "";
		oci_error("%s", *why ? why + 1 : "exec: the program did not start");
		return msg[0] == 'E' ? atoi(msg + 1) : 255;
	}
	return oci_write_pid_file(pid_file, pid) ? 1 : 0;
}
