/* pier's helper threads (device threads, the relay, the exec and net
 * servers): signals stay the main thread's. */
#ifndef HOST_THREADS_H
#define HOST_THREADS_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread but SIGSYS:
 * the kernel forces a blocked SIGSYS to its default action, and seccomp.c's
 * report of a forbidden call would be lost. 0 or the error number. */
int thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
