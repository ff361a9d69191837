/* Memory system calls: memory DIR
 *
 * brk (and sbrk where the libc has it), malloc of big blocks, anonymous
 * mmap, munmap, mprotect, mremap, madvise(MADV_DONTNEED), and private
 * file mappings of DIR/pages.bin and DIR/hello.txt. No check here touches
 * memory that is not mapped: faults are segv.c's business. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

#define PG 4096UL

static const char *dir;

static uintptr_t page_up(uintptr_t a)
{
	return (a + PG - 1) & ~(PG - 1);
}

static unsigned char *map_anon(size_t len)
{
	errno = 0;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		FAIL("mmap anonymous %zu bytes: errno %d %s", len, errno, strerror(errno));
	if ((uintptr_t)p % PG)
		FAIL("mmap returned %p, not page aligned", p);
	return p;
}

static void check_zero(const unsigned char *p, size_t len, const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			FAIL("%s: byte %zu is 0x%02x, expected 0", what, i, p[i]);
}

static void check_fill(const unsigned char *p, size_t len, unsigned char v, const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			FAIL("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, p[i], v);
}

/* A pattern that differs in every byte of every page. */
static unsigned char pat(size_t i, unsigned seed)
{
	return (unsigned char)((i * 31 + (i >> 12) * 17 + seed) & 0xff);
}

static void fill_pat(unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(i, seed);
}

static void check_pat(const unsigned char *p, size_t len, unsigned seed, const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pat(i, seed))
			FAIL("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, p[i], pat(i, seed));
}

static void test_brk(void)
{
	/* No stdio between here and the shrink back: the libc's malloc may
	 * use the break too. */
	uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
	CHECK(cur != 0);
	CHECK_EQ(syscall(SYS_brk, 0), cur);

	uintptr_t want = cur + (1UL << 20) + 123;
	CHECK_EQ(syscall(SYS_brk, want), want);
	CHECK_EQ(syscall(SYS_brk, 0), want);
	unsigned char *lo = (unsigned char *)page_up(cur), *hi = (unsigned char *)want;
	check_zero(lo, (size_t)(hi - lo), "new brk memory");
	memset((void *)cur, 0x5a, want - cur);
	check_fill((void *)cur, want - cur, 0x5a, "brk memory");

	/* Shrink, then grow again: the pages come back zeroed. */
	CHECK_EQ(syscall(SYS_brk, cur), cur);
	CHECK_EQ(syscall(SYS_brk, want), want);
	check_zero(lo, (size_t)(hi - lo), "brk memory after shrink and regrow");
	CHECK_EQ(syscall(SYS_brk, cur), cur);

	/* Below the start of the heap: refused, the break stays. */
	CHECK_EQ(syscall(SYS_brk, 0x1000), cur);
	CHECK_EQ(syscall(SYS_brk, 0), cur);

	/* sbrk(0) is the break; musl's sbrk refuses anything else. */
	CHECK_EQ((uintptr_t)sbrk(0), cur);
#ifdef __GLIBC__
	unsigned char *old = sbrk(3 * PG);
	CHECK_EQ((uintptr_t)old, cur);
	CHECK_EQ((uintptr_t)sbrk(0), cur + 3 * PG);
	memset(old, 0x33, 3 * PG);
	CHECK_EQ((uintptr_t)sbrk(-(intptr_t)(3 * PG)), cur + 3 * PG);
	CHECK_EQ((uintptr_t)sbrk(0), cur);
#endif
	OK("brk");
}

static void test_malloc(void)
{
	/* Big blocks: both libcs mmap these. */
	size_t big = 8UL << 20;
	unsigned char *p = malloc(big);
	CHECK(p != NULL);
	CHECK_EQ((uintptr_t)p % 16, 0);
	fill_pat(p, big, 1);
	check_pat(p, big, 1, "malloc 8 MiB");
	p = realloc(p, 2 * big);
	CHECK(p != NULL);
	check_pat(p, big, 1, "realloc 8 -> 16 MiB");
	memset(p + big, 0x77, big);
	free(p);

	unsigned char *z = calloc(1, 4UL << 20);
	CHECK(z != NULL);
	check_zero(z, 4UL << 20, "calloc 4 MiB");
	free(z);

	/* Many small ones, all distinct. */
	enum { N = 4000 };
	static unsigned char *small[N];
	for (size_t i = 0; i < N; i++) {
		small[i] = malloc(i % 200 + 1);
		CHECK(small[i] != NULL);
		memset(small[i], (int)(i & 0xff), i % 200 + 1);
	}
	for (size_t i = 0; i < N; i++) {
		for (size_t j = 0; j < i % 200 + 1; j++)
			if (small[i][j] != (i & 0xff))
				FAIL("small block %zu byte %zu overwritten", i, j);
		free(small[i]);
	}
	/* Bigger than the guest could ever give: fails cleanly. */
	errno = 0;
	void *huge = malloc((size_t)1 << 46);
	if (huge) /* a host with overcommit_memory=1 may say yes */
		free(huge);
	else
		CHECK_EQ(errno, ENOMEM);
	OK("malloc");
}

