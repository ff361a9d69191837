/*
 * The one program the kernel runs: what its threads share (open files,
 * working directory, heap break, signal handlers). What each thread has
 * of its own (registers, TLS base, signal mask) is struct task.
 */
#ifndef GUEST_PROCESS_H
#define GUEST_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include "../fs/vfs.h"

#define MAX_FDS 256

enum ofile_kind { OF_FILE, OF_CONSOLE, OF_PIPE_READ, OF_PIPE_WRITE, OF_TIMERFD, OF_EVENTFD,
		  OF_EPOLL };

struct pipe;

/* An open file description: shared by dup'd descriptors (offset, flags). */
struct ofile {
	enum ofile_kind kind;
	int refs;
	uint32_t flags;           /* O_* status flags */
	struct file *file;        /* OF_FILE */
	struct pipe *pipe;        /* OF_PIPE_* */
	void *obj;                /* OF_TIMERFD, OF_EVENTFD: event_fds.c's; OF_EPOLL: epoll.c's */
	int stream;               /* OF_CONSOLE: 0 stdin, 1 stdout, 2 stderr */
	char *path;               /* absolute path it was opened by, for *at() */
};

struct process {
	struct ofile *fds[MAX_FDS];
	bool cloexec[MAX_FDS];
	char cwd[VFS_PATH_MAX];
	uint64_t brk_start, brk;
	uint64_t gs_base;
	uint32_t umask;
	uint64_t sigactions[65][4]; /* handler, flags, restorer, mask */
	int exit_status;            /* the main thread's, if it exits first */
	int nice;                   /* setpriority's, -20..19 */
	char *exe;                  /* the program's absolute path (/proc/self/exe) */
	const char *cmdline;        /* its arguments, each NUL-ended (/proc/self/cmdline) */
	uint64_t cmdline_len;
	bool strace;
	int pid;
};

extern struct process proc;

/* Descriptor table. */
/* A descriptor for a new kernel object of that kind (timerfd, eventfd,
 * epoll), open for reading and writing, O_NONBLOCK and O_CLOEXEC from
 * flags. obj (a kmalloc'd block) is taken over: freed by the last close,
 * or at once if this fails. The fd or -errno. */
int fd_new_object(enum ofile_kind kind, void *obj, uint64_t flags);
int fd_install(struct ofile *of, int min, bool cloexec);
struct ofile *fd_get(int fd);
int fd_close(int fd);
struct ofile *ofile_new(enum ofile_kind kind);
void ofile_put(struct ofile *of);

/*
 * The descriptor an absolute path names as Linux's magic links do
 * (/dev/stdin, /dev/fd/N, /proc/self/fd/N, /proc/PID/fd/N): opening it
 * opens that file again (here: a duplicate), stat describes it. N, or -1.
 */
int fd_alias(const char *path);

/* base + "/" + rel into out (VFS_PATH_MAX): 0 or -ENAMETOOLONG. */
int path_join(char *out, const char *base, const char *rel);

/*
 * The absolute path for a user path relative to dirfd (AT_FDCWD: the
 * working directory), written to out (VFS_PATH_MAX). 0 or -errno.
 */
int user_path_at(int dirfd, uint64_t upath, char *out);

/* Time and waiting helpers of sys_misc.c, for the other system calls. */
int64_t read_timespec(uint64_t uts, uint64_t *ns);
int64_t clock_ns(uint64_t clock, uint64_t *ns);

/* open(2) at dirfd: returns the new descriptor or -errno. */
int64_t sys_open_at(int dirfd, uint64_t upath, uint64_t flags, uint64_t mode);


#endif
