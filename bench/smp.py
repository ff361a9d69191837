#!/usr/bin/python3
"""Several vCPUs (issue 23): what a second vCPU buys on each VMM, as
speed-ups against the same VMM with one vCPU in the same run.

  python3 multiprocessing  a Pool of 2 processes, each summing i*i for
                           --loop iterations (CPU only; fork, pipes, a
                           semaphore in /dev/shm): the guest's own clock
                           around Pool.map
  fio randread 4k          --numjobs 1 and 2 (--thread, psync), 4 KiB
                           random reads of a 256 MiB file in a share,
                           --io MiB per job: the jobs' summed IOPS
  lookups                  build/bench/lookups with 1 and 2 threads, each
                           stat()ing --names names of its own the guest
                           has not seen (a LOOKUP each): stats per second

Each with --cpus 1 and 2. The QEMU level runs pier run --vmm qemu
(microvm, multi-threaded TCG, virtiofsd); the nested level pier's VMM
inside tools/kvm-nest with two L1 CPUs (--smp 2), so that two vCPU
threads can run at once there. Every pier run has a --timeout (a wedged
nested VM ends the bench with its command line). Requests per queue: the guest's count of
the FUSE requests it sent on each virtio-fs request queue (--stats,
virtio_fs.queueN): one per vCPU on pier's VMM, virtiofsd's one under
QEMU. Medians of --runs.

The nested level under kvm-nest's default multi-threaded TCG is the only
one where two vCPUs can run at once, and it may wedge L1 (tools/kvm-nest/
README.md); PIER_KVM_NEST_TCG_THREAD=single finishes, but then L1's two
CPUs take turns and 2 vCPUs cannot gain there: only the counts carry over.

  bench/smp.py [--runs N] [--only qemu,pier,pier-dax0] [--json F] [--md F]"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import shutil
import tempfile

from common import debian_root, kvm_usable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PIER = os.path.join(ROOT, "build", "pier")
# pier-dax0: pier's VMM without the DAX window, so that every read is a
# FUSE_READ on its CPU's request queue (with the window, reads copy from
# it under the kernel lock and the requests are its set-ups).
VMMS = {"qemu": ["--vmm", "qemu", "--machine", "microvm"], "pier": ["--vmm", "pier"],
        "pier-dax0": ["--vmm", "pier", "--dax", "0"]}
NESTED = ("pier", "pier-dax0")

PY_MP = r"""
import multiprocessing as mp, sys, time
def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
if __name__ == "__main__":
    n = int(sys.argv[1])
    t0 = time.monotonic()
    with mp.Pool(2) as p:
        r = p.map(work, [n, n])
    dt = time.monotonic() - t0
    want = (n - 1) * n * (2 * n - 1) // 6
    print("elapsed", dt, "right", r == [want, want])
"""


def pier(vmm, cpus, root, argv, extra=(), timeout=600):
    """One run; its stdout and the guest's stats document."""
    with tempfile.NamedTemporaryFile(suffix=".json") as st:
        # pier's own limit: a wedged VM (tools/kvm-nest/README.md) ends
        # the bench with its command line, not hours later.
        cmd = [PIER, "run", *VMMS[vmm], "--timeout", str(timeout - 60), "--cpus", str(cpus),
               "--mem", "1G",
               f"--stats={st.name}", "--root", root, "--ro", "--tmpfs", "/dev/shm",
               "--tmpfs", "/tmp", *extra, "--", *argv]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if r.returncode:
            raise RuntimeError(f"{' '.join(cmd)}: status {r.returncode}\n{r.stderr[-3000:]}")
        with open(st.name) as f:
            return r.stdout, json.load(f)


def fuse_requests(stats):
    """The guest's FUSE requests of the run (--stats: "fuse.OP": {count})."""
    return sum(v["count"] for k, v in stats["guest"].items() if k.startswith("fuse."))


def queue_requests(stats):
    """The guest's requests by request queue: {1: n, 2: m} (--stats rows
    "virtio_fs.queueN": {count})."""
    pre = "virtio_fs.queue"
    return {int(k[len(pre):]): v["count"] for k, v in stats["guest"].items()
            if k.startswith(pre)}


