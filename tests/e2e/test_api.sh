#!/usr/bin/env bash
# The HTTP API of nudge run, with curl against a daemon on 127.0.0.1:
# health, auth (401, 403), events (per-item answers, duplicates, malformed
# and oversized bodies, concurrent clients), members, durability of an
# answered event across kill -9, and an event reaching the mock WeChat
# provider through a journey on the real clock.
. "$(dirname "$0")/lib.sh"

POS=pos-0123456789abcdef      # write
DASH=dash-0123456789abcdef    # read
OPS=ops-0123456789abcdef      # admin

W=$(new_ws api Asia/Shanghai)
printf 'id,name,phone,wechat_openid,wechat_subscribed,tier,tags\nM1,王芳,13800000001,oM1,1,gold,vip;new\nM2,李娜,,oM2,1,silver,\n' > "$T/m.csv"
"$NUDGE" import "$W" "$T/m.csv" >/dev/null || bad "import"
start_mock "$T" --unsubscribed oM3
cat > "$W/templates/thanks.lua" <<'EOF'
return { wechat = { template_id = "TM-THANKS", data = { thing1 = "{{name}}", amount2 = "{{amount}}" } } }
EOF
cat > "$W/journeys/thanks.lua" <<'EOF'
return journey "thanks" {
  trigger = on("order.paid"), quiet_hours = false,
  steps = { send { id = "thanks", template = "thanks", channels = { "wechat" } } },
}
EOF
cat > "$W/journeys/follow.lua" <<'EOF'
return journey "follow" {
  trigger = on("order.paid"), quiet_hours = false,
  steps = { wait { days = 3 }, send { id = "again", template = "thanks", channels = { "wechat" } } },
}
EOF
cat > "$W/templates/cart.lua" <<'EOF'
return { wechat = { template_id = "TM-CART", data = { thing1 = "{{name}}", thing2 = "{{what}}" } } }
EOF
cat > "$W/journeys/cart.lua" <<'EOF'
return journey "cart" {
  trigger = on("cart.abandoned"), quiet_hours = false,
  steps = {
    wait { id = "for_order", for_event = "order.paid", timeout = hours(2) },
    send { id = "bought", template = "cart", channels = { "wechat" }, data = { what = "感谢下单" },
           when = function(m, o) return o.received ~= nil and o.received.amount >= 100 end },
  },
}
EOF
cat >> "$W/nudge.conf" <<EOF

[wechat]
endpoint = http://127.0.0.1:$MOCKPORT
appid = wxmockappid
secret = mocksecret
backoff_ms = 100

[api]
listen = 127.0.0.1:0
token.pos = env:T_POS
scopes.pos = write
token.dash = env:T_DASH
scopes.dash = read
token.ops = env:T_OPS
scopes.ops = admin
EOF

export T_POS=$POS T_DASH=$DASH T_OPS=$OPS
start() { start_api "$W" "$T/run.log"; }
# req METHOD PATH TOKEN [BODY]: "STATUS BODY"
req() {
    local auth=()
    [ -n "$3" ] && auth=(-H "Authorization: Bearer $3")
    rm -f "$T/body"
    curl -s -o "$T/body" -w '%{http_code}' -X "$1" "${auth[@]}" ${4:+--data-binary "$4"} "$URL$2"
    printf ' '; cat "$T/body" 2>/dev/null
}
start

# ---- health and auth -------------------------------------------------------
check_eq "healthz needs no token" '200 {"status":"ok"}' "$(req GET /healthz '')"
check_eq "no token: 401" '401 {"error":"send Authorization: Bearer <token>"}' "$(req POST /v1/events '' '{}')"
check_eq "unknown token: 401" '401 {"error":"unknown token"}' "$(req POST /v1/events wrong-0123456789abcdef '{}')"
check_eq "a near miss is unknown too" '401 {"error":"unknown token"}' "$(req POST /v1/events "${POS}x" '{}')"
check_contains "401 says how" "$(curl -s -i -X POST "$URL/v1/events")" "WWW-Authenticate: Bearer"
# every answer carries the current date (made once a second, not per answer)
hdrs=$(curl -s -D - -o /dev/null "$URL/healthz" | tr -d '\r')
date_hdr=$(sed -n 's/^Date: //p' <<<"$hdrs")
check_eq "one Date header, in the HTTP format" 1 "$(grep -c '^Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] 20[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] GMT$' <<<"$hdrs")"
age=$(( $(date -u +%s) - $(date -u -d "$date_hdr" +%s 2>/dev/null || echo 0) ))
check_eq "and it is now" 1 "$(( age >= 0 && age <= 5 ))"
check_contains "the answer says its length" "$hdrs" "Content-Length: 16"
check_eq "read token cannot post: 403" '403 {"error":"this token lacks the write scope"}' \
    "$(req POST /v1/events "$DASH" '{}')"
