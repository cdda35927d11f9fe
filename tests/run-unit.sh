#!/usr/bin/env bash
# Runs the C unit test binaries given as arguments; each prints
# "FILE: N passed, N failed" and exits non-zero on a failure. Each runs
# once: its output shown, its result line summed, its exit status kept
# (a test that exits non-zero with no failed check, say crashed, is
# named). Prints the sum.
pass=0 fail=0 status=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
    "$t" > "$out" 2>&1
    rc=$?
    cat "$out" >&2
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    if [ -z "$line" ]; then
        echo "$t: no result line (exit status $rc: crashed?)" >&2
        fail=$((fail + 1)); status=1; continue
    fi
    p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$rc" -ne 0 ]; then
        [ "$f" -gt 0 ] || echo "$t: exit status $rc with no failed check" >&2
        status=1
    fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$status" -eq 0 ]
