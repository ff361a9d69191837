"""Issue 8: writing through virtio-fs, judged from the host.

- writes.c (tests/progs/, musl and glibc) creates, writes, appends,
  truncates, punches holes, renames, links, maps and syncs files in a
  scratch directory of the guest's root, checking each result from inside;
  after the VM exits the directory must be what the same program leaves
  natively: names, kinds, modes, owners, link counts, sizes, contents,
  link targets, data segments (holes), and the times it set. On microvm,
  and on pier's VMM with the DAX window and without.
- Busybox applets and a bash script that write (cp -r, mv, rm -r, tar -x,
  sort -o, sed -i; redirections), each step run in the guest and chrooted
  on the host in a copy of the same root: the same output and status per
  step, the same trees at the end. The guest has no fork or exec, so a
  shell cannot run applets: each step is one `pier run` of one applet,
  and the guest's writes must survive from one boot to the next.
- --ro (the root) and --ro=TAG (a --share): writes.c with
  PIER_EXPECT_EROFS=1 on its own final state, which must not change.
- A crash: fsync_crash.c syncs records and says so, the test SIGKILLs the
  VMM (pier itself; QEMU, or QEMU and pier together), and every record
  reported synced must be on the host, intact; no process is left.
- Host-only checks of the checkers themselves (no VM): native runs agree,
  the EROFS mode holds on a read-only bind mount, the crash checker finds
  a damaged record."""
import glob
import io
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zlib

import pytest

from conftest import BUILD, PIER, PRIMARY, ROOT, by_target, run_pier, targets, vmm_args
from fstree import compare_trees, fs_type, snapshot
from hostcmp import FIXED_TIME, ReadOnlyView, host_comparison_root, run_guest, run_host
from watch import descendants, runtmp, still_there  # noqa: F401  (runtmp: a fixture)

sys.path.insert(0, os.path.join(ROOT, "tests", "progs"))
from progspec import HOST_CASES, LIBCS, WRITES_EROFS  # noqa: E402

WRITES = next(c for c in HOST_CASES if c.id == "writes")
# Every mtime older than this was set on purpose (utimensat, tar, cp -p)
# and must match; newer ones are "now" on either side. An hour of slack
# for the guest's clock.
SINCE = time.time() - 3600


def prog(libc, name):
    exe = os.path.join(BUILD, "progs", libc, name)
    if not os.path.exists(exe):
        pytest.fail(f"{exe} missing: run make progs")
    return exe


def make_root(path, libc, name):
    """ROOT/bin/NAME (that libc's build); ROOT readable by all."""
    os.makedirs(os.path.join(path, "bin"))
    os.chmod(path, 0o755)
    shutil.copy2(prog(libc, name), os.path.join(path, "bin", name))
    return str(path)


def scratch_dir(path):
    os.makedirs(path)
    os.chmod(path, 0o755)
    return str(path)


def run_native(libc, name, args, env=None):
    """The program run natively, as the guest would run it (umask 022)."""
    p = subprocess.run([prog(libc, name), *args], capture_output=True, text=True,
                       errors="replace", timeout=120, env={"PIER_TEST": "yes", **(env or {})},
                       preexec_fn=lambda: os.umask(0o022))
    return p.returncode, p.stdout, p.stderr


def info_lines(out, seek=True):
    """writes.c's "info" lines: what the file system chose."""
    lines = [ln.rstrip("\r") for ln in out.splitlines()]
    return [ln for ln in lines if ln.startswith("info ") and (seek or not ln.startswith("info seek"))]


SEEK_LINE = re.compile(r"info seek (\S+): data 0 hole (\d+) data (\d+)$")


def seek_covers(got, want):
    """What the guest promises for SEEK_DATA/SEEK_HOLE where its DAX window
    has filled holes (tmpfs allocates a hole's page when the host maps it):
    the same files, and its data covers native's: its first hole starts no
    earlier, and data after it starts no later. Problems, as a list."""
    g = {m.group(1): (int(m.group(2)), int(m.group(3)))
         for m in map(SEEK_LINE.match, got) if m}
    w = {m.group(1): (int(m.group(2)), int(m.group(3)))
         for m in map(SEEK_LINE.match, want) if m}
    if g.keys() != w.keys() or len(g) != sum(ln.startswith("info seek") for ln in want):
        return [f"seek lines {got}, native {want}"]
    return [f"{f}: hole {g[f][0]} data {g[f][1]} does not cover native's hole {w[f][0]} "
            f"data {w[f][1]}" for f in w
            if not (g[f][0] >= w[f][0] and (g[f][1] <= w[f][1] or g[f][0] == g[f][1]))]


