#!/usr/bin/env bash
# points_expiry: 30 days before a batch's expiry date, the points left in
# the batches expiring that day; redemptions take the soonest-expiring
# batches first; batches used up before their reminder get none.
. "$(dirname "$0")/lib.sh"

W=$(new_ws points Asia/Shanghai points_expiry)
cat > "$T/members.csv" <<'CSV'
id,name,phone,wechat_openid,wechat_subscribed,tz
P1,王芳,13800000001,oP1xxxxxxxxxxxxxxxxxxxxxxxxx,1,
P2,李娜,13800000002,,0,
P3,张伟,13800000003,,0,Asia/Tokyo
P4,刘洋,13800000004,,0,
P5,陈静,13800000005,,0,Asia/Tokyo
CSV
cat > "$T/history.jsonl" <<'JSONL'
{"id":"p1","type":"points.earned","member":"P1","at":"2026-03-01T10:00:00+08:00","points":100,"expires_at":"2027-03-31"}
{"id":"p2","type":"points.earned","member":"P1","at":"2026-06-01T10:00:00+08:00","points":50,"expires_at":"2027-03-31"}
{"id":"p3","type":"points.earned","member":"P1","at":"2026-10-01T10:00:00+08:00","points":200,"expires_at":"2027-12-31"}
{"id":"p4","type":"points.redeemed","member":"P1","at":"2026-11-01T10:00:00+08:00","points":120}
{"id":"p5","type":"points.earned","member":"P2","at":"2026-04-16T10:00:00+08:00","points":80,"expires_at":"2027-04-15"}
{"id":"p6","type":"points.earned","member":"P3","at":"2026-02-11T10:00:00+09:00","points":500,"expires_at":"2027-02-10"}
{"id":"p7","type":"points.earned","member":"P4","at":"2026-01-21T10:00:00+08:00","points":60,"expires_at":"2027-01-20"}
{"id":"p8","type":"points.earned","member":"P5","at":"2026-03-05T10:00:00+09:00","points":70,"expires_at":"2027-03-31"}
{"id":"p9","type":"points.earned","member":"P5","at":"2026-05-05T10:00:00+09:00","points":20,"expires_at":"2027-03-31"}
JSONL
cat > "$T/events.jsonl" <<'JSONL'
{"id":"f1","type":"points.redeemed","member":"P2","at":"2027-02-01T10:00:00+08:00","points":80}
{"id":"f2","type":"points.earned","member":"P2","at":"2027-02-02T10:00:00+08:00","points":10,"expires_at":"2027-06-30"}
JSONL
"$NUDGE" import "$W" "$T/members.csv" "$T/history.jsonl" >/dev/null
check_status "import" 0 $?
"$NUDGE" simulate "$W" --from 2027-01-01 --to 2027-12-31 --events "$T/events.jsonl" --out "$T/log.jsonl" >/dev/null
check_status "simulate" 0 $?
expected=$(sort <<'EOF2'
2027-01-11T10:00:00+09:00 P3 points_expiry reminder sms
2027-03-01T10:00:00+08:00 P1 points_expiry reminder wechat
2027-03-01T10:00:00+09:00 P5 points_expiry reminder sms
2027-05-31T10:00:00+08:00 P2 points_expiry reminder sms
2027-12-01T10:00:00+08:00 P1 points_expiry reminder wechat
EOF2
)
check_eq "points dispatch log" "$expected" "$(project "$T/log.jsonl")"
p1=$(grep '"member":"P1"' "$T/log.jsonl" | head -1)
check_contains "P1 amount left after redeeming 120 of 100+50" "$p1" '"keyword1":{"value":"30分"}'
check_contains "P1 expiry date" "$p1" '"keyword2":{"value":"2027-03-31"}'
# P5 shares P1's expiry day from another zone: one reminder each, at
# each one's 10:00, each with its own batches' points
check_contains "P5 sums its two batches of that day" "$(grep '"member":"P5"' "$T/log.jsonl")" \
    '"content":"【悦肤】陈静，您有90积分将于2027-03-31到期清零，快去积分商城兑换好礼。回T退订"'
check_contains "P2 sms" "$(grep '"member":"P2"' "$T/log.jsonl")" '"content":"【悦肤】李娜，您有10积分将于2027-06-30到期清零，快去积分商城兑换好礼。回T退订"'
finish
