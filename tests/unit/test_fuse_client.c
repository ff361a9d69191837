/*
 * Unit tests for the guest's FUSE client, guest/fs/fuse.c, compiled for the
 * host (included below, with fuzz/guest_shims.h for kprintf and kmalloc)
 * over a scripted transport: each request gets the next canned reply.
 * Regression cases from fuzz/fuzz_fuse_reply.c live here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "../../guest/fs/fuse.c"
#include "../../fuzz/guest_shims.h"

/* ---- the scripted device ---- */

struct canned {
	struct fuse_out_header h;  /* len 0: sizeof(h) + len of payload */
	bool wrong_unique;
	const void *payload;
	uint32_t len;
};

static struct canned script[8];
static unsigned nscript, next_reply, calls;

static int64_t script_call(void *ctx, const struct fuse_iov *out, unsigned nout,
			   const struct fuse_iov *in, unsigned nin, bool may_unlock)
{
	(void)ctx;
	const struct fuse_in_header *req = out[0].base;
	assert_true(nout >= 1 && nin >= 1);
	/* Only the waits of READ, WRITE, the syncs, LOOKUP, GETATTR, OPEN,
	 * OPENDIR and READLINK may let the kernel lock go: after their
	 * replies the client touches only its buffer, the request and the
	 * connection (the VFS sorts out what changed meanwhile); after any
	 * other, shared state. */
	uint32_t op = req->opcode;
	assert_int_equal(may_unlock, op == FUSE_READ || op == FUSE_WRITE || op == FUSE_FSYNC ||
					     op == FUSE_FSYNCDIR || op == FUSE_LOOKUP ||
					     op == FUSE_GETATTR || op == FUSE_OPEN ||
					     op == FUSE_OPENDIR || op == FUSE_READLINK);
	assert_true(next_reply < nscript);
	calls++;
	struct canned *c = &script[next_reply++];
	uint8_t buf[4096];
	struct fuse_out_header h = c->h;
	h.len = h.len ? h.len : (uint32_t)sizeof(h) + c->len;
	h.unique = c->wrong_unique ? req->unique + 1 : req->unique;
	memcpy(buf, &h, sizeof(h));
	if (c->len)
		memcpy(buf + sizeof(h), c->payload, c->len);
	uint32_t n = (uint32_t)sizeof(h) + c->len, at = 0;
	for (unsigned i = 0; i < nin && at < n; i++) {
		uint32_t k = n - at < in[i].len ? n - at : in[i].len;
		memcpy(in[i].base, buf + at, k);
		at += k;
	}
	assert_int_equal(at, n); /* the replies here fit the buffers offered */
	return n;
}

static int script_noreply(void *ctx, const struct fuse_iov *out, unsigned nout)
{
	(void)ctx;
	(void)out;
	(void)nout;
	return 0;
}

static struct fuse_transport t = { .call = script_call, .send_noreply = script_noreply };
static struct fuse_conn conn;

static void reply_ok(const void *payload, uint32_t len)
{
	script[nscript++] = (struct canned){ .payload = payload, .len = len };
}

static void reply_error(int32_t error)
{
	script[nscript++] = (struct canned){ .h = { .error = error } };
}

static struct fuse_init_out init_reply;
static struct fuse_attr_out attr_reply;

/* A mounted connection: INIT answered with protocol 7.38, no options. */
static int setup(void **state)
{
	(void)state;
	nscript = next_reply = calls = 0;
	init_reply = (struct fuse_init_out){ .major = 7, .minor = 38, .max_write = 4096 };
	attr_reply = (struct fuse_attr_out){ .attr_valid = 1,
					     .attr = { .ino = 1, .mode = S_IFDIR | 0755,
						       .nlink = 2, .blksize = 4096 } };
	reply_ok(&init_reply, sizeof(init_reply));
	assert_int_equal(fuse_init(&conn, &t), 0);
	assert_false(conn.dead);
	return 0;
}

/* ---- tests ---- */

/*
 * Regression (fuzz/regress/fuse_reply/server-eproto-closes-connection):
 * a server may answer any request with the errno EPROTO (pier's own FUSE
 * server does, to a second INIT); fuse_msg_reply passes it through as
 * -EPROTO, which the client took for a malformed reply and closed the
 * connection for good.
 */
static void test_server_eproto_is_an_answer(void **state)
{
	(void)state;
	struct fuse_attr_out a;
	reply_error(-EPROTO);
	assert_int_equal(fuse_getattr(&conn, FUSE_ROOT_ID, &a), -EPROTO);
	assert_false(conn.dead);
	/* The connection still works. */
	reply_ok(&attr_reply, sizeof(attr_reply));
	assert_int_equal(fuse_getattr(&conn, FUSE_ROOT_ID, &a), 0);
	assert_int_equal(a.attr.mode, S_IFDIR | 0755);
	assert_int_equal(calls, 3);
}

/* Other errors pass through; malformed replies still close the connection. */
static void test_errors_and_malformed(void **state)
{
	(void)state;
	struct fuse_attr_out a;
	reply_error(-ENOENT);
	assert_int_equal(fuse_getattr(&conn, 2, &a), -ENOENT);
	reply_error(-FUSE_MSG_ERRNO_MAX);
	assert_int_equal(fuse_getattr(&conn, 2, &a), -FUSE_MSG_ERRNO_MAX);
	assert_false(conn.dead);

	/* EPROTO with a payload is not a plain error reply: malformed. */
	script[nscript++] = (struct canned){ .h = { .error = -EPROTO }, .payload = &attr_reply,
					     .len = 8 };
	assert_int_equal(fuse_getattr(&conn, 2, &a), -EPROTO);
	assert_true(conn.dead);
	/* Dead: nothing more is sent. */
	assert_int_equal(fuse_getattr(&conn, 2, &a), -EIO);
	assert_int_equal(calls, 4);
}

static void test_eproto_wrong_unique(void **state)
{
	(void)state;
	struct fuse_attr_out a;
	script[nscript++] = (struct canned){ .h = { .error = -EPROTO }, .wrong_unique = true };
	assert_int_equal(fuse_getattr(&conn, 2, &a), -EPROTO);
	assert_true(conn.dead);
}

static void test_error_out_of_range(void **state)
{
	(void)state;
	struct fuse_attr_out a;
	reply_error(-FUSE_MSG_ERRNO_MAX - 1);
	assert_int_equal(fuse_getattr(&conn, 2, &a), -EPROTO);
	assert_true(conn.dead);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_server_eproto_is_an_answer, setup),
		cmocka_unit_test_setup(test_errors_and_malformed, setup),
		cmocka_unit_test_setup(test_eproto_wrong_unique, setup),
		cmocka_unit_test_setup(test_error_out_of_range, setup),
	};
	return cmocka_run_group_tests_name("fuse_client", tests, NULL, NULL);
}
