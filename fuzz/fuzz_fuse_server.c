/*
 * libFuzzer harness for pier's FUSE server (host/fuse_server*.c and the
 * DAX window of host/dax_map.c): each input is a short FUSE session, a
 * SEQUENCE of raw requests handed to fuse_server_handle() in-process,
 * against a scratch directory built by the harness.
 *
 * The scratch directory (mkdtemp under $TMPDIR, else /dev/shm or /tmp) holds
 *   sentinel, outside_abs   SECRET files outside both served trees
 *   ro/                     the tree a read-only server serves
 *   rw/                     the tree a writable server serves
 * Each tree: hello.txt, data.bin, a hard link, files of modes 0000, 0200
 * and 0444, a 1 GiB sparse file with data here and there, sub/ (inner.txt,
 * sub/up2 -> ../../sentinel), empty/, closed/ (mode 0, a file in it), a
 * FIFO, and symlinks up -> ../sentinel, abs -> the absolute path of
 * outside_abs, updir -> .., a self loop and a dangling one.
 *
 * Input: byte 0 chooses the session: bit 0 writable server (rw/, else ro/),
 * bit 1 a DAX window (SETUP/REMOVEMAPPING served), bit 2 no automatic
 * FUSE_INIT first (the input must send its own), bit 3 (when run as root)
 * requests served with file system uid and gid 65534, who owns the trees,
 * so permissions count (root passes every check). Then records, each
 *   u8 opcode, u8 flags, u8 node_ref, u8 fh_ref, u8 aux_ref, u8 cap_sel,
 *   u16 body length (little-endian), body (the bytes after fuse_in_header)
 * The harness writes the header (len, opcode, unique, nodeid) itself so
 * mutations reach the payload; `flags` can make len lie, and can insert
 * PAD_LEN bytes of 'a' after the opcode's fixed part (an overlong name).
 * So that later requests reach what earlier ones made, the harness keeps
 * the node ids and file handles that successful replies returned, and the
 * refs patch them into the request (node_ref: the header's nodeid; fh_ref:
 * the opcode's fh field; aux_ref: its second id, e.g. RENAME's newdir,
 * LINK's oldnodeid, COPY_FILE_RANGE's nodeid_out/fh_out): 0 leaves the
 * bytes as they are (node_ref 0: the root, or the node of the handle that
 * fh_ref picked), 1..0xdf pick a kept id, 0xe0..0xff a bogus or stale one.
 * cap_sel picks the reply buffer size (small ones test EOVERFLOW paths).
 *
 * Checked after every request: the reply is well formed (length, unique,
 * error range, no payload with an error, none at all for FORGETs), a
 * successful reply passes the guest's own checks (lib/fuse_msg.c), no
 * reply carries the SECRET; the server's live nodes and open handles are
 * exactly what its replies gave out and FORGET/RELEASE took back (a model
 * of lookup counts and handles here, against fuse_server_get_stats); and
 * every page the DAX window should map can be read (a file truncated under
 * a mapping must have been repaired, else SIGBUS). At the end of an input
 * each mapped page must show its file's bytes at its offset (READ through
 * the same handle), or zeros where the file ended when it was mapped or
 * has shrunk since. After every input: the server is freed, no fd is left open,
 * nothing outside the served tree changed (the scratch directory lists
 * exactly its four entries, the SECRET files and every entry of ro/ keep
 * their inode, size, mode, link count, mtime and ctime), and LeakSanitizer
 * sees no leak. rw/ is rebuilt before the next input whenever an input
 * sent it a request that may change it, so every input starts from the
 * same tree. Sizes are tamed (fuzz_tame) so the fuzz cannot fill the disk.
 *
 * Seeds: PIER_FUZZ_WRITE_SEEDS=DIR build/fuzz/fuse_server writes the seed
 * corpus (fuzz/corpus/fuse_server/) into DIR and exits. PIER_FUZZ_TRACE=1
 * prints each request and its outcome (to see what an input does).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <linux/fuse.h>
#include <pier/fuse_msg.h>
#include "dax_map.h"
#include "fuse_server.h"
#include "fuzz_host.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "SECRET-OUTSIDE-THE-TREE"
#define MAX_RECS 64        /* requests per input: bounds the time one takes */
#define REC_HDR 8
#define PAD_LEN 300        /* longer than FUSE_NAME_MAX */
#define MAX_IDS 224        /* ids kept per input (refs 1..0xdf) */
#define WIN_PAGES 32
#define DATA_SIZE (3 * 4096 + 100)
#define SPARSE_SIZE (1ull << 30)

#define SES_RW 1
#define SES_DAX 2
#define SES_NO_INIT 4
#define SES_NOBODY 8       /* requests served with file system ids NOBODY */

/* Who owns the trees (run as root, the harness serves as this user when
 * SES_NOBODY asks, as pier runs for an ordinary user). */
#define NOBODY 65534

#define F_LEN_PLUS 1       /* header len one more than the request */
#define F_LEN_MINUS 2      /* ... one less (both: 0) */
#define F_PAD 4            /* PAD_LEN bytes of 'a' after the fixed part */

static void die(const char *what)
{
	fprintf(stderr, "fuzz_fuse_server: %s: %s\n", what, strerror(errno));
	abort();
}

/* ---- the scratch directory ---- */

static char base[PATH_MAX - 64];
static char ro_dir[PATH_MAX], rw_dir[PATH_MAX];
static bool rw_dirty;
static bool trace; /* PIER_FUZZ_TRACE set: one line per request on stderr */
static int base_fds;
static struct dax_map win;

static void path_in(char *p, const char *dir, const char *rel)
{
	if (snprintf(p, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
		die("path too long");
}

static void put(const char *dir, const char *rel, const void *data, size_t len, mode_t mode)
{
	char p[PATH_MAX];
	path_in(p, dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fchmod(fd, mode))
		die(p);
	close(fd);
}

static void mk(const char *dir, const char *rel, int kind, const char *target)
{
	char p[PATH_MAX];
	path_in(p, dir, rel);
	int r = kind == 'd' ? mkdir(p, 0755) : kind == 'p' ? mkfifo(p, 0644) : symlink(target, p);
	if (r)
		die(p);
}

static int give_away(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return lchown(p, NOBODY, NOBODY) ? -1 : 0;
}

static void build_tree(const char *dir)
{
	char p[PATH_MAX], q[PATH_MAX];
	if (mkdir(dir, 0755))
		die(dir);
	put(dir, "hello.txt", "hello world\n", 12, 0644);
	static uint8_t data[DATA_SIZE];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	put(dir, "data.bin", data, sizeof(data), 0644);
	put(dir, "locked", "locked\n", 7, 0);
	path_in(p, dir, "hello.txt");
	path_in(q, dir, "hardlink");
	if (link(p, q))
		die(q);
	/* Sparse: a page of data at 0, at 512 MiB - 1 and at the very end. */
	path_in(p, dir, "sparse.bin");
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)SPARSE_SIZE) ||
	    pwrite(fd, data, 4096, 0) != 4096 ||
	    pwrite(fd, data, 4096, (512 << 20) - 1) != 4096 ||
	    pwrite(fd, data, 100, (off_t)SPARSE_SIZE - 100) != 100)
		die(p);
	close(fd);
	mk(dir, "sub", 'd', NULL);
	put(dir, "sub/inner.txt", "inner\n", 6, 0644);
	mk(dir, "sub/up2", 'l', "../../sentinel");
	mk(dir, "empty", 'd', NULL);
	mk(dir, "fifo", 'p', NULL);
	mk(dir, "up", 'l', "../sentinel");
	path_in(p, base, "outside_abs");
	mk(dir, "abs", 'l', p);
	mk(dir, "updir", 'l', "..");
	mk(dir, "loop", 'l', "loop");
	mk(dir, "dangling", 'l', "no/such/file");
	put(dir, "wonly", "write only\n", 11, 0200);
	put(dir, "ronly", "read only\n", 10, 0444);
	mk(dir, "closed", 'd', NULL);
	put(dir, "closed/inside.txt", "inside\n", 7, 0644);
	path_in(p, dir, "closed");
	if (chmod(p, 0))
		die(p);
	if (geteuid() == 0 && nftw(dir, give_away, 16, FTW_PHYS))
		die(dir);
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	if (remove(p))
		die(p);
	return 0;
}

/* Removes dir and everything below it, symlinks not followed. We are
 * typically root, but give directories back their search bits anyway: a
 * chmod 0 from the fuzz must not keep the tree from going. */
static int unlock_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if (flag == FTW_D && (st->st_mode & 0700) != 0700)
		chmod(p, 0700);
	return 0;
}

static void remove_tree(const char *dir)
{
	if (access(dir, F_OK))
		return;
	chmod(dir, 0700);
	nftw(dir, unlock_one, 16, FTW_PHYS);
	if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS))
		die(dir);
}

/* What must never change: the stat fields of each outside/ro entry. */
static const char *const watched[] = {
	"sentinel", "outside_abs", "ro", "ro/hello.txt", "ro/data.bin", "ro/locked",
	"ro/hardlink", "ro/sparse.bin", "ro/sub", "ro/sub/inner.txt", "ro/sub/up2",
	"ro/empty", "ro/fifo", "ro/up", "ro/abs", "ro/updir", "ro/loop", "ro/dangling",
	"ro/wonly", "ro/ronly", "ro/closed", "ro/closed/inside.txt",
};
#define NWATCHED (sizeof(watched) / sizeof(watched[0]))
static struct stat watched_st[NWATCHED];

