"""Issue 21: costs counted. `pier run --stats` reports what a run cost on
both sides, and the guest's counters show in /proc/pier/stats, so fsbench
can say what each measured part cost. Counts are deterministic where
times are not, so these tests assert them: with --cache always (names and
attributes never expire during a run) every count below is exact.

The requests each operation makes, as Pier's guest makes them:

  start of `busybox true` (root with /dev, /proc and /sys):
    INIT, GETATTR of the root            the session; the root's mode
    LOOKUP dev, proc, sys                the guest's own file systems'
                                         mount points
    LOOKUP bin, busybox; OPEN            the program
    READ: 1 + the ELF loader's pieces    its first page (the #! check, the
                                         headers), then each loadable
                                         segment in 1 MiB pieces; with a
                                         DAX window too (the loader keeps
                                         what it reads: no mapping)
    RELEASE                              the program file, loaded
    BATCH_FORGET, DESTROY                at exit: the five names, the session
  open, read, close of a 4 KiB file (its name cached by the listing):
    OPEN, READ, RELEASE                  with a window too: a small file
                                         read whole the first time is
                                         not worth mapping
  stat of a listed tree:                 nothing, on every pass; after the
                                         cache time (auto: 1 s) a LOOKUP per
                                         name until a directory's fourth,
                                         then one listing refreshes it all
  reading a 64 MiB file with a window:   one SETUPMAPPING per 2 MiB chunk,
                                         no READ; the second pass nothing
                       without:          a READ per 256 KiB, every pass
"""
import json
import os
import shutil
import struct

import pytest

from conftest import BUILD, TARGETS, run_pier, targets, vmm_args

FSBENCH = os.path.join(BUILD, "bench", "fsbench")
TREE_FILES = 40
BIG = 64 * 2**20
CHUNK = 2 * 2**20      # the guest's default DAX chunk
LOAD_PIECE = 2**20     # the ELF loader's read size (guest/linux/exec.c)
HEAD = 4096            # the page it reads first
IO_STEP = 256 * 2**10  # a read()'s step through the kernel's buffer (TASK_IO_BUF)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp("statsroot")
    for sub in ("bin", "dev", "proc", "sys", "tmp", "tree", "small"):
        os.makedirs(d / sub)
    shutil.copy("/bin/busybox", d / "bin" / "busybox")
    shutil.copy(FSBENCH, d / "bin" / "fsbench")
    for i in range(TREE_FILES):
        (d / "tree" / f"f{i:03d}").write_bytes(b"x" * i)
    (d / "small" / "one").write_bytes(os.urandom(4096))
    with open(d / "big", "wb") as f:
        f.write(os.urandom(1 << 20) * (BIG >> 20))
    return d


def stats_run(machine, root, tmp_path, *argv, cache="always"):
    """Runs argv with --stats=FILE: the run and the counters it wrote."""
    path = tmp_path / "stats.json"
    r = run_pier(*vmm_args(machine), f"--stats={path}", "--cache", cache, "--root", str(root),
                 "--", *argv, timeout=600)
    assert r.rc == 0, r.err[-3000:]
    with open(path) as f:
        return r, json.load(f)


def requests(section):
    """{opcode: count} of a section's fuse.* rows."""
    return {k[5:]: v["count"] for k, v in section.items() if k.startswith("fuse.")}


