"""Several vCPUs (issue 23): `pier run --cpus N` gives the guest N
processors on both VMMs (QEMU's -smp with multi-threaded TCG; pier's VMM
one thread per vCPU, the application processors waiting in KVM for the
guest's INIT and STARTUP messages), the guest starts every one through
its real-mode start-up page (guest/arch/x86_64/smp.c, ap_boot.S), and
its scheduler runs the program's tasks on all of them (kernel/task.c,
cpu_queues.c): a run queue per CPU, idle CPUs taking tasks over, a
balancer, pinning, reschedule IPIs to halted CPUs, TLB shoot-downs
(mm/tlb.c)."""
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import BUILD, prog_root, run_pier, targets, vmm_args

ALL = targets("microvm", "q35", "pier")
PRIMARY = targets("microvm", "pier")


@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("machine", ALL)
def test_every_cpu_comes_up(machine, cpus):
    """No program: the kernel's log is pier's stdout. 4 vCPUs on this
    2-core machine must come up as well as 2."""
    r = run_pier(*vmm_args(machine), "--cpus", str(cpus), "-o", "exit=0", timeout=180)
    assert r.rc == 0, r.out[-3000:] + r.err[-3000:]
    m = re.search(r"smp: (\d+) of (\d+) CPUs online", r.out)
    assert m, r.out[-3000:]
    assert (int(m.group(1)), int(m.group(2))) == (cpus, cpus), m.group(0)
    assert "did not start" not in r.out


@pytest.mark.parametrize("machine", ALL)
def test_one_cpu_starts_no_other(machine):
    r = run_pier(*vmm_args(machine), "-o", "exit=0", timeout=180)
    assert r.rc == 0, r.out[-3000:] + r.err[-3000:]
    assert "kmain" in r.out or "Pier guest kernel" in r.out, r.out[-3000:]
    assert "smp:" not in r.out, r.out[-3000:]


@pytest.mark.timeout(200)
@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("machine", ALL)
def test_threads_run_on_every_cpu(machine, libc, cpus, tmp_path):
    """tests/progs/cpus.c: the count agrees three ways (sched_getaffinity,
    sysconf's /sys/devices/system/cpu/online, /proc/cpuinfo), then 8
    spinning threads run on every CPU, by the getcpu system call and by
    the vDSO's (RDTSCP's TSC_AUX). All on one CPU, it never finishes."""
    root = prog_root(tmp_path / "root", libc, "cpus")
    for d in ("proc", "sys"):
        os.mkdir(os.path.join(root, d))
    r = run_pier(*vmm_args(machine), "--cpus", str(cpus), "--timeout", "150", "--root", root,
                 "--", "/bin/cpus", timeout=180)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == (f"ok count\nok spread\ncpus: {cpus} online, threads ran on {cpus} "
                     f"(getcpu), {cpus} (vdso)\n"), r.out + r.err[-3000:]


@pytest.mark.timeout(200)
@pytest.mark.parametrize("machine", ALL)
def test_a_program_runs_beside_the_other_cpus(machine, tmp_path):
    """The threads test's spinning thread is still preempted by a timer
    on 4 vCPUs (its flag setter runs on another CPU or after a slice)."""
    root = prog_root(tmp_path / "root", "glibc", "preempt")
    r = run_pier(*vmm_args(machine), "--cpus", "4", "--timeout", "150", "--root", root,
                 "--", "/bin/preempt", timeout=180)
    assert r.rc == 0, r.err[-3000:]
    assert r.out.strip() == "preempt flag-seen", r.out + r.err[-3000:]


@pytest.mark.timeout(200)
@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("machine", ALL)
def test_pinning_and_the_balancer(machine, cpus, tmp_path):
    """tests/progs/affinity.c: sched_setaffinity pins the caller at once
    and another thread by its tid, a new thread inherits the mask, a mask
    with no CPU online is refused, and with a spinner pinned to every CPU
    but 0 the balancer still takes one of three spinners off CPU 0 (no
    CPU is ever idle, so no idle CPU takes it over). The guest counts the
    moves by kind."""
    root = prog_root(tmp_path / "root", "glibc", "affinity")
    stats = tmp_path / "stats.json"
    r = run_pier(*vmm_args(machine), "--cpus", str(cpus), "--timeout", "150", "--root", root,
                 f"--stats={stats}", "--", "/bin/affinity", timeout=180)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == ("ok pin\nok inherit\nok einval\nok balance\nok other\n"
                     f"affinity: {cpus} cpus\n"), r.out + r.err[-3000:]
    moves = json.loads(stats.read_text())["guest"].get("sched.migrate", {})
    assert moves["balance"] >= 1 and moves["affinity"] >= 1, moves