static void test_mmap_anon(void)
{
	size_t n = 64 * PG;
	unsigned char *p = map_anon(n);
	check_zero(p, n, "fresh anonymous mapping");
	fill_pat(p, n, 2);
	check_pat(p, n, 2, "anonymous mapping");

	/* A second mapping does not overlap the first. */
	unsigned char *q = map_anon(n);
	CHECK(q + n <= p || p + n <= q);
	check_zero(q, n, "second anonymous mapping");
	memset(q, 0xee, n);
	check_pat(p, n, 2, "first mapping after writing the second");
	CHECK_SYS(munmap(q, n));

	/* Many pages: one 64-bit word per 8 bytes over 16 MiB. */
	size_t bn = 16UL << 20;
	uint64_t *w = (uint64_t *)map_anon(bn);
	for (size_t i = 0; i < bn / 8; i++)
		w[i] = i * 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < bn / 8; i++)
		if (w[i] != i * 0x9e3779b97f4a7c15ULL)
			FAIL("16 MiB mapping: word %zu is 0x%llx", i, (unsigned long long)w[i]);
	CHECK_SYS(munmap(w, bn));

	/* A length that is not a page multiple is rounded up. */
	unsigned char *r = map_anon(100);
	check_zero(r, PG, "100-byte mapping");
	memset(r, 1, PG);
	CHECK_SYS(munmap(r, 100));

	errno = 0;
	CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED); /* no type */
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mmap((void *)(p + 1), PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		   -1, 0) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK_SYS(munmap(p, n));
	OK("mmap_anon");
}

