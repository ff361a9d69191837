/* Sleeping locks under the kernel lock (sleep_lock.h). */
#include "sleep_lock.h"
#include "task.h"

bool sleep_lock(struct sleep_lock *l)
{
	if (!l)
		return false;
	if (l->owner == current) {
		l->depth++;
		return false;
	}
	bool waited = false;
	while (l->owner) {
		l->waiters++;
		task_wait(RQ_NO_DEADLINE);
		l->waiters--;
		waited = true;
	}
	l->owner = current;
	l->depth = 1;
	return waited;
}

void sleep_unlock(struct sleep_lock *l)
{
	if (!l || --l->depth)
		return;
	l->owner = NULL;
	if (l->waiters)
		task_wake_all();
}
