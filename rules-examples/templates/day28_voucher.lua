-- Second-purchase voucher a week after the day 21 care message.
return {
  sms = "{{name}}，送您一张{{coupon_value}}元回购券（券码{{coupon_code}}），7天内有效，门店及小程序通用。",
  edm = {
    subject = "{{name}}，您的{{coupon_value}}元回购券已到账",
    text = "{{name}}您好：\n\n送您一张{{coupon_value}}元回购券，券码 {{coupon_code}}，7天内有效，门店及小程序通用。\n\n{{brand}}",
    html = [[<html><body><p>{{name}}您好：</p><p>送您一张<b>{{coupon_value}}元</b>回购券，券码 <b>{{coupon_code}}</b>，7天内有效，门店及小程序通用。</p><p>{{brand}}</p></body></html>]],
  },
}
