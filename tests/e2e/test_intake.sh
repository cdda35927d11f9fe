#!/usr/bin/env bash
# Events posted over HTTP are durable in the intake journal when answered,
# before the store has written them: with a long [api] commit_ms the store
# does not have them yet, the journal does; after kill -9 the restart
# applies them (their orders, their journeys' messages) exactly once; a
# write that is not an event (a member PUT) is synced with the store at
# once; SIGTERM leaves the journal empty; a half-written journal tail is
# set aside, not applied and not lost; a record is one line (a one-line
# body as it came, any other as printed); a commit_ms or commit_max_ms
# that makes no sense stops the start, naming the line; /metrics tells
# the store's window; a scheduler tick that decides nothing commits
# lazily, not synced.
. "$(dirname "$0")/lib.sh"

POS=pos-0123456789abcdef
OPS=ops-0123456789abcdef
export T_POS=$POS T_OPS=$OPS

W=$(new_ws intake Asia/Shanghai)
printf 'id,name,phone,wechat_openid,wechat_subscribed,tier\nM1,王芳,13800000001,oM1,1,gold\nM2,李娜,13800000002,oM2,1,silver\n' > "$T/m.csv"
"$NUDGE" import "$W" "$T/m.csv" >/dev/null || bad "import"
cat > "$W/templates/thanks.lua" <<'EOF'
return { wechat = { template_id = "TM-THANKS", data = { thing1 = "{{name}}", amount2 = "{{amount}}元" } } }
EOF
cat > "$W/journeys/thanks.lua" <<'EOF'
return journey "thanks" {
  trigger = on("order.paid"), quiet_hours = false,
  steps = { send { id = "thanks", template = "thanks", channels = { "wechat" } } },
}
EOF
# no provider section: messages stay queued, nothing but events writes
cat >> "$W/nudge.conf" <<EOF

[api]
listen = 127.0.0.1:0
token.pos = env:T_POS
scopes.pos = write
token.ops = env:T_OPS
scopes.ops = admin
commit_ms = 60000
EOF
"$NUDGE" check "$W" >/dev/null || bad "check"
J=$W/nudge.intake
q() { sqlite3 -cmd '.timeout 5000' "$W/nudge.db" "$1"; }
req() {
    rm -f "$T/body"
    curl -s -o "$T/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $3" ${4:+--data-binary "$4"} "$URL$2"
    printf ' '; cat "$T/body" 2>/dev/null
}
ev() {   # id member order amount
    printf '{"id":"%s","type":"order.paid","member":"%s","at":"2026-11-23T12:00:00+08:00","order_id":"%s","amount":%s}' "$@"
}
records() { if [ -s "$J" ]; then wc -l < "$J"; else echo 0; fi; }

# ---- accepted: in the journal, not yet in the store ---------------------------------------
start_api "$W" "$T/run.log"
for i in 1 2 3; do
    check_contains "event e$i accepted" "$(req POST /v1/events "$POS" "$(ev e$i M1 O$i 100)")" '"status":"accepted"'
done
out=$(req POST /v1/events "$POS" "[$(ev e4 M2 O4 200),$(ev e5 M2 O5 300),{\"type\":\"order.paid\",\"member\":\"M2\"},$(ev e6 M1 O6 50)]")
check_contains "a batch: three accepted" "$out" '"accepted":3,"duplicates":0,"rejected":1'
check_eq "six records in the journal" 6 "$(records)"
check_eq "the store has not written them yet" 0 "$(q "SELECT count(*) FROM orders")"
check_contains "the journal holds the event as accepted" "$(sed -n 5p "$J")" '"order_id":"O5"'
check_eq "the daemon sees them: M1 has four orders" \
    4 "$(curl -s -H "Authorization: Bearer $OPS" "$URL/v1/members/M1" | jq .order_count)"
check_contains "journal size in /metrics" "$(curl -s -H "Authorization: Bearer $OPS" "$URL/metrics")" \
    "nudge_intake_journal_bytes $(stat -c %s "$J")"
check_contains "the store's window in /metrics: commit_ms while the loop keeps up" \
    "$(curl -s -H "Authorization: Bearer $OPS" "$URL/metrics")" "nudge_store_window_ms 60000"
