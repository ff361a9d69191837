/*
 * Starting the program: load its ELF image from the root file system,
 * build the initial stack Linux builds (argc, argv, envp, auxv) and drop
 * to ring 3 at its entry point.
 */
#ifndef GUEST_EXEC_H
#define GUEST_EXEC_H

#include <pier/cmdline.h>

/*
 * Runs cl->argv[0] with cl->argv, env= options as its environment and
 * cwd= as its working directory. Only returns on failure, with the status
 * a shell would give (127: not found, 126: cannot execute) after printing
 * why.
 */
int exec_program(const struct cmdline *cl, int verbose, int strace);

#endif
