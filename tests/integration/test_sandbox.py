"""The sandboxes around a guest, seen from outside while it runs.

pier's VMM under its system-call filter (host/vmm/seccomp.c): every thread
of pier (the vCPU and one device thread per share) is filtered, and
`--seccomp off` leaves them unfiltered. That the filter allows everything
the VMM does is shown by every other test of pier's VMM (they run with it
on, the default); that a forbidden call is reported, by
tests/unit/test_vmm_seccomp.c.

QEMU + virtiofsd: virtiofsd serves from namespaces of its own under its own
filter; QEMU runs under its own (pier passes -sandbox on)."""
import os
import select
import signal
import subprocess
import time

import pytest

from conftest import PIER, run_pier, targets, vmm_args
from watch import descendants, share  # noqa: F401

SPIN_MARKER = "crash=spin"


def thread_status(pid):
    """{tid: {field: value}} of /proc/PID/task/*/status."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            out[int(tid)] = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return out


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def while_running(args, check, deadline_s=120):
    """Runs `pier run ARGS` with a guest that spins in ring 0, waits for
    its console to show it got there, calls check(pid), then interrupts
    pier (SIGINT, as Ctrl-C) and returns (status, stdout, stderr)."""
    p = subprocess.Popen([PIER, "run", *args, "-o", SPIN_MARKER, "--"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = b""
    try:
        end = time.monotonic() + deadline_s
        while SPIN_MARKER.encode() not in out:
            assert time.monotonic() < end and p.poll() is None, \
                out.decode(errors="replace") + p.stderr.read().decode(errors="replace")
            ready, _, _ = select.select([p.stdout], [], [], 0.1)
            if ready:
                out += os.read(p.stdout.fileno(), 65536)
        check(p.pid)
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, (out + rest).decode(errors="replace"), err.decode(errors="replace")


@pytest.mark.parametrize("machine", targets("pier"))
def test_every_thread_is_filtered_while_the_guest_runs(machine, share, tmp_path):
    two = tmp_path / "two"
    two.mkdir()
    seen = {}

    def check(pid):
        seen.update(thread_status(pid))

    rc, out, err = while_running([*vmm_args(machine), "--root", share, "--share", f"two={two}"],
                                 check)
    # The vCPU thread and two device threads per share (one vCPU: the
    # high-priority queue's and one request queue's), each with exactly
    # one filter (Seccomp 2: filter mode), no_new_privs set.
    assert len(seen) == 1 + 2 * 2, seen
    for tid, st in seen.items():
        assert st["Seccomp"] == "2", (tid, st)
        assert st.get("Seccomp_filters", "1") == "1", (tid, st)
        assert st["NoNewPrivs"] == "1", (tid, st)
    # Ctrl-C still ends the run as ever: signals, teardown, thread joins
    # all pass the filter.
    assert rc == 130 and "interrupted; VM killed" in err, out + err
    assert "seccomp" not in err, err


@pytest.mark.parametrize("machine", targets("pier"))
def test_seccomp_off_leaves_the_vmm_unfiltered(machine, share):
    seen = {}
    rc, out, err = while_running([*vmm_args(machine), "--seccomp", "off", "--root", share],
                                 lambda pid: seen.update(thread_status(pid)))
    assert len(seen) == 1 + 2, seen  # the vCPU's, the root's two queue threads
    for tid, st in seen.items():
        assert st["Seccomp"] == "0", (tid, st)
        # Landlock's doing (landlock_confine sets it before restricting
        # the process): the VMM is confined even without the filter.
        assert st["NoNewPrivs"] == "1", (tid, st)
    assert rc == 130, out + err


def test_seccomp_takes_on_or_off():
    r = run_pier("--seccomp", "maybe", "--")
    assert r.rc == 2 and "--seccomp maybe: expected on or off" in r.err, r.err
    r = run_pier("--help")
    assert "--seccomp on|off" in r.out


@pytest.mark.parametrize("machine", targets("microvm"))
def test_virtiofsd_serves_from_its_own_sandbox(machine, share):
    """virtiofsd (sandbox=namespace, its default) forks the process that
    serves into new mount, PID and network namespaces whose root is the
    shared directory, under its own seccomp filter. QEMU runs under its
    own filter too: pier passes -sandbox on (spawn, privileges, obsolete
    calls and resource control denied)."""
    found = {}

    def check(pid):
        for (p, _), comm in descendants(pid).items():
            try:
                found[p] = (comm, proc_status(p), {ns: os.readlink(f"/proc/{p}/ns/{ns}")
                                                   for ns in ("mnt", "pid", "net")},
                            sorted(os.listdir(f"/proc/{p}/root")))
            except FileNotFoundError:
                pass  # gone meanwhile (not one of those we look for)

    mine = {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in ("mnt", "pid", "net")}
    rc, out, err = while_running([*vmm_args(machine), "--root", share], check)
    assert rc == 130, out + err
    servers = [(p, st, root) for p, (comm, st, ns, root) in found.items()
               if comm == "virtiofsd" and all(ns[k] != mine[k] for k in mine)]
    assert len(servers) == 1, found
    _, st, root = servers[0]
    assert st["Seccomp"] == "2", st
    assert root == sorted(os.listdir(share)), root  # its / is the share
    qemu = [st for comm, st, _, _ in found.values() if comm.startswith("qemu")]
    assert len(qemu) == 1 and qemu[0]["Seccomp"] == "2", found
