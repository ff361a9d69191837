/*
 * Address spaces (see vm.h). Each process has one: the lower-half page
 * tables hang off its own PML4, whose upper half is a copy of the boot
 * PML4's (the kernel, the direct map). Every vm_* call but vm_fork's
 * source and vm_put works on the active one (this CPU's CR3), which the
 * scheduler switches with the task. A change that takes a page away or
 * narrows its rights on a space other CPUs have loaded shoots down their
 * TLB entries (tlb.c) before the call returns.
 *
 * Fork shares pages instead of copying them: a private page becomes
 * read-only in both spaces with PTE_COW set and one more owner
 * (pmem_ref); the first write copies it unless its writer is by then
 * its only owner. A backing's pages (the DAX window, a shm segment) are
 * not copied into the child's tables at all: its first touch there gets
 * them from the backing again, so window pages stay the host's.
 */
#include <pier/errno.h>
#include <pier/string.h>
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/memlayout.h"
#include "../arch/x86_64/paging.h"
#include "../kernel/console.h"
#include "../kernel/stats.h"
#include "../kernel/task.h"
#include "mm.h"
#include "tlb.h"
#include "vm.h"

#define PAGE 4096ULL
#define PTE_FOREIGN (1ULL << 9) /* software bit: the page is a backing's, not pmem's */
#define PTE_D (1ULL << 6)       /* dirty: the CPU sets it on the first write */
#define PTE_COW (1ULL << 10)    /* software bit: shared by fork; a write copies it */
#define MMAP_TOP 0x00007f0000000000ULL /* mmap regions grow down from here */

struct mm {
	uint64_t *pml4;
	uint64_t pml4_pa;
	struct vma *vmas;
	int refs;        /* processes using it (vfork's child shares its parent's) */
	uint16_t id;     /* tells private futexes of different spaces apart */
};

/* The one in this CPU's CR3; NULL: the boot page tables. */
#define active (cpu_this()->mm)

static uint64_t page_down(uint64_t a)
{
	return a & ~(PAGE - 1);
}

struct mm *vm_new(void)
{
	static uint16_t next_id;
	struct mm *m = kzalloc(sizeof(*m));
	uint64_t pa = m ? pmem_alloc(1) : 0;
	if (!pa) {
		kfree(m);
		return NULL;
	}
	m->pml4_pa = pa;
	m->pml4 = phys_to_virt(pa);
	m->refs = 1;
	m->id = ++next_id ? next_id : ++next_id; /* 0 is nobody's */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE); /* PTE_NX is reserved without it */
	const uint64_t *boot = boot_pml4_virt();
	for (int i = 256; i < 512; i++)
		m->pml4[i] = boot[i];
	return m;
}

void vm_activate(struct mm *m)
{
	struct cpu *c = cpu_this();
	if (m == c->mm)
		return;
	/* Published before the switch, with a full barrier: a shoot-down
	 * that changed m's tables either sees this CPU has m or happened
	 * before these tables were loaded (tlb.c). */
	__atomic_store_n(&c->mm, m, __ATOMIC_SEQ_CST);
	write_cr3(m ? m->pml4_pa : boot_pml4_phys);
}

struct mm *vm_current(void)
{
	return active;
}

void vm_get(struct mm *m)
{
	m->refs++;
}

uint16_t vm_id(const struct mm *m)
{
	return m->id;
}

/* The PTE for va in m's tables, creating them on the way when `create`. */
static uint64_t *pte_in(struct mm *m, uint64_t va, bool create)
{
	uint64_t *t = m->pml4;
	for (int shift = 39; shift > 12; shift -= 9) {
		uint64_t *e = &t[va >> shift & 511];
		if (!(*e & PTE_P)) {
			if (!create)
				return NULL;
			uint64_t pa = pmem_alloc(1);
			if (!pa)
				return NULL;
			/* Upper levels allow everything; the leaf decides. */
			*e = pa | PTE_P | PTE_W | PTE_U;
		}
		t = phys_to_virt(*e & PTE_ADDR);
	}
	return &t[va >> 12 & 511];
}

/* The same in the active space. */
static uint64_t *pte_of(uint64_t va, bool create)
{
	return pte_in(active, va, create);
}

static uint64_t pte_bits(uint32_t prot)
{
	return PTE_P | PTE_U | ((prot & VM_WRITE) ? PTE_W : 0) | ((prot & VM_EXEC) ? 0 : PTE_NX);
}

const struct vma *vm_first(void)
{
	return active->vmas;
}

