/*
 * FUSE request headers and reply checks (see include/pier/fuse_msg.h).
 */
#include <stddef.h>
#include <pier/errno.h>
#include <pier/fuse_msg.h>
#include <pier/stat.h>
#include <pier/string.h>

void fuse_msg_header(struct fuse_in_header *h, uint32_t opcode, uint64_t unique,
		     uint64_t nodeid, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->len = len;
	h->opcode = opcode;
	h->unique = unique;
	h->nodeid = nodeid;
	/* uid/gid/pid 0: the guest program's identity is not the server's
	 * business in this design (the guest enforces its own permissions). */
}

int64_t fuse_msg_reply(const struct fuse_out_header *h, uint32_t written, uint64_t unique)
{
	if (written < sizeof(*h) || h->len != written || h->unique != unique)
		return -EPROTO;
	if (h->error > 0 || h->error < -FUSE_MSG_ERRNO_MAX)
		return -EPROTO;
	if (h->error)
		return written == sizeof(*h) ? h->error : -EPROTO;
	return (int64_t)(written - sizeof(*h));
}

bool fuse_msg_name_ok(const char *name, uint32_t len)
{
	if (len == 0 || len > FUSE_NAME_MAX)
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == 0)
			return false;
	return true;
}

bool fuse_msg_attr_ok(const struct fuse_attr *a)
{
	switch (a->mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return false;
	}
	/* Sizes beyond 2^63 would turn negative in off_t arithmetic. */
	return a->size <= INT64_MAX && a->blocks <= INT64_MAX;
}

/* Copies a reply of at least `min` bytes into `out` (size `full`), zero-filling. */
static int copy_reply(const void *p, uint32_t len, uint32_t min, void *out, uint32_t full)
{
	if (len < min)
		return -EPROTO;
	uint32_t n = len < full ? len : full;
	memcpy(out, p, n);
	memset((char *)out + n, 0, full - n);
	return 0;
}

int fuse_msg_entry(const void *p, uint32_t len, struct fuse_entry_out *out)
{
	if (copy_reply(p, len, FUSE_COMPAT_ENTRY_OUT_SIZE, out, sizeof(*out)))
		return -EPROTO;
	/* nodeid 0 is a "negative entry" (the name does not exist); its
	 * attributes mean nothing and are not used. Otherwise they must make sense. */
	if (out->nodeid == 0)
		return 0;
	if (out->nodeid == FUSE_ROOT_ID || !fuse_msg_attr_ok(&out->attr))
		return -EPROTO;
	return 0;
}

int fuse_msg_attr(const void *p, uint32_t len, struct fuse_attr_out *out)
{
	if (copy_reply(p, len, FUSE_COMPAT_ATTR_OUT_SIZE, out, sizeof(*out)))
		return -EPROTO;
	return fuse_msg_attr_ok(&out->attr) ? 0 : -EPROTO;
}

int fuse_msg_open(const void *p, uint32_t len, struct fuse_open_out *out)
{
	return copy_reply(p, len, sizeof(*out), out, sizeof(*out));
}

int fuse_msg_statfs(const void *p, uint32_t len, struct fuse_statfs_out *out)
{
	/* The compat size is the pre-7.4 struct without frsize/padding. */
	if (copy_reply(p, len, FUSE_COMPAT_STATFS_SIZE, out, sizeof(*out)))
		return -EPROTO;
	return out->st.bsize && out->st.bfree <= out->st.blocks ? 0 : -EPROTO;
}

int fuse_msg_init(const void *p, uint32_t len, struct fuse_init_out *out)
{
	if (copy_reply(p, len, FUSE_COMPAT_22_INIT_OUT_SIZE, out, sizeof(*out)))
		return -EPROTO;
	if (out->major != FUSE_KERNEL_VERSION || out->minor < FUSE_MIN_MINOR)
		return -EPROTO;
	return 0;
}