static void stat_watched(struct stat *out)
{
	for (size_t i = 0; i < NWATCHED; i++) {
		char p[PATH_MAX];
		path_in(p, base, watched[i]);
		if (lstat(p, &out[i]))
			die(p);
	}
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_mode == b->st_mode &&
	       a->st_nlink == b->st_nlink && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The cheap "nothing outside changed" check, after every input. */
static void check_outside(void)
{
	struct stat now[NWATCHED];
	stat_watched(now);
	for (size_t i = 0; i < NWATCHED; i++)
		if (!same_stat(&now[i], &watched_st[i])) {
			fprintf(stderr, "fuzz_fuse_server: %s/%s changed\n", base, watched[i]);
			abort();
		}
	DIR *d = opendir(base);
	if (!d)
		die(base);
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "sentinel") &&
		    strcmp(n, "outside_abs") && strcmp(n, "ro") && strcmp(n, "rw")) {
			fprintf(stderr, "fuzz_fuse_server: %s/%s appeared\n", base, n);
			abort();
		}
	}
	closedir(d);
	char p[PATH_MAX], buf[64];
	path_in(p, base, "sentinel");
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)strlen(SECRET) || memcmp(buf, SECRET, strlen(SECRET))) {
		fprintf(stderr, "fuzz_fuse_server: the sentinel changed\n");
		abort();
	}
}

static void cleanup(void)
{
	dax_map_free(&win);
	if (base[0])
		remove_tree(base);
}

/*
 * Where the scratch directory goes: $TMPDIR, else /dev/shm, else /tmp. A
 * tmpfs by default because the fuzz sends FSYNC and FSYNCDIR all the
 * time: on a disk file system each waits for a journal commit, and the
 * harness ran 4x slower on ext4.
 */
static const char *scratch_parent(void)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp && *tmp)
		return tmp;
	return access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void write_seeds(const char *dir);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	const char *seeds = getenv("PIER_FUZZ_WRITE_SEEDS");
	if (seeds) {
		write_seeds(seeds);
		exit(0);
	}
	if (snprintf(base, sizeof(base), "%s/pier-fuzz-fs-XXXXXX", scratch_parent()) >=
	    (int)sizeof(base))
		die("TMPDIR too long");
	if (!mkdtemp(base))
		die(base);
	atexit(cleanup);
	trace = getenv("PIER_FUZZ_TRACE") != NULL;
	put(base, "sentinel", SECRET, strlen(SECRET), 0644);
	put(base, "outside_abs", SECRET, strlen(SECRET), 0644);
	path_in(ro_dir, base, "ro");
	path_in(rw_dir, base, "rw");
	build_tree(ro_dir);
	build_tree(rw_dir);
	stat_watched(watched_st);
	if (dax_map_init(&win, WIN_PAGES * (uint64_t)sysconf(_SC_PAGESIZE)))
		die("dax_map_init");
	base_fds = count_fds();
	return 0;
}

/* ---- one session ---- */

static struct fuse_server *srv;
static uint8_t req[FUSE_SERVER_MAX_READ + 8192];
static uint8_t rep[FUSE_SERVER_MAX_READ + 4096];
static uint64_t nodes[MAX_IDS];
static unsigned nnodes;
static struct { uint64_t fh, node; } fhs[MAX_IDS];
static unsigned nfhs;
static uint64_t unique_ctr;
static bool session_dax;

/*
 * Per window page, what the server's replies say is there. A page mapped
 * where its file had bytes shows the file (MAP_SHARED: later writes too)
 * until the file shrinks below it, when the server must turn it into
 * zeros (dax_map_repair); a page mapped past the end shows zeros, and
 * keeps showing zeros when the file grows (the guest remaps then).
 */
enum page_state { PAGE_NONE, PAGE_FILE, PAGE_ZERO, PAGE_UNKNOWN };
static struct {
	enum page_state state;
	uint64_t fh, foff;  /* the handle and file offset of a FILE page */
} win_pages[WIN_PAGES];

/*
 * The server's tables as its replies describe them: the lookup count of
 * each node id an entry reply gave out (FORGET takes them back; the root
 * is not in here, it lives as long as the server) and the handles not yet
 * released. fuse_server_get_stats must agree after every request.
 */
#define MAX_LOOKED 2048
static struct { uint64_t id, n; } looked[MAX_LOOKED];
static unsigned nlooked;
static bool looked_full;   /* too many to follow: the node check is off */
static uint64_t open_fhs[MAX_IDS * 2];
static unsigned nopen;
static bool open_full;
static bool m_initialized; /* INIT done, no DESTROY since */

static const uint64_t bogus_ids[16] = {
	0, 2, 3, 0x40, 0xffff, 0xffffffff, 1ull << 32, (1ull << 32) | 1, (1ull << 32) | 2,
	UINT64_MAX, 1ull << 63, INT64_MAX, 0x100000001ull << 16, 0xfffffffe, 0x7fffffff, 65,
};

/* A bogus id for refs 0xe0..0xff: a constant, or a kept id of another
 * generation (stale) or index. */
static uint64_t bogus(uint8_t ref, const uint64_t *kept, unsigned n)
{
	unsigned k = ref & 0x1f;
	if (k < 16)
		return bogus_ids[k];
	uint64_t id = n ? kept[k % n] : 1;
	return (k & 1) ? id + (1ull << 32) : id + 1;
}

static uint64_t node_at(uint8_t ref)
{
	if (ref >= 0xe0)
		return bogus(ref, nodes, nnodes);
	return nodes[(ref - 1u) % nnodes];
}

static void keep_node(uint64_t id)
{
	if (nnodes < MAX_IDS && id)
		nodes[nnodes++] = id;
}

static void keep_fh(uint64_t fh, uint64_t node)
{
	if (nfhs < MAX_IDS) {
		fhs[nfhs].fh = fh;
		fhs[nfhs].node = node;
		nfhs++;
	}
}

/* The fixed part of each request (where a name or data follows). */
static size_t fixed_size(uint32_t op)
{
	switch (op) {
	case FUSE_INIT: return sizeof(struct fuse_init_in);
	case FUSE_GETATTR: return sizeof(struct fuse_getattr_in);
	case FUSE_OPEN: case FUSE_OPENDIR: return sizeof(struct fuse_open_in);
	case FUSE_READ: case FUSE_READDIR: case FUSE_READDIRPLUS: return sizeof(struct fuse_read_in);
	case FUSE_RELEASE: case FUSE_RELEASEDIR: return sizeof(struct fuse_release_in);
	case FUSE_ACCESS: return sizeof(struct fuse_access_in);
	case FUSE_SETUPMAPPING: return sizeof(struct fuse_setupmapping_in);
	case FUSE_REMOVEMAPPING: return sizeof(struct fuse_removemapping_in);
	case FUSE_FLUSH: return sizeof(struct fuse_flush_in);
	case FUSE_FSYNC: case FUSE_FSYNCDIR: return sizeof(struct fuse_fsync_in);
	case FUSE_LSEEK: return sizeof(struct fuse_lseek_in);
	case FUSE_CREATE: return sizeof(struct fuse_create_in);
	case FUSE_MKDIR: return sizeof(struct fuse_mkdir_in);
	case FUSE_MKNOD: return sizeof(struct fuse_mknod_in);
	case FUSE_LINK: return sizeof(struct fuse_link_in);
	case FUSE_RENAME: return sizeof(struct fuse_rename_in);
	case FUSE_RENAME2: return sizeof(struct fuse_rename2_in);
	case FUSE_SETATTR: return sizeof(struct fuse_setattr_in);
	case FUSE_WRITE: return sizeof(struct fuse_write_in);
	case FUSE_FALLOCATE: return sizeof(struct fuse_fallocate_in);
	case FUSE_COPY_FILE_RANGE: return sizeof(struct fuse_copy_file_range_in);
	case FUSE_FORGET: return sizeof(struct fuse_forget_in);
	case FUSE_BATCH_FORGET: return sizeof(struct fuse_batch_forget_in);
	default: return 0;
	}
}

/* Where the opcode's file handle sits in the payload, or -1. */
static long fh_offset(uint32_t op)
{
	switch (op) {
	case FUSE_READ: case FUSE_READDIR: case FUSE_READDIRPLUS:
		return offsetof(struct fuse_read_in, fh);
	case FUSE_RELEASE: case FUSE_RELEASEDIR: return offsetof(struct fuse_release_in, fh);
	case FUSE_WRITE: return offsetof(struct fuse_write_in, fh);
	case FUSE_FLUSH: return offsetof(struct fuse_flush_in, fh);
	case FUSE_FSYNC: case FUSE_FSYNCDIR: return offsetof(struct fuse_fsync_in, fh);
	case FUSE_LSEEK: return offsetof(struct fuse_lseek_in, fh);
	case FUSE_FALLOCATE: return offsetof(struct fuse_fallocate_in, fh);
	case FUSE_SETUPMAPPING: return offsetof(struct fuse_setupmapping_in, fh);
	case FUSE_COPY_FILE_RANGE: return offsetof(struct fuse_copy_file_range_in, fh_in);
	case FUSE_SETATTR: return offsetof(struct fuse_setattr_in, fh);
	case FUSE_GETATTR: return offsetof(struct fuse_getattr_in, fh);
	default: return -1;
	}
}

