/* Unit tests for host/exec_server.c: records routed between clients and
 * the port (sessions numbered by the server), CLOSE when a client goes,
 * a client that sends out of turn or malformed dropped without harm to
 * the others, a guest record for no client dropped, and a socket path
 * longer than a socket address reached through its directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <pier/exec_wire.h>
#include "exec_server.h"

static char dir[] = "/tmp/pier-exec-test.XXXXXX";
static char path[512];
static int port = -1; /* the test's end: the guest's side */
static struct exec_server *srv;

static int up(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/exec.sock", dir);
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	port = sp[0];
	srv = exec_server_start(path, -1, sp[1], false);
	assert_non_null(srv);
	return 0;
}

static int down(void **state)
{
	(void)state;
	exec_server_stop(srv);
	close(port);
	assert_int_equal(access(path, F_OK), -1); /* the socket is gone */
	rmdir(dir);
	strcpy(dir, "/tmp/pier-exec-test.XXXXXX");
	return 0;
}

static int client(void)
{
	struct sockaddr_un a;
	int dirfd, fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(exec_socket_address(path, &a, &dirfd), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (dirfd >= 0)
		close(dirfd);
	return fd;
}

static void send_rec(int fd, uint32_t session, unsigned kind, const char *text)
{
	uint8_t b[256];
	size_t n = wire_put_header(b, session, kind, (uint32_t)strlen(text));
	memcpy(b + n, text, strlen(text));
	assert_int_equal(write(fd, b, n + strlen(text)), (ssize_t)(n + strlen(text)));
}

/* The next record on fd within 5 s; false at its end (or a timeout). */
static bool recv_rec(int fd, struct wire_reader *r)
{
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 5000) != 1)
			return false;
		uint8_t b;
		if (read(fd, &b, 1) != 1)
			return false;
		bool done;
		wire_feed(r, &b, 1, &done);
		assert_false(r->broken);
		if (done)
			return true;
	}
}

static void expect(int fd, unsigned kind, const char *text, uint32_t *session)
{
	struct wire_reader *r = malloc(sizeof(*r));
	wire_reader_init(r, EXEC_KINDS);
	assert_true(recv_rec(fd, r));
	assert_int_equal(r->h.kind, kind);
	assert_int_equal(r->h.len, strlen(text));
	assert_memory_equal(wire_payload(r), text, r->h.len);
	if (session)
		*session = r->h.id;
	free(r);
}

static void expect_closed(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	assert_int_equal(poll(&p, 1, 5000), 1);
	char b;
	assert_int_equal(read(fd, &b, 1), 0);
}

static void test_sessions_are_routed_both_ways(void **state)
{
	(void)state;
	int a = client(), b = client();
	uint32_t sa, sb;
	send_rec(a, 0, EXEC_SPAWN, "program a");
	expect(port, EXEC_SPAWN, "program a", &sa);
	send_rec(b, 77, EXEC_SPAWN, "program b"); /* a client's number means nothing */
	expect(port, EXEC_SPAWN, "program b", &sb);
	assert_true(sa != 0 && sb != 0 && sa != sb);
	send_rec(port, sb, EXEC_STDOUT, "to b");
	send_rec(port, sa, EXEC_STDERR, "to a");
	send_rec(port, 999, EXEC_STDOUT, "to nobody"); /* dropped */
	expect(b, EXEC_STDOUT, "to b", NULL);
	expect(a, EXEC_STDERR, "to a", NULL);
	send_rec(a, 0, EXEC_STDIN, "typed");
	expect(port, EXEC_STDIN, "typed", NULL);
	/* A client that goes away: its session is closed in the guest. */
	close(b);
	uint32_t closed;
	expect(port, EXEC_CLOSE, "", &closed);
	assert_int_equal(closed, sb);
	send_rec(port, sa, EXEC_EXIT, "\x07\0\0\0");
	expect(a, EXEC_EXIT, "\x07\0\0\0", NULL);
	close(a);
	expect(port, EXEC_CLOSE, "", NULL);
}

static void test_a_bad_client_is_dropped_alone(void **state)
{
	(void)state;
	int good = client(), early = client(), bad = client(), twice = client();
	send_rec(good, 0, EXEC_SPAWN, "good");
	expect(port, EXEC_SPAWN, "good", NULL);
	send_rec(early, 0, EXEC_STDIN, "before any SPAWN");
	expect_closed(early);
	send_rec(twice, 0, EXEC_SPAWN, "once");
	expect(port, EXEC_SPAWN, "once", NULL);
	send_rec(twice, 0, EXEC_SPAWN, "twice");
	expect_closed(twice);
	expect(port, EXEC_CLOSE, "", NULL);
	/* A header no one may send: too long a payload. */
	struct wire_header h = { .id = 0, .kind = EXEC_STDIN,
				      .len = WIRE_PAYLOAD_MAX + 1 };
	assert_int_equal(write(bad, &h, sizeof(h)), sizeof(h));
	expect_closed(bad);
	/* A guest-only kind from a client. */
	int forger = client();
	send_rec(forger, 0, EXEC_SPAWN, "f");
	expect(port, EXEC_SPAWN, "f", NULL);
	send_rec(forger, 0, EXEC_EXIT, "\0\0\0\0");
	expect_closed(forger);
	expect(port, EXEC_CLOSE, "", NULL);
	/* The good one still works. */
	send_rec(good, 0, EXEC_STDIN_EOF, "");
	expect(port, EXEC_STDIN_EOF, "", NULL);
	close(early);
	close(bad);
	close(twice);
	close(forger);
	close(good);
}

static void test_the_vm_ending_ends_every_client(void **state)
{
	(void)state;
	int a = client();
	send_rec(a, 0, EXEC_SPAWN, "x");
	expect(port, EXEC_SPAWN, "x", NULL);
	close(port);
	port = -1;
	expect_closed(a);
	close(a);
	port = socket(AF_UNIX, SOCK_STREAM, 0); /* for down() to close */
}

static void test_a_long_path_is_reached_through_its_directory(void **state)
{
	(void)state;
	char deep[512];
	snprintf(deep, sizeof(deep), "%s/%0120d", dir, 0);
	assert_int_equal(mkdir(deep, 0700), 0);
	char longpath[600];
	snprintf(longpath, sizeof(longpath), "%s/exec.sock", deep);
	struct sockaddr_un a;
	assert_true(strlen(longpath) >= sizeof(a.sun_path));
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	struct exec_server *s = exec_server_start(longpath, exec_server_listen(longpath), sp[1], false);
	assert_non_null(s);
	int dirfd, fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(exec_socket_address(longpath, &a, &dirfd), 0);
	assert_true(dirfd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(dirfd);
	send_rec(fd, 0, EXEC_SPAWN, "deep");
	expect(sp[0], EXEC_SPAWN, "deep", NULL);
	close(fd);
	exec_server_stop(s);
	close(sp[0]);
	assert_int_equal(rmdir(deep), 0); /* the socket went with the server */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sessions_are_routed_both_ways, up, down),
		cmocka_unit_test_setup_teardown(test_a_bad_client_is_dropped_alone, up, down),
		cmocka_unit_test_setup_teardown(test_the_vm_ending_ends_every_client, up, down),
		cmocka_unit_test_setup_teardown(test_a_long_path_is_reached_through_its_directory,
						up, down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
