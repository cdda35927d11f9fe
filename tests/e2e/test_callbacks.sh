#!/usr/bin/env bash
# Provider callbacks into nudge run: Alibaba Cloud SMS receipts and
# replies (T/TD/R/退订 opt the member out), WeChat's server URL check and
# event pushes (TEMPLATESENDJOBFINISH receipts, subscribe/unsubscribe),
# each authenticated the provider's way; bad pushes get a clear answer
# and change nothing.
. "$(dirname "$0")/lib.sh"
DASH=dash-0123456789abcdef
SMS_SECRET=sms-callback-0123456789
WX_TOKEN=nudgetoken
W=$(new_ws cb Asia/Shanghai)
printf 'id,name,phone,wechat_openid,wechat_subscribed\nM1,王芳,138-0000-0001,oM1,1\nM2,李娜,13800000002,oM2,1\nM3,张伟,13800000002,,0\n' > "$T/m.csv"
"$NUDGE" import "$W" "$T/m.csv" >/dev/null || bad "import"
start_mock "$T"
cat > "$W/templates/hello.lua" <<'EOF'
return {
  wechat = { template_id = "TM-HELLO", data = { thing1 = "{{name}}" } },
  sms = { text = "{{name}}，您的订单已发货", template_code = "SMS_100000001" },
}
EOF
cat > "$W/journeys/shipped.lua" <<'EOF'
return journey "shipped" {
  trigger = on("order.shipped"), quiet_hours = false,
  steps = { send { template = "hello", channels = { "wechat", "sms" } } },
}
EOF
P=$MOCKPORT
cat >> "$W/nudge.conf" <<EOF

[wechat]
endpoint = http://127.0.0.1:$P
appid = wxmockappid
secret = mocksecret

[sms]
provider = aliyun
endpoint = http://127.0.0.1:$P/
access_key_id = mockkeyid
access_key_secret = env:T_ALI

[api]
listen = 127.0.0.1:0
token.dash = env:T_DASH
token.pos = env:T_POS
scopes.pos = write
callback.aliyun_sms = env:T_SMS_SECRET
callback.wechat = env:T_WX_TOKEN
EOF
export T_ALI=mockkeysecret T_DASH=$DASH T_POS=pos-0123456789abcdef T_SMS_SECRET=$SMS_SECRET T_WX_TOKEN=$WX_TOKEN
start_api "$W" "$T/run.log" --log-level debug
post() {   # PATH BODY [CONTENT-TYPE]: "STATUS BODY"
    rm -f "$T/body"
    curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Content-Type: ${3:-application/json}" --data-binary "$2" "$URL$1"
    printf ' '; cat "$T/body"
}
member() { curl -s -H "Authorization: Bearer $DASH" "$URL/v1/members/$1"; }
outbox() { curl -s -H "Authorization: Bearer $DASH" "$URL/v1/outbox?limit=100"; }

# two messages out: M1 by WeChat, M3 (no openid) by SMS
for m in M1 M3; do
    curl -s -o /dev/null -H "Authorization: Bearer pos-0123456789abcdef" \
        --data-binary "{\"id\":\"s$m\",\"type\":\"order.shipped\",\"member\":\"$m\",\"at\":\"2026-12-01T10:00:00+08:00\"}" "$URL/v1/events"
done
wait_for 10 bash -c "[ \$(curl -s -H 'Authorization: Bearer $DASH' '$URL/v1/outbox?status=sent' | jq '.messages | length') = 2 ]"
check_status "both sent" 0 $?
SMSKEY=$(outbox | jq -r '.messages[] | select(.channel=="sms") | .key')
WXID=$(outbox | jq -r '.messages[] | select(.channel=="wechat") | .provider_id')
check_eq "the SMS went to M3 with its key as OutId" "$SMSKEY" "$(jq -r 'select(.kind=="aliyun" and .delivered) | .client_msg_id' "$T/mock.jsonl")"

# ---- Alibaba SMS: authentication and bad bodies --------------------------------------
CB=/v1/callbacks/aliyun-sms
check_eq "no secret: 403 in Alibaba's answer format" '403 {"code":1,"msg":"wrong or missing ?secret="}' "$(post "$CB" '[]')"
check_eq "a wrong secret: 403" 403 "$(post "$CB?secret=${SMS_SECRET}x" '[]' | cut -d' ' -f1)"
check_eq "not JSON: 400 saying so" 400 "$(post "$CB?secret=$SMS_SECRET" '[{"phone_number":' | cut -d' ' -f1)"
check_contains "a bad item is named" "$(post "$CB?secret=$SMS_SECRET" '[{"phone_number":13800000002,"content":"TD"}]')" \
    'item 0: phone_number must be a string'
