/*
 * Where the program's arguments come from (see program_args.h). pier puts
 * them in a block outside the command line, so they may hold any byte but
 * NUL and reach Linux's sizes; the command line stays for a guest started
 * by hand. Either way the result is one block, checked as the other
 * side's input, which the kernel keeps while the program runs.
 */
#include <pier/errno.h>
#include <pier/string.h>
#include "../drivers/fw_cfg.h"
#include "../mm/mm.h"
#include "console.h"
#include "control.h"
#include "program_args.h"

int program_args_given(const struct cmdline *cl)
{
	return cl->argc > 0 || cmdline_get(cl, "args") != NULL;
}

/* A block made from the command line's words and options. */
static int from_cmdline(const struct cmdline *cl, void **buf, size_t *len)
{
	int envc = 0, e2big;
	for (int i = 0; i < cl->nopts; i++)
		envc += strcmp(cl->opts[i].key, "env") == 0;
	char **envp = kmalloc(((size_t)envc + 1) * sizeof(char *));
	if (!envp)
		return -ENOMEM;
	envc = 0;
	for (int i = 0; i < cl->nopts; i++)
		if (strcmp(cl->opts[i].key, "env") == 0)
			envp[envc++] = (char *)cl->opts[i].value;
	const char *cwd = cmdline_get(cl, "cwd");
	char *const *argv = (char *const *)cl->argv;
	*len = run_args_size(cwd ? cwd : "/", cl->argc, argv, envc, envp, &e2big);
	*buf = *len ? kmalloc(*len) : NULL;
	if (*buf)
		run_args_write(*buf, cwd ? cwd : "/", cl->argc, argv, envc, envp);
	kfree(envp);
	return *buf ? 0 : !*len ? (e2big ? -E2BIG : -ENAMETOOLONG) : -ENOMEM;
}

int program_args_get(const struct cmdline *cl, struct run_args *out)
{
	const char *how = cmdline_get(cl, "args");
	void *buf;
	size_t len;
	int err;
	if (!how) {
		err = from_cmdline(cl, &buf, &len);
	} else if (strcmp(how, "fw_cfg") == 0) {
		err = fw_cfg_read_file(RUN_ARGS_FW_CFG_NAME, RUN_ARGS_BLOCK_MAX, &buf, &len);
	} else {
		kwarn("args=%s: the arguments come from fw_cfg or the command line\n", how);
		return -EINVAL;
	}
	if (err) {
		kwarn("cannot get the program's arguments (%s, error %d)\n",
		      how ? "fw_cfg" : "command line", err);
		return err;
	}
	const char *why;
	err = run_args_check(buf, len, out, &why);
	if (err) {
		kwarn("the program's arguments: %s\n", why);
		kfree(buf);
		return err;
	}
	const char *s = out->argv0;
	for (uint32_t i = 0; i < out->argc; i++, s = run_args_next(s))
		kprintf("  argv[%u]=%s\n", i, s);
	return 0;
}
