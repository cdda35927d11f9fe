#!/usr/bin/env bash
# make test: unit, DSL and end-to-end tests on the normal build, again on
# an AddressSanitizer + UndefinedBehaviorSanitizer build, then valgrind,
# then the event and members CSV parsers under libFuzzer for a short while.
cd "$(dirname "$0")/.." || exit 1
set -o pipefail
log=$(mktemp); trap 'rm -f "$log"' EXIT
status=0
run() { echo "== $*"; "$@" 2>&1 | tee -a "$log" || status=1; }
run make --no-print-directory all
run make --no-print-directory unit e2e
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run make --no-print-directory test-asan
unset ASAN_OPTIONS UBSAN_OPTIONS
if command -v valgrind >/dev/null; then run tests/run-valgrind.sh; else echo "valgrind missing" | tee -a "$log"; status=1; fi
if command -v clang >/dev/null; then run make --no-print-directory fuzz; else echo "clang missing" | tee -a "$log"; status=1; fi
pass=0 fail=0
while read -r p f; do pass=$((pass + p)); fail=$((fail + f)); done < <(
    grep -E '^(unit|e2e|valgrind|fuzz): [0-9]+ passed, [0-9]+ failed' "$log" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/')
[ "$status" -eq 0 ] || [ "$fail" -gt 0 ] || fail=1
echo "all: $pass passed, $fail failed"
[ "$status" -eq 0 ] && [ "$fail" -eq 0 ]
