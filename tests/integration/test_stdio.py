"""Issue 16, standard streams: the program's stdin, stdout and stderr are
pier's own, as a local process's would be.

- Byte-exact both ways: no newline translation, any byte (NUL, \\r, ^C,
  ^D, ^Z, escape sequences), from nothing to 100 MiB, stdin to stdout
  (`busybox cat`), stdin to stderr (`ttyprobe cat 2`) and stdin counted
  (`busybox wc -c`). End of file on pier's stdin is end of file for the
  program, after the last byte.
- Flow control: a slow reader of pier's stdout or stderr and a slow writer
  into its stdin lose nothing; a read with nothing waiting blocks, it
  does not see end of file.
- A program dead of a signal makes pier die of the same one after
  cleaning up (`busybox yes | head -c 10`: SIGPIPE, -13 to Python, 141 to
  a shell).
- stdout and stderr stay apart, each byte on its stream; with 2>&1 into
  one pipe, in the order the program wrote them.
- Nothing but the program's bytes on stdout (no kernel lines, not even
  with -o verbose); pier's own messages are on stderr, prefixed "pier:";
  a run without trouble leaves on stderr exactly what the program wrote
  there.
- isatty() is false for /dev/null, a pipe or a file (TCGETS and
  TIOCGWINSZ answer ENOTTY), true on all three with -t/--tty. The
  terminal itself is test_tty.py's.

The guest has no fork or exec, so `sh -c 'cat >&2'` cannot run there
(ash would exec cat): tests/progs/ttyprobe.c's `cat FD` mode stands in.
Every case runs on microvm (virtio-mmio) and q35 (virtio-pci); pier's VMM
(nested, slow) takes a sample, and the 100 MiB round trip runs on one
machine per VMM."""
import hashlib
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import BUILD, PIER, by_target, targets, vmm_args

TTYPROBE = os.path.join(BUILD, "progs", "musl", "ttyprobe")
BB = "/bin/busybox"
PROBE = "/bin/ttyprobe"
PASSWD = "root:x:0:0:root:/root:/bin/sh\n"

# Bytes a console is tempted to interpret: newlines, carriage returns, NUL,
# ^C ^D ^Q ^S ^Z ^\, DEL, 0xff, an escape sequence asking for a reply.
TRICKY = b"\n\r\n\r\x00\x03\x04\x11\x13\x1a\x1c\x7f\xff\x1b[6n\x1b]0;t\x07\n"
SIZES = {"0B": 0, "1B": 1, "4KiB": 4096, "1MiB": 1 << 20}
BIG = 100 << 20


def payload(n, seed=16):
    """n bytes: TRICKY first (so even 1 byte is a newline), then random."""
    return (TRICKY + random.Random(seed).randbytes(max(0, n - len(TRICKY))))[:n]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """ROOT/bin/busybox (Debian's static one), ROOT/bin/ttyprobe, and an
    /etc/passwd."""
    if not os.path.exists("/bin/busybox"):
        pytest.fail("/bin/busybox missing: apt-get install busybox-static")
    if not os.path.exists(TTYPROBE):
        pytest.fail(f"{TTYPROBE} missing: run make progs")
    r = tmp_path_factory.mktemp("stdio")
    os.chmod(r, 0o755)
    (r / "bin").mkdir()
    (r / "etc").mkdir()
    shutil.copy2("/bin/busybox", r / "bin" / "busybox")
    shutil.copy2(TTYPROBE, r / "bin" / "ttyprobe")
    (r / "etc" / "passwd").write_text(PASSWD)
    return str(r)


def pier(machine, root, *argv, opts=(), vm_timeout=120):
    return [PIER, "run", *vmm_args(machine), "--mem", "256M",
            "--timeout", str(vm_timeout), "--root", root, *opts, "--", *argv]


