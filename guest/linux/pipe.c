/* In-kernel pipes (see pipe.h). */
#include <pier/errno.h>
#include "../mm/mm.h"
#include "pipe.h"

struct pipe *pipe_new(void)
{
	return kzalloc(sizeof(struct pipe));
}

int64_t pipe_read(struct pipe *p, char *buf, uint64_t len)
{
	if (p->len == 0)
		return p->writers ? -EAGAIN : 0;
	uint64_t n = 0;
	while (n < len && p->len) {
		buf[n++] = p->buf[p->head];
		p->head = (p->head + 1) % PIPE_SIZE;
		p->len--;
	}
	return (int64_t)n;
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
	return (int64_t)n;
}
