#!/usr/bin/env bash
# Hot reload of a running nudge run (nudge reload and SIGHUP): a journey
# that fails to load keeps its running version, with the error shown; a
# removed step's members leave with a recorded reason while the others
# stay at their step; new and removed journey files; a broken nudge.conf
# changes nothing; one daemon per workspace.
. "$(dirname "$0")/lib.sh"
DASH=dash-0123456789abcdef
POS=pos-0123456789abcdef
W=$(new_ws reload Asia/Shanghai)
printf 'id,name,wechat_openid,wechat_subscribed\n' > "$T/m.csv"
for i in 1 2 3 4 5; do printf 'M%s,会员%s,oM%s,1\n' $i $i $i >> "$T/m.csv"; done
"$NUDGE" import "$W" "$T/m.csv" >/dev/null || bad "import"
start_mock "$T"
cat > "$W/templates/note.lua" <<'EOF'
return { wechat = { template_id = "TM-NOTE", data = { thing1 = "{{name}}", thing2 = "{{what}}" } } }
EOF
care() {   # the care journey, with its last step's id
    cat > "$W/journeys/care.lua" <<EOF
return journey "care" {
  trigger = on("order.paid"), quiet_hours = false,
  steps = {
    send { id = "thanks", template = "note", channels = { "wechat" }, data = { what = "$2" } },
    wait { id = "three_days", days = 3 },
    send { id = "$1", template = "note", channels = { "wechat" }, data = { what = "回访" } },
  },
}
EOF
}
care followup 感谢
cat > "$W/journeys/nurture.lua" <<'EOF'
return journey "nurture" {
  trigger = on("trial.started"), quiet_hours = false,
  steps = {
    wait { id = "one_day", days = 1 },
    send { id = "tips", template = "note", channels = { "wechat" }, data = { what = "小贴士" } },
  },
}
EOF
cat >> "$W/nudge.conf" <<EOF

[wechat]
endpoint = http://127.0.0.1:$MOCKPORT
appid = wxmockappid
secret = mocksecret

[api]
listen = 127.0.0.1:0
token.dash = env:T_DASH
token.pos = env:T_POS
scopes.pos = write
EOF
export T_DASH=$DASH T_POS=$POS
start_api "$W" "$T/run.log"
event() { curl -s -o /dev/null -H "Authorization: Bearer $POS" --data-binary "{\"id\":\"$1\",\"type\":\"$2\",\"member\":\"$3\",\"at\":\"2026-12-01T10:00:00+08:00\",\"order_id\":\"$1\",\"amount\":10}" "$URL/v1/events"; }
get() { curl -s -H "Authorization: Bearer $DASH" "$URL$1"; }
sent() { jq -r "select(.kind==\"send\" and .delivered) | \"\\(.touser) \\(.data.thing2.value)\"" "$T/mock.jsonl" | grep -c "$1"; }

event o1 order.paid M1
event t2 trial.started M2
wait_for 10 test "$(sent 'oM1 感谢')" = 1 || bad "the first thanks did not go out"

# ---- one daemon per workspace ------------------------------------------------------------
out=$("$NUDGE" run "$W" 2>&1); rc=$?
check_status "a second nudge run is refused" 1 $rc
check_contains "and names the first" "$out" "another nudge run (pid $RUNPID) is running this workspace"

# ---- a broken journey keeps its running version ----------------------------------------------
V1=$(get /v1/journeys | jq -r '.journeys[] | select(.name=="care") | .version')
printf 'return journey "care" {\n  trigger = on("order.paid")\n  steps = {}\n' > "$W/journeys/care.lua"
out=$("$NUDGE" reload "$W" 2>&1); rc=$?
check_status "reload with a broken journey: exit 1" 1 $rc
check_contains "names the file and line" "$out" "journeys/care.lua:3:"
check_contains "and says the old version runs on" "$out" "journey 'care' keeps running its previous version"
check_eq "the journey still runs, same version, the error shown" "running $V1 true" \
    "$(get /v1/journeys | jq -r '.journeys[] | select(.name=="care") | "\(.state) \(.version) \(.reload_error | test("care.lua:3"))"')"