const struct vma *vm_first_of(const struct mm *m)
{
	return m->vmas;
}

struct vma *vm_find(uint64_t addr)
{
	for (struct vma *v = active->vmas; v && v->start <= addr; v = v->next)
		if (addr < v->end)
			return v;
	return NULL;
}

bool vm_range_free(uint64_t start, uint64_t len)
{
	if (start < USER_MIN || start + len > USER_TOP || start + len < start)
		return false;
	for (struct vma *v = active->vmas; v; v = v->next)
		if (v->start < start + len && start < v->end)
			return false;
	return true;
}

static int add_region(const struct vma *proto, uint64_t start, uint64_t len)
{
	len = (len + PAGE - 1) & ~(PAGE - 1);
	if ((start & (PAGE - 1)) || len == 0 || !vm_range_free(start, len))
		return -EINVAL;
	struct vma *n = kmalloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	*n = *proto;
	n->start = start;
	n->end = start + len;
	struct vma **pp = &active->vmas;
	while (*pp && (*pp)->start < start)
		pp = &(*pp)->next;
	n->next = *pp;
	*pp = n;
	/* Merge with neighbours of the same kind, so a region grown piece by
	 * piece (brk, mremap) stays one region. */
	for (struct vma *v = active->vmas; v && v->next;) {
		struct vma *w = v->next;
		if (v->end == w->start && v->prot == w->prot && v->what == w->what &&
		    !v->backing && !w->backing && v->shared == w->shared &&
		    v->past_eof == w->past_eof) {
			v->end = w->end;
			v->next = w->next;
			kfree(w);
		} else {
			v = w;
		}
	}
	return 0;
}

int vm_add(uint64_t start, uint64_t len, uint32_t prot, const char *what)
{
	struct vma proto = { .prot = prot, .what = what };
	return add_region(&proto, start, len);
}

int vm_add_backed(uint64_t start, uint64_t len, uint32_t prot, const struct vm_backing_ops *ops,
		  void *ctx, uint64_t file_off, bool shared, bool may_write)
{
	struct vma proto = { .prot = prot, .what = "mmap", .backing = ops, .ctx = ctx,
			     .file_off = file_off, .shared = shared, .may_write = may_write };
	return add_region(&proto, start, len);
}

int vm_add_file(uint64_t start, uint64_t len, uint32_t prot, bool shared, bool past_eof)
{
	struct vma proto = { .prot = prot, .what = "mmap", .shared = shared, .past_eof = past_eof };
	return add_region(&proto, start, len);
}

bool vm_covered(uint64_t start, uint64_t len)
{
	for (uint64_t a = start; a < start + len;) {
		struct vma *v = vm_find(a);
		if (!v)
			return false;
		a = v->end;
	}
	return true;
}

/* Unmaps the pages of [start, end) inside region v of m: ours go back
 * to pmem, a backing's back to it. */
static void unmap_pages_in(struct mm *m, const struct vma *v, uint64_t start, uint64_t end)
{
	bool changed = false;
	for (uint64_t va = start; va < end; va += PAGE) {
		uint64_t *pte = pte_in(m, va, false);
		if (pte && (*pte & PTE_P)) {
			uint64_t pa = *pte & PTE_ADDR;
			bool foreign = *pte & PTE_FOREIGN;
			/* A copy the program wrote goes back to its file; a backing's
			 * own page (the DAX window) is the file already. */
			if (!foreign && (*pte & PTE_D) && v->shared && v->backing &&
			    v->backing->writeback)
				v->backing->writeback(v->ctx, pa, v->file_off + (va - v->start));
			if (foreign)
				v->backing->put(v->ctx, pa);
			else
				pmem_put(pa); /* shared by a fork: the last owner frees it */
			*pte = 0;
			invlpg(va);
			changed = true;
		}
	}
	if (changed)
		tlb_shootdown(m, false); /* nothing reuses the pages before: the kernel lock is ours */
}

static void unmap_pages(const struct vma *v, uint64_t start, uint64_t end)
{
	unmap_pages_in(active, v, start, end);
}

/* Splits the region holding addr so that one starts exactly there. */
static int split_at(uint64_t addr)
{
	struct vma *v = vm_find(addr);
	if (!v || v->start == addr)
		return 0;
	struct vma *n = kmalloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	*n = *v;
	n->start = addr;
	n->file_off = v->file_off + (addr - v->start);
	if (v->backing)
		v->backing->hold(v->ctx);
	v->end = addr;
	v->next = n;
	return 0;
}

