#!/usr/bin/env bash
# birthday: Feb 29 birthdays on Feb 28 in common years and Feb 29 in leap
# years, members in other zones, channel fallback after an unsubscribe and
# an opt-out, and an unreachable member.
. "$(dirname "$0")/lib.sh"

W=$(new_ws birthday Asia/Shanghai birthday)
cat > "$T/members.csv" <<'CSV'
id,name,phone,email,wechat_openid,wechat_subscribed,birthday,tz,email_opt_out
B1,王芳,13800000001,,oB1xxxxxxxxxxxxxxxxxxxxxxxxx,1,1996-02-29,,0
B2,李娜,13800000002,,,0,1990-02-28,,0
B3,张伟,,b3@example.com,,0,1985-03-01,Asia/Tokyo,0
B4,刘洋,13800000004,,oB4xxxxxxxxxxxxxxxxxxxxxxxxx,1,1992-06-15,,0
B5,陈静,13800000005,b5@example.com,,0,1993-07-01,,0
B6,杨洋,13800000006,,,0,,,0
B7,赵敏,13800000007,,,0,2000-12-31,America/Los_Angeles,0
B9,黄磊,,b9@example.com,,0,1988-04-10,,1
CSV
cat > "$T/events.jsonl" <<'JSONL'
{"id":"e1","type":"wechat.unsubscribed","member":"B4","at":"2027-05-01T08:00:00+08:00"}
{"id":"e2","type":"sms.opted_out","member":"B5","at":"2027-06-01T08:00:00+08:00"}
JSONL
"$NUDGE" import "$W" "$T/members.csv" >/dev/null
check_status "import" 0 $?
"$NUDGE" simulate "$W" --from 2027-02-01 --to 2028-03-05 --events "$T/events.jsonl" --out "$T/log.jsonl" >/dev/null
check_status "simulate" 0 $?
expected=$(sort <<'EOF2'
2027-02-28T09:00:00+08:00 B1 birthday coupon wechat
2027-02-28T09:00:00+08:00 B2 birthday coupon sms
2027-03-01T09:00:00+09:00 B3 birthday coupon edm
2027-04-10T09:00:00+08:00 B9 birthday coupon - unreachable
2027-06-15T09:00:00+08:00 B4 birthday coupon sms
2027-07-01T09:00:00+08:00 B5 birthday coupon edm
2027-12-31T09:00:00-08:00 B7 birthday coupon sms
2028-02-28T09:00:00+08:00 B2 birthday coupon sms
2028-02-29T09:00:00+08:00 B1 birthday coupon wechat
2028-03-01T09:00:00+09:00 B3 birthday coupon edm
EOF2
)
check_eq "birthday dispatch log" "$expected" "$(project "$T/log.jsonl")"
check_eq "one key per year" "birthday:coupon:B1:2027-02-28
birthday:coupon:B1:2028-02-29" "$(jq -r 'select(.member=="B1") | .key' "$T/log.jsonl")"
check_contains "edm subject" "$(grep '"member":"B3"' "$T/log.jsonl" | head -1)" '"subject":"张伟，生日快乐！您的生日礼券到了"'
finish