check_eq "write token cannot read members: 403" '403 {"error":"this token lacks the read scope"}' \
    "$(req GET /v1/members/M1 "$POS")"
check_eq "unknown endpoint: 404" '404 {"error":"no such endpoint (see docs/api.md)"}' "$(req GET /v1/nothing "$OPS")"
check_eq "wrong method: 405" '405 {"error":"POST /v1/events"}' "$(req GET /v1/events "$OPS")"

# ---- bad bodies: nothing applied -----------------------------------------------
check_eq "malformed JSON: 400 with where" '400 {"error":"the body is not valid JSON (near byte 10)"}' \
    "$(req POST /v1/events "$POS" '[{"type":,"member":"M1"}]')"
check_eq "wrong type of body: 400" '400 {"error":"send one event (a JSON object) or a JSON array of events"}' \
    "$(req POST /v1/events "$POS" '"order.paid"')"
check_eq "two objects side by side: 400, neither applied" \
    '400 {"error":"the body has more after its JSON value (at byte 84); send one event or a JSON array of events"}' \
    "$(req POST /v1/events "$POS" '{"id":"twin1","type":"custom.twin","member":"M1","at":"2027-01-05T10:00:00+08:00"} {"id":"twin2","type":"custom.twin","member":"M1","at":"2027-01-05T10:00:00+08:00"}')"
check_contains "the first of them is new afterwards" \
    "$(req POST /v1/events "$POS" '{"id":"twin1","type":"custom.twin","member":"M1","at":"2027-01-05T10:00:00+08:00"}')" \
    '"status":"accepted"'
check_eq "empty array: 400" '400 {"error":"an array of 1 to 1000 events, please (this one has 0)"}' \
    "$(req POST /v1/events "$POS" '[]')"
many=$(printf '{"type":"visit","member":"M1","at":"2026-11-23T10:00:00+08:00"},%.0s' $(seq 1001) | sed 's/,$//')
check_eq "1001 events: 413" '413 {"error":"an array of 1 to 1000 events, please (this one has 1001)"}' \
    "$(req POST /v1/events "$POS" "[$many]")"
head -c 5000000 /dev/zero | tr '\0' ' ' > "$T/big"
check_eq "a 5 MB body: 413" 413 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $POS" --data-binary @"$T/big" "$URL/v1/events")"
check_eq "none of it was applied" 0 "$(sqlite3 "$W/nudge.db" "SELECT count(*) FROM events WHERE type = 'visit'")"

# ---- events: per-item answers ------------------------------------------------------
out=$(req POST /v1/events "$POS" '[
 {"id":"e1","type":"order.paid","member":"M1","at":"2026-11-23T10:00:00+08:00","order_id":"O1","amount":99.5},
 {"id":"e2","type":"order.paid","member":"M9","at":"2026-11-23T10:00:00+08:00","order_id":"O2","amount":5},
 {"id":"e3","type":"order.paid","member":"M1","at":"yesterday","order_id":"O3","amount":5},
 {"id":"e4","type":"order.paid","member":"M1","at":"2026-11-23T11:00:00+08:00","order_id":"O4","amount":"lots"},
 {"id":"e1","type":"order.paid","member":"M1","at":"2026-11-23T10:00:00+08:00","order_id":"O1","amount":99.5},
 17]')
