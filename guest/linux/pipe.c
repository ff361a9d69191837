/* In-kernel pipes (see pipe.h). */
#include <linux/signal.h>
#include <pier/errno.h>
#include "../kernel/task.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "pipe.h"
#include "signal.h"

struct pipe *pipe_new(void)
{
	return kzalloc(sizeof(struct pipe));
}

static int64_t peek(struct pipe *p, char *buf, uint64_t len)
{
	if (p->len == 0)
		return p->writers ? -EAGAIN : 0;
	uint64_t n = 0;
	for (; n < len && n < p->len; n++)
		buf[n] = p->buf[(p->head + n) % PIPE_SIZE];
	return (int64_t)n;
}

void pipe_drop(struct pipe *p, uint64_t n)
{
	n = n < p->len ? n : p->len;
	p->head = (uint32_t)((p->head + n) % PIPE_SIZE);
	p->len -= (uint32_t)n;
	p->events++;
	task_wake_all(); /* a writer waiting for room */
}

int64_t pipe_read(struct pipe *p, char *buf, uint64_t len)
{
	int64_t n = peek(p, buf, len);
	if (n > 0)
		pipe_drop(p, (uint64_t)n);
	return n;
}

int64_t pipe_write(struct pipe *p, const char *buf, uint64_t len)
{
	if (!p->readers)
		return -EPIPE;
	if (p->len == PIPE_SIZE)
		return -EAGAIN;
	uint64_t n = 0;
	while (n < len && p->len < PIPE_SIZE) {
		p->buf[(p->head + p->len) % PIPE_SIZE] = buf[n++];
		p->len++;
	}
	p->events++;
	task_wake_all(); /* a reader waiting for data */
	return (int64_t)n;
}

/* Only another thread can change the pipe: alone, waiting would be for
 * ever, so then the answer stays EAGAIN. */
static bool may_wait(bool nonblock)
{
	return !nonblock && task_count() > 1;
}

/* buf may be the program's (read(2) hands it down unbounced): after a
 * wait it is checked again before anything is copied to or from it, and
 * a buffer unmapped meanwhile is EFAULT with the pipe's bytes left in it,
 * as Linux. */
static int64_t read_wait(struct pipe *p, char *buf, uint64_t len, bool nonblock, bool take)
{
	for (bool waited = false;; waited = true) {
		if (waited && user_buf_gone(buf, len, true))
			return -EFAULT;
		int64_t r = take ? pipe_read(p, buf, len) : peek(p, buf, len);
		if (r != -EAGAIN || !may_wait(nonblock))
			return r;
		if (signal_interrupts())
			return -EINTR;
		task_wait(RQ_NO_DEADLINE);
	}
}

int64_t pipe_read_wait(struct pipe *p, char *buf, uint64_t len, bool nonblock)
{
	return read_wait(p, buf, len, nonblock, true);
}

int64_t pipe_peek_wait(struct pipe *p, char *buf, uint64_t len, bool nonblock)
{
	return read_wait(p, buf, len, nonblock, false);
}

int64_t pipe_room_wait(struct pipe *p, bool nonblock)
{
	for (;;) {
		if (!p->readers) {
			signal_post_thread(current, SIGPIPE);
			return -EPIPE;
		}
		if (p->len < PIPE_SIZE)
			return PIPE_SIZE - p->len;
		if (!may_wait(nonblock))
			return -EAGAIN;
		if (signal_interrupts())
			return -EINTR;
		task_wait(RQ_NO_DEADLINE);
	}
}

int64_t pipe_write_wait(struct pipe *p, const char *buf, uint64_t len, bool nonblock)
{
	uint64_t done = 0;
	for (bool waited = false;; waited = true) {
		if (waited && user_buf_gone(buf + done, len - done, false))
			return done ? (int64_t)done : -EFAULT; /* as read_wait */
		int64_t r = pipe_write(p, buf + done, len - done);
		if (r > 0)
			done += (uint64_t)r;
		else if (r == -EPIPE && !done) {
			signal_post_thread(current, SIGPIPE); /* the writer's thread, as Linux */
			return r;
		} else if (r != -EAGAIN)
			return done ? (int64_t)done : r;
		if (done == len || !may_wait(nonblock))
			return done ? (int64_t)done : r;
		if (signal_interrupts())
			return done ? (int64_t)done : -EINTR;
		task_wait(RQ_NO_DEADLINE);
	}
}
