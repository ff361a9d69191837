"""The benchmark data set, made on a tmpfs: one large file, ten files of
80-100 MiB, a tree of small files for metadata, 4 KiB files for
open+read+close, the programs (fsbench, bash-static), an empty scratch
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
from typing import NamedTuple

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


def make(d, scale, fsbench, big_program="/bin/bash-static"):
    """Creates the data set in directory d (empty or missing); returns the
    sizes used."""
    s = SCALES[scale]
    os.makedirs(d, exist_ok=True)
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
    ]
