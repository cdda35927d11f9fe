-- Points clearing reminder: 30 days before a batch of points expires, one
-- message with the points left in the batches expiring that day.
local p = params {
  days_before = 30,
  send_at     = "10:00",
  min_points  = 1,
}

return journey "points_expiry" {
  trigger  = before("points_expiry", days(p.days_before)),
  at       = p.send_at,
  audience = function(m, o) return o.expiring_points >= p.min_points end,
  steps = {
    send { id = "reminder", template = "points_expiring", channels = { "wechat", "sms" } },
  },
}
