/*
 * FUSE client requests (see fuse.h). Each request is a header plus up to
 * two argument blocks out, and an out-header plus a reply struct and an
 * optional data buffer back.
 */
#include <pier/errno.h>
#include <pier/string.h>
#include "../kernel/console.h"
#include "../mm/mm.h"
#include "../kernel/stats.h"
#include "fuse.h"

#define DEFAULT_MAX_PAGES 32 /* when the server does not say (FUSE_MAX_PAGES) */
#define FORGET_BATCH 64

struct call {
	uint32_t opcode;
	uint64_t nodeid;
	const void *arg;
	uint32_t arglen;
	const void *arg2; /* a name (sent with its NUL), or WRITE's data */
	uint32_t arg2len;
	void *reply;      /* fixed-size reply struct */
	uint32_t replylen;
	void *data;       /* variable-size data after it */
	uint32_t datalen;
	bool may_unlock;  /* the wait may let the kernel lock go (fuse_transport.h) */
};

bool fuse_trace;

/* fuse_trace=1: each request on the kernel's log, the name it carries
 * when it is a lookup (-o verbose or --log shows them). */
static void trace(const struct call *k, int64_t n)
{
	const char *name = fuse_msg_opcode_name(k->opcode);
	bool named = k->opcode == FUSE_LOOKUP && k->arg2len;
	kprintf("fuse: %s node %llu%s%.*s -> %lld\n", name ? name : "?",
		(unsigned long long)k->nodeid, named ? " " : "", named ? (int)k->arg2len - 1 : 0,
		named ? (const char *)k->arg2 : "", (long long)n);
}

/* Sends one request; returns payload bytes (>= 0) or a negative errno. */
static int64_t request(struct fuse_conn *c, const struct call *k)
{
	if (c->dead)
		return -EIO;
	struct fuse_in_header in;
	struct fuse_out_header out;
	uint64_t unique = ++c->unique;
	fuse_msg_header(&in, k->opcode, unique, k->nodeid,
			(uint32_t)sizeof(in) + k->arglen + k->arg2len);
	struct fuse_iov o[3] = { { &in, sizeof(in) } }, i[3] = { { &out, sizeof(out) } };
	unsigned no = 1, ni = 1;
	if (k->arglen)
		o[no++] = (struct fuse_iov){ (void *)k->arg, k->arglen };
	if (k->arg2len)
		o[no++] = (struct fuse_iov){ (void *)k->arg2, k->arg2len };
	if (k->replylen)
		i[ni++] = (struct fuse_iov){ k->reply, k->replylen };
	if (k->datalen)
		i[ni++] = (struct fuse_iov){ k->data, k->datalen };
	c->requests++;
	int64_t n = c->t->call(c->t->ctx, o, no, i, ni, k->may_unlock);
	stats_fuse_request(k->opcode, in.len, n > 0 ? (uint64_t)n : 0);
	if (fuse_trace)
		trace(k, n);
	if (n < 0)
		return n;
	int64_t r = fuse_msg_reply(&out, (uint32_t)n, unique);
	/* EPROTO is also an errno a server may answer with (pier's own does,
	 * to a second INIT): a well-formed error reply is not malformed. */
	bool server_eproto = n == sizeof(out) && out.len == sizeof(out) && out.unique == unique &&
			     out.error == -EPROTO;
	if (r == -EPROTO && !server_eproto) {
		kprintf("fuse: malformed reply to opcode %u (%lld bytes); connection closed\n",
			k->opcode, (long long)n);
		c->dead = true;
	}
	if (r < 0)
		c->errors++;
	return r;
}

/* A reply shorter than its fixed struct is a protocol error unless allowed. */
static int protocol_error(struct fuse_conn *c, uint32_t opcode)
{
	kprintf("fuse: bad reply payload to opcode %u; connection closed\n", opcode);
	c->dead = true;
	return -EPROTO;
}

