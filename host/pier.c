/*
 * pier: the command-line front end.
 *
 *   pier run [--vmm pier|qemu] [--entry 64|pvh] [--machine microvm|q35] [--mem SIZE] [--cpus N]
 *            [--dax SIZE]
 *            [--seccomp on|off] [--timing] [--stats[=FILE]] [--cache never|auto|always]
 *            [--timeout SEC] [--kernel PATH] [--append WORDS] [--root DIR [--ro]]
 *            [--share TAG=DIR]...
 *            [--ro=TAG]... [--initrd FILE] [-o KEY=VALUE]... [--env NAME=VALUE]...
 *            [--tmpfs DIR]...
 *            [--env-clear] [-t|--tty] [--cwd DIR] -- PROGRAM ARGS...
 *
 * Exit status: the guest's own status, or PIER_EXIT_PANIC, PIER_EXIT_VMERROR,
 * PIER_EXIT_TIMEOUT (include/pier/ports.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pier/ports.h>
#include "oci/oci.h"
#include "run.h"
#include "run_signals.h"
#include "virtiofsd.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pier run [options] -- [PROGRAM ARGS...]\n"
		"  --vmm pier|qemu        virtual machine monitor: pier's own on /dev/kvm\n"
		"                         (the default), or QEMU with virtiofsd (the\n"
		"                         default when /dev/kvm is missing)\n"
		"  --entry 64|pvh         pier: enter the kernel in 64-bit mode (default)\n"
		"                         or through its 32-bit PVH entry\n"
		"  --machine microvm|q35  QEMU machine type (default microvm)\n"
		"  --mem SIZE             guest RAM, e.g. 1G (default 512M; used as touched)\n"
		"  --cpus N               virtual CPUs (default 1, at most %d)\n"
		"  --dax SIZE             pier: virtio-fs DAX window per shared directory\n"
		"                         (default 1G; 0: none, reads use FUSE_READ)\n"
		"  --seccomp on|off       pier: once the guest runs, the VMM may make only\n"
		"                         the system calls it needs (default on)\n"
		"  --kernel PATH          guest kernel (default: kernel.elf beside pier);\n"
		"                         pier's VMM also boots Linux's vmlinux (PVH):\n"
		"                         see docs/linux-guest.md\n"
		"  --append WORDS         added to the kernel command line as given; for\n"
		"                         a kernel that is not Pier's, the whole line\n"
		"  --root DIR             boot from host directory DIR over virtio-fs\n"
		"                         (adds -o rootfs=virtiofs)\n"
		"  --share TAG=DIR        also share DIR as virtio-fs tag TAG (up to %d;\n"
		"                         mount it with -o mount=TAG:/path)\n"
		"  --ro                   the guest may not change the --root directory\n"
		"  --ro=TAG               the guest may not change the --share TAG\n"
		"                         (repeatable; --ro=root is --ro); without\n"
		"                         these, shared directories are writable\n"
		"  --initrd FILE          load FILE as the initrd (without --root, adds\n"
		"                         -o rootfs=ramfs)\n"
		"  -o, --opt KEY=VALUE    kernel option (verbose=1, exit=N, ...)\n"
		"  --env NAME=VALUE       set a variable in the program's environment\n"
		"                         (repeatable; a name given again keeps its first\n"
		"                         place and takes the last value)\n"
		"  --env-clear            start the environment empty (only the --env\n"
		"                         variables), not from the defaults: PATH,\n"
		"                         HOSTNAME=pier, HOME (root's, from the root's\n"
		"                         etc/passwd, else /) and TERM (with a terminal)\n"
		"  -t, --tty              the program's standard streams are terminals\n"
		"                         even when pier's are not (and TERM is set)\n"
		"  --cwd DIR              the program's working directory (default /)\n"
		"  --tmpfs DIR            an empty writable in-memory file system over DIR\n"
		"                         (a directory of the root: /tmp with --ro, say;\n"
		"                         repeatable; /dev/shm always has one)\n"
		"  --net host|loopback|none  what the program's sockets reach: the host's\n"
		"                         network (default), only the VM's own listeners,\n"
		"                         or nothing (Unix sockets only)\n"
		"  --publish [ADDR:]HOSTPORT:GUESTPORT[/udp]  a listener on GUESTPORT is\n"
		"                         reached on the host's ADDR:HOSTPORT (repeatable;\n"
		"                         unpublished ones only from inside the VM)\n"
		"  --strace               print every system call of the program (on stderr)\n"
		"  --log FILE             the kernel's log (as with -o verbose) into FILE\n"
		"  --timing               print boot milestones on stderr\n"
		"  --stats[=FILE]         count what the run cost at exit: requests by\n"
		"                         opcode, VM exits, DAX mappings, faults, caches\n"
		"                         (on stderr, or as JSON into FILE)\n"
		"  --cache never|auto|always  how long the guest keeps names and\n"
		"                         attributes: 0, 1 s (default) or a day; for\n"
		"                         files only the guest changes (virtiofsd's cache=)\n"
		"  --timeout SEC          kill the VM after SEC seconds (exit %d)\n"
		"  --virtiofsd PATH       virtiofsd binary (default: $PIER_VIRTIOFSD or\n"
		"                         %s)\n"
		"  --virtiofsd-log FILE   run virtiofsd with -d, its output to FILE\n"
		"                         (FILE.TAG for each --share)\n"
		"  pier --version\n"
		"  pier oci ...           the OCI runtime (also as pier-oci; pier oci --help)\n",
		RUN_MAX_CPUS, RUN_MAX_SHARES, PIER_EXIT_TIMEOUT, VIRTIOFSD_DEFAULT);
}

/*
 * --ro=TAG, given before or after --share TAG: applied once every option is
 * in. Returns 0, or 2 (usage) after a message.
 */
