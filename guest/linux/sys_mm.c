/*
 * Memory system calls over the program's regions (mm/vm.c). Anonymous
 * memory appears zeroed on first touch; a private file mapping is filled
 * by reading the file in at mmap time, unless the file system can hand out
 * its own pages (DAX: file_map.c), which a read-only or shared mapping
 * then uses with no copy. A shared mapping of a file open for writing
 * writes the file (file_map.c): msync and munmap make it durable.
 */
#include <asm/mman.h>
#include <linux/mman.h>
#include <linux/fcntl.h>
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/task.h"
#include "../mm/mm.h"
#include "../mm/vm.h"
#include "file_map.h"
#include "shm.h"
#include "process.h"
#include "syscall.h"

#define PAGE 4096ULL
#define BRK_MAX (1ULL << 30) /* how far the heap may grow past the program */
#define MMAP_READ_CHUNK TASK_IO_BUF /* bytes per read when a mapping is copied: the
				     * task's whole buffer, one FUSE_READ each */
_Static_assert(MMAP_READ_CHUNK <= TASK_IO_BUF, "the task's buffer holds a chunk");

static uint64_t round_up(uint64_t v)
{
	return (v + PAGE - 1) & ~(PAGE - 1);
}

static uint32_t vm_prot(uint64_t prot)
{
	return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) |
	       (prot & PROT_EXEC ? VM_EXEC : 0);
}

SYS(brk)
{
	uint64_t want = a0;
	if (want < current->proc->brk_start || want > current->proc->brk_start + BRK_MAX)
		return (int64_t)current->proc->brk;
	uint64_t old_end = round_up(current->proc->brk), new_end = round_up(want);
	if (new_end > old_end) {
		if (vm_add(old_end, new_end - old_end, VM_READ | VM_WRITE, "brk"))
			return (int64_t)current->proc->brk; /* collides with a mapping */
	} else if (new_end < old_end) {
		vm_remove(new_end, old_end - new_end);
	}
	/* Bytes past the old break inside its last page must read as zero again. */
	if (want > current->proc->brk && (current->proc->brk & (PAGE - 1)) && current->proc->brk != current->proc->brk_start) {
		uint64_t end = want < old_end ? want : old_end;
		if (end > current->proc->brk)
			memset((void *)current->proc->brk, 0, end - current->proc->brk);
	}
	current->proc->brk = want;
	return (int64_t)want;
}

