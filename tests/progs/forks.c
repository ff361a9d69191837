/*
 * Processes (issue 18): fork and wait4, copy-on-write, MAP_SHARED and SysV
 * shm across fork, children killed by signals, pipes between processes
 * (EOF, EPIPE, SIGPIPE), open file descriptions shared across fork, WNOHANG,
 * ECHILD, SIGCHLD (a handler, SIG_IGN and SA_NOCLDWAIT reaping), process
 * groups and sessions, vfork + execve, posix_spawn, close-on-exec and
 * signal dispositions across execve, `#!` scripts; execve, exit and fork
 * from a second thread.
 *
 *   forks [DIR] [--bomb] [--leak]
 *
 * DIR (default /tmp) is a writable directory: the program leaves
 * forks-offset.txt, forks-script.sh and forks-noexec.txt there. Its
 * output is the same on every Linux (no pids, no times): the harness
 * (tests/integration/test_processes.py) compares a guest run with a
 * native one, line for line.
 *
 * --bomb forks children that block until fork fails: it must fail with
 * EAGAIN before BOMB_MAX children (the guest kernel's task limit; a
 * native run would fork thousands, so the harness passes it to the guest
 * only); then every child is released and reaped. --leak runs LEAK_CYCLES
 * fork + execve + wait cycles and fails if the MemFree of /proc/meminfo
 * has dropped by more than LEAK_SLACK_KB after them.
 *
 * The program runs itself (execve of /proc/self/exe) in a child mode:
 *
 *   forks --child echo WORD        prints "child: WORD", exits 0
 *   forks --child exit N           exits N
 *   forks --child fdcheck A B      exits 0 when A is closed and B open
 *   forks --child sigcheck         exits 0 when SIGUSR1 is SIG_DFL,
 *                                  SIGUSR2 SIG_IGN and SIGHUP blocked
 *   forks --child pidcheck PID     exits 0 when its pid is PID and its
 *                                  thread id too (execve from a thread)
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"

#define SELF "/proc/self/exe"
#define PIPE_BYTES (200 * 1024)
#define BOMB_MAX 5000
#define LEAK_WARMUP 50
#define LEAK_CYCLES 1000
#define LEAK_SLACK_KB 64

extern char **environ;

static const char *dir = "/tmp";

/* ---- helpers ---- */

static pid_t fork_checked(void)
{
	fflush(NULL); /* nothing buffered twice */
	pid_t pid = fork();
	if (pid < 0)
		FAIL("fork() = -1 (errno %d %s)", errno, strerror(errno));
	return pid;
}

static int wait_for(pid_t pid)
{
	int status = 0;
	pid_t r;
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r != pid)
		FAIL("waitpid(%d) = %d (errno %d %s)", (int)pid, (int)r, errno,
		     strerror(errno));
	return status;
}

static void expect_exit(pid_t pid, int code)
{
	int st = wait_for(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		FAIL("child status 0x%x (%s %d), expected exit %d", st,
		     WIFEXITED(st) ? "exited" : WIFSIGNALED(st) ? "signal" : "other",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? WTERMSIG(st) : -1,
		     code);
}

static void expect_signal(pid_t pid, int sig)
{
	int st = wait_for(pid);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != sig)
		FAIL("child status 0x%x (%s %d), expected death by signal %d (%s)", st,
		     WIFEXITED(st) ? "exited" : WIFSIGNALED(st) ? "signal" : "other",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? WTERMSIG(st) : -1,
		     sig, strsignal(sig));
	CHECK(!WIFEXITED(st));
}

static void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		CHECK(w > 0);
		c += w;
		n -= (size_t)w;
	}
}

/* Reads until end of file (at most cap bytes); returns the count. */
static size_t read_all(int fd, void *p, size_t cap)
{
	char *c = p;
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, c + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		CHECK(r >= 0);
		if (r == 0)
			return got;
		got += (size_t)r;
		CHECK(got < cap); /* more than expected */
	}
}

