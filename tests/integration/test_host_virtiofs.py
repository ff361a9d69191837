"""Issue 3, host side: `pier run --root/--share` starts one virtiofsd per
directory before QEMU, reports what cannot work before the VM starts, hands
QEMU the devices, and leaves nothing behind (run directory, sockets,
virtiofsd processes) on any exit path."""
import os
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import EXIT_PANIC, EXIT_TIMEOUT, EXIT_VMERROR, PIER, run_pier
from watch import (assert_clean, descendants, proc_table, run_watched, runtmp,  # noqa: F401
                   share, still_there)

MACHINES = ["microvm", "q35"]


def cmdline(out):
    m = re.search(r"^cmdline: (.*)$", out, re.M)
    assert m, out
    return m.group(1).split()


# --- refused before QEMU starts --------------------------------------------

def test_missing_root_dir_is_refused(tmp_path):
    missing = str(tmp_path / "nope")
    r = run_pier("--root", missing, "--")
    assert r.rc == EXIT_VMERROR, r.out + r.err
    assert f"pier: --root {missing}: No such file or directory" in r.err
    assert r.out == ""  # no VM, so no console


def test_root_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run_pier("--root", str(f), "--")
    assert r.rc == EXIT_VMERROR
    assert f"pier: --root {f}: Not a directory" in r.err


def test_share_arguments_are_checked(tmp_path, share):
    r = run_pier("--share", f"data={tmp_path}/nope", "--")
    assert r.rc == EXIT_VMERROR
    assert f"--share data={tmp_path}/nope: No such file or directory" in r.err
    for bad in ("data", f"={share}", f"a,b={share}", f"root={share}", f"{'x' * 37}={share}"):
        r = run_pier("--share", bad, "--")
        assert r.rc == 2, bad
        assert "--share" in r.err
    r = run_pier("--share", f"d={share}", "--share", f"d={share}", "--")
    assert r.rc == 2 and "unique" in r.err
    r = run_pier("--ro", "--")
    assert r.rc == 2 and "--ro needs --root" in r.err


def test_failing_virtiofsd_is_reported_and_no_vm_starts(share, runtmp):
    w = run_watched(runtmp, "--root", share, "--virtiofsd", "/bin/false", "--")
    assert w.rc == EXIT_VMERROR, w.err
    assert "virtiofsd /bin/false for " + share + " exited with status 1 before it was ready" \
        in w.err
    assert "qemu-system-x86" not in w.comms()
    assert_clean(w)


def test_missing_virtiofsd_from_environment_is_reported(share, runtmp):
    w = run_watched(runtmp, "--root", share, "--",
                    env={"PIER_VIRTIOFSD": "/no/such/virtiofsd"})
    assert w.rc == EXIT_VMERROR
    assert "pier: cannot run /no/such/virtiofsd: No such file or directory" in w.err
    assert "qemu-system-x86" not in w.comms()
    assert_clean(w)


def test_virtiofsd_that_never_listens_is_killed(share, tmp_path, runtmp):
    fake = tmp_path / "fake-virtiofsd"
    fake.write_text("#!/bin/sh\necho 'fake: not listening' >&2\nsleep 60\n")
    fake.chmod(0o755)
    t0 = time.monotonic()
    w = run_watched(runtmp, "--root", share, "--virtiofsd", str(fake), "--")
    assert w.rc == EXIT_VMERROR
    assert "did not listen on" in w.err and "within 5 s" in w.err
    assert "fake: not listening" in w.err  # its stderr is shown
    # It waited its 5 s (a lower bound only: a loaded machine may be slow
    # to run the rest, and the run's own limit bounds it from above).
    assert time.monotonic() - t0 >= 5
    assert "sleep" in w.comms()  # ... and it, with its child, is gone:
    assert_clean(w)


def test_overlong_tmpdir_is_refused(share, tmp_path):
    long = tmp_path / ("d" * 100)
    long.mkdir()
    r = run_watched(str(long), "--root", share, "--")
    assert r.rc == EXIT_VMERROR
    assert "too long" in r.err


# --- the VM gets the devices; everything goes afterwards --------------------

