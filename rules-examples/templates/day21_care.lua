-- Day 21 care message for new members.
return {
  wechat = {
    template_id = "TM00001-care",
    url = "https://m.example.com/member/home",
    data = {
      first    = "{{name}}，感谢您加入{{brand}}会员已满三周",
      keyword1 = "{{name}}",
      keyword2 = "{{joined_on}}",
      remark   = { value = "使用中有任何问题，直接回复本消息即可联系专属顾问。", color = "#173177" },
    },
  },
  sms = "{{name}}您好，加入会员已满三周，使用中有任何问题欢迎随时联系您的专属顾问。",
  edm = {
    subject = "{{name}}，加入{{brand}}三周啦",
    text = "{{name}}您好：\n\n感谢您加入{{brand}}会员。使用中有任何问题，欢迎回复本邮件联系专属顾问。\n\n{{brand}}会员中心",
    html = [[<html><body><p>{{name}}您好：</p><p>感谢您加入{{brand}}会员。使用中有任何问题，欢迎回复本邮件联系专属顾问。</p><p>{{brand}}会员中心</p></body></html>]],
  },
}
