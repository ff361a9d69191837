"""Issue 17, first step: Debian's own dynamically linked programs run
unmodified from a Debian root (tools/debian-root.sh, built once and
cached): the kernel loads the program and its ELF interpreter (ld.so),
which maps the shared libraries itself. Each run is compared with the same
command in a chroot of the same root on the host: stdout, stderr, status.
Threads too (python3's threading); not fork yet (issue 18)."""
import os
import subprocess

import pytest

from conftest import PIER, ROOT, targets, vmm_args

CASES = [
    pytest.param(["/bin/true"], id="true"),
    pytest.param(["/bin/echo", "hello", "from", "a dynamic echo"], id="echo"),
    pytest.param(["/bin/ls", "-1", "/etc/apt"], id="ls"),
    pytest.param(["/usr/bin/gawk", "BEGIN { for (i = 1; i <= 5; i++) s += i * i; print s }"],
                 id="gawk"),
    pytest.param(["/usr/bin/sqlite3", "--version"], id="sqlite3-version"),
    pytest.param(["/usr/bin/python3", "-c",
                  "import sys, json, hashlib, zlib, os\n"
                  "print(json.dumps({'v': list(sys.version_info[:2]),"
                  " 'h': hashlib.sha256(b'pier').hexdigest(),"
                  " 'z': len(zlib.compress(b'a' * 1000)),"
                  " 'etc': sorted(os.listdir('/etc/apt'))}))\n"
                  "sys.exit(3)"], id="python3"),
    pytest.param(["/bin/sh", "-c", "echo $((6 * 7))"], id="dash"),
    pytest.param(["/usr/bin/perl", "-e",
                  "open(my $n, '>', '/dev/null') or die 'null: '.$!; print $n 'gone';"
                  " my %h = map { $_ => $_ * $_ } 1..100; my $s = 0; $s += $_ for values %h;"
                  " print qq(perl $s\n);"], id="perl"),
    # The guest's own /dev (guest/fs/devfs.c) against the host's devices.
    pytest.param(["/usr/bin/python3", "-c",
                  "import os, errno\n"
                  "for n in ('null', 'zero', 'full', 'random', 'urandom'):\n"
                  "    st = os.stat('/dev/' + n)\n"
                  "    print(n, oct(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev))\n"
                  "print(open('/dev/null', 'rb').read(), open('/dev/zero', 'rb').read(5))\n"
                  "print(len(open('/dev/urandom', 'rb').read(33)))\n"
                  "print(open('/dev/null', 'w').write('x' * 9))\n"
                  "fd = os.open('/dev/full', os.O_WRONLY)\n"
                  "try:\n"
                  "    os.write(fd, b'x')\n"
                  "except OSError as e:\n"
                  "    print('full', errno.errorcode[e.errno])\n"], id="python3-dev"),
    # Threads: a lock-protected counter, a threading.Timer, time.sleep.
    pytest.param(["/usr/bin/python3", "-c",
                  "import threading, time\n"
                  "n = 0\n"
                  "lock = threading.Lock()\n"
                  "def work():\n"
                  "    global n\n"
                  "    for _ in range(10000):\n"
                  "        with lock:\n"
                  "            n += 1\n"
                  "ts = [threading.Thread(target=work) for _ in range(8)]\n"
                  "[t.start() for t in ts]\n"
                  "[t.join() for t in ts]\n"
                  "print('counter', n)\n"
                  "ev = threading.Event()\n"
                  "t0 = time.monotonic()\n"
                  "threading.Timer(0.2, ev.set).start()\n"
                  "print('timer fired', ev.wait(30), time.monotonic() - t0 >= 0.2)\n"
                  "t0 = time.monotonic()\n"
                  "time.sleep(0.3)\n"
                  "print('slept', time.monotonic() - t0 >= 0.3)\n"], id="python3-threads"),
]
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "HOSTNAME": "pier", "HOME": "/root"}


def host_run(root, argv):
    return subprocess.run(["chroot", root, *argv], capture_output=True, env=ENV, timeout=120,
                          stdin=subprocess.DEVNULL)


# microvm takes every case; q35 (the other transport) and pier's VMM, with
# its DAX window and without (libraries mapped from the window, or copied),
# the python3 ones: the kernel under test is the same.
PARAMS = [pytest.param(m, dax, *c.values, id=f"{m}{'-dax0' if dax else ''}-{c.id}")
          for m in targets("microvm", "q35", "pier") for dax in ((False, True) if m == "pier"
                                                                  else (False,))
          for c in CASES
          if m == "microvm" or c.id in ("true", "python3", "python3-threads")]


