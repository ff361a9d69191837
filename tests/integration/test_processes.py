"""Issue 18: processes in the VM (fork, vfork, execve, wait4, pipes,
process groups) as Debian's own programs use them, from the cached Debian
root (tools/debian-root.sh) read-only, with a writable directory shared at
/mnt and an empty tmpfs at /tmp.

Each case runs twice: in the guest, and natively in a chroot of the same
Debian root on the host (a private mount namespace: the root bind-mounted
read-only, the host run's own copy of the share at /mnt, a fresh /proc,
tmpfs on /tmp and /dev/shm; stdin /dev/null, stdout and stderr two pipes,
the guest's environment). The two must agree on the exit status, stdout and
stderr byte for byte, and the files left in the share (types, modes,
contents, link targets):

- dash and bash running a script file: a three-program pipeline,
  redirections, subshells, $(...), traps on EXIT and on a signal sent to
  $$, background jobs and wait, `( exit 3 )`, a loop of 20 processes,
  read in a while loop fed by a pipe, and a set -e failure that ends the
  script with the failing command's status.
- git in the share: init, config, add, commit, log, status, diff, rm
  (author and committer dates fixed, so the hashes are the host's); the
  host's own git then runs fsck on what the guest left and reads its log.
- python3: subprocess.run with captured output, os.fork + os.waitpid,
  multiprocessing.Pool(2).
- fio in its default mode (each job a forked process, its state in SysV
  shm), psync, a sequential and a random read job: io_bytes as asked.
- tests/progs/forks.c (the static glibc build): fork, copy-on-write,
  shared memory, signals, pipes, wait, groups, vfork, posix_spawn, exec.
  The guest run on microvm also forks until the kernel's task limit
  (--bomb) and checks that 1,000 fork+execve+wait cycles leak no memory
  (--leak); the host run leaves both out (it would fork thousands).

On microvm and q35; pier's VMM (nested and emulated here, so slow) takes a
rotating share of the cases (conftest.by_target)."""
import ctypes
import hashlib
import json
import os
import shutil
import stat
import subprocess

import pytest

from conftest import BUILD, PIER, by_target, targets, vmm_args
from hostcmp import _stream_problem, _text, default_env

# Seconds: pier's --timeout for one guest run (TCG; pier's VMM is nested
# and about 3x slower), and the host run's limit.
GUEST_TIMEOUT = 400
HOST_TIMEOUT = 120


# ---- running both sides ----

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18