event o3 order.paid M3
wait_for 10 test "$(sent 'oM3 感谢')" = 1
check_status "and still sends" 0 $?
check_contains "the daemon logged it" "$(cat "$T/run.log")" "reloaded with 1 problems"

# ---- a fixed journey without the step two members wait at --------------------------------------
care review 多谢
check_eq "members waiting at followup before the reload" "M1 M3" \
    "$(sqlite3 "$W/nudge.db" "SELECT group_concat(m.ext_id, ' ') FROM flights f JOIN members m ON m.id = f.member WHERE journey = 'care' AND step_id = 'followup' ORDER BY m.ext_id")"
out=$("$NUDGE" reload "$W" 2>&1)
check_status "reload: exit 0" 0 $?
check_eq "says so" "reloaded: every journey and template loaded" "$out"
check_eq "the removed step's members left, with the reason recorded" \
    "care M1 followup its step was removed by a reload|care M3 followup its step was removed by a reload" \
    "$(sqlite3 "$W/nudge.db" "SELECT x.journey || ' ' || m.ext_id || ' ' || x.step_id || ' ' || x.reason FROM journey_exits x JOIN members m ON m.id = x.member ORDER BY m.ext_id" | paste -sd '|')"
check_eq "the member API shows where they left" "false followup its step was removed by a reload" \
    "$(get /v1/members/M1/journeys | jq -r '.journeys[] | select(.journey=="care") | "\(.in_journey) \(.last_exit.step) \(.last_exit.reason)"')"
check_eq "the other journey's member stays at her step" "true tips" \
    "$(get /v1/members/M2/journeys | jq -r '.journeys[] | select(.journey=="nurture") | "\(.in_journey) \(.next_step)"')"
check_eq "the new version runs, its error gone" "null false" \
    "$(get /v1/journeys | jq -r '.journeys[] | select(.name=="care") | "\(.reload_error) \(.version == "'"$V1"'")"')"
event o4 order.paid M4
wait_for 10 test "$(sent 'oM4 多谢')" = 1
check_status "the new version's text goes out" 0 $?
check_eq "M4 waits at the new step" review \
    "$(get /v1/members/M4/journeys | jq -r '.journeys[] | select(.journey=="care") | .next_step')"
check_eq "counts since start carry over" 3 "$(get /v1/journeys | jq -r '.journeys[] | select(.name=="care") | .entered')"

# ---- SIGHUP: a new journey, a removed one ----------------------------------------------------------
rm "$W/journeys/nurture.lua"
cat > "$W/journeys/vip.lua" <<'EOF'
return journey "vip" {
  trigger = on("vip.upgraded"), quiet_hours = false,
  steps = { send { id = "welcome", template = "note", channels = { "wechat" }, data = { what = "升级礼" } } },
}
EOF
kill -HUP "$RUNPID"
wait_for 10 bash -c "[ \$(grep -c 'reloaded: ' '$T/run.log') -ge 2 ]"
check_status "SIGHUP reloads" 0 $?
check_eq "journeys now" "care vip" "$(get /v1/journeys | jq -r '[.journeys[].name] | sort | join(" ")')"
check_eq "the removed journey's member left it (waiting for tips), with the reason" "M2 tips the journey was removed by a reload" \
    "$(sqlite3 "$W/nudge.db" "SELECT m.ext_id || ' ' || x.step_id || ' ' || x.reason FROM journey_exits x JOIN members m ON m.id = x.member WHERE x.journey = 'nurture'")"
check_eq "no one waits in it" 0 "$(sqlite3 "$W/nudge.db" "SELECT count(*) FROM flights WHERE journey = 'nurture'")"
event v5 vip.upgraded M5
wait_for 10 test "$(sent 'oM5 升级礼')" = 1
check_status "the new journey runs at once" 0 $?

