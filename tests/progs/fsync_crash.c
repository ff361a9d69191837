/* Durability when the VM is killed: fsync_crash DIR COUNT [exit]
 *
 * Writes records 0, 1, 2, ... into DIR (an empty directory), makes each one
 * durable, then prints "synced K". Record K goes
 *   K % 3 == 0: appended to DIR/log, then fsync(log);
 *   K % 3 == 1: into a new file DIR/rec-K, in pieces, then fdatasync and
 *               fsync of DIR;
 *   K % 3 == 2: into slot K / 3 (SLOT bytes at K / 3 * SLOT) of DIR/slots,
 *               through a MAP_SHARED mapping, then msync(MS_SYNC).
 * After each one it writes what it never syncs: a "PAD" record appended to
 * the log (which shares a page with the last synced record), 64 KiB of
 * DIR/volatile, a page of a shared mapping of it. After COUNT records it
 * prints "unsynced" and writes only unsynced data for a while; then it
 * sleeps until killed, or, given "exit", reads everything back and exits.
 *
 * The harness (tests/integration/test_writes.py) kills the VMM after some
 * "synced" lines and checks on the host that every record reported synced is
 * there and intact. A record is a header line and a payload:
 *   "REC %08d %08d %08x\n"  (K, payload length, CRC-32 of the payload)
 *   payload byte i == (K * 131 + i * 7 + (i >> 10)) & 0xff
 * ("PAD" for the unsynced log records, same layout). */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define HDR_LEN 31
#define SLOT 8192
#define VOLATILE_SIZE (16 * 65536)
#define MAX_PAYLOAD (192 * 1024)

static int dfd, log_fd, slots_fd, vol_fd;
static long long log_end;
static unsigned char rec[HDR_LEN + MAX_PAYLOAD];

static uint32_t crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static size_t payload_len(long k)
{
	switch (k % 3) {
	case 0: return 1 + (size_t)(k * 7919 % 9000);
	case 1: return 1 + (size_t)(k * 104729 % MAX_PAYLOAD);
	default: return 1 + (size_t)(k * 37 % (SLOT - HDR_LEN - 1));
	}
}

/* Record k (tag "REC" or "PAD") of n payload bytes into rec; its length. */
static size_t make_record(const char *tag, long k, size_t n)
{
	unsigned char *p = rec + HDR_LEN;
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((k * 131 + (long)i * 7 + (long)(i >> 10)) & 0xff);
	char hdr[HDR_LEN + 1];
	snprintf(hdr, sizeof(hdr), "%s %08ld %08zu %08x\n", tag, k, n, crc32(p, n));
	memcpy(rec, hdr, HDR_LEN);
	return HDR_LEN + n;
}

static void write_at(int fd, const unsigned char *p, size_t n, long long off)
{
	CHECK_EQ(pwrite(fd, p, n, off), (ssize_t)n);
}

static void synced_record(long k)
{
	size_t n = make_record("REC", k, payload_len(k));
	char name[32];

	switch (k % 3) {
	case 0:
		write_at(log_fd, rec, n, log_end);
		log_end += (long long)n;
		CHECK_SYS(fsync(log_fd));
		break;
	case 1: {
		snprintf(name, sizeof(name), "rec-%08ld", k);
		int fd = (int)CHECK_SYS(openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644));
		for (size_t off = 0; off < n; off += 65536)
			write_at(fd, rec + off, n - off < 65536 ? n - off : 65536, (long long)off);
		CHECK_SYS(fdatasync(fd));
		CHECK_SYS(close(fd));
		CHECK_SYS(fsync(dfd));
		break;
	}
	default: {
		long long at = k / 3 * SLOT;
		CHECK_SYS(ftruncate(slots_fd, at + SLOT));
		unsigned char *m = mmap(NULL, SLOT, PROT_READ | PROT_WRITE, MAP_SHARED, slots_fd, at);
		CHECK(m != MAP_FAILED);
		memcpy(m, rec, n);
		CHECK_SYS(msync(m, SLOT, MS_SYNC));
		CHECK_SYS(munmap(m, SLOT));
		break;
	}
	}
	printf("synced %ld\n", k);
	fflush(stdout);
}

/* Data nobody syncs: a PAD record on the log, volatile in two ways. */
static void unsynced(long k)
{
	size_t n = make_record("PAD", k, 1 + (size_t)(k * 53 % 3000));
	write_at(log_fd, rec, n, log_end);
	log_end += (long long)n;
	long long at = k % 16 * 65536;
	write_at(vol_fd, rec, n < 65536 ? n : 65536, at);
	unsigned char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vol_fd, at);
	CHECK(m != MAP_FAILED);
	memset(m, (int)(k & 0xff), 4096);
	CHECK_SYS(munmap(m, 4096));
}

/* Reads record k back from where it went; it must be intact. */
static void check_record(long k, long long log_off)
{
	static unsigned char got[HDR_LEN + MAX_PAYLOAD];
	size_t n = make_record("REC", k, payload_len(k));
	char name[32];

	if (k % 3 == 0) {
		CHECK_EQ(pread(log_fd, got, n, log_off), (ssize_t)n);
	} else if (k % 3 == 1) {
		snprintf(name, sizeof(name), "rec-%08ld", k);
		int fd = (int)CHECK_SYS(openat(dfd, name, O_RDONLY));
		CHECK_EQ(pread(fd, got, sizeof(got), 0), (ssize_t)n);
		CHECK_SYS(close(fd));
	} else {
		CHECK_EQ(pread(slots_fd, got, n, k / 3 * SLOT), (ssize_t)n);
	}
	if (memcmp(got, rec, n))
		FAIL("record %ld is not what was written", k);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "exit"))) {
		fprintf(stderr, "usage: fsync_crash DIR COUNT [exit]\n");
		return 2;
	}
	long count = atol(argv[2]);
	CHECK(count > 0 && count < 100000);
	umask(022);
	dfd = (int)CHECK_SYS(open(argv[1], O_RDONLY | O_DIRECTORY));
	log_fd = (int)CHECK_SYS(openat(dfd, "log", O_RDWR | O_CREAT | O_EXCL, 0644));
	slots_fd = (int)CHECK_SYS(openat(dfd, "slots", O_RDWR | O_CREAT | O_EXCL, 0644));
	vol_fd = (int)CHECK_SYS(openat(dfd, "volatile", O_RDWR | O_CREAT | O_EXCL, 0644));
	CHECK_SYS(ftruncate(vol_fd, VOLATILE_SIZE));
	CHECK_SYS(fsync(dfd));

	long long *log_offs = calloc((size_t)count, sizeof(long long));
	CHECK(log_offs != NULL);
	for (long k = 0; k < count; k++) {
		log_offs[k] = log_end;
		synced_record(k);
		unsynced(k);
	}
	OK("records");
	printf("unsynced\n");
	fflush(stdout);
	for (long k = count; k < count + 64; k++)
		unsynced(k);

	if (argc == 3) {
		struct timespec ts = { 1, 0 };
		for (;;)
			nanosleep(&ts, NULL);
	}
	for (long k = 0; k < count; k++)
		check_record(k, log_offs[k]);
	OK("verify");
	printf("fsync_crash: all passed\n");
	return 0;
}
