/*
 * pier-oci exec's programs: more processes in a running VM, asked for by
 * the host on the pier.exec console port (include/pier/exec_wire.h).
 *
 * Each session is one program: SPAWN starts it as a process of its own
 * (no parent, its own session and group, the uid and gid asked for), with
 * stdin, stdout and stderr that are the session's streams; its exit
 * status goes back to the host (EXIT) and nobody waits for it. A kernel
 * task, execd, takes the requests: the device's interrupt wakes it, so a
 * request is served whatever the VM's other programs are doing.
 *
 * The streams are OF_CONSOLE descriptions whose obj is the session, so
 * everything that treats the console treats them alike (stat, sendfile,
 * /proc/PID/fd); stdio.c hands their reads, writes, polls and ioctls here.
 */
#ifndef GUEST_EXEC_SESSION_H
#define GUEST_EXEC_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct exec_session;
struct ofile;

/* Starts execd when the host offers exec (its HELLO said so). */
void exec_session_init(void);

/* A session's process ended with wstatus (process.c): the host is told. */
void exec_session_exited(struct exec_session *s, int wstatus);
/* A description of a session's stream was closed for the last time. */
void exec_session_put(struct exec_session *s);

int64_t exec_session_read(struct ofile *of, void *buf, uint64_t len);
int64_t exec_session_write(struct ofile *of, const void *buf, uint64_t len);
short exec_session_poll(struct ofile *of);
bool exec_session_is_terminal(const struct ofile *of);
int64_t exec_session_ioctl(struct ofile *of, uint64_t cmd, uint64_t arg);

#endif