def report(problems, out="", err=""):
    return "\n".join(problems[:60]) + \
        "\n--- console (last 4000 chars) ---\n" + out[-4000:] + \
        "\n--- pier stderr ---\n" + err[-2000:]


# --- a. writes.c, compared with a native run --------------------------------

WRITE_PARAMS = [pytest.param(m, libc, [], id=f"{libc}-{m}")
                for m in targets("microvm") for libc in LIBCS] + \
               [pytest.param(m, libc, dax, id=f"{libc}-{m}-dax-{name}")
                for m in targets("pier") for libc in LIBCS
                for name, dax in (("on", []), ("off", ["--dax", "0"]))]


@pytest.mark.parametrize("machine,libc,dax", WRITE_PARAMS)
def test_writes_like_native(machine, libc, dax, tmp_path):
    native = scratch_dir(tmp_path / "native" / "scratch")
    rc, nout, nerr = run_native(libc, "writes", [native])
    problems = WRITES.check(rc, nout, nerr, guest=False)
    assert not problems, report(["native run: " + p for p in problems], nout, nerr)

    root = make_root(tmp_path / "root", libc, "writes")
    scratch = scratch_dir(tmp_path / "root" / "scratch")
    window = machine == "pier" and dax == []
    verbose = ["-o", "verbose"] if window else []
    r = run_pier(*vmm_args(machine), *dax, *verbose, "--mem", "256M", "--timeout", "90",
                 "--root", root, "--env", "PIER_TEST=yes", "--", "/bin/writes", "/scratch",
                 timeout=240)
    problems = WRITES.check(r.rc, r.out, r.err, guest=True)
    assert not problems, report(problems, r.out, r.err)
    if window:
        # The in-place writes through O_RDWR descriptors went into the window.
        m = re.search(r"DAX: (\d+) writes \((\d+) KiB\) into the window", r.out + r.err)
        assert m and int(m.group(1)) > 0, report(["no writes through the DAX window"],
                                                 r.out, r.err)

    # Under pier's DAX window on tmpfs (the nested pass), mapping a file
    # populates its holes: the guest may have more data, never less.
    filled = machine == "pier" and dax == [] and fs_type(root) == "tmpfs"
    sparse = "covers" if filled else "exact"
    assert info_lines(r.out, seek=not filled) == info_lines(nout, seek=not filled), \
        report(["info lines differ from the native run's:", *info_lines(nout)], r.out, r.err)
    if filled:
        seeks = [ln for ln in info_lines(r.out) if ln.startswith("info seek")]
        problems = seek_covers(seeks, [ln for ln in info_lines(nout) if ln.startswith("info seek")])
        assert not problems, report(problems, r.out, r.err)
    problems = compare_trees(snapshot(scratch), snapshot(native), since=SINCE, sparse=sparse)
    assert not problems, report(["the guest's tree differs from the native run's:", *problems],
                                r.out, r.err)


# --- b. busybox and bash workflows, compared with the host -------------------

BB, BASH = "/bin/busybox", "/bin/bash"


def clone(root, src, dst, owner=None):
    """cp -a inside root (times, modes, owners, links kept); owner: chown -R."""
    subprocess.run(["cp", "-a", root + src, root + dst], check=True)
    if owner is not None:
        subprocess.run(["chown", "-hR", f"{owner}:{owner}", root + dst], check=True)


def w_dir(root, *rel):
    for r in rel:
        os.makedirs(root + r, exist_ok=True)


