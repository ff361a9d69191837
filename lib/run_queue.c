/* Round-robin run queue (see run_queue.h). */
#include <stddef.h>
#include <pier/run_queue.h>

void rq_init(struct run_queue *q)
{
	q->head = NULL;
	q->count = 0;
	q->runnable = 0;
}

void rq_add(struct run_queue *q, struct rq_entry *e)
{
	e->on_cpu = 0;
	e->q = q;
	q->runnable += e->state == RQ_RUNNABLE;
	if (!q->head) {
		e->next = e->prev = e;
		q->head = e;
	} else {
		struct rq_entry *tail = q->head->prev;
		e->prev = tail;
		e->next = q->head;
		tail->next = e;
		q->head->prev = e;
	}
	q->count++;
}

void rq_remove(struct run_queue *q, struct rq_entry *e)
{
	if (e->next == e) {
		q->head = NULL;
	} else {
		e->prev->next = e->next;
		e->next->prev = e->prev;
		if (q->head == e)
			q->head = e->next;
	}
	e->next = e->prev = NULL;
	e->q = NULL;
	q->count--;
	q->runnable -= e->state == RQ_RUNNABLE;
}

void rq_wait(struct rq_entry *e, uint64_t deadline)
{
	if (e->q && e->state == RQ_RUNNABLE)
		e->q->runnable--;
	e->state = RQ_WAITING;
	e->deadline = deadline;
}

void rq_wake(struct rq_entry *e)
{
	if (e->q && e->state == RQ_WAITING)
		e->q->runnable++;
	e->state = RQ_RUNNABLE;
	e->deadline = RQ_NO_DEADLINE;
}

void rq_wake_all(struct run_queue *q)
{
	struct rq_entry *e = q->head;
	for (int i = 0; i < q->count; i++, e = e->next)
		rq_wake(e);
}

struct rq_entry *rq_pick(struct run_queue *q, struct rq_entry *cur, int cpu, uint64_t now,
			 uint64_t *wake_at)
{
	*wake_at = RQ_NO_DEADLINE;
	if (!q->head)
		return NULL;
	struct rq_entry *start = cur ? cur->next : q->head, *e = start;
	for (int i = 0; i < q->count; i++, e = e->next) {
		if (!(e->allowed >> cpu & 1))
			continue;
		if (e->state == RQ_WAITING && e->deadline <= now)
			rq_wake(e);
		if (e->state == RQ_RUNNABLE && (!e->on_cpu || e == cur))
			return e;
		if (e->deadline < *wake_at)
			*wake_at = e->deadline;
	}
	return NULL;
}

int rq_others_runnable(const struct run_queue *q, const struct rq_entry *e)
{
	int n = 0;
	const struct rq_entry *x = q->head;
	for (int i = 0; i < q->count; i++, x = x->next)
		n += x != e && x->state == RQ_RUNNABLE;
	return n;
}
