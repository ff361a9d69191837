/*
 * The fs.* command-line checks (see fstest.h).
 */
#include <pier/errno.h>
#include <pier/sha256.h>
#include <pier/stat.h>
#include <pier/string.h>
#include "../fs/vfs.h"
#include "../mm/mm.h"
#include "console.h"
#include "fstest.h"
#include "time.h"

#define CHUNK (1024 * 1024)

static const struct {
	int err;
	const char *name;
} errnames[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EIO, "EIO" }, { ENXIO, "ENXIO" },
	{ ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { ENODEV, "ENODEV" }, { ENOTDIR, "ENOTDIR" },
	{ EISDIR, "EISDIR" }, { EINVAL, "EINVAL" }, { ENAMETOOLONG, "ENAMETOOLONG" },
	{ ELOOP, "ELOOP" }, { EMFILE, "EMFILE" }, { ENFILE, "ENFILE" }, { EPROTO, "EPROTO" }, { ESTALE, "ESTALE" }, { ENOSYS, "ENOSYS" },
};

static const char *errname(int err)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].err == -err)
			return errnames[i].name;
	return "E?";
}

static int fail(const char *op, const char *path, int err)
{
	kprintf("error\t%s\t%s\t%s\n", op, path, errname(err));
	return 1;
}

static char type_char(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return 'f';
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	case S_IFIFO: return 'p';
	default: return 's';
	}
}

static void *chunk_buf;

/* SHA-256 of a file's contents as hex. */
static int hash_file(const char *path, char hex[65], uint64_t *bytes)
{
	struct file *f;
	int err = vfs_open(path, 0, 0, &f);
	if (err)
		return err;
	struct sha256_ctx c;
	uint8_t digest[32];
	sha256_init(&c);
	*bytes = 0;
	int64_t n;
	while ((n = vfs_read(f, chunk_buf, CHUNK)) > 0) {
		sha256_update(&c, chunk_buf, (size_t)n);
		*bytes += (uint64_t)n;
	}
	vfs_close(f);
	if (n < 0)
		return (int)n;
	sha256_final(&c, digest);
	sha256_hex(digest, hex);
	return 0;
}

/* Names of a directory, NUL-separated, without "." and "..". */
struct names {
	char *buf;
	size_t len, cap;
	unsigned count;
};

static int add_name(void *arg, const char *name, uint32_t len, uint32_t type, uint64_t ino)
{
	struct names *n = arg;
	(void)type, (void)ino;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (n->len + len + 1 > n->cap) {
		size_t cap = (n->cap ? n->cap * 2 : 4096) + len + 1;
		char *b = kmalloc(cap);
		if (!b)
			return 1;
		if (n->buf) {
			memcpy(b, n->buf, n->len);
			kfree(n->buf);
		}
		n->buf = b;
		n->cap = cap;
	}
	memcpy(n->buf + n->len, name, len);
	n->buf[n->len + len] = 0;
	n->len += len + 1;
	n->count++;
	return 0;
}

static int list_dir(const char *path, struct names *out)
{
	struct file *f;
	memset(out, 0, sizeof(*out));
	int err = vfs_open(path, 0, 0, &f);
	if (err)
		return err;
	err = vfs_readdir(f, add_name, out);
	vfs_close(f);
	return err;
}

static int walk(char *path, size_t len)
{
	struct vfs_stat st;
	int err = vfs_stat(path, false, &st), failed = 0;
	if (err)
		return fail("walk", path, err);
	char extra[VFS_PATH_MAX / 4] = "-";
	if (S_ISREG(st.mode)) {
		uint64_t bytes;
		if ((err = hash_file(path, extra, &bytes)))
			return fail("walk", path, err);
	} else if (S_ISLNK(st.mode)) {
		if ((err = vfs_readlink(path, extra, sizeof(extra))) < 0)
			return fail("walk", path, err);
	}
	kprintf("entry\t%c\t%llu\t%04o\t%s\t%s\n", type_char(st.mode),
		(unsigned long long)st.size, st.mode & 07777, extra, path);
	if (!S_ISDIR(st.mode))
		return 0;
	struct names names;
	if ((err = list_dir(path, &names)))
		return fail("walk", path, err);
	for (size_t off = 0; off < names.len;) {
		const char *name = names.buf + off;
		size_t n = strlen(name);
		off += n + 1;
		if (len + 1 + n + 1 > VFS_PATH_MAX) {
			failed += fail("walk", name, -ENAMETOOLONG);
			continue;
		}
		size_t at = len;
		if (len == 0 || path[len - 1] != '/')
			path[at++] = '/';
		memcpy(path + at, name, n + 1);
		failed += walk(path, at + n);
		path[len] = 0;
	}
	kfree(names.buf);
	return failed;
}

static int op_stat(const char *path, bool follow)
{
	struct vfs_stat st;
	int err = vfs_stat(path, follow, &st);
	if (err)
		return fail(follow ? "stat" : "lstat", path, err);
	kprintf("%s\t%s\t%c\t%llu\t%04o\t%u\t%u\n", follow ? "stat" : "lstat", path,
		type_char(st.mode), (unsigned long long)st.size, st.mode & 07777, st.uid, st.gid);
	return 0;
}