void vm_remove(uint64_t start, uint64_t len)
{
	uint64_t end = start + ((len + PAGE - 1) & ~(PAGE - 1));
	if (split_at(start) || split_at(end))
		return;
	for (struct vma **pp = &active->vmas; *pp;) {
		struct vma *v = *pp;
		if (v->start >= start && v->end <= end) {
			unmap_pages(v, v->start, v->end);
			*pp = v->next;
			if (v->backing)
				v->backing->release(v->ctx);
			kfree(v);
		} else {
			pp = &v->next;
		}
	}
}

/*
 * A private mapping's backing pages (the DAX window's: the host's file)
 * are never written: they are mapped read-only, and the first write
 * copies the page into one of ours (copy on write). copy_to_user goes
 * through here too (user_check), so the kernel never writes them either.
 */
static bool copies_on_write(const struct vma *v)
{
	return v->backing && !v->shared;
}

int vm_protect(uint64_t start, uint64_t len, uint32_t prot)
{
	uint64_t end = start + ((len + PAGE - 1) & ~(PAGE - 1));
	for (uint64_t a = start; a < end;) {
		struct vma *v = vm_find(a);
		if (!v)
			return -ENOMEM; /* Linux's answer for an unmapped hole */
		if (v->shared && !v->may_write && (prot & VM_WRITE))
			return -EACCES; /* the file is not open for writing */
		a = v->end;
	}
	if (split_at(start) || split_at(end))
		return -ENOMEM;
	for (struct vma *v = active->vmas; v; v = v->next) {
		if (v->start < start || v->end > end)
			continue;
		v->prot = prot;
		for (uint64_t va = v->start; va < v->end; va += PAGE) {
			uint64_t *pte = pte_of(va, false);
			if (pte && (*pte & PTE_P)) {
				/* Keep whose page it is, and whether it was written; a
				 * private mapping's backing page stays read-only (COW). */
				bool cow = (copies_on_write(v) && (*pte & PTE_FOREIGN)) ||
					   (*pte & PTE_COW);
				*pte = (*pte & (PTE_ADDR | PTE_FOREIGN | PTE_D | PTE_COW)) |
				       pte_bits(cow ? prot & ~VM_WRITE : prot);
				invlpg(va);
			}
		}
	}
	tlb_shootdown(active, false);
	return 0;
}

int vm_msync(uint64_t start, uint64_t len, bool sync)
{
	uint64_t end = start + ((len + PAGE - 1) & ~(PAGE - 1));
	int err = 0;
	for (uint64_t a = start; a < end;) {
		struct vma *v = vm_find(a);
		if (!v)
			return -ENOMEM;
		uint64_t stop = v->end < end ? v->end : end;
		if (v->shared && v->backing) {
			for (uint64_t va = a; va < stop; va += PAGE) {
				uint64_t *pte = pte_of(va, false);
				if (!pte || (*pte & (PTE_P | PTE_D)) != (PTE_P | PTE_D))
					continue;
				/* Clean until the next write, and no CPU keeps an
				 * entry that would write on without setting D again
				 * (the next msync would miss it): then the copy. */
				*pte &= ~PTE_D;
				invlpg(va);
				tlb_shootdown(active, false);
				if (!(*pte & PTE_FOREIGN) && v->backing->writeback)
					v->backing->writeback(v->ctx, *pte & PTE_ADDR,
							      v->file_off + (va - v->start));
			}
			int e = sync && v->backing->sync ? v->backing->sync(v->ctx) : 0;
			if (e && !err)
				err = e;
		}
		a = stop;
	}
	return err;
}

uint64_t vm_find_free(uint64_t len)
{
	len = (len + PAGE - 1) & ~(PAGE - 1);
	/* Top down from MMAP_TOP, below every region already there. */
	uint64_t candidate = MMAP_TOP - len;
	for (;;) {
		bool clash = false;
		for (struct vma *v = active->vmas; v; v = v->next)
			if (v->start < candidate + len && candidate < v->end) {
				if (v->start < len + USER_MIN)
					return 0;
				candidate = page_down(v->start - len);
				clash = true;
			}
		if (!clash)
			return candidate >= USER_MIN ? candidate : 0;
	}
}

int vm_move(uint64_t old, uint64_t new_start, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += PAGE) {
		uint64_t *from = pte_of(old + off, false);
		if (!from || !(*from & PTE_P))
			continue;
		uint64_t *to = pte_of(new_start + off, true);
		if (!to)
			return -ENOMEM;
		*to = *from;
		*from = 0;
		invlpg(old + off);
	}
	tlb_shootdown(active, false);
	return 0;
}

