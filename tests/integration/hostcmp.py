"""Runs a program in the guest and the same program natively on the host,
chrooted into the same directory, and compares what each run showed.

The guest program's stdout and stderr both go to the console, which says
it is a terminal (TCGETS works, TIOCGWINSZ gives 24x80), so the host run
gets a pseudo-terminal of 24x80 as stdin, stdout and stderr: isatty(),
stdio buffering (hence how stdout and stderr interleave) and terminal
width then agree. The guest program starts with an empty environment (or
what --env gives it), in / (or --cwd) and with umask 022; so does the
host run. The host run goes through a read-only bind mount of the root,
so that writes fail with EROFS as they do in the guest, and nothing the
tests run can change the tree."""
import difflib
import errno
import fcntl
import os
import select
import shutil
import struct
import subprocess
import termios
import time
from dataclasses import dataclass

import pytest

from conftest import PIER, vmm_args

# Every file of the data tree gets this mtime and atime: 2024-01-02
# 03:04:05 UTC, older than six months, so ls -l prints the year.
FIXED_TIME = 1704164645

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n")
GROUP = "root:x:0:\nstaff:x:1000:alice\n"

FRUITS = "pear\napple\nbanana\napple\ncherry\nbanana\napple\nkiwi\n"
BLOB = bytes(range(256)) + b"pier\n" * 4


@dataclass
class Result:
    rc: int
    out: bytes  # stdout and stderr as they arrived, "\r\n" made "\n"
    err: bytes = b""  # pier's own stderr (guest runs only)


def normalise(b):
    return b.replace(b"\r\n", b"\n")


def make_data(data):
    """The data tree: nested dirs, text files with known lines, binaries,
    links, an empty file, names with spaces. Fixed contents, owners, modes
    and times, so every listing is the same from run to run."""
    os.makedirs(os.path.join(data, "notes", "deep", "er"))
    os.makedirs(os.path.join(data, "dir with space"))

    def w(rel, content, mode=0o644, owner=None):
        p = os.path.join(data, rel)
        with open(p, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
        os.chmod(p, mode)
        if owner is not None:
            os.chown(p, owner, owner)

    w("fruits.txt", FRUITS, owner=1000)
    w("sorted.txt", "".join(sorted(FRUITS.splitlines(keepends=True))))
    w("numbers.txt", "".join(f"{i}\n" for i in (10, 2, 33, 4, 5, 100, 7)))
    w("table.csv", "name,colour,count\npear,green,3\napple,red,5\n"
                   "kiwi,brown,12\n", 0o664)
    w("notes/readme.txt", "Read me first.\nThe needle is here.\nLast line.\n",
      0o444, owner=1000)
    w("notes/deep/er/file.txt", "deep needle\nnothing\nNEEDLE upper\n")
    w("notes/tabs.txt", "a\tb\tc\n1\t22\t333\n")
    w("with space.txt", "spaces in names\n")
    w("dir with space/inner file.txt", "inner\n")
    w("empty", b"")
    w("blob.bin", BLOB)
    w("blob-copy.bin", BLOB)
    w("blob-diff.bin", BLOB[:200] + b"X" + BLOB[201:])
    w("run.sh", "#!/bin/sh\necho hi\n", 0o755)
    os.symlink("notes/readme.txt", os.path.join(data, "link"))
    os.symlink("/data/fruits.txt", os.path.join(data, "abs-link"))
    os.symlink("nowhere", os.path.join(data, "dangling"))
    os.symlink("../..", os.path.join(data, "notes", "deep", "up"))
    os.chown(os.path.join(data, "notes"), 1000, 1000)
    os.chown(os.path.join(data, "link"), 1000, 1000, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(data, topdown=False):
        for n in filenames + dirnames:
            os.utime(os.path.join(dirpath, n), (FIXED_TIME, FIXED_TIME),
                     follow_symlinks=False)
        os.utime(dirpath, (FIXED_TIME, FIXED_TIME))


def make_root(root):
    """ROOT/bin/busybox, ROOT/bin/bash, ROOT/etc/{passwd,group}, ROOT/data."""
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)  # pytest's tmp dirs are 0700
    os.makedirs(os.path.join(root, "bin"))
    os.makedirs(os.path.join(root, "etc"))
    shutil.copy2("/bin/busybox", os.path.join(root, "bin", "busybox"))
    shutil.copy2("/bin/bash-static", os.path.join(root, "bin", "bash"))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write(GROUP)
    make_data(os.path.join(root, "data"))
    return root


def host_comparison_root(root):
    """make_root(ROOT) when this host can run the comparison: fails the
    test when a package is missing, skips it when we are not root."""
    for exe, pkg in (("/bin/busybox", "busybox-static"),
                     ("/bin/bash-static", "bash-static")):
        if not os.path.exists(exe):
            pytest.fail(f"{exe} missing: apt-get install {pkg}")
    if os.geteuid() != 0:
        pytest.skip("the host side runs chrooted: needs root")
    return make_root(root)


class ReadOnlyView:
    """A read-only bind mount of a directory, for the host runs."""

    def __init__(self, src, mnt):
        self.src, self.mnt, self.mounted = src, mnt, False
        os.makedirs(mnt)
        r = subprocess.run(["mount", "--bind", src, mnt],
                           capture_output=True, text=True)
        if r.returncode:
            self.why = f"mount --bind failed: {r.stderr.strip()}"
            return
        self.mounted = True
        r = subprocess.run(["mount", "-o", "remount,ro,bind", mnt],
                           capture_output=True, text=True)
        if r.returncode:
            self.why = f"remount ro failed: {r.stderr.strip()}"
            self.close()
            return
        self.why = None

    @property
    def path(self):
        return self.mnt if self.mounted else self.src

    @property
    def readonly(self):
        return self.mounted

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.mnt], check=False)
            self.mounted = False


