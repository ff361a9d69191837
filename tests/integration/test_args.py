"""Issue 16, arguments: a program's argv, environment and working
directory reach it byte-exact, whatever they hold (quotes, backslashes,
newlines, empty strings, words that look like kernel options, every byte
but NUL), up to Linux's limits (131,072 bytes a string with its NUL, 2 MiB
of strings and pointers in all); one byte more is refused by pier with
E2BIG named, status 126, before any VM starts. tests/progs/argdump.c
prints what it got: lengths, hashes and the bytes in hexadecimal.

The environment starts like a container engine's (PATH, HOSTNAME, HOME from
the root's etc/passwd, TERM with a terminal); --env sets a variable (a name
given again keeps its first place and takes the last value), --env-clear
starts empty. The byte-exact cases use --env-clear."""
import os
import resource
import shutil
import subprocess

import pytest

from conftest import BUILD, EXIT_VMERROR, PIER, targets, vmm_args

ARGDUMP = os.path.join(BUILD, "progs", "musl", "argdump")
STRLEN_MAX = 128 * 1024       # with the NUL
TOTAL_MAX = 2 * 1024 * 1024   # strings with their NULs, plus 8 bytes a string
EVERY_BYTE = bytes(range(1, 256))
ODD_DIR = b"/dir with space/and \"quote\" 'too'"

CASES = {
    "quotes": ([b'"', b"'", b"\\", b"a\"b'c\\d", b"$HOME", b"`x`", b"\"\""], []),
    "blanks": ([b"new\nline", b"tab\there", b" lead", b"trail ", b"  ", b"\r\n"], []),
    "option-like": ([b"--", b"-o", b"verbose", b"virtio_mmio.device=4K@0x1:5",
                     b"rootfs=ramfs", b"env=X=1", b"args=fw_cfg", b"--"], []),
    "empty": ([b"", b"", b"x", b""], [b"EMPTY="]),
    "every-byte": ([EVERY_BYTE, EVERY_BYTE[::-1]], [b"BYTES=" + EVERY_BYTE]),
    "environment": ([], [b"A=1", b"Q=say \"hi\" 'there'", b"NL=a\nb", b"SAME=1", b"SAME=2",
                         b"EQ==x=y"]),
    "cwd": ([b"here"], []),
    "longest-string": ([b"s" * (STRLEN_MAX - 1)], []),
}


def make_root(tmp_path):
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    if not os.path.exists(ARGDUMP):
        pytest.fail(f"{ARGDUMP} missing: run make progs")
    shutil.copy2(ARGDUMP, root / "bin" / "argdump")
    os.makedirs(os.fsencode(str(root)) + ODD_DIR)
    return str(root)


def bigger_arg_max():
    """pier's own command line carries the program's: let the host's
    execve take more than 2 MiB (its limit is a quarter of the stack's)."""
    resource.setrlimit(resource.RLIMIT_STACK, (64 << 20, 64 << 20))


def run(machine, root, args, env=(), cwd=None, clear=True, opts=(), host_env=None):
    """pier with its streams on pipes and /dev/null (no terminal), the
    host's environment `host_env` (default: the test's)."""
    cmd = [PIER, "run", *vmm_args(machine), "--mem", "128M", "--timeout", "120",
           "--root", root, *(["--env-clear"] if clear else []), *opts]
    for e in env:
        cmd += [b"--env", e]
    if cwd is not None:
        cmd += [b"--cwd", cwd]
    cmd += ["--", "/bin/argdump", *args]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300,
                          preexec_fn=bigger_arg_max, env=host_env)


def fnv1a64(s):
    h = 0xcbf29ce484222325
    for b in s:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def line(tag, s):
    """argdump's line for string s."""
    return b"%s %d %016x %s" % (tag, len(s), fnv1a64(s), s.hex().encode() if len(s) <= 1024 else b"")


def merged(env):
    """--env values as the program gets them: a name given again keeps its
    first place and takes the last value."""
    out = {}
    for e in env:
        out[e.split(b"=", 1)[0]] = e
    return list(out.values())