# ---- a broken nudge.conf changes nothing ------------------------------------------------------------
cp "$W/nudge.conf" "$T/conf.good"
printf '\n[policy]\ncap = lots\n' >> "$W/nudge.conf"
out=$("$NUDGE" reload "$W" 2>&1); rc=$?
check_status "reload with a broken nudge.conf: exit 1" 1 $rc
check_contains "nudge reload names the line" "$out" "nudge.conf:$(wc -l < "$W/nudge.conf"): cap = lots"
kill -HUP "$RUNPID"
wait_for 10 grep -q 'reload refused, nothing changed' "$T/run.log"
check_status "SIGHUP with it: refused, nothing changed" 0 $?
check_contains "the daemon names the line" "$(grep 'reload refused' "$T/run.log")" "nudge.conf:$(wc -l < "$W/nudge.conf"): cap = lots"
check_eq "the journeys run on" "care vip" "$(get /v1/journeys | jq -r '[.journeys[].name] | sort | join(" ")')"

# ---- provider settings: a wrong secret, then the right one, without a restart -------------
cp "$T/conf.good" "$W/nudge.conf"
sed -i 's/^secret = mocksecret/secret = wrongsecret/' "$W/nudge.conf"
check_eq "reload with new provider settings: exit 0" 0 "$("$NUDGE" reload "$W" >/dev/null 2>&1; echo $?)"
check_contains "the daemon took them" "$(cat "$T/run.log")" "provider settings reloaded: 1 channels configured"
event v6 vip.upgraded M4
sleep 1.5
check_eq "with the wrong secret nothing goes out" 0 "$(sent 'oM4 升级礼')"
check_contains "and WeChat's refusal is logged" "$(cat "$T/run.log")" "40125"
cp "$T/conf.good" "$W/nudge.conf"
"$NUDGE" reload "$W" >/dev/null 2>&1
wait_for 10 test "$(sent 'oM4 升级礼')" = 1
check_status "the right secret, reloaded: the waiting message goes out" 0 $?
sed -i 's/^listen = 127.0.0.1:0/listen = 127.0.0.1:1/' "$W/nudge.conf"
"$NUDGE" reload "$W" >/dev/null 2>&1
check_contains "[api] settings wait for a restart, and it says so" "$(cat "$T/run.log")" \
    "[api] settings changed: they take effect at the next start"
cp "$T/conf.good" "$W/nudge.conf"
sed -i '/^listen = 127.0.0.1:0/a commit_max_ms = 50' "$W/nudge.conf"
line=$(grep -n '^commit_max_ms' "$W/nudge.conf" | cut -d: -f1)
"$NUDGE" reload "$W" >/dev/null 2>&1
check_contains "[api] settings a start would refuse: said at the reload, with the line" "$(cat "$T/run.log")" \
    "[api] settings changed, and the next start would refuse them: nudge.conf:$line: [api] commit_max_ms (50) must not be less than commit_ms (100)"
cp "$T/conf.good" "$W/nudge.conf"
sed -i 's/^listen = 127.0.0.1:0/listen = 127.0.0.1/' "$W/nudge.conf"
"$NUDGE" reload "$W" >/dev/null 2>&1
check_contains "... and a listen without a port" "$(cat "$T/run.log")" \
    "[api] listen = 127.0.0.1: expected ADDRESS:PORT, like 127.0.0.1:7420"
check_contains "the daemon goes on answering on its address" "$(curl -s "$URL/healthz")" '"status":"ok"'
cp "$T/conf.good" "$W/nudge.conf"

kill -TERM "$RUNPID"; wait "$RUNPID"
check_status "stops cleanly" 0 $?
out=$("$NUDGE" reload "$W" 2>&1); rc=$?
check_status "reload without a daemon: exit 1" 1 $rc
check_contains "says there is none" "$out" "no nudge run is running"
finish
