/*
 * Unit tests for host/vmm/landlock.c. Landlock confinement cannot be
 * undone, so each check runs in a forked child that confines itself and
 * then tries what the VMM may and may not do; it reports the first check
 * that went wrong through its exit status and never returns into cmocka.
 * The test process itself stays unconfined (checked at the end of each
 * test). On a kernel without Landlock the tests are skipped, saying so.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <linux/landlock.h>
#include "vmm/landlock.h"
#include "scratch_dir.h"

#define CONTENT "inside the share\n"
#define EXIT_NO_LANDLOCK 77
#define EXIT_CONFINE_FAILED 78

static char base[64], ro[96], rw[96], other[96];

/* base/ro (a read-only share), base/rw (a writable one), base/other (not
 * shared), each with a file. */
static int setup(void **state)
{
	(void)state;
	strcpy(base, "/tmp/pier-landlock-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(ro, sizeof(ro), "%s/ro", base);
	snprintf(rw, sizeof(rw), "%s/rw", base);
	snprintf(other, sizeof(other), "%s/other", base);
	const char *dirs[] = { ro, rw, other };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(mkdir(dirs[i], 0755), 0);
		scratch_put_file(dirs[i], "f.txt", CONTENT);
	}
	char p[160];
	snprintf(p, sizeof(p), "%s/sub", ro);
	assert_int_equal(mkdir(p, 0755), 0);
	scratch_put_file(p, "deep.txt", CONTENT);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	scratch_remove_tree(base);
	return 0;
}

/* ---- what the confined child checks (no cmocka in the child) ---- */

/* Each check is numbered: the child exits with the number of the first
 * one that failed, 0 when all passed. */
#define CHECK(n, cond)                                                                 \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "landlock child: check %d failed: %s (errno %s)\n", \
				(n), #cond, strerror(errno));                          \
			_exit(n);                                                      \
		}                                                                      \
	} while (0)

static bool reads_content(const char *dir, const char *name)
{
	char p[256], b[64] = { 0 };
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, b, sizeof(b) - 1);
	close(fd);
	return n == (ssize_t)strlen(CONTENT) && strcmp(b, CONTENT) == 0;
}

/* open() fails with exactly EACCES (Landlock's answer). */
static bool open_denied(const char *path, int flags)
{
	errno = 0;
	int fd = open(path, flags, 0644);
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == EACCES;
}

static bool lists_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n >= 3; /* ".", "..", f.txt */
}

static void in_path(char *p, size_t cap, const char *dir, const char *name)
{
	snprintf(p, cap, "%s/%s", dir, name);
}

/* Confines to `dirs`; exits with EXIT_NO_LANDLOCK or EXIT_CONFINE_FAILED
 * when that did not happen. */
static void child_confine(const char *const *dirs, const bool *writable, int n)
{
	int r = landlock_confine(dirs, writable, n, NULL);
	if (r == 0)
		_exit(EXIT_NO_LANDLOCK);
	if (r != 1)
		_exit(EXIT_CONFINE_FAILED);
}

/* Read-only share: reading inside works, nothing else does. */
static void child_read_only(void)
{
	const char *dirs[] = { ro };
	const bool w[] = { false };
	child_confine(dirs, w, 1);
	char p[256];
	CHECK(1, reads_content(ro, "f.txt"));
	CHECK(2, reads_content(ro, "sub/deep.txt"));
	CHECK(3, lists_dir(ro));
	CHECK(4, open_denied("/etc/passwd", O_RDONLY));
	CHECK(5, open_denied("/etc", O_RDONLY | O_DIRECTORY));
	in_path(p, sizeof(p), other, "f.txt");
	CHECK(6, open_denied(p, O_RDONLY));         /* a sibling of the share */
	CHECK(7, open_denied(base, O_RDONLY | O_DIRECTORY)); /* its parent */
	in_path(p, sizeof(p), ro, "../other/f.txt");
	CHECK(8, open_denied(p, O_RDONLY));         /* ".." does not escape */
	in_path(p, sizeof(p), ro, "new.txt");
	CHECK(9, open_denied(p, O_WRONLY | O_CREAT)); /* no creating */
	CHECK(10, access(p, F_OK) != 0);
	in_path(p, sizeof(p), ro, "f.txt");
	CHECK(11, open_denied(p, O_WRONLY));         /* no writing */
	CHECK(12, open_denied(p, O_RDWR));
	errno = 0;
	CHECK(13, unlink(p) != 0 && errno == EACCES); /* no removing */
	in_path(p, sizeof(p), ro, "newdir");
	errno = 0;
	CHECK(14, mkdir(p, 0755) != 0 && errno == EACCES);
	in_path(p, sizeof(p), rw, "f.txt");
	CHECK(15, open_denied(p, O_RDONLY));         /* the other share is not ours */
	_exit(0);
}

