/*
 * pier: the command-line front end.
 *
 *   pier run [--vmm pier|qemu] [--entry 64|pvh] [--machine microvm|q35] [--mem SIZE] [--dax SIZE]
 *            [--seccomp on|off] [--timing]
 *            [--timeout SEC] [--kernel PATH] [--root DIR [--ro]] [--share TAG=DIR]...
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
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <pier/ports.h>
#include <pier/run_args.h>
#include "run.h"
#include "run_signals.h"
#include "virtiofsd.h"
#include "vmm/vmm.h"

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
		"  --dax SIZE             pier: virtio-fs DAX window per shared directory\n"
		"                         (default 1G; 0: none, reads use FUSE_READ)\n"
		"  --seccomp on|off       pier: once the guest runs, the VMM may make only\n"
		"                         the system calls it needs (default on)\n"
		"  --kernel PATH          guest kernel (default: kernel.elf beside pier)\n"
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
		"  --strace               print every system call of the program (on stderr)\n"
		"  --log FILE             the kernel's log (as with -o verbose) into FILE\n"
		"  --timing               print boot milestones on stderr\n"
		"  --timeout SEC          kill the VM after SEC seconds (exit %d)\n"
		"  --virtiofsd PATH       virtiofsd binary (default: $PIER_VIRTIOFSD or\n"
		"                         %s)\n"
		"  --virtiofsd-log FILE   run virtiofsd with -d, its output to FILE\n"
		"                         (FILE.TAG for each --share)\n"
		"  pier --version\n",
		RUN_MAX_SHARES, PIER_EXIT_TIMEOUT, VIRTIOFSD_DEFAULT);
}

uint64_t run_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: return -1;
	}
	if (*end || v > (~0ULL >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

char *run_build_cmdline(const struct run_options *o)
{
	size_t cap = 16;
	for (int i = 0; i < o->nkopts; i++)
		cap += strlen(o->kopts[i]) + 3;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t n = 0;
	for (int i = 0; i < o->nkopts; i++) {
		const char *w = o->kopts[i];
		if (strchr(w, '"')) {
			fprintf(stderr, "pier: option '%s' contains a double quote, which the "
					"kernel command line cannot carry\n", w);
			free(s);
			return NULL;
		}
		int quote = !*w || strpbrk(w, " \t\n");
		n += sprintf(s + n, quote ? "\"%s\" " : "%s ", w);
	}
	if (n)
		n--; /* trailing space */
	s[n] = '\0';
	return s;
}

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PASSWD_MAX (1u << 20) /* bytes of the root's etc/passwd read at most */

/*
 * The root's etc/passwd, NUL-terminated, in *len bytes: at most PASSWD_MAX,
 * cut after the last whole line when the file is longer. The root is a
 * directory the user gave, so its etc/passwd (or a directory on the way)
 * may be a symlink to anywhere on the host: it is resolved as the guest
 * sees it, inside the root (RESOLVE_IN_ROOT), and only a regular file is
 * read (O_NONBLOCK: opening a FIFO must not hang pier). NULL when there is
 * none to read; a message when it is there but cannot be read.
 */
static char *read_root_passwd(const char *root, size_t *len)
{
	int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return NULL; /* check_dir saw it: gone since, and the VMM will say so */
	struct open_how how = {
		.flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dfd, "etc/passwd", &how, sizeof(how));
	int err = errno;
	close(dfd);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd < 0 && err != ENOENT && err != ENOTDIR)
			fprintf(stderr, "pier: --root %s: etc/passwd: %s (HOME=/)\n", root,
				strerror(err));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	/* One byte more than the cap tells a longer file from one of exactly PASSWD_MAX. */
	char *buf = malloc(PASSWD_MAX + 2);
	size_t n = 0;
	ssize_t r = 0;
	while (buf && n <= PASSWD_MAX && (r = read(fd, buf + n, PASSWD_MAX + 1 - n)) != 0) {
		if (r < 0 && errno != EINTR)
			break;
		n += r > 0 ? (size_t)r : 0;
	}
	err = buf ? errno : ENOMEM;
	close(fd);
	if (!buf || r < 0) {
		fprintf(stderr, "pier: --root %s: etc/passwd: %s (HOME=/)\n", root, strerror(err));
		free(buf);
		return NULL;
	}
	if (n > PASSWD_MAX) { /* a partial last line could yield a cut home */
		char *nl = memrchr(buf, '\n', PASSWD_MAX);
		n = nl ? (size_t)(nl - buf) + 1 : 0;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * The home field of the first entry for uid 0 (the guest program runs as
 * root) in passwd text: name:password:uid:gid:gecos:home:shell. Sets
 * *home_len; NULL when there is no such entry, or its home is empty or
 * holds a NUL (which no environment string can carry).
 */
static const char *passwd_root_home(const char *text, size_t len, size_t *home_len)
{
	for (const char *line = text, *end = text + len; line < end; ) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		const char *field[7] = { line };
		int nf = 1;
		for (const char *p = line; p < eol && nf < 7; p++)
			if (*p == ':')
				field[nf++] = p + 1;
		if (nf >= 6 && field[3] - field[2] == 2 && field[2][0] == '0') {
			const char *hend = nf > 6 ? field[6] - 1 : eol;
			*home_len = (size_t)(hend - field[5]);
			if (!*home_len || memchr(field[5], '\0', *home_len))
				return NULL;
			return field[5];
		}
		line = eol + 1;
	}
	return NULL;
}