m=$(curl -s -H "Authorization: Bearer $OPS" "$URL/metrics")
check_contains "four events requests answered, in the answer histogram" "$m" 'nudge_events_answer_seconds_count 4'
check_contains "all four within its last bound" "$m" 'nudge_events_answer_seconds_bucket{le="+Inf"} 4'
check_eq "the buckets count up" "$(echo "$m" | awk -F'[ ]' '/^nudge_events_answer_seconds_bucket/ { print $2 }' | sort -n -c 2>&1 && echo sorted)" sorted
check_contains "no lazy commit yet: the window is a minute" "$m" 'nudge_store_commit_seconds_count{kind="lazy"} 0'
mv() { echo "$m" | awk -v k="$1" '$1 == k { print $2 }'; }
syncs=$(mv nudge_intake_journal_sync_seconds_count)
check_eq "the journal's syncs timed: one to four for four requests" yes \
    "$([ "${syncs:-0}" -ge 1 ] && [ "${syncs:-0}" -le 4 ] && echo yes || echo "no ($syncs)")"
check_eq "each sync in its +Inf bucket" "$syncs" "$(mv 'nudge_intake_journal_sync_seconds_bucket{le="+Inf"}')"
# M1 and M2 read from the database once in the window's transaction, then from memory
check_eq "members read from the database: M1, M2" 2 "$(mv 'nudge_store_member_reads_total{from="database"}')"
check_eq "members read from memory: M1's later events (and the GET)" yes \
    "$([ "$(mv 'nudge_store_member_reads_total{from="memory"}')" -ge 3 ] && echo yes || echo no)"
check_eq "two members held" 2 "$(mv nudge_store_members_in_memory)"

# ---- kill -9, restart: applied once, from the journal --------------------------------------
kill -9 "$RUNPID"; wait "$RUNPID" 2>/dev/null
check_eq "after kill -9: still not in the store" 0 "$(q "SELECT count(*) FROM orders")"
start_api "$W" "$T/run2.log"
check_contains "the restart says what it applied" "$(cat "$T/run2.log")" \
    "intake journal: records 1 to 6 applied (6 events the store did not have yet)"
check_eq "six orders in the store" 6 "$(q "SELECT count(*) FROM orders")"
check_eq "six messages decided, one per order" 6 "$(q "SELECT count(*) FROM messages WHERE journey = 'thanks'")"
check_eq "M2's spend: 200 + 300" 500 "$(curl -s -H "Authorization: Bearer $OPS" "$URL/v1/members/M2" | jq .total_spent)"
check_eq "the journal is emptied once the store has it on disk" 0 "$(records)"
check_contains "a known id stays known" "$(req POST /v1/events "$POS" "$(ev e2 M1 O2 100)")" '"status":"duplicate"'

# ---- a write that is not an event is synced at once, with the events before it -------------
check_contains "e7 accepted" "$(req POST /v1/events "$POS" "$(ev e7 M1 O7 80)")" '"status":"accepted"'
check_eq "e7 only in the journal" "0 1" "$(q "SELECT count(*) FROM orders WHERE order_id = 'O7'") $(records)"
check_contains "PUT a member" "$(req PUT /v1/members/M3 "$POS" '{"name":"张伟","wechat_openid":"oM3","wechat_subscribed":1}')" '201'
check_eq "the member is in the store at once" 1 "$(q "SELECT count(*) FROM members WHERE ext_id = 'M3'")"
check_eq "and so is e7" 1 "$(q "SELECT count(*) FROM orders WHERE order_id = 'O7'")"

# ---- SIGTERM: everything in the store, the journal empty -----------------------------------
check_contains "e8 accepted" "$(req POST /v1/events "$POS" "$(ev e8 M2 O8 120)")" '"status":"accepted"'
kill -TERM "$RUNPID"; wait "$RUNPID"; rc=$?
check_eq "SIGTERM: exit 0" 0 "$rc"
check_eq "eight orders in the store" 8 "$(q "SELECT count(*) FROM orders")"
check_eq "the journal is empty" 0 "$(stat -c %s "$J")"
check_eq "the store knows how far the journal went" 8 "$(q "SELECT value FROM meta WHERE key = 'intake_applied'")"

