#!/usr/bin/python3
"""Start-up of Debian's own programs (issues 17 and 22), split as the
thesis split it: the VMM and kernel's boot, the root's mount, and the
program from its start to its first output and to its exit. The programs,
from the cached Debian root (tools/debian-root.sh) with Debian's JVM
added (its --with root): `python3 -c pass`, a python3 importing 50
standard modules (then printing a line), `fio --version` and `java
-version` (OpenJDK 17). Every one runs with a /proc, which the JVM's
launcher needs to find its own libraries. Configurations, by level (each with its own baseline):

  host level (QEMU TCG here)
    host              ROOT as root, its own /proc (unshare -R --mount-proc):
                      native, the floor
    pier-qemu         pier run --vmm qemu (microvm), the root over virtio-fs
    pier-qemu-initrd  the same, the root an initrd (python3 and its library)
    linux-qemu        a Linux guest on the same QEMU: Debian's kernel, the
                      root over virtio-fs (virtiofsd, cache=auto), chroot
  nested level (pier's VMM needs /dev/kvm: inside tools/kvm-nest here)
    host-nested       the same in the nested Linux
    pier-dax          pier run --vmm pier, DAX window on
    pier-nodax        and with --dax 0
    pier-dax-initrd   from the initrd
    linux-pier-dax    Linux on pier's VMM, the root over its virtio-fs with
                      the DAX window (-o dax=always), chroot

Pier's split comes from --timing (kmain, root-mounted, program,
first-output, guest-exit); the Linux guest's boot is its launch to its
init's root mounted, and its program time `date` before and after the
chroot, in the guest (the same for both Linux configurations). Medians of
--runs, with min-max. Counts that carry over to real hardware: FUSE
requests per run (the guest's log). With --memory (pier VMM only): host
memory of 10 VMs running python3 at once from one root, DAX on and off:
the pier processes' summed PSS and RSS while all ten are up.

  bench/startup.py [--runs N] [--only A,B] [--memory] [--json F] [--md F]

Compare rows of one level only."""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

from common import DAX_WINDOW, by_level, debian_root, run_nested
import dataset

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PIER = os.path.join(ROOT, "build", "pier")
# 50 standard modules, as an application's start would import them.
MODULES = ("os sys re json collections itertools functools datetime time math random "
           "hashlib base64 struct io pathlib tempfile shutil subprocess threading queue "
           "logging argparse textwrap string decimal fractions statistics heapq bisect copy "
           "pickle csv configparser zlib gzip bz2 lzma tarfile zipfile socket selectors uuid "
           "enum typing dataclasses contextlib inspect traceback sqlite3").split()
assert len(MODULES) == 50
PROGRAMS = {"python3 -c pass": ["/usr/bin/python3", "-c", "pass"],
            "python3 50 imports": ["/usr/bin/python3", "-c",
                                   f"import {', '.join(MODULES)}; print('imported')"],
            "fio --version": ["/usr/bin/fio", "--version"],
            # Its own path: /usr/bin/java is a link through /etc/alternatives.
            "java -version": ["/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-version"]}
JVM = "openjdk-17-jre-headless"
# What the initrd holds (the initrd configurations run only these).
INITRD_PROGRAMS = ("python3 -c pass", "python3 50 imports")
LEVELS = {"host": ["host", "pier-qemu", "pier-qemu-initrd", "linux-qemu"],
          "nested": ["host-nested", "pier-dax", "pier-nodax", "pier-dax-initrd",
                     "linux-pier-dax"]}
ALL = LEVELS["host"] + LEVELS["nested"]
PIER_ARGS = {"pier-qemu": ["--vmm", "qemu", "--machine", "microvm"],
             "pier-qemu-initrd": ["--vmm", "qemu", "--machine", "microvm"],
             # The window Linux on pier's VMM has too.
             "pier-dax": ["--vmm", "pier", "--dax", DAX_WINDOW],
             "pier-dax-initrd": ["--vmm", "pier", "--dax", DAX_WINDOW],
             "pier-nodax": ["--vmm", "pier", "--dax", "0"]}
LINUX_MODE = {"linux-qemu": "virtiofs-auto", "linux-pier-dax": "pier-dax"}


def spread(values):
    return {"median": statistics.median(values), "lo": min(values), "hi": max(values)}


def host_run(root, argv, runs):
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run(["unshare", "--mount", "--root", root, "--mount-proc", *argv],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL)
        times.append(time.monotonic() - t0)
    return {"program_ms": spread([t * 1000 for t in times])}