/* "HOME=..." for the program: root's home in the root's etc/passwd, else "/". */
static char *default_home(const struct run_options *o)
{
	size_t len = 0, hlen = 0;
	char *passwd = o->root ? read_root_passwd(o->root, &len) : NULL;
	const char *home = passwd ? passwd_root_home(passwd, len, &hlen) : NULL;
	char *s;
	if (!home) {
		home = "/";
		hlen = 1;
	}
	if (asprintf(&s, "HOME=%.*s", (int)hlen, home) < 0)
		s = NULL;
	free(passwd);
	return s;
}

/* "TERM=..." when the program has a terminal (pier's own, or --tty), else NULL. */
static char *default_term(const struct run_options *o, int *err)
{
	*err = 0;
	if (!o->tty && !isatty(0) && !isatty(1) && !isatty(2))
		return NULL;
	const char *term = getenv("TERM");
	char *s;
	if (asprintf(&s, "TERM=%s", term && *term ? term : "xterm") < 0)
		return *err = 1, NULL;
	return s;
}

/*
 * Sets NAME=VALUE s in env: a name already there takes the new value in
 * that entry's place (the last value wins, the first position stays, as
 * docker's and podman's -e over an image's variables), a new name goes at
 * the end. env has room for one more.
 */
static void env_set(char **env, int *envc, char *s)
{
	size_t n = strcspn(s, "=");
	for (int i = 0; i < *envc; i++)
		if (strncmp(env[i], s, n) == 0 && env[i][n] == '=') {
			env[i] = s;
			return;
		}
	env[(*envc)++] = s;
}

/*
 * The program's environment, like a container engine's: PATH, HOSTNAME
 * (the guest's nodename), HOME, TERM (with a terminal), then the --env
 * variables over them; --env-clear leaves only the latter. 0, or pier's
 * status after a message. What it allocates lives as long as pier.
 */
static int build_env(const struct run_options *o, char ***envp, int *envcp)
{
	char **env = malloc(((size_t)o->envc + 4) * sizeof(*env));
	int envc = 0, err = 0;
	if (env && !o->env_clear) {
		env[envc++] = "PATH=" DEFAULT_PATH;
		env[envc++] = "HOSTNAME=pier";
		err = !(env[envc++] = default_home(o));
		char *term = err ? NULL : default_term(o, &err);
		if (term)
			env[envc++] = term;
	}
	if (!env || err) {
		fprintf(stderr, "pier: %s\n", strerror(ENOMEM));
		return PIER_EXIT_VMERROR; /* what was allocated goes with pier */
	}
	for (int i = 0; i < o->envc; i++)
		env_set(env, &envc, o->env[i]);
	*envp = env;
	*envcp = envc;
	return 0;
}

/*
 * The block with the program's cwd, arguments and environment, which the
 * guest reads through fw_cfg (args=fw_cfg); nothing without a program.
 * 0, or pier's status after a message.
 */
static int build_args(struct run_options *o)
{
	if (!o->argc)
		return 0;
	const char *cwd = o->cwd ? o->cwd : "/";
	char **env;
	int envc, e2big, rc = build_env(o, &env, &envc);
	if (rc)
		return rc;
	o->args_len = run_args_size(cwd, o->argc, o->argv, envc, env, &e2big);
	if (!o->args_len) {
		if (e2big)
			fprintf(stderr, "pier: the program's arguments and environment: Argument list "
					"too long (E2BIG; Linux's limits: %u bytes a string, %u in all)\n",
				RUN_ARGS_STRLEN_MAX, RUN_ARGS_TOTAL_MAX);
		else
			fprintf(stderr, "pier: --cwd %s: File name too long\n", cwd);
		return PIER_EXIT_VMERROR;
	}
	o->args = malloc(o->args_len);
	if (!o->args || o->nkopts == RUN_MAX_KOPTS) {
		fprintf(stderr, "pier: %s\n", o->args ? "too many -o options" : strerror(ENOMEM));
		return o->args ? 2 : PIER_EXIT_VMERROR;
	}
	run_args_write(o->args, cwd, o->argc, o->argv, envc, env);
	o->kopts[o->nkopts++] = "args=fw_cfg";
	return 0;
}

