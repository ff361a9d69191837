#!/bin/sh
# Installs the Debian packages Pier needs when they are missing: with apt-get
# when run as root, otherwise it prints the apt-get line to run.
set -eu
PACKAGES="gcc make binutils libc6-dev linux-libc-dev qemu-system-x86 musl-tools python3 python3-pytest cpio
libcmocka-dev busybox-static bash-static procps mount util-linux gnuplot-nox e2fsprogs xz-utils
clang libclang-rt-14-dev python3-pytest-timeout python3-pexpect debootstrap git
libjansson-dev podman conmon runc containerd curl wrk dnsmasq-base acpica-tools"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	exec "$(dirname "$0")/uapi-landlock.sh"
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "Pier needs these Debian packages:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q || true
# shellcheck disable=SC2086 # word splitting is wanted
apt-get install -y -q $missing
exec "$(dirname "$0")/uapi-landlock.sh"
