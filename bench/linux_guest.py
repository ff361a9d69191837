"""A Linux guest for the benchmarks: Debian's own kernel (the one
tools/kvm-nest prepares: uncompressed vmlinux booted through PVH) with a
busybox initramfs this module builds, on the same QEMU as Pier's guests,
reading and writing the data set over virtio-fs (virtiofsd, cache=auto or
none), virtio-9p, or virtio-blk with ext4 (an image made from the data
set: the writes land in the image, not in the data set); or on pier's
VMM, over its own virtio-fs device with the DAX window (-o dax=always) or
without (docs/linux-guest.md). Every mount is
read-write. One boot runs a list of fsbench jobs, dropping the guest's
caches before each (cold passes), and prints their JSON lines on the
console; a job that fails is marked (BENCH-FAIL) and the next one runs.
Over virtio-fs a boot can also count each job's FUSE requests, by opcode,
from virtiofsd's debug log (fuse_log, requests_by_job).

Used by bench/run; runs as root (virtiofsd, loop-free mkfs.ext4 -d)."""
import glob
import hashlib
import lzma
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import common

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NEST_CACHE = os.environ.get("PIER_KVM_NEST_CACHE", "/var/cache/pier-kvm-nest")
CACHE = "/var/cache/pier-bench"
VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
BUSYBOX = "/bin/busybox"
# What the guest loads, in this order (dependencies are added before each).
MODULES = ["virtio_pci", "virtio_mmio", "virtiofs", "9pnet_virtio", "9p", "virtio_blk",
           "crc32c_generic", "ext4", "virtio_net"]
# QEMU's modes, then pier's VMM's (virtio-fs over virtio-mmio, found
# through the VMM's ACPI tables, with the DAX window or without).
MODES = ("virtiofs-auto", "virtiofs-none", "9p", "blk", "pier-dax", "pier-nodax")
PIER = os.path.join(ROOT, "build", "pier")
# Both VMMs' command lines start so: the console on COM1, the same
# settings for a guest whose clock the host keeps.
APPEND = "console=ttyS0 quiet panic=-1 mitigations=off tsc=reliable no_timer_check "

