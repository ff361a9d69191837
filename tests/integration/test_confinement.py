"""Issue 5: a guest program cannot read outside the shared directory, on
every target (pier's own FUSE server, and QEMU's virtiofsd): `..` past the
root, absolute and relative symlinks pointing out, a directory swapped for
a symlink to the outside while the guest keeps opening through it, and
over-long names."""
import os
import shutil
import threading
import time

import pytest

from conftest import BUILD, TARGETS, run_pier, vmm_args

MARKER = "pier-confinement-secret-4b1d"
ESCAPE = os.path.join(BUILD, "confine", "escape")


@pytest.fixture
def trap(tmp_path):
    """tmp/outside/secret (the prize), tmp/secret too, and tmp/share: the
    root the guest gets, full of ways out."""
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret").write_text(MARKER + "\n")
    (tmp_path / "secret").write_text(MARKER + "\n")
    share = tmp_path / "share"
    (share / "bin").mkdir(parents=True)
    (share / "inner").mkdir()
    if not os.path.exists(ESCAPE):
        pytest.fail(f"{ESCAPE} missing: run make progs")
    shutil.copy(ESCAPE, share / "bin" / "escape")
    os.symlink(str(tmp_path / "secret"), share / "abs-link")
    os.symlink("../secret", share / "rel-link")
    os.symlink(str(out), share / "dir-link")
    os.symlink("../outside", share / "rel-dir-link")
    os.symlink("../../outside/secret", share / "inner" / "deep-link")
    os.symlink("loop-link", share / "loop-link")
    (share / "swap").mkdir()
    (share / "swap" / "secret").write_text("inside\n")
    return tmp_path, share


def swapper(share, outside, stop, counter):
    """Keeps turning share/swap into a symlink to `outside` and back."""
    real = share / "swap.real"
    while not stop.is_set():
        os.rename(share / "swap", real)
        os.symlink(str(outside), share / "swap")
        counter[0] += 1
        time.sleep(0.0005)
        os.unlink(share / "swap")
        os.rename(real, share / "swap")
        time.sleep(0.0005)


@pytest.mark.parametrize("machine", TARGETS)
def test_guest_cannot_escape_the_share(machine, trap):
    tmp, share = trap
    stop = threading.Event()
    swaps = [0]
    t = threading.Thread(target=swapper, args=(share, tmp / "outside", stop, swaps))
    t.start()
    try:
        r = run_pier(*vmm_args(machine), "--mem", "256M", "--timeout", "120",
                     "--root", str(share), "--", "/bin/escape", MARKER, "3", timeout=180)
    finally:
        stop.set()
        t.join()
    assert "ESCAPED" not in r.out, r.out
    assert MARKER not in r.out.replace(f"/bin/escape {MARKER}", "")
    assert r.rc == 0 and "ok confine" in r.out, r.out + r.err
    # Every attempt was made and answered.
    assert r.out.count("held ") >= 14, r.out
    assert "held a 598-byte name (errno 36)" in r.out  # ENAMETOOLONG
    assert swaps[0] > 10, "the host never swapped the directory"
    opens = int(r.out.split("race: ")[1].split()[0])
    assert opens > 10, r.out
    # The host side is untouched.
    assert (tmp / "outside" / "secret").read_text() == MARKER + "\n"