check_eq "per-item answers" '200 {"results":[{"index":0,"id":"e1","status":"accepted"},{"index":1,"status":"rejected","error":"unknown member '"'"'M9'"'"' (import the member first, or send member.joined)"},{"index":2,"status":"rejected","field":"at","error":"at: '"'"'yesterday'"'"' is not an ISO 8601 date or time"},{"index":3,"status":"rejected","field":"amount","error":"amount must be a number >= 0"},{"index":4,"id":"e1","status":"duplicate"},{"index":5,"status":"rejected","error":"an event must be a JSON object"}],"accepted":1,"duplicates":1,"rejected":4}' "$out"
check_eq "a known id sent again is a duplicate" \
    '200 {"results":[{"index":0,"id":"e1","status":"duplicate"}],"accepted":0,"duplicates":1,"rejected":0}' \
    "$(req POST /v1/events "$POS" '{"id":"e1","type":"order.paid","member":"M1","at":"2026-11-23T10:00:00+08:00","order_id":"O1","amount":99.5}')"

# ---- real time: the order reached the provider through the journey ------------------
wait_for 10 grep -q '"kind":"send".*"delivered":true' "$T/mock.jsonl"
check_status "the event's journey sent its message" 0 $?
check_eq "to the member, with the event's amount" "oM1 王芳 99.5" \
    "$(jq -r 'select(.kind=="send" and .delivered) | "\(.touser) \(.data.thing1.value) \(.data.amount2.value)"' "$T/mock.jsonl")"

