"""pier-oci, Pier as an OCI runtime (host/oci/, docs/oci.md).

First the runtime on its own, the way an engine drives it (create, state,
start, kill, delete on a bundle this file writes), on every target: the
pier target is pier's VMM with its DAX window. Then podman (through
conmon) and containerd (ctr and the runc shim) against runc with the same
image and commands (tests/integration/oci_engines.py), on QEMU: the
engines need a writable host, which the nested pier pass does not have.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import termios
import time

import pytest

from conftest import BUILD, ROOT, TARGETS, on_a_pty

PIER_OCI = os.path.join(BUILD, "pier-oci")
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "cat", "echo", "id", "hostname", "ls", "sleep", "pwd", "env", "touch",
           "mkdir", "grep", "true", "false", "stat", "stty")


def annotations(machine):
    """The annotations that pick a target, as an engine's user would set them."""
    if machine == "pier":
        return {"pier.vmm": "pier"}
    return {"pier.vmm": "qemu", "pier.machine": machine}


def make_rootfs(base):
    """A small writable root: Debian's static busybox and its applets."""
    root = base / "rootfs"
    for d in ("bin", "etc", "tmp", "srv", "mnt", "proc", "dev", "sys"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    for a in APPLETS:
        if not os.path.lexists(root / "bin" / a):
            os.symlink("busybox", root / "bin" / a)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    return root


def make_bundle(base, args, machine, **spec):
    """A bundle: config.json (the keys given replace the defaults) and a root."""
    root = make_rootfs(base)
    config = {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/bin", "TERM=xterm"], "cwd": "/"},
        "root": {"path": "rootfs"},
        "hostname": "pier-oci-test",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}],
        "annotations": annotations(machine),
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
    }
    for k, v in spec.items():
        if k == "process":
            config["process"].update(v)
        else:
            config[k] = v
    (base / "config.json").write_text(json.dumps(config))
    return root


# The engine's part, which a test cannot play from pytest itself: the
# container process is create's child, reparented to its subreaper when
# create exits, and only that subreaper can wait for its status. This
# helper becomes the subreaper, runs create, state, start, waits for the
# container and reports it all as JSON.
ENGINE = r"""
import ctypes, json, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
rt, state_root, bundle, cid, out, err = sys.argv[1:7]
base = [rt, "--root", state_root, "--log", bundle + "/log.json", "--log-format", "json"]
def call(*a):
    p = subprocess.run(base + list(a), capture_output=True, text=True, timeout=60)
    return {"rc": p.returncode, "out": p.stdout, "err": p.stderr}
r = {}
with open(out, "w") as o, open(err, "w") as e:
    p = subprocess.run(base + ["create", "--bundle", bundle, "--pid-file", bundle + "/pid",
                               cid], stdout=o, stderr=e, timeout=60)
r["create"] = p.returncode
if p.returncode == 0:
    pid = int(open(bundle + "/pid").read())
    r["pid"] = pid
    r["state_created"] = json.loads(call("state", cid)["out"])
    r["start"] = call("start", cid)
    r["state_running"] = json.loads(call("state", cid)["out"])
    r["ps_running"] = call("ps", "--format", "json", cid)
    _, status = os.waitpid(pid, 0)
    r["exit"] = os.waitstatus_to_exitcode(status)
    r["state_stopped"] = json.loads(call("state", cid)["out"])
    r["delete"] = call("delete", cid)
    r["state_after"] = call("state", cid)
json.dump(r, sys.stdout)
"""


