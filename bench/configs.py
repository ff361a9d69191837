"""How each benchmark configuration runs one fsbench job (or a list of
them), measured from outside: wall time, CPU time of the whole host-side
process tree (wait4's rusage: pier with the QEMU and virtiofsd it waits
for), its peak RSS, and the JSON lines fsbench printed inside."""
import json
import os
import re
import selectors
import subprocess
import time

import common
import dataset
import linux_guest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PIER = os.path.join(ROOT, "build", "pier")

# name -> (level, what it is). "host" level runs here; "nested" inside
# tools/kvm-nest (pier's VMM needs /dev/kvm); each level has its baseline.
CONFIGS = {
    "host":                ("host", "the program on the host, data on tmpfs (baseline)"),
    "pier-qemu-microvm":   ("host", "Pier on QEMU microvm + virtiofsd (virtio-mmio, FUSE_READ)"),
    "pier-qemu-q35":       ("host", "Pier on QEMU q35 + virtiofsd (virtio-pci, FUSE_READ)"),
    "linux-virtiofs-auto": ("host", "Linux guest, virtio-fs (virtiofsd cache=auto)"),
    "linux-virtiofs-none": ("host", "Linux guest, virtio-fs (virtiofsd cache=none)"),
    "linux-9p":            ("host", "Linux guest, virtio-9p (cache=none)"),
    "linux-blk":           ("host", "Linux guest, virtio-blk + ext4"),
    "host-nested":         ("nested", "the program in the nested Linux, data on tmpfs (baseline)"),
    "pier-dax":            ("nested", "Pier on its own VMM, virtio-fs with the DAX window "
                                      "(reads, mmap and in-place writes)"),
    "pier-nodax":          ("nested", "Pier on its own VMM, virtio-fs without DAX (--dax 0)"),
    "pier-dax-nowrite":    ("nested", "Pier on its own VMM, DAX window for reads only, "
                                      "writes by FUSE_WRITE (-o dax_write=0)"),
    "linux-pier-dax":      ("nested", "Linux guest on pier's VMM, virtio-fs with the DAX window "
                                      "(-o dax=always)"),
    "linux-pier-nodax":    ("nested", "Linux guest on pier's VMM, virtio-fs without DAX (--dax 0)"),
}
BASELINE = {"host": "host", "nested": "host-nested"}


def timed(cmd, timeout=1800):
    """spawn() with the process tree's CPU time and peak RSS from wait4."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Both pipes read to the end first (a full pipe would stall pier), then
    # the reaping is ours: wait4 gives the rusage of the process and of
    # every descendant it waited for.
    out, err = _drain(p, timeout)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"status": p.returncode, "out": out.decode(errors="replace"),
            "err": err.decode(errors="replace"), "wall_s": time.monotonic() - t0,
            "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kib": ru.ru_maxrss}


def _drain(p, timeout):
    sel = selectors.DefaultSelector()
    bufs = {p.stdout: bytearray(), p.stderr: bytearray()}
    for f in bufs:
        sel.register(f, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            p.kill()
            p.wait()  # reaped: the run goes on after a job that hung
            raise RuntimeError(f"{p.args[0]} still running after {timeout} s")
        for key, _ in sel.select(left):
            chunk = os.read(key.fd, 65536)
            if chunk:
                bufs[key.fileobj] += chunk
            else:
                sel.unregister(key.fileobj)
    return bytes(bufs[p.stdout]), bytes(bufs[p.stderr])


def parse(out):
    """fsbench's JSON lines in out, and fio's JSON report (fio_results)."""
    found = fio_results(out)
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                found.append(json.loads(line))
            except ValueError:
                pass
    return found


def fio_results(out):
    """fio's --output-format=json report in out (a document from a line
    "{" to the last line "}"), as one fsbench-like line, op "fio": its
    jobs' reads summed (they ran one after another: bench/dataset.py's
    _fio), bytes, reads and seconds (runtimes in ms, each at least 1)."""
    lines = out.splitlines()
    try:
        first = lines.index("{")
        last = len(lines) - 1 - lines[::-1].index("}")
        jobs = json.loads("\n".join(lines[first:last + 1]))["jobs"]
        reads = [j["read"] for j in jobs if j["read"]["io_bytes"]]
    except (ValueError, KeyError, TypeError):
        return []
    if not reads:
        return []
    return [{"op": "fio", "jobs": len(reads), "bytes": sum(r["io_bytes"] for r in reads),
             "seconds": sum(max(r["runtime"], 1) for r in reads) / 1000,
             "reads": sum(r["total_ios"] for r in reads)}]


def timing(err):
    """pier's --timing table: {milestone: ms}."""
    return {k: float(v) for k, v in re.findall(r"^\s+(\S+)\s+([\d.]+) ms$", err, re.M)}


def pier_args(config):
    return {"pier-qemu-microvm": ["--vmm", "qemu", "--machine", "microvm"],
            "pier-qemu-q35": ["--vmm", "qemu", "--machine", "q35"],
            "pier-dax": ["--vmm", "pier", "--dax", common.DAX_WINDOW],
            "pier-nodax": ["--vmm", "pier", "--dax", "0"],
            "pier-dax-nowrite": ["--vmm", "pier", "--dax", common.DAX_WINDOW,
                                 "-o", "dax_write=0"]}[config]


