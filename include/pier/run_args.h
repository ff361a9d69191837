/*
 * A program's working directory, arguments and environment as pier hands
 * them to the guest: one block of bytes, outside the kernel command line,
 * so any byte but NUL can be in a string. Under QEMU it is the fw_cfg file
 * "opt/pier/args"; pier's VMM serves the same file from its own fw_cfg
 * device (host/vmm/fw_cfg.c). The guest reads it when its command line has
 * args=fw_cfg.
 *
 * Layout: the header, then argc + envc + 1 NUL-terminated strings (the
 * working directory first, then argv, then envp), packed, and nothing after
 * the last NUL. Integers little-endian (both sides are x86_64).
 *
 * Limits are Linux's for execve with an 8 MiB stack: a string of at most
 * 131,072 bytes with its NUL (MAX_ARG_STRLEN), and the argument and
 * environment strings plus one 8-byte pointer each at most 2 MiB
 * (a quarter of the stack). Beyond either: E2BIG.
 */
#ifndef PIER_RUN_ARGS_H
#define PIER_RUN_ARGS_H

#include <stddef.h>
#include <stdint.h>

#define RUN_ARGS_MAGIC "PIERARG1"
#define RUN_ARGS_FW_CFG_NAME "opt/pier/args"
#define RUN_ARGS_STRLEN_MAX (128u * 1024)   /* with the NUL, per string */
#define RUN_ARGS_TOTAL_MAX (2u << 20)       /* strings + 8 bytes a string */
#define RUN_ARGS_CWD_MAX 4096               /* PATH_MAX */

struct run_args_header {
	char magic[8];     /* RUN_ARGS_MAGIC, no NUL */
	uint32_t argc;     /* at least 1: argv[0] names the program */
	uint32_t envc;
	uint32_t len;      /* bytes of strings after the header */
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct run_args_header) == 24, "run_args header layout");

/* The largest block run_args_check accepts. */
#define RUN_ARGS_BLOCK_MAX \
	(sizeof(struct run_args_header) + RUN_ARGS_CWD_MAX + RUN_ARGS_TOTAL_MAX)

/* A checked block: pointers into it. Walk the strings with run_args_next. */
struct run_args {
	const char *cwd;
	const char *argv0; /* the first of argc strings */
	const char *env0;  /* the first of envc strings (any pointer when envc is 0) */
	uint32_t argc, envc;
};

/*
 * How many bytes the block for these strings takes, or 0 when it cannot be
 * made: *e2big is then 1 when the arguments or environment break a limit,
 * 0 when the working directory is too long.
 */
size_t run_args_size(const char *cwd, int argc, char *const *argv, int envc,
		     char *const *envp, int *e2big);

/* Writes the block into buf (run_args_size bytes). */
void run_args_write(void *buf, const char *cwd, int argc, char *const *argv, int envc,
		    char *const *envp);

/*
 * Checks a block of len bytes from the other side: header, counts, every
 * string terminated inside it, the limits, nothing left over. 0 and *out
 * filled, or -EINVAL (malformed) or -E2BIG (over a limit), with *why
 * saying what.
 */
int run_args_check(const void *buf, size_t len, struct run_args *out, const char **why);

/* The string after s (within a checked block). */
static inline const char *run_args_next(const char *s)
{
	while (*s)
		s++;
	return s + 1;
}

#endif
