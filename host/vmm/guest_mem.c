/*
 * Guest RAM (see guest_mem.h).
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include "guest_mem.h"

int guest_mem_init(struct guest_mem *m, uint64_t size)
{
	*m = (struct guest_mem){ .fd = -1, .size = size };
	m->low_size = size < GUEST_MEM_HOLE_START ? size : GUEST_MEM_HOLE_START;
	m->fd = memfd_create("pier-guest-ram", MFD_CLOEXEC);
	if (m->fd < 0 || ftruncate(m->fd, (off_t)size))
		goto fail;
	/* MAP_NORESERVE: guests touch a fraction of their RAM. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	m->host = p;
	return 0;
fail:;
	int err = -errno;
	guest_mem_free(m);
	return err;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->host = NULL;
	m->fd = -1;
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