static void put64(uint8_t *p, size_t plen, size_t at, uint64_t v)
{
	if (at + 8 <= plen)
		memcpy(p + at, &v, 8);
}

static uint64_t get64(const uint8_t *p, size_t plen, size_t at)
{
	uint64_t v = 0;
	if (at + 8 <= plen)
		memcpy(&v, p + at, 8);
	return v;
}

/* Patches the second id of an opcode (aux_ref 1..0xff). */
static void patch_aux(uint32_t op, uint8_t ref, uint8_t *p, size_t plen)
{
	switch (op) {
	case FUSE_LINK:
		put64(p, plen, offsetof(struct fuse_link_in, oldnodeid), node_at(ref));
		break;
	case FUSE_RENAME: case FUSE_RENAME2:
		put64(p, plen, 0, node_at(ref)); /* newdir: first in both */
		break;
	case FUSE_BATCH_FORGET:
		put64(p, plen, sizeof(struct fuse_batch_forget_in) +
			       offsetof(struct fuse_forget_one, nodeid), node_at(ref));
		break;
	case FUSE_COPY_FILE_RANGE: {
		uint64_t fh, node;
		if (ref >= 0xe0 || !nfhs) {
			fh = bogus(ref, nodes, nnodes);
			node = node_at(ref >= 0xe0 ? ref : 0xe0);
		} else {
			fh = fhs[(ref - 1u) % nfhs].fh;
			node = fhs[(ref - 1u) % nfhs].node;
		}
		put64(p, plen, offsetof(struct fuse_copy_file_range_in, nodeid_out), node);
		put64(p, plen, offsetof(struct fuse_copy_file_range_in, fh_out), fh);
		break;
	}
	default:
		break;
	}
}

/*
 * Keeps a request from making the host allocate much: FALLOCATE and
 * COPY_FILE_RANGE lengths are cut to 64 KiB, a SETATTR size (that the
 * server would accept) to 4 GiB, sparse. WRITEs are as long as the input.
 */
static void fuzz_tame(uint32_t op, uint8_t *p, size_t plen)
{
	size_t at;
	uint64_t v;
	switch (op) {
	case FUSE_FALLOCATE:
		at = offsetof(struct fuse_fallocate_in, length);
		put64(p, plen, at, get64(p, plen, at) & 0xffff);
		break;
	case FUSE_COPY_FILE_RANGE:
		at = offsetof(struct fuse_copy_file_range_in, len);
		put64(p, plen, at, get64(p, plen, at) & 0xffff);
		break;
	case FUSE_SETATTR:
		at = offsetof(struct fuse_setattr_in, size);
		v = get64(p, plen, at);
		if (v <= INT64_MAX)
			put64(p, plen, at, v & 0xffffffffull);
		break;
	default:
		break;
	}
}

/* Requests that may change the writable tree (any outcome: some change
 * part of it and then fail). */
static bool may_change(uint32_t op)
{
	switch (op) {
	case FUSE_CREATE: case FUSE_MKDIR: case FUSE_MKNOD: case FUSE_SYMLINK: case FUSE_LINK:
	case FUSE_UNLINK: case FUSE_RMDIR: case FUSE_RENAME: case FUSE_RENAME2:
	case FUSE_SETATTR: case FUSE_WRITE: case FUSE_FALLOCATE: case FUSE_COPY_FILE_RANGE:
	case FUSE_OPEN: /* O_TRUNC */
	case FUSE_SETUPMAPPING: /* writable mappings */
		return true;
	default:
		return false;
	}
}

static void fail(const char *why, uint32_t op)
{
	fprintf(stderr, "fuzz_fuse_server: opcode %u: %s\n", op, why);
	abort();
}

/* Touches one byte of each page the window should map: a mapping the
 * server left pointing past a shrunk file's end would SIGBUS here. */
static void touch_window(void)
{
	volatile uint8_t sink = 0;
	for (unsigned i = 0; i < WIN_PAGES; i++)
		if (win_pages[i].state != PAGE_NONE)
			sink ^= win.base[i * win.page + (i * 97) % win.page];
	(void)sink;
}

static bool session_nobody;

/* fuse_server_handle, as NOBODY when the session says so: setfsuid only
 * changes this thread's file system ids (and drops root's file
 * capabilities while they are not 0), so libFuzzer still writes its
 * files as root. */
static size_t serve_req(const void *rq, size_t len, void *rp, size_t cap)
{
	if (session_nobody) {
		setfsgid(NOBODY);
		setfsuid(NOBODY);
	}
	size_t n = fuse_server_handle(srv, rq, len, rp, cap);
	if (session_nobody) {
		setfsuid(0);
		setfsgid(0);
	}
	return n;
}

/*
 * READs `size` bytes at foff through handle fh, past the input's view
 * (its own buffers): the bytes read, or -1 when the server refuses (a
 * released handle). *out points at them.
 */
static long read_fh(uint64_t fh, uint64_t foff, uint32_t size, const uint8_t **out)
{
	static uint8_t rq[sizeof(struct fuse_in_header) + sizeof(struct fuse_read_in)];
	static uint8_t rp[sizeof(struct fuse_out_header) + 65536];
	struct fuse_in_header h = { .len = sizeof(rq), .opcode = FUSE_READ,
				    .unique = ++unique_ctr, .nodeid = FUSE_ROOT_ID };
	struct fuse_read_in in = { .fh = fh, .offset = foff, .size = size };
	memcpy(rq, &h, sizeof(h));
	memcpy(rq + sizeof(h), &in, sizeof(in));
	size_t n = serve_req(rq, sizeof(rq), rp, sizeof(rp));
	struct fuse_out_header o;
	memcpy(&o, rp, sizeof(o));
	if (n < sizeof(o) || o.error)
		return -1;
	*out = rp + sizeof(o);
	return (long)(n - sizeof(o));
}

/* Whether the file has a byte at foff: FILE, ZERO, or UNKNOWN. */
static enum page_state file_has(uint64_t fh, uint64_t foff)
{
	const uint8_t *b;
	long got = read_fh(fh, foff, 1, &b);
	return got < 0 ? PAGE_UNKNOWN : got ? PAGE_FILE : PAGE_ZERO;
}

/* Follows the window's state from each request's outcome. */
static void track_window(uint32_t op, const uint8_t *p, size_t plen, int32_t err)
{
	if (op == FUSE_DESTROY && !err) {
		memset(win_pages, 0, sizeof(win_pages));
	} else if (op == FUSE_SETUPMAPPING && plen >= sizeof(struct fuse_setupmapping_in)) {
		struct fuse_setupmapping_in in;
		memcpy(&in, p, sizeof(in));
		for (unsigned i = 0; i < WIN_PAGES; i++) {
			uint64_t at = i * win.page;
			if (at < in.moffset || at - in.moffset >= in.len)
				continue;
			/* On failure the range holds the old mappings
			 * (rejected early) or nothing (failed mmap): the
			 * harness stops looking at it. */
			win_pages[i].state = PAGE_NONE;
			if (err)
				continue;
			win_pages[i].fh = in.fh;
			win_pages[i].foff = in.foffset + (at - in.moffset);
			win_pages[i].state = file_has(in.fh, win_pages[i].foff);
		}
	} else if (op == FUSE_REMOVEMAPPING && plen >= sizeof(struct fuse_removemapping_in) &&
		   err != -EINVAL) {
		struct fuse_removemapping_in in;
		memcpy(&in, p, sizeof(in));
		size_t one = sizeof(struct fuse_removemapping_one);
		for (uint32_t k = 0; k < in.count && sizeof(in) + (k + 1) * one <= plen; k++) {
			struct fuse_removemapping_one r;
			memcpy(&r, p + sizeof(in) + k * one, one);
			for (unsigned i = 0; i < WIN_PAGES; i++) {
				uint64_t at = i * win.page;
				if (at >= r.moffset && at - r.moffset < r.len)
					win_pages[i].state = PAGE_NONE;
			}
		}
	}
}

/* Requests that may change a file's size (then FILE pages are re-checked:
 * one past the new end must have become zeros). */
static bool size_may_change(uint32_t op, const uint8_t *p, size_t plen)
{
	uint32_t flags = 0;
	switch (op) {
	case FUSE_WRITE: case FUSE_FALLOCATE: case FUSE_COPY_FILE_RANGE: case FUSE_SETATTR:
		return true;
	case FUSE_OPEN: case FUSE_CREATE: /* O_TRUNC; flags come first in both */
		if (plen >= 4)
			memcpy(&flags, p, 4);
		return flags & O_TRUNC;
	default:
		return false;
	}
}

