#!/usr/bin/env python3
"""Runs every guest test program natively on this (Linux) host, both the
musl and the glibc build, against a fresh fixture: the programs must pass on
real Linux before they can judge pier's guest kernel.

The host run differs from the guest run in two ways only: PIER_EXPECT_EROFS
is not set (opening the fixture for writing succeeds here; nothing is
written), and a fatal signal shows as the process dying of it rather than
as pier's status 128+N. The programs that write (progspec.HOST_CASES) run
here only, each in an empty directory of its own.

    tests/progs/selfcheck.py [--build DIR] [-v] [CASE...]
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from progspec import (CASES, HOST_CASES, LIBCS, OWN_HARNESS, all_programs,  # noqa: E402
                      make_fixture)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build directory (default build)")
    ap.add_argument("-v", "--verbose", action="store_true", help="show every program's output")
    ap.add_argument("cases", nargs="*", help="case ids (default: all)")
    a = ap.parse_args()

    everything = CASES + HOST_CASES
    cases = [c for c in everything if not a.cases or c.id in a.cases]
    covered = {c.prog for c in everything} | set(OWN_HARNESS)
    passed = failed = 0
    for prog in all_programs():
        if prog not in covered:
            print(f"FAIL {prog}: no case in progspec.CASES or HOST_CASES runs it")
            failed += 1

    with tempfile.TemporaryDirectory(prefix="pier-progs-") as tmp:
        # getcwd is compared with the path: no symbolic links in it.
        fixture = os.path.join(os.path.realpath(tmp), "fixture")
        make_fixture(fixture)
        for libc in LIBCS:
            for c in cases:
                exe = os.path.join(a.build, "progs", libc, c.prog)
                name = f"{libc}/{c.id}"
                if not os.path.exists(exe):
                    print(f"FAIL {name}: {exe} missing (make progs)")
                    failed += 1
                    continue
                env = {"PIER_TEST": "yes", **c.env(fixture)}
                # A program that writes gets an empty directory of its own.
                scratch = tempfile.mkdtemp(dir=tmp) if c.needs_scratch else None
                try:
                    p = subprocess.run([os.path.abspath(exe), *c.argv(fixture, scratch)],
                                       env=env,
                                       cwd=fixture if c.cwd_fixture else tmp,
                                       capture_output=True, text=True, errors="replace",
                                       timeout=60)
                    problems = c.check(p.returncode, p.stdout, p.stderr, guest=False)
                    out, err = p.stdout, p.stderr
                except subprocess.TimeoutExpired as e:
                    problems = ["timed out after 60 s"]
                    out, err = str(e.stdout or ""), str(e.stderr or "")
                if problems:
                    failed += 1
                    print(f"FAIL {name}: " + "; ".join(problems))
                else:
                    passed += 1
                    print(f"ok   {name} ({len(c.ok)} checkpoints)")
                if problems or a.verbose:
                    for label, text in (("stdout", out), ("stderr", err)):
                        for line in text.splitlines():
                            print(f"     {label}: {line}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