int fuse_init(struct fuse_conn *c, struct fuse_transport *t)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 1 << 20,
		.flags = FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES | FUSE_ASYNC_READ | FUSE_BIG_WRITES |
			 FUSE_PARALLEL_DIROPS | FUSE_ATOMIC_O_TRUNC,
	};
	/* Map alignment only matters, and is only asked for, with a window. */
	if (t->dax_len)
		in.flags |= FUSE_MAP_ALIGNMENT;
	struct fuse_init_out raw, out;
	struct call k = { .opcode = FUSE_INIT, .arg = &in, .arglen = sizeof(in),
			  .reply = &raw, .replylen = sizeof(raw) };
	int64_t n = request(c, &k);
	if (n < 0)
		return (int)n;
	if (fuse_msg_init(&raw, (uint32_t)n, &out))
		return protocol_error(c, FUSE_INIT);
	c->minor = out.minor < FUSE_KERNEL_MINOR_VERSION ? out.minor : FUSE_KERNEL_MINOR_VERSION;
	c->flags = out.flags & in.flags;
	c->max_write = out.max_write;
	c->max_pages = (c->flags & FUSE_MAX_PAGES) && out.max_pages ? out.max_pages
								    : DEFAULT_MAX_PAGES;
	c->max_read = (uint32_t)c->max_pages * 4096;
	c->map_alignment = (c->flags & FUSE_MAP_ALIGNMENT) ? out.map_alignment : 0;
	c->readdirplus = c->flags & FUSE_DO_READDIRPLUS;
	return 0;
}

void fuse_destroy(struct fuse_conn *c)
{
	struct call k = { .opcode = FUSE_DESTROY, .nodeid = 0 };
	request(c, &k);
	c->dead = true;
}

int fuse_lookup(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
		struct fuse_entry_out *e)
{
	char buf[FUSE_NAME_MAX + 1];
	if (!fuse_msg_name_ok(name, namelen))
		return namelen > FUSE_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
	memcpy(buf, name, namelen);
	buf[namelen] = 0;
	struct fuse_entry_out raw;
	/* The name is copied, the reply is ours: the wait may let the kernel
	 * lock go (virtiofs.c sorts out what changed meanwhile). */
	struct call k = { .opcode = FUSE_LOOKUP, .nodeid = dir, .arg2 = buf,
			  .arg2len = namelen + 1, .reply = &raw, .replylen = sizeof(raw),
			  .may_unlock = true };
	int64_t n = request(c, &k);
	if (n < 0)
		return (int)n;
	if (fuse_msg_entry(&raw, (uint32_t)n, e))
		return protocol_error(c, FUSE_LOOKUP);
	if (e->nodeid == 0)
		return -ENOENT; /* a negative entry */
	return 0;
}

int fuse_forget(struct fuse_conn *c, const uint64_t *ids, const uint64_t *counts, unsigned n)
{
	while (n) {
		unsigned batch = n < FORGET_BATCH ? n : FORGET_BATCH;
		struct {
			struct fuse_batch_forget_in h;
			struct fuse_forget_one one[FORGET_BATCH];
		} msg;
		struct fuse_in_header in;
		msg.h = (struct fuse_batch_forget_in){ .count = batch };
		for (unsigned i = 0; i < batch; i++) {
			msg.one[i] = (struct fuse_forget_one){ ids[i], counts[i] };
			c->forgets += counts[i];
		}
		uint32_t len = (uint32_t)(sizeof(msg.h) + batch * sizeof(msg.one[0]));
		fuse_msg_header(&in, FUSE_BATCH_FORGET, ++c->unique, 0, (uint32_t)sizeof(in) + len);
		struct fuse_iov o[2] = { { &in, sizeof(in) }, { &msg, len } };
		int err = c->t->send_noreply(c->t->ctx, o, 2);
		stats_fuse_request(FUSE_BATCH_FORGET, in.len, 0);
		if (err)
			return err;
		c->forget_msgs++;
		ids += batch;
		counts += batch;
		n -= batch;
	}
	return 0;
}

int fuse_getattr(struct fuse_conn *c, uint64_t node, struct fuse_attr_out *a)
{
	struct fuse_getattr_in in = { 0 };
	struct fuse_attr_out raw;
	/* As LOOKUP's, its wait may let the kernel lock go. */
	struct call k = { .opcode = FUSE_GETATTR, .nodeid = node, .arg = &in, .arglen = sizeof(in),
			  .reply = &raw, .replylen = sizeof(raw), .may_unlock = true };
	int64_t n = request(c, &k);
	if (n < 0)
		return (int)n;
	return fuse_msg_attr(&raw, (uint32_t)n, a) ? protocol_error(c, FUSE_GETATTR) : 0;
}

