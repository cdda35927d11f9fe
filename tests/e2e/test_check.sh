#!/usr/bin/env bash
# nudge check: every problem, each with file:line and a plain message;
# exit status 0 only when all is well.
. "$(dirname "$0")/lib.sh"

W=$(new_ws check Asia/Shanghai birthday member_day new_member_day21 churn_month8 points_expiry)
out=$("$NUDGE" check "$W" 2>&1)
check_status "examples are clean" 0 $?
check_contains "ok line" "$out" "ok: 5 journeys checked"

cat > "$W/journeys/syntax.lua" <<'EOF2'
return journey "syntax" {
  trigger = daily(),
  steps = { send { template = "member_day" channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/typos.lua" <<'EOF2'
return journey "typos" {
  trigger = daily(),
  audience = function(m)
    return m.tierr == "gold" and m.order_count > 0
  end,
  steps = {
    send { id = "a", template = "no_such_template", channels = { "sms" } },
    send { id = "b", template = "day28_voucher", channels = { "wechat", "sms" } },
  },
}
EOF2
cat > "$W/journeys/badchan.lua" <<'EOF2'
return journey "badchan" {
  trigger = daily(),
  steps = {
    send { template = "member_day", channels = { "wechat", "weixin" } },
  },
}
EOF2
cat > "$W/journeys/baddur.lua" <<'EOF2'
return journey "baddur" {
  trigger = after("joined_at", days("three")),
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/badat.lua" <<'EOF2'
return journey "badat" {
  trigger = daily(),
  at = "25:00",
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/templates/broken.lua" <<'EOF2'
return { sms = "{{nmae}}您好" }
EOF2
cat > "$W/journeys/uses_broken.lua" <<'EOF2'
return journey "uses_broken" {
  trigger = yearly("birthday"),
  steps = { send { template = "broken", channels = { "sms" } } },
}
EOF2
printf 'return 42\n' > "$W/journeys/notajourney.lua"
cat > "$W/journeys/more.lua" <<'EOF2'
local p = params { n = 3 }
return journey "more" {
  trigger = on("order.paid"),
  at = "10:00",
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/pbad.lua" <<'EOF2'
local p = params { n = 3 }
return journey "pbad" {
  trigger = daily(),
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/brackets.lua" <<'EOF2'
return journey "brackets" {
  trigger = daily(),
  audience = function(m) return m["tier_level"] == "gold" end,
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/waits.lua" <<'EOF2'
return journey "waits" {
  trigger = daily(),
  steps = {
    wait { days = 1.5 },
    send { template = "member_day", channels = { "wechat" } },
  },
}
EOF2
printf '[params.pbad]\nn = seven\n[params.nothere]\nx = 1\n[params.birthday]\nsend_at = 08:00\n' >> "$W/nudge.conf"
out=$("$NUDGE" check "$W" 2>&1)
check_status "problems found" 1 $?
check_contains "a file that returns no journey" "$out" 'journeys/notajourney.lua: the file must end with: return journey "name" { ... }'
check_contains "at on an event trigger" "$out" "journeys/more.lua:2: more: at does not apply to on()"
check_contains "bad wait" "$out" "journeys/waits.lua:4: wait: days must be a whole number, 0 or more"
check_contains "bad parameter value names the params line" "$out" 'journeys/pbad.lua:1: parameter n must be a number, but nudge.conf sets "seven"'
check_contains "params for a missing journey" "$out" "[params.nothere]: there is no journeys/nothere.lua"
check_contains "m[\"field\"] is checked too" "$out" "journeys/brackets.lua:3: 'tier_level' is not a member field"
rm "$W/journeys/notajourney.lua" "$W/journeys/more.lua" "$W/journeys/waits.lua" "$W/journeys/pbad.lua" "$W/journeys/brackets.lua"
sed -i '/^\[params.pbad\]/,$d' "$W/nudge.conf"
out=$("$NUDGE" check "$W" 2>&1)
check_contains "syntax error" "$out" "journeys/syntax.lua:3: '}' expected near 'channels'"
check_contains "unknown field" "$out" "journeys/typos.lua:4: 'tierr' is not a member field or a custom attribute of this workspace"
check_contains "unknown template" "$out" "journeys/typos.lua:7: send 'a': unknown template 'no_such_template' (no templates/no_such_template.lua)"
check_contains "missing channel version" "$out" "journeys/typos.lua:8: send 'b': template 'day28_voucher' has no wechat version"
check_contains "unknown channel" "$out" "journeys/badchan.lua:4: send 'member_day': unknown channel 'weixin' (use wechat, sms or edm)"
check_contains "bad duration" "$out" "journeys/baddur.lua:2: days() takes a whole number of days, got three"
check_contains "bad time of day" "$out" "journeys/badat.lua:1: badat: at = \"25:00\" is not a time of day like \"10:00\""
check_contains "unknown placeholder" "$out" "templates/broken.lua: {{nmae}} is not a member field"
check_contains "placeholder the journey does not provide" "$out" "templates/day28_voucher.lua: {{coupon_code}} is not a member field, custom attribute, journey parameter or step data (used by journeys/typos.lua:8, step 'b')"
check_contains "count" "$out" "10 problems found"
finish