# ---- a half-written record at the end: set aside, the rest applied -------------------------
start_api "$W" "$T/run3.log"
check_contains "e9 accepted" "$(req POST /v1/events "$POS" "$(ev e9 M1 O9 60)")" '"status":"accepted"'
kill -9 "$RUNPID"; wait "$RUNPID" 2>/dev/null
printf '10 1795000000 0123456789abcdef {"id":"e10","type":"order.paid","mem' >> "$J"
start_api "$W" "$T/run4.log"
check_contains "the cut-short record is reported" "$(cat "$T/run4.log")" "were not a whole record (a write cut short); moved to"
check_contains "and kept aside" "$(cat "$J.dropped")" '"id":"e10"'
check_eq "e9 applied" 1 "$(q "SELECT count(*) FROM orders WHERE order_id = 'O9'")"
check_eq "e10 not" 0 "$(q "SELECT count(*) FROM orders WHERE order_id = 'O10'")"
check_contains "numbering goes on" "$(req POST /v1/events "$POS" "$(ev e11 M1 O11 60)")" '"status":"accepted"'
check_eq "as record 10" 10 "$(cut -d' ' -f1 "$J")"
kill -TERM "$RUNPID"; wait "$RUNPID"
check_eq "ten orders in all" 10 "$(q "SELECT count(*) FROM orders")"

# ---- a record is one line: a one-line body as it came, any other as printed ----------------
start_api "$W" "$T/run5.log"
AT='"at": "2026-11-23T12:30:00+08:00"'
printf ' { "id": "e12", "type": "order.paid", "member": "M1", %s, "order_id": "O12", "amount": 70.50 }\r\n' "$AT" > "$T/e12.json"
printf '{\n  "id": "e13",\n  "type": "order.paid",\n  "member": "M2",\n  %s,\n  "order_id": "O13",\n  "amount": 90.50\n}\n' "$AT" > "$T/e13.json"
check_contains "a one-line body with spaces and a line break after it" \
    "$(req POST /v1/events "$POS" "@$T/e12.json")" '"status":"accepted"'
check_contains "a body over several lines" "$(req POST /v1/events "$POS" "@$T/e13.json")" '"status":"accepted"'
check_eq "two records, one line each" 2 "$(records)"
check_eq "the one-line body is kept as it came, trimmed" \
    "{ \"id\": \"e12\", \"type\": \"order.paid\", \"member\": \"M1\", $AT, \"order_id\": \"O12\", \"amount\": 70.50 }" \
    "$(sed -n 1p "$J" | cut -d' ' -f4-)"
check_contains "the other is printed on one line" "$(sed -n 2p "$J")" '{"id":"e13","type":"order.paid","member":"M2","at":"2026-11-23T12:30:00+08:00","order_id":"O13","amount":90.5}'
kill -9 "$RUNPID"; wait "$RUNPID" 2>/dev/null
start_api "$W" "$T/run6.log"
check_contains "both applied after kill -9" "$(cat "$T/run6.log")" "intake journal: records 11 to 12 applied (2 events the store did not have yet)"
check_eq "their orders, at their amounts" "O12|7050 O13|9050" \
    "$(q "SELECT order_id, cents FROM orders WHERE order_id IN ('O12', 'O13') ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')"
kill -TERM "$RUNPID"; wait "$RUNPID"

# ---- a commit_ms that makes no sense stops the start, naming the line ----------------------
sed -i 's/^commit_ms = 60000$/commit_ms = soon/' "$W/nudge.conf"
line=$(grep -n '^commit_ms' "$W/nudge.conf" | cut -d: -f1)
err=$("$NUDGE" run "$W" 2>&1); rc=$?
check_status "commit_ms = soon: refused" 1 "$rc"
check_contains "the line and what is wanted" "$err" \
    "nudge.conf:$line: [api] commit_ms must be a whole number of milliseconds, 1 to 60000"
check_eq "nothing applied or lost meanwhile" 12 "$(q "SELECT count(*) FROM orders")"

# ---- nor does a commit_max_ms below commit_ms, or one that is not a number -----------------
sed -i 's/^commit_ms = soon$/commit_ms = 200/' "$W/nudge.conf"
echo "commit_max_ms = 150" >> "$W/nudge.conf"
line=$(grep -n '^commit_max_ms' "$W/nudge.conf" | cut -d: -f1)
err=$(timeout 30 "$NUDGE" run "$W" 2>&1); rc=$?   # a start that is not refused fails, not hangs
check_status "commit_max_ms below commit_ms: refused" 1 "$rc"
check_contains "the line and both values" "$err" \
    "nudge.conf:$line: [api] commit_max_ms (150) must not be less than commit_ms (200)"
sed -i 's/^commit_max_ms = 150$/commit_max_ms = 2x/' "$W/nudge.conf"
err=$(timeout 30 "$NUDGE" run "$W" 2>&1); rc=$?   # a start that is not refused fails, not hangs
check_status "commit_max_ms = 2x: refused" 1 "$rc"
check_contains "the line and what is wanted" "$err" \
    "nudge.conf:$line: [api] commit_max_ms must be a whole number of milliseconds, 1 to 60000"
