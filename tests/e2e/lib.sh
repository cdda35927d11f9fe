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
MOCK="$ROOT/build/mockprov"
# background processes (mocks, daemons) a test starts: killed at exit
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
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

# wait_for SECONDS CMD...: until CMD succeeds (tried every 0.1 s); 1 on timeout
wait_for() {
    local n=$(($1 * 10)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}

# start_mock DIR [MOCKPROV OPTIONS...]: the mock providers on a free port of
# 127.0.0.1, logging every request to DIR/mock.jsonl; sets MOCKPID, MOCKPORT
start_mock() {
    local dir=$1; shift
    mkdir -p "$dir"
    rm -f "$dir/port"
    "$MOCK" --port 0 --port-file "$dir/port" --log "$dir/mock.jsonl" "$@" 2>"$dir/mock.err" &
    MOCKPID=$!; PIDS+=($MOCKPID)
    wait_for 5 test -s "$dir/port" || bad "the mock did not start"
    MOCKPORT=$(cat "$dir/port")
}

# start_api WS LOG [RUN OPTIONS...]: nudge run in the background (with the
# environment the caller exported), until its [api] listens; sets RUNPID
# and URL
start_api() {
    local ws=$1 log=$2; shift 2
    : > "$log"
    "$NUDGE" run "$ws" "$@" 2>>"$log" &
    RUNPID=$!; PIDS+=($RUNPID)
    wait_for 5 grep -q "api listening on" "$log" || bad "the api did not start"
    URL=http://127.0.0.1:$(grep -o 'api listening on 127.0.0.1:[0-9]*' "$log" | tail -1 | sed 's/.*://')
}

finish() {
    echo "$(basename "$0"): $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
