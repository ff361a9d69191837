"""Busybox applets in the guest against the same applets on the host.

One root directory (hostcmp.make_root: Debian's static busybox and bash,
/etc/passwd and /etc/group, a data tree under /data, archives under /srv)
is served to the guest over virtio-fs and, read-only, to a native run of
the same command chrooted into it (hostcmp.run_host). Neither run has a
terminal: stdin is /dev/null, stdout and stderr are two pipes. Both runs
must show the same bytes on stdout, the same bytes on stderr (each stream
compared on its own, byte for byte) and exit with the same status; both
start in the environment pier gives a program by default
(hostcmp.default_env).

The guest has no fork or exec, so every applet here reads its files from
its arguments and nothing runs another program: no pipes between applets,
no `tr` (standard input only), no `zcat` or `tar -z` (this busybox forks
a decompressor for them; `gunzip -c` does not), no command substitution
in `sh -c`. Nothing waits on the terminal either (`rm` gets -f, the `bc`
script ends in quit). Time fields that the host changes behind
the guest's back (atime) and st_dev (virtio-fs has its own) are left out;
inode numbers, mtime and ctime pass through virtiofsd and are compared.

Every case runs on microvm (virtio-mmio) and on q35 (virtio-pci)."""
import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile
import zipfile

import pytest

from conftest import by_target
from hostcmp import FIXED_TIME, ReadOnlyView, compare, host_comparison_root



def make_srv(srv, data):
    """Archives and checksum lists of the data tree, for applets that read
    them: fixed times and owners so they are the same every session."""
    os.makedirs(srv)

    def w(name, content):
        p = os.path.join(srv, name)
        with open(p, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
        os.utime(p, (FIXED_TIME, FIXED_TIME))

    fruits = open(os.path.join(data, "fruits.txt"), "rb").read()
    readme = open(os.path.join(data, "notes", "readme.txt"), "rb").read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, content, mode in (("data/fruits.txt", fruits, 0o644),
                                    ("data/notes/readme.txt", readme, 0o444)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(content), mode, FIXED_TIME
            ti.uid, ti.gid, ti.uname, ti.gname = 1000, 1000, "alice", "staff"
            t.addfile(ti, io.BytesIO(content))
        ti = tarfile.TarInfo("data/link")
        ti.type, ti.linkname, ti.mtime = tarfile.SYMTYPE, "notes/readme.txt", FIXED_TIME
        t.addfile(ti)
    w("a.tar", buf.getvalue())
    w("fruits.gz", gzip.compress(fruits, mtime=FIXED_TIME))
    w("fruits.bz2", bz2.compress(fruits))
    w("fruits.xz", lzma.compress(fruits))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in (("fruits.txt", fruits), ("notes/readme.txt", readme)):
            z.writestr(zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 6)), content,
                       compress_type=zipfile.ZIP_DEFLATED)
    w("a.zip", buf.getvalue())
    good = "".join(f"{hashlib.md5(open(os.path.join(data, n), 'rb').read()).hexdigest()}"
                   f"  /data/{n}\n" for n in ("fruits.txt", "blob.bin", "empty"))
    w("good.md5", good)
    bad = "".join(f"{hashlib.sha256(c).hexdigest()}  /data/{n}\n"
                  for n, c in (("fruits.txt", fruits), ("blob.bin", b"not it")))
    w("bad.sha256", bad)
    w("calc.bc", "2^64\nscale=5\n1/3\nquit\n")
    w("prog.awk", "{ n += $3 } END { print NR, n }\n")


@pytest.fixture(scope="session")
def bbroot(tmp_path_factory):
    """(guest root, host view of it): the same tree, the second mounted
    read-only when the host lets us."""
    base = tmp_path_factory.mktemp("busybox")
    root = host_comparison_root(str(base / "root"))
    make_srv(os.path.join(root, "srv"), os.path.join(root, "data"))
    view = ReadOnlyView(root, str(base / "ro"))
    if view.why:
        print(f"host runs see a writable root ({view.why}); write cases skip")
    yield root, view
    view.close()


def C(id, *argv, env=None, cwd=None, writes=False, unordered=False):
    """unordered: compare lines as sets (an environment's order is pier's
    choice)."""
    return pytest.param(list(argv), env, cwd, writes, unordered, id=id)


