"""Faults from the host side, on both VMMs (QEMU microvm and pier's own),
judged as a user would: the program's output and status, pier's stderr and
status, what is on the host afterwards, what is left running or lying
around. The guest program is tests/progs/faults.c (one subcommand per case).

a. The shared directory fills up (a 4 MiB tmpfs, as --share or as the root):
   the program writes and fsyncs records until ENOSPC, sees it as an error
   from write/fsync/close/msync (or SIGBUS for a store into a shared
   mapping, Linux's own answer) and exits 3; every record it reported
   synced is on the host intact; nothing changed outside the directory.
b. The shared directory (a --share, or the root itself) is removed on the
   host while the program writes in it: clean errors (ENOENT, EIO, ESTALE),
   the program's status, nothing re-created.
c. A directory the server may not read (mode 000, pier run unprivileged):
   EACCES in the guest, the rest of the share still usable. QEMU's
   virtiofsd (7.2, C) cannot run unprivileged, so on microvm the guest's own
   permission checks (-o uid=) are what is tested, and pier's refusal to
   start QEMU that way must be clear.
d. The DAX window (pier's VMM only: QEMU's virtio-fs has none, so microvm
   runs the same program as a control) exhausted by mappings that pin every
   chunk: the data read and written must still be right.
e. Too little RAM: refused allocations are ENOMEM; touching more than there
   is ends the program with a clear message and status 137 (SIGKILL, what
   Linux's OOM killer sends); below 16M pier refuses to start.
f. fork/vfork/clone/clone3/posix_spawn and unknown system calls: ENOSYS,
   named on pier's stderr, the program's own status.
g. Many VMs at once sharing one root: all right, and nothing leaked
   (processes, descriptors, temporary files, sockets).
h. Device death (test_device_death_*, `-k device_death`): pier's device
   thread stops (PIER_FAULT=fs-thread-exit:N), or the virtiofsd under QEMU
   is SIGKILLed: the program's file operations fail with EIO, pier says the
   device died and exits 126, in bounded time, leaving nothing behind.

Everything here needs root (mounts, chown, running pier as nobody)."""
import contextlib
import glob
import os
import random
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field

import pytest

from conftest import BUILD, EXIT_VMERROR, KERNEL, PIER, targets, vmm_args
from fstree import compare_trees, snapshot
from watch import (assert_clean, descendants, proc_table, run_watched,  # noqa: F401
                   runtmp, still_there)

BOTH = targets("microvm", "pier")  # one QEMU machine is enough: the guest code is the same
NOBODY = 65534


def prog(libc="musl"):
    exe = os.path.join(BUILD, "progs", libc, "faults")
    if not os.path.exists(exe):
        pytest.fail(f"{exe} missing: run make progs")
    return exe


def make_root(path, libc="musl", dirs=()):
    """path/bin/faults and empty directories `dirs`; readable by all."""
    os.makedirs(os.path.join(path, "bin"), exist_ok=True)
    for p in (path, os.path.join(path, "bin")):
        os.chmod(p, 0o755)
    shutil.copy2(prog(libc), os.path.join(path, "bin", "faults"))
    for d in dirs:
        os.makedirs(os.path.join(path, d))
        os.chmod(os.path.join(path, d), 0o755)
    return str(path)


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (mounts, chown, running pier as another user)")


def show(w, problems=()):
    """A failure message: the problems, then console and stderr."""
    return "\n".join(list(problems)[:40]) + "\n--- console (last 3000) ---\n" + \
        w.out[-3000:] + "\n--- pier stderr (last 3000) ---\n" + w.err[-3000:]


def lines(out, prefix):
    return [ln.rstrip("\r") for ln in out.splitlines() if ln.startswith(prefix)]


