"""What the guest test programs in tests/progs/ need and what they must do.

Shared by the host self-check (tests/progs/selfcheck.py, which runs the
programs natively) and the guest tests (tests/integration/test_progs.py,
which runs them under pier), so that both judge a run the same way.

The fixture directory (make_fixture) is what files.c and memory.c read:

    hello.txt          "hello, pier\\n" (12 bytes, mode 0644)
    pages.bin          3 * 4096 + 100 bytes, byte i == pages_byte(i)
    empty              0 bytes
    sub/a sub/b sub/c  "A", "BB", "CCC"
    many/f000 .. many/f199   200 empty files
    link -> hello.txt
    dangling -> nowhere

check.h describes the same tree to the C side; keep the two in step.

Programs that write (writes.c, fsync_crash.c) get an empty scratch
directory of their own instead ({scratch} in Case.args); they are in
HOST_CASES, which the self-check runs natively and test_progs.py leaves
alone: tests/integration/test_writes.py runs them in the guest, on a
writable root, and compares what they leave with a native run.
"""
import os
import re
import signal
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
LIBCS = ("musl", "glibc")
PAGES_SIZE = 3 * 4096 + 100
MANY_COUNT = 200
FIXTURE = "{fixture}"  # stands for the fixture directory in Case.args
SCRATCH = "{scratch}"  # stands for an empty directory made for the run


def pages_byte(i):
    return (i * 7 + i // 4096 + 3) & 0xFF


def make_fixture(d):
    """Creates the fixture tree in directory d (which must not exist or be
    empty)."""
    os.makedirs(d, exist_ok=True)

    def put(rel, data):
        p = os.path.join(d, rel)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o644)

    put("hello.txt", b"hello, pier\n")
    put("pages.bin", bytes(pages_byte(i) for i in range(PAGES_SIZE)))
    put("empty", b"")
    os.makedirs(os.path.join(d, "sub"))
    for name, data in (("a", b"A"), ("b", b"BB"), ("c", b"CCC")):
        put(os.path.join("sub", name), data)
    os.makedirs(os.path.join(d, "many"))
    for k in range(MANY_COUNT):
        put(os.path.join("many", f"f{k:03d}"), b"")
    for sub in ("", "sub", "many"):
        os.chmod(os.path.join(d, sub), 0o755)
    os.symlink("hello.txt", os.path.join(d, "link"))
    os.symlink("nowhere", os.path.join(d, "dangling"))


def ok_names(prog):
    """The OK("name") checkpoints of tests/progs/PROG.c, in source order:
    a passing run prints "ok name" for each, once, in that order."""
    with open(os.path.join(HERE, prog + ".c")) as f:
        return re.findall(r'\bOK\("([^"]+)"\)', f.read())


@dataclass
class Case:
    id: str                      # test id, e.g. "files" or "exitcode-3"
    prog: str                    # tests/progs/PROG.c
    args: list = field(default_factory=list)  # FIXTURE stands for the fixture dir
    status: int = 0              # expected exit status (when it exits)
    fault: str = ""              # or the signal it must die of: "SIGSEGV"
    out: list = field(default_factory=list)   # must appear on stdout
    err: list = field(default_factory=list)   # must appear on stderr
    cwd_fixture: bool = False    # run in the fixture dir, and say so in
                                 # PIER_EXPECT_CWD
    oks: list = None             # the checkpoints, when not ok_names(prog)

    @property
    def ok(self):
        return self.oks if self.oks is not None else ok_names(self.prog)

    @property
    def needs_scratch(self):
        return SCRATCH in self.args

    def argv(self, fixture, scratch=None):
        return [fixture if a == FIXTURE else scratch if a == SCRATCH else a
                for a in self.args]

    def env(self, fixture):
        """Environment beyond PIER_TEST=yes (and, in the guest,
        PIER_EXPECT_EROFS=1)."""
        return {"PIER_EXPECT_CWD": fixture} if self.cwd_fixture else {}

    def check(self, status, out, err, guest):
        """Problems with one run, as a list of strings (empty: it passed).
        status: subprocess's returncode, negative for a signal: pier dies
        of the signal its program died of, as the program does natively.
        stdout and stderr are the program's own in both."""
        problems = []
        if self.fault:
            sig = getattr(signal, self.fault)
            want = -sig
            if status != want:
                problems.append(f"status {status}, expected {want} ({self.fault})")
            # pier names the signal on its stderr (the console is the program's).
            if guest and f"program killed by {self.fault}" not in err:
                problems.append(f"{self.fault} not reported on pier's stderr")
        elif status != self.status:
            problems.append(f"status {status}, expected {self.status}")
        printed = [m.group(1) for m in
                   re.finditer(r"^(?:.*[ \t])?ok (\S+)[ \t\r]*$", out, re.M)]
        # Each checkpoint once, in source order, in the guest as natively.
        if printed != self.ok:
            missing = [n for n in self.ok if n not in printed]
            twice = sorted({n for n in printed if printed.count(n) > 1})
            extra = [n for n in printed if n not in self.ok]
            problems.append(f"ok lines {printed}, expected {self.ok}" +
                            (f"; missing {missing}" if missing else "") +
                            (f"; more than once {twice}" if twice else "") +
                            (f"; unknown {extra}" if extra else ""))
        for s in self.out:
            if s not in out:
                problems.append(f"{s!r} not on stdout")
        for s in self.err:
            if s not in err:
                problems.append(f"{s!r} not on stderr")
        if re.search(r"^(?:.*[ \t])?FAIL ", out + err, re.M):
            problems.append("a check failed: " +
                            re.search(r"FAIL .*", out + err).group(0))
        return problems


