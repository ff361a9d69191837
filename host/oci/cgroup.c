/*
 * The container's cgroup, with the VMM in it: the VM is the container, so
 * the spec's CPU and pids limits apply to the VMM process (and QEMU and
 * virtiofsd, which it starts), and `podman stats` finds it where runc's
 * would be. cgroupfs only: cgroup v2, or v1's cpu, cpuacct, memory and
 * pids hierarchies.
 * The memory limit is the guest's RAM instead (spec.c): a cgroup limit of
 * the same size would leave no room for the VMM itself. A systemd
 * cgroupsPath ("slice:prefix:name") is left to systemd: not joined.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "oci.h"

#define CGROUP_FS "/sys/fs/cgroup"

static int write_file(const char *dir, const char *name, const char *value)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, value, strlen(value));
	int err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

static int unified(void)
{
	return access(CGROUP_FS "/cgroup.controllers", F_OK) == 0;
}

#define V1_MAX 4

/* The directories of the container's cgroup: one on v2; on v1 one per
 * hierarchy the machine has of cpu, cpuacct, memory (for `podman stats`:
 * no limit is set there) and pids. *cpu and *pids: which has their files. */
static int cgroup_dirs(const char *path, char dirs[V1_MAX][4200], int *cpu, int *pids)
{
	static const char *const v1[V1_MAX] = { "cpu", "cpuacct", "memory", "pids" };
	int n = 0;
	*cpu = *pids = -1;
	if (unified()) {
		snprintf(dirs[n++], sizeof(dirs[0]), CGROUP_FS "%s", path);
		*cpu = *pids = 0;
		return n;
	}
	for (int i = 0; i < V1_MAX; i++) {
		char root[64];
		snprintf(root, sizeof(root), CGROUP_FS "/%s", v1[i]);
		if (access(root, F_OK))
			continue; /* a controller this machine lacks */
		if (i == 0)
			*cpu = n;
		if (i == 3)
			*pids = n;
		snprintf(dirs[n++], sizeof(dirs[0]), "%s%s", root, path);
	}
	return n;
}

int oci_cgroup_join(const struct oci_spec *spec, pid_t pid)
{
	const char *path = spec->cgroup_path;
	if (!path)
		return 0;
	char dirs[V1_MAX][4200], num[32];
	int cpu, pids, n = cgroup_dirs(path, dirs, &cpu, &pids), v2 = unified();
	snprintf(num, sizeof(num), "%d", (int)pid);
	for (int i = 0; i < n; i++)
		if (oci_mkdir_p(dirs[i], 0755) || write_file(dirs[i], "cgroup.procs", num)) {
			oci_error("cgroup %s: %s", dirs[i], strerror(errno));
			return -1;
		}
	const struct oci_limits *l = &spec->limits;
	char val[64];
	/* Limits the kernel refuses (a controller not enabled below the
	 * root on v2, say) are warnings: the VM still runs. */
	if (cpu >= 0 && l->cpu_quota > 0) {
		unsigned long long period = l->cpu_period ? l->cpu_period : 100000;
		if (v2) {
			snprintf(val, sizeof(val), "%lld %llu", l->cpu_quota, period);
			if (write_file(dirs[cpu], "cpu.max", val))
				oci_warn("cgroup cpu.max %s: %s", val, strerror(errno));
		} else {
			snprintf(val, sizeof(val), "%llu", period);
			int bad = write_file(dirs[cpu], "cpu.cfs_period_us", val);
			snprintf(val, sizeof(val), "%lld", l->cpu_quota);
			if (bad || write_file(dirs[cpu], "cpu.cfs_quota_us", val))
				oci_warn("cgroup cpu quota %s: %s", val, strerror(errno));
		}
	}
	if (cpu >= 0 && l->cpu_shares >= 2) {
		/* v2's weight from v1's shares, as runc converts them. */
		unsigned long long w = 1 + ((l->cpu_shares - 2) * 9999) / 262142;
		snprintf(val, sizeof(val), "%llu", v2 ? w : l->cpu_shares);
		if (write_file(dirs[cpu], v2 ? "cpu.weight" : "cpu.shares", val))
			oci_warn("cgroup cpu shares %s: %s", val, strerror(errno));
	}
	if (pids >= 0 && l->pids_limit > 0) {
		snprintf(val, sizeof(val), "%lld", l->pids_limit);
		if (write_file(dirs[pids], "pids.max", val))
			oci_warn("cgroup pids.max %s: %s", val, strerror(errno));
	}
	return 0;
}

void oci_cgroup_remove(const char *path)
{
	if (!path || !*path)
		return;
	char dirs[V1_MAX][4200];
	int cpu, pids, n = cgroup_dirs(path, dirs, &cpu, &pids);
	for (int i = 0; i < n; i++)
		rmdir(dirs[i]); /* gone already, or still busy: nothing to do */
}
