/*
 * Kernel command line: "key=value key2 -- program arg1 arg2".
 * Words are separated by spaces; double quotes group a word with spaces in
 * it. Before "--" each word is an option (a bare word means "key=1"); after
 * it come the program and its arguments.
 */
#ifndef PIER_CMDLINE_H
#define PIER_CMDLINE_H

#define CMDLINE_MAX_OPTS 64
#define CMDLINE_MAX_ARGS 128
/* Words starting with this are options even after "--" (the VMM appends them). */
#define CMDLINE_VMM_APPENDED "virtio_mmio.device="

struct cmdline_opt {
	const char *key;
	const char *value; /* "1" for a bare word */
};

struct cmdline {
	struct cmdline_opt opts[CMDLINE_MAX_OPTS];
	int nopts;
	const char *argv[CMDLINE_MAX_ARGS + 1]; /* NULL-terminated */
	int argc;
};

/*
 * Splits buf in place (it must stay alive as long as out is used).
 * Returns 0, -E2BIG when there are too many words, or -EINVAL for an
 * unterminated quote.
 */
int cmdline_parse(char *buf, struct cmdline *out);

/* The value of the last option named key, or NULL. */
const char *cmdline_get(const struct cmdline *cl, const char *key);

/*
 * Parses an unsigned number with an optional 0x prefix and K/M/G suffix.
 * Returns 0 and stores it, or -EINVAL.
 */
int cmdline_parse_u64(const char *s, unsigned long long *out);

#endif
