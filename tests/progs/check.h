/* Assertions for the guest test programs. Each program prints "ok NAME" on
 * stdout after each group of checks passes; the first failed check prints
 * "FAIL file:line: what (details)" on stderr and exits with status 1.
 *
 * Every OK("name") in a program must run exactly once in a passing run: the
 * test harness (tests/progs/progspec.py) reads the expected names from the
 * source and compares them with what the program printed. */
#ifndef PIER_PROGS_CHECK_H
#define PIER_PROGS_CHECK_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn, format(printf, 3, 4)))
static void check_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	exit(1);
}

#define FAIL(...) check_fail(__FILE__, __LINE__, __VA_ARGS__)

/* CHECK(cond): cond must hold; errno is shown as a hint. */
#define CHECK(cond)                                                              \
	do {                                                                     \
		int check_errno_ = errno;                                        \
		if (!(cond))                                                     \
			FAIL("%s (errno %d %s)", #cond, check_errno_,            \
			     strerror(check_errno_));                            \
	} while (0)

/* CHECK_SYS(expr): a call that must succeed (result >= 0); yields it. */
#define CHECK_SYS(expr)                                                          \
	({                                                                       \
		errno = 0;                                                       \
		long check_r_ = (long)(expr);                                    \
		if (check_r_ < 0)                                                \
			FAIL("%s = %ld (errno %d %s)", #expr, check_r_, errno,   \
			     strerror(errno));                                   \
		check_r_;                                                        \
	})

/* CHECK_ERR(expr, E): a call that must fail with -1 and errno E. */
#define CHECK_ERR(expr, err)                                                     \
	do {                                                                     \
		errno = 0;                                                       \
		long check_r_ = (long)(expr);                                    \
		int check_e_ = errno;                                            \
		if (check_r_ != -1 || check_e_ != (err))                         \
			FAIL("%s = %ld errno %d (%s), expected -1 errno %d (%s)",  \
			     #expr, check_r_, check_e_, strerror(check_e_),      \
			     (err), #err);                                       \
	} while (0)

#define CHECK_EQ(a, b)                                                           \
	do {                                                                     \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);  \
		if (check_a_ != check_b_)                                        \
			FAIL("%s == %s: %lld != %lld (0x%llx != 0x%llx)", #a, #b, \
			     check_a_, check_b_, (unsigned long long)check_a_,   \
			     (unsigned long long)check_b_);                      \
	} while (0)

#define CHECK_STR(a, b)                                                          \
	do {                                                                     \
		const char *check_a_ = (a), *check_b_ = (b);                     \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0)   \
			FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,               \
			     check_a_ ? check_a_ : "(null)",                     \
			     check_b_ ? check_b_ : "(null)");                    \
	} while (0)

/* CHECK_MEM(p, q, n): n bytes equal; reports the first difference. */
#define CHECK_MEM(p, q, n)                                                       \
	do {                                                                     \
		const unsigned char *check_p_ = (const void *)(p);               \
		const unsigned char *check_q_ = (const void *)(q);               \
		size_t check_n_ = (n);                                           \
		for (size_t check_i_ = 0; check_i_ < check_n_; check_i_++)       \
			if (check_p_[check_i_] != check_q_[check_i_])            \
				FAIL("%s == %s over %zu bytes: byte %zu is "     \
				     "0x%02x, expected 0x%02x", #p, #q, check_n_, \
				     check_i_, check_p_[check_i_],               \
				     check_q_[check_i_]);                        \
	} while (0)

#define OK(name)                                                                 \
	do {                                                                     \
		printf("ok %s\n", name);                                         \
		fflush(stdout);                                                  \
	} while (0)

/* The fixture the harness builds (tests/progs/progspec.py, make_fixture):
 *   hello.txt   "hello, pier\n"
 *   pages.bin   PAGES_SIZE bytes, byte i == pages_byte(i)
 *   empty       0 bytes
 *   sub/a sub/b sub/c   "A", "BB", "CCC"
 *   many/f000 .. many/f199   empty files (MANY_COUNT)
 *   link -> hello.txt
 *   dangling -> nowhere
 */
#define HELLO "hello, pier\n"
#define PAGES_SIZE (3 * 4096 + 100)
#define MANY_COUNT 200

static inline unsigned char pages_byte(size_t i)
{
	return (unsigned char)((i * 7 + i / 4096 + 3) & 0xff);
}

#endif
