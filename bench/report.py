"""The benchmark report: a Markdown file with every figure as median
(min-max) over the passes and as a ratio to its level's baseline, the CPU
time and peak memory of the host-side process tree, what each operation
cost in FUSE requests and VM exits (by opcode too), the thesis's ratios
next to ours, the jobs that failed and why, and PNG plots made with
gnuplot."""
import datetime
import os
import platform
import re
import statistics
import subprocess

import common
import configs
import dataset

# The thesis's published ratios (shared/docs/thesis.md).
THESIS = {"dax_vs_fuse_seq": 6.5, "dax_vs_fuse_rand": 5.7,
          # fio means: OSv 1333 (DAX) and 217 MB/s (FUSE_READ), Linux 1100 and 166.
          "osv_vs_linux_dax": 1333 / 1100, "osv_vs_linux_fuse": 217 / 166}
FIO = ["fio-seq-big", "fio-rand-big", "fio-seq-ten", "fio-rand-ten"]
WRITES = ["seqwrite-big", "randwrite-4k", "create-4k", "unlink-4k"]
WORK_ORDER = ["seq-big", "seq-big-mmap", "seq-ten", "seq-ten-mmap", "rand-4k", "stat-tree",
              "openread-4k", "walk-tree", *FIO, *WRITES, "start-tiny", "start-big", "start-tiny-initrd",
              "boot"]
HIGHER_IS_BETTER = {"seq": True, "rand": True, "meta": True, "start": False}
# The configurations whose requests the report breaks down by opcode.
BY_OPCODE = ["pier-qemu-microvm", "pier-dax", "pier-nodax", "linux-virtiofs-auto"]


def _cmd(args):
    try:
        return subprocess.run(args, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def machine(scale, repeat, kvm):
    cpu = "?"
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1)
    except (OSError, AttributeError):
        pass
    pvm = os.path.exists("/sys/module/kvm_pvm")
    return {
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "scale": scale, "repeat": repeat, "host": platform.node(),
        "kernel": platform.release(), "cpu": cpu, "cores": os.cpu_count(),
        "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "qemu": _cmd(["qemu-system-x86_64", "--version"]),
        "gcc": _cmd(["gcc", "--version"]), "musl": _cmd(["dpkg-query", "-W", "musl-tools"]),
        "accel_host": "TCG (kvm_pvm: QEMU cannot use it)" if pvm else
                      ("KVM" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "TCG (no /dev/kvm)"),
        "accel_pier": "KVM on /dev/kvm" if kvm else
                      "KVM inside tools/kvm-nest (nested SVM in a QEMU TCG guest, 1 vCPU)",
    }


def metric(rec):
    """(value, unit) of one record: what its table shows."""
    k = rec["kind"]
    if k == "seq":
        return rec["bytes"] / rec["seconds"] / 2**20, "MiB/s"
    if k == "rand":
        if rec.get("writes"):
            return rec["writes"] / rec["seconds"], "writes/s"
        return rec["reads"] / rec["seconds"], "reads/s"
    if k == "meta":
        n = rec.get("files") or rec.get("entries")
        return n / rec["seconds"], "ops/s"
    if rec["workload"] == "boot":
        return rec["wall_s"] * 1000, "ms"
    t = rec.get("timing") or {}
    return (t.get("vmm-exit") or rec["wall_s"] * 1000), "ms"


def _extra(rs):
    """A write workload's second figure: (column, text) or None."""
    def med(f):
        return statistics.median(f(r) for r in rs)
    r0 = rs[0]
    if r0.get("write_seconds") and r0["kind"] == "seq":
        mib_s = med(lambda r: r["bytes"] / r["write_seconds"] / 2**20)
        return "write() alone", f"{fmt(mib_s)} MiB/s"
    if r0.get("write_seconds") and r0["kind"] == "rand":
        return "pwrite() alone", f"{fmt(med(lambda r: r['writes'] / r['write_seconds']))} writes/s"
    if r0.get("mkdir_seconds") is not None:
        return "mkdir", f"{fmt(med(lambda r: r['mkdir_seconds'] * 1e6))} us"
    if r0.get("rmdir_seconds") is not None:
        return "rmdir", f"{fmt(med(lambda r: r['rmdir_seconds'] * 1e6))} us"
    return None


