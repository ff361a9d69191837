/* Unit tests for lib/exec_wire.c: records cut out of a byte stream however
 * it is split, several in one piece, empty payloads, and headers that must
 * not be trusted (unknown kind, flags set, a length over the limit). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pier/exec_wire.h>

static size_t put(uint8_t *out, uint32_t session, enum exec_wire_kind kind, const char *text)
{
	size_t n = wire_put_header(out, session, kind, (uint32_t)strlen(text));
	memcpy(out + n, text, strlen(text));
	return n + strlen(text);
}

struct got {
	int n;
	uint32_t id[8];
	uint16_t kind[8];
	char text[8][64];
};

/* Feeds stream in pieces of `step` bytes, collecting the records. */
static void feed_all(struct wire_reader *r, const uint8_t *s, size_t len, size_t step,
		     struct got *g)
{
	memset(g, 0, sizeof(*g));
	for (size_t off = 0; off < len;) {
		size_t piece = len - off < step ? len - off : step, used = 0;
		while (used < piece) {
			bool done;
			used += wire_feed(r, s + off + used, piece - used, &done);
			if (done) {
				assert_true(g->n < 8);
				g->id[g->n] = r->h.id;
				g->kind[g->n] = r->h.kind;
				memcpy(g->text[g->n], wire_payload(r), r->h.len);
				g->n++;
			}
		}
		off += piece;
	}
}

static void test_any_split_gives_the_same_records(void **state)
{
	(void)state;
	uint8_t s[256];
	size_t len = put(s, 3, EXEC_STDOUT, "hello");
	len += put(s + len, 4, EXEC_STDIN_EOF, "");
	len += put(s + len, 3, EXEC_STDERR, "a longer line of text\n");
	struct wire_reader *r = malloc(sizeof(*r));
	for (size_t step = 1; step <= len; step++) {
		wire_reader_init(r, EXEC_KINDS);
		struct got g;
		feed_all(r, s, len, step, &g);
		assert_int_equal(g.n, 3);
		assert_int_equal(g.id[0], 3);
		assert_int_equal(g.kind[0], EXEC_STDOUT);
		assert_string_equal(g.text[0], "hello");
		assert_int_equal(g.id[1], 4);
		assert_int_equal(g.kind[1], EXEC_STDIN_EOF);
		assert_string_equal(g.text[1], "");
		assert_int_equal(g.kind[2], EXEC_STDERR);
		assert_string_equal(g.text[2], "a longer line of text\n");
		assert_false(r->broken);
	}
	free(r);
}

static void test_untrusted_headers_break_the_stream(void **state)
{
	(void)state;
	struct wire_reader *r = malloc(sizeof(*r));
	uint8_t s[64];
	struct wire_header bad[] = {
		{ .id = 1, .kind = 0, .len = 0 },
		{ .id = 1, .kind = EXEC_KINDS, .len = 0 },
		{ .id = 1, .kind = EXEC_STDOUT, .flags = 1, .len = 0 },
		{ .id = 1, .kind = EXEC_STDOUT, .len = WIRE_PAYLOAD_MAX + 1 },
		{ .id = 1, .kind = EXEC_STDOUT, .len = 0xffffffffu },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wire_reader_init(r, EXEC_KINDS);
		memcpy(s, &bad[i], sizeof(bad[i]));
		size_t len = sizeof(bad[i]) + put(s + sizeof(bad[i]), 2, EXEC_STDOUT, "x");
		bool done;
		assert_int_equal(wire_feed(r, s, len, &done), len);
		assert_false(done);
		assert_true(r->broken);
		/* Nothing after it is taken for a record. */
		len = put(s, 2, EXEC_STDOUT, "y");
		assert_int_equal(wire_feed(r, s, len, &done), len);
		assert_false(done);
	}
	free(r);
}

static void test_the_largest_payload_fits(void **state)
{
	(void)state;
	struct wire_reader *r = malloc(sizeof(*r));
	size_t len = sizeof(struct wire_header) + WIRE_PAYLOAD_MAX;
	uint8_t *s = malloc(len);
	wire_put_header(s, 9, EXEC_SPAWN, WIRE_PAYLOAD_MAX);
	memset(s + sizeof(struct wire_header), 'z', WIRE_PAYLOAD_MAX);
	wire_reader_init(r, EXEC_KINDS);
	bool done;
	assert_int_equal(wire_feed(r, s, len, &done), len);
	assert_true(done);
	assert_int_equal(r->h.len, WIRE_PAYLOAD_MAX);
	assert_int_equal(wire_payload(r)[WIRE_PAYLOAD_MAX - 1], 'z');
	free(s);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_split_gives_the_same_records),
		cmocka_unit_test(test_untrusted_headers_break_the_stream),
		cmocka_unit_test(test_the_largest_payload_fits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
