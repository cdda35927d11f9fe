#!/usr/bin/env bash
# Runs the C unit test binaries given as arguments; each prints
# "FILE: N passed, N failed". Prints the sum.
pass=0 fail=0 status=0
for t in "$@"; do
    line=$("$t" 2>&1 | tee /dev/stderr | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1) || true
    [ -n "$line" ] || { echo "$t: no result line (crashed?)" >&2; fail=$((fail + 1)); status=1; continue; }
    p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    pass=$((pass + p)); fail=$((fail + f))
    "$t" >/dev/null 2>&1 || status=1
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$status" -eq 0 ]