def archive(path, owner):
    """A tar made on the host: dirs, files (one read-only), a symbolic link,
    a hard link, fixed times, the given owner."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        def add(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link=""):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime, ti.linkname = kind, mode, FIXED_TIME, link
            ti.uid = ti.gid = owner
            ti.uname = ti.gname = "root" if owner == 0 else "alice"
            if kind == tarfile.REGTYPE:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        add("x/", tarfile.DIRTYPE, mode=0o755)
        add("x/deep/", tarfile.DIRTYPE, mode=0o750)
        add("x/a.txt", data=b"alpha\n" * 100)
        add("x/deep/b.bin", data=bytes(range(256)) * 300)  # past a page
        add("x/ro.txt", data=b"read only\n", mode=0o444)
        add("x/link", tarfile.SYMTYPE, link="a.txt")
        add("x/hard", tarfile.LNKTYPE, link="x/a.txt")
        add("x/empty")
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    os.utime(path, (FIXED_TIME, FIXED_TIME))


def setup_cp(root):
    w_dir(root, "/w")
    with open(root + "/w/old.txt", "w") as f:
        f.write("a longer file than fruits.txt, to be overwritten by cp\n" * 4)


def setup_mv(root):
    w_dir(root, "/w")
    clone(root, "/data", "/w/m", owner=0)


def setup_rm(root):
    w_dir(root, "/w")
    clone(root, "/data", "/w/r", owner=0)


def setup_tar(root):
    w_dir(root, "/w", "/srv")
    archive(root + "/srv/a.tar", owner=0)


def setup_text(root):
    w_dir(root, "/w/s")
    for n in ("fruits.txt", "table.csv"):
        clone(root, "/data/" + n, "/w/s/" + n, owner=0)


def setup_owners(root):
    w_dir(root, "/w", "/srv")
    clone(root, "/data", "/w/o")  # fruits.txt, notes/ and link are alice's
    w_dir(root, "/w/o/copy")
    archive(root + "/srv/owned.tar", owner=1000)


def setup_bash(root):
    w_dir(root, "/w/b")


BASH_SCRIPT = (
    "for i in 1 2 3; do echo line $i >> /w/b/log; done; "
    "echo first > /w/b/out; echo second >> /w/b/out; "
    "printf '%s\\n' a b c > /w/b/abc; "
    "exec 3> /w/b/fd3; echo via fd 3 >&3; echo more >&3; exec 3>&-; "
    "exec 4<> /w/b/rw; echo hello there >&4; exec 4>&-; "
    "exec 4<> /w/b/rw; echo HE >&4; exec 4>&-; "
    ": > /w/b/empty; echo replaced > /w/b/abc; "
    "set -o noclobber; echo x > /w/b/out; echo status $?; echo y >| /w/b/out; "
    "set +o noclobber; "
    "while read -r l; do echo got $l; done < /w/b/log; "
    "for i in 1 2; do echo $i >> /w/b/out; done; "
    "echo x > /w/b/nope/file; echo status $?")


def F(id, setup, *steps):
    return pytest.param(setup, list(steps), id=id)


WORKFLOWS = [
    F("cp-r", setup_cp,
      [BB, "cp", "-r", "/data", "/w/copy"],
      [BB, "cp", "/data/fruits.txt", "/w/old.txt"],  # shorter over longer: O_TRUNC
      [BB, "cp", "-r", "/data/notes", "/data/blob.bin", "/w/copy"]),  # over existing
    F("mv", setup_mv,
      [BB, "mv", "/w/m/fruits.txt", "/w/m/renamed.txt"],
      [BB, "mv", "/w/m/notes", "/w/m/sorted.txt", "/w/m/dir with space"],
      [BB, "mv", "/w/m/blob.bin", "/w/m/empty"],  # over an existing file
      [BB, "mv", "/w/m/table.csv", "/w/m/nope/x"]),  # fails
    F("rm-r", setup_rm,
      [BB, "rm", "-r", "/w/r/notes", "/w/r/link", "/w/nope", "/w/r/dir with space"],
      [BB, "rm", "-r", "/w/r"]),
    F("tar-x", setup_tar,
      [BB, "tar", "-xf", "/srv/a.tar", "-C", "/w"],
      [BB, "tar", "-xvf", "/srv/a.tar", "-C", "/w"]),  # again, over what is there
    F("sort-o", setup_text,
      [BB, "sort", "-o", "/w/s/fruits.txt", "/w/s/fruits.txt"],  # in place
      [BB, "sort", "-u", "-r", "-o", "/w/s/new.txt", "/data/fruits.txt", "/data/sorted.txt"]),
    F("sed-i", setup_text,
      [BB, "sed", "-i", "s/apple/APPLE/g", "/w/s/fruits.txt", "/w/s/table.csv"],
      [BB, "sed", "-i", "-e", "1d", "-e", "s/kiwi/KIWI/", "/w/s/fruits.txt"]),
    F("bash-redirect", setup_bash, [BASH, "-c", BASH_SCRIPT]),
    # Keeping owners needs chown/fchown/lchown, which issue 8 does not list:
    # sed -i, cp -a and tar -x as root give files back to their owner.
    F("owners", setup_owners,
      [BB, "sed", "-i", "s/pear/PEAR/", "/w/o/fruits.txt"],
      [BB, "cp", "-a", "/w/o/notes", "/w/o/link", "/w/o/copy"],
      [BB, "tar", "-xf", "/srv/owned.tar", "-C", "/w/o"]),
]


# One machine per VMM; pier's pass takes every other workflow.
@pytest.mark.parametrize("machine,setup,steps",
                         [p for p in by_target(WORKFLOWS, pier_every=2, name="write workflows") if p.values[0] in PRIMARY])
def test_workflow_like_host(machine, setup, steps, tmp_path):
    guest = host_comparison_root(str(tmp_path / "guest"))
    host = host_comparison_root(str(tmp_path / "host"))
    setup(guest)
    setup(host)
    problems = []
    err = b""
    for argv in steps:
        g = run_guest(machine, guest, argv, ro=False)
        h = run_host(host, argv)
        err += g.err
        if (g.rc, g.out) != (h.rc, h.out):
            problems.append(f"{argv}: guest status {g.rc}, host {h.rc}\n"
                            f"  guest: {g.out[-1500:]!r}\n  host:  {h.out[-1500:]!r}")
    problems += compare_trees(snapshot(guest), snapshot(host), since=SINCE)
    assert not problems, "\n".join(problems[:60]) + \
        "\n--- pier stderr ---\n" + err.decode(errors="replace")[-3000:]


# --- c. read-only: --ro and --ro=TAG -----------------------------------------

RO_PARAMS = [pytest.param(m, libc, how, id=f"{libc}-{m}-{how}")
             for m, libc, how in (("microvm", "musl", "root"), ("microvm", "glibc", "root"),
                                  ("microvm", "musl", "share"), ("pier", "musl", "root"),
                                  ("pier", "glibc", "share"))
             if m in targets("microvm", "pier")]


@pytest.mark.parametrize("machine,libc,how", RO_PARAMS)
def test_read_only_changes_nothing(machine, libc, how, tmp_path):
    root = make_root(tmp_path / "root", libc, "writes")
    if how == "root":
        tree = root
        scratch = scratch_dir(tmp_path / "root" / "scratch")
        args, guest_dir = ["--ro"], "/scratch"
    else:
        tree = scratch_dir(tmp_path / "share")
        scratch = scratch_dir(tmp_path / "share" / "scratch")
        os.makedirs(os.path.join(root, "data"))
        args = ["--share", f"data={tree}", "--ro=data", "-o", "mount=data:/data"]
        guest_dir = "/data/scratch"
    rc, out, err = run_native(libc, "writes", [scratch])
    assert not WRITES.check(rc, out, err, guest=False), out + err

    before = snapshot(tree)
    r = run_pier(*vmm_args(machine), "--mem", "256M", "--timeout", "60", "--root", root,
                 *args, "--env", "PIER_TEST=yes", "--env", "PIER_EXPECT_EROFS=1",
                 "--", "/bin/writes", guest_dir, timeout=180)
    problems = WRITES_EROFS.check(r.rc, r.out, r.err, guest=True)
    # Reading a sparse file through pier's DAX window on tmpfs fills its
    # holes with (zero) pages: allocation, not content, and not a write.
    filled = machine == "pier" and fs_type(tree) == "tmpfs"
    problems += compare_trees(snapshot(tree), before, times="all",
                              sparse="covers" if filled else "exact")
    assert not problems, report(problems, r.out, r.err)


# --- d. a crash: fsynced records survive a killed VMM -----------------------

SLOT, HDR = 8192, 31
KILL_AFTER = 12  # "synced" lines before the kill
HEADER = re.compile(rb"(REC|PAD) (\d{8}) (\d{8}) ([0-9a-f]{8})\n")


def payload_len(k):
    return (1 + k * 7919 % 9000, 1 + k * 104729 % (192 * 1024), 1 + k * 37 % (SLOT - HDR - 1))[k % 3]


def record(k, tag=b"REC", n=None):
    """Record k as fsync_crash.c writes it."""
    n = payload_len(k) if n is None else n
    p = bytes((k * 131 + i * 7 + (i >> 10)) & 0xFF for i in range(n))
    return b"%s %08d %08d %08x\n" % (tag, k, n, zlib.crc32(p)) + p


def crash_problems(d, synced):
    """What is wrong on the host with the records reported synced in d."""
    problems = []
    log = open(os.path.join(d, "log"), "rb").read() if os.path.exists(
        os.path.join(d, "log")) else b""
    # The log: records one after another, as far as they are whole.
    found, pos, ends = {}, 0, {}
    while True:
        m = HEADER.match(log, pos)
        if not m or pos + HDR + int(m[3]) > len(log):
            break
        k, n = int(m[2]), int(m[3])
        found[(m[1], k)] = log[pos:pos + HDR + n]
        ends[(m[1], k)] = pos + HDR + n
        pos += HDR + n
    last = max((ends[(b"REC", k)] for k in synced if (b"REC", k) in ends), default=0)
    for (tag, k), raw in found.items():  # all synced by a later fsync
        if ends[(tag, k)] <= last and raw != record(k, tag, int(raw[13:21])):
            problems.append(f"log: {tag.decode()} {k} damaged")
    for k in synced:
        want = record(k)
        if k % 3 == 0:
            got = found.get((b"REC", k))
            where = "in the log"
        elif k % 3 == 1:
            p = os.path.join(d, f"rec-{k:08d}")
            got = open(p, "rb").read() if os.path.exists(p) else None
            where = f"in {os.path.basename(p)}"
        else:
            p = os.path.join(d, "slots")
            got = open(p, "rb").read()[k // 3 * SLOT:][:len(want)] if os.path.exists(p) else None
            where = f"in slot {k // 3} of slots"
        if got is None:
            problems.append(f"record {k} (synced) missing {where}")
        elif got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            problems.append(f"record {k} (synced) {where}: {len(got)} bytes, expected "
                            f"{len(want)}, first difference at byte {at}")
    return problems


def read_until_synced(p, on_poll, deadline):
    """Reads p's stdout until KILL_AFTER "synced" lines (or its end);
    calls on_poll() every ~10 ms. Returns the text read."""
    buf = b""
    while len(re.findall(rb"^synced \d+\r?$", buf, re.M)) < KILL_AFTER:
        on_poll()
        if time.monotonic() > deadline:
            return buf.decode(errors="replace") + "\n[timed out]"
        ready, _, _ = select.select([p.stdout], [], [], 0.01)
        if ready:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace")


def synced_lines(text):
    return [int(m) for m in re.findall(r"^synced (\d+)\r?$", text, re.M)]


CRASH_PARAMS = [pytest.param(m, kill, dax, id=f"{m}-{name}")
                for m, kill, dax, name in (
                    ("microvm", "vmm", [], "kill-qemu"),
                    ("microvm", "group", [], "kill-qemu-and-pier"),
                    ("pier", "vmm", [], "kill-pier-dax-on"),
                    ("pier", "vmm", ["--dax", "0"], "kill-pier-dax-off"))
                if m in targets("microvm", "pier")]


@pytest.mark.parametrize("machine,kill,dax", CRASH_PARAMS)
def test_fsynced_records_survive_a_killed_vmm(machine, kill, dax, tmp_path, runtmp):
    root = make_root(tmp_path / "root", "musl", "fsync_crash")
    crash = scratch_dir(tmp_path / "root" / "crash")
    with open(tmp_path / "stderr", "w+b") as errf:
        p = subprocess.Popen([PIER, "run", *vmm_args(machine), *dax, "--mem", "256M",
                              "--timeout", "300", "--root", root,
                              "--", "/bin/fsync_crash", "/crash", "500"],
                             stdout=subprocess.PIPE, stderr=errf, start_new_session=True,
                             env=dict(os.environ, TMPDIR=runtmp))
        seen = {}
        try:
            out = read_until_synced(p, lambda: seen.update(descendants(p.pid)),
                                    time.monotonic() + 150)
            seen.update(descendants(p.pid))
            if machine != "pier" and kill == "vmm":
                qemu = [pid for (pid, _), comm in seen.items() if comm.startswith("qemu")]
                assert len(qemu) == 1, seen
                os.kill(qemu[0], signal.SIGKILL)
            else:
                os.killpg(p.pid, signal.SIGKILL)
            rest, _ = p.communicate(timeout=60)  # what was on its way still counts
            out += rest.decode(errors="replace")
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        errf.seek(0)
        err = errf.read().decode(errors="replace")

    synced = synced_lines(out)
    assert len(synced) >= KILL_AFTER and synced == list(range(len(synced))), \
        report(["not the synced lines expected"], out, err)
    problems = crash_problems(crash, synced)
    if machine != "pier" and kill == "vmm":
        # pier outlives QEMU: it says so, and cleans up as ever.
        if p.returncode != 126 or "qemu killed by signal 9" not in err:
            problems.append(f"pier: status {p.returncode}, expected 126 and a message")
    elif p.returncode != -signal.SIGKILL:
        problems.append(f"pier: status {p.returncode}, expected death by SIGKILL")
    # Nothing left running: virtiofsd goes with its parent (PR_SET_PDEATHSIG).
    deadline = time.monotonic() + 10
    while still_there(seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    if still_there(seen):
        problems.append(f"processes left behind: {still_there(seen)}")
    if machine != "pier" and kill == "vmm":
        if os.listdir(runtmp):
            problems.append(f"run directory left behind: {os.listdir(runtmp)}")
    locks = glob.glob("/var/run/virtiofsd/" + runtmp.replace("/", ".") + ".*")
    if kill == "vmm" and locks:
        problems.append(f"virtiofsd lock files left: {locks}")
    for f in locks:  # a killed pier could not remove them
        os.unlink(f)
    assert not problems, report(problems, out, err)


# --- host only: the checkers themselves --------------------------------------

def test_native_runs_leave_the_same_tree(tmp_path):
    """musl's and glibc's writes.c agree natively, and the tree comparison
    notices a byte, a mode, a hole, a time and a missing name."""
    trees = {}
    for libc in LIBCS:
        d = scratch_dir(tmp_path / libc)
        rc, out, err = run_native(libc, "writes", [d])
        assert not WRITES.check(rc, out, err, guest=False), out + err
        trees[libc] = d
    a, b = snapshot(trees["musl"]), snapshot(trees["glibc"])
    assert compare_trees(a, b, since=SINCE) == []
    d = trees["glibc"]
    with open(os.path.join(d, "basic.txt"), "r+b") as f:
        f.write(b"J")
    os.chmod(os.path.join(d, "mode.txt"), 0o755)
    with open(os.path.join(d, "sparse.bin"), "r+b") as f:  # same bytes, no hole
        f.seek(4 * 2**20)
        f.write(b"\0" * 4096)
    os.utime(os.path.join(d, "times.txt"), ns=(0, 1234567890_000000000))
    os.unlink(os.path.join(d, "sub", "moved.txt"))
    got = "\n".join(compare_trees(snapshot(d), a, since=SINCE))
    for what in ("basic.txt: sha256", "mode.txt: mode", "sparse.bin: data segments",
                 "times.txt: mtime_ns", "sub/moved.txt: only in the expected tree"):
        assert what in got, got
    assert "sparse.bin: data" not in "\n".join(
        compare_trees(snapshot(d), a, since=SINCE, sparse="covers"))


def test_erofs_mode_natively_on_a_read_only_mount(tmp_path):
    """What writes.c expects of a read-only file system is what Linux does."""
    d = scratch_dir(tmp_path / "tree")
    rc, out, err = run_native("musl", "writes", [d])
    assert not WRITES.check(rc, out, err, guest=False), out + err
    view = ReadOnlyView(d, str(tmp_path / "ro"))
    try:
        if view.why:
            pytest.skip(view.why)
        before = snapshot(d)
        for libc in LIBCS:
            rc, out, err = run_native(libc, "writes", [view.path], {"PIER_EXPECT_EROFS": "1"})
            problems = WRITES_EROFS.check(rc, out, err, guest=False)
            assert not problems, f"{libc}: {problems}\n{out}{err}"
        assert compare_trees(snapshot(d), before, times="all") == []
    finally:
        view.close()


def test_crash_checker_natively(tmp_path):
    """fsync_crash.c killed natively: its synced records pass the checker;
    a damaged or missing one does not."""
    d = scratch_dir(tmp_path / "crash")
    p = subprocess.Popen([prog("musl", "fsync_crash"), d, "500"], stdout=subprocess.PIPE)
    try:
        out = read_until_synced(p, lambda: None, time.monotonic() + 30)
        p.kill()
        rest, _ = p.communicate()
    finally:
        if p.poll() is None:
            p.kill()
    synced = synced_lines(out + rest.decode())
    assert len(synced) >= KILL_AFTER
    assert crash_problems(d, synced) == []
    with open(os.path.join(d, "log"), "r+b") as f:  # record 3's payload
        f.seek(len(record(0)) + sum(len(record(k, b"PAD", 1 + k * 53 % 3000))
                                    for k in range(3)) + HDR + 5)
        f.write(b"\xff")
    os.unlink(os.path.join(d, "rec-00000004"))
    with open(os.path.join(d, "slots"), "r+b") as f:
        f.truncate(SLOT + 10)
    got = "\n".join(crash_problems(d, synced))
    assert "record 3 (synced) in the log" in got and "record 4 (synced) missing" in got \
        and "record 5 (synced) in slot 1" in got, got
