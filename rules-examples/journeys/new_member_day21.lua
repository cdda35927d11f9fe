-- New member care: on day 21 after joining, a care message to members who
-- have not yet bought twice; a week later a voucher to those who still
-- have not. Buying in between ends the journey.
local p = params {
  first_days  = 21,        -- days after the local join date
  gap_days    = 7,         -- days between the care message and the voucher
  send_at     = "10:00",   -- local time of both messages
  max_orders  = 1,         -- members with at most this many orders are "new"
  coupon_code = "NEW21",
  coupon_value = "20",
}

return journey "new_member_day21" {
  trigger  = after("joined_at", days(p.first_days)),
  at       = p.send_at,
  audience = function(m) return m.order_count <= p.max_orders end,
  exit_on  = "order.paid",
  reentry  = "once",
  steps = {
    send { id = "care", template = "day21_care", channels = { "wechat", "sms", "edm" } },
    wait { id = "week", days = p.gap_days, at = p.send_at },
    send { id = "voucher", template = "day28_voucher", channels = { "sms", "edm" },
           when = function(m) return m.order_count <= p.max_orders end },
  },
}
