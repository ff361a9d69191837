/*
 * fcntl byte-range locks as sqlite3 and friends use them: POSIX locks are
 * the process's (never conflicting with its own, all dropped when any
 * descriptor of the file closes), OFD locks the open file description's
 * (conflicting between two opens of one file, even in one process), and
 * F_OFD_SETLKW waiting in one thread for another to unlock.
 *
 * The file is /dev/zero opened read-write: Linux locks ranges of any
 * file, and the fixture is read-only in the guest.
 */
#include <fcntl.h>
#include <sys/file.h>
#include <pthread.h>
#include <unistd.h>
#include "check.h"

#define FILE "/dev/zero"

static int lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	return fcntl(fd, cmd, &l);
}

static struct flock probe(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	CHECK_SYS(fcntl(fd, cmd, &l));
	return l;
}

static void posix_locks(void)
{
	int a = CHECK_SYS(open(FILE, O_RDWR));
	int b = CHECK_SYS(open(FILE, O_RDWR));
	CHECK_SYS(lock(a, F_SETLK, F_WRLCK, 0, 100));
	/* The same process: never a conflict, whichever descriptor. */
	CHECK_SYS(lock(b, F_SETLK, F_WRLCK, 50, 100));
	CHECK(probe(b, F_GETLK, F_WRLCK, 0, 0).l_type == F_UNLCK);
	CHECK_ERR(lock(a, F_SETLK, 7, 0, 1), EINVAL);
	CHECK_ERR(lock(a, F_SETLK, F_WRLCK, -5, 1), EINVAL);
	int r = CHECK_SYS(open(FILE, O_RDONLY));
	CHECK_ERR(lock(r, F_SETLK, F_WRLCK, 0, 1), EBADF); /* write lock, read-only fd */
	close(r);
	close(a);
	close(b);
	OK("posix_locks");
}

static void ofd_locks(void)
{
	int a = CHECK_SYS(open(FILE, O_RDWR));
	int b = CHECK_SYS(open(FILE, O_RDWR));
	CHECK_SYS(lock(a, F_OFD_SETLK, F_WRLCK, 10, 10)); /* bytes 10..19 */
	CHECK_ERR(lock(b, F_OFD_SETLK, F_RDLCK, 15, 1), EAGAIN);
	CHECK_SYS(lock(b, F_OFD_SETLK, F_WRLCK, 20, 5)); /* next to it: fine */
	struct flock l = probe(b, F_OFD_GETLK, F_RDLCK, 0, 0);
	CHECK(l.l_type == F_WRLCK && l.l_start == 10 && l.l_len == 10 && l.l_pid == -1);
	/* Unlocking the middle leaves two pieces. */
	CHECK_SYS(lock(a, F_OFD_SETLK, F_UNLCK, 12, 4));
	CHECK_SYS(lock(b, F_OFD_SETLK, F_WRLCK, 12, 4));
	CHECK_ERR(lock(b, F_OFD_SETLK, F_WRLCK, 11, 1), EAGAIN);
	CHECK_ERR(lock(b, F_OFD_SETLK, F_WRLCK, 16, 1), EAGAIN);
	/* Shared read locks. */
	CHECK_SYS(lock(a, F_OFD_SETLK, F_RDLCK, 100, 10));
	CHECK_SYS(lock(b, F_OFD_SETLK, F_RDLCK, 105, 10));
	CHECK_ERR(lock(b, F_OFD_SETLK, F_WRLCK, 100, 1), EAGAIN);
	/* A dup shares the description: its close drops nothing. */
	int d = CHECK_SYS(dup(a));
	close(d);
	CHECK_ERR(lock(b, F_OFD_SETLK, F_WRLCK, 10, 1), EAGAIN);
	close(a); /* the last descriptor: a's locks go */
	CHECK_SYS(lock(b, F_OFD_SETLK, F_WRLCK, 0, 0));
	close(b);
	OK("ofd_locks");
}

static int held_fd;

static void *unlock_later(void *arg)
{
	(void)arg;
	usleep(50000);
	CHECK_SYS(lock(held_fd, F_OFD_SETLK, F_UNLCK, 0, 0));
	return NULL;
}

static void waiting_lock(void)
{
	held_fd = CHECK_SYS(open(FILE, O_RDWR));
	int b = CHECK_SYS(open(FILE, O_RDWR));
	CHECK_SYS(lock(held_fd, F_OFD_SETLK, F_WRLCK, 0, 0));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, unlock_later, NULL) == 0);
	CHECK_SYS(lock(b, F_OFD_SETLKW, F_WRLCK, 0, 1)); /* waits for the thread */
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_ERR(lock(held_fd, F_OFD_SETLK, F_WRLCK, 0, 1), EAGAIN);
	close(b);
	close(held_fd);
	OK("waiting_lock");
}

/* flock(2): whole-file locks of the open file description. */
static void flock_locks(void)
{
	int a = CHECK_SYS(open(FILE, O_RDWR));
	int b = CHECK_SYS(open(FILE, O_RDWR));
	CHECK_SYS(flock(a, LOCK_SH));
	CHECK_SYS(flock(b, LOCK_SH | LOCK_NB)); /* shared with shared */
	CHECK_ERR(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	int d = CHECK_SYS(dup(a));
	CHECK_SYS(flock(d, LOCK_UN)); /* the same description as a: a's lock goes */
	CHECK_SYS(flock(b, LOCK_EX | LOCK_NB));
	CHECK_ERR(flock(a, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	CHECK_ERR(flock(a, LOCK_SH | LOCK_EX), EINVAL);
	/* Independent of fcntl locks, as on Linux. */
	CHECK_SYS(lock(a, F_OFD_SETLK, F_WRLCK, 0, 0));
	close(b); /* its last descriptor: its flock goes */
	CHECK_SYS(flock(a, LOCK_EX | LOCK_NB));
	close(d);
	close(a);
	OK("flock_locks");
}

int main(void)
{
	posix_locks();
	ofd_locks();
	waiting_lock();
	flock_locks();
	printf("locks: all passed\n");
	return 0;
}
