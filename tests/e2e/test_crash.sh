#!/usr/bin/env bash
# kill -9 the daemon while it dispatches 10,000 WeChat messages to the mock,
# restart it, and check that every message reached the provider, none was
# delivered twice (the mock deduplicates on openid + client_msg_id, as
# WeChat does), and the outbox agrees with what the mock received.
. "$(dirname "$0")/lib.sh"
MOCK="$ROOT/build/mockprov"
N=${CRASH_N:-10000}
W=$(new_ws crash Asia/Shanghai)
cp "$ROOT/rules-examples/templates/member_day.lua" "$W/templates/"
awk -v n="$N" 'BEGIN { print "id,name,wechat_openid,wechat_subscribed,tier";
    for (i = 1; i <= n; i++) printf "K%06d,会员%d,oK%06d,1,gold\n", i, i, i }' > "$T/m.csv"
"$NUDGE" import "$W" "$T/m.csv" >/dev/null
"$MOCK" --port 0 --port-file "$T/port" --log "$T/mock.jsonl" 2>/dev/null &
MOCKPID=$!
trap 'kill -9 $RUNPID $MOCKPID 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
cat >> "$W/nudge.conf" <<EOF2

[wechat]
endpoint = http://127.0.0.1:$(cat "$T/port")
appid = wxmockappid
secret = mocksecret
concurrency = 32
rate = 3000
EOF2
at=$(date -u -d '+3 sec' +%Y-%m-%dT%H:%M:%SZ)
cat > "$W/journeys/broadcast.lua" <<EOF2
return journey "broadcast" {
  trigger = once("$at"), quiet_hours = false,
  steps = { send { id = "go", template = "member_day", channels = { "wechat" } } },
}
EOF2
"$NUDGE" run "$W" 2>"$T/run1.log" &
RUNPID=$!
# kill it once the provider has seen a few hundred messages (rate 3000/s: mid-dispatch)
for _ in $(seq 300); do
    [ "$(grep -c '"delivered":true' "$T/mock.jsonl" 2>/dev/null)" -ge 300 ] && break; sleep 0.05
done
kill -9 $RUNPID; wait $RUNPID 2>/dev/null
before=$(grep -c '"delivered":true' "$T/mock.jsonl")
check_status "killed mid-dispatch" 0 "$([ "$before" -ge 300 ] && [ "$before" -lt "$N" ]; echo $?)"
"$NUDGE" run "$W" 2>"$T/run2.log" &
RUNPID=$!
for _ in $(seq 600); do
    [ "$(grep -c '"delivered":true' "$T/mock.jsonl")" -ge "$N" ] && break; sleep 0.1
done
sleep 1
kill -TERM $RUNPID; wait $RUNPID
check_status "the restarted daemon stops cleanly" 0 $?
check_contains "the restart queued the messages left sending" "$(cat "$T/run2.log")" "left in 'sending' by the last run are queued again"
kill $MOCKPID; wait $MOCKPID 2>/dev/null
delivered=$(jq -r 'select(.kind=="send" and .delivered) | .touser' "$T/mock.jsonl" | sort)
check_eq "every member got the message" "$N" "$(printf '%s\n' "$delivered" | uniq | wc -l)"
check_eq "none twice" "$N" "$(printf '%s\n' "$delivered" | wc -l)"
check_eq "one client_msg_id per member" "$N" \
    "$(jq -r 'select(.kind=="send") | .touser + " " + .client_msg_id' "$T/mock.jsonl" | sort -u | wc -l)"
check_eq "the outbox agrees: all sent" "$N" "$("$NUDGE" outbox "$W" --status sent | tail -n +2 | wc -l)"
check_eq "nothing else left" 0 "$("$NUDGE" outbox "$W" | awk 'NR > 1 && $2 != "sent"' | wc -l)"
echo "crash: $before delivered before kill -9; $(jq -c 'select(.dup)' "$T/mock.jsonl" | wc -l) resends absorbed by client_msg_id" >&2
finish