/* The page at va (the backing's page pa, mapped) becomes a copy of ours. */
static int break_cow(struct vma *v, uint64_t va, uint64_t *pte, uint64_t pa)
{
	uint64_t mine = pmem_alloc(1);
	if (!mine)
		return -ENOMEM;
	memcpy(phys_to_virt(mine), phys_to_virt(pa), PAGE);
	v->backing->put(v->ctx, pa);
	*pte = mine | pte_bits(v->prot);
	invlpg(va);
	tlb_shootdown(active, false); /* another thread may still read the old page */
	return 0;
}

/* A write to a page fork shared: the writer's own copy, or the page
 * itself once nobody else has it. */
static int break_fork_share(struct vma *v, uint64_t va, uint64_t *pte)
{
	uint64_t pa = *pte & PTE_ADDR;
	if (pmem_shared(pa)) {
		uint64_t mine = pmem_alloc(1);
		if (!mine)
			return -ENOMEM;
		memcpy(phys_to_virt(mine), phys_to_virt(pa), PAGE);
		pmem_put(pa);
		pa = mine;
	}
	*pte = pa | pte_bits(v->prot) | PTE_D;
	invlpg(va);
	tlb_shootdown(active, false);
	return 0;
}

int vm_fault(uint64_t addr, bool write, bool exec)
{
	struct vma *v = vm_find(addr);
	if (!v || (write && !(v->prot & VM_WRITE)) || (exec && !(v->prot & VM_EXEC)) ||
	    (!write && !exec && !(v->prot & (VM_READ | VM_WRITE | VM_EXEC))))
		return -EFAULT;
	uint64_t va = page_down(addr);
	uint64_t *pte = pte_of(va, true);
	if (!pte)
		return -ENOMEM;
	if (*pte & PTE_P) {
		if (!write || (*pte & PTE_W))
			return 0; /* already there */
		if (copies_on_write(v) && (*pte & PTE_FOREIGN)) {
			stats.fault[FAULT_COW_FILE]++;
			return break_cow(v, va, pte, *pte & PTE_ADDR);
		}
		if (*pte & PTE_COW) {
			stats.fault[FAULT_COW_FORK]++;
			return break_fork_share(v, va, pte);
		}
		return -EFAULT; /* a write to a page the region does not let be written */
	}
	if (v->past_eof)
		return -ENXIO;
	if (v->backing) {
		uint64_t pa;
		int got = v->backing->get(v->ctx, v->file_off + (va - v->start), &pa);
		/* No RAM for a copy: out of memory. Any other failure to get a
		 * file's page (an I/O error) is SIGBUS, as on Linux. */
		if (got < 0)
			return got == -ENOMEM ? -ENOMEM : -ENXIO;
		stats.fault[got == 0 ? FAULT_FILE_WINDOW : FAULT_FILE_COPY]++;
		if (got == 0 && copies_on_write(v) && write)
			stats.fault[FAULT_COW_FILE]++;
		if (got == 0 && copies_on_write(v)) {
			*pte = pa | pte_bits(v->prot & ~VM_WRITE) | PTE_FOREIGN;
			return write ? break_cow(v, va, pte, pa) : 0;
		}
		*pte = pa | pte_bits(v->prot) | (got == 0 ? PTE_FOREIGN : 0);
		return 0;
	}
	uint64_t pa = pmem_alloc(1);
	if (!pa)
		return -ENOMEM;
	*pte = pa | pte_bits(v->prot);
	stats.fault[FAULT_ANON]++;
	return 0;
}

void *vm_page(uint64_t va)
{
	uint64_t *pte = pte_of(page_down(va), false);
	if (!pte || !(*pte & PTE_P)) {
		struct vma *v = vm_find(va);
		if (!v || v->backing)
			return NULL; /* a file's pages are not the loader's to fill */
		/* The loader fills read-only pages too: populate regardless. */
		uint64_t pa = pmem_alloc(1);
		pte = pte_of(page_down(va), true);
		if (!pa || !pte)
			return NULL;
		*pte = pa | pte_bits(v->prot);
	}
	return (char *)phys_to_virt(*pte & PTE_ADDR) + (va & (PAGE - 1));
}

void vm_discard(uint64_t start, uint64_t len)
{
	/* Page by page, since the range may span regions of both kinds: a
	 * file's pages come back from the file on the next touch. */
	for (uint64_t va = page_down(start); va < start + len; va += PAGE) {
		struct vma *v = vm_find(va);
		if (v)
			unmap_pages(v, va, va + PAGE);
	}
}

