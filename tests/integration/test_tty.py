"""Issue 16, a real terminal: pier run from a pseudo-terminal (pexpect, as
a user's terminal emulator would start it) gives the program that terminal.

- isatty() true on fds 0, 1 and 2, TCGETS works, TIOCGWINSZ is the
  terminal's size (set before pier starts); TERM is set.
- A resize of the terminal while the program runs reaches it as SIGWINCH,
  and TIOCGWINSZ then gives the new size.
- Cooked mode by default (a line arrives whole, DEL erases, Enter reads as
  "\\n"); raw mode when the program asks (each byte at once, no echo).
- ^C typed at a program blocked reading stdin sends it SIGINT; it dies of
  it, and so does pier after restoring the terminal: pexpect sees pier
  killed by SIGINT, a shell sees status 130.
- The terminal's modes (stty -g, read on the same terminal by the shell
  that ran pier, before and after) are the same after pier exits as
  before: after a normal exit, after the program left the terminal in raw
  mode, after ^C.

tests/progs/ttyprobe.c is the program. Every case runs on microvm and q35;
pier's VMM (nested, slow) takes the probe, the resize and ^C."""
import os
import re
import shlex
import shutil
import signal
import threading

import pytest

pexpect = pytest.importorskip("pexpect", reason="apt-get install python3-pexpect (make deps)")

from conftest import BUILD, PIER, targets, vmm_args  # noqa: E402