def measure(vmms, runs, loop, io_mib, names):
    root = debian_root()
    share = tempfile.mkdtemp(prefix="pier-smp-")
    with open(os.path.join(share, "file"), "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    os.mkdir(os.path.join(share, "names"))
    for t in range(2):
        for i in range(names):
            open(os.path.join(share, "names", f"{t}.{i}"), "w").close()
    shutil.copy(os.path.join(ROOT, "build", "bench", "lookups"), share)
    mount = ["--share", f"data={share}", "-o", "mount=data:/mnt"]
    out = {}
    for vmm in vmms:
        fig = out.setdefault(vmm, {})
        for _ in range(runs):
            for cpus in (1, 2):
                o, st = pier(vmm, cpus, root, ["/usr/bin/python3", "-c", PY_MP, str(loop)])
                words = o.split()
                assert words[0] == "elapsed" and words[3] == "True", o
                fig.setdefault(f"py-mp cpus={cpus}", []).append(float(words[1]))
                for jobs in (1, 2):
                    o, st = pier(vmm, cpus, root, [
                        "/usr/bin/fio", "--name=r", "--thread", f"--numjobs={jobs}",
                        "--ioengine=psync", "--rw=randread", "--bs=4k", "--size=256m",
                        f"--io_size={io_mib}m", "--filename=/mnt/file", "--group_reporting",
                        "--output-format=json"], mount)
                    job = json.loads(o[o.index("{"):])["jobs"][0]
                    assert job["error"] == 0 and job["read"]["io_bytes"] == jobs * io_mib << 20
                    key = f"fio jobs={jobs} cpus={cpus}"
                    fig.setdefault(key, []).append(job["read"]["iops"])
                    fig.setdefault(key + " requests", []).append(fuse_requests(st))
                    for q, n in queue_requests(st).items():
                        fig.setdefault(f"{key} queue{q}", []).append(n)
                for threads in (1, 2):
                    o, st = pier(vmm, cpus, root, ["/mnt/lookups", str(threads), str(names),
                                                   "/mnt/names"], mount)
                    words = o.split()
                    assert words[0] == "LOOKUPS" and int(words[1]) == threads * names, o
                    key = f"lookups threads={threads} cpus={cpus}"
                    fig.setdefault(key, []).append(int(words[1]) / (int(words[2]) / 1e9))
                    fig.setdefault(key + " unlocked", []).append(
                        st["guest"]["virtio.unlocked_wait"]["count"])
    return {v: {k: statistics.median(x) for k, x in f.items()} for v, f in out.items()}


def nested(vmms, runs, loop, io_mib, names):
    build = os.path.join(ROOT, "build")
    with tempfile.NamedTemporaryFile(suffix=".json", dir=build) as out:
        cmd = [sys.executable, os.path.abspath(__file__), "--inner", "--only", ",".join(vmms),
               "--runs", str(runs), "--loop", str(loop), "--io", str(io_mib),
               "--names", str(names), "--json", out.name]
        if not kvm_usable():
            cmd = [os.path.join(ROOT, "tools", "kvm-nest", "run"), "--smp", "2", "--mem", "6144",
                   "--timeout", "1800", "--rw", build, "--", *cmd]
        subprocess.run(cmd, check=True, cwd=ROOT)
        with open(out.name) as f:
            return json.load(f)


def markdown(fig, runs):
    L = [f"Medians of {runs}. Speed-ups against the same VMM's 1 vCPU (fio: 1 job) "
         "in the same run.", "",
         "| VMM | python3 multiprocessing, 2 processes: 1 vCPU | 2 vCPUs | speed-up |",
         "|---|---:|---:|---:|"]
    for vmm, f in fig.items():
        a, b = f["py-mp cpus=1"], f["py-mp cpus=2"]
        L.append(f"| {vmm} | {a:.2f} s | {b:.2f} s | {a / b:.2f}x |")
    L += ["", "| VMM | fio randread 4k | 1 vCPU | 2 vCPUs | speed-up, 2 vCPUs | "
          "FUSE requests per run, 2 vCPUs | by request queue |",
          "|---|---|---:|---:|---:|---:|---|"]
    for vmm, f in fig.items():
        base = f["fio jobs=1 cpus=1"]
        for jobs in (1, 2):
            one, two = f[f"fio jobs={jobs} cpus=1"], f[f"fio jobs={jobs} cpus=2"]
            req = f[f"fio jobs={jobs} cpus=2 requests"]
            pre = f"fio jobs={jobs} cpus=2 queue"
            queues = " / ".join(f"q{k[len(pre):]} {v:,.0f}" for k, v in sorted(f.items())
                                if k.startswith(pre))
            L.append(f"| {vmm} | numjobs={jobs} | {one:,.0f} IOPS ({one / base:.2f}x) | "
                     f"{two:,.0f} IOPS | {two / base:.2f}x | {req:,.0f} | {queues} |")
    L += ["", "| VMM | stat() of new names | 1 vCPU | 2 vCPUs | speed-up, 2 vCPUs | "
          "waits without the kernel lock, 2 vCPUs |", "|---|---|---:|---:|---:|---:|"]
    for vmm, f in fig.items():
        if "lookups threads=1 cpus=1" not in f:
            continue
        base = f["lookups threads=1 cpus=1"]
        for t in (1, 2):
            one, two = f[f"lookups threads={t} cpus=1"], f[f"lookups threads={t} cpus=2"]
            L.append(f"| {vmm} | {t} thread{'s' if t > 1 else ''} | {one:,.0f}/s "
                     f"({one / base:.2f}x) | {two:,.0f}/s | {two / base:.2f}x | "
                     f"{f[f'lookups threads={t} cpus=2 unlocked']:,.0f} |")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="qemu,pier,pier-dax0")
    # Sized for the nested level, where every instruction is emulated twice.
    ap.add_argument("--loop", type=int, default=1000000)
    ap.add_argument("--io", type=int, default=4, help="MiB read per fio job")
    ap.add_argument("--names", type=int, default=2000, help="names each lookups thread stats")
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    want = [v for v in a.only.split(",") if v]
    if a.inner:
        fig = measure(want, a.runs, a.loop, a.io, a.names)
        with open(a.json, "w") as f:
            json.dump(fig, f, indent=1)
        return
    fig = measure([v for v in want if v == "qemu"], a.runs, a.loop, a.io, a.names)
    inner = [v for v in want if v in NESTED]
    if inner and a.json:
        # The QEMU level's figures, kept should the nested level wedge.
        with open(a.json, "w") as f:
            json.dump(fig, f, indent=1)
    if inner:
        fig.update(nested(inner, a.runs, a.loop, a.io, a.names))
    md = markdown(fig, a.runs)
    print(md)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(fig, f, indent=1)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md + "\n")


if __name__ == "__main__":
    main()