static int apply_ro(struct run_options *o, const char *const *tags, int ntags)
{
	for (int i = 0; i < ntags; i++) {
		int found = 0;
		if (strcmp(tags[i], "root") == 0)
			o->root_ro = found = 1;
		for (int k = 0; !found && k < o->nshares; k++)
			if (strcmp(o->shares[k].tag, tags[i]) == 0)
				o->shares[k].ro = found = 1;
		if (!found) {
			fprintf(stderr, "pier: --ro=%s: no --share with that tag\n", tags[i]);
			return 2;
		}
	}
	return 0;
}

/* --share TAG=DIR; returns 0, 2 (usage) or PIER_EXIT_VMERROR. */
static int add_share(struct run_options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || !eq[1]) {
		fprintf(stderr, "pier: --share %s: expected TAG=DIR\n", arg);
		return 2;
	}
	char *tag = strndup(arg, (size_t)(eq - arg));
	if (!tag) {
		perror("pier");
		return PIER_EXIT_VMERROR;
	}
	int rc = run_add_share(o, tag, eq + 1, 0, "--share", arg);
	if (rc)
		free(tag);
	return rc;
}

/* Parses `pier run` options into o; returns -1 to go on, else pier's status. */
static int parse_run(int argc, char **argv, struct run_options *o)
{
	enum { OPT_VMM = 256, OPT_ENTRY, OPT_CPUS, OPT_MACHINE, OPT_MEM, OPT_KERNEL, OPT_TIMING, OPT_TIMEOUT,
	       OPT_ROOT, OPT_RO, OPT_SHARE, OPT_INITRD, OPT_VIRTIOFSD, OPT_VIRTIOFSD_LOG,
	       OPT_ENV, OPT_ENV_CLEAR, OPT_CWD, OPT_STRACE, OPT_DAX, OPT_SECCOMP, OPT_LOG,
	       OPT_TMPFS, OPT_NET, OPT_PUBLISH, OPT_STATS, OPT_CACHE, OPT_APPEND };
	static const struct option longopts[] = {
		{ "vmm", required_argument, 0, OPT_VMM },
		{ "entry", required_argument, 0, OPT_ENTRY },
		{ "machine", required_argument, 0, OPT_MACHINE },
		{ "mem", required_argument, 0, OPT_MEM },
		{ "cpus", required_argument, 0, OPT_CPUS },
		{ "dax", required_argument, 0, OPT_DAX },
		{ "seccomp", required_argument, 0, OPT_SECCOMP },
		{ "kernel", required_argument, 0, OPT_KERNEL },
		{ "append", required_argument, 0, OPT_APPEND },
		{ "opt", required_argument, 0, 'o' },
		{ "timing", no_argument, 0, OPT_TIMING },
		{ "timeout", required_argument, 0, OPT_TIMEOUT },
		{ "root", required_argument, 0, OPT_ROOT },
		{ "ro", optional_argument, 0, OPT_RO }, /* --ro, or --ro=TAG */
		{ "share", required_argument, 0, OPT_SHARE },
		{ "initrd", required_argument, 0, OPT_INITRD },
		{ "virtiofsd", required_argument, 0, OPT_VIRTIOFSD },
		{ "virtiofsd-log", required_argument, 0, OPT_VIRTIOFSD_LOG },
		{ "env", required_argument, 0, OPT_ENV },
		{ "env-clear", no_argument, 0, OPT_ENV_CLEAR },
		{ "tty", no_argument, 0, 't' },
		{ "cwd", required_argument, 0, OPT_CWD },
		{ "strace", no_argument, 0, OPT_STRACE },
		{ "log", required_argument, 0, OPT_LOG },
		{ "tmpfs", required_argument, 0, OPT_TMPFS },
		{ "net", required_argument, 0, OPT_NET },
		{ "publish", required_argument, 0, OPT_PUBLISH },
		{ "stats", optional_argument, 0, OPT_STATS },
		{ "cache", required_argument, 0, OPT_CACHE },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, rc;
	/* --ro=TAG values, applied once the --share options are all in
	 * (room for each tag and the root twice over: repeats are harmless). */
	const char *ro_tags[2 * (RUN_MAX_SHARES + 1)];
	int nro = 0;
	optind = 1;
	/* "+": stop at the first non-option, so the program's own flags pass through. */
	while ((c = getopt_long(argc, argv, "+o:ht", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_VMM:
			o->vmm = optarg;
			break;
		case OPT_ENTRY:
			if (strcmp(optarg, "64") && strcmp(optarg, "pvh")) {
				fprintf(stderr, "pier: --entry %s: expected 64 or pvh\n", optarg);
				return 2;
			}
			o->entry_pvh = strcmp(optarg, "pvh") == 0;
			break;
		case OPT_MACHINE:
			o->machine = optarg;
			break;
		case OPT_MEM:
			if (run_parse_size(optarg, &o->mem_bytes) || o->mem_bytes < (16ULL << 20)) {
				fprintf(stderr, "pier: --mem %s: expected a size of at least 16M\n", optarg);
				return 2;
			}
			break;
		case OPT_CPUS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (end == optarg || *end || n < 1 || n > RUN_MAX_CPUS) {
				fprintf(stderr, "pier: --cpus %s: expected a number from 1 to %d\n",
					optarg, RUN_MAX_CPUS);
				return 2;
			}
			o->cpus = (int)n;
			break;
		}
		case OPT_DAX:
			/* Page multiple; at most 64 GiB per window (guest-physical space). */
			if (run_parse_size(optarg, &o->dax_bytes) || (o->dax_bytes & 4095) ||
			    o->dax_bytes > (64ULL << 30)) {
				fprintf(stderr, "pier: --dax %s: expected 0 or a multiple of 4K up "
						"to 64G\n", optarg);
				return 2;
			}
			o->dax_set = 1;
			break;
		case OPT_SECCOMP:
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr, "pier: --seccomp %s: expected on or off\n", optarg);
				return 2;
			}
			o->seccomp = strcmp(optarg, "on") == 0;
			break;
		case OPT_KERNEL:
			o->kernel = optarg;
			break;
		case 'o':
			if (o->nkopts == RUN_MAX_KOPTS) {
				fprintf(stderr, "pier: too many -o options\n");
				return 2;
			}
			o->kopts[o->nkopts++] = optarg;
			break;
		case OPT_TIMING:
			o->timing = 1;
			break;
		case OPT_STATS:
			o->stats = 1;
			o->stats_path = optarg && *optarg ? optarg : NULL;
			break;
		case OPT_CACHE:
			if (run_set_cache(o, optarg)) {
				fprintf(stderr, "pier: --cache %s: expected never, auto or always\n",
					optarg);
				return 2;
			}
			break;
		case OPT_ENV: {
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				fprintf(stderr, "pier: --env %s: expected NAME=VALUE\n", optarg);
				return 2;
			}
			char **env = realloc(o->env, ((size_t)o->envc + 1) * sizeof(*env));
			if (!env) {
				perror("pier");
				return PIER_EXIT_VMERROR;
			}
			o->env = env;
			o->env[o->envc++] = optarg;
			break;
		}
		case OPT_ENV_CLEAR:
			o->env_clear = 1;
			break;
		case 't':
			o->tty = 1;
			break;
		case OPT_CWD:
			if (optarg[0] != '/') {
				fprintf(stderr, "pier: --cwd %s: expected an absolute path\n", optarg);
				return 2;
			}
			o->cwd = optarg;
			break;
		case OPT_STRACE:
		case OPT_LOG:
			if (o->nkopts == RUN_MAX_KOPTS) {
				fprintf(stderr, "pier: too many options\n");
				return 2;
			}
			/* --log: the whole kernel log, timestamped, into the file. */
			o->kopts[o->nkopts++] = c == OPT_STRACE ? "strace=1" : "verbose=1";
			if (c == OPT_LOG)
				o->log = optarg;
			break;
		case OPT_TMPFS: {
			/* A kernel option: one word, so no blanks in the path. */
			if (optarg[0] != '/' || strpbrk(optarg, " \t\n\"'\\")) {
				fprintf(stderr, "pier: --tmpfs %s: expected an absolute path "
						"without blanks or quotes\n", optarg);
				return 2;
			}
			char *kopt = malloc(strlen(optarg) + 7);
			if (!kopt || o->nkopts == RUN_MAX_KOPTS) {
				fprintf(stderr, "pier: too many options\n");
				return 2;
			}
			sprintf(kopt, "tmpfs=%s", optarg);
			o->kopts[o->nkopts++] = kopt; /* lives as long as pier */
			break;
		}
		case OPT_NET:
			if (net_mode_parse(optarg, &o->net.mode)) {
				fprintf(stderr, "pier: --net %s: expected host, loopback or none\n", optarg);
				return 2;
			}
			break;
		case OPT_PUBLISH: {
			char why[160];
			if (net_policy_publish(&o->net, optarg, why, sizeof(why))) {
				fprintf(stderr, "pier: --publish %s: %s\n", optarg, why);
				return 2;
			}
			break;
		}
		case OPT_TIMEOUT:
			o->timeout_s = atoi(optarg);
			if (o->timeout_s <= 0) {
				fprintf(stderr, "pier: --timeout %s: expected seconds > 0\n", optarg);
				return 2;
			}
			break;
		case OPT_ROOT:
			if (!(o->root = run_check_dir("--root", optarg, optarg)))
				return PIER_EXIT_VMERROR;
			break;
		case OPT_RO:
			if (!optarg) {
				o->root_ro = 1;
			} else if (nro == (int)(sizeof(ro_tags) / sizeof(ro_tags[0]))) {
				fprintf(stderr, "pier: too many --ro options\n");
				return 2;
			} else {
				ro_tags[nro++] = optarg;
			}
			break;
		case OPT_SHARE:
			if ((rc = add_share(o, optarg)))
				return rc;
			break;
		case OPT_INITRD:
			o->initrd = optarg;
			break;
		case OPT_APPEND:
			o->append = optarg;
			break;
		case OPT_VIRTIOFSD:
			o->virtiofsd = optarg;
			break;
		case OPT_VIRTIOFSD_LOG:
			o->virtiofsd_log = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	o->argv = argv + optind;
	o->argc = argc - optind;
	if ((rc = apply_ro(o, ro_tags, nro)))
		return rc;
	if (o->root_ro && !o->root) {
		fprintf(stderr, "pier: --ro needs --root\n");
		return 2;
	}
	return (rc = run_finish(o)) ? rc : -1;
}

static int cmd_run(int argc, char **argv, uint64_t start_ns)
{
	struct run_options o;
	run_options_init(&o, start_ns);
	int rc = parse_run(argc, argv, &o);
	return rc >= 0 ? rc : run_execute(&o);
}

int main(int argc, char **argv)
{
	uint64_t start_ns = run_now_ns();
	/* A closed standard stream would be taken by the first file pier
	 * opens (and a program's output land in it): /dev/null instead. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			return PIER_EXIT_VMERROR;
	/* Called as pier-oci (a link to pier), or `pier oci`: the OCI runtime. */
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(self, "pier-oci") == 0)
		return oci_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "oci") == 0)
		return oci_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "run") == 0) {
		int rc = cmd_run(argc - 1, argv + 1, start_ns);
		if (run_killed_by) {
			fflush(stdout);
			run_die_of(run_killed_by); /* as the program did */
		}
		return rc;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("pier %s\n", PIER_VERSION);
		return 0;
	}
	usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
	return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
