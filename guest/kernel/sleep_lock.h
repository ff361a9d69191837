/*
 * A sleeping lock under the kernel lock: taken and given back by the
 * kernel lock's holder, and a task that finds it taken waits (task_wait,
 * which lets the kernel lock go) until it is given back. What it guards
 * may thus stay held across a device wait that lets the kernel lock go.
 * Its holder may take it again (the depth counts). Used for an open
 * file's position (Linux's f_pos_lock) and a file's writes (i_rwsem's
 * writer side).
 */
#ifndef GUEST_SLEEP_LOCK_H
#define GUEST_SLEEP_LOCK_H

#include <stdbool.h>

struct task;

struct sleep_lock {
	struct task *owner;
	int depth;
	int waiters;
};

/* Takes l (NULL: nothing); whether it had to wait for it, so that the
 * caller checks again what it looked at before (a user buffer). */
bool sleep_lock(struct sleep_lock *l);
void sleep_unlock(struct sleep_lock *l);

#endif