check_eq "a refused push changed nothing" true "$(member M2 | jq .channels.sms)"

# ---- receipts -----------------------------------------------------------------------------
out=$(post "$CB?secret=$SMS_SECRET" "[{\"phone_number\":\"13800000002\",\"send_time\":\"2026-12-01 10:00:01\",\"report_time\":\"2026-12-01 10:00:05\",\"success\":true,\"err_code\":\"DELIVERED\",\"err_msg\":\"用户接收成功\",\"sms_size\":\"1\",\"biz_id\":\"1^0\",\"out_id\":\"$SMSKEY\"},
 {\"phone_number\":\"13800000009\",\"report_time\":\"2026-12-01 10:00:05\",\"success\":false,\"err_code\":\"MK:0001\",\"err_msg\":\"x\",\"biz_id\":\"2^0\",\"out_id\":\"nobody's\"}]")
check_eq "receipts: answered as Alibaba expects" '200 {"code":0,"msg":"成功"}' "$out"
check_eq "the SMS is delivered, at the report's time" "delivered 2026-12-01T10:00:05+08:00" \
    "$(outbox | jq -r '.messages[] | select(.channel=="sms") | "\(.receipt) \(.receipt_at)"')"
post "$CB?secret=$SMS_SECRET" "{\"phone_number\":\"13800000002\",\"report_time\":\"2026-12-01 10:00:09\",\"success\":false,\"err_code\":\"IC:0015\",\"err_msg\":\"空号\",\"biz_id\":\"1^0\",\"out_id\":\"$SMSKEY\"}" >/dev/null
check_eq "a later failure report replaces it, with Alibaba's code" "failed: IC:0015 空号" \
    "$(outbox | jq -r '.messages[] | select(.channel=="sms") | .receipt')"

# ---- replies: T/TD/R/退订 opt out; others are events ------------------------------------------
check_eq "a chatty reply" 200 "$(post "$CB?secret=$SMS_SECRET" '[{"phone_number":"8613800000001","send_time":"2026-12-01 11:00:00","content":"Thanks","sign_name":"悦肤","dest_code":"1","sequence_id":101}]' | cut -d' ' -f1)"
check_eq "does not opt out" true "$(member M1 | jq .channels.sms)"
check_eq "but is kept as an sms.replied event" "Thanks" \
    "$(sqlite3 "$W/nudge.db" "SELECT json_extract(body, '$.content') FROM events WHERE type = 'sms.replied'")"
out=$(post "$CB?secret=$SMS_SECRET" '[{"phone_number":"13800000002","send_time":"2026-12-01 11:01:00","content":"退订","sign_name":"悦肤","dest_code":"1","sequence_id":102},
 {"phone_number":"+86 138 0000 0001","send_time":"2026-12-01 11:02:00","content":"td。","sign_name":"悦肤","dest_code":"1","sequence_id":103}]')
check_eq "opt-out replies answered" 200 "${out%% *}"
check_eq "退订 opts out every member with that phone (M2, M3)" "false false" "$(member M2 | jq .channels.sms) $(member M3 | jq .channels.sms)"
check_eq "td。 from +86 with spaces matches M1's 138-0000-0001" false "$(member M1 | jq .channels.sms)"
post "$CB?secret=$SMS_SECRET" '[{"phone_number":"13800000002","send_time":"2026-12-01 11:01:00","content":"退订","sign_name":"悦肤","dest_code":"1","sequence_id":102}]' >/dev/null
check_eq "the same push again is a duplicate" 3 "$(sqlite3 "$W/nudge.db" "SELECT count(*) FROM events WHERE type = 'sms.opted_out'")"
check_eq "a reply from an unknown phone is answered, changes nothing" 200 \
    "$(post "$CB?secret=$SMS_SECRET" '{"phone_number":"13999999999","send_time":"2026-12-01 11:03:00","content":"TD","sequence_id":104}' | cut -d' ' -f1)"

# ---- WeChat: signature, URL check, pushes -------------------------------------------------
sig() { printf '%s\n' "$WX_TOKEN" "$1" "$2" | LC_ALL=C sort | tr -d '\n' | sha1sum | cut -d' ' -f1; }
NOW=$(date +%s)
Q="timestamp=$NOW&nonce=42&signature=$(sig "$NOW" 42)"
check_eq "URL check: echostr comes back" "200 hello-wechat" \
    "$(curl -s -w ' %{http_code}' "$URL/v1/callbacks/wechat?$Q&echostr=hello-wechat" | awk '{print $2, $1}')"
check_eq "a bad signature: 403" "403 bad signature" \
    "$(curl -s -w ' %{http_code}' "$URL/v1/callbacks/wechat?timestamp=$NOW&nonce=43&signature=$(sig "$NOW" 42)&echostr=x" | awk '{print $NF, $1, $2}')"
OLD=$((NOW - 3600))
check_eq "a replayed old push: 403" 403 \
    "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/callbacks/wechat?timestamp=$OLD&nonce=42&signature=$(sig "$OLD" 42)&echostr=x")"
