#!/usr/bin/env bash
# init refuses an existing workspace and changes nothing; simulate never
# changes the workspace; status reports; commands explain themselves.
. "$(dirname "$0")/lib.sh"

W=$(new_ws ws Asia/Shanghai birthday)
before=$(cat "$W/nudge.conf" | sha256sum)
out=$("$NUDGE" init "$W" --brand other 2>&1)
check_status "init refuses" 1 $?
check_contains "init message" "$out" "is already a nudge workspace"
check_eq "config untouched" "$before" "$(cat "$W/nudge.conf" | sha256sum)"
out=$("$NUDGE" init "$T/x" --tz Mars/Base 2>&1)
check_status "bad zone" 1 $?
check_contains "bad zone message" "$out" "--tz: unknown time zone 'Mars/Base'"

printf 'id,name,phone,birthday\nW1,王芳,13800000001,1990-01-15\n' > "$T/m.csv"
"$NUDGE" import "$W" "$T/m.csv" >/dev/null
db=$(sha256sum < "$W/nudge.db")
"$NUDGE" simulate "$W" --from 2027-01-01 --to 2027-12-31 --out "$T/log.jsonl" >/dev/null
check_eq "simulate leaves the store alone" "$db" "$(sha256sum < "$W/nudge.db")"
check_eq "one birthday" "1" "$(wc -l < "$T/log.jsonl")"
out=$("$NUDGE" status "$W")
check_contains "status members" "$out" "members: 1"
check_contains "status journeys" "$out" "birthday"
for c in init import check simulate status; do
    out=$("$NUDGE" $c --help)
    check_contains "$c --help" "$out" "usage: nudge $c"
done
out=$("$NUDGE" simulate "$W" --from 2027-02-30 --to 2027-03-01 2>&1)
check_status "bad date is a usage error" 2 $?
check_contains "bad date message" "$out" "--from needs a date like 2027-01-01"
out=$("$NUDGE" check "$T/nowhere" 2>&1)
check_status "not a workspace" 1 $?
check_contains "not a workspace message" "$out" "is not a nudge workspace"
out=$("$NUDGE" frobnicate 2>&1)
check_status "unknown command" 2 $?
sed -i 's/^brand = /brnad = /' "$W/nudge.conf"
out=$("$NUDGE" check "$W" 2>&1)
check_contains "config errors name the line" "$out" "nudge.conf:4: unknown setting 'brnad' (brand, timezone)"
sed -i 's/^brnad = /brand = /; s/^memory_mb = 32/memory_mb = lots/' "$W/nudge.conf"
out=$("$NUDGE" check "$W" 2>&1)
check_contains "config value errors name the line" "$out" "nudge.conf:12: memory_mb must be a positive whole number"
# a store from another version of nudge is refused, not half-read
sed -i "s/^memory_mb = lots/memory_mb = 32/" "$W/nudge.conf"
printf '%s\n' '{"id":"o1","type":"order.paid","member":"W1","at":"2026-11-01T10:00:00+08:00","order_id":"A1","amount":99.5}' \
    '{"id":"o2","type":"order.paid","member":"W1","at":"2026-11-20T21:00:00+08:00","order_id":"A2","amount":10}' \
    > "$T/orders.jsonl"
"$NUDGE" import "$W" "$T/orders.jsonl" >/dev/null
orders_now=$(sqlite3 "$W/nudge.db" "SELECT * FROM member_orders")
check_eq "a member's orders are kept apart" "2 10950 $(($(date -ud 2026-11-20 +%s) / 86400)) $(date -d 2026-11-20T21:00:00+08:00 +%s)" \
    "$(sqlite3 "$W/nudge.db" "SELECT order_count, spent_cents, last_order_day, last_order_at FROM member_orders" | tr '|' ' ')"
