/*
 * Runs QEMU's C virtiofsd (Debian QEMU 7.2) for one shared directory:
 *
 *   virtiofsd --socket-path=RUNDIR/vfsN.sock -o source=DIR -o cache=MODE [-d]
 *
 * in a process group of its own, stdin from /dev/null, stdout and stderr to
 * a log file. It creates and listens on the socket, accepts QEMU's one
 * connection, then forks into new mount, PID and net namespaces
 * (sandbox=namespace, the default; needs root) and serves from the child,
 * PID 1 of its namespace, while the parent waits for it. When QEMU hangs
 * up, both exit. It also leaves a lock file /var/run/virtiofsd/
 * <socket path with '/' -> '.'>.pid behind, which pier removes.
 *
 * --ro and --ro=TAG (v->ro): 7.2 has no read-only option, so virtiofsd is
 * given a read-only view instead: in a mount namespace of its own, DIR is
 * bind-mounted (recursively) on RUNDIR/roN and made read-only there, and
 * virtiofsd serves RUNDIR/roN. Its sandbox bind-mounts that again, which
 * keeps the read-only flag, so guest writes fail with EROFS. Nothing
 * changes on the host, and the mounts vanish with virtiofsd's namespaces.
 *
 * Debug log (-d, which `pier run --virtiofsd-log FILE` turns on). Every line
 * starts with "[YYYY-MM-DD HH:MM:SS.ffffff+0000] [ID: TTTTTTTT] ", the
 * logging thread's id as seen in the sandbox's PID namespace (1: the
 * vhost-user loop, 3: the hiprio queue, 4: the request queue). Per request,
 * as logged by 7.2 for our guest (prefixes cut):
 *   fv_queue_worker: elem 0: with 2 out desc of length 42
 *   unique: 3, opcode: LOOKUP (1), nodeid: 1, insize: 42, pid: 0
 *   lo_lookup(parent=1, name=d)
 *     1/d -> 2
 *      unique: 3, success, outsize: 144
 *   virtio_send_msg: elem 0: with 2 in desc of length 144
 * A failed lookup has no "->" line:
 *      unique: 20, error: -2 (No such file or directory), outsize: 16
 * READDIRPLUS logs one "  PARENT/NAME -> NODEID" line per entry it returns
 * (not . and ..); each counts as a lookup the guest must forget.
 *   unique: 4, opcode: READDIRPLUS (44), nodeid: 1, insize: 80, pid: 0
 *     1/hello -> 2
 *     1/d -> 4
 *      unique: 4, success, outsize: 816
 * Forgets get no reply, so no "unique: N, success" line, but one
 * "  forget NODEID LOOKUPS_HELD -DROPPED" line per entry (none for a nodeid
 * virtiofsd does not know):
 *   unique: 21, opcode: BATCH_FORGET (42), nodeid: 0, insize: 112, pid: 0
 *     forget 2 1 -1
 *     forget 4 1 -1
 *   fv_queue_worker: elem 0 no reply sent
 * FORGET (2) logs the same way: "unique: N, opcode: FORGET (2), nodeid:
 * NODEID, insize: 48, pid: 0", one "  forget" line, "no reply sent".
 * Reply lines start with three spaces, "->" and "forget" lines with two.
 * So: requests by type = lines with "opcode: LOOKUP (" etc.; lookups held =
 * lines matching "] +\d+/.* -> \d+$"; dropped = the sum of N in
 * "] +forget \d+ \d+ -(\d+)$".
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "run.h"
#include "virtiofsd.h"

/* __SO_ACCEPTCON in /proc/net/unix's Flags column: the socket listens. */
#define UNIX_FLAG_LISTENING 0x10000

#define POLL_MS 5

void virtiofsd_adopt_orphans(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL); /* EINTR is fine: callers loop */
}

/* virtiofsd splits -o at commas; a backslash makes the next byte literal. */
static char *escape_opt(const char *prefix, const char *value)
{
	size_t n = strlen(prefix);
	char *s = malloc(n + 2 * strlen(value) + 1);
	if (!s)
		return NULL;
	memcpy(s, prefix, n);
	for (const char *p = value; *p; p++) {
		if (*p == ',' || *p == '\\')
			s[n++] = '\\';
		s[n++] = *p;
	}
	s[n] = '\0';
	return s;
}