def run(machine, root, *argv, data=b"", opts=(), timeout=180, **kw):
    """pier's stdin a pipe holding DATA (then closed), stdout and stderr
    two pipes, unless kw says otherwise."""
    if "stdin" not in kw:
        kw["input"] = data
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(pier(machine, root, *argv, opts=opts), timeout=timeout, **kw)


def differ(name, got, want):
    """None when equal, else where and how GOT differs from WANT."""
    if got == want:
        return None
    n = min(len(got), len(want))
    lo, hi = 0, n  # first differing offset: the shortest equal prefix
    while lo < hi:
        mid = (lo + hi) // 2
        if got[:mid + 1] == want[:mid + 1]:
            lo = mid + 1
        else:
            hi = mid
    return (f"{name}: {len(got)} bytes, expected {len(want)}; first difference at "
            f"byte {lo}: got {got[lo:lo + 24]!r}, expected {want[lo:lo + 24]!r}")


def check(r, out=b"", err=b"", rc=0):
    """Status, stdout and stderr of a run, each exact."""
    problems = [p for p in (differ("stdout", r.stdout, out),
                            differ("stderr", r.stderr, err)) if p]
    if r.returncode != rc:
        problems.insert(0, f"status {r.returncode}, expected {rc}")
    assert not problems, "\n".join(problems) + \
        f"\n--- stderr (tail) ---\n{r.stderr[-1500:]!r}"


# --- byte-exact round trips ----------------------------------------------

def C(id, *values):
    return pytest.param(*values, id=id)


# Sizes outer, so that each share of pier's sample mixes sizes and streams.
ROUND_TRIPS = [C(f"{how}-{size}", how, n)
               for size, n in SIZES.items() for how in ("stdout", "stderr", "count")]


@pytest.mark.parametrize("machine,how,n", by_target(ROUND_TRIPS, pier_every=4,
                                                     name="stdio round trips"))
def test_round_trip(machine, how, n, root):
    data = payload(n)
    if how == "stdout":
        check(run(machine, root, BB, "cat", data=data), out=data)
    elif how == "stderr":
        check(run(machine, root, PROBE, "cat", "2", data=data), err=data)
    else:
        check(run(machine, root, BB, "wc", "-c", data=data), out=b"%d\n" % n)


