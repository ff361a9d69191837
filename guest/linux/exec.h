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

/* execve(2) of path (absolute, or relative to the working directory)
 * with the program's argv and envp arrays: 0 with the calling thread's
 * frame set to start the new program, or -errno with nothing changed. */
int64_t exec_syscall(const char *path, uint64_t uargv, uint64_t uenvp);

#endif
