"""Threads (issue 17): preemption of a thread that makes no system call,
and threads running while another waits for the host.

tests/progs/threads.c (run by test_progs.py on every target) covers what
threads do through system calls; this is what only the timer can do: a
thread spinning in program code must not keep a thread whose sleep has
ended from running. The local APIC timer ends its slice, on every target
(nested here too, where ring 0 is emulated: the switch's FXSAVE works
there)."""
import os

import pytest

from conftest import prog_root, run_pier, targets, vmm_args


@pytest.mark.timeout(200)
@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_a_spinning_thread_is_preempted(machine, libc, tmp_path):
    root = prog_root(tmp_path / "root", libc, "preempt")
    r = run_pier(*vmm_args(machine), "--timeout", "150", "--root", root, "--", "/bin/preempt",
                 timeout=180)
    assert r.rc == 0, r.err[-3000:]
    assert r.out.strip() == "preempt flag-seen", r.out + r.err[-3000:]


@pytest.mark.timeout(300)
# Interrupt-driven devices only: pier's VMM here (nested) polls, where the
# waiter spins first and the other thread's turn came too late in one CI
# run (2026-12-05): to be made deterministic before it joins this list.
@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_a_thread_waiting_for_the_host_lets_others_run(machine, tmp_path):
    """One read() of 16 MiB (64 FUSE_READs: no DAX window) in the
    main thread while a second thread runs program code: it gets the CPU
    in the first half of the read, because a FUSE request's wait lets the
    other threads run (the kernel lock stays with the reader,
    guest/kernel/task.c), not only when the read is over."""
    root = prog_root(tmp_path / "root", "glibc", "hostwait")
    size = 16 << 20
    with open(tmp_path / "root" / "big", "wb") as f:
        f.write(os.urandom(1 << 20) * 16)
    # Answers here come within microseconds (the host has spare cores):
    # the guest's test knob makes each request take 2 ms, a slow host.
    r = run_pier(*vmm_args(machine), "--dax", "0", "--mem", "512M", "--timeout", "250",
                 "-o", "virtio_test_latency_us=2000", "--root", root, "--",
                 "/bin/hostwait", "/big", str(size), timeout=280)
    assert r.rc == 0, r.err[-3000:]
    assert r.out.strip() == "hostwait first-run-in-first-half yes", r.out
