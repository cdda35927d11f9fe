-- Win-back offer for members quiet for months.
return {
  wechat = {
    template_id = "TM00002-winback",
    url = "https://m.example.com/coupons",
    data = {
      first    = "{{name}}，好久不见，{{brand}}想您了",
      keyword1 = "会员专享{{discount}}券",
      keyword2 = "券码{{coupon_code}}",
      remark   = "点击领取，30天内有效。",
    },
  },
  sms = "{{name}}，好久不见！会员专享{{discount}}券已放入您的账户，券码{{coupon_code}}，30天内有效。",
}
