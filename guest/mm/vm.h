/*
 * The program's address space: the lower half of the page tables (4 KiB
 * pages, user-accessible) and the list of regions (VMAs) that say what may
 * be there. Pages of anonymous regions appear on first touch (vm_fault);
 * the kernel half is shared with the boot page tables.
 */
#ifndef GUEST_VM_H
#define GUEST_VM_H

#include <stdbool.h>
#include <stdint.h>

#define USER_TOP 0x00007ffffffff000ULL /* highest user address + 1, page aligned */
#define USER_MIN 0x10000ULL            /* nothing is mapped below (NULL pages) */

#define VM_READ 1u
#define VM_WRITE 2u
#define VM_EXEC 4u

/*
 * Where a file-backed region's pages come from: the backing's own (a DAX
 * file mapping: the window's pages themselves) or copies of the file in
 * RAM of ours. get() hands out the page for a file offset: its own, held
 * until put(), or a copy that the region then owns (freed on unmap, not
 * put). hold() and release() count the regions that refer to ctx.
 */
struct vm_backing_ops {
	/* 0: *pa is the backing's page; 1: *pa is a fresh page from pmem
	 * holding a copy; -ENXIO past end of file (SIGBUS), -ENOMEM no RAM for
	 * a copy (out of memory), or another -errno (SIGBUS). */
	int (*get)(void *ctx, uint64_t file_off, uint64_t *pa);
	void (*put)(void *ctx, uint64_t pa);
	void (*hold)(void *ctx);
	void (*release)(void *ctx);
	/* Optional: the program wrote the copy at pa (file offset file_off) in
	 * a shared region; called before the page is freed and by msync. */
	void (*writeback)(void *ctx, uint64_t pa, uint64_t file_off);
	/* Optional: make what was written durable (msync). 0 or -errno. */
	int (*sync)(void *ctx);
};

struct vma {
	uint64_t start, end;   /* page aligned, end exclusive */
	uint32_t prot;         /* VM_* */
	const char *what;      /* "stack", "brk", "mmap", "elf": for fault reports */
	struct vma *next;      /* sorted by start */
	const struct vm_backing_ops *backing; /* NULL: anonymous pages from pmem */
	void *ctx;             /* the backing's, one reference per region */
	uint64_t file_off;     /* file offset at start */
	bool shared;           /* MAP_SHARED of a file */
	bool may_write;        /* shared, and the file is open for writing: PROT_WRITE allowed */
	bool past_eof;         /* wholly past a mapped file's end: touching it is SIGBUS */
};

/* An address space: a process's page tables and regions (vm.c). */
struct mm;
/* A new, empty one (the kernel half mapped), not yet active; NULL: no memory. */
struct mm *vm_new(void);
/* Makes m the CPU's (CR3); NULL: the boot tables (no user half). */
void vm_activate(struct mm *m);
struct mm *vm_current(void);
/* A copy of the active space for a forked child: private pages shared
 * copy-on-write, shared ones shared; NULL: no memory. */
struct mm *vm_fork(void);
/* References: a vfork child shares its parent's space. The last put
 * unmaps everything (writing back shared file pages) and frees it. */
void vm_get(struct mm *m);
void vm_put(struct mm *m);
/* A number telling spaces apart (private futex keys); never 0. */
uint16_t vm_id(const struct mm *m);
/* The physical address behind user address va if its page is present, else 0. */
uint64_t vm_phys(uint64_t va);
/* The first region of m (procfs: another process's maps). */
const struct vma *vm_first_of(const struct mm *m);

/* Adds a region (the range must be free); pages come on demand. */
int vm_add(uint64_t start, uint64_t len, uint32_t prot, const char *what);
/*
 * Adds a region whose pages come from `ops` (file offset file_off at
 * start), taking over one reference to ctx. 0 or -errno (then the
 * reference is still the caller's).
 */
int vm_add_backed(uint64_t start, uint64_t len, uint32_t prot, const struct vm_backing_ops *ops,
		  void *ctx, uint64_t file_off, bool shared, bool may_write);
/*
 * msync: written pages of shared file regions in [start, start+len) go
 * back to their files (writeback), then, with sync, are made durable.
 * 0, -ENOMEM (a hole in the range) or the first error.
 */
int vm_msync(uint64_t start, uint64_t len, bool sync);
/* Adds a region for a copied file mapping: shared (never writable) and/or
 * lying wholly past the file's end (touching it is SIGBUS). */
int vm_add_file(uint64_t start, uint64_t len, uint32_t prot, bool shared, bool past_eof);
/* Removes [start, start+len): unmaps and frees its pages, splits regions. */
void vm_remove(uint64_t start, uint64_t len);
/* Changes protection of [start, start+len), which must be fully mapped. */
int vm_protect(uint64_t start, uint64_t len, uint32_t prot);
/* A free range of len bytes below the stack area, or 0. */
uint64_t vm_find_free(uint64_t len);
/* Whether [start, start+len) is free of regions. */
bool vm_range_free(uint64_t start, uint64_t len);
/* Whether every byte of [start, start+len) is inside some region. */
bool vm_covered(uint64_t start, uint64_t len);
/* The first region (the lowest), for walking them all (/proc/self/maps). */
const struct vma *vm_first(void);
/* The region holding addr, or NULL. */
struct vma *vm_find(uint64_t addr);
/* Moves the pages of [old, old+len) to new (same length); for mremap. */
int vm_move(uint64_t old, uint64_t new_start, uint64_t len);

/* Makes the page at addr present (demand fault); 0, -EFAULT (no region or
 * no permission: SIGSEGV), -ENXIO (past a mapped file's end, or the file's
 * page could not be had: SIGBUS), -ENOMEM (no RAM left). */
int vm_fault(uint64_t addr, bool write, bool exec);
/* The kernel-visible address of user page va, populating it; NULL on error. */
void *vm_page(uint64_t va);
/* Drops the pages (not the region) of [start, start+len): zero on next touch. */
void vm_discard(uint64_t start, uint64_t len);

/*
 * Checked access to user memory: the whole range must lie inside regions
 * with the needed permission; pages are populated first, so the copy
 * cannot fault. 0 or -EFAULT.
 */
int copy_from_user(void *dst, uint64_t src, uint64_t len);
int copy_to_user(uint64_t dst, const void *src, uint64_t len);
int user_check(uint64_t addr, uint64_t len, bool write);
/* memcpy that a page fault in a program's memory stops rather than
 * panics (arch/x86_64/copy_nofault.S): the bytes not copied, 0 if all
 * were. For copies made without the kernel lock, which another thread's
 * munmap can overtake. */
uint64_t copy_nofault(void *dst, const void *src, uint64_t len);
extern char copy_nofault_insn[], copy_nofault_fixup[];
/* After a wait that let the kernel lock go, a system call's raw buffer
 * may be gone (another thread's munmap): whether p (a program address; a
 * kernel buffer is always there) no longer passes user_check. */
static inline bool user_buf_gone(const void *p, uint64_t len, bool write)
{
	return (uint64_t)p < USER_TOP && len && user_check((uint64_t)p, len, write);
}
/* Copies a NUL-terminated string of at most max-1 bytes; its length or -errno. */
int64_t strncpy_from_user(char *dst, uint64_t src, uint64_t max);

#endif