static int op_read(const char *path)
{
	char hex[65];
	uint64_t bytes;
	int err = hash_file(path, hex, &bytes);
	if (err)
		return fail("read", path, err);
	kprintf("read\t%s\t%llu\t%s\n", path, (unsigned long long)bytes, hex);
	return 0;
}

static int op_readlink(const char *path)
{
	char target[VFS_PATH_MAX];
	int n = vfs_readlink(path, target, sizeof(target));
	if (n < 0)
		return fail("readlink", path, n);
	kprintf("readlink\t%s\t%s\n", path, target);
	return 0;
}

static int op_watch(const char *path)
{
	struct vfs_stat st, now;
	int err = vfs_stat(path, true, &st);
	if (err)
		return fail("watch", path, err);
	kprintf("watch\t%s\tsize\t%llu\n", path, (unsigned long long)st.size);
	uint64_t start = time_ns();
	while (time_ns() - start < 30ULL * 1000000000ULL) {
		if ((err = vfs_stat(path, true, &now)))
			return fail("watch", path, err);
		if (now.size != st.size) {
			kprintf("watch\t%s\tchanged\t%llu\tafter_ms\t%llu\n", path,
				(unsigned long long)now.size,
				(unsigned long long)((time_ns() - start) / 1000000));
			return 0;
		}
		uint64_t t = time_ns();
		while (time_ns() - t < 20000000ULL)
			; /* 20 ms between checks */
	}
	kprintf("watch\t%s\tunchanged after 30 s\n", path);
	return 1;
}

static int op_bench_read(const char *path)
{
	struct file *f;
	int err = vfs_open(path, 0, 0, &f);
	if (err)
		return fail("bench_read", path, err);
	uint64_t t0 = time_ns(), total = 0;
	int64_t n;
	while ((n = vfs_read(f, chunk_buf, CHUNK)) > 0)
		total += (uint64_t)n;
	uint64_t ns = time_ns() - t0;
	vfs_close(f);
	if (n < 0)
		return fail("bench_read", path, (int)n);
	kprintf("bench_read\t%s\t%llu bytes\t%llu ms\t%llu MiB/s\n", path,
		(unsigned long long)total, (unsigned long long)(ns / 1000000),
		(unsigned long long)(ns ? total * 1000000000ULL / ns >> 20 : 0));
	return 0;
}

static int op_bench_stat(const char *dir)
{
	struct names names;
	uint64_t t0 = time_ns();
	int err = list_dir(dir, &names);
	if (err)
		return fail("bench_stat", dir, err);
	uint64_t t1 = time_ns();
	char path[VFS_PATH_MAX];
	size_t dlen = strlen(dir);
	unsigned ok = 0;
	for (size_t off = 0; off < names.len && dlen + 300 < sizeof(path);) {
		const char *name = names.buf + off;
		size_t n = strlen(name);
		off += n + 1;
		memcpy(path, dir, dlen);
		path[dlen] = '/';
		memcpy(path + dlen + 1, name, n + 1);
		struct vfs_stat st;
		ok += vfs_stat(path, false, &st) == 0;
	}
	uint64_t t2 = time_ns();
	kfree(names.buf);
	kprintf("bench_stat\t%s\t%u entries\tlist %llu ms\tstat %u in %llu ms\t%llu stats/s\n", dir,
		names.count, (unsigned long long)((t1 - t0) / 1000000), ok,
		(unsigned long long)((t2 - t1) / 1000000),
		(unsigned long long)(t2 > t1 ? (uint64_t)ok * 1000000000ULL / (t2 - t1) : 0));
	return ok == names.count ? 0 : 1;
}

static const char *const ops[] = { "fs.walk", "fs.stat", "fs.lstat", "fs.read", "fs.readlink",
				   "fs.watch", "fs.bench_read", "fs.bench_stat" };

int fstest_is_option(const char *key)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(key, ops[i]) == 0)
			return 1;
	return 0;
}

int fstest_run(const struct cmdline *cl)
{
	int failed = 0;
	for (int i = 0; i < cl->nopts; i++) {
		const char *k = cl->opts[i].key, *v = cl->opts[i].value;
		if (!fstest_is_option(k))
			continue;
		if (!chunk_buf && !(chunk_buf = kmalloc(CHUNK)))
			return fail(k, v, -ENOMEM);
		if (strcmp(k, "fs.walk") == 0) {
			char *path = kmalloc(VFS_PATH_MAX);
			size_t n = strnlen(v, VFS_PATH_MAX - 1);
			memcpy(path, v, n);
			path[n] = 0;
			failed += walk(path, n) != 0;
			kfree(path);
		} else if (strcmp(k, "fs.stat") == 0 || strcmp(k, "fs.lstat") == 0) {
			failed += op_stat(v, k[3] == 's');
		} else if (strcmp(k, "fs.read") == 0) {
			failed += op_read(v);
		} else if (strcmp(k, "fs.readlink") == 0) {
			failed += op_readlink(v);
		} else if (strcmp(k, "fs.watch") == 0) {
			failed += op_watch(v);
		} else if (strcmp(k, "fs.bench_read") == 0) {
			failed += op_bench_read(v);
		} else {
			failed += op_bench_stat(v);
		}
	}
	return failed;
}
