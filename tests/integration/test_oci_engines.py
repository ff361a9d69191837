"""podman and containerd with pier-oci as their runtime, against runc: the
same image (the Debian root, imported), the same commands, the same
output, stderr and exit status. QEMU only (the microvm target): the
engines need a writable host, which the nested pier pass does not have;
the runtime itself runs on every target in test_oci.py. Also a server
reached through podman's -p.
"""
import os
import pty
import select
import signal
import subprocess
import time

import pytest

from conftest import BUILD, on_a_pty as pty_run, targets

PIER_OCI = os.path.join(BUILD, "pier-oci")
# The target, pinned as an engine's user pins it (docs/oci.md).
PIN = {"pier.vmm": "qemu", "pier.machine": "microvm"}

pytestmark = pytest.mark.parametrize("machine", targets("microvm"))


@pytest.fixture(scope="session")
def podman_env(tmp_path_factory):
    """A containers.conf naming pier-oci as runtime "pier", with the
    ulimits this machine allows (it cannot raise nofile and nproc)."""
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text('[containers]\n'
                    'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                    '[engine.runtimes]\n'
                    f'pier = ["{PIER_OCI}"]\n')
    return dict(os.environ, CONTAINERS_CONF=str(conf))


@pytest.fixture(scope="session")
def image(debian, podman_env):
    """The Debian root as a podman image, imported once per root."""
    name = "localhost/pier-debian:" + os.path.basename(os.path.dirname(debian))
    if subprocess.run(["podman", "image", "exists", name], env=podman_env).returncode:
        tar = subprocess.Popen(["tar", "-C", debian, "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(["podman", "import", "-", name], stdin=tar.stdout,
                             capture_output=True, text=True, env=podman_env, timeout=600)
        tar.wait()
        assert imp.returncode == 0, imp.stderr
    return name


def on_a_pty(argv, env):
    status, out, fd = pty_run(argv, env)
    os.close(fd)
    return status, out


def podman(env, runtime, *args, stdin=None, timeout=180):
    pin = [f"--annotation={k}={v}" for k, v in PIN.items()] if runtime == "pier" else []
    return subprocess.run(["podman", "--runtime", runtime, "run", "--rm", *pin, *args],
                          capture_output=True, text=True, env=env, input=stdin,
                          timeout=timeout)


def same(env, *args, stdin=None, stderr=True):
    """Runs args under runc and pier-oci; asserts they agree, returns pier's."""
    want = podman(env, "runc", *args, stdin=stdin)
    got = podman(env, "pier", *args, stdin=stdin)
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), (got, want)
    if stderr:
        assert got.stderr == want.stderr, (got.stderr, want.stderr)
    return got


CASES = {
    "status-and-streams": (["sh", "-c", "echo out; echo err >&2; exit 3"], {}),
    "env": (["-e", "GREETING=hello there", "-e", "EMPTY=", "IMG", "sh", "-c",
             "echo \"$GREETING|$EMPTY|$HOME\"; env | sort | grep -v HOSTNAME"], {}),
    "workdir": (["-w", "/usr/share", "IMG", "pwd"], {}),
    "user": (["-u", "1000:1000", "IMG", "sh", "-c", "id; touch /root/x"], {}),
    "python3": (["IMG", "python3", "-c",
                 "import os, sys; print(sum(range(1000)), os.getcwd(), sys.argv)"], {}),
    "stdin": (["-i", "IMG", "sh", "-c", "wc -c; cat /etc/debian_version"],
              {"stdin": "bytes from the host\n" * 1000}),
    # The program's name is not found: 127 from both (podman's message
    # says which runtime, so only the status is compared).
    "missing-command": (["IMG", "no-such-command"], {"stderr": False}),
    # podman's init (catatonit, a file bind mount) as pid 1: it takes
    # SIGCHLD through a signalfd and reaps.
    "init": (["--init", "IMG", "sh", "-c", "sleep 0.1 & wait; echo reaped; exit 4"], {}),
    "read-only": (["--read-only", "IMG", "sh", "-c",
                   "echo x > /etc/x; echo t > /tmp/t && cat /tmp/t"], {}),
}


