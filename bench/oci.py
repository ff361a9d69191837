#!/usr/bin/python3
"""Containers (issue 19): `podman run --rm IMAGE CMD` with runc and with
pier-oci, and what the difference is made of.

  runc       podman's usual runtime: the program runs on the host
  pier-oci   the same image in a Pier VM (pier's VMM with /dev/kvm, else
             QEMU microvm); `pier.vmm` picks it here, as a user would

Workloads: `true`, and a python3 one-liner; each also as `podman exec` into
a running container (`sleep`), where no VM boots: the runtime's exec, the
request over the container's exec socket and the program's start. The image is the cached Debian
root, imported (tar | podman import). Each figure is the median of --runs
passes with its min-max, wall time of the whole podman command.

The breakdown runs the same programs with `pier run --timing` on the same
root: VMM start to kernel (host part of the boot), kernel to root mounted,
root to program start, the program, and its end to pier's exit. What is
left of pier-oci's time after that is podman, conmon and the runtime's own
create/start (runc's total is that floor plus runc's own work).

`--json FILE` writes the figures; `--md FILE` a table."""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from common import debian_root, kvm_usable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PIER = os.path.join(ROOT, "build", "pier")
PIER_OCI = os.path.join(ROOT, "build", "pier-oci")
WORKLOADS = {"true": ["true"],
             "python3": ["python3", "-c", "import sys; print(sys.version_info[0])"]}
STAGES = ["kmain", "root-mounted", "program", "guest-exit", "vmm-exit"]


def containers_conf(tmp):
    path = os.path.join(tmp, "containers.conf")
    with open(path, "w") as f:
        f.write('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                f'[engine.runtimes]\npier = ["{PIER_OCI}"]\n')
    return dict(os.environ, CONTAINERS_CONF=path)


def image(env, root):
    name = "localhost/pier-debian:" + os.path.basename(os.path.dirname(root))
    if subprocess.run(["podman", "image", "exists", name], env=env).returncode:
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["podman", "import", "-", name], stdin=tar.stdout, env=env, check=True,
                       capture_output=True)
        tar.wait()
    return name


def vmm():
    return "pier" if kvm_usable() else "qemu"


def podman_once(env, runtime, img, args):
    pin = [f"--annotation=pier.vmm={vmm()}"] if runtime == "pier" else []
    t = time.monotonic()
    p = subprocess.run(["podman", "--runtime", runtime, "run", "--rm", *pin, img, *args],
                       capture_output=True, text=True, env=env, timeout=600)
    s = time.monotonic() - t
    if p.returncode:
        sys.exit(f"podman --runtime {runtime} {args}: {p.returncode} {p.stderr}")
    return s


def exec_once(env, runtime, cid, args):
    t = time.monotonic()
    p = subprocess.run(["podman", "--runtime", runtime, "exec", cid, *args],
                       capture_output=True, text=True, env=env, timeout=600)
    s = time.monotonic() - t
    if p.returncode:
        sys.exit(f"podman --runtime {runtime} exec {args}: {p.returncode} {p.stderr}")
    return s


def exec_times(env, img, runs):
    """podman exec of each workload into a running container, per runtime."""
    out = {}
    for runtime in ("runc", "pier"):
        pin = [f"--annotation=pier.vmm={vmm()}"] if runtime == "pier" else []
        p = subprocess.run(["podman", "--runtime", runtime, "run", "-d", *pin, img, "sleep",
                            "3600"], capture_output=True, text=True, env=env, timeout=600)
        if p.returncode:
            sys.exit(f"podman run -d: {p.stderr}")
        cid = p.stdout.strip()
        try:
            for name, args in WORKLOADS.items():
                exec_once(env, runtime, cid, args)  # warm
                secs = [exec_once(env, runtime, cid, args) for _ in range(runs)]
                out.setdefault(name, {})[runtime] = stats([s * 1000 for s in secs])
        finally:
            subprocess.run(["podman", "rm", "-f", "-t", "0", cid], env=env,
                           capture_output=True)
    return out


def breakdown_once(root, args):
    """Milestones of `pier run --timing` (ms since pier started)."""
    p = subprocess.run([PIER, "run", "--timing", "--vmm", vmm(), "--root", root, "--ro",
                        "--env", "PATH=/usr/local/bin:/usr/bin:/bin", "--", *args],
                       capture_output=True, text=True, timeout=600)
    ms = dict((m, float(v)) for m, v in re.findall(r"^\s+(\S+)\s+([\d.]+) ms$", p.stderr,
                                                   re.M))
    if p.returncode or any(s not in ms for s in STAGES):
        sys.exit(f"pier run --timing {args}: {p.returncode} {p.stderr}")
    return ms


def stats(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--md")
    a = ap.parse_args()
    root = debian_root()
    with tempfile.TemporaryDirectory() as tmp:
        env = containers_conf(tmp)
        img = image(env, root)
        doc = {"vmm": vmm(), "runs": a.runs, "podman": {}, "breakdown": {}}
        for name, args in WORKLOADS.items():
            for runtime in ("runc", "pier"):
                podman_once(env, runtime, img, args)  # warm the caches once
                secs = [podman_once(env, runtime, img, args) for _ in range(a.runs)]
                doc["podman"].setdefault(name, {})[runtime] = stats([s * 1000 for s in secs])
            runs = [breakdown_once(root, args) for _ in range(a.runs)]
            prev, parts = 0.0, {}
            for s in STAGES:
                parts[s] = statistics.median(r[s] for r in runs) - prev
                prev = statistics.median(r[s] for r in runs)
            doc["breakdown"][name] = {"pier_run_ms": prev, "parts_ms": parts}
        doc["exec"] = exec_times(env, img, a.runs)
    lines = [f"podman run --rm, {a.runs} runs, pier-oci on {doc['vmm']} (ms: median, min-max)",
             "", "| workload | runc | pier-oci | difference | pier run alone | "
             "podman+conmon+runtime around it |", "|---|---:|---:|---:|---:|---:|"]
    for name in WORKLOADS:
        r, p = doc["podman"][name]["runc"], doc["podman"][name]["pier"]
        b = doc["breakdown"][name]["pier_run_ms"]
        lines.append(f"| {name} | {r['median']:.0f} ({r['min']:.0f}-{r['max']:.0f}) | "
                     f"{p['median']:.0f} ({p['min']:.0f}-{p['max']:.0f}) | "
                     f"{p['median'] - r['median']:+.0f} | {b:.0f} | {p['median'] - b:.0f} |")
    lines += ["", f"podman exec into a running container, {a.runs} runs (ms: median, "
              "min-max)", "", "| workload | runc | pier-oci | difference |", "|---|---:|---:|---:|"]
    for name in WORKLOADS:
        r, p = doc["exec"][name]["runc"], doc["exec"][name]["pier"]
        lines.append(f"| {name} | {r['median']:.0f} ({r['min']:.0f}-{r['max']:.0f}) | "
                     f"{p['median']:.0f} ({p['min']:.0f}-{p['max']:.0f}) | "
                     f"{p['median'] - r['median']:+.0f} |")
    lines += ["", "pier run --timing, the parts (ms, medians): " + ", ".join(
        f"`{s}`" for s in STAGES), "", "| workload | " + " | ".join(
        ["to kmain (VMM start)", "kernel to root mounted", "to program start",
         "the program", "guest exit to pier exit"]) + " |", "|---|" + "---:|" * 5]
    for name in WORKLOADS:
        parts = doc["breakdown"][name]["parts_ms"]
        lines.append(f"| {name} | " + " | ".join(f"{parts[s]:.0f}" for s in STAGES) + " |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
