#!/usr/bin/env bash
# churn_month8: 8 calendar months after the local date of the last order,
# month ends clamped (Jun 28-30 -> Feb 28), a newer order moving the date,
# and the offer again after every new last order.
. "$(dirname "$0")/lib.sh"

W=$(new_ws churn Asia/Shanghai churn_month8)
cat > "$T/members.csv" <<'CSV'
id,name,phone,wechat_openid,wechat_subscribed,tz
C1,王芳,13800000001,oC1xxxxxxxxxxxxxxxxxxxxxxxxx,1,
C2,李娜,13800000002,,0,
C3,张伟,13800000003,,0,
C4,刘洋,13800000004,,0,
C5,陈静,13800000005,,0,America/New_York
C6,杨洋,13800000006,,0,
C7,赵敏,13800000007,,0,
CSV
cat > "$T/history.jsonl" <<'JSONL'
{"type":"order.paid","member":"C1","at":"2026-06-30T20:00:00+08:00","order_id":"H1","amount":100}
{"type":"order.paid","member":"C1","at":"2026-03-30T20:00:00+08:00","order_id":"H0","amount":100}
{"type":"order.paid","member":"C2","at":"2026-06-28T09:00:00+08:00","order_id":"H2","amount":100}
{"type":"order.paid","member":"C3","at":"2026-05-31T09:00:00+08:00","order_id":"H3","amount":100}
{"type":"order.paid","member":"C4","at":"2026-07-15T09:00:00+08:00","order_id":"H4","amount":100}
{"type":"order.paid","member":"C5","at":"2026-06-29T20:00:00-04:00","order_id":"H5","amount":100}
{"type":"order.paid","member":"C6","at":"2026-04-10T23:30:00Z","order_id":"H6","amount":100}
JSONL
cat > "$T/events.jsonl" <<'JSONL'
{"type":"order.paid","member":"C4","at":"2027-03-01T12:00:00+08:00","order_id":"N1","amount":88}
{"type":"order.paid","member":"C6","at":"2027-01-05T12:00:00+08:00","order_id":"N2","amount":88}
JSONL
"$NUDGE" import "$W" "$T/members.csv" "$T/history.jsonl" >/dev/null
check_status "import" 0 $?
"$NUDGE" simulate "$W" --from 2027-01-01 --to 2027-12-31 --events "$T/events.jsonl" --out "$T/log.jsonl" >/dev/null
check_status "simulate" 0 $?
expected=$(sort <<'EOF2'
2027-01-31T10:00:00+08:00 C3 churn_month8 winback sms
2027-02-28T10:00:00+08:00 C1 churn_month8 winback wechat
2027-02-28T10:00:00+08:00 C2 churn_month8 winback sms
2027-02-28T10:00:00-05:00 C5 churn_month8 winback sms
2027-09-05T10:00:00+08:00 C6 churn_month8 winback sms
2027-11-01T10:00:00+08:00 C4 churn_month8 winback sms
EOF2
)
check_eq "churn dispatch log" "$expected" "$(project "$T/log.jsonl")"
check_contains "sms text" "$(grep '"member":"C3"' "$T/log.jsonl")" '"content":"【悦肤】张伟，好久不见！会员专享8折券已放入您的账户，券码BACK8，30天内有效。回T退订"'
finish