@pytest.mark.parametrize("case", CASES)
def test_like_runc(machine, case, image, podman_env):
    args, kw = CASES[case]
    args = [image if a == "IMG" else a for a in args]
    if "IMG" not in CASES[case][0]:
        args = [image, *args]
    r = same(podman_env, *args, **kw)
    if case == "missing-command":
        assert r.returncode == 127


def test_volumes(machine, image, podman_env, tmp_path):
    """-v HOST:CTR is read and written through; :ro refuses writes."""
    for runtime in ("runc", "pier"):
        vol = tmp_path / runtime
        vol.mkdir()
        (vol / "in.txt").write_text("from the host\n")
        r = podman(podman_env, runtime, "-v", f"{vol}:/data", image, "sh", "-c",
                   "cat /data/in.txt; echo from the guest > /data/out.txt; ls /data")
        assert (r.returncode, r.stdout) == (0, "from the host\nin.txt\nout.txt\n"), r
        assert (vol / "out.txt").read_text() == "from the guest\n"
        r = podman(podman_env, runtime, "-v", f"{vol}:/data:ro", image, "sh", "-c",
                   "cat /data/in.txt; echo no > /data/ro.txt")
        assert r.returncode == 2 and r.stdout == "from the host\n", r
        assert "Read-only file system" in r.stderr
        assert not (vol / "ro.txt").exists()


def wait_for_log(env, cid, text, limit=120):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        logs = subprocess.run(["podman", "logs", cid], capture_output=True, text=True, env=env)
        if text in logs.stdout:
            return logs.stdout
        time.sleep(0.5)
    raise AssertionError(f"{text!r} never came: {logs.stdout!r} {logs.stderr!r}")


def exit_code(env, cid):
    return subprocess.run(["podman", "inspect", cid, "--format", "{{.State.ExitCode}}"],
                          capture_output=True, text=True, env=env).stdout.strip()


@pytest.mark.parametrize("runtime", ["runc", "pier"])
def test_detached_stop_and_logs(machine, runtime, image, podman_env):
    """run -d, then podman stop: SIGTERM to a program with a handler ends
    it; a program without one (pid 1 passes it by) is killed after the
    timeout, 137, as with runc."""
    pin = [f"--annotation={k}={v}" for k, v in PIN.items()] if runtime == "pier" else []
    script = 'echo started; trap "echo got TERM; exit 0" TERM; while :; do sleep 0.1; done'
    ids = []
    try:
        for args in (["sh", "-c", script], ["sleep", "1000"]):
            r = subprocess.run(["podman", "--runtime", runtime, "run", "-d", *pin, image,
                                *args], capture_output=True, text=True, env=podman_env)
            assert r.returncode == 0, r.stderr
            ids.append(r.stdout.strip())
        wait_for_log(podman_env, ids[0], "started")
        assert subprocess.run(["podman", "stop", "-t", "30", ids[0]], env=podman_env,
                              capture_output=True).returncode == 0
        assert exit_code(podman_env, ids[0]) == "0"
        assert wait_for_log(podman_env, ids[0], "got TERM") == "started\ngot TERM\n"
        stop = subprocess.run(["podman", "stop", "-t", "1", ids[1]], env=podman_env,
                              capture_output=True, text=True)
        assert stop.returncode == 0, stop.stderr
        assert exit_code(podman_env, ids[1]) == "137"
    finally:
        for cid in ids:
            subprocess.run(["podman", "rm", "-f", cid], env=podman_env, capture_output=True)


