/*
 * The program to run, with its arguments, environment and working
 * directory, as one checked block (include/pier/run_args.h).
 */
#ifndef GUEST_PROGRAM_ARGS_H
#define GUEST_PROGRAM_ARGS_H

#include <pier/cmdline.h>
#include <pier/run_args.h>

/* Whether the command line names a program (pier's block, or "--"). */
int program_args_given(const struct cmdline *cl);

/*
 * Fills *out from pier's block (args=fw_cfg: the fw_cfg file
 * opt/pier/args) or, for a guest booted by hand, from the command line:
 * the words after "--", env= and cwd= options. 0, or -errno after saying
 * why on the console.
 */
int program_args_get(const struct cmdline *cl, struct run_args *out);

#endif