TASKSET = ("nproc; taskset -c 1 nproc; taskset -c 1 grep Cpus_allowed /proc/self/status; "
           "taskset -c 1 cut -d' ' -f39 /proc/self/stat; taskset -p 1; "
           "taskset -c 2 true 2>/dev/null; echo rc=$?")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("machine", PRIMARY)
def test_taskset_from_debian(machine, debian):
    """Debian's taskset (util-linux) and nproc on 2 vCPUs: a pinned nproc
    says 1, /proc/self/status and field 39 of /proc/self/stat say where
    the pinned task is allowed and runs, pid 1's mask is both CPUs, and
    a mask with no CPU online fails as on Linux."""
    r = run_pier(*vmm_args(machine), "--cpus", "2", "--timeout", "250", "--root", debian,
                 "--ro", "--", "/bin/sh", "-c", TASKSET, timeout=280)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == ("2\n1\nCpus_allowed:\t2\nCpus_allowed_list:\t1\n1\n"
                     "pid 1's current affinity mask: 3\nrc=1\n"), r.out + r.err[-3000:]


@pytest.mark.timeout(200)
@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("machine", ALL)
def test_futex_ping_pong(machine, libc, tmp_path):
    """tests/progs/pingpong.c: 10,000 turns handed between two threads by
    raw FUTEX_WAIT and FUTEX_WAKE, on 4 vCPUs; a lost wake-up hangs."""
    root = prog_root(tmp_path / "root", libc, "pingpong")
    r = run_pier(*vmm_args(machine), "--cpus", "4", "--timeout", "150", "--root", root,
                 "--", "/bin/pingpong", timeout=180)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == "ok pingpong\npingpong: 10000 round trips\n", r.out + r.err[-3000:]


HAMMER = [pytest.param(m, dax0, id=f"{m}{'-dax0' if dax0 else ''}")
          for m in ALL for dax0 in ((False, True) if m == "pier" else (False,))]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("machine,dax0", HAMMER)
def test_eight_threads_hammer_one_file(machine, dax0, libc, tmp_path):
    """tests/progs/hammer.c on 4 vCPUs: 8 threads change their own 64 KiB
    of one file 1,500 times each by pwrite/pread or through one shared
    mapping while one of them truncates the tail; the file ends as the
    threads' models say (checked in the guest, and its size here). With
    pier's DAX window and without (mapped pages are then copies)."""
    root = prog_root(tmp_path / "root", libc, "hammer")
    r = run_pier(*vmm_args(machine), "--cpus", "4", "--timeout", "250",
                 *(["--dax", "0"] if dax0 else []), "--root", root,
                 "--", "/bin/hammer", "/f.bin", str(len(libc) * 31 + dax0), timeout=280)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == "ok threads\nok final\nhammer: 8 threads, 12000 operations\n", \
        r.out + r.err[-3000:]
    size = os.path.getsize(os.path.join(root, "f.bin"))
    assert 8 * 65536 <= size <= 9 * 65536, size


@pytest.mark.timeout(300)
@pytest.mark.parametrize("machine", ALL)
def test_shoot_downs_survive_repeated_ipis(machine, tmp_path):
    """The hammer's munmaps and truncates shoot TLBs down on 4 vCPUs with
    every IPI sent again after its answer (-o tlb_twice=1), as a nested
    TCG once delivered one twice: each repeat is counted and changes
    nothing (mm/tlb.c answers by number; a countdown went below zero and
    panicked)."""
    root = prog_root(tmp_path / "root", "musl", "hammer")
    stats = tmp_path / "stats.json"
    r = run_pier(*vmm_args(machine), "--cpus", "4", "--timeout", "250", "-o", "tlb_twice=1",
                 "--root", root, f"--stats={stats}", "--", "/bin/hammer", "/f.bin", "5",
                 timeout=280)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == "ok threads\nok final\nhammer: 8 threads, 12000 operations\n", \
        r.out + r.err[-3000:]
    tlb = json.loads(stats.read_text())["guest"]["tlb.shootdown"]
    assert tlb["ipis"] >= 10 and tlb["extra"] >= 1, tlb
    assert tlb["ipis"] <= tlb["answered"] + tlb["extra"] <= 2 * tlb["ipis"], tlb


