/*
 * state, kill, delete, exec and features: the commands that act on a
 * container after create, read off its state (state.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "oci.h"

/* Loads id's state, or says it does not exist (runc's words). */
static int load(const char *id, struct oci_state *st)
{
	if (oci_state_load(id, st) == 0)
		return 0;
	if (errno == ENOENT)
		oci_error("container does not exist: %s", id);
	else
		oci_error("container %s: its state is unreadable; `delete --force` removes it", id);
	return -1;
}

int oci_cmd_state(int argc, char **argv)
{
	struct oci_state st;
	if (argc != 2) {
		oci_error("state: expected exactly one container id");
		return 1;
	}
	if (load(argv[1], &st))
		return 1;
	char *json = oci_state_json(&st);
	if (!json)
		return oci_error("%s", strerror(ENOMEM)), 1;
	printf("%s\n", json);
	free(json);
	return 0;
}

/* A signal by number or name, with or without SIG: 15, TERM, SIGTERM. */
static int parse_signal(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s && !*end)
		return n > 0 && n < NSIG ? (int)n : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *name = sigabbrev_np(sig);
		if (name && strcasecmp(name, s) == 0)
			return sig;
	}
	return -1;
}

int oci_cmd_kill(int argc, char **argv)
{
	int i = 1;
	/* --all (-a): every process of the container; the VMM is all of them. */
	while (i < argc && (strcmp(argv[i], "--all") == 0 || strcmp(argv[i], "-a") == 0))
		i++;
	if (argc - i < 1 || argc - i > 2) {
		oci_error("kill: expected a container id and an optional signal");
		return 1;
	}
	int sig = argc - i == 2 ? parse_signal(argv[i + 1]) : SIGTERM;
	if (sig < 0) {
		oci_error("unknown signal \"%s\"", argv[i + 1]);
		return 1;
	}
	struct oci_state st;
	if (load(argv[i], &st))
		return 1;
	if (st.status == OCI_STOPPED || kill(st.pid, sig)) {
		oci_error("container not running");
		return 1;
	}
	return 0;
}

/* Kills the container's process and waits (up to 10 s) until it is gone:
 * reaped by the engine, or a zombie it has yet to reap. */
static int kill_and_wait(const struct oci_state *st)
{
	kill(st->pid, SIGKILL);
	for (int i = 0; i < 1000; i++) {
		if (oci_proc_starttime(st->pid) != st->starttime)
			return 0;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	oci_error("container process %d did not die of SIGKILL", (int)st->pid);
	return -1;
}

int oci_cmd_delete(int argc, char **argv)
{
	int force = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0)
			force = 1;
		else {
			oci_error("delete: unknown option %s", argv[i]);
			return 1;
		}
	}
	if (i != argc - 1) {
		oci_error("delete: expected exactly one container id");
		return 1;
	}
	const char *id = argv[i];
	struct oci_state st;
	if (oci_state_load(id, &st)) {
		/* --force cleans up whatever is there, as runc does: a state
		 * half-written by a create that crashed, or nothing at all. */
		if (force && oci_valid_id(id))
			return oci_state_remove(id) ? (oci_error("%s", strerror(errno)), 1) : 0;
		load(id, &st); /* says why */
		return 1;
	}
	if (st.status != OCI_STOPPED) {
		if (!force) {
			oci_error("cannot delete container %s that is not stopped: %s", id,
				  st.status == OCI_CREATED ? "created" : "running");
			return 1;
		}
		if (kill_and_wait(&st))
			return 1;
	}
	oci_cgroup_remove(st.cgroup);
	if (oci_state_remove(id)) {
		oci_error("delete %s: %s", id, strerror(errno));
		return 1;
	}
	return 0;
}

/* ps: the container's processes as the host sees them, which is the VMM
 * (QEMU and virtiofsd are its helpers, not the container's programs). */
int oci_cmd_ps(int argc, char **argv)
{
	const char *format = "table", *id = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--format") == 0 || strcmp(argv[i], "-f") == 0)
			format = i + 1 < argc ? argv[++i] : "";
		else if (strncmp(argv[i], "--format=", 9) == 0)
			format = argv[i] + 9;
		else if (!id)
			id = argv[i];
	}
	struct oci_state st;
	if (!id || (strcmp(format, "json") && strcmp(format, "table"))) {
		oci_error("ps: expected [--format table|json] ID");
		return 1;
	}
	if (load(id, &st))
		return 1;
	int live = st.status != OCI_STOPPED;
	if (strcmp(format, "json") == 0)
		printf(live ? "[%d]\n" : "[]\n", (int)st.pid);
	else
		printf(live ? "PID\n%d\n" : "PID\n", (int)st.pid);
	return 0;
}

int oci_cmd_unsupported(int argc, char **argv)
{
	(void)argc;
	oci_error("%s: not supported by pier-oci (docs/oci.md)", argv[0]);
	return 1;
}

int oci_cmd_features(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("{\n"
	       "  \"ociVersionMin\": \"1.0.0\",\n"
	       "  \"ociVersionMax\": \"%s\",\n"
	       "  \"hooks\": [],\n"
	       "  \"mountOptions\": [\"bind\", \"rbind\", \"ro\", \"rw\"],\n"
	       "  \"linux\": {\n"
	       "    \"namespaces\": [],\n"
	       "    \"capabilities\": [],\n"
	       "    \"cgroup\": { \"v1\": false, \"v2\": false, \"systemd\": false, "
	       "\"systemdUser\": false },\n"
	       "    \"seccomp\": { \"enabled\": false },\n"
	       "    \"apparmor\": { \"enabled\": false },\n"
	       "    \"selinux\": { \"enabled\": false }\n"
	       "  },\n"
	       "  \"annotations\": {\n"
	       "    \"io.github.pier.vm\": \"each container is a Pier VM\"\n"
	       "  }\n"
	       "}\n", OCI_VERSION);
	return 0;
}