int user_check(uint64_t addr, uint64_t len, bool write)
{
	if (len == 0)
		return 0;
	if (addr + len < addr || addr + len > USER_TOP)
		return -EFAULT;
	for (uint64_t a = page_down(addr); a < addr + len; a += PAGE) {
		if (vm_fault(a < addr ? addr : a, write, false))
			return -EFAULT;
	}
	return 0;
}

int copy_from_user(void *dst, uint64_t src, uint64_t len)
{
	if (user_check(src, len, false))
		return -EFAULT;
	memcpy(dst, (const void *)src, len);
	return 0;
}

int copy_to_user(uint64_t dst, const void *src, uint64_t len)
{
	if (user_check(dst, len, true))
		return -EFAULT;
	memcpy((void *)dst, src, len);
	return 0;
}

int64_t strncpy_from_user(char *dst, uint64_t src, uint64_t max)
{
	for (uint64_t i = 0; i < max; i++) {
		if ((i == 0 || ((src + i) & (PAGE - 1)) == 0) && user_check(src + i, 1, false))
			return -EFAULT;
		dst[i] = *(const char *)(src + i);
		if (!dst[i])
			return (int64_t)i;
	}
	return -ENAMETOOLONG;
}

/* ---- fork and teardown ---- */

/* The child's share of page *pte of region v (fork). */
static int share_page(struct mm *child, const struct vma *v, uint64_t va, uint64_t *pte)
{
	if (*pte & PTE_FOREIGN)
		return 0; /* the backing's: the child gets it from there when it touches it */
	uint64_t *to = pte_in(child, va, true);
	if (!to)
		return -ENOMEM;
	uint64_t pa = *pte & PTE_ADDR;
	pmem_ref(pa);
	/* A shared region's copies stay one page, writable in both; a private
	 * page is read-only in both until one writes it (break_fork_share),
	 * also if the region is made writable later (vm_protect keeps COW). */
	if (!v->shared) {
		*pte = (*pte & ~PTE_W) | PTE_COW;
		invlpg(va);
	}
	*to = *pte;
	return 0;
}

struct mm *vm_fork(void)
{
	struct mm *child = vm_new();
	if (!child)
		return NULL;
	struct vma **tail = &child->vmas;
	for (const struct vma *v = active->vmas; v; v = v->next) {
		struct vma *n = kmalloc(sizeof(*n));
		if (!n) {
			vm_put(child);
			return NULL;
		}
		*n = *v;
		n->next = NULL;
		if (n->backing)
			n->backing->hold(n->ctx);
		*tail = n;
		tail = &n->next;
		for (uint64_t va = v->start; va < v->end; va += PAGE) {
			uint64_t *pte = pte_of(va, false);
			if (pte && (*pte & PTE_P) && share_page(child, v, va, pte)) {
				tlb_shootdown(active, false);
				vm_put(child);
				return NULL;
			}
		}
	}
	tlb_shootdown(active, false); /* the parent's private pages are read-only now */
	return child;
}

/* Frees the page-table pages below t (level: 3 for a PML4's entries). */
static void free_tables(uint64_t *t, int level, int entries)
{
	for (int i = 0; i < entries; i++) {
		if (!(t[i] & PTE_P))
			continue;
		if (level > 1)
			free_tables(phys_to_virt(t[i] & PTE_ADDR), level - 1, 512);
		pmem_free(t[i] & PTE_ADDR, 1);
	}
}

void vm_put(struct mm *m)
{
	if (--m->refs > 0)
		return;
	/* Off its tables before they go. A backing's release may wait for the
	 * host (a file's last close), and other tasks run meanwhile: m is
	 * nobody's by now, so nothing switches back to it. */
	if (active == m)
		vm_activate(NULL);
	tlb_shootdown(m, true); /* a CPU that last ran an exited thread of m still has it */
	while (m->vmas) {
		struct vma *v = m->vmas;
		m->vmas = v->next;
		unmap_pages_in(m, v, v->start, v->end);
		if (v->backing)
			v->backing->release(v->ctx);
		kfree(v);
	}
	free_tables(m->pml4, 3, 256); /* the lower half; the upper is the kernel's */
	pmem_free(m->pml4_pa, 1);
	kfree(m);
}

uint64_t vm_phys(uint64_t va)
{
	uint64_t *pte = pte_of(page_down(va), false);
	return pte && (*pte & PTE_P) ? (*pte & PTE_ADDR) + (va & (PAGE - 1)) : 0;
}