def wait_gone(procs, seconds=10):
    deadline = time.monotonic() + seconds
    while still_there(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    return still_there(procs)


@dataclass
class Streamed:
    rc: int = None
    out: str = ""
    err: str = ""
    tmpdir: str = ""
    seen: dict = field(default_factory=dict)  # (pid, starttime) -> comm
    elapsed: float = 0.0
    marks: dict = field(default_factory=dict)  # what on_line noted, e.g. when


def stream_pier(tmpdir, args, on_line=None, env=None, timeout=120, user=None, cwd=None):
    """Runs `pier run ARGS` (TMPDIR=tmpdir), calling on_line(line, s) for
    each line of its stdout as it comes, noting every process it starts.
    A run longer than timeout is killed and fails the test."""
    s = Streamed(tmpdir=tmpdir)
    kw = dict(user=user, group=user, extra_groups=[]) if user is not None else {}
    with tempfile.TemporaryFile("w+b") as errf:
        t0 = time.monotonic()
        p = subprocess.Popen([PIER, "run", *args], stdout=subprocess.PIPE, stderr=errf,
                             start_new_session=True, cwd=cwd,
                             env=dict(os.environ, TMPDIR=tmpdir, **(env or {})), **kw)
        buf = b""
        try:
            while True:
                s.seen.update(descendants(p.pid))
                if time.monotonic() - t0 > timeout:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                    errf.seek(0)
                    s.out = (s.out + buf.decode(errors="replace"))
                    s.err = errf.read().decode(errors="replace")
                    pytest.fail(f"pier still running after {timeout} s\n" + show(s))
                ready, _, _ = select.select([p.stdout], [], [], 0.02)
                if not ready:
                    continue
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode(errors="replace").rstrip("\r")
                    s.out += line + "\n"
                    if on_line:
                        on_line(line, s)
            s.out += buf.decode(errors="replace")
            while p.poll() is None:
                s.seen.update(descendants(p.pid))
                if time.monotonic() - t0 > timeout:
                    pytest.fail(f"pier did not exit {timeout} s after it started")
                time.sleep(0.02)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            p.stdout.close()
        s.elapsed = time.monotonic() - t0
        s.rc = p.returncode
        errf.seek(0)
        s.err = errf.read().decode(errors="replace")
    return s


def assert_nothing_left(w):
    """No process of the run alive (zombies included), nothing in its
    TMPDIR, no virtiofsd lock file of it."""
    left = wait_gone(w.seen)
    assert not left, f"processes left behind: {left}\n" + show(w)
    assert os.listdir(w.tmpdir) == [], f"left in TMPDIR: {os.listdir(w.tmpdir)}"
    assert not glob.glob("/var/run/virtiofsd/" + w.tmpdir.replace("/", ".") + ".*")


@contextlib.contextmanager
def small_tmpfs(path, size="4m"):
    """A tmpfs of `size` mounted on path (made), unmounted at the end."""
    need_root()
    os.makedirs(path)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "pierfull",
                    str(path)], check=True)
    try:
        yield str(path)
    finally:
        if subprocess.run(["umount", str(path)]).returncode:
            subprocess.run(["umount", "-l", str(path)])  # busy: detach at least


@contextlib.contextmanager
def busy_cpus():
    """One spinning process per CPU while the block runs: a busy machine
    stretches the races between a VM's end and its helpers' (a virtiofsd
    leaving after the program's exit was once taken for a dead device)."""
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for p in spin:
            p.kill()
            p.wait()


# --- a. the shared directory fills up -----------------------------------------

HDR, SLOT = 31, 64 * 1024
MAX_PAYLOAD = SLOT - HDR


# Payload byte i of record k is (k * 131 + i * 7 + (i >> 10)) & 0xff: each
# 1 KiB block is one of 256 runs (7 * 1024 is a multiple of 256).
_RUNS = [bytes((c + i * 7) & 0xFF for i in range(1024)) for c in range(256)]