# ---- members ---------------------------------------------------------------------------
out=$(req GET /v1/members/M1 "$DASH")
check_eq "member: status" 200 "${out%% *}"
body=${out#* }
check_eq "member as journeys see it" 'M1 王芳 gold ["vip","new"] 1 99.5 2026-11-23 true true false' \
    "$(jq -r '[.id, .name, .tier, (.tags|tojson), .order_count, .total_spent, .last_order_on, .channels.wechat, .channels.sms, .channels.edm] | map(tostring) | join(" ")' <<<"$body")"
check_eq "admin may read" 200 "$(req GET /v1/members/M2 "$OPS" | cut -d' ' -f1)"
check_eq "unknown member: 404" '404 {"error":"no member with id M404"}' "$(req GET /v1/members/M404 "$DASH")"
check_eq "ids are URL-decoded" '404 {"error":"no member with id a b"}' "$(req GET /v1/members/a%20b "$DASH")"

# ---- PUT members -------------------------------------------------------------------------
out=$(req PUT /v1/members/M3 "$POS" '{"name":"张伟","wechat_openid":"oM3","wechat_subscribed":1,"tier":"silver","city":"杭州"}')
check_eq "a new member: 201" 201 "${out%% *}"
check_eq "with the fields given" "M3 张伟 silver true 杭州" \
    "$(jq -r '[.id, .name, .tier, .channels.wechat, .attributes.city] | map(tostring) | join(" ")' <<<"${out#* }")"
out=$(req PUT /v1/members/M1 "$POS" '{"id":"M1","name":"王芳芳"}')
check_eq "an update: 200, other fields kept" "200 王芳芳 gold 1" \
    "$(printf '%s %s' "${out%% *}" "$(jq -r '[.name, .tier, .order_count] | map(tostring) | join(" ")' <<<"${out#* }")")"
check_contains "a bad field: 400 naming it" "$(req PUT /v1/members/M1 "$POS" '{"birthday":"someday"}')" "400 {\"error\":\"birthday"
check_eq "event keys are not member fields" '400 {"error":"type, member and at are not member fields"}' \
    "$(req PUT /v1/members/M1 "$POS" '{"type":"x"}')"
check_eq "the id must match the path" '400 {"error":"id in the body must be the id in the path, or absent"}' \
    "$(req PUT /v1/members/M1 "$POS" '{"id":"M2"}')"
check_eq "PUT needs write" 403 "$(req PUT /v1/members/M1 "$DASH" '{}' | cut -d' ' -f1)"

# ---- the outbox over HTTP: list, page, retry a dead letter --------------------------------------
req POST /v1/events "$POS" '{"id":"e9","type":"order.paid","member":"M3","at":"2026-11-23T12:00:00+08:00","order_id":"O9","amount":3}' >/dev/null
wait_for 10 bash -c "curl -s -H 'Authorization: Bearer $DASH' '$URL/v1/outbox?status=dead' | grep -q oM3 || curl -s -H 'Authorization: Bearer $DASH' '$URL/v1/outbox?status=dead' | grep -q '\"member\":\"M3\"'"
check_status "43004 left a dead letter" 0 $?
dead=$(req GET '/v1/outbox?status=dead' "$DASH" | cut -d' ' -f2-)
check_eq "listed with its reason" "M3 thanks wechat dead errcode" \
    "$(jq -r '.messages[0] | [.member, .journey, .channel, .status, (.reason | split(" ")[1])] | join(" ")' <<<"$dead")"
id=$(jq -r '.messages[0].id' <<<"$dead")
check_eq "retry needs admin" 403 "$(req POST "/v1/outbox/$id/retry" "$POS" | cut -d' ' -f1)"
check_eq "retry: queued again" "200 {\"id\":$id,\"status\":\"queued\"}" "$(req POST "/v1/outbox/$id/retry" "$OPS")"
wait_for 10 bash -c "[ \$(jq -c 'select(.touser==\"oM3\")' '$T/mock.jsonl' | wc -l) -ge 2 ]"
check_status "and sent to the provider again" 0 $?
sent=$(req GET '/v1/outbox?status=sent&limit=1' "$DASH" | cut -d' ' -f2-)
check_eq "a page of one, and where the next starts" "1 true" \
    "$(jq -r '[(.messages | length), (.next_after == .messages[0].id)] | map(tostring) | join(" ")' <<<"$sent")"
check_eq "retry of a sent message: 409" 409 "$(req POST "/v1/outbox/$(jq -r '.messages[0].id' <<<"$sent")/retry" "$OPS" | cut -d' ' -f1)"
check_eq "a bad status: 400" 400 "$(req GET '/v1/outbox?status=lost' "$DASH" | cut -d' ' -f1)"
check_eq "a bad limit: 400" 400 "$(req GET '/v1/outbox?limit=5000' "$DASH" | cut -d' ' -f1)"

# ---- metrics ------------------------------------------------------------------------------
m=$(curl -s -H "Authorization: Bearer $DASH" "$URL/metrics")
metric() { awk -v k="$1" '$1 == k { print $2 }' <<<"$m"; }
check_eq "metrics need a token" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")"
# posted so far: e1 accepted, then duplicated twice; four rejected; twin1 and e9 accepted
check_eq "metrics: events by outcome" "3 2 4" \
    "$(metric 'nudge_events_total{outcome="accepted"}') $(metric 'nudge_events_total{outcome="duplicate"}') $(metric 'nudge_events_total{outcome="rejected"}')"
check_eq "metrics: members entered the journey (M1, M3)" 2 "$(metric 'nudge_journey_entered_total{journey="thanks"}')"
# M1's message sent; M3's refused with 43004, then again after the retry
check_eq "metrics: provider answers" "1 2" \
    "$(metric 'nudge_provider_answers_total{channel="wechat",outcome="sent"}') $(metric 'nudge_provider_answers_total{channel="wechat",outcome="member_refused"}')"
check_eq "metrics: every answer timed" "$(metric 'nudge_provider_seconds_count{channel="wechat"}')" \
    "$(metric 'nudge_provider_seconds_bucket{channel="wechat",le="+Inf"}')"
check_eq "metrics: the outbox is drained" 0 "$(metric 'nudge_outbox_depth{channel="wechat"}')"
check_eq "metrics: no Lua errors" 0 "$(metric nudge_lua_errors_total)"
check_contains "metrics: refused requests counted" "$m" "nudge_http_refused_total "

# ---- journeys ------------------------------------------------------------------------------
js=$(req GET /v1/journeys "$DASH")
check_eq "journeys: status" 200 "${js%% *}"
check_eq "journeys: each with state, members waiting per step, counts since start" \
    'cart running {} 0 0|follow running {"again":2} 2 0|thanks running {} 2 2' \
    "$(jq -r '.journeys | sort_by(.name) | map([.name, .state, (.in_flight|tojson), .entered, .decided.wechat] | map(tostring) | join(" ")) | join("|")' <<<"${js#* }")"
check_eq "journeys: version is the file's hash" \
    "16 true" "$(jq -r '.journeys[0].version | [length, test("^[0-9a-f]+$")] | map(tostring) | join(" ")' <<<"${js#* }")"
check_eq "journeys need read" 401 "$(req GET /v1/journeys '' | cut -d' ' -f1)"

# ---- a member's journeys; waiting for an event; pause and resume ------------------------------
check_contains "cart abandoned" "$(req POST /v1/events "$POS" '{"id":"ca1","type":"cart.abandoned","member":"M1","at":"2026-11-23T14:00:00+08:00"}')" '"accepted":1'
mj=$(req GET /v1/members/M1/journeys "$DASH")
check_eq "member journeys: status" 200 "${mj%% *}"
check_eq "waiting in the cart journey for an order" "true for_order bought order.paid running" \
    "$(jq -r '.journeys[] | select(.journey=="cart") | [.in_journey, .waiting_in, .next_step, .waiting_for, .state] | map(tostring) | join(" ")' <<<"${mj#* }")"
check_eq "wakes at the timeout, in the member's zone" true \
    "$(jq -r '.journeys[] | select(.journey=="cart") | .wakes_at | test("^[0-9-]{10}T[0-9:]{8}\\+08:00$")' <<<"${mj#* }")"
check_eq "and the messages of the thanks journey" 1 \
    "$(jq -r '.journeys[] | select(.journey=="thanks") | .messages.sent' <<<"${mj#* }")"
check_eq "member journeys need read" 403 "$(req GET /v1/members/M1/journeys "$POS" | cut -d' ' -f1)"
check_eq "member journeys of nobody: 404" '404 {"error":"no member with id M404"}' "$(req GET /v1/members/M404/journeys "$DASH")"
check_eq "pause needs admin" 403 "$(req POST /v1/journeys/cart/pause "$POS" | cut -d' ' -f1)"
check_eq "pause an unknown journey: 404" '404 {"error":"no journey named nope"}' "$(req POST /v1/journeys/nope/pause "$OPS")"
check_eq "pause is a POST" 405 "$(req GET /v1/journeys/cart/pause "$OPS" | cut -d' ' -f1)"
check_eq "pause or resume only" 404 "$(req POST /v1/journeys/cart/stop "$OPS" | cut -d' ' -f1)"
check_eq "pause" '200 {"journey":"cart","state":"paused"}' "$(req POST /v1/journeys/cart/pause "$OPS")"
req POST /v1/events "$POS" '{"id":"co1","type":"order.paid","member":"M1","at":"2026-11-23T14:10:00+08:00","order_id":"CO1","amount":120}' >/dev/null
req POST /v1/events "$POS" '{"id":"ca2","type":"cart.abandoned","member":"M2","at":"2026-11-23T14:10:00+08:00"}' >/dev/null
sleep 0.5
check_eq "paused: the awaited order sends nothing yet" 0 "$(jq -c 'select(.template_id=="TM-CART")' "$T/mock.jsonl" | wc -l)"
check_eq "paused: no new members" false \
    "$(req GET /v1/members/M2/journeys "$DASH" | cut -d' ' -f2- | jq -r '.journeys[] | select(.journey=="cart") | .in_journey')"
check_eq "paused: shown in the journeys list" paused \
    "$(req GET /v1/journeys "$DASH" | cut -d' ' -f2- | jq -r '.journeys[] | select(.name=="cart") | .state')"
check_eq "paused: kept in the store" 1 "$(sqlite3 "$W/nudge.db" "SELECT paused FROM journeys WHERE name = 'cart'")"
check_contains "paused: nudge status says so" "$("$NUDGE" status "$W")" "journeys/cart.lua  PAUSED"
check_eq "resume" '200 {"journey":"cart","state":"running"}' "$(req POST /v1/journeys/cart/resume "$OPS")"
wait_for 10 grep -q '"template_id":"TM-CART"' "$T/mock.jsonl"
check_status "resumed: the order noted while paused sends the cart message" 0 $?
check_eq "to M1, on the order's condition" "oM1 王芳芳 感谢下单" \
    "$(jq -r 'select(.template_id=="TM-CART") | "\(.touser) \(.data.thing1.value) \(.data.thing2.value)"' "$T/mock.jsonl")"
check_eq "and M1 has left the journey" false \
    "$(req GET /v1/members/M1/journeys "$DASH" | cut -d' ' -f2- | jq -r '.journeys[] | select(.journey=="cart") | .in_journey')"

# ---- concurrent clients ------------------------------------------------------------------
CURLS=()
for i in $(seq 20); do
    curl -s -o "$T/c$i" -H "Authorization: Bearer $POS" --data-binary \
        "{\"id\":\"c$i\",\"type\":\"order.paid\",\"member\":\"M2\",\"at\":\"2026-11-23T12:00:00+08:00\",\"order_id\":\"C$i\",\"amount\":1}" \
        "$URL/v1/events" &
    CURLS+=($!)
done
wait "${CURLS[@]}"
check_eq "20 concurrent clients, 20 accepted" 20 "$(cat "$T"/c* | grep -c '"status":"accepted"')"
check_eq "the member has all 20 orders" 20 "$(req GET /v1/members/M2 "$DASH" | cut -d' ' -f2- | jq .order_count)"

# ---- answered means durable: kill -9 right after the answer ---------------------------------
out=$(req POST /v1/events "$POS" '{"id":"d1","type":"order.paid","member":"M2","at":"2026-11-23T13:00:00+08:00","order_id":"D1","amount":7}')
kill -9 "$RUNPID"; wait "$RUNPID" 2>/dev/null
check_contains "accepted" "$out" '"status":"accepted"'
# durable: in the store, or in the intake journal the restart applies (test_intake.sh)
in_store=$(sqlite3 "$W/nudge.db" "SELECT count(*) FROM orders WHERE order_id = 'D1'")
in_journal=$(grep -c '"order_id":"D1"' "$W/nudge.intake" 2>/dev/null)
check_eq "and on disk after kill -9" 1 "$([ "$in_store" -ge 1 ] || [ "${in_journal:-0}" -ge 1 ] && echo 1 || echo 0)"

# ---- SIGTERM: stops accepting, exits 0 ------------------------------------------------------
start
check_eq "restarted: the event is still known" \
    '200 {"results":[{"index":0,"id":"d1","status":"duplicate"}],"accepted":0,"duplicates":1,"rejected":0}' \
    "$(req POST /v1/events "$POS" '{"id":"d1","type":"order.paid","member":"M2","at":"2026-11-23T13:00:00+08:00","order_id":"D1","amount":7}')"
# an import beside the running daemon: the ids it adds are duplicates to
# the daemon too (its filter of known ids was built before them)
printf '%s\n' '{"id":"side1","type":"note.added","member":"M1","at":"2026-11-23T15:00:00+08:00"}' > "$T/side.jsonl"
out=$("$NUDGE" import "$W" "$T/side.jsonl" 2>&1)
check_contains "imported beside the daemon" "$out" "1 events read, 1 applied"
check_eq "and a duplicate to the daemon" \
    '200 {"results":[{"index":0,"id":"side1","status":"duplicate"}],"accepted":0,"duplicates":1,"rejected":0}' \
    "$(req POST /v1/events "$POS" '{"id":"side1","type":"note.added","member":"M1","at":"2026-11-23T15:00:00+08:00"}')"
kill -TERM "$RUNPID"; wait "$RUNPID"; check_status "SIGTERM exits 0" 0 $?
check_eq "and no longer listens" 000 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")"

# ---- configuration errors name the line -------------------------------------------------------
cp -r "$W" "$T/bad"
sed -i 's/^token.dash = env:T_DASH/token.dash = short/' "$T/bad/nudge.conf"
out=$(T_POS=$POS T_OPS=$OPS "$NUDGE" run "$T/bad" 2>&1); rc=$?
check_status "a short token stops the start" 1 $rc
check_contains "and names the line" "$out" "nudge.conf:$(grep -n '^token.dash' "$T/bad/nudge.conf" | cut -d: -f1): [api] token.dash: a token must be at least 16 characters"
sed -i 's/^token.dash = short/token.dash = env:T_DASH/; s/^scopes.ops = admin/scopes.ops = root/' "$T/bad/nudge.conf"
out=$(T_POS=$POS T_DASH=$DASH T_OPS=$OPS "$NUDGE" run "$T/bad" 2>&1)
check_contains "an unknown scope is named" "$out" "[api] scopes.ops = root: scopes are read, write and admin"
finish
