/*
 * A run: the options both front ends (`pier run`, pier-oci) fill and both
 * back ends (QEMU, pier's VMM) consume, the guest's command line and
 * argument block built from them, and the choice of back end.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "fuse_server.h"
#include "qemu.h"
#include "run.h"
#include "stats.h"
#include "virtiofsd.h"
#include "vmm/vmm.h"

void run_options_init(struct run_options *o, uint64_t start_ns)
{
	*o = (struct run_options){
		.machine = "microvm",
		.mem_bytes = 512ULL << 20, /* programs people have: fio's libraries alone reserve 140 MB */
		.dax_bytes = 1ULL << 30,
		.cpus = 1,
		.seccomp = 1,
		.start_ns = start_ns,
		.virtiofsd = getenv("PIER_VIRTIOFSD"),
		.log_fd = STDERR_FILENO,
		.exec_listen_fd = -1,
		.cache = "auto",
		.cache_timeout_s = FUSE_SERVER_TIMEOUT_AUTO,
	};
}

int run_set_cache(struct run_options *o, const char *mode)
{
	if (strcmp(mode, "never") == 0)
		o->cache_timeout_s = 0;
	else if (strcmp(mode, "auto") == 0)
		o->cache_timeout_s = FUSE_SERVER_TIMEOUT_AUTO;
	else if (strcmp(mode, "always") == 0)
		o->cache_timeout_s = FUSE_SERVER_TIMEOUT_ALWAYS;
	else
		return -1;
	o->cache = mode;
	return 0;
}

int run_add_kopt(struct run_options *o, const char *kopt)
{
	if (o->nkopts == RUN_MAX_KOPTS) {
		fprintf(stderr, "pier: too many kernel options (at most %d)\n", RUN_MAX_KOPTS);
		return -1;
	}
	o->kopts[o->nkopts++] = kopt;
	return 0;
}