int fuse_open(struct fuse_conn *c, uint64_t node, bool dir, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in = { .flags = flags };
	struct fuse_open_out raw, out;
	/* The handle goes to the caller's file, which nobody else sees yet:
	 * the wait may let the kernel lock go. */
	struct call k = { .opcode = dir ? FUSE_OPENDIR : FUSE_OPEN, .nodeid = node, .arg = &in,
			  .arglen = sizeof(in), .reply = &raw, .replylen = sizeof(raw),
			  .may_unlock = true };
	int64_t n = request(c, &k);
	if (n < 0)
		return (int)n;
	if (fuse_msg_open(&raw, (uint32_t)n, &out))
		return protocol_error(c, k.opcode);
	*fh = out.fh;
	return 0;
}

int fuse_release(struct fuse_conn *c, uint64_t node, bool dir, uint64_t fh)
{
	struct fuse_release_in in = { .fh = fh };
	struct call k = { .opcode = dir ? FUSE_RELEASEDIR : FUSE_RELEASE, .nodeid = node,
			  .arg = &in, .arglen = sizeof(in) };
	int64_t n = request(c, &k);
	return n < 0 ? (int)n : 0;
}

int64_t fuse_read(struct fuse_conn *c, uint64_t node, uint64_t fh, void *buf, uint64_t len,
		  uint64_t off)
{
	uint64_t done = 0;
	while (done < len) {
		uint32_t want = len - done < c->max_read ? (uint32_t)(len - done) : c->max_read;
		struct fuse_read_in in = { .fh = fh, .offset = off + done, .size = want };
		/* Only the buffer, the request's own state and c (which lives as
		 * long as its mount) are touched after the wait: it may let the
		 * kernel lock go. */
		struct call k = { .opcode = FUSE_READ, .nodeid = node, .arg = &in,
				  .arglen = sizeof(in), .data = (char *)buf + done, .datalen = want,
				  .may_unlock = true };
		int64_t n = request(c, &k);
		if (n < 0)
			return done ? (int64_t)done : n;
		if ((uint64_t)n > want)
			return protocol_error(c, FUSE_READ);
		done += (uint64_t)n;
		stats.copied_fuse_read += (uint64_t)n;
		if ((uint32_t)n < want)
			break; /* end of file */
	}
	return (int64_t)done;
}

int64_t fuse_readdir(struct fuse_conn *c, uint64_t node, uint64_t fh, uint64_t off, void *buf,
		     uint32_t len, bool *plus)
{
	for (;;) {
		struct fuse_read_in in = { .fh = fh, .offset = off, .size = len };
		struct call k = { .opcode = c->readdirplus ? FUSE_READDIRPLUS : FUSE_READDIR,
				  .nodeid = node, .arg = &in, .arglen = sizeof(in), .data = buf,
				  .datalen = len };
		int64_t n = request(c, &k);
		if (n == -ENOSYS && c->readdirplus) {
			c->readdirplus = false; /* refused: plain READDIR from now on */
			continue;
		}
		if (n > (int64_t)len)
			return protocol_error(c, k.opcode);
		*plus = k.opcode == FUSE_READDIRPLUS;
		return n;
	}
}

int fuse_readlink(struct fuse_conn *c, uint64_t node, char *buf, uint32_t size)
{
	if (size < 2)
		return -EINVAL;
	/* Into the caller's own buffer (a path walk's): the wait may let the
	 * kernel lock go. */
	struct call k = { .opcode = FUSE_READLINK, .nodeid = node, .data = buf,
			  .datalen = size - 1, .may_unlock = true };
	int64_t n = request(c, &k);
	if (n < 0)
		return (int)n;
	if (n == 0 || n > size - 1 || memchr(buf, 0, (size_t)n))
		return n == 0 ? -EIO : protocol_error(c, FUSE_READLINK);
	buf[n] = 0;
	return (int)n;
}

int fuse_statfs(struct fuse_conn *c, struct fuse_kstatfs *st)
{
	struct fuse_statfs_out raw, out;
	struct call k = { .opcode = FUSE_STATFS, .nodeid = FUSE_ROOT_ID, .reply = &raw,
			  .replylen = sizeof(raw) };
	int64_t n = request(c, &k);
	if (n < 0)
		return (int)n;
	if (fuse_msg_statfs(&raw, (uint32_t)n, &out))
		return protocol_error(c, FUSE_STATFS);
	*st = out.st;
	return 0;
}

int fuse_access(struct fuse_conn *c, uint64_t node, uint32_t mask)
{
	struct fuse_access_in in = { .mask = mask };
	struct call k = { .opcode = FUSE_ACCESS, .nodeid = node, .arg = &in, .arglen = sizeof(in) };
	int64_t n = request(c, &k);
	return n < 0 ? (int)n : 0;
}

