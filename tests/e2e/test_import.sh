#!/usr/bin/env bash
# Import: bad rows are reported with line and reason and skipped, the rest
# is loaded, nothing stored is lost, and importing again changes nothing.
. "$(dirname "$0")/lib.sh"

W=$(new_ws import Asia/Shanghai)
printf '\xef\xbb\xbf' > "$T/members.csv"
cat >> "$T/members.csv" <<'CSV'
name,id,phone,email,birthday,tz,wechat_subscribed,city,joined_at
王芳,M1,13800000001,m1@example.com,1990-05-01,,1,上海,2026-01-01
李娜,M2,138-0000-0002,,1991-02-29,,0,北京,2026-01-02
张伟,M3,13800000003,,1992-03-03,Asia/Shangai,0,广州,2026-01-03
刘洋,M4,13800000004,not-an-email,,,0,深圳,2026-01-04
陈静,,13800000005,,,,0,成都,2026-01-05
"杨,洋",M6,13800000006,,,,yes,杭州,2026-01-06
"赵
敏",M7,13800000007,,,,0,"南京",2026-13-01
黄磊,M8,13800000008
周杰,M9,13800000009,m9@example.com,1989-12-31,America/New_York,1,纽约,2026-02-01T08:00:00
CSV
out=$("$NUDGE" import "$W" "$T/members.csv" 2>&1)
check_status "rejected rows give status 1" 1 $?
check_contains "summary" "$out" "9 rows read, 2 inserted, 0 updated, 0 unchanged, 7 rejected"
check_contains "bad date" "$out" "members.csv:3: birthday '1991-02-29' is not a valid YYYY-MM-DD date"
check_contains "bad zone" "$out" "members.csv:4: tz: unknown time zone 'Asia/Shangai'"
check_contains "bad email" "$out" "members.csv:5: email 'not-an-email' is not an email address"
check_contains "empty id" "$out" "members.csv:6: id is empty"
check_contains "bad flag" "$out" "members.csv:7: wechat_subscribed 'yes' must be 0 or 1"
check_contains "multi-line record keeps its line" "$out" "members.csv:8: joined_at: '2026-13-01' is not a valid date"
check_contains "short row" "$out" "members.csv:10: 3 fields, but the header has 9"

# fix the file: the good rows are unchanged, the fixed ones come in
sed -i 's/1991-02-29/1991-02-28/; s/Asia\/Shangai/Asia\/Shanghai/; s/not-an-email/m4@example.com/; s/^陈静,,/陈静,M5,/; s/,yes,/,1,/; s/2026-13-01/2026-12-01/; s/^黄磊,M8,13800000008$/黄磊,M8,13800000008,,,,0,西安,2026-01-08/' "$T/members.csv"
out=$("$NUDGE" import "$W" "$T/members.csv" 2>&1)
check_status "clean import" 0 $?
check_contains "second pass" "$out" "9 rows read, 7 inserted, 0 updated, 2 unchanged, 0 rejected"
out=$("$NUDGE" import "$W" "$T/members.csv" 2>&1)
check_contains "re-import changes nothing" "$out" "9 rows read, 0 inserted, 0 updated, 9 unchanged, 0 rejected"
sed -i 's/^王芳,M1,13800000001/王芳,M1,13900000001/' "$T/members.csv"
out=$("$NUDGE" import "$W" "$T/members.csv" 2>&1)
check_contains "one update" "$out" "9 rows read, 0 inserted, 1 updated, 8 unchanged, 0 rejected"
# a file with only some columns updates those and keeps the rest
printf 'id,tier\nM1,gold\n' > "$T/tiers.csv"
"$NUDGE" import "$W" "$T/tiers.csv" >/dev/null
cat > "$W/journeys/probe.lua" <<'EOF2'
return journey "probe" {
  trigger = on("probe"),
  steps = { send { template = "p", channels = { "sms" } } },
}
EOF2
cat > "$W/templates/p.lua" <<'EOF2'
return { sms = "{{name}}|{{phone}}|{{tier}}|{{city}}|{{birthday}}|{{joined_at}}" }
EOF2
echo '{"type":"probe","member":"M1","at":"2027-01-01T12:00:00+08:00"}' > "$T/probe.jsonl"
"$NUDGE" simulate "$W" --from 2027-01-01 --to 2027-01-01 --events "$T/probe.jsonl" --out "$T/log.jsonl" >/dev/null
check_eq "partial update keeps other fields" '"【悦肤】王芳|13900000001|gold|上海|1990-05-01|2026-01-01T00:00:00+08:00回T退订"' \
    "$(jq -c .content "$T/log.jsonl")"

