#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_fuse_reply.c, written to fuzz/corpus/fuse_reply/.

Rerun from the top of the tree: python3 fuzz/gen_fuse_seeds.py

Client-mode scripts (a session: INIT, then requests, each with the reply
the fake device gives) and checker-mode records, in the harness's input
format (see the comment at the top of the harness). Reply payloads are
<linux/fuse.h> structures packed here.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuse_reply")

S_IFREG, S_IFDIR, S_IFLNK = 0o100000, 0o040000, 0o120000
DT_DIR, DT_REG = 4, 8

# INIT flags (linux/fuse.h).
FUSE_ASYNC_READ, FUSE_ATOMIC_O_TRUNC, FUSE_BIG_WRITES = 1 << 0, 1 << 3, 1 << 5
FUSE_DO_READDIRPLUS, FUSE_PARALLEL_DIROPS = 1 << 13, 1 << 18
FUSE_MAX_PAGES, FUSE_MAP_ALIGNMENT = 1 << 22, 1 << 26

# ---- reply payloads ----


def attr(mode=S_IFREG | 0o644, size=4096, ino=42):
    return struct.pack("<QQQQQQIIIIIIIIII", ino, size, (size + 511) // 512, 1, 2, 3, 0, 0, 0,
                       mode, 1, 1000, 1000, 0, 4096, 0)


def entry(nodeid=2, mode=S_IFREG | 0o644, size=4096):
    return struct.pack("<QQQQII", nodeid, 1, 1, 1, 0, 0) + attr(mode, size, nodeid)


def attr_out(mode=S_IFREG | 0o644, size=4096):
    return struct.pack("<QII", 1, 0, 0) + attr(mode, size)


def open_out(fh=7):
    return struct.pack("<QII", fh, 0, 0)


def statfs_out():
    return struct.pack("<QQQQQIIII", 1000, 500, 400, 100, 50, 4096, 255, 4096, 0) + bytes(24)


def init_out(minor=38, flags=FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES | FUSE_ASYNC_READ |
             FUSE_BIG_WRITES | FUSE_ATOMIC_O_TRUNC, max_write=1 << 20, max_pages=32,
             map_alignment=12):
    return struct.pack("<IIIIHHIIHHI", 7, minor, 1 << 20, flags, 16, 12, max_write, 1,
                       max_pages, map_alignment, 0) + bytes(28)


def dirent(name, ino=5, off=1, typ=DT_REG, pad=True):
    b = struct.pack("<QQII", ino, off, len(name), typ) + name
    return b + bytes((-len(b)) % 8) if pad else b


def direntplus(name, nodeid=5, off=1, mode=S_IFREG | 0o644, typ=DT_REG):
    return entry(nodeid, mode) + dirent(name, nodeid, off, typ)


def write_out(size):
    return struct.pack("<II", size, 0)


# ---- replies as the harness reads them ----


def ok(payload=b""):
    """Control 1: header made by the harness, then the payload."""
    return bytes([1]) + struct.pack("<H", len(payload)) + payload


def err(errno):
    return bytes([2]) + struct.pack("<i", -errno)


def raw(data, fix_unique=False, fix_len=False):
    ctl = 3 if (fix_unique or fix_len) else 0
    ctl |= (4 if fix_unique else 0) | (8 if fix_len else 0)
    return bytes([ctl]) + struct.pack("<H", len(data)) + data


def lie(payload, claimed):
    """A header made here but a returned length chosen by the input."""
    return bytes([1 | 0x10]) + struct.pack("<H", len(payload)) + payload + \
        struct.pack("<I", claimed)


DEVICE_GONE = bytes([0x80])

# ---- requests (operation byte and operands) ----


def node(n):
    return bytes([n]) if n < 0xF0 else bytes([0xF0]) + struct.pack("<Q", n)


def name(s):
    return bytes([len(s)]) + s if len(s) < 0xFF else bytes([0xFF]) + \
        struct.pack("<H", len(s)) + s


def lookup(d, n):
    return bytes([0]) + node(d) + name(n)


def mkdir(d, n, mode=0o755):
    return bytes([1]) + node(d) + name(n) + struct.pack("<I", mode)


def link(d, n, old):
    return bytes([2]) + node(d) + name(n) + node(old)


def create(d, n, flags=0o102, mode=0o644):
    return bytes([3]) + node(d) + name(n) + struct.pack("<II", flags, mode)


def getattr_(n):
    return bytes([4]) + node(n)


def open_(n, directory=False, flags=0):
    return bytes([5 + (24 if directory else 0)]) + node(n) + struct.pack("<I", flags)


def release(n, fh=7):
    return bytes([6]) + node(n) + struct.pack("<Q", fh)


def read(n, length, off=0, fh=7):
    return bytes([7]) + node(n) + struct.pack("<QQI", fh, off, length)


def readdir(n, length=4095, off=0, fh=7):
    return bytes([8]) + node(n) + struct.pack("<QQH", fh, off, length)


def readlink(n, size=4096):
    return bytes([9]) + node(n) + struct.pack("<H", size)


STATFS = bytes([10])


def symlink(d, n, target):
    return bytes([14]) + node(d) + struct.pack("<H", len(target)) + name(n) + target


def unlink(d, n):
    return bytes([15]) + node(d) + name(n)


def rename(d, n, d2, n2, flags=0):
    return bytes([15 + 24]) + node(d) + name(n) + name(n2) + bytes([flags]) + node(d2)


def write(n, data_len, off=0, fh=7):
    return bytes([17]) + node(n) + struct.pack("<QQI", fh, off, data_len)


