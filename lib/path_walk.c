/*
 * Path resolution (see include/pier/path_walk.h).
 *
 * The walk keeps the directories it passed on a stack, which is how ".."
 * goes back (and stops at the root, as Linux's "/.." does). A symlink is
 * resolved by splicing its target in front of what is left of the path,
 * so no recursion and no allocation are needed.
 */
#include <pier/errno.h>
#include <pier/path_walk.h>
#include <pier/stat.h>
#include <pier/string.h>

static void pop(struct path_walk *w)
{
	w->ops->put(w->ctx, w->stack[--w->depth]);
}

/* Pushes node (reference taken over), stepping onto anything mounted there. */
static int push(struct path_walk *w, void *node)
{
	void *m;
	while (w->ops->mounted && (m = w->ops->mounted(w->ctx, node)) != NULL) {
		w->ops->put(w->ctx, node);
		node = m;
	}
	if (w->depth == PW_MAX_DEPTH) {
		w->ops->put(w->ctx, node);
		return -ENAMETOOLONG;
	}
	w->stack[w->depth++] = node;
	return 0;
}

/* Replaces w->path by target + "/" + rest (rest points into w->path). */
static int splice(struct path_walk *w, const char *rest, int target_len)
{
	size_t rest_len = strlen(rest);
	size_t sep = rest_len ? 1 : 0; /* no trailing slash of our own making */
	if ((size_t)target_len + sep + rest_len + 1 > sizeof(w->path))
		return -ENAMETOOLONG;
	memmove(w->path + target_len + sep, rest, rest_len + 1);
	memcpy(w->path, w->target, (size_t)target_len);
	if (sep)
		w->path[target_len] = '/';
	return 0;
}

static int walk(struct path_walk *w, bool follow)
{
	const char *p = w->path;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			return 0;
		const char *name = p;
		while (*p && *p != '/')
			p++;
		uint32_t len = (uint32_t)(p - name);
		/* More components follow, or a trailing slash demands a directory. */
		bool need_dir = *p == '/';
		void *dir = w->stack[w->depth - 1];
		uint32_t mode;
		int err = w->ops->mode(w->ctx, dir, &mode);
		if (err)
			return err;
		if (!S_ISDIR(mode))
			return -ENOTDIR;
		/* Every component needs search permission, "." and ".." too. */
		if (w->ops->may_search && (err = w->ops->may_search(w->ctx, dir)))
			return err;
		if (len == 1 && name[0] == '.')
			continue;
		if (len == 2 && name[0] == '.' && name[1] == '.') {
			if (w->depth > 1)
				pop(w);
			continue;
		}
		if (len > 255)
			return -ENAMETOOLONG;
		void *child;
		if ((err = w->ops->lookup(w->ctx, dir, name, len, &child)))
			return err;
		if ((err = w->ops->mode(w->ctx, child, &mode))) {
			w->ops->put(w->ctx, child);
			return err;
		}
		if (S_ISLNK(mode) && (follow || *p)) {
			if (++w->links > PW_MAX_LINKS) {
				w->ops->put(w->ctx, child);
				return -ELOOP;
			}
			int n = w->ops->readlink(w->ctx, child, w->target, sizeof(w->target));
			w->ops->put(w->ctx, child);
			if (n < 0)
				return n;
			if (n == 0)
				return -ENOENT; /* an empty target names nothing */
			if ((err = splice(w, p, n)))
				return err;
			p = w->path;
			if (*p == '/')
				while (w->depth > 1)
					pop(w); /* absolute: start again at the root */
			continue;
		}
		if ((err = push(w, child)))
			return err;
		if (need_dir) {
			/* What push kept: child may have been put for a mount. */
			child = w->stack[w->depth - 1];
			if ((err = w->ops->mode(w->ctx, child, &mode)))
				return err;
			if (!S_ISDIR(mode)) {
				/* "file/" with nothing after the slashes: ENOTDIR.
				 * With more after them, the next round says so. */
				const char *q = p;
				while (*q == '/')
					q++;
				if (!*q)
					return -ENOTDIR;
			}
		}
	}
}

int path_walk(struct path_walk *w, const struct pw_ops *ops, void *ctx, void *root,
	      const char *path, bool follow, void **out)
{
	size_t n = strnlen(path, sizeof(w->path));
	if (n == 0)
		return -ENOENT;
	if (n == sizeof(w->path))
		return -ENAMETOOLONG;
	w->ops = ops;
	w->ctx = ctx;
	w->depth = 0;
	w->links = 0;
	memcpy(w->path, path, n + 1);
	ops->get(ctx, root);
	int err = push(w, root);
	if (!err)
		err = walk(w, follow);
	if (!err) {
		*out = w->stack[--w->depth]; /* its reference goes to the caller */
	}
	while (w->depth > 0)
		pop(w);
	return err;
}