/*
 * In the child: a private mount namespace where v->view is a read-only,
 * recursive bind mount of v->source. Private first, so that nothing we
 * mount propagates back to the host's namespace.
 */
static int make_ro_view(const struct virtiofsd *v)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(v->source, v->view, NULL, MS_BIND | MS_REC, NULL) ||
	    mount_setattr(AT_FDCWD, v->view, AT_RECURSIVE, &attr, sizeof(attr))) {
		fprintf(stderr, "pier: --ro: cannot make a read-only view of %s: %s\n",
			v->source, strerror(errno));
		return -1;
	}
	return 0;
}

static void exec_child(const struct virtiofsd *v, const char *bin, int logfd, pid_t parent)
{
	setpgid(0, 0); /* its own group: pier signals it and its child together */
	/* If pier dies without cleaning up, virtiofsd (and, through its own
	 * PR_SET_PDEATHSIG, its child) still goes. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(126);
	int null = open("/dev/null", O_RDONLY);
	if (null >= 0)
		dup2(null, 0);
	dup2(logfd, 1);
	dup2(logfd, 2);
	if (v->ro && make_ro_view(v))
		_exit(126);

	char sock_arg[128];
	snprintf(sock_arg, sizeof(sock_arg), "--socket-path=%s", v->sock);
	char *source = escape_opt("source=", v->ro ? v->view : v->source);
	char cache_arg[32];
	/* The C virtiofsd (Debian's) names "never" none; the Rust one takes both. */
	const char *cache = !v->cache ? "auto" : strcmp(v->cache, "never") ? v->cache : "none";
	snprintf(cache_arg, sizeof(cache_arg), "cache=%s", cache);
	const char *args[] = { bin, sock_arg, "-o", source, "-o", cache_arg,
			       v->log ? "-d" : NULL, NULL };
	if (source)
		execv(bin, (char **)args);
	fprintf(stderr, "pier: cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* Whether a socket bound to path is listening (bound is not enough). */
static int listening(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "r");
	if (!f) {
		struct stat st;
		return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
	}
	char line[512];
	int found = 0;
	size_t plen = strlen(path);
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned flags;
		int pos = 0;
		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*x %*x %x %*x %*x %*u %n", &flags, &pos) != 1 || !pos)
			continue;
		size_t len = strcspn(line + pos, "\n");
		found = (flags & UNIX_FLAG_LISTENING) && len == plen &&
			memcmp(line + pos, path, plen) == 0;
	}
	fclose(f);
	return found;
}

/* Copies what virtiofsd said to pier's stderr, indented. */
static void show_log(const struct virtiofsd *v)
{
	FILE *f = fopen(v->errfile, "r");
	if (!f) {
		fprintf(stderr, "  (%s: %s)\n", v->errfile, strerror(errno));
		return;
	}
	char line[512];
	int n = 0;
	while (n < 40 && fgets(line, sizeof(line), f)) {
		fprintf(stderr, "  %s%s", line, strchr(line, '\n') ? "" : "\n");
		n++;
	}
	fclose(f);
	if (!n)
		fprintf(stderr, "  (nothing)\n");
}

static void describe_exit(const struct virtiofsd *v, const char *bin, int status)
{
	if (WIFEXITED(status))
		fprintf(stderr, "pier: virtiofsd %s for %s exited with status %d before it was "
				"ready; it said:\n", bin, v->source, WEXITSTATUS(status));
	else
		fprintf(stderr, "pier: virtiofsd %s for %s was killed by signal %d before it "
				"was ready; it said:\n", bin, v->source, WTERMSIG(status));
	show_log(v);
}

static int set_paths(struct virtiofsd *v, const char *dir, int n)
{
	int bad = snprintf(v->sock, sizeof(v->sock), "%s/vfs%d.sock", dir, n) >=
		(int)sizeof(v->sock);
	bad |= snprintf(v->view, sizeof(v->view), "%s/ro%d", dir, n) >= (int)sizeof(v->view);
	bad |= snprintf(v->own_log, sizeof(v->own_log), "%s/vfs%d.log", dir, n) >=
		(int)sizeof(v->own_log);
	if (bad) {
		fprintf(stderr, "pier: run directory %s: path too long for a socket\n", dir);
		return -1;
	}
	v->errfile = v->log ? v->log : v->own_log;
	if (v->ro && mkdir(v->view, 0700)) {
		fprintf(stderr, "pier: mkdir %s: %s\n", v->view, strerror(errno));
		return -1;
	}
	return 0;
}

