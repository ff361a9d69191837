"""Issue 4: static Linux programs (tests/progs/, built with musl and with
glibc by `make progs`) run in the guest and check the system calls it
serves. Each program asserts on its own and prints "ok NAME" per group of
checks; what a run must show is in tests/progs/progspec.py, shared with the
host self-check (`make progs-check`) that runs the same programs natively.

Every program runs on microvm and on pier's VMM with both libcs; q35 gets a
subset."""
import os
import shutil
import sys

import pytest

from conftest import BUILD, ROOT, run_pier, targets, vmm_args

sys.path.insert(0, os.path.join(ROOT, "tests", "progs"))
from progspec import CASES, CASES_BY_ID, LIBCS, make_fixture  # noqa: E402

GUEST_FIXTURE = "/fixture"
Q35_CASES = ["files", "memory", "hello", "segv", "exitcode-3"]

PARAMS = [(m, libc, c) for m in targets("microvm", "pier") for libc in LIBCS for c in CASES] + \
         [(m, libc, CASES_BY_ID[i]) for m in targets("q35") for libc in LIBCS for i in Q35_CASES]


def make_root(path, libc, prog):
    """ROOT/bin/PROG (the libc's build of it), ROOT/fixture, and an empty
    ROOT/dev as every root has (the guest's devfs covers it)."""
    exe = os.path.join(BUILD, "progs", libc, prog)
    if not os.path.exists(exe):
        pytest.fail(f"{exe} missing: run make progs")
    os.makedirs(os.path.join(path, "bin"))
    os.makedirs(os.path.join(path, "dev"))
    shutil.copy2(exe, os.path.join(path, "bin", prog))
    make_fixture(os.path.join(path, "fixture"))
    return str(path)


@pytest.mark.parametrize("machine,libc,case", PARAMS,
                         ids=[f"{m}-{l}-{c.id}" for m, l, c in PARAMS])
def test_prog(machine, libc, case, tmp_path):
    root = make_root(tmp_path / "root", libc, case.prog)
    extra = []
    for k, v in case.env(GUEST_FIXTURE).items():
        extra += ["--env", f"{k}={v}"]
    if case.cwd_fixture:
        extra += ["--cwd", GUEST_FIXTURE]
    r = run_pier(*vmm_args(machine), "--mem", "256M",
                 "--timeout", "30", "--root", root, "--ro",
                 "--env", "PIER_TEST=yes", "--env", "PIER_EXPECT_EROFS=1", *extra,
                 "--", f"/bin/{case.prog}", *case.argv(GUEST_FIXTURE), timeout=120)
    problems = case.check(r.rc, r.out, r.err, guest=True)
    assert not problems, "\n".join(problems) + \
        "\n--- console (last 4000 chars) ---\n" + r.out[-4000:] + \
        "\n--- pier stderr ---\n" + r.err[-2000:]