def _failure(r):
    """What a failed job says: fsbench's own message if it gave one."""
    lines = [ln.strip() for ln in (r["out"] + "\n" + r["err"]).splitlines() if ln.strip()]
    said = [ln for ln in lines if ln.startswith("fsbench:")] or lines[-1:]
    return f"exit {r['status']}" + (f": {said[-1]}" if said else "")


def run_one(config, data, args, initrd=None, timeout=1800, stats=None):
    """One job on a per-process configuration (host*, pier*). args: the
    fsbench (or program) argument list with {D} for the data set root;
    args[0] may be a program path relative to the root instead ("/bigprog").
    The share is writable (no --ro): the write workloads need it. stats
    (pier* only): a path for pier's --stats, whose counters then go into
    r["stats"] (None if pier wrote none). Returns the timed() dict with
    results (fsbench's JSON lines), timing (pier's --timing) and error:
    None, or what went wrong with log, the output's tail. Raises
    RuntimeError only when the job had to be killed."""
    if config in ("host", "host-nested") and dataset.from_debian(args):
        # Debian's program loads Debian's libraries: the data set is its root.
        cmd = ["chroot", data, *[a.replace("{D}", "") for a in args]]
    elif config in ("host", "host-nested"):
        prog = os.path.join(data, args[0][1:]) if args[0].startswith("/") else \
            os.path.join(data, "fsbench")
        rest = args[1:] if args[0].startswith("/") else args
        cmd = [prog, *[a.replace("{D}", data) for a in rest]]
    else:
        prog = args[0] if args[0].startswith("/") else "/fsbench"
        rest = args[1:] if args[0].startswith("/") else args
        src = ["--initrd", initrd] if initrd else ["--root", data]
        counted = [f"--stats={stats}"] if stats else []
        cmd = [PIER, "run", *pier_args(config), "--mem", "2G", *src, "--timing", *counted,
               "--timeout", str(timeout), "--", prog, *[a.replace("{D}", "") for a in rest]]
        if stats and os.path.exists(stats):
            os.unlink(stats)  # a run that writes none must not find the last one's
    r = timed(cmd, timeout + 60)
    if stats:
        r["stats"] = _load_stats(stats)
    r["results"] = parse(r["out"])
    r["timing"] = timing(r["err"])
    r["error"] = None
    if r["status"] != 0:
        r["error"] = _failure(r)
        r["log"] = f"{' '.join(cmd)}\n{r['out'][-1500:]}\n{r['err'][-1500:]}"
    return r


def _load_stats(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run_costs(stats):
    """What one pier run cost, from its --stats document: requests
    ({opcode: count}) and kicks (virtio notifications), the guest's, of the
    whole run; exits (every VM exit KVM counted for the vCPU, those it
    handled itself too) and vmm_exits (those pier's VMM handled), from the
    program's first instruction on: the run's less the "startup" row's.
    Both exits are None under QEMU (the host section is empty: TCG
    emulates the guest, nothing exits)."""
    guest, host = stats.get("guest") or {}, stats.get("host") or {}
    start = host.get("startup") or {}
    exits = vmm_exits = None
    if "kvm.vcpu.exits" in host and "kvm_exits" in start:
        exits = host["kvm.vcpu.exits"]["count"] - start["kvm_exits"]
    if "exits" in start:
        vmm_exits = sum(v["count"] for k, v in host.items() if k.startswith("exit.")) - \
            start["exits"]
    return {"requests": {k[len("fuse."):]: v["count"] for k, v in guest.items()
                         if k.startswith("fuse.")},
            "kicks": (guest.get("virtio.kick") or {}).get("count"),
            "exits": exits, "vmm_exits": vmm_exits}


def less(costs, start):
    """A job's costs less what starting and ending fsbench cost (start: the
    same counts for a run of `fsbench start`): each count, and each
    opcode's, at least 0; a count either lacks is None. start is kept in
    the result, so the raw figures can be had back."""
    def minus(a, b):
        return None if a is None or b is None else max(a - b, 0)
    out = {"requests": {op: n - start["requests"].get(op, 0)
                        for op, n in costs["requests"].items()
                        if n > start["requests"].get(op, 0)}}
    for k in ("kicks", "exits", "vmm_exits"):
        out[k] = minus(costs.get(k), start.get(k))
    out["start"] = start
    return out


def run_linux(config, data, jobs, workdir, **kw):
    """All jobs in one boot of the Linux guest; one record per job, with
    error set for a job that failed (the others still count). kw goes to
    linux_guest.run. Raises RuntimeError if the guest itself failed."""
    mode = config[len("linux-"):]
    # Debian's programs run in a chroot of the data set (linux_guest.INIT).
    guest_jobs = [[a.replace("{D}", "" if dataset.from_debian(j) else "/data") for a in j]
                  for j in jobs]
    outs, info = linux_guest.run(mode, data, guest_jobs, workdir, **kw)
    cpu = info["job_cpu_s"] + [0.0] * len(jobs)
    recs = []
    for i, o in enumerate(outs):
        r = {"status": 0, "out": o, "err": "", "results": parse(o), "cpu_s": cpu[i],
             "wall_s": None, "maxrss_kib": info["maxrss_kib"], "boot_s": info["boot_s"],
             "image": info.get("image"), "timing": {}, "error": None}
        if "BENCH-FAIL" in o:
            r["status"] = 1
            r["out"] = o.replace("BENCH-FAIL", "")
            r["error"] = _failure(r).replace("exit 1", "failed", 1)
            r["log"] = o[-3000:]
        recs.append(r)
    return recs
