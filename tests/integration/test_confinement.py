"""Issue 5: a guest program cannot read outside the shared directory, on
every target (pier's own FUSE server, and QEMU's virtiofsd): `..` past the
root, absolute and relative symlinks pointing out, a directory swapped for
a symlink to the outside while the guest keeps opening (and creating and
writing) through it, and over-long names. And what a guest can do in a
writable share: setuid files (SECURITY.md)."""
import ctypes
import os
import re
import shutil
import struct
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


class Inotify:
    """An inotify watch on some directories (libc through ctypes): every
    event on them, or on what they hold, while it is open. A write that
    escaped the share and was then unlinked shows here, though the tree
    looks the same afterwards."""
    MASK = 0xFFF  # IN_ALL_EVENTS: access, modify, attrib, close, open, moves, create, delete

    def __init__(self, dirs):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.names = {}
        for d in dirs:
            wd = self.libc.inotify_add_watch(self.fd, os.fsencode(str(d)), self.MASK)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {d}")
            self.names[wd] = str(d)

    def events(self):
        """[(directory, name, mask)] of the events so far; closes the watch."""
        found = []
        try:
            while True:
                try:
                    buf = os.read(self.fd, 65536)
                except BlockingIOError:
                    return found
                off = 0
                while off < len(buf):
                    wd, mask, _, n = struct.unpack_from("iIII", buf, off)
                    name = buf[off + 16:off + 16 + n].rstrip(b"\0").decode(errors="replace")
                    found.append((self.names.get(wd, "?"), name, mask))
                    off += 16 + n
        finally:
            os.close(self.fd)


def outside_state(tmp):
    """What a write outside the share would change, even if undone: each
    entry's inode, size, mode and change/modification times."""
    state = {}
    for p in (tmp, tmp / "outside", tmp / "outside" / "secret", tmp / "secret"):
        st = os.lstat(p)
        state[str(p)] = (st.st_ino, st.st_size, st.st_mode, st.st_nlink,
                         st.st_mtime_ns, st.st_ctime_ns)
    return state


@pytest.mark.parametrize("machine", TARGETS)
def test_guest_cannot_escape_the_share(machine, trap):
    tmp, share = trap
    stop = threading.Event()
    swaps = [0]
    before = outside_state(tmp)
    watch = Inotify([tmp, tmp / "outside"])
    t = threading.Thread(target=swapper, args=(share, tmp / "outside", stop, swaps))
    t.start()
    try:
        r = run_pier(*vmm_args(machine), "--mem", "256M", "--timeout", "120",
                     "--root", str(share), "--", "/bin/escape", MARKER, "3", timeout=180)
    finally:
        stop.set()
        t.join()
        events = watch.events()
    # Nothing outside the share was opened, read, written, created or
    # removed (the share itself is an entry of tmp: its events are the
    # servers' own).
    escaped = [e for e in events if not (e[0] == str(tmp) and e[1] == "share")]
    assert not escaped, f"events outside the share: {escaped}\n" + r.out
    assert outside_state(tmp) == before, r.out
    assert "ESCAPED" not in r.out, r.out
    assert MARKER not in r.out.replace(f"/bin/escape {MARKER}", "")
    assert r.rc == 0 and "ok confine" in r.out, r.out + r.err
    # Every attempt was made and answered.
    assert r.out.count("held ") >= 14, r.out
    assert "held a 598-byte name (errno 36)" in r.out  # ENAMETOOLONG
    assert swaps[0] > 10, "the host never swapped the directory"
    opens = int(r.out.split("race: ")[1].split()[0])
    assert opens > 10, r.out
    # The guest may hold on to /swap as the symlink for a whole run (its
    # name cache); when it saw the directory, it wrote there too.
    opened = int(r.out.split("of /swap/secret, ")[1].split()[0])
    written = int(r.out.split("succeeded; ")[1].split()[0])
    assert written > 0 or opened < 10, r.out
    # The host side is untouched: nothing written or created outside.
    assert (tmp / "outside" / "secret").read_text() == MARKER + "\n"
    assert os.listdir(tmp / "outside") == ["secret"]
    assert sorted(os.listdir(tmp)) == ["outside", "secret", "share"]


@pytest.mark.parametrize("machine", TARGETS)
def test_guest_can_make_setuid_files_in_a_writable_share(machine, tmp_path):
    """What a guest CAN do (SECURITY.md): in a writable share it creates
    files owned by pier's user (root here) and may set their setuid and
    setgid bits, as root could on the host. Hence the advice to keep
    writable shares on nosuid mounts. In a read-only share it cannot."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    args = [*vmm_args(machine), "--root", str(root), "--"]
    r = run_pier(*args, "/bin/busybox", "cp", "/bin/busybox", "/made", timeout=180)
    assert r.rc == 0, r.out + r.err
    r = run_pier(*args, "/bin/busybox", "chmod", "6755", "/made", timeout=180)
    assert r.rc == 0, r.out + r.err
    st = os.stat(root / "made")
    assert st.st_mode & 0o7777 == 0o6755, oct(st.st_mode)
    assert st.st_uid == os.getuid()
    before = os.stat(root / "bin" / "busybox").st_mode
    r = run_pier(*vmm_args(machine), "--ro", "--root", str(root), "--",
                 "/bin/busybox", "chmod", "4755", "/bin/busybox", timeout=180)
    assert r.rc != 0 and "Read-only file system" in r.err, r.out + r.err
    assert os.stat(root / "bin" / "busybox").st_mode == before


@pytest.mark.parametrize("machine", TARGETS)
def test_guest_reads_whatever_pier_may_read(machine, tmp_path):
    """The host's permission checks are pier's user's, not the guest's:
    pier run as root serves a mode-000 file. With -o uid=4242 the guest
    kernel refuses it itself; that check is the guest's courtesy (a
    hijacked guest kernel need not make it), and as uid 0 the guest gets
    the bytes from the host."""
    root = tmp_path / "root"
    root.mkdir()
    secret = root / "secret"
    secret.write_text("mode 000, yet served\n")
    secret.chmod(0)
    args = [*vmm_args(machine), "--root", str(root), "-o", "fs.read=/secret"]
    r = run_pier(*args, "-o", "uid=4242", "--", timeout=180)
    assert re.search(r"^error\tread\t/secret\tEACCES", r.out.replace("\r", ""), re.M), r.out
    r = run_pier(*args, "--", timeout=180)
    assert r.rc == 0, r.out + r.err
    assert re.search(r"^read\t/secret\t21\t", r.out.replace("\r", ""), re.M), r.out