def summarise(recs):
    """{(workload, config): dict(median, lo, hi, unit, cpu, rss, failed)};
    failed lists (pass, error) of the passes that failed, and median is None
    when all did."""
    groups = {}
    for r in recs:
        groups.setdefault((r["workload"], r["config"]), []).append(r)
    out = {}
    for key, every in groups.items():
        rs = [r for r in every if not r.get("error")]
        failed = [(r["repeat"], r["error"]) for r in every if r.get("error")]
        work = (rs or every)[0]
        if not rs:
            out[key] = {"median": None, "lo": None, "hi": None, "unit": None, "kind": work["kind"],
                        "level": work["level"], "cpu": None, "rss": 0,
                        "to_program": None, "extra": None, "failed": failed, "passes": len(every)}
            continue
        vals = [metric(r)[0] for r in rs]
        cpu = [r["cpu_s"] for r in rs if r.get("cpu_s") is not None]
        per = None
        if cpu and work["kind"] == "seq":
            per = ("s/GiB", statistics.median(cpu) / (work["bytes"] / 2**30))
        elif cpu and work["kind"] in ("rand", "meta"):
            n = work.get("reads") or work.get("writes") or work.get("files") or work.get("entries")
            per = ("us/op", statistics.median(cpu) * 1e6 / n)
        out[key] = {"median": statistics.median(vals), "lo": min(vals), "hi": max(vals),
                    "unit": metric(rs[0])[1], "kind": work["kind"], "level": work["level"],
                    "cpu": per, "rss": max((r.get("maxrss_kib") or 0) for r in rs) / 1024,
                    "to_program": statistics.median(
                        [r["timing"]["program"] for r in rs if (r.get("timing") or {}).get("program")]
                        or [0]) or None,
                    "extra": _extra(rs), "failed": failed, "passes": len(every)}
    return out


def ops(rec):
    """(count, unit): how many operations one record's line is, as metric()
    counts them (MiB for sequential reads and writes)."""
    k = rec["kind"]
    if k == "seq":
        return rec["bytes"] / 2**20, "MiB"
    if k == "rand":
        return (rec["writes"], "write") if rec.get("writes") else (rec["reads"], "read")
    if rec.get("files"):
        return rec["files"], "file"
    return rec.get("entries"), "entry"


def _median_per_op(rs, count):
    """The median over the passes rs of count(rec) per operation; None if no
    pass has that count."""
    vals = [count(r) / ops(r)[0] for r in rs if count(r) is not None and ops(r)[0]]
    return statistics.median(vals) if vals else None


def _job(key):
    """A record's count key in its job_costs (bench/run's add_costs), or None."""
    return lambda r: (r.get("job_costs") or {}).get(key)


def _job_requests(opcode=None):
    """A record's job_costs requests: all of them, or one opcode's; None
    where it has no job_costs."""
    def count(r):
        c = r.get("job_costs")
        if not c:
            return None
        return c["requests"].get(opcode, 0) if opcode else sum(c["requests"].values())
    return count


def _line_requests(r):
    """The requests of a record's own line (fsbench's, Pier only), or None."""
    return sum(r["requests"].values()) if "requests" in r else None


