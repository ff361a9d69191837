/*
 * The FUSE server's resource bounds against a guest that asks for more
 * (SECURITY.md): at most 65,536 open handles per server, whatever the
 * guest sends, each a host descriptor that goes back when released or
 * when the server goes.
 */
#include <sys/resource.h>
#include "fuse_server_harness.h"

#define HANDLES (1u << 16)

static int setup(void **state)
{
	(void)state;
	strcpy(base, "/tmp/pier-fuse-limits-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(tree, sizeof(tree), "%s/tree", base);
	assert_int_equal(mkdir(tree, 0755), 0);
	put_file("f.txt", "f\n", 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	scratch_remove_tree(base);
	return 0;
}

/* Opens `cap` handles on a server whose cap is `cap`: one more is
 * refused, not a bigger table or a crash; a released slot can be had
 * again; the server closes every fd it held. */
static void fill_to_the_cap(unsigned cap, bool lowered)
{
	int fds = count_fds();
	srv = fuse_server_new(tree, true);
	assert_non_null(srv);
	if (lowered)
		fuse_server_limit_handles(srv, cap);
	init();
	uint64_t f = lookup_ok(1, "f.txt"), fh = 0, first = 0;
	for (unsigned i = 0; i < cap; i++) {
		assert_int_equal(open_node(f, O_RDONLY, false, &fh), 0);
		if (i == 0)
			first = fh;
	}
	assert_int_equal(stats().open_handles, cap);
	uint64_t more;
	assert_int_equal(open_node(f, O_RDONLY, false, &more), -ENFILE);
	assert_int_equal(open_node(1, O_RDONLY, true, &more), -ENFILE);
	assert_int_equal(release(first, false), 0);
	assert_int_equal(open_node(f, O_RDONLY, false, &more), 0);
	assert_int_equal(read_fh(FUSE_READ, more, 0, 2), 2);
	assert_int_equal(open_node(f, O_RDONLY, false, &more), -ENFILE);
	fuse_server_free(srv);
	srv = NULL;
	assert_int_equal(count_fds(), fds);
}

/* The cap as shipped. It needs a descriptor limit above 65536, which a
 * sandbox may forbid even to root: then a visible skip, and the lowered
 * cap below checks the same mechanism. */
static void test_open_handles_are_capped(void **state)
{
	(void)state;
	/* Room for every handle the server allows, and a few more. */
	struct rlimit want = { HANDLES + 256, HANDLES + 256 }, old;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_cur < want.rlim_cur && setrlimit(RLIMIT_NOFILE, &want)) {
		print_message("cannot raise the descriptor limit to %u (%s): the shipped cap "
			      "is not filled here\n", HANDLES + 256, strerror(errno));
		skip();
	}
	fill_to_the_cap(HANDLES, false);
	setrlimit(RLIMIT_NOFILE, &old);
}

static void test_lowered_handle_cap(void **state)
{
	(void)state;
	fill_to_the_cap(1000, true);
	fill_to_the_cap(1, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_handles_are_capped),
		cmocka_unit_test(test_lowered_handle_cap),
	};
	return cmocka_run_group_tests_name("fuse_server_limits", tests, setup, teardown);
}
