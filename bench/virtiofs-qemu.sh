#!/bin/sh
# Sequential read of a 1 GiB file and stat of 10,000 files from the guest,
# over QEMU + virtiofsd (no DAX), on both transports, completing requests
# by interrupt and by polling. Uses a throwaway tree under $BENCH_DIR
# (default /var/tmp/pier-bench, kept between runs because it is large).
# Usage: bench/virtiofs-qemu.sh   (after make)
set -eu
cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-/var/tmp/pier-bench}
mkdir -p "$dir/many"
[ -f "$dir/big" ] && [ "$(stat -c %s "$dir/big")" = 1073741824 ] ||
	head -c 1073741824 /dev/urandom >"$dir/big"
[ -f "$dir/many/f09999" ] || (cd "$dir/many" && seq -f 'f%05g' 0 9999 | xargs touch)
cat "$dir/big" >/dev/null # host page cache warm, as for the guest's later runs
for machine in microvm q35; do
	for poll in 0 1; do
		mode=$([ $poll = 1 ] && echo polling || echo interrupts)
		build/pier run --vmm qemu --machine "$machine" --mem 256M --root "$dir" \
			-o virtio_poll=$poll -o fs.bench_read=/big -o fs.bench_stat=/many -- |
			awk -v m="$machine" -v p="$mode" -F'\t' \
				'/^bench_/ { printf "%-8s %-10s %s\n", m, p, $0 }'
	done
done
