#!/bin/sh
# Landlock's network rules (Linux 6.7) are in <linux/landlock.h> from
# linux-libc-dev 6.7 on; bookworm's own is 6.1's. This takes the header
# from the same package in bookworm-backports (Debian's archive), fetched
# with a private apt list so apt's sources and the system's headers stay
# as they are, and keeps only linux/landlock.h in $PIER_UAPI_DIR/linux/
# (default /var/cache/pier-uapi): the Makefile puts that directory before
# the system's for pier's host code. Nothing to do where the system's
# header has the rules already; without the archive it says so, and pier
# is built without them (its unit test then says why it skips).
set -eu
dir=${PIER_UAPI_DIR:-/var/cache/pier-uapi}
grep -q LANDLOCK_ACCESS_NET_BIND_TCP /usr/include/linux/landlock.h 2>/dev/null && exit 0
[ -f "$dir/linux/landlock.h" ] && exit 0
[ "$(id -u)" -eq 0 ] || { echo "uapi-landlock: not root: Landlock network rules left out" >&2; exit 0; }
. /etc/os-release
suite=${VERSION_CODENAME:-bookworm}-backports
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/archives/partial"
echo "deb http://deb.debian.org/debian $suite main" >"$tmp/sources.list"
set -- -o Dir::Etc::sourcelist="$tmp/sources.list" -o Dir::Etc::sourceparts=- \
	-o Dir::State::Lists="$tmp/lists" -o Dir::Cache::archives="$tmp/archives" \
	-o APT::Sandbox::User=root
if ! apt-get "$@" update -qq >"$tmp/log" 2>&1 ||
	! (cd "$tmp" && apt-get "$@" download -qq "linux-libc-dev/$suite") >>"$tmp/log" 2>&1; then
	echo "uapi-landlock: could not fetch linux-libc-dev from $suite: Landlock network rules left out" >&2
	tail -n 3 "$tmp/log" >&2
	exit 0
fi
dpkg-deb -x "$tmp"/linux-libc-dev_*.deb "$tmp/x"
if ! grep -q LANDLOCK_ACCESS_NET_BIND_TCP "$tmp/x/usr/include/linux/landlock.h"; then
	echo "uapi-landlock: $suite's linux-libc-dev has no Landlock network rules either" >&2
	exit 0
fi
mkdir -p "$dir/linux"
cp "$tmp/x/usr/include/linux/landlock.h" "$dir/linux/landlock.h.new"
mv "$dir/linux/landlock.h.new" "$dir/linux/landlock.h"
echo "uapi-landlock: <linux/landlock.h> of $(basename "$tmp"/linux-libc-dev_*.deb .deb) in $dir"
