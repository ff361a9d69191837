/* Unit tests for lib/file_locks.c: shared reads, exclusive writes, an owner's
 * own locks replaced (upgrade, downgrade, split on unlock), FL_EOF, files
 * independent, fl_release, fl_any, -ENOLCK on a full table (split needing one
 * more slot; table untouched), -EINVAL; then a randomized byte-model check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/errno.h>
#include <pier/file_locks.h>

static struct file_locks t;
static struct file_locks snap;

#define PROBE 999 /* an owner that never holds anything */

static int setup(void **state)
{
	(void)state;
	memset(&t, 0, sizeof t);
	return 0;
}

/* What another owner sees at bytes 0..n-1 of file: '.' free, 'r' read-locked, 'w' write-locked. */
static const char *probe(uint64_t file, int n)
{
	static char s[128];
	for (int b = 0; b < n; b++)
		s[b] = fl_conflict(&t, file, PROBE, b, b, FL_READ)    ? 'w'
		       : fl_conflict(&t, file, PROBE, b, b, FL_WRITE) ? 'r'
								      : '.';
	s[n] = 0;
	return s;
}

/* A call refused with -ENOLCK that leaves the table exactly as it was. */
#define NOLCK(call)                                                                      \
	do {                                                                             \
		memcpy(&snap, &t, sizeof t);                                             \
		assert_int_equal((call), -ENOLCK);                                       \
		assert_memory_equal(&snap, &t, sizeof t);                                \
	} while (0)

static int used(void)
{
	int n = 0;
	for (int i = 0; i < FL_MAX; i++)
		n += t.r[i].file != 0;
	return n;
}

/* The conflict found is the range (owner, start, end, type, pid). */
static void expect(const struct fl_range *c, uint64_t owner, uint64_t start, uint64_t end,
		   int type, int pid)
{
	assert_non_null(c);
	assert_int_equal(c->owner, owner);
	assert_int_equal(c->start, start);
	assert_int_equal(c->end, end);
	assert_int_equal(c->type, type);
	assert_int_equal(c->pid, pid);
}

static void test_read_read_shared(void **state)
{
	(void)state;
	assert_null(fl_conflict(&t, 1, 1, 0, 9, FL_READ));
	assert_int_equal(fl_set(&t, 1, 1, 0, 9, FL_READ, 10), 0);
	assert_null(fl_conflict(&t, 1, 2, 5, 15, FL_READ));
	assert_int_equal(fl_set(&t, 1, 2, 5, 15, FL_READ, 20), 0);
	/* A writer conflicts with either reader; owner 1 only with owner 2. */
	assert_non_null(fl_conflict(&t, 1, 3, 9, 9, FL_WRITE));
	expect(fl_conflict(&t, 1, 1, 0, 9, FL_WRITE), 2, 5, 15, FL_READ, 20);
	assert_null(fl_conflict(&t, 1, 1, 0, 4, FL_WRITE));
	assert_string_equal(probe(1, 17), "rrrrrrrrrrrrrrrr.");
}

static void test_write_excludes(void **state)
{
	(void)state;
	assert_int_equal(fl_set(&t, 1, 1, 10, 19, FL_WRITE, 7), 0);
	expect(fl_conflict(&t, 1, 2, 19, 30, FL_READ), 1, 10, 19, FL_WRITE, 7);
	assert_non_null(fl_conflict(&t, 1, 2, 0, 10, FL_WRITE));
	/* Adjacent, not overlapping: no conflict. */
	assert_null(fl_conflict(&t, 1, 2, 20, 30, FL_WRITE));
	assert_null(fl_conflict(&t, 1, 2, 0, 9, FL_WRITE));
	assert_int_equal(fl_set(&t, 1, 2, 0, 9, FL_WRITE, 8), 0);
	assert_int_equal(fl_set(&t, 1, 3, 20, 30, FL_READ, 9), 0);
	assert_string_equal(probe(1, 32), "wwwwwwwwwwwwwwwwwwwwrrrrrrrrrrr.");
}

static void test_same_owner_never_conflicts(void **state)
{
	(void)state;
	assert_int_equal(fl_set(&t, 1, 1, 0, 9, FL_WRITE, 1), 0);
	assert_null(fl_conflict(&t, 1, 1, 0, 9, FL_WRITE));
	assert_null(fl_conflict(&t, 1, 1, 5, FL_EOF, FL_READ));
	/* Replacing its own lock wholesale: one range left, now read. */
	assert_int_equal(fl_set(&t, 1, 1, 0, FL_EOF, FL_READ, 1), 0);
	assert_int_equal(used(), 1);
	assert_string_equal(probe(1, 12), "rrrrrrrrrrrr");
	assert_null(fl_conflict(&t, 1, 2, 0, FL_EOF, FL_READ));
}

