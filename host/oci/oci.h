/*
 * pier-oci: Pier as an OCI runtime. The command line container engines
 * call (runc's: create, start, state, kill, delete, exec, features), a
 * container's config.json made into a run (run.h), and the container's
 * state kept under the runtime's --root. See docs/oci.md.
 */
#ifndef HOST_OCI_H
#define HOST_OCI_H

#include <stdarg.h>
#include <sys/types.h>
#include "../run.h"

#define OCI_VERSION "1.0.2"
#define OCI_DEFAULT_ROOT "/run/pier-oci"
#define OCI_MAX_FILE_BINDS 16

/* The entry point: argv[0] is "pier-oci" (or `pier oci`). */
int oci_main(int argc, char **argv);

/* --- Errors and the log (log.c): runc's places and formats. --- */

/* --log FILE (NULL: none) and --log-format text|json; -1 after a message. */
int oci_log_open(const char *path, const char *format);
/* An error: on stderr, and in the log in its format. */
__attribute__((format(printf, 1, 2))) void oci_error(const char *fmt, ...);
/* The time now, RFC 3339 in UTC with nanoseconds (the log's, state's "created"). */
void oci_now_rfc3339(char *buf, size_t len);
/* A warning: in the log only (engines show the log when a call fails). */
__attribute__((format(printf, 1, 2))) void oci_warn(const char *fmt, ...);

/* --- A bundle's config.json as a run (spec.c). --- */

/* A file bind mount: the guest's root gets the file's contents at start
 * (virtio-fs shares directories; see docs/oci.md). */
struct oci_file_bind {
	char *source;
	char *dest;
};

/* linux.resources that apply to the VMM's cgroup (cgroup.c). */
struct oci_limits {
	unsigned long long cpu_shares, cpu_period;
	long long cpu_quota, pids_limit;
};

struct oci_spec {
	struct run_options run;  /* what pier runs */
	char *bundle;            /* absolute */
	char *rootfs;            /* absolute, a directory */
	char *mkdirs[RUN_MAX_SHARES + RUN_MAX_KOPTS]; /* mount points and cwd to make in the root */
	int nmkdirs;
	struct oci_file_bind binds[OCI_MAX_FILE_BINDS];
	int nbinds;
	char *annotations_json;  /* config's annotations, as JSON text (for state) */
	int sandbox;             /* a Kubernetes pod's sandbox ("pause"): no VM */
	char *cgroup_path;       /* linux.cgroupsPath (cgroupfs form); NULL: none */
	struct oci_limits limits;
	char *netns;             /* the network namespace to run the VMM in; NULL: pier-oci's */
	unsigned uid, gid;       /* process.user */
};

/* Reads bundle/config.json into spec; 0, or -1 after oci_error(). */
int oci_spec_load(const char *bundle, struct oci_spec *spec, uint64_t start_ns);

/* A process.json (exec --process) over spec's process: args, env, cwd,
 * terminal, user. 0, or -1 after oci_error(). */
int oci_process_load(const char *path, struct oci_spec *spec);

/* --- The container's root, prepared from the host side (rootfs.c). --- */

/* Makes every mount point and the cwd, copies the file binds: all inside
 * the root, never following a link out of it. 0, or -1 after oci_error(). */
int oci_rootfs_prepare(const struct oci_spec *spec);

/* Whether spec's program is there to run, as runc checks it (its words:
 * the engines know them). 0, or -1 after oci_error(). */
int oci_rootfs_check_program(const struct oci_spec *spec);

/* --- The container's cgroup (cgroup.c). --- */

/* Puts pid in the spec's cgroup (made if missing) with its CPU and pids
 * limits; 0 without one, or -1 after oci_error(). */
int oci_cgroup_join(const struct oci_spec *spec, pid_t pid);
/* Removes the cgroup once its processes are gone. */
void oci_cgroup_remove(const char *path);

/* --- State under --root (state.c). --- */

enum oci_status { OCI_CREATED, OCI_RUNNING, OCI_STOPPED };

struct oci_state {
	char id[256];
	pid_t pid;
	unsigned long long starttime; /* /proc/PID/stat field 22: tells a reused pid */
	char bundle[4096];
	char rootfs[4096];
	char created[40];              /* RFC 3339 */
	char cgroup[4096];             /* the cgroup joined, "" for none */
	char *annotations_json;
	enum oci_status status;        /* from the process, when loaded */
};

/* The runtime's --root (default OCI_DEFAULT_ROOT). */
extern const char *oci_root;

/* mkdir -p; 0 or -1 (errno). */
int oci_mkdir_p(const char *path, mode_t mode);
/* Whether id is a container id runc would accept. */
int oci_valid_id(const char *id);
/* root/id (and root/id/NAME) into buf. */
void oci_state_path(char *buf, size_t len, const char *id, const char *name);
/* /proc/PID/stat's start time, 0 when there is no such process (or a zombie). */
unsigned long long oci_proc_starttime(pid_t pid);
/* Writes state.json; -1 after a message. */
int oci_state_save(const struct oci_state *st);
/* Loads id's state and works out its status; -1 (errno ENOENT when there is
 * no such container) without a message. */
int oci_state_load(const char *id, struct oci_state *st);
/* The OCI state JSON (runc's `state` output), malloc'd. */
char *oci_state_json(const struct oci_state *st);
/* --pid-file: pid written whole (a temporary file renamed); 0 without a
 * path, -1 after oci_error(). */
int oci_write_pid_file(const char *path, pid_t pid);
/* Removes root/id and everything in it. */
int oci_state_remove(const char *id);

/* --- The console socket (console.c). --- */

/* Opens a pseudo-terminal, sends its master to the engine's socket and
 * returns the slave's fd; -1 after oci_error(). */
int oci_console_open(const char *socket_path);

/* --- The commands (commands.c, create.c). --- */

int oci_cmd_create(int argc, char **argv);
int oci_cmd_start(int argc, char **argv);
int oci_cmd_state(int argc, char **argv);
int oci_cmd_kill(int argc, char **argv);
int oci_cmd_delete(int argc, char **argv);
int oci_cmd_exec(int argc, char **argv);
int oci_cmd_features(int argc, char **argv);
int oci_cmd_ps(int argc, char **argv);
/* pause, resume, update, events, checkpoint, restore: a clear error. */
int oci_cmd_unsupported(int argc, char **argv);

#endif