def lines(out):
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def loader_reads(path):
    """READs the guest's ELF loader makes for a static program: its first
    page, then each PT_LOAD segment's file bytes in 1 MiB pieces (a piece
    inside the first page comes from there)."""
    with open(path, "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    n = 1
    for i in range(phnum):
        ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if ptype != 1:  # PT_LOAD
            continue
        for done in range(0, filesz, LOAD_PIECE):
            piece = min(LOAD_PIECE, filesz - done)
            if off + done + piece > HEAD:
                n += 1
    return n


@pytest.mark.parametrize("machine", TARGETS)
def test_stats_on_stderr_and_as_json(machine, root, tmp_path):
    r = run_pier(*vmm_args(machine), "--stats", "--root", str(root), "--", "/bin/busybox",
                 "true")
    assert r.rc == 0, r.err[-3000:]
    assert "pier: stats, guest:" in r.err
    assert "fuse.INIT" in r.err
    _, st = stats_run(machine, root, tmp_path, "/bin/busybox", "true")
    guest = st["guest"]
    assert guest["fuse.INIT"]["count"] == 1 and guest["fuse.DESTROY"]["count"] == 1
    assert st["dropped"] == 0
    if machine != "pier":
        # QEMU's side is virtiofsd's: the host section stays empty.
        assert st["host"] == {}
        assert guest["fallback.no_window"]["count"] >= 1
        return
    host = st["host"]
    # Every request the guest sent, the host served (and one DESTROY more:
    # the device's reset at the end is one too).
    g, h = requests(guest), requests(host)
    h["DESTROY"] -= 1
    assert g == h
    for name, row in host.items():
        if name.startswith("fuse."):
            assert 0 < row["p50_ns"] <= row["p99_ns"], (name, row)
            assert row["ns"] >= row["count"] * row["p50_ns"] // 4, (name, row)
    assert host["exit.mmio.virtio_fs"]["count"] > 0
    assert host["exit.io.control"]["count"] > 0
    assert host["kvm.vcpu.exits"]["count"] >= sum(
        v["count"] for k, v in host.items() if k.startswith("exit.") and k != "exit.signal")


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_busybox_true_makes_exactly_these_requests(machine, root, tmp_path):
    _, st = stats_run(machine, root, tmp_path, "/bin/busybox", "true")
    want = {"INIT": 1, "GETATTR": 1, "LOOKUP": 5, "OPEN": 1,
            "READ": loader_reads(root / "bin" / "busybox"), "RELEASE": 1,
            "BATCH_FORGET": 1, "DESTROY": 1}
    assert requests(st["guest"]) == want


# The exits to pier from its start to the program's first instruction
# (`busybox true`, pier's VMM), each one there for a reason:
#   control      the line "milestone program\n" that marks the start, a
#                byte each (KVM's emulator exits per byte of `rep outsb`)
#   serial       the 16550's set-up for the kernel log: 7 register writes
#   cmos         the wall clock: the update flag, the format, then seconds,
#                minutes, hours, day, month, year (an index write and a
#                data read each)
#   fw_cfg       the program's arguments: the "QEMU CFG" signature from the
#                DMA register (2 reads), then the directory's count, the
#                directory and the file by DMA (2 writes each)
#   other        the PCI host bridge looked for, not found (2)
#   each virtio-mmio device: magic, version, device id (3); reset, status
#                read until it reads 0 (1 or, while the device thread
#                finishes the reset, 2), ACKNOWLEDGE, DRIVER, features
#                offered (4), accepted (4), FEATURES_OK and its check
#                (14 in all); per queue: select, READY, NUM_MAX, NUM, six
#                address halves, READY (11); DRIVER_OK (status read, write)
#   virtio-fs    + its tag, byte by byte as the spec asks for an array of
#                u8 (36), num_request_queues (1), the DAX window's region
#                (select, length and base halves: 5); two queues; and a
#                status read (NEEDS_RESET?) for every 10 ms a request
#                waits, which a loaded machine makes happen (the guest
#                counts them: virtio.status_look)
#   console      + max_nr_ports (1); two control queues and two per port
#                (stdin, stdout, stderr, ctl, net: 12 queues, though stdin
#                never transmits and stdout and stderr never receive: the
#                driver learns a port's role by name, after the queues
#                must exist); 2 per interrupt (status, acknowledge)
STARTUP_MMIO_DEVICE = 3 + 14 + 2
STARTUP_MMIO_QUEUE = 11


@pytest.mark.parametrize("machine", targets("pier"))
def test_start_up_exits_are_the_listed_ones(machine, root, tmp_path):
    _, st = stats_run(machine, root, tmp_path, "/bin/busybox", "true")
    got = dict(st["host"]["startup.exits"])
    assert got.pop("io.control") == len("milestone program\n")
    assert got.pop("io.serial") == 7
    assert got.pop("io.cmos") == 2 * 8
    assert got.pop("io.fw_cfg") == 2 + 3 * 2
    assert got.pop("io.other") == 2
    fs = got.pop("mmio.virtio_fs")
    want = STARTUP_MMIO_DEVICE + 36 + 1 + 5 + 2 * STARTUP_MMIO_QUEUE
    looks = st["guest"].get("virtio.status_look", {}).get("count", 0)
    assert want <= fs <= want + 1 + looks, (fs, want, looks)  # + the second reset read
    con = got.pop("mmio.console")
    want = STARTUP_MMIO_DEVICE + 1 + 12 * STARTUP_MMIO_QUEUE
    irqs = st["host"]["irq.console"]["count"]
    assert want <= con <= want + 1 + 2 * irqs, (con, want, irqs)
    assert got == {}, got  # no other kind at all
    assert st["host"]["startup"]["exits"] == sum(st["host"]["startup.exits"].values())


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_a_small_file_opened_read_and_closed(machine, root, tmp_path):
    r, _ = stats_run(machine, root, tmp_path, "/bin/fsbench", "openread", "/small")
    (res,) = lines(r.out)
    assert res["files"] == 1 and res["bytes"] == 4096
    assert res["requests"] == {"OPEN": 1, "READ": 1, "RELEASE": 1}
    assert res["kicks"] == 3


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_a_second_stat_of_a_tree_makes_no_request(machine, root, tmp_path):
    r, _ = stats_run(machine, root, tmp_path, "/bin/fsbench", "stat", "--passes", "2", "/tree")
    listing, first, second = lines(r.out)
    assert listing["entries"] == TREE_FILES
    assert "READDIRPLUS" in listing["requests"]
    # The listing's entries carry names and attributes: no stat asks.
    assert first["requests"] == {} and second["requests"] == {}
    assert first["kicks"] == second["kicks"] == 0


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_after_the_cache_time_one_request_per_name_at_most(machine, root, tmp_path):
    r, _ = stats_run(machine, root, tmp_path, "/bin/fsbench", "stat", "--passes", "2",
                     "--pause-ms", "1500", "/tree", cache="auto")
    _, _, second = lines(r.out)
    asked = sum(n for op, n in second["requests"].items() if op != "BATCH_FORGET")
    # At most one request per name (the files, their directory, the
    # root's attributes)...
    assert 0 < asked <= TREE_FILES + 2, second
    # ...and far fewer: the directory's fourth expired name has it listed
    # again (OPENDIR, READDIRPLUS to the end, RELEASEDIR), which makes the
    # rest fresh: LOOKUPs for /tree and four names only.
    assert second["requests"].get("LOOKUP", 0) <= 5, second
    assert second["requests"]["OPENDIR"] == 1 and second["requests"]["READDIRPLUS"] >= 1


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_cache_never_asks_every_time(machine, root, tmp_path):
    r, _ = stats_run(machine, root, tmp_path, "/bin/fsbench", "stat", "--passes", "2", "/tree",
                     cache="never")
    _, first, second = lines(r.out)
    # Each stat walks /tree/NAME: two names to look up, every time.
    assert first["requests"]["LOOKUP"] == second["requests"]["LOOKUP"] == 2 * TREE_FILES


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_reading_64_mib_twice(machine, root, tmp_path):
    r, st = stats_run(machine, root, tmp_path, "/bin/fsbench", "seq", "--passes", "2", "--bs",
                      str(2**20), "/big")
    first, second = lines(r.out)
    assert first["bytes"] == second["bytes"] == BIG and first["check"] == second["check"]
    if machine == "pier":
        # Through the window: one setup per chunk, no READ; then nothing.
        assert first["requests"] == {"LOOKUP": 1, "OPEN": 1, "SETUPMAPPING": BIG // CHUNK}, \
            first
        assert second["requests"] == {} and second["kicks"] == 0, second
        assert st["host"]["dax.setup"]["count"] == BIG // CHUNK
        assert st["guest"]["window"]["miss"] == BIG // CHUNK
        assert "fallback.policy" not in st["guest"] or \
            st["guest"]["fallback.policy"]["count"] == st["guest"]["fuse.READ"]["count"]
    else:
        # No window: every read is a request, each pass alike (a read()
        # reaches the file system 256 KiB at a time; the end is known).
        assert first["requests"] == {"LOOKUP": 1, "OPEN": 1, "READ": BIG // IO_STEP}, first
        assert second["requests"] == {"READ": BIG // IO_STEP}, second