def pier_run(root, argv, runs, vmm_args, initrd=None):
    """runs of pier run: its --timing milestones (ms from pier's start)
    become the split, and the guest's log its FUSE requests."""
    split = {k: [] for k in ("boot_ms", "mount_ms", "to_output_ms", "program_ms", "whole_ms")}
    requests = []
    src = ["--initrd", initrd, "--mem", "1G"] if initrd else ["--root", root, "--ro"]
    for _ in range(runs):
        with tempfile.NamedTemporaryFile(suffix=".log") as log:
            t0 = time.monotonic()
            r = subprocess.run([PIER, "run", *vmm_args, "--timing", "--log", log.name, *src,
                                "--", *argv], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=600)
            wall = (time.monotonic() - t0) * 1000
            if r.returncode != 0:
                raise RuntimeError(f"{argv}: status {r.returncode}: {r.stderr[-2000:]}")
            ms = {k: float(v) for k, v in re.findall(r"^\s+(\S+)\s+([\d.]+) ms$", r.stderr, re.M)}
            split["boot_ms"].append(ms["kmain"])
            split["mount_ms"].append(ms["root-mounted"] - ms["kmain"])
            split["program_ms"].append(ms["guest-exit"] - ms["program"])
            if "first-output" in ms:
                split["to_output_ms"].append(ms["first-output"] - ms["program"])
            split["whole_ms"].append(wall)
            m = re.search(r"virtiofs 'root': unmounted: (\d+) requests", open(log.name).read())
            if m:
                requests.append(int(m.group(1)))
    out = {k: spread(v) for k, v in split.items() if v}
    if requests:
        out["fuse_requests"] = statistics.median(requests)
    return out


def linux_run(root, runs, mode):
    """Every program, `runs` times each, in one boot of the Linux guest."""
    import linux_guest
    names = {name: f"p{i}" for i, name in enumerate(PROGRAMS)}
    jobs = [[names[name]] for name in PROGRAMS for _ in range(runs)]
    cases = "".join(f"{key}) set -- {' '.join(_sh(a) for a in PROGRAMS[name])} ;;\n"
                    for name, key in names.items())
    runner = ("#!/bin/sh\n"
              "[ -d /data/proc/self ] || mount -t proc proc /data/proc\n"
              f"case \"$1\" in\n{cases}esac\n"
              # busybox's date has no %N: the root's own date, whose
              # start-up inside the window is measured with true and
              # taken off.
              "ns() { chroot /data /bin/date +%s%N; }\n"
              "t0=$(ns); chroot /data /bin/true; t1=$(ns)\n"
              "chroot /data \"$@\" >/dev/null 2>&1 || echo \"STARTUP-FAIL $?\"; t2=$(ns)\n"
              "echo \"STARTUP-NS $((t2 - t1 - (t1 - t0)))\"\n")
    with tempfile.TemporaryDirectory() as wd:
        outs, info = linux_guest.run(mode, root, jobs, wd, runner=runner)
    result = {}
    for j, o in zip(jobs, outs):
        if "STARTUP-FAIL" in o:
            raise RuntimeError(f"{mode}: {j[0]} failed: {o[-500:]}")
    for name, key in names.items():
        ns = [int(re.search(r"STARTUP-NS (-?\d+)", o).group(1))
              for j, o in zip(jobs, outs) if j[0] == key]
        result[name] = {"program_ms": spread([n / 1e6 for n in ns]),
                        "boot_ms": spread([info["boot_s"] * 1000])}
    return result


def _sh(word):
    return "'" + word.replace("'", "'\\''") + "'"


def make_initrd(root, path):
    """A cpio of python3 with its standard library and every library its
    modules load, at their paths in the Debian root."""
    dynload = os.path.join(root, "usr/lib/python3.11/lib-dynload")
    with tempfile.TemporaryDirectory() as d:
        dataset.copy_from_debian(d, ["/usr/bin/python3"] + [
            "/usr/lib/python3.11/lib-dynload/" + f for f in sorted(os.listdir(dynload))],
            trees=["/usr/lib/python3.11"], root=root)
        subprocess.run(f"find . | cpio -o -H newc --quiet > {path}", shell=True, cwd=d,
                       check=True)


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


