"""bash -c SCRIPT in the guest against the same script on the host.

Debian's static bash runs in the root hostcmp.make_root builds (the data
tree under /data, plus /srv/lib.sh here), and natively chrooted into a
read-only view of it; output (stdout and stderr as they interleave on a
terminal) and exit status must match byte for byte.

The scripts use builtins only: the guest has no fork or exec, so no
external commands, pipelines, subshells or command substitution. Here
strings and small here documents go through a pipe (bash 5.2), large
ones through a temporary file, which fails alike on both read-only roots.
Nothing here prints what differs by design ($$, $PPID, $HOSTNAME, times,
resource limits). Every script runs on microvm and on q35."""
import os

import pytest

from conftest import by_target
from hostcmp import FIXED_TIME, ReadOnlyView, compare, host_comparison_root


LIB = """\
# sourced by test scripts
greet() { local who=${1:-world}; printf 'hello, %s\\n' "$who"; }
LIB_LOADED=yes
return 3
"""


@pytest.fixture(scope="session")
def bashroot(tmp_path_factory):
    base = tmp_path_factory.mktemp("bash")
    root = host_comparison_root(str(base / "root"))
    os.makedirs(os.path.join(root, "srv"))
    lib = os.path.join(root, "srv", "lib.sh")
    with open(lib, "w") as f:
        f.write(LIB)
    os.utime(lib, (FIXED_TIME, FIXED_TIME))
    view = ReadOnlyView(root, str(base / "ro"))
    if view.why:
        print(f"host runs see a writable root ({view.why}); write cases skip")
    yield root, view
    view.close()


def S(id, script, writes=False, cwd=None):
    return pytest.param(script, writes, cwd, id=id)


