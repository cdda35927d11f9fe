-- The nudge journey language. Loaded into every journey's sandbox before
-- the journey file; docs/journeys.md is its reference.
--
-- Constructors check their arguments and fail with the caller's file:line,
-- and record that line so the engine can name it in later messages.

local debug = ...
local getinfo = debug.getinfo
local internal = { overrides = {}, params = nil }

local function caller_line(level)
  local info = getinfo(level + 1, "l")
  return info and info.currentline or 0
end

local function fail(msg, level)
  error(msg, (level or 2) + 1)
end

-- durations ---------------------------------------------------------------

local Duration = {}

local function duration(unit, n, fname)
  if math.type(n) ~= "integer" or n < 0 then
    fail(fname .. "() takes a whole number of " .. unit .. ", got " .. tostring(n), 3)
  end
  return setmetatable({ unit = unit, n = n }, Duration)
end

-- No tail calls in constructors: a tail call drops the frame that error
-- levels and line numbers count on.
function days(n) local d = duration("days", n, "days"); return d end
function weeks(n) local d = duration("weeks", n, "weeks"); return setmetatable({ unit = "days", n = d.n * 7 }, Duration) end
function months(n) local d = duration("months", n, "months"); return d end
function hours(n) local d = duration("hours", n, "hours"); return d end
function minutes(n) local d = duration("minutes", n, "minutes"); return d end

-- triggers ----------------------------------------------------------------

local function date_offset(kind, field, d)
  if type(field) ~= "string" then
    fail(kind .. "() needs a date field first, e.g. " .. kind .. "(\"joined_at\", days(21))", 3)
  end
  if getmetatable(d) ~= Duration or (d.unit ~= "days" and d.unit ~= "months") then
    fail(kind .. "() needs days(n), weeks(n) or months(n) as its second argument", 3)
  end
  local t = { trigger = kind, field = field, line = caller_line(3) }
  if d.unit == "days" then t.days = d.n else t.months = d.n end
  return t
end

function after(field, d) local t = date_offset("after", field, d); return t end
function before(field, d) local t = date_offset("before", field, d); return t end

function on(event_type)
  if type(event_type) ~= "string" or event_type == "" then
    fail("on() needs an event type, e.g. on(\"order.paid\")")
  end
  return { trigger = "on", event = event_type, line = caller_line(2) }
end

function yearly(field)
  if type(field) ~= "string" then fail("yearly() needs a date field, e.g. yearly(\"birthday\")") end
  return { trigger = "yearly", field = field, line = caller_line(2) }
end

function daily() return { trigger = "daily", line = caller_line(2) } end

local weekdays = {
  monday = 0, tuesday = 1, wednesday = 2, thursday = 3, friday = 4, saturday = 5, sunday = 6,
  ["周一"] = 0, ["周二"] = 1, ["周三"] = 2, ["周四"] = 3, ["周五"] = 4, ["周六"] = 5, ["周日"] = 6,
}

function weekly(day)
  local wd = weekdays[type(day) == "string" and day:lower() or day]
  if not wd then fail("weekly() needs a weekday like \"monday\" or \"周一\", got " .. tostring(day)) end
  return { trigger = "weekly", weekday = wd, line = caller_line(2) }
end

function monthly(day)
  if math.type(day) ~= "integer" or day < 1 or day > 31 then
    fail("monthly() needs a day of the month from 1 to 31, got " .. tostring(day))
  end
  return { trigger = "monthly", day = day, line = caller_line(2) }
end

function once(when)
  if type(when) ~= "string" then
    fail("once() needs a date and time, e.g. once(\"2027-11-11 20:00\")")
  end
  return { trigger = "once", when = when, line = caller_line(2) }
end

-- steps -------------------------------------------------------------------

local function step(kind, t, level)
  if type(t) ~= "table" then fail(kind .. " takes a table: " .. kind .. " { ... }", level + 1) end
  local s = {}
  for k, v in pairs(t) do s[k] = v end
  s.kind = kind
  s.line = caller_line(level + 1)
  return s
end

function send(t)
  local s = step("send", t, 2)
  if type(s.channels) == "string" then s.channels = { s.channels } end
  return s
end

function wait(t)
  if getmetatable(t) == Duration then
    local s = { kind = "wait", line = caller_line(2) }
    s[t.unit] = t.n
    if t.unit == "months" then fail("wait does not take months; use days") end
    return s
  end
  local s = step("wait", t, 2)
  -- wait { for_event = "order.paid", timeout = days(3) }: `until` would
  -- read better but is a Lua keyword, so the step says for_event (the
  -- quoted ["until"] is accepted too); the timeout is a plain wait's duration
  if s.for_event ~= nil then
    if s["until"] ~= nil then fail("wait has both for_event and until; give one") end
    s["until"] = s.for_event
    s.for_event = nil
  end
  if s["until"] ~= nil and type(s["until"]) ~= "string" then
    fail("for_event names an event type, e.g. for_event = \"order.paid\"")
  end
  if s.timeout ~= nil then
    local d = s.timeout
    if getmetatable(d) ~= Duration then fail("timeout takes a duration, e.g. timeout = days(3)") end
    if d.unit == "months" then fail("timeout does not take months; use days") end
    if s["until"] == nil then fail("timeout goes with for_event: wait { for_event = \"order.paid\", timeout = days(3) }") end
    if s[d.unit] ~= nil then fail("wait has both timeout and " .. d.unit .. "; give one") end
    s[d.unit] = d.n
    s.timeout = nil
  end
  return s
end

function exit(t)
  local s = step("exit", t or {}, 2)
  return s
end

-- journeys and parameters ---------------------------------------------------

function journey(name)
  if type(name) ~= "string" or name == "" then
    fail("journey needs a name: journey \"birthday\" { ... }")
  end
  local line = caller_line(2)
  return function(spec)
    if type(spec) ~= "table" then fail("journey \"" .. name .. "\" takes a table: { trigger = ..., steps = {...} }") end
    spec.name = name
    spec.line = line
    spec.__journey = true
    return spec
  end
end

-- errors name the params { } line (level 3: convert, params, the journey)
local function convert(key, default, text)
  local ty = type(default)
  if ty == "number" then
    local n = tonumber(text)
    if not n then fail("parameter " .. key .. " must be a number, but nudge.conf sets \"" .. text .. "\"", 3) end
    return n
  elseif ty == "boolean" then
    if text == "true" or text == "1" or text == "yes" then return true end
    if text == "false" or text == "0" or text == "no" then return false end
    fail("parameter " .. key .. " must be true or false, but nudge.conf sets \"" .. text .. "\"", 3)
  end
  return text
end

-- params { name = default, ... }: the journey's knobs. A workspace (or a
-- playbook) overrides them by name without editing the journey.
function params(defaults)
  if type(defaults) ~= "table" then fail("params takes a table of defaults: params { send_at = \"10:00\" }") end
  local p = {}
  for k, v in pairs(defaults) do p[k] = v end
  for k, text in pairs(internal.overrides) do
    if defaults[k] == nil then
      fail("nudge.conf sets parameter '" .. k .. "' but this journey has no such parameter")
    end
    p[k] = convert(k, defaults[k], text)
  end
  internal.params = p
  return p
end

return internal
