/* Threads writing on several CPUs: each appends records to one shared
 * file through a descriptor of its own (as processes appending to one
 * log do: one open file each, so no shared position orders them), by
 * write() on O_APPEND (threads 0 and 1), writev() of three pieces on
 * O_APPEND (2), or pwritev2() with RWF_APPEND on a plain descriptor (3),
 * and writes the same records to a file of its own at its position.
 * Every record must land whole and once, one after another, as on Linux,
 * where a write holds its file (the inode) for the whole call. A kernel
 * that lets its lock go while a FUSE_WRITE waits for the host, without
 * holding the file, gives two appends one end of file: one record
 * overwrites another, or a big one (written in pieces) is split by a
 * small one. argv[1]: a directory to write in. Prints "appends: ...". */
#include <fcntl.h>
#include <linux/fs.h> /* RWF_APPEND */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "check.h"

#define THREADS 4
#define RECORDS 150
#define HEADER 12
#define BIG (300 << 10) /* every 16th record: more than one piece of a write (256 KiB) */

static const char *dir;
static char shared_name[256];

struct header {
	uint32_t magic;
	uint16_t thread, seq;
	uint32_t len; /* the whole record's */
};

static uint32_t record_len(int t, int seq)
{
	if (seq % 16 == 5)
		return BIG + (uint32_t)t * 8;
	return HEADER + (uint32_t)((seq * 7919 + t * 131) % 6000);
}

static uint8_t byte_of(int t, int seq, uint32_t k)
{
	return (uint8_t)(t * 67 + seq * 13 + k);
}

static void make_record(uint8_t *r, int t, int seq)
{
	struct header h = { 0x52454331, (uint16_t)t, (uint16_t)seq, record_len(t, seq) };
	memcpy(r, &h, HEADER);
	for (uint32_t k = HEADER; k < h.len; k++)
		r[k] = byte_of(t, seq, k);
}

static void write_all(int fd, const uint8_t *b, uint32_t len, const char *what)
{
	ssize_t n = write(fd, b, len);
	if (n != (ssize_t)len)
		FAIL("%s: a write of %u bytes gave %zd (errno %d)", what, len, n, errno);
}

/* One record appended to the shared file, thread t's way. */
static void append(int fd, int t, const uint8_t *r, uint32_t len)
{
	uint32_t third = len / 3;
	struct iovec v[3] = { { (void *)r, third },
			      { (void *)(r + third), third },
			      { (void *)(r + 2 * third), len - 2 * third } };
	ssize_t n;
	if (t == 2)
		n = writev(fd, v, 3);
	else if (t == 3)
		n = syscall(SYS_pwritev2, fd, v, 3, -1L, 0L, RWF_APPEND); /* not in every libc */
	else
		n = write(fd, r, len);
	if (n != (ssize_t)len)
		FAIL("shared: thread %d's append of %u bytes gave %zd (errno %d)", t, len, n, errno);
	if (t == 3) {
		/* At offset -1 the call writes at the end and, as Linux does,
		 * leaves the position after what it wrote. */
		off_t pos = lseek(fd, 0, SEEK_CUR);
		struct stat st;
		CHECK(fstat(fd, &st) == 0);
		if (pos < (off_t)len || pos > st.st_size)
			FAIL("shared: after thread 3's append of %u bytes the position is %lld "
			     "(the file: %lld bytes)", len, (long long)pos, (long long)st.st_size);
	}
}

static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	char name[256];
	snprintf(name, sizeof(name), "%s/own%d", dir, t);
	int own = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(own >= 0);
	int shared = open(shared_name, O_WRONLY | (t == 3 ? 0 : O_APPEND));
	CHECK(shared >= 0);
	uint8_t *r = malloc(BIG + 64);
	CHECK(r != NULL);
	for (int seq = 0; seq < RECORDS; seq++) {
		make_record(r, t, seq);
		append(shared, t, r, record_len(t, seq));
		write_all(own, r, record_len(t, seq), name);
		if (seq % 10 == 9) /* a sync lets the kernel lock go too */
			CHECK(fsync(own) == 0 && fdatasync(shared) == 0);
	}
	CHECK(close(own) == 0);
	CHECK(close(shared) == 0);
	free(r);
	return NULL;
}

static uint8_t *read_whole(const char *name, size_t *len)
{
	int fd = open(name, O_RDONLY);
	CHECK(fd >= 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	uint8_t *b = malloc((size_t)st.st_size + 1);
	CHECK(b != NULL);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		CHECK(n > 0);
		got += (size_t)n;
	}
	CHECK(close(fd) == 0);
	*len = got;
	return b;
}

/* Checks the record at b[at]; returns its length, its thread and seq in *t, *seq. */
static uint32_t check_record(const uint8_t *b, size_t len, size_t at, int *t, int *seq)
{
	struct header h;
	if (len - at < HEADER)
		FAIL("a torn record at %zu (%zu bytes left)", at, len - at);
	memcpy(&h, b + at, HEADER);
	if (h.magic != 0x52454331 || h.thread >= THREADS || h.seq >= RECORDS ||
	    h.len != record_len(h.thread, h.seq) || h.len > len - at)
		FAIL("no record's header at %zu", at);
	for (uint32_t k = HEADER; k < h.len; k++)
		if (b[at + k] != byte_of(h.thread, h.seq, k))
			FAIL("record %u of thread %u at %zu: byte %u is another's", h.seq,
			     h.thread, at, k);
	*t = h.thread;
	*seq = h.seq;
	return h.len;
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	dir = argv[1];
	char name[256];
	snprintf(shared_name, sizeof(shared_name), "%s/shared", dir);
	int fd = open(shared_name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && close(fd) == 0);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(th[i], NULL) == 0);

	/* The shared file: every record whole, once, and each thread's in
	 * its order; nothing between or after them. */
	size_t len, total = 0;
	uint8_t *b = read_whole(shared_name, &len);
	int next[THREADS] = { 0 };
	for (size_t at = 0; at < len;) {
		int t, seq;
		uint32_t n = check_record(b, len, at, &t, &seq);
		if (seq != next[t])
			FAIL("thread %d's record %d where its %d was due", t, seq, next[t]);
		next[t]++;
		at += n;
	}
	for (int t = 0; t < THREADS; t++) {
		if (next[t] != RECORDS)
			FAIL("thread %d: %d of %d records in the shared file", t, next[t], RECORDS);
		for (int seq = 0; seq < RECORDS; seq++)
			total += record_len(t, seq);
	}
	CHECK(len == total);
	free(b);
	OK("appends");

	/* Each thread's own file: its records in order, at its position. */
	for (int t = 0; t < THREADS; t++) {
		snprintf(name, sizeof(name), "%s/own%d", dir, t);
		b = read_whole(name, &len);
		size_t at = 0;
		for (int seq = 0; seq < RECORDS; seq++) {
			int rt, rseq;
			at += check_record(b, len, at, &rt, &rseq);
			CHECK(rt == t && rseq == seq);
		}
		CHECK(at == len);
		free(b);
	}
	OK("own");
	printf("appends: %d threads, %d records each, %zu bytes shared\n", THREADS, RECORDS,
	       total);
	return 0;
}