def _drain(f, sink):
    sink.append(f.read())


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_hundred_mebibytes_round_trip(machine, root):
    """100 MiB of random bytes through `busybox cat`, streamed: pier's stdin
    and stdout are pipes all along, both sides hash what passed. Both
    transports (virtio-mmio: microvm and pier; virtio-pci: q35)."""
    limit = 500 if machine == "pier" else 240
    p = subprocess.Popen(pier(machine, root, BB, "cat", vm_timeout=limit),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    killer = threading.Timer(limit + 30, p.kill)
    killer.start()
    sent = hashlib.sha256()

    def feed():
        rng = random.Random(100)
        try:
            left = BIG
            while left:
                chunk = rng.randbytes(min(1 << 20, left))
                sent.update(chunk)
                p.stdin.write(chunk)
                left -= len(chunk)
        except (BrokenPipeError, ValueError):
            pass
        finally:
            try:
                p.stdin.close()
            except BrokenPipeError:
                pass

    err = []
    threads = [threading.Thread(target=feed), threading.Thread(target=_drain, args=(p.stderr, err))]
    for t in threads:
        t.start()
    got, count = hashlib.sha256(), 0
    start = time.monotonic()
    try:
        while True:
            b = p.stdout.read1(1 << 20)
            if not b:
                break
            got.update(b)
            count += len(b)
        rc = p.wait()
    finally:
        killer.cancel()
        if p.poll() is None:
            p.kill()
        for t in threads:
            t.join()
    took = time.monotonic() - start
    stderr = err[0] if err else b""
    assert (rc, count) == (0, BIG), \
        f"status {rc}, {count} of {BIG} bytes back in {took:.0f} s\n{stderr[-1500:]!r}"
    assert got.hexdigest() == sent.hexdigest(), "100 MiB came back changed"
    assert stderr == b"", stderr[-1500:]


@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_program_reads_part_of_stdin(machine, root):
    """`head -c 100` of 1 MiB: the program ends with most of stdin unread;
    pier ends with it, status 0, the 100 bytes out."""
    data = payload(1 << 20)
    check(run(machine, root, BB, "head", "-c", "100", data=data), out=data[:100])


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_unread_stdin_stays_for_the_next_reader(machine, root):
    """A program that never reads stdin takes none of it, as a local one:
    in `{ pier run -- true; cat; } < list` (a shell loop over lines does
    this) cat still gets the whole list. pier takes input only once the
    program first reads or polls stdin."""
    data = b"".join(b"line %d\n" % i for i in range(2000))
    script = f"{shlex.join(pier(machine, root, BB, 'true'))}; echo status=$?; cat"
    r = subprocess.run(["/bin/bash", "-c", script], input=data, capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == b"status=0\n" + data, (len(r.stdout), r.stdout[:200])


# --- flow control ----------------------------------------------------------

SLOW_READERS = [C("stdout", "stdout"), C("stderr", "stderr")]


@pytest.mark.parametrize("machine,stream", by_target(SLOW_READERS, pier_every=2,
                                                      name="slow readers"))
def test_slow_reader_loses_nothing(machine, stream, root, tmp_path):
    """As `pier run ... | (sleep 2; wc -c)`, and then slow reads: 1 MiB
    from a file through cat, stdout or stderr read 2 s late and in small
    bites; every byte arrives."""
    data = payload(1 << 20, seed=2)
    src = tmp_path / "in"
    src.write_bytes(data)
    argv = [BB, "cat"] if stream == "stdout" else [PROBE, "cat", "2"]
    with open(src, "rb") as stdin:
        p = subprocess.Popen(pier(machine, root, *argv), stdin=stdin,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    slow, other = (p.stdout, p.stderr) if stream == "stdout" else (p.stderr, p.stdout)
    rest = []
    t = threading.Thread(target=_drain, args=(other, rest))
    t.start()
    killer = threading.Timer(180, p.kill)
    killer.start()
    try:
        time.sleep(2)
        chunks = []
        while True:
            b = os.read(slow.fileno(), 16384)
            if not b:
                break
            chunks.append(b)
            time.sleep(0.01)
        rc = p.wait()
    finally:
        killer.cancel()
        if p.poll() is None:
            p.kill()
        t.join()
    got = b"".join(chunks)
    problems = [x for x in (differ(stream, got, data),
                            differ("the other stream", rest[0] if rest else b"", b"")) if x]
    assert rc == 0 and not problems, f"status {rc}\n" + "\n".join(problems)


# (sleep before it, size) for each write into pier's stdin: the program's
# first read waits a whole second for its first byte.
SLOW_WRITES = [(1.0, 1), (0.3, 1), (0.1, 2), (0.2, 100), (0.05, 4096), (0.3, 1),
               (0.1, 65536), (0.2, 3), (0.1, 200000), (0.3, 7), (0.5, 0)]
SLOW_WRITERS = [C("cat", "cat"), C("wc", "wc")]


@pytest.mark.parametrize("machine,prog", by_target(SLOW_WRITERS, pier_every=2,
                                                    name="slow writers"))
def test_slow_writer_loses_nothing(machine, prog, root):
    """Writes into pier's stdin in bites of 1 byte to 200 kB with pauses
    of up to a second: the program blocks in read() meanwhile (end of file
    only when pier's stdin closes) and gets every byte."""
    total = sum(n for _, n in SLOW_WRITES)
    data = payload(total, seed=3)
    argv = [BB, "cat"] if prog == "cat" else [BB, "wc", "-c"]
    p = subprocess.Popen(pier(machine, root, *argv), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = [], []
    readers = [threading.Thread(target=_drain, args=(p.stdout, out)),
               threading.Thread(target=_drain, args=(p.stderr, err))]
    for t in readers:
        t.start()
    killer = threading.Timer(180, p.kill)
    killer.start()
    try:
        at = 0
        for pause, n in SLOW_WRITES:
            time.sleep(pause)
            if p.poll() is not None:
                break  # it ended early: the checks below say how
            p.stdin.write(data[at:at + n])
            p.stdin.flush()
            at += n
        p.stdin.close()
        rc = p.wait()
    except BrokenPipeError:
        rc = p.wait()
    finally:
        killer.cancel()
        if p.poll() is None:
            p.kill()
        for t in readers:
            t.join()
    r = subprocess.CompletedProcess(argv, rc, out[0] if out else b"", err[0] if err else b"")
    check(r, out=data if prog == "cat" else b"%d\n" % total)


# --- signals -----------------------------------------------------------------

@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_reader_gone_sigpipe(machine, root, tmp_path):
    """`pier run -- busybox yes | head -c 10`: once the reader has closed
    the pipe, the program's write raises SIGPIPE, it dies of it, and so
    does pier after cleaning up."""
    with open(tmp_path / "err", "wb") as errf:
        p = subprocess.Popen(pier(machine, root, BB, "yes"), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=errf)
    try:
        got = b""
        while len(got) < 10:
            b = os.read(p.stdout.fileno(), 10 - len(got))
            if not b:
                break
            got += b
        p.stdout.close()
        rc = p.wait(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = (tmp_path / "err").read_bytes()
    assert got == b"y\n" * 5, got
    assert rc == -signal.SIGPIPE, f"status {rc}, expected -{int(signal.SIGPIPE)}\n{err[-1500:]!r}"


@pytest.mark.parametrize("machine", targets("microvm"))
def test_reader_gone_shell_status(machine, root):
    """The same as a shell sees it: 128 + SIGPIPE = 141."""
    script = shlex.join(pier(machine, root, BB, "yes")) + \
        ' | head -c 10 > /dev/null; echo "status=${PIPESTATUS[0]}"'
    r = subprocess.run(["bash", "-c", script], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=120)
    assert r.stdout == b"status=141\n", (r.stdout, r.stderr[-1500:])


# --- stdout and stderr apart, and together ----------------------------------

def interleaved(n):
    """ttyprobe interleave N's writes, in order."""
    return [b"%d:" % i + bytes([ord("a") + i % 26]) * ((i * 37) % 300) + b"\n"
            for i in range(n)]


WRITES = 1000
SH_MIX = "echo a; echo b >&2; echo c; printf 'd\\r\\n' >&2; printf 'e'; echo f >&2"
INTERLEAVINGS = [C("probe-apart", "probe", False), C("probe-together", "probe", True),
                 C("sh-together", "sh", True), C("sh-apart", "sh", False)]


@pytest.mark.parametrize("machine,prog,together",
                         by_target(INTERLEAVINGS, pier_every=2, name="interleavings"))
def test_stdout_stderr_interleaved(machine, prog, together, root):
    """One program alternating write()s to stdout and stderr: apart, each
    stream holds its writes, whole and in order; with 2>&1 (one pipe),
    every write in the order it was made."""
    if prog == "probe":
        argv = [PROBE, "interleave", str(WRITES)]
        writes = interleaved(WRITES)
    else:
        argv = [BB, "sh", "-c", SH_MIX]
        writes = [b"a\n", b"b\n", b"c\n", b"d\r\n", b"e", b"f\n"]
    if together:
        r = run(machine, root, *argv, stderr=subprocess.STDOUT)
        r.stderr = b""
        check(r, out=b"".join(writes))
    else:
        check(run(machine, root, *argv),
              out=b"".join(writes[0::2]), err=b"".join(writes[1::2]))


# --- what is on which stream -------------------------------------------------

@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_nothing_but_the_program_on_stdout(machine, verbose, root):
    """A program whose exec fails (the guest has none): stdout holds only
    what it printed, not the kernel's warning about the system call nor,
    with -o verbose, the kernel's boot lines. Quiet, stderr holds pier's
    lines ("pier:") and the program's ("sh:") only."""
    opts = ["-o", "verbose"] if verbose else []
    r = run(machine, root, BB, "sh", "-c", "echo before; cat", opts=opts)
    assert r.stdout == b"before\n", (r.stdout[-2000:], r.stderr[-2000:])
    if not verbose:
        stray = [ln for ln in r.stderr.splitlines() if not ln.startswith((b"pier:", b"sh:"))]
        assert not stray, r.stderr[-2000:]


@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_verbose_kernel_keeps_off_stdout(machine, root):
    """-o verbose: the kernel talks, on stderr; stdout is the 4 KiB that
    went through cat, exactly."""
    data = payload(4096, seed=5)
    r = run(machine, root, BB, "cat", data=data, opts=["-o", "verbose"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert not differ("stdout", r.stdout, data), differ("stdout", r.stdout, data)


@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_pier_messages_on_stderr(machine, root):
    """A program that is not there: status 127, nothing on stdout, and
    every line on stderr is pier's own, prefixed "pier:"."""
    r = run(machine, root, "/bin/nothere")
    assert r.returncode == 127, r.stderr
    assert r.stdout == b""
    lines = r.stderr.splitlines()
    assert lines and all(ln.startswith(b"pier: ") for ln in lines), r.stderr


# --- isatty ------------------------------------------------------------------

NOT_A_TTY = [b"fd%d tty=0 tcgets=ENOTTY winsz=ENOTTY" % fd for fd in range(3)]
STDIN_KINDS = [C("stdin-devnull", "devnull"), C("stdin-pipe", "pipe"),
               C("stdin-file", "file"), C("stdout-file", "stdout-file")]


def probe_lines(out):
    return [ln.rstrip(b"\r") for ln in out.splitlines() if ln.startswith(b"fd")]


@pytest.mark.parametrize("machine,kind", by_target(STDIN_KINDS, pier_every=2,
                                                    name="isatty false"))
def test_isatty_false_without_terminal(machine, kind, root, tmp_path):
    """stdin /dev/null, a pipe or a file, stdout and stderr pipes (or
    stdout a file): isatty() false on all three, TCGETS and TIOCGWINSZ
    answer ENOTTY."""
    src = tmp_path / "in"
    src.write_bytes(b"some input\n")
    if kind == "devnull":
        r = run(machine, root, PROBE, stdin=subprocess.DEVNULL)
    elif kind == "pipe":
        r = run(machine, root, PROBE, data=b"some input\n")
    elif kind == "file":
        with open(src, "rb") as f:
            r = run(machine, root, PROBE, stdin=f)
    else:
        with open(tmp_path / "out", "wb") as f:
            r = run(machine, root, PROBE, stdin=subprocess.DEVNULL, stdout=f)
        r.stdout = (tmp_path / "out").read_bytes()
    assert r.returncode == 0, r.stderr[-1500:]
    assert probe_lines(r.stdout) == NOT_A_TTY, r.stdout
    assert r.stdout.endswith(b"ttyprobe: done\n"), r.stdout
    assert r.stderr == b"", r.stderr[-1500:]


@pytest.mark.parametrize("flag", ["-t", "--tty"])
@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_tty_flag_makes_a_terminal(machine, flag, root):
    """-t/--tty: the program gets a terminal on fds 0, 1 and 2 even though
    pier's streams are /dev/null and pipes."""
    r = run(machine, root, PROBE, opts=[flag], stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-1500:]
    lines = probe_lines(r.stdout + r.stderr)
    assert len(lines) == 3 and all(
        re.fullmatch(rb"fd%d tty=1 tcgets=ok winsz=\S+" % fd, ln) for fd, ln in enumerate(lines)), \
        r.stdout + r.stderr
