# lib.sh - helpers for nudge's end-to-end tests (sourced).
#
# Each test script builds small hand-made workspaces in a temp dir, runs
# the real binary and compares what it decided with what the journeys'
# rules say by hand. It prints "N passed, N failed" and exits non-zero on
# any failure.

set -u
NUDGE=${NUDGE:-build/nudge}
NUDGE=$(cd "$(dirname "$NUDGE")" && pwd)/$(basename "$NUDGE")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/nudge-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }

# check NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then ok; else
        bad "$1"
        diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | head -40 >&2
    fi
}

# check_contains NAME HAYSTACK NEEDLE
check_contains() {
    case "$2" in *"$3"*) ok ;; *) bad "$1: expected to find '$3' in:"; printf '%s\n' "$2" | head -20 >&2 ;; esac
}

# check_status NAME EXPECTED_STATUS ACTUAL_STATUS
check_status() {
    if [ "$2" = "$3" ]; then ok; else bad "$1: exit status $3, expected $2"; fi
}

# new_ws NAME [TZ]: an empty workspace with the example templates and
# journeys given as further arguments (file names in rules-examples/journeys).
new_ws() {
    local dir=$T/$1 tz=${2:-Asia/Shanghai}
    shift 2 || shift $#
    "$NUDGE" init "$dir" --brand 悦肤 --tz "$tz" >/dev/null || bad "init $dir"
    cp "$ROOT"/rules-examples/templates/*.lua "$dir/templates/"
    for j in "$@"; do cp "$ROOT/rules-examples/journeys/$j.lua" "$dir/journeys/"; done
    echo "$dir"
}

# project LOG: one line per decision, "at member journey step channel|-
# skipped", sorted, for comparing with hand-written expectations.
project() {
    jq -r '[.at, .member, .journey, .step, (.channel // "-"), (.skipped // "")] | join(" ")' "$1" \
        | sed 's/ $//' | sort
}

finish() {
    echo "$(basename "$0"): $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