static char read_byte(int fd)
{
	char c = 0;
	ssize_t r;
	do
		r = read(fd, &c, 1);
	while (r < 0 && errno == EINTR);
	CHECK_EQ(r, 1);
	return c;
}

static void path_in_dir(char *buf, size_t cap, const char *name)
{
	CHECK((size_t)snprintf(buf, cap, "%s/%s", dir, name) < cap);
}

/* A child runs argv (this program in child mode, or a script) with its
 * stdout on a pipe; returns what it printed (NUL-terminated) and its pid
 * in *pid. */
static void run_captured(char *const argv[], char *out, size_t cap, pid_t *pid)
{
	int p[2];
	CHECK_SYS(pipe(p));
	*pid = fork_checked();
	if (*pid == 0) {
		close(p[0]);
		if (dup2(p[1], 1) != 1)
			_exit(120);
		close(p[1]);
		execve(argv[0], argv, environ);
		_exit(121);
	}
	close(p[1]);
	size_t n = read_all(p[0], out, cap - 1);
	out[n] = 0;
	close(p[0]);
}

/* ---- child mode ---- */

static int child_mode(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "";
	if (!strcmp(mode, "echo") && argc == 4) {
		printf("child: %s\n", argv[3]);
		return 0;
	}
	if (!strcmp(mode, "exit") && argc == 4)
		return atoi(argv[3]);
	if (!strcmp(mode, "fdcheck") && argc == 5) {
		int closed = atoi(argv[3]), open_ = atoi(argv[4]);
		errno = 0;
		if (fcntl(closed, F_GETFD) != -1 || errno != EBADF)
			return 2;
		if (fcntl(open_, F_GETFD) != 0)
			return 3;
		return 0;
	}
	if (!strcmp(mode, "sigcheck") && argc == 3) {
		struct sigaction sa;
		sigset_t mask;
		if (sigaction(SIGUSR1, NULL, &sa) || sa.sa_handler != SIG_DFL)
			return 2; /* a handler does not survive execve */
		if (sigaction(SIGUSR2, NULL, &sa) || sa.sa_handler != SIG_IGN)
			return 3; /* an ignored signal stays ignored */
		if (sigprocmask(SIG_SETMASK, NULL, &mask) || !sigismember(&mask, SIGHUP) ||
		    sigismember(&mask, SIGUSR1))
			return 4; /* the mask is kept */
		return 0;
	}
	if (!strcmp(mode, "pidcheck") && argc == 4) {
		pid_t want = (pid_t)atoi(argv[3]);
		return getpid() == want && syscall(SYS_gettid) == want ? 0 : 2;
	}
	fprintf(stderr, "forks: unknown child mode\n");
	return 99;
}

/* ---- the checks ---- */

static void fork_and_wait(void)
{
	pid_t me = getpid();
	int p[2];
	CHECK_SYS(pipe(p));
	pid_t a = fork_checked();
	if (a == 0) {
		pid_t mine = getpid();
		close(p[0]);
		write_all(p[1], &mine, sizeof(mine));
		if (getppid() != me)
			_exit(9);
		if (mine == me)
			_exit(10);
		_exit(7);
	}
	close(p[1]);
	pid_t reported = 0;
	CHECK_EQ(read_all(p[0], &reported, sizeof(reported) + 1), sizeof(reported));
	close(p[0]);
	CHECK(a > 0 && a != me);
	CHECK_EQ(reported, a); /* fork's answer is the child's getpid() */
	int st = wait_for(a);
	CHECK(WIFEXITED(st));
	CHECK(!WIFSIGNALED(st));
	CHECK_EQ(WEXITSTATUS(st), 7);

	pid_t b = fork_checked();
	if (b == 0)
		_exit(0);
	CHECK(b > 0 && b != me && b != a);
	expect_exit(b, 0);
	CHECK_EQ(getpid(), me);
	OK("fork-wait");
}

static int cow_global = 1;