static void test_files_independent(void **state)
{
	(void)state;
	assert_int_equal(fl_set(&t, 1, 1, 0, FL_EOF, FL_WRITE, 1), 0);
	assert_null(fl_conflict(&t, 2, 2, 0, FL_EOF, FL_WRITE));
	assert_int_equal(fl_set(&t, 2, 2, 0, FL_EOF, FL_WRITE, 2), 0);
	assert_true(fl_any(&t, 1));
	assert_true(fl_any(&t, 2));
	assert_false(fl_any(&t, 3));
	assert_false(fl_any(&t, 0));
	assert_null(fl_conflict(&t, 0, 3, 0, FL_EOF, FL_WRITE));
	expect(fl_conflict(&t, 2, 1, 0, 0, FL_READ), 2, 0, FL_EOF, FL_WRITE, 2);
}

static void test_eof_ranges(void **state)
{
	(void)state;
	assert_int_equal(fl_set(&t, 1, 1, 100, FL_EOF, FL_WRITE, 1), 0);
	assert_null(fl_conflict(&t, 1, 2, 0, 99, FL_WRITE));
	assert_non_null(fl_conflict(&t, 1, 2, 99, 100, FL_READ));
	assert_non_null(fl_conflict(&t, 1, 2, FL_EOF, FL_EOF, FL_READ));
	assert_non_null(fl_conflict(&t, 1, 2, 1u << 30, 1u << 30, FL_READ));
	/* Unlock from 200 on: [100, 199] stays. */
	assert_int_equal(fl_set(&t, 1, 1, 200, FL_EOF, 0, 1), 0);
	assert_null(fl_conflict(&t, 1, 2, 200, FL_EOF, FL_WRITE));
	assert_non_null(fl_conflict(&t, 1, 2, 199, 199, FL_READ));
	/* Byte 0 and the last byte unlocked out of [0, EOF] (no wrap-around). */
	assert_int_equal(fl_set(&t, 2, 1, 0, FL_EOF, FL_READ, 1), 0);
	assert_int_equal(fl_set(&t, 2, 1, 0, 0, 0, 1), 0);
	assert_int_equal(fl_set(&t, 2, 1, FL_EOF, FL_EOF, 0, 1), 0);
	assert_string_equal(probe(2, 4), ".rrr");
	assert_null(fl_conflict(&t, 2, 2, FL_EOF, FL_EOF, FL_WRITE));
	assert_non_null(fl_conflict(&t, 2, 2, FL_EOF - 1, FL_EOF, FL_WRITE));
	assert_int_equal(used(), 2);
}

static void test_unlock_middle_splits(void **state)
{
	(void)state;
	assert_int_equal(fl_set(&t, 1, 1, 2, 9, FL_READ, 5), 0);
	assert_int_equal(fl_set(&t, 1, 1, 4, 6, 0, 5), 0);
	assert_string_equal(probe(1, 12), "..rr...rrr..");
	assert_int_equal(used(), 2);
	assert_null(fl_conflict(&t, 1, 2, 4, 6, FL_WRITE));
	/* Both halves keep the holder's type and pid. */
	expect(fl_conflict(&t, 1, 2, 0, 3, FL_WRITE), 1, 2, 3, FL_READ, 5);
	expect(fl_conflict(&t, 1, 2, 7, 20, FL_WRITE), 1, 7, 9, FL_READ, 5);
	/* Unlocking across both halves and the hole clears everything. */
	assert_int_equal(fl_set(&t, 1, 1, 3, 7, 0, 5), 0);
	assert_string_equal(probe(1, 12), "..r.....rr..");
	assert_int_equal(fl_set(&t, 1, 1, 0, FL_EOF, 0, 5), 0);
	assert_int_equal(used(), 0);
	assert_false(fl_any(&t, 1));
}

static void test_upgrade_downgrade(void **state)
{
	(void)state;
	assert_int_equal(fl_set(&t, 1, 1, 0, 9, FL_READ, 1), 0);
	assert_int_equal(fl_set(&t, 1, 1, 3, 5, FL_WRITE, 1), 0); /* upgrade the middle */
	assert_string_equal(probe(1, 11), "rrrwwwrrrr.");
	assert_int_equal(used(), 3);
	assert_int_equal(fl_set(&t, 1, 1, 0, 9, FL_READ, 1), 0); /* downgrade all of it */
	assert_string_equal(probe(1, 11), "rrrrrrrrrr.");
	assert_int_equal(used(), 1);
	assert_int_equal(fl_set(&t, 1, 1, 0, 9, FL_WRITE, 1), 0);
	assert_int_equal(fl_set(&t, 1, 1, 4, 5, FL_READ, 1), 0); /* downgrade the middle */
	assert_string_equal(probe(1, 11), "wwwwrrwwww.");
	assert_int_equal(fl_set(&t, 1, 1, 8, 12, FL_READ, 1), 0); /* overlapping the tail */
	assert_string_equal(probe(1, 14), "wwwwrrwwrrrrr.");
}

