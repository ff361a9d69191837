#!/bin/sh
# Runs each unit test binary (cmocka) and counts its tests from cmocka's
# own summary: passed, failed and skipped, each skip listed with its
# binary. A binary that dies (a sanitizer report aborts it), exits non-zero
# without a failed test, or prints no summary counts as one failed test.
# Ends with one line in the plain "N passed, N failed, N skipped" form and
# fails if any test failed.
#
# Sanitizer reports are fatal (the binaries are built with
# -fno-sanitize-recover=all); UBSAN_OPTIONS makes UBSan's abort with a
# stack, also in a binary built by hand without that flag.
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

passed=0
failed=0
skipped=0
skips=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The count cmocka prints on a summary line such as "[  PASSED  ] 3 test(s).".
count() {
	sed -n "s/^\[ *$1 *\] \([0-9][0-9]*\) test(s).*/\1/p" "$log" | tail -n 1
}

for t in "$@"; do
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(count PASSED)
	f=$(count FAILED)
	s=$(count SKIPPED)
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAILED: $t died or failed outside a test (status $rc)" >&2
		f=1
	elif ! grep -q '^\[ *PASSED *\]' "$log"; then
		echo "FAILED: $t printed no cmocka summary" >&2
		f=$((f + 1))
	elif [ "$f" -ne 0 ]; then
		echo "FAILED: $t ($f failed)" >&2
	fi
	if [ "$s" -ne 0 ]; then
		skips="$skips$(sed -n "s|^\[ *SKIPPED *\] \([a-z_0-9]*\)\$|  $(basename "$t"): \1|p" "$log" | sort -u)
"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
done
if [ -n "$skips" ]; then
	echo "skipped (each printed its reason above):"
	printf '%s' "$skips"
fi
echo "unit: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