static void copy_on_write(void)
{
	size_t n = 3 * 4096 + 123;
	unsigned char *heap = malloc(n);
	CHECK(heap != NULL);
	memset(heap, 'p', n);
	int stack_var = 5;
	int go[2];
	CHECK_SYS(pipe(go));

	pid_t pid = fork_checked();
	if (pid == 0) {
		close(go[1]);
		/* The parent writes first: the child still sees the old values. */
		read_byte(go[0]);
		if (cow_global != 1 || heap[0] != 'p' || heap[n - 1] != 'p')
			_exit(2);
		cow_global = 2;
		memset(heap, 'c', n);
		*(volatile int *)&stack_var = 6;
		if (cow_global != 2 || heap[4096] != 'c')
			_exit(3);
		_exit(0);
	}
	close(go[0]);
	cow_global = 3;
	heap[0] = 'P';
	heap[n - 1] = 'P';
	write_all(go[1], "g", 1);
	close(go[1]);
	expect_exit(pid, 0);
	CHECK_EQ(cow_global, 3);
	CHECK_EQ(stack_var, 5);
	CHECK_EQ(heap[0], 'P');
	CHECK_EQ(heap[n - 1], 'P');
	for (size_t i = 1; i < n - 1; i++)
		if (heap[i] != 'p')
			FAIL("heap byte %zu is 0x%02x after the child wrote its copy", i, heap[i]);
	free(heap);
	cow_global = 1;
	OK("cow");
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed + i / 4096);
}

static void check_fill(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed + i / 4096))
			FAIL("shared byte %zu is 0x%02x, the child wrote 0x%02x", i, p[i],
			     (unsigned char)(i * 31 + seed + i / 4096));
}

static void shared_memory(void)
{
	size_t n = 2 * 4096;
	unsigned char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				-1, 0);
	CHECK(m != MAP_FAILED);
	m[0] = 'x'; /* touched before the fork: the page is the parent's too */
	pid_t pid = fork_checked();
	if (pid == 0) {
		if (m[0] != 'x')
			_exit(2);
		fill(m, n, 11);
		_exit(0);
	}
	expect_exit(pid, 0);
	check_fill(m, n, 11);
	/* And back: the parent's write reaches a second child. */
	m[100] = 0xa5;
	pid = fork_checked();
	if (pid == 0)
		_exit(m[100] == 0xa5 ? 0 : 2);
	expect_exit(pid, 0);
	CHECK_SYS(munmap(m, n));
	OK("shared-anon");

	int id = shmget(IPC_PRIVATE, n, IPC_CREAT | 0600);
	CHECK(id >= 0);
	unsigned char *s = shmat(id, NULL, 0);
	CHECK(s != (void *)-1);
	pid = fork_checked();
	if (pid == 0) {
		fill(s, n, 77);
		_exit(shmdt(s) == 0 ? 0 : 2);
	}
	expect_exit(pid, 0);
	check_fill(s, n, 77);
	struct shmid_ds ds;
	CHECK_SYS(shmctl(id, IPC_STAT, &ds));
	CHECK_EQ(ds.shm_nattch, 1); /* the child's attachment went with it */
	CHECK_SYS(shmdt(s));
	CHECK_SYS(shmctl(id, IPC_RMID, NULL));
	OK("sysv-shm");
}

