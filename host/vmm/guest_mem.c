/*
 * Guest RAM (see guest_mem.h).
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include "guest_mem.h"

#define HUGE_PAGE (2ULL << 20)

int guest_mem_init(struct guest_mem *m, uint64_t size)
{
	*m = (struct guest_mem){ .size = size };
	if (!size || size > UINT64_MAX / 2)
		return -EINVAL;
	m->low_size = size < GUEST_MEM_HOLE_START ? size : GUEST_MEM_HOLE_START;
	/* MAP_NORESERVE: guests touch a fraction of their RAM. */
	m->map_len = size + HUGE_PAGE;
	void *p = mmap(NULL, m->map_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		m->map_len = 0;
		return -errno;
	}
	m->map = p;
	m->host = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	/* Huge pages where the host has them: KVM then maps guest RAM in 2 MiB
	 * pieces, one fault where 512 small pages would each take one (a
	 * fault is an exit KVM handles). Not copied into a child (KVM's advice
	 * for guest memory). Either may fail harmlessly (THP off, old kernel). */
	madvise(m->host, size, MADV_HUGEPAGE);
	madvise(m->map, m->map_len, MADV_DONTFORK);
	return 0;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->map)
		munmap(m->map, m->map_len);
	m->map = m->host = NULL;
	m->map_len = 0;
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t off;
	if (gpa < m->low_size) {
		if (len > m->low_size - gpa)
			return NULL;
		off = gpa;
	} else if (gpa >= GUEST_MEM_HIGH_START) {
		uint64_t high = m->size - m->low_size;
		off = gpa - GUEST_MEM_HIGH_START;
		if (off > high || len > high - off)
			return NULL;
		off += m->low_size;
	} else {
		return NULL;
	}
	return m->host + off;
}