def _mount(src, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    if _libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {src} on {target}: {os.strerror(e)}")


def run_host(debian, share, view, argv, env, timeout=HOST_TIMEOUT):
    """ARGV natively, chrooted into a read-only view of DEBIAN with SHARE
    at /mnt, in a mount namespace of its own (nothing to undo after)."""

    def enter():
        if _libc.unshare(CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount(debian, view, None, MS_BIND | MS_REC)
        _mount(None, view, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        _mount(share, os.path.join(view, "mnt"), None, MS_BIND)
        _mount("proc", os.path.join(view, "proc"), "proc", 0)
        _mount("tmpfs", os.path.join(view, "tmp"), "tmpfs", 0, "mode=1777")
        _mount("tmpfs", os.path.join(view, "dev", "shm"), "tmpfs", 0, "mode=1777")
        os.chroot(view)
        os.chdir("/")
        os.umask(0o022)  # the guest program starts with 022

    os.makedirs(view, exist_ok=True)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       env=default_env(debian, env), preexec_fn=enter,
                       start_new_session=True, timeout=timeout)
    rc = p.returncode if p.returncode >= 0 else 128 - p.returncode
    return rc, p.stdout, p.stderr


def run_guest(machine, debian, share, argv, env, timeout=GUEST_TIMEOUT, strace=False):
    cmd = [PIER, "run", *vmm_args(machine), "--mem", "512M", "--timeout", str(timeout),
           "--root", debian, "--ro", "--tmpfs", "/tmp",
           "--share", f"data={share}", "-o", "mount=data:/mnt"]
    for k, v in env.items():
        cmd += ["--env", f"{k}={v}"]
    cmd += ["--strace"] if strace else []
    p = subprocess.run(cmd + ["--", *argv], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout + 60)
    # pier dies of the signal its program died of: a shell's 128 + N.
    rc = p.returncode if p.returncode >= 0 else 128 - p.returncode
    return rc, p.stdout, p.stderr


def snapshot(top, skip=()):
    """What a directory holds: relative path -> (type, mode, contents hash
    or link target). SKIP: relative paths left out (stat data in them)."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, top)
            if rel in skip:
                continue
            st = os.lstat(p)
            mode = oct(stat.S_IMODE(st.st_mode))
            if stat.S_ISLNK(st.st_mode):
                tree[rel] = ("link", mode, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                tree[rel] = ("dir", mode, None)
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                tree[rel] = ("file", mode, f"{st.st_size} bytes {h.hexdigest()[:16]}")
            else:
                tree[rel] = ("other", mode, stat.S_IFMT(st.st_mode))
    return tree


def tree_problem(host, guest):
    if host == guest:
        return None
    lines = []
    for rel in sorted(set(host) | set(guest)):
        if host.get(rel) != guest.get(rel):
            lines.append(f"  {rel}: host {host.get(rel)}, guest {guest.get(rel)}")
    return "files left in the share differ:\n" + "\n".join(lines[:60])


class Both:
    """One case's two runs: the share each starts from (made by SETUP) and
    what each showed."""

    def __init__(self, machine, debian, tmp_path, argv, setup=None, env=None, skip=(),
                 guest_argv=None):
        self.machine, self.debian, self.argv = machine, debian, argv
        self.guest_argv = guest_argv or argv
        self.env = dict(env or {})
        self.gshare, self.hshare = tmp_path / "guest", tmp_path / "host"
        for share in (self.gshare, self.hshare):
            share.mkdir()
            share.chmod(0o755)
            if setup:
                setup(share)
        self.host = run_host(debian, str(self.hshare), str(tmp_path / "view"), argv, self.env)
        self.guest = run_guest(machine, debian, str(self.gshare), self.guest_argv, self.env)
        self.skip = skip

    def problems(self, streams=("stdout", "stderr"), tree=True):
        """Differences between the two runs (empty: they agree)."""
        (hrc, hout, herr), (grc, gout, gerr) = self.host, self.guest
        problems = []
        if grc != hrc:
            problems.append(f"exit status: guest {grc}, host {hrc}")
        for name, h, g in (("stdout", hout, gout), ("stderr", herr, gerr)):
            if name in streams:
                p = _stream_problem(name, h, g, False)
                if p:
                    problems.append(p)
        if tree:
            p = tree_problem(snapshot(self.hshare, self.skip), snapshot(self.gshare, self.skip))
            if p:
                problems.append(p)
        return problems

    def report(self, problems):
        """The problems, with the guest's stderr (the program's and pier's)."""
        return "\n".join([f"{self.machine}: {self.guest_argv}", *problems,
                          "--- guest stderr (tail) ---", _text(self.guest[2])[-3000:],
                          "--- guest stdout (tail) ---", _text(self.guest[1])[-2000:]])


def write(path, text, mode=0o644):
    path.write_text(text)
    path.chmod(mode)


# ---- the cases ----

SHELL_SCRIPT = r"""# processes from a shell: run by dash and by bash, here and on the host
out=/mnt/out
mkdir "$out"
echo "pipeline: $(seq 1 1000 | grep 7 | wc -l)"
seq 1 1000 | grep 7 | wc -l > "$out/count.txt"
seq 1 3 > "$out/lines.txt"
echo four >> "$out/lines.txt"
ls /nonexistent > "$out/ls.txt" 2>&1 || echo "ls failed with $?"
wc -l < "$out/lines.txt"
sort -r < "$out/lines.txt" | head -n 2
echo "to stderr" >&2
ls /nonexistent/either 2>&1 | sed 's/either/EITHER/'
( cd "$out" && echo "subshell in $(pwd)"; exit 3 ); echo "subshell status $?"
echo "still in $(pwd)"
( exit 3 ); echo "exit from a subshell: $?"
x=$(echo inner; echo second | tr a-z A-Z); echo "captured: $x"
n=$(printf '%s\n' a b c | wc -l); echo "nested: $(echo "$(echo "$n")")"
trap 'echo "exit trap, status $?"' EXIT
trap 'echo "got USR1"' USR1
kill -USR1 $$
echo "after kill"
sleep 0.2 &
bg=$!
wait $bg; echo "wait for sleep: $?"
(while [ ! -e /tmp/go ]; do sleep 0.05; done; echo "background output") &
echo "foreground first"
: > /tmp/go
wait; echo "wait for all: $?"
sh -c 'kill -TERM $$; echo "not killed"'; echo "killed itself: $?"
# Killed once it runs (not in the shell's child before exec, where bash
# would run its own EXIT trap).
sh -c 'echo up > /tmp/up; exec sleep 30' &
job=$!
while [ ! -s /tmp/up ]; do sleep 0.05; done
kill $job
wait $job; echo "killed job: $?"
i=0
for k in $(seq 1 20); do /bin/true; i=$((i + 1)); done
echo "spawned $i true"
seq 1 5 | while read v; do echo "read $v"; done
printf 'a b\nc d\n' | while read x y; do echo "$y-$x"; done > "$out/swapped.txt"
cat <<EOF > "$out/heredoc.txt"
here document, i=$i
EOF
sh -c 'echo "child shell: $0 $1"; exit 6' zero one; echo "sh -c status $?"
/usr/bin/env | grep '^PIER_' | sort
cat "$out"/*.txt | md5sum
"""
# bash only, before the set -e part.
BASH_EXTRA = r"""
true | false | true; echo "PIPESTATUS ${PIPESTATUS[*]}"
set -o pipefail; true | false | true; echo "pipefail $?"; set +o pipefail
echo "BASH_SUBSHELL $BASH_SUBSHELL $(echo $BASH_SUBSHELL) $( (echo $BASH_SUBSHELL) )"
arr=($(seq 3 5)); echo "array ${#arr[@]}: ${arr[*]}"
echo "sum $(( $(seq 1 10 | paste -sd+) ))"
{ echo a; echo b; } | cat -n
sleep 0.1 & sleep 0.3 & wait -n; echo "wait -n: $?"; wait
"""
SET_E = r"""
set -e
echo "before the failure"
/bin/sh -c 'exit 4'
echo "not reached"
"""
SHELL_ENV = {"PIER_CASE": "shell", "PIER_OTHER": "two words"}


def case_shell(machine, debian, tmp_path, shell):
    script = SHELL_SCRIPT + (BASH_EXTRA if shell == "bash" else "") + SET_E
    both = Both(machine, debian, tmp_path, [f"/bin/{shell}", "/mnt/s.sh"],
                setup=lambda d: write(d / "s.sh", script), env=SHELL_ENV)
    problems = both.problems()
    assert not problems, both.report(problems)
    assert both.host[0] == 4 and b"not reached" not in both.host[1]  # the script's own


GIT_SCRIPT = r"""set -e
cd /mnt
git init repo
cd repo
git config user.name "Pier Test"
git config user.email pier@example.com
printf 'hello\n' > a.txt
mkdir dir
printf 'one\ntwo\n' > dir/b.txt
git add .
git status --short
git commit -m "first commit"
git log --stat
printf 'three\n' >> dir/b.txt
echo new > c.txt
git status
git diff
git add -A
git commit -q -m "second commit"
git log --oneline
git diff --stat HEAD~1
git rm -q a.txt
git commit -q -m "third commit"
git log --format='%H %an <%ae> %ad %s' --date=iso
git status --short --branch
git rev-list --count HEAD
git show --stat HEAD
"""
GIT_ENV = {"GIT_AUTHOR_DATE": "2024-01-02T03:04:05+0000",
           "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+0000",
           "GIT_CONFIG_NOSYSTEM": "1"}


def host_git():
    """The host's own git (tools/deps.sh installs it)."""
    git = shutil.which("git")
    if not git:
        pytest.fail("no git on the host: run tools/deps.sh (make deps)")
    return git


def case_git(machine, debian, tmp_path):
    both = Both(machine, debian, tmp_path, ["/bin/sh", "/mnt/git.sh"],
                setup=lambda d: write(d / "git.sh", GIT_SCRIPT), env=GIT_ENV,
                skip={os.path.join("repo", ".git", "index")})  # stat data: differs
    problems = both.problems()
    assert not problems, both.report(problems)
    assert both.host[0] == 0, both.host
    # The host's own git reads what the guest wrote.
    git = [host_git(), "-c", "safe.directory=*", "-C", str(both.gshare / "repo")]
    fsck = subprocess.run(git + ["fsck", "--strict", "--full"], capture_output=True,
                          text=True, timeout=120)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    log = subprocess.run(git + ["log", "--format=%s"], capture_output=True, text=True,
                         timeout=120)
    assert log.stdout == "third commit\nsecond commit\nfirst commit\n", log
    status = subprocess.run(git + ["status", "--porcelain"], capture_output=True, text=True,
                            timeout=120)
    assert (status.returncode, status.stdout) == (0, ""), status


PYTHON_SCRIPT = r"""import multiprocessing
import os
import subprocess
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    r = subprocess.run(["echo", "hi"], capture_output=True)
    print("subprocess.run:", r.returncode, r.stdout, r.stderr)
    r = subprocess.run("seq 1 100 | grep 5 | wc -l", shell=True, capture_output=True, text=True)
    print("shell pipeline:", r.returncode, r.stdout.strip())
    r = subprocess.run([sys.executable, "-c", "import sys; print('child python'); sys.exit(3)"],
                       capture_output=True, text=True)
    print("python child:", r.returncode, r.stdout.strip())
    out = subprocess.check_output(["sh", "-c", "echo $0 >&2; echo out", "err"],
                                  stderr=subprocess.STDOUT)
    print("check_output:", sorted(out.split()))
    r = subprocess.run(["cat"], input=b"x" * 300000, capture_output=True)
    print("through cat:", r.returncode, len(r.stdout))
    try:
        subprocess.run(["/nonexistent/prog"])
    except FileNotFoundError as e:
        print("missing:", e.errno, e.strerror)

    parent = os.getpid()
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        os.write(wr, b"ppid ok" if os.getppid() == parent else b"ppid wrong")
        os._exit(5)
    os.close(wr)
    data = os.read(rd, 100)
    os.close(rd)
    got, status = os.waitpid(pid, 0)
    print("os.fork:", got == pid, data, os.WIFEXITED(status), os.WEXITSTATUS(status))
    pid = os.fork()
    if pid == 0:
        os.kill(os.getpid(), 9)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    print("killed:", os.WIFSIGNALED(status), os.WTERMSIG(status))

    with multiprocessing.Pool(2) as pool:
        print("pool:", pool.map(square, range(20)))
        print("pool async:", pool.apply_async(square, (12,)).get(timeout=120))
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=q.put, args=("from a Process",))
    p.start()
    print("queue:", q.get(timeout=120))
    p.join()
    print("exitcode:", p.exitcode)
"""


def case_python(machine, debian, tmp_path):
    both = Both(machine, debian, tmp_path, ["/usr/bin/python3", "-u", "/mnt/p.py"],
                setup=lambda d: write(d / "p.py", PYTHON_SCRIPT))
    problems = both.problems()
    assert not problems, both.report(problems)
    assert both.host[0] == 0, both.host


FIO_FILE_SIZE = 256 << 20
FIO_JOBS = {"seq": FIO_FILE_SIZE, "rand": 16 << 20}  # job -> bytes to read
FIO_ARGV = ["/usr/bin/fio", "--ioengine=psync", f"--size={FIO_FILE_SIZE}",
            "--filename=/mnt/file", "--output-format=json",
            "--name=seq", "--rw=read", "--bs=128k",
            "--name=rand", "--stonewall", "--rw=randread", "--bs=4k",
            f"--io_size={FIO_JOBS['rand']}"]


def fio_summary(out):
    """Per job, what must match: name, error, bytes read and written."""
    try:
        report = json.loads(out[out.index(b"{"):])
    except ValueError as e:
        return f"no JSON report ({e}): {out[-1000:]!r}"
    return [(j["jobname"], j["error"], j["read"]["io_bytes"], j["write"]["io_bytes"])
            for j in report["jobs"]]


def case_fio(machine, debian, tmp_path):
    def setup(d):
        with open(d / "file", "wb") as f:
            f.truncate(FIO_FILE_SIZE)  # holes: read as zeros, quickly

    # No --thread: each job is a process fio forks.
    both = Both(machine, debian, tmp_path, FIO_ARGV, setup=setup)
    # Its stdout has times and rates in it: the JSON is compared by field.
    problems = both.problems(streams=("stderr",))
    want = [(name, 0, n, 0) for name, n in FIO_JOBS.items()]
    for side, (rc, out, _) in (("host", both.host), ("guest", both.guest)):
        if fio_summary(out) != want:
            problems.append(f"{side}: jobs {fio_summary(out)}, expected {want}")
    assert not problems, both.report(problems)


def forks_setup(d):
    exe = os.path.join(BUILD, "progs", "glibc", "forks")
    if not os.path.exists(exe):
        pytest.fail(f"{exe} missing: run make progs")
    shutil.copy2(exe, d / "forks")


def case_forks(machine, debian, tmp_path):
    both = Both(machine, debian, tmp_path, ["/mnt/forks", "/mnt"], setup=forks_setup)
    problems = both.problems()
    assert not problems, both.report(problems)
    assert both.host[0] == 0 and both.host[1].endswith(b"forks: all passed\n"), both.host


CASES = [pytest.param(name, id=name) for name in
         ("dash", "bash", "git", "python", "fio", "forks")]
RUN = {"dash": lambda *a: case_shell(*a, "dash"),
       "bash": lambda *a: case_shell(*a, "bash"),
       "git": case_git, "python": case_python, "fio": case_fio, "forks": case_forks}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("machine,case", by_target(CASES, pier_every=2, name="process cases"))
def test_like_the_host_chroot(machine, case, debian, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the host side runs chrooted: needs root")
    RUN[case](machine, debian, tmp_path)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("machine", targets("microvm"))
def test_forks_bomb_and_leak(machine, debian, tmp_path):
    """forks.c with --bomb (fork until the task limit says EAGAIN, then
    reap every child) and --leak (MemFree after 1,000 fork+execve+wait
    cycles within 64 KiB of before): in the guest only. Without those two
    checks' lines its output is the host run's."""
    if os.geteuid() != 0:
        pytest.skip("the host side runs chrooted: needs root")
    both = Both(machine, debian, tmp_path, ["/mnt/forks", "/mnt"], setup=forks_setup,
                guest_argv=["/mnt/forks", "/mnt", "--bomb", "--leak"])
    rc, out, err = both.guest
    extra = [l for l in out.splitlines(keepends=True)
             if l.startswith((b"bomb: ", b"ok bomb", b"leak: ", b"ok leak"))]
    rest = b"".join(l for l in out.splitlines(keepends=True) if l not in extra)
    both.guest = (rc, rest, err)
    problems = both.problems()
    names = [l.split()[0] + b" " + l.split()[1] for l in extra]
    if names != [b"bomb: fork", b"ok bomb", b"leak: MemFree", b"ok leak"]:
        problems.append(f"the --bomb and --leak lines: {extra}")
    assert not problems, both.report(problems)


# ---- what only the guest shows: its own process tree ----

TREE_SCRIPT = r"""# pids here are the guest's own: pid 1 is this shell
echo "me $$ parent $PPID"
sh -c 'echo $$ > /tmp/a; exec readlink /proc/self' > /tmp/b
[ "$(cat /tmp/a)" = "$(cat /tmp/b)" ] && [ "$(cat /tmp/a)" != 1 ] && echo "self matches"
sleep 5 &
job=$!
sleep 0.2
tr '\0' ' ' < /proc/$job/cmdline; echo
readlink /proc/$job/exe
grep '^PPid' /proc/$job/status
[ -d /proc/$job/fd ] && echo "fd dir there"
ls /proc | grep -qx "$job" && echo "listed in /proc"
kill $job; wait $job; echo "job ended: $?"
[ -e /proc/$job ] || echo "gone from /proc"
# kill -1: every process but pid 1 (this shell) and the sender.
sleep 100 & a=$!
sleep 100 & b=$!
kill -TERM -1; wait $a; echo "kill -1: $?"; wait $b; echo "kill -1: $?"
# An orphan: its parent exits at once, pid 1 becomes its parent.
sh -c '(sleep 0.3; grep PPid /proc/self/status > /tmp/orphan) & exit 0'
sleep 1; cat /tmp/orphan
# pid 1's exit ends the VM, children and all.
sleep 300 &
exit 7
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_the_guests_own_process_tree(machine, debian, tmp_path):
    """/proc/PID for every process and /proc/self for the caller, kill -1
    sparing pid 1 and the sender, orphans re-parented to pid 1, pid 1's exit status as the VM's with a child
    still running (killed, not waited for), and --strace naming the pid
    on each line once there are several processes."""
    share = tmp_path / "share"
    share.mkdir()
    write(share / "tree.sh", TREE_SCRIPT)
    cmd = [PIER, "run", *vmm_args(machine), "--mem", "512M", "--timeout", "200",
           "--root", debian, "--ro", "--tmpfs", "/tmp", "--share", f"data={share}",
           "-o", "mount=data:/mnt", "--", "/bin/sh", "/mnt/tree.sh"]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=260)
    assert p.returncode == 7, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "me 1 parent 0", p.stdout
    assert lines[1] == "self matches", p.stdout
    assert lines[2:] == ["sleep 5 ", "/usr/bin/sleep", "PPid:\t1",
                         "fd dir there", "listed in /proc", "job ended: 143",
                         "gone from /proc", "kill -1: 143", "kill -1: 143", "PPid:\t1"], p.stdout
    # strace: several processes, so each line says whose call it is.
    t = subprocess.run([PIER, "run", *vmm_args(machine), "--timeout", "200", "--strace",
                        "--root", debian, "--ro", "--", "/bin/sh", "-c",
                        "/bin/true | /bin/true"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=260)
    assert t.returncode == 0, t.stderr[-3000:]
    calls = [l for l in t.stderr.splitlines() if l.startswith("strace: ")]
    pids = {l.split("[pid ")[1].split("]")[0] for l in calls if "[pid " in l}
    assert {"1", "2", "3"} <= pids, calls[:40]
    assert any(l.startswith("strace: [pid 2] execve(") for l in calls), calls[:40]
