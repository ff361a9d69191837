/*
 * A bundle's config.json (the OCI runtime spec) made into a Pier run. What
 * a VM has no use for (namespaces, capabilities, seccomp, most cgroup
 * settings) is ignored, as docs/oci.md lists: the VM is the isolation.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "../accel.h"
#include "oci.h"

#define CONFIG_MAX (4u << 20) /* bytes of config.json read at most */

/* Kernel options built here: they must outlive the run. */
static char *kopt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *kopt_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static int add_kopt(struct oci_spec *spec, char *kopt)
{
	if (!kopt || strchr(kopt, '"')) {
		oci_error("config.json: %s", kopt ? "a value contains a double quote, which "
			  "Pier cannot pass to its guest" : strerror(ENOMEM));
		free(kopt);
		return -1;
	}
	if (run_add_kopt(&spec->run, kopt)) {
		oci_error("config.json: too many settings for one guest");
		return -1;
	}
	return 0;
}

/* An array of strings, copied into a NULL-terminated malloc'd vector. */
static int string_array(json_t *a, const char *what, char ***out, int *n)
{
	if (!json_is_array(a)) {
		oci_error("config.json: %s: expected an array of strings", what);
		return -1;
	}
	size_t len = json_array_size(a);
	char **v = calloc(len + 1, sizeof(*v));
	if (!v)
		return oci_error("%s", strerror(ENOMEM)), -1;
	for (size_t i = 0; i < len; i++) {
		json_t *s = json_array_get(a, i);
		if (!json_is_string(s) || !(v[i] = strdup(json_string_value(s)))) {
			oci_error("config.json: %s[%zu]: expected a string", what, i);
			return -1;
		}
	}
	*out = v;
	*n = (int)len;
	return 0;
}

static int load_user(struct oci_spec *spec, json_t *user)
{
	if (!user)
		return 0;
	json_int_t uid = json_integer_value(json_object_get(user, "uid"));
	json_int_t gid = json_integer_value(json_object_get(user, "gid"));
	if (!json_is_object(user) || uid < 0 || gid < 0 || uid > INT_MAX || gid > INT_MAX) {
		oci_error("config.json: process.user: expected uid and gid from 0 to %d", INT_MAX);
		return -1;
	}
	spec->uid = (unsigned)uid;
	spec->gid = (unsigned)gid;
	if (uid && add_kopt(spec, kopt_printf("uid=%lld", (long long)uid)))
		return -1;
	if (gid && add_kopt(spec, kopt_printf("gid=%lld", (long long)gid)))
		return -1;
	return 0;
}

/* A field that may be missing, but when there is an array. */
static int not_an_array(json_t *a, const char *what)
{
	if (!a || json_is_array(a))
		return 0;
	oci_error("config.json: %s: expected an array", what);
	return -1;
}

static int load_rlimits(struct oci_spec *spec, json_t *rlimits)
{
	size_t i;
	json_t *r;
	if (not_an_array(rlimits, "process.rlimits"))
		return -1;
	json_array_foreach(rlimits, i, r) {
		const char *type = json_string_value(json_object_get(r, "type"));
		json_t *soft = json_object_get(r, "soft"), *hard = json_object_get(r, "hard");
		if (!type || strncmp(type, "RLIMIT_", 7) || !type[7] || strlen(type) > 24 ||
		    !json_is_integer(soft) || !json_is_integer(hard)) {
			oci_error("config.json: process.rlimits[%zu]: expected type RLIMIT_*, soft "
				  "and hard", i);
			return -1;
		}
		char name[24];
		size_t n = strlen(type + 7);
		for (size_t k = 0; k <= n; k++)
			name[k] = (char)(type[7 + k] >= 'A' && type[7 + k] <= 'Z' ? type[7 + k] + 32
										   : type[7 + k]);
		/* The JSON numbers are unsigned 64-bit; jansson reads them signed,
		 * so RLIM_INFINITY arrives as -1. */
		unsigned long long s = (unsigned long long)json_integer_value(soft);
		unsigned long long h = (unsigned long long)json_integer_value(hard);
		char ss[24], hs[24];
		snprintf(ss, sizeof(ss), s == ~0ULL ? "unlimited" : "%llu", s);
		snprintf(hs, sizeof(hs), h == ~0ULL ? "unlimited" : "%llu", h);
		if (add_kopt(spec, kopt_printf("rlimit=%s:%s:%s", name, ss, hs)))
			return -1;
	}
	return 0;
}