int fuse_setupmapping(struct fuse_conn *c, uint64_t node, uint64_t fh, uint64_t foff,
		      uint64_t len, uint64_t moff, uint64_t flags)
{
	struct fuse_setupmapping_in in = { .fh = fh, .foffset = foff, .len = len,
					   .flags = flags, .moffset = moff };
	struct call k = { .opcode = FUSE_SETUPMAPPING, .nodeid = node, .arg = &in,
			  .arglen = sizeof(in) };
	int64_t n = request(c, &k);
	return n < 0 ? (int)n : 0;
}

int fuse_removemapping(struct fuse_conn *c, const struct fuse_removemapping_one *r, uint32_t n)
{
	if (n == 0 || n > FUSE_REMOVEMAPPING_MAX)
		return -EINVAL;
	/* On the wire the entries follow the 4-byte count unpadded. */
	struct fuse_removemapping_in in = { .count = n };
	struct call k = { .opcode = FUSE_REMOVEMAPPING, .arg = &in, .arglen = sizeof(in),
			  .arg2 = r, .arg2len = n * (uint32_t)sizeof(*r) };
	int64_t got = request(c, &k);
	return got < 0 ? (int)got : 0;
}

/* ---- requests that change the tree (read-write mounts) ---- */

/* Copies a checked name with its NUL into buf (FUSE_NAME_MAX + 1 bytes). */
static int name_arg(char *buf, const char *name, uint32_t len)
{
	if (!fuse_msg_name_ok(name, len))
		return len > FUSE_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
	memcpy(buf, name, len);
	buf[len] = 0;
	return 0;
}

/* The entry reply of CREATE/MKDIR/SYMLINK/LINK: a new lookup the server counted. */
static int entry_reply(struct fuse_conn *c, uint32_t opcode, int64_t n,
		       const struct fuse_entry_out *raw, struct fuse_entry_out *e)
{
	if (n < 0)
		return (int)n;
	if (fuse_msg_entry(raw, (uint32_t)n, e) || e->nodeid == 0)
		return protocol_error(c, opcode);
	return 0;
}

int fuse_create(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
		uint32_t flags, uint32_t mode, struct fuse_entry_out *e, uint64_t *fh)
{
	char buf[FUSE_NAME_MAX + 1];
	int err = name_arg(buf, name, namelen);
	if (err)
		return err;
	struct fuse_create_in in = { .flags = flags, .mode = mode };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} raw;
	struct call k = { .opcode = FUSE_CREATE, .nodeid = dir, .arg = &in, .arglen = sizeof(in),
			  .arg2 = buf, .arg2len = namelen + 1, .reply = &raw,
			  .replylen = sizeof(raw) };
	int64_t n = request(c, &k);
	if (n < 0)
		return (int)n;
	/* Both structs whole: the open part follows the entry directly. */
	if (n != sizeof(raw))
		return protocol_error(c, FUSE_CREATE);
	if ((err = entry_reply(c, FUSE_CREATE, sizeof(raw.e), &raw.e, e)))
		return err;
	*fh = raw.o.fh;
	return 0;
}

/* A request of a fixed struct and a new name, answered with an entry. */
static int entry_request(struct fuse_conn *c, uint32_t opcode, uint64_t nodeid, const void *arg,
			 uint32_t arglen, const char *name, uint32_t namelen,
			 struct fuse_entry_out *e)
{
	char buf[FUSE_NAME_MAX + 1];
	int err = name_arg(buf, name, namelen);
	if (err)
		return err;
	struct fuse_entry_out raw;
	struct call k = { .opcode = opcode, .nodeid = nodeid, .arg = arg, .arglen = arglen,
			  .arg2 = buf, .arg2len = namelen + 1, .reply = &raw,
			  .replylen = sizeof(raw) };
	return entry_reply(c, opcode, request(c, &k), &raw, e);
}

int fuse_mkdir(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
	       uint32_t mode, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = mode };
	return entry_request(c, FUSE_MKDIR, dir, &in, sizeof(in), name, namelen, e);
}

