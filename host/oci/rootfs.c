/*
 * The container's root made ready from the host, as runc does before it
 * pivots: mount points and the working directory created, and file bind
 * mounts (podman's /etc/hosts, /etc/resolv.conf, /etc/hostname,
 * /run/.containerenv; a user's -v FILE:FILE) given their contents. The
 * root is the engine's, so every step resolves inside it
 * (RESOLVE_IN_ROOT): a link in the image cannot send a write to the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "oci.h"

static int open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		/* A link is followed, but resolved inside the root, as runc's
		 * securejoin does for a mount's destination. */
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* mkdir -p of path (absolute, in the guest's terms) inside the root. */
static int mkdir_in_root(int rootfd, const char *path)
{
	char buf[4096];
	if (strlen(path) >= sizeof(buf))
		return errno = ENAMETOOLONG, -1;
	strcpy(buf, path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		/* Each prefix: made where it resolves, inside the root. */
		char *slash = strrchr(buf, '/');
		*slash = '\0';
		int dfd = open_in_root(rootfd, *buf ? buf : "/", O_PATH | O_DIRECTORY, 0);
		*slash = '/';
		if (dfd < 0)
			return -1;
		int rc = slash[1] ? mkdirat(dfd, slash + 1, 0755) : 0;
		int err = errno;
		close(dfd);
		if (rc && err != EEXIST)
			return errno = err, -1;
		*p = saved;
		if (!saved)
			return 0;
	}
}

/* The file at src copied to dest inside the root (its directory made). */
static int copy_into_root(int rootfd, const char *src, const char *dest)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", dest);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir_in_root(rootfd, dir))
			return -1;
	}
	int in = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (in < 0)
		return -1;
	struct stat st;
	int out = fstat(in, &st) || !S_ISREG(st.st_mode) ? (errno = EINVAL, -1)
		: open_in_root(rootfd, dest, O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 07777);
	int rc = out < 0 ? -1 : 0;
	for (off_t left = st.st_size; !rc && left > 0;) {
		ssize_t n = sendfile(out, in, NULL, (size_t)left);
		if (n <= 0)
			rc = -1, errno = n == 0 ? EIO : errno;
		left -= n > 0 ? n : 0;
	}
	int err = errno;
	close(in);
	if (out >= 0)
		close(out);
	errno = err;
	return rc;
}

/* Whether path names an executable regular file, inside the root. */
static int executable_in_root(int rootfd, const char *path)
{
	int fd = open_in_root(rootfd, path, O_PATH, 0);
	struct stat st;
	int ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * The program must be there at create, as runc checks it: a bare name
 * through the PATH of the container's environment, a path as it is. The
 * engines know runc's words (podman answers them with status 127).
 */
static int check_program(int rootfd, const struct run_options *o)
{
	const char *name = o->argv[0], *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
					      "/usr/bin:/sbin:/bin";
	if (strchr(name, '/')) {
		if (executable_in_root(rootfd, name))
			return 0;
		oci_error("exec: \"%s\": stat %s: %s", name, name, strerror(errno ? errno : EACCES));
		return -1;
	}
	for (int i = 0; i < o->envc; i++)
		if (strncmp(o->env[i], "PATH=", 5) == 0)
			path = o->env[i] + 5;
	char buf[8192];
	for (const char *dir = path;;) {
		const char *end = strchrnul(dir, ':');
		/* A relative (or empty) PATH entry is the working directory's. */
		int rel = end == dir || dir[0] != '/';
		int n = snprintf(buf, sizeof(buf), "%s%s%.*s/%s", rel ? o->cwd : "", rel ? "/" : "",
				 (int)(end - dir), dir, name);
		if (n > 0 && (size_t)n < sizeof(buf) && *name && executable_in_root(rootfd, buf))
			return 0;
		if (!*end)
			break;
		dir = end + 1;
	}
	oci_error("exec: \"%s\": executable file not found in $PATH", name);
	return -1;
}

int oci_rootfs_prepare(const struct oci_spec *spec)
{
	int rootfd = open(spec->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		oci_error("rootfs %s: %s", spec->rootfs, strerror(errno));
		return -1;
	}
	for (int i = 0; i < spec->nmkdirs; i++)
		if (mkdir_in_root(rootfd, spec->mkdirs[i])) {
			oci_error("rootfs: mkdir %s: %s", spec->mkdirs[i], strerror(errno));
			close(rootfd);
			return -1;
		}
	for (int i = 0; i < spec->nbinds; i++)
		if (copy_into_root(rootfd, spec->binds[i].source, spec->binds[i].dest)) {
			oci_error("rootfs: bind %s to %s: %s", spec->binds[i].source,
				  spec->binds[i].dest, strerror(errno));
			close(rootfd);
			return -1;
		}
	int rc = check_program(rootfd, &spec->run);
	close(rootfd);
	return rc;
}

int oci_rootfs_check_program(const struct oci_spec *spec)
{
	int rootfd = open(spec->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		oci_error("rootfs %s: %s", spec->rootfs, strerror(errno));
		return -1;
	}
	int rc = check_program(rootfd, &spec->run);
	close(rootfd);
	return rc;
}