SCRIPTS = [
    S("arith",
      "echo $((1+2*3)) $((2**62)) $((7/2)) $((-7%3)) $((1<<10)) $((0x1f)) $((8#17)) "
      "$((5>3 && 2>1)) $(( (3+4)*2 )); i=5; ((i+=10, i*=2)); echo $i; let j=i/4 k=i%4; "
      "echo $j $k; declare -i n=6*7; echo $n"),
    S("arith-div0", "echo before; echo $((1/0)); echo after"),
    S("loops",
      "for i in 1 2 3; do printf '%s ' $i; done; echo; for ((i=0; i<5; i++)); do "
      "((i==1)) && continue; ((i==4)) && break; echo c$i; done; n=0; until ((n>=3)); "
      "do n=$((n+1)); done; echo n=$n; while :; do break; done; echo {a..e} {1..10..3} "
      "x{1,2}y {05..10}"),
    S("arrays",
      "a=(zero one two three); a+=(four); echo ${#a[@]} ${a[2]} ${a[-1]} ${a[@]:1:2} "
      "${!a[@]}; unset 'a[1]'; echo ${!a[@]}; a[10]=ten; declare -p a; "
      "declare -A m=([b]=2 [a]=1 [c]=3); m[d]=4; for k in a b c d; do printf '%s=%s ' "
      "$k ${m[$k]}; done; echo ${#m[@]}"),
    S("strings",
      "s='Hello, World'; echo ${#s} ${s,,} ${s^^} ${s/World/Pier} ${s:7} ${s: -3} "
      "${s//l/L} ${s#*o} ${s##*o} ${s%o*} ${s%%o*}; u=; echo [${u:-default}] "
      "[${u:=set}] [$u] [${s:+alt}]; p=/data/notes/readme.txt; echo ${p##*/} ${p%/*} "
      "${p##*.}; echo ${s@Q} ${s@U}; x=abc; echo ${x/#a/A} ${x/%c/C}"),
    S("printf",
      "printf '%s|%5s|%-5s|%05d|%x|%X|%o|%e|%.3f|%c|%%\\n' a b c 42 255 255 8 12345.678 "
      "3.14159 xyz; printf '%q ' 'a b' $'tab\\there' 'q'\\''uote'; echo; printf -v v "
      "'%03d' 7; echo $v; printf '%b\\n' 'a\\tb\\x41'; printf '%s\\n' one two three; "
      "printf '%(%Y-%m-%d %H:%M:%S)T\\n' 1700000000; printf '%d\\n' 12abc; echo $?"),
    S("functions",
      "fib() { local n=$1; if ((n < 2)); then r=$n; return; fi; fib $((n-1)); local a=$r; "
      "fib $((n-2)); r=$((a + r)); }; fib 15; echo $r; f() { return 42; }; f; echo $?; "
      "g() { echo args $# $1 ${@: -1}; shift 2; echo $*; }; g a b c d; "
      "outer() { local v=inner; inner; }; inner() { echo $v; }; v=global; outer; echo $v; "
      "declare -f f; type -t fib"),
    S("conditionals",
      "s=Hello; [[ $s == H* ]] && echo glob; [[ $s =~ ^(H)(e+)l ]] && echo "
      "${BASH_REMATCH[@]}; [[ -f /data/fruits.txt && -L /data/link && ! -e /data/dangling "
      "]] && echo files; [[ -d /data/notes/deep/up && /data/notes/deep/up -ef /data ]] && "
      "echo same; [[ /data/link -ef /data/notes/readme.txt ]] && echo ef; [[ -s "
      "/data/empty ]] || echo empty; [[ -x /data/run.sh ]] && echo exec; [[ 10 -lt 9 ]] "
      "|| echo num; [[ abc < abd ]] && echo lt; test -r /data/fruits.txt -a ! -w "
      "/data/fruits.txt && echo ro; [ -O /data/fruits.txt ] || echo notmine; [ -G "
      "/data/empty ] && echo mygroup; [[ -v s ]] && echo set"),
    S("case",
      "shopt -s extglob\nfor w in apple Banana cherry 42 ''; do case $w in a*) echo A "
      "$w;; [Bb]*) echo B $w;& c*) echo fell $w;; +([0-9])) echo num $w;; '') echo "
      "empty;; *) echo other;; esac; done; case x in x) echo one;;& *) echo two;; esac"),
    S("read-file",
      "while IFS=, read -r name colour count; do echo $count:$name:$colour; done < "
      "/data/table.csv; mapfile -t lines < /data/fruits.txt; echo ${#lines[@]} "
      "${lines[0]} ${lines[-1]}; read -r first < /data/notes/readme.txt; echo $first; "
      "read -r -d '' all < /data/notes/tabs.txt; echo $? ${#all}; IFS=$'\\t' read -r -a "
      "cols < /data/notes/tabs.txt; declare -p cols"),
    S("here-string", "read -r a b <<< 'one two three'; echo $b/$a; read -a arr <<< "
      "$'x y\\nz'; declare -p arr; cnt=0; while read -r l; do ((cnt++)); done <<< "
      "$'l1\\nl2\\nl3'; echo $cnt"),
    S("here-doc", "read -r x y <<EOF\nhello there world\nEOF\necho $y:$x; "
      "while read -r l; do echo [$l]; done <<-'END'\n\tone $HOME\n\ttwo\n\tEND\necho done"),
    S("here-string-large",
      "s=a; for i in {1..17}; do s=$s$s; done; echo ${#s}; read -r v <<< $s; "
      "echo status $? ${#v}", writes=True),  # the temp file goes to /
    S("fd-redirect",
      "exec 3< /data/fruits.txt; read -u 3 a; read -u 3 b; echo $a $b; exec 3<&-; "
      "read -u 3 c; echo status $?; exec 4</data/notes/readme.txt; read -r l <&4; echo $l; "
      "echo to-stderr >&2; echo x > /data/new; echo status $?; echo y >> /data/fruits.txt; "
      "echo status $?; read z < /nope; echo status $?", writes=True),
    S("redirect-missing-dir", "echo x > /data/nope/file; echo status $?", writes=True),
    S("declare-type",
      "declare -r ro=1; declare -x ex=2; declare -a ar=(1 2); declare -i in=3+4; "
      "declare -l lo=ABC; declare -u up=abc; declare -p ro ex ar in lo up; type echo if "
      "cd [[ declare; type -t echo if; type -a printf; type nosuch; echo status $?; "
      "command -v echo; hash; ro=2; echo still $?"),
    S("vars",
      "echo $BASH_VERSION ${BASH_VERSINFO[@]} $HOSTTYPE $OSTYPE $MACHTYPE; echo $SHLVL $- "
      "$# [$0] $UID $EUID ${HOME-unset} ${PATH-unset}; declare -p IFS; "
      "RANDOM=42; echo $RANDOM $RANDOM $RANDOM; echo $PWD $OLDPWD; echo ${!BASH_V*}"),
    S("cd-pwd",
      "cd /data/notes; echo $PWD; cd deep/up; pwd; pwd -P; cd -; cd ..; dirs; pushd "
      "/data/notes/deep; echo push $?; pushd /data; dirs; popd; cd /nope; "
      "echo status $?; cd /data/fruits.txt; echo status $?"),
    S("glob",
      "echo /data/*.txt; echo /data/notes/*; shopt -s nullglob; echo [/data/*.nope]; "
      "shopt -s dotglob globstar; echo /data/**/*.txt\nshopt -s extglob\necho "
      "/data/!(*.txt|*.bin); echo /data/b*.bin /data/[ef]*"),
    S("cwd-relative", "echo *; read -r l < deep/er/file.txt; echo $l; [[ -e ../empty ]] "
      "&& echo up", cwd="/data/notes"),
    S("source",
      "source /srv/lib.sh; echo status $? $LIB_LOADED; greet; greet pier; . /nope; "
      "echo status $?"),
    S("getopts",
      "set -- -a -b val -c rest; while getopts ab:c opt; do echo $opt ${OPTARG-none}; "
      "done; shift $((OPTIND-1)); echo left $@; set -- -x; getopts ab opt; echo $opt $?"),
    S("trap-exit", "trap 'echo bye $?' EXIT; echo hi; exit 5"),
    S("set-e", "set -e; echo one; false; echo two"),
    S("set-u", "set -u; echo ${defined-ok}; echo $undefined; echo never"),
    S("set-o", "set -o pipefail -o noglob; set -o; set +o"),
    S("shopt", "shopt -p; shopt -s nocasematch; [[ ABC == abc ]] && echo nocase"),
    S("exit-status", "f() { return 3; }; f; echo $?; ! f; echo $?; true && false || "
      "echo or; exit 7"),
    S("syntax-error", "echo ok; if then fi"),
    S("not-found", "nosuchcommand arg"),
    S("compgen", "compgen -b; compgen -k; compgen -A function; f1() { :; }; compgen -A "
      "function; compgen -W 'alpha beta alpine' al"),
    S("help", "help -d echo read cd; help -s printf"),
    S("kill-l", "kill -l; kill -l 15 SIGKILL"),
    S("kill-0-self", "kill -0 $$; echo status $?"),
    # Signal handlers are recorded but never run in the guest (no signal
    # delivery yet), so only an ignored signal sent to itself is compared.
    S("ignored-signal-self", "trap '' USR1; kill -USR1 $$; echo after $?"),
    S("umask", "umask; umask -S; umask 077; umask"),
    S("wait-jobs", "wait; echo $?; jobs; echo $?"),
    S("readonly-var", "readonly r=1; r=2; echo $?; unset r; echo $?"),
    S("echo-builtin", "echo -e 'a\\tb\\x41\\0101'; echo -n x; echo -E 'a\\tb'; "
      "shopt -s xpg_echo; echo 'c\\td'"),
]


@pytest.mark.parametrize("machine,script,writes,cwd", by_target(SCRIPTS, pier_every=4, name="bash scripts"))
def test_bash(bashroot, machine, script, writes, cwd):
    root, view = bashroot
    if writes and not view.readonly:
        pytest.skip(f"the host view of the root is writable: {view.why}")
    problems = compare(machine, root, view.path, ["/bin/bash", "-c", script], cwd=cwd)
    assert not problems, f"{script}\n" + "\n".join(problems)
