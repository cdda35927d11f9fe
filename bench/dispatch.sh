#!/usr/bin/env bash
# Dispatch throughput: nudge run delivering N WeChat template messages to
# the loopback mock provider, against the ceiling measured in the same run
# (../shared/limits' bare libcurl multi client, hiperfifo pattern, 64 in
# flight, against the same mock). The mock on cpu 0, the client on cpu 1,
# as the limits do. Prints RESULT lines.
#
#   bench/dispatch.sh [N]            (default 100000)
#   FAIL_PCT=10 bench/dispatch.sh    10% of sends answer errcode -1 (retried)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100000}
FAIL_PCT=${FAIL_PCT:-0}
LIMITS=${LIMITS:-$ROOT/../shared/limits}
NUDGE=$ROOT/build/nudge MOCK=$ROOT/build/mockprov
T=$(mktemp -d "${TMPDIR:-/tmp}/nudge-disp.XXXXXX")
MOCKPID= RUNPID=
cleanup() { [ -n "$RUNPID" ] && kill -9 "$RUNPID" 2>/dev/null; [ -n "$MOCKPID" ] && kill "$MOCKPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
# runs (execs) the command on one cpu when there are two
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then exec taskset -c "$@"; else shift; exec "$@"; fi; }

start_mock() {
    rm -f "$T/port" "$T/mock.jsonl"
    ( pin 0 "$MOCK" --port 0 --port-file "$T/port" --log "$T/mock.jsonl" "$@" ) &
    MOCKPID=$!
    for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
    PORT=$(cat "$T/port")
}
stop_mock() { kill "$MOCKPID"; wait "$MOCKPID" 2>/dev/null; MOCKPID=; }

# ---- the ceiling: a bare libcurl multi client against the same mock -----
# measured before and after nudge's run; the ratio uses the higher one
CEILINGS=()
ceiling() {
    [ -d "$LIMITS" ] || { echo "# no limits directory at $LIMITS: ceiling skipped"; return; }
    if [ ! -x "$T/limits/curl_bench" ]; then
        cp -r "$LIMITS/." "$T/limits"
        make -s -C "$T/limits" curl_bench >/dev/null 2>&1
    fi
    start_mock
    local tok out
    tok=$(curl -s "http://127.0.0.1:$PORT/cgi-bin/token?grant_type=client_credential&appid=wxmockappid&secret=mocksecret" |
          sed 's/.*"access_token":"\([^"]*\)".*/\1/')
    out=$( cd "$T/limits" && pin 1 ./curl_bench event 64 5 \
        "http://127.0.0.1:$PORT/cgi-bin/message/template/send?access_token=$tok" 2>/dev/null | grep RESULT)
    stop_mock
    echo "$out" | sed "s/curl_event_c64/dispatch_ceiling_$1_curl_event_c64/"
    CEILINGS+=("$(echo "$out" | awk '$2 == "curl_event_c64" { print $3 }')")
}
ceiling before

# ---- nudge: N members, one journey that fires once, everything to WeChat --
"$NUDGE" init "$T/ws" --brand 悦肤 >/dev/null
awk -v n="$N" 'BEGIN { print "id,name,wechat_openid,wechat_subscribed,tier";
    for (i = 1; i <= n; i++) printf "B%07d,会员%d,oBENCH%07dxxxxxxxxxxxxxxxxxx,1,gold\n", i, i, i }' > "$T/members.csv"
"$NUDGE" import "$T/ws" "$T/members.csv" >/dev/null
cp "$ROOT/rules-examples/templates/member_day.lua" "$T/ws/templates/"
if [ "$FAIL_PCT" -gt 0 ]; then start_mock --errcode-rate "$FAIL_PCT:-1"; else start_mock; fi
cat >> "$T/ws/nudge.conf" <<EOF

[wechat]
endpoint = http://127.0.0.1:$PORT
appid = wxmockappid
secret = mocksecret
concurrency = 64
rate = 0
timeout_ms = 5000
backoff_ms = 200
backoff_max_ms = 1000
max_attempts = 10
EOF
at=$(date -u -d '+3 sec' +%Y-%m-%dT%H:%M:%SZ)
fire_us=$(($(date -u -d "$at" +%s) * 1000000))
cat > "$T/ws/journeys/broadcast.lua" <<EOF
return journey "broadcast" {
  trigger = once("$at"), quiet_hours = false,
  steps = { send { id = "go", template = "member_day", channels = { "wechat" } } },
}
EOF
( pin 1 "$NUDGE" run "$T/ws" 2>"$T/run.log" ) &
RUNPID=$!
# wait on the mock's log, not on nudge status: a status query every half
# second would compete with the daemon for the machine's two cores
for _ in $(seq 1200); do
    sleep 0.5
    [ "$(grep -c '"delivered":true' "$T/mock.jsonl")" -ge "$N" ] && break
done
sleep 0.2   # the last outcomes' commit
kill -TERM "$RUNPID"; wait "$RUNPID"; RUNPID=
sent=$("$NUDGE" status "$T/ws" 2>/dev/null | awk '$1 == "wechat" && $2 == "sent" { print $3 }')
stop_mock
suffix=""; [ "$FAIL_PCT" -gt 0 ] && suffix="_fail${FAIL_PCT}pct"
delivered=$(grep -c '"delivered":true' "$T/mock.jsonl")
requests=$(grep -c '"kind":"send"' "$T/mock.jsonl")
echo "RESULT nudge_dispatch${suffix}.sent ${sent:-0} messages"
echo "RESULT nudge_dispatch${suffix}.delivered_once $delivered messages ($requests requests)"
# throughput: first to last request the mock saw; latency: from the
# instant the journey fired to the request that delivered each message
grep '"kind":"send"' "$T/mock.jsonl" | sed 's/^{"t":\([0-9]*\).*"delivered":\([a-z]*\).*/\1 \2/' | sort -n > "$T/times"
awk -v sfx="$suffix" 'NR == 1 { t0 = $1 } { t1 = $1; if ($2 == "true") n++ }
    END { secs = (t1 - t0) / 1e6
          if (secs > 0) printf "RESULT nudge_dispatch%s %.0f req/s\n", sfx, NR / secs
          if (secs > 0) printf "RESULT nudge_dispatch%s.messages %.0f messages/s\n", sfx, n / secs }' "$T/times"
ceiling after
best=$(printf '%s\n' "${CEILINGS[@]}" | sort -n | tail -1)
if [ -n "$best" ]; then
    awk -v sfx="$suffix" -v best="$best" 'NR == 1 { t0 = $1 } { t1 = $1; if ($2 == "true") n++ }
        END { secs = (t1 - t0) / 1e6
              if (secs > 0) printf "RESULT nudge_dispatch%s.ratio %.0f %% of the higher ceiling (%s req/s)\n", sfx, 100 * NR / secs / best, best }' "$T/times"
fi
awk -v fire="$fire_us" '$2 == "true" { printf "%.1f\n", ($1 - fire) / 1000 }' "$T/times" | sort -n > "$T/lat"
n=$(wc -l < "$T/lat")
if [ "$n" -gt 0 ]; then
    echo "RESULT nudge_dispatch${suffix}.p50 $(sed -n "$(( (n + 1) / 2 ))p" "$T/lat") ms (from the journey's instant)"
    echo "RESULT nudge_dispatch${suffix}.p99 $(sed -n "$(( (n * 99 + 99) / 100 ))p" "$T/lat") ms"
fi
