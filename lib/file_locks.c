/* Byte-range locks (see file_locks.h). */
#include <stddef.h>
#include <pier/errno.h>
#include <pier/file_locks.h>

static bool overlaps(const struct fl_range *r, uint64_t start, uint64_t end)
{
	return r->start <= end && start <= r->end;
}

const struct fl_range *fl_conflict(const struct file_locks *t, uint64_t file, uint64_t owner,
				   uint64_t start, uint64_t end, enum fl_type type)
{
	for (int i = 0; i < FL_MAX; i++) {
		const struct fl_range *r = &t->r[i];
		if (r->file == file && file && r->owner != owner && overlaps(r, start, end) &&
		    (type == FL_WRITE || r->type == FL_WRITE))
			return r;
	}
	return NULL;
}

static int free_slots(const struct file_locks *t)
{
	int n = 0;
	for (int i = 0; i < FL_MAX; i++)
		n += t->r[i].file == 0;
	return n;
}

static struct fl_range *free_slot(struct file_locks *t)
{
	for (int i = 0; i < FL_MAX; i++)
		if (t->r[i].file == 0)
			return &t->r[i];
	return NULL;
}

int fl_set(struct file_locks *t, uint64_t file, uint64_t owner, uint64_t start, uint64_t end,
	   int type, int pid)
{
	if (!file || start > end)
		return -EINVAL;
	/* Slots needed at worst: one range of ours split in two (one more),
	 * and the new range. Checked first, so a refusal changes nothing. */
	int need = type ? 1 : 0;
	for (int i = 0; i < FL_MAX; i++) {
		struct fl_range *r = &t->r[i];
		if (r->file == file && r->owner == owner && r->start < start && r->end > end) {
			need++;
			break; /* ours do not overlap each other: only one can */
		}
	}
	if (free_slots(t) < need)
		return -ENOLCK;
	for (int i = 0; i < FL_MAX; i++) {
		struct fl_range *r = &t->r[i];
		if (r->file != file || r->owner != owner || !overlaps(r, start, end))
			continue;
		struct fl_range old = *r;
		r->file = 0;
		if (old.start < start) { /* the part before stays */
			struct fl_range *k = free_slot(t);
			*k = old;
			k->end = start - 1;
		}
		if (old.end > end) { /* the part after stays */
			struct fl_range *k = free_slot(t);
			*k = old;
			k->start = end + 1;
		}
	}
	if (type) {
		struct fl_range *k = free_slot(t);
		*k = (struct fl_range){ file, owner, start, end, (enum fl_type)type, pid };
	}
	return 0;
}

void fl_release(struct file_locks *t, uint64_t file, uint64_t owner)
{
	for (int i = 0; i < FL_MAX; i++)
		if (t->r[i].owner == owner && (file == 0 || t->r[i].file == file))
			t->r[i].file = 0;
}

bool fl_any(const struct file_locks *t, uint64_t file)
{
	for (int i = 0; i < FL_MAX; i++)
		if (t->r[i].file == file && file)
			return true;
	return false;
}