cat > "$T/events.jsonl" <<'JSONL'
{"id":"e1","type":"order.paid","member":"M1","at":"2026-03-01T10:00:00+08:00","order_id":"SO1","amount":128.5}
{"id":"e2","type":"order.paid","member":"M404","at":"2026-03-01T10:00:00+08:00","order_id":"SO2","amount":1}
{"id":"e3","type":"order.paid","member":"M1","at":"2026-03-01T10:00:00+08:00","amount":1}
{"id":"e4","type":"points.earned","member":"M1","at":"2026-03-01T10:00:00+08:00","points":100,"expires_at":"2027-02-30"}
{"id":"e5","type":"points.earned","member":"M1","at":"2026-03-01T10:00:00+08:00","points":100,"expires_at":"2027-12-31"}
{"id":"e6","type":"points.redeemed","member":"M1","at":"2026-04-01T10:00:00+08:00","points":500}
{"type":"order.paid","member":"M1","at":"yesterday","order_id":"SO3","amount":1}
{"type": "order.paid", "member": "M1",
{"id":"e7","type":"order.paid","member":"M1","at":"2026-03-02T10:00:00+08:00","order_id":"SO1","amount":128.5}
{"id":"e8","type":"store.visit","member":"M2","at":"2026-03-03T10:00:00+08:00","store":"SH-001"}
JSONL
out=$("$NUDGE" import "$W" "$T/events.jsonl" 2>&1)
check_status "rejected events give status 1" 1 $?
check_contains "events summary" "$out" "10 events read, 3 applied, 1 already known, 6 rejected"
check_contains "unknown member" "$out" "events.jsonl:2: unknown member 'M404'"
check_contains "missing field" "$out" "events.jsonl:3: order_id is missing"
check_contains "bad expiry" "$out" "events.jsonl:4: expires_at must be a date like 2027-12-31"
check_contains "over-redemption" "$out" "events.jsonl:6: redeems 500 points but the balance is 100"
check_contains "bad time" "$out" "events.jsonl:7: at: 'yesterday' is not an ISO 8601 date or time"
check_contains "bad json" "$out" "events.jsonl:8: not valid JSON"
out=$("$NUDGE" import "$W" "$T/events.jsonl" 2>&1)
check_contains "events re-import" "$out" "10 events read, 0 applied, 4 already known, 6 rejected"

# the same id twice in one file (one transaction), and a taken-back id
# (known order_id) that comes again with a new order: each counted once
cat > "$T/dups.jsonl" <<'JSONL'
{"id":"d1","type":"points.earned","member":"M2","at":"2026-05-01T10:00:00+08:00","points":10,"expires_at":"2027-12-31"}
{"id":"d1","type":"points.earned","member":"M2","at":"2026-05-01T10:00:00+08:00","points":10,"expires_at":"2027-12-31"}
{"id":"d2","type":"order.paid","member":"M2","at":"2026-05-02T10:00:00+08:00","order_id":"SO1","amount":5}
{"id":"d2","type":"order.paid","member":"M2","at":"2026-05-02T10:00:00+08:00","order_id":"SO9","amount":5}
{"id":"d2","type":"order.paid","member":"M2","at":"2026-05-02T10:00:00+08:00","order_id":"SO9","amount":5}
JSONL
out=$("$NUDGE" import "$W" "$T/dups.jsonl" 2>&1)
check_contains "duplicates within one file" "$out" "5 events read, 2 applied, 3 already known, 0 rejected"
out=$("$NUDGE" import "$W" "$T/dups.jsonl" 2>&1)
check_contains "and all known the second time" "$out" "5 events read, 0 applied, 5 already known, 0 rejected"
# the log's Bloom filter is saved for the next process, with the log's
# generation; one left behind by a process that changed the log after
# it (a crash before saving) is not trusted: the log is read again
q() { sqlite3 "$W/nudge.db" "$1"; }
check_eq "the filter is saved with the log's generation" "$(q "SELECT value FROM meta WHERE key = 'event_gen'")" \
    "$(q "SELECT gen FROM event_filter")"
q "CREATE TABLE old_filter AS SELECT * FROM event_filter"
cat > "$T/more.jsonl" <<'JSONL'
{"id":"g1","type":"points.earned","member":"M2","at":"2026-05-03T10:00:00+08:00","points":10,"expires_at":"2027-12-31"}
{"id":"g2","type":"order.paid","member":"M2","at":"2026-05-03T11:00:00+08:00","order_id":"SO10","amount":5}
JSONL
gen0=$(q "SELECT value FROM meta WHERE key = 'event_gen'")
out=$("$NUDGE" import "$W" "$T/more.jsonl" 2>&1)
check_contains "new ids after a saved filter" "$out" "2 events read, 2 applied, 0 already known"
check_eq "the generation moved on, and the saved filter with it" "$((gen0 + 1)) $((gen0 + 1))" \
    "$(q "SELECT value FROM meta WHERE key = 'event_gen'") $(q "SELECT gen FROM event_filter")"
q "DELETE FROM event_filter; INSERT INTO event_filter SELECT * FROM old_filter; DROP TABLE old_filter"
out=$("$NUDGE" import "$W" "$T/more.jsonl" 2>&1)
check_contains "a filter older than the log is not trusted" "$out" "2 events read, 0 applied, 2 already known"
# simulate --events with ids the store already has: not applied again
"$NUDGE" simulate "$W" --from 2026-05-01 --to 2026-05-03 --events "$T/dups.jsonl" > "$T/sum.txt"
check_contains "simulate skips known ids" "$(cat "$T/sum.txt")" "events: 0 applied, 5 already known, 0 rejected"
# new ids in simulate: a repeat is known, a rejected one can come again
cat > "$T/sim.jsonl" <<'JSONL'
{"id":"s1","type":"points.earned","member":"M2","at":"2026-05-01T10:00:00+08:00","points":10,"expires_at":"2027-12-31"}
{"id":"s1","type":"points.earned","member":"M2","at":"2026-05-01T11:00:00+08:00","points":10,"expires_at":"2027-12-31"}
{"id":"s2","type":"points.redeemed","member":"M2","at":"2026-05-01T12:00:00+08:00","points":99999}
{"id":"s2","type":"points.redeemed","member":"M2","at":"2026-05-01T13:00:00+08:00","points":5}
{"id":"s2","type":"points.redeemed","member":"M2","at":"2026-05-01T14:00:00+08:00","points":5}
{"id":"d1","type":"points.earned","member":"M2","at":"2026-05-01T15:00:00+08:00","points":10,"expires_at":"2027-12-31"}
JSONL
"$NUDGE" simulate "$W" --from 2026-05-01 --to 2026-05-03 --events "$T/sim.jsonl" > "$T/sum.txt" 2> "$T/err.txt"
check_contains "simulate dedupes its own ids" "$(cat "$T/sum.txt")" "events: 2 applied, 3 already known, 1 rejected"
check_contains "and names the rejected line" "$(cat "$T/err.txt")" "sim.jsonl:3: redeems 99999 points"

# a file out of time order is applied in time order, so the first import
# does what a second would: the redemption after the points it redeems,
# the order after its member's join
W2=$(new_ws unordered Asia/Shanghai)
printf 'id,name,phone\nU1,王芳,13800000011\n' > "$T/u_members.csv"
"$NUDGE" import "$W2" "$T/u_members.csv" >/dev/null
cat > "$T/unordered.jsonl" <<'JSONL'
{"id":"u1","type":"points.redeemed","member":"U1","at":"2027-01-05T10:00:00+08:00","points":3}
{"id":"u2","type":"order.paid","member":"U3","at":"2027-01-04T10:00:00+08:00","order_id":"UO9","amount":10}
{"id":"u3","type":"points.earned","member":"U1","at":"2027-01-02T10:00:00+08:00","points":5}
{"id":"u4","type":"member.joined","member":"U3","at":"2027-01-01T10:00:00+08:00","name":"Cy"}
JSONL
out=$("$NUDGE" import "$W2" "$T/unordered.jsonl" 2>&1)
check_status "unordered import" 0 $?
check_contains "all four in time order" "$out" "4 events read, 4 applied, 0 already known, 0 rejected"
out=$("$NUDGE" import "$W2" "$T/unordered.jsonl" 2>&1)
check_contains "and again changes nothing" "$out" "4 events read, 0 applied, 4 already known, 0 rejected"
check_contains "the member the order waited for joined" "$("$NUDGE" status "$W2")" "members: 2"
finish