BB = "/bin/busybox"
CASES = [
    # ls: owners come from /etc/passwd and /etc/group; one name a line
    # when stdout is no terminal, columns (80 wide, no terminal to ask)
    # with -C; inode numbers pass through.
    C("ls-lR", BB, "ls", "-lR", "/data"),
    C("ls-la", BB, "ls", "-la", "/data"),
    C("ls-columns", BB, "ls", "/data"),
    C("ls-C", BB, "ls", "-C", "/data"),
    C("ls-R-columns", BB, "ls", "-R", "/data"),
    C("ls-CR", BB, "ls", "-CR", "/data"),
    C("ls-1", BB, "ls", "-1a", "/data/notes"),
    C("ls-ln", BB, "ls", "-ln", "/data"),
    C("ls-i", BB, "ls", "-i", "/data", "/data/notes"),
    C("ls-lL", BB, "ls", "-lL", "/data/link", "/data/abs-link"),
    C("ls-ld", BB, "ls", "-ld", "/data/notes", "/data/dir with space", "/"),
    C("ls-lS", BB, "ls", "-lS", "/data"),
    C("ls-lc", BB, "ls", "-lc", "--full-time", "/data/notes"),
    C("ls-F", BB, "ls", "-F", "/data"),
    C("ls-missing", BB, "ls", "/data/nope", "/data/empty"),
    C("ls-dangling-L", BB, "ls", "-L", "/data/dangling"),
    # find
    C("find", BB, "find", "/data"),
    C("find-name", BB, "find", "/data", "-type", "f", "-name", "*.txt"),
    C("find-links", BB, "find", "/data", "-type", "l"),
    C("find-empty", BB, "find", "/data", "-empty"),
    C("find-user", BB, "find", "/data", "-user", "alice"),
    C("find-maxdepth", BB, "find", "/data", "-maxdepth", "1", "-type", "d"),
    C("find-perm", BB, "find", "/data", "-perm", "-0664", "-type", "f"),
    C("find-size", BB, "find", "/data", "-size", "+1c", "-size", "-60c", "-type", "f"),
    C("find-missing", BB, "find", "/data/nope"),
    # cat and friends
    C("cat", BB, "cat", "/data/fruits.txt", "/data/with space.txt"),
    C("cat-links", BB, "cat", "/data/link", "/data/abs-link"),
    C("cat-dotdot", BB, "cat", "/data/notes/deep/up/fruits.txt",
      "/data/notes/../notes/./deep/er/file.txt"),
    C("cat-n", BB, "cat", "-n", "/data/table.csv", "/data/empty"),
    C("cat-A", BB, "cat", "-A", "/data/notes/tabs.txt"),
    C("cat-missing", BB, "cat", "/nope"),
    C("cat-mixed", BB, "cat", "/data/sorted.txt", "/nope", "/data/with space.txt"),
    C("cat-dir", BB, "cat", "/data"),
    C("cat-dangling", BB, "cat", "/data/dangling"),
    C("cat-relative", BB, "cat", "deep/er/file.txt", "../fruits.txt", cwd="/data/notes"),
    C("tac", BB, "tac", "/data/fruits.txt"),
    C("rev", BB, "rev", "/data/fruits.txt"),
    C("nl", BB, "nl", "/data/fruits.txt"),
    C("wc", BB, "wc", "/data/fruits.txt", "/data/numbers.txt", "/data/blob.bin"),
    C("wc-l", BB, "wc", "-l", "/data/fruits.txt"),
    C("wc-L", BB, "wc", "-L", "/data/table.csv"),
    C("head", BB, "head", "-n", "3", "/data/fruits.txt"),
    C("head-multi", BB, "head", "-n", "2", "/data/fruits.txt", "/data/table.csv"),
    C("head-c-binary", BB, "head", "-c", "40", "/data/blob.bin"),
    C("tail", BB, "tail", "-n", "2", "/data/fruits.txt"),
    C("tail-plus", BB, "tail", "-n", "+6", "/data/fruits.txt"),
    C("tail-c", BB, "tail", "-c", "12", "/data/blob.bin"),
    C("sort", BB, "sort", "/data/fruits.txt"),
    C("sort-r", BB, "sort", "-r", "/data/fruits.txt"),
    C("sort-n", BB, "sort", "-n", "/data/numbers.txt"),
    C("sort-u", BB, "sort", "-u", "/data/fruits.txt", "/data/sorted.txt"),
    C("sort-k", BB, "sort", "-t", ",", "-k", "3n", "/data/table.csv"),
    C("uniq", BB, "uniq", "/data/sorted.txt"),
    C("uniq-c", BB, "uniq", "-c", "/data/sorted.txt"),
    C("uniq-d", BB, "uniq", "-d", "/data/sorted.txt"),
    C("cut", BB, "cut", "-d", ",", "-f", "1,3", "/data/table.csv"),
    C("cut-c", BB, "cut", "-c", "1-3", "/data/fruits.txt"),
    C("paste", BB, "paste", "/data/fruits.txt", "/data/numbers.txt"),
    C("fold", BB, "fold", "-w", "4", "/data/notes/readme.txt"),
    C("expand", BB, "expand", "-t", "4", "/data/notes/tabs.txt"),
    C("sed", BB, "sed", "-n", "s/a/A/gp", "/data/fruits.txt"),
    C("sed-lines", BB, "sed", "-n", "2,4p;$=", "/data/fruits.txt", "/data/table.csv"),
    C("awk", BB, "awk", "-F,", "NR > 1 { s += $3; print $1, $3 } END { print s }",
      "/data/table.csv"),
    C("awk-f", BB, "awk", "-F,", "-f", "/srv/prog.awk", "/data/table.csv"),
    C("awk-begin", BB, "awk", "-v", "fmt=%d %.3f %s\\n", "-v", "s=pier kernel",
      "BEGIN { printf fmt, 6 * 7, 22 / 7, toupper(substr(s, 6)); print length(s), "
      "int(22 / 7) % 2 }"),
    # grep
    C("grep-r", BB, "grep", "-r", "needle", "/data"),
    C("grep-rni", BB, "grep", "-rni", "needle", "/data"),
    C("grep-l", BB, "grep", "-rl", "apple", "/data"),
    C("grep-c", BB, "grep", "-c", "apple", "/data/fruits.txt", "/data/table.csv"),
    C("grep-vE", BB, "grep", "-vE", "apple|banana", "/data/fruits.txt"),
    C("grep-w-binary", BB, "grep", "pier", "/data/blob.bin"),
    C("grep-nomatch", BB, "grep", "durian", "/data/fruits.txt"),
    C("grep-missing", BB, "grep", "x", "/nope", "/data/fruits.txt"),
    # checksums
    C("md5sum", BB, "md5sum", "/data/fruits.txt", "/data/blob.bin", "/data/empty"),
    C("sha1sum", BB, "sha1sum", "/data/fruits.txt", "/data/blob.bin"),
    C("sha256sum", BB, "sha256sum", "/data/fruits.txt", "/data/blob.bin",
      "/data/dir with space/inner file.txt"),
    C("sha512sum", BB, "sha512sum", "/data/blob.bin"),
    C("sha3sum", BB, "sha3sum", "/data/blob.bin"),
    C("md5sum-c", BB, "md5sum", "-c", "/srv/good.md5"),
    C("sha256sum-c-bad", BB, "sha256sum", "-c", "/srv/bad.sha256"),
    C("crc32", BB, "crc32", "/data/blob.bin"),
    C("md5sum-busybox", BB, "md5sum", "/bin/busybox", "/bin/bash"),
    # sizes and metadata
    C("du-a", BB, "du", "-a", "/data"),
    C("du-s", BB, "du", "-s", "/data", "/bin"),
    C("stat-c", BB, "stat", "-c", "%n|%s|%F|%a|%A|%U|%G|%u|%g|%h|%b|%i|%Y|%Z|%N",
      "/data/fruits.txt", "/data/notes", "/data/link", "/data/empty",
      "/data/run.sh", "/data/dir with space", "/", "/bin/busybox"),
    C("stat-L", BB, "stat", "-L", "-c", "%n %s %F %a", "/data/link", "/data/abs-link",
      "/data/notes/deep/up"),
    C("stat-missing", BB, "stat", "/data/dangling", "-L"),
    C("readlink", BB, "readlink", "/data/link"),
    C("readlink-abs", BB, "readlink", "/data/abs-link"),
    C("readlink-dangling", BB, "readlink", "/data/dangling"),
    C("readlink-f", BB, "readlink", "-f", "/data/link"),
    C("readlink-f-abs", BB, "readlink", "-f", "/data/abs-link"),
    C("readlink-f-dotdot", BB, "readlink", "-f", "/data/notes/deep/up/notes/deep/up/link"),
    C("readlink-f-dangling", BB, "readlink", "-f", "/data/dangling"),
    C("readlink-notlink", BB, "readlink", "/data/fruits.txt"),
    C("realpath", BB, "realpath", "/data/notes/deep/up/link", "/data/./notes/../empty"),
    # binary files
    C("od", BB, "od", "-A", "x", "-t", "x1", "/data/blob.bin"),  # no z here
    C("od-c", BB, "od", "-c", "/data/notes/tabs.txt"),
    C("hexdump-C", BB, "hexdump", "-C", "/data/blob-diff.bin"),
    C("xxd", BB, "xxd", "-s", "192", "/data/blob.bin"),
    C("base64", BB, "base64", "/data/blob.bin"),
    C("cmp-equal", BB, "cmp", "/data/blob.bin", "/data/blob-copy.bin"),
    C("cmp-differ", BB, "cmp", "/data/blob.bin", "/data/blob-diff.bin"),
    C("cmp-l", BB, "cmp", "-l", "/data/blob.bin", "/data/blob-diff.bin"),
    C("cmp-eof", BB, "cmp", "/data/blob.bin", "/data/empty"),
    C("diff-u", BB, "diff", "-u", "/data/fruits.txt", "/data/sorted.txt"),
    C("diff-same", BB, "diff", "/data/blob.bin", "/data/blob-copy.bin"),
    C("dd", BB, "dd", "if=/data/table.csv", "bs=8", "skip=1", "count=3"),
    # archives, read from files
    C("tar-tv", BB, "tar", "-tvf", "/srv/a.tar"),
    C("tar-xO", BB, "tar", "-xOf", "/srv/a.tar", "data/notes/readme.txt"),
    C("tar-c-stdout", BB, "tar", "-cf", "-", "/data/notes", "/data/link"),
    C("gunzip-c", BB, "gunzip", "-c", "/srv/fruits.gz"),
    C("gunzip-t", BB, "gunzip", "-t", "/srv/fruits.gz"),
    C("bzcat", BB, "bzcat", "/srv/fruits.bz2"),
    C("xzcat", BB, "xzcat", "/srv/fruits.xz"),
    C("unzip-l", BB, "unzip", "-l", "/srv/a.zip"),
    C("unzip-p", BB, "unzip", "-p", "/srv/a.zip", "notes/readme.txt"),
    # writes: the guest's root is read-only, and so is the host's view
    C("mkdir-rofs", BB, "mkdir", "/data/new", writes=True),
    C("touch-rofs", BB, "touch", "/data/empty", writes=True),
    C("rm-rofs", BB, "rm", "-f", "/data/empty", writes=True),
    # Without -f and with stdin no terminal, rm does not ask: EROFS.
    C("rm-rofs-no-prompt", BB, "rm", "/data/empty", writes=True),
    C("rm-f-missing", BB, "rm", "-f", "/data/nope", writes=True),
    C("rm-missing", BB, "rm", "/data/nope", writes=True),
    C("mkdir-p-existing", BB, "mkdir", "-p", "/data/notes/deep", writes=True),
    C("mkdir-existing", BB, "mkdir", "/data/notes", writes=True),
    C("touch-missing-dir", BB, "touch", "/data/nope/file", writes=True),
    C("ln-rofs", BB, "ln", "-s", "x", "/data/newlink", writes=True),
    C("chmod-rofs", BB, "chmod", "600", "/data/empty", writes=True),
    # words and numbers
    C("basename", BB, "basename", "/data/notes/readme.txt", ".txt"),
    C("dirname", BB, "dirname", "/data/notes/readme.txt"),
    C("echo", BB, "echo", "-e", "a\\tb\\\\n", "c  d", "", "é"),
    C("echo-n", BB, "echo", "-n", "no newline"),
    C("printf", BB, "printf", "%s-%05d-%x-%o-%c|%5.2f|%-4s|\\n", "a", "42", "255",
      "8", "xyz", "3.14159", "ab", "b", "7", "16", "9", "q", "2.5", "c"),
    C("printf-bad", BB, "printf", "%d\\n", "12abc"),
    C("expr", BB, "expr", "6", "*", "7"),
    C("expr-length", BB, "expr", "length", "hello world"),
    C("expr-zero", BB, "expr", "3", "-", "3"),
    C("expr-div0", BB, "expr", "1", "/", "0"),
    C("seq", BB, "seq", "1", "3", "20"),
    C("seq-s", BB, "seq", "-s", ",", "-w", "8", "11"),
    C("factor", BB, "factor", "360", "1001", "4294967297"),
    C("dc", BB, "dc", "-e", "2 64 ^ p 7 3 / p"),
    C("bc", BB, "bc", "-q", "/srv/calc.bc"),
    C("cal", BB, "cal", "2", "2024"),
    C("date-u", BB, "date", "-u", "-d", "@1700000000", "+%Y-%m-%d %H:%M:%S %A %j %s"),
    C("date-r", BB, "date", "-u", "-r", "/data/fruits.txt"),
    C("getopt", BB, "getopt", "-o", "ab:c", "-l", "long:", "--", "-a", "-b", "x", "y",
      "--long", "z"),
    C("ipcalc", BB, "ipcalc", "-bnm", "192.168.17.42/20"),
    C("sleep", BB, "sleep", "0.2"),
    C("true", BB, "true"),
    C("false", BB, "false"),
    C("test-f", BB, "test", "-f", "/data/fruits.txt"),
    C("test-f-dir", BB, "test", "-f", "/data/notes"),
    C("test-h", BB, "[", "-h", "/data/dangling", "-a", "!", "-e", "/data/dangling", "]"),
    C("test-x", BB, "test", "-x", "/data/run.sh"),
    C("test-s", BB, "test", "-s", "/data/empty"),
    C("test-nt", BB, "test", "/", "-nt", "/data/fruits.txt"),
    C("test-syntax", BB, "test", "1", "-eq"),
    # process and system identity
    C("env", BB, "env", unordered=True),
    C("env-set", BB, "env", env={"FOO": "bar baz", "LANG": "C"}, unordered=True),
    C("env-override", BB, "env", env={"PATH": "/bin", "HOME": "/data"}, unordered=True),
    C("sh-default-env", BB, "sh", "-c",
      'echo "[$HOME] [$PATH] [$HOSTNAME] [${TERM-unset}]"; cd; pwd'),
    C("pwd", BB, "pwd", cwd="/data/notes/deep"),
    C("ls-cwd", BB, "ls", "-l", cwd="/data/notes"),
    C("tty", BB, "tty"),
    C("tty-s", BB, "tty", "-s"),
    # standard input is /dev/null: end of file at once
    C("wc-stdin", BB, "wc", "-c"),
    C("cat-stdin", BB, "cat"),
    C("sh-read-stdin", BB, "sh", "-c", "read x; echo status $? [$x]"),
    C("whoami", BB, "whoami"),
    C("id", BB, "id"),
    C("id-un", BB, "id", "-un"),
    C("groups", BB, "groups"),
    C("uname-sm", BB, "uname", "-s", "-m"),
    C("applet-unknown", BB, "nosuchapplet"),
    C("busybox-list", BB, "--list"),
    # the shell, builtins only: ash runs them without forking
    C("sh-arith-loop", BB, "sh", "-c",
      "echo $((1+2*3)); for i in a b c; do echo $i; done; i=0; "
      "while [ $i -lt 3 ]; do i=$((i+1)); printf '%s,' $i; done; echo"),
    C("sh-strings", BB, "sh", "-c",
      "x=/data/notes/readme.txt; echo ${#x} ${x%.txt} ${x##*/} ${x#/data} ${x:1:4}"),
    C("sh-glob-cd", BB, "sh", "-c", "cd /data/notes && pwd && echo * && echo /data/*.bin"),
    C("sh-read-file", BB, "sh", "-c",
      "while read a b c; do echo [$c] [$b] [$a]; done < /data/notes/tabs.txt"),
    C("sh-heredoc", BB, "sh", "-c", "read x y <<EOF\nhello there world\nEOF\necho $y:$x"),
    C("sh-func-status", BB, "sh", "-c",
      "f() { return $1; }; f 4; echo $?; set -- a b c; shift; echo $# $@; exit 9"),
    C("sh-stderr-order", BB, "sh", "-c", "echo one; echo two >&2; echo three"),
    C("sh-stderr-only", BB, "sh", "-c", "echo only-err >&2; exit 3"),
    C("sh-case-test", BB, "sh", "-c",
      "for f in /data/fruits.txt /data/notes /data/link /nope; do "
      "if [ -L $f ]; then t=link; elif [ -d $f ]; then t=dir; elif [ -f $f ]; "
      "then t=file; else t=none; fi; case $t in l*) echo L $f;; *) echo $t $f;; esac; done"),
    C("sh-not-found", BB, "sh", "-c", "nosuchcommand arg; echo status $?"),
    C("sh-syntax", BB, "sh", "-c", "if then fi"),
    C("sh-redirect-rofs", BB, "sh", "-c", "echo x > /data/new; echo status $?",
      writes=True),
]


@pytest.mark.parametrize("machine,argv,env,cwd,writes,unordered",
                         by_target(CASES, pier_every=7, name="busybox cases"))
def test_busybox(bbroot, machine, argv, env, cwd, writes, unordered):
    root, view = bbroot
    if writes and not view.readonly:
        pytest.skip(f"the host view of the root is writable: {view.why}")
    problems = compare(machine, root, view.path, argv, env, cwd, unordered)
    assert not problems, f"{argv}\n" + "\n".join(problems)
