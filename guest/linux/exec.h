/*
 * Starting the program: load its ELF image from the root file system,
 * build the initial stack Linux builds (argc, argv, envp, auxv) and drop
 * to ring 3 at its entry point.
 */
#ifndef GUEST_EXEC_H
#define GUEST_EXEC_H

#include <pier/run_args.h>

/*
 * Runs a->argv0 with a's arguments and environment, in a->cwd (a checked
 * block, kernel/program_args.c). Only returns on failure, with the status
 * a shell would give (127: not found, 126: cannot execute) after printing
 * why.
 */
int exec_program(const struct run_args *a, int verbose, int strace);

#endif