# the stores of formats 2-7 kept the orders on the member's row
old_orders() {
    sqlite3 "$1" "ALTER TABLE members ADD COLUMN order_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE members ADD COLUMN spent_cents INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE members ADD COLUMN last_order_at INTEGER; ALTER TABLE members ADD COLUMN last_order_day INTEGER;
      UPDATE members SET (order_count, spent_cents, last_order_at, last_order_day) = (SELECT order_count,
        spent_cents, last_order_at, last_order_day FROM member_orders WHERE member = members.id)
        WHERE id IN (SELECT member FROM member_orders);
      DROP TABLE member_orders; CREATE INDEX members_last_order ON members(zone, last_order_day);"
    old_messages "$1"
}
# and the stores of formats 2-8 kept a message's key unique on its own,
# with the member's messages in an index of their own
old_messages() {
    sqlite3 "$1" "CREATE TABLE messages_old(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
        at INTEGER NOT NULL, member INTEGER NOT NULL, journey TEXT NOT NULL, step TEXT NOT NULL,
        channel TEXT, template TEXT, content TEXT, status TEXT NOT NULL, reason TEXT,
        decided_at INTEGER, member_id TEXT, zone TEXT, attempts INTEGER NOT NULL DEFAULT 0,
        provider_id TEXT, segments INTEGER, address TEXT, ctx TEXT, done_at INTEGER,
        receipt TEXT, receipt_at INTEGER);
      INSERT INTO messages_old SELECT * FROM messages; DROP TABLE messages;
      ALTER TABLE messages_old RENAME TO messages;
      CREATE INDEX messages_pending ON messages(channel, at, status) WHERE status IN ('queued', 'retry');
      CREATE INDEX messages_sending ON messages(status) WHERE status = 'sending';
      CREATE INDEX messages_at ON messages(at); CREATE INDEX messages_held ON messages(at) WHERE status = 'held';
      CREATE INDEX messages_member ON messages(member, journey);"
}
cp -r "$W" "$T/old"
printf '\x00\x00\x00\x01' | dd of="$T/old/nudge.db" bs=1 seek=60 conv=notrunc 2>/dev/null
out=$("$NUDGE" status "$T/old" 2>&1)
check_status "old store refused" 1 $?
check_contains "old store message" "$out" "was made by another version of nudge (store format 1, this nudge reads 10)"
# a format-3 store (the outbox's single status index) is brought up to date
cp -r "$W" "$T/v3"
old_orders "$T/v3/nudge.db"
sqlite3 "$T/v3/nudge.db" "INSERT INTO messages(key, at, member, journey, step, channel, content, status)
    VALUES ('j:s:M1:2026-01-01', 100, 1, 'j', 's', 'sms', '\"hi\"', 'queued');
  ALTER TABLE messages DROP COLUMN receipt; ALTER TABLE messages DROP COLUMN receipt_at;
  ALTER TABLE journeys DROP COLUMN paused; DROP INDEX messages_member;
  ALTER TABLE messages DROP COLUMN done_at; DROP INDEX messages_pending; DROP INDEX messages_sending;
  DROP INDEX messages_at; CREATE INDEX messages_due ON messages(status, channel, at); PRAGMA user_version = 3;"
out=$("$NUDGE" outbox "$T/v3" --status queued 2>&1)
check_status "format-3 store opens" 0 $?
check_contains "and keeps its messages" "$out" "j/s"
check_eq "and is format 10, with the new indexes" \
    "10 messages_at messages_held messages_pending messages_sending" \
    "$(sqlite3 "$T/v3/nudge.db" "PRAGMA user_version" | tr '\n' ' ')$(sqlite3 "$T/v3/nudge.db" \
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')"
# an upgrade that fails halfway changes nothing: format 3 with a column
# format 4 adds already there fails at the second step, after the first
cp -r "$W" "$T/half"
sqlite3 "$T/half/nudge.db" "ALTER TABLE messages DROP COLUMN done_at; PRAGMA user_version = 3;"
out=$("$NUDGE" status "$T/half" 2>&1)
check_status "a failing upgrade is refused" 1 $?
check_contains "and says why" "$out" "bringing the store up to date: duplicate column name: paused"
check_eq "and leaves format 3 whole (no done_at added)" "3 0" \
    "$(sqlite3 "$T/half/nudge.db" "PRAGMA user_version") $(sqlite3 "$T/half/nudge.db" \
      "SELECT count(*) FROM pragma_table_info('messages') WHERE name = 'done_at'")"
# a format-5 store gets the points-expiry index that covers its query
cp -r "$W" "$T/v5"
old_orders "$T/v5/nudge.db"
sqlite3 "$T/v5/nudge.db" "DROP INDEX points_expiry;
  CREATE INDEX points_expiry ON points(expires_day) WHERE left_points > 0; PRAGMA user_version = 5;"