@pytest.mark.parametrize("machine", MACHINES)
def test_boots_with_root_and_cleans_up(machine, share, tmp_path, runtmp):
    log = str(tmp_path / "virtiofsd.log")
    w = run_watched(runtmp, "--machine", machine, "--root", share, "--virtiofsd-log", log,
                    "--")
    assert w.rc == 0, w.out + w.err
    assert "exiting with status 0" in w.out
    words = cmdline(w.out)
    assert "rootfs=virtiofs" in words
    if machine == "microvm":  # acpi=off: QEMU names the transport itself
        assert any(x.startswith("virtio_mmio.device=") for x in words), words
    text = open(log).read()
    # QEMU connected and set up the vhost-user device (-d log).
    assert "virtio_session_mount: Received vhost-user socket connection" in text
    assert re.search(r"\[ID: 0+1\] virtio_loop: Entry", text)  # sandbox child
    assert w.comms().count("virtiofsd") == 2  # launcher + sandboxed server
    assert "qemu-system-x86" in w.comms()
    assert_clean(w)


def test_shares_get_their_own_virtiofsd_and_tag(share, tmp_path, runtmp):
    data = tmp_path / "data"
    data.mkdir()
    log = str(tmp_path / "v.log")
    # An explicit rootfs= wins over the one --root adds; booting from tag
    # "data" only works if QEMU has that device.
    w = run_watched(runtmp, "--root", share, "--share", f"data={data}", "--virtiofsd-log", log,
                    "-o", "rootfs=virtiofs:data", "--")
    assert w.rc == 0, w.out + w.err
    words = cmdline(w.out)
    assert [x for x in words if x.startswith("rootfs=")] == ["rootfs=virtiofs:data"]
    for f in (log, log + ".data"):
        assert "Received vhost-user socket connection" in open(f).read(), f
    assert w.comms().count("virtiofsd") == 4
    assert_clean(w)


def test_initrd_adds_rootfs_ramfs(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "init.txt").write_text("from the initrd\n")
    cpio = tmp_path / "initrd.cpio"
    with open(cpio, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=b"init.txt\n",
                       stdout=f, cwd=tree, check=True)
    r = run_pier("--initrd", str(cpio), "--")
    assert r.rc == 0, r.out + r.err  # the guest panics when it finds no initrd
    assert "rootfs=ramfs" in cmdline(r.out)
    r = run_pier("--initrd", str(tmp_path / "nope"), "--")
    assert r.rc == EXIT_VMERROR and "--initrd" in r.err


