/* pier-oci exec's programs (see exec_session.h). */
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <asm-generic/termios.h>
#include <asm-generic/poll.h>
#include <asm-generic/siginfo.h>
#include <linux/fcntl.h>
#include <linux/signal.h>
#include <pier/errno.h>
#include <pier/exec_wire.h>
#include <pier/fmt.h>
#include <pier/run_args.h>
#include <pier/string.h>
#include "../drivers/virtio_console.h"
#include "../kernel/console.h"
#include "../kernel/control.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "exec.h"
#include "exec_session.h"
#include "process.h"
#include "signal.h"
#include "stdio.h"
#include "syscall.h"

#define RFLAGS_IF 0x200ULL

struct exec_session {
	uint32_t id;                  /* the host's number for it */
	int refs;                     /* its descriptions, and its process while it runs */
	struct process *proc;         /* while it runs */
	bool tty;                     /* its three streams are one terminal */
	bool reported;                /* ERROR or EXIT went to the host */
	struct exec_spawn spawn;
	uint8_t *request;             /* SPAWN's payload, until the program is loaded */
	uint32_t request_len;
	uint8_t termios[CONSOLE_TERMIOS_BYTES];
	/* stdin: a ring the host fills, at most EXEC_WIRE_WINDOW unread */
	uint8_t *in;
	uint32_t in_head, in_len, unacked;
	bool in_eof;
	bool closed;                  /* the host's end went away: output fails with EPIPE */
	int sid, fg_pgrp;             /* its terminal's session and foreground group */
	struct exec_session *next;    /* every session */
	struct exec_session *next_pending; /* SPAWNs execd has not taken yet */
};

static struct exec_session *sessions, *pending;
static struct task *execd;
static unsigned bad_records;

/* One record to the host; only a program's output gives up for a signal:
 * the others (its status above all) must reach the host. */
static int exec_send(uint32_t id, unsigned kind, const void *payload, size_t len)
{
	struct vcon_part part = { payload, len };
	return vcon_records_send(VCON_EXEC, id, kind, &part, 1,
				 kind == EXEC_STDOUT || kind == EXEC_STDERR);
}