int fuse_symlink(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
		 const char *target, struct fuse_entry_out *e)
{
	/* On the wire: the new name and the link text, each with its NUL. */
	uint32_t tlen = (uint32_t)strlen(target);
	if (tlen == 0)
		return -ENOENT;
	if (tlen >= 4096)
		return -ENAMETOOLONG;
	char *buf = kmalloc(FUSE_NAME_MAX + 1 + 4096);
	if (!buf)
		return -ENOMEM;
	int err = name_arg(buf, name, namelen);
	if (!err) {
		memcpy(buf + namelen + 1, target, tlen + 1);
		struct fuse_entry_out raw;
		struct call k = { .opcode = FUSE_SYMLINK, .nodeid = dir, .arg = buf,
				  .arglen = namelen + 1 + tlen + 1, .reply = &raw,
				  .replylen = sizeof(raw) };
		err = entry_reply(c, FUSE_SYMLINK, request(c, &k), &raw, e);
	}
	kfree(buf);
	return err;
}

int fuse_link(struct fuse_conn *c, uint64_t node, uint64_t newdir, const char *name,
	      uint32_t namelen, struct fuse_entry_out *e)
{
	struct fuse_link_in in = { .oldnodeid = node };
	return entry_request(c, FUSE_LINK, newdir, &in, sizeof(in), name, namelen, e);
}

int fuse_unlink(struct fuse_conn *c, uint64_t dir, const char *name, uint32_t namelen,
		bool rmdir)
{
	char buf[FUSE_NAME_MAX + 1];
	int err = name_arg(buf, name, namelen);
	if (err)
		return err;
	struct call k = { .opcode = rmdir ? FUSE_RMDIR : FUSE_UNLINK, .nodeid = dir, .arg2 = buf,
			  .arg2len = namelen + 1 };
	int64_t n = request(c, &k);
	return n < 0 ? (int)n : 0;
}

int fuse_rename(struct fuse_conn *c, uint64_t olddir, const char *oldname, uint32_t oldlen,
		uint64_t newdir, const char *newname, uint32_t newlen, uint32_t flags)
{
	char buf[2 * (FUSE_NAME_MAX + 1)];
	int err = name_arg(buf, oldname, oldlen);
	if (!err)
		err = name_arg(buf + oldlen + 1, newname, newlen);
	if (err)
		return err;
	/* Plain RENAME where no flag asks for more: every server has it. */
	struct fuse_rename2_in in2 = { .newdir = newdir, .flags = flags };
	struct fuse_rename_in in = { .newdir = newdir };
	struct call k = { .opcode = flags ? FUSE_RENAME2 : FUSE_RENAME, .nodeid = olddir,
			  .arg = flags ? (void *)&in2 : (void *)&in,
			  .arglen = flags ? sizeof(in2) : sizeof(in), .arg2 = buf,
			  .arg2len = oldlen + 1 + newlen + 1 };
	int64_t n = request(c, &k);
	if (n == -ENOSYS && flags)
		return -EINVAL; /* what Linux says when a file system lacks the flags */
	return n < 0 ? (int)n : 0;
}

int fuse_setattr(struct fuse_conn *c, uint64_t node, const struct fuse_setattr_in *in,
		 struct fuse_attr_out *a)
{
	struct fuse_attr_out raw;
	struct call k = { .opcode = FUSE_SETATTR, .nodeid = node, .arg = in,
			  .arglen = sizeof(*in), .reply = &raw, .replylen = sizeof(raw) };
	int64_t n = request(c, &k);
	if (n < 0)
		return (int)n;
	return fuse_msg_attr(&raw, (uint32_t)n, a) ? protocol_error(c, FUSE_SETATTR) : 0;
}

int64_t fuse_write(struct fuse_conn *c, uint64_t node, uint64_t fh, const void *buf,
		   uint64_t len, uint64_t off)
{
	uint32_t max = c->max_write ? c->max_write : 4096;
	uint64_t done = 0;
	while (done < len) {
		uint32_t want = len - done < max ? (uint32_t)(len - done) : max;
		struct fuse_write_in in = { .fh = fh, .offset = off + done, .size = want };
		struct fuse_write_out raw = { 0 };
		/* As FUSE_READ's: the buffer, the request and c are all the
		 * wait's sequel touches, so it may let the kernel lock go. */
		struct call k = { .opcode = FUSE_WRITE, .nodeid = node, .arg = &in,
				  .arglen = sizeof(in), .arg2 = (const char *)buf + done,
				  .arg2len = want, .reply = &raw, .replylen = sizeof(raw),
				  .may_unlock = true };
		int64_t n = request(c, &k);
		if (n < 0)
			return done ? (int64_t)done : n;
		/* A server may not claim more than it was given. */
		if (n < (int64_t)sizeof(raw) || raw.size > want)
			return protocol_error(c, FUSE_WRITE);
		done += raw.size;
		if (raw.size < want)
			break; /* short: out of space or similar; the next call says why */
	}
	return (int64_t)done;
}

