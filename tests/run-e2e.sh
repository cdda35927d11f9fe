#!/usr/bin/env bash
# Runs the DSL and end-to-end test scripts against $NUDGE; prints the sum.
cd "$(dirname "$0")/.." || exit 1
pass=0 fail=0 status=0
for t in tests/dsl/test_*.sh tests/e2e/test_*.sh; do
    out=$(bash "$t" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
    if [ $rc -ne 0 ] || [ -z "$line" ]; then printf '%s\n' "$out" >&2; status=1; fi
    [ -n "$line" ] || { echo "$t: no result line" >&2; fail=$((fail + 1)); continue; }
    echo "$line"
    p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    pass=$((pass + p)); fail=$((fail + f))
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$status" -eq 0 ]
