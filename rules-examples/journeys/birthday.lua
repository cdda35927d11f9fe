-- Birthday coupon: at 09:00 on the member's birthday (Feb 29 birthdays on
-- Feb 28 in other years), once a year.
local p = params {
  send_at      = "09:00",
  coupon_code  = "BDAY",
  coupon_value = "50",
}

return journey "birthday" {
  trigger = yearly("birthday"),
  at      = p.send_at,
  steps = {
    send { id = "coupon", template = "birthday_coupon", channels = { "wechat", "sms", "edm" } },
  },
}