def engine_run(tmp_path, cid="c1"):
    """Creates, starts and waits for the bundle in tmp_path; the helper's
    report, with the container's stdout and stderr."""
    out, err = tmp_path / "ctr.out", tmp_path / "ctr.err"
    p = subprocess.run([sys.executable, "-c", ENGINE, PIER_OCI, str(tmp_path / "state"),
                        str(tmp_path), cid, str(out), str(err)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    r["stdout"], r["stderr"] = out.read_text(), err.read_text()
    return r


def oci(tmp_path, *args, timeout=60):
    """One runtime call. create's output goes through files: the container
    it leaves behind holds its stdout and stderr, so pipes would not end."""
    out, err = tmp_path / "call.out", tmp_path / "call.err"
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.run([PIER_OCI, "--root", str(tmp_path / "state"), *args],
                           stdout=o, stderr=e, text=True, timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out.read_text(),
                                       err.read_text())


@pytest.mark.parametrize("machine", TARGETS)
def test_a_container_runs_as_its_config_says(machine, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    (share / "in.txt").write_text("from the host\n")
    ro = tmp_path / "ro"
    ro.mkdir()
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 pier-oci-test\n")
    script = ("echo out; echo err >&2; pwd; id -u; id -g; hostname; echo $GREETING; "
              "cat /srv/in.txt; echo written > /srv/out.txt; cat /etc/hosts; "
              "touch /mnt/x 2>/dev/null && echo ro-writable || echo ro-refused; "
              "echo t > /tmp/scratch && cat /tmp/scratch; ulimit -n; exit 7")
    make_bundle(tmp_path, ["sh", "-c", script], machine,
                process={"cwd": "/srv", "user": {"uid": 1000, "gid": 1001},
                         "env": ["PATH=/bin", "GREETING=hello there"],
                         "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]},
                mounts=[{"destination": "/srv", "type": "bind", "source": str(share),
                         "options": ["rbind", "rw"]},
                        {"destination": "/mnt", "type": "bind", "source": str(ro),
                         "options": ["rbind", "ro"]},
                        {"destination": "/etc/hosts", "type": "bind", "source": str(hosts),
                         "options": ["bind"]},
                        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
                        {"destination": "/proc", "type": "proc", "source": "proc"}])
    os.chmod(share, 0o777)
    r = engine_run(tmp_path)
    assert r["create"] == 0, r["stderr"]
    assert r["state_created"]["status"] == "created"
    assert r["state_created"]["pid"] == r["pid"]
    assert r["state_created"]["bundle"] == str(tmp_path)
    assert r["start"]["rc"] == 0, r["start"]
    assert r["state_running"]["status"] in ("running", "stopped")
    assert r["exit"] == 7, (r["stderr"], r)
    assert r["stdout"].split("\n") == [
        "out", "/srv", "1000", "1001", "pier-oci-test", "hello there", "from the host",
        "127.0.0.1 pier-oci-test", "ro-refused", "t", "100", ""], r["stderr"]
    assert r["stderr"] == "err\n"
    assert (share / "out.txt").read_text() == "written\n"
    assert not os.listdir(ro)
    assert r["ps_running"]["rc"] == 0, r["ps_running"]
    assert json.loads(r["ps_running"]["out"]) in ([r["pid"]], [])  # [] if it ended already
    assert r["state_stopped"]["status"] == "stopped"
    assert r["delete"]["rc"] == 0, r["delete"]
    assert r["state_after"]["rc"] == 1
    assert "does not exist" in r["state_after"]["err"]


# exec --detach as an engine calls it: the program's host process is left
# behind for the engine, a subreaper, to wait for (its pid in the pid file).
DETACHED = r"""
import ctypes, json, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
rt, state_root, cid, process, pid_file, out = sys.argv[1:7]
with open(out, "w") as o:
    p = subprocess.run([rt, "--root", state_root, "exec", "--detach", "--pid-file", pid_file,
                        "--process", process, cid], stdin=subprocess.DEVNULL, stdout=o,
                       stderr=subprocess.PIPE, text=True, timeout=60)
r = {"rc": p.returncode, "err": p.stderr}
if p.returncode == 0:
    pid = int(open(pid_file).read())
    _, status = os.waitpid(pid, 0)
    r["exit"] = os.waitstatus_to_exitcode(status)
json.dump(r, sys.stdout)
"""


def exec_call(tmp_path, *args, stdin=None, timeout=120):
    """pier-oci exec, its stdio through pipes (it leaves nothing behind)."""
    return subprocess.run([PIER_OCI, "--root", str(tmp_path / "state"), "exec", *args],
                          input=stdin, capture_output=True, timeout=timeout)


@pytest.mark.parametrize("machine", TARGETS)
def test_exec_runs_more_programs_in_the_containers_vm(machine, tmp_path):
    """exec as runc's: a process.json (args, env, cwd, user) or a command
    line over the container's config; stdin, stdout, stderr and the exit
    status carried exactly, 1 MiB of input through the window, a signal
    passed on, a missing program in runc's words, several at once, a
    detached one waited for by its engine, and an error once the
    container has stopped. The state path is longer than a socket's
    address (exec's socket is reached through its directory)."""
    state = tmp_path / ("s" * 90)
    make_bundle(tmp_path, ["sh", "-c", "echo ready > /tmp/main; sleep 100"], machine,
                process={"env": ["PATH=/bin", "FROM=config"]},
                mounts=[{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}])
    run = lambda *a, **k: oci(tmp_path, *a, **k)
    os.symlink(state, tmp_path / "state")
    state.mkdir()
    assert run("create", "--bundle", str(tmp_path), "--pid-file",
               str(tmp_path / "pid"), "e1").returncode == 0, (tmp_path / "call.err").read_text()
    assert run("start", "e1").returncode == 0
    try:
        # The command-line form: the container's environment and cwd.
        p = exec_call(tmp_path, "e1", "sh", "-c", "while [ ! -s /tmp/main ]; do sleep 0.1; done; "
                      "cat /tmp/main; echo $FROM; pwd")
        assert (p.returncode, p.stdout, p.stderr) == (0, b"ready\nconfig\n/\n", b""), p
        proc = tmp_path / "process.json"
        proc.write_text(json.dumps({
            "args": ["sh", "-c", "echo out; echo err >&2; cat; id -u; id -g; pwd; "
                     "echo $GREETING $FROM; exit 5"],
            "env": ["PATH=/bin", "GREETING=hi there"], "cwd": "/tmp",
            "user": {"uid": 1000, "gid": 1001}, "terminal": False}))
        p = exec_call(tmp_path, "--process", str(proc), "e1", stdin=b"piped\n")
        assert p.returncode == 5, p
        assert p.stdout == b"out\npiped\n1000\n1001\n/tmp\nhi there\n", p
        assert p.stderr == b"err\n"
        # A user of its own: the container's main program is still root.
        p = exec_call(tmp_path, "e1", "sh", "-c", "id -u; touch /tmp/root-made; stat -c %u "
                      "/tmp/root-made")
        assert p.stdout == b"0\n0\n", p
        data = os.urandom(1 << 20)
        p = exec_call(tmp_path, "e1", "cat", stdin=data)
        assert p.returncode == 0 and p.stdout == data, (p.returncode, len(p.stdout), p.stderr)
        p = exec_call(tmp_path, "e1", "nosuch")
        assert p.returncode != 0
        assert b'exec: "nosuch": executable file not found in $PATH' in p.stderr, p.stderr
        # Several at once, each with its own output.
        many = [subprocess.Popen([PIER_OCI, "--root", str(tmp_path / "state"), "exec", "e1",
                                  "sh", "-c", f"sleep 1; echo {i}; exit {i}"],
                                 stdout=subprocess.PIPE) for i in range(4)]
        for i, m in enumerate(many):
            assert m.communicate(timeout=120)[0] == f"{i}\n".encode()
            assert m.returncode == i
        # A signal to the host process is the program's.
        sleeper = subprocess.Popen([PIER_OCI, "--root", str(tmp_path / "state"), "exec", "e1",
                                    "sh", "-c", "echo up; exec sleep 60"],
                                   stdout=subprocess.PIPE)
        assert sleeper.stdout.readline() == b"up\n"
        sleeper.send_signal(signal.SIGTERM)
        assert sleeper.wait(timeout=60) == -signal.SIGTERM
        # Detached, as podman and containerd call it.
        proc.write_text(json.dumps({"args": ["sh", "-c", "echo detached; exit 3"],
                                    "env": ["PATH=/bin"], "cwd": "/"}))
        d = subprocess.run([sys.executable, "-c", DETACHED, PIER_OCI, str(tmp_path / "state"),
                            "e1", str(proc), str(tmp_path / "exec.pid"),
                            str(tmp_path / "exec.out")],
                           capture_output=True, text=True, timeout=120)
        r = json.loads(d.stdout)
        assert r["rc"] == 0 and r["exit"] == 3, r
        assert (tmp_path / "exec.out").read_text() == "detached\n"
    finally:
        assert run("kill", "e1", "KILL").returncode == 0
    for _ in range(300):
        if json.loads(run("state", "e1").stdout)["status"] == "stopped":
            break
        time.sleep(0.1)
    p = exec_call(tmp_path, "e1", "true")
    assert p.returncode == 1 and b"cannot exec in a stopped container" in p.stderr, p.stderr
    assert run("delete", "e1").returncode == 0


@pytest.mark.parametrize("machine", TARGETS)
def test_exec_on_the_users_own_terminal(machine, tmp_path):
    """exec -t without a console socket, on a terminal of the user's: the
    program sees a terminal, its mode changes reach it (stty -echo), and
    the user gets the terminal back as it was."""
    make_bundle(tmp_path, ["sleep", "100"], machine)
    assert oci(tmp_path, "create", "--bundle", str(tmp_path), "t1").returncode == 0
    assert oci(tmp_path, "start", "t1").returncode == 0
    try:
        status, out, fd = on_a_pty([PIER_OCI, "--root", str(tmp_path / "state"), "exec", "-t",
                                    "t1", "sh", "-c", "stty -echo && test -t 0 && test -t 1 && "
                                    "echo on a tty; exit 2"])
        assert status == 2, out
        assert b"on a tty\r\n" in out, out
        assert termios.tcgetattr(fd)[3] & termios.ECHO  # echo is back on
        os.close(fd)
    finally:
        oci(tmp_path, "kill", "t1", "KILL")
        oci(tmp_path, "delete", "--force", "t1")


def test_a_bad_bundle_gets_a_runc_style_error(tmp_path):
    """No boot: every check happens at create, and leaves no state behind."""
    bundle = tmp_path / "b"
    bundle.mkdir()
    log = tmp_path / "log.json"

    def create(cid):
        return subprocess.run([PIER_OCI, "--root", str(tmp_path / "state"), "--log", str(log),
                               "--log-format", "json", "create", "--bundle", str(bundle),
                               cid], capture_output=True, text=True, timeout=30)

    (bundle / "config.json").write_text('{"ociVersion": "1.0.2", "process": ')
    p = create("bad1")
    assert p.returncode == 1 and "malformed JSON" in p.stderr, p.stderr
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error" and "malformed JSON" in last["msg"]
    assert "does not exist" in oci(tmp_path, "state", "bad1").stderr

    (bundle / "config.json").write_text(json.dumps({
        "ociVersion": "1.0.2", "root": {"path": "nowhere"},
        "process": {"args": ["sh"], "cwd": "/"}}))
    p = create("bad2")
    assert p.returncode == 1 and "invalid rootfs" in p.stderr, p.stderr
    assert "invalid rootfs" in json.loads(log.read_text().splitlines()[-1])["msg"]

    make_bundle(bundle, [], "microvm")
    p = create("bad3")
    assert p.returncode == 1 and "args must not be empty" in p.stderr, p.stderr

    make_bundle(bundle, ["sh"], "microvm", process={"terminal": True})
    p = create("bad4")
    assert p.returncode == 1 and "console socket" in p.stderr, p.stderr

    assert oci(tmp_path, "create", "--bundle", str(bundle), "no/slash").returncode == 1
    assert not os.path.exists(tmp_path / "state") or not os.listdir(tmp_path / "state")
    # Nothing to delete: an error, but --force cleans up quietly.
    assert oci(tmp_path, "delete", "ghost").returncode == 1
    assert oci(tmp_path, "delete", "--force", "ghost").returncode == 0


@pytest.mark.parametrize("machine", TARGETS)
def test_kill_delete_and_stale_state(machine, tmp_path):
    """kill of a created container, start after it died (an error, not a
    hang), a duplicate id, delete of a live one, kill of a running one."""
    make_bundle(tmp_path, ["sleep", "100"], machine)
    assert oci(tmp_path, "create", "--bundle", str(tmp_path), "--pid-file",
               str(tmp_path / "pid"), "s1").returncode == 0
    dup = oci(tmp_path, "create", "--bundle", str(tmp_path), "s1")
    assert dup.returncode == 1 and "container with id exists: s1" in dup.stderr
    pid = int((tmp_path / "pid").read_text())
    p = oci(tmp_path, "delete", "s1")
    assert p.returncode == 1 and "not stopped: created" in p.stderr, p.stderr
    os.kill(pid, signal.SIGKILL)  # a crash while created
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # not ours: reparented to init, which reaps it
    st = json.loads(oci(tmp_path, "state", "s1").stdout)
    assert st["status"] == "stopped" and st["pid"] == 0
    p = oci(tmp_path, "start", "s1", timeout=20)
    assert p.returncode == 1 and "has stopped" in p.stderr, p.stderr
    assert oci(tmp_path, "delete", "s1").returncode == 0
    assert not os.path.exists(tmp_path / "state" / "s1")

    # A running one: kill with a signal by name, then delete --force.
    assert oci(tmp_path, "create", "--bundle", str(tmp_path), "--pid-file",
               str(tmp_path / "pid"), "s2").returncode == 0
    assert oci(tmp_path, "start", "s2").returncode == 0
    assert json.loads(oci(tmp_path, "state", "s2").stdout)["status"] == "running"
    p = oci(tmp_path, "delete", "s2")
    assert p.returncode == 1 and "not stopped: running" in p.stderr
    assert oci(tmp_path, "kill", "s2", "SIGKILL").returncode == 0
    assert oci(tmp_path, "delete", "--force", "s2").returncode == 0
    assert oci(tmp_path, "kill", "s2", "TERM").returncode == 1


def test_a_pods_sandbox_is_no_vm(tmp_path):
    """CRI's sandbox container (pause) is a waiting host process, which
    SIGTERM ends with status 0 (kill from the engine)."""
    make_bundle(tmp_path, ["sleep", "1"], "microvm",
                annotations={"io.kubernetes.cri.container-type": "sandbox",
                             "pier.vmm": "qemu"})
    assert oci(tmp_path, "create", "--bundle", str(tmp_path), "--pid-file",
               str(tmp_path / "pid"), "pod").returncode == 0
    assert oci(tmp_path, "start", "pod").returncode == 0
    pid = int((tmp_path / "pid").read_text())
    time.sleep(2)  # longer than its program would run
    assert json.loads(oci(tmp_path, "state", "pod").stdout)["status"] == "running"
    # No VM: a VMM would have started QEMU (pier.vmm=qemu) and more threads.
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        assert f.read() == ""
    with open(f"/proc/{pid}/status") as f:
        assert "Threads:\t1\n" in f.read()
    assert oci(tmp_path, "kill", "pod", "TERM").returncode == 0
    for _ in range(100):
        if json.loads(oci(tmp_path, "state", "pod").stdout)["status"] == "stopped":
            break
        time.sleep(0.1)
    assert json.loads(oci(tmp_path, "state", "pod").stdout)["status"] == "stopped"
    assert oci(tmp_path, "delete", "pod").returncode == 0


def test_the_vmm_runs_in_the_containers_cgroup(tmp_path):
    """linux.cgroupsPath: the container process joins it (made if missing)
    with the spec's CPU quota and pids limit; delete removes it. A pod
    sandbox stands in for the VMM here: the same process, no boot."""
    path = f"/pier-oci-test-{os.getpid()}-{time.monotonic_ns()}"
    make_bundle(tmp_path, ["sleep", "1"], "microvm",
                annotations={"io.kubernetes.cri.container-type": "sandbox"},
                linux={"cgroupsPath": path, "resources": {
                    "cpu": {"quota": 50000, "period": 100000}, "pids": {"limit": 64}}})
    assert oci(tmp_path, "create", "--bundle", str(tmp_path), "--pid-file",
               str(tmp_path / "pid"), "cg").returncode == 0, (tmp_path / "call.err").read_text()
    pid = int((tmp_path / "pid").read_text())
    with open(f"/proc/{pid}/cgroup") as f:
        joined = f.read()
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    if v2:
        assert f"0::{path}\n" in joined, joined
        assert open(f"/sys/fs/cgroup{path}/cpu.max").read() == "50000 100000\n"
        assert open(f"/sys/fs/cgroup{path}/pids.max").read() == "64\n"
        dirs = [f"/sys/fs/cgroup{path}"]
    else:
        assert f":pids:{path}\n" in joined and f":memory:{path}\n" in joined, joined
        assert re.search(r":cpu[,a-z]*:" + re.escape(path) + "\n", joined), joined
        assert open(f"/sys/fs/cgroup/cpu{path}/cpu.cfs_quota_us").read() == "50000\n"
        assert open(f"/sys/fs/cgroup/pids{path}/pids.max").read() == "64\n"
        dirs = [f"/sys/fs/cgroup/{c}{path}" for c in ("cpu", "memory", "pids")]
    assert oci(tmp_path, "delete", "--force", "cg").returncode == 0
    for d in dirs:
        assert not os.path.exists(d), d


def test_version_and_features():
    v = subprocess.run([PIER_OCI, "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("pier-oci version ")
    f = subprocess.run([PIER_OCI, "features"], capture_output=True, text=True)
    assert json.loads(f.stdout)["ociVersionMax"] == "1.0.2"
    for cmd in (["pause", "x"], ["update", "x"]):
        e = subprocess.run([PIER_OCI, *cmd], capture_output=True, text=True)
        assert e.returncode == 1 and "not supported" in e.stderr, (cmd, e.stderr)
    e = subprocess.run([PIER_OCI, "--root", "/nonexistent", "exec", "x", "true"],
                       capture_output=True, text=True)
    assert e.returncode == 1 and "container does not exist: x" in e.stderr, e.stderr


def test_make_install_gives_a_working_runtime(tmp_path):
    """make install puts pier, pier-oci and the kernel where the installed
    pier finds it (PREFIX/lib/pier), and the installed runtime runs a
    container."""
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}",
                        "PREFIX=/opt/pier"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    bindir = dest / "opt/pier/bin"
    assert os.readlink(bindir / "pier-oci") == "pier"
    assert (dest / "opt/pier/lib/pier/kernel.elf").stat().st_size > 0
    make_bundle(tmp_path, ["echo", "installed"], "microvm")
    out = tmp_path / "out"
    with open(out, "w") as o:
        subprocess.run([bindir / "pier-oci", "--root", tmp_path / "state", "create",
                        "--bundle", tmp_path, "c"], stdout=o, check=True, timeout=60)
    p = subprocess.run([bindir / "pier-oci", "--root", tmp_path / "state", "start", "c"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for _ in range(600):
        if json.loads(subprocess.run([bindir / "pier-oci", "--root", tmp_path / "state",
                                      "state", "c"], capture_output=True,
                                     text=True).stdout)["status"] == "stopped":
            break
        time.sleep(0.1)
    assert out.read_text() == "installed\n"
