#!/bin/sh
# Runs Pier's libFuzzer harnesses: tools/run-fuzzers.sh BINDIR SECONDS NAME...
# For each NAME: replays every saved input (fuzz/regress/NAME/, then the seed
# corpus fuzz/corpus/NAME/) once, which must not crash; then fuzzes for
# SECONDS, starting from the seeds plus what earlier runs on this machine
# found (BINDIR/work/NAME/, kept between runs, never committed). A crash
# leaves its input in BINDIR/crash/ and fails the run: copy it into
# fuzz/regress/NAME/ with the fix. One summary line per harness goes to
# stdout and to BINDIR/summary.txt. Harnesses run side by side, one per
# CPU (each is single-threaded): the same seconds each, less time in all.
set -u
bindir=$1
seconds=$2
shift 2
mkdir -p "$bindir"
: > "$bindir/summary.txt"

# One harness: replay, fuzz, summarise; its exit status says whether it failed.
fuzz_one() {
	name=$1
	bin=$bindir/$name
	work=$bindir/work/$name
	log=$bindir/$name.log
	mkdir -p "$work" "$bindir/crash"
	saved=$(find "fuzz/regress/$name" "fuzz/corpus/$name" -type f 2>/dev/null | sort)
	if [ -n "$saved" ]; then
		# shellcheck disable=SC2086 # one argument per saved input
		if ! "$bin" -runs=1 $saved > "$log.replay" 2>&1; then
			tail -40 "$log.replay" >&2
			echo "fuzz $name: a saved input fails (log: $log.replay)" >&2
			return 1
		fi
	fi
	nsaved=$(printf '%s\n' "$saved" | grep -c .)
	"$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=3072 \
		-artifact_prefix="$bindir/crash/$name-" "$work" "fuzz/corpus/$name" > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	# The last status line carries the coverage: "#N DONE cov: E ft: F corp: C/..."
	cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(find "$work" -type f | wc -l)
	line="fuzz $name: ${execs:-?} executions in ${seconds} s, ${cov:-?} edges (cov), ${ft:-?} features, $nsaved saved inputs replayed, $corp inputs found"
	echo "$line" | tee -a "$bindir/summary.txt"
	if [ "$rc" -ne 0 ]; then
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" >&2
		echo "fuzz $name: FAILED (exit $rc, log: $log)" >&2
		return 1
	fi
}

# Batches of one harness per CPU; every harness's status is waited for.
cpus=$(nproc)
failed=0
pids=
for name in "$@"; do
	fuzz_one "$name" &
	pids="$pids $!"
	if [ "$(echo $pids | wc -w)" -ge "$cpus" ]; then
		for p in $pids; do wait "$p" || failed=$((failed + 1)); done
		pids=
	fi
done
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
[ "$failed" -eq 0 ]
