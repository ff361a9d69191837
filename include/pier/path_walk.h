/*
 * Path resolution, independent of any file system: components, ".", "..",
 * symlinks (relative and absolute, with a depth limit), mount crossings and
 * trailing slashes, the way Linux resolves them. The caller supplies the
 * node operations; the guest's VFS uses vnodes, the unit tests a fake tree.
 */
#ifndef PIER_PATH_WALK_H
#define PIER_PATH_WALK_H

#include <stdbool.h>
#include <stdint.h>

#define PW_PATH_MAX 4096  /* longest path or link target, with its NUL */
#define PW_MAX_LINKS 40   /* symlinks followed in one walk (Linux's limit) */
#define PW_MAX_DEPTH 256  /* directories deep */

struct pw_ops {
	/* A child of dir, with a reference for the walk; 0 or -errno. */
	int (*lookup)(void *ctx, void *dir, const char *name, uint32_t len, void **child);
	/* The node's S_IF* mode (fresh enough to decide); 0 or -errno. */
	int (*mode)(void *ctx, void *node, uint32_t *mode);
	/* Whether the walk may search dir (execute permission): 0 or -EACCES. */
	int (*may_search)(void *ctx, void *dir);
	/* Symlink target into buf (NUL-terminated); its length or -errno. */
	int (*readlink)(void *ctx, void *node, char *buf, uint32_t size);
	/* The root of what is mounted on node, with a reference, or NULL. */
	void *(*mounted)(void *ctx, void *node);
	void (*get)(void *ctx, void *node);
	void (*put)(void *ctx, void *node);
};

struct path_walk {
	const struct pw_ops *ops;
	void *ctx;
	void *stack[PW_MAX_DEPTH]; /* stack[0] is the root; the top is where we are */
	int depth;
	int links;
	char path[PW_PATH_MAX];    /* what is left to walk */
	char target[PW_PATH_MAX];  /* scratch for link targets */
};

/*
 * Resolves path starting at root (also the start for relative paths).
 * follow: whether a symlink as the last component is followed. On success
 * *out holds a reference the caller puts. Errors: -ENOENT (empty path or a
 * missing name), -ENOTDIR, -ELOOP, -ENAMETOOLONG, -EACCES, or whatever an
 * operation returned.
 */
int path_walk(struct path_walk *w, const struct pw_ops *ops, void *ctx, void *root,
	      const char *path, bool follow, void **out);

#endif