static int load_process(struct oci_spec *spec, json_t *p)
{
	struct run_options *o = &spec->run;
	if (!json_is_object(p)) {
		oci_error("config.json: no process to run");
		return -1;
	}
	if (string_array(json_object_get(p, "args"), "process.args", &o->argv, &o->argc))
		return -1;
	if (o->argc == 0) {
		oci_error("config.json: process.args: empty (args must not be empty)");
		return -1;
	}
	json_t *env = json_object_get(p, "env");
	if (env && string_array(env, "process.env", &o->env, &o->envc))
		return -1;
	o->env_clear = 1; /* the spec's environment is the whole environment */
	const char *cwd = json_string_value(json_object_get(p, "cwd"));
	if (!cwd || cwd[0] != '/') {
		oci_error("config.json: process.cwd: expected an absolute path");
		return -1;
	}
	o->cwd = strdup(cwd);
	o->tty = json_is_true(json_object_get(p, "terminal"));
	return load_user(spec, json_object_get(p, "user")) ||
	       load_rlimits(spec, json_object_get(p, "rlimits"));
}

/* The guest's own file systems stand in for these (its /dev, /proc, /sys,
 * /dev/pts, and a tmpfs on /dev/shm). */
static int guest_provides(const char *type, const char *dest)
{
	static const char *const types[] = { "proc", "sysfs", "devpts", "mqueue", "cgroup",
					     "cgroup2", "devtmpfs", "securityfs" };
	static const char *const dests[] = { "/proc", "/sys", "/dev", "/dev/pts", "/dev/mqueue",
					     "/dev/shm", "/sys/fs/cgroup" };
	for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(dests) / sizeof(dests[0]); i++)
		if (strcmp(dest, dests[i]) == 0)
			return 1;
	return 0;
}