def pattern_file(path, size):
    """preads.c's file: byte i == (i * 13 + i // 4099) & 0xff."""
    path.write_bytes(bytes((k * 13 + k // 4099) & 0xFF for k in range(size)))


PREADS = [p for p in HAMMER if p.values[0] != "q35"]


def run_on_pattern(machine, dax0, tmp_path, prog, size):
    """tests/progs/PROG (glibc) on 2 vCPUs over /p.bin, size bytes of
    pattern_file's (without the DAX window if dax0): its result and the
    guest's stats."""
    root = prog_root(tmp_path / "root", "glibc", prog)
    pattern_file(Path(root) / "p.bin", size)
    stats = tmp_path / "stats.json"
    r = run_pier(*vmm_args(machine), "--cpus", "2", "--timeout", "250",
                 *(["--dax", "0"] if dax0 else []), "--root", root, f"--stats={stats}",
                 "--", f"/bin/{prog}", "/p.bin", timeout=280)
    guest = json.loads(stats.read_text())["guest"] if stats.exists() else {}
    return r, guest


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("machine,dax0", PREADS)
def test_reads_at_one_shared_position(machine, dax0, cpus, tmp_path):
    """tests/progs/posreads.c: four threads read() and readv() one open
    file at its shared position until its end; every 4 KiB block is read
    exactly once. A read() whose FUSE_READ lets the kernel lock go keeps
    the file's position meanwhile (linux/fdtable.c, file_pos_lock):
    without that, two threads read block 0 at once (seen: 3 times)."""
    root = prog_root(tmp_path / "root", "glibc", "posreads")
    r = run_pier(*vmm_args(machine), "--cpus", str(cpus), "--timeout", "250",
                 *(["--dax", "0"] if dax0 else []), "--root", root,
                 "--", "/bin/posreads", "/pos.bin", timeout=280)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == "ok read\nok readv\nposreads: 512 blocks by 4 threads\n", \
        r.out + r.err[-3000:]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("machine,dax0", PREADS)
def test_preads_while_buffers_and_fds_go(machine, dax0, tmp_path):
    """tests/progs/preads.c on 2 vCPUs: a pread's FUSE_READ lets the
    kernel lock go while it waits for the host, so one thread's preads
    run while another unmaps their buffer and closes their descriptor:
    the reads come back right, or with EFAULT or EBADF, never a panic,
    and a third thread's reads of its own buffer are right byte for byte.
    With pier's DAX window and without (reads by FUSE_READ then). With
    the window the copies out of it are made without the kernel lock too
    (fuse_dax.c, copy_out), so the unmapping thread can overtake one: a
    fault in copy_nofault stops it (counted: copy.faulted) and the read
    is EFAULT or short."""
    r, guest = run_on_pattern(machine, dax0, tmp_path, "preads", 4 << 20)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == ("ok races\npreads: 400 checked, 400 unmapped-buffer reads, "
                     "400 closed-fd reads\n"), r.out + r.err[-3000:]
    if machine == "pier" and not dax0:
        assert guest["window.copy_unlocked"]["count"] > 0, guest


@pytest.mark.timeout(300)
@pytest.mark.parametrize("machine,dax0", PREADS)
def test_big_reads_while_their_buffer_goes(machine, dax0, tmp_path):
    """tests/progs/readunmap.c on 2 vCPUs: 2 MiB preads while another
    thread unmaps and maps their buffer again and again: whole, part or
    EFAULT, the bytes that came right, never a guest panic. With pier's
    DAX window the copy out of it runs without the kernel lock, so the
    munmap can overtake it: copy_nofault stops at the vanished page."""
    r, _ = run_on_pattern(machine, dax0, tmp_path, "readunmap", 2 << 20)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == "ok reads\nreadunmap: 1000 reads\n", r.out + r.err[-3000:]


def run_in_dir(machine, dax0, cpus, tmp_path, prog):
    """tests/progs/PROG (glibc) on `cpus` vCPUs, given an empty /d to work
    in (without the DAX window if dax0): the root, the result and the
    guest's stats."""
    root = prog_root(tmp_path / "root", "glibc", prog)
    os.mkdir(os.path.join(root, "d"))
    stats = tmp_path / "stats.json"
    r = run_pier(*vmm_args(machine), "--cpus", str(cpus), "--timeout", "250",
                 *(["--dax", "0"] if dax0 else []), "--root", root, f"--stats={stats}",
                 "--", f"/bin/{prog}", "/d", timeout=280)
    guest = json.loads(stats.read_text())["guest"] if stats.exists() else {}
    return root, r, guest


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("machine,dax0", PREADS)
def test_appends_from_four_threads(machine, dax0, cpus, tmp_path):
    """tests/progs/appends.c: four threads append records (up to 300 KiB,
    more than one FUSE_WRITE) to one file, each through its own descriptor
    (write and writev on O_APPEND, pwritev2 with RWF_APPEND), and write them to files
    of their own; every record lands whole, once and in its thread's order.
    write()'s FUSE_WRITEs let the kernel lock go while they wait (counted:
    virtio.unlocked_wait), and the call holds the file's write lock
    meanwhile (vfs.h, write_lock), so no other append takes its end of
    file. Their fsyncs and fdatasyncs let it go too."""
    root, r, guest = run_in_dir(machine, dax0, cpus, tmp_path, "appends")
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == ("ok appends\nok own\n"
                     "appends: 4 threads, 150 records each, 13956020 bytes shared\n"), \
        r.out + r.err[-3000:]
    assert os.path.getsize(os.path.join(root, "d", "shared")) == 13956020
    # Each thread syncs its files every 10 records: 4 * 15 FSYNCs of each kind.
    assert guest["fuse.FSYNC"]["count"] >= 120, guest
    assert guest["virtio.unlocked_wait"]["count"] >= \
        guest["fuse.WRITE"]["count"] + guest["fuse.FSYNC"]["count"], guest


PY_THREADS = """
import os, threading, time
n = 0
lock = threading.Lock()
def work():
    global n
    for _ in range(10000):
        with lock:
            n += 1
ts = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print('counter', n)
ev = threading.Event()
threading.Timer(0.2, ev.set).start()
print('timer fired', ev.wait(30))
print('cpus usable', len(os.sched_getaffinity(0)))
"""


@pytest.mark.timeout(600)
@pytest.mark.parametrize("machine", PRIMARY)
def test_python_threads_on_four_vcpus(machine, debian):
    """python3's threading from the Debian root on 4 vCPUs: 8 threads on
    one lock, a timer; sched_getaffinity says all 4."""
    r = run_pier(*vmm_args(machine), "--cpus", "4", "--timeout", "500", "--root", debian, "--ro",
                 "--", "/usr/bin/python3", "-c", PY_THREADS, timeout=560)
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out.split("\n") == ["counter 80000", "timer fired True", "cpus usable 4", ""], r.out


@pytest.mark.timeout(900)
@pytest.mark.parametrize("machine", PRIMARY)
def test_fio_four_jobs_on_four_vcpus(machine, debian, tmp_path):
    """fio --numjobs=4 --thread, random 4 KiB reads of one file, on 4
    vCPUs: every job reads all it was asked to (io_bytes). Each CPU sends
    its requests on a virtio-fs request queue of its own: on pier's VMM
    (a queue per vCPU, each served by its own host thread) every one of
    the four carried reads, as the guest counted them and as the host
    served them; under QEMU, virtiofsd's one queue carried them all.
    Without the DAX window (--dax 0), so that every read is a request."""
    share = tmp_path / "share"
    share.mkdir()
    with open(share / "file", "wb") as f:
        f.write(os.urandom(1 << 20) * 64)  # 64 MiB, not holes: real pages to read
    # 8 MiB per job; 4 on the nested machine, where each 4 KiB read is
    # a request (--dax 0) and costs ten times as much.
    each = (4 if machine == "pier" else 8) << 20
    stats = tmp_path / "stats.json"
    nodax = ["--dax", "0"] if machine == "pier" else []
    r = run_pier(*vmm_args(machine), "--cpus", "4", "--mem", "512M", "--timeout", "800",
                 f"--stats={stats}", "-o", "verbose", *nodax,
                 "--root", debian, "--ro", "--share", f"data={share}", "-o", "mount=data:/mnt",
                 "--", "/usr/bin/fio", "--name=rand", "--thread", "--numjobs=4",
                 "--ioengine=psync", "--rw=randread", "--bs=4k", "--size=64m",
                 f"--io_size={each}", "--filename=/mnt/file", "--output-format=json",
                 timeout=860)
    assert r.rc == 0, r.out[-2000:] + r.err[-3000:]
    jobs = json.loads(r.out[r.out.index("{"):])["jobs"]
    assert len(jobs) == 4, jobs
    for job in jobs:
        assert job["error"] == 0, job
        assert job["read"]["io_bytes"] == each, job["read"]
        assert job["write"]["io_bytes"] == 0
    st = json.loads(stats.read_text())
    guest = {k: v["count"] for k, v in st["guest"].items() if k.startswith("virtio_fs.queue")}
    queues = 4 if machine == "pier" else 1
    assert f"request queue(s) offered, {queues} used" in r.err, r.err[-3000:]
    assert set(guest) == {f"virtio_fs.queue{q}" for q in range(1, queues + 1)}, guest
    # Every job's reads at least (8 MiB in 4 KiB reads), on every queue.
    assert sum(guest.values()) >= 4 * each // 4096, guest
    if machine == "pier":
        host = {k: v["requests"] for k, v in st["host"].items()
                if k.startswith("virtio_fs.queue")}
        # The host served each queue's requests (two devices: the root's
        # and the share's, summed), exactly those.
        assert set(host) == set(guest), (host, guest)
        assert all(n > 0 for n in guest.values()), guest
        assert sum(host.values()) == sum(guest.values()), (host, guest)


@pytest.mark.parametrize("bad", ["0", "65", "two", "2x", ""])
def test_cpus_is_checked(bad):
    r = run_pier("--cpus", bad, "--", "/bin/true", timeout=30)
    assert r.rc == 2, r.out + r.err
    assert f"--cpus {bad}: expected a number from 1 to 64" in r.err


def test_only_cpus_gives_processors():
    """The guest's cpus=N comes from --cpus alone: a VM with one processor
    told of four would wait for three that never answer."""
    r = run_pier("-o", "cpus=4", "--", "/bin/true", timeout=30)
    assert r.rc == 2, r.out + r.err
    assert "-o cpus: use --cpus N" in r.err


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("machine,dax0", PREADS)
def test_names_change_under_watchers(machine, dax0, cpus, tmp_path):
    """tests/progs/names.c: one thread creates, renames, unlinks and
    appends, checking after each step what its own change must show, while
    three others stat the names and the file without pause. LOOKUP's and
    GETATTR's waits let the kernel lock go (stat, access, open: counted in
    virtio.unlocked_wait), so a reply can come back after another CPU's
    change made it out of date: such a reply is neither cached nor applied
    (cache.stale), and no name outlives its unlink, no size goes back."""
    root, r, guest = run_in_dir(machine, dax0, cpus, tmp_path, "names")
    assert r.rc == 0, r.out + r.err[-3000:]
    assert r.out == "ok names\nnames: 400 rounds, 3 watchers\n", r.out + r.err[-3000:]
    assert os.listdir(os.path.join(root, "d")) == []
    print({k: v for k, v in guest.items()
           if k.startswith(("fuse.LOOKUP", "fuse.GETATTR", "virtio.unlocked", "cache."))})
    # Every one of the watchers' stats asks the host (the changes expire
    # what they cached), and each such wait lets the kernel lock go.
    assert guest["virtio.unlocked_wait"]["count"] >= \
        guest["fuse.GETATTR"]["count"] // 2, guest


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cpus", [1, 2])
@pytest.mark.parametrize("machine", PRIMARY)
def test_a_crowd_of_lookups_waits_for_room(machine, cpus, tmp_path):
    """build/bench/lookups with 64 threads, each stat()ing 100 names of its
    own: while their LOOKUPs wait without the kernel lock, more of them are
    in flight than a 128-descriptor request queue holds (32). A request
    that finds its queue full waits for room (virtio.queue_full counts
    them); none fails. It failed with EAGAIN before ("/d/47.1: Resource
    temporarily unavailable", under QEMU)."""
    root = tmp_path / "root"
    os.makedirs(root / "bin")
    os.makedirs(root / "d")
    shutil.copy(os.path.join(BUILD, "bench", "lookups"), root / "bin" / "lookups")
    for t in range(64):
        for i in range(100):
            (root / "d" / f"{t}.{i}").touch()
    stats = tmp_path / "stats.json"
    r = run_pier(*vmm_args(machine), "--cpus", str(cpus), "--timeout", "250", "--root",
                 str(root), "--ro", f"--stats={stats}", "--", "/bin/lookups", "64", "100", "/d",
                 timeout=280)
    guest = json.loads(stats.read_text())["guest"]
    full = guest.get("virtio.queue_full", {}).get("count")
    assert r.rc == 0, f"queue full {full} times\n" + r.out + r.err[-3000:]
    assert r.out.startswith("LOOKUPS 6400 "), r.out + r.err[-3000:]
    assert guest["fuse.LOOKUP"]["count"] >= 6400, guest
    print("queue full", full, "times")