static void track_sizes(void)
{
	for (unsigned i = 0; i < WIN_PAGES; i++)
		if (win_pages[i].state == PAGE_FILE) {
			enum page_state now = file_has(win_pages[i].fh, win_pages[i].foff);
			/* Growth keeps a FILE page FILE; a page left with no
			 * file under it must now be zeros. */
			win_pages[i].state = now == PAGE_ZERO ? PAGE_ZERO : now;
		}
}

/*
 * At the end of an input: every FILE page shows its file's bytes (READ
 * through the same handle says what they are), zeros past the end; every
 * ZERO page is zeros.
 */
static void check_window_contents(void)
{
	for (unsigned i = 0; i < WIN_PAGES; i++) {
		const uint8_t *page = win.base + i * win.page, *b = NULL;
		long got = 0;
		if (win_pages[i].state == PAGE_FILE) {
			got = read_fh(win_pages[i].fh, win_pages[i].foff, (uint32_t)win.page, &b);
			if (got < 0)
				continue;
			if ((size_t)got > win.page || memcmp(page, b, (size_t)got))
				fail("the DAX window shows other bytes than its file has",
				     FUSE_SETUPMAPPING);
		} else if (win_pages[i].state != PAGE_ZERO) {
			continue;
		}
		for (size_t k = (size_t)got; k < win.page; k++)
			if (page[k])
				fail("the DAX window shows bytes where it should show zeros",
				     FUSE_SETUPMAPPING);
	}
}

static void model_entry(uint64_t id)
{
	for (unsigned i = 0; i < nlooked; i++)
		if (looked[i].id == id) {
			looked[i].n++;
			return;
		}
	if (nlooked == MAX_LOOKED) {
		looked_full = true;
		return;
	}
	looked[nlooked].id = id;
	looked[nlooked].n = 1;
	nlooked++;
}

/* As fsrv_forget: a count beyond the lookups drops them all. */
static void model_forget(uint64_t id, uint64_t count)
{
	for (unsigned i = 0; i < nlooked; i++)
		if (looked[i].id == id) {
			looked[i].n = count < looked[i].n ? looked[i].n - count : 0;
			if (!looked[i].n)
				looked[i] = looked[--nlooked];
			return;
		}
}

static void model_open(uint64_t fh)
{
	if (nopen == sizeof(open_fhs) / sizeof(open_fhs[0]))
		open_full = true;
	else
		open_fhs[nopen++] = fh;
}

static void model_release(uint64_t fh)
{
	for (unsigned i = 0; i < nopen; i++)
		if (open_fhs[i] == fh) {
			open_fhs[i] = open_fhs[--nopen];
			return;
		}
	fail("a handle released that was never opened", FUSE_RELEASE);
}

static void model_reset(void)
{
	nlooked = 0;
	nopen = 0;
	looked_full = open_full = false;
	m_initialized = false;
}

/* FORGET and BATCH_FORGET: applied exactly when the server applies them. */
static void model_forgets(const struct fuse_in_header *h, const uint8_t *p, size_t plen,
			  size_t len)
{
	if (h->len != len || !m_initialized)
		return;
	if (h->opcode == FUSE_FORGET) {
		struct fuse_forget_in in;
		if (plen < sizeof(in))
			return;
		memcpy(&in, p, sizeof(in));
		model_forget(h->nodeid, in.nlookup);
		return;
	}
	struct fuse_batch_forget_in in;
	struct fuse_forget_one one;
	if (plen < sizeof(in))
		return;
	memcpy(&in, p, sizeof(in));
	if (in.count > (plen - sizeof(in)) / sizeof(one))
		return;
	for (uint32_t i = 0; i < in.count; i++) {
		memcpy(&one, p + sizeof(in) + i * sizeof(one), sizeof(one));
		model_forget(one.nodeid, one.nlookup);
	}
}

static void check_stats(uint32_t op)
{
	struct fuse_server_stats st;
	fuse_server_get_stats(srv, &st);
	if (!looked_full && st.live_nodes != 1 + nlooked)
		fail("live nodes disagree with the lookups the replies gave out", op);
	if (!open_full && st.open_handles != nopen)
		fail("open handles disagree with the opens and releases replied", op);
}

/* Checks one successful reply with the guest's checkers; keeps its ids. */
static void take_reply(uint32_t op, uint64_t nodeid, const uint8_t *pl, uint32_t n)
{
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct fuse_open_out o;
	struct fuse_statfs_out sf;
	struct fuse_init_out io;
	switch (op) {
	case FUSE_LOOKUP: case FUSE_MKDIR: case FUSE_SYMLINK: case FUSE_LINK:
		if (fuse_msg_entry(pl, n, &e) || !e.nodeid || e.nodeid == FUSE_ROOT_ID)
			fail("bad entry reply", op);
		keep_node(e.nodeid);
		model_entry(e.nodeid);
		break;
	case FUSE_CREATE:
		if (n != sizeof(e) + sizeof(o) || fuse_msg_entry(pl, sizeof(e), &e) ||
		    fuse_msg_open(pl + sizeof(e), sizeof(o), &o) || e.nodeid == FUSE_ROOT_ID)
			fail("bad create reply", op);
		keep_node(e.nodeid);
		keep_fh(o.fh, e.nodeid);
		model_entry(e.nodeid);
		model_open(o.fh);
		break;
	case FUSE_OPEN: case FUSE_OPENDIR:
		if (fuse_msg_open(pl, n, &o))
			fail("bad open reply", op);
		keep_fh(o.fh, nodeid);
		model_open(o.fh);
		break;
	case FUSE_GETATTR: case FUSE_SETATTR:
		if (fuse_msg_attr(pl, n, &a))
			fail("bad attr reply", op);
		break;
	case FUSE_STATFS:
		if (fuse_msg_statfs(pl, n, &sf))
			fail("bad statfs reply", op);
		break;
	case FUSE_INIT: {
		struct fuse_init_in in;
		memcpy(&in, req + sizeof(struct fuse_in_header), sizeof(in.major));
		if (fuse_msg_init(pl, n, &io))
			fail("bad init reply", op);
		/* A newer major gets our version back and no session. */
		m_initialized = in.major == FUSE_KERNEL_VERSION;
		break;
	}
	case FUSE_RELEASE: case FUSE_RELEASEDIR:
		if (n)
			fail("a payload where none belongs", op);
		model_release(get64(req + sizeof(struct fuse_in_header), 8, 0));
		break;
	case FUSE_DESTROY:
		if (n)
			fail("a payload where none belongs", op);
		model_reset();
		break;
	case FUSE_READDIR: case FUSE_READDIRPLUS: {
		uint32_t pos = 0;
		struct fuse_dirent_view v;
		int r;
		while ((r = fuse_msg_dirent_next(pl, n, &pos, op == FUSE_READDIRPLUS, &v)) == 1)
			if (op == FUSE_READDIRPLUS && v.entry.nodeid) {
				if (v.entry.nodeid == FUSE_ROOT_ID)
					fail("the root in a directory", op);
				keep_node(v.entry.nodeid);
				model_entry(v.entry.nodeid);
			}
		if (r < 0)
			fail("bad dirent reply", op);
		break;
	}
	case FUSE_WRITE: case FUSE_COPY_FILE_RANGE:
		if (n != sizeof(struct fuse_write_out))
			fail("bad write reply", op);
		break;
	case FUSE_LSEEK:
		if (n != sizeof(struct fuse_lseek_out))
			fail("bad lseek reply", op);
		break;
	case FUSE_READ: case FUSE_READLINK:
		break;
	default:
		if (n)
			fail("a payload where none belongs", op);
	}
}

static size_t reply_cap(uint8_t sel)
{
	if (sel < 0x80)
		return sizeof(rep);
	if (sel < 0xc0)
		return (size_t)(sel & 0x3f) * 4;
	return sizeof(struct fuse_out_header) + ((size_t)(sel & 0x3f) << 6);
}

/* Sends one request (payload p, plen bytes) and checks the reply. */
static void send_one(uint32_t op, uint64_t nodeid, const uint8_t *p, size_t plen, uint8_t flags,
		     size_t cap)
{
	struct fuse_in_header h;
	memset(&h, 0, sizeof(h));
	size_t len = sizeof(h) + plen;
	h.len = (uint32_t)len;
	if ((flags & (F_LEN_PLUS | F_LEN_MINUS)) == (F_LEN_PLUS | F_LEN_MINUS))
		h.len = 0;
	else if (flags & F_LEN_PLUS)
		h.len++;
	else if (flags & F_LEN_MINUS)
		h.len--;
	h.opcode = op;
	h.unique = ++unique_ctr;
	h.nodeid = nodeid;
	memcpy(req, &h, sizeof(h));
	if (p != req + sizeof(h))
		memmove(req + sizeof(h), p, plen);
	size_t n = serve_req(req, len, rep, cap);
	if (trace)
		fprintf(stderr, "op %u node %#llx len %zu cap %zu -> %zu error %d\n", op,
			(unsigned long long)nodeid, len, cap, n,
			n >= sizeof(struct fuse_out_header) ? ((struct fuse_out_header *)rep)->error : 0);
	if (n > cap)
		fail("reply longer than its buffer", op);
	const uint8_t *pl = req + sizeof(h);
	if (op == FUSE_FORGET || op == FUSE_BATCH_FORGET) {
		if (n)
			fail("a reply to FORGET", op);
		model_forgets(&h, pl, plen, len);
		check_stats(op);
		if (session_dax)
			touch_window();
		return;
	}
	if (n == 0) {
		if (cap >= sizeof(struct fuse_out_header))
			fail("no reply", op);
		return;
	}
	struct fuse_out_header o;
	if (n < sizeof(o))
		fail("reply shorter than its header", op);
	memcpy(&o, rep, sizeof(o));
	if (o.len != n || o.unique != h.unique || o.error > 0 || o.error < -4095 ||
	    (o.error && n != sizeof(o)))
		fail("malformed reply header", op);
	if (memmem(rep, n, SECRET, strlen(SECRET)))
		fail("the SECRET in a reply", op);
	/* Whatever the outcome: a failed WRITE may have written some. The
	 * window tracking READs through the server with buffers of its own. */
	if (!o.error)
		take_reply(op, nodeid, rep + sizeof(o), (uint32_t)(n - sizeof(o)));
	check_stats(op);
	if (session_dax) {
		track_window(op, pl, plen, o.error);
		if (size_may_change(op, pl, plen))
			track_sizes();
	}
	if (session_dax)
		touch_window();
}