/* A read-only and a writable share: writing only in the writable one,
 * and even there no special files. */
static void child_writable(void)
{
	const char *dirs[] = { ro, rw };
	const bool w[] = { false, true };
	child_confine(dirs, w, 2);
	char p[256];
	CHECK(1, reads_content(ro, "f.txt"));
	CHECK(2, reads_content(rw, "f.txt"));
	in_path(p, sizeof(p), rw, "created.txt");
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(3, fd >= 0);
	CHECK(4, write(fd, "x", 1) == 1);
	close(fd);
	in_path(p, sizeof(p), rw, "f.txt");
	fd = open(p, O_WRONLY | O_APPEND);
	CHECK(5, fd >= 0);
	close(fd);
	in_path(p, sizeof(p), rw, "newdir");
	CHECK(6, mkdir(p, 0755) == 0);
	CHECK(7, rmdir(p) == 0);
	in_path(p, sizeof(p), rw, "created.txt");
	CHECK(8, unlink(p) == 0);
	in_path(p, sizeof(p), rw, "fifo");
	errno = 0;
	CHECK(9, mkfifo(p, 0644) != 0 && errno == EACCES); /* never: special files */
	in_path(p, sizeof(p), ro, "new.txt");
	CHECK(10, open_denied(p, O_WRONLY | O_CREAT)); /* the other share stays read-only */
	in_path(p, sizeof(p), other, "new.txt");
	CHECK(11, open_denied(p, O_WRONLY | O_CREAT));
	CHECK(12, open_denied("/etc/passwd", O_RDONLY));
	CHECK(13, open_denied("/tmp/pier-landlock-escape", O_WRONLY | O_CREAT));
	/* Execution is never allowed, even of a file inside a share. */
	in_path(p, sizeof(p), rw, "f.txt");
	CHECK(14, chmod(p, 0755) == 0 || errno == EACCES);
	errno = 0;
	char *argv[] = { p, NULL };
	execv(p, argv);
	CHECK(15, errno == EACCES);
	/* What pier's FUSE server does in a writable share: symlinks,
	 * truncation, and (with LANDLOCK_ACCESS_FS_REFER, ABI 2; before it
	 * Landlock refuses every move between directories) renames and
	 * links across its directories, a link made by /proc/self/fd. */
	char q[256], proc[64];
	in_path(q, sizeof(q), rw, "d");
	CHECK(16, mkdir(q, 0755) == 0);
	in_path(q, sizeof(q), rw, "d/sl");
	CHECK(17, symlink("../f.txt", q) == 0);
	fd = open(p, O_WRONLY | O_TRUNC);
	CHECK(18, fd >= 0 && ftruncate(fd, 3) == 0);
	close(fd);
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi >= 2) {
		in_path(q, sizeof(q), rw, "d/moved.txt");
		CHECK(19, rename(p, q) == 0 && rename(q, p) == 0);
		int pfd = open(p, O_PATH | O_NOFOLLOW);
		CHECK(20, pfd >= 0);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
		in_path(q, sizeof(q), rw, "d/linked.txt");
		CHECK(21, linkat(AT_FDCWD, proc, AT_FDCWD, q, AT_SYMLINK_FOLLOW) == 0);
		close(pfd);
	}
	/* Nothing moves or is linked into the writable share from the
	 * read-only one, nor out of it to what is not shared. */
	in_path(p, sizeof(p), ro, "f.txt");
	in_path(q, sizeof(q), rw, "stolen.txt");
	errno = 0;
	CHECK(22, rename(p, q) != 0 && (errno == EXDEV || errno == EACCES));
	errno = 0;
	CHECK(23, link(p, q) != 0 && (errno == EXDEV || errno == EACCES));
	in_path(p, sizeof(p), rw, "d/sl");
	in_path(q, sizeof(q), other, "out");
	errno = 0;
	CHECK(24, rename(p, q) != 0 && (errno == EXDEV || errno == EACCES));
	errno = 0;
	CHECK(25, link(p, q) != 0 && (errno == EXDEV || errno == EACCES));
	in_path(p, sizeof(p), rw, "f.txt");
	int pfd = open(p, O_PATH);
	CHECK(26, pfd >= 0);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	errno = 0;
	CHECK(27, linkat(AT_FDCWD, proc, AT_FDCWD, q, AT_SYMLINK_FOLLOW) != 0 &&
		  (errno == EXDEV || errno == EACCES));
	close(pfd);
	_exit(0);
}