@pytest.mark.parametrize("machine,dax0,argv", PARAMS)
def test_like_the_host_chroot(machine, dax0, argv, debian):
    want = host_run(debian, argv)
    got = subprocess.run([PIER, "run", *vmm_args(machine), *(["--dax", "0"] if dax0 else []),
                          "--mem", "256M", "--timeout", "300",
                          "--root", debian, "--ro", "--", *argv], capture_output=True,
                         stdin=subprocess.DEVNULL, timeout=330)
    assert (got.returncode, got.stdout, got.stderr) == \
        (want.returncode, want.stdout, want.stderr), (got, want)


PROC_SCRIPT = """
import os, sys
print("exe", os.readlink("/proc/self/exe"))
print("cmdline", open("/proc/self/cmdline", "rb").read().split(b"\\0"))
fd = os.dup2(os.open("/etc/hostname", os.O_RDONLY), 50)
print("fd", os.readlink(f"/proc/self/fd/{fd}"), str(fd) in os.listdir("/proc/self/fd"))
os.close(fd)
print("closed", str(fd) in os.listdir("/proc/self/fd"))
print("self", os.readlink("/proc/self") == str(os.getpid()))
print("cpus", os.cpu_count(), open("/sys/devices/system/cpu/online").read().strip())
st = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines())
print("status", st["Name"], st["Pid"] == str(os.getpid()), st["Threads"])
maps = open("/proc/self/maps").read().splitlines()
print("maps", any(l.endswith("[stack]") for l in maps), any(" r-xp " in l for l in maps))
mem = dict(l.split(":", 1) for l in open("/proc/meminfo").read().splitlines())
print("meminfo", int(mem["MemTotal"].split()[0]) > int(mem["MemFree"].split()[0]) > 0)
print("cpuinfo", "model name" in open("/proc/cpuinfo").read())
print("stat", open("/proc/stat").readline().split()[0], open("/proc/uptime").read().count(" "))
"""
PROC_WANT = """exe /usr/bin/python3.11
cmdline [b'/usr/bin/python3', b'-c', b'{script}', b'']
fd /etc/hostname True
closed False
self True
cpus 1 0
status python3.11 True 1
maps True True
meminfo True
cpuinfo True
stat cpu 1
"""


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_proc_and_sys(machine, debian):
    """The guest's /proc and /sys (guest/fs/procfs.c) as a program sees
    them: the values are the guest's own (one CPU, pid 1), so they are
    checked against what they must be rather than a host run."""
    argv = ["/usr/bin/python3", "-c", PROC_SCRIPT]
    got = subprocess.run([PIER, "run", *vmm_args(machine), "--mem", "256M", "--timeout", "300",
                          "--root", debian, "--ro", "--", *argv], capture_output=True,
                         stdin=subprocess.DEVNULL, timeout=330, text=True)
    assert got.returncode == 0, got.stderr
    want = PROC_WANT.replace("{script}", PROC_SCRIPT.replace("\\", "\\\\").replace("\n", "\\n")
                             .replace("'", "\\'"))
    assert got.stdout == want, got.stdout + got.stderr


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_clocks_without_a_trap(machine, debian):
    """glibc finds the vDSO (guest/vdso/) through AT_SYSINFO_EHDR and reads
    the clocks there: no clock_gettime system call in a loop of time
    reads, the wall clock the host's (within a few seconds), the
    monotonic one never going back, and /proc/self/maps naming [vdso]."""
    import time
    script = ("import time, os\n"
              "t = time.time()\n"
              "m = [time.monotonic_ns() for _ in range(1000)]\n"
              "print(int(t), all(a <= b for a, b in zip(m, m[1:])))\n"
              "print(any(l.endswith('[vdso]') for l in"
              " open('/proc/self/maps').read().splitlines()))\n")
    got = subprocess.run([PIER, "run", *vmm_args(machine), "--timeout", "300", "--strace",
                          "--root", debian, "--ro", "--", "/usr/bin/python3", "-c", script],
                         capture_output=True, stdin=subprocess.DEVNULL, timeout=330, text=True)
    assert got.returncode == 0, got.stderr[-3000:]
    first, second = got.stdout.split("\n")[:2]
    wall, ordered = first.split()
    assert abs(int(wall) - time.time()) < 60, first
    assert ordered == "True" and second == "True", got.stdout
    calls = [l for l in got.stderr.splitlines() if l.startswith("strace: clock_gettime(")]
    assert calls == [], calls[:5]


