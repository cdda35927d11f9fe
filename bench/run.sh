#!/usr/bin/env bash
# make bench: nudge's figures next to this machine's ceilings, in one run.
#
#   bench/run.sh [BUILD_DIR]            all sections, 100k and 1M members
#   SIZES="100000" bench/run.sh          only some sizes
#   SECTIONS="ceilings audience" ...     only some sections: ceilings audience scale dispatch
#
# Ceilings come from ../shared/limits (copied to a scratch dir and built).
# Data is generated (seeded) under bench/data/ and reused; results go to
# bench/results/<stamp>.txt. Prints one RESULT line per figure.
set -euo pipefail
B=${1:-build}
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZES=${SIZES:-"100000 1000000"}
SECTIONS=${SECTIONS:-"ceilings audience scale dispatch"}
LIMITS=${LIMITS:-$ROOT/../shared/limits}
mkdir -p bench/data bench/results
OUT=bench/results/$(date -u +%Y%m%d-%H%M%S).txt
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/nudge-bench.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

say() { echo "$*" | tee -a "$OUT"; }
result() { say "RESULT $1 $2 $3"; }

# /usr/bin/time-free timing: wall seconds and peak RSS of a command
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > "$SCRATCH/cmd.out" 2> "$SCRATCH/cmd.err" &
    local pid=$! peak=0 rss
    while kill -0 $pid 2>/dev/null; do
        rss=$(awk '/VmHWM/{print $2}' /proc/$pid/status 2>/dev/null || echo 0)
        [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
        sleep 0.05
    done
    wait $pid
    t1=$(date +%s.%N)
    WALL=$(echo "$t1 - $t0" | bc -l)
    PEAK_MB=$((peak / 1024))
}

section() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

say "# nudge benchmarks $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)"

if section ceilings; then
    if [ -d "$LIMITS" ]; then
        cp -r "$LIMITS/." "$SCRATCH/limits"
        make -s -C "$SCRATCH/limits" lua_bench sqlite_bench >/dev/null
        ( cd "$SCRATCH/limits" && ./lua_bench 1.5 lua_userdata_proxy ) | grep RESULT | tee -a "$OUT"
        ( cd "$SCRATCH/limits" && mkdir -p data && ./sqlite_bench data 3 bulk ) 2>/dev/null | grep RESULT | tee -a "$OUT"
    else
        say "# no limits directory at $LIMITS: ceilings skipped"
    fi
fi

if section audience; then
    make -s "$B/bench-audience"
    "$B/bench-audience" 1.5 2>/dev/null | tee -a "$OUT"
fi

if section scale; then
    for N in $SIZES; do
        D=bench/data/$N
        [ -f "$D/future.jsonl" ] || "$B/gen" --members "$N" --tz-mix --out "$D" 2>/dev/null
        W=$SCRATCH/ws$N
        "$B/nudge" init "$W" --brand 悦肤 >/dev/null
        cp rules-examples/journeys/*.lua "$W/journeys/"; cp rules-examples/templates/*.lua "$W/templates/"
        timed "$B/nudge" import "$W" "$D/members.csv"
        result "import_members_${N}_per_s" "$(echo "$N / $WALL" | bc)" members/s
        result "import_members_${N}_s" "$WALL" s
        nev=$(wc -l < "$D/history.jsonl")
        timed "$B/nudge" import "$W" "$D/history.jsonl"
        result "import_events_${N}_per_s" "$(echo "$nev / $WALL" | bc)" events/s
        for day in 2027-01-08 2027-01-12; do
            timed "$B/nudge" simulate "$W" --from $day --to $day
            line=$(grep 'candidates,' "$SCRATCH/cmd.out")
            say "# tick $N members $day: $line"
            result "tick_${N}_${day}_s" "$WALL" s
        done
        timed "$B/nudge" simulate "$W" --from 2026-11-23 --to 2027-11-22 --events "$D/future.jsonl"
        msgs=$(grep -oE '[0-9]+ messages decided' "$SCRATCH/cmd.out" | grep -oE '^[0-9]+')
        say "# year $N members: $(grep 'candidates,' "$SCRATCH/cmd.out")"
        result "sim_year_${N}_s" "$WALL" s
        result "sim_year_${N}_rss_mb" "$PEAK_MB" MB
        result "sim_year_${N}_msgs_per_s" "$(echo "$msgs / $WALL" | bc)" messages/s
        timed "$B/nudge" simulate "$W" --from 2026-11-23 --to 2027-11-22 --events "$D/future.jsonl" \
            --out "$SCRATCH/log.jsonl"
        result "sim_year_${N}_with_log_s" "$WALL" s
        result "sim_year_${N}_log_mb" "$(( $(stat -c %s "$SCRATCH/log.jsonl") / 1048576 ))" MB
        rm -rf "$W" "$SCRATCH/log.jsonl"
    done
fi

if section dispatch; then
    say "# dispatch: 100k WeChat sends through nudge run to the loopback mock; ceiling: bare curl multi, same mock"
    LIMITS="$LIMITS" bench/dispatch.sh 100000 | tee -a "$OUT"
    LIMITS=/nonexistent FAIL_PCT=10 bench/dispatch.sh 100000 | tee -a "$OUT"
fi

# ratios against the ceilings measured above
awk '$1 == "RESULT" { v[$2] = $3 }
     END {
       if (v["lua_userdata_proxy"] && v["nudge_audience_eval"])
         printf "RATIO audience_eval / lua_userdata_proxy = %.1f%%\n", 100 * v["nudge_audience_eval"] / v["lua_userdata_proxy"]
       if (v["sqlite_bulk_insert"] && v["import_members_1000000_per_s"])
         printf "RATIO import_members_1M / sqlite_bulk_insert = %.1f%%\n", 100 * v["import_members_1000000_per_s"] / v["sqlite_bulk_insert"]
       if (v["dispatch_ceiling_curl_event_c64"] && v["nudge_dispatch"])
         printf "RATIO dispatch / curl_multi_same_mock = %.1f%%\n", 100 * v["nudge_dispatch"] / v["dispatch_ceiling_curl_event_c64"]
     }' "$OUT" | tee -a "$OUT"
echo "(results: $OUT)"