static void killed_by_signal(void)
{
	pid_t pid = fork_checked();
	if (pid == 0) {
		raise(SIGTERM);
		_exit(3);
	}
	expect_signal(pid, SIGTERM);

	int ready[2];
	CHECK_SYS(pipe(ready));
	pid = fork_checked();
	if (pid == 0) {
		close(ready[0]);
		write_all(ready[1], "r", 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	read_byte(ready[0]);
	close(ready[0]);
	CHECK_SYS(kill(pid, SIGKILL));
	expect_signal(pid, SIGKILL);

	/* A handled signal does not kill: the child exits on its own. */
	pid = fork_checked();
	if (pid == 0) {
		signal(SIGUSR1, SIG_IGN);
		raise(SIGUSR1);
		_exit(4);
	}
	expect_exit(pid, 4);
	OK("killed-by-signal");
}

static void pipes_between_processes(void)
{
	int p[2];
	CHECK_SYS(pipe(p));
	pid_t pid = fork_checked();
	if (pid == 0) {
		close(p[0]);
		static unsigned char chunk[7000];
		size_t sent = 0;
		while (sent < PIPE_BYTES) {
			size_t n = PIPE_BYTES - sent < sizeof(chunk) ? PIPE_BYTES - sent : sizeof(chunk);
			for (size_t i = 0; i < n; i++)
				chunk[i] = (unsigned char)((sent + i) * 7 + (sent + i) / 1000);
			write_all(p[1], chunk, n);
			sent += n;
		}
		_exit(0);
	}
	close(p[1]);
	static unsigned char got[PIPE_BYTES + 1];
	size_t n = read_all(p[0], got, sizeof(got));
	CHECK_EQ(n, PIPE_BYTES);
	for (size_t i = 0; i < n; i++)
		if (got[i] != (unsigned char)(i * 7 + i / 1000))
			FAIL("pipe byte %zu is 0x%02x", i, got[i]);
	char c;
	CHECK_EQ(read(p[0], &c, 1), 0); /* still end of file */
	close(p[0]);
	expect_exit(pid, 0);
	OK("pipe-200k");

	/* No reader, SIGPIPE ignored: EPIPE. */
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	CHECK_SYS(pipe(p));
	pid = fork_checked();
	if (pid == 0) /* a reader that goes away */
		_exit(0);
	close(p[0]);
	expect_exit(pid, 0);
	CHECK_ERR(write(p[1], "x", 1), EPIPE);
	close(p[1]);
	CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	OK("epipe");

	/* No reader, SIGPIPE default: the writer (a child) dies of it. */
	int go[2];
	CHECK_SYS(pipe(p));
	CHECK_SYS(pipe(go));
	pid = fork_checked();
	if (pid == 0) {
		close(p[0]);
		close(go[1]);
		read_byte(go[0]); /* the parent has closed its read end */
		ssize_t r = write(p[1], "x", 1);
		(void)r;
		_exit(5);
	}
	close(p[0]);
	close(p[1]);
	close(go[0]);
	write_all(go[1], "g", 1);
	close(go[1]);
	expect_signal(pid, SIGPIPE);
	OK("sigpipe");
}

static void shared_file_description(void)
{
	char path[4096];
	path_in_dir(path, sizeof(path), "forks-offset.txt");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	pid_t pid = fork_checked();
	if (pid == 0) {
		write_all(fd, "abc", 3);
		/* File status flags are the description's: shared. */
		if (fcntl(fd, F_SETFL, O_APPEND) != 0)
			_exit(2);
		/* Descriptor flags are the descriptor's: not shared. */
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
			_exit(3);
		_exit(0);
	}
	expect_exit(pid, 0);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 3);
	CHECK(fcntl(fd, F_GETFL) & O_APPEND);
	CHECK_EQ(fcntl(fd, F_GETFD), 0);
	write_all(fd, "def", 3);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 6);
	CHECK_SYS(close(fd));
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	char buf[16];
	CHECK_EQ(read_all(fd, buf, sizeof(buf)), 6);
	CHECK_MEM(buf, "abcdef", 6);
	close(fd);
	OK("shared-offset");
}

static volatile sig_atomic_t chld_hits;
static volatile pid_t chld_pid;
static volatile int chld_code, chld_status;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld_pid = si->si_pid;
	chld_code = si->si_code;
	chld_status = si->si_status;
	chld_hits++;
}

static void never_called(int sig)
{
	(void)sig;
}

