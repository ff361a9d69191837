/*
 * fcntl's byte-range locks (F_GETLK, F_SETLK, F_SETLKW and the OFD
 * variants) over lib/file_locks.c. A file is its vnode; POSIX locks are
 * the process's (one owner per process, so its threads' never conflict, and
 * closing any descriptor of the file drops them all, as POSIX says); OFD
 * locks belong to the open file description and go with its last
 * descriptor. Locks are the VM's own: the host and other VMs do not see
 * them (FUSE's lock requests are not used).
 */
#include <linux/fcntl.h>
#include <asm-generic/fcntl.h>
#include <linux/fs.h>
#include <pier/errno.h>
#include <pier/file_locks.h>
#include "../kernel/task.h"
#include "../mm/vm.h"
#include "file_lock.h"
#include "process.h"
#include "signal.h"
#include "syscall.h"

/* The process: every thread's POSIX locks are one owner's. */
#define POSIX_OWNER ((uint64_t)current->proc)

static struct file_locks locks;
static struct file_locks flocks; /* flock(2)'s: a table apart, as Linux keeps them */

static uint64_t file_key(const struct ofile *of)
{
	return (uint64_t)of->file->vn;
}

/* The flock's range as [*start, *end]: 0 or -EINVAL. */
static int range_of(struct ofile *of, const struct flock *l, uint64_t *start, uint64_t *end)
{
	int64_t base;
	switch (l->l_whence) {
	case SEEK_SET: base = 0; break;
	case SEEK_CUR: base = (int64_t)of->file->pos; break;
	case SEEK_END: {
		struct vnode *v = of->file->vn;
		if (v->ops->getattr && v->ops->getattr(v))
			return -EIO;
		base = (int64_t)v->attr.size;
		break;
	}
	default: return -EINVAL;
	}
	int64_t s = base + l->l_start, e;
	if (l->l_len > 0) {
		e = s + l->l_len - 1;
	} else if (l->l_len < 0) { /* the l_len bytes before start */
		e = s - 1;
		s += l->l_len;
	} else {
		e = -1; /* to the end, and on */
	}
	if (s < 0)
		return -EINVAL;
	*start = (uint64_t)s;
	*end = e < 0 ? FL_EOF : (uint64_t)e;
	return 0;
}

int64_t fcntl_lock(struct ofile *of, int cmd, uint64_t ufl)
{
	struct flock l;
	if (copy_from_user(&l, ufl, sizeof(l)))
		return -EFAULT;
	bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
	if (ofd && l.l_pid != 0)
		return -EINVAL;
	if (of->kind != OF_FILE)
		return -EINVAL; /* pipes and the console have no byte ranges to lock */
	int type = l.l_type == F_RDLCK ? FL_READ : l.l_type == F_WRLCK ? FL_WRITE
		 : l.l_type == F_UNLCK ? 0 : -1;
	if (type < 0)
		return -EINVAL;
	uint64_t start, end;
	int err = range_of(of, &l, &start, &end);
	if (err)
		return err;
	uint64_t owner = ofd ? (uint64_t)of : POSIX_OWNER, file = file_key(of);
	if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
		if (!type)
			return -EINVAL;
		const struct fl_range *c = fl_conflict(&locks, file, owner, start, end, type);
		if (!c) {
			l.l_type = F_UNLCK;
		} else {
			l.l_type = c->type == FL_WRITE ? F_WRLCK : F_RDLCK;
			l.l_whence = SEEK_SET;
			l.l_start = (int64_t)c->start;
			l.l_len = c->end == FL_EOF ? 0 : (int64_t)(c->end - c->start + 1);
			l.l_pid = c->pid;
		}
		return copy_to_user(ufl, &l, sizeof(l)) ? -EFAULT : 0;
	}
	uint32_t acc = of->flags & O_ACCMODE;
	if ((type == FL_READ && acc == O_WRONLY) || (type == FL_WRITE && acc == O_RDONLY))
		return -EBADF;
	bool wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
	for (;;) {
		if (!type || !fl_conflict(&locks, file, owner, start, end, type))
			break;
		if (!wait)
			return -EAGAIN;
		if (task_count() == 1)
			return -EDEADLK; /* the holder is this very thread */
		if (signal_interrupts())
			return -EINTR;
		task_wait(RQ_NO_DEADLINE);
	}
	err = fl_set(&locks, file, owner, start, end, type, ofd ? -1 : current->proc->pid);
	if (!err && !type)
		task_wake_all(); /* a waiter in F_SETLKW looks again */
	return err;
}

void file_locks_put(struct ofile *of, bool last)
{
	if (of->kind != OF_FILE || !of->file)
		return;
	if (last && fl_any(&flocks, file_key(of))) {
		fl_release(&flocks, file_key(of), (uint64_t)of);
		task_wake_all();
	}
	if (!fl_any(&locks, file_key(of)))
		return;
	fl_release(&locks, file_key(of), POSIX_OWNER);
	if (last)
		fl_release(&locks, file_key(of), (uint64_t)of);
	task_wake_all();
}

/*
 * flock(2): a whole-file lock held by the open file description (shared
 * by its dups), shared or exclusive; converting one drops it first, as
 * Linux's may. Locks of this VM only, as fcntl's.
 */
SYS(flock)
{
	struct ofile *of = fd_get((int)a0);
	if (!of)
		return -EBADF;
	if (of->kind != OF_FILE)
		return -EINVAL;
	int op = (int)a1 & ~LOCK_NB;
	int type = op == LOCK_SH ? FL_READ : op == LOCK_EX ? FL_WRITE : op == LOCK_UN ? 0 : -1;
	if (type < 0)
		return -EINVAL;
	uint64_t file = file_key(of), owner = (uint64_t)of;
	for (;;) {
		if (!type || !fl_conflict(&flocks, file, owner, 0, FL_EOF, type))
			break;
		if (a1 & LOCK_NB)
			return -EWOULDBLOCK;
		if (task_count() == 1)
			return -EDEADLK; /* only this thread could release it */
		if (signal_interrupts())
			return -EINTR;
		task_wait(RQ_NO_DEADLINE);
	}
	int err = fl_set(&flocks, file, owner, 0, FL_EOF, type, current->proc->pid);
	if (!err && type != FL_WRITE)
		task_wake_all(); /* a waiter for an exclusive lock looks again */
	return err;
}
