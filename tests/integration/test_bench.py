"""Issues 7 and 8: the benchmark harness (bench/run) end to end on its
tiny scale, so it cannot rot: the data set, the host baseline and a Pier
configuration, the read and write workloads, the raw results, the report
with its ratios and its failed jobs, the plots; and fsbench's write
workloads refusing a file that is not what they wrote."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

RUN = os.path.join(ROOT, "bench", "run")
FSBENCH = os.path.join(ROOT, "build", "bench", "fsbench")
READS = ("seq-big", "seq-big-mmap", "seq-ten", "rand-4k", "stat-tree", "openread-4k",
         "walk-tree")
WRITES = ("seqwrite-big", "randwrite-4k", "create-4k", "unlink-4k")
STARTS = ("start-tiny", "start-big", "start-tiny-initrd")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny run on the host and Pier on QEMU microvm: (out dir, document)."""
    out = tmp_path_factory.mktemp("bench") / "out"
    p = subprocess.run([RUN, "--tiny", "--configs", "host,pier-qemu-microvm", "--out", str(out),
                        "--no-readme"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return out, json.loads((out / "results.json").read_text())


def by_config(recs, work):
    return {r["config"]: r for r in recs if r["workload"] == work}


def test_tiny_run_writes_results_report_and_plots(tiny):
    out, doc = tiny
    recs = doc["records"]
    assert doc["meta"]["scale"] == "tiny" and doc["meta"]["qemu"].startswith("QEMU")
    works = {r["workload"] for r in recs}
    for w in READS + WRITES + STARTS:
        assert w in works, w
    for w in READS:
        got = by_config(recs, w)
        assert set(got) == {"host", "pier-qemu-microvm"}, (w, got.keys())
        assert not any(r.get("error") for r in got.values()), (w, got)
        assert got["host"]["seconds"] > 0 and got["pier-qemu-microvm"]["cpu_s"] > 0
        # The same bytes on the host and in the guest.
        if got["host"].get("check") is not None:
            assert got["host"]["check"] == got["pier-qemu-microvm"]["check"], w
    md = (out / "report.md").read_text()
    assert "| pier-qemu-microvm |" in md and "| host | " in md and "1.00x" in md
    assert "DAX vs FUSE_READ, sequential | 6.5x" in md
    assert "none: the thesis's virtio-fs was read-only" in md
    for png in ("throughput.png", "startup.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


def test_tiny_run_writes_in_the_guest_as_on_the_host(tiny):
    """Issue 8: the same writes, verified on the host, in both places."""
    out, doc = tiny
    recs = doc["records"]
    for w in WRITES:
        got = by_config(recs, w)
        assert set(got) == {"host", "pier-qemu-microvm"}, (w, got.keys())
        for cfg, r in got.items():
            assert not r.get("error"), (w, cfg, r.get("error"), r.get("log"))
            assert r["seconds"] > 0 and (r.get("bytes") or r.get("files")) > 0, (w, cfg)
        if w != "unlink-4k":
            assert got["host"]["check"] == got["pier-qemu-microvm"]["check"], w
    md = (out / "report.md").read_text()
    assert "checksums agree" in md and "Failed jobs" not in md
    assert (out / "writes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_names_a_failed_job_and_goes_on(tiny, tmp_path):
    """A job that failed is a row saying so and a line saying why, and the
    report (plots too) is still written."""
    out, doc = tiny
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import report  # noqa: E402  (bench/ is not a package)
    recs = [dict(r) for r in doc["records"]
            if not (r["workload"] == "seqwrite-big" and r["config"] == "pier-qemu-microvm")]
    recs.append({"config": "pier-qemu-microvm", "level": "host", "workload": "seqwrite-big",
                 "kind": "seq", "repeat": 0, "error": "exit 1: fsbench: /w/seqwrite: "
                 "Read-only file system"})
    md = open(report.write(str(tmp_path), doc["meta"], recs)).read()
    assert "| pier-qemu-microvm (1 of 1 failed) | failed |" in md
    assert "- `pier-qemu-microvm` seqwrite-big: 1 of 1 passes failed: exit 1: fsbench: " \
           "/w/seqwrite: Read-only file system" in md
    assert (tmp_path / "throughput.png").exists()


def test_fsbench_write_checks_refuse_other_bytes(tmp_path):
    """fsbench --verify (the host's check of a guest's writes) fails on a
    file that differs from what the workload wrote by one byte."""
    f = tmp_path / "seqwrite"
    size = str(1 << 20)
    p = subprocess.run([FSBENCH, "seqwrite", "--size", size, str(f)], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    wrote = json.loads(p.stdout)
    p = subprocess.run([FSBENCH, "seqwrite", "--verify", "--size", size, str(f)],
                       capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["check"] == wrote["check"], p.stderr
    with open(f, "r+b") as fh:
        fh.seek(300000)
        b = fh.read(1)
        fh.seek(300000)
        fh.write(bytes([b[0] ^ 1]))
    p = subprocess.run([FSBENCH, "seqwrite", "--verify", "--size", size, str(f)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "is not what was written" in p.stderr

    r = tmp_path / "randwrite"
    r.write_bytes(bytes(1 << 20))
    p = subprocess.run([FSBENCH, "randwrite", "--count", "100", str(r)], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([FSBENCH, "randwrite", "--verify", "--count", "101", str(r)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "is not write" in p.stderr

    d = tmp_path / "create"
    p = subprocess.run([FSBENCH, "create", "--count", "10", str(d)], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    ops = [json.loads(ln)["op"] for ln in p.stdout.splitlines()]
    assert ops == ["create", "unlink"] and not d.exists()
