"""What the benchmarks share: the cached Debian roots
(tools/debian-root.sh), whether /dev/kvm works here, how a nested level
runs (run_nested), and the DAX window both guests get."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def debian_root(extra=None):
    """The cached Debian bookworm root's path (built on first use); with
    extra (packages, space-separated), a second root that has them too."""
    r = subprocess.run([os.path.join(ROOT, "tools", "debian-root.sh")] +
                       (["--with", extra] if extra else []), capture_output=True,
                       text=True, check=True)
    return r.stdout.strip()


def by_level(levels, want):
    """The configurations of want in each of levels' two ("host",
    "nested"), each list led by its level's baseline (the first of the
    level) when it has any: every level's baseline runs with it."""
    out = []
    for level in ("host", "nested"):
        cfgs = [c for c in levels[level] if c in want]
        if cfgs and levels[level][0] not in cfgs:
            cfgs.insert(0, levels[level][0])
        out.append(cfgs)
    return out


def run_nested(script, args, mem_mib):
    """A benchmark's nested level: `script --inner ARGS --json FILE` here
    where /dev/kvm works, else inside tools/kvm-nest; FILE's document."""
    build = os.path.join(ROOT, "build")
    os.makedirs(build, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".json", dir=build) as out:
        cmd = [sys.executable, os.path.abspath(script), "--inner", *args, "--json", out.name]
        if not kvm_usable():
            cmd = [os.path.join(ROOT, "tools", "kvm-nest", "run"), "--smp", "1", "--mem",
                   str(mem_mib), "--timeout", "3600", "--rw", build, "--", *cmd]
        subprocess.run(cmd, check=True, cwd=ROOT)
        with open(out.name) as f:
            return json.load(f)


def kvm_usable():
    if os.path.exists("/sys/module/kvm_pvm"):
        return False  # pier refuses it (host/accel.c)
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


# The DAX window both guests get on pier's VMM in the bench: larger than the
# data set's largest file. Linux 6.1 frees a window range only once no
# process maps it: with the 1 GiB default, `fsbench seq --mmap` of the 1 GiB
# file waited for free ranges forever (2026-12-06, "task blocked for more
# than 120 seconds"). Pier's guest evicts by itself, but in 1 GiB the 1 GiB
# file and fio's libraries do not fit: random reads of it made a
# SETUPMAPPING every 7 reads (2026-12-07). The thesis gave Linux 4 GiB.
DAX_WINDOW = "4G"