# Both inits start so: busybox's applets, /proc, /sys, /dev, the modules.
START = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod /lib/modules/$m || echo "BENCH-FAIL insmod $m"; done </lib/modules/order
"""

INIT = START + r"""
mode=$(sed -n 's/.*bench.mode=\([^ ]*\).*/\1/p' /proc/cmdline)
mark=$(sed -n 's/.*bench.mark=\([^ ]*\).*/\1/p' /proc/cmdline)
mkdir -p /data
case "$mode" in
pier-dax) mount -t virtiofs -o dax=always data /data ;;
virtiofs*|pier-nodax) mount -t virtiofs data /data ;;
9p) mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none data /data ;;
blk) mount -t ext4 -o noatime /dev/vda /data ;;
esac || echo "BENCH-FAIL mount $mode"
echo BENCH-READY
runner=/data/fsbench
[ -x /bin/runner ] && runner=/bin/runner
n=0
while read -r line; do
	sync
	echo 3 >/proc/sys/vm/drop_caches
	n=$((n + 1))
	echo "BENCH-JOB $line"
	# bench.mark=1: a name that is never there, looked up (one LOOKUP each)
	# right before and after the job, marks its requests in virtiofsd's log.
	[ -n "$mark" ] && [ -e "/data/.bench-mark-$n-begin" ]
	case "$line" in
	# A Debian program (bench/dataset.py FROM_DEBIAN): the data set is its root.
	/*) chroot /data $line ;;
	*) $runner $line ;;
	esac || echo "BENCH-FAIL $line"
	[ -n "$mark" ] && [ -e "/data/.bench-mark-$n-end" ]
done </jobs
sync
# Only the ext4 image must be unmounted (the host reads it afterwards);
# a virtio-fs umount after a large write has been seen to hang in 6.1
# with virtiofsd 7.2, and sync has already made everything durable.
if [ "$mode" = blk ]; then umount /data || echo "BENCH-WARN umount"; fi
echo BENCH-DONE
poweroff -f
"""


def kernel_dir():
    """The kernel tools/kvm-nest prepared (booting it once if none is)."""
    def found():
        for d in sorted(glob.glob(os.path.join(NEST_CACHE, "linux-image-*"))):
            if os.path.exists(os.path.join(d, "vmlinux")) and \
               os.path.exists(os.path.join(d, "kernel.deb")):
                return d
        return None
    d = found()
    if not d:
        subprocess.run([os.path.join(ROOT, "tools", "kvm-nest", "run"), "--", "true"],
                       check=True, stdout=subprocess.DEVNULL)
        d = found()
    if not d:
        raise RuntimeError("no Debian kernel prepared by tools/kvm-nest")
    return d


def _depends(ko_bytes):
    i = ko_bytes.find(b"\0depends=")
    if i < 0:
        return []
    s = ko_bytes[i + 9:ko_bytes.index(b"\0", i + 9)].decode()
    return [d for d in s.split(",") if d]


def modules(kdir, names=MODULES, cache=CACHE):
    """A directory with the modules names (and what they depend on) and
    "order", their load order, unpacked once from the kernel package into
    cache. Unpacking takes seconds here and many minutes in the nested
    machine (TCG), where the cache is read-only: the nested test pass has
    it made first (--prepare)."""
    # Named by the list too, so a cache unpacked for an older list is not used.
    tag = hashlib.sha1(" ".join(names).encode()).hexdigest()[:8]
    out = os.path.join(cache, f"{os.path.basename(kdir)}-modules-{tag}")
    if not os.path.exists(os.path.join(out, "order")):
        if os.environ.get("PIER_NESTED"):
            raise RuntimeError(f"{out} is missing: run bench/linux_guest.py --prepare "
                               "outside the nested machine first")
        tmp = tempfile.mkdtemp(dir=cache if os.path.isdir(cache) else None)
        subprocess.run(["dpkg-deb", "-x", os.path.join(kdir, "kernel.deb"), tmp], check=True)
        files = {}
        for p in glob.glob(os.path.join(tmp, "lib/modules/*/kernel/**/*.ko*"), recursive=True):
            files[os.path.basename(p).split(".ko")[0].replace("-", "_")] = p
        builtin = open(glob.glob(os.path.join(tmp, "lib/modules/*/modules.builtin"))[0]).read()
        os.makedirs(out, exist_ok=True)
        order, seen = [], set()

        def add(name):
            name = name.replace("-", "_")
            if name in seen:
                return
            seen.add(name)
            p = files.get(name)
            if not p:
                if f"/{name}.ko" in builtin.replace("-", "_"):
                    return
                raise RuntimeError(f"kernel module {name} not found")
            data = open(p, "rb").read()
            if p.endswith(".xz"):
                data = lzma.decompress(data)
            for d in _depends(data):
                add(d)
            base = os.path.basename(p).split(".ko")[0] + ".ko"
            with open(os.path.join(out, base), "wb") as f:
                f.write(data)
            order.append(base)

        for m in names:
            add(m)
        with open(os.path.join(out, "order"), "w") as f:
            f.write("\n".join(order) + "\n")
        shutil.rmtree(tmp)
    return out


def initramfs(kdir, jobs, path, runner=None, bins=(), init=INIT, names=MODULES, cache=CACHE):
    """Writes the initramfs (busybox, modules, /init, /jobs) to path; with
    runner (a shell script's text), /bin/runner runs the jobs instead of
    /data/fsbench; bins: more (static) programs for /bin; init: the text
    of /init; names: the modules, unpacked into cache."""
    mods = modules(kdir, names, cache)
    with tempfile.TemporaryDirectory() as d:
        for sub in ("bin", "lib/modules", "proc", "sys", "dev", "data"):
            os.makedirs(os.path.join(d, sub))
        shutil.copy(BUSYBOX, os.path.join(d, "bin", "busybox"))
        for f in os.listdir(mods):
            shutil.copy(os.path.join(mods, f), os.path.join(d, "lib", "modules", f))
        with open(os.path.join(d, "init"), "w") as f:
            f.write(init)
        os.chmod(os.path.join(d, "init"), 0o755)
        with open(os.path.join(d, "jobs"), "w") as f:
            f.write("".join(" ".join(j) + "\n" for j in jobs))
        for b in bins:
            shutil.copy(b, os.path.join(d, "bin", os.path.basename(b)))
        if runner:
            with open(os.path.join(d, "bin", "runner"), "w") as f:
                f.write(runner)
            os.chmod(os.path.join(d, "bin", "runner"), 0o755)
        names = subprocess.run(["find", "."], cwd=d, capture_output=True, check=True).stdout
        with open(path, "wb") as out:
            subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=names, cwd=d,
                           stdout=out, check=True)