static void auto_init(void)
{
	struct fuse_init_in in;
	memset(&in, 0, sizeof(in));
	in.major = FUSE_KERNEL_VERSION;
	in.minor = FUSE_KERNEL_MINOR_VERSION;
	in.max_readahead = 1 << 17;
	in.flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES | FUSE_INIT_EXT |
		   FUSE_MAP_ALIGNMENT | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES;
	memcpy(req + sizeof(struct fuse_in_header), &in, sizeof(in));
	send_one(FUSE_INIT, 0, req + sizeof(struct fuse_in_header), sizeof(in), 0, sizeof(rep));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t ses = data[0];
	bool rw = ses & SES_RW;
	if (rw && rw_dirty) {
		remove_tree(rw_dir);
		build_tree(rw_dir);
		rw_dirty = false;
	}
	srv = fuse_server_new(rw ? rw_dir : ro_dir, !rw);
	if (!srv)
		die("fuse_server_new");
	session_dax = ses & SES_DAX;
	session_nobody = (ses & SES_NOBODY) && geteuid() == 0;
	if (session_dax)
		fuse_server_set_dax(srv, &win);
	memset(win_pages, 0, sizeof(win_pages));
	model_reset();
	nodes[0] = FUSE_ROOT_ID;
	nnodes = 1;
	nfhs = 0;
	if (!(ses & SES_NO_INIT))
		auto_init();
	size_t at = 1;
	uint8_t *body = req + sizeof(struct fuse_in_header);
	for (unsigned k = 0; k < MAX_RECS && size - at >= REC_HDR; k++) {
		const uint8_t *r = data + at;
		uint32_t op = r[0];
		uint8_t flags = r[1], node_ref = r[2], fh_ref = r[3], aux_ref = r[4];
		size_t cap = reply_cap(r[5]);
		size_t blen = (size_t)r[6] | (size_t)r[7] << 8;
		at += REC_HDR;
		if (blen > size - at)
			blen = size - at;
		memcpy(body, data + at, blen);
		at += blen;
		if (flags & F_PAD) {
			size_t fix = fixed_size(op) < blen ? fixed_size(op) : blen;
			memmove(body + fix + PAD_LEN, body + fix, blen - fix);
			memset(body + fix, 'a', PAD_LEN);
			blen += PAD_LEN;
		}
		uint64_t fh_node = 0;
		long fo = fh_offset(op);
		if (fh_ref && fo >= 0) {
			if (fh_ref >= 0xe0) {
				put64(body, blen, (size_t)fo, bogus(fh_ref, nodes, nnodes));
			} else if (nfhs) {
				unsigned i = (fh_ref - 1u) % nfhs;
				put64(body, blen, (size_t)fo, fhs[i].fh);
				fh_node = fhs[i].node;
			}
		}
		if (aux_ref)
			patch_aux(op, aux_ref, body, blen);
		uint64_t nodeid = node_ref ? node_at(node_ref) : fh_node ? fh_node : FUSE_ROOT_ID;
		fuzz_tame(op, body, blen);
		if (rw && may_change(op))
			rw_dirty = true;
		send_one(op, nodeid, body, blen, flags, cap);
	}
	if (session_dax) {
		check_window_contents();
		/* A last look at what the window shows: only files of the tree. */
		for (unsigned i = 0; i < WIN_PAGES; i++)
			if (win_pages[i].state != PAGE_NONE &&
			    memmem(win.base + i * win.page, win.page, SECRET, strlen(SECRET)))
				fail("the SECRET in the DAX window", FUSE_SETUPMAPPING);
	}
	fuse_server_free(srv); /* also clears the window */
	srv = NULL;
	if (count_fds() != base_fds)
		fail("an fd left open after fuse_server_free", 0);
	check_outside();
	return 0;
}

/* ---- seeds ---- */

/* One record: opcode, flags, refs, cap, then the body a + b. */
static void rec(struct seed *s, uint32_t op, uint8_t flags, uint8_t node, uint8_t fh,
		uint8_t aux, uint8_t cap, const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t h[REC_HDR] = { (uint8_t)op, flags, node, fh, aux, cap,
			       (uint8_t)(alen + blen), (uint8_t)((alen + blen) >> 8) };
	seed_put(s, h, sizeof(h));
	if (alen)
		seed_put(s, a, alen);
	if (blen)
		seed_put(s, b, blen);
}

/* A request with a name (NUL included) after a fixed struct. */
static void named(struct seed *s, uint32_t op, uint8_t node, const void *a, size_t alen,
		  const char *name)
{
	rec(s, op, 0, node, 0, 0, 0, a, alen, name, strlen(name) + 1);
}

static void lookup(struct seed *s, uint8_t node, const char *name)
{
	named(s, FUSE_LOOKUP, node, NULL, 0, name);
}

static void open_(struct seed *s, uint32_t op, uint8_t node, uint32_t flags)
{
	struct fuse_open_in in = { .flags = flags };
	rec(s, op, 0, node, 0, 0, 0, &in, sizeof(in), NULL, 0);
}

static void read_(struct seed *s, uint32_t op, uint8_t fh, uint64_t off, uint32_t size,
		  uint8_t cap)
{
	struct fuse_read_in in = { .offset = off, .size = size };
	rec(s, op, 0, 0, fh, 0, cap, &in, sizeof(in), NULL, 0);
}