ARGS = ["alpha", "two words", "x=y", "--flag"]

CASES = [
    Case("files", "files", [FIXTURE], out=["files: all passed"]),
    Case("memory", "memory", [FIXTURE], out=["memory: all passed"]),
    Case("proc", "proc", out=["proc: all passed"]),
    Case("clock", "clock", out=["clock: all passed"]),
    Case("signals", "signals", out=["signals: all passed"]),
    Case("pipes", "pipes", out=["pipes: all passed"]),
    Case("unmapwait", "unmapwait", out=["unmapwait: all passed"]),
    Case("threads", "threads", out=["threads: all passed"]),
    Case("locks", "locks", out=["locks: all passed"]),
    Case("sighandlers", "sighandlers", out=["sighandlers: all passed"]),
    Case("epoll", "epoll", out=["epoll: all passed"]),
    Case("sockets", "sockets", out=["sockets: all passed"]),
    Case("events", "events", out=["events: all passed"]),
    Case("sigwait", "sigwait", out=["sigwait: all passed"]),
    Case("args", "args", ARGS, out=["args: all passed"], cwd_fixture=True),
    Case("exitcode-0", "exitcode", ["0"], status=0),
    Case("exitcode-3", "exitcode", ["3"], status=3),
    Case("exitcode-255", "exitcode", ["255"], status=255),
    Case("segv", "segv", fault="SIGSEGV", out=["segv: reading"]),
    Case("ill", "ill", fault="SIGILL", out=["ill: executing ud2"]),
    Case("hello", "hello", out=["hello from pier"], err=["to stderr"]),
]
CASES_BY_ID = {c.id: c for c in CASES}

# Run natively by the self-check only (see the top of this file).
HOST_CASES = [
    Case("writes", "writes", [SCRATCH], out=["writes: all passed"]),
    Case("fsync_crash", "fsync_crash", [SCRATCH, "30", "exit"],
         out=["fsync_crash: all passed"]),
]
# Programs with a harness of their own, which makes the files they need.
OWN_HARNESS = {"argdump": "tests/integration/test_args.py",
               "daxmap": "tests/integration/test_dax.py",
               "faults": "tests/integration/test_faults.py",
               "preempt": "tests/integration/test_threads.py",
               "hostwait": "tests/integration/test_threads.py",
               "forks": "tests/integration/test_processes.py",
               "pingpong": "tests/integration/test_smp.py",
               "cpus": "tests/integration/test_smp.py",
               "hammer": "tests/integration/test_smp.py",
               "preads": "tests/integration/test_smp.py",
               "affinity": "tests/integration/test_smp.py",
               "posreads": "tests/integration/test_smp.py",
               "readunmap": "tests/integration/test_smp.py",
               "appends": "tests/integration/test_smp.py",
               "names": "tests/integration/test_smp.py",
               "ttyprobe": "tests/integration/test_stdio.py, test_tty.py"}
# writes.c on its own final state on a read-only file system
# (PIER_EXPECT_EROFS=1): check it, fail every change, check it again.
WRITES_EROFS = Case("writes-erofs", "writes", [SCRATCH], out=["writes: erofs passed"],
                    oks=["final", "erofs", "final"])


def all_programs():
    """Every program tests/progs/ builds (one per .c file)."""
    return sorted(f[:-2] for f in os.listdir(HERE) if f.endswith(".c"))
