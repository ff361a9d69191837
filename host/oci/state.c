/*
 * A container's state under the runtime's --root: root/ID/state.json
 * (what `create` knew) and root/ID/exec.fifo (there until `start`). The
 * status is read off the process, never stored: a VMM that died, or a pid
 * reused since, reads as stopped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "oci.h"

const char *oci_root = OCI_DEFAULT_ROOT;

int oci_mkdir_p(const char *path, mode_t mode)
{
	char buf[8448];
	if (strlen(path) >= sizeof(buf))
		return errno = ENAMETOOLONG, -1;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, mode) && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(buf, mode) && errno != EEXIST ? -1 : 0;
}

int oci_valid_id(const char *id)
{
	size_t n = strlen(id);
	return n > 0 && n < 200 && strcmp(id, ".") && strcmp(id, "..") &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.") == n;
}

void oci_state_path(char *buf, size_t len, const char *id, const char *name)
{
	snprintf(buf, len, "%s/%s%s%s", oci_root, id, name ? "/" : "", name ? name : "");
}

unsigned long long oci_proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* After the command name (which may hold anything, so from its last
	 * ')'): the state, then fields 4..; the start time is field 22. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	p += 2;
	for (int field = 3; field < 22 && p; field++)
		if ((p = strchr(p, ' ')))
			p++;
	return p ? strtoull(p, NULL, 10) : 0;
}

int oci_state_save(const struct oci_state *st)
{
	char path[4200], tmp[4300];
	oci_state_path(path, sizeof(path), st->id, "state.json");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	json_t *ann = st->annotations_json ? json_loads(st->annotations_json, 0, NULL) : NULL;
	json_t *j = json_pack("{s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:o}", "id", st->id, "pid",
			      (int)st->pid, "starttime", (json_int_t)st->starttime, "bundle",
			      st->bundle, "rootfs", st->rootfs, "created", st->created, "cgroup",
			      st->cgroup, "annotations", ann ? ann : json_object());
	int rc = j && json_dump_file(j, tmp, JSON_COMPACT) == 0 && rename(tmp, path) == 0 ? 0 : -1;
	if (rc)
		oci_error("%s: %s", path, strerror(errno));
	json_decref(j);
	return rc;
}

static void copy_str(char *dst, size_t len, json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int oci_state_load(const char *id, struct oci_state *st)
{
	char path[4200];
	memset(st, 0, sizeof(*st));
	if (!oci_valid_id(id))
		return errno = ENOENT, -1;
	oci_state_path(path, sizeof(path), id, "state.json");
	json_t *j = json_load_file(path, 0, NULL);
	if (!j) {
		errno = access(path, F_OK) ? ENOENT : EINVAL;
		return -1;
	}
	snprintf(st->id, sizeof(st->id), "%s", id);
	st->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	st->starttime = (unsigned long long)json_integer_value(json_object_get(j, "starttime"));
	copy_str(st->bundle, sizeof(st->bundle), json_object_get(j, "bundle"));
	copy_str(st->rootfs, sizeof(st->rootfs), json_object_get(j, "rootfs"));
	copy_str(st->created, sizeof(st->created), json_object_get(j, "created"));
	copy_str(st->cgroup, sizeof(st->cgroup), json_object_get(j, "cgroup"));
	json_t *ann = json_object_get(j, "annotations");
	st->annotations_json = ann ? json_dumps(ann, JSON_COMPACT) : NULL;
	json_decref(j);
	if (st->pid <= 0 || oci_proc_starttime(st->pid) != st->starttime) {
		st->status = OCI_STOPPED;
	} else {
		oci_state_path(path, sizeof(path), id, "exec.fifo");
		st->status = access(path, F_OK) == 0 ? OCI_CREATED : OCI_RUNNING;
	}
	return 0;
}

char *oci_state_json(const struct oci_state *st)
{
	static const char *const names[] = { "created", "running", "stopped" };
	json_t *ann = st->annotations_json ? json_loads(st->annotations_json, 0, NULL) : NULL;
	json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:o}", "ociVersion",
			      OCI_VERSION, "id", st->id, "pid",
			      st->status == OCI_STOPPED ? 0 : (int)st->pid, "status",
			      names[st->status], "bundle", st->bundle, "rootfs", st->rootfs,
			      "created", st->created, "owner", "", "annotations",
			      ann ? ann : json_object());
	char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	return s;
}

int oci_state_remove(const char *id)
{
	char dir[4200], path[4500];
	oci_state_path(dir, sizeof(dir), id, NULL);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	return rmdir(dir);
}

int oci_write_pid_file(const char *path, pid_t pid)
{
	if (!path)
		return 0;
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.pier-oci.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (!f || fprintf(f, "%d", (int)pid) < 0 || fclose(f) || rename(tmp, path)) {
		oci_error("--pid-file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
