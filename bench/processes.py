#!/usr/bin/python3
"""Starting programs (issue 18): fork + execve + exit + wait of a static and
of a dynamic program per second, and a three-program shell pipeline's run
time, measured inside each place by bench/progs/spawn.c:

  host          spawn on the host itself (the floor); the dynamic program
                is the host's /usr/bin/true (Debian 12, as the root's)
  pier-qemu     pier run --vmm qemu (microvm), the cached Debian root
  linux-qemu    a Linux guest on the same QEMU: Debian's kernel, the root
                over virtio-fs (virtiofsd, cache=auto), spawn --chroot
  pier-dax      pier run --vmm pier, DAX window on (needs /dev/kvm; run
  pier-nodax    inside tools/kvm-nest here), and with --dax 0

The static program is spawn itself (exec'd through a descriptor, --exit:
it returns at once); the dynamic one /usr/bin/true from the root; the
pipeline `sh -c 'seq 1 20000 | grep 7 | wc -l'` (dash). Each figure is the
median of --runs rounds, each round COUNT cycles timed in the place
itself (CLOCK_MONOTONIC there), so boot times are not in them.

Compare rows of one accelerator only (TCG here, nested for pier's VMM);
`--json FILE` writes the figures."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

from common import debian_root, kvm_usable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PIER = os.path.join(ROOT, "build", "pier")
SPAWN = os.path.join(ROOT, "build", "bench", "spawn")
PIPELINE = "seq 1 20000 | grep 7 | wc -l >/dev/null"
# name -> (cycles per round, spawn's arguments after the count)
WORKLOADS = {"static": (100, ["self"]),
             "dynamic": (50, ["/usr/bin/true"]),
             "pipeline": (5, ["/bin/sh", "-c", PIPELINE])}


def parse(out):
    """(cycles, seconds) of each SPAWN line."""
    return [(int(n), int(ns) / 1e9) for n, ns in re.findall(r"SPAWN (\d+) (\d+)", out)]


def figures(rounds):
    """Per workload, from [(cycles, seconds)] of its rounds: per second for
    the programs, seconds per run for the pipeline (medians)."""
    per = [s / n for n, s in rounds]
    return {"per_s": 1 / statistics.median(per), "each_ms": statistics.median(per) * 1000,
            "min_ms": min(per) * 1000, "max_ms": max(per) * 1000}


def host_run(runs):
    out = {}
    for name, (count, args) in WORKLOADS.items():
        rounds = []
        for _ in range(runs):
            r = subprocess.run([SPAWN, str(count), *args], capture_output=True, text=True,
                               check=True, stdin=subprocess.DEVNULL)
            rounds += parse(r.stdout)
        out[name] = figures(rounds)
    return out


def pier_run(root, runs, vmm_args):
    """One VM per workload, all its rounds in it (spawn from a share)."""
    out = {}
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(SPAWN, os.path.join(d, "spawn"))
        for name, (count, args) in WORKLOADS.items():
            script = "; ".join(f"/mnt/spawn {count} " + " ".join(
                f"'{a}'" for a in args) for _ in range(runs))
            r = subprocess.run([PIER, "run", *vmm_args, "--mem", "512M", "--timeout", "1200",
                                "--root", root, "--ro", "--share", f"b={d}",
                                "-o", "mount=b:/mnt", "--", "/bin/sh", "-c", script],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL,
                               timeout=1300)
            rounds = parse(r.stdout)
            if r.returncode != 0 or len(rounds) != runs:
                raise RuntimeError(f"{vmm_args} {name}: status {r.returncode}: "
                                   f"{r.stdout[-500:]} {r.stderr[-2000:]}")
            out[name] = figures(rounds)
    return out


def linux_run(root, runs):
    """The Linux guest: every round of every workload in one boot."""
    sys.path.insert(0, HERE)
    import linux_guest
    jobs = [[name] for name in WORKLOADS for _ in range(runs)]
    cases = "".join(f"{name}) /bin/spawn --chroot /data {count} " +
                    " ".join(f"'{a}'" for a in args) + " ;;\n"
                    for name, (count, args) in WORKLOADS.items())
    runner = "#!/bin/sh\ncase \"$1\" in\n" + cases + "esac\n"
    with tempfile.TemporaryDirectory() as wd:
        outs, _ = linux_guest.run("virtiofs-auto", root, jobs, wd, runner=runner, bins=[SPAWN])
    result = {}
    for name in WORKLOADS:
        rounds = [r for j, o in zip(jobs, outs) if j[0] == name for r in parse(o)]
        if len(rounds) != runs:
            raise RuntimeError(f"linux-qemu {name}: {[o[-300:] for o in outs]}")
        result[name] = figures(rounds)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="host,pier-qemu,linux-qemu,pier-dax,pier-nodax")
    ap.add_argument("--json")
    a = ap.parse_args()
    if not os.path.exists(SPAWN):
        sys.exit(f"{SPAWN} missing: run make bench-progs")
    root = debian_root()
    want = a.only.split(",")
    results = {}
    if "host" in want:
        results["host"] = host_run(a.runs)
    if "pier-qemu" in want:
        results["pier-qemu"] = pier_run(root, a.runs, ["--vmm", "qemu", "--machine", "microvm"])
    if "linux-qemu" in want:
        results["linux-qemu"] = linux_run(root, a.runs)
    for cfg, dax in (("pier-dax", []), ("pier-nodax", ["--dax", "0"])):
        if cfg in want and kvm_usable():
            results[cfg] = pier_run(root, a.runs, ["--vmm", "pier", *dax])
    for cfg, rows in results.items():
        for name, f in rows.items():
            what = (f"{f['each_ms']:9.1f} ms a run" if name == "pipeline"
                    else f"{f['per_s']:9.1f} per s ")
            print(f"{cfg:12} {name:9} {what}  (each {f['each_ms']:.2f} ms, "
                  f"min {f['min_ms']:.2f}, max {f['max_ms']:.2f})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