/* Bad arguments: an error, and the process not confined at all. */
static void child_bad_dir(void)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/missing", base);
	const char *dirs[] = { ro, p };
	const bool w[] = { false, false };
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		_exit(EXIT_NO_LANDLOCK);
	CHECK(1, landlock_confine(dirs, w, 2, NULL) == -1);
	/* A regular file is not a directory to confine to. */
	in_path(p, sizeof(p), ro, "f.txt");
	const char *files[] = { p };
	CHECK(2, landlock_confine(files, w, 1, NULL) == -1);
	int fd = open("/etc/passwd", O_RDONLY);
	CHECK(3, fd >= 0);
	close(fd);
	_exit(0);
}

/* No directories: nothing on the file system at all. */
static void child_nothing(void)
{
	child_confine(NULL, NULL, 0);
	CHECK(1, open_denied("/etc/passwd", O_RDONLY));
	CHECK(2, open_denied(ro, O_RDONLY | O_DIRECTORY));
	/* Descriptors opened before confinement keep working. */
	_exit(0);
}

/* A thread that waits for the word on a pipe, then tries to read outside
 * the shares; its result is whether that was denied. */
static int go_pipe[2];

static void *thread_try(void *arg)
{
	(void)arg;
	char c;
	if (read(go_pipe[0], &c, 1) != 1)
		return (void *)(intptr_t)2;
	return (void *)(intptr_t)open_denied("/etc/passwd", O_RDONLY);
}

/* Threads started after confinement inherit it. */
static void child_thread_after(void)
{
	const char *dirs[] = { ro };
	const bool w[] = { false };
	CHECK(1, pipe(go_pipe) == 0);
	child_confine(dirs, w, 1);
	pthread_t t;
	CHECK(2, pthread_create(&t, NULL, thread_try, NULL) == 0);
	CHECK(3, write(go_pipe[1], "g", 1) == 1);
	void *r;
	CHECK(4, pthread_join(t, &r) == 0);
	CHECK(5, r == (void *)1);
	_exit(0);
}

/* A directory the VMM holds a descriptor of, moved out of the share by
 * the host while the VMM runs (SECURITY.md: out of scope, but Landlock
 * still holds): Landlock judges a file by where it is now, so nothing in
 * the moved directory can be opened or made through that descriptor. */
static int moved_go[2], moved_done[2];

static void child_moved_out(void)
{
	char p[256];
	in_path(p, sizeof(p), rw, "mv");
	int dfd = open(p, O_PATH | O_DIRECTORY);
	CHECK(1, dfd >= 0);
	const char *dirs[] = { rw };
	const bool w[] = { true };
	child_confine(dirs, w, 1);
	int fd = openat(dfd, "f.txt", O_RDONLY);
	CHECK(2, fd >= 0); /* still inside */
	close(fd);
	CHECK(3, write(moved_go[1], "m", 1) == 1);
	char c;
	CHECK(4, read(moved_done[0], &c, 1) == 1); /* the host moved it out */
	errno = 0;
	CHECK(5, openat(dfd, "f.txt", O_RDONLY) < 0 && errno == EACCES);
	errno = 0;
	CHECK(6, openat(dfd, "new.txt", O_WRONLY | O_CREAT, 0644) < 0 && errno == EACCES);
	errno = 0;
	CHECK(7, mkdirat(dfd, "newdir", 0755) != 0 && errno == EACCES);
	_exit(0);
}

/* ---- the parent: run a child, judge its status ---- */

static void run_child(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(100); /* fn always exits */
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == EXIT_NO_LANDLOCK) {
		print_message("this kernel has no Landlock (landlock_create_ruleset "
			      "failed): skipping\n");
		skip();
	}
	if (WEXITSTATUS(st) == EXIT_CONFINE_FAILED)
		fail_msg("landlock_confine failed in the child");
	if (WEXITSTATUS(st) != 0)
		fail_msg("the confined child's check %d failed", WEXITSTATUS(st));
	/* The test process itself was never confined. */
	int fd = open("/etc/passwd", O_RDONLY);
	assert_true(fd >= 0);
	close(fd);
}

static void test_read_only_share(void **state)
{
	(void)state;
	run_child(child_read_only);
	/* Nothing was created or removed in the read-only share. */
	char p[160];
	snprintf(p, sizeof(p), "%s/new.txt", ro);
	assert_int_not_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/f.txt", ro);
	assert_int_equal(access(p, F_OK), 0);
}

