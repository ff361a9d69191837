/* Futexes (futex.c): what other parts of the kernel need of them. */
#ifndef GUEST_FUTEX_H
#define GUEST_FUTEX_H

#include <stdint.h>

struct task;

/* Wakes up to n waiters on uaddr; returns how many. */
int futex_wake(uint64_t uaddr, int n);
/* A thread's exit: its robust futexes released, clear_child_tid zeroed
 * and its waiter woken (how pthread_join learns of it). */
void futex_thread_exit(struct task *t);

#endif