def costs(recs):
    """{(workload, configuration): dict} of what an operation cost, medians
    over the passes that did not fail: req (all the job's requests), exits,
    vmm_exits and kicks (None where not counted), by_op ({opcode: per op}),
    from job_costs; line_req and line_kicks, fsbench's own counts of the
    line's measured part (Pier only); unit (what one operation is); in (the
    workload whose job's costs these records share) and error (why not
    counted)."""
    groups = {}
    for r in recs:
        if r["kind"] != "start" and not r.get("error"):
            groups.setdefault((r["workload"], r["config"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        opcodes = {op for r in rs for op in (r.get("job_costs") or {}).get("requests", {})}
        out[key] = {
            "unit": ops(rs[0])[1],
            "req": _median_per_op(rs, _job_requests()),
            "exits": _median_per_op(rs, _job("exits")),
            "vmm_exits": _median_per_op(rs, _job("vmm_exits")),
            "kicks": _median_per_op(rs, _job("kicks")),
            "by_op": {op: _median_per_op(rs, _job_requests(op)) for op in opcodes},
            "line_req": _median_per_op(rs, _line_requests),
            "line_kicks": _median_per_op(rs, lambda r: r.get("kicks")),
            # Counted in one pass only (the Linux guest's): any pass says where.
            "in": next((r["job_costs_in"] for r in rs if r.get("job_costs_in")), None),
            "error": next((r["job_costs_error"] for r in rs if r.get("job_costs_error")), None),
        }
    return out


def _cost_cell(c):
    """A cell of the costs table: "2.00 req, 4.10 exits"."""
    if c is None:
        return "-"
    if c["in"]:
        return f"in {c['in']}"
    if c["req"] is None:
        return "not counted" if c["error"] else "-"
    exits = "exits n/a" if c["exits"] is None else f"{fmt(c['exits'])} exits"
    return f"{fmt(c['req'])} req, {exits}"


def _opcode_cell(c):
    """A cell of the by-opcode table: each opcode's requests per operation,
    most first, and the kicks where counted."""
    if c is None or c["req"] is None:
        return _cost_cell(c)
    most_first = sorted(c["by_op"].items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{op} {fmt(n)}" for op, n in most_first if n]
    text = ", ".join(parts) or "none"
    return text + (f"; {fmt(c['kicks'])} kicks" if c["kicks"] is not None else "")


def _line_cell(c):
    """A cell of Pier's measured-part table."""
    if c is None or c["line_req"] is None:
        return "-"
    return f"{fmt(c['line_req'])} req, {fmt(c['line_kicks'])} kicks"


def _cost_rows(cost, works, cfgs, cell):
    """Markdown rows: one per workload with a count, "workload (per unit)"."""
    L = []
    for w in works:
        got = [cost.get((w, c)) for c in cfgs]
        known = [g for g in got if g]
        if known:
            L.append(f"| {w} (per {known[0]['unit']}) | " +
                     " | ".join(cell(g) for g in got) + " |")
    return L


COSTS_NOTE = [
    "Where each figure comes from:", "",
    "- Every figure is per operation, the row's unit (MiB for sequential reads and writes, "
    "one read or write, one file or entry, as the tables above count them), the median "
    "over the passes that did not fail.",
    "- **req**: the FUSE requests the guest sent, every opcode (all round trips to the host "
    "but FORGET and BATCH_FORGET, which have no reply), in the job's whole fsbench run less "
    "those of a run of `fsbench start` (start the program, print a line, end): starting and "
    "ending fsbench do not count, the job's untimed parts do (opening its files, the listing "
    "before openread-4k's reads and stat-tree's stats, a write job's read-back).",
    "- Pier counts its requests itself: `pier run --stats` at the end of each job's run and "
    "of `fsbench start`'s, in every pass.",
    "- The Linux guest's come from virtiofsd's debug log (`-d`), in a boot of their own once "
    "a run (the log slows every request: no timed boot has it) that runs `fsbench start` "
    "first, then the jobs: the guest's init looks up a name that is never there "
    "(`/data/.bench-mark-N-begin`, `-end`) right before and after job N, and the job's "
    "requests are those whose FUSE unique (the guest numbers its requests in the order it "
    "sends them) lies between those two LOOKUPs.",
    "- **exits**: VM exits under pier's own VMM, as KVM counts them (`kvm.vcpu.exits` in "
    "`--stats`: every exit, those KVM handles itself too), from the program's first "
    "instruction to the VM's end, i.e. the run's count less its `startup` row (the exits "
    "until the program starts), less that same figure for `fsbench start`. `results.json` "
    "also has the exits pier's VMM handled itself (`vmm_exits`). n/a: under QEMU, TCG "
    "emulates the guest (Pier's and Linux's alike), nothing exits.",
    "- A job with two result lines counts once, in its first row: create-4k's run also "
    "unlinks its files (unlink-4k), stat-tree's lists the tree before it stats it.",
    "- -: not counted (no FUSE: virtio-9p, virtio-blk; a failed job).", ""]


def costs_section(recs, cfgs, works):
    """The "Costs per operation" tables: requests and exits per operation
    for every configuration but the baselines, the requests by opcode for
    BY_OPCODE, and Pier's own counts of the measured parts alone."""
    cost = costs(recs)
    works = [w for w in works if any(k[0] == w for k in cost)]
    cols = [c for c in cfgs if c not in configs.BASELINE.values()]
    # Results from before the counts (or of uncounted configurations only):
    # no section rather than a table of dashes.
    if not works or not cols or all(c["req"] is None and c["line_req"] is None
                                    for c in cost.values()):
        return []

    def table(columns, cell):
        return [f"| workload | {' | '.join(columns)} |", "|---|" + "---:|" * len(columns),
                *_cost_rows(cost, works, columns, cell), ""]
    L = ["## Costs per operation", "", *table(cols, _cost_cell), *COSTS_NOTE]
    split = [c for c in BY_OPCODE if c in cols]
    if split:
        L += ["### Requests by opcode, per operation", "",
              "The requests above by opcode, and the guest's virtio notifications "
              "(kicks: under pier's own VMM each is an exit to it), counted as they are.", "",
              *table(split, _opcode_cell)]
    piers = [c for c in cols if c.startswith("pier")]
    if piers:
        L += ["### Pier, the timed part alone", "",
              "fsbench's own counts in Pier's guest (`/proc/pier/stats` read before and after "
              "what each result line times): requests and virtio kicks per operation of the "
              "measured part alone, without the job's setup and each result line on its own.",
              "", *table(piers, _line_cell)]
    return L


def ratio(summ, work, cfg):
    s = summ.get((work, cfg))
    base = summ.get((work, configs.BASELINE[configs.CONFIGS[cfg][0]]))
    if not s or not base or not base["median"] or not s["median"]:
        return None
    r = s["median"] / base["median"]
    return r if HIGHER_IS_BETTER[s["kind"]] else 1 / r


def fmt(v):
    return "-" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:,.2f}" if v >= 1 else f"{v:.3f}"


def _order(key):
    """Sort key of a (workload, configuration): the report's order."""
    w, c = key
    return WORK_ORDER.index(w) if w in WORK_ORDER else 99, list(configs.CONFIGS).index(c)


def checked(scale):
    """The workloads whose result lines carry a checksum."""
    return {n for j in dataset.workloads(dataset.SCALES[scale]) for n, op, _ in j.records
            if op in dataset.CHECKED_OPS}


def _no_checksum(rs):
    """Why the passes rs of one job on one configuration do not all carry a
    checksum, or None."""
    if not rs:
        return "no record"
    failed = sum(1 for r in rs if r.get("error"))
    if failed:
        return f"{failed} of {len(rs)} passes failed"
    blank = sum(1 for r in rs if r.get("check") is None)
    return f"{blank} of {len(rs)} passes gave no checksum" if blank else None


def checksums(recs, scale):
    """fsbench's checksums of the workloads that have one, over every
    configuration of the run: (differ, missing), the workloads whose
    checksums are not all one, and {(workload, configuration): why} for
    those that did not give one in every pass."""
    want, cfgs, got = checked(scale), {r["config"] for r in recs}, {}
    for r in recs:
        if r["workload"] in want:
            got.setdefault(r["workload"], {}).setdefault(r["config"], []).append(r)
    differ = sorted(w for w, by in got.items()
                    if len({r["check"] for rs in by.values() for r in rs
                            if r.get("check") is not None}) > 1)
    missing = {(w, c): _no_checksum(by.get(c, [])) for w, by in got.items() for c in cfgs}
    return differ, {k: why for k, why in missing.items() if why}


def agreement(recs, scale, wrote):
    """The lines on whether every configuration read (and wrote) the same
    bytes: claimed only if every pass of every configuration gave every
    checksum it should and all agree; a job without one is named, not
    counted as agreeing."""
    differ, missing = checksums(recs, scale)
    did = "read and wrote" if wrote else "read"
    if not differ and not missing:
        return [f"Every configuration {did} the same bytes (fsbench's checksums agree).", ""]
    L = []
    if differ:
        L += [f"**Checksums differ between configurations or passes for: {', '.join(differ)}.**",
              ""]
    if missing:
        L += [f"**Not every job gave its checksum, so this run does not show that every "
              f"configuration {did} the same bytes**" +
              ("" if differ else "; the checksums it has agree") + ". Without one:", "",
              *[f"- `{c}` {w}: {why}" for (w, c), why in sorted(missing.items(),
                                                                 key=lambda kv: _order(kv[0]))],
              ""]
    return L


def host_checks(recs, scale):
    """The write workloads with a checksum, by whether the host read back
    what they left: (checked, {workload: why not}). Checked: every pass
    that did not fail carries the host's checksum (host_check, from
    bench/run), and it is the job's own."""
    jobs = {n: j for j in dataset.workloads(dataset.SCALES[scale]) for n, _, _ in j.records}
    want = checked(scale)
    ok, why = [], {}
    for w in (w for w in WRITES if w in want and any(r["workload"] == w for r in recs)):
        rs = [r for r in recs if r["workload"] == w and not r.get("error")]
        if not rs:
            why[w] = "every pass failed"
        elif all(r.get("host_check") is not None and r["host_check"] == r.get("check")
                 for r in rs):
            ok.append(w)
        elif any(r.get("host_check") not in (None, r.get("check")) for r in rs):
            why[w] = "the host's checksum differs from the job's own"
        elif not jobs[w].leaves:
            why[w] = ("the run that measures it removes its files: only its own read-back, "
                      "in the guest, checked them")
        else:
            why[w] = "not every pass records the host's checksum"
    return ok, why


def host_check_note(recs, scale):
    """The sentences on what the host checked after the write jobs."""
    ok, why = host_checks(recs, scale)
    L = ["Every write job reads back what it wrote after the clock stops, and the host "
         "then checks that the scratch directory holds exactly what the job leaves."]
    if ok:
        L.append(f"The host read back again what {', '.join(ok)} left (`fsbench --verify`; "
                 "linux-blk: in its ext4 image, which is where its writes land) and found "
                 "the job's own checksum in every pass that did not fail.")
    if why:
        L.append("Not read back on the host: " +
                 "; ".join(f"{w} ({r})" for w, r in why.items()) + ".")
    return " ".join(L)


# One colour per configuration, the same in every plot and never two alike:
# purples for Pier on QEMU, blues, gold and green for the Linux guest, red,
# orange and black for Pier's own VMM, teals for Linux on Pier's VMM (grey
# for what has no entry).
COLOURS = {
    "host": "#808080", "host-nested": "#b0b0b0",
    "pier-qemu-microvm": "#6a3d9a", "pier-qemu-q35": "#cab2d6",
    "linux-virtiofs-auto": "#1f78b4", "linux-virtiofs-none": "#a6cee3",
    "linux-9p": "#d4a017", "linux-blk": "#33a02c",
    "pier-dax": "#e31a1c", "pier-nodax": "#000000", "pier-dax-nowrite": "#ff7f00",
    "linux-pier-dax": "#00897b", "linux-pier-nodax": "#80cbc4",
}


LEVEL_TITLES = {"host": "QEMU (TCG) level: ratio to the host",
                "nested": "nested level (pier's VMM in tools/kvm-nest): ratio to host-nested"}


def ratio_range(summ, work, cfg):
    """(ratio, worst, best) of cfg on work: the median's ratio to its
    level's baseline and the ratios of its slowest and fastest pass; None
    if it has no figure."""
    s = summ.get((work, cfg))
    r = ratio(summ, work, cfg)
    if r is None:
        return None
    a, b = r * s["lo"] / s["median"], r * s["hi"] / s["median"]
    if not HIGHER_IS_BETTER[s["kind"]]:
        a, b = r * s["median"] / s["lo"], r * s["median"] / s["hi"]
    return r, min(a, b), max(a, b)


def _plot(path, title, ylabel, panels):
    """Grouped bar charts with gnuplot, one panel per level, one above the
    other: panels is [(subtitle, rows, cols)], rows [(name, [(value, lo,
    hi) or None per column])]; the bars are the values, the error bars
    lo-hi. Columns with no value at all (every job failed) and panels with
    none left are left out. Returns False, and draws nothing, if no panel
    is left."""
    kept = []
    for sub, rows, cols in panels:
        rows = [(n, vals) for n, vals in rows if any(v is not None for v in vals)]
        keep = [i for i in range(len(cols)) if any(vals[i] is not None for _, vals in rows)]
        if keep:
            kept.append((sub, [(n, [vals[i] for i in keep]) for n, vals in rows],
                         [cols[i] for i in keep]))
    if not kept:
        return False
    script = [f'set terminal pngcairo size 1100,{60 + 440 * len(kept)} font ",10"',
              f'set output "{path}"', f'set multiplot layout {len(kept)},1 title "{title}"',
              f'set ylabel "{ylabel}"', "set style data histograms",
              "set style histogram errorbars gap 1 lw 1", "set style fill solid 0.85 border -1",
              "set key outside right top", "set grid ytics", "set logscale y",
              "set xtics rotate by -20 nomirror", "set bars front"]
    dats = []
    for k, (sub, rows, cols) in enumerate(kept):
        dat = f"{path}.{k}.dat"
        dats.append(dat)
        with open(dat, "w") as f:
            for name, vals in rows:
                cells = ["NaN NaN NaN" if v is None else f"{v[0]:.4f} {v[1]:.4f} {v[2]:.4f}"
                         for v in vals]
                f.write(f'"{name}" ' + " ".join(cells) + "\n")
        script.append(f'set title "{sub}"')
        script.append("plot " + ", ".join(
            f'"{dat}" using {3 * i + 2}:{3 * i + 3}:{3 * i + 4}{":xtic(1)" if i == 0 else ""} '
            f'title "{c}" lc rgb "{COLOURS.get(c, "#d0d0d0")}"' for i, c in enumerate(cols)))
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
    for dat in dats:
        os.unlink(dat)
    return True


def _by_level(cfgs):
    """cfgs split by level, in their order: [(level, [configs])]."""
    levels = []
    for c in cfgs:
        lvl = configs.CONFIGS[c][0]
        if not levels or levels[-1][0] != lvl:
            levels.append((lvl, []))
        levels[-1][1].append(c)
    return levels


def failures(summ):
    """Markdown lines naming every failed job: configuration, workload,
    passes, and the error of the first."""
    L = []
    for (w, c), s in sorted(summ.items(), key=lambda kv: _order(kv[0])):
        if s["failed"]:
            first = s["failed"][0][1].strip().splitlines()[0]
            L.append(f"- `{c}` {w}: {len(s['failed'])} of {s['passes']} passes failed: {first}")
    return L


def write(out, meta, recs):
    summ = summarise(recs)
    cfgs = [c for c in configs.CONFIGS if any(k[1] == c for k in summ)]
    works = [w for w in WORK_ORDER if any(k[0] == w for k in summ)]
    L = [f"# Pier benchmark report, {meta['date']}", "",
         f"Scale `{meta['scale']}`, {meta['repeat']} passes per figure; each cell is the "
         "median, (min-max) and the ratio to the baseline of its level (higher is better; "
         "for start-up, baseline time / time).", "",
         "| | |", "|---|---|",
         f"| machine | {meta['host']}: {meta['cpu']}, {meta['cores']} cores, {meta['mem_gib']} GiB |",
         f"| kernel | {meta['kernel']} |", f"| QEMU | {meta['qemu']} |",
         f"| accelerator, QEMU configurations | {meta['accel_host']} |",
         f"| accelerator, pier's VMM | {meta['accel_pier']} |",
         f"| compiler | {meta['gcc']}; {meta['musl']} |", "",
         *([f"The {' and '.join(meta['reused']['levels'])} level's figures are those of "
            f"`{meta['reused']['from']}` (not run again: "
            "`bench/run --reuse`).", ""] if meta.get("reused", {}).get("levels") else []),
         "Configurations (baselines: `host` for the first group, `host-nested` for pier's "
         "own VMM, which runs inside a nested Linux here):", ""]
    for c in cfgs:
        L.append(f"- `{c}`: {configs.CONFIGS[c][1]}")
    wrote = any(w in WRITES for w in works)
    L += ["", *agreement(recs, meta["scale"], wrote)]
    failed = failures(summ)
    if failed:
        L += ["**Failed jobs** (no figure; the run went on; `results.json` keeps each one's "
              "output):", "", *failed, ""]
    L += ["Host CPU is the CPU time of the whole host-side process tree (pier, QEMU, "
          "virtiofsd) for the run, VM start included, per GiB or per operation; peak RSS "
          "is its largest process's: for a VMM, the guest memory touched, and with DAX "
          "the host file pages mapped into the window. Start-up: `ms` is from launching to the VMM gone (pier's `--timing`), "
          "`to main` to the program's first instruction; `boot` is the Linux guest's "
          "launch to its init running the first job.", ""]
    if wrote:
        L += ["Writes (seqwrite-big, randwrite-4k, create-4k, unlink-4k) go to a scratch "
              f"directory of the data set (`{dataset.SCRATCH}/`), emptied before and after each "
              "job; the read workloads' files are never written. seqwrite-big and randwrite-4k "
              "are timed to the end of their fsync (fsync on the host's tmpfs does nothing; in a "
              "guest it is a round trip to the host), the `alone` column without it; create-4k "
              "is open(O_CREAT|O_EXCL)+write 4 KiB+close per file, unlink-4k one unlink per "
              "file (its host CPU is counted under create-4k: one run measures both), each with "
              "the directory's mkdir or rmdir beside it. " + host_check_note(recs, meta["scale"]),
              ""]
    for w in works:
        rows = [(c, summ[(w, c)]) for c in cfgs if (w, c) in summ]
        unit = next((s["unit"] for _, s in rows if s["unit"]), "")
        start = rows[0][1]["kind"] == "start"
        extra = "to main" if start else "host CPU"
        more = next((s["extra"][0] for _, s in rows if s["extra"]), None)
        L += [f"## {w}", "", f"| configuration | {unit} | min-max | ratio | {extra} | peak RSS |" +
              (f" {more} |" if more else ""),
              "|---|---:|---:|---:|---:|---:|" + ("---:|" if more else "")]
        for c, s in rows:
            name = c if not s["failed"] else f"{c} ({len(s['failed'])} of {s['passes']} failed)"
            if s["median"] is None:
                L.append(f"| {name} | failed | - | - | - | - |" + (" - |" if more else ""))
                continue
            if start:
                cpu = f"{fmt(s['to_program'])} ms" if s["to_program"] else "-"
            else:
                cpu = f"{fmt(s['cpu'][1])} {s['cpu'][0]}" if s["cpu"] else "-"
            rss = f"{s['rss']:.0f} MiB" if s["rss"] else "-"
            r = ratio(summ, w, c)
            L.append(f"| {name} | {fmt(s['median'])} | {fmt(s['lo'])}-{fmt(s['hi'])} | "
                     f"{'-' if r is None else f'{r:.2f}x'} | {cpu} | {rss} |" +
                     (f" {s['extra'][1] if s['extra'] else '-'} |" if more else ""))
        L.append("")
    L += costs_section(recs, cfgs, works)
    L += thesis(summ), ""
    L += fio_section(summ)
    # The other benchmarks' tables, when `make bench` ran them into the same
    # directory: each file's own title ("# ...") dropped, its sections one
    # level down.
    for name, title in (("startup.md", "Start-up of Debian's programs (bench/startup.py)"),
                        ("nginx.md", "nginx serving files (bench/nginx.py)")):
        path = os.path.join(out, name)
        if os.path.exists(path):
            body = open(path).read()
            if body.startswith("# "):
                body = body.split("\n", 1)[-1]
            body = ("\n" + body).replace("\n## ", "\n### ").lstrip("\n")
            L += [f"## {title}", "", body, ""]
    L += ["## Command lines", "",
          "- host: `build/bench/fsbench ARGS` on the tmpfs data set",
          "- Pier: `build/pier run --vmm qemu --machine microvm|q35 | --vmm pier [--dax 0] "
          "--mem 2G --root DATA --timing -- /fsbench ARGS` (the share writable: no `--ro`)",
          "- Linux guest: `qemu-system-x86_64 -machine pc -accel tcg -cpu max -smp 1 -m 2048 "
          "-kernel vmlinux -initrd (busybox, modules, /init)` with vhost-user-fs-pci "
          "(virtiofsd -o cache=auto|none), virtio-9p-pci, or a virtio-blk ext4 image "
          "(mounted noatime); every mount read-write; the guest drops its caches before "
          "each job",
          "- fsbench ARGS per workload: " + "; ".join(
              f"{'/'.join(n for n, _, _ in j.records)}: `{' '.join(j.args)}`"
              for j in dataset.workloads(dataset.SCALES[meta["scale"]])),
          "- before randwrite-4k the harness copies `big` to the file it writes; after "
          "seqwrite-big and randwrite-4k it runs `fsbench seqwrite|randwrite --verify` on "
          "the host against what was left", ""]
    plot_cfgs = [c for c in cfgs if c not in configs.BASELINE.values()]
    tput = [w for w in works if summ.get((w, cfgs[0]), {}).get("kind") in ("seq", "rand", "meta")]
    for name, title, ws in [("throughput", "Reads relative to the host (log scale)",
                             [w for w in tput if w not in WRITES]),
                            ("writes", "Writes relative to the host (log scale)",
                             [w for w in tput if w in WRITES])]:
        if ws and plot_cfgs and _plot(
                os.path.join(out, f"{name}.png"), title + "; bars: median, lines: min-max",
                "ratio to baseline",
                [(LEVEL_TITLES[lvl], [(w, [ratio_range(summ, w, c) for c in cs]) for w in ws], cs)
                 for lvl, cs in _by_level(plot_cfgs)]):
            L += [f"![{name}]({name}.png)", ""]
    st = [w for w in works if w.startswith("start") or w == "boot"]

    def ms(w, c):
        s = summ.get((w, c)) or {}
        return None if s.get("median") is None else (s["median"], s["lo"], s["hi"])
    if st and _plot(os.path.join(out, "startup.png"),
                    "Start-up: launch to exit (ms, log scale; bars: median, lines: min-max)", "ms",
                    [(LEVEL_TITLES[lvl].split(":")[0], [(w, [ms(w, c) for c in cs]) for w in st], cs)
                     for lvl, cs in _by_level(cfgs)]):
        L += ["![startup](startup.png)", ""]
    path = os.path.join(out, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(L))
    return path


def fio_section(summ):
    """fio's jobs as the thesis compared them: Pier against Linux, both with
    the window on the same VMM (its OSv/Linux), and the window against
    FUSE_READ in each guest."""
    def m(w, c):
        s = summ.get((w, c))
        return s["median"] if s else None

    def rat(a, b):
        return f"{a / b:.2f}x" if a and b else "-"
    rows = [w for w in FIO if m(w, "pier-dax") or m(w, "linux-pier-dax")]
    if not rows:
        return []
    L = ["## fio: Pier and Linux on the same VMM, against the thesis", "",
         "The thesis's fio jobs (Debian's fio, one thread, psync) in Pier and in Linux "
         "(Debian's 6.1, `-o dax=always`), both on pier's VMM and its FUSE server, in the "
         "nested machine, each with a window of "
         f"{common.DAX_WINDOW} (the thesis's size: Linux 6.1 waits for free window "
         "ranges while a process maps them, and blocked for good reading the 1 GiB file "
         "through mmap with 1 GiB). Thesis: OSv/Linux "
         f"{THESIS['osv_vs_linux_dax']:.2f}x with DAX, {THESIS['osv_vs_linux_fuse']:.2f}x with "
         f"FUSE_READ; DAX/FUSE_READ {THESIS['dax_vs_fuse_seq']}x sequential, "
         f"{THESIS['dax_vs_fuse_rand']}x random.", "",
         "| fio job | Pier DAX | Linux DAX | Pier/Linux, DAX | Pier/Linux, FUSE_READ | "
         "Pier DAX/no DAX | Linux DAX/no DAX |", "|---|---:|---:|---:|---:|---:|---:|"]
    for w in rows:
        unit = next((summ[(w, c)]["unit"] for c in ("pier-dax", "linux-pier-dax")
                     if summ.get((w, c), {}).get("unit")), "")
        L.append(f"| {w} | {fmt(m(w, 'pier-dax'))} {unit} | {fmt(m(w, 'linux-pier-dax'))} {unit} | "
                 f"{rat(m(w, 'pier-dax'), m(w, 'linux-pier-dax'))} | "
                 f"{rat(m(w, 'pier-nodax'), m(w, 'linux-pier-nodax'))} | "
                 f"{rat(m(w, 'pier-dax'), m(w, 'pier-nodax'))} | "
                 f"{rat(m(w, 'linux-pier-dax'), m(w, 'linux-pier-nodax'))} |")
    return L + [""]


def thesis(summ):
    """The thesis's ratios next to ours, and the issue's targets."""
    def m(w, c):
        s = summ.get((w, c))
        return s["median"] if s else None

    def rat(a, b):
        return f"{a / b:.2f}x" if a and b else "not measured"
    L = ["## Against the thesis and the targets", "",
         "| comparison | thesis | Pier |", "|---|---:|---:|",
         f"| DAX vs FUSE_READ, sequential | {THESIS['dax_vs_fuse_seq']}x | "
         f"{rat(m('seq-big', 'pier-dax'), m('seq-big', 'pier-nodax'))} |",
         f"| DAX vs FUSE_READ, random 4 KiB | {THESIS['dax_vs_fuse_rand']}x | "
         f"{rat(m('rand-4k', 'pier-dax'), m('rand-4k', 'pier-nodax'))} |",
         f"| DAX read vs host tmpfs (target 0.5x) | - | "
         f"{rat(m('seq-big', 'pier-dax'), m('seq-big', 'host-nested'))} |",
         f"| DAX mmap vs host tmpfs (target 0.8x) | - | "
         f"{rat(m('seq-big-mmap', 'pier-dax'), m('seq-big-mmap', 'host-nested'))} |",
         f"| start-up, initrd vs virtio-fs (QEMU microvm) | 0.4x of virtio-fs without DAX | "
         f"{rat(m('start-tiny', 'pier-qemu-microvm'), m('start-tiny-initrd', 'pier-qemu-microvm'))} "
         "faster from the initrd |",
         f"| DAX vs FUSE_READ, sequential mmap | - | "
         f"{rat(m('seq-big-mmap', 'pier-dax'), m('seq-big-mmap', 'pier-nodax'))} |",
         f"| in-place random 4 KiB writes, window (dax_write=1) vs FUSE_WRITE | - | "
         f"{rat(m('randwrite-4k', 'pier-dax'), m('randwrite-4k', 'pier-dax-nowrite'))} |",
         "| writes: sequential, random 4 KiB, create, unlink | none: the thesis's virtio-fs "
         "was read-only | the tables above; against the Linux guest below |", ""]
    prog = summ.get(("start-tiny", "pier-dax"), {}).get("to_program")
    if prog:
        L += [f"Boot to main() from virtio-fs on pier's VMM (target: under 10 ms where ring 0 "
              f"is not emulated): {prog:.0f} ms here, from pier's start, under nested "
              "emulation; the kernel's own part is in ARCHITECTURE.md.", ""]
    ahead = []
    for w in ["seq-big", "seq-ten", "rand-4k", "stat-tree", "openread-4k", "walk-tree", *WRITES]:
        p, lg = m(w, "pier-qemu-microvm"), m(w, "linux-virtiofs-auto")
        if p and lg:
            ahead.append(f"{w} {p / lg:.2f}x")
    if ahead:
        L += ["Pier vs a Linux guest on the same QEMU (TCG), both over virtio-fs "
              "(pier-qemu-microvm / linux-virtiofs-auto, >1 means Pier is ahead): " +
              ", ".join(ahead) + ".", ""]
    best = []
    for w in WORK_ORDER:
        # Only the Linux guests of the same level (QEMU TCG): a figure from
        # the nested machine is not comparable with one from here.
        linux = [(m(w, c), c) for c, (lvl, _) in configs.CONFIGS.items()
                 if c.startswith("linux-") and lvl == "host" and m(w, c)]
        p = m(w, "pier-qemu-microvm")
        if not linux or not p or summ[(w, "pier-qemu-microvm")]["kind"] == "start":
            continue
        v, c = max(linux)
        best.append(f"{w} {p / v:.2f}x (best: {c})")
    if best:
        L += ["Against the best Linux guest configuration on the same QEMU for each workload "
              "(Linux on pier's VMM is compared in the fio section below; target: ahead "
              "on every one): " + ", ".join(best) + ".", ""]
    return "\n".join(L)


def update_readme(path, out, meta, recs):
    """Rewrites README's headline table between the bench markers."""
    summ = summarise(recs)
    rel = os.path.relpath(os.path.join(out, "report.md"), os.path.dirname(path))
    rows = ["<!-- bench:begin (written by bench/run) -->",
            f"Latest `bench/run` ({meta['date']}, [report]({rel})): medians, and the ratio "
            "to the host baseline of the same level: the Pier VMM columns ran in "
            f"tools/kvm-nest ({meta['accel_pier']}) and are divided by the program run "
            "in that nested Linux; the others by the host column. Everything is emulated "
            "here (no hardware virtualisation), so read the ratios, not the absolutes. "
            "Writes: seqwrite-big writes a new file of the big file's size in 128 KiB "
            "write()s, randwrite-4k makes 4 KiB pwrite()s at random offsets of a copy of it "
            "(both timed to the end of their fsync, which costs nothing on the host's "
            "tmpfs), create-4k creates, writes and closes 4 KiB files, unlink-4k removes "
            "them.", "",
            "| workload | host | Pier, QEMU microvm | Linux guest, virtio-fs | Pier VMM, DAX | "
            "Pier VMM, no DAX | Linux on Pier VMM, DAX |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for w in ["seq-big", "seq-big-mmap", "rand-4k", "stat-tree", "openread-4k", *FIO, *WRITES,
              "start-tiny"]:
        cells = []
        for c in ["host", "pier-qemu-microvm", "linux-virtiofs-auto", "pier-dax", "pier-nodax",
                  "linux-pier-dax"]:
            s, r = summ.get((w, c)), ratio(summ, w, c)
            cells.append("-" if not s else "failed" if s["median"] is None else
                         f"{fmt(s['median'])} {s['unit']}" +
                         ("" if r is None or c == "host" else f" ({r:.2f}x)"))
        rows.append(f"| {w} | " + " | ".join(cells) + " |")
    rows.append("<!-- bench:end -->")
    text = open(path).read()
    block = "\n".join(rows)
    if "<!-- bench:begin" in text:
        text = re.sub(r"<!-- bench:begin.*?<!-- bench:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.replace("## Figures\n", "## Figures\n\n" + block + "\n", 1)
    with open(path, "w") as f:
        f.write(text)
