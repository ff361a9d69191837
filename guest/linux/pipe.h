/* In-kernel pipes: a ring buffer between two ends, in one process or two. */
#ifndef GUEST_PIPE_H
#define GUEST_PIPE_H

#include <stdbool.h>
#include <stdint.h>

#define PIPE_SIZE 65536

struct pipe {
	char buf[PIPE_SIZE];
	uint32_t head, len;
	int readers, writers;
	uint64_t events;   /* bumped at every change: what EPOLLET reports */
};

struct pipe *pipe_new(void);
/* Bytes read; 0 at end (no writers left); -EAGAIN when empty. */
int64_t pipe_read(struct pipe *p, char *buf, uint64_t len);
/* Bytes written; -EPIPE without readers; -EAGAIN when full. */
int64_t pipe_write(struct pipe *p, const char *buf, uint64_t len);
/* read(2)/write(2) on a pipe: they wait (for another thread or process)
 * unless nonblock, and end with EINTR for a signal. A blocking write
 * writes it all, as Linux's does; with no reader left it is EPIPE and
 * SIGPIPE for the writing thread. */
int64_t pipe_read_wait(struct pipe *p, char *buf, uint64_t len, bool nonblock);
int64_t pipe_write_wait(struct pipe *p, const char *buf, uint64_t len, bool nonblock);
/* For splice, which must not lose what its other end does not take:
 * pipe_peek_wait is pipe_read_wait leaving the bytes in, pipe_drop takes
 * n of them out; pipe_room_wait waits for room (unless nonblock): how
 * much, -EPIPE without readers (SIGPIPE sent), -EAGAIN or -EINTR. */
int64_t pipe_peek_wait(struct pipe *p, char *buf, uint64_t len, bool nonblock);
void pipe_drop(struct pipe *p, uint64_t n);
int64_t pipe_room_wait(struct pipe *p, bool nonblock);

#endif
