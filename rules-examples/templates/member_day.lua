-- Monthly member day invitation.
return {
  wechat = {
    template_id = "TM00005-memberday",
    url = "https://m.example.com/member-day",
    data = {
      first    = "{{name}}，今天是{{brand}}会员日",
      keyword1 = "{{offer}}",
      keyword2 = "{{date}} 全天",
      remark   = "您是{{tier}}会员，到店或小程序下单均可享受。",
    },
  },
  edm = {
    subject = "{{name}}，今天是{{brand}}会员日：{{offer}}",
    text = "{{name}}您好：\n\n今天（{{date}}）是{{brand}}会员日，{{offer}}。到店或小程序下单均可享受。\n\n{{brand}}",
    html = [[<html><body><p>{{name}}您好：</p><p>今天（{{date}}）是{{brand}}会员日，<b>{{offer}}</b>。到店或小程序下单均可享受。</p><p>{{brand}}</p></body></html>]],
  },
}
