#!/usr/bin/env bash
# nudge run against the mock WeChat provider on 127.0.0.1: delivery,
# retries, token refresh, timeouts, resets, permanent errors, quota pause,
# fallback after 43004, restart after kill -9. Every scenario checks that
# nothing is lost and nothing is delivered twice.
. "$(dirname "$0")/lib.sh"

# scenario NAME MEMBERS_CSV [mock options...]: a workspace whose journey
# sends once, two seconds after the daemon starts; a mock; the daemon.
scenario() {
    local name=$1 csv=$2; shift 2
    W=$(new_ws "$name" Asia/Shanghai)
    S=$T/$name
    mkdir -p "$S"
    cat > "$W/templates/flash.lua" <<'EOF2'
return {
  wechat = { template_id = "TM-FLASH", data = { thing1 = "{{name}}", time2 = "{{date}}" } },
  sms = "{{name}}限时抢购",
  edm = { subject = "{{name}}", text = "{{name}}", html = "<p>{{name}}</p>" },
}
EOF2
    cat > "$W/templates/bad.lua" <<'EOF2'
return { wechat = { template_id = "BAD", data = { thing1 = "{{name}}" } } }
EOF2
    printf '%s\n' "$csv" > "$S/m.csv"
    "$NUDGE" import "$W" "$S/m.csv" >/dev/null || bad "import $name"
    start_mock "$S" "$@"
    [ -n "${SMS_JOURNEY:-}" ] && cat >> "$W/nudge.conf" <<EOF2

[sms]
endpoint = http://127.0.0.1:$MOCKPORT/sms/send
token = mocktoken
backoff_ms = 100
EOF2
    [ -n "${ALIYUN:-}" ] && cat >> "$W/nudge.conf" <<EOF2

[sms]
provider = aliyun
endpoint = http://127.0.0.1:$MOCKPORT/
access_key_id = mockkeyid
access_key_secret = env:NUDGE_TEST_ALIYUN_SECRET
backoff_ms = 100
backoff_max_ms = 300
concurrency = ${CONCURRENCY:-16}
EOF2
    cat > "$W/templates/flash_ali.lua" <<'EOF2'
return {
  sms = { text = "{{name}}，{{tier}}会员专享限时抢购，{{name}}别错过", template_code = "SMS_153055065" },
  edm = { subject = "{{name}}", text = "{{name}}", html = "<p>{{name}}</p>" },
}
EOF2
    cat >> "$W/nudge.conf" <<EOF2

[wechat]
endpoint = http://127.0.0.1:$MOCKPORT
appid = wxmockappid
secret = env:NUDGE_TEST_WX_SECRET
timeout_ms = 700
backoff_ms = 100
backoff_max_ms = 300
max_attempts = ${MAX_ATTEMPTS:-6}
concurrency = ${CONCURRENCY:-16}
EOF2
    local at chans=${CHANNELS:-}
    [ -n "$chans" ] || chans="\"wechat\", \"${SECOND:-edm}\""
    at=$(date -u -d '+2 sec' +%Y-%m-%dT%H:%M:%SZ)
    cat > "$W/journeys/flash.lua" <<EOF2
return journey "flash" {
  trigger = once("$at"), quiet_hours = false,
  steps = { send { id = "go", template = "${TEMPLATE:-flash}", channels = { $chans } } },
}
EOF2
    start_daemon
}

start_daemon() {
    NUDGE_TEST_WX_SECRET=mocksecret NUDGE_TEST_ALIYUN_SECRET=mockkeysecret "$NUDGE" run "$W" 2>>"$S/run.log" &
    PIDS+=($!); RUNPID=$!
}

stop_all() {
    kill -TERM "$RUNPID" 2>/dev/null; wait "$RUNPID"; RUNSTATUS=$?
    kill -TERM "$MOCKPID" 2>/dev/null; wait "$MOCKPID" 2>/dev/null
}

