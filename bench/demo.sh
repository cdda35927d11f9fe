#!/usr/bin/env bash
# make demo: a demo workspace with 10,000 generated members and the five
# example journeys, 12 months simulated, the summary printed.
set -euo pipefail
B=${1:-build}
cd "$(dirname "$0")/.."
D=demo
rm -rf "$D"
mkdir -p "$D"
"$B/gen" --members 10000 --tz-mix --out "$D/data"
"$B/nudge" init "$D/workspace" --brand 悦肤 --tz Asia/Shanghai
cp rules-examples/journeys/*.lua "$D/workspace/journeys/"
cp rules-examples/templates/*.lua "$D/workspace/templates/"
"$B/nudge" import "$D/workspace" "$D/data/members.csv" "$D/data/history.jsonl"
"$B/nudge" check "$D/workspace"
"$B/nudge" simulate "$D/workspace" --from 2026-11-23 --to 2027-11-22 \
    --events "$D/data/future.jsonl" --out "$D/dispatch.jsonl"
echo
echo "dispatch log: $D/dispatch.jsonl ($(wc -l < "$D/dispatch.jsonl") lines); first one:"
head -n 1 "$D/dispatch.jsonl"
