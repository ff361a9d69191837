/*
 * The FUSE server called from several threads at once, as pier's
 * virtio-fs device does with one thread per request queue (issue 23).
 * READ and WRITE do their file I/O with the server's lock let go; a
 * RELEASE racing with them must not close the descriptor under them, or
 * a file opened meanwhile could take its number and the read would
 * return that file's bytes. A reader here reads file A (all 'A') while
 * another thread releases its handle and opens file B (all 'B'), round
 * after round: every read returns A's bytes or EBADF, never B's, and
 * nothing leaks.
 * The server's test hook holds each I/O back 200 us after the lock is
 * let go, which is where the race is (without it, it is too narrow to
 * lose: a version without pins passed thousands of rounds).
 * cmocka's asserts may only run on the main thread: the others count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <linux/fuse.h>
#include <pier/fuse_msg.h>
#include "fuse_server.h"
#include "fuse_server_harness.h"
#include "fuse_server_priv.h"
#include "scratch_dir.h"

#define FILE_SIZE (1 << 20)
#define CHUNK 65536
#define ROUNDS 300

static uint64_t node_a, node_b;
static uint64_t shared_fh;      /* a reader's open handle, for the releaser */
static unsigned wrong_bytes;    /* reads that returned another file's bytes */
static unsigned bad_replies;    /* anything else unexpected */
static unsigned good_reads, stale_reads;

static int setup(void **state)
{
	(void)state;
	strcpy(base, "/tmp/pier-fuse-threads-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(tree, sizeof(tree), "%s/tree", base);
	assert_int_equal(mkdir(tree, 0755), 0);
	uint8_t *data = malloc(FILE_SIZE);
	memset(data, 'A', FILE_SIZE);
	put_file("a.bin", data, FILE_SIZE);
	memset(data, 'B', FILE_SIZE);
	put_file("b.bin", data, FILE_SIZE);
	free(data);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	scratch_remove_tree(base);
	return 0;
}

/* One thread's request: its own buffers, the reply's payload in *out. */
struct conn {
	uint8_t req[4096];
	uint8_t rep[CHUNK + 4096];
};

static int64_t tcall(struct conn *c, uint32_t op, uint64_t nodeid, const void *pl, size_t plen)
{
	struct fuse_in_header h;
	uint64_t u = __atomic_add_fetch(&unique_ctr, 1, __ATOMIC_RELAXED);
	fuse_msg_header(&h, op, u, nodeid, (uint32_t)(sizeof(h) + plen));
	memcpy(c->req, &h, sizeof(h));
	memcpy(c->req + sizeof(h), pl, plen);
	size_t n = fuse_server_handle(srv, c->req, sizeof(h) + plen, c->rep, sizeof(c->rep));
	int64_t r = fuse_msg_reply((const struct fuse_out_header *)c->rep, (uint32_t)n, u);
	if (r == -EPROTO)
		__atomic_add_fetch(&bad_replies, 1, __ATOMIC_RELAXED);
	return r;
}

static uint64_t topen(struct conn *c, uint64_t node)
{
	struct fuse_open_in in = { .flags = O_RDONLY };
	int64_t r = tcall(c, FUSE_OPEN, node, &in, sizeof(in));
	struct fuse_open_out o;
	if (r < 0 || fuse_msg_open(c->rep + sizeof(struct fuse_out_header), (uint32_t)r, &o)) {
		__atomic_add_fetch(&bad_replies, 1, __ATOMIC_RELAXED);
		return 0;
	}
	return o.fh;
}

/* Reads CHUNK bytes at off; counts what came back against `want`. */
static void tread(struct conn *c, uint64_t fh, uint64_t off, uint8_t want, bool may_be_stale)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = CHUNK };
	int64_t r = tcall(c, FUSE_READ, 1, &in, sizeof(in));
	if (r == -EBADF && may_be_stale) {
		__atomic_add_fetch(&stale_reads, 1, __ATOMIC_RELAXED);
		return;
	}
	if (r != CHUNK) {
		__atomic_add_fetch(&bad_replies, 1, __ATOMIC_RELAXED);
		return;
	}
	const uint8_t *p = c->rep + sizeof(struct fuse_out_header);
	for (int i = 0; i < CHUNK; i++)
		if (p[i] != want) {
			__atomic_add_fetch(&wrong_bytes, 1, __ATOMIC_RELAXED);
			return;
		}
	__atomic_add_fetch(&good_reads, 1, __ATOMIC_RELAXED);
}