# start_second_journey: a second journey, firing 3 s from now, then the daemon again
start_second_journey() {
    local at
    at=$(date -u -d '+3 sec' +%Y-%m-%dT%H:%M:%SZ)
    cat > "$W/journeys/second.lua" <<EOF2
return journey "second" {
  trigger = once("$at"), quiet_hours = false,
  steps = { send { id = "go", template = "flash", channels = { "wechat" } } },
}
EOF2
    start_daemon
}

outbox_count() { "$NUDGE" outbox "$W" --status "$1" | tail -n +2 | grep -c . ; }
settled() { [ "$(outbox_count queued)" -le "${1:-0}" ] && [ "$(outbox_count retry)" = 0 ] && \
            [ "$(outbox_count sending)" = 0 ] && [ "$(outbox_count sent)" -ge "${2:-1}" ]; }
delivered() { jq -r 'select(.kind=="send" and .delivered) | .client_msg_id' "$S/mock.jsonl" | sort; }
delivered_unique() { delivered | uniq | wc -l; }

MEMBERS='id,name,wechat_openid,wechat_subscribed,email
A1,王芳,oA1,1,
A2,李娜,oA2,1,a2@example.com
A3,张伟,,0,
A4,刘洋,oA4,1,'

# ---- plain delivery, unreachable, 43004 with fallback -------------------
scenario plain "$MEMBERS" --unsubscribed oA2
wait_for 15 settled 1 2; check_status "plain: settles" 0 $?
stop_all
check_status "plain: SIGTERM exits 0" 0 "$RUNSTATUS"
check_eq "plain: two delivered, once each" "2 2" "$(delivered | wc -l) $(delivered_unique)"
check_eq "plain: delivered to" "oA1
oA4" "$(jq -r 'select(.kind=="send" and .delivered) | .touser' "$S/mock.jsonl" | sort)"
check_eq "plain: contract fields" '"TM-FLASH" "王芳"' \
    "$(jq -r 'select(.touser=="oA1") | "\"" + .template_id + "\" \"" + .data.thing1.value + "\""' "$S/mock.jsonl")"
check_eq "plain: one token for all sends" 1 "$(jq -c 'select(.kind=="token")' "$S/mock.jsonl" | wc -l)"
check_eq "plain: unreachable recorded" "A3 dropped unreachable" \
    "$("$NUDGE" outbox "$W" --status dropped | awk 'NR>1 {print $5, $2, $NF}')"
check_contains "plain: 43004 is dead with the reason" "$("$NUDGE" outbox "$W" --status dead)" "errcode 43004"
check_eq "plain: and falls back to edm" "A2 edm" "$("$NUDGE" outbox "$W" --status queued | awk 'NR>1 {print $5, $3}')"
check_contains "plain: the member is no longer on WeChat" "$(cat "$S/run.log")" "member A2 left wechat"

# ---- busy (-1), minute quota (45011), HTTP 500, reset: retried ----------
for fault in "--errcode-first 2:-1" "--errcode-first 2:45011" "--http500-first 2" "--reset-first 2"; do
    n=$(echo "$fault" | tr -dc 'a-z0-9' | head -c 20)
    # shellcheck disable=SC2086
    scenario "r$n" "$MEMBERS" $fault
    wait_for 20 settled 0 3; check_status "$fault: settles" 0 $?
    stop_all
    check_eq "$fault: three delivered, once each" "3 3" "$(delivered | wc -l) $(delivered_unique)"
    check_eq "$fault: all sent" 3 "$(outbox_count sent)"
    retried=$("$NUDGE" outbox "$W" --status sent | awk 'NR>1 && $(NF) > 1' | wc -l)
    # curl itself retries a request once on a reused connection closed under it
    [ "$n" = resetfirst2 ] && [ "$retried" -ge 1 ] && retried=2
    check_eq "$fault: two attempts were retried" 2 "$retried"
done