def test_read_only_root(tmp_path, runtmp):
    """--ro: writes through virtiofsd fail, seen from inside its sandbox
    (a static busybox in the shared directories runs there); the writable
    share next to it is the control."""
    ro, rw = tmp_path / "ro", tmp_path / "rw"
    for d in (ro, rw):
        d.mkdir()
        shutil.copy("/bin/busybox", d / "sh")
    p = subprocess.Popen([PIER, "run", "--root", str(ro), "--ro", "--share", f"rw={rw}",
                          "-o", "crash=hang", "--"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env=dict(os.environ, TMPDIR=runtmp))
    try:
        seen, servers = {}, []
        deadline = time.monotonic() + 90  # generous: a loaded machine starts slowly
        while len(servers) < 2 and time.monotonic() < deadline:
            seen.update(descendants(p.pid))
            table = proc_table()
            # The serving virtiofsd is the child of the one pier started.
            parent = {pid: table.get(row[0], (0, 0, ""))[2] for pid, row in table.items()}
            servers = [pid for (pid, _), comm in seen.items()
                       if comm == "virtiofsd" and parent.get(pid) == "virtiofsd"]
            time.sleep(0.05)
        assert len(servers) == 2, seen
        results = {}
        for pid in servers:
            r = subprocess.run(["nsenter", "-t", str(pid), "-m", "/sh", "-c",
                                "touch /probe && echo wrote"], capture_output=True, text=True)
            results[pid] = r.stdout + r.stderr
        assert sorted("wrote" in x for x in results.values()) == [False, True], results
        assert any("Read-only file system" in x for x in results.values()), results
        assert not (ro / "probe").exists()
        assert (rw / "probe").exists()
        with open("/proc/self/mountinfo") as f:
            assert runtmp not in f.read()  # the read-only view is not the host's
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
    assert p.returncode == 128 + signal.SIGTERM, p.stderr.read()
    assert not still_there(seen)
    assert os.listdir(runtmp) == []


@pytest.mark.parametrize("machine", MACHINES)
def test_clean_after_guest_panic(machine, share, runtmp):
    w = run_watched(runtmp, "--machine", machine, "--root", share, "-o", "crash=pf", "--")
    assert w.rc == EXIT_PANIC, w.out + w.err
    assert "virtiofsd" in w.comms() and "qemu-system-x86" in w.comms()
    assert_clean(w)


def test_clean_after_timeout(share, runtmp):
    w = run_watched(runtmp, "--root", share, "--share", f"two={share}", "--timeout", "2",
                    "-o", "crash=hang", "--")
    assert w.rc == EXIT_TIMEOUT, w.out + w.err
    assert w.comms().count("virtiofsd") == 4  # both connected: QEMU was up
    assert_clean(w)


def test_clean_after_sigint(share, runtmp):
    w = run_watched(runtmp, "--machine", "q35", "--root", share, "-o", "crash=hang", "--",
                    signal_after=2)
    assert w.rc == 128 + signal.SIGINT, w.out + w.err
    assert "interrupted" in w.err
    # The guest hangs forever: only the signal can have ended the run
    # (and run_watched's own limit bounds how long that may take).
    assert w.comms().count("virtiofsd") == 2 and "qemu-system-x86" in w.comms()
    assert_clean(w)


def test_virtiofsd_leaving_after_the_program_is_no_failure(share, tmp_path, runtmp):
    """QEMU's exit closes virtiofsd's socket and virtiofsd leaves, maybe
    before pier sees QEMU gone (a loaded machine, a slow QEMU teardown):
    that is no device dying under the program. A QEMU that lingers a
    second after its real exit makes the order certain."""
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    qemu = shutil.which("qemu-system-x86_64")
    lingering = wrappers / "qemu-system-x86_64"
    lingering.write_text(f'#!/bin/sh\n"{qemu}" "$@"\nrc=$?\nsleep 1\nexit $rc\n')
    lingering.chmod(0o755)
    w = run_watched(runtmp, "--root", share, "--",
                    env={"PATH": f"{wrappers}:{os.environ['PATH']}"})
    assert w.rc == 0, w.out + w.err
    assert "died" not in w.err, w.err
    assert_clean(w)


def test_clean_when_qemu_cannot_start(share, runtmp, tmp_path):
    log = tmp_path / "virtiofsd.log"
    w = run_watched(runtmp, "--vmm", "qemu", "--virtiofsd-log", str(log), "--root", share, "--",
                    env={"PATH": "/nonexistent"})
    assert w.rc == EXIT_VMERROR
    assert "cannot run qemu-system-x86_64" in w.err
    # virtiofsd was up (its log says it listened: it may live only a few
    # ms, less than the watcher's 10 ms between looks), and went with the
    # run: nothing of it is left.
    assert "Waiting for vhost-user socket connection" in log.read_text()
    assert_clean(w)


def test_nothing_left_after_sigkill(share, runtmp):
    """pier killed outright while its program runs: QEMU and virtiofsd end
    with it (parent-death signals) and the janitor removes the run
    directory and virtiofsd's pid file. Nothing to clean up is left."""
    os.makedirs(os.path.join(share, "bin"))
    shutil.copy("/bin/busybox", os.path.join(share, "bin", "busybox"))
    p = subprocess.Popen([PIER, "run", "--vmm", "qemu", "--root", share, "--",
                          "/bin/busybox", "cat"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env=dict(os.environ, TMPDIR=runtmp))
    seen = {}
    try:
        # The program runs once it echoes what it reads.
        p.stdin.write(b"ping\n")
        p.stdin.flush()
        got = b""
        deadline = time.monotonic() + 60
        while b"ping\n" not in got:
            assert time.monotonic() < deadline, got
            ready, _, _ = select.select([p.stdout], [], [], 0.1)
            if ready:
                got += os.read(p.stdout.fileno(), 100)
        seen = descendants(p.pid)
        run_dirs = os.listdir(runtmp)
        assert len(run_dirs) == 1, run_dirs
        pid_files = [f for f in os.listdir("/var/run/virtiofsd")
                     if run_dirs[0] in f] if os.path.isdir("/var/run/virtiofsd") else []
        p.kill()
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert {"qemu-system-x86", "virtiofsd"} <= set(seen.values()), seen
    deadline = time.monotonic() + 15
    while (still_there(seen) or os.listdir(runtmp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not still_there(seen), still_there(seen)
    assert os.listdir(runtmp) == [], "run directory left behind"
    for f in pid_files:
        assert not os.path.exists(os.path.join("/var/run/virtiofsd", f)), f
