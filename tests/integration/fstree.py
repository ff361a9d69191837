"""Builds the host directory trees the virtio-fs tests boot from,
describes a tree the way the guest's fs.walk prints it, and snapshots and
compares whole trees (what a guest left against what a native run left)."""
import errno
import hashlib
import os
import stat
import subprocess


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


# --- Whole-tree snapshots, for the write tests (test_writes.py) -------------

def data_map(path, size):
    """The data segments [(start, end), ...] of a file, as SEEK_DATA and
    SEEK_HOLE give them (a file system without holes: one segment)."""
    segs, off = [], 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        while off < size:
            try:
                start = os.lseek(fd, off, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # only a hole is left
                    break
                raise
            off = os.lseek(fd, start, os.SEEK_HOLE)
            segs.append((start, off))
    finally:
        os.close(fd)
    return segs


def snapshot(root):
    """{path relative to root ("." for root): fields} for everything in the
    tree: kind, mode, uid, gid, nlink, mtime_ns and ctime_ns; size, sha256
    and data (the data segments) for files; target for symbolic links.
    Not atime (reads move it), nor directory sizes (file-system detail)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        names = dirnames + filenames
        if dirpath == root:
            names = [None] + names
        for name in names:
            p = dirpath if name is None else os.path.join(dirpath, name)
            st = os.lstat(p)
            e = {"mode": "%05o" % stat.S_IMODE(st.st_mode), "uid": st.st_uid,
                 "gid": st.st_gid, "nlink": st.st_nlink, "mtime_ns": st.st_mtime_ns,
                 "ctime_ns": st.st_ctime_ns}
            if stat.S_ISREG(st.st_mode):
                e.update(kind="f", size=st.st_size, sha256=sha256_file(p),
                         data=data_map(p, st.st_size))
            elif stat.S_ISDIR(st.st_mode):
                e["kind"] = "d"
            elif stat.S_ISLNK(st.st_mode):
                e.update(kind="l", size=st.st_size, target=os.readlink(p))
            else:
                e["kind"] = "?"
            out[os.path.relpath(p, root)] = e
    return out


def _covers(outer, inner):
    """Every byte of the segments `inner` lies in a segment of `outer`."""
    return all(any(a <= s and e <= b for a, b in outer) for s, e in inner)


def compare_trees(got, want, since=None, sparse="exact", times="old"):
    """Problems (strings) where snapshot `got` differs from `want`: names,
    kinds, modes, owners, link counts, sizes, contents, link targets and
    data segments. sparse="covers" lets got have data where want has holes
    (e.g. a window that maps a file populates its holes on tmpfs). Times:
    times="old" compares mtime where either side's is older than `since`
    (seconds): set on purpose or copied, not "now"; times="all" compares
    mtime and ctime everywhere (a tree that must not have changed)."""
    problems = []
    for path in sorted(set(got) | set(want)):
        g, w = got.get(path), want.get(path)
        if g is None or w is None:
            problems.append(f"{path}: only in {'the expected tree' if g is None else 'the tree'}"
                            f" ({(w or g)['kind']})")
            continue
        for k in ("kind", "mode", "uid", "gid", "nlink", "size", "sha256", "target"):
            if g.get(k) != w.get(k):
                problems.append(f"{path}: {k} {g.get(k)!r}, expected {w.get(k)!r}")
        if g["kind"] == w["kind"] == "f" and g["sha256"] == w["sha256"]:
            ok = (g["data"] == w["data"] if sparse == "exact"
                  else _covers(g["data"], w["data"]))
            if not ok:
                problems.append(f"{path}: data segments {g['data']}, expected {w['data']}"
                                + (" (or more)" if sparse != "exact" else ""))
        if times == "all":
            keys = ("mtime_ns", "ctime_ns")
        elif since is not None and min(g["mtime_ns"], w["mtime_ns"]) < since * 10**9:
            keys = ("mtime_ns",)
        else:
            keys = ()
        for k in keys:
            if g[k] != w[k]:
                problems.append(f"{path}: {k} {g[k]}, expected {w[k]}")
    return problems


def fs_type(path):
    """The type of the file system holding path ("tmpfs", "ext2/ext3", ...)."""
    return subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True,
                          text=True, check=True).stdout.strip()