SYS(mmap)
{
	uint64_t addr = a0, len = a1, prot = a2, flags = a3, off = a5;
	int fd = (int)a4;
	if (len == 0 || (addr & (PAGE - 1)) || (off & (PAGE - 1)))
		return -EINVAL;
	len = round_up(len);
	if (!len)
		return -ENOMEM;
	int type = flags & MAP_TYPE;
	/* Like Linux's heuristic overcommit: memory the mapping may need of
	 * its own (private and writable, not MAP_NORESERVE) beyond all there
	 * is is refused up front rather than failing page by page later. A
	 * read-only or PROT_NONE reservation needs none: ld.so reserves a
	 * library's whole span so (fio's libceph-common: 147 MB). */
	if ((prot & PROT_WRITE) && type == MAP_PRIVATE && !(flags & MAP_NORESERVE) &&
	    len / PAGE > pmem_total_pages())
		return -ENOMEM;
	if (type != MAP_PRIVATE && type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	struct ofile *of = NULL;
	if (!(flags & MAP_ANONYMOUS)) {
		of = fd_get(fd);
		if (!of)
			return -EBADF;
		if (of->kind != OF_FILE || of->file->dir)
			return -ENODEV;
		/* Linux: a shared mapping is writable only through O_RDWR. */
		if (type != MAP_PRIVATE && (prot & PROT_WRITE) &&
		    (of->flags & O_ACCMODE) != O_RDWR)
			return -EACCES;
		if ((of->flags & O_ACCMODE) == O_WRONLY)
			return -EACCES;
	}
	if (flags & MAP_FIXED) {
		if (addr < USER_MIN || addr + len > USER_TOP || addr + len < addr)
			return -EINVAL;
		vm_remove(addr, len);
	} else if (flags & MAP_FIXED_NOREPLACE) {
		if (!vm_range_free(addr, len))
			return -EEXIST;
	} else if (!addr || !vm_range_free(addr, len)) {
		addr = vm_find_free(len);
		if (!addr)
			return -ENOMEM;
	}
	uint32_t p = vm_prot(prot);
	/* A file the file system can map (DAX): its own pages, no copy; a
	 * private writable mapping copies a page when it is first written
	 * (mm/vm.c), so the file is never written. */
	if (of) {
		int err = file_map_add(addr, len, p, of, off, type != MAP_PRIVATE);
		if (err != -EOPNOTSUPP)
			return err ? (err == -EINVAL ? -ENOMEM : err) : (int64_t)addr;
	}
	if (!of) {
		/* Shared anonymous memory stays one across fork: a segment's pages. */
		int err = type == MAP_PRIVATE ? vm_add(addr, len, p, "mmap") : shm_map_anon(addr, len, p);
		return err ? (err == -EINVAL ? -ENOMEM : err) : (int64_t)addr;
	}
	/* A copy: the file's pages read in now; whole pages past its end are
	 * SIGBUS when touched, as on Linux. */
	struct vnode *vn = of->file->vn;
	int err = vn->ops->getattr ? vn->ops->getattr(vn) : 0; /* ramfs: always current */
	if (err)
		return err;
	uint64_t size = vn->attr.size;
	bool shared = type != MAP_PRIVATE;
	uint64_t body = off >= size ? 0 : round_up(size - off) < len ? round_up(size - off) : len;
	err = body ? vm_add_file(addr, body, p, shared, false) : 0;
	if (!err && body < len && (err = vm_add_file(addr + body, len - body, p, shared, true)))
		vm_remove(addr, body);
	if (err)
		return err == -EINVAL ? -ENOMEM : err;
	/* Read in 256 KiB at a time (one FUSE_READ, not one per page), copied
	 * page by page through the kernel's view: read-only pages too. */
	char *buf = task_io_buffer();
	if (!buf) {
		vm_remove(addr, len);
		return -ENOMEM;
	}
	for (uint64_t o = 0; o < body; o += MMAP_READ_CHUNK) {
		uint64_t want = body - o < MMAP_READ_CHUNK ? body - o : MMAP_READ_CHUNK;
		int64_t n = vfs_pread(of->file, buf, want, off + o);
		for (uint64_t pg = 0; n > 0 && pg < (uint64_t)n; pg += PAGE) {
			char *page = vm_page(addr + o + pg);
			if (!page) {
				n = -ENOMEM;
				break;
			}
			memcpy(page, buf + pg, (uint64_t)n - pg < PAGE ? (uint64_t)n - pg : PAGE);
		}
		if (n < 0) {
			vm_remove(addr, len);
			return n;
		}
		if ((uint64_t)n < want)
			break; /* the rest of the last page stays zero */
	}
	return (int64_t)addr;
}

SYS(munmap)
{
	if ((a0 & (PAGE - 1)) || a1 == 0 || a0 + a1 < a0 || a0 + a1 > USER_TOP)
		return -EINVAL;
	vm_remove(a0, a1);
	return 0;
}

SYS(msync)
{
	if ((a0 & (PAGE - 1)) || (a2 & ~(uint64_t)(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) ||
	    ((a2 & MS_ASYNC) && (a2 & MS_SYNC)) || a0 + a1 < a0)
		return -EINVAL;
	/* MS_ASYNC writes back too: copies would otherwise wait for munmap. */
	return vm_msync(a0, round_up(a1), a2 & MS_SYNC);
}

SYS(mprotect)
{
	if (a0 & (PAGE - 1))
		return -EINVAL;
	if (a1 == 0)
		return 0;
	return vm_protect(a0, round_up(a1), vm_prot(a2));
}

SYS(mremap)
{
	uint64_t old = a0, old_len = round_up(a1), new_len = round_up(a2), flags = a3;
	if ((old & (PAGE - 1)) || new_len == 0 || (flags & ~(uint64_t)(MREMAP_MAYMOVE | MREMAP_FIXED)))
		return -EINVAL;
	struct vma *v = vm_find(old);
	if (!v || !vm_covered(old, old_len))
		return -EFAULT;
	if (v->backing && new_len > old_len)
		return -EINVAL; /* growing or moving a file's own pages: not supported */
	uint32_t prot = v->prot;
	if (new_len <= old_len) {
		if (new_len < old_len)
			vm_remove(old + new_len, old_len - new_len);
		return (int64_t)old;
	}
	/* Grow in place when the space after it is free. */
	if (vm_range_free(old + old_len, new_len - old_len)) {
		if (vm_add(old + old_len, new_len - old_len, prot, "mmap"))
			return -ENOMEM;
		return (int64_t)old;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	uint64_t to = vm_find_free(new_len);
	if (!to || vm_add(to, new_len, prot, "mmap"))
		return -ENOMEM;
	if (vm_move(old, to, old_len))
		return -ENOMEM;
	vm_remove(old, old_len);
	return (int64_t)to;
}

SYS(madvise)
{
	if (a0 & (PAGE - 1))
		return -EINVAL;
	if (a2 == MADV_DONTNEED) {
		struct vma *v = vm_find(a0);
		if (!v)
			return -ENOMEM;
		vm_discard(a0, round_up(a1)); /* anonymous pages come back zeroed */
	}
	return 0;
}

/*
 * mincore: which pages of [addr, addr+len) are in memory. Every page of a
 * region counts as resident (a demand-zero or window page is there the
 * moment it is touched); a hole in the range is ENOMEM, as on Linux.
 */
SYS(mincore)
{
	if (a0 & (PAGE - 1))
		return -EINVAL;
	uint64_t pages = (a1 + PAGE - 1) / PAGE;
	if (a1 > USER_TOP || a0 > USER_TOP - a1)
		return -ENOMEM;
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t va = a0 + i * PAGE;
		struct vma *v = vm_find(va);
		if (!v || va < v->start)
			return -ENOMEM;
		uint8_t one = 1;
		if (copy_to_user(a2 + i, &one, 1))
			return -EFAULT;
	}
	return 0;
}

/*
 * NUMA policies: there is one node (0), so every policy that names it is
 * what happens anyway. get_mempolicy says MPOL_DEFAULT and node 0;
 * set_mempolicy and mbind accept the modes Linux has when node 0 is in
 * their mask (or the mode needs none).
 */
#define MPOL_MAX_MODE 6 /* DEFAULT PREFERRED BIND INTERLEAVE LOCAL PREFERRED_MANY */
#define MPOL_MODE_FLAGS (1u << 15 | 1u << 14 | 1u << 13) /* STATIC/RELATIVE_NODES, NUMA_BALANCING */

static int64_t policy_ok(uint64_t mode, uint64_t umask, uint64_t maxnode)
{
	uint32_t m = (uint32_t)mode & ~MPOL_MODE_FLAGS;
	if (m > MPOL_MAX_MODE)
		return -EINVAL;
	if (m == 0 || m == 4) /* DEFAULT, LOCAL: no nodes */
		return 0;
	uint64_t mask = 0;
	if (!umask || maxnode == 0)
		return -EINVAL;
	if (copy_from_user(&mask, umask, sizeof(mask)))
		return -EFAULT;
	return mask & 1 ? 0 : -EINVAL; /* node 0 is all there is */
}

SYS(set_mempolicy)
{
	return policy_ok(a0, a1, a2);
}

SYS(mbind)
{
	if (a0 & (PAGE - 1))
		return -EINVAL;
	return policy_ok(a2, a3, a4);
}

SYS(get_mempolicy)
{
	int zero = 0;
	if (a0 && copy_to_user(a0, &zero, sizeof(zero))) /* MPOL_DEFAULT */
		return -EFAULT;
	if (a1 && a2) {
		uint64_t mask = 1; /* node 0 */
		if (copy_to_user(a1, &mask, sizeof(mask)))
			return -EFAULT;
	}
	return 0;
}