# ---- token expired mid-run (42001): one refresh, then sent --------------
scenario token "$MEMBERS" --expire-token-at 2
wait_for 20 settled 0 3; check_status "token: settles" 0 $?
stop_all
check_eq "token: a second token was fetched" 2 "$(jq -c 'select(.kind=="token")' "$S/mock.jsonl" | wc -l)"
check_eq "token: three delivered, once each" "3 3" "$(delivered | wc -l) $(delivered_unique)"

# ---- a hang past the timeout: retried with the same client_msg_id -------
scenario hang "$MEMBERS" --hang-first 1:2000
wait_for 20 settled 0 3; check_status "hang: settles" 0 $?
stop_all
check_eq "hang: the provider saw the retry as a duplicate" 1 "$(jq -c 'select(.dup)' "$S/mock.jsonl" | wc -l)"
check_eq "hang: each member got one message" "3 3" "$(delivered | wc -l) $(delivered_unique)"

# ---- permanent errors and giving up ------------------------------------
TEMPLATE=bad scenario fatal "$MEMBERS"
wait_for 15 bash -c "[ \$('$NUDGE' outbox '$W' --status dead | tail -n +2 | wc -l) = 3 ]"
check_status "40037: every message dead" 0 $?
stop_all
check_contains "40037: reason" "$("$NUDGE" outbox "$W" --status dead)" "errcode 40037"
check_eq "40037: tried once each" 3 "$(jq -c 'select(.errcode==40037)' "$S/mock.jsonl" | wc -l)"

MAX_ATTEMPTS=2 scenario giveup "$MEMBERS" --errcode-first 100:-1
wait_for 15 bash -c "[ \$('$NUDGE' outbox '$W' --status dead | tail -n +2 | wc -l) = 3 ]"
check_status "always busy: dead after max_attempts" 0 $?
stop_all
check_contains "always busy: reason" "$("$NUDGE" outbox "$W" --status dead)" "gave up after 2 attempts"
check_eq "always busy: two tries each" 6 "$(jq -c 'select(.kind=="send")' "$S/mock.jsonl" | wc -l)"
out=$("$NUDGE" outbox "$W" retry --all-dead)
check_eq "dead letters can be queued again" "3 messages queued again" "$out"
check_eq "and are queued" 3 "$(outbox_count queued)"

# ---- daily quota (45009): the channel pauses until midnight -------------
CONCURRENCY=1 scenario quota "$MEMBERS" --quota-after 1
wait_for 15 bash -c "[ \$('$NUDGE' outbox '$W' --status retry | tail -n +2 | wc -l) -ge 1 ]"
check_status "45009: a message waits" 0 $?
sleep 1
stop_all
check_eq "45009: one delivered before the quota" 1 "$(delivered | wc -l)"
check_eq "45009: the lane stopped after the quota answer" 2 "$(jq -c 'select(.kind=="send")' "$S/mock.jsonl" | wc -l)"
check_eq "45009: the third was never tried" 1 "$(outbox_count queued)"
check_contains "45009: waits for local midnight" "$("$NUDGE" outbox "$W" --status retry)" "T00:00:00+08:00"

# ---- SMS through the generic gateway, with the WeChat fallback ----------
MEMBERS_SMS='id,name,wechat_openid,wechat_subscribed,phone,sms_opt_out
S1,王芳,,0,13800000001,0
S2,李娜,oS2,1,13800000002,0
S3,张伟,,0,13800000003,1
S4,刘洋,,0,13800000004,0'
SECOND=sms SMS_JOURNEY=1 scenario smsgw "$MEMBERS_SMS" --unsubscribed 13800000004 --http500-first 1
wait_for 15 bash -c "[ \$('$NUDGE' outbox '$W' --status sent | tail -n +2 | wc -l) = 2 ]"
check_status "sms: settles" 0 $?
sleep 0.5
stop_all
check_eq "sms: S1 by SMS, S2 by WeChat first" "S1 sms sent
S2 wechat sent
S3 - dropped
S4 sms dead" "$("$NUDGE" outbox "$W" | awk 'NR>1 {print $5, $3, $2}' | sort)"
check_eq "sms: the gateway got the framed text" '"【悦肤】王芳限时抢购回T退订"' \
    "$(jq -c 'select(.kind=="sms" and .delivered) | .text' "$S/mock.jsonl")"
