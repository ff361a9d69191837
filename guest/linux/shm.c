/*
 * System V shared memory: shmget, shmat, shmdt, shmctl. A segment is a
 * list of pages of ours, allocated zeroed on first touch and mapped into
 * every attachment as the backing's own pages (vm_backing_ops), so all
 * attachments see the same bytes. The table is the VM's, as on Linux
 * where it is the IPC namespace's: attachments survive fork, so parent
 * and children share the segment. fio keeps its job state in one.
 *
 * mmap's MAP_SHARED|MAP_ANONYMOUS memory is a segment of the same kind
 * outside the table (no id, no key), gone with its last region: what a
 * forked child shares with its parent.
 */
#include <linux/ipc.h>
#include <linux/shm.h>
#include <asm/shmbuf.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/rtc.h"
#include "../kernel/time.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "process.h"
#include "shm.h"
#include "syscall.h"

#define SHM_SLOTS 128
#define PAGE 4096ULL
#define SHM_RND_FLAG 020000
#define SHM_RDONLY_FLAG 010000
#define SHM_REMAP_FLAG 040000
#define SHM_EXEC_FLAG 0100000

struct shm_seg {
	bool used, removed;
	bool anon;                /* mmap's shared anonymous memory: kmalloc'd, not in segs */
	int32_t key;
	uint16_t seq;             /* ids stay unique when a slot is reused */
	uint64_t size, npages;
	uint64_t *pages;          /* physical addresses, 0 until touched */
	uint32_t mode;
	uint64_t attach;          /* regions referring to it (vm hold/release) */
	int64_t atime, dtime, ctime;
	int cpid, lpid;
};

static struct shm_seg segs[SHM_SLOTS];

static int64_t now_s(void)
{
	return (int64_t)((rtc_boot_epoch_ns() + time_ns()) / 1000000000ULL);
}

static int id_of(const struct shm_seg *s)
{
	return (int)(s->seq * SHM_SLOTS + (s - segs));
}

static struct shm_seg *seg_of(int64_t id)
{
	if (id < 0)
		return NULL;
	struct shm_seg *s = &segs[id % SHM_SLOTS];
	return s->used && id_of(s) == id ? s : NULL;
}

static void destroy(struct shm_seg *s)
{
	for (uint64_t i = 0; i < s->npages; i++)
		if (s->pages[i])
			pmem_free(s->pages[i], 1);
	kfree(s->pages);
	s->pages = NULL;
	if (s->anon) {
		kfree(s);
		return;
	}
	s->used = false;
	s->seq++;
}

static int seg_get(void *ctx, uint64_t off, uint64_t *pa)
{
	struct shm_seg *s = ctx;
	uint64_t i = off / PAGE;
	if (i >= s->npages)
		return -ENXIO;
	if (!s->pages[i] && !(s->pages[i] = pmem_alloc(1)))
		return -ENOMEM;
	*pa = s->pages[i];
	return 0; /* the segment's own page */
}

static void seg_put(void *ctx, uint64_t pa)
{
	(void)ctx, (void)pa; /* the segment keeps it */
}

static void seg_hold(void *ctx)
{
	((struct shm_seg *)ctx)->attach++;
}

static void seg_release(void *ctx)
{
	struct shm_seg *s = ctx;
	if (--s->attach == 0 && s->removed)
		destroy(s);
}

static const struct vm_backing_ops shm_ops = {
	.get = seg_get, .put = seg_put, .hold = seg_hold, .release = seg_release,
};

int shm_map_anon(uint64_t addr, uint64_t len, uint32_t prot)
{
	struct shm_seg *s = kzalloc(sizeof(*s));
	uint64_t npages = len / PAGE;
	uint64_t *pages = s ? kzalloc(npages * sizeof(uint64_t)) : NULL;
	if (!pages) {
		kfree(s);
		return -ENOMEM;
	}
	*s = (struct shm_seg){ .used = true, .removed = true, .anon = true, .size = len,
			       .npages = npages, .pages = pages, .attach = 1 };
	int err = vm_add_backed(addr, len, prot, &shm_ops, s, 0, true, true);
	if (err) {
		s->attach = 0;
		destroy(s);
	}
	return err;
}

