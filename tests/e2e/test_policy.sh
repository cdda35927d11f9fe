#!/usr/bin/env bash
# Policies between a journey's decision and the outbox: quiet hours (held
# until they end, dropped when too late), service journeys, frequency caps
# with priorities, and the suppression list.
. "$(dirname "$0")/lib.sh"

note_tmpl() {
    cat > "$1/templates/note.lua" <<'EOF2'
return {
  sms = "{{what}}",
  edm = { subject = "{{what}}", text = "{{name}}：{{what}}", html = "<p>{{name}}：{{what}}</p>" },
}
EOF2
}

# ---- quiet hours, expiry, service journeys -----------------------------
W=$(new_ws quiet Asia/Shanghai)
note_tmpl "$W"
cat > "$W/journeys/thanks.lua" <<'EOF2'
return journey "thanks" {
  trigger = on("order.paid"),
  steps = { send { id = "now", template = "note", channels = { "sms" }, data = { what = "感谢下单" } } },
}
EOF2
cat > "$W/journeys/flash.lua" <<'EOF2'
-- a flash sale notice is worthless two hours later
return journey "flash" {
  trigger = on("flash.sale"),
  expires = hours(2),
  steps = { send { id = "go", template = "note", channels = { "sms" }, data = { what = "限时抢购" } } },
}
EOF2
cat > "$W/journeys/tonight.lua" <<'EOF2'
-- today only: dropped when quiet hours last past midnight
return journey "tonight" {
  trigger = on("cart.left"),
  expires = "end of day",
  quiet_hours = "20:00-08:00",
  steps = { send { id = "go", template = "note", channels = { "sms" }, data = { what = "购物车提醒" } } },
}
EOF2
cat > "$W/journeys/receipt.lua" <<'EOF2'
-- transactional: at any hour, and to members who opted out of marketing SMS
return journey "receipt" {
  trigger = on("order.paid"),
  service = true,
  quiet_hours = false,
  steps = { send { id = "paid", template = "note", channels = { "sms" }, data = { what = "支付成功" } } },
}
EOF2
cat > "$T/q_members.csv" <<'CSV'
id,name,phone,sms_opt_out,tz
Q1,王芳,13800000001,0,
Q2,李娜,13800000002,1,
Q3,Tom,13800000003,0,Europe/London
CSV
cat > "$T/q_events.jsonl" <<'JSONL'
{"id":"a1","type":"order.paid","member":"Q1","at":"2027-03-01T22:30:00+08:00","order_id":"S1","amount":10}
{"id":"a2","type":"order.paid","member":"Q2","at":"2027-03-01T22:40:00+08:00","order_id":"S2","amount":10}
{"id":"a3","type":"order.paid","member":"Q3","at":"2027-03-01T22:50:00+08:00","order_id":"S3","amount":10}
{"id":"a4","type":"flash.sale","member":"Q1","at":"2027-03-01T23:00:00+08:00"}
{"id":"a5","type":"flash.sale","member":"Q1","at":"2027-03-02T08:00:00+08:00"}
{"id":"a6","type":"cart.left","member":"Q1","at":"2027-03-02T19:00:00+08:00"}
{"id":"a7","type":"cart.left","member":"Q1","at":"2027-03-02T20:30:00+08:00"}
{"id":"a8","type":"order.paid","member":"Q1","at":"2027-03-02T09:00:00+08:00","order_id":"S4","amount":10}
JSONL
"$NUDGE" import "$W" "$T/q_members.csv" >/dev/null
out=$("$NUDGE" check "$W" 2>&1)
check_status "check passes with policy settings" 0 $?
"$NUDGE" simulate "$W" --from 2027-03-01 --to 2027-03-03 --events "$T/q_events.jsonl" --out "$T/q.jsonl" > "$T/q_sum.txt"
check_status "simulate" 0 $?
expected=$(sort <<'EOF2'
2027-03-01T22:30:00+08:00 Q1 receipt paid sms
2027-03-01T22:40:00+08:00 Q2 receipt paid sms
2027-03-01T14:50:00+00:00 Q3 receipt paid sms
2027-03-02T09:00:00+08:00 Q1 thanks now sms
2027-03-01T22:40:00+08:00 Q2 thanks now - unreachable
2027-03-01T14:50:00+00:00 Q3 thanks now sms
2027-03-01T23:00:00+08:00 Q1 flash go sms quiet_hours_expired
2027-03-02T09:00:00+08:00 Q1 flash go sms
2027-03-02T19:00:00+08:00 Q1 tonight go sms
2027-03-02T20:30:00+08:00 Q1 tonight go sms quiet_hours_expired
2027-03-02T09:00:00+08:00 Q1 receipt paid sms
2027-03-02T09:00:00+08:00 Q1 thanks now sms
EOF2
)
check_eq "quiet hours dispatch log" "$expected" "$(project "$T/q.jsonl")"
check_eq "a held message says when it was decided" '"2027-03-01T22:30:00+08:00"' \
    "$(jq -c 'select(.member=="Q1" and .journey=="thanks" and .decided) | .decided' "$T/q.jsonl")"