sed -i 's/^commit_max_ms = 2x$/commit_max_ms = 800/' "$W/nudge.conf"
start_api "$W" "$T/run7.log"
check_contains "a valid one starts, at commit_ms" "$(curl -s -H "Authorization: Bearer $OPS" "$URL/metrics")" \
    "nudge_store_window_ms 200"
wal() { curl -s -H "Authorization: Bearer $OPS" "$URL/metrics" | awk '/^nudge_store_wal_bytes_total / { print $2 }'; }
w0=$(wal)
check_contains "e14 accepted" "$(req POST /v1/events "$POS" "$(ev e14 M1 O14 60)")" '"status":"accepted"'
check_contains "e14 again: a duplicate, answered at once" "$(req POST /v1/events "$POS" "$(ev e14 M1 O14 60)")" '"status":"duplicate"'
sleep 0.7   # the 200 ms window closes
m=$(curl -s -H "Authorization: Bearer $OPS" "$URL/metrics")
check_contains "one lazy commit: the window of e14" "$m" 'nudge_store_commit_seconds_count{kind="lazy"} 1'
check_contains "it held the loop for less than a second" "$m" 'nudge_store_commit_seconds_bucket{kind="lazy",le="1"} 1'
check_contains "both answers counted" "$m" 'nudge_events_answer_seconds_count 2'
check_contains "a small WAL was not started over" "$m" 'nudge_store_wal_restarts_total 0'
check_contains "so that took no time" "$m" 'nudge_store_wal_restart_seconds_total 0.000000'
w1=$(wal)
check_eq "the lazy commit wrote to the WAL, in whole frames (a 4 KB page and its 24-byte header)" \
    "yes 0" "$([ "${w1:-0}" -gt "${w0:-0}" ] && echo yes) $(( (${w1:-0} - ${w0:-0}) % 4120 ))"
kill -TERM "$RUNPID"; wait "$RUNPID"
check_eq "still nothing lost, and e14 once" 13 "$(q "SELECT count(*) FROM orders")"

# ---- a tick that finds nobody due commits lazily -----------------------------------------
# (a synced commit would sync every lazy commit's frames not yet synced:
# a pause of the loop for nothing)
W2=$(new_ws tick Asia/Shanghai)
"$NUDGE" import "$W2" "$T/m.csv" >/dev/null || bad "import (tick)"
printf 'return { wechat = { template_id = "TM-FLASH", data = { thing1 = "{{name}}" } } }\n' > "$W2/templates/flash.lua"
at=$(date -u -d "+6 seconds" +%Y-%m-%dT%H:%M:%SZ)   # after the start below
cat > "$W2/journeys/platinum_flash.lua" <<EOF
return journey "platinum_flash" {
  trigger = once("$at"), quiet_hours = false,
  audience = function(m) return m.tier == "platinum" end,
  steps = { send { id = "flash", template = "flash", channels = { "wechat" } } },
}
EOF
cat >> "$W2/nudge.conf" <<EOF

[api]
listen = 127.0.0.1:0
token.ops = env:T_OPS
scopes.ops = admin
EOF
"$NUDGE" check "$W2" >/dev/null || bad "check (tick)"
q2() { sqlite3 -cmd '.timeout 5000' "$W2/nudge.db" "$1"; }
commits() {
    curl -s -H "Authorization: Bearer $OPS" "$URL/metrics" |
        awk -v k="nudge_store_commit_seconds_count{kind=\"$1\"}" '$1 == k { print $2 }'
}
start_api "$W2" "$T/run8.log"
sleep 0.3   # the start's own commit
s0=$(commits synced); l0=$(commits lazy)
ticked() { test "$(q2 "SELECT value >= strftime('%s', '$at') FROM meta WHERE key = 'run_clock'")" = 1; }
wait_for 15 ticked || bad "the tick at $at did not come (or was not committed)"
s1=$(commits synced); l1=$(commits lazy)
check_eq "the tick ran; nobody was platinum, nothing decided" 0 "$(q2 "SELECT count(*) FROM messages")"
check_eq "its commit was lazy, not synced" "0 yes" "$((s1 - s0)) $([ "${l1:-0}" -gt "${l0:-0}" ] && echo yes)"
kill -TERM "$RUNPID"; wait "$RUNPID"

finish
