"""Issue 7: the benchmark harness (bench/run) end to end on its tiny
scale, so it cannot rot: the data set, the host baseline and a Pier
configuration, the raw results, the report with its ratios, the plots."""
import json
import os
import subprocess

from conftest import ROOT

RUN = os.path.join(ROOT, "bench", "run")


def test_tiny_run_writes_results_report_and_plots(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([RUN, "--tiny", "--configs", "host,pier-qemu-microvm", "--out", str(out),
                        "--no-readme"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads((out / "results.json").read_text())
    recs = doc["records"]
    assert doc["meta"]["scale"] == "tiny" and doc["meta"]["qemu"].startswith("QEMU")
    works = {r["workload"] for r in recs}
    for w in ("seq-big", "seq-big-mmap", "seq-ten", "rand-4k", "stat-tree", "openread-4k",
              "walk-tree", "start-tiny", "start-big", "start-tiny-initrd"):
        assert w in works, w
    for w in works - {"start-tiny", "start-big", "start-tiny-initrd"}:
        got = {r["config"]: r for r in recs if r["workload"] == w}
        assert set(got) == {"host", "pier-qemu-microvm"}, (w, got.keys())
        assert got["host"]["seconds"] > 0 and got["pier-qemu-microvm"]["cpu_s"] > 0
        # The same bytes on the host and in the guest.
        if got["host"].get("check") is not None:
            assert got["host"]["check"] == got["pier-qemu-microvm"]["check"], w
    md = (out / "report.md").read_text()
    assert "checksums agree" in md
    assert "| pier-qemu-microvm |" in md and "| host | " in md and "1.00x" in md
    assert "DAX vs FUSE_READ, sequential | 6.5x" in md
    for png in ("throughput.png", "startup.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