check_eq "only held messages carry decided" "thanks 2027-03-01T22:30:00+08:00
flash 2027-03-02T08:00:00+08:00" "$(jq -r 'select(.decided) | .journey + " " + .decided' "$T/q.jsonl")"
check_contains "held content is kept" \
    "$(jq -c 'select(.member=="Q1" and .journey=="thanks" and .decided) | .content' "$T/q.jsonl")" "感谢下单"
check_contains "summary counts expired" "$(cat "$T/q_sum.txt")" "quiet hours expired"
# SMS framing: marketing gets 【signature】 and the opt-out text, service only the signature
check_eq "marketing sms is framed" '"【悦肤】感谢下单回T退订"' \
    "$(jq -c 'select(.member=="Q1" and .journey=="thanks") | .content' "$T/q.jsonl" | head -1)"
check_eq "service sms has no opt-out text" '"【悦肤】支付成功"' \
    "$(jq -c 'select(.member=="Q1" and .journey=="receipt") | .content' "$T/q.jsonl" | head -1)"
check_eq "sms lines carry their billed parts" "1" \
    "$(jq -r 'select(.channel=="sms" and .content) | .segments' "$T/q.jsonl" | sort -u)"
# the workspace store is untouched: nothing held there
check_eq "simulate leaves no held messages" "" "$("$NUDGE" status "$W" | grep held)"

# ---- SMS length and signature rules --------------------------------------
W=$(new_ws smslen Asia/Shanghai)
long=$(printf '好%.0s' $(seq 200))
cat > "$W/templates/long.lua" <<EOF2
return { sms = "{{name}}$long" }
EOF2
cat > "$W/journeys/long.lua" <<'EOF2'
return journey "long" {
  trigger = once("2027-03-01 12:00"),
  steps = { send { id = "go", template = "long", channels = { "sms" } } },
}
EOF2
printf 'id,name,phone\nL1,王芳,13800000001\n' > "$T/l_members.csv"
printf '[sms]\nsignature = 悦肤旗舰店\nopt_out = 拒收请回复R\n' >> "$W/nudge.conf"
"$NUDGE" import "$W" "$T/l_members.csv" >/dev/null
out=$("$NUDGE" check "$W" 2>&1)
check_status "a 200-character sms passes check" 0 $?
"$NUDGE" simulate "$W" --from 2027-03-01 --to 2027-03-01 --out "$T/l.jsonl" >/dev/null
check_eq "signature and opt-out text from [sms]" "【悦肤旗舰店】王芳好 ... 拒收请回复R" \
    "$(jq -r '.content | .[0:10] + " ... " + .[-6:]' "$T/l.jsonl")"
