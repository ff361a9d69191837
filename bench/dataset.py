"""The benchmark data set, made on a tmpfs: one large file, ten files of
80-100 MiB, a tree of small files for metadata, 4 KiB files for
open+read+close, and the programs (fsbench, bash-static). Sizes by scale:
full (the issue's), quick (a few minutes in all) and tiny (the harness
test). Contents are pseudo-random from a fixed seed, so every run and
every configuration reads the same bytes."""
import hashlib
import os
import shutil

SCALES = {
    #        big file    ten files (each, +i MiB)  tree files  4K files  rand reads
    "full":  dict(big=1 << 30, ten=80 << 20, ten_step=2 << 20, tree=10000, small=1000, rand=20000),
    "quick": dict(big=96 << 20, ten=6 << 20, ten_step=512 << 10, tree=1000, small=200, rand=2000),
    "tiny":  dict(big=8 << 20, ten=1 << 20, ten_step=64 << 10, tree=100, small=20, rand=300),
}


def _fill(path, size, seed):
    block = b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(2048))
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
            block = block[17:] + block[:17]  # no two 64 KiB blocks alike


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
    return s


def workloads(s):
    """(name, fsbench arguments with {D} for the data set's root, kind)."""
    ten = [f"{{D}}/ten/f{i}" for i in range(10)]
    return [
        ("seq-big", ["seq", "{D}/big"], "seq"),
        ("seq-big-mmap", ["seq", "--mmap", "{D}/big"], "seq"),
        ("seq-ten", ["seq", *ten], "seq"),
        ("seq-ten-mmap", ["seq", "--mmap", *ten], "seq"),
        ("rand-4k", ["rand", "--count", str(s["rand"]), "--seed", "1", *ten], "rand"),
        ("stat-tree", ["stat", "{D}/tree"], "meta"),
        ("openread-4k", ["openread", "{D}/small"], "meta"),
        ("walk-tree", ["walk", "{D}/tree"], "meta"),
    ]