def measure(cfgs, root, runs, initrd):
    """{config: {program: figures}} for the configurations of one level
    that run here."""
    figures = {}
    for cfg in cfgs:
        if cfg in LINUX_MODE:
            figures[cfg] = linux_run(root, runs, LINUX_MODE[cfg])
            continue
        for name, argv in PROGRAMS.items():
            if cfg in ("host", "host-nested"):
                figures.setdefault(cfg, {})[name] = host_run(root, argv, runs)
            elif cfg.endswith("-initrd") and name in INITRD_PROGRAMS:
                figures.setdefault(cfg, {})[name] = pier_run(root, argv, runs, PIER_ARGS[cfg],
                                                             initrd)
            elif not cfg.endswith("-initrd"):
                figures.setdefault(cfg, {})[name] = pier_run(root, argv, runs, PIER_ARGS[cfg])
    return figures


def nested(cfgs, runs, initrd, memory):
    """The nested level: here with /dev/kvm, else inside tools/kvm-nest."""
    return run_nested(__file__, ["--runs", str(runs), "--only", ",".join(cfgs), "--initrd",
                                 initrd] + (["--memory"] if memory else []), 6144)


def cell(f, key):
    v = f.get(key)
    if not v:
        return "-"
    return f"{v['median']:,.1f}" + ("" if v["lo"] == v["hi"] else
                                    f" ({v['lo']:,.1f}-{v['hi']:,.1f})")


def markdown(figures, runs):
    L = ["# Start-up of Debian's programs", "",
         f"`bench/startup.py --runs {runs}`: medians of {runs} runs (min-max), in ms. "
         "boot: launch to the kernel's first C (Pier's `kmain`), or to the Linux guest's "
         "init with its root mounted; mount: Pier's root mount; to output: program start "
         "to its first byte on stdout or stderr; program: program start to its exit; whole: "
         "the whole `pier run`. ratio: the program's time to its level's host baseline. "
         "FUSE: requests in the run (Pier's guest log). Compare within a level only: the "
         "host level runs under QEMU TCG here, the nested one inside tools/kvm-nest.", ""]
    for level, cfgs in LEVELS.items():
        if not any(c in figures for c in cfgs):
            continue
        base = figures.get(cfgs[0], {})
        L += [f"## {level} level", "",
              "| configuration | program | boot | mount | to output | program | ratio | whole | FUSE |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for cfg in cfgs:
            for name, f in figures.get(cfg, {}).items():
                b = (base.get(name) or {}).get("program_ms")
                r = f"{f['program_ms']['median'] / b['median']:.1f}x" if b else "-"
                req = f"{f['fuse_requests']:,.0f}" if "fuse_requests" in f else "-"
                L.append(f"| {cfg} | `{name}` | {cell(f, 'boot_ms')} | {cell(f, 'mount_ms')} | "
                         f"{cell(f, 'to_output_ms')} | {cell(f, 'program_ms')} | {r} | "
                         f"{cell(f, 'whole_ms')} | {req} |")
        L.append("")
    mem = figures.get("memory-10-python3")
    if mem:
        L += ["## Memory: 10 VMs running python3 from one root (pier's VMM)", "",
              "| window | PSS | RSS |", "|---|---:|---:|"]
        L += [f"| {k} | {v['pss_mib']:,.1f} MiB | {v['rss_mib']:,.1f} MiB |"
              for k, v in mem.items()]
        L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default=",".join(ALL))
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--initrd", help=argparse.SUPPRESS)
    a = ap.parse_args()
    want = [c for c in a.only.split(",") if c]
    if set(want) - set(ALL):
        ap.error(f"unknown configurations {sorted(set(want) - set(ALL))}; known: {ALL}")
    root = debian_root(JVM)
    if a.inner:
        figures = measure(want, root, a.runs, a.initrd)
        if a.memory:
            figures["memory-10-python3"] = {"dax": memory_of_ten(root, []),
                                            "nodax": memory_of_ten(root, ["--dax", "0"])}
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=1)
        return
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    initrd = os.path.join(ROOT, "build", "startup-python3.cpio")
    if any(c.endswith("-initrd") for c in want):
        make_initrd(root, initrd)
    host_cfgs, nest_cfgs = by_level(LEVELS, want)
    figures = measure(host_cfgs, root, a.runs, initrd)
    if nest_cfgs or a.memory:
        figures.update(nested(nest_cfgs, a.runs, initrd, a.memory))
    md = markdown(figures, a.runs)
    print(md)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=1)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)


if __name__ == "__main__":
    main()
