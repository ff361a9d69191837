"""Several vCPUs (issue 23, its first part): `pier run --cpus N` gives the
guest N processors on both VMMs (QEMU's -smp with multi-threaded TCG;
pier's VMM one thread per vCPU, the application processors waiting in
KVM for the guest's INIT and STARTUP messages), and the guest starts
every one through its real-mode start-up page (guest/arch/x86_64/smp.c,
ap_boot.S). The scheduler still runs every task on the boot CPU: a
program sees one CPU and runs as before beside the others."""
import os
import re
import shutil

import pytest

from conftest import BUILD, run_pier, targets, vmm_args

ALL = targets("microvm", "q35", "pier")


@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("machine", ALL)
def test_every_cpu_comes_up(machine, cpus):
    """No program: the kernel's log is pier's stdout. 4 vCPUs on this
    2-core machine must come up as well as 2."""
    r = run_pier(*vmm_args(machine), "--cpus", str(cpus), "-o", "exit=0", timeout=180)
    assert r.rc == 0, r.out[-3000:] + r.err[-3000:]
    m = re.search(r"smp: (\d+) of (\d+) CPUs online", r.out)
    assert m, r.out[-3000:]
    assert (int(m.group(1)), int(m.group(2))) == (cpus, cpus), m.group(0)
    assert "did not start" not in r.out


@pytest.mark.parametrize("machine", ALL)
def test_one_cpu_starts_no_other(machine):
    r = run_pier(*vmm_args(machine), "-o", "exit=0", timeout=180)
    assert r.rc == 0, r.out[-3000:] + r.err[-3000:]
    assert "kmain" in r.out or "Pier guest kernel" in r.out, r.out[-3000:]
    assert "smp:" not in r.out, r.out[-3000:]


@pytest.mark.timeout(200)
@pytest.mark.parametrize("machine", ALL)
def test_a_program_runs_beside_the_other_cpus(machine, tmp_path):
    """The threads test's spinning thread is still preempted by the boot
    CPU's timer with three more processors up and halted, and the
    program is told of the one CPU its tasks run on."""
    root = tmp_path / "root"
    os.makedirs(root / "bin")
    for p in (root, root / "bin"):
        os.chmod(p, 0o755)
    shutil.copy2(os.path.join(BUILD, "progs", "glibc", "preempt"), root / "bin" / "preempt")
    r = run_pier(*vmm_args(machine), "--cpus", "4", "--timeout", "150", "--root", str(root),
                 "--", "/bin/preempt", timeout=180)
    assert r.rc == 0, r.err[-3000:]
    assert r.out.strip() == "preempt flag-seen", r.out + r.err[-3000:]


@pytest.mark.parametrize("bad", ["0", "65", "two", "2x", ""])
def test_cpus_is_checked(bad):
    r = run_pier("--cpus", bad, "--", "/bin/true", timeout=30)
    assert r.rc == 2, r.out + r.err
    assert f"--cpus {bad}: expected a number from 1 to 64" in r.err
