"""Shared helpers for integration tests: they boot the real build/pier and
build/kernel.elf and look only at what a user would see (console, stderr,
exit status)."""
import os
import shutil
import subprocess
import time
from dataclasses import dataclass

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# PIER_BUILD: test another build tree (`make BUILD=DIR`) while build/ is busy.
BUILD = os.environ.get("PIER_BUILD") or os.path.join(ROOT, "build")
PIER = os.path.join(BUILD, "pier")
KERNEL = os.path.join(BUILD, "kernel.elf")

# Exit statuses pier reserves for itself (see include/pier/ports.h).
EXIT_TIMEOUT = 124
EXIT_PANIC = 125
EXIT_VMERROR = 126


def _kvm_usable():
    # kvm_pvm (shared/docs/platform.md) is no KVM pier's guest runs on:
    # system calls arrive at CPL3 there. pier refuses it; so do the tests.
    if os.path.exists("/sys/module/kvm_pvm"):
        return False
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


# Where the guest runs: "microvm" and "q35" are QEMU machines (TCG here),
# "pier" is pier's own VMM on /dev/kvm. PIER_TEST_TARGETS (comma-separated)
# picks them; by default QEMU's, plus pier's where /dev/kvm works. `make
# test` on a machine without /dev/kvm runs the "pier" pass in a nested
# Linux that has it (tools/kvm-nest/run, see the Makefile).
TARGETS = [t for t in os.environ.get(
    "PIER_TEST_TARGETS",
    "microvm,q35" + (",pier" if _kvm_usable() else "")).split(",") if t]
# One target per VMM, for tests that need not run on every machine type.
PRIMARY = [t for t in ("microvm", "pier") if t in TARGETS]


def targets(*wanted):
    """The chosen ones among `wanted` (none: the test is deselected)."""
    return [t for t in wanted if t in TARGETS]


# pier's pass samples some case lists (by_target's pier_every). Which share
# of a list runs rotates with the UTC day, so over pier_every days (a week
# at most) every case goes through pier's VMM; PIER_SAMPLE=N picks share N
# instead, PIER_SAMPLE=all runs every case. The terminal summary says which
# ran.
SAMPLE_DAY = int(time.time() // 86400)
SAMPLED = {}  # list name -> (share, every, ids that ran)


def _sample_share(every):
    chosen = os.environ.get("PIER_SAMPLE", "")
    if chosen == "all":
        return None
    return (int(chosen) if chosen else SAMPLE_DAY) % every


def by_target(cases, pier_every=1, name=None):
    """pytest params (target, *case) for every chosen target. pier's pass
    runs inside a nested, emulated Linux where each boot costs seconds, so
    it may take every Nth case only (a share that rotates, see SAMPLE_DAY):
    the guest kernel under test is the same on both VMMs, and each case
    still goes through pier's VMM and device."""
    share = _sample_share(pier_every) if pier_every > 1 else None
    params = [pytest.param(t, *c.values, id=f"{c.id}-{t}", marks=c.marks)
              for t in TARGETS for i, c in enumerate(cases)
              if t != "pier" or share is None or i % pier_every == share]
    if pier_every > 1 and "pier" in TARGETS:
        SAMPLED[name or f"{len(SAMPLED)}"] = (share, pier_every, [
            p.id for p in params if p.values[0] == "pier"])
    return params


def pytest_terminal_summary(terminalreporter):
    ran = {r.nodeid.rsplit("[", 1)[-1].rstrip("]")
           for reports in terminalreporter.stats.values() for r in reports
           if getattr(r, "nodeid", "").endswith("]")}
    for name, (share, every, ids) in SAMPLED.items():
        which = "every case" if share is None else f"share {share} of {every}"
        terminalreporter.write_line(
            f"pier sample of {name} ({which}; PIER_SAMPLE=N or all to choose), ran: "
            + (" ".join(i for i in ids if i in ran) or "none"))


def vmm_args(target):
    """`pier run` options that select a target."""
    if target == "pier":
        return ["--vmm", "pier"]
    return ["--vmm", "qemu", "--machine", target]


def pytest_collection_modifyitems(config, items):
    """Deselects what the chosen targets leave out: a test parametrised by
    target runs on the chosen ones only (an empty choice deselects it, not
    a skip); without a QEMU target, tests not parametrised by target are
    QEMU-specific (virtiofsd processes and the like) and go too."""
    qemu = bool(targets("microvm", "q35"))
    keep, drop = [], []
    for item in items:
        cs = getattr(item, "callspec", None)
        if cs and "machine" in cs.params:
            ok = cs.params["machine"] in TARGETS
        else:
            ok = qemu
        (keep if ok else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@dataclass
class Run:
    rc: int
    out: str
    err: str


def on_a_pty(argv, env=None):
    """Runs argv with a new pseudo-terminal as its stdio: its exit status,
    all it wrote there, and the terminal's master (open, for a look at its
    modes; the caller closes it)."""
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env if env is not None else os.environ)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out, fd


def run_pier(*args, timeout=120):
    """Runs `build/pier run ARGS`; returns status, stdout and stderr."""
    p = subprocess.run([PIER, "run", *args], capture_output=True, text=True,
                       timeout=timeout, errors="replace")
    return Run(p.returncode, p.stdout, p.stderr)


def prog_root(path, libc, prog):
    """A root directory at path holding build/progs/LIBC/PROG as /bin/PROG."""
    os.makedirs(path / "bin")
    for p in (path, path / "bin"):
        os.chmod(p, 0o755)
    shutil.copy2(os.path.join(BUILD, "progs", libc, prog), path / "bin" / prog)
    return str(path)


@pytest.fixture(scope="session", autouse=True)
def built():
    for f in (PIER, KERNEL):
        assert os.path.exists(f), f"{f} missing: run make first"


@pytest.fixture(scope="session")
def debian():
    """The cached Debian bookworm root (tools/debian-root.sh builds it once
    and prints its path): test_dynamic.py and test_debian.py run from it."""
    r = subprocess.run([os.path.join(ROOT, "tools", "debian-root.sh")], capture_output=True,
                       text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()