def run_host(root, argv, env=None, cwd="/", timeout=30):
    """ARGV run natively, chrooted into ROOT (as chroot(8) does, but able to
    start somewhere other than /), on a 24x80 pseudo-terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def enter():
        os.chroot(root)
        os.chdir(cwd)
        os.umask(0o022)  # the guest program starts with 022

    try:
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                             env=dict(env or {}), preexec_fn=enter,
                             start_new_session=True)
    finally:
        os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                p.kill()
                raise TimeoutError(f"host run of {argv} took over {timeout} s")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                b = os.read(master, 65536)
            except OSError as e:
                if e.errno == errno.EIO:  # every slave end closed
                    break
                raise
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(master)
    rc = p.wait(timeout=timeout)
    if rc < 0:
        rc = 128 - rc  # killed by a signal: what a shell would report
    return Result(rc, normalise(b"".join(chunks)))


def pier_args(machine, root, argv, env=None, cwd=None, strace=False, ro=True):
    a = [PIER, "run", *vmm_args(machine), "--mem", "256M",
         "--timeout", "30", "--root", root] + (["--ro"] if ro else [])
    for k, v in (env or {}).items():
        a += ["--env", f"{k}={v}"]
    if cwd:
        a += ["--cwd", cwd]
    if strace:
        a.append("--strace")
    return a + ["--", *argv]


def run_guest(machine, root, argv, env=None, cwd=None, strace=False,
              timeout=120, ro=True):
    """ARGV in the guest, on ROOT (read-only unless ro=False)."""
    p = subprocess.run(pier_args(machine, root, argv, env, cwd, strace, ro),
                       capture_output=True, timeout=timeout)
    return Result(p.returncode, normalise(p.stdout), p.stderr)


def _text(b):
    return b.decode("utf-8", errors="backslashreplace")


def strace_excerpt(machine, root, argv, env=None, cwd=None, lines=60):
    """The last LINES console lines of the same guest run with --strace."""
    try:
        r = run_guest(machine, root, argv, env, cwd, strace=True)
    except subprocess.TimeoutExpired:
        return "(strace run timed out)"
    tail = _text(r.out).splitlines()[-lines:]
    return "\n".join(tail) + f"\n[status {r.rc}]\n" + _text(r.err)[-1000:]


def compare(machine, guest_root, host_root, argv, env=None, cwd=None):
    """Runs ARGV in the guest and on the host; returns a list of problems
    (empty when both showed the same bytes and exited alike)."""
    g = run_guest(machine, guest_root, argv, env, cwd)
    h = run_host(host_root, argv, env, cwd or "/")
    problems = []
    if g.rc != h.rc:
        problems.append(f"exit status: guest {g.rc}, host {h.rc}")
    if g.out != h.out:
        diff = difflib.unified_diff(
            _text(h.out).splitlines(keepends=True),
            _text(g.out).splitlines(keepends=True), "host", "guest")
        problems.append("output differs (- host, + guest):\n" +
                        "".join(diff)[-6000:] +
                        f"\nhost bytes: {h.out[-300:]!r}"
                        f"\nguest bytes: {g.out[-300:]!r}")
    if problems:
        problems.append("--- pier stderr ---\n" + _text(g.err)[-2000:])
        problems.append("--- guest --strace (tail) ---\n" +
                        strace_excerpt(machine, guest_root, argv, env, cwd))
    return problems