int virtiofsd_start(struct virtiofsd *v, const char *bin, const char *dir, int n,
		    volatile sig_atomic_t *stop)
{
	if (set_paths(v, dir, n))
		return -1;
	int logfd = open(v->errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0) {
		fprintf(stderr, "pier: virtiofsd log %s: %s\n", v->errfile, strerror(errno));
		return -1;
	}
	pid_t parent = getpid();
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("pier: fork");
		close(logfd);
		return -1;
	}
	if (pid == 0)
		exec_child(v, bin, logfd, parent);
	close(logfd);
	setpgid(pid, pid); /* also here, so a kill right after fork finds the group */
	v->pid = pid;

	for (int waited = 0; waited < VIRTIOFSD_START_TIMEOUT_MS; waited += POLL_MS) {
		int status;
		if (*stop)
			return -2;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			v->pid = 0;
			describe_exit(v, bin, status);
			return -1;
		}
		if (listening(v->sock))
			return 0;
		sleep_ms(POLL_MS);
	}
	fprintf(stderr, "pier: virtiofsd %s for %s did not listen on %s within %d s; it said:\n",
		bin, v->source, v->sock, VIRTIOFSD_START_TIMEOUT_MS / 1000);
	show_log(v);
	return -1;
}

/*
 * Reaps every process of virtiofsd's group. The serving child is reparented
 * to pier (virtiofsd_adopt_orphans) when its parent dies first; ECHILD means
 * none is left. SIGTERM lets them exit cleanly; SIGKILL after a second.
 */
static void reap_group(pid_t pgid)
{
	int killed = 0;
	kill(-pgid, SIGTERM);
	for (int waited = 0;; waited += POLL_MS) {
		pid_t r;
		while ((r = waitpid(-pgid, NULL, WNOHANG)) > 0)
			;
		if (r < 0 && errno == ECHILD)
			return;
		if (!killed && waited >= 1000) {
			kill(-pgid, SIGKILL);
			killed = 1;
		}
		if (waited >= 5000) {
			fprintf(stderr, "pier: virtiofsd (process group %d) did not exit\n",
				(int)pgid);
			return;
		}
		sleep_ms(POLL_MS);
	}
}

int virtiofsd_reap(struct virtiofsd *v)
{
	if (v->pid <= 0 || v->died || waitpid(v->pid, &v->status, WNOHANG) != v->pid)
		return 0;
	v->died = 1; /* v->pid stays: it names the group, which may hold its child */
	return 1;
}

void virtiofsd_report_death(const struct virtiofsd *v)
{
	if (WIFSIGNALED(v->status))
		fprintf(stderr, "pier: virtiofsd for '%s' died while the guest ran (killed by "
				"signal %d); its requests fail with EIO\n", v->tag, WTERMSIG(v->status));
	else
		fprintf(stderr, "pier: virtiofsd for '%s' died while the guest ran (exit status "
				"%d); its requests fail with EIO\n", v->tag, WEXITSTATUS(v->status));
}

void virtiofsd_stop(struct virtiofsd *v)
{
	if (v->pid > 0)
		reap_group(v->pid);
	v->pid = 0;
	if (!v->sock[0])
		return;
	unlink(v->sock);
	if (v->ro)
		rmdir(v->view);
	if (!v->log)
		unlink(v->own_log);
	char lock[160];
	virtiofsd_pid_file(v, lock, sizeof(lock));
	unlink(lock);
	v->sock[0] = '\0';
}

void virtiofsd_pid_file(const struct virtiofsd *v, char *buf, size_t size)
{
	/* virtiofsd's own naming: its socket path with '/' made '.'. */
	size_t n = (size_t)snprintf(buf, size, "/var/run/virtiofsd/");
	for (const char *p = v->sock; *p && n + 5 < size; p++)
		buf[n++] = *p == '/' ? '.' : *p;
	memcpy(buf + n, ".pid", 5);
}
