#!/bin/sh
# pier's own VMM, the choices ARCHITECTURE.md reports, measured side by
# side in one run: kernel entry (64-bit vs PVH), virtio-fs completion
# (polling vs interrupts) on a sequential read and on stats, and console
# output. Needs /dev/kvm; where there is none it runs itself inside
# tools/kvm-nest/run (a nested, emulated Linux: compare the figures with
# each other, not with anything measured elsewhere).
# virtio-fs completion is measured with --dax 0 (FUSE_READ), and the DAX
# window against FUSE_READ in a section of its own.
# The last section puts both VMMs side by side in the same (nested) machine:
# busybox true from `pier run` to program start and exit, and the cost of
# one getpid() and one 4 KiB FUSE_READ round trip (build/bench/roundtrip).
# Usage: bench/pier-vmm.sh [RUNS]   (after make all bench-progs; RUNS per
# figure, default 5; QEMU, ~15 s a boot nested, gets at most 3)
set -eu
cd "$(dirname "$0")/.."
runs=${1:-5}
# kvm_pvm does not count: pier refuses it (host/accel.c).
if [ -e /sys/module/kvm_pvm ] ||
	! /usr/bin/python3 -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' 2>/dev/null; then
	[ -z "${PIER_NESTED:-}" ] || { echo "no /dev/kvm even nested" >&2; exit 1; }
	echo "no /dev/kvm here: measuring inside tools/kvm-nest (nested, emulated)"
	exec tools/kvm-nest/run --smp 1 --timeout 1800 -- "$0" "$runs"
fi
pier=build/pier
dir=$(mktemp -d /tmp/pier-vmm-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/many"
head -c $((64 << 20)) /dev/urandom >"$dir/big"
cp build/bench/roundtrip "$dir/roundtrip"
(cd "$dir/many" && seq -f 'f%05g' 0 1999 | xargs touch)

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# "NAME ms" of one --timing table on stdin
ms() { awk -v n="$1" '$1 == n { print $2 }'; }

echo "== kernel entry: ms from the first KVM_RUN to kmain, and to guest exit (median of $runs)"
for entry in 64 pvh; do
	to_kmain="" to_exit=""
	for _ in $(seq "$runs"); do
		t=$($pier run --vmm pier --entry $entry --timing -- 2>&1 >/dev/null)
		v=$(echo "$t" | ms vcpu-start)
		to_kmain="$to_kmain $(echo "$t" | ms kmain | awk -v v="$v" '{ print $1 - v }')"
		to_exit="$to_exit $(echo "$t" | ms guest-exit | awk -v v="$v" '{ print $1 - v }')"
	done
	printf '  %-4s kmain %8.2f ms   exit %8.2f ms\n' $entry \
		"$(echo "$to_kmain" | tr ' ' '\n' | grep . | median)" \
		"$(echo "$to_exit" | tr ' ' '\n' | grep . | median)"
done

echo "== virtio-fs completion: 64 MiB sequential read, 2,000 stats (median of $runs)"
for poll in 1 0; do
	mode=$([ $poll = 1 ] && echo polling || echo interrupts)
	rd="" st=""
	for _ in $(seq "$runs"); do
		out=$($pier run --vmm pier --dax 0 --mem 256M --root "$dir" -o virtio_poll=$poll \
			-o fs.bench_read=/big -o fs.bench_stat=/many --)
		rd="$rd $(echo "$out" | awk -F'\t' '/^bench_read/ { print $5 + 0 }')"
		st="$st $(echo "$out" | awk -F'\t' '/^bench_stat/ { print $6 + 0 }')"
	done
	printf '  %-10s read %6s MiB/s   stat %6s stats/s\n' $mode \
		"$(echo "$rd" | tr ' ' '\n' | grep . | median)" \
		"$(echo "$st" | tr ' ' '\n' | grep . | median)"
done

echo "== DAX window vs FUSE_READ: 64 MiB sequential read; one 4 KiB pread (median of $runs)"
for dax in 1G 0; do
	rd="" rt=""
	for _ in $(seq "$runs"); do
		out=$($pier run --vmm pier --dax $dax --mem 256M --root "$dir" -o fs.bench_read=/big --)
		rd="$rd $(echo "$out" | awk -F'\t' '/^bench_read/ { print $5 + 0 }')"
		out=$($pier run --vmm pier --dax $dax --root "$dir" -- /roundtrip /big 20000)
		rt="$rt $(echo "$out" | awk '$1 == "pread4k" { print $2 }')"
	done
	printf '  --dax %-3s read %6s MiB/s   4 KiB pread %8s ns\n' $dax \
		"$(echo "$rd" | tr ' ' '\n' | grep . | median)" "$(echo "$rt" | tr ' ' '\n' | grep . | median)"
done

echo "== console: busybox seq 1 20000 (108,894 bytes), program start to exit (median of $runs)"
t_all=""
for _ in $(seq "$runs"); do
	t=$($pier run --vmm pier --root build/demo-root --timing -- /bin/busybox seq 1 20000 2>&1 >/dev/null)
	p=$(echo "$t" | ms program)
	t_all="$t_all $(echo "$t" | ms guest-exit | awk -v p="$p" '{ print $1 - p }')"
done
m=$(echo "$t_all" | tr ' ' '\n' | grep . | median)
printf '  %8.2f ms   %8.0f KiB/s\n' "$m" "$(echo "$m" | awk '{ print 108894 / 1024 / ($1 / 1000) }')"

echo "== both VMMs: busybox true, ms from pier start (median); one round trip, ns (median)"
for vmm in pier qemu; do
	n=$runs
	[ $vmm = pier ] || [ "$n" -le 3 ] || n=3
	start="" end="" gp="" rd=""
	for _ in $(seq "$n"); do
		t=$($pier run --vmm $vmm --root build/demo-root --timing -- /bin/busybox true 2>&1 >/dev/null)
		start="$start $(echo "$t" | ms program)"
		end="$end $(echo "$t" | ms vmm-exit)"
		out=$($pier run --vmm $vmm --root "$dir" -- /roundtrip /big 20000)
		gp="$gp $(echo "$out" | awk '$1 == "getpid" { print $2 }')"
		rd="$rd $(echo "$out" | awk '$1 == "pread4k" { print $2 }')"
	done
	printf '  %-5s program start %8.1f ms   exit %8.1f ms   getpid %6s ns   4 KiB read %8s ns\n' \
		$vmm "$(echo "$start" | tr ' ' '\n' | grep . | median)" \
		"$(echo "$end" | tr ' ' '\n' | grep . | median)" \
		"$(echo "$gp" | tr ' ' '\n' | grep . | median)" "$(echo "$rd" | tr ' ' '\n' | grep . | median)"
done