def fetch(url, limit=120):
    """url's bytes, once something answers there."""
    deadline = time.monotonic() + limit
    while True:
        r = subprocess.run(["curl", "-sf", "--max-time", "10", url], capture_output=True)
        if r.returncode == 0 or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def test_published_port(machine, image, podman_env, debian):
    """podman run -p: a server in the container on the engine's network
    (netavark's bridge, its port forwarded from the host) is reached from
    the host, as with runc: pier-oci's guest listens in the container's
    network namespace on the port the container asked for."""
    want = open(os.path.join(debian, "etc", "os-release"), "rb").read()
    for runtime in ("runc", "pier"):
        pin = [f"--annotation={k}={v}" for k, v in PIN.items()] if runtime == "pier" else []
        port = 18000 + os.getpid() % 1000
        r = subprocess.run(["podman", "--runtime", runtime, "run", "-d", *pin, "-p",
                            f"127.0.0.1:{port}:8000", "-w", "/etc", image, "python3", "-m",
                            "http.server", "8000"], capture_output=True, text=True,
                           env=podman_env)
        assert r.returncode == 0, r.stderr
        cid = r.stdout.strip()
        try:
            got = fetch(f"http://127.0.0.1:{port}/os-release")
            logs = subprocess.run(["podman", "logs", cid], capture_output=True, text=True,
                                  env=podman_env)
            assert got.returncode == 0, (runtime, got.stderr, logs.stdout, logs.stderr)
            assert got.stdout == want, runtime
            assert '"GET /os-release HTTP/1.1" 200' in logs.stderr, (runtime, logs.stderr)
        finally:
            subprocess.run(["podman", "rm", "-f", "-t", "0", cid], env=podman_env,
                           capture_output=True)


@pytest.mark.parametrize("runtime", ["runc", "pier"])
def test_terminal(machine, runtime, image, podman_env):
    """-t: the program's streams are a pseudo-terminal (the console socket)."""
    pin = [f"--annotation={k}={v}" for k, v in PIN.items()] if runtime == "pier" else []
    status, out = on_a_pty(["podman", "--runtime", runtime, "run", "--rm", "-t", *pin, image,
                            "sh", "-c", "test -t 0 && test -t 1 && echo on a tty; exit 4"],
                           podman_env)
    assert status == 4, out
    assert b"on a tty\r\n" in out, out