def expected(args, env, cwd=b"/"):
    return [line(b"cwd", cwd), b"argc %d" % (len(args) + 1), line(b"arg", b"/bin/argdump"),
            *(line(b"arg", a) for a in args), *(line(b"env", e) for e in merged(env))]


def got(out):
    return [ln.rstrip(b"\r") for ln in out.splitlines()
            if ln.startswith((b"cwd ", b"argc ", b"arg ", b"env "))]


PARAMS = [(m, c) for m in targets("microvm", "pier") for c in CASES] + \
         [(m, c) for m in targets("q35") for c in ("every-byte", "option-like")]


@pytest.mark.parametrize("machine,case", PARAMS, ids=[f"{m}-{c}" for m, c in PARAMS])
def test_arguments_arrive_byte_exact(machine, case, tmp_path):
    root = make_root(tmp_path)
    args, env = CASES[case]
    cwd = ODD_DIR if case == "cwd" else None
    r = run(machine, root, args, env, cwd)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert b"argdump: done" in r.stdout, r.stdout[-2000:]
    assert got(r.stdout) == expected(args, env, cwd or b"/"), r.stdout[-3000:]


def filling(total, argv0=b"/bin/argdump"):
    """Arguments whose strings, NULs and pointers with argv[0]'s come to
    exactly `total` bytes: 17 strings (each under the 131,072-byte limit),
    the last one taking the rest."""
    room = total - (len(argv0) + 1 + 8)
    each = room // 17
    args = [b"%x" % (i % 16) * (each - 9) for i in range(16)]
    used = sum(len(a) + 1 + 8 for a in args)
    return args + [b"z" * (room - used - 9)]


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_two_mebibytes_in_all(machine, tmp_path):
    root = make_root(tmp_path)
    args = filling(TOTAL_MAX)
    assert sum(len(a) + 9 for a in args) + len(b"/bin/argdump") + 9 == TOTAL_MAX
    r = run(machine, root, args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert got(r.stdout) == expected(args, []), r.stdout[-500:]


# One string over 131,072 bytes cannot reach pier at all: the host's execve
# refuses it (the same limit). pier's own check of it is unit-tested
# (tests/unit/test_run_args.c).
@pytest.mark.parametrize("what", ["total", "env"])
@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_one_byte_more_is_e2big(machine, what, tmp_path):
    root = make_root(tmp_path)
    env = []
    if what == "total":
        args = filling(TOTAL_MAX + 1)
    else:
        args = filling(TOTAL_MAX - 12)
        env = [b"E=" + b"e" * 2]  # 5 bytes, a NUL and a pointer: 13 over 12
    r = run(machine, root, args, env)
    assert r.returncode == EXIT_VMERROR, r.stdout[-500:] + r.stderr[-500:]
    assert b"E2BIG" in r.stderr and b"Argument list too long" in r.stderr, r.stderr
    assert b"argc" not in r.stdout  # refused before the program ran


DEFAULT_PATH = b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ROOT_PASSWD = b"daemon:x:1:1:daemon:/usr/sbin:/bin/false\nroot:x:0:0:root:/root:/bin/sh\n"
PASSWD_MAX = 1 << 20  # bytes of etc/passwd pier reads at most
HOST_HOME = b"/host-only-home-d41d8cd9"  # in a passwd outside the root: never used


def host_passwd(tmp_path):
    """A passwd file on the host, outside the root, whose root home is HOST_HOME."""
    d = tmp_path / "host-etc"
    d.mkdir()
    (d / "passwd").write_bytes(b"root:x:0:0:root:" + HOST_HOME + b":/bin/sh\n")
    return str(d / "passwd")


def passwd_in_root(root, tmp_path, kind):
    """Gives the root an etc/passwd of one kind; returns the HOME expected."""
    etc = os.path.join(root, "etc")
    os.makedirs(etc, exist_ok=True)
    passwd = os.path.join(etc, "passwd")
    if kind == "root-home":
        open(passwd, "wb").write(ROOT_PASSWD)
        return b"/root"
    if kind == "no-uid-0":
        open(passwd, "wb").write(b"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                                 b"u:x:1000:1000::/home/u:/bin/sh\n")
        return b"/"
    if kind == "none":
        return b"/"
    if kind in ("root-at-1MiB", "root-past-1MiB"):
        # pier reads 1 MiB at most, and only whole lines of it: root's
        # entry ending at the limit counts, one byte later it does not.
        last = b"root:x:0:0::/capped:/bin/sh\n"
        pad = PASSWD_MAX - len(last) + (kind == "root-past-1MiB")
        comment = b"#" + b"-" * 1000 + b"\n"
        text = comment * (pad // len(comment))
        text += b"#" + b"-" * (pad - len(text) - 2) + b"\n" + last
        assert len(text) == PASSWD_MAX + (kind == "root-past-1MiB")
        open(passwd, "wb").write(text)
        return b"/capped" if kind == "root-at-1MiB" else b"/"
    target = host_passwd(tmp_path)
    if kind == "symlink-absolute":
        # Resolved inside the root, the link names root/<target>: that file
        # is used, the host's never.
        os.symlink(target, passwd)
        inside = root + target
        os.makedirs(os.path.dirname(inside))
        open(inside, "wb").write(b"root:x:0:0::/in-root-home:/bin/sh\n")
        return b"/in-root-home"
    if kind == "symlink-dotdot":
        # ".." at the root stays at the root: no such file inside it.
        os.symlink("../" * 40 + target.lstrip("/"), passwd)
        return b"/"
    raise ValueError(kind)


PASSWD_KINDS = ["root-home", "no-uid-0", "none", "symlink-absolute", "symlink-dotdot",
                "root-at-1MiB", "root-past-1MiB"]


def defaults(home):
    return [DEFAULT_PATH, b"HOSTNAME=pier", b"HOME=" + home]


@pytest.mark.parametrize("kind", PASSWD_KINDS)
@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_default_environment(machine, kind, tmp_path):
    """PATH, HOSTNAME and root's HOME, in that order; no TERM, as pier's
    streams are no terminal (though the host has a TERM)."""
    root = make_root(tmp_path)
    home = passwd_in_root(root, tmp_path, kind)
    r = run(machine, root, [b"x"], clear=False,
            host_env=dict(os.environ, TERM="xterm-256color"))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert got(r.stdout) == expected([b"x"], defaults(home)), r.stdout[-3000:]
    assert HOST_HOME.hex().encode() not in r.stdout


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_env_overrides_defaults(machine, tmp_path):
    """--env over a default keeps the default's place; new names follow,
    and the last value given wins."""
    root = make_root(tmp_path)
    passwd_in_root(root, tmp_path, "root-home")
    env = [b"X=1", b"PATH=/opt/bin", b"HOME=/elsewhere", b"X=2", b"Y="]
    r = run(machine, root, [], env, clear=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert got(r.stdout) == expected([], [b"PATH=/opt/bin", b"HOSTNAME=pier",
                                          b"HOME=/elsewhere", b"X=2", b"Y="]), r.stdout[-3000:]


@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_env_clear_leaves_only_env(machine, tmp_path):
    root = make_root(tmp_path)
    passwd_in_root(root, tmp_path, "root-home")
    r = run(machine, root, [], [b"B=2", b"A=1", b"B=3"], opts=["--tty"])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert got(r.stdout) == expected([], [b"B=3", b"A=1"]), r.stdout[-3000:]


@pytest.mark.parametrize("host_term,term", [("vt220", b"vt220"), ("", b"xterm"),
                                            (None, b"xterm")])
@pytest.mark.parametrize("machine", targets("microvm", "pier"))
def test_tty_sets_term(machine, host_term, term, tmp_path):
    """With --tty the program has a terminal: TERM is the host's (when set
    and not empty), else xterm, after the other defaults."""
    root = make_root(tmp_path)
    host_env = {k: v for k, v in os.environ.items() if k != "TERM"}
    if host_term is not None:
        host_env["TERM"] = host_term
    for opt in ("--tty", "-t"):
        r = run(machine, root, [], clear=False, opts=[opt], host_env=host_env)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert got(r.stdout) == expected([], defaults(b"/") + [b"TERM=" + term]), \
            r.stdout[-3000:]
