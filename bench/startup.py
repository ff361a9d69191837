#!/usr/bin/python3
"""Start-up of Debian's own programs (issue 17): `python3 -c pass` and
`fio --version` from the cached Debian root (tools/debian-root.sh), run

  host          chroot ROOT PROGRAM (native: the floor)
  pier-qemu     pier run --vmm qemu (microvm; TCG here, KVM where it works)
  linux-qemu    a Linux guest on the same QEMU: Debian's kernel, the root
                over virtio-fs (virtiofsd, cache=auto), chroot PROGRAM
  pier-dax      pier run --vmm pier, DAX window on (needs /dev/kvm; run
  pier-nodax    inside tools/kvm-nest here), and with --dax 0

Times: the program's own run (pier: its "program" milestone to the
guest's exit, from --timing; Linux guest: date before and after the
chroot, in the guest), median of --runs, plus pier's whole `pier run`
(boot included). Counts that carry over to real hardware: FUSE requests
per run (the guest's log). With --memory (pier VMM only): host memory of
10 VMs running python3 at once from one root, DAX on and off: the pier
processes' summed PSS and RSS while all ten are up.

Compare rows of one accelerator only; `--json FILE` writes the figures."""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

from common import debian_root, kvm_usable
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PIER = os.path.join(ROOT, "build", "pier")
PROGRAMS = {"python3 -c pass": ["/usr/bin/python3", "-c", "pass"],
            "fio --version": ["/usr/bin/fio", "--version"]}


def host_run(root, argv, runs):
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run(["chroot", root, *argv], check=True, stdout=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL)
        times.append(time.monotonic() - t0)
    return {"program_s": statistics.median(times)}


def pier_run(root, argv, runs, vmm_args):
    prog, whole, requests = [], [], []
    for _ in range(runs):
        with tempfile.NamedTemporaryFile(suffix=".log") as log:
            t0 = time.monotonic()
            r = subprocess.run([PIER, "run", *vmm_args, "--timing", "--log", log.name,
                                "--root", root, "--ro", "--", *argv], capture_output=True,
                               text=True, stdin=subprocess.DEVNULL, timeout=600)
            whole.append(time.monotonic() - t0)
            if r.returncode != 0:
                raise RuntimeError(f"{argv}: status {r.returncode}: {r.stderr[-2000:]}")
            ms = dict(re.findall(r"^\s+(\S+)\s+([\d.]+) ms$", r.stderr, re.M))
            prog.append((float(ms["guest-exit"]) - float(ms["program"])) / 1000)
            m = re.search(r"virtiofs 'root': unmounted: (\d+) requests", open(log.name).read())
            requests.append(int(m.group(1)) if m else -1)
    return {"program_s": statistics.median(prog), "whole_s": statistics.median(whole),
            "fuse_requests": statistics.median(requests)}


def linux_run(root, runs):
    """Both programs, `runs` times each, in one boot of the Linux guest."""
    sys.path.insert(0, HERE)
    import linux_guest
    jobs = [[name.replace(" ", "_")] for name in PROGRAMS for _ in range(runs)]
    runner = ("#!/bin/sh\n"
              "case \"$1\" in\n"
              "python3_-c_pass) set -- /usr/bin/python3 -c pass ;;\n"
              "fio_--version) set -- /usr/bin/fio --version ;;\n"
              "esac\n"
              # busybox's date has no %N: the root's own date, whose
              # start-up inside the window is measured with true and
              # taken off.
              "ns() { chroot /data /bin/date +%s%N; }\n"
              "t0=$(ns); chroot /data /bin/true; t1=$(ns)\n"
              "chroot /data \"$@\" >/dev/null; t2=$(ns)\n"
              "echo \"STARTUP-NS $((t2 - t1 - (t1 - t0)))\"\n")
    with tempfile.TemporaryDirectory() as wd:
        outs, _ = linux_guest.run("virtiofs-auto", root, jobs, wd, runner=runner)
    result = {}
    for name in PROGRAMS:
        key = name.replace(" ", "_")
        ns = [int(re.search(r"STARTUP-NS (\d+)", o).group(1))
              for j, o in zip(jobs, outs) if j[0] == key]
        result[name] = {"program_s": statistics.median(ns) / 1e9}
    return result


def pss_rss_kib(pids):
    pss = rss = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except OSError:
            pass
    return pss, rss


def memory_of_ten(root, dax_args):
    """10 pier VMs running python3 (importing a few modules, then sleeping)
    at once: their summed PSS and RSS once every one is asleep."""
    script = "import json, hashlib, zlib, time; print('up', flush=True); time.sleep(30)"
    procs = [subprocess.Popen([PIER, "run", "--vmm", "pier", "--mem", "256M", *dax_args,
                               "--root", root, "--ro", "--", "/usr/bin/python3", "-c", script],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(10)]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "up":
                raise RuntimeError("a VM did not start python3")
        pss, rss = pss_rss_kib([p.pid for p in procs])
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return {"pss_mib": pss / 1024, "rss_mib": rss / 1024}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="host,pier-qemu,linux-qemu,pier-dax,pier-nodax")
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    root = debian_root()
    want = a.only.split(",")
    figures = {}
    for name, argv in PROGRAMS.items():
        if "host" in want:
            figures.setdefault("host", {})[name] = host_run(root, argv, a.runs)
        if "pier-qemu" in want:
            figures.setdefault("pier-qemu", {})[name] = pier_run(
                root, argv, a.runs, ["--vmm", "qemu", "--machine", "microvm"])
        for cfg, dax in (("pier-dax", []), ("pier-nodax", ["--dax", "0"])):
            if cfg in want and kvm_usable():
                figures.setdefault(cfg, {})[name] = pier_run(root, argv, a.runs,
                                                             ["--vmm", "pier", *dax])
    if "linux-qemu" in want:
        figures["linux-qemu"] = linux_run(root, a.runs)
    if a.memory and kvm_usable():
        figures["memory-10-python3"] = {"dax": memory_of_ten(root, []),
                                        "nodax": memory_of_ten(root, ["--dax", "0"])}
    for cfg, rows in figures.items():
        if cfg.startswith("memory"):
            for k, v in rows.items():
                print(f"{cfg:18} {k:7} PSS {v['pss_mib']:8.1f} MiB  RSS {v['rss_mib']:8.1f} MiB")
            continue
        for name, f in rows.items():
            extra = ""
            if "whole_s" in f:
                extra = f"  whole run {f['whole_s'] * 1000:8.1f} ms  FUSE requests {f['fuse_requests']:.0f}"
            print(f"{cfg:12} {name:16} program {f['program_s'] * 1000:8.1f} ms{extra}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
