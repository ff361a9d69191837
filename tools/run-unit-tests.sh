#!/bin/sh
# Runs each unit test binary, prints one summary line in the plain
# "N passed, N failed" form, and fails if any test binary failed.
passed=0
failed=0
for t in "$@"; do
	if "$t"; then
		passed=$((passed + 1))
	else
		echo "FAILED: $t" >&2
		failed=$((failed + 1))
	fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