static void test_munmap(void)
{
	size_t n = 8 * PG;
	unsigned char *p = map_anon(n);
	fill_pat(p, n, 3);

	/* Punch a hole in the middle; the rest keeps its contents. */
	CHECK_SYS(munmap(p + 2 * PG, 2 * PG));
	check_pat(p, 2 * PG, 3, "below the hole");
	for (size_t i = 4 * PG; i < n; i++)
		if (p[i] != pat(i, 3))
			FAIL("above the hole: byte %zu", i);
	/* Map the hole again, at that exact address: fresh zero pages. */
	void *h = mmap(p + 2 * PG, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(h == p + 2 * PG);
	check_zero(h, 2 * PG, "remapped hole");
	/* MAP_FIXED over a live mapping replaces it. */
	h = mmap(p + 6 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0);
	CHECK(h == p + 6 * PG);
	check_zero(h, PG, "MAP_FIXED over a live page");
	CHECK_EQ(p[7 * PG], pat(7 * PG, 3));

	CHECK_ERR(munmap(p + 1, PG), EINVAL);
	CHECK_ERR(munmap(p, 0), EINVAL);
	CHECK_SYS(munmap(p, n));
	/* Unmapping what is no longer mapped is not an error. */
	CHECK_SYS(munmap(p, n));
	OK("munmap");
}

static void test_mprotect(void)
{
	size_t n = 4 * PG;
	unsigned char *p = map_anon(n);
	fill_pat(p, n, 4);

	CHECK_SYS(mprotect(p, n, PROT_READ));
	check_pat(p, n, 4, "read-only mapping");
	CHECK_SYS(mprotect(p + PG, PG, PROT_READ | PROT_WRITE)); /* split */
	p[PG] = 0x11;
	CHECK_SYS(mprotect(p, n, PROT_READ | PROT_WRITE));
	check_pat(p, PG, 4, "after read-only and back");
	CHECK_EQ(p[PG], 0x11);
	memset(p, 0x22, n);
	check_fill(p, n, 0x22, "writable again");
	/* musl rounds the address down: ask the kernel itself. */
	CHECK_ERR(syscall(SYS_mprotect, p + 1, PG, PROT_READ), EINVAL);
	CHECK_SYS(munmap(p, n));

	/* Reserve with PROT_NONE, then open up part of it (what malloc
	 * arenas and thread stacks do). */
	unsigned char *r = mmap(NULL, 16 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
	CHECK(r != MAP_FAILED);
	CHECK_SYS(mprotect(r + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE));
	check_zero(r + 4 * PG, 4 * PG, "PROT_NONE reservation opened up");
	memset(r + 4 * PG, 0x44, 4 * PG);
	check_fill(r + 4 * PG, 4 * PG, 0x44, "PROT_NONE reservation opened up");
	CHECK_SYS(munmap(r, 16 * PG));
	OK("mprotect");
}

static void test_mremap(void)
{
	size_t n = 4 * PG, m = 64 * PG;
	unsigned char *p = map_anon(n);
	fill_pat(p, n, 5);

	unsigned char *q = mremap(p, n, m, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED);
	check_pat(q, n, 5, "mremap grown, old part");
	check_zero(q + n, m - n, "mremap grown, new part");
	memset(q + n, 0x55, m - n);
	check_pat(q, n, 5, "mremap grown, old part after writing the new");

	/* Shrinking stays in place. */
	unsigned char *s = mremap(q, m, 2 * PG, 0);
	CHECK(s == q);
	check_pat(s, 2 * PG, 5, "mremap shrunk");

	errno = 0;
	CHECK(mremap(s, 2 * PG, 4 * PG, 0x1000) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mremap(s + 1, PG, 2 * PG, MREMAP_MAYMOVE) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK_SYS(munmap(s, 2 * PG));
	OK("mremap");
}

static void test_madvise(void)
{
	size_t n = 8 * PG;
	unsigned char *p = map_anon(n);
	memset(p, 0xab, n);

	CHECK_SYS(madvise(p + 2 * PG, 3 * PG, MADV_DONTNEED));
	check_fill(p, 2 * PG, 0xab, "before the MADV_DONTNEED range");
	check_zero(p + 2 * PG, 3 * PG, "after MADV_DONTNEED");
	check_fill(p + 5 * PG, 3 * PG, 0xab, "past the MADV_DONTNEED range");
	/* The pages are still there and writable. */
	memset(p + 2 * PG, 0xcd, 3 * PG);
	check_fill(p + 2 * PG, 3 * PG, 0xcd, "rewritten after MADV_DONTNEED");
	CHECK_ERR(madvise(p + 1, PG, MADV_DONTNEED), EINVAL);
	CHECK_SYS(munmap(p, n));
	OK("madvise");
}

static void test_mmap_file(void)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/pages.bin", dir);
	int fd = (int)CHECK_SYS(open(path, O_RDONLY));

	/* The whole file, and the zero tail of its last page. */
	size_t n = page_up(PAGES_SIZE);
	unsigned char *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED);
	for (size_t i = 0; i < PAGES_SIZE; i++)
		if (p[i] != pages_byte(i))
			FAIL("pages.bin mapping: byte %zu is 0x%02x, expected 0x%02x", i, p[i],
			     pages_byte(i));
	check_zero(p + PAGES_SIZE, n - PAGES_SIZE, "past the end of pages.bin");

	/* At a page offset. */
	unsigned char *o = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, (off_t)PG);
	CHECK(o != MAP_FAILED);
	for (size_t i = 0; i < 2 * PG; i++)
		if (o[i] != pages_byte(PG + i))
			FAIL("pages.bin mapping at 4096: byte %zu is 0x%02x", i, o[i]);
	errno = 0;
	CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 100) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);

	/* Private and writable: the writes stay in this process. */
	unsigned char *w = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(w != MAP_FAILED);
	CHECK_EQ(w[5000], pages_byte(5000));
	memset(w + 4000, 0, 200);
	CHECK_EQ(w[4199], 0);
	CHECK_EQ(w[4200], pages_byte(4200));
	CHECK_EQ(p[4100], pages_byte(4100)); /* the other mapping does not see it */
	unsigned char b;
	CHECK_EQ(pread(fd, &b, 1, 4100), 1);
	CHECK_EQ(b, pages_byte(4100));
	/* The kernel writing into a private page (read() into it) copies it
	 * too: the file and the other mapping keep their bytes. */
	CHECK_EQ(pread(fd, w + 8200, 10, 0), 10);
	for (size_t i = 0; i < 10; i++)
		CHECK_EQ(w[8200 + i], pages_byte(i));
	CHECK_EQ(p[8200], pages_byte(8200));
	CHECK_EQ(pread(fd, &b, 1, 8200), 1);
	CHECK_EQ(b, pages_byte(8200));

	/* The mapping outlives the descriptor. */
	CHECK_SYS(close(fd));
	CHECK_EQ(p[PAGES_SIZE - 1], pages_byte(PAGES_SIZE - 1));
	CHECK_SYS(munmap(p, n));
	CHECK_SYS(munmap(o, 2 * PG));
	CHECK_SYS(munmap(w, n));

	snprintf(path, sizeof(path), "%s/hello.txt", dir);
	fd = (int)CHECK_SYS(open(path, O_RDONLY));
	char *h = mmap(NULL, 12, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(h != MAP_FAILED);
	CHECK_MEM(h, HELLO, 12);
	check_zero((unsigned char *)h + 12, PG - 12, "past the end of hello.txt");
	CHECK_SYS(munmap(h, 12));
	CHECK_SYS(close(fd));
	errno = 0;
	CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 9999, 0) == MAP_FAILED);
	CHECK_EQ(errno, EBADF);
	OK("mmap_file");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: memory FIXTURE-DIR\n");
		return 2;
	}
	dir = argv[1];
	test_brk();
	test_malloc();
	test_mmap_anon();
	test_munmap();
	test_mprotect();
	test_mremap();
	test_madvise();
	test_mmap_file();
	printf("memory: all passed\n");
	return 0;
}