static void write_seeds(const char *dir)
{
	struct seed s;
	const char *ro_names[] = { "hello.txt", "data.bin", "sparse.bin", "sub", "up", "abs",
				   "updir", "loop", "dangling", "fifo", "locked", "hardlink" };
	/* 1: look up every name (nodes 2..13), GETATTR and READLINK each. */
	s.n = 0;
	s.b[s.n++] = 0;
	for (unsigned i = 0; i < 12; i++)
		lookup(&s, 1, ro_names[i]);
	for (unsigned i = 0; i < 13; i++) {
		struct fuse_getattr_in g = { 0 };
		rec(&s, FUSE_GETATTR, 0, (uint8_t)(i + 1), 0, 0, 0, &g, sizeof(g), NULL, 0);
		rec(&s, FUSE_READLINK, 0, (uint8_t)(i + 1), 0, 0, 0, NULL, 0, NULL, 0);
	}
	seed_file(dir, "ro-lookup-all", &s);
	/* 2: open and read files in pieces, release. */
	s.n = 0;
	s.b[s.n++] = 0;
	lookup(&s, 1, "hello.txt");
	lookup(&s, 1, "data.bin");
	lookup(&s, 1, "sparse.bin");
	open_(&s, FUSE_OPEN, 2, O_RDONLY);
	open_(&s, FUSE_OPEN, 3, O_RDONLY);
	open_(&s, FUSE_OPEN, 4, O_RDONLY);
	read_(&s, FUSE_READ, 1, 0, 4096, 0);
	read_(&s, FUSE_READ, 2, 4000, 8192, 0);
	read_(&s, FUSE_READ, 2, 0, 100, 0x90);
	read_(&s, FUSE_READ, 3, (512 << 20) - 10, 65536, 0);
	read_(&s, FUSE_READ, 3, UINT64_MAX - 10, 100, 0);
	read_(&s, FUSE_READ, 3, INT64_MAX, 1, 0);
	{
		struct fuse_lseek_in l = { .offset = 8192, .whence = SEEK_DATA };
		rec(&s, FUSE_LSEEK, 0, 0, 3, 0, 0, &l, sizeof(l), NULL, 0);
		l.whence = SEEK_HOLE;
		l.offset = 0;
		rec(&s, FUSE_LSEEK, 0, 0, 3, 0, 0, &l, sizeof(l), NULL, 0);
		struct fuse_flush_in f = { 0 };
		rec(&s, FUSE_FLUSH, 0, 0, 1, 0, 0, &f, sizeof(f), NULL, 0);
		struct fuse_fsync_in y = { .fsync_flags = 1 };
		rec(&s, FUSE_FSYNC, 0, 0, 2, 0, 0, &y, sizeof(y), NULL, 0);
		struct fuse_release_in r = { 0 };
		rec(&s, FUSE_RELEASE, 0, 0, 1, 0, 0, &r, sizeof(r), NULL, 0);
		rec(&s, FUSE_RELEASE, 0, 0, 1, 0, 0, &r, sizeof(r), NULL, 0); /* twice */
	}
	seed_file(dir, "ro-open-read", &s);
	/* 3: directories: READDIR, READDIRPLUS with small buffers, offsets. */
	s.n = 0;
	s.b[s.n++] = 0;
	open_(&s, FUSE_OPENDIR, 1, O_RDONLY);
	lookup(&s, 1, "sub");
	open_(&s, FUSE_OPENDIR, 2, O_RDONLY);
	read_(&s, FUSE_READDIR, 1, 0, 4096, 0);
	read_(&s, FUSE_READDIRPLUS, 1, 0, 4096, 0);
	read_(&s, FUSE_READDIRPLUS, 1, 0, 200, 0xc3);
	read_(&s, FUSE_READDIR, 1, 3, 80, 0);
	read_(&s, FUSE_READDIR, 1, INT64_MAX, 4096, 0);
	read_(&s, FUSE_READDIRPLUS, 2, 0, 4096, 0);
	{
		struct fuse_fsync_in y = { 0 };
		rec(&s, FUSE_FSYNCDIR, 0, 0, 1, 0, 0, &y, sizeof(y), NULL, 0);
		struct fuse_release_in r = { 0 };
		rec(&s, FUSE_RELEASEDIR, 0, 0, 1, 0, 0, &r, sizeof(r), NULL, 0);
		rec(&s, FUSE_RELEASE, 0, 0, 2, 0, 0, &r, sizeof(r), NULL, 0); /* wrong kind */
	}
	seed_file(dir, "ro-readdir", &s);
	/* 4: STATFS, ACCESS, unknown opcodes, write ops on a read-only server. */
	s.n = 0;
	s.b[s.n++] = 0;
	rec(&s, FUSE_STATFS, 0, 1, 0, 0, 0, NULL, 0, NULL, 0);
	{
		struct fuse_access_in a = { .mask = R_OK | X_OK };
		rec(&s, FUSE_ACCESS, 0, 1, 0, 0, 0, &a, sizeof(a), NULL, 0);
		a.mask = W_OK;
		rec(&s, FUSE_ACCESS, 0, 1, 0, 0, 0, &a, sizeof(a), NULL, 0);
		a.mask = 0x80;
		rec(&s, FUSE_ACCESS, 0, 1, 0, 0, 0, &a, sizeof(a), NULL, 0);
		struct fuse_mkdir_in m = { .mode = 0755 };
		named(&s, FUSE_MKDIR, 1, &m, sizeof(m), "newdir");
		named(&s, FUSE_UNLINK, 1, NULL, 0, "hello.txt");
		struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0777 };
		rec(&s, FUSE_SETATTR, 0, 1, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		rec(&s, FUSE_SETXATTR, 0, 1, 0, 0, 0, NULL, 0, NULL, 0);
		rec(&s, FUSE_GETXATTR, 0, 1, 0, 0, 0, NULL, 0, NULL, 0);
		rec(&s, FUSE_TMPFILE, 0, 1, 0, 0, 0, NULL, 0, NULL, 0);
		rec(&s, 200, 0, 1, 0, 0, 0, NULL, 0, NULL, 0);
		lookup(&s, 1, "hello.txt");
		open_(&s, FUSE_OPEN, 2, O_RDWR);
		open_(&s, FUSE_OPEN, 2, O_RDONLY | O_TRUNC);
	}
	seed_file(dir, "ro-misc", &s);
	/* 5: bad names, lengths, ids, caps. */
	s.n = 0;
	s.b[s.n++] = 0;
	lookup(&s, 1, ".");
	lookup(&s, 1, "..");
	lookup(&s, 1, "sub/inner.txt");
	lookup(&s, 1, "");
	rec(&s, FUSE_LOOKUP, 0, 1, 0, 0, 0, "abc", 3, NULL, 0); /* no NUL */
	rec(&s, FUSE_LOOKUP, 0, 1, 0, 0, 0, "a\0b", 4, NULL, 0);
	rec(&s, FUSE_LOOKUP, F_PAD, 1, 0, 0, 0, "x", 2, NULL, 0);
	rec(&s, FUSE_LOOKUP, F_LEN_PLUS, 1, 0, 0, 0, "sub", 4, NULL, 0);
	rec(&s, FUSE_LOOKUP, F_LEN_MINUS, 1, 0, 0, 0, "sub", 4, NULL, 0);
	rec(&s, FUSE_LOOKUP, 0, 0xe1, 0, 0, 0, "sub", 4, NULL, 0);
	rec(&s, FUSE_LOOKUP, 0, 0xf1, 0, 0, 0, "sub", 4, NULL, 0);
	rec(&s, FUSE_LOOKUP, 0, 1, 0, 0, 0x80, "sub", 4, NULL, 0);
	rec(&s, FUSE_LOOKUP, 0, 1, 0, 0, 0x84, "sub", 4, NULL, 0);
	rec(&s, FUSE_GETATTR, 0, 1, 0, 0, 0, NULL, 0, NULL, 0); /* short */
	read_(&s, FUSE_READ, 0xe7, 0, 10, 0);
	open_(&s, FUSE_OPEN, 1, O_RDONLY); /* a directory */
	open_(&s, FUSE_OPENDIR, 0xe0, O_RDONLY);
	seed_file(dir, "ro-bad", &s);
	/* 6: FORGET, BATCH_FORGET, DESTROY and INIT again, INIT variants. */
	s.n = 0;
	s.b[s.n++] = SES_NO_INIT;
	lookup(&s, 1, "sub"); /* before INIT */
	{
		struct fuse_init_in in = { .major = 7, .minor = 20 };
		rec(&s, FUSE_INIT, 0, 0, 0, 0, 0, &in, sizeof(in), NULL, 0);
		in.major = 8;
		rec(&s, FUSE_INIT, 0, 0, 0, 0, 0, &in, sizeof(in), NULL, 0);
		in.major = 7;
		in.minor = 31;
		in.flags = FUSE_MAP_ALIGNMENT | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS;
		rec(&s, FUSE_INIT, 0, 0, 0, 0, 0, &in, 16, NULL, 0); /* old, short */
		rec(&s, FUSE_INIT, 0, 0, 0, 0, 0, &in, sizeof(in), NULL, 0); /* twice */
		lookup(&s, 1, "sub");
		lookup(&s, 2, "inner.txt");
		lookup(&s, 1, "sub");
		struct fuse_forget_in f = { .nlookup = 1 };
		rec(&s, FUSE_FORGET, 0, 2, 0, 0, 0, &f, sizeof(f), NULL, 0);
		rec(&s, FUSE_FORGET, 0, 2, 0, 0, 0, &f, 4, NULL, 0);
		struct fuse_batch_forget_in b = { .count = 2 };
		struct fuse_forget_one o[2] = { { 0, 5 }, { 1, 1 } };
		o[1].nodeid = 1;
		rec(&s, FUSE_BATCH_FORGET, 0, 1, 0, 3, 0, &b, sizeof(b), o, sizeof(o));
		b.count = 3;
		rec(&s, FUSE_BATCH_FORGET, 0, 1, 0, 2, 0, &b, sizeof(b), o, sizeof(o));
		lookup(&s, 2, "inner.txt"); /* stale parent */
		rec(&s, FUSE_DESTROY, 0, 1, 0, 0, 0, NULL, 0, NULL, 0);
		lookup(&s, 1, "sub");
		in.minor = FUSE_KERNEL_MINOR_VERSION;
		rec(&s, FUSE_INIT, 0, 0, 0, 0, 0, &in, sizeof(in), NULL, 0);
		lookup(&s, 2, "inner.txt"); /* stale after DESTROY */
	}
	seed_file(dir, "ro-forget-destroy", &s);
	/* 7: DAX on a read-only server. */
	for (int rw = 0; rw < 2; rw++) {
		s.n = 0;
		s.b[s.n++] = SES_DAX | (rw ? SES_RW : 0);
		lookup(&s, 1, "data.bin");
		lookup(&s, 1, "sparse.bin");
		lookup(&s, 1, "hello.txt");
		open_(&s, FUSE_OPEN, 2, rw ? O_RDWR : O_RDONLY);
		open_(&s, FUSE_OPEN, 3, O_RDONLY);
		uint64_t R = FUSE_SETUPMAPPING_FLAG_READ, W = FUSE_SETUPMAPPING_FLAG_WRITE;
		struct fuse_setupmapping_in m[] = {
			{ .foffset = 0, .len = 4 * 4096, .flags = R, .moffset = 0 },
			{ .foffset = 4096, .len = 8 * 4096, .flags = R | W, .moffset = 8 * 4096 },
			{ .foffset = (512 << 20) - 4096, .len = 2 * 4096, .flags = R, .moffset = 2 * 4096 },
			{ .foffset = 0, .len = 4096, .flags = R, .moffset = 31 * 4096 },
			{ .foffset = 0, .len = 2 * 4096, .flags = R, .moffset = 31 * 4096 },
			{ .foffset = 100, .len = 4096, .flags = R, .moffset = 0 },
			{ .foffset = UINT64_MAX - 4095, .len = 4096, .flags = R, .moffset = 0 },
			{ .foffset = 0, .len = 4096, .flags = R | 8, .moffset = 0 },
			{ .foffset = 0, .len = 0, .flags = R, .moffset = 0 },
			{ .foffset = 0, .len = 4096, .flags = R, .moffset = UINT64_MAX - 4095 },
		};
		for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++)
			rec(&s, FUSE_SETUPMAPPING, 0, 0, i == 2 ? 2 : 1, 0, 0, &m[i], sizeof(m[i]),
			    NULL, 0);
		/* another node's handle */
		rec(&s, FUSE_SETUPMAPPING, 0, 4, 1, 0, 0, &m[0], sizeof(m[0]), NULL, 0);
		struct fuse_removemapping_in rm = { .count = 2 };
		struct fuse_removemapping_one one[2] = { { 4096, 4096 }, { 10 * 4096, 2 * 4096 } };
		rec(&s, FUSE_REMOVEMAPPING, 0, 1, 0, 0, 0, &rm, sizeof(rm), one, sizeof(one));
		one[1].moffset = 1ull << 40;
		rec(&s, FUSE_REMOVEMAPPING, 0, 1, 0, 0, 0, &rm, sizeof(rm), one, sizeof(one));
		rm.count = 3;
		rec(&s, FUSE_REMOVEMAPPING, 0, 1, 0, 0, 0, &rm, sizeof(rm), one, sizeof(one));
		rm.count = 0;
		rec(&s, FUSE_REMOVEMAPPING, 0, 1, 0, 0, 0, &rm, sizeof(rm), NULL, 0);
		if (rw) {
			/* Shrink a mapped file: the window must be repaired. */
			struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 100 };
			rec(&s, FUSE_SETATTR, 0, 2, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
			m[0].len = 8 * 4096;
			rec(&s, FUSE_SETUPMAPPING, 0, 0, 1, 0, 0, &m[0], sizeof(m[0]), NULL, 0);
			open_(&s, FUSE_OPEN, 2, O_RDWR | O_TRUNC);
		}
		rec(&s, FUSE_DESTROY, 0, 1, 0, 0, 0, NULL, 0, NULL, 0);
		seed_file(dir, rw ? "rw-dax" : "ro-dax", &s);
	}
	/* 7b: DAX mappings split by a remove and by an overlapping setup,
	 * trimmed at either end, then the file shrunk to the middle of each
	 * piece, then grown again: the window must follow (zeros past the
	 * end, the file's bytes before it). data.bin has 3 pages and 100 bytes. */
	for (int v = 0; v < 3; v++) {
		s.n = 0;
		s.b[s.n++] = SES_DAX | SES_RW;
		lookup(&s, 1, "data.bin");
		lookup(&s, 1, "hello.txt");
		open_(&s, FUSE_OPEN, 2, O_RDWR);
		open_(&s, FUSE_OPEN, 3, O_RDONLY);
		uint64_t R = FUSE_SETUPMAPPING_FLAG_READ, W = FUSE_SETUPMAPPING_FLAG_WRITE;
		struct fuse_setupmapping_in m = { .foffset = 0, .len = 8 * 4096, .flags = R | W,
						  .moffset = 0 };
		rec(&s, FUSE_SETUPMAPPING, 0, 0, 1, 0, 0, &m, sizeof(m), NULL, 0);
		m.moffset = 16 * 4096;
		rec(&s, FUSE_SETUPMAPPING, 0, 0, 1, 0, 0, &m, sizeof(m), NULL, 0);
		struct fuse_removemapping_in rm = { .count = 1 };
		struct fuse_removemapping_one one = { 4096, 4096 };
		rec(&s, FUSE_REMOVEMAPPING, 0, 1, 0, 0, 0, &rm, sizeof(rm), &one, sizeof(one));
		/* hello.txt over page 17 (splits the second) and the head of
		 * another mapping trimmed by one over pages 23..24. */
		struct fuse_setupmapping_in m2 = { .foffset = 0, .len = 4096, .flags = R,
						   .moffset = 17 * 4096 };
		rec(&s, FUSE_SETUPMAPPING, 0, 0, 2, 0, 0, &m2, sizeof(m2), NULL, 0);
		m2.moffset = 23 * 4096;
		m2.len = 2 * 4096;
		rec(&s, FUSE_SETUPMAPPING, 0, 0, 2, 0, 0, &m2, sizeof(m2), NULL, 0);
		m2.moffset = 7 * 4096;
		rec(&s, FUSE_SETUPMAPPING, 0, 0, 2, 0, 0, &m2, sizeof(m2), NULL, 0);
		uint64_t sizes[3][2] = { { 2 * 4096 + 100, 3 * 4096 + 7 },
					 { 4096 + 1, 12 * 4096 },
					 { 3 * 4096, 0 } };
		struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = sizes[v][0] };
		rec(&s, FUSE_SETATTR, 0, 2, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		struct fuse_write_in w = { .offset = 2 * 4096 + 50, .size = 8 };
		rec(&s, FUSE_WRITE, 0, 0, 1, 0, 0, &w, sizeof(w), "regrown!", 8);
		sa.size = sizes[v][1];
		rec(&s, FUSE_SETATTR, 0, 2, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		if (v == 2)
			open_(&s, FUSE_OPEN, 2, O_RDWR | O_TRUNC);
		char name[32];
		snprintf(name, sizeof(name), "rw-dax-split-%d", v);
		seed_file(dir, name, &s);
	}
	/* 7c: permissions, served as NOBODY (the trees' owner): modes 0200,
	 * 0444, 0000, a closed directory. */
	for (int rw = 0; rw < 2; rw++) {
		s.n = 0;
		s.b[s.n++] = SES_NOBODY | SES_DAX | (rw ? SES_RW : 0);
		lookup(&s, 1, "wonly");      /* node 2 */
		lookup(&s, 1, "ronly");      /* node 3 */
		lookup(&s, 1, "locked");     /* node 4 */
		lookup(&s, 1, "closed");     /* node 5 */
		lookup(&s, 5, "inside.txt"); /* EACCES */
		open_(&s, FUSE_OPENDIR, 5, O_RDONLY);
		open_(&s, FUSE_OPEN, 2, O_RDONLY);
		open_(&s, FUSE_OPEN, 2, O_WRONLY); /* fh 1: write only */
		open_(&s, FUSE_OPEN, 3, O_WRONLY);
		open_(&s, FUSE_OPEN, 3, O_RDONLY); /* fh 2 */
		open_(&s, FUSE_OPEN, 4, O_RDONLY);
		read_(&s, FUSE_READ, 1, 0, 10, 0);
		struct fuse_setupmapping_in m = { .len = 4096, .flags = FUSE_SETUPMAPPING_FLAG_READ };
		rec(&s, FUSE_SETUPMAPPING, 0, 0, 1, 0, 0, &m, sizeof(m), NULL, 0);
		rec(&s, FUSE_SETUPMAPPING, 0, 0, 2, 0, 0, &m, sizeof(m), NULL, 0);
		struct fuse_access_in a = { .mask = R_OK };
		rec(&s, FUSE_ACCESS, 0, 2, 0, 0, 0, &a, sizeof(a), NULL, 0);
		a.mask = W_OK;
		rec(&s, FUSE_ACCESS, 0, 3, 0, 0, 0, &a, sizeof(a), NULL, 0);
		a.mask = X_OK;
		rec(&s, FUSE_ACCESS, 0, 5, 0, 0, 0, &a, sizeof(a), NULL, 0);
		struct fuse_write_in w = { .size = 3 };
		rec(&s, FUSE_WRITE, 0, 0, 1, 0, 0, &w, sizeof(w), "abc", 3);
		struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 1 };
		rec(&s, FUSE_SETATTR, 0, 3, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		sa.valid = FATTR_UID;
		sa.uid = 0;
		rec(&s, FUSE_SETATTR, 0, 2, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		sa.valid = FATTR_MODE | FATTR_MTIME;
		sa.mode = 0600;
		sa.mtime = 1;
		rec(&s, FUSE_SETATTR, 0, 2, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		struct fuse_create_in c = { .flags = O_RDWR, .mode = 0644 };
		named(&s, FUSE_CREATE, 5, &c, sizeof(c), "new");
		struct fuse_mkdir_in md = { .mode = 0755 };
		named(&s, FUSE_MKDIR, 1, &md, sizeof(md), "mine");
		named(&s, FUSE_UNLINK, 5, NULL, 0, "inside.txt");
		seed_file(dir, rw ? "rw-nobody" : "ro-nobody", &s);
	}
	/* 8: writable: create, write, read back, setattr, fallocate, copy. */
	s.n = 0;
	s.b[s.n++] = SES_RW;
	{
		struct fuse_create_in c = { .flags = O_RDWR, .mode = S_IFREG | 0644, .umask = 022 };
		named(&s, FUSE_CREATE, 1, &c, sizeof(c), "new.txt"); /* node 2, fh 1 */
		struct fuse_write_in w = { .offset = 0, .size = 12 };
		rec(&s, FUSE_WRITE, 0, 0, 1, 0, 0, &w, sizeof(w), "fuzzed bytes", 12);
		w.offset = 1 << 20;
		w.size = 5;
		rec(&s, FUSE_WRITE, 0, 0, 1, 0, 0, &w, sizeof(w), "tail!", 5);
		w.size = 9; /* lies */
		rec(&s, FUSE_WRITE, 0, 0, 1, 0, 0, &w, sizeof(w), "tail!", 5);
		read_(&s, FUSE_READ, 1, 0, 64, 0);
		struct fuse_setattr_in sa = { .valid = FATTR_SIZE | FATTR_FH, .size = 3 };
		rec(&s, FUSE_SETATTR, 0, 0, 1, 0, 0, &sa, sizeof(sa), NULL, 0);
		sa.valid = FATTR_MODE | FATTR_ATIME | FATTR_MTIME_NOW;
		sa.mode = 0600;
		sa.atime = 12345;
		rec(&s, FUSE_SETATTR, 0, 2, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		sa.valid = FATTR_ATIME;
		sa.atimensec = 1000000000;
		rec(&s, FUSE_SETATTR, 0, 2, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		sa.valid = FATTR_UID | FATTR_GID;
		sa.uid = 1234;
		sa.gid = 1234;
		rec(&s, FUSE_SETATTR, 0, 2, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		sa.valid = FATTR_SIZE;
		sa.size = UINT64_MAX;
		rec(&s, FUSE_SETATTR, 0, 2, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		struct fuse_fallocate_in fa = { .offset = 0, .length = 8192 };
		rec(&s, FUSE_FALLOCATE, 0, 0, 1, 0, 0, &fa, sizeof(fa), NULL, 0);
		fa.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		rec(&s, FUSE_FALLOCATE, 0, 0, 1, 0, 0, &fa, sizeof(fa), NULL, 0);
		fa.mode = FALLOC_FL_COLLAPSE_RANGE;
		rec(&s, FUSE_FALLOCATE, 0, 0, 1, 0, 0, &fa, sizeof(fa), NULL, 0);
		lookup(&s, 1, "data.bin"); /* node 3 */
		open_(&s, FUSE_OPEN, 3, O_RDONLY); /* fh 2 */
		struct fuse_copy_file_range_in cp = { .off_in = 10, .off_out = 100, .len = 5000 };
		rec(&s, FUSE_COPY_FILE_RANGE, 0, 0, 2, 1, 0, &cp, sizeof(cp), NULL, 0);
		rec(&s, FUSE_COPY_FILE_RANGE, 0, 0, 1, 2, 0, &cp, sizeof(cp), NULL, 0);
		cp.flags = 1;
		rec(&s, FUSE_COPY_FILE_RANGE, 0, 0, 2, 1, 0, &cp, sizeof(cp), NULL, 0);
		struct fuse_lseek_in l = { .offset = 0, .whence = SEEK_HOLE };
		rec(&s, FUSE_LSEEK, 0, 0, 1, 0, 0, &l, sizeof(l), NULL, 0);
		open_(&s, FUSE_OPEN, 2, O_WRONLY | O_APPEND); /* fh 3 */
		w.offset = 0;
		w.size = 3;
		rec(&s, FUSE_WRITE, 0, 0, 3, 0, 0, &w, sizeof(w), "app", 3);
		read_(&s, FUSE_READ, 3, 0, 10, 0); /* not readable? */
		open_(&s, FUSE_OPEN, 2, O_RDWR | O_TRUNC);
	}
	seed_file(dir, "rw-create-write", &s);
	/* 9: writable tree operations. */
	s.n = 0;
	s.b[s.n++] = SES_RW;
	{
		struct fuse_mkdir_in m = { .mode = 0777, .umask = 022 };
		named(&s, FUSE_MKDIR, 1, &m, sizeof(m), "d1"); /* node 2 */
		named(&s, FUSE_MKDIR, 2, &m, sizeof(m), "d2"); /* node 3 */
		rec(&s, FUSE_SYMLINK, 0, 2, 0, 0, 0, "ln\0../../sentinel", 18, NULL, 0); /* 4 */
		rec(&s, FUSE_SYMLINK, 0, 2, 0, 0, 0, "ln2\0", 4, NULL, 0); /* no target */
		lookup(&s, 1, "hello.txt"); /* node 5 */
		struct fuse_link_in li = { 0 };
		named(&s, FUSE_LINK, 3, &li, sizeof(li), "hl"); /* aux below */
		rec(&s, FUSE_LINK, 0, 3, 0, 5, 0, &li, sizeof(li), "hl\0", 3);
		rec(&s, FUSE_LINK, 0, 3, 0, 2, 0, &li, sizeof(li), "dl\0", 3); /* a dir */
		rec(&s, FUSE_LINK, 0, 3, 0, 4, 0, &li, sizeof(li), "sl\0", 3); /* a link */
		struct fuse_rename_in rn = { 0 };
		rec(&s, FUSE_RENAME, 0, 1, 0, 3, 0, &rn, sizeof(rn), "data.bin\0moved\0", 15);
		struct fuse_rename2_in r2 = { .flags = RENAME_EXCHANGE };
		rec(&s, FUSE_RENAME2, 0, 1, 0, 2, 0, &r2, sizeof(r2), "sub\0d2\0", 7);
		r2.flags = RENAME_NOREPLACE;
		rec(&s, FUSE_RENAME2, 0, 1, 0, 1, 0, &r2, sizeof(r2), "hello.txt\0up\0", 13);
		r2.flags = RENAME_WHITEOUT;
		rec(&s, FUSE_RENAME2, 0, 1, 0, 1, 0, &r2, sizeof(r2), "hello.txt\0wo\0", 13);
		rec(&s, FUSE_RENAME, 0, 1, 0, 0xe3, 0, &rn, sizeof(rn), "up\0x\0", 5);
		rec(&s, FUSE_RENAME, 0, 1, 0, 1, 0, &rn, sizeof(rn), "up\0..\0", 6);
		named(&s, FUSE_UNLINK, 1, NULL, 0, "fifo");
		named(&s, FUSE_UNLINK, 1, NULL, 0, "sub");
		named(&s, FUSE_RMDIR, 1, NULL, 0, "empty");
		named(&s, FUSE_RMDIR, 1, NULL, 0, "d1");
		struct fuse_mknod_in mn = { .mode = S_IFCHR | 0666, .rdev = 0x0103 };
		named(&s, FUSE_MKNOD, 1, &mn, sizeof(mn), "null");
		struct fuse_create_in c = { .flags = O_WRONLY, .mode = 0644 };
		named(&s, FUSE_CREATE, 1, &c, sizeof(c), "up"); /* over a symlink */
		named(&s, FUSE_CREATE, 1, &c, sizeof(c), "fifo");
		named(&s, FUSE_CREATE, 1, &c, sizeof(c), "hello.txt");
		c.flags = O_WRONLY | O_EXCL;
		named(&s, FUSE_CREATE, 1, &c, sizeof(c), "hello.txt");
		c.flags = O_ACCMODE;
		named(&s, FUSE_CREATE, 1, &c, sizeof(c), "x");
		struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0 };
		rec(&s, FUSE_SETATTR, 0, 1, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
		lookup(&s, 1, "up");
		rec(&s, FUSE_SETATTR, 0, 0xe0 - 1, 0, 0, 0, &sa, sizeof(sa), NULL, 0);
	}
	seed_file(dir, "rw-tree", &s);
	/* 10: long names and junk lengths on a writable server. */
	s.n = 0;
	s.b[s.n++] = SES_RW;
	{
		struct fuse_create_in c = { .flags = O_RDWR, .mode = 0644 };
		rec(&s, FUSE_CREATE, F_PAD, 1, 0, 0, 0, &c, sizeof(c), "n\0", 2);
		rec(&s, FUSE_CREATE, 0, 1, 0, 0, 0, &c, 4, NULL, 0);
		rec(&s, FUSE_WRITE, 0, 0, 0xe5, 0, 0, NULL, 0, NULL, 0);
		struct fuse_mkdir_in m = { .mode = 0755 };
		rec(&s, FUSE_MKDIR, F_LEN_PLUS | F_LEN_MINUS, 1, 0, 0, 0, &m, sizeof(m), "z\0", 2);
		rec(&s, FUSE_SYMLINK, F_PAD, 1, 0, 0, 0, "s\0t\0", 4, NULL, 0);
		named(&s, FUSE_CREATE, 1, &c, sizeof(c), "big");
		struct fuse_write_in w = { .size = 3000 };
		static uint8_t junk[3000];
		memset(junk, 'j', sizeof(junk));
		rec(&s, FUSE_WRITE, 0, 0, 1, 0, 0xc1, &w, sizeof(w), junk, sizeof(junk));
		w.offset = INT64_MAX - 10;
		rec(&s, FUSE_WRITE, 0, 0, 1, 0, 0, &w, sizeof(w), junk, sizeof(junk));
		read_(&s, FUSE_READ, 1, 0, 3000, 0xc2);
	}
	seed_file(dir, "rw-lengths", &s);
}
