"""Watching a `pier run` from outside: every process it starts, whether
they are all gone afterwards, and what it left in its TMPDIR."""
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import pytest

from conftest import PIER


def proc_table():
    """{pid: (ppid, starttime, comm, state)} for every process now."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        # comm is in parentheses and may hold spaces: split after the last ')'.
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2:].split()
        table[int(name)] = (int(rest[1]), int(rest[19]), comm, rest[0])
    return table


def descendants(pid):
    """{(pid, starttime): comm} of every process below pid, now."""
    table = proc_table()
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for p, (ppid, start, comm, _) in table.items():
            if ppid == parent and (p, start) not in found:
                found[(p, start)] = comm
                todo.append(p)
    return found


def still_there(procs):
    """The processes of procs (keyed by (pid, starttime)) that still exist,
    zombies included: pier must have reaped them all."""
    table = proc_table()
    return {k: v for k, v in procs.items()
            if k[0] in table and table[k[0]][1] == k[1]}


@dataclass
class Watched:
    rc: int
    out: str
    err: str
    tmpdir: str
    seen: dict = field(default_factory=dict)  # (pid, starttime) -> comm
    signal_to_exit: float = 0.0  # seconds from the signal to pier's exit

    def comms(self):
        return sorted(self.seen.values())


@pytest.fixture
def runtmp():
    """A TMPDIR of the test's own, so that what pier leaves there is this
    run's. Short: pier's sockets go below it (108-byte limit)."""
    d = tempfile.mkdtemp(prefix="pt", dir="/tmp")
    yield d
    shutil.rmtree(d)


def run_watched(tmpdir, *args, signal_after=None, sig=signal.SIGINT, env=None, timeout=60):
    """Runs `pier run ARGS` with TMPDIR=tmpdir, noting every process it
    starts (polled every 10 ms) and optionally sending it sig after
    signal_after seconds."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen([PIER, "run", *args], stdout=out, stderr=err,
                             env=dict(os.environ, TMPDIR=tmpdir, **(env or {})))
        w = Watched(0, "", "", tmpdir)
        t0, signalled = time.monotonic(), None
        while p.poll() is None:
            w.seen.update(descendants(p.pid))
            now = time.monotonic()
            if signal_after is not None and signalled is None and now - t0 >= signal_after:
                p.send_signal(sig)
                signalled = now
            if now - t0 > timeout:
                p.kill()
                p.wait()
                pytest.fail(f"pier still running after {timeout} s")
            time.sleep(0.01)
        if signalled is not None:
            w.signal_to_exit = time.monotonic() - signalled
        w.rc = p.returncode
        out.seek(0)
        err.seek(0)
        w.out, w.err = out.read(), err.read()
    return w


def assert_clean(w):
    """Nothing of the run is left: run directory, processes, lock files."""
    assert os.listdir(w.tmpdir) == [], "run directory left behind"
    assert not still_there(w.seen), f"not reaped: {still_there(w.seen)}"
    # virtiofsd's lock file is named after the socket path, '/' -> '.'.
    assert not glob.glob("/var/run/virtiofsd/" + w.tmpdir.replace("/", ".") + ".*")
    left = subprocess.run(["pgrep", "-a", "-f", w.tmpdir], capture_output=True, text=True)
    assert left.returncode == 1, left.stdout


@pytest.fixture
def share(tmp_path):
    """A shared directory with one small file in it."""
    d = tmp_path / "root"
    d.mkdir()
    (d / "hello.txt").write_text("hello\n")
    return str(d)
