#!/usr/bin/env bash
# simulate --parts N: the members split by row id over N threads, each on
# its own copy of the store, decide exactly what one part decides: the
# same lines in the dispatch log (merged in clock order), the same
# summary, the same rejected events reported once.
. "$(dirname "$0")/lib.sh"
GEN=${GEN:-$ROOT/build/gen}

D=$T/data
"$GEN" --members 4000 --tz-mix --out "$D" --now 2026-11-23 --future-days 365 >/dev/null 2>&1
W=$(new_ws parts Asia/Shanghai birthday churn_month8 member_day new_member_day21 points_expiry)
"$NUDGE" import "$W" "$D/members.csv" "$D/history.jsonl" >/dev/null 2>&1
check_status "import" 0 $?
# one event of a member nobody knows, one line that is not an event
printf '%s\n' '{"type":"order.paid","member":"NOBODY","at":"2027-03-01T10:00:00+08:00","order_id":"x1","amount":5}' \
    'not json' >> "$D/future.jsonl"

sim() {   # sim PARTS: the log in $T/log.PARTS, the summary in $T/sum.PARTS, stderr in $T/err.PARTS
    "$NUDGE" simulate "$W" --from 2026-11-23 --to 2027-11-22 --events "$D/future.jsonl" --parts "$1" \
        --out "$T/log.$1" > "$T/sum.$1" 2> "$T/err.$1"
    echo $?
}
# the summary without its timing and the number of parts
summary() { sed -E 's/ in [0-9.]+ s \([0-9]+\/s\)//; s/, in [0-9]+ parts//' "$T/sum.$1"; }
# each line's instant (UTC seconds), in log order
instants() {
    jq -r '.at | capture("^(?<d>.{19})(?<s>[+-])(?<h>[0-9]{2}):(?<m>[0-9]{2})$")
        | (.d + "Z" | fromdateiso8601) - ((if .s == "+" then 1 else -1 end) * ((.h | tonumber) * 3600 + (.m | tonumber) * 60))' "$1"
}

check_status "one part: a rejected event is exit status 1" 1 "$(sim 1)"
check_status "two parts" 1 "$(sim 2)"
check_status "three parts" 1 "$(sim 3)"
check_status "seven parts" 1 "$(sim 7)"
n1=$(wc -l < "$T/log.1")
[ "$n1" -gt 1000 ] && ok || bad "the year decides enough to compare ($n1 lines)"
check_contains "the summary says the parts" "$(cat "$T/sum.2")" "in 2 parts"
for p in 2 3 7; do
    check_eq "$p parts: the same summary" "$(summary 1)" "$(summary $p)"
    check_eq "$p parts: the same lines" "$(sort "$T/log.1" | sha256sum)" "$(sort "$T/log.$p" | sha256sum)"
    instants "$T/log.$p" > "$T/at.$p"
    check_eq "$p parts: lines in clock order" "$(sort -n "$T/at.$p" | sha256sum)" "$(sha256sum < "$T/at.$p")"
    check_eq "$p parts: the unknown member reported once" 1 "$(grep -c "unknown member 'NOBODY'" "$T/err.$p")"
    check_eq "$p parts: the bad line reported once" 1 "$(grep -c "future.jsonl:$(wc -l < "$D/future.jsonl"):" "$T/err.$p")"
done
check_contains "the counts say two rejected (the member, the line)" "$(cat "$T/sum.3")" "2 rejected"
# members who join during the year are in the last part: their journeys run
joined=$(jq -rR 'fromjson? | select(.type == "member.joined") | .member' "$D/future.jsonl" | sort -u)
first=$(printf '%s\n' "$joined" | head -1)
[ -n "$first" ] && ok || bad "the generated year has new members"
check_eq "a new member's messages are the same in 3 parts" "$(grep -F "\"member\":\"$first\"" "$T/log.1")" \
    "$(grep -F "\"member\":\"$first\"" "$T/log.3")"
