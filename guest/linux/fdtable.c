/*
 * The descriptor table and open file descriptions, and turning the
 * program's (possibly relative) paths into absolute ones.
 */
#include <linux/fcntl.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "epoll.h"
#include "event_fds.h"
#include "exec_session.h"
#include "file_lock.h"
#include "pipe.h"
#include "socket.h"
#include "../kernel/task.h"
#include "process.h"

struct process proc;

struct ofile *ofile_new(enum ofile_kind kind)
{
	struct ofile *of = kzalloc(sizeof(*of));
	if (of) {
		of->kind = kind;
		of->refs = 1;
	}
	return of;
}

void ofile_unhold(struct ofile *of)
{
	if (of->refs > 1)
		of->refs--;
	else
		ofile_put(of);
}

void ofile_hold_two(struct ofile *a, struct ofile *b)
{
	ofile_hold(a);
	ofile_hold(b);
}

void ofile_unhold_two(struct ofile *a, struct ofile *b)
{
	ofile_unhold(a);
	ofile_unhold(b);
}

bool file_pos_lock(struct file *f)
{
	return f && sleep_lock(&f->pos_lock);
}

void file_pos_unlock(struct file *f)
{
	if (f)
		sleep_unlock(&f->pos_lock);
}

void file_pos_lock_two(struct file *a, struct file *b)
{
	if (a > b) {
		struct file *t = a;
		a = b;
		b = t;
	}
	file_pos_lock(a);
	if (b != a)
		file_pos_lock(b);
}

void file_pos_unlock_two(struct file *a, struct file *b)
{
	file_pos_unlock(a);
	if (b != a)
		file_pos_unlock(b);
}

void ofile_put(struct ofile *of)
{
	file_locks_put(of, of->refs == 1);
	if (--of->refs > 0)
		return;
	if (of->kind == OF_FILE && of->file)
		vfs_close(of->file);
	if (of->obj && of->kind == OF_CONSOLE)
		exec_session_put(of->obj);
	else if (of->obj && of->kind == OF_EPOLL)
		epoll_free(of);
	else if (of->obj && of->kind == OF_SOCKET)
		socket_free(of);
	else if (of->obj)
		event_fd_free(of);
	if (of->pipe) {
		if (of->kind == OF_PIPE_READ)
			of->pipe->readers--;
		else
			of->pipe->writers--;
		of->pipe->events++;
		if (!of->pipe->readers && !of->pipe->writers)
			kfree(of->pipe);
		task_wake_all(); /* the other end sees EOF or EPIPE */
	}
	if (of->path)
		kfree(of->path);
	kfree(of);
}

int fd_install(struct ofile *of, int min, bool cloexec)
{
	for (int fd = min < 0 ? 0 : min; fd < MAX_FDS; fd++)
		if (!current->proc->fds[fd]) {
			current->proc->fds[fd] = of;
			current->proc->cloexec[fd] = cloexec;
			return fd;
		}
	return -EMFILE;
}

struct ofile *fd_get(int fd)
{
	return fd >= 0 && fd < MAX_FDS ? current->proc->fds[fd] : NULL;
}

int fd_close(int fd)
{
	struct ofile *of = fd_get(fd);
	if (!of)
		return -EBADF;
	current->proc->fds[fd] = NULL;
	ofile_put(of);
	return 0;
}

int path_join(char *out, const char *base, const char *rel)
{
	size_t n = strlen(base), r = strlen(rel);
	if (n + 1 + r + 1 > VFS_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(out, base, n);
	if ((n == 0 || out[n - 1] != '/') && rel[0] != '/')
		out[n++] = '/';
	memcpy(out + n, rel, r + 1);
	return 0;
}

int user_path_at(int dirfd, uint64_t upath, char *out)
{
	char *rel = kmalloc(VFS_PATH_MAX);
	if (!rel)
		return -ENOMEM;
	int64_t n = strncpy_from_user(rel, upath, VFS_PATH_MAX);
	int err = 0;
	if (n < 0)
		err = (int)n;
	else if (n == 0)
		err = -ENOENT;
	else if (rel[0] == '/')
		memcpy(out, rel, (size_t)n + 1);
	else if (dirfd == AT_FDCWD)
		err = path_join(out, current->proc->cwd, rel);
	else {
		struct ofile *of = fd_get(dirfd);
		if (!of)
			err = -EBADF;
		else if (of->kind != OF_FILE || !of->file->dir)
			err = -ENOTDIR;
		else
			err = path_join(out, of->path, rel);
	}
	kfree(rel);
	return err;
}

/* "N" (digits only, < MAX_FDS) -> N; else -1. */
static int fd_number(const char *s)
{
	int n = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n >= MAX_FDS)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n < MAX_FDS ? n : -1;
}

int fd_new_object(enum ofile_kind kind, void *obj, uint64_t flags)
{
	struct ofile *of = ofile_new(kind);
	if (!of) {
		kfree(obj);
		return -ENOMEM;
	}
	of->obj = obj;
	of->flags = O_RDWR | (uint32_t)(flags & O_NONBLOCK);
	int fd = fd_install(of, 0, flags & O_CLOEXEC);
	if (fd < 0)
		ofile_put(of); /* frees obj too */
	return fd;
}

int fd_alias(const char *path)
{
	static const char *const std[] = { "/dev/stdin", "/dev/stdout", "/dev/stderr" };
	for (int i = 0; i < 3; i++)
		if (strcmp(path, std[i]) == 0)
			return i;
	static const char *const dirs[] = { "/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/" };
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(dirs[i]);
		if (strncmp(path, dirs[i], n) == 0)
			return fd_number(path + n);
	}
	if (strncmp(path, "/proc/", 6) == 0) { /* /proc/PID/fd/N, our pid */
		const char *p = path + 6;
		int pid = 0;
		while (*p >= '0' && *p <= '9')
			pid = pid * 10 + (*p++ - '0');
		if (pid == current->proc->pid && p != path + 6 && strncmp(p, "/fd/", 4) == 0)
			return fd_number(p + 4);
	}
	return -1;
}