check_eq "its parts: 215 characters at 67 a part" 4 "$(jq -r '.segments' "$T/l.jsonl")"
long=$(printf '好%.0s' $(seq 495))
printf 'return { sms = "%s" }\n' "$long" > "$W/templates/long.lua"
out=$("$NUDGE" check "$W" 2>&1)
check_status "a template over 500 characters fails check" 1 $?
check_contains "and says so" "$out" "templates/long.lua: sms: 508 characters before any placeholder is filled"
printf 'return { sms = "【双11】{{name}}" }\n' > "$W/templates/long.lua"
out=$("$NUDGE" check "$W" 2>&1)
check_status "【】 in the text fails check" 1 $?
check_contains "and says why" "$out" "templates/long.lua: sms: 【】 is reserved for the signature"
long=$(printf '好%.0s' $(seq 480))
printf 'return { sms = "{{name}}%s" }\n' "$long" > "$W/templates/long.lua"
printf 'id,name,phone\nL2,%s,13800000002\n' "$(printf '长%.0s' $(seq 30))" > "$T/l2.csv"
"$NUDGE" import "$W" "$T/l2.csv" >/dev/null
"$NUDGE" simulate "$W" --from 2027-03-01 --to 2027-03-01 --out "$T/l2.jsonl" >/dev/null
check_eq "a rendered sms over 500 characters is not sent" "L1 sms - L2 sms sms_too_long" \
    "$(jq -r '.member + " " + .channel + " " + (.skipped // "-")' "$T/l2.jsonl" | sort | tr '\n' ' ' | sed 's/ $//')"

# ---- frequency caps and priorities ---------------------------------------
W=$(new_ws caps Asia/Shanghai)
note_tmpl "$W"
sed -i 's/^# cap = 3 per 7 days/cap = 1 per 1 days/' "$W/nudge.conf"
# "a_low" loads (and decides) first; the priority must still win
cat > "$W/journeys/a_low.lua" <<'EOF2'
return journey "a_low" {
  trigger = daily(), at = "10:00",
  steps = { send { id = "hi", template = "note", channels = { "sms" }, data = { what = "日常推荐" } } },
}
EOF2
cat > "$W/journeys/b_high.lua" <<'EOF2'
return journey "b_high" {
  trigger = daily(), at = "10:00", priority = 10,
  audience = function(m) return m.tier == "gold" end,
  steps = { send { id = "hi", template = "note", channels = { "sms" }, data = { what = "会员专享" } } },
}
EOF2
cat > "$W/journeys/c_service.lua" <<'EOF2'
return journey "c_service" {
  trigger = daily(), at = "10:00", service = true,
  steps = { send { id = "hi", template = "note", channels = { "sms" }, data = { what = "账户通知" } } },
}
EOF2
cat > "$T/c_members.csv" <<'CSV'
id,name,phone,tier
C1,王芳,13800000001,gold
C2,李娜,13800000002,normal
CSV
"$NUDGE" import "$W" "$T/c_members.csv" >/dev/null
"$NUDGE" simulate "$W" --from 2027-03-01 --to 2027-03-02 --out "$T/c.jsonl" > "$T/c_sum.txt"
check_status "simulate with caps" 0 $?
expected=$(sort <<'EOF2'
2027-03-01T10:00:00+08:00 C1 a_low hi sms capped
2027-03-01T10:00:00+08:00 C1 b_high hi sms
2027-03-01T10:00:00+08:00 C1 c_service hi sms
2027-03-01T10:00:00+08:00 C2 a_low hi sms
2027-03-01T10:00:00+08:00 C2 c_service hi sms
2027-03-02T10:00:00+08:00 C1 a_low hi sms capped
2027-03-02T10:00:00+08:00 C1 b_high hi sms
2027-03-02T10:00:00+08:00 C1 c_service hi sms
2027-03-02T10:00:00+08:00 C2 a_low hi sms
2027-03-02T10:00:00+08:00 C2 c_service hi sms
EOF2
)
check_eq "caps and priority dispatch log" "$expected" "$(project "$T/c.jsonl")"
check_eq "summary counts capped" "a_low 0 0 2 0" "$(grep a_low "$T/c_sum.txt" | tail -1 | tr -s ' ')"
# a per-channel cap leaves other channels alone; a 2-day window spans days
sed -i 's/^cap = 1 per 1 days/cap.sms = 1 per 2 days/' "$W/nudge.conf"
"$NUDGE" simulate "$W" --from 2027-03-01 --to 2027-03-02 --out "$T/c2.jsonl" >/dev/null
check_eq "sms cap over two days" "2027-03-01T10:00:00+08:00 C1 b_high hi sms
2027-03-01T10:00:00+08:00 C2 a_low hi sms" "$(project "$T/c2.jsonl" | grep -v c_service | grep -v capped)"
for bad in "cap = 3 a week" "cap.fax = 1 per 1 days" "quiet_hours = 21-9"; do
    sed -i "s/^cap.sms = .*/$bad/; s/^cap = .*/$bad/; s/^cap.fax = .*/$bad/; s/^quiet_hours = .*/quiet_hours = 21:00-09:00/" "$W/nudge.conf"
    [ "${bad%% *}" = quiet_hours ] && sed -i "s/^quiet_hours = .*/$bad/" "$W/nudge.conf"
    out=$("$NUDGE" check "$W" 2>&1)
    check_status "bad setting '$bad' is refused" 1 $?
    check_contains "and named with its line" "$out" "nudge.conf:"
