/*
 * The kernel's command-line options: which exist, what they mean, and the
 * report of unknown ones.
 */
#ifndef GUEST_OPTIONS_H
#define GUEST_OPTIONS_H

#include <pier/cmdline.h>

struct kernel_options {
	int verbose;          /* verbose=1: timestamps on console lines */
	int exit_status;      /* exit=N: status when there is no program */
	int cpus;             /* cpus=N: processors the VMM gave (pier's --cpus) */
	const char *crash;    /* crash=KIND: test-only, trigger a fault */
	int virtio_poll;      /* virtio_poll=0|1: complete requests by polling; -1: by platform */
	int virtio_timeout;   /* virtio_timeout=S: a device silent this long is given up */
	int virtio_test_latency_us; /* test-only: answers looked at this much later */
	int uid, gid;         /* uid=, gid=: identity for permission checks */
	int dcache_max;       /* dcache_max=N: names the VFS keeps cached */
	int strace;           /* strace=1: print every system call of the program */
};

/* Fills opts from cl; reports unknown options and bad values on the console. */
void options_apply(const struct cmdline *cl, struct kernel_options *opts);

/* Triggers the fault named by crash= (ud, pf, gp, div, double-free, triple,
 * spin (ring-0 loop), hang (halted), virtio (register garbage), other). */
__attribute__((noreturn)) void options_crash(const char *kind);

#endif
