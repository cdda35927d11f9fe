#!/usr/bin/env bash
# SIGTERM while the daemon dispatches what events posted over HTTP
# decided, with provider calls hanging: it stops taking requests, lets the
# calls in flight finish, saves, exits 0; the restart sends the rest.
# Nothing lost, nothing twice (the mock deduplicates on client_msg_id, as
# WeChat does, and logs every request).
. "$(dirname "$0")/lib.sh"
N=2000
POS=pos-0123456789abcdef
W=$(new_ws sigterm Asia/Shanghai)
awk -v n="$N" 'BEGIN { print "id,name,wechat_openid,wechat_subscribed";
    for (i = 1; i <= n; i++) printf "K%05d,会员%d,oK%05d,1\n", i, i, i }' > "$T/m.csv"
"$NUDGE" import "$W" "$T/m.csv" >/dev/null || bad "import"
# the first 40 sends hang 3 s: calls are in flight when SIGTERM comes
start_mock "$T" --hang-first 40:3000
cat > "$W/templates/thanks.lua" <<'EOF'
return { wechat = { template_id = "TM-THANKS", data = { thing1 = "{{name}}", amount2 = "{{amount}}" } } }
EOF
cat > "$W/journeys/thanks.lua" <<'EOF'
return journey "thanks" {
  trigger = on("order.paid"), quiet_hours = false,
  steps = { send { id = "thanks", template = "thanks", channels = { "wechat" } } },
}
EOF
cat >> "$W/nudge.conf" <<EOF

[wechat]
endpoint = http://127.0.0.1:$MOCKPORT
appid = wxmockappid
secret = mocksecret
concurrency = 32
rate = 400

[api]
listen = 127.0.0.1:0
token.pos = env:T_POS
scopes.pos = write
EOF
export T_POS=$POS
start() { start_api "$W" "$T/run$1.log"; }
delivered() { jq -r 'select(.kind=="send" and .delivered) | .touser' "$T/mock.jsonl" 2>/dev/null | wc -l; }
start 1
for b in 0 1 2 3; do
    awk -v b="$b" -v n="$N" 'BEGIN { printf "["; for (i = b * n / 4 + 1; i <= (b + 1) * n / 4; i++)
        printf "%s{\"id\":\"o%d\",\"type\":\"order.paid\",\"member\":\"K%05d\",\"at\":\"2026-12-01T10:00:00+08:00\",\"order_id\":\"O%d\",\"amount\":%d}",
            (i > b * n / 4 + 1 ? "," : ""), i, i, i, i % 500 + 1; printf "]" }' > "$T/batch$b.json"
    out=$(curl -s -H "Authorization: Bearer $POS" --data-binary @"$T/batch$b.json" "$URL/v1/events")
    check_eq "batch $b: 500 accepted" 500 "$(jq .accepted <<<"$out")"
done
# answered: decided and durable (the intake journal); the store's next
# commit shows them to other readers
msgs() { sqlite3 -cmd '.timeout 5000' "$W/nudge.db" "SELECT count(*) FROM messages WHERE journey = 'thanks'"; }
wait_for 5 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$W/nudge.db' \"SELECT count(*) FROM messages WHERE journey = 'thanks'\")\" = $N ]"
check_eq "every event's message was decided, one each" "$N" "$(msgs)"
# the first sends reach the mock and hang there: stop now, with them in flight
wait_for 10 bash -c "[ \$(jq -r 'select(.kind==\"send\" and .delivered) | .touser' '$T/mock.jsonl' | wc -l) -ge 20 ]"
kill -TERM "$RUNPID"
t0=$(date +%s%N)
wait "$RUNPID"; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check_status "SIGTERM mid-dispatch: exit 0" 0 $rc
check_status "after waiting for the hanging calls (3 s each), within the 10 s grace ($ms ms)" 0 \
    "$([ "$ms" -ge 300 ] && [ "$ms" -lt 10000 ]; echo $?)"
check_contains "it said what it was doing" "$(cat "$T/run1.log")" "SIGTERM: finishing provider calls in flight, then stopping"
before=$(delivered)
check_status "stopped part-way" 0 "$([ "$before" -ge 20 ] && [ "$before" -lt "$N" ]; echo $?)"
check_eq "no call was left in flight: nothing 'sending'" 0 \
    "$(sqlite3 "$W/nudge.db" "SELECT count(*) FROM messages WHERE status = 'sending'")"
check_eq "the outbox agrees with the provider" "$before" \
    "$(sqlite3 "$W/nudge.db" "SELECT count(*) FROM messages WHERE status = 'sent'")"

start 2
wait_for 30 bash -c "[ \$(jq -r 'select(.kind==\"send\" and .delivered) | .touser' '$T/mock.jsonl' | wc -l) -ge $N ]"
check_status "the restart sends the rest" 0 $?
sleep 0.5
check_eq "a duplicate event after the restart is known" '"duplicate"' \
    "$(curl -s -H "Authorization: Bearer $POS" --data-binary '{"id":"o1","type":"order.paid","member":"K00001","at":"2026-12-01T10:00:00+08:00","order_id":"O1","amount":2}' "$URL/v1/events" | jq '.results[0].status')"
kill -TERM "$RUNPID"; wait "$RUNPID"
check_status "and stops cleanly" 0 $?
check_eq "every member got one message" "$N" "$(jq -r 'select(.kind=="send" and .delivered) | .touser' "$T/mock.jsonl" | sort -u | wc -l)"
check_eq "none twice" "$N" "$(delivered)"
check_eq "all sent in the outbox" "$N" "$(sqlite3 "$W/nudge.db" "SELECT count(*) FROM messages WHERE status = 'sent'")"
finish
