/*
 * `pier run`: the options every VMM back end takes, and the back ends.
 */
#ifndef HOST_RUN_H
#define HOST_RUN_H

#include <stdint.h>

#define RUN_MAX_KOPTS 64

struct run_options {
	const char *vmm;       /* "qemu" (this issue); "pier" later */
	const char *machine;   /* qemu: "microvm" or "q35" */
	const char *kernel;    /* path to kernel.elf */
	uint64_t mem_bytes;
	int timing;            /* print boot milestones on stderr */
	int timeout_s;         /* 0: none */
	const char *kopts[RUN_MAX_KOPTS]; /* kernel key=value options */
	int nkopts;
	char **argv;           /* program and arguments (after --) */
	int argc;
	uint64_t start_ns;     /* when pier started, CLOCK_MONOTONIC */
};

/*
 * Builds the guest kernel command line from the options and arguments.
 * Returns a malloc'd string, or NULL (with a message) when an argument
 * cannot be represented (it contains a double quote).
 */
char *run_build_cmdline(const struct run_options *o);

/* Boots the guest under QEMU; returns pier's exit status. */
int qemu_run(const struct run_options *o);

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t run_now_ns(void);

#endif