/* Optional requests a server may not have: ENOSYS is remembered, once. */
static int64_t optional(struct fuse_conn *c, const struct call *k, uint32_t bit)
{
	if (c->refused & bit)
		return -ENOSYS;
	int64_t n = request(c, k);
	if (n == -ENOSYS)
		c->refused |= bit;
	return n;
}

int fuse_flush(struct fuse_conn *c, uint64_t node, uint64_t fh)
{
	struct fuse_flush_in in = { .fh = fh };
	struct call k = { .opcode = FUSE_FLUSH, .nodeid = node, .arg = &in, .arglen = sizeof(in) };
	int64_t n = optional(c, &k, FUSE_REFUSED_FLUSH);
	return n == -ENOSYS ? 0 : n < 0 ? (int)n : 0;
}

int fuse_fsync(struct fuse_conn *c, uint64_t node, uint64_t fh, bool dir, bool datasync)
{
	struct fuse_fsync_in in = { .fh = fh, .fsync_flags = datasync ? 1 : 0 };
	/* A sync may take the host's disk long: its wait may let the kernel
	 * lock go (only c's refused bits are touched after, with it back). */
	struct call k = { .opcode = dir ? FUSE_FSYNCDIR : FUSE_FSYNC, .nodeid = node, .arg = &in,
			  .arglen = sizeof(in), .may_unlock = true };
	int64_t n = optional(c, &k, dir ? FUSE_REFUSED_FSYNCDIR : FUSE_REFUSED_FSYNC);
	/* A server without fsync keeps nothing back to sync (as Linux treats it). */
	return n == -ENOSYS ? 0 : n < 0 ? (int)n : 0;
}

int fuse_fallocate(struct fuse_conn *c, uint64_t node, uint64_t fh, uint32_t mode, uint64_t off,
		   uint64_t len)
{
	struct fuse_fallocate_in in = { .fh = fh, .offset = off, .length = len, .mode = mode };
	struct call k = { .opcode = FUSE_FALLOCATE, .nodeid = node, .arg = &in,
			  .arglen = sizeof(in) };
	int64_t n = optional(c, &k, FUSE_REFUSED_FALLOCATE);
	return n == -ENOSYS ? -EOPNOTSUPP : n < 0 ? (int)n : 0;
}

int64_t fuse_lseek(struct fuse_conn *c, uint64_t node, uint64_t fh, uint64_t off, uint32_t whence)
{
	struct fuse_lseek_in in = { .fh = fh, .offset = off, .whence = whence };
	struct fuse_lseek_out raw;
	struct call k = { .opcode = FUSE_LSEEK, .nodeid = node, .arg = &in, .arglen = sizeof(in),
			  .reply = &raw, .replylen = sizeof(raw) };
	int64_t n = optional(c, &k, FUSE_REFUSED_LSEEK);
	if (n < 0)
		return n;
	if (n < (int64_t)sizeof(raw) || raw.offset > INT64_MAX)
		return protocol_error(c, FUSE_LSEEK);
	return (int64_t)raw.offset;
}

int64_t fuse_copy_file_range(struct fuse_conn *c, uint64_t node_in, uint64_t fh_in,
			     uint64_t off_in, uint64_t node_out, uint64_t fh_out, uint64_t off_out,
			     uint64_t len)
{
	struct fuse_copy_file_range_in in = { .fh_in = fh_in, .off_in = off_in,
					      .nodeid_out = node_out, .fh_out = fh_out,
					      .off_out = off_out, .len = len };
	struct fuse_write_out raw;
	struct call k = { .opcode = FUSE_COPY_FILE_RANGE, .nodeid = node_in, .arg = &in,
			  .arglen = sizeof(in), .reply = &raw, .replylen = sizeof(raw) };
	int64_t n = optional(c, &k, FUSE_REFUSED_COPY);
	if (n < 0)
		return n;
	if (n < (int64_t)sizeof(raw) || raw.size > len)
		return protocol_error(c, FUSE_COPY_FILE_RANGE);
	return raw.size;
}
