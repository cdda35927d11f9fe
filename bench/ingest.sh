#!/usr/bin/env bash
# Event ingest over HTTP: wrk posting order.paid events to nudge run's
# POST /v1/events for SECS seconds, every event durable and evaluated (an
# on("order.paid") journey with an audience and a send step queues one
# message per event), against the bare evhttp ceiling measured in the same
# run (../shared/limits/httpd, wrk GET with the same connections and
# duration), before nudge's run and again after it: the ratio is against
# the mean of the two. Then constant-rate runs (bench/ingest_client.c) at fractions of
# that ceiling, with the latency from request to queued message (the daemon
# answers after the group commit that holds the event and its message).
# Server (httpd, nudge) on cpu 0, clients on cpu 1, as the limits do.
# Everything stays on 127.0.0.1. Prints RESULT lines.
#
#   bench/ingest.sh [SECS]                  (default 30)
#   CONNS=64 MEMBERS=100000 bench/ingest.sh
#   CR_FRACS="0.5 0.15" CR_SECS=10          constant-rate runs at these fractions of the ceiling
#   CR_NUDGE_FRACS="0.5"                     ... and of the rate nudge reached under wrk
#   CR_RATES="2000 5000"                     ... or at these rates (req/s) instead
#   DISPATCH=mock                            also deliver to build/mockprov (WeChat), to see its cost
#   CEIL_SCRIPT=1                            also the ceiling with the same wrk Lua script (POST bodies)
#   KEEP=1                                   keep the scratch directory (workspace, logs, samples)
#   COMMIT_MS=100                            the store's lazy commit period ([api] commit_ms)
#   HISTORY=2000000                          post this many events first (at HISTORY_RATE/s, default
#                                            10000), so the runs meet a store that has lived: its
#                                            indexes large, each event's pages its own in the WAL
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-${SECS:-30}}
CONNS=${CONNS:-64}
MEMBERS=${MEMBERS:-100000}
CR_FRACS=${CR_FRACS-"0.5 0.15"}
CR_NUDGE_FRACS=${CR_NUDGE_FRACS-"0.5"}
CR_RATES=${CR_RATES:-}
CR_SECS=${CR_SECS:-10}
CR_CONNS=${CR_CONNS:-256}
DISPATCH=${DISPATCH:-none}
CEIL_SCRIPT=${CEIL_SCRIPT:-0}
HISTORY=${HISTORY:-0}
HISTORY_RATE=${HISTORY_RATE:-10000}
LIMITS=${LIMITS:-$ROOT/../shared/limits}
B=${B:-build}
NUDGE=$ROOT/$B/nudge MOCK=$ROOT/$B/mockprov CLIENT=$ROOT/$B/ingest-client
T=$(mktemp -d "${TMPDIR:-/tmp}/nudge-ingest.XXXXXX")
HTTPD= RUNPID= MOCKPID=
cleanup() {
    [ -n "$HTTPD" ] && kill "$HTTPD" 2>/dev/null
    [ -n "$RUNPID" ] && kill -9 "$RUNPID" 2>/dev/null
    [ -n "$MOCKPID" ] && kill "$MOCKPID" 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# runs (execs) the command on one cpu when there are two
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then exec taskset -c "$@"; else shift; exec "$@"; fi; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # utime + stime, clock ticks
HZ=$(getconf CLK_TCK)
now() { date +%s.%N; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", 100 * a / b; else print 0 }'; }

# ---- build, and wrk -----------------------------------------------------
if ! command -v wrk >/dev/null; then
    echo "# installing wrk (Debian package)"
    SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
    $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 ||
        { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null; } ||
        { echo "# cannot install wrk"; exit 1; }
fi
make -s -C "$ROOT" B="$B" all "$B/ingest-client" || exit 1

echo "# nudge ingest bench $(date -u +%FT%TZ): $(nproc) cpus, $(uname -r), wrk -t2 -c$CONNS -d${SECS}s, $MEMBERS members, dispatch: $DISPATCH"

# ---- the wrk script: one order.paid event per request --------------------
# args: members, run id (makes ids unique across runs), token
cat > "$T/ingest.lua" <<'EOF'
local threads, nthreads = {}, 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  threads[nthreads] = thread
end
function init(args)
  members, run, token = tonumber(args[1]), args[2], args[3]
  n, s2xx, acc, non2xx = 0, 0, 0, 0
  math.randomseed(tid * 7919 + #run)
  hdrs = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
end
function request()
  n = n + 1
  local id = run .. "-" .. tid .. "-" .. n
  return wrk.format("POST", nil, hdrs, string.format(
    '{"id":"e%s","type":"order.paid","member":"B%07d","at":"%s","order_id":"O%s","amount":199.00}',
    id, math.random(members), os.date("!%Y-%m-%dT%H:%M:%SZ"), id))
end
function response(status, headers, body)
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
    if string.find(body, '"accepted":1', 1, true) then acc = acc + 1 end
  else
    non2xx = non2xx + 1
  end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("s2xx"); b = b + t:get("acc"); c = c + t:get("non2xx") end
  io.write(string.format("WRKCHECK %d %d %d\n", a, b, c))
  io.write(string.format("WRKLAT %.2f %.2f %.2f\n", latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
EOF

# wrk_run NAME SERVER_PID wrk-args...: RESULT lines; sets RPS
wrk_run() {
    local name=$1 spid=$2 c0 c1 t0 t1 out
    shift 2
    c0=$(ticks "$spid"); t0=$(now)
    # bash's times: the user and system CPU of the subshell's children (wrk)
    out=$( ( pin 1 wrk "$@" ) 2>&1; echo WRKTIMES; times )
    t1=$(now); c1=$(ticks "$spid")
    echo "$out" > "$T/$name.wrk"
    RPS=$(echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
    echo "RESULT $name ${RPS:-0} req/s"
    echo "RESULT $name.server_cpu $(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" \
        'BEGIN { printf "%.0f", 100 * (b - a) / hz / (t1 - t0) }') %cpu"
    echo "RESULT $name.wrk_cpu $(echo "$out" | awk -v t0="$t0" -v t1="$t1" \
        'function secs(x) { split(x, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] }
         /^WRKTIMES/ { n = NR } n && NR == n + 2 { printf "%.0f", 100 * (secs($1) + secs($2)) / (t1 - t0) }') %cpu"
    SERVER_US=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$(echo "$out" | awk '/requests in/ { print $1 }')" \
        'BEGIN { if (n > 0) printf "%.0f", 1e6 * (b - a) / hz / n; else print 0 }')
    echo "RESULT $name.server_cpu_per_request $SERVER_US us"
    if echo "$out" | grep -qE 'Non-2xx|Socket errors'; then
        echo "# WARNING: $name: $(echo "$out" | grep -E 'Non-2xx|Socket errors' | tr '\n' ' ')"
    fi
}

# ---- the ceiling: wrk against the bare evhttp server of the limits --------
# ceiling_run NAME [script]: wrk against a fresh httpd for SECS; sets RPS.
# Measured before nudge's run and again after it (nothing else running):
# this machine's speed drifts by a quarter within minutes, and the ratio
# is taken against the mean of the two, which bracket nudge's run.
ceiling_run() {
    for HPORT in $(seq 18180 18199); do   # a free port (the limits' own 18080 may be in use)
        ( cd "$T/limits" && pin 0 ./httpd "$HPORT" ) 2>"$T/httpd.log" &
        HTTPD=$!
        for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$HPORT") 2>/dev/null && break; sleep 0.05; done
        kill -0 "$HTTPD" 2>/dev/null && break
        wait "$HTTPD" 2>/dev/null; HTTPD=
    done
    [ -n "$HTTPD" ] || { echo "# httpd did not start"; exit 1; }
    sleep 0.2
    wrk_run "$1" "$HTTPD" -t2 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$HPORT/"
    if [ "${2:-}" = script ]; then
        local rps=$RPS
        wrk_run "$1_script" "$HTTPD" -t2 -c"$CONNS" -d"${SECS}s" -s "$T/ingest.lua" \
            "http://127.0.0.1:$HPORT/v1/events" -- "$MEMBERS" ceil x
        RPS=$rps
    fi
    kill "$HTTPD"; wait "$HTTPD" 2>/dev/null; HTTPD=
}
CEILING= CEILING_BEFORE=
if [ -d "$LIMITS" ]; then
    cp -r "$LIMITS/." "$T/limits"
    make -s -C "$T/limits" httpd >/dev/null 2>&1 || { echo "# cannot build $LIMITS/httpd"; exit 1; }
    ceiling_run ingest_ceiling_evhttp_wrk "$([ "$CEIL_SCRIPT" = 1 ] && echo script)"
    CEILING_BEFORE=$RPS CEILING=$RPS
    # the disk's flush rate (4 KiB pwrite + fdatasync, in the scratch
    # directory's file system): the floor under every synced commit
    if make -s -C "$T/limits" sqlite_bench >/dev/null 2>&1; then
        mkdir -p "$T/limits/data"
        ( cd "$T/limits" && ./sqlite_bench data 1 fsync ) 2>/dev/null |
            awk '$1 == "RESULT" { printf "RESULT ingest_ceiling_disk_fdatasync %s %s (%.0f us each)\n", $3, $4, 1e6 / $3 }'
    fi
else
    echo "# no limits directory at $LIMITS: ceiling skipped"
fi

# ---- the workspace: members all reachable, one journey on order.paid -----
W=$T/ws
"$NUDGE" init "$W" --brand 悦肤 >/dev/null || exit 1
awk -v n="$MEMBERS" 'BEGIN { print "id,name,phone,wechat_openid,wechat_subscribed,tier";
    for (i = 1; i <= n; i++) printf "B%07d,会员%d,139%08d,oBENCH%07dxxxxxxxxxxxxxxxxxx,1,gold\n", i, i, i, i }' > "$T/members.csv"
"$NUDGE" import "$W" "$T/members.csv" >/dev/null || exit 1
cat > "$W/templates/paid_thanks.lua" <<'EOF'
return {
  wechat = { template_id = "TM-PAID", data = { first = "{{name}}，感谢您的订单", keyword1 = "{{order_id}}", keyword2 = "{{amount}}元" } },
  sms = "{{name}}，感谢您的订单（{{amount}}元），期待您再次光临。",
}
EOF
cat > "$W/journeys/paid_thanks.lua" <<'EOF'
return journey "paid_thanks" {
  trigger  = on("order.paid"),
  audience = function(m, o) return o.amount >= 100 and m.tier == "gold" end,
  quiet_hours = false,
  steps = { send { id = "thanks", template = "paid_thanks", channels = { "wechat", "sms" } } },
}
EOF
TOKEN=pos-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
OPS=ops-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
cat >> "$W/nudge.conf" <<EOF

[api]
listen = 127.0.0.1:0
token.pos = env:NUDGE_BENCH_POS
scopes.pos = write
token.ops = env:NUDGE_BENCH_OPS
scopes.ops = admin
EOF
[ -n "${COMMIT_MS:-}" ] && echo "commit_ms = $COMMIT_MS" >> "$W/nudge.conf"
# without a [wechat]/[sms] section the channels have no sender: messages
# stay queued, nothing is sent anywhere. DISPATCH=mock delivers them to the
# loopback mock (on the clients' cpu) to show what dispatch costs.
if [ "$DISPATCH" = mock ]; then
    ( pin 1 "$MOCK" --port 0 --port-file "$T/mockport" --log /dev/null ) 2>"$T/mock.err" &
    MOCKPID=$!
    for _ in $(seq 50); do [ -s "$T/mockport" ] && break; sleep 0.1; done
    cat >> "$W/nudge.conf" <<EOF

[wechat]
endpoint = http://127.0.0.1:$(cat "$T/mockport")
appid = wxmockappid
secret = mocksecret
concurrency = 16
rate = 0
EOF
fi
"$NUDGE" check "$W" >/dev/null || { "$NUDGE" check "$W"; exit 1; }

start_nudge() {
    : > "$T/run.log"
    ( export NUDGE_BENCH_POS=$TOKEN NUDGE_BENCH_OPS=$OPS; pin 0 "$NUDGE" run "$W" ) 2>>"$T/run.log" &
    RUNPID=$!
    for _ in $(seq 100); do grep -q 'api listening on' "$T/run.log" && break; sleep 0.05; done
    PORT=$(grep -o 'api listening on 127.0.0.1:[0-9]*' "$T/run.log" | sed 's/.*://')
    [ -n "$PORT" ] || { echo "# nudge run did not start:"; cat "$T/run.log"; exit 1; }
    URL=http://127.0.0.1:$PORT/v1/events
}
accepted_total() {   # the daemon's own count of accepted events
    curl -s "http://127.0.0.1:$PORT/metrics" -H "Authorization: Bearer $OPS" |
        awk '/^nudge_events_total\{outcome="accepted"\}/ { print $2 }'
}
window_ms() {   # the store's window of accepted events now (longer while the loop is behind)
    curl -s "http://127.0.0.1:$PORT/metrics" -H "Authorization: Bearer $OPS" | awk '/^nudge_store_window_ms / { print $2 }'
}
metrics_to() { curl -s "http://127.0.0.1:$PORT/metrics" -H "Authorization: Bearer $OPS" > "$1"; }
# hist_delta BEFORE AFTER METRIC SELECTOR BOUND: a histogram's change
# between two /metrics snapshots: "count sum_seconds within_bound" (SELECTOR
# is its labels without le, as they appear: 'kind="lazy",' or '')
hist_delta() {
    awk -v m="$3" -v sel="$4" -v le="$5" '
        FNR == 1 { f++ }
        { v = $NF; k = $1 }
        k == m "_count" || k == m "_count{" substr(sel, 1, length(sel) - 1) "}" { c[f] = v }
        k == m "_sum" || k == m "_sum{" substr(sel, 1, length(sel) - 1) "}" { s[f] = v }
        k == m "_bucket{" sel "le=\"" le "\"}" { b[f] = v }
        END { printf "%d %.6f %d\n", c[2] - c[1], s[2] - s[1], b[2] - b[1] }' "$1" "$2"
}
# wal_per_event BEFORE AFTER: KB the store's commits wrote to the WAL per
# event accepted between two /metrics snapshots
wal_per_event() {
    awk 'FNR == 1 { f++ }
         /^nudge_store_wal_bytes_total / { w[f] = $2 }
         /^nudge_events_total\{outcome="accepted"\}/ { a[f] = $2 }
         END { n = a[2] - a[1]; printf "%.1f", (n > 0 ? (w[2] - w[1]) / 1024 / n : 0) }' "$1" "$2"
}
q() { sqlite3 -cmd '.timeout 5000' "$W/nudge.db" "$1"; }
store_events() { q "SELECT count(*) FROM events"; }
store_msgs() { q "SELECT count(*) FROM messages WHERE journey = 'paid_thanks'"; }

# ---- nudge: wrk for SECS seconds ------------------------------------------
start_nudge
if [ "$HISTORY" -gt 0 ]; then
    hsecs=$(awk -v n="$HISTORY" -v r="$HISTORY_RATE" 'BEGIN { printf "%d", (n + r - 1) / r }')
    echo "# history: $HISTORY_RATE events/s for $hsecs s first (HISTORY=$HISTORY)"
    ( pin 1 "$CLIENT" --url "$URL" --token "$TOKEN" --rate "$HISTORY_RATE" --secs "$hsecs" --members "$MEMBERS" \
        --run hist --conns "$CR_CONNS" --name history ) 2>/dev/null | grep -E '\.(requests|p99) '
    sleep "$(awk -v w="$(window_ms)" 'BEGIN { printf "%.2f", (w > 0 ? w : 100) / 1000 + 0.2 }')"   # its last window
    echo "RESULT history.store $(store_events) events, $(q "SELECT count(*) FROM messages") messages, $(( $(q "PRAGMA page_count") * $(q "PRAGMA page_size") / 1048576 )) MB"
fi
# 2 s of warm-up (caches, connections), not counted
( pin 1 wrk -t2 -c"$CONNS" -d2s -s "$T/ingest.lua" "$URL" -- "$MEMBERS" warm "$TOKEN" ) >/dev/null 2>&1
# the store has the warm-up's events once its window (longer while the
# loop was behind) has closed: the counts below start from there
sleep "$(awk -v w="$(window_ms)" 'BEGIN { printf "%.2f", (w > 0 ? w : 100) / 1000 + 0.2 }')"
acc0=$(accepted_total); ev0=$(store_events); msg0=$(store_msgs)
metrics_to "$T/mw0"
wrk_run ingest_nudge_wrk "$RUNPID" -t2 -c"$CONNS" -d"${SECS}s" -s "$T/ingest.lua" "$URL" -- "$MEMBERS" w1 "$TOKEN"
NUDGE_RPS=$RPS
metrics_to "$T/mw1"
echo "RESULT ingest_nudge_wrk.wal $(wal_per_event "$T/mw0" "$T/mw1") KB an event (what the store's commits wrote to the WAL)"
echo "RESULT ingest_nudge_wrk.window $(window_ms) ms at the end (the store's window of accepted events: [api] commit_ms, longer while the loop is behind)"
read -r w2xx wacc wnon < <(awk '/^WRKCHECK/ { print $2, $3, $4 }' "$T/ingest_nudge_wrk.wrk")
read -r l50 l99 lmax < <(awk '/^WRKLAT/ { print $2, $3, $4 }' "$T/ingest_nudge_wrk.wrk")
echo "RESULT ingest_nudge_wrk.answers ${w2xx:-0} 2xx (${wacc:-0} accepted), ${wnon:-0} non-2xx"
echo "RESULT ingest_nudge_wrk.latency p50 ${l50:-?} ms, p99 ${l99:-?} ms, max ${lmax:-?} ms (closed loop, $CONNS connections)"
# durable: kill -9 right after the run; every answered event must be in
# the store once the restart has applied the intake journal (events the
# store had not written yet when the daemon died)
sleep 0.1
acc1=$(accepted_total)
kill -9 "$RUNPID"; wait "$RUNPID" 2>/dev/null; RUNPID=
# the ceiling again, with nudge stopped: the ratio is against the mean
if [ -n "$CEILING_BEFORE" ]; then
    ceiling_run ingest_ceiling_evhttp_wrk_after
    CEILING=$(( (CEILING_BEFORE + RPS) / 2 ))
    echo "RESULT ingest_ceiling_evhttp_wrk_mean $CEILING req/s (before nudge's run $CEILING_BEFORE, after it $RPS)"
fi
if [ -n "$CEILING" ] && [ "$CEILING" -gt 0 ]; then
    r=$(pct "$NUDGE_RPS" "$CEILING")
    echo "RESULT ingest_nudge_wrk.ratio $r % of the ceiling ($CEILING req/s, the mean of before and after): target >= 30%: $([ "$r" -ge 30 ] && echo met || echo 'NOT met')"
fi
jrec=$( [ -s "$W/nudge.intake" ] && wc -l < "$W/nudge.intake" || echo 0)
start_nudge
replayed=$(grep -o '([0-9]* events the store did not have yet)' "$T/run.log" | grep -o '[0-9]*')
ev1=$(store_events); msg1=$(store_msgs)
dacc=$((acc1 - acc0)) dev=$((ev1 - ev0)) dmsg=$((msg1 - msg0))
echo "RESULT ingest_nudge_wrk.stored $dev events, $dmsg messages (daemon counted $dacc accepted; after kill -9 and a restart, which applied ${replayed:-0} of them from the $jrec records left in the intake journal)"
verdict=ok
[ "$dev" -eq "$dacc" ] || verdict="MISMATCH: stored events != accepted"
[ "$dev" -ge "${wacc:-0}" ] && [ "$dev" -le $(( ${w2xx:-0} + CONNS )) ] || verdict="MISMATCH: stored events vs wrk's 2xx"
[ "$dmsg" -eq "$dev" ] || verdict="MISMATCH: messages != events"
[ "${wnon:-1}" -eq 0 ] || verdict="MISMATCH: non-2xx answers"
echo "RESULT ingest_nudge_wrk.verified $verdict (2xx <= stored events = accepted = messages <= 2xx + $CONNS in flight when wrk stopped)"
"$NUDGE" status "$W" | sed -n '/^messages/,$p' | sed 's/^/# /'

# ---- constant rate: latency from request to queued message ---------------
# (on the daemon restarted above)
# half the ceiling (the product issue's "half that rate"), half the 30%
# target, and half of what nudge itself reached under wrk
RATES=$CR_RATES
if [ -z "$RATES" ]; then
    RATES=$( { [ -n "$CEILING" ] && for f in $CR_FRACS; do echo "$f $CEILING"; done
               for f in $CR_NUDGE_FRACS; do echo "$f $NUDGE_RPS"; done; } |
             awk '{ r = sprintf("%.0f", $1 * $2); if (r > 0) print r }')
fi
i=0
for rate in $RATES; do
    i=$((i + 1))
    name=ingest_cr_$rate
    acc0=$(accepted_total)
    metrics_to "$T/m0.$i"
    c0=$(ticks "$RUNPID"); t0=$(now)
    ( pin 1 "$CLIENT" --url "$URL" --token "$TOKEN" --rate "$rate" --secs "$CR_SECS" --members "$MEMBERS" \
        --run "c$i" --conns "$CR_CONNS" --name "$name" --samples "$T/samples$i" --sample-every 50 ) \
        > "$T/cr$i.out" 2> "$T/cr$i.err"
    t1=$(now); c1=$(ticks "$RUNPID")
    metrics_to "$T/m1.$i"
    echo "RESULT $name.window $(window_ms) ms at the end"
    # the daemon's own view (warm-up included): its answers, and how long
    # each of the store's commits held the loop
    read -r n s w < <(hist_delta "$T/m0.$i" "$T/m1.$i" nudge_events_answer_seconds '' 0.01)
    echo "RESULT $name.daemon_answers $n answered, $(pct "$w" "$n") % within 10 ms, mean $(awk -v s="$s" -v n="$n" 'BEGIN { printf "%.2f", n ? 1000 * s / n : 0 }') ms (from handling to answer, the daemon's clock)"
    read -r n s w < <(hist_delta "$T/m0.$i" "$T/m1.$i" nudge_store_commit_seconds 'kind="lazy",' 0.01)
    echo "RESULT $name.daemon_commits $n lazy commits, mean pause $(awk -v s="$s" -v n="$n" 'BEGIN { printf "%.2f", n ? 1000 * s / n : 0 }') ms, $(pct "$w" "$n") % within 10 ms, the loop held $(awk -v s="$s" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", 100 * s / (b - a) }') % of the time"
    echo "RESULT $name.wal $(wal_per_event "$T/m0.$i" "$T/m1.$i") KB an event (what the store's commits wrote to the WAL)"
    echo "RESULT $name.wal_restarts $(awk 'FNR == 1 { f++ }
        /^nudge_store_wal_restarts_total / { n[f] = $2 } /^nudge_store_wal_restart_seconds_total / { s[f] = $2 }
        END { printf "%d, %.1f ms in all", n[2] - n[1], 1000 * (s[2] - s[1]) }' "$T/m0.$i" "$T/m1.$i") (a commit that started the WAL over: the checkpointer's last copy and two syncs, on the loop)"
    cat "$T/cr$i.out"
    sed 's/^/# /' "$T/cr$i.err"
    sleep 0.5   # the store's commit window ([api] commit_ms) shows the last events to other readers
    dacc=$(( $(accepted_total) - acc0 ))
    cacc=$(awk '$2 ~ /\.requests$/ { print $7 }' "$T/cr$i.out")
    echo "RESULT $name.verified $([ "$dacc" = "$cacc" ] && echo ok || echo MISMATCH) (client counted ${cacc:-?} accepted answers, the daemon $dacc accepted events)"
    echo "RESULT $name.server_cpu $(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" \
        'BEGIN { printf "%.0f", 100 * (b - a) / hz / (t1 - t0) }') %cpu"
    [ -n "$CEILING" ] && echo "RESULT $name.of_ceiling $(pct "$rate" "$CEILING") % of the ceiling"
    p99=$(awk '$2 ~ /\.p99$/ { print $3 }' "$T/cr$i.out")
    if [ "$p99" = unanswered ] || [ -z "$p99" ]; then ok=no; else ok=$(awk -v p="$p99" 'BEGIN { print (p < 10) ? "yes" : "no" }'); fi
    echo "RESULT $name.p99_under_10ms $ok"
    # decided_at (whole seconds, the daemon's clock when it applied the
    # event) must lie between the request's send and answer times; the
    # daemon reads time(), the kernel's coarse clock, which may lag by a
    # tick: 10 ms of slack before the send
    if [ -s "$T/samples$i" ]; then
        awk -v q="'" 'BEGIN { printf "WITH s(k, sent, done) AS (VALUES " }
             { printf "%s(%spaid_thanks:thanks:%s:%s%s, %d, %d)", (NR > 1 ? "," : ""), q, $2, $1, q, $3 - 0.01, $4 }
             END { printf ") SELECT count(*), coalesce(sum(m.status IN (%squeued%s, %ssending%s, %ssent%s)", q, q, q, q, q, q
                   print " AND m.decided_at BETWEEN s.sent AND s.done), 0), coalesce(max(m.decided_at - s.sent), 0)" \
                         " FROM s LEFT JOIN messages m ON m.key = s.k;" }' "$T/samples$i" > "$T/check$i.sql"
        # on stdin: a run at a high rate samples more requests than one argument holds
        IFS='|' read -r ns nok maxd < <(sqlite3 -cmd '.timeout 5000' "$W/nudge.db" < "$T/check$i.sql")
        echo "RESULT $name.decided_at_check $nok of $ns sampled requests have their message decided between send and answer (whole seconds; max decided_at - sent second: $maxd)"
    fi
done

# ---- totals after a clean stop ----------------------------------------------
acc1=$(accepted_total)
kill -TERM "$RUNPID"; wait "$RUNPID"; RUNPID=
[ -n "$MOCKPID" ] && { kill "$MOCKPID"; wait "$MOCKPID" 2>/dev/null; MOCKPID=; }
evn=$(store_events) msgn=$(store_msgs)
echo "RESULT ingest_total.stored $evn events, $msgn messages in the store ($ev1 after the kill -9 and restart, $acc1 accepted since)"
echo "RESULT ingest_total.verified $([ "$evn" -eq $((ev1 + acc1)) ] && [ "$msgn" -eq "$evn" ] && echo ok || echo MISMATCH)"
"$NUDGE" status "$W" | sed -n '/^messages/,$p' | sed 's/^/# /'