def ext4_image(data_dir, path, spare_bytes=0, spare_files=0):
    """An ext4 image holding data_dir (mkfs.ext4 -d: no loop device), with
    room for spare_bytes more in spare_files more files."""
    size = sum(os.lstat(os.path.join(r, f)).st_size for r, _, fs in os.walk(data_dir) for f in fs)
    nfiles = sum(len(fs) + len(ds) for _, ds, fs in os.walk(data_dir)) + spare_files
    mib = int((size + spare_bytes) * 1.15 / 2**20) + nfiles * 8 // 1024 + 64
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", data_dir, "-N", str(nfiles + 1024),
                    path, f"{mib}M"], check=True, capture_output=True)


def dump_dir(img, path, dest):
    """Copies directory `path` of the ext4 image img to dest with debugfs:
    its files, and each subdirectory as an empty one (what linux-blk's
    guest left there, for the host to check). The guest unmounted it, so
    the journal holds nothing the image lacks."""
    os.makedirs(dest)
    ls = subprocess.run(["debugfs", "-R", f"ls -p {path}", img], capture_output=True,
                        text=True, check=True).stdout
    for line in ls.splitlines():
        f = line.strip().split("/")  # "/inode/mode/uid/gid/name/size/"
        if len(f) < 6 or f[5] in (".", ".."):
            continue
        if stat.S_ISDIR(int(f[2], 8)):
            os.mkdir(os.path.join(dest, f[5]))
            continue
        out = os.path.join(dest, f[5])
        subprocess.run(["debugfs", "-R", f"dump {path}/{f[5]} {out}", img], check=True,
                       capture_output=True)
        if not os.path.exists(out):
            raise RuntimeError(f"debugfs could not dump {path}/{f[5]} from {img}")


def cpu_of(pids):
    """CPU seconds (user + system) the processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            total += (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def virtiofs(workdir, tag, source, cache, log=None):
    """Starts virtiofsd serving source as tag; returns (its Popen, QEMU's
    arguments for the device). With log (a path), virtiofsd logs every
    request there (-d): it slows each request, so no timed boot has it."""
    sock = os.path.join(workdir, f"vfs-{tag}.sock")
    level = ["-d"] if log else ["-o", "log_level=warn"]
    err = open(log, "w") if log else subprocess.DEVNULL
    helper = subprocess.Popen(
        [VIRTIOFSD, f"--socket-path={sock}", "-o", f"source={source}", "-o", f"cache={cache}",
         "-o", "no_posix_lock", "-o", "no_xattr", *level],
        stdout=subprocess.DEVNULL, stderr=err)
    if log:
        err.close()  # virtiofsd has its own descriptor
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.02)
    return helper, ["-chardev", f"socket,id={tag},path={sock}",
                    "-device", f"vhost-user-fs-pci,chardev={tag},tag={tag}"]


def qemu_cmd(kdir, initrd, append, console, accel, mem_mib, dev):
    return ["qemu-system-x86_64", "-nodefaults", "-no-user-config",
            "-machine", "pc,memory-backend=mem", "-accel", accel, "-cpu", "max", "-smp", "1",
            "-m", str(mem_mib), "-object",
            f"memory-backend-memfd,id=mem,size={mem_mib}M,share=on",
            "-display", "none", "-no-reboot", "-kernel", os.path.join(kdir, "vmlinux"),
            "-initrd", initrd, "-append", APPEND + append,
            "-serial", f"file:{console}", *dev]




def pier_cmd(kdir, initrd, append, mem_mib, data_dir, dax, timeout):
    """pier's VMM booting the same kernel, the share as virtio-fs tag data."""
    return [PIER, "run", "--vmm", "pier", "--kernel", os.path.join(kdir, "vmlinux"),
            "--initrd", initrd, "--mem", f"{mem_mib}M", "--share", f"data={data_dir}",
            "--dax", common.DAX_WINDOW if dax else "0", "--timeout", str(timeout),
            "--append", APPEND + append]


