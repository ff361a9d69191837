"""Issue 17: Debian's own programs doing real work, from the cached Debian
root (tools/debian-root.sh) read-only, on a writable shared directory
mounted at /mnt; the host checks what they leave there.

- sqlite3: a table, 10,000 rows in one transaction, a query; the host's
  sqlite3 (Python's module) reads the database after.
- xz: a 10 MiB file compressed with -9 and decompressed again, in two
  runs; the host compares the bytes and reads the .xz itself.
- fio --thread, psync, one job: sequential 128 KiB and random 4 KiB reads
  of a 1 GiB file; the io_bytes it reports are what it was asked to read.

On QEMU (microvm) and on pier's VMM with the DAX window on (its default)
and off."""
import json
import lzma
import os
import sqlite3
import subprocess

import pytest

from conftest import PIER, targets, vmm_args

MACHINES = [pytest.param(m, dax, id=f"{m}{'-dax0' if dax else ''}")
            for m in targets("microvm", "pier") for dax in ((False, True) if m == "pier"
                                                             else (False,))]


def run(machine, dax0, debian, share, *argv, mem="512M", timeout=600):
    cmd = [PIER, "run", *vmm_args(machine), "--mem", mem, "--timeout", str(timeout),
           *(["--dax", "0"] if dax0 and machine == "pier" else []),
           "--root", debian, "--ro", "--share", f"data={share}", "-o", "mount=data:/mnt",
           "--", *argv]
    r = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=timeout + 60)
    assert r.returncode == 0, (argv, r.returncode, r.stdout[-2000:], r.stderr[-3000:])
    return r.stdout.decode()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("machine,dax0", MACHINES)
def test_sqlite3(machine, dax0, debian, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    (share / "work.sql").write_text(
        "create table t(a integer primary key, b text);\n"
        "begin;\n"
        "with recursive c(x) as (select 1 union all select x + 1 from c where x < 10000)\n"
        "  insert into t select x, 'row ' || x from c;\n"
        "commit;\n"
        "select count(*), sum(a), max(b) from t where a % 7 = 0;\n")
    out = run(machine, dax0, debian, share, "/usr/bin/sqlite3", "/mnt/t.db", ".read /mnt/work.sql")
    sevens = range(7, 10001, 7)
    assert out.strip() == f"{len(sevens)}|{sum(sevens)}|row 9996", out
    db = sqlite3.connect(share / "t.db")
    assert db.execute("select count(*), sum(a) from t").fetchone() == (10000, 50005000)
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    db.close()


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("machine,dax0", MACHINES)
def test_xz_round_trip(machine, dax0, debian, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    # Compressible but not trivially: lines of counters and words.
    words = [b"pier", b"unikernel", b"virtio", b"dax", b"window", b"debian", b"fuse"]
    with open(share / "data", "wb") as f:
        i, size = 0, 0
        while size < 10 << 20:
            line = b"%08d %s %s\n" % (i, words[i % 7], words[(i * 5) % 7] * (i % 5))
            f.write(line)
            size += len(line)
            i += 1
    original = (share / "data").read_bytes()
    run(machine, dax0, debian, share, "/usr/bin/xz", "-9", "-T1", "/mnt/data", mem="1G",
        timeout=1200)
    assert not (share / "data").exists()  # xz replaces it, as on the host
    packed = (share / "data.xz").read_bytes()
    assert lzma.decompress(packed) == original
    run(machine, dax0, debian, share, "/usr/bin/xz", "-d", "/mnt/data.xz", mem="1G")
    assert (share / "data").read_bytes() == original


@pytest.mark.timeout(900)
@pytest.mark.parametrize("machine,dax0", MACHINES)
def test_fio_reads(machine, dax0, debian, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    with open(share / "file", "wb") as f:
        f.truncate(1 << 30)  # 1 GiB; its holes read as zeros, quickly
    jobs = [("seq", "read", "128k", 1 << 30), ("rand", "randread", "4k", 32 << 20)]
    for name, rw, bs, io_size in jobs:
        out = run(machine, dax0, debian, share, "/usr/bin/fio", f"--name={name}", "--thread",
                  "--ioengine=psync", f"--rw={rw}", f"--bs={bs}", "--size=1g",
                  f"--io_size={io_size}", "--filename=/mnt/file", "--output-format=json")
        report = json.loads(out[out.index("{"):])
        job = report["jobs"][0]
        assert job["error"] == 0, job
        assert job["read"]["io_bytes"] == io_size, (name, job["read"])
        assert job["write"]["io_bytes"] == 0


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_the_terminal_has_a_name(machine, debian):
    """With a terminal (-t) the streams are /dev/console, which ttyname()
    finds (tty, Python's os.ttyname), and /dev/tty opens it; without one,
    `tty` says so and /dev/tty is ENXIO, as without a controlling terminal."""
    script = ("tty; python3 -c 'import os; print(os.ttyname(1))'; echo via-tty > /dev/tty; "
              "stat -c '%F %t:%T' /dev/tty /dev/console")
    r = subprocess.run([PIER, "run", *vmm_args(machine), "-t", "--root", debian, "--ro",
                        "--", "/bin/sh", "-c", script], capture_output=True, text=True,
                       timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.replace("\r\n", "\n") == (
        "/dev/console\n/dev/console\nvia-tty\ncharacter special file 5:0\n"
        "character special file 5:1\n"), r.stdout
    r = subprocess.run([PIER, "run", *vmm_args(machine), "--root", debian, "--ro", "--",
                        "/bin/sh", "-c", "tty; echo $?; echo x > /dev/tty"],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.stdout == "not a tty\n1\n", r.stdout
    assert r.returncode == 2 and "No such device or address" in r.stderr, r.stderr