def test_many_at_once(machine, image, podman_env):
    procs = [subprocess.Popen(["podman", "--runtime", "pier", "run", "--rm",
                               *[f"--annotation={k}={v}" for k, v in PIN.items()], image,
                               "sh", "-c", f"echo container {i}; exit {i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=podman_env) for i in range(6)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=300)
        assert (p.returncode, out) == (i, f"container {i}\n"), err


# --- containerd: its own daemon, config, root and socket in a test directory.

@pytest.fixture(scope="session")
def containerd(image, podman_env, tmp_path_factory):
    d = tmp_path_factory.mktemp("ctd")
    sock = d / "containerd.sock"
    (d / "config.toml").write_text(
        f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n'
        f'[grpc]\n  address = "{sock}"\n'
        '[plugins."io.containerd.grpc.v1.cri"]\n  disable_apparmor = true\n')
    log = open(d / "containerd.log", "w")
    daemon = subprocess.Popen(["containerd", "--config", str(d / "config.toml")], stdout=log,
                              stderr=log, start_new_session=True)
    ctr = ["ctr", "-a", str(sock)]
    for _ in range(100):
        if subprocess.run([*ctr, "version"], capture_output=True).returncode == 0:
            break
        time.sleep(0.2)
    archive = d / "image.tar"
    save = subprocess.run(["podman", "save", "--format", "oci-archive", "-o", str(archive),
                           image], capture_output=True, text=True, env=podman_env, timeout=600)
    assert save.returncode == 0, save.stderr
    imp = subprocess.run([*ctr, "images", "import", "--base-name", "localhost/pier-debian",
                          "--digests", str(archive)], capture_output=True, text=True,
                         timeout=600)
    assert imp.returncode == 0, imp.stderr
    ref = subprocess.run([*ctr, "images", "ls", "-q"], capture_output=True,
                         text=True).stdout.split()[0]
    yield ctr, ref
    os.killpg(daemon.pid, signal.SIGTERM)
    daemon.wait(timeout=30)


def ctr_run(containerd, runtime, name, *args, timeout=180):
    ctr, ref = containerd
    binary = PIER_OCI if runtime == "pier" else "runc"
    pin = [f"--annotation={k}={v}" for k, v in PIN.items()] if runtime == "pier" else []
    return subprocess.run([*ctr, "run", "--rm", "--runc-binary", binary, *pin, *args[:-1],
                           ref, f"{name}-{runtime}", *args[-1]],
                          capture_output=True, text=True, timeout=timeout)


def test_containerd_like_runc(machine, containerd, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "in.txt").write_text("from the host\n")
    cases = [
        ("status", [["sh", "-c", "echo out; echo err >&2; exit 5"]]),
        ("env-cwd", ["--env", "GREETING=hi", "--cwd", "/usr",
                     ["sh", "-c", "echo $GREETING; pwd; hostname"]]),
        ("bind", ["--mount", f"type=bind,src={vol},dst=/data,options=rbind:rw",
                  ["sh", "-c", "cat /data/in.txt; echo w > /data/out.txt; ls /data"]]),
        ("bind-ro", ["--mount", f"type=bind,src={vol},dst=/data,options=rbind:ro",
                     ["sh", "-c", "echo no > /data/ro.txt"]]),
        ("missing", [["no-such-command"]]),
    ]
    for name, args in cases:
        want = ctr_run(containerd, "runc", name, *args)
        got = ctr_run(containerd, "pier", name, *args)
        assert (got.returncode, got.stdout) == (want.returncode, want.stdout), (name, got, want)
        if name != "missing":
            assert got.stderr == want.stderr, (name, got.stderr, want.stderr)
    assert (vol / "out.txt").read_text() == "w\n"
    assert not (vol / "ro.txt").exists()


# --- exec: more programs in a running container (podman exec, ctr task exec).

EXEC_CASES = [
    (["sh", "-c", "echo out; echo err >&2; exit 3"], None),
    (["-u", "1000:1000", "-w", "/tmp", "-e", "X=set by exec", "CTR", "sh", "-c",
      "id; pwd; echo $X"], None),
    (["-i", "CTR", "sh", "-c", "wc -c; cat /etc/debian_version"], "piped in\n" * 500),
    (["CTR", "sh", "-c", "ls /proc/1/cmdline >/dev/null && cat /proc/1/cmdline | tr '\\0' ' '"],
     None),
]


def exec_in(env, runtime, cid, args, stdin=None):
    args = [cid if a == "CTR" else a for a in args]
    if cid not in args:
        args = [cid, *args]
    return subprocess.run(["podman", "--runtime", runtime, "exec", *args], capture_output=True,
                          text=True, env=env, input=stdin, timeout=180)


def test_podman_exec_like_runc(machine, image, podman_env):
    """podman exec into a running container: streams, status, -u, -w, -e,
    -i, a missing command (127) and -t, each as with runc."""
    ids = {}
    try:
        for runtime in ("runc", "pier"):
            pin = [f"--annotation={k}={v}" for k, v in PIN.items()] if runtime == "pier" else []
            r = subprocess.run(["podman", "--runtime", runtime, "run", "-d", *pin, image,
                                "sleep", "1000"], capture_output=True, text=True,
                               env=podman_env)
            assert r.returncode == 0, r.stderr
            ids[runtime] = r.stdout.strip()
        for args, stdin in EXEC_CASES:
            want = exec_in(podman_env, "runc", ids["runc"], args, stdin)
            got = exec_in(podman_env, "pier", ids["pier"], args, stdin)
            assert (got.returncode, got.stdout, got.stderr) == \
                (want.returncode, want.stdout, want.stderr), (args, got, want)
        for runtime in ("runc", "pier"):
            r = exec_in(podman_env, runtime, ids[runtime], ["no-such-command"])
            assert r.returncode == 127, (runtime, r)
        for runtime in ("runc", "pier"):
            status, out = on_a_pty(["podman", "--runtime", runtime, "exec", "-t", ids[runtime],
                                    "sh", "-c", "test -t 0 && test -t 1 && echo on a tty; exit 6"],
                                   podman_env)
            assert status == 6, (runtime, out)
            assert b"on a tty\r\n" in out, (runtime, out)
    finally:
        for cid in ids.values():
            subprocess.run(["podman", "rm", "-f", "-t", "0", cid], env=podman_env,
                           capture_output=True)


def test_containerd_exec_like_runc(machine, containerd):
    ctr, ref = containerd
    for runtime in ("runc", "pier"):
        binary = PIER_OCI if runtime == "pier" else "runc"
        pin = [f"--annotation={k}={v}" for k, v in PIN.items()] if runtime == "pier" else []
        name = f"exec-{runtime}"
        r = subprocess.run([*ctr, "run", "-d", "--runc-binary", binary, *pin, ref, name,
                            "sleep", "1000"], capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr
    try:
        got = {}
        for runtime in ("runc", "pier"):
            got[runtime] = subprocess.run(
                [*ctr, "task", "exec", "--exec-id", "x1", f"exec-{runtime}", "sh", "-c",
                 "echo out; echo err >&2; cat /etc/debian_version; exit 6"],
                capture_output=True, text=True, timeout=180)
        assert (got["pier"].returncode, got["pier"].stdout, got["pier"].stderr) == \
            (got["runc"].returncode, got["runc"].stdout, got["runc"].stderr), got
        assert got["pier"].returncode == 6
    finally:
        for runtime in ("runc", "pier"):
            name = f"exec-{runtime}"
            subprocess.run([*ctr, "task", "kill", "-s", "KILL", name], capture_output=True)
            for _ in range(100):
                if subprocess.run([*ctr, "task", "rm", name], capture_output=True).returncode \
                        == 0:
                    break
                time.sleep(0.2)
            subprocess.run([*ctr, "containers", "rm", name], capture_output=True)


@pytest.mark.parametrize("runtime", ["runc", "pier"])
def test_podman_exec_interactive_shell(machine, runtime, image, podman_env):
    """podman exec -it bash as a person uses it: a command, ^C to a
    foreground sleep (SIGINT to its group: status 130), exit with a status."""
    pin = [f"--annotation={k}={v}" for k, v in PIN.items()] if runtime == "pier" else []
    r = subprocess.run(["podman", "--runtime", runtime, "run", "-d", *pin, image, "sleep",
                        "1000"], capture_output=True, text=True, env=podman_env)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe("podman", ["podman", "--runtime", runtime, "exec", "-it", cid, "bash",
                              "--norc"], podman_env)
    seen = b""

    def until(text, limit=120):
        nonlocal seen
        deadline = time.monotonic() + limit
        while text not in seen:
            assert time.monotonic() < deadline, (text, seen)
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, (text, seen)
                seen += chunk

    try:
        until(b"# ")
        os.write(fd, b"echo sum=$((6*7))\r")
        until(b"sum=42")
        os.write(fd, b"sleep 100\r")
        time.sleep(2)  # the sleep runs (a ^C typed before it would end the line)
        os.write(fd, b"\x03")
        until(b"^C")
        os.write(fd, b"echo after=$?\r")
        until(b"after=130")
        os.write(fd, b"exit 3\r")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 3, seen
    finally:
        os.close(fd)
        subprocess.run(["podman", "rm", "-f", "-t", "0", cid], env=podman_env,
                       capture_output=True)
