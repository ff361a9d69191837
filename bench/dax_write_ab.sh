#!/bin/sh
# In-place random 4 KiB writes on pier's VMM, the three write paths
# interleaved in one boot so that drift hits them alike:
#   dax_write=1  the window (the default)
#   dax_write=0  FUSE_WRITE, the window for reads only
#   --dax 0      no window at all
# Needs /dev/kvm; here run it nested:
#   tools/kvm-nest/run --smp 1 -- sh bench/dax_write_ab.sh [ROUNDS] [COUNT]
# Prints fsbench's writes/s (pwrite()s plus the final fsync) per run.
set -e
rounds=${1:-3}
count=${2:-5000}
d=$(mktemp -d)
mount -t tmpfs -o size=1g abtmp "$d"
trap 'umount "$d"; rmdir "$d"' EXIT
cp build/bench/fsbench "$d/"
head -c 100663296 /dev/urandom > "$d/base"
for i in $(seq "$rounds"); do
	for mode in dax_write=1 dax_write=0 nodax; do
		cp "$d/base" "$d/f"
		if [ $mode = nodax ]; then args="--dax 0"; else args="-o $mode"; fi
		r=$(build/pier run --vmm pier $args --root "$d" -- \
			/fsbench randwrite --count "$count" --seed 1 /f 2>/dev/null |
			grep -o '"ops_s":[0-9.]*' | cut -d: -f2)
		echo "round $i $mode: $r writes/s"
	done
done