static void waiting(void)
{
	/* WNOHANG while the child runs (blocked on a pipe). */
	int p[2];
	CHECK_SYS(pipe(p));
	pid_t pid = fork_checked();
	if (pid == 0) {
		close(p[1]);
		char c;
		ssize_t r = read(p[0], &c, 1);
		_exit(r == 0 ? 6 : 7);
	}
	close(p[0]);
	int st = -1;
	struct rusage ru;
	CHECK_EQ(wait4(pid, &st, WNOHANG, &ru), 0);
	CHECK_EQ(waitpid(-1, &st, WNOHANG), 0);
	close(p[1]); /* end of file: the child exits */
	pid_t r;
	do
		r = wait4(pid, &st, 0, &ru);
	while (r < 0 && errno == EINTR);
	CHECK_EQ(r, pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 6);
	OK("wnohang");

	/* No children left. */
	CHECK_ERR(waitpid(-1, &st, 0), ECHILD);
	CHECK_ERR(waitpid(-1, &st, WNOHANG), ECHILD);
	CHECK_ERR(wait4(pid, &st, 0, NULL), ECHILD); /* already reaped */
	OK("echild");

	/* A SIGCHLD handler runs when a child exits, with its siginfo. */
	struct sigaction sa = { 0 }, old;
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGCHLD, &sa, &old));
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	CHECK_SYS(sigprocmask(SIG_BLOCK, &block, &orig));
	chld_hits = 0;
	pid = fork_checked();
	if (pid == 0)
		_exit(3);
	sigset_t during = orig;
	sigdelset(&during, SIGCHLD);
	while (!chld_hits)
		sigsuspend(&during);
	CHECK_EQ(chld_hits, 1);
	CHECK_EQ(chld_pid, pid);
	CHECK_EQ(chld_code, CLD_EXITED);
	CHECK_EQ(chld_status, 3);
	expect_exit(pid, 3); /* the handler reaps nothing: still a zombie */
	CHECK_SYS(sigprocmask(SIG_SETMASK, &orig, NULL));
	CHECK_SYS(sigaction(SIGCHLD, &old, NULL));
	OK("sigchld");

	/* SIGCHLD ignored, then SA_NOCLDWAIT: children reap themselves;
	 * wait blocks until they are gone, then fails with ECHILD. */
	for (int round = 0; round < 2; round++) {
		struct sigaction ign = { 0 };
		ign.sa_handler = round == 0 ? SIG_IGN : SIG_DFL;
		ign.sa_flags = round == 0 ? 0 : SA_NOCLDWAIT;
		sigemptyset(&ign.sa_mask);
		CHECK_SYS(sigaction(SIGCHLD, &ign, &old));
		CHECK_SYS(pipe(p));
		pid_t kids[3];
		for (int i = 0; i < 3; i++) {
			kids[i] = fork_checked();
			if (kids[i] == 0) {
				close(p[0]);
				_exit(0);
			}
		}
		close(p[1]);
		char c;
		CHECK_EQ(read(p[0], &c, 1), 0); /* every child has closed its end */
		close(p[0]);
		CHECK_ERR(waitpid(-1, &st, 0), ECHILD);
		for (int i = 0; i < 3; i++)
			CHECK_ERR(kill(kids[i], 0), ESRCH);
		CHECK_SYS(sigaction(SIGCHLD, &old, NULL));
	}
	OK("sigchld-ign-reaps");
}

