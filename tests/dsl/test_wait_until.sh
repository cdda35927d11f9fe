#!/usr/bin/env bash
# wait { for_event = EVENT, timeout = ... }: the member goes on when the event
# arrives or when the timeout ends, whichever is first; o.received is the
# event that ended the latest such wait (nil when it timed out); mistakes
# in the step are reported with file:line.
. "$(dirname "$0")/../e2e/lib.sh"

W=$(new_ws until Asia/Shanghai)
sed -i 's/^quiet_hours = .*/quiet_hours = off/' "$W/nudge.conf"
cat > "$W/templates/note.lua" <<'EOF2'
return { sms = "{{name}}：{{what}}" }
EOF2
cat > "$W/journeys/cart.lua" <<'EOF2'
-- an abandoned cart: thank those who buy within 2 hours, remind the others
return journey "cart" {
  trigger = on("cart.abandoned"),
  steps = {
    wait { id = "for_order", for_event = "order.paid", timeout = hours(2) },
    send { id = "big_thanks", template = "note", channels = { "sms" }, data = { what = "感谢大单" },
           when = function(m, o) return o.received ~= nil and o.received.amount >= 500 end },
    send { id = "thanks", template = "note", channels = { "sms" }, data = { what = "感谢下单" },
           when = function(m, o) return o.received ~= nil and o.received.amount < 500 end },
    send { id = "remind", template = "note", channels = { "sms" }, data = { what = "购物车还在" },
           when = function(m, o) return o.received == nil end },
  },
}
EOF2
cat > "$W/journeys/review.lua" <<'EOF2'
-- after a first order, wait a day for a review; o.received forgets the
-- order once the next wait begins
return journey "review" {
  trigger = on("trial.started"),
  steps = {
    wait { for_event = "order.paid", timeout = days(1), at = "10:00" },
    exit { when = function(m, o) return o.received == nil end },
    wait { ["until"] = "review.posted", timeout = days(1) },   -- the quoted keyword works too
    send { id = "ask", template = "note", channels = { "sms" }, data = { what = "期待评价" },
           when = function(m, o) return o.received == nil end },
    send { id = "gift", template = "note", channels = { "sms" }, data = { what = "评价有礼" },
           when = function(m, o) return o.received ~= nil and o.received.type == "review.posted" end },
  },
}
EOF2
cat > "$T/members.csv" <<'CSV'
id,name,phone
C1,王芳,13800000001
C2,李娜,13800000002
C3,张伟,13800000003
C4,刘洋,13800000004
C5,陈静,13800000005
C6,杨帆,13800000006
CSV
cat > "$T/events.jsonl" <<'JSONL'
{"id":"a1","type":"cart.abandoned","member":"C1","at":"2027-03-01T20:00:00+08:00"}
{"id":"a2","type":"cart.abandoned","member":"C2","at":"2027-03-01T20:00:00+08:00"}
{"id":"a3","type":"cart.abandoned","member":"C3","at":"2027-03-01T20:00:00+08:00"}
{"id":"a4","type":"cart.abandoned","member":"C4","at":"2027-03-01T20:00:00+08:00"}
{"id":"o1","type":"order.paid","member":"C1","at":"2027-03-01T20:30:00+08:00","order_id":"X1","amount":899}
{"id":"o3","type":"order.paid","member":"C3","at":"2027-03-01T23:00:00+08:00","order_id":"X3","amount":99}
{"id":"o4","type":"order.paid","member":"C4","at":"2027-03-01T21:59:00+08:00","order_id":"X4","amount":99}
{"id":"t5","type":"trial.started","member":"C5","at":"2027-03-02T09:00:00+08:00"}
{"id":"t6","type":"trial.started","member":"C6","at":"2027-03-02T09:00:00+08:00"}
{"id":"o5","type":"order.paid","member":"C5","at":"2027-03-02T15:00:00+08:00","order_id":"X5","amount":50}
{"id":"o6","type":"order.paid","member":"C6","at":"2027-03-02T16:00:00+08:00","order_id":"X6","amount":50}
{"id":"r6","type":"review.posted","member":"C6","at":"2027-03-02T18:00:00+08:00"}
JSONL
"$NUDGE" import "$W" "$T/members.csv" >/dev/null
check_status "import" 0 $?
out=$("$NUDGE" check "$W" 2>&1); st=$?; [ $st = 0 ] || echo "$out" >&2; (exit $st)
check_status "check passes" 0 $?
"$NUDGE" simulate "$W" --from 2027-03-01 --to 2027-03-05 --events "$T/events.jsonl" --out "$T/log.jsonl" >/dev/null
check_status "simulate" 0 $?
expected=$(sort <<'EOF2'
2027-03-01T20:30:00+08:00 C1 cart big_thanks sms
2027-03-01T21:59:00+08:00 C4 cart thanks sms
2027-03-01T22:00:00+08:00 C2 cart remind sms
2027-03-01T22:00:00+08:00 C3 cart remind sms
2027-03-03T15:00:00+08:00 C5 review ask sms
2027-03-02T18:00:00+08:00 C6 review gift sms
EOF2
)
check_eq "woken by the event or by the timeout, whichever first" "$expected" "$(project "$T/log.jsonl")"
# C6 never had a trial timeout: nothing else for C6; C3's late order did not
# reach the cart journey (C3 had left it at 22:00)
check_eq "each member once" 6 "$(jq -r .member "$T/log.jsonl" | sort -u | wc -l)"

# ---- mistakes in the step -----------------------------------------------------------
B=$(new_ws until_bad Asia/Shanghai)
cp "$W/templates/note.lua" "$B/templates/"
bad_journey() {   # NAME STEP
    cat > "$B/journeys/$1.lua" <<EOF2
return journey "$1" {
  trigger = on("cart.abandoned"),
  steps = {
    $2,
    send { template = "note", channels = { "sms" } },
  },
}
EOF2
}
bad_journey no_timeout 'wait { for_event = "order.paid" }'
bad_journey number_timeout 'wait { for_event = "order.paid", timeout = 3 }'
bad_journey timeout_alone 'wait { timeout = days(1) }'
bad_journey empty_until 'wait { for_event = "", timeout = days(1) }'
bad_journey number_event 'wait { for_event = 7, timeout = days(1) }'
bad_journey month_timeout 'wait { for_event = "order.paid", timeout = months(1) }'
out=$("$NUDGE" check "$B" 2>&1)
check_status "check fails" 1 $?
check_contains "no timeout" "$out" 'journeys/no_timeout.lua:4: wait for_event "order.paid" needs a timeout, e.g. timeout = days(3)'
check_contains "a number is not a duration" "$out" 'journeys/number_timeout.lua:4: timeout takes a duration, e.g. timeout = days(3)'
check_contains "timeout without until" "$out" 'journeys/timeout_alone.lua:4: timeout goes with for_event'
check_contains "an empty event type" "$out" 'journeys/empty_until.lua:4: for_event needs an event type'
check_contains "an event type is text" "$out" 'journeys/number_event.lua:4: for_event names an event type'
check_contains "no months" "$out" 'journeys/month_timeout.lua:4: timeout does not take months; use days'
finish
