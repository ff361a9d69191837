/*
 * "#!" scripts: the interpreter line, read as Linux's binfmt_script reads
 * it from the first SHEBANG_HEAD bytes of the file: after "#!" and any
 * spaces or tabs, the interpreter's path up to the next space, tab or end
 * of line; the rest of the line, without its leading and trailing spaces
 * and tabs, is one argument (or none when empty). Pure: the guest's exec.c
 * reads the bytes and builds the new arguments, unit tests check the rules.
 */
#ifndef PIER_SHEBANG_H
#define PIER_SHEBANG_H

#include <stddef.h>

#define SHEBANG_HEAD 256 /* bytes Linux looks at (BINPRM_BUF_SIZE) */

struct shebang {
	char interp[SHEBANG_HEAD];
	char arg[SHEBANG_HEAD];
	int has_arg;
};

/*
 * Parses the first n (at most SHEBANG_HEAD) bytes of a file. Returns 1 for
 * a script (out filled), 0 for a file that does not start with "#!", or
 * -ENOEXEC for a "#!" line with no interpreter or whose interpreter's
 * path does not end within the bytes Linux looks at.
 */
int shebang_parse(const char *head, size_t n, struct shebang *out);

#endif