def record(k):
    """Record k as faults.c writes it (fsync_crash.c's format)."""
    n = 1 + k * 7919 % (MAX_PAYLOAD - 1)
    p = b"".join(_RUNS[(k * 131 + j) & 0xFF] for j in range((n + 1023) // 1024))[:n]
    return b"REC %08d %08d %08x\n" % (k, n, zlib.crc32(p)) + p


def fill_problems(d, mode, synced):
    """What is wrong on the host with the records reported synced."""
    problems = []
    if mode == "append":
        log = open(os.path.join(d, "log"), "rb").read() if os.path.exists(
            os.path.join(d, "log")) else b""
        pos = 0
        for k in synced:  # one after another, from the start
            want = record(k)
            if log[pos:pos + len(want)] != want:
                problems.append(f"record {k} (synced) not intact at offset {pos} of log")
                break
            pos += len(want)
    elif mode == "files":
        for k in synced:
            p = os.path.join(d, f"rec-{k:08d}")
            if not os.path.exists(p):
                problems.append(f"record {k} (synced): {os.path.basename(p)} missing")
            elif open(p, "rb").read() != record(k):
                problems.append(f"record {k} (synced): {os.path.basename(p)} not intact")
    else:
        p = os.path.join(d, "big")
        with open(p, "rb") as f:
            for k in synced:
                want = record(k)
                f.seek(k * SLOT)
                if f.read(len(want)) != want:
                    problems.append(f"record {k} (synced) not intact in slot {k} of big")
    return problems


# Which call may report the full file system, per mode.
FILL_OPS = {"append": {"write", "fsync"}, "files": {"open", "write", "fsync", "close"},
            "inplace": {"pwrite", "fsync"}, "mmap": {"msync"}}

FILL_PARAMS = [pytest.param(m, mode, where, dax, id=f"{m}-{mode}-{where}{'-dax0' if dax else ''}")
               for m in BOTH
               for mode, where, dax in (("append", "share", False), ("files", "share", False),
                                        ("inplace", "share", False), ("mmap", "share", False),
                                        ("append", "root", False))
               + ((("inplace", "share", True), ("mmap", "share", True)) if m == "pier" else ())]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("machine,mode,where,dax0", FILL_PARAMS)
def test_full_share_gives_enospc(machine, mode, where, dax0, tmp_path, runtmp):
    need_root()
    with contextlib.ExitStack() as stack:
        if where == "share":
            root = make_root(tmp_path / "root", dirs=["data"])
            full = stack.enter_context(small_tmpfs(tmp_path / "full"))
            share = ["--share", f"data={full}", "-o", "mount=data:/data"]
            data, outside = full, root  # outside: must not change
        else:
            full = stack.enter_context(small_tmpfs(tmp_path / "full"))
            root = make_root(full, dirs=["data"])
            share, data, outside = [], os.path.join(full, "data"), None
        before = snapshot(outside) if outside else None
        bin_before = snapshot(os.path.join(root, "bin"))
        listing = sorted(os.listdir(tmp_path))
        w = run_watched(runtmp, *vmm_args(machine), *(["--dax", "0"] if dax0 else []),
                        "--mem", "128M", "--timeout", "200", "--root", root, *share,
                        "--", "/bin/faults", "fill", "/data", mode, timeout=250)
        synced = [int(x.split()[1]) for x in lines(w.out, "synced ")]
        problems = []
        if synced != list(range(len(synced))) or len(synced) < 20:
            problems.append(f"synced lines: {len(synced)}, not 0..n-1 with n >= 20")
        end = re.search(r"^(enospc|error) (\d+) (\S+)(?: (\S+))?\r?$", w.out, re.M)
        if w.rc == 3:
            if not end or end[1] != "enospc" or int(end[2]) != len(synced) or \
                    end[3] not in FILL_OPS[mode]:
                problems.append(f"expected 'enospc {len(synced)} <{'|'.join(FILL_OPS[mode])}>'")
            if f"readback ok {len(synced)}" not in w.out:
                problems.append("the guest did not read its synced records back intact")
        elif not (mode == "mmap" and w.rc == -signal.SIGBUS and
                  "program killed by SIGBUS" in w.err):
            # (a store into a shared mapping of a full file system is
            # SIGBUS on Linux; anything else is wrong)
            problems.append(f"status {w.rc}, expected 3 (the program's, after ENOSPC)")
        problems += fill_problems(data, mode, synced)
        if outside:
            problems += ["outside the share: " + p
                         for p in compare_trees(snapshot(outside), before, times="all")]
        problems += ["the program: " + p for p in
                     compare_trees(snapshot(os.path.join(root, "bin")), bin_before, times="all")]
        if where == "root" and sorted(os.listdir(root)) != ["bin", "data"]:
            problems.append(f"root now holds {sorted(os.listdir(root))}")
        if sorted(os.listdir(tmp_path)) != listing:
            problems.append(f"beside the share: {sorted(os.listdir(tmp_path))}, was {listing}")
        assert not problems, show(w, problems)
        assert_clean(w)


# --- b. the shared directory removed under the program ------------------------

GONE_ERRNOS = {"ENOENT", "EIO", "ESTALE"}


def remove_tree(path, seconds=10):
    """rmtree, again while the guest keeps creating files in it."""
    deadline = time.monotonic() + seconds
    while os.path.lexists(path):
        try:
            shutil.rmtree(path)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@pytest.mark.timeout(200)
@pytest.mark.parametrize("where", ["share", "root"])
@pytest.mark.parametrize("machine", BOTH)
def test_shared_dir_removed_while_writing(machine, where, tmp_path, runtmp):
    parent = tmp_path / "parent"
    parent.mkdir()
    if where == "share":
        root = make_root(tmp_path / "root", dirs=["data"])
        gone = str(parent / "data")
        os.makedirs(gone)
        args, guest_dir = ["--share", f"data={gone}", "-o", "mount=data:/data"], "/data"
        before_root = snapshot(root)
    else:
        gone = make_root(parent / "root", dirs=["w"])
        root, args, guest_dir, before_root = gone, [], "/w", None
    listing = sorted(os.listdir(parent))

    def on_line(line, s):
        if line == "ready" and "removed" not in s.marks:
            remove_tree(gone)
            s.marks["removed"] = time.monotonic()

    w = stream_pier(runtmp, [*vmm_args(machine), "--timeout", "150", "--root", root, *args,
                             "--", "/bin/faults", "gone", guest_dir], on_line, timeout=180)
    problems = []
    if "removed" not in w.marks:
        problems.append("the program never said ready")
    if w.rc != 4:
        problems.append(f"status {w.rc}, expected 4 (the program's: errors seen)")
    errs = [x.split() for x in lines(w.out, "err ")]
    print("\n".join(lines(w.out, "err ") + lines(w.out, "gone:")))
    if not errs:
        problems.append("no error reported by the program")
    bad = [" ".join(e[1:]) for e in errs if e[-1] not in GONE_ERRNOS]
    if bad:
        problems.append(f"errors other than {sorted(GONE_ERRNOS)}: {bad}")
    if sorted(os.listdir(parent)) != sorted(set(listing) - {os.path.basename(gone)}):
        problems.append(f"the parent directory now holds {sorted(os.listdir(parent))}")
    if before_root is not None:
        problems += ["root: " + p for p in compare_trees(snapshot(root), before_root, times="all")]
    for word in ("panic", "killed by"):
        if word in w.err:
            problems.append(f"'{word}' on pier's stderr")
    assert not problems, show(w, problems)
    assert_nothing_left(w)


# --- c. a directory the server may not read ------------------------------------

PERM_OPS = ["opendir", "open-dir", "stat-inside", "open-inside", "create-inside",
            "mkdir-inside", "open-secret", "write-secret"]


def perm_tree(base, owner):
    """base/root with bin/faults and data/: locked/ (000, with a file),
    secret (000), open/ (0777, with ok.txt); data and below owned by owner."""
    root = make_root(os.path.join(base, "root"), dirs=["data"])
    data = os.path.join(root, "data")
    os.makedirs(os.path.join(data, "locked"))
    os.makedirs(os.path.join(data, "open"))
    for rel, text in (("locked/file", "inside\n"), ("secret", "secret\n"), ("open/ok.txt", "ok\n")):
        with open(os.path.join(data, rel), "w") as f:
            f.write(text)
    for dirpath, dirnames, filenames in os.walk(data):
        for n in [dirpath, *(os.path.join(dirpath, x) for x in dirnames + filenames)]:
            os.chown(n, owner, owner)
    os.chmod(os.path.join(data, "open"), 0o777)
    os.chmod(os.path.join(data, "locked"), 0)
    os.chmod(os.path.join(data, "secret"), 0)
    return root


def perm_problems(w, data, guest_checks):
    """guest_checks: the guest enforces modes itself (-o uid=): then chdir
    fails too. As root (uid 0) the guest checks nothing, like Linux's
    virtio-fs with default_permissions, and only what reaches the host
    fails: chdir may pass, what it leads to must not."""
    problems = []
    got = dict(x.split()[1:3] for x in lines(w.out, "perm "))
    for op in PERM_OPS + (["chdir"] if guest_checks or got.get("chdir") != "OK" else
                          ["open-after-chdir", "opendir-after-chdir"]):
        if got.get(op) != "EACCES":
            problems.append(f"{op}: {got.get(op, 'not tried')}, expected EACCES")
    if got.get("open-dir-usable") != "OK":
        problems.append("the readable directory beside it was not usable")
    made = os.path.join(data, "open", "made-by-guest")
    if not os.path.exists(made) or open(made).read() != "guest\n":
        problems.append("open/made-by-guest not written on the host")
    if w.rc != 0:
        problems.append(f"status {w.rc}, expected 0")
    return problems


def unreachable_by_others(path):
    """The first directory above path that others may not search (so
    nobody cannot reach path), or None."""
    p = os.path.dirname(os.path.abspath(path))
    while True:
        if not os.stat(p).st_mode & stat.S_IXOTH:
            return p
        if p == "/":
            return None
        p = os.path.dirname(p)


@contextlib.contextmanager
def kvm_for_everyone():
    """/dev/kvm usable by nobody for the test (kvm-nest makes it 0666
    already); the mode is put back afterwards."""
    st = os.stat("/dev/kvm")
    changed = (st.st_mode & 0o006) != 0o006
    if changed:
        os.chmod("/dev/kvm", 0o666)
    try:
        yield
    finally:
        if changed:
            os.chmod("/dev/kvm", stat.S_IMODE(st.st_mode))


@contextlib.contextmanager
def tree_for_nobody():
    """(base, root, tmp): a permission tree owned by nobody in a directory
    nobody can reach, with a TMPDIR of nobody's; removed afterwards."""
    need_root()
    base = tempfile.mkdtemp(prefix="pier-perm-")
    try:
        os.chmod(base, 0o755)
        for p in (base, PIER, KERNEL):
            blocked = unreachable_by_others(p)
            if blocked:
                pytest.skip(f"{blocked} is not searchable by others: nobody cannot reach {p}")
        root = perm_tree(base, NOBODY)
        tmp = os.path.join(base, "tmp")
        os.makedirs(tmp)
        os.chown(tmp, NOBODY, NOBODY)
        yield base, root, tmp
    finally:
        shutil.rmtree(base)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("machine", targets("pier"))
def test_unreadable_dir_with_pier_unprivileged(machine):
    """pier run as nobody: the FUSE server's openat() is refused by the host."""
    with tree_for_nobody() as (base, root, tmp):
        with kvm_for_everyone():
            w = stream_pier(tmp, [*vmm_args(machine), "--timeout", "100", "--root", root, "--",
                                  "/bin/faults", "perm", "/data"], user=NOBODY, cwd=base,
                            timeout=150)
        problems = perm_problems(w, os.path.join(root, "data"), guest_checks=False)
        made = os.path.join(root, "data", "open", "made-by-guest")
        if os.path.exists(made) and os.stat(made).st_uid != NOBODY:
            problems.append(f"made-by-guest belongs to uid {os.stat(made).st_uid}, not nobody")
        if sorted(os.listdir(os.path.join(root, "data", "locked"))) != ["file"]:
            problems.append("locked/ changed")
        assert not problems, show(w, problems)
        assert_nothing_left(w)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("machine", BOTH)
def test_unreadable_dir_with_guest_uid(machine, tmp_path, runtmp):
    """pier as root, the guest's own checks for -o uid= (a uid that owns
    nothing): what microvm can test, since virtiofsd needs root."""
    root = perm_tree(str(tmp_path), 0)
    w = run_watched(runtmp, *vmm_args(machine), "--timeout", "100", "--root", root,
                    "-o", "uid=4242", "-o", "gid=4242", "--", "/bin/faults", "perm", "/data",
                    timeout=150)
    problems = perm_problems(w, os.path.join(root, "data"), guest_checks=True)
    assert not problems, show(w, problems)
    assert_clean(w)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("machine", targets("microvm"))
def test_qemu_unprivileged_fails_clearly(machine):
    """QEMU 7.2's virtiofsd needs root (its lock file under /var/run, its
    namespace sandbox): pier run --vmm qemu as nobody must say so and leave
    nothing behind."""
    with tree_for_nobody() as (base, root, tmp):
        w = stream_pier(tmp, [*vmm_args(machine), "--timeout", "60", "--root", root, "--",
                              "/bin/faults", "perm", "/data"], user=NOBODY, cwd=base, timeout=90)
        if w.rc == 0:
            pytest.fail("virtiofsd ran unprivileged: cover QEMU in "
                        "test_unreadable_dir_with_pier_unprivileged too\n" + show(w))
        assert w.rc == EXIT_VMERROR, show(w)
        assert re.search(r"pier: virtiofsd .* (exited|killed)", w.err), show(w)
        assert_nothing_left(w)


# --- d. the DAX window exhausted by mappings -----------------------------------

DAX_BIG = 10 * 2**20 + 777
DAX_FILES = 16
_PAGES = [bytes((s + i * 7) & 0xFF for i in range(4096)) for s in range(256)]


def dax_content(f, size, written=False):
    """What faults.c expects in file f (1000: big): page p is
    _PAGES[(f * 31 + p) % 256]; written: byte 8 of every page inverted."""
    out = bytearray(b"".join(_PAGES[(f * 31 + p) & 0xFF] for p in range((size + 4095) // 4096)))
    del out[size:]
    if written:
        for off in range(8, size, 4096):
            out[off] ^= 0xFF
    return bytes(out)


def dax_size(k):
    return 2**19 - 1000 * k


@pytest.mark.timeout(300)
@pytest.mark.parametrize("machine", BOTH)
def test_dax_window_exhausted_by_mappings(machine, tmp_path, runtmp):
    """A window of 4 chunks (--dax 8M, 2 MiB chunks) and 17 files mapped at
    once, 21 chunks' worth, every page touched: the window cannot hold them
    all, its chunks stay pinned. Half the small files are shared and
    written. QEMU (no window) is the control."""
    root = make_root(tmp_path / "root", dirs=["dax"])
    with open(os.path.join(root, "dax", "big"), "wb") as f:
        f.write(dax_content(1000, DAX_BIG))
    for k in range(DAX_FILES):
        with open(os.path.join(root, "dax", f"m{k:03d}"), "wb") as f:
            f.write(dax_content(k, dax_size(k)))
    dax = ["--dax", "8M", "-o", "verbose"] if machine == "pier" else []
    w = run_watched(runtmp, *vmm_args(machine), *dax, "--mem", "256M", "--timeout", "250",
                    "--root", root, "--", "/bin/faults", "daxmap", "/dax", str(DAX_FILES),
                    timeout=280)
    problems = []
    if machine == "pier" and "4 chunks of 2048 KiB" not in w.err:
        problems.append("not a 4-chunk window")
    # A full window is no reason to refuse a mapping: the pages it cannot
    # give are copies (read by FUSE_READ, written back), and every mapping
    # succeeds, as it does without a window.
    if w.rc != 0 or not lines(w.out, "daxmap ok "):
        problems.append(f"status {w.rc}, expected 0 and 'daxmap ok'")
    if machine == "pier":
        m = re.search(r"DAX: .* (\d+) pages mapped into the program, (\d+) copied", w.err)
        if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
            problems.append("the window neither gave pages nor fell back to copies: " +
                            (m.group(0) if m else "no DAX report"))
    written = w.rc == 0
    if open(os.path.join(root, "dax", "big"), "rb").read() != dax_content(1000, DAX_BIG):
        problems.append("big changed on the host")
    for k in range(DAX_FILES):
        got = open(os.path.join(root, "dax", f"m{k:03d}"), "rb").read()
        if got != dax_content(k, dax_size(k), written and k % 2 == 0):
            problems.append(f"m{k:03d} on the host is not what the program left")
    assert not problems, show(w, problems)
    assert_clean(w)


# --- e. too little RAM ---------------------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["malloc", "chunks", "brk"])
@pytest.mark.parametrize("machine", BOTH)
def test_program_needs_more_ram_than_the_vm(machine, how, tmp_path, runtmp):
    """64 MiB in a 32 MiB VM. One malloc that big is refused up front
    (ENOMEM, like Linux's overcommit heuristic); 8 MiB blocks and brk
    steps are granted and fail when touched: SIGKILL with a message."""
    root = make_root(tmp_path / "root")
    w = run_watched(runtmp, *vmm_args(machine), "--mem", "32M", "--timeout", "100",
                    "--root", root, "--", "/bin/faults", "mem", "64", how, timeout=110)
    if how == "malloc":
        assert w.rc == 3 and lines(w.out, "mem ENOMEM malloc 64"), show(w)
    else:
        assert w.rc == -signal.SIGKILL, show(w)  # pier dies of it too
        assert re.search(r"pier: program killed by SIGKILL: out of memory \(\d+ KiB of guest "
                         r"RAM", w.err), show(w)
        assert "--mem" in w.err, show(w)
        assert not lines(w.out, "mem touched"), show(w)
    assert "panic" not in w.err
    assert_clean(w)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("machine", BOTH)
def test_ram_too_small_to_boot(machine, tmp_path, runtmp):
    """Below 16M pier refuses before starting anything (usage error, 2);
    16M itself boots and runs a program."""
    root = make_root(tmp_path / "root")
    for mem in ("8M", "15M", "1"):
        w = run_watched(runtmp, *vmm_args(machine), "--mem", mem, "--root", root, "--",
                        "/bin/faults", "mem", "1", "chunks", timeout=30)
        assert w.rc == 2, show(w)
        assert f"--mem {mem}: expected a size of at least 16M" in w.err, show(w)
        assert w.seen == {}, f"started {w.comms()} anyway"
    w = run_watched(runtmp, *vmm_args(machine), "--mem", "16M", "--timeout", "100",
                    "--root", root, "--", "/bin/faults", "mem", "4", "chunks", timeout=110)
    assert w.rc == 0 and lines(w.out, "mem touched 4"), show(w)
    assert_clean(w)


# --- f. fork and system calls the guest does not have --------------------------

# What each libc calls for fork() and vfork(): musl the old calls, glibc clone.
FORK_CALLS = {"musl": ["57 (fork)", "58 (vfork)", "56 (clone)", "435 (clone3)"],
              "glibc": ["56 (clone)", "58 (vfork)", "435 (clone3)"]}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("machine", BOTH)
def test_every_way_to_fork_works(machine, libc, tmp_path, runtmp):
    """Issue 18: fork, vfork, clone and clone3 in their fork forms and
    posix_spawn each start a child whose exit status the parent gets; the
    kernel log names none of those calls as missing."""
    root = make_root(tmp_path / "root", libc)
    log = tmp_path / "kernel.log"
    w = run_watched(runtmp, *vmm_args(machine), "--timeout", "100", "--root", root,
                    "--log", str(log), "--", "/bin/faults", "fork", timeout=110)
    problems = [] if w.rc == 0 else [f"status {w.rc}, expected 0"]
    for op in ("fork", "vfork", "clone", "clone3", "posix_spawn"):
        if f"fork {op} ok" not in w.out:
            problems.append(f"{op}: the child's status did not come back")
    for call in FORK_CALLS[libc]:
        if f"system call {call} not implemented" in log.read_text():
            problems.append(f"system call {call} still named as missing")
    assert not problems, show(w, problems)
    assert_clean(w)


def missing_warnings(log, err, calls):
    """What is wrong with the kernel's warnings about missing calls: each
    in the log, and none on pier's stderr (the program's own)."""
    problems = []
    for call in calls:
        line = f"system call {call} not implemented: ENOSYS"
        if line not in log:
            problems.append(f"system call {call} not named in the kernel log")
        if line in err:
            problems.append(f"system call {call} named on stderr")
    return problems


@pytest.mark.timeout(120)
@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("machine", BOTH)
def test_unknown_syscalls_fail_with_enosys(machine, libc, tmp_path, runtmp):
    root = make_root(tmp_path / "root", libc)
    w = run_watched(runtmp, *vmm_args(machine), "--timeout", "100", "--root", root, "--",
                    "/bin/faults", "nosys", timeout=110)
    problems = [] if w.rc == 0 else [f"status {w.rc}, expected 0"]
    for op in ("io_uring_setup", "1000", "-5"):
        if f"nosys {op} ENOSYS" not in w.out:
            problems.append(f"{op}: not ENOSYS")
    if "nosys alive" not in w.out:
        problems.append("the program did not go on after them")
    # Without --log the warnings are only counted, once, at the end.
    if not re.fullmatch(r"pier: the kernel logged 3 warnings while the program ran "
                        r"\(-o verbose or --log FILE shows them\)\n", w.err):
        problems.append(f"stderr is not the one-line count: {w.err!r}")
    w2 = run_watched(runtmp, *vmm_args(machine), "--timeout", "100", "--root", root,
                     "-o", "verbose", "--", "/bin/faults", "nosys", timeout=110)
    problems += missing_warnings(w2.err, "", ("425 (io_uring_setup)", "1000 (unknown)",
                                              "-5 (unknown)"))
    assert not problems, show(w, problems)
    assert_clean(w)


# --- g. many VMs at once, one shared root --------------------------------------

# 50 under QEMU (TCG, 2 host CPUs): ~20 s here. Pier's VMM runs inside the
# nested machine (one emulated CPU) where each boot costs seconds: fewer.
MANY = {"microvm": 50, "pier": int(os.environ.get("PIER_MANY", 50))}


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def unix_sockets():
    """Paths (or "" for unnamed) of every unix socket, from /proc/net/unix."""
    out = []
    with open("/proc/net/unix") as f:
        next(f)
        for ln in f:
            parts = ln.split()
            out.append(parts[7] if len(parts) > 7 else "")
    return out


def descendants_of(pids, table):
    """{(pid, starttime): comm} below any of pids, from one proc_table()."""
    children = {}
    for p, (ppid, start, comm, _) in table.items():
        children.setdefault(ppid, []).append((p, start, comm))
    found, todo = {}, list(pids)
    while todo:
        for p, start, comm in children.get(todo.pop(), ()):
            if (p, start) not in found:
                found[(p, start)] = comm
                todo.append(p)
    return found


@pytest.mark.timeout(400)
@pytest.mark.parametrize("machine", BOTH)
def test_many_vms_at_once(machine, tmp_path, runtmp):
    n = MANY[machine]
    root = make_root(tmp_path / "root", dirs=["out"])
    rng = random.Random(7)
    data = bytes(rng.getrandbits(8) for _ in range(300 * 1024))
    with open(os.path.join(root, "input"), "wb") as f:
        f.write(data)
    want = f"{fnv1a64(data):016x}"
    logs = tmp_path / "logs"
    logs.mkdir()

    shm_before = set(os.listdir("/dev/shm"))
    sock_before = unix_sockets()
    # pier's own names only: other programs on this machine use /tmp too.
    tmp_before = {x for x in os.listdir(tempfile.gettempdir()) if x.startswith("pier-qemu")}
    fds_before = sorted(os.listdir("/proc/self/fd"))

    procs, seen, files = [], {}, []
    t0 = time.monotonic()
    with busy_cpus():
        try:
            for i in range(n):
                out = open(logs / f"{i}.out", "w+")
                err = open(logs / f"{i}.err", "w+")
                files += [out, err]
                procs.append(subprocess.Popen(
                    [PIER, "run", *vmm_args(machine), "--mem", "64M", "--timeout", "300",
                     "--root", root, "--", "/bin/faults", "many", "/input", "/out", str(i)],
                    stdout=out, stderr=err, env=dict(os.environ, TMPDIR=runtmp)))
            while any(p.poll() is None for p in procs):
                seen.update(descendants_of([p.pid for p in procs], proc_table()))
                if time.monotonic() - t0 > 330:
                    pytest.fail(f"{sum(p.poll() is None for p in procs)} of {n} still running "
                                "after 330 s")
                time.sleep(0.1)
            elapsed = time.monotonic() - t0
            problems = []
            for i, p in enumerate(procs):
                files[2 * i].seek(0)
                files[2 * i + 1].seek(0)
                out, err = files[2 * i].read(), files[2 * i + 1].read()
                if p.returncode != 0 or f"many {i} {want}" not in out:
                    problems.append(f"VM {i}: status {p.returncode}\n  out: {out[-500:]!r}\n"
                                    f"  err: {err[-500:]!r}")
                result = os.path.join(root, "out", f"out-{i}")
                if not os.path.exists(result) or open(result).read() != f"{i} {want}\n":
                    problems.append(f"VM {i}: out/out-{i} missing or wrong")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for f in files:
                f.close()
    print(f"{n} VMs ({machine}) in {elapsed:.1f} s")

    # Leaks: processes, descriptors, temporary files, sockets.
    left = wait_gone(seen)
    if left:
        problems.append(f"processes left behind: {left}")
    mine = subprocess.run(["pgrep", "-a", "-f", f"{runtmp}|{root}"], capture_output=True,
                          text=True).stdout.strip()
    if mine:
        problems.append(f"processes still naming the run: {mine}")
    if sorted(os.listdir("/proc/self/fd")) != fds_before:
        problems.append(f"descriptors of the test: {sorted(os.listdir('/proc/self/fd'))}, "
                        f"were {fds_before}")
    if os.listdir(runtmp):
        problems.append(f"left in TMPDIR: {os.listdir(runtmp)[:10]}")
    tmp_after = {x for x in os.listdir(tempfile.gettempdir()) if x.startswith("pier-qemu")}
    if tmp_after - tmp_before:
        problems.append(f"new in {tempfile.gettempdir()}: {sorted(tmp_after - tmp_before)}")
    if set(os.listdir("/dev/shm")) - shm_before:
        problems.append(f"new in /dev/shm: {sorted(set(os.listdir('/dev/shm')) - shm_before)}")
    locks = glob.glob("/var/run/virtiofsd/" + runtmp.replace("/", ".") + ".*")
    if locks:
        problems.append(f"virtiofsd lock files left: {locks[:5]}")
    sock_after = unix_sockets()
    named = [s for s in sock_after if runtmp in s]
    if named:
        problems.append(f"sockets left in the run's TMPDIR: {named[:5]}")
    # Others on this machine open sockets too: count only what would be a
    # leak per VM.
    if len(sock_after) - len(sock_before) >= n // 2:
        problems.append(f"unix sockets: {len(sock_before)} before, {len(sock_after)} after")
    if sorted(os.listdir(os.path.join(root, "out"))) != sorted(f"out-{i}" for i in range(n)):
        problems.append("out/ holds other files than one per VM")
    assert not problems, "\n".join(problems[:30])


# --- h. device death -----------------------------------------------------------

# The program does file reads, writes and stats in a loop and says "ready";
# then the device dies. Guest option virtio_timeout=5 bounds each wait.
DEATH_TIMEOUT = 120  # seconds of wall time, under TCG


def death_problems(w, dax_window):
    problems = []
    if w.rc != EXIT_VMERROR:
        problems.append(f"status {w.rc}, expected {EXIT_VMERROR}")
    fail = re.search(r"^fail (\S+) (\S+)", w.out, re.M)
    if not fail:
        problems.append("the program saw no failure")
    elif fail[2] != "EIO":
        problems.append(f"first failure {fail[1]}: {fail[2]}, expected EIO")
    if fail and w.out.find("ready") > fail.start():
        problems.append("the device died before the program was ready")
    for op, result in re.findall(r"^after (\S+) (\S+)", w.out, re.M):
        # Through pages of a DAX window already mapped, a descriptor's read
        # and write need no request: they may still succeed.
        if result != "EIO" and not (dax_window and op in ("pread-held", "pwrite-held")
                                    and result == "OK"):
            problems.append(f"afterwards {op}: {result}, expected EIO")
    if "busy: " not in w.out:
        problems.append("the program did not finish")
    if not re.search(r"virtio-fs.*(died|stopped)", w.err):
        problems.append("pier did not say the virtio-fs device died or stopped")
    if "panic" in w.err:
        problems.append("guest kernel panic")
    if w.elapsed > DEATH_TIMEOUT:
        problems.append(f"took {w.elapsed:.0f} s")
    return problems


@pytest.mark.timeout(DEATH_TIMEOUT + 60)
@pytest.mark.parametrize("machine", targets("pier"))
def test_device_death_pier_thread_exits(machine, tmp_path, runtmp):
    """PIER_FAULT=fs-thread-exit:N: pier's device thread stops at its Nth
    request, leaving it unanswered (N well after "ready")."""
    root = make_root(tmp_path / "root", dirs=["data"])
    w = stream_pier(runtmp, [*vmm_args(machine), "--timeout", "150", "-o", "virtio_timeout=5",
                             "--root", root, "--", "/bin/faults", "busy", "/data"],
                    env={"PIER_FAULT": "fs-thread-exit:1500"}, timeout=DEATH_TIMEOUT + 30)
    problems = death_problems(w, dax_window=True)
    print(f"{w.elapsed:.1f} s\n" + "\n".join(lines(w.out, "fail ") + lines(w.out, "after ")) +
          "\n" + w.err)
    assert not problems, show(w, problems)
    assert_nothing_left(w)


@pytest.mark.timeout(DEATH_TIMEOUT + 60)
@pytest.mark.parametrize("which", ["root", "share"])
@pytest.mark.parametrize("machine", targets("microvm"))
def test_device_death_virtiofsd_killed(machine, which, tmp_path, runtmp):
    """The virtiofsd serving the program's directory (the root's, or a
    --share's) SIGKILLed after "ready"."""
    root = make_root(tmp_path / "root", dirs=["data"])
    args, sock = [], "vfs0.sock"
    if which == "share":
        share = tmp_path / "share"
        share.mkdir()
        args, sock = ["--share", f"data={share}", "-o", "mount=data:/data"], "vfs1.sock"

    def on_line(line, s):
        if line != "ready" or "killed" in s.marks:
            return
        # pier's own child for that socket (virtiofsd forks its server below).
        table = proc_table()
        for pid, (ppid, _, comm, _) in table.items():
            if comm.startswith("virtiofsd") and table.get(ppid, (0, 0, ""))[2] == "pier":
                try:
                    cmd = open(f"/proc/{pid}/cmdline").read()
                except OSError:
                    continue
                if f"{runtmp}/" in cmd and cmd.split("\0")[1].endswith(sock):
                    os.kill(pid, signal.SIGKILL)
                    s.marks["killed"] = pid

    w = stream_pier(runtmp, [*vmm_args(machine), "--timeout", "150", "-o", "virtio_timeout=5",
                             "--root", root, *args, "--", "/bin/faults", "busy", "/data"],
                    on_line, timeout=DEATH_TIMEOUT + 30)
    problems = death_problems(w, dax_window=False)
    print(f"{w.elapsed:.1f} s\n" + "\n".join(lines(w.out, "fail ") + lines(w.out, "after ")) +
          "\n" + w.err)
    if "killed" not in w.marks:
        problems.append("no virtiofsd found to kill")
    assert not problems, show(w, problems)
    assert_nothing_left(w)