/* Whether a -o option sets key (as "key" or "key=..."). */
static int has_kopt(const struct run_options *o, const char *key)
{
	size_t n = strlen(key);
	for (int i = 0; i < o->nkopts; i++)
		if (strncmp(o->kopts[i], key, n) == 0 &&
		    (o->kopts[i][n] == '=' || o->kopts[i][n] == '\0'))
			return 1;
	return 0;
}

/*
 * The guest mounts its root from what pier provides, unless told otherwise
 * with -o rootfs=...
 */
static int add_rootfs_kopt(struct run_options *o)
{
	const char *kopt = o->root ? "rootfs=virtiofs" : o->initrd ? "rootfs=ramfs" : NULL;
	if (!kopt || has_kopt(o, "rootfs"))
		return 0;
	if (o->nkopts == RUN_MAX_KOPTS) {
		fprintf(stderr, "pier: too many -o options\n");
		return -1;
	}
	o->kopts[o->nkopts++] = kopt;
	return 0;
}

/* -o ro=TAG for every read-only share: the guest then answers EROFS itself
 * (in Linux's order), while the host still enforces it. */
static int add_ro_kopts(struct run_options *o)
{
	static char words[RUN_MAX_SHARES + 1][48];
	int n = 0;
	if (o->root && o->root_ro)
		snprintf(words[n++], sizeof(words[0]), "ro=root");
	for (int i = 0; i < o->nshares; i++)
		if (o->shares[i].ro)
			snprintf(words[n++], sizeof(words[0]), "ro=%s", o->shares[i].tag);
	for (int i = 0; i < n; i++) {
		if (o->nkopts == RUN_MAX_KOPTS) {
			fprintf(stderr, "pier: too many -o options\n");
			return -1;
		}
		o->kopts[o->nkopts++] = words[i];
	}
	return 0;
}

/* An existing directory, made absolute; NULL after a message. */
static const char *check_dir(const char *opt, const char *arg, const char *dir)
{
	struct stat st;
	char *abs = realpath(dir, NULL);
	if (!abs || stat(abs, &st)) {
		fprintf(stderr, "pier: %s %s: %s\n", opt, arg, strerror(errno));
		free(abs);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pier: %s %s: %s\n", opt, arg, strerror(ENOTDIR));
		free(abs);
		return NULL;
	}
	return abs; /* lives as long as pier */
}

/*
 * Tags travel in QEMU's option syntax (no ','), the guest's
 * -o mount=TAG:/path (no ':') and the kernel command line (no blanks or
 * quotes); virtio-fs allows 36 bytes.
 */
static int valid_tag(const char *tag)
{
	size_t n = strlen(tag);
	return n > 0 && n <= 36 && strspn(tag, "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
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
	if (o->nshares == RUN_MAX_SHARES) {
		fprintf(stderr, "pier: too many --share options (at most %d)\n", RUN_MAX_SHARES);
		return 2;
	}
	if (!eq || !eq[1]) {
		fprintf(stderr, "pier: --share %s: expected TAG=DIR\n", arg);
		return 2;
	}
	char *tag = strndup(arg, (size_t)(eq - arg));
	int bad = !tag || !valid_tag(tag) || strcmp(tag, "root") == 0;
	for (int i = 0; !bad && i < o->nshares; i++)
		bad = strcmp(o->shares[i].tag, tag) == 0;
	if (bad) {
		fprintf(stderr, "pier: --share %s: the tag must be unique, not \"root\", and "
				"1-36 of A-Z a-z 0-9 _ . -\n", arg);
		free(tag);
		return 2;
	}
	const char *dir = check_dir("--share", arg, eq + 1);
	if (!dir) {
		free(tag);
		return PIER_EXIT_VMERROR;
	}
	o->shares[o->nshares++] = (struct run_share){ .tag = tag, .dir = dir };
	return 0;
}

static const char *default_kernel(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n <= 0)
		return "kernel.elf";
	path[n] = '\0';
	char *dir = dirname(path);
	memmove(path, dir, strlen(dir) + 1);
	strcat(path, "/kernel.elf");
	return path;
}

