"""Threads (issue 17): preemption of a thread that makes no system call.

tests/progs/threads.c (run by test_progs.py on every target) covers what
threads do through system calls; this is what only the timer can do: a
thread spinning in program code must not keep a thread whose sleep has
ended from running. The local APIC timer ends its slice, on every target
(nested here too, where ring 0 is emulated: the switch's FXSAVE works
there)."""
import os
import shutil

import pytest

from conftest import BUILD, run_pier, targets, vmm_args


def make_root(path, libc):
    os.makedirs(path / "bin")
    for p in (path, path / "bin"):
        os.chmod(p, 0o755)
    shutil.copy2(os.path.join(BUILD, "progs", libc, "preempt"), path / "bin" / "preempt")
    return str(path)


@pytest.mark.timeout(200)
@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_a_spinning_thread_is_preempted(machine, libc, tmp_path):
    root = make_root(tmp_path / "root", libc)
    r = run_pier(*vmm_args(machine), "--timeout", "150", "--root", root, "--", "/bin/preempt",
                 timeout=180)
    assert r.rc == 0, r.err[-3000:]
    assert r.out.strip() == "preempt flag-seen", r.out + r.err[-3000:]