static int has_option(json_t *options, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(options, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

/* A mount point the host makes in the root before the guest starts. */
static int add_mkdir(struct oci_spec *spec, const char *path)
{
	if (spec->nmkdirs == (int)(sizeof(spec->mkdirs) / sizeof(spec->mkdirs[0])) ||
	    !(spec->mkdirs[spec->nmkdirs] = strdup(path))) {
		oci_error("config.json: too many mounts");
		return -1;
	}
	spec->nmkdirs++;
	return 0;
}

static int load_bind(struct oci_spec *spec, size_t i, const char *src, const char *dest,
		     json_t *options)
{
	struct stat st;
	if (!src || src[0] != '/' || stat(src, &st)) {
		oci_error("config.json: mounts[%zu]: bind source %s: %s", i, src ? src : "(none)",
			  src && src[0] == '/' ? strerror(errno) : "expected an absolute path");
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		if (spec->nbinds == OCI_MAX_FILE_BINDS) {
			oci_error("config.json: more than %d file bind mounts", OCI_MAX_FILE_BINDS);
			return -1;
		}
		spec->binds[spec->nbinds++] = (struct oci_file_bind){ strdup(src), strdup(dest) };
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		oci_warn("mounts[%zu]: %s is neither a directory nor a file: not mounted", i, src);
		return 0;
	}
	char *tag = kopt_printf("m%zu", i);
	int rc = tag ? run_add_share(&spec->run, tag, src, has_option(options, "ro"), "mount",
				     dest) : 2;
	if (rc) {
		oci_error("config.json: mounts[%zu]: cannot share %s", i, src);
		return -1;
	}
	return add_mkdir(spec, dest) || add_kopt(spec, kopt_printf("mount=%s:%s", tag, dest));
}

static int load_mounts(struct oci_spec *spec, json_t *mounts)
{
	size_t i;
	json_t *m;
	if (not_an_array(mounts, "mounts"))
		return -1;
	json_array_foreach(mounts, i, m) {
		const char *dest = json_string_value(json_object_get(m, "destination"));
		const char *type = json_string_value(json_object_get(m, "type"));
		const char *src = json_string_value(json_object_get(m, "source"));
		json_t *options = json_object_get(m, "options");
		if (!dest || dest[0] != '/' || strpbrk(dest, " \t\n\"'\\:")) {
			oci_error("config.json: mounts[%zu]: destination %s: expected an absolute "
				  "path without blanks, quotes or colons", i, dest ? dest : "(none)");
			return -1;
		}
		int bind = (type && strcmp(type, "bind") == 0) || has_option(options, "bind") ||
			   has_option(options, "rbind");
		if (guest_provides(type, dest))
			continue;
		if (bind) {
			if (load_bind(spec, i, src, dest, options))
				return -1;
		} else if (type && strcmp(type, "tmpfs") == 0) {
			if (add_mkdir(spec, dest) || add_kopt(spec, kopt_printf("tmpfs=%s", dest)))
				return -1;
		} else {
			oci_error("config.json: mounts[%zu]: %s: mount type %s is not supported", i,
				  dest, type ? type : "(none)");
			return -1;
		}
	}
	return 0;
}

/* Pier's own options, as annotations: pier.vmm, pier.machine, pier.mem, pier.dax. */
static int load_annotations(struct oci_spec *spec, json_t *ann)
{
	struct run_options *o = &spec->run;
	const char *v;
	if (!ann)
		return 0;
	if (!json_is_object(ann)) {
		oci_error("config.json: annotations: expected an object");
		return -1;
	}
	if ((v = json_string_value(json_object_get(ann, "pier.vmm")))) {
		if (strcmp(v, "pier") && strcmp(v, "qemu")) {
			oci_error("annotation pier.vmm=%s: expected pier or qemu", v);
			return -1;
		}
		o->vmm = strdup(v);
	}
	if ((v = json_string_value(json_object_get(ann, "pier.machine")))) {
		if (strcmp(v, "microvm") && strcmp(v, "q35")) {
			oci_error("annotation pier.machine=%s: expected microvm or q35", v);
			return -1;
		}
		o->machine = strdup(v);
	}
	if ((v = json_string_value(json_object_get(ann, "pier.mem"))) &&
	    (run_parse_size(v, &o->mem_bytes) || o->mem_bytes < (16ULL << 20))) {
		oci_error("annotation pier.mem=%s: expected a size of at least 16M", v);
		return -1;
	}
	if ((v = json_string_value(json_object_get(ann, "pier.dax")))) {
		if (run_parse_size(v, &o->dax_bytes) || (o->dax_bytes & 4095) ||
		    o->dax_bytes > (64ULL << 30)) {
			oci_error("annotation pier.dax=%s: expected 0 or a multiple of 4K up to 64G", v);
			return -1;
		}
		o->dax_set = 1;
	}
	/* CRI's (containerd's, CRI-O's) word for a pod's sandbox container. */
	v = json_string_value(json_object_get(ann, "io.kubernetes.cri.container-type"));
	const char *crio = json_string_value(json_object_get(ann, "io.kubernetes.cri-o.ContainerType"));
	spec->sandbox = (v && strcmp(v, "sandbox") == 0) || (crio && strcmp(crio, "sandbox") == 0);
	spec->annotations_json = json_dumps(ann, JSON_COMPACT);
	return 0;
}

static int load_root(struct oci_spec *spec, json_t *root)
{
	const char *path = json_string_value(json_object_get(root, "path"));
	if (!path || !*path) {
		oci_error("config.json: root.path: missing");
		return -1;
	}
	char *joined = path[0] == '/' ? strdup(path) : kopt_printf("%s/%s", spec->bundle, path);
	struct stat st;
	int e = !joined ? ENOMEM : stat(joined, &st) ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
	if (e) {
		oci_error("invalid rootfs: stat %s: %s", joined ? joined : path, strerror(e));
		free(joined);
		return -1;
	}
	spec->rootfs = realpath(joined, NULL);
	free(joined);
	spec->run.root = spec->rootfs;
	spec->run.root_ro = json_is_true(json_object_get(root, "readonly"));
	return spec->rootfs ? 0 : -1;
}

/* linux.resources.memory.limit: the VM's RAM (the guest's memory is the
 * container's). */
static void load_memory_limit(struct oci_spec *spec, json_t *linux_)
{
	json_t *lim = json_object_get(json_object_get(json_object_get(linux_, "resources"),
						      "memory"), "limit");
	json_int_t v = json_integer_value(lim);
	if (json_is_integer(lim) && v >= (64LL << 20))
		spec->run.mem_bytes = (uint64_t)v & ~((1ULL << 20) - 1);
	else if (json_is_integer(lim) && v > 0)
		oci_warn("memory limit %lld: below Pier's 64M minimum; the VM has 64M",
			 (long long)v), spec->run.mem_bytes = 64ULL << 20;
}

static unsigned long long uint_at(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) && json_integer_value(v) > 0
		       ? (unsigned long long)json_integer_value(v) : 0;
}

/*
 * linux.cgroupsPath (the cgroupfs form, "/a/b"; a relative one is taken
 * from the root, and systemd's "slice:prefix:name" is systemd's to make),
 * the CPU and pids limits, and the network namespace to join (the VMM's
 * sockets, once the guest has any, are the container's).
 */
static int load_linux(struct oci_spec *spec, json_t *linux_)
{
	const char *cg = json_string_value(json_object_get(linux_, "cgroupsPath"));
	if (cg && *cg && !strchr(cg, ':')) {
		if (strstr(cg, "..") || strlen(cg) > 1024) {
			oci_error("config.json: linux.cgroupsPath %s: not a cgroup path", cg);
			return -1;
		}
		spec->cgroup_path = kopt_printf("%s%s", cg[0] == '/' ? "" : "/", cg);
	}
	json_t *res = json_object_get(linux_, "resources");
	json_t *cpu = json_object_get(res, "cpu");
	spec->limits.cpu_shares = uint_at(cpu, "shares");
	spec->limits.cpu_period = uint_at(cpu, "period");
	json_t *quota = json_object_get(cpu, "quota");
	spec->limits.cpu_quota = json_is_integer(quota) ? json_integer_value(quota) : 0;
	json_t *pids = json_object_get(json_object_get(res, "pids"), "limit");
	spec->limits.pids_limit = json_is_integer(pids) ? json_integer_value(pids) : 0;
	size_t i;
	json_t *ns;
	json_array_foreach(json_object_get(linux_, "namespaces"), i, ns) {
		const char *type = json_string_value(json_object_get(ns, "type"));
		const char *path = json_string_value(json_object_get(ns, "path"));
		if (type && path && strcmp(type, "network") == 0)
			spec->netns = strdup(path);
	}
	return 0;
}

/* A JSON file, or NULL after runc's words for what is wrong with it. */
static json_t *load_json(const char *path)
{
	json_error_t err;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		if (access(path, R_OK))
			oci_error("open %s: %s", path, strerror(errno));
		else
			oci_error("%s: malformed JSON at line %d, column %d: %s", path, err.line,
				  err.column, err.text);
	}
	return j;
}

