#!/usr/bin/env bash
# Two runs of simulate at the same time, one on each cpu, then again with
# the cpus swapped: A/B comparisons on a machine whose speed drifts within
# the hour (both runs of a round see the same hour; each sees both cpus).
# Prints wall, user and system seconds and peak RSS of each run.
#
#   bench/side_by_side.sh BIN_A WS_A BIN_B WS_B EVENTS [FROM TO]
#
# e.g. the build before and this one on the same workspace (simulate never
# changes it):
#   bench/side_by_side.sh /tmp/nudge.before WS build/nudge WS bench/data/1000000/future.jsonl
set -u
if [ $# -lt 5 ]; then
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
BIN_A=$1 WS_A=$2 BIN_B=$3 WS_B=$4 EVENTS=$5 FROM=${6:-2026-11-23} TO=${7:-2027-11-22}
[ "$(nproc)" -ge 2 ] || { echo "needs two cpus"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nudge-sbs.XXXXXX")
trap 'rm -rf "$T"' EXIT
one() {   # cpu bin ws out
    taskset -c "$1" /usr/bin/time -f "%e s wall, %U s user, %S s system, %M KB peak RSS" \
        "$2" simulate "$3" --from "$FROM" --to "$TO" --events "$EVENTS" >"$4.out" 2>"$4.err"
    echo "$(grep -o '[0-9]* messages decided' "$4.out") | $(tail -1 "$4.err")" >"$4"
}
for round in 1 2; do
    if [ "$round" = 1 ]; then ca=0 cb=1; else ca=1 cb=0; fi
    one "$ca" "$BIN_A" "$WS_A" "$T/a" &
    one "$cb" "$BIN_B" "$WS_B" "$T/b" &
    wait
    echo "round $round  A (cpu $ca): $(cat "$T/a")"
    echo "round $round  B (cpu $cb): $(cat "$T/b")"
done