uint64_t run_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int run_parse_size(const char *s, uint64_t *out)
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
	size_t cap = 16 + (o->append ? strlen(o->append) + 1 : 0);
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
	if (o->append) /* the user's own words, as given */
		n += sprintf(s + n, "%s ", o->append);
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
int run_has_kopt(const struct run_options *o, const char *key)
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
	if (!kopt || run_has_kopt(o, "rootfs"))
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
const char *run_check_dir(const char *opt, const char *arg, const char *dir)
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
int run_valid_tag(const char *tag)
{
	size_t n = strlen(tag);
	return n > 0 && n <= 36 && strspn(tag, "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* The guest kernel: kernel.elf beside the pier binary (the build tree),
 * else ../lib/pier/kernel.elf from it (`make install`). */
static const char *default_kernel(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n <= 0)
		return "kernel.elf";
	path[n] = '\0';
	char *dir = dirname(path);
	memmove(path, dir, strlen(dir) + 1);
	size_t dlen = strlen(path);
	strcat(path, "/kernel.elf");
	if (access(path, F_OK) == 0)
		return path;
	strcpy(path + dlen, "/../lib/pier/kernel.elf");
	if (access(path, F_OK) == 0)
		return path;
	strcpy(path + dlen, "/kernel.elf"); /* the message names the first place */
	return path;
}

int run_add_share(struct run_options *o, const char *tag, const char *dir, int ro,
		  const char *opt, const char *arg)
{
	if (o->nshares == RUN_MAX_SHARES) {
		fprintf(stderr, "pier: %s %s: too many shared directories (at most %d)\n", opt, arg,
			RUN_MAX_SHARES);
		return 2;
	}
	int bad = !run_valid_tag(tag) || strcmp(tag, "root") == 0;
	for (int i = 0; !bad && i < o->nshares; i++)
		bad = strcmp(o->shares[i].tag, tag) == 0;
	if (bad) {
		fprintf(stderr, "pier: %s %s: the tag must be unique, not \"root\", and "
				"1-36 of A-Z a-z 0-9 _ . -\n", opt, arg);
		return 2;
	}
	const char *abs = run_check_dir(opt, arg, dir);
	if (!abs)
		return PIER_EXIT_VMERROR;
	o->shares[o->nshares++] = (struct run_share){ .tag = tag, .dir = abs, .ro = ro };
	return 0;
}

/* The shares the net server may send files from (NET_SENDFILE): the
 * guest reads them all anyway. */
static void net_shares(struct run_options *o)
{
	o->net.nshares = 0;
	if (o->root)
		o->net.shares[o->net.nshares++] = (struct net_share){ "root", o->root };
	for (int i = 0; i < o->nshares && o->net.nshares < NET_SHARES_MAX; i++)
		o->net.shares[o->net.nshares++] = (struct net_share){ o->shares[i].tag,
								      o->shares[i].dir };
}

int run_finish(struct run_options *o)
{
	if (add_rootfs_kopt(o) || add_ro_kopts(o))
		return 2;
	if ((o->stats && run_add_kopt(o, "stats=1")) || (o->timing && run_add_kopt(o, "timing=1")))
		return 2;
	/* How many processors the guest starts: on the command line, which it
	 * reads anyway, so a 1-CPU boot (the default) costs no exit for it.
	 * Only --cpus may set it: the VMM must have the processors. */
	if (run_has_kopt(o, "cpus")) {
		fprintf(stderr, "pier: -o cpus: use --cpus N (the VM must have the processors)\n");
		return 2;
	}
	static char cpus_kopt[16];
	snprintf(cpus_kopt, sizeof(cpus_kopt), "cpus=%d", o->cpus);
	if (o->cpus > 1 && run_add_kopt(o, cpus_kopt))
		return 2;
	net_shares(o);
	return build_args(o);
}

int run_execute(struct run_options *o)
{
	int rc;
	if (!o->virtiofsd || !*o->virtiofsd)
		o->virtiofsd = VIRTIOFSD_DEFAULT;
	if (!o->kernel)
		o->kernel = default_kernel();
	if (access(o->kernel, R_OK)) {
		fprintf(stderr, "pier: kernel %s: %s\n", o->kernel, strerror(errno));
		return PIER_EXIT_VMERROR;
	}
	if (o->log && (o->log_fd = open(o->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "pier: --log %s: %s\n", o->log, strerror(errno));
		return PIER_EXIT_VMERROR;
	}
	if (o->stats && !(o->stats_table = calloc(1, sizeof(*o->stats_table)))) {
		perror("pier: --stats");
		return PIER_EXIT_VMERROR;
	}
	if (o->stats_path && !(o->stats_file = fopen(o->stats_path, "we"))) {
		fprintf(stderr, "pier: --stats=%s: %s\n", o->stats_path, strerror(errno));
		return PIER_EXIT_VMERROR;
	}
	if (o->initrd && access(o->initrd, R_OK)) {
		fprintf(stderr, "pier: --initrd %s: %s\n", o->initrd, strerror(errno));
		return PIER_EXIT_VMERROR;
	}
	if (!o->vmm || strcmp(o->vmm, "pier") == 0) {
		bool no_kvm = false;
		rc = vmm_run(o, &no_kvm);
		if (!no_kvm || o->vmm)
			return rc;
		fprintf(stderr, "pier: no usable /dev/kvm; running under QEMU instead "
				"(--vmm qemu)\n");
		o->vmm = "qemu";
	}
	if (strcmp(o->vmm, "qemu") == 0) {
		if (strcmp(o->machine, "microvm") && strcmp(o->machine, "q35")) {
			fprintf(stderr, "pier: --machine %s: expected microvm or q35\n", o->machine);
			return 2;
		}
		if (o->dax_set && o->dax_bytes)
			fprintf(stderr, "pier: --dax: QEMU's virtio-fs has no DAX window; the "
					"guest reads through FUSE_READ\n");
		return qemu_run(o);
	}
	fprintf(stderr, "pier: --vmm %s: unknown (expected pier or qemu)\n", o->vmm);
	return 2;
}
