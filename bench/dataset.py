"""The benchmark data set, made on a tmpfs: one large file, ten files of
80-100 MiB, a tree of small files for metadata, 4 KiB files for
open+read+close, the programs (fsbench, bash-static, and Debian's fio with
the libraries it loads, at their paths in the Debian root: FROM_DEBIAN),
an empty scratch
directory (SCRATCH) that the write workloads write into, and an empty
proc/ (Pier's guest mounts its /proc there: fsbench reads its counters
from /proc/pier/stats). Sizes by scale:
full (the issues'), quick (a few minutes in all) and tiny (the harness
test). Contents are pseudo-random from a fixed seed, so every run and
every configuration reads the same bytes; the write workloads' bytes come
from fsbench's own fixed seed."""
import hashlib
import os
import shutil
import subprocess
from typing import NamedTuple

from common import debian_root

SCALES = {
    # big file (also the size seqwrite writes and randwrite's target), ten
    # files (each, +i MiB), tree files, 4K files (also the files create
    # makes), random reads (also random writes)
    "full":  dict(big=1 << 30, ten=80 << 20, ten_step=2 << 20, tree=10000, small=1000, rand=20000),
    "quick": dict(big=96 << 20, ten=6 << 20, ten_step=512 << 10, tree=1000, small=200, rand=2000),
    "tiny":  dict(big=8 << 20, ten=1 << 20, ten_step=64 << 10, tree=100, small=20, rand=300),
}
# Where the write workloads write, under the data set's root. The harness
# empties it before and after every write job; nothing else is ever written.
SCRATCH = "w"
# fsbench's result lines ("op") that carry a checksum of the bytes read or
# written: every configuration must report one, and the same one.
CHECKED_OPS = ("seq", "rand", "openread", "seqwrite", "randwrite", "create")
# Debian's programs in the data set, run unmodified (the thesis's tools):
# each with what its dynamic loader maps, copied from the cached Debian root
# (tools/debian-root.sh) to the same paths, so that the data set's root is
# a root they run from: pier's --root, chroot on the host and in the Linux
# guest.
FROM_DEBIAN = ("/usr/bin/fio",)


def _fill(path, size, seed):
    block = b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(2048))
    with open(path, "wb") as f:
        # Its size first: tmpfs huge=within_size then gives the file huge
        # pages as it is written (written piece by piece past its size, it
        # would get small ones), as a host's page cache holds a big file
        # in large folios. A DAX chunk of it is one KVM fault, not 512.
        f.truncate(size)
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
            block = block[17:] + block[:17]  # no two 64 KiB blocks alike


def copy_sized(src, dst):
    """A copy of src whose size is set before its bytes (see _fill)."""
    with open(src, "rb") as a, open(dst, "wb") as b:
        b.truncate(os.fstat(a.fileno()).st_size)
        shutil.copyfileobj(a, b, 1 << 20)


def from_debian(args):
    """A job of one of Debian's programs (FROM_DEBIAN): it runs with the
    data set as its root, its paths without the {D} prefix."""
    return args[0] in FROM_DEBIAN


def copy_from_debian(d, programs=FROM_DEBIAN, trees=(), root=None):
    """Each program and the libraries ldd names for it (in a chroot of the
    Debian root), at the same paths under d (their directories' links
    resolved, their own names kept: the loader looks for libz.so.1, a link
    to libz.so.1.2.13, as libz.so.1); the root's top-level links (bin ->
    usr/bin, lib64 -> usr/lib64, ...) too; and whole directories, trees.
    root: a Debian root (the cached one if None)."""
    root = root or debian_root()
    for name in os.listdir(root):
        if os.path.islink(os.path.join(root, name)):
            os.symlink(os.readlink(os.path.join(root, name)), os.path.join(d, name))
    for tree in trees:
        shutil.copytree(os.path.join(root, tree.lstrip("/")), os.path.join(d, tree.lstrip("/")),
                        symlinks=True, dirs_exist_ok=True)
    if programs:
        # Several files: ldd heads each one's list with "FILE:".
        out = subprocess.run(["chroot", root, "ldd", *programs], capture_output=True, text=True,
                             check=True).stdout
        paths = sorted(set(programs) | {w.rstrip(":") for w in out.split() if w.startswith("/")})
        # Resolved inside the root: its links may be absolute
        # (/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...).
        real = subprocess.run(["chroot", root, "readlink", "-f", *paths,
                               *[os.path.dirname(p) for p in paths]],
                              capture_output=True, text=True, check=True).stdout.split()
        for path, file, where in zip(paths, real, real[len(paths):]):
            dst = os.path.join(d, where.lstrip("/"), os.path.basename(path))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(root, file.lstrip("/")), dst)