static void test_release(void **state)
{
	(void)state;
	for (uint64_t f = 1; f <= 3; f++)
		assert_int_equal(fl_set(&t, f, 1, 0, 3, FL_WRITE, 1), 0);
	assert_int_equal(fl_set(&t, 1, 1, 8, 9, FL_READ, 1), 0);
	assert_int_equal(fl_set(&t, 1, 2, 4, 7, FL_WRITE, 2), 0);
	assert_int_equal(fl_set(&t, 2, 2, 4, 7, FL_READ, 2), 0);
	fl_release(&t, 1, 1);
	assert_string_equal(probe(1, 10), "....wwww..");
	assert_string_equal(probe(2, 10), "wwwwrrrr..");
	assert_string_equal(probe(3, 10), "wwww......");
	fl_release(&t, 0, 1);
	assert_string_equal(probe(2, 10), "....rrrr..");
	assert_false(fl_any(&t, 3));
	assert_true(fl_any(&t, 1));
	assert_int_equal(used(), 2);
	fl_release(&t, 2, 3); /* owner holding nothing: no effect */
	assert_int_equal(used(), 2);
	fl_release(&t, 0, 2);
	assert_false(fl_any(&t, 1));
	assert_int_equal(used(), 0);
}

static void test_enolck(void **state)
{
	(void)state;
	for (int i = 0; i < FL_MAX; i++)
		assert_int_equal(fl_set(&t, 1, 1, 4 * i, 4 * i + 2, FL_READ, 1), 0);
	assert_int_equal(used(), FL_MAX);
	NOLCK(fl_set(&t, 2, 2, 0, 0, FL_WRITE, 2));
	NOLCK(fl_set(&t, 1, 1, 1, 1, 0, 1)); /* unlock split: one more */
	NOLCK(fl_set(&t, 1, 1, 5, 5, FL_WRITE, 1));
	/* Unlocking without a split needs nothing. */
	assert_int_equal(fl_set(&t, 1, 1, 0, 1, 0, 1), 0);
	assert_int_equal(fl_set(&t, 1, 1, 2, 2, 0, 1), 0);
	assert_int_equal(used(), FL_MAX - 1);
	/* One free slot: a split lock needs two and is refused... */
	NOLCK(fl_set(&t, 1, 1, 5, 5, FL_WRITE, 1));
	/* ...but the same bytes on another file, or by another owner, need one. */
	assert_int_equal(fl_set(&t, 2, 1, 5, 5, FL_WRITE, 1), 0);
	assert_int_equal(fl_set(&t, 2, 1, 0, FL_EOF, 0, 1), 0);
	assert_int_equal(fl_set(&t, 1, 2, 5, 5, FL_READ, 2), 0);
	fl_release(&t, 1, 2);
	assert_int_equal(used(), FL_MAX - 1);
	/* An unlock split fits, and a plain lock too. */
	assert_int_equal(fl_set(&t, 1, 1, 5, 5, 0, 1), 0);
	assert_int_equal(used(), FL_MAX);
	assert_string_equal(probe(1, 12), "....r.r.rrr.");
	assert_int_equal(fl_set(&t, 1, 1, 4, 4, 0, 1), 0);
	assert_int_equal(fl_set(&t, 2, 2, 0, 0, FL_WRITE, 2), 0);
	assert_int_equal(used(), FL_MAX);
	assert_true(fl_any(&t, 2));
}

static void test_einval(void **state)
{
	(void)state;
	assert_int_equal(fl_set(&t, 1, 1, 0, 9, FL_READ, 1), 0);
	memcpy(&snap, &t, sizeof t);
	assert_int_equal(fl_set(&t, 1, 1, 10, 9, FL_WRITE, 1), -EINVAL);
	assert_int_equal(fl_set(&t, 1, 1, FL_EOF, 0, 0, 1), -EINVAL);
	assert_int_equal(fl_set(&t, 0, 1, 0, 9, FL_WRITE, 1), -EINVAL);
	assert_int_equal(fl_set(&t, 0, 1, 0, 9, 0, 1), -EINVAL);
	assert_memory_equal(&snap, &t, sizeof t);
	assert_false(fl_any(&t, 0));
}

/* Model: 3 files, 4 owners, bytes 0..63; byte 63 stands for "63 and on"
 * (ends are 0..62 or FL_EOF, never 63, so the model is exact). */
#define NF 3
#define NO 4
#define NB 64
static uint8_t m[NF + 1][NB][NO + 2]; /* [file][byte][owner]: 0, FL_READ, FL_WRITE */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 16) % n);
}