"$NUDGE" status "$T/v5" >/dev/null 2>&1
check_status "format-5 store opens" 0 $?
check_eq "and its expiry index covers member and points" \
    "10 CREATE INDEX points_expiry ON points(expires_day, member, left_points) WHERE left_points > 0" \
    "$(sqlite3 "$T/v5/nudge.db" "PRAGMA user_version" | tr '\n' ' ')$(sqlite3 "$T/v5/nudge.db" \
      "SELECT sql FROM sqlite_master WHERE name = 'points_expiry'")"
# a format-6 store gets the table that keeps the event log's filter
cp -r "$W" "$T/v6"
old_orders "$T/v6/nudge.db"
sqlite3 "$T/v6/nudge.db" "DROP TABLE event_filter; PRAGMA user_version = 6;"
"$NUDGE" status "$T/v6" >/dev/null 2>&1
check_status "format-6 store opens" 0 $?
check_eq "and is format 10, with the event filter's table" "10 1" \
    "$(sqlite3 "$T/v6/nudge.db" "PRAGMA user_version") $(sqlite3 "$T/v6/nudge.db" \
      "SELECT count(*) FROM sqlite_master WHERE name = 'event_filter'")"
# a format-7 store's orders move to their own table, whole
cp -r "$W" "$T/v7"
old_orders "$T/v7/nudge.db"
sqlite3 "$T/v7/nudge.db" "PRAGMA user_version = 7"
"$NUDGE" status "$T/v7" >/dev/null 2>&1
check_status "format-7 store opens" 0 $?
check_eq "and keeps the member's orders" "$orders_now" "$(sqlite3 "$T/v7/nudge.db" "SELECT * FROM member_orders")"
check_eq "and is format 10, with the new last-order index" "10 member_orders_last" \
    "$(sqlite3 "$T/v7/nudge.db" "PRAGMA user_version") $(sqlite3 "$T/v7/nudge.db" \
      "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%last%'")"
# a format-8 store's messages move to a table whose key is unique per
# member, every column of every row kept
cp -r "$W" "$T/v8"
sqlite3 "$T/v8/nudge.db" "INSERT INTO messages(key, at, member, journey, step, channel, template, content, status,
      reason, decided_at, member_id, zone, attempts, provider_id, segments, address, ctx, done_at, receipt, receipt_at)
    VALUES ('j:s:W1:2026-01-01', 100, 1, 'j', 's', 'sms', 't', '\"hi\"', 'sent', NULL, 90, 'W1', 'Asia/Shanghai', 1,
      'biz1', 1, '13800000001', '{}', 101, 'delivered', 102),
      ('j:s:W1:2026-01-02', 200, 1, 'j', 's', 'wechat', 't', '{}', 'queued', NULL, 190, 'W1', 'Asia/Shanghai', 0,
      NULL, NULL, 'oW1', '{}', NULL, NULL, NULL)"
old_messages "$T/v8/nudge.db"
sqlite3 "$T/v8/nudge.db" "PRAGMA user_version = 8"
before=$(sqlite3 "$T/v8/nudge.db" "SELECT * FROM messages ORDER BY id")
"$NUDGE" status "$T/v8" >/dev/null 2>&1
check_status "format-8 store opens" 0 $?
check_eq "and keeps every message whole" "$before" "$(sqlite3 "$T/v8/nudge.db" "SELECT * FROM messages ORDER BY id")"
check_eq "and is format 10, no index of keys on the messages" \
    "10 messages_at messages_held messages_pending messages_sending" \
    "$(sqlite3 "$T/v8/nudge.db" "PRAGMA user_version" | tr '\n' ' ')$(sqlite3 "$T/v8/nudge.db" \
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')"
check_eq "its keys in their own table, by member, all of them merged" \
    "1|1 1|2 2" \
    "$(sqlite3 "$T/v8/nudge.db" "SELECT member, id FROM message_keys ORDER BY id" | tr '\n' ' ')$(sqlite3 "$T/v8/nudge.db" \
      "SELECT value FROM meta WHERE key = 'message_keys_upto'")"
out=$(sqlite3 "$T/v8/nudge.db" "INSERT INTO message_keys(member, h, id) SELECT member, h, 3 FROM message_keys WHERE id = 1" 2>&1)
check_contains "where a key's slot comes once a member" "$out" "UNIQUE constraint failed: message_keys.member, message_keys.h"
finish
