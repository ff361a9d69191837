/*
 * Processes: what a program's threads share (address space, open files,
 * working directory, heap break, signal handlers, pending process
 * signals), and the tree they form: pid 1 is the program pier started,
 * the others its descendants (fork, vfork, clone without CLONE_THREAD).
 * What each thread has of its own (registers, TLS base, signal mask) is
 * struct task; task->proc is its process. process.c has the life cycle.
 */
#ifndef GUEST_PROCESS_H
#define GUEST_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include "../fs/vfs.h"
#include "../kernel/task.h"

#define MAX_FDS 256

enum ofile_kind { OF_FILE, OF_CONSOLE, OF_PIPE_READ, OF_PIPE_WRITE, OF_TIMERFD, OF_EVENTFD,
		  OF_EPOLL, OF_SIGNALFD, OF_SOCKET };

struct pipe;

/* An open file description: shared by dup'd descriptors (offset, flags). */
struct ofile {
	enum ofile_kind kind;
	int refs;
	uint32_t flags;           /* O_* status flags */
	struct file *file;        /* OF_FILE */
	struct pipe *pipe;        /* OF_PIPE_* */
	void *obj;                /* OF_TIMERFD, OF_EVENTFD: event_fds.c's; OF_EPOLL: epoll.c's;
	                           * OF_SIGNALFD: signal_wait.c's; OF_SOCKET: its net_sock;
	                           * OF_CONSOLE: see stream */
	int stream;               /* OF_CONSOLE: 0 stdin, 1 stdout, 2 stderr; its obj: the
	                           * exec_session of pier-oci exec's program, or NULL */
	char *path;               /* absolute path it was opened by, for *at() */
};

struct mm;
struct sig_info;
struct exec_session;

enum proc_state { PROC_LIVE, PROC_ZOMBIE };

struct process {
	int pid, pgid, sid;
	enum proc_state state;
	struct process *parent;      /* NULL for pid 1 */
	struct process *children;    /* live and zombie, newest first */
	struct process *sibling;     /* next in parent->children */
	struct process *all_next;    /* every process, for lookups */
	struct mm *mm;               /* NULL once it exited */
	int nthreads;                /* its live tasks */
	struct task *killer;         /* the thread ending the others (exit, exec) */
	bool *vfork_done;            /* a vfork child's parent waits until it is true */
	int exit_signal;             /* sent to the parent at exit (SIGCHLD; 0: none) */
	int wstatus;                 /* a zombie's, as wait4 reports it */
	uint64_t child_run_ns, child_sys_ns; /* waited-for children's CPU time (RUSAGE_CHILDREN) */
	uint64_t run_ns, sys_ns;     /* a zombie's own CPU time */
	struct ofile *fds[MAX_FDS];
	bool cloexec[MAX_FDS];
	char cwd[VFS_PATH_MAX];
	uint64_t brk_start, brk;
	uint64_t gs_base;
	uint32_t umask;
	uint64_t sigactions[65][4]; /* handler, flags, restorer, mask */
	uint64_t sigpending;        /* sent to the process: any thread not blocking one takes it */
	struct sig_info *pinfo;     /* [65], what came with each of those */
	int exit_status;            /* the main thread's, if it exits first */
	int nice;                   /* setpriority's, -20..19 */
	char *exe;                  /* the program's absolute path (/proc/PID/exe) */
	char *cmdline;              /* its arguments, each NUL-ended (/proc/PID/cmdline) */
	uint64_t cmdline_len;
	bool strace;
	uint32_t uid, gid;           /* its identity; vfs_uid/gid hold the running one's */
	struct exec_session *exec;   /* pier-oci exec's program: its session (exec_session.c) */
};


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
/* A system call's own reference for its duration (its waits may let the
 * kernel lock go): given back without close's meaning (the process's
 * record locks stay), unless it is the last, which closes as ofile_put. */
static inline void ofile_hold(struct ofile *of)
{
	of->refs++;
}
void ofile_unhold(struct ofile *of);
/* Both of a call's files (they may be one). */
void ofile_hold_two(struct ofile *a, struct ofile *b);
void ofile_unhold_two(struct ofile *a, struct ofile *b);

/*
 * A file's position, taken by a system call that reads or moves it (Linux's
 * f_pos_lock), with the kernel lock held: a read() whose FUSE_READ lets the
 * kernel lock go keeps it meanwhile, so another read(), write() or lseek()
 * of the same open file waits rather than use the same offset. The same
 * task may take it again (readv's elements); f NULL: nothing. Whether it
 * waited (the kernel lock went meanwhile: a program buffer checked before
 * must be checked again). Two files are taken in one order by every
 * caller, so no two calls wait for each other.
 */
bool file_pos_lock(struct file *f);
void file_pos_unlock(struct file *f);
void file_pos_lock_two(struct file *a, struct file *b);
void file_pos_unlock_two(struct file *a, struct file *b);

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

/* ---- the process tree (process.c) ---- */

/* pid 1, for the program pier runs: current's process from now on.
 * NULL: no memory. */
struct process *process_init_first(int pid);
/* The process with that pid (zombies too), or NULL. */
struct process *process_find(int pid);
/* Calls fn for every process (zombies too). */
void process_for_each(void (*fn)(struct process *p, void *arg), void *arg);
int process_count(void);
/* fork, vfork and clone without CLONE_THREAD (sys_thread.c's checks
 * done): a new process, a copy of current's, sharing its address space
 * with share_vm; its first task returns 0 to user_rsp. The child's pid
 * or -errno. */
int64_t process_fork(uint64_t flags, int exit_signal, uint64_t user_rsp, uint64_t tls,
		     uint64_t ptid, uint64_t ctid);
/* execve's point of no return: the other threads gone, close-on-exec
 * descriptors closed, handlers reset, the vfork parent let go. */
void process_exec_reset(void);
/* Whether another thread of current's process is ending it (exit) or
 * replacing its image (exec): then current only goes away. */
bool process_dying(void);
/* A vfork child exec'd or exited: its parent goes on. */
void process_vfork_release(struct process *p);
/* exit(2) of a thread that is not its process's last. */
__attribute__((noreturn)) void process_thread_exit(void);
/* wait4 took zombie child c: its times go to the parent's, it goes. */
void process_reap(struct process *c);
/* CPU time of p, all its threads' (exited ones too). */
void process_cpu_time(struct process *p, uint64_t *run, uint64_t *sys);
/* Ends the calling thread's process: exit_group(status) or death by a
 * signal (wstatus as wait4 reports either). pid 1 ends the VM. */
__attribute__((noreturn)) void process_exit_wstatus(int wstatus);
/* A process with no parent and no image yet, with one task that starts
 * in the kernel at fn(arg) (task_spawn): pier-oci exec's programs. Its
 * pid, or -errno. */
int process_spawn(int64_t (*fn)(void *arg), void *arg, uint32_t uid, uint32_t gid,
		  struct exec_session *exec);
/* The tty's foreground process group (TIOCGPGRP/TIOCSPGRP). */
extern int tty_foreground_pgrp;

/* open(2) at dirfd: returns the new descriptor or -errno. */
int64_t sys_open_at(int dirfd, uint64_t upath, uint64_t flags, uint64_t mode);


#endif
