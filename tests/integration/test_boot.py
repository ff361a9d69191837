"""Issue 2: the guest kernel boots on QEMU, echoes what it parsed, reports
faults and hands its exit status back through pier."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, EXIT_PANIC, EXIT_TIMEOUT, KERNEL, PRIMARY, TARGETS, run_pier, vmm_args

BANNER = "Pier guest kernel"


@pytest.mark.parametrize("machine", TARGETS)
def test_boots_to_banner_and_exits_zero(machine):
    r = run_pier(*vmm_args(machine), "--")
    assert r.rc == 0, r.out + r.err
    assert BANNER in r.out
    assert "boot complete in" in r.out
    assert "exiting with status 0" in r.out


@pytest.mark.parametrize("machine", PRIMARY)
def test_memory_map_matches_requested_size(machine):
    r = run_pier(*vmm_args(machine), "--mem", "256M", "--")
    assert r.rc == 0, r.out + r.err
    rams = re.findall(r"mem ([0-9a-f]{16})-([0-9a-f]{16}) ram", r.out)
    assert rams, r.out
    total = sum(int(e, 16) + 1 - int(s, 16) for s, e in rams)
    # All of the RAM QEMU gives us, minus what the firmware area keeps.
    assert 255 * 2**20 < total <= 256 * 2**20, r.out
    m = re.search(r"memory: (\d+) KiB usable", r.out)
    assert m and 250 * 1024 < int(m.group(1)) < 256 * 1024, r.out


@pytest.mark.parametrize("machine", PRIMARY)
def test_options_and_arguments_are_echoed(machine):
    r = run_pier(*vmm_args(machine), "-o", "verbose", "-o", "exit=0",
                 "--", "/bin/prog", "two words", "x=y")
    # No root file system, so no program: a shell's "not found" status.
    assert r.rc == 127, r.out + r.err
    # verbose: the kernel's messages, on stderr (stdout is the program's)
    assert "/bin/prog: No such file or directory" in r.err
    assert "option verbose=1" in r.err
    assert "option exit=0" in r.err
    assert "argv[0]=/bin/prog" in r.err
    assert "argv[1]=two words" in r.err
    # After "--" everything is an argument, even if it looks like an option.
    assert "argv[2]=x=y" in r.err
    assert "option x=y" not in r.err


@pytest.mark.parametrize("machine", PRIMARY)
def test_unknown_option_is_reported(machine):
    r = run_pier(*vmm_args(machine), "-o", "no_such_thing=5", "--")
    assert "unknown option 'no_such_thing'" in r.out
    assert r.rc == 0


@pytest.mark.parametrize("status", [0, 1, 42, 200, 255])
@pytest.mark.parametrize("machine", PRIMARY)
def test_exit_status_is_passed_through(machine, status):
    r = run_pier(*vmm_args(machine), "-o", f"exit={status}", "--")
    assert r.rc == status, r.out + r.err
    assert f"exiting with status {status}" in r.out


@pytest.mark.parametrize("kind,vector", [("pf", 14), ("ud", 6), ("gp", 13),
                                         ("div", 0)])
@pytest.mark.parametrize("machine", PRIMARY)
def test_exception_prints_report_and_panic_status(machine, kind, vector):
    r = run_pier(*vmm_args(machine), "-o", f"crash={kind}", "--")
    assert r.rc == EXIT_PANIC, r.out + r.err
    assert f"FATAL EXCEPTION {vector} " in r.out
    assert re.search(r"rip=ffffffff8[0-9a-f]{7}", r.out), r.out
    assert "cr2=" in r.out
    assert re.search(r"backtrace:\n  #0 [0-9a-f]+", r.out), r.out
    assert "guest kernel panic" in r.err
    assert "exiting with status" not in r.out


@pytest.mark.parametrize("machine", PRIMARY)
def test_page_fault_reports_faulting_address(machine):
    r = run_pier(*vmm_args(machine), "-o", "crash=pf", "--")
    assert r.rc == EXIT_PANIC
    m = re.search(r"FATAL EXCEPTION 14 \(page fault\) error=(0x[0-9a-f]+)", r.out)
    assert m, r.out
    assert int(m.group(1), 16) & 2, "write fault bit missing"
    assert "cr2=ffff900000000000" in r.out


@pytest.mark.parametrize("machine", PRIMARY)
def test_heap_double_free_panics(machine):
    r = run_pier(*vmm_args(machine), "-o", "crash=double-free", "--")
    assert r.rc == EXIT_PANIC, r.out + r.err
    assert "PANIC" in r.out and "double free" in r.out


@pytest.mark.parametrize("machine", PRIMARY)
def test_a_lock_order_inversion_panics_naming_both(machine):
    """Issue 23's lock-order checker (kernel/spinlock.c): crash=lock-order
    takes dax.lock, then vfs.lock, which the order puts first."""
    r = run_pier(*vmm_args(machine), "-o", "crash=lock-order", "--")
    assert r.rc == EXIT_PANIC, r.out + r.err
    assert ("lock order: vfs.lock (level 40) taken while holding dax.lock (level 70)"
            in r.out), r.out[-3000:]
    assert re.search(r"backtrace:\n  #0 [0-9a-f]+", r.out), r.out
    assert "on CPU 0 (of 1 online; 0 others stopped), task 0" in r.out, r.out[-3000:]


@pytest.mark.parametrize("machine", PRIMARY)
def test_a_panic_stops_the_other_cpus(machine):
    """Issue 23: a panic on one CPU stops every other (an NMI each) before
    its report, which names the CPU and the task. crash=ap makes the last
    of 4 CPUs panic at a reschedule IPI while the boot CPU spins with
    interrupts off, where only an NMI reaches it."""
    r = run_pier(*vmm_args(machine), "--cpus", "4", "-o", "crash=ap", "--", timeout=180)
    assert r.rc == EXIT_PANIC, r.out + r.err
    assert "PANIC at" in r.out and "crash=ap requested" in r.out, r.out[-3000:]
    assert "on CPU 3 (of 4 online; 3 others stopped), task 0" in r.out, r.out[-3000:]


@pytest.mark.parametrize("machine", PRIMARY)
def test_verbose_lines_have_timestamps(machine):
    quiet = run_pier(*vmm_args(machine), "--")
    loud = run_pier(*vmm_args(machine), "-o", "verbose", "--")
    stamp = re.compile(r"^\[\s*\d+\.\d{9}\] ", re.M)
    assert not stamp.search(quiet.out)
    stamps = [float(s.strip("[] ")) for s in stamp.findall(loud.out)]
    assert len(stamps) >= 3, loud.out
    assert stamps == sorted(stamps), "timestamps go backwards"


@pytest.mark.parametrize("machine", PRIMARY)
def test_timing_reports_kernel_entry_and_exit(machine):
    r = run_pier(*vmm_args(machine), "--timing", "--")
    assert r.rc == 0
    got = dict(re.findall(r"^\s+(\S+)\s+([\d.]+) ms$", r.err, re.M))
    for name in ("kmain", "root-mounted", "guest-exit", "vmm-exit"):
        assert name in got, r.err
    assert 0 < float(got["kmain"]) <= float(got["guest-exit"]) <= float(got["vmm-exit"])


@pytest.mark.parametrize("machine", PRIMARY)
def test_timeout_kills_a_stuck_guest(machine):
    r = run_pier(*vmm_args(machine), "--timeout", "2", "-o", "crash=hang", "--",
                 timeout=60)
    assert r.rc == EXIT_TIMEOUT, r.out + r.err
    assert "timeout after 2 s" in r.err


def test_kernel_has_pvh_note():
    out = subprocess.run(["readelf", "-n", KERNEL], capture_output=True,
                         text=True, check=True).stdout
    assert "Xen" in out
    # NT_XEN_PVH is note type 0x12 (XEN_ELFNOTE_PHYS32_ENTRY).
    assert re.search(r"Xen\s+0x00000008\s+.*0x12|Unknown note type: \(0x00000012\)",
                     out), out


@pytest.mark.parametrize("machine", PRIMARY)
def test_timing_marks_the_programs_first_output(machine, tmp_path):
    """--timing's first-output: the thesis's "program start to its first
    output" ends there, between the program's start and the guest's exit."""
    os.makedirs(tmp_path / "bin")
    shutil.copy2(os.path.join(BUILD, "progs", "musl", "hello"), tmp_path / "bin" / "hello")
    r = run_pier(*vmm_args(machine), "--timing", "--root", str(tmp_path), "--ro", "--",
                 "/bin/hello")
    assert r.rc == 0 and "hello from pier" in r.out, r.out + r.err
    got = {k: float(v) for k, v in re.findall(r"^\s+(\S+)\s+([\d.]+) ms$", r.err, re.M)}
    assert "first-output" in got, r.err
    assert got["program"] <= got["first-output"] <= got["guest-exit"], got