xml() { printf '<xml><ToUserName><![CDATA[gh_mock]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%s</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[%s]]></Event>%s</xml>' "$@"; }
WX=/v1/callbacks/wechat?$Q
check_eq "template job finished: success" "200 success" \
    "$(post "$WX" "$(xml oM1 "$NOW" TEMPLATESENDJOBFINISH "<MsgID>$WXID</MsgID><Status><![CDATA[success]]></Status>")" text/xml)"
check_eq "the WeChat message is delivered" delivered "$(outbox | jq -r '.messages[] | select(.channel=="wechat") | .receipt')"
post "$WX" "$(xml oM1 "$NOW" TEMPLATESENDJOBFINISH "<MsgID>$WXID</MsgID><Status><![CDATA[failed:user block]]></Status>")" text/xml >/dev/null
check_eq "or blocked by the member" "failed: user block" "$(outbox | jq -r '.messages[] | select(.channel=="wechat") | .receipt')"
check_eq "unsubscribe" "200 success" "$(post "$WX" "$(xml oM2 "$NOW" unsubscribe '')" text/xml)"
check_eq "makes WeChat unreachable" false "$(member M2 | jq .channels.wechat)"
post "$WX" "$(xml oM2 "$((NOW + 1))" subscribe '<EventKey><![CDATA[qrscene_7]]></EventKey>')" text/xml >/dev/null
check_eq "subscribe makes it reachable again" true "$(member M2 | jq .channels.wechat)"
check_eq "a chat message is answered and ignored" "200 success" \
    "$(post "$WX" '<xml><ToUserName>gh</ToUserName><FromUserName>oM2</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>9</MsgId></xml>' text/xml)"
check_contains "malformed XML: 400 with the line" "$(post "$WX" '<xml><FromUserName>oM2</xml>' text/xml)" "400 line 1:"
check_contains "a DOCTYPE is refused" "$(post "$WX" '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName><MsgType>event</MsgType></xml>' text/xml)" "400 line 1: a DOCTYPE is not allowed"
check_eq "and changed nothing" true "$(member M2 | jq .channels.wechat)"

# ---- metrics --------------------------------------------------------------------------------
m=$(curl -s -H "Authorization: Bearer $DASH" "$URL/metrics")
metric() { awk -v k="$1" '$1 == k { print $2 }' <<<"$m"; }
check_eq "metrics: receipts, unknown receipts, replies, opt-outs, subscribes, refused" "4 1 5 3 1 1 4" \
    "$(for k in receipt receipt_unknown reply opt_out subscribe unsubscribe refused; do metric "nudge_callbacks_total{kind=\"$k\"}"; done | tr '\n' ' ' | sed 's/ $//')"
kill -TERM "$RUNPID"; wait "$RUNPID"
check_status "stops cleanly" 0 $?

# ---- logs: JSON lines, personal data masked ----------------------------------------------------
check_eq "every log line is a JSON object with ts, level, module, msg" 0 \
    "$(jq -c 'select((.ts|type)!="string" or (.level|type)!="string" or (.module|type)!="string" or (.msg|type)!="string")' "$T/run.log" | wc -l)"
check_eq "debug shows each send, the phone masked" "138****0002 sent" \
    "$(jq -r 'select(.module=="disp" and .channel=="sms") | "\(.address) \(.msg)"' "$T/run.log")"
check_eq "no phone number in the clear anywhere" 0 "$(grep -c '13800000002\|0000-0001' "$T/run.log")"
check_contains "the API's address is logged" "$(jq -r 'select(.module=="api") | .msg' "$T/run.log")" "api listening on 127.0.0.1:"
out=$("$NUDGE" run "$W" --log-level chatty 2>&1); rc=$?
check_status "a bad --log-level is a usage error" 2 $rc
check_contains "and says which levels exist" "$out" "--log-level is debug, info, warn or error"

# ---- configuration --------------------------------------------------------------------------
cp -r "$W" "$T/bad"
sed -i 's/^callback.wechat = .*/callback.wechat = short token!/' "$T/bad/nudge.conf"
out=$(T_ALI=x T_DASH=$DASH T_POS=pos-0123456789abcdef T_SMS_SECRET=$SMS_SECRET "$NUDGE" run "$T/bad" 2>&1)
check_contains "a bad WeChat token names the line" "$out" "[api] callback.wechat: WeChat's Token is 3 to 32 letters or digits"
finish