int fuse_msg_dirent_next(const void *buf, uint32_t len, uint32_t *pos, bool plus,
			 struct fuse_dirent_view *out)
{
	const uint8_t *b = buf;
	uint32_t at = *pos;
	if (at >= len)
		return 0;
	uint32_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	if (len - at < head)
		return -EPROTO;
	struct fuse_dirent d;
	if (plus) {
		memcpy(&out->entry, b + at, sizeof(out->entry));
		memcpy(&d, b + at + offsetof(struct fuse_direntplus, dirent), FUSE_NAME_OFFSET);
	} else {
		memset(&out->entry, 0, sizeof(out->entry));
		memcpy(&d, b + at, FUSE_NAME_OFFSET);
	}
	if (d.namelen == 0 || d.namelen > FUSE_NAME_MAX || len - at - head < d.namelen)
		return -EPROTO;
	const char *name = (const char *)b + at + head;
	bool dot = (d.namelen == 1 && name[0] == '.') ||
		   (d.namelen == 2 && name[0] == '.' && name[1] == '.');
	if (!dot && !fuse_msg_name_ok(name, d.namelen))
		return -EPROTO;
	/* As for LOOKUP, a named entry may not claim to be the root: the
	 * client would count a lookup of it (never forgotten) and overwrite
	 * the root's attributes. "." and ".." may name it. */
	if (plus && out->entry.nodeid &&
	    ((!dot && out->entry.nodeid == FUSE_ROOT_ID) || !fuse_msg_attr_ok(&out->entry.attr)))
		return -EPROTO;
	uint32_t rec = FUSE_DIRENT_ALIGN(head + d.namelen);
	/* The last record's padding may be cut off; never step past len. */
	*pos = rec > len - at ? len : at + rec;
	out->ino = d.ino;
	out->off = d.off;
	out->type = d.type;
	out->name = name;
	out->namelen = d.namelen;
	return 1;
}

const char *fuse_msg_opcode_name(uint32_t opcode)
{
	static const char *const names[FUSE_MSG_OPCODES] = {
		[FUSE_LOOKUP] = "LOOKUP",
		[FUSE_FORGET] = "FORGET",
		[FUSE_GETATTR] = "GETATTR",
		[FUSE_SETATTR] = "SETATTR",
		[FUSE_READLINK] = "READLINK",
		[FUSE_SYMLINK] = "SYMLINK",
		[FUSE_MKNOD] = "MKNOD",
		[FUSE_MKDIR] = "MKDIR",
		[FUSE_UNLINK] = "UNLINK",
		[FUSE_RMDIR] = "RMDIR",
		[FUSE_RENAME] = "RENAME",
		[FUSE_LINK] = "LINK",
		[FUSE_OPEN] = "OPEN",
		[FUSE_READ] = "READ",
		[FUSE_WRITE] = "WRITE",
		[FUSE_STATFS] = "STATFS",
		[FUSE_RELEASE] = "RELEASE",
		[FUSE_FSYNC] = "FSYNC",
		[FUSE_SETXATTR] = "SETXATTR",
		[FUSE_GETXATTR] = "GETXATTR",
		[FUSE_LISTXATTR] = "LISTXATTR",
		[FUSE_REMOVEXATTR] = "REMOVEXATTR",
		[FUSE_FLUSH] = "FLUSH",
		[FUSE_INIT] = "INIT",
		[FUSE_OPENDIR] = "OPENDIR",
		[FUSE_READDIR] = "READDIR",
		[FUSE_RELEASEDIR] = "RELEASEDIR",
		[FUSE_FSYNCDIR] = "FSYNCDIR",
		[FUSE_GETLK] = "GETLK",
		[FUSE_SETLK] = "SETLK",
		[FUSE_SETLKW] = "SETLKW",
		[FUSE_ACCESS] = "ACCESS",
		[FUSE_CREATE] = "CREATE",
		[FUSE_INTERRUPT] = "INTERRUPT",
		[FUSE_BMAP] = "BMAP",
		[FUSE_DESTROY] = "DESTROY",
		[FUSE_IOCTL] = "IOCTL",
		[FUSE_POLL] = "POLL",
		[FUSE_NOTIFY_REPLY] = "NOTIFY_REPLY",
		[FUSE_BATCH_FORGET] = "BATCH_FORGET",
		[FUSE_FALLOCATE] = "FALLOCATE",
		[FUSE_READDIRPLUS] = "READDIRPLUS",
		[FUSE_RENAME2] = "RENAME2",
		[FUSE_LSEEK] = "LSEEK",
		[FUSE_COPY_FILE_RANGE] = "COPY_FILE_RANGE",
		[FUSE_SETUPMAPPING] = "SETUPMAPPING",
		[FUSE_REMOVEMAPPING] = "REMOVEMAPPING",
		[FUSE_SYNCFS] = "SYNCFS",
		[FUSE_TMPFILE] = "TMPFILE",
	};
	return opcode < FUSE_MSG_OPCODES ? names[opcode] : NULL;
}
