"""Builds the host directory trees the virtio-fs tests boot from, and
describes a tree the way the guest's fs.walk prints it."""
import hashlib
import os
import stat


def make_tree(root):
    """Nested dirs, a 1,000-entry dir, empty, 10 MiB and sparse files,
    relative/absolute/dangling symlinks, names with spaces and UTF-8."""
    os.chmod(root, 0o755)  # pytest's tmp dirs are 0700; others must get in
    os.makedirs(os.path.join(root, "a", "b", "c", "d"))
    with open(os.path.join(root, "a", "b", "c", "d", "deep.txt"), "w") as f:
        f.write("deep down\n")
    many = os.path.join(root, "many")
    os.mkdir(many)
    for i in range(1000):
        with open(os.path.join(many, f"file{i:04d}"), "w") as f:
            f.write(str(i) * (i % 7))
    open(os.path.join(root, "empty"), "w").close()
    big = os.urandom(1 << 20) * 10  # 10 MiB, cheap to make
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(big[:-3] + b"end")
    with open(os.path.join(root, "sparse.bin"), "wb") as f:
        f.write(b"head")
        f.seek(5 << 20)
        f.write(b"tail")
    with open(os.path.join(root, "with space.txt"), "w") as f:
        f.write("spaces are fine\n")
    with open(os.path.join(root, "grüße-日本.txt"), "w", encoding="utf-8") as f:
        f.write("utf-8 name\n")
    os.chmod(os.path.join(root, "with space.txt"), 0o640)
    os.symlink("a/b/c/d/deep.txt", os.path.join(root, "rel-link"))
    os.symlink("/a/b", os.path.join(root, "abs-link"))  # absolute: the guest's /
    os.symlink("../../empty", os.path.join(root, "a", "b", "up-link"))
    os.symlink("does-not-exist", os.path.join(root, "dangling"))
    os.symlink("loop2", os.path.join(root, "loop1"))
    os.symlink("loop1", os.path.join(root, "loop2"))
    secret = os.path.join(root, "secret")
    with open(secret, "w") as f:
        f.write("root only\n")
    os.chmod(secret, 0o600)
    os.mkdir(os.path.join(root, "locked"))
    with open(os.path.join(root, "locked", "inside"), "w") as f:
        f.write("x")
    os.chmod(os.path.join(root, "locked"), 0o700)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def describe(root):
    """{guest path: (type, size, mode, sha256-or-target)} for the tree,
    as fs.walk=/ prints it."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [None] + dirnames + filenames:
            p = dirpath if name is None else os.path.join(dirpath, name)
            if name is None and dirpath != root:
                continue  # directories are listed by their parent
            st = os.lstat(p)
            rel = "/" + os.path.relpath(p, root) if p != root else "/"
            mode = st.st_mode
            if stat.S_ISREG(mode):
                kind, extra = "f", sha256_file(p)
            elif stat.S_ISDIR(mode):
                kind, extra = "d", "-"
            elif stat.S_ISLNK(mode):
                kind, extra = "l", os.readlink(p)
            else:
                kind, extra = "?", "-"
            out[rel] = (kind, st.st_size, "%04o" % stat.S_IMODE(mode), extra)
    return out


def parse_walk(console):
    """The entry lines of a guest fs.walk, keyed by path."""
    got = {}
    for line in console.splitlines():
        parts = line.rstrip("\r").split("\t")
        if parts[0] == "entry" and len(parts) == 6:
            _, kind, size, mode, extra, path = parts
            got[path] = (kind, int(size), mode, extra)
    return got