def lseek(n, off=0, whence=3, fh=7):
    return bytes([20]) + node(n) + struct.pack("<QQB", fh, off, whence)


def forget(count):
    return bytes([22, count])


def session(*parts, dax=False, init=None):
    return bytes([3 if dax else 1]) + ok(init if init is not None else init_out()) + \
        b"".join(parts)


def seeds():
    s = {}
    s["init-only"] = session()
    s["init-old-minor"] = session(init=init_out(minor=26))
    s["init-compat22"] = session(init=init_out()[:24])
    s["init-dax"] = session(dax=True, init=init_out(flags=FUSE_MAP_ALIGNMENT | FUSE_MAX_PAGES,
                                                    map_alignment=63))
    s["init-error"] = bytes([1]) + err(38) + lookup(1, b"a")
    s["lookup"] = session(lookup(1, b"etc"), ok(entry(2, S_IFDIR | 0o755)),
                          lookup(2, b"passwd"), ok(entry(3)),
                          lookup(1, b"missing"), ok(entry(0)),
                          lookup(1, b"gone"), err(2))
    s["lookup-bad"] = session(lookup(1, b"a/b"), lookup(1, b"."), ok(entry(1)),
                              lookup(1, b"x"), ok(entry(2)[:100]))
    s["lookup-compat"] = session(lookup(1, b"c"), ok(entry(5)[:120]), getattr_(5),
                                 ok(attr_out()[:96]))
    s["getattr"] = session(getattr_(1), ok(attr_out(S_IFDIR | 0o755)), getattr_(9),
                           ok(attr_out(0o170000)))
    s["open-read"] = session(open_(3), ok(open_out()), read(3, 10000), ok(b"x" * 4096),
                             ok(b"y" * 4096), ok(b"z" * 100), release(3), ok(),
                             init=init_out(max_pages=1))
    s["read-long"] = session(read(3, 8192), lie(b"a" * 100, 0x20000))
    s["read-short-header"] = session(read(3, 100), raw(b"\x10\0\0\0"))
    listing = dirent(b".", 1, 1, DT_DIR) + dirent(b"..", 1, 2, DT_DIR) + \
        dirent(b"file", 5, 3) + dirent(b"sub", 6, 4, DT_DIR, pad=False)
    s["readdir"] = session(open_(1, True), ok(open_out(9)), readdir(1), ok(listing),
                           readdir(1, off=4), ok(), init=init_out(flags=FUSE_MAX_PAGES))
    plus = direntplus(b".", 1, 1, S_IFDIR | 0o755, DT_DIR) + direntplus(b"f", 7, 2) + \
        direntplus(b"d", 8, 3, S_IFDIR | 0o755, DT_DIR)
    s["readdirplus"] = session(readdir(1), ok(plus), readdir(1, off=3), ok())
    s["readdirplus-enosys"] = session(readdir(1), err(38), ok(listing))
    s["readdir-bad"] = session(readdir(1), ok(dirent(b"a/b") + dirent(b"")),
                               readdir(1), ok(struct.pack("<QQII", 1, 1, 1000, 8) + b"abc"))
    s["readlink"] = session(readlink(4), ok(b"/target/path"), readlink(4, 5), ok(b"abcd"),
                            readlink(4), ok(b"a\0b"), readlink(4), ok())
    s["statfs"] = session(STATFS, ok(statfs_out()), STATFS, ok(statfs_out()[:48]),
                          STATFS, ok(bytes(80)))
    s["create-write"] = session(create(1, b"new"), ok(entry(10) + open_out(11)),
                                write(10, 5000), ok(write_out(4096)), ok(write_out(904)),
                                write(10, 100), ok(write_out(200)),
                                init=init_out(max_write=4096))
    s["tree"] = session(mkdir(1, b"dir"), ok(entry(12, S_IFDIR | 0o755)),
                        symlink(12, b"ln", b"../target"), ok(entry(13, S_IFLNK | 0o777)),
                        link(1, b"hard", 10), ok(entry(10)), unlink(1, b"hard"), ok(),
                        rename(1, b"a", 12, b"b", 1), err(38), forget(70), b"\0\0")
    s["error-range"] = session(getattr_(1), err(5000))
    s["error-positive"] = session(getattr_(1), err(-3))
    s["errors"] = session(getattr_(1), err(4095), lookup(1, b"e"), err(512), getattr_(2),
                          err(1), lookup(1, b"f"), err(71))
    s["lseek"] = session(lseek(3), ok(struct.pack("<Q", 1 << 63)), lseek(3), err(38),
                         lseek(3))
    s["wrong-unique"] = session(getattr_(1), raw(struct.pack("<Iiq", 16, 0, 99)))
    s["device-gone"] = session(getattr_(1), DEVICE_GONE, getattr_(1), bytes([0xC0]))
    # Checker mode: one record per checker.
    rec = b""
    # fuse_msg_reply's record is followed by the written length and a byte
    # saying "the unique is the header's own".
    for sel, data, after in ((0, struct.pack("<IiQ", 16, -2, 5), struct.pack("<IB", 16, 1)),
                             (1, entry(3), b""), (2, attr_out(), b""), (3, open_out(), b""),
                             (4, statfs_out(), b""), (5, init_out(), b""), (6, listing, b""),
                             (7, plus, b""), (8, b"name", b"")):
        rec += bytes([sel]) + struct.pack("<H", len(data)) + data + after
    s["checkers"] = bytes([0]) + rec
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    all_seeds = seeds()
    for n, data in sorted(all_seeds.items()):
        with open(os.path.join(OUT, n), "wb") as f:
            f.write(data)
    print(f"{len(all_seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
