#!/usr/bin/env bash
# The Lua sandbox: a journey that errors, loops (even inside pcall) or
# exhausts memory is stopped with file:line and disabled, while the engine
# and the other journeys go on; scripts cannot reach io, os, debug, load.
. "$(dirname "$0")/../e2e/lib.sh"

W=$(new_ws sandbox Asia/Shanghai member_day)
cat > "$W/journeys/boom.lua" <<'EOF2'
return journey "boom" {
  trigger = daily(),
  audience = function(m)
    return m.order_count + m.no_such_thing_here
  end,
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/spin.lua" <<'EOF2'
return journey "spin" {
  trigger = daily(),
  audience = function(m)
    local n = 0
    while true do n = n + 1 end
  end,
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/sneaky_spin.lua" <<'EOF2'
return journey "sneaky_spin" {
  trigger = daily(),
  audience = function(m)
    for i = 1, 100 do pcall(function() while true do end end) end
    return true
  end,
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/hog.lua" <<'EOF2'
return journey "hog" {
  trigger = daily(),
  audience = function(m)
    local t = {}
    for i = 1, 1000000 do t[i] = string.rep("x", 100000) .. i end
    return true
  end,
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/locked.lua" <<'EOF2'
-- everything a script must not reach is absent
assert(io == nil and os == nil and package == nil and debug == nil and require == nil)
assert(load == nil and loadfile == nil and dofile == nil and string.dump == nil)
assert(collectgarbage == nil and math.random == nil)
return journey "locked" {
  trigger = monthly(8),
  audience = function(m) return type(now()) == "number" end,
  steps = { send { template = "member_day", channels = { "wechat" } } },
}
EOF2
cat > "$W/journeys/toplevel_loop.lua" <<'EOF2'
local x = 0
while true do x = x + 1 end
EOF2
cat > "$T/members.csv" <<'CSV'
id,name,wechat_openid,wechat_subscribed,tier,no_such_thing_here
S1,王芳,oS1xxxxxxxxxxxxxxxxxxxxxxxxx,1,gold,
S2,李娜,oS2xxxxxxxxxxxxxxxxxxxxxxxxx,1,silver,
CSV
"$NUDGE" import "$W" "$T/members.csv" >/dev/null
"$NUDGE" simulate "$W" --from 2027-01-07 --to 2027-01-09 --out "$T/log.jsonl" >"$T/out.txt" 2>"$T/err.txt"
check_status "simulate reports the faults" 1 $?
err=$(cat "$T/err.txt")
check_contains "runtime error with file:line" "$err" "journeys/boom.lua:4: attempt to perform arithmetic on a nil value (field 'no_such_thing_here')"
check_contains "boom disabled" "$err" "journey 'boom' is disabled; the other journeys go on"
check_contains "endless loop stopped" "$err" "journeys/spin.lua:5: instruction budget of 1000000 exceeded"
check_contains "pcall cannot swallow the stop" "$err" "journeys/sneaky_spin.lua:4: instruction budget of 1000000 exceeded"
check_contains "memory cap" "$err" "journeys/hog.lua:5: memory limit of 32 MB exceeded"
check_contains "top-level loop stops loading" "$err" "journeys/toplevel_loop.lua:2: instruction budget of 1000000 exceeded"
# the healthy journeys still ran for both members on the 8th
expected="2027-01-08T10:00:00+08:00 S1 locked member_day wechat
2027-01-08T10:00:00+08:00 S1 member_day invite wechat
2027-01-08T10:00:00+08:00 S2 locked member_day wechat
2027-01-08T10:00:00+08:00 S2 member_day invite wechat"
check_eq "other journeys go on" "$expected" "$(project "$T/log.jsonl")"
out=$(cat "$T/out.txt")
check_contains "summary marks disabled" "$out" "DISABLED"
finish