TMPFS_SCRIPT = """
import os, mmap
os.makedirs("/tmp/x")
open("/tmp/x/y.txt", "w").write("hello tmpfs\\n" * 1000)
print(os.stat("/tmp/x/y.txt").st_size, open("/tmp/x/y.txt").read(12).strip(), os.listdir("/tmp"))
os.rename("/tmp/x/y.txt", "/tmp/z.txt")
os.rmdir("/tmp/x")
print(sorted(os.listdir("/tmp")), os.statvfs("/tmp").f_bsize)
fd = os.open("/dev/shm/seg", os.O_CREAT | os.O_RDWR, 0o600)
os.ftruncate(fd, 8192)
a, b = mmap.mmap(fd, 8192), mmap.mmap(fd, 8192)
a[100:105] = b"abcde"
print(b[100:105], os.pread(fd, 5, 100))
os.unlink("/dev/shm/seg")
print(os.listdir("/dev/shm"), oct(os.stat("/dev/shm").st_mode))
try:
    open("/etc/pier-test", "w")
except OSError as e:
    print("root", e.strerror)
"""
TMPFS_WANT = """12000 hello tmpfs ['x']
['z.txt'] 4096
b'abcde' b'abcde'
[] 0o41777
root Read-only file system
"""


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_tmpfs_and_dev_shm(machine, debian):
    """A read-only root with `--tmpfs /tmp` (guest/fs/tmpfs.c): files,
    directories and renames there, /dev/shm always writable, two MAP_SHARED
    mappings of one file seeing each other's bytes; the script itself comes
    in on stdin through /dev/stdin."""
    got = subprocess.run([PIER, "run", *vmm_args(machine), "--timeout", "300", "--root", debian,
                          "--ro", "--tmpfs", "/tmp", "--", "/usr/bin/python3", "-c",
                          "exec(open('/dev/stdin').read())"], input=TMPFS_SCRIPT,
                         capture_output=True, timeout=330, text=True)
    assert got.returncode == 0, got.stderr[-3000:]
    assert got.stdout == TMPFS_WANT, got.stdout + got.stderr[-2000:]


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_signals_program_dynamic_glibc(machine, debian, tmp_path):
    """tests/progs/sighandlers.c built dynamically against glibc (as Debian
    builds programs) and run with the Debian root's libc and ld.so:
    handlers, sigaltstack, a SIGSEGV handler that siglongjmps out, one that
    repairs and returns, per-thread masks, EINTR against SA_RESTART and the
    timers. (test_progs.py runs the static builds.)"""
    share = tmp_path / "share"
    share.mkdir()
    exe = share / "sighandlers"
    subprocess.run(["gcc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-o", str(exe), os.path.join(ROOT, "tests", "progs", "sighandlers.c")],
                   check=True)
    got = subprocess.run([PIER, "run", *vmm_args(machine), "--timeout", "300", "--root", debian,
                          "--ro", "--share", f"data={share}", "-o", "mount=data:/mnt", "--",
                          "/mnt/sighandlers"], capture_output=True, stdin=subprocess.DEVNULL,
                         timeout=330, text=True)
    assert got.returncode == 0, got.stdout + got.stderr[-3000:]
    assert got.stdout.splitlines()[-1] == "sighandlers: all passed", got.stdout
    assert "FAIL" not in got.stdout + got.stderr


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_loader_run_directly(machine, debian):
    """ld.so run as the program (`ld.so --list PROGRAM`): the kernel loads
    the loader, which maps the program itself. The libraries it lists are
    the host chroot's, load addresses aside (the vDSO among them)."""
    import re
    argv = ["/lib64/ld-linux-x86-64.so.2", "--list", "/usr/bin/python3"]
    want = host_run(debian, argv)
    got = subprocess.run([PIER, "run", *vmm_args(machine), "--timeout", "300", "--root", debian,
                          "--ro", "--", *argv], capture_output=True, stdin=subprocess.DEVNULL,
                         timeout=330)
    strip = lambda b: re.sub(rb" \(0x[0-9a-f]+\)", b"", b)  # noqa: E731
    assert (got.returncode, strip(got.stdout)) == (want.returncode, strip(want.stdout)), got
    assert b"libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6" in got.stdout


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_python3_from_an_initrd(machine, debian, tmp_path):
    """python3, its standard library and the libraries its modules load, as
    an initrd (bench/startup.py's, for its start-up figures): ld.so maps
    them from the guest's ramfs, whose files copy in on mmap. Compared with
    the same script in a chroot of the Debian root."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import startup
    initrd = tmp_path / "python3.cpio"
    startup.make_initrd(debian, str(initrd))
    argv = startup.PROGRAMS["python3 50 imports"]
    want = host_run(debian, argv)
    got = subprocess.run([PIER, "run", *vmm_args(machine), "--mem", "1G", "--timeout", "300",
                          "--initrd", str(initrd), "--", *argv], capture_output=True,
                         stdin=subprocess.DEVNULL, timeout=330)
    assert want.stdout == b"imported\n"
    assert (got.returncode, got.stdout, got.stderr) == \
        (want.returncode, want.stdout, want.stderr), (got, want)