static void trelease(struct conn *c, uint64_t fh)
{
	struct fuse_release_in in = { .fh = fh };
	int64_t r = tcall(c, FUSE_RELEASE, 1, &in, sizeof(in));
	if (r != 0 && r != -EBADF) /* EBADF: the other side released it first */
		__atomic_add_fetch(&bad_replies, 1, __ATOMIC_RELAXED);
}

static bool reader_done;

/* Opens A, hands the handle to the releaser, reads it, releases it. */
static void *reader(void *arg)
{
	(void)arg;
	struct conn *c = malloc(sizeof(*c));
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t fh = topen(c, node_a);
		__atomic_store_n(&shared_fh, fh, __ATOMIC_RELEASE);
		tread(c, fh, (uint64_t)(i % (FILE_SIZE / CHUNK)) * CHUNK, 'A', true);
		trelease(c, fh);
	}
	__atomic_store_n(&reader_done, true, __ATOMIC_RELEASE);
	free(c);
	return NULL;
}

/* Takes each handle the reader hands over, waits until the reader's READ
 * is held back with the lock let go, releases the handle and opens B:
 * the lowest free descriptor, the one just closed if the release closed
 * it. Then reads B, which must be all B. */
static void *releaser(void *arg)
{
	(void)arg;
	struct conn *c = malloc(sizeof(*c));
	while (!__atomic_load_n(&reader_done, __ATOMIC_ACQUIRE)) {
		uint64_t fh = __atomic_exchange_n(&shared_fh, 0, __ATOMIC_ACQ_REL);
		if (!fh) {
			sched_yield();
			continue;
		}
		usleep(50);
		trelease(c, fh);
		uint64_t fb = topen(c, node_b);
		tread(c, fb, 0, 'B', false);
		trelease(c, fb);
	}
	free(c);
	return NULL;
}

static void hold_back(void)
{
	usleep(200);
}

static void test_release_racing_reads(void **state)
{
	(void)state;
	fsrv_io_hook = hold_back;
	srv = fuse_server_new(tree, true);
	assert_non_null(srv);
	int fds = count_fds();
	init();
	node_a = lookup_ok(FUSE_ROOT_ID, "a.bin");
	node_b = lookup_ok(FUSE_ROOT_ID, "b.bin");
	pthread_t r, x;
	assert_int_equal(pthread_create(&x, NULL, releaser, NULL), 0);
	assert_int_equal(pthread_create(&r, NULL, reader, NULL), 0);
	pthread_join(r, NULL);
	pthread_join(x, NULL);
	fsrv_io_hook = NULL;
	printf("reads: %u right, %u stale (EBADF), %u wrong, %u bad replies\n", good_reads,
	       stale_reads, wrong_bytes, bad_replies);
	assert_int_equal(wrong_bytes, 0);
	assert_int_equal(bad_replies, 0);
	/* The releaser's reads of B, and the reader's that beat the release. */
	assert_true(good_reads >= ROUNDS);
	struct fuse_server_stats st;
	fuse_server_get_stats(srv, &st);
	assert_int_equal(st.open_handles, 0); /* every deferred close happened */
	forget(node_a, 1);
	forget(node_b, 1);
	fuse_server_free(srv);
	srv = NULL;
	assert_int_equal(count_fds(), fds - 1); /* the root's fd went with the server */
}

int main(void)
{
	alarm(120); /* a deadlock fails the run instead of hanging it */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_racing_reads),
	};
	return cmocka_run_group_tests_name("fuse_server_threads", tests, setup, teardown);
}
