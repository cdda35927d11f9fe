-- Points clearing reminder.
return {
  wechat = {
    template_id = "TM00003-points",
    url = "https://m.example.com/points",
    data = {
      first    = "{{name}}，您有积分即将到期",
      keyword1 = "{{expiring_points}}分",
      keyword2 = "{{expires_on}}",
      remark   = "到期未使用将自动清零，快去积分商城兑换吧。",
    },
  },
  sms = "{{name}}，您有{{expiring_points}}积分将于{{expires_on}}到期清零，快去积分商城兑换好礼。",
}
