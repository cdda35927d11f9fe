-- Churn warning: 8 calendar months after a member's last order, a win-back
-- offer. Only members whose last order is still that one are offered (a
-- newer order moves their date); it comes again after every new last order.
local p = params {
  quiet_months = 8,
  send_at      = "10:00",
  coupon_code  = "BACK8",
  discount     = "8折",
}

return journey "churn_month8" {
  trigger = after("last_order_at", months(p.quiet_months)),
  at      = p.send_at,
  steps = {
    send { id = "winback", template = "winback_offer", channels = { "wechat", "sms" } },
  },
}
