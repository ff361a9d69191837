/*
 * Unit tests for lib/sha256.c. Expected digests are FIPS 180-4 example
 * vectors, and for the other inputs the output of Python's hashlib.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pier/sha256.h>

static void check_hex(const void *data, size_t len, const char *want)
{
	uint8_t d[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1];
	sha256(data, len, d);
	sha256_hex(d, hex);
	assert_string_equal(hex, want);
}

static void test_fips_vectors(void **state)
{
	(void)state;
	check_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	assert_int_equal(strlen(m448) * 8, 448);
	check_hex(m448, strlen(m448),
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
			   "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	assert_int_equal(strlen(m896) * 8, 896);
	check_hex(m896, strlen(m896),
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state)
{
	(void)state;
	/* Fed in uneven pieces so buffered and direct paths both run. */
	char a[1000];
	memset(a, 'a', sizeof(a));
	struct sha256_ctx c;
	sha256_init(&c);
	size_t left = 1000000, step = 1;
	while (left) {
		size_t n = step < left ? step : left;
		sha256_update(&c, a, n);
		left -= n;
		step = step * 3 % 997 + 1;
	}
	uint8_t d[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1];
	sha256_final(&c, d);
	sha256_hex(d, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundary: 55 fits the length in one block, 56 does not. */
static void test_padding_boundaries(void **state)
{
	(void)state;
	static const struct {
		size_t n;
		const char *want;
	} v[] = {
		{ 55, "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59" },
		{ 56, "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562" },
		{ 63, "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488" },
		{ 64, "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108" },
		{ 65, "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781" },
		{ 119, "da18797ed7c3a777f0847f429724a2d8cd5138e6ed2895c3fa1a6d39d18f7ec6" },
		{ 120, "f52b23db1fbb6ded89ef42a23ce0c8922c45f25c50b568a93bf1c075420bbb7c" },
	};
	uint8_t buf[128];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check_hex(buf, v[i].n, v[i].want);
}

/* Every split point (and a three-way split) must give the one-shot digest. */
static void test_incremental_splits(void **state)
{
	(void)state;
	uint8_t buf[201];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	check_hex(buf, sizeof(buf), "a3e6abe72758a885155cae58448050f69c94c9cabdfd3d461c9f56564ce1e89b");

	uint8_t want[SHA256_DIGEST_SIZE], got[SHA256_DIGEST_SIZE];
	sha256(buf, sizeof(buf), want);
	for (size_t i = 0; i <= sizeof(buf); i++) {
		struct sha256_ctx c;
		sha256_init(&c);
		sha256_update(&c, buf, i);
		sha256_update(&c, buf + i, sizeof(buf) - i);
		sha256_final(&c, got);
		assert_memory_equal(got, want, sizeof(want));

		for (size_t j = i; j <= sizeof(buf); j += 7) {
			sha256_init(&c);
			sha256_update(&c, buf, i);
			sha256_update(&c, buf + i, 0);
			sha256_update(&c, buf + i, j - i);
			sha256_update(&c, buf + j, sizeof(buf) - j);
			sha256_final(&c, got);
			assert_memory_equal(got, want, sizeof(want));
		}
	}
	/* Byte at a time. */
	struct sha256_ctx c;
	sha256_init(&c);
	for (size_t i = 0; i < sizeof(buf); i++)
		sha256_update(&c, buf + i, 1);
	sha256_final(&c, got);
	assert_memory_equal(got, want, sizeof(want));
}

/* A copied context finishes the same prefix into different messages. */
static void test_context_copy(void **state)
{
	(void)state;
	struct sha256_ctx c, c2;
	uint8_t d[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1];
	sha256_init(&c);
	sha256_update(&c, "ab", 2);
	c2 = c;
	sha256_update(&c, "c", 1);
	sha256_final(&c, d);
	sha256_hex(d, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_final(&c2, d);
	uint8_t want[SHA256_DIGEST_SIZE];
	sha256("ab", 2, want);
	assert_memory_equal(d, want, sizeof(want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fips_vectors),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_padding_boundaries),
		cmocka_unit_test(test_incremental_splits),
		cmocka_unit_test(test_context_copy),
	};
	return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