def run(mode, data_dir, jobs, workdir, accel="tcg", mem_mib=2048, timeout=1800, spare_bytes=0,
        spare_files=0, runner=None, bins=(), fuse_log=None):
    """Boots the guest in `mode`, runs jobs (lists of fsbench arguments with
    guest paths under /data), and returns (outputs, info): outputs[i] is the
    text job i printed, with "BENCH-FAIL" in it if it failed; info has
    boot_s (launch to BENCH-READY), cpu_s and maxrss_kib of QEMU and
    virtiofsd together, job_cpu_s[i], their CPU time during job i (sampled
    at the job markers, 20 ms granularity), and for blk image, the ext4
    image in workdir (made with room for spare_bytes in spare_files more
    files). runner, bins: see initramfs. fuse_log (virtio-fs modes): a path
    for virtiofsd's debug log, each job's requests marked in it for
    requests_by_job. Raises RuntimeError if the guest did not get through its jobs."""
    assert mode in MODES, mode
    kdir = kernel_dir()
    initrd = os.path.join(workdir, "initrd.cpio")
    initramfs(kdir, jobs, initrd, runner, bins)
    console = os.path.join(workdir, "console.log")
    helpers = []
    dev = []
    append = f"bench.mode={mode}"
    if mode.startswith("pier"):
        pass  # pier's VMM serves the share itself
    elif mode.startswith("virtiofs"):
        helper, dev = virtiofs(workdir, "data", data_dir, mode.split("-")[1], log=fuse_log)
        helpers.append(helper)
        if fuse_log:
            append += " bench.mark=1"
    elif mode == "9p":
        dev = ["-fsdev", f"local,id=fs0,path={data_dir},security_model=none",
               "-device", "virtio-9p-pci,fsdev=fs0,mount_tag=data"]
    else:
        img = os.path.join(workdir, "data.ext4")
        ext4_image(data_dir, img, spare_bytes, spare_files)
        dev = ["-drive", f"file={img},if=virtio,format=raw"]
    t0 = time.monotonic()
    if mode.startswith("pier"):  # COM1 is pier's stdout
        cmd = pier_cmd(kdir, initrd, append, mem_mib, data_dir, mode == "pier-dax", timeout)
        with open(console, "w") as out:
            qemu = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
    else:
        cmd = qemu_cmd(kdir, initrd, append, console, accel, mem_mib, dev)
        qemu = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    boot_s, usages, marks = None, [], []
    try:
        while True:
            pid, _, ru = os.wait4(qemu.pid, os.WNOHANG)
            if pid:
                usages.append(ru)
                qemu.returncode = 0  # reaped here; Popen must not wait again
                break
            text = open(console, errors="replace").read() if os.path.exists(console) else ""
            if boot_s is None and "BENCH-READY" in text:
                boot_s = time.monotonic() - t0
            # CPU of QEMU and virtiofsd at each job boundary, so each job
            # gets its own share.
            n = text.count("BENCH-JOB ") + text.count("BENCH-DONE")
            while len(marks) < n:
                marks.append(cpu_of([qemu.pid] + [h.pid for h in helpers]))
            if time.monotonic() - t0 > timeout:
                qemu.kill()
                raise RuntimeError(f"Linux guest ({mode}) still running after {timeout} s")
            time.sleep(0.02)
    finally:
        for h in helpers:
            # Not Popen.terminate(): it polls first, and a virtiofsd that
            # already left (QEMU hung up) would be reaped without its rusage.
            try:
                os.kill(h.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            _, _, ru = os.wait4(h.pid, 0)
            h.returncode = 0
            usages.append(ru)
    info = {"boot_s": boot_s, "cpu_s": sum(u.ru_utime + u.ru_stime for u in usages),
            "maxrss_kib": max(u.ru_maxrss for u in usages),
            "job_cpu_s": [b - a for a, b in zip(marks, marks[1:])]}
    if mode == "blk":
        info["image"] = img
    text = open(console, errors="replace").read()
    # A failure before the first job (module, mount) fails them all.
    if "BENCH-DONE" not in text or "BENCH-FAIL" in text.split("BENCH-JOB ")[0]:
        raise RuntimeError(f"Linux guest ({mode}) failed:\n" + text[-3000:] +
                           qemu.stderr.read().decode(errors="replace"))
    outputs = [part.split("\n", 1)[1] if "\n" in part else ""
               for part in text.split("BENCH-JOB ")[1:]]
    outputs[-1] = outputs[-1].split("BENCH-DONE")[0]
    return outputs, info


# virtiofsd's debug log (QEMU 7.2's C virtiofsd, -d): each request it takes
# is a line "[TIME] [ID: THREAD] unique: U, opcode: NAME (N), nodeid: ...",
# and a LOOKUP's handler then logs, from the same thread,
# "[TIME] [ID: THREAD] lo_lookup(parent=P, name=NAME)".
LOG_REQUEST = re.compile(r"\[ID: (\d+)\] unique: (\d+), opcode: (\w+) \(\d+\)")
LOG_MARK = re.compile(r"\[ID: (\d+)\] lo_lookup\(parent=\d+, "
                      r"name=\.bench-mark-(\d+)-(begin|end)\)")


def _log_requests(log):
    """({unique: opcode}, {(job, "begin" or "end"): unique of its marker's
    LOOKUP}) from virtiofsd's debug log. A marker's name line belongs to
    the latest request its thread logged: worker threads interleave lines."""
    ops, marks, latest = {}, {}, {}
    with open(log, errors="replace") as f:
        for line in f:
            m = LOG_REQUEST.search(line)
            if m:
                latest[m[1]] = int(m[2])
                ops[int(m[2])] = m[3]
                continue
            m = LOG_MARK.search(line)
            if m and m[1] in latest:
                marks[(int(m[2]), m[3])] = latest[m[1]]
    return ops, marks


def requests_by_job(log, njobs):
    """Each job's FUSE requests by opcode ({name: count}), from the debug log
    of a boot run with fuse_log: those whose unique lies between the job's
    two marker LOOKUPs. The guest numbers its requests in the order it
    sends them (FUSE's unique), so a request of a job is between its
    markers whichever virtiofsd thread served it, and when. None for a job
    whose markers are not both in the log."""
    ops, marks = _log_requests(log)
    out = []
    for n in range(1, njobs + 1):
        begin, end = marks.get((n, "begin")), marks.get((n, "end"))
        if begin is None or end is None:
            out.append(None)
            continue
        counts = {}
        for unique, op in ops.items():
            if begin < unique < end:
                counts[op] = counts.get(op, 0) + 1
        out.append(counts)
    return out


SERVE_INIT = START + r"""
# (A module that failed said BENCH-FAIL already: Server.ready() sees it.)
fail() { echo "BENCH-FAIL $*"; poweroff -f; }
mkdir -p /root
mount -t virtiofs -o ro root /root || fail "mount root"
mount -t virtiofs data /root/srv || fail "mount data"
mount -t proc proc /root/proc && mount -o bind /dev /root/dev || fail "proc, dev"
ip link set lo up && ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 &&
	ip route add default via 10.0.2.2 || fail "network"
port=$(sed -n 's/.*bench.port=\([0-9]*\).*/\1/p' /proc/cmdline)
chroot /root $(cat /jobs) &
pid=$!
# Ready once the server listens (QEMU's forward accepts host connections
# before anything in the guest does, so the host cannot tell).
hex=$(printf '%04X' "$port")
until grep -q ":$hex 0\{8\}:0000 0A\|:$hex 0\{32\}:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
	kill -0 $pid 2>/dev/null || fail "server ended"
	usleep 200000
done
echo BENCH-READY
wait $pid
fail "server exited: $?"
"""


class Server:
    """A Linux guest running `command` (a list, run in a chroot of root
    with share mounted at /srv) that listens on guest_port, forwarded from
    127.0.0.1:host_port. ready() waits for it to listen; stop() ends it."""

    def __init__(self, root, share, command, host_port, guest_port, workdir, accel="tcg",
                 mem_mib=1024):
        kdir = kernel_dir()
        initrd = os.path.join(workdir, "initrd.cpio")
        initramfs(kdir, [command], initrd, init=SERVE_INIT)
        self.console = os.path.join(workdir, "console.log")
        self.helpers, dev = [], []
        for tag, source in (("root", root), ("data", share)):
            helper, args = virtiofs(workdir, tag, source, "auto")
            self.helpers.append(helper)
            dev += args
        dev += ["-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{host_port}-:{guest_port}",
                "-device", "virtio-net-pci,netdev=n0"]
        self.qemu = subprocess.Popen(
            qemu_cmd(kdir, initrd, f"bench.port={guest_port}", self.console, accel, mem_mib, dev),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def log(self):
        return open(self.console, errors="replace").read() if os.path.exists(self.console) else ""

    def ready(self, timeout=600):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.log()
            if "BENCH-READY" in text:
                return
            if "BENCH-FAIL" in text or self.qemu.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("Linux guest server did not start:\n" + self.log()[-3000:] +
                           self.qemu.stderr.read())

    def stop(self):
        for p in [self.qemu] + self.helpers:
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    import sys
    if sys.argv[1:] != ["--prepare"]:
        sys.exit("usage: bench/linux_guest.py --prepare  (the kernel and its modules, cached)")
    print(modules(kernel_dir()))
