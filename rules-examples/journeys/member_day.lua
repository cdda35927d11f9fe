-- Monthly member day: at 10:00 on the 8th, every member above the base tier.
local p = params {
  day        = 8,
  send_at    = "10:00",
  base_tier  = "normal",
  offer      = "全场会员价再享9折",
}

return journey "member_day" {
  trigger  = monthly(p.day),
  at       = p.send_at,
  audience = function(m) return m.tier ~= nil and m.tier ~= p.base_tier end,
  steps = {
    send { id = "invite", template = "member_day", channels = { "wechat", "edm" } },
  },
}
