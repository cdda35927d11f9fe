-- Birthday coupon.
return {
  wechat = {
    template_id = "TM00004-birthday",
    url = "https://m.example.com/coupons/birthday",
    data = {
      first    = "{{name}}，生日快乐！",
      keyword1 = "{{coupon_value}}元生日礼券",
      keyword2 = "当月有效",
      remark   = "{{brand}}祝您生日快乐，礼券已放入您的账户。",
    },
  },
  sms = "{{name}}，生日快乐！{{coupon_value}}元生日礼券已放入您的账户（券码{{coupon_code}}），当月有效。",
  edm = {
    subject = "{{name}}，生日快乐！您的生日礼券到了",
    text = "{{name}}，生日快乐！\n\n{{coupon_value}}元生日礼券已放入您的账户，券码 {{coupon_code}}，当月有效。\n\n{{brand}}",
    html = [[<html><body><h2>{{name}}，生日快乐！</h2><p>{{coupon_value}}元生日礼券已放入您的账户，券码 <b>{{coupon_code}}</b>，当月有效。</p><p>{{brand}}</p></body></html>]],
  },
}