int oci_process_load(const char *path, struct oci_spec *spec)
{
	json_t *p = load_json(path);
	if (!p)
		return -1;
	/* What the file does not say is not the container's either. */
	struct run_options *o = &spec->run;
	o->env = NULL;
	o->envc = 0;
	o->tty = 0;
	spec->uid = spec->gid = 0;
	int rc = load_process(spec, p);
	json_decref(p);
	return rc ? -1 : 0;
}

int oci_spec_load(const char *bundle, struct oci_spec *spec, uint64_t start_ns)
{
	memset(spec, 0, sizeof(*spec));
	run_options_init(&spec->run, start_ns);
	spec->run.net.same_ports = true; /* the container's network namespace is the VM's */
	if (!(spec->bundle = realpath(bundle, NULL))) {
		oci_error("bundle %s: %s", bundle, strerror(errno));
		return -1;
	}
	char *path = kopt_printf("%s/config.json", spec->bundle);
	json_t *cfg = path ? load_json(path) : NULL;
	if (!cfg) {
		free(path);
		return -1;
	}
	free(path);
	const char *version = json_string_value(json_object_get(cfg, "ociVersion"));
	int rc = -1;
	if (!json_is_object(cfg) || !version || strncmp(version, "1.", 2)) {
		oci_error("config.json: ociVersion %s: expected 1.x", version ? version : "missing");
	} else if (!load_root(spec, json_object_get(cfg, "root")) &&
		   !load_process(spec, json_object_get(cfg, "process")) &&
		   !load_mounts(spec, json_object_get(cfg, "mounts")) &&
		   !load_annotations(spec, json_object_get(cfg, "annotations"))) {
		/* Without a hostname the container keeps the host's, as a
		 * runc container does (a new UTS namespace copies it). */
		char own[256] = "";
		const char *host = json_string_value(json_object_get(cfg, "hostname"));
		if ((!host || !*host) && gethostname(own, sizeof(own) - 1) == 0)
			host = own;
		load_memory_limit(spec, json_object_get(cfg, "linux"));
		if (load_linux(spec, json_object_get(cfg, "linux"))) {
			json_decref(cfg);
			return -1;
		}
		/* Chosen here, quietly: the container's stderr is the program's. */
		if (!spec->run.vmm)
			spec->run.vmm = accel_pier_vmm_usable() ? "pier" : "qemu";
		rc = (host && *host && add_kopt(spec, kopt_printf("hostname=%s", host))) ||
		     add_kopt(spec, strdup("container=1")) ||
		     add_mkdir(spec, spec->run.cwd) ? -1 : 0;
	}
	json_decref(cfg);
	return rc;
}