check_eq "sms: and its parts" 1 "$(jq -c 'select(.kind=="sms" and .delivered) | .segments' "$S/mock.jsonl")"
check_contains "sms: an invalid number is dead with the gateway's reason" \
    "$("$NUDGE" outbox "$W" --status dead)" "HTTP 400: invalid number"
check_eq "sms: the HTTP 500 was retried, one delivery" 1 "$(jq -c 'select(.kind=="sms" and .delivered)' "$S/mock.jsonl" | wc -l)"

# ---- SMS through Alibaba Cloud SendSms ------------------------------------
# The mock checks the RPC v1 signature with its own code, answers
# isv.BUSINESS_LIMIT_CONTROL to the first two sends (retried), and
# isv.MOBILE_NUMBER_ILLEGAL to a malformed number (falls back to EDM).
MEMBERS_ALI='id,name,tier,phone,email,sms_opt_out
L1,王芳,gold,13800000001,,0
L2,李娜,silver,13800000002,,0
L3,张伟,gold,1380000,l3@example.com,0
L4,刘洋,gold,13800000004,,1'
ALIYUN=1 TEMPLATE=flash_ali CHANNELS='"sms", "edm"' scenario aliyun "$MEMBERS_ALI" --sms-limit-first 2
wait_for 15 bash -c "[ \$('$NUDGE' outbox '$W' --status sent | tail -n +2 | wc -l) = 2 ]"
check_status "aliyun: settles" 0 $?
sleep 0.5
stop_all
check_eq "aliyun: sent, dead, fallen back, dropped" "L1 sms sent
L2 sms sent
L3 edm queued
L3 sms dead
L4 - dropped" "$("$NUDGE" outbox "$W" | awk 'NR>1 {print $5, $3, $2}' | sort)"
ali() { jq -c "select(.kind==\"aliyun\") | $1" "$S/mock.jsonl"; }
check_eq "aliyun: two rate-limited, retried" 2 "$(ali 'select(.code=="isv.BUSINESS_LIMIT_CONTROL")' | wc -l)"
check_eq "aliyun: each delivered once, OutId = the idempotency key" "1 L1
1 L2" "$(ali 'select(.delivered) | .client_msg_id' | sed 's/^"flash:go:\(L[0-9]\):.*"$/\1/' | sort | uniq -c | awk '{print $1, $2}')"
check_eq "aliyun: the signature and the approved template" "悦肤 SMS_153055065" \
    "$(jq -r 'select(.kind=="aliyun" and .delivered and .touser=="13800000001") | .sign + " " + .template_code' "$S/mock.jsonl")"
check_eq "aliyun: TemplateParam holds each placeholder once" '{"name":"王芳","tier":"gold"}' \
    "$(ali 'select(.delivered and .touser=="13800000001") | .params')"
check_contains "aliyun: a malformed number is dead with Alibaba's code" \
    "$("$NUDGE" outbox "$W" --status dead)" "isv.MOBILE_NUMBER_ILLEGAL"
check_eq "aliyun: BizId kept as the provider id" \
    "$(ali 'select(.delivered) | .touser' | wc -l)" \
    "$(sqlite3 "$W/nudge.db" "SELECT count(*) FROM messages WHERE channel = 'sms' AND status = 'sent' AND provider_id LIKE '9%^0'")"
check_contains "aliyun: the text counted is Alibaba's opt-out wording" \
    "$(sqlite3 "$W/nudge.db" "SELECT content FROM messages WHERE member_id = 'L1'")" "【悦肤】王芳，gold会员专享限时抢购，王芳别错过拒收请回复R"