# by default a small store's year runs in one part
"$NUDGE" simulate "$W" --from 2026-11-23 --to 2027-11-22 --events "$D/future.jsonl" > "$T/sum.auto" 2>/dev/null
check_eq "4,000 members: one part by default" "$(summary 1)" "$(summary auto)"
check_eq "and the summary does not mention parts" 0 "$(grep -c 'parts' "$T/sum.auto")"
# a journey that fails stops in every part: the summary says so, exit status 1
printf 'return journey "spin" { trigger = daily(), audience = function(m) while true do end end,\n steps = { send { template = "member_day", channels = { "wechat" } } } }\n' \
    > "$W/journeys/spin.lua"
out=$("$NUDGE" simulate "$W" --from 2026-11-23 --to 2026-11-24 --parts 2 2>"$T/err.spin")
check_status "a failing journey in parts: exit status 1" 1 $?
check_contains "its summary line says DISABLED" "$(printf '%s\n' "$out" | grep '^spin ')" "DISABLED"
check_contains "the failure is reported" "$(cat "$T/err.spin")" "instruction budget"
rm "$W/journeys/spin.lua"
# members of the first and of the last part
lo=$(sqlite3 "$W/nudge.db" "SELECT ext_id FROM members ORDER BY id LIMIT 1")
hi=$(sqlite3 "$W/nudge.db" "SELECT ext_id FROM members ORDER BY id DESC LIMIT 1")
# a journey that fails on one member (of the last part): in one part it
# stops for everyone at that moment, so the parts run again as one
cat > "$W/journeys/picky.lua" <<LUA
return journey "picky" { trigger = monthly(8), at = "10:00",
  audience = function(m) if m.id == "$hi" then error("no such luck") end return true end,
  steps = { send { id = "hi", template = "member_day", channels = { "wechat", "sms", "edm" } } } }
LUA
st1=$(sim 1); st2=$(sim 2)
check_status "a journey failing on one member: exit status 1" 1 "$st1"
check_eq "in parts too" "$st1" "$st2"
check_contains "the parts say they run again as one" "$(cat "$T/err.2")" "simulating again in one part"
check_eq "then the same summary as one part" "$(summary 1)" "$(summary 2)"
check_eq "and the same log, line for line" "$(sha256sum < "$T/log.1")" "$(sha256sum < "$T/log.2")"
check_contains "where it is stopped" "$(grep '^picky ' "$T/sum.2")" "DISABLED"
rm "$W/journeys/picky.lua"
# an event id and an order id given to members of two parts: in one part
# the later ones are already known, so the parts run again as one
cp "$D/future.jsonl" "$T/future.keep"
ev() { printf '{"id":"%s","type":"order.paid","member":"%s","at":"%s","order_id":"%s","amount":10}\n' "$@"; }
{ ev E-DUP "$lo" 2027-02-01T10:00:00+08:00 SO-DUP; ev E-DUP "$hi" 2027-02-02T10:00:00+08:00 SO-DUP2
  ev E-OTHER "$hi" 2027-02-03T10:00:00+08:00 SO-DUP; } >> "$D/future.jsonl"
sim 1 >/dev/null; sim 2 >/dev/null
check_contains "shared ids: one part says two are already known" "$(cat "$T/sum.1")" "2 already known"
check_contains "shared ids: the parts run again as one" "$(cat "$T/err.2")" "share ids"
check_eq "shared ids: the same summary" "$(summary 1)" "$(summary 2)"
check_eq "shared ids: the same log" "$(sha256sum < "$T/log.1")" "$(sha256sum < "$T/log.2")"
check_eq "shared ids: the rejected lines once each" "$(cat "$T/err.1")" "$(grep -v 'simulating again' "$T/err.2")"
cp "$T/future.keep" "$D/future.jsonl"
# a bad count is a usage error that names the option
for bad_n in 0 65 two ""; do
    out=$("$NUDGE" simulate "$W" --from 2027-01-01 --to 2027-01-02 --parts "$bad_n" 2>&1)
    check_status "--parts '$bad_n' refused" 2 $?
    check_contains "--parts '$bad_n': the message names the option" "$out" "--parts"
done
finish
