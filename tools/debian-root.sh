#!/bin/sh
# tools/debian-root.sh: a Debian bookworm root directory for running
# Debian's own programs under Pier (issue 17), built once and cached.
#
#   tools/debian-root.sh            builds it if needed, prints its path
#   tools/debian-root.sh --check    prints its path if it is built, else fails
#   tools/debian-root.sh --with 'PKG...' [--check]
#                                   a second root: the first one's packages
#                                   and these (bench/startup.py's JVM), kept
#                                   apart so the suite's root stays small
#
# debootstrap --variant=minbase, then, in a chroot, apt-get install of the
# packages below. The cache directory is keyed by the suite, the mirror and
# the package list (and this script's layout number), so a change to any
# of them builds a new root and a second run reuses the first's. A root is
# used only once its "complete" stamp is written: an interrupted build is
# thrown away and started again. Needs root (debootstrap, chroot) and
# Debian's archive; installs debootstrap when it is missing.
set -eu
export LC_ALL=C

SUITE=bookworm
MIRROR=${PIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# git for issue 18's process tests (tests/integration/test_processes.py),
# nginx-light for issue 20's server (tests/integration/test_net.py, bench);
# bash, dash and coreutils are in minbase already.
PACKAGES="python3 sqlite3 fio perl gawk xz-utils git nginx-light"
LAYOUT=1
CACHE=${PIER_DEBIAN_ROOT_CACHE:-/var/cache/pier-debian-root}
EXTRA=
CHECK=
while [ $# -gt 0 ]; do
	case $1 in
	--with) EXTRA=$2; shift 2 ;;
	--check) CHECK=1; shift ;;
	*) echo "debian-root: unknown argument $1" >&2; exit 2 ;;
	esac
done

me=debian-root
say() { echo "$me: $*" >&2; }
die() {
	say "$*"
	exit 1
}

if [ -n "$EXTRA" ]; then
	# The first root, then the extra packages on a copy of it.
	if [ -n "$CHECK" ]; then base=$("$0" --check); else base=$("$0"); fi
fi
# With no extra packages, the key the first root has always had.
key=$(printf '%s\n' "$LAYOUT" "$SUITE" "$MIRROR" "$PACKAGES" ${EXTRA:+"$EXTRA"} | sha256sum | cut -c1-16)
dir=$CACHE/$SUITE-$key
root=$dir/root

if [ -f "$dir/complete" ]; then
	echo "$root"
	exit 0
fi
[ -n "$CHECK" ] && die "no complete root at $dir (run tools/debian-root.sh)"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"

if [ -z "$EXTRA" ] && ! command -v debootstrap >/dev/null 2>&1; then
	say "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; } ||
		die "cannot install debootstrap"
fi

# An interrupted build leaves no half root behind for the next run to
# mistake; its mounts go on every way out.
rm -rf "$dir"
mkdir -p "$dir"
cleanup() {
	umount "$root/proc" 2>/dev/null || true
	[ -f "$dir/complete" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

start=$(date +%s)
if [ -n "$EXTRA" ]; then
	say "a copy of $base"
	cp -a "$base" "$root"
	PACKAGES=$EXTRA
else
	say "debootstrap --variant=minbase $SUITE into $root"
	debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$dir/debootstrap.log" 2>&1 ||
		{ tail -20 "$dir/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
fi

say "apt-get install $PACKAGES"
mount -t proc proc "$root/proc"
# No service starts in the chroot (nginx's postinst would try).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
# shellcheck disable=SC2086 # word splitting is wanted
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
	sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $PACKAGES && apt-get clean" \
	>"$dir/apt.log" 2>&1 || { tail -20 "$dir/apt.log" >&2; die "apt-get in the chroot failed (log above)"; }
umount "$root/proc"

printf '%s\n' "$SUITE" "$MIRROR" "$PACKAGES" ${EXTRA:+"(on the first root)"} >"$dir/complete"
say "built in $(($(date +%s) - start)) s: $(du -sh "$root" | cut -f1)"
echo "$root"