TTYPROBE = os.path.join(BUILD, "progs", "musl", "ttyprobe")
PROBE = "/bin/ttyprobe"
BB = "/bin/busybox"
ROWS, COLS = 33, 101
# stty -g prints the modes as colon-separated hexadecimal fields.
STTY_G = re.compile(rb"^([0-9a-f]+(?::[0-9a-f]+){10,})\r?$", re.M)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    if not os.path.exists(TTYPROBE):
        pytest.fail(f"{TTYPROBE} missing: run make progs")
    if not os.path.exists("/bin/busybox"):
        pytest.fail("/bin/busybox missing: apt-get install busybox-static")
    r = tmp_path_factory.mktemp("tty")
    os.chmod(r, 0o755)
    (r / "bin").mkdir()
    (r / "etc").mkdir()
    shutil.copy2(TTYPROBE, r / "bin" / "ttyprobe")
    shutil.copy2("/bin/busybox", r / "bin" / "busybox")
    (r / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    return str(r)


def pier(machine, root, *argv):
    return [PIER, "run", *vmm_args(machine), "--mem", "256M", "--timeout", "150",
            "--root", root, "--", *argv]


def patience(machine):
    return 180 if machine == "pier" else 60


SPAWNED = []


@pytest.fixture(autouse=True)
def hang_up_leftovers():
    """A test that failed half-way leaves its terminal: hang it up (pier
    and the shell get SIGHUP), then kill what still runs."""
    yield
    while SPAWNED:
        child = SPAWNED.pop()
        if not child.closed:
            child.close(force=True)


def spawn(machine, argv, size=(ROWS, COLS)):
    """argv on a new pseudo-terminal of SIZE (rows, columns), set before it
    starts; what it prints is kept for failure messages."""
    env = dict(os.environ, TERM="xterm-256color")
    child = pexpect.spawn(argv[0], argv[1:], dimensions=size, env=env,
                          timeout=patience(machine), echo=True)
    child.logfile_read = Seen()
    child.patience = patience(machine)
    SPAWNED.append(child)
    return child


class Seen:
    """All a pexpect child printed, for assertion messages."""

    def __init__(self):
        self.data = b""

    def write(self, b):
        self.data += b

    def flush(self):
        pass

    def tail(self, n=2000):
        return self.data[-n:].decode(errors="backslashreplace")


def in_shell(machine, root, *argv):
    """bash on the terminal: its modes (stty -g), then pier running ARGV,
    then pier's status as a shell sees it, then the modes again. bash
    catches SIGINT (`trap : INT`; its children start with the default
    action): with pier the terminal is raw and ^C reaches no host process
    but pier as a byte, yet were it to send SIGINT to the terminal's
    process group, the shell would live on to report."""
    script = (f"trap : INT; stty -g; {shlex.join(pier(machine, root, *argv))}; "
              'echo "status=$?"; stty -g; echo "shell: end"')
    return spawn(machine, ["/bin/bash", "--norc", "--noprofile", "-c", script])


def finish(child):
    """Waits for the end of output and of the process (its exitstatus or
    signalstatus are then set); returns everything the terminal showed."""
    expect(child, pexpect.EOF, "the end of output")
    # EOF comes when the terminal's last holder closes it; the process may
    # still be cleaning up: wait for it, but not forever.
    killer = threading.Timer(child.patience, child.kill, (signal.SIGKILL,))
    killer.start()
    try:
        child.wait()
    finally:
        killer.cancel()
    child.close()
    return child.logfile_read.data


def modes_kept(shown):
    """Problems if the two stty -g lines the shell printed differ."""
    modes = STTY_G.findall(shown)
    if len(modes) != 2:
        return [f"expected two stty -g lines, found {len(modes)}"]
    if modes[0] != modes[1]:
        return [f"terminal modes changed: before {modes[0].decode()}, after {modes[1].decode()}"]
    return []


def expect(child, pattern, what):
    try:
        return child.expect(pattern)
    except (pexpect.TIMEOUT, pexpect.EOF) as e:
        pytest.fail(f"{what}: {type(e).__name__} waiting for {pattern!r}; the terminal "
                    f"showed:\n{child.logfile_read.tail()}")


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_terminal_probe(machine, root):
    """isatty, TCGETS and the window size on all three fds; the modes the
    same after pier as before; status 0 as the shell sees it."""
    child = in_shell(machine, root, PROBE)
    for fd in range(3):
        expect(child, rb"fd%d tty=(\d) tcgets=(\S+) winsz=(\S+)\r?\n" % fd, f"fd {fd}")
        got = child.match.groups()
        assert got == (b"1", b"ok", b"%dx%d" % (ROWS, COLS)), \
            f"fd {fd}: tty={got[0]} tcgets={got[1]} winsz={got[2]}\n{child.logfile_read.tail()}"
    expect(child, b"ttyprobe: done", "the probe's end")
    expect(child, rb"status=(\d+)", "pier's status")
    assert child.match.group(1) == b"0", child.logfile_read.tail()
    expect(child, b"shell: end", "the shell's end")
    shown = finish(child)
    problems = modes_kept(shown)
    assert not problems, "\n".join(problems) + "\n" + child.logfile_read.tail()


@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_term_is_set(machine, root):
    """With a terminal the program gets TERM (without one it gets none:
    test_busybox.py's sh-default-env)."""
    child = spawn(machine, pier(machine, root, BB, "sh", "-c", 'echo "TERM=[${TERM-unset}]"'))
    expect(child, rb"TERM=\[([^\]\r\n]*)\]", "TERM")
    value = child.match.group(1)
    finish(child)
    assert value not in (b"", b"unset"), child.logfile_read.tail()
    assert child.exitstatus == 0, child.logfile_read.tail()


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_resize_reaches_program(machine, root):
    """Two resizes while the program waits: each arrives as SIGWINCH with
    the new size."""
    child = spawn(machine, pier(machine, root, PROBE, "winch", "2"), size=(24, 80))
    expect(child, rb"fd1 tty=1 tcgets=ok winsz=24x80", "the first size")
    expect(child, b"winch: waiting", "the handler in place")
    child.setwinsize(40, 132)
    expect(child, rb"winch (\d+x\d+)", "the first SIGWINCH")
    assert child.match.group(1) == b"40x132", child.logfile_read.tail()
    child.setwinsize(25, 70)
    expect(child, rb"winch (\d+x\d+)", "the second SIGWINCH")
    assert child.match.group(1) == b"25x70", child.logfile_read.tail()
    finish(child)
    assert child.exitstatus == 0, (child.exitstatus, child.signalstatus, child.logfile_read.tail())


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_ctrl_c_kills_pier_with_sigint(machine, root):
    """^C at a program blocked in read(0): it dies of SIGINT and pier
    follows it with the same signal."""
    child = spawn(machine, pier(machine, root, PROBE, "block"))
    expect(child, b"block: reading", "the program blocked in read")
    child.sendcontrol("c")
    shown = finish(child)
    assert b"block: read returned" not in shown, child.logfile_read.tail()
    assert (child.exitstatus, child.signalstatus) == (None, signal.SIGINT), \
        (child.exitstatus, child.signalstatus, child.logfile_read.tail())


@pytest.mark.parametrize("mode", ["block", "raw"])
@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_ctrl_c_status_130_modes_restored(machine, mode, root):
    """The same from a shell: status 130, and the terminal's modes back as
    they were, also when the program had set raw mode (ISIG still on)
    before ^C killed it."""
    child = in_shell(machine, root, PROBE, mode)
    expect(child, b"block: reading" if mode == "block" else b"raw: ready",
           "the program blocked in read")
    child.send(b"\x03")
    expect(child, rb"status=(\d+)", "pier's status")
    assert child.match.group(1) == b"130", child.logfile_read.tail()
    expect(child, b"shell: end", "the shell's end")
    shown = finish(child)
    assert b"read returned" not in shown and b"raw 03" not in shown, child.logfile_read.tail()
    problems = modes_kept(shown)
    assert not problems, "\n".join(problems) + "\n" + child.logfile_read.tail()


@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_raw_mode_and_modes_restored(machine, root):
    """A program that sets raw mode (~ICANON ~ECHO) gets each byte as it is
    typed, unechoed, DEL included; it exits leaving the mode set, and
    pier gives the terminal back as it was."""
    child = in_shell(machine, root, PROBE, "raw")
    expect(child, b"raw: ready\r?\n", "raw mode set")
    for typed, hexed in ((b"a", b"61"), (b"\x7f", b"7f"), (b"z", b"7a"), (b"q", b"71")):
        child.send(typed)
        expect(child, rb"raw ([0-9a-f]*)\r?\n", f"the read of {typed!r}")
        assert child.match.group(1) == hexed, child.logfile_read.tail()
        assert typed not in child.before, f"{typed!r} echoed in raw mode\n{child.logfile_read.tail()}"
    expect(child, rb"status=(\d+)", "pier's status")
    assert child.match.group(1) == b"0", child.logfile_read.tail()
    expect(child, b"shell: end", "the shell's end")
    shown = finish(child)
    problems = modes_kept(shown)
    assert not problems, "\n".join(problems) + "\n" + child.logfile_read.tail()


@pytest.mark.parametrize("machine", targets("microvm", "q35"))
def test_cooked_mode_line_editing(machine, root):
    """The terminal as the program finds it is cooked: typed "ab", DEL,
    "c", Enter reach read(0) as one line "ac\\n", echoed as typed."""
    child = spawn(machine, pier(machine, root, PROBE, "line"))
    expect(child, b"line: ready\r?\n", "the program reading")
    child.send(b"ab\x7fc\r")
    expect(child, rb"line ([0-9a-f]*)\r?\n", "the line read")
    assert child.match.group(1) == b"61630a", child.logfile_read.tail()
    assert b"ab" in child.before, f"no echo of the typed line\n{child.logfile_read.tail()}"
    finish(child)
    assert child.exitstatus == 0, child.logfile_read.tail()


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_ctrl_z_suspends_the_run_and_fg_resumes_it(machine, root):
    """In an interactive bash (job control): ^Z stops pier, and QEMU with
    it, as it would stop a local program; bash gets the terminal back in
    its own modes; `fg` resumes the run, the program's raw mode comes back
    and the next key reaches it."""
    import termios
    child = spawn(machine, ["/bin/bash", "--norc", "--noprofile", "-i"])
    child.sendline("PS1='prompt> '")
    expect(child, b"prompt> ", "bash's prompt")
    child.sendline(shlex.join(pier(machine, root, PROBE, "raw")))
    expect(child, b"raw: ready\r?\n", "raw mode set")
    assert not termios.tcgetattr(child.child_fd)[3] & termios.ICANON, \
        "the program's raw mode did not reach the terminal"
    child.sendcontrol("z")
    expect(child, rb"Stopped", "bash seeing the run stop")
    expect(child, b"prompt> ", "bash's prompt after ^Z")
    child.sendline("stty -a | grep -o -- '-\\?icanon'; fg")
    expect(child, rb"[\r\n](-?icanon)\r?\n", "the modes bash has while the run is stopped")
    assert child.match.group(1) == b"icanon", child.logfile_read.tail()
    # fg names the job it resumes; before that, bash's own line editor
    # has the terminal (it too turns ICANON off).
    expect(child, b"ttyprobe raw\r?\n", "fg naming the job")
    import time
    deadline = time.monotonic() + 30
    while termios.tcgetattr(child.child_fd)[3] & termios.ICANON:
        assert time.monotonic() < deadline, "the program's raw mode did not come back"
        time.sleep(0.05)
    child.send(b"q")
    expect(child, rb"raw ([0-9a-f]*)\r?\n", "the key after fg")
    assert child.match.group(1) == b"71", child.logfile_read.tail()
    expect(child, b"prompt> ", "bash's prompt after the run")
    child.sendline("echo status=$?; exit")
    expect(child, rb"status=(\d+)", "pier's status")
    assert child.match.group(1) == b"0", child.logfile_read.tail()
    finish(child)


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_ctrl_backslash_is_sigquit(machine, root):
    """^\\ sends the program SIGQUIT; it dies of it and pier with it (no
    core file of pier's: it would hold the guest's memory)."""
    child = spawn(machine, pier(machine, root, PROBE, "block"))
    expect(child, b"block: reading", "the program blocked in read")
    child.sendcontrol("\\")
    finish(child)
    assert (child.exitstatus, child.signalstatus) == (None, signal.SIGQUIT), \
        (child.exitstatus, child.signalstatus, child.logfile_read.tail())


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_ctrl_d_ends_one_read(machine, root):
    """^D at the terminal is the end of one read, as on Linux: the program
    sees end of file, reads on, and gets what is typed next."""
    child = spawn(machine, pier(machine, root, PROBE, "eof2"))
    expect(child, b"eof2: ready\r?\n", "the program reading")
    child.send(b"ab\r")
    expect(child, rb"eof2 ([0-9a-f]*)\r?\n", "the first line")
    assert child.match.group(1) == b"61620a", child.logfile_read.tail()
    child.sendcontrol("d")
    expect(child, b"eof2: end 1", "the first end of file")
    child.send(b"cd\r")
    expect(child, rb"eof2 ([0-9a-f]*)\r?\n", "the line after ^D")
    assert child.match.group(1) == b"63640a", child.logfile_read.tail()
    child.sendcontrol("d")
    expect(child, b"eof2: end 2", "the second end of file")
    finish(child)
    assert child.exitstatus == 0, (child.exitstatus, child.signalstatus, child.logfile_read.tail())


@pytest.mark.parametrize("machine", targets("microvm", "q35", "pier"))
def test_ctrl_c_goes_to_the_foreground_job(machine, root):
    """Issue 18: an interactive shell with job control (busybox ash as pid
    1) puts a command in a process group of its own and makes it the
    terminal's foreground group (TIOCSPGRP); ^C then ends the command,
    not the shell, which reports 130 and goes on until its own exit."""
    child = spawn(machine, pier(machine, root, BB, "sh", "-i"))
    expect(child, b"# ", "the first prompt")
    child.sendline("/bin/busybox sh -c 'echo $((6*7))x; exec /bin/busybox sleep 100'")
    expect(child, b"42x", "the job running")
    child.sendcontrol("c")
    expect(child, b"# ", "the prompt after ^C")
    child.sendline('echo "rc=$?"')
    expect(child, rb"rc=(\d+)", "the job's status")
    assert child.match.group(1) == b"130", child.logfile_read.tail()
    child.sendline("exit 5")
    finish(child)
    assert child.exitstatus == 5, (child.exitstatus, child.signalstatus,
                                   child.logfile_read.tail())
