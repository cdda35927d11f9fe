#!/usr/bin/env bash
# new_member_day21: join dates at month ends and across time zones, an
# order between day 21 and day 28, unreachable members, members who
# joined before the journey was loaded, and a join arriving as an event.
. "$(dirname "$0")/lib.sh"

W=$(new_ws day21 Asia/Shanghai new_member_day21)
cat > "$T/members.csv" <<'CSV'
id,name,phone,email,wechat_openid,wechat_subscribed,tz,joined_at,tier
A1,王芳,13800000001,,oA1xxxxxxxxxxxxxxxxxxxxxxxxx,1,,2027-01-01,normal
A2,李娜,13800000002,a2@example.com,,0,,2027-01-31T23:30:00,gold
A3,张伟,,a3@example.com,,0,America/New_York,2027-01-10T22:00:00-05:00,silver
A4,刘洋,13800000004,,,0,,2027-01-05,
A5,陈静,,,,0,,2027-01-03,normal
A6,杨洋,13800000006,,,0,,2027-01-02,normal
A7,赵敏,13800000007,,,0,,2027-01-01T20:00:00Z,normal
A8,黄磊,13800000008,,,0,,2026-12-01,normal
A9,周杰,13800000009,,,0,,2026-12-20,normal
CSV
cat > "$T/history.jsonl" <<'JSONL'
{"id":"h1","type":"order.paid","member":"A6","at":"2027-01-02T12:00:00+08:00","order_id":"SO-1","amount":99}
{"id":"h2","type":"order.paid","member":"A6","at":"2027-01-02T13:00:00+08:00","order_id":"SO-2","amount":199.5}
JSONL
cat > "$T/events.jsonl" <<'JSONL'
{"id":"e1","type":"order.paid","member":"A4","at":"2027-01-20T12:00:00+08:00","order_id":"SO-3","amount":59}
{"id":"e2","type":"order.paid","member":"A4","at":"2027-01-28T12:00:00+08:00","order_id":"SO-4","amount":59}
{"id":"e3","type":"member.joined","member":"A10","at":"2027-02-01T09:30:00+08:00","name":"吴倩","phone":"13800000010","tier":"normal"}
JSONL
out=$("$NUDGE" import "$W" "$T/members.csv" "$T/history.jsonl")
check_contains "import summary" "$out" "9 rows read, 9 inserted, 0 updated, 0 unchanged, 0 rejected"
"$NUDGE" simulate "$W" --from 2027-01-01 --to 2027-03-31 --events "$T/events.jsonl" --out "$T/log.jsonl" >"$T/summary.txt"
check_status "simulate" 0 $?

# Worked out by hand from the journey's rules (day 21 and day 28 at 10:00
# local; wechat, sms, edm then sms, edm; an order in between exits).
expected=$(sort <<'EOF2'
2027-01-10T10:00:00+08:00 A9 new_member_day21 care sms
2027-01-17T10:00:00+08:00 A9 new_member_day21 voucher sms
2027-01-22T10:00:00+08:00 A1 new_member_day21 care wechat
2027-01-23T10:00:00+08:00 A7 new_member_day21 care sms
2027-01-24T10:00:00+08:00 A5 new_member_day21 care - unreachable
2027-01-26T10:00:00+08:00 A4 new_member_day21 care sms
2027-01-29T10:00:00+08:00 A1 new_member_day21 voucher sms
2027-01-30T10:00:00+08:00 A7 new_member_day21 voucher sms
2027-01-31T10:00:00+08:00 A5 new_member_day21 voucher - unreachable
2027-01-31T10:00:00-05:00 A3 new_member_day21 care edm
2027-02-07T10:00:00-05:00 A3 new_member_day21 voucher edm
2027-02-21T10:00:00+08:00 A2 new_member_day21 care sms
2027-02-22T10:00:00+08:00 A10 new_member_day21 care sms
2027-02-28T10:00:00+08:00 A2 new_member_day21 voucher sms
2027-03-01T10:00:00+08:00 A10 new_member_day21 voucher sms
EOF2
)
check_eq "day21 dispatch log" "$expected" "$(project "$T/log.jsonl")"

# the same events out of order (and a broken line) give the same log
{ tac "$T/events.jsonl"; echo '{"type":"order.paid"'; } > "$T/shuffled.jsonl"
"$NUDGE" simulate "$W" --from 2027-01-01 --to 2027-03-31 --events "$T/shuffled.jsonl" --out "$T/log_s.jsonl" \
    >/dev/null 2>"$T/err_s.txt"
check_status "a rejected event line gives status 1" 1 $?
check_eq "out-of-order events, same log" "$(cat "$T/log.jsonl")" "$(cat "$T/log_s.jsonl")"
check_contains "broken line reported" "$(cat "$T/err_s.txt")" "shuffled.jsonl:4: not valid JSON"

line=$(grep '"member":"A1","journey":"new_member_day21","step":"care"' "$T/log.jsonl")
check_contains "A1 key" "$line" '"key":"new_member_day21:care:A1:2027-01-22"'
check_contains "A1 wechat content" "$line" '"first":{"value":"王芳，感谢您加入悦肤会员已满三周"}'
check_contains "A1 wechat joined_on" "$line" '"keyword2":{"value":"2027-01-01"}'
line=$(grep '"member":"A1","journey":"new_member_day21","step":"voucher"' "$T/log.jsonl")
check_contains "A1 sms voucher" "$line" '"content":"【悦肤】王芳，送您一张20元回购券（券码NEW21），7天内有效，门店及小程序通用。回T退订"'
check_contains "summary exited" "$(cat "$T/summary.txt")" "new_member_day21"
check_eq "A4 exited once" "1" "$(awk '$1=="new_member_day21"{print $7}' "$T/summary.txt")"

# parameters: the workspace moves the first message to day 14 at 09:30
printf '\n[params.new_member_day21]\nfirst_days = 14\nsend_at = 09:30\n' >> "$W/nudge.conf"
"$NUDGE" simulate "$W" --from 2027-01-01 --to 2027-01-20 --out "$T/log2.jsonl" >/dev/null
check_eq "param override" "2027-01-15T09:30:00+08:00 A1 new_member_day21 care wechat" \
    "$(project "$T/log2.jsonl" | grep ' A1 ')"
finish