out=$("$NUDGE" check "$W" 2>&1); rc=$?
check_status "aliyun: check refuses an SMS template without template_code" 1 $rc
check_contains "aliyun: and names the file" "$out" "templates/flash.lua: sms needs template_code"

# Alibaba's daily limit pauses the channel until local midnight
ALIYUN=1 CONCURRENCY=1 TEMPLATE=flash_ali CHANNELS='"sms"' scenario alidaily "$MEMBERS_ALI" --sms-day-limit-after 1
wait_for 15 bash -c "[ \$('$NUDGE' outbox '$W' --status retry | tail -n +2 | wc -l) -ge 1 ]"
check_status "aliyun daily limit: a message waits" 0 $?
sleep 1
stop_all
check_eq "aliyun daily limit: one delivered, then one refused, then none tried" "1 2" \
    "$(ali 'select(.delivered)' | wc -l) $(ali '.' | wc -l)"
check_contains "aliyun daily limit: waits for local midnight" "$("$NUDGE" outbox "$W" --status retry)" "T00:00:00+08:00"

# ---- caps count what the outbox already holds after a restart -----------
scenario caprestart "$MEMBERS"
sed -i 's/^# cap = 3 per 7 days/cap = 1 per 1 days/' "$W/nudge.conf"
wait_for 15 settled 1 2; check_status "caps: the first journey is sent" 0 $?
stop_all
start_second_journey
wait_for 15 bash -c "[ \$('$NUDGE' outbox '$W' --status dropped | grep -c capped) = 3 ]"
check_status "caps: after a restart the second journey is capped" 0 $?
kill -TERM "$RUNPID"; wait "$RUNPID"

# ---- a replayed decision is not counted twice by the caps ----------------
# (the clock of the last run set back by hand: the moment runs again, as if
# the daemon had crashed before saving its clock)
scenario replay "$MEMBERS"
sed -i 's/^# cap = 3 per 7 days/cap = 2 per 1 days/' "$W/nudge.conf"
wait_for 15 settled 1 2; check_status "replay: the first journey is sent" 0 $?
stop_all
sqlite3 "$W/nudge.db" "update meta set value = value - 30 where key = 'run_clock'"
start_second_journey
wait_for 15 bash -c "[ \$('$NUDGE' outbox '$W' | grep -c second/go) -ge 3 ]"
sleep 0.5
kill -TERM "$RUNPID"; wait "$RUNPID"
check_eq "replay: the first journey's messages are not queued again" 4 "$("$NUDGE" outbox "$W" | grep -c flash/go)"
check_eq "replay: and not counted again: the second journey fits the cap" 0 \
    "$("$NUDGE" outbox "$W" | grep second/go | grep -c capped)"

# ---- kill -9 while a send hangs, restart: delivered once -----------------
scenario crash "$MEMBERS" --hang-first 1:4000
wait_for 10 bash -c "grep -q '\"delivered\":true' '$S/mock.jsonl'"
# the claim is committed within the window (a slow, loaded machine may take
# longer than the mock's log line): kill once it is, while the send hangs
wait_for 3 bash -c "[ \$('$NUDGE' outbox '$W' --status sending | tail -n +2 | wc -l) -ge 1 ]"
kill -9 "$RUNPID"; wait "$RUNPID" 2>/dev/null
check_status "crash: a message was left sending" 0 "$([ "$(outbox_count sending)" -ge 1 ]; echo $?)"
start_daemon
wait_for 20 settled 0 3; check_status "crash: settles after restart" 0 $?
stop_all
check_contains "crash: the restart says so" "$(cat "$S/run.log")" "left in 'sending' by the last run are queued again"
check_eq "crash: each member got one message" "3 3" "$(delivered | wc -l) $(delivered_unique)"
finish