SYS(shmget)
{
	int32_t key = (int32_t)a0;
	uint64_t size = a1;
	uint32_t flg = (uint32_t)a2;
	if (key != IPC_PRIVATE)
		for (int i = 0; i < SHM_SLOTS; i++) {
			struct shm_seg *s = &segs[i];
			if (!s->used || s->removed || s->key != key)
				continue;
			if ((flg & IPC_CREAT) && (flg & IPC_EXCL))
				return -EEXIST;
			if (size > s->size)
				return -EINVAL;
			return id_of(s);
		}
	if (key != IPC_PRIVATE && !(flg & IPC_CREAT))
		return -ENOENT;
	if (size < SHMMIN || size > (1ULL << 46))
		return -EINVAL;
	uint64_t npages = (size + PAGE - 1) / PAGE;
	if (npages > pmem_total_pages())
		return -ENOMEM;
	struct shm_seg *s = NULL;
	for (int i = 0; i < SHM_SLOTS && !s; i++)
		if (!segs[i].used)
			s = &segs[i];
	if (!s)
		return -ENOSPC;
	uint64_t *pages = kzalloc(npages * sizeof(uint64_t));
	if (!pages)
		return -ENOMEM;
	uint16_t seq = s->seq;
	*s = (struct shm_seg){ .used = true, .key = key, .seq = seq, .size = size,
			       .npages = npages, .pages = pages, .mode = flg & 0777,
			       .ctime = now_s(), .cpid = current->proc->pid };
	return id_of(s);
}

SYS(shmat)
{
	struct shm_seg *s = seg_of((int64_t)(int)a0);
	uint64_t addr = a1, flg = a2;
	if (!s)
		return -EINVAL;
	uint64_t len = s->npages * PAGE;
	if (addr & (PAGE - 1)) {
		if (!(flg & SHM_RND_FLAG))
			return -EINVAL;
		addr &= ~(PAGE - 1);
	}
	if (addr) {
		if (addr < USER_MIN || addr + len > USER_TOP || addr + len < addr)
			return -EINVAL;
		if (flg & SHM_REMAP_FLAG)
			vm_remove(addr, len);
		else if (!vm_range_free(addr, len))
			return -EINVAL;
	} else if (!(addr = vm_find_free(len))) {
		return -ENOMEM;
	}
	uint32_t prot = VM_READ | (flg & SHM_RDONLY_FLAG ? 0 : VM_WRITE) |
			(flg & SHM_EXEC_FLAG ? VM_EXEC : 0);
	seg_hold(s); /* the region's reference */
	int err = vm_add_backed(addr, len, prot, &shm_ops, s, 0, true, !(flg & SHM_RDONLY_FLAG));
	if (err) {
		s->attach--;
		return err == -EINVAL ? -ENOMEM : err;
	}
	s->atime = now_s();
	s->lpid = current->proc->pid;
	return (int64_t)addr;
}

SYS(shmdt)
{
	struct vma *v = vm_find(a0);
	if (!v || v->backing != &shm_ops || v->start != a0 || v->file_off != 0 ||
	    ((struct shm_seg *)v->ctx)->anon)
		return -EINVAL;
	struct shm_seg *s = v->ctx;
	s->dtime = now_s();
	s->lpid = current->proc->pid;
	/* Every region of this attachment: from a0, as far as it goes. */
	uint64_t end = a0;
	for (struct vma *w = v; w && w->backing == &shm_ops && w->ctx == s &&
	     w->start == end && w->file_off == end - a0; w = w->next)
		end = w->end;
	vm_remove(a0, end - a0);
	return 0;
}

SYS(shmctl)
{
	int cmd = (int)a1 & ~0x100; /* IPC_64 */
	if (cmd == IPC_INFO || cmd == SHM_INFO)
		return -EINVAL; /* nobody we know asks; say so rather than invent figures */
	struct shm_seg *s = seg_of((int64_t)(int)a0);
	if (!s)
		return -EINVAL;
	switch (cmd) {
	case IPC_RMID:
		s->removed = true;
		s->key = IPC_PRIVATE;
		if (s->attach == 0)
			destroy(s);
		return 0;
	case IPC_STAT:
	case SHM_STAT: {
		struct shmid64_ds d;
		memset(&d, 0, sizeof(d));
		d.shm_perm.key = s->key;
		d.shm_perm.mode = s->mode | (s->removed ? 01000 : 0); /* SHM_DEST */
		d.shm_perm.seq = s->seq;
		d.shm_segsz = s->size;
		d.shm_atime = s->atime;
		d.shm_dtime = s->dtime;
		d.shm_ctime = s->ctime;
		d.shm_cpid = s->cpid;
		d.shm_lpid = s->lpid;
		d.shm_nattch = s->attach;
		return copy_to_user(a2, &d, sizeof(d)) ? -EFAULT : 0;
	}
	case IPC_SET: {
		struct shmid64_ds d;
		if (copy_from_user(&d, a2, sizeof(d)))
			return -EFAULT;
		s->mode = d.shm_perm.mode & 0777;
		s->ctime = now_s();
		return 0;
	}
	case SHM_LOCK:
	case SHM_UNLOCK:
		return 0; /* nothing is ever swapped out */
	default:
		return -EINVAL;
	}
}