done

# ---- the suppression list ----------------------------------------------------
W=$(new_ws supp Asia/Shanghai)
note_tmpl "$W"
cat > "$W/journeys/news.lua" <<'EOF2'
return journey "news" {
  trigger = once("2027-03-01 12:00"),
  steps = { send { id = "go", template = "note", channels = { "sms", "edm" }, data = { what = "新品上市" } } },
}
EOF2
cat > "$T/s_members.csv" <<'CSV'
id,name,phone,email
S1,王芳,13800000001,s1@example.com
S2,李娜,13900000003,s2@example.com
S3,张伟,,S3@Example.com
S4,刘洋,,
CSV
cat > "$W/suppressions.txt" <<'EOF2'
# complaints, 2027-02
+86 139-0000-0003
s3@example.com   # asked by phone
EOF2
"$NUDGE" import "$W" "$T/s_members.csv" >/dev/null
"$NUDGE" simulate "$W" --from 2027-03-01 --to 2027-03-01 --out "$T/s.jsonl" > "$T/s_sum.txt"
check_status "simulate with suppressions" 0 $?
expected=$(sort <<'EOF2'
2027-03-01T12:00:00+08:00 S1 news go sms
2027-03-01T12:00:00+08:00 S2 news go edm
2027-03-01T12:00:00+08:00 S3 news go - suppressed
2027-03-01T12:00:00+08:00 S4 news go - unreachable
EOF2
)
check_eq "suppression dispatch log" "$expected" "$(project "$T/s.jsonl")"
check_contains "summary counts suppressed" "$(cat "$T/s_sum.txt")" "suppressed"
echo "not a phone number!" >> "$W/suppressions.txt"
out=$("$NUDGE" simulate "$W" --from 2027-03-01 --to 2027-03-01 2>&1)
check_status "a bad suppression line stops simulate" 1 $?
check_contains "and is named" "$out" "suppressions.txt:4: 'not a phone number!' is not a phone number, email or WeChat openid"
out=$("$NUDGE" check "$W" 2>&1)
check_status "check reports it too" 1 $?
sed -i '$d' "$W/suppressions.txt"
echo "suppress = missing.txt" >> "$W/nudge.conf"
out=$("$NUDGE" check "$W" 2>&1)
check_status "a named suppression file must exist" 1 $?
check_contains "and is named" "$out" "missing.txt"
finish
