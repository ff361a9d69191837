"""Shared helpers for integration tests: they boot the real build/pier and
build/kernel.elf and look only at what a user would see (console, stderr,
exit status)."""
import os
import subprocess
from dataclasses import dataclass

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
PIER = os.path.join(BUILD, "pier")
KERNEL = os.path.join(BUILD, "kernel.elf")

# Exit statuses pier reserves for itself (see include/pier/ports.h).
EXIT_TIMEOUT = 124
EXIT_PANIC = 125
EXIT_VMERROR = 126


@dataclass
class Run:
    rc: int
    out: str
    err: str


def run_pier(*args, timeout=120):
    """Runs `build/pier run ARGS`; returns status, stdout and stderr."""
    p = subprocess.run([PIER, "run", *args], capture_output=True, text=True,
                       timeout=timeout, errors="replace")
    return Run(p.returncode, p.stdout, p.stderr)


@pytest.fixture(scope="session", autouse=True)
def built():
    for f in (PIER, KERNEL):
        assert os.path.exists(f), f"{f} missing: run make first"
