/* The lock order's check (see lock_order.h). */
#include <stddef.h>
#include <pier/lock_order.h>

const struct lock_class *lock_order_conflict(const struct lock_held *h,
					     const struct lock_class *c)
{
	for (unsigned i = 0; i < h->n && i < LOCK_HELD_MAX; i++)
		if (h->cls[i]->level >= c->level)
			return h->cls[i];
	return NULL;
}

int lock_held_push(struct lock_held *h, const struct lock_class *c)
{
	if (h->n >= LOCK_HELD_MAX)
		return -1;
	h->cls[h->n++] = c;
	return 0;
}

int lock_held_pop(struct lock_held *h, const struct lock_class *c)
{
	/* The most recent acquisition of c: locks usually go back in reverse. */
	for (unsigned i = h->n; i-- > 0;)
		if (h->cls[i] == c) {
			for (unsigned j = i; j + 1 < h->n; j++)
				h->cls[j] = h->cls[j + 1];
			h->n--;
			return 0;
		}
	return -1;
}
