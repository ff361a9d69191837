"""Issue 4: what happens when the program cannot start, and --strace."""
import os
import shutil

import pytest

from conftest import PRIMARY, run_pier, vmm_args


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("execroot")
    os.chmod(r, 0o755)
    (r / "bin").mkdir()
    shutil.copy("/bin/busybox", r / "bin" / "busybox")
    # Debian's, dynamically linked: this root has no /lib64/ld-linux-x86-64.so.2
    shutil.copy("/bin/true", r / "bin" / "dynamic")
    (r / "bin" / "script").write_text("#!/bin/sh\necho hi\n")
    os.chmod(r / "bin" / "script", 0o755)
    (r / "bin" / "garbage").write_text("neither ELF nor #!\n")
    os.chmod(r / "bin" / "garbage", 0o755)
    (r / "notexec").write_text("data\n")
    (r / "adir").mkdir()
    return str(r)


@pytest.mark.parametrize("path,status,message", [
    ("/bin/nothere", 127, "No such file or directory"),
    ("/adir", 126, "Is a directory"),
    ("/notexec", 126, "Permission denied"),
    ("/bin/garbage", 126, "not a program Pier can run"),
    ("/bin/script", 127, "required file not found (its #! interpreter /bin/sh)"),
    ("/bin/dynamic", 127, "required file not found (its ELF interpreter)"),
])
@pytest.mark.parametrize("machine", PRIMARY)
def test_program_that_cannot_start(machine, root, path, status, message):
    r = run_pier(*vmm_args(machine), "--root", root, "--", path)
    assert r.rc == status, r.out + r.err
    assert f"pier: {path}: " in r.err and message in r.err, r.err
    assert r.out == "", "the console belongs to the program: nothing else on it"


@pytest.mark.parametrize("machine", PRIMARY)
def test_strace_prints_calls_and_result(machine, root):
    r = run_pier(*vmm_args(machine), "--root", root, "--strace", "--",
                 "/bin/busybox", "cat", "/nothere")
    assert r.rc == 1
    # The kernel's log, strace's too, is on stderr: stdout is the program's.
    assert "strace: openat(" in r.err and ") = -2" in r.err
    assert "strace: exit_group(0x1" in r.err


@pytest.mark.parametrize("machine", PRIMARY)
def test_relative_program_path_uses_cwd(machine, root):
    r = run_pier(*vmm_args(machine), "--root", root, "--cwd", "/bin", "--",
                 "busybox", "pwd")
    assert r.rc == 0, r.out + r.err
    assert r.out.strip() == "/bin"
