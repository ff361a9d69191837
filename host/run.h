/*
 * A run: the options both front ends (`pier run`, pier-oci) fill and both
 * VMM back ends consume (run.c), its report (run_report.c) and its
 * signals (run_signals.h). No back end includes a front end.
 */
#ifndef HOST_RUN_H
#define HOST_RUN_H

#include <stdint.h>
#include <stdio.h>
#include "control.h"
#include "net/policy.h"

struct stats_table;

#define RUN_MAX_KOPTS 64
#define RUN_MAX_SHARES 8
#define RUN_MAX_CPUS 64 /* --cpus: what the ACPI tables and the guest hold */

/* A host directory the guest sees as a virtio-fs device with this tag. */
struct run_share {
	const char *tag;
	const char *dir;       /* absolute, checked to be a directory */
	int ro;                /* --ro=TAG: the guest may not change it */
};

struct run_options {
	const char *vmm;       /* "pier" or "qemu"; NULL: pier if /dev/kvm works, else qemu */
	int entry_pvh;         /* pier: use the PVH entry instead of the 64-bit one */
	int seccomp;           /* pier: the VMM's system-call filter (--seccomp, default on) */
	const char *machine;   /* qemu: "microvm" or "q35" */
	const char *kernel;    /* path to kernel.elf */
	uint64_t mem_bytes;
	int cpus;              /* --cpus: vCPUs (QEMU's -smp; pier's VMM: one thread each) */
	uint64_t dax_bytes;    /* pier: DAX window per virtio-fs device; 0: none */
	int dax_set;           /* --dax given (QEMU has no window: say so) */
	int timing;            /* print boot milestones on stderr */
	int timeout_s;         /* 0: none */
	const char *root;      /* --root: directory served as tag "root"; NULL: none */
	int root_ro;           /* --ro or --ro=root: the guest may not change the root */
	struct run_share shares[RUN_MAX_SHARES]; /* --share TAG=DIR */
	int nshares;
	const char *initrd;    /* --initrd FILE; NULL: none */
	const char *append;    /* --append WORDS for the kernel command line, or NULL */
	const char *virtiofsd; /* qemu: the virtiofsd binary */
	const char *virtiofsd_log; /* qemu: run virtiofsd with -d, its stderr here */
	const char *kopts[RUN_MAX_KOPTS]; /* kernel key=value options */
	int nkopts;
	char **argv;           /* program and arguments (after --) */
	int argc;
	char **env;            /* --env NAME=VALUE, in order (over the defaults) */
	int envc;
	int env_clear;         /* --env-clear: no default environment, only --env */
	int tty;               /* -t/--tty: the program's standard streams are terminals
	                        * even when pier's are not */
	const char *cwd;       /* --cwd DIR; NULL: / */
	const char *log;       /* --log FILE; NULL: none */
	int log_fd;            /* where the kernel's log goes: FILE, else stderr */
	void *args;            /* the block the guest reads them from (run_args.h) */
	size_t args_len;       /* 0: no program */
	uint64_t start_ns;     /* when pier started, CLOCK_MONOTONIC */
	const char *exec_socket; /* where pier-oci exec's clients connect; NULL: no exec */
	int exec_listen_fd;      /* that socket, listening already (pier-oci); -1: made here */
	struct net_policy net;   /* --net, --publish: what the guest's sockets may reach */
	const char *cache;       /* --cache never|auto|always: names' and attributes' cache time */
	uint64_t cache_timeout_s; /* ... in seconds (pier's FUSE server) */
	int stats;               /* --stats[=FILE]: counters at exit */
	const char *stats_path;  /* FILE: JSON there; NULL: the text on stderr */
	struct stats_table *stats_table; /* filled during the run (run_execute allocates) */
	FILE *stats_file;        /* stats_path, opened before the VM starts (Landlock, seccomp) */
};

/*
 * Builds the guest kernel command line from the kernel options, then
 * --append's words (the program's arguments travel in o->args). Returns a malloc'd string, or
 * NULL (with a message) when an option cannot be represented (it contains
 * a double quote).
 */
char *run_build_cmdline(const struct run_options *o);

/* Defaults: microvm, 512M, a 1G DAX window, seccomp on, log on stderr. */
void run_options_init(struct run_options *o, uint64_t start_ns);
/* Adds a kernel option (kept as given, not copied); -1 after a message when full. */
int run_add_kopt(struct run_options *o, const char *kopt);
/* --cache never|auto|always; -1 for anything else. */
int run_set_cache(struct run_options *o, const char *mode);
/* Whether a kernel option sets key (as "key" or "key=..."). */
int run_has_kopt(const struct run_options *o, const char *key);
/* Shares host directory dir (checked, made absolute) as virtio-fs tag
 * tag (kept as given); 0, or 2 (usage) / PIER_EXIT_VMERROR after a message
 * naming "opt arg" (the user's words: "--share data=/x"). */
int run_add_share(struct run_options *o, const char *tag, const char *dir, int ro,
		  const char *opt, const char *arg);
/* Whether tag can name a share (the characters every channel can carry). */
int run_valid_tag(const char *tag);
/* An existing directory, made absolute (malloc'd); NULL after a message
 * naming opt and arg. */
const char *run_check_dir(const char *opt, const char *arg, const char *dir);
/* "512M"-style sizes (K, M, G suffixes); 0, or -1 when malformed. */
int run_parse_size(const char *s, uint64_t *out);
/* Once every option is in: the root and read-only kernel options and the
 * program's argument block (cwd, argv, environment). 0, or pier's status. */
int run_finish(struct run_options *o);
/* Boots the guest on the chosen back end (pier's VMM when /dev/kvm works,
 * else QEMU) and returns pier's exit status: the program's, or one of
 * PIER_EXIT_*. */
int run_execute(struct run_options *o);

/* A host-side timing milestone (ns since pier started). */
struct run_milestone {
	const char *name;
	uint64_t ns;
};

/* A guest "log" control line, printed on stderr (run_report.c). */
void run_print_guest_log(const char *text);
/* A guest "warn" line (a kernel warning while the program ran, e.g. a
 * system call it lacks): counted, not shown; the kernel log (-o verbose,
 * --log) has them. */
void run_count_guest_warning(const char *text);
/* Where guest warnings go instead, when set (pier-oci: the runtime's log,
 * as the container's stderr is the program's alone). */
extern void (*run_warning_sink)(const char *text);
/* At the end of a run: how many there were, if any, and where to look. */
void run_report_guest_warnings(void);
/* --stats at exit: the host's rows already in o->stats_table, the guest's
 * from its control lines; printed on stderr or written as JSON. */
void run_report_stats(const struct run_options *o);

/* The --timing table: host and guest milestones in time order. */
void run_print_timing(const struct control *ctl, const struct run_milestone *host, int nhost,
		      uint64_t end_ns);

/* The signal the program died of (0: it exited), set by the VMM run;
 * pier then dies of it too, after cleaning up (run_signals.h). */
extern int run_killed_by;

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t run_now_ns(void);

#endif
