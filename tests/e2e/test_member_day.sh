#!/usr/bin/env bash
# member_day: 10:00 on the 8th of every month, tiers above normal only,
# each member in their own zone; a member joining mid-way is included
# from the next member day.
. "$(dirname "$0")/lib.sh"

W=$(new_ws memberday Asia/Shanghai member_day)
cat > "$T/members.csv" <<'CSV'
id,name,phone,email,wechat_openid,wechat_subscribed,tier,tz
M1,王芳,13800000001,,oM1xxxxxxxxxxxxxxxxxxxxxxxxx,1,gold,
M2,李娜,13800000002,,oM2xxxxxxxxxxxxxxxxxxxxxxxxx,1,normal,
M3,张伟,13800000003,,oM3xxxxxxxxxxxxxxxxxxxxxxxxx,1,,
M4,刘洋,,m4@example.com,,0,silver,Europe/London
M5,陈静,13800000005,,,0,platinum,
CSV
cat > "$T/events.jsonl" <<'JSONL'
{"id":"j6","type":"member.joined","member":"M6","at":"2027-02-10T15:00:00+08:00","name":"杨洋","wechat_openid":"oM6xxxxxxxxxxxxxxxxxxxxxxxxx","wechat_subscribed":1,"tier":"gold"}
JSONL
"$NUDGE" import "$W" "$T/members.csv" >/dev/null
"$NUDGE" simulate "$W" --from 2027-01-01 --to 2027-03-31 --events "$T/events.jsonl" --out "$T/log.jsonl" >/dev/null
check_status "simulate" 0 $?
expected=$(sort <<'EOF2'
2027-01-08T10:00:00+08:00 M1 member_day invite wechat
2027-01-08T10:00:00+00:00 M4 member_day invite edm
2027-01-08T10:00:00+08:00 M5 member_day invite - unreachable
2027-02-08T10:00:00+08:00 M1 member_day invite wechat
2027-02-08T10:00:00+00:00 M4 member_day invite edm
2027-02-08T10:00:00+08:00 M5 member_day invite - unreachable
2027-03-08T10:00:00+08:00 M1 member_day invite wechat
2027-03-08T10:00:00+00:00 M4 member_day invite edm
2027-03-08T10:00:00+08:00 M5 member_day invite - unreachable
2027-03-08T10:00:00+08:00 M6 member_day invite wechat
EOF2
)
check_eq "member day dispatch log" "$expected" "$(project "$T/log.jsonl")"
check_contains "wechat data" "$(grep '"member":"M1"' "$T/log.jsonl" | head -1)" '"keyword2":{"value":"2027-01-08 全天"}'
check_contains "tier in remark" "$(grep '"member":"M1"' "$T/log.jsonl" | head -1)" '您是gold会员'
finish
