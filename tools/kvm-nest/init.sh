#!/bin/busybox sh
# /init of the L1 guest that tools/kvm-nest/run boots (see README.md).
#
# It loads the modules listed in /lib/modules/order*, mounts the host's root
# (virtio-fs tag pier-root, read-only) on /newroot, prepares it like a booted
# system, runs the job the host wrote (run dir pier.run= on the kernel command
# line, file "job") chrooted into it, and powers off. Everything it says goes
# to the console (ttyS0, a log file on the host); the command's output goes
# to the virtio console hvc0, the host's stdout. The last console line the
# host looks for is
#   KVM-NEST-EXIT-<nonce>=<status>     or     KVM-NEST-FAIL: <why>

# shellcheck disable=SC1090,SC2154 # the job file sets PIER_* and dir is eval'ed
# shellcheck disable=SC2016 # the sh -c script is single-quoted on purpose

PATH=/bin
export PATH

bye() {
	sync
	poweroff -f
	sleep 5
}
fail() {
	echo
	echo "KVM-NEST-FAIL: $*"
	bye
}
note() {
	echo "kvm-nest: $(cut -d' ' -f1 /proc/uptime)s: $*"
}

mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev || fail "cannot mount /dev"

nonce=
run=
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	pier.nonce=*) nonce=${arg#pier.nonce=} ;;
	pier.run=*) run=${arg#pier.run=} ;;
	esac
done
if [ -z "$nonce" ] || [ -z "$run" ]; then
	fail "pier.nonce= or pier.run= missing on the kernel command line"
fi

load_modules() {
	while read -r mod; do
		insmod "/lib/modules/$mod" || fail "insmod $mod failed: $(dmesg | tail -n 2 | tr '\n' ' ')"
	done <"/lib/modules/$1"
}
# KVM's modules load in the background, virtio's and the file systems' now.
load_modules order.bg &
kvm_loader=$!
load_modules order

mount -t virtiofs -o ro pier-root /newroot || fail "cannot mount the host root (virtio-fs tag pier-root)"
job="/newroot$run/job"
[ -r "$job" ] || fail "no job file $run/job in the host root"
# Sets PIER_CWD, PIER_TTY, PIER_TERM, PIER_RW_N, PIER_RW_<i> and the command
# as "$@"; the host wrote every value single-quoted.
. "$job"
note "root mounted"

R=/newroot
mount -t proc proc $R/proc || fail "cannot mount $R/proc"
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev || fail "cannot mount $R/dev"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 shm $R/dev/shm
ln -sf /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr
mount -t tmpfs -o mode=0755 run $R/run || fail "cannot mount $R/run"

# /tmp, /var/tmp and /root: the host's files stay visible (e.g. a test
# program built in /tmp) but writes land in a tmpfs and vanish at power off.
mount -t tmpfs -o mode=0755 ovl /ovl
for d in /tmp /var/tmp /root; do
	[ -d "$R$d" ] || continue
	u=/ovl/$(echo "$d" | tr / _)
	mkdir -p "$u/upper" "$u/work"
	chmod "$(stat -c %a "$R$d")" "$u/upper"
	if ! mount -t overlay -o "lowerdir=$R$d,upperdir=$u/upper,workdir=$u/work" overlay "$R$d"; then
		note "overlay on $d failed, using an empty tmpfs"
		mount -t tmpfs -o mode=1777 tmp "$R$d"
	fi
done

# The read-write shares (the host left out any inside another).
i=1
while [ "$i" -le "${PIER_RW_N:-0}" ]; do
	eval "dir=\$PIER_RW_$i"
	mkdir -p "$R$dir" 2>/dev/null
	mount -t virtiofs "pier-rw$i" "$R$dir" || fail "cannot mount read-write share $dir (virtio-fs tag pier-rw$i)"
	i=$((i + 1))
done

ip link set lo up 2>/dev/null
hostname kvm-nest
# No transparent huge pages here. With them a pier VM's RAM is backed by
# 2 MiB pages, and each VM's start became bimodal in this emulated machine:
# its first run 23 ms from root mount to the program, every later one about
# 88 ms (5 huge-page faults each, no compaction); with them off, 38-43 ms
# every time (2026-12-06). On real hardware huge pages help a VM; here they
# only add noise to what the bench compares.
echo never >/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null

wait $kvm_loader
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd (does the CPU offer svm?): $(dmesg | grep -i -E 'kvm|svm' | tail -n 3 | tr '\n' ' ')"
chmod 0666 /dev/kvm # as Debian's udev rule has it
note "/dev/kvm is there"

[ -d "$R$PIER_CWD" ] || fail "working directory $PIER_CWD does not exist in the guest"
# The command's output goes to the virtio console (hvc0), which the host
# connects to its stdout; the port appears asynchronously.
out=/dev/hvc0
n=0
while [ ! -c $out ] && [ $n -lt 100 ]; do
	sleep 0.05
	n=$((n + 1))
done
[ -c $out ] || fail "no $out (virtio console) for the command's output"
# Raw output (no \n -> \r\n). hvc resets its settings at the last close, so
# fd 3 keeps it open until the end.
exec 3<>$out
stty raw -echo <&3

# The command's environment: exactly these variables (and TERM when it gets
# a terminal: the host's TERM, or dumb with --tty).
run_cmd() {
	env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root PIER_NESTED=1 ${PIER_TERM:+TERM="$PIER_TERM"} \
		/bin/busybox chroot $R /bin/sh -c 'cd -- "$1" || exit 125; shift; exec "$@"' kvm-nest "$PIER_CWD" "$@"
}

note "running the command"
if [ "$PIER_TTY" = 1 ]; then
	run_cmd "$@" </dev/null >&3 2>&3 3>&-
	rc=$?
else
	{
		run_cmd "$@" </dev/null 2>&1 3>&-
		echo $? >/rc
	} | cat >&3
	rc=$(cat /rc 2>/dev/null || echo 125)
fi
# Wait until everything is out (stty's tcsetattr drains).
stty raw -echo <&3
sync
note "command finished"
echo
echo "KVM-NEST-EXIT-$nonce=$rc"
bye