static void test_writable_share(void **state)
{
	(void)state;
	run_child(child_writable);
	char p[160];
	snprintf(p, sizeof(p), "%s/fifo", rw);
	assert_int_not_equal(access(p, F_OK), 0);
	assert_int_not_equal(access("/tmp/pier-landlock-escape", F_OK), 0);
	/* Nothing crossed between the shares, nor out of them. */
	snprintf(p, sizeof(p), "%s/f.txt", ro);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/stolen.txt", rw);
	assert_int_not_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/out", other);
	assert_int_not_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/d/sl", rw);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

static void test_bad_dir(void **state)
{
	(void)state;
	run_child(child_bad_dir);
}

static void test_no_dirs(void **state)
{
	(void)state;
	run_child(child_nothing);
}

static void test_thread_started_after(void **state)
{
	(void)state;
	run_child(child_thread_after);
}

static void test_directory_moved_out(void **state)
{
	(void)state;
	char in[160], out[160];
	snprintf(in, sizeof(in), "%s/mv", rw);
	snprintf(out, sizeof(out), "%s/mv", other);
	assert_int_equal(mkdir(in, 0755), 0);
	scratch_put_file(in, "f.txt", CONTENT);
	assert_int_equal(pipe(moved_go), 0);
	assert_int_equal(pipe(moved_done), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		child_moved_out();
		_exit(100);
	}
	char c;
	close(moved_go[1]);
	ssize_t n = read(moved_go[0], &c, 1); /* 0: the child ended early */
	if (n == 1) {
		assert_int_equal(rename(in, out), 0);
		assert_int_equal(write(moved_done[1], "d", 1), 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(moved_go[0]);
	close(moved_done[0]);
	close(moved_done[1]);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == EXIT_NO_LANDLOCK) {
		scratch_remove_tree(in);
		skip();
	}
	if (WEXITSTATUS(st) != 0)
		fail_msg("the confined child's check %d failed", WEXITSTATUS(st));
	char p[200];
	snprintf(p, sizeof(p), "%s/new.txt", out);
	assert_int_not_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/newdir", out);
	assert_int_not_equal(access(p, F_OK), 0);
	scratch_remove_tree(out);
}

/* ---- TCP: bind only the ports given, connect anywhere or nowhere ---- */

static uint16_t tcp_given, tcp_other, tcp_listening;

/* bind(2) (or, for connect, connect(2)) of a new socket of type to
 * 127.0.0.1:port: 0 or -errno. */
static int try_port(int type, uint16_t port, bool connect_it)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int r = (connect_it ? connect : bind)(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
	close(fd);
	return r;
}

static void child_tcp(bool may_connect)
{
	const char *dirs[] = { rw };
	const bool w[] = { true };
	struct landlock_tcp tcp = { .connect = may_connect, .nbind = 2,
				    .bind = { 0, tcp_given } };
	if (landlock_confine(dirs, w, 1, &tcp) != 1)
		_exit(EXIT_CONFINE_FAILED);
	CHECK(1, try_port(SOCK_STREAM, tcp_given, false) == 0);
	CHECK(2, try_port(SOCK_STREAM, 0, false) == 0);
	CHECK(3, try_port(SOCK_STREAM, tcp_other, false) == -EACCES);
	CHECK(4, try_port(SOCK_DGRAM, tcp_other, false) == 0); /* not Landlock's */
	CHECK(5, try_port(SOCK_STREAM, tcp_listening, true) == (may_connect ? 0 : -EACCES));
	CHECK(6, reads_content(rw, "tcp.txt")); /* and the directories as before */
	CHECK(7, open_denied("/etc/passwd", O_RDONLY));
	_exit(0);
}

static void child_tcp_connecting(void)
{
	child_tcp(true);
}

static void child_tcp_not_connecting(void)
{
	child_tcp(false);
}

/* A port nothing holds now. */
static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_tcp_ports(void **state)
{
	(void)state;
	const char *why = NULL;
	if (!landlock_tcp_supported(&why)) {
		print_message("%s: skipping\n", why);
		skip();
	}
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 8), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	tcp_listening = ntohs(a.sin_port);
	tcp_given = free_port();
	do
		tcp_other = free_port();
	while (tcp_other == tcp_given);
	scratch_put_file(rw, "tcp.txt", CONTENT);
	run_child(child_tcp_connecting);
	run_child(child_tcp_not_connecting);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_only_share),
		cmocka_unit_test(test_writable_share),
		cmocka_unit_test(test_bad_dir),
		cmocka_unit_test(test_no_dirs),
		cmocka_unit_test(test_thread_started_after),
		cmocka_unit_test(test_directory_moved_out),
		cmocka_unit_test(test_tcp_ports),
	};
	return cmocka_run_group_tests_name("vmm_landlock", tests, setup, teardown);
}
