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

/*
 * Loads a->argv0 (a bare name looked up in a's PATH) for current's process,
 * which has no image yet, in a->cwd (its working directory from now on):
 * 0 with the entry point and stack pointer to start it at, or the status a
 * shell gives (127: not found, 126: cannot execute) with the reason in msg.
 */
#include <stddef.h>
#include <stdint.h>
int exec_load_new(const struct run_args *a, uint64_t *entry, uint64_t *rsp, char *msg,
		  size_t msg_len);

/* execve(2) of path (absolute, or relative to the working directory)
 * with the program's argv and envp arrays: 0 with the calling thread's
 * frame set to start the new program, or -errno with nothing changed. */
int64_t exec_syscall(const char *path, uint64_t uargv, uint64_t uenvp);

#endif