/* Parses `pier run` options into o; returns -1 to go on, else pier's status. */
static int parse_run(int argc, char **argv, struct run_options *o)
{
	enum { OPT_VMM = 256, OPT_ENTRY, OPT_MACHINE, OPT_MEM, OPT_KERNEL, OPT_TIMING, OPT_TIMEOUT,
	       OPT_ROOT, OPT_RO, OPT_SHARE, OPT_INITRD, OPT_VIRTIOFSD, OPT_VIRTIOFSD_LOG,
	       OPT_ENV, OPT_ENV_CLEAR, OPT_CWD, OPT_STRACE, OPT_DAX, OPT_SECCOMP, OPT_LOG,
	       OPT_TMPFS };
	static const struct option longopts[] = {
		{ "vmm", required_argument, 0, OPT_VMM },
		{ "entry", required_argument, 0, OPT_ENTRY },
		{ "machine", required_argument, 0, OPT_MACHINE },
		{ "mem", required_argument, 0, OPT_MEM },
		{ "dax", required_argument, 0, OPT_DAX },
		{ "seccomp", required_argument, 0, OPT_SECCOMP },
		{ "kernel", required_argument, 0, OPT_KERNEL },
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
			if (parse_size(optarg, &o->mem_bytes) || o->mem_bytes < (16ULL << 20)) {
				fprintf(stderr, "pier: --mem %s: expected a size of at least 16M\n", optarg);
				return 2;
			}
			break;
		case OPT_DAX:
			/* Page multiple; at most 64 GiB per window (guest-physical space). */
			if (parse_size(optarg, &o->dax_bytes) || (o->dax_bytes & 4095) ||
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
		case OPT_TIMEOUT:
			o->timeout_s = atoi(optarg);
			if (o->timeout_s <= 0) {
				fprintf(stderr, "pier: --timeout %s: expected seconds > 0\n", optarg);
				return 2;
			}
			break;
		case OPT_ROOT:
			if (!(o->root = check_dir("--root", optarg, optarg)))
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
	if (add_rootfs_kopt(o) || add_ro_kopts(o))
		return 2;
	return (rc = build_args(o)) ? rc : -1;
}

static int cmd_run(int argc, char **argv, uint64_t start_ns)
{
	struct run_options o = {
		.machine = "microvm",
		.mem_bytes = 512ULL << 20, /* programs people have: fio's libraries alone reserve 140 MB */
		.dax_bytes = 1ULL << 30,
		.seccomp = 1,
		.start_ns = start_ns,
		.virtiofsd = getenv("PIER_VIRTIOFSD"),
	};
	int rc = parse_run(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (!o.virtiofsd || !*o.virtiofsd)
		o.virtiofsd = VIRTIOFSD_DEFAULT;
	if (!o.kernel)
		o.kernel = default_kernel();
	if (access(o.kernel, R_OK)) {
		fprintf(stderr, "pier: kernel %s: %s\n", o.kernel, strerror(errno));
		return PIER_EXIT_VMERROR;
	}
	o.log_fd = STDERR_FILENO;
	if (o.log && (o.log_fd = open(o.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "pier: --log %s: %s\n", o.log, strerror(errno));
		return PIER_EXIT_VMERROR;
	}
	if (o.initrd && access(o.initrd, R_OK)) {
		fprintf(stderr, "pier: --initrd %s: %s\n", o.initrd, strerror(errno));
		return PIER_EXIT_VMERROR;
	}
	if (!o.vmm || strcmp(o.vmm, "pier") == 0) {
		bool no_kvm = false;
		rc = vmm_run(&o, &no_kvm);
		if (!no_kvm || o.vmm)
			return rc;
		fprintf(stderr, "pier: no usable /dev/kvm; running under QEMU instead "
				"(--vmm qemu)\n");
		o.vmm = "qemu";
	}
	if (strcmp(o.vmm, "qemu") == 0) {
		if (strcmp(o.machine, "microvm") && strcmp(o.machine, "q35")) {
			fprintf(stderr, "pier: --machine %s: expected microvm or q35\n", o.machine);
			return 2;
		}
		if (o.dax_set && o.dax_bytes)
			fprintf(stderr, "pier: --dax: QEMU's virtio-fs has no DAX window; the "
					"guest reads through FUSE_READ\n");
		return qemu_run(&o);
	}
	fprintf(stderr, "pier: --vmm %s: unknown (expected pier or qemu)\n", o.vmm);
	return 2;
}

int main(int argc, char **argv)
{
	uint64_t start_ns = run_now_ns();
	/* A closed standard stream would be taken by the first file pier
	 * opens (and a program's output land in it): /dev/null instead. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			return PIER_EXIT_VMERROR;
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
