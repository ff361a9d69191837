/*
 * Byte-range locks (fcntl F_SETLK and the OFD variants) as Linux keeps
 * them: per file, ranges held by owners (a process for POSIX locks, an
 * open file description for OFD locks), read locks shared, write locks
 * exclusive between different owners; an owner's new lock replaces what
 * it held over the range (splitting its old ranges). Pure logic over a
 * fixed table; the guest's fcntl maps its arguments onto it. Not
 * thread-safe: the caller serialises.
 */
#ifndef PIER_FILE_LOCKS_H
#define PIER_FILE_LOCKS_H

#include <stdbool.h>
#include <stdint.h>

#define FL_MAX 256        /* ranges held at once, all files: past it ENOLCK */
#define FL_EOF UINT64_MAX /* a range's end "to the end of the file, and on" */

enum fl_type { FL_READ = 1, FL_WRITE = 2 };

struct fl_range {
	uint64_t file;   /* the caller's name for the file (0: free slot) */
	uint64_t owner;  /* the caller's name for the holder */
	uint64_t start, end; /* inclusive */
	enum fl_type type;
	int pid;         /* reported by F_GETLK (-1 for OFD locks) */
};

struct file_locks {
	struct fl_range r[FL_MAX];
};

/* The first range of another owner that a lock [start, end] of `type` by
 * owner on file would conflict with, or NULL. */
const struct fl_range *fl_conflict(const struct file_locks *t, uint64_t file, uint64_t owner,
				   uint64_t start, uint64_t end, enum fl_type type);
/* Sets (type FL_READ/FL_WRITE) or clears (type 0) owner's lock on
 * [start, end] of file. The caller has checked fl_conflict. 0, or
 * -ENOLCK when the table is full (nothing changed then). */
int fl_set(struct file_locks *t, uint64_t file, uint64_t owner, uint64_t start, uint64_t end,
	   int type, int pid);
/* Drops every lock owner holds on file (file 0: on every file). */
void fl_release(struct file_locks *t, uint64_t file, uint64_t owner);
/* Whether any lock is held on file (by anyone). */
bool fl_any(const struct file_locks *t, uint64_t file);

#endif