static void rnd_range(uint64_t *s, uint64_t *e, int *eb)
{
	*s = rnd(NB);
	bool eof = *s == NB - 1 || rnd(4) == 0;
	*e = eof ? FL_EOF : *s + rnd(NB - 1 - (uint32_t)*s);
	*eb = eof ? NB - 1 : (int)*e;
}

static bool model_conflict(int f, int o, int s, int eb, int type)
{
	for (int b = s; b <= eb; b++)
		for (int o2 = 1; o2 <= NO; o2++)
			if (o2 != o && m[f][b][o2] && (type == FL_WRITE || m[f][b][o2] == FL_WRITE))
				return true;
	return false;
}

static void check_conflict(int f, int o, uint64_t s, uint64_t e, int eb, int type)
{
	const struct fl_range *c = fl_conflict(&t, f, o, s, e, type);
	assert_int_equal(c != NULL, model_conflict(f, o, (int)s, eb, type));
	if (c) { /* and what it reports is a genuine conflict */
		assert_int_equal(c->file, f);
		assert_int_not_equal(c->owner, o);
		assert_true(c->start <= e && s <= c->end);
		assert_true(type == FL_WRITE || c->type == FL_WRITE);
		assert_int_equal(c->pid, (int)c->owner);
	}
}

/* The table, byte by byte, is exactly the model, with an owner's ranges disjoint. */
static void check_table(void)
{
	static uint8_t d[NF + 1][NB][NO + 2];
	memset(d, 0, sizeof d);
	for (int i = 0; i < FL_MAX; i++) {
		const struct fl_range *r = &t.r[i];
		if (!r->file)
			continue;
		assert_in_range(r->file, 1, NF);
		assert_in_range(r->owner, 1, NO);
		assert_true(r->start <= r->end && r->start < NB && (r->end < NB - 1 || r->end == FL_EOF));
		int eb = r->end == FL_EOF ? NB - 1 : (int)r->end;
		for (int b = (int)r->start; b <= eb; b++) {
			assert_int_equal(d[r->file][b][r->owner], 0);
			d[r->file][b][r->owner] = (uint8_t)r->type;
		}
	}
	assert_memory_equal(d, m, sizeof d);
}

static void test_random_model(void **state)
{
	(void)state;
	memset(m, 0, sizeof m);
	int sets = 0, refused = 0, most = 0;
	for (int step = 0; step < 20000; step++) {
		int f = 1 + (int)rnd(NF), o = 1 + (int)rnd(NO), eb;
		uint64_t s, e;
		uint32_t op = rnd(100);
		if (op < 85) {
			int type = (int)rnd(3);
			rnd_range(&s, &e, &eb);
			if (type) { /* the caller checks for conflicts first (F_SETLK) */
				check_conflict(f, o, s, e, eb, type);
				if (fl_conflict(&t, f, o, s, e, type)) {
					refused++;
					continue;
				}
			}
			assert_true(used() < FL_MAX - 1); /* so -ENOLCK has no say here */
			assert_int_equal(fl_set(&t, f, o, s, e, type, o), 0);
			for (int b = (int)s; b <= eb; b++)
				m[f][b][o] = (uint8_t)type;
			sets++;
		} else if (op < 95) {
			int rf = rnd(3) ? f : 0;
			fl_release(&t, rf, o);
			for (int ff = 1; ff <= NF; ff++)
				if (!rf || ff == rf)
					for (int b = 0; b < NB; b++)
						m[ff][b][o] = 0;
		}
		for (int ff = 1; ff <= NF; ff++) /* held by someone iff a non-holder can't write */
			assert_int_equal(fl_any(&t, ff), model_conflict(ff, NO + 1, 0, NB - 1, FL_WRITE));
		assert_false(fl_any(&t, 0));
		for (int oo = 1; oo <= NO + 1; oo++) /* owner NO+1 holds nothing */
			for (int k = 0; k < 3; k++) {
				rnd_range(&s, &e, &eb);
				check_conflict(f, oo, s, e, eb, FL_READ);
				check_conflict(f, oo, s, e, eb, FL_WRITE);
			}
		check_table();
		most = used() > most ? used() : most;
	}
	/* The walk exercised both paths it claims to. */
	assert_true(sets > 5000);
	assert_true(refused > 500);
	print_message("random model: %d sets, %d refused by conflict, <= %d ranges live\n", sets,
		      refused, most);
}

#define T(name) cmocka_unit_test_setup(name, setup)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read_read_shared), T(test_write_excludes),
		T(test_same_owner_never_conflicts), T(test_files_independent),
		T(test_eof_ranges), T(test_unlock_middle_splits),
		T(test_upgrade_downgrade), T(test_release),
		T(test_enolck), T(test_einval),
		T(test_random_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