def make(d, scale, fsbench, big_program="/bin/bash-static"):
    """Creates the data set in directory d (empty or missing); returns the
    sizes used."""
    s = SCALES[scale]
    os.makedirs(d, exist_ok=True)
    copy_from_debian(d)
    shutil.copy(fsbench, os.path.join(d, "fsbench"))
    shutil.copy(big_program, os.path.join(d, "bigprog"))
    _fill(os.path.join(d, "big"), s["big"], "big")
    os.makedirs(os.path.join(d, "ten"))
    for i in range(10):
        _fill(os.path.join(d, "ten", f"f{i}"), s["ten"] + i * s["ten_step"], f"ten{i}")
    for i in range(s["tree"]):
        sub = os.path.join(d, "tree", f"d{i // 100:03d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i:05d}"), "wb") as f:
            f.write(b"x" * (i % 300))
    os.makedirs(os.path.join(d, "small"))
    for i in range(s["small"]):
        with open(os.path.join(d, "small", f"s{i:04d}"), "wb") as f:
            f.write(hashlib.sha256(str(i).encode()).digest() * 128)  # 4 KiB
    os.makedirs(os.path.join(d, SCRATCH))
    # Pier's guest mounts its /proc only over a root's own proc/; without
    # it fsbench finds no /proc/pier/stats and its lines carry no counts.
    os.makedirs(os.path.join(d, "proc"))
    return s


class Job(NamedTuple):
    """One fsbench run and what becomes of it."""
    args: list               # fsbench arguments, {D} for the data set's root
    records: list            # [(workload, op, kind)]: result lines that become records
    leaves: tuple = ()       # what a write job leaves in SCRATCH
    verify: list = None      # fsbench arguments that check it on the host afterwards
    copy_big: str = None     # a SCRATCH file the harness makes as a copy of big first

    @property
    def writes(self):
        return any(a.startswith("{D}/" + SCRATCH + "/") for a in self.args)


def _read(name, args, kind):
    return Job(args, [(name, args[0], kind)])


FIO = "/usr/bin/fio"


def _fio(name, rw, bs, files, each=()):
    """The thesis's fio job: one thread, psync, reads of existing files, its
    JSON report parsed (configs.fio_results). One fio job per file, each
    after the one before (stonewall): each file read whole when sequential
    (fio divides one job's size among several files evenly, which is not
    that), or `each` bounding the random reads of each. invalidate=0: no
    configuration drops caches from inside the job (the Linux guest drops
    its own before every job, the same as for fsbench)."""
    per_file = []
    for i, f in enumerate(files):
        per_file += [f"--name={name}-{i}", f"--filename={f}", *each, "--stonewall"]
    return Job([FIO, "--thread", "--numjobs=1", "--ioengine=psync", "--invalidate=0",
                f"--rw={rw}", f"--bs={bs}", "--output-format=json", *per_file],
               [(name, "fio", "seq" if rw == "read" else "rand")])


def start_args(args):
    """What a job's run is taken less of when its costs are counted: a run
    of fsbench that only starts and ends, or for a Debian program its
    --version (loading the same libraries)."""
    return [args[0], "--version"] if from_debian(args) else ["start"]


def workloads(s):
    """The jobs of one pass, reads first. The write jobs write into SCRATCH
    only; their read-back check runs in fsbench, untimed, and again on the
    host (Job.verify) against what the guest left there."""
    ten = [f"{{D}}/ten/f{i}" for i in range(10)]
    w = "{D}/" + SCRATCH
    return [
        _read("seq-big", ["seq", "{D}/big"], "seq"),
        _read("seq-big-mmap", ["seq", "--mmap", "{D}/big"], "seq"),
        _read("seq-ten", ["seq", *ten], "seq"),
        _read("seq-ten-mmap", ["seq", "--mmap", *ten], "seq"),
        _read("rand-4k", ["rand", "--count", str(s["rand"]), "--seed", "1", *ten], "rand"),
        _read("stat-tree", ["stat", "{D}/tree"], "meta"),
        _read("openread-4k", ["openread", "{D}/small"], "meta"),
        _read("walk-tree", ["walk", "{D}/tree"], "meta"),
        # 128 KiB write()s of a new file of the big file's size, then fsync.
        Job(["seqwrite", "--size", str(s["big"]), f"{w}/seqwrite"],
            [("seqwrite-big", "seqwrite", "seq")], leaves=("seqwrite",),
            verify=["seqwrite", "--verify", "--size", str(s["big"]), f"{w}/seqwrite"]),
        # 4 KiB pwrite()s at random aligned offsets of a copy of big, then fsync.
        Job(["randwrite", "--count", str(s["rand"]), "--seed", "1", f"{w}/randwrite"],
            [("randwrite-4k", "randwrite", "rand")], leaves=("randwrite",),
            verify=["randwrite", "--verify", "--count", str(s["rand"]), "--seed", "1",
                    f"{w}/randwrite"], copy_big="randwrite"),
        # mkdir, create+write 4 KiB+close each file, unlink each, rmdir.
        Job(["create", "--count", str(s["small"]), f"{w}/create"],
            [("create-4k", "create", "meta"), ("unlink-4k", "unlink", "meta")]),
    ] + fio_jobs(s)


def fio_jobs(s):
    """The thesis's fio jobs on the same files as fsbench's: the big file
    and the ten, read sequentially in 128 KiB reads and at random 4 KiB
    offsets (as many as rand-4k, from a fixed seed; spread evenly over the
    ten)."""
    ten = [f"{{D}}/ten/f{i}" for i in range(10)]

    def rand(n):
        return [f"--io_size={s['rand'] // n * 4096}", "--randseed=1"]
    return [_fio("fio-seq-big", "read", "128k", ["{D}/big"]),
            _fio("fio-rand-big", "randread", "4k", ["{D}/big"], rand(1)),
            _fio("fio-seq-ten", "read", "128k", ten),
            _fio("fio-rand-ten", "randread", "4k", ten, rand(10))]