static struct exec_session *find(uint32_t id)
{
	for (struct exec_session *s = sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void session_free(struct exec_session *s)
{
	for (struct exec_session **pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	kfree(s->request);
	kfree(s->in);
	kfree(s);
}

void exec_session_put(struct exec_session *s)
{
	if (--s->refs == 0)
		session_free(s);
}

static void bad(const char *what)
{
	if (bad_records++ < 4)
		kprintf("exec: %s from the host: ignored\n", what);
}

static void take_stdin(struct exec_session *s, const uint8_t *p, uint32_t n)
{
	if (s->in_eof)
		return bad("input after its end");
	if (n > EXEC_WIRE_WINDOW - s->in_len) {
		bad("input past the window");
		n = EXEC_WIRE_WINDOW - s->in_len;
	}
	for (uint32_t i = 0; i < n; i++)
		s->in[(s->in_head + s->in_len + i) % EXEC_WIRE_WINDOW] = p[i];
	s->in_len += n;
}

/* Each record from the host; called wherever the device is looked at,
 * so it only files things away and wakes whoever waits for them. */
static void on_record(const struct wire_header *h, const uint8_t *p)
{
	struct exec_session *s = find(h->id);
	if (h->kind == EXEC_SPAWN) {
		if (s || h->id == 0)
			return bad("a SPAWN for a session that exists");
		s = kzalloc(sizeof(*s));
		uint8_t *req = kmalloc(h->len ? h->len : 1);
		uint8_t *in = kmalloc(EXEC_WIRE_WINDOW);
		if (!s || !req || !in) {
			kfree(s);
			kfree(req);
			kfree(in);
			/* Nothing to answer with: the host's request times out. */
			return bad("a SPAWN without memory for it");
		}
		memcpy(req, p, h->len);
		*s = (struct exec_session){ .id = h->id, .refs = 1, .request = req,
					    .request_len = h->len, .in = in };
		s->next = sessions;
		sessions = s;
		struct exec_session **pp = &pending;
		while (*pp)
			pp = &(*pp)->next_pending;
		*pp = s;
		task_wake(execd);
		return;
	}
	if (!s)
		return; /* a session that ended meanwhile */
	uint32_t arg = 0;
	if (h->len >= sizeof(arg))
		memcpy(&arg, p, sizeof(arg));
	switch (h->kind) {
	case EXEC_STDIN:
		take_stdin(s, p, h->len);
		break;
	case EXEC_STDIN_EOF:
		s->in_eof = true;
		break;
	case EXEC_SIGNAL:
		if (s->proc && arg >= 1 && arg <= 64) {
			/* A terminal's keys go to its foreground group, as a
			 * terminal sends them; the rest to the program. */
			bool keys = arg == SIGINT || arg == SIGQUIT || arg == SIGTSTP || arg == SIGWINCH;
			struct sig_info tty = { .code = SI_KERNEL }, in = { .code = SI_USER };
			if (!(s->tty && keys && signal_group(s->fg_pgrp, (int)arg, &tty)))
				signal_post_proc(s->proc, (int)arg, &in);
		}
		break;
	case EXEC_WINSIZE:
		if (h->len == 4) {
			memcpy(&s->spawn.rows, p, 2);
			memcpy(&s->spawn.cols, p + 2, 2);
		}
		break;
	case EXEC_CLOSE:
		s->closed = s->in_eof = true;
		break;
	default:
		return bad("a record the host does not send");
	}
	task_wake_all();
}

/* Tells the host why the program did not start; the session ends. */
static void report_error(struct exec_session *s, uint32_t status, const char *msg)
{
	size_t n = strlen(msg);
	uint8_t b[4 + 400];
	if (n > sizeof(b) - 4)
		n = sizeof(b) - 4;
	memcpy(b, &status, 4);
	memcpy(b + 4, msg, n);
	s->reported = true;
	exec_send(s->id, EXEC_ERROR, b, 4 + n);
}

static uint16_t read_cs(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

/* The terminal's modes when the host sent none: a cooked terminal's. */
static void default_termios(uint8_t *out)
{
	struct termios t = { 0 };
	t.c_iflag = ICRNL | IXON;
	t.c_oflag = OPOST | ONLCR;
	t.c_cflag = B38400 | CS8 | CREAD;
	t.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | IEXTEN;
	memcpy(out, &t, sizeof(t));
}

/* The first moments of an exec'd program's task: load it, give it the
 * session's streams, and go to it (task_first_call). */
static int64_t spawn_main(void *arg)
{
	struct exec_session *s = arg;
	kernel_enter();
	struct process *p = current->proc;
	struct run_args a;
	const char *why = "";
	char *msg = kmalloc(VFS_PATH_MAX + 256);
	uint64_t entry = 0, rsp = 0;
	int status = !msg ? 126
		     : run_args_check(s->request + sizeof(s->spawn), s->request_len - sizeof(s->spawn),
				      &a, &why)
			     ? 126
			     : exec_load_new(&a, &entry, &rsp, msg, VFS_PATH_MAX + 256);
	if (msg && status == 126 && *why)
		fmt_snprintf(msg, VFS_PATH_MAX + 256, "a malformed request: %s", why);
	for (int fd = 0; !status && fd < 3; fd++) {
		struct ofile *of = ofile_new(OF_CONSOLE);
		if (!of) {
			status = 126;
			fmt_snprintf(msg, VFS_PATH_MAX + 256, "out of memory");
			break;
		}
		of->flags = s->tty ? O_RDWR : fd == 0 ? O_RDONLY : O_WRONLY;
		of->stream = fd;
		of->obj = s;
		s->refs++;
		fd_install(of, fd, false);
	}
	kfree(s->request);
	s->request = NULL;
	if (status) {
		report_error(s, (uint32_t)status, msg ? msg : "out of memory");
		kfree(msg);
		process_exit_wstatus(status << 8);
	}
	kfree(msg);
	uint32_t pid = (uint32_t)p->pid;
	exec_send(s->id, EXEC_STARTED, &pid, sizeof(pid));
	struct syscall_frame *f = current->frame;
	memset(f, 0, sizeof(*f));
	f->rip = entry;
	f->rsp = rsp;
	f->rflags = 0x2 | RFLAGS_IF;
	f->cs = read_cs(); /* the CPL a system call arrives at: how to go back */
	task_before_user(&f->rflags);
	kernel_leave();
	return 0;
}

/* execd's part: checks what it can before a process exists for it. */
static void start(struct exec_session *s)
{
	if (s->request_len < sizeof(s->spawn)) {
		report_error(s, 126, "a malformed request: too short");
		exec_session_put(s);
		return;
	}
	memcpy(&s->spawn, s->request, sizeof(s->spawn));
	s->tty = s->spawn.flags & EXEC_SPAWN_TTY;
	if (s->tty)
		memcpy(s->termios, s->spawn.termios, sizeof(s->termios));
	if (s->tty && !(s->spawn.flags & EXEC_SPAWN_TERMIOS))
		default_termios(s->termios);
	s->refs++; /* the process's, until it exits */
	int pid = process_spawn(spawn_main, s, s->spawn.uid, s->spawn.gid, s);
	if (pid < 0) {
		s->refs--;
		report_error(s, 126, pid == -EAGAIN ? "too many tasks" : "out of memory");
		exec_session_put(s);
		return;
	}
	s->proc = process_find(pid);
	s->sid = s->fg_pgrp = pid;
	exec_session_put(s); /* the request's: the descriptions and process hold it now */
}

static int64_t execd_main(void *arg)
{
	(void)arg;
	kernel_enter();
	for (;;) {
		vcon_poll(); /* the records the interrupt came for */
		while (pending) {
			struct exec_session *s = pending;
			pending = s->next_pending;
			start(s);
		}
		task_wait(RQ_NO_DEADLINE);
	}
	return 0;
}

void exec_session_init(void)
{
	if (!(vcon_tty_state()->how & CONSOLE_HELLO_EXEC))
		return;
	int err;
	execd = task_spawn(execd_main, NULL, NULL, &err);
	if (!execd) {
		kwarn("exec: no task for pier-oci exec's requests (errno %d)\n", -err);
		return;
	}
	vcon_records_start(VCON_EXEC, on_record); /* the console's interrupts wake execd */
}

void exec_session_exited(struct exec_session *s, int wstatus)
{
	s->proc = NULL;
	if (!s->reported) {
		uint32_t w = (uint32_t)wstatus;
		s->reported = true;
		exec_send(s->id, EXEC_EXIT, &w, sizeof(w));
	}
	exec_session_put(s);
}

/* ---- its streams ---- */

static void give_credit(struct exec_session *s)
{
	/* A credit per quarter window, or when the reader has emptied it, so
	 * the host neither waits on a reader nor sends a record per byte. */
	if (!s->unacked || (s->unacked < EXEC_WIRE_WINDOW / 4 && s->in_len))
		return;
	uint32_t n = s->unacked;
	if (exec_send(s->id, EXEC_CREDIT, &n, sizeof(n)) == 0)
		s->unacked = 0;
}

int64_t exec_session_read(struct ofile *of, void *buf, uint64_t len)
{
	struct exec_session *s = of->obj;
	if (of->stream != 0 && !s->tty)
		return -EBADF;
	if (!len)
		return 0;
	while (!s->in_len) {
		if (s->in_eof)
			return 0;
		if (of->flags & O_NONBLOCK)
			return -EAGAIN;
		if (signal_interrupts())
			return -EINTR;
		task_wait(RQ_NO_DEADLINE);
		if (user_buf_gone(buf, len, true))
			return -EFAULT; /* unmapped by another thread meanwhile */
	}
	uint32_t n = len < s->in_len ? (uint32_t)len : s->in_len;
	for (uint32_t i = 0; i < n; i++)
		((uint8_t *)buf)[i] = s->in[(s->in_head + i) % EXEC_WIRE_WINDOW];
	s->in_head = (s->in_head + n) % EXEC_WIRE_WINDOW;
	s->in_len -= n;
	s->unacked += n;
	give_credit(s);
	return n;
}

int64_t exec_session_write(struct ofile *of, const void *buf, uint64_t len)
{
	struct exec_session *s = of->obj;
	if (of->stream == 0 && !s->tty)
		return -EBADF;
	unsigned kind = s->tty || of->stream == 1 ? EXEC_STDOUT : EXEC_STDERR;
	uint64_t done = 0;
	while (done < len) {
		if (s->closed) {
			if (!done)
				signal_post_thread(current, SIGPIPE); /* as a pipe without readers */
			return done ? (int64_t)done : -EPIPE;
		}
		uint32_t n = len - done < EXEC_WIRE_DATA_MAX ? (uint32_t)(len - done)
							      : EXEC_WIRE_DATA_MAX;
		int err = exec_send(s->id, kind, (const uint8_t *)buf + done, n);
		if (err == -EPIPE)
			s->closed = true;
		else if (err)
			return done ? (int64_t)done : err;
		else
			done += n;
	}
	return (int64_t)done;
}

short exec_session_poll(struct ofile *of)
{
	struct exec_session *s = of->obj;
	vcon_poll();
	short in = (of->stream == 0 || s->tty) && (s->in_len || s->in_eof) ? POLLIN : 0;
	if (of->stream == 0 && !s->tty)
		return in;
	return in | (s->closed ? POLLERR : POLLOUT);
}

bool exec_session_is_terminal(const struct ofile *of)
{
	return ((struct exec_session *)of->obj)->tty;
}

int64_t exec_session_ioctl(struct ofile *of, uint64_t cmd, uint64_t arg)
{
	struct exec_session *s = of->obj;
	if (cmd == FIONREAD) {
		int n = of->stream == 0 || s->tty ? (int)s->in_len : 0;
		return copy_to_user(arg, &n, sizeof(n));
	}
	if (!s->tty)
		return -ENOTTY;
	switch (cmd) {
	case TCGETS:
		return copy_to_user(arg, s->termios, sizeof(s->termios));
	case TCSETS: case TCSETSW: case TCSETSF: {
		uint8_t t[CONSOLE_TERMIOS_BYTES];
		if (copy_from_user(t, arg, sizeof(t)))
			return -EFAULT;
		memcpy(s->termios, t, sizeof(t));
		/* The terminal is the host's: it applies the modes there. */
		int err = exec_send(s->id, EXEC_TERMIOS, t, sizeof(t));
		return err == -EPIPE ? 0 : err;
	}
	case TIOCGWINSZ: {
		struct winsize w = { .ws_row = s->spawn.rows ? s->spawn.rows : 24,
				     .ws_col = s->spawn.cols ? s->spawn.cols : 80 };
		return copy_to_user(arg, &w, sizeof(w));
	}
	case TIOCSWINSZ:
		return 0;
	case TIOCGPGRP: case TIOCGSID: case TIOCSPGRP:
		/* The terminal is the session's: its program leads it. */
		return stdio_pgrp_ioctl(cmd, arg, s->sid, &s->fg_pgrp);
	default:
		return -ENOTTY;
	}
}
