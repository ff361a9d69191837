"""Runs a program in the guest and the same program natively on the host,
chrooted into the same directory, and compares what each run showed.

The guest program's standard streams are pier's own (issue 16): here
stdin is /dev/null and stdout and stderr are two pipes, so none of them is
a terminal (isatty() false, TCGETS answers ENOTTY). The host run gets the
same: /dev/null, and a pipe for each of stdout and stderr, compared
separately and byte for byte (no "\r\n" to forgive). The guest program
starts with pier's default environment (PATH, HOSTNAME=pier, HOME from the
root's /etc/passwd for root, else /; no TERM without a terminal) plus what
--env gives it, in / (or --cwd) and with umask 022; so does the host run.
The host run goes through a read-only bind mount of the root, so that
writes fail with EROFS as they do in the guest, and nothing the tests run
can change the tree."""
import difflib
import os
import shutil
import subprocess
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


# The guest program's environment when --env adds nothing (pier's default,
# a container engine's): HOME comes from the root's /etc/passwd.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOSTNAME = "pier"


@dataclass
class Result:
    rc: int
    out: bytes  # stdout, as it arrived
    err: bytes  # stderr: the program's (and, in the guest, pier's own
                # messages, prefixed "pier:"; none when all went well)


def home_in(root):
    """Root's home directory in ROOT/etc/passwd (uid 0), else "/"."""
    try:
        with open(os.path.join(root, "etc", "passwd"), "rb") as f:
            for line in f:
                fields = line.rstrip(b"\n").split(b":")
                if len(fields) >= 7 and fields[2] == b"0" and fields[5]:
                    return os.fsdecode(fields[5])
    except OSError:
        pass
    return "/"


def default_env(root, env=None):
    """The environment the guest program gets on ROOT with --env ENV."""
    e = {"PATH": DEFAULT_PATH, "HOSTNAME": HOSTNAME, "HOME": home_in(root)}
    e.update(env or {})
    return e


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
    start somewhere other than /), with stdin /dev/null and stdout and
    stderr two pipes, in the environment the guest program would get."""

    def enter():
        os.chroot(root)
        os.chdir(cwd)
        os.umask(0o022)  # the guest program starts with 022

    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           env=default_env(root, env), preexec_fn=enter,
                           start_new_session=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"host run of {argv} took over {timeout} s") from None
    rc = p.returncode
    if rc < 0:
        rc = 128 - rc  # killed by a signal: what a shell would report
    return Result(rc, p.stdout, p.stderr)


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
    """ARGV in the guest, on ROOT (read-only unless ro=False), with pier's
    stdin /dev/null and its stdout and stderr two pipes."""
    p = subprocess.run(pier_args(machine, root, argv, env, cwd, strace, ro),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    return Result(p.returncode, p.stdout, p.stderr)


def _text(b):
    return b.decode("utf-8", errors="backslashreplace")


def strace_excerpt(machine, root, argv, env=None, cwd=None, lines=60):
    """The last LINES lines of each stream of the same guest run with
    --strace (wherever pier puts the trace)."""
    try:
        r = run_guest(machine, root, argv, env, cwd, strace=True)
    except subprocess.TimeoutExpired:
        return "(strace run timed out)"
    return "\n".join(["[stdout tail]", *_text(r.out).splitlines()[-lines:],
                      "[stderr tail]", *_text(r.err).splitlines()[-lines:],
                      f"[status {r.rc}]"])


def _stream_problem(name, host, guest, unordered):
    if unordered:
        host, guest = (b"".join(sorted(b.splitlines(keepends=True)))
                       for b in (host, guest))
    if host == guest:
        return None
    diff = difflib.unified_diff(
        _text(host).splitlines(keepends=True),
        _text(guest).splitlines(keepends=True), "host", "guest")
    return (f"{name} differs (- host, + guest"
            f"{', lines sorted' if unordered else ''}):\n" +
            "".join(diff)[-6000:] +
            f"\nhost {name} bytes: {host[-300:]!r}"
            f"\nguest {name} bytes: {guest[-300:]!r}")


def compare(machine, guest_root, host_root, argv, env=None, cwd=None,
            unordered=False):
    """Runs ARGV in the guest and on the host; returns a list of problems
    (empty when both exited alike and showed the same bytes on stdout, and
    the same on stderr). unordered: compare each stream's lines as a set
    (sorted), for output whose order nothing promises (an environment)."""
    g = run_guest(machine, guest_root, argv, env, cwd)
    h = run_host(host_root, argv, env, cwd or "/")
    problems = []
    if g.rc != h.rc:
        problems.append(f"exit status: guest {g.rc}, host {h.rc}")
    for name, hb, gb in (("stdout", h.out, g.out), ("stderr", h.err, g.err)):
        p = _stream_problem(name, hb, gb, unordered)
        if p:
            problems.append(p)
    if problems:
        problems.append("--- guest stderr (the program's and pier's) ---\n" +
                        _text(g.err)[-2000:])
        problems.append("--- guest --strace (tail) ---\n" +
                        strace_excerpt(machine, guest_root, argv, env, cwd))
    return problems