static void groups_and_sessions(void)
{
	pid_t me = getpid();
	pid_t mygroup = getpgid(0), mysession = getsid(0);
	CHECK(mygroup > 0);
	CHECK(mysession > 0);
	CHECK_EQ(getpgrp(), mygroup);
	CHECK_EQ(getpgid(me), mygroup);
	CHECK_ERR(getpgid(0x3ffffff0), ESRCH);
	CHECK_ERR(getsid(0x3ffffff0), ESRCH);

	/* Two children in a group of their own; kill(-group) ends both. */
	int ready[2];
	CHECK_SYS(pipe(ready));
	pid_t a = fork_checked();
	if (a == 0) {
		if (setpgid(0, 0))
			_exit(2);
		if (setsid() != -1 || errno != EPERM) /* a group leader */
			_exit(3);
		write_all(ready[1], "a", 1);
		for (;;)
			pause();
	}
	/* Both sides set the group, as a shell does, so that it exists
	 * whichever runs first. */
	CHECK_SYS(setpgid(a, a));
	pid_t b = fork_checked();
	if (b == 0) {
		if (setpgid(0, a))
			_exit(2);
		write_all(ready[1], "b", 1);
		for (;;)
			pause();
	}
	CHECK_SYS(setpgid(b, a));
	close(ready[1]);
	read_byte(ready[0]);
	read_byte(ready[0]);
	close(ready[0]);
	CHECK_EQ(getpgid(a), a);
	CHECK_EQ(getpgid(b), a);
	CHECK_EQ(getpgid(0), mygroup); /* ours is unchanged */
	CHECK_EQ(getsid(a), mysession);
	CHECK_SYS(kill(-a, SIGTERM));
	expect_signal(a, SIGTERM);
	expect_signal(b, SIGTERM);
	CHECK_ERR(kill(-a, 0), ESRCH); /* the group is gone */
	OK("process-group");

	/* setsid in a child: a session and a group of its own. */
	int go[2];
	CHECK_SYS(pipe(ready));
	CHECK_SYS(pipe(go));
	pid_t c = fork_checked();
	if (c == 0) {
		close(go[1]);
		pid_t self = getpid();
		if (setsid() != self)
			_exit(2);
		if (getsid(0) != self || getpgid(0) != self || getpgrp() != self)
			_exit(3);
		if (setsid() != -1 || errno != EPERM)
			_exit(4);
		if (setpgid(0, 0) != -1 || errno != EPERM) /* a session leader */
			_exit(5);
		write_all(ready[1], "s", 1);
		read_byte(go[0]);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	read_byte(ready[0]);
	close(ready[0]);
	CHECK_EQ(getsid(c), c);
	CHECK_EQ(getpgid(c), c);
	CHECK_ERR(setpgid(c, mygroup), EPERM); /* another session now */
	write_all(go[1], "g", 1);
	close(go[1]);
	expect_exit(c, 0);
	OK("setsid");
}

static void vfork_exec(void)
{
	int p[2];
	CHECK_SYS(pipe(p));
	fflush(NULL);
	pid_t pid = vfork();
	if (pid == 0) {
		char *argv[] = { SELF, "--child", "echo", "vfork", NULL };
		if (dup2(p[1], 1) == 1) {
			close(p[0]);
			close(p[1]);
			execve(SELF, argv, environ);
		}
		_exit(127);
	}
	CHECK(pid > 0);
	close(p[1]);
	char out[256];
	size_t n = read_all(p[0], out, sizeof(out) - 1);
	out[n] = 0;
	close(p[0]);
	CHECK_STR(out, "child: vfork\n");
	expect_exit(pid, 0);
	OK("vfork-exec");
}

static void spawn(void)
{
	int p[2];
	CHECK_SYS(pipe(p));
	posix_spawn_file_actions_t fa;
	CHECK_EQ(posix_spawn_file_actions_init(&fa), 0);
	CHECK_EQ(posix_spawn_file_actions_adddup2(&fa, p[1], 1), 0);
	CHECK_EQ(posix_spawn_file_actions_addclose(&fa, p[0]), 0);
	CHECK_EQ(posix_spawn_file_actions_addclose(&fa, p[1]), 0);
	char *argv[] = { "forks-spawned", "--child", "echo", "spawn", NULL };
	pid_t pid = -1;
	fflush(NULL);
	CHECK_EQ(posix_spawn(&pid, SELF, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	char out[256];
	size_t n = read_all(p[0], out, sizeof(out) - 1);
	out[n] = 0;
	close(p[0]);
	CHECK_STR(out, "child: spawn\n");
	expect_exit(pid, 0);

	/* A program that is not there: posix_spawn says so (or the child
	 * exits 127, as older libcs have it). */
	char *missing[] = { "/nonexistent/prog", NULL };
	pid = -1;
	int r = posix_spawn(&pid, missing[0], NULL, NULL, missing, environ);
	if (r == 0)
		expect_exit(pid, 127);
	else
		CHECK_EQ(r, ENOENT);
	OK("posix-spawn");
}

static void exec_details(void)
{
	char out[256];
	pid_t pid;

	/* Exit status through execve. */
	char *exit42[] = { SELF, "--child", "exit", "42", NULL };
	run_captured(exit42, out, sizeof(out), &pid);
	CHECK_STR(out, "");
	expect_exit(pid, 42);

	/* Close-on-exec: the O_CLOEXEC descriptor is gone, its dup stays. */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	int keep = dup(fd);
	CHECK(keep >= 0);
	char a[16], b[16];
	snprintf(a, sizeof(a), "%d", fd);
	snprintf(b, sizeof(b), "%d", keep);
	char *fdcheck[] = { SELF, "--child", "fdcheck", a, b, NULL };
	run_captured(fdcheck, out, sizeof(out), &pid);
	expect_exit(pid, 0);
	close(fd);
	close(keep);
	OK("cloexec");

	/* Signal dispositions and the mask across execve. */
	struct sigaction sa = { 0 }, old1, old2;
	sa.sa_handler = never_called;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, &old1));
	sa.sa_handler = SIG_IGN;
	CHECK_SYS(sigaction(SIGUSR2, &sa, &old2));
	sigset_t hup, orig;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	CHECK_SYS(sigprocmask(SIG_BLOCK, &hup, &orig));
	char *sigcheck[] = { SELF, "--child", "sigcheck", NULL };
	run_captured(sigcheck, out, sizeof(out), &pid);
	expect_exit(pid, 0);
	CHECK_SYS(sigprocmask(SIG_SETMASK, &orig, NULL));
	CHECK_SYS(sigaction(SIGUSR1, &old1, NULL));
	CHECK_SYS(sigaction(SIGUSR2, &old2, NULL));
	OK("exec-signals");

	/* execve's own errors, seen in the child. */
	char noexec[4096];
	path_in_dir(noexec, sizeof(noexec), "forks-noexec.txt");
	fd = open(noexec, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	write_all(fd, "not a program\n", 14);
	close(fd);
	CHECK_SYS(chmod(noexec, 0644));
	pid = fork_checked();
	if (pid == 0) {
		char *argv[] = { "/nonexistent/prog", NULL };
		execve(argv[0], argv, environ);
		if (errno != ENOENT)
			_exit(2);
		argv[0] = noexec;
		execve(argv[0], argv, environ);
		_exit(errno == EACCES ? 0 : 3);
	}
	expect_exit(pid, 0);
	OK("exec-errors");
}

static void script(void)
{
	if (access("/bin/sh", X_OK) != 0) {
		printf("script: no /bin/sh here, not run\n");
		OK("script");
		return;
	}
	char path[4096];
	path_in_dir(path, sizeof(path), "forks-script.sh");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	CHECK(fd >= 0);
	const char *text = "#!/bin/sh\necho \"script: $# $1\"\nexit 5\n";
	write_all(fd, text, strlen(text));
	CHECK_SYS(close(fd));
	CHECK_SYS(chmod(path, 0755));
	char out[256];
	pid_t pid;
	char *argv[] = { path, "arg one", NULL };
	run_captured(argv, out, sizeof(out), &pid);
	CHECK_STR(out, "script: 1 arg one\n");
	expect_exit(pid, 5);
	OK("script");
}

static void bomb(void)
{
	static pid_t kids[BOMB_MAX];
	int p[2];
	CHECK_SYS(pipe(p));
	int n = 0, err = 0;
	fflush(NULL);
	while (n < BOMB_MAX) {
		pid_t pid = fork();
		if (pid == 0) {
			char c;
			close(p[1]);
			ssize_t r = read(p[0], &c, 1); /* until the parent lets go */
			_exit(r == 0 ? 0 : 2);
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		kids[n++] = pid;
	}
	/* Release and reap every child, whatever happened. */
	close(p[1]);
	close(p[0]);
	for (int i = 0; i < n; i++)
		expect_exit(kids[i], 0);
	int st;
	CHECK_ERR(waitpid(-1, &st, WNOHANG), ECHILD);
	if (n >= BOMB_MAX)
		FAIL("fork went on working for %d children", n);
	if (err != EAGAIN)
		FAIL("fork failed after %d children with errno %d (%s), expected EAGAIN", n, err,
		     strerror(err));
	CHECK(n > 0);
	printf("bomb: fork failed with EAGAIN after %d children\n", n);
	/* And works again once they are gone. */
	pid_t pid = fork_checked();
	if (pid == 0)
		_exit(0);
	expect_exit(pid, 0);
	OK("bomb");
}

static long mem_free_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	CHECK(f != NULL);
	char line[256];
	long kb = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	CHECK(kb > 0);
	return kb;
}

static void fork_exec_wait(void)
{
	pid_t pid = fork_checked();
	if (pid == 0) {
		char *argv[] = { SELF, "--child", "exit", "0", NULL };
		execve(SELF, argv, environ);
		_exit(127);
	}
	expect_exit(pid, 0);
}

static void leak(void)
{
	for (int i = 0; i < LEAK_WARMUP; i++)
		fork_exec_wait();
	long before = mem_free_kb();
	for (int i = 0; i < LEAK_CYCLES; i++)
		fork_exec_wait();
	long after = mem_free_kb();
	printf("leak: MemFree %ld kB after %d warm-up cycles, %ld kB after %d more\n", before,
	       LEAK_WARMUP, after, LEAK_CYCLES);
	if (after < before - LEAK_SLACK_KB)
		FAIL("%ld kB fewer free after %d fork+execve+wait cycles", before - after,
		     LEAK_CYCLES);
	OK("leak");
}

/* ---- threads and processes together ---- */

static char pid_arg[16];

static void *exec_from_thread(void *arg)
{
	(void)arg;
	char *argv[] = { SELF, "--child", "pidcheck", pid_arg, NULL };
	execv(SELF, argv);
	_exit(98);
}

static void *exit_from_thread(void *arg)
{
	(void)arg;
	usleep(50 * 1000);
	exit(7); /* exit_group: the spinning main thread goes too */
}

static void *fork_from_thread(void *arg)
{
	(void)arg;
	pid_t g = fork();
	if (g == 0)
		_exit(9);
	int st = 0;
	if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 9)
		return (void *)1;
	return NULL;
}

static void threads_and_processes(void)
{
	/* execve from a thread while the main thread waits in read(): the
	 * reader goes, the new image has the process's pid as pid and tid. */
	pid_t c = fork_checked();
	if (c == 0) {
		int p[2];
		pthread_t t;
		snprintf(pid_arg, sizeof(pid_arg), "%d", (int)getpid());
		if (pipe(p) || pthread_create(&t, NULL, exec_from_thread, NULL))
			_exit(97);
		char b;
		(void)read(p[0], &b, 1); /* for ever: the pipe's writer is us */
		_exit(96);
	}
	expect_exit(c, 0);
	printf("ok exec-from-thread\n");
	/* exit() in a thread while the main thread spins in program code. */
	c = fork_checked();
	if (c == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, exit_from_thread, NULL))
			_exit(97);
		for (volatile unsigned long n = 0;; n++)
			;
	}
	expect_exit(c, 7);
	printf("ok exit-group-from-thread\n");
	/* fork from a second thread, which waits for its own child. */
	c = fork_checked();
	if (c == 0) {
		pthread_t t;
		void *r = (void *)1;
		if (pthread_create(&t, NULL, fork_from_thread, NULL) || pthread_join(t, &r))
			_exit(97);
		_exit(r ? 1 : 0);
	}
	expect_exit(c, 0);
	printf("ok fork-from-thread\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child_mode(argc, argv);
	int do_bomb = 0, do_leak = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bomb"))
			do_bomb = 1;
		else if (!strcmp(argv[i], "--leak"))
			do_leak = 1;
		else if (argv[i][0] == '-')
			FAIL("unknown option %s", argv[i]);
		else
			dir = argv[i];
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Whatever the caller left us. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);

	fork_and_wait();
	copy_on_write();
	shared_memory();
	killed_by_signal();
	pipes_between_processes();
	shared_file_description();
	waiting();
	groups_and_sessions();
	vfork_exec();
	spawn();
	exec_details();
	script();
	threads_and_processes();
	if (do_bomb)
		bomb();
	if (do_leak)
		leak();
	printf("forks: all passed\n");
	return 0;
}
