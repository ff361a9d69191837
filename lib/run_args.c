/*
 * The block that carries a program's cwd, arguments and environment (see
 * include/pier/run_args.h). Lengths are compared before anything is added
 * to them, so a hostile header cannot make a sum wrap.
 */
#include <pier/errno.h>
#include <pier/run_args.h>
#include <pier/string.h>

size_t run_args_size(const char *cwd, int argc, char *const *argv, int envc,
		     char *const *envp, int *e2big)
{
	*e2big = 0;
	size_t cwd_len = strnlen(cwd, RUN_ARGS_CWD_MAX) + 1;
	if (cwd_len > RUN_ARGS_CWD_MAX)
		return 0;
	*e2big = 1;
	if (argc < 1 || envc < 0)
		return 0;
	uint64_t total = 0;
	for (int i = 0; i < argc + envc; i++) {
		const char *s = i < argc ? argv[i] : envp[i - argc];
		size_t n = strnlen(s, RUN_ARGS_STRLEN_MAX) + 1;
		if (n > RUN_ARGS_STRLEN_MAX)
			return 0;
		total += n + 8;
		if (total > RUN_ARGS_TOTAL_MAX)
			return 0;
	}
	*e2big = 0;
	return sizeof(struct run_args_header) + cwd_len + (size_t)total -
	       8 * ((size_t)argc + (size_t)envc);
}

void run_args_write(void *buf, const char *cwd, int argc, char *const *argv, int envc,
		    char *const *envp)
{
	struct run_args_header h = { .argc = (uint32_t)argc, .envc = (uint32_t)envc };
	memcpy(h.magic, RUN_ARGS_MAGIC, sizeof(h.magic));
	char *p = (char *)buf + sizeof(h);
	for (int i = -1; i < argc + envc; i++) {
		const char *s = i < 0 ? cwd : i < argc ? argv[i] : envp[i - argc];
		size_t n = strlen(s) + 1;
		memcpy(p, s, n);
		p += n;
	}
	h.len = (uint32_t)(p - (char *)buf - sizeof(h));
	memcpy(buf, &h, sizeof(h));
}

static int bad(const char **why, const char *what, int err)
{
	*why = what;
	return err;
}

int run_args_check(const void *buf, size_t len, struct run_args *out, const char **why)
{
	struct run_args_header h;
	if (len < sizeof(h))
		return bad(why, "shorter than its header", -EINVAL);
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, RUN_ARGS_MAGIC, sizeof(h.magic)) != 0 || h.reserved)
		return bad(why, "not an argument block", -EINVAL);
	if (h.len != len - sizeof(h))
		return bad(why, "its length is not the block's", -EINVAL);
	if (h.argc < 1)
		return bad(why, "no program named", -EINVAL);
	/* Each string takes at least its NUL: more strings than bytes cannot be. */
	if (h.argc > h.len || h.envc > h.len - h.argc)
		return bad(why, "more strings than bytes", -EINVAL);
	const char *s = (const char *)buf + sizeof(h), *end = s + h.len;
	uint64_t total = 0;
	for (uint64_t i = 0; i <= (uint64_t)h.argc + h.envc; i++) {
		size_t room = (size_t)(end - s);
		size_t max = i ? RUN_ARGS_STRLEN_MAX : RUN_ARGS_CWD_MAX;
		size_t n = strnlen(s, room < max ? room : max);
		if (n == room)
			return bad(why, "a string runs past the block", -EINVAL);
		if (n == max)
			return bad(why, i ? "a string longer than 131072 bytes" : "cwd too long",
				   i ? -E2BIG : -EINVAL);
		if (i == 0) {
			out->cwd = s;
		} else {
			if (i == 1)
				out->argv0 = s;
			if (i == (uint64_t)h.argc + 1)
				out->env0 = s;
			total += n + 1 + 8;
			if (total > RUN_ARGS_TOTAL_MAX)
				return bad(why, "arguments and environment over 2 MiB", -E2BIG);
		}
		s += n + 1;
	}
	if (s != end)
		return bad(why, "bytes after the last string", -EINVAL);
	if (out->cwd[0] != '/')
		return bad(why, "cwd not absolute", -EINVAL);
	if (!h.envc)
		out->env0 = end;
	out->argc = h.argc;
	out->envc = h.envc;
	*why = NULL;
	return 0;
}
