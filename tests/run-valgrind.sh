#!/usr/bin/env bash
# The engine under valgrind: init, import, check and a year's simulation
# of a small generated workspace must not leak or touch bad memory.
cd "$(dirname "$0")/.." || exit 1
NUDGE=${NUDGE:-build/nudge} GEN=${GEN:-build/gen}
T=$(mktemp -d "${TMPDIR:-/tmp}/nudge-vg.XXXXXX"); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
vg() {
    local name=$1; shift
    if valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 "$@" >"$T/out" 2>"$T/vg"; then pass=$((pass + 1)); else
        local rc=$?
        if [ $rc -eq 99 ]; then fail=$((fail + 1)); echo "valgrind: $name:" >&2; cat "$T/vg" >&2
        else pass=$((pass + 1)); fi   # a non-zero exit of nudge itself is asserted elsewhere
    fi
}
"$GEN" --members 300 --tz-mix --future-days 60 --out "$T/data" 2>/dev/null
vg init "$NUDGE" init "$T/ws" --brand 悦肤
cp rules-examples/journeys/*.lua "$T/ws/journeys/"; cp rules-examples/templates/*.lua "$T/ws/templates/"
vg import "$NUDGE" import "$T/ws" "$T/data/members.csv" "$T/data/history.jsonl"
vg check "$NUDGE" check "$T/ws"
vg simulate "$NUDGE" simulate "$T/ws" --from 2026-11-23 --to 2027-01-21 --events "$T/data/future.jsonl" --out "$T/log"
printf 'return journey "spin" { trigger = daily(), audience = function(m) while true do end end,\n steps = { send { template = "member_day", channels = { "wechat" } } } }\n' > "$T/ws/journeys/spin.lua"
printf 'return journey "hog" { trigger = daily(), audience = function(m) local t = {} for i = 1, 1e6 do t[i] = string.rep("x", 1e5) .. i end end,\n steps = { send { template = "member_day", channels = { "wechat" } } } }\n' > "$T/ws/journeys/hog.lua"
vg faults "$NUDGE" simulate "$T/ws" --from 2026-11-23 --to 2026-11-24 --out "$T/log"
vg status "$NUDGE" status "$T/ws"
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
