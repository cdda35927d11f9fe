#!/usr/bin/env bash
# The engine under valgrind: init, import, check and a year's simulation
# of a small generated workspace must not leak or touch bad memory.
cd "$(dirname "$0")/.." || exit 1
NUDGE=${NUDGE:-build/nudge} GEN=${GEN:-build/gen}
T=$(mktemp -d "${TMPDIR:-/tmp}/nudge-vg.XXXXXX"); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
vg() {
    local name=$1; shift
    # the daemon's allocator is jemalloc (Makefile): its malloc is replaced like libc's
    if valgrind -q --soname-synonyms=somalloc=*jemalloc* --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
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
vg parts "$NUDGE" simulate "$T/ws" --from 2026-11-23 --to 2027-01-21 --events "$T/data/future.jsonl" --out "$T/log" --parts 3
printf 'return journey "spin" { trigger = daily(), audience = function(m) while true do end end,\n steps = { send { template = "member_day", channels = { "wechat" } } } }\n' > "$T/ws/journeys/spin.lua"
printf 'return journey "hog" { trigger = daily(), audience = function(m) local t = {} for i = 1, 1e6 do t[i] = string.rep("x", 1e5) .. i end end,\n steps = { send { template = "member_day", channels = { "wechat" } } } }\n' > "$T/ws/journeys/hog.lua"
vg faults "$NUDGE" simulate "$T/ws" --from 2026-11-23 --to 2026-11-24 --out "$T/log"
vg faults-parts "$NUDGE" simulate "$T/ws" --from 2026-11-23 --to 2026-11-24 --out "$T/log" --parts 2
vg status "$NUDGE" status "$T/ws"
rm -f "$T/ws/journeys/spin.lua" "$T/ws/journeys/hog.lua"
# the daemon: deliveries to the mock, one refused member (43004 and a
# fallback), then SIGTERM; and the outbox listing
MOCK=${MOCK:-build/mockprov}
"$MOCK" --port 0 --port-file "$T/port" --log "$T/mock.jsonl" --errcode-first 1:43004 &
mock=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
printf '\n[wechat]\nendpoint = http://127.0.0.1:%s\nappid = wxmockappid\nsecret = mocksecret\nbackoff_ms = 100\n' \
    "$(cat "$T/port")" >> "$T/ws/nudge.conf"
printf '\n[api]\nlisten = 127.0.0.1:0\ntoken.t = valgrind-token-0123456789\nscopes.t = admin\n' >> "$T/ws/nudge.conf"
# the API while the daemon runs: events (good, bad, malformed), a member,
# a refused token
( for _ in $(seq 600); do grep -q 'api listening on' "$T/vg" 2>/dev/null && break; sleep 0.1; done
  url=http://127.0.0.1:$(grep -o 'api listening on 127.0.0.1:[0-9]*' "$T/vg" | sed 's/.*://')
  m=$(head -2 "$T/data/members.csv" | tail -1 | cut -d, -f1)
  auth="Authorization: Bearer valgrind-token-0123456789"
  curl -s -H "$auth" "$url/v1/events" -d "[{\"type\":\"order.paid\",\"member\":\"$m\",\"at\":\"2026-11-23T10:00:00+08:00\",\"order_id\":\"VG1\",\"amount\":1},{\"type\":\"visit\"}]" > "$T/api1"
  curl -s -H "$auth" "$url/v1/events" -d '[{"type":' > "$T/api2"
  curl -s -H "$auth" "$url/v1/members/$m" > "$T/api3"
  curl -s "$url/v1/members/$m" > "$T/api4" ) &
apijob=$!
at=$(date -u -d '+25 sec' +%Y-%m-%dT%H:%M:%SZ)
printf 'return journey "now" { trigger = once("%s"), quiet_hours = false,\n steps = { send { id = "go", template = "member_day", channels = { "wechat", "edm" } } } }\n' \
    "$at" > "$T/ws/journeys/now.lua"
# valgrind starts slowly: the moment is well ahead, and the daemon stops
# two seconds after the first delivery (or after a minute)
( for _ in $(seq 600); do grep -q '"delivered":true' "$T/mock.jsonl" 2>/dev/null && sleep 2 && break; sleep 0.1; done
  pkill -TERM -f "nudge run $T/ws" ) &
vg run "$NUDGE" run "$T/ws"
kill "$mock"
wait "$apijob"
if grep -q '"accepted":1' "$T/api1" && grep -q 'not valid JSON' "$T/api2" && grep -q '"order_count"' "$T/api3" &&
   grep -q 'Bearer' "$T/api4"; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "valgrind: the api did not answer as expected" >&2; cat "$T"/api* >&2; fi
if grep -q '"delivered":true' "$T/mock.jsonl"; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "valgrind: run delivered nothing" >&2; fi
vg outbox "$NUDGE" outbox "$T/ws"
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
