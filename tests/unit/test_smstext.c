/* test_smstext.c - SMS length, billed parts and composition. */
#include "smstext.h"
#include "t.h"

#include <string.h>

static char buf[8192];

static const char *rep(const char *unit, int n)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++) strcat(buf, unit);
    return buf;
}

int main(void)
{
    CHECK_EQ_INT(smstext_chars("hello"), 5);
    CHECK_EQ_INT(smstext_chars("【悦肤】"), 4);      /* every character counts one */
    CHECK_EQ_INT(smstext_chars("回T退订ab!"), 7);
    /* 70, then 67 a part, for Chinese */
    CHECK_EQ_INT(smstext_segments(rep("好", 70)), 1);
    CHECK_EQ_INT(smstext_segments(rep("好", 71)), 2);
    CHECK_EQ_INT(smstext_segments(rep("好", 134)), 2);
    CHECK_EQ_INT(smstext_segments(rep("好", 135)), 3);
    CHECK_EQ_INT(smstext_segments(rep("好", 160)), 3);
    rep("a", 70);
    strcat(buf, "好");   /* one Chinese character makes the whole text 70/67 */
    CHECK_EQ_INT(smstext_segments(buf), 2);
    /* 160, then 153, for plain ASCII */
    CHECK_EQ_INT(smstext_segments(rep("a", 160)), 1);
    CHECK_EQ_INT(smstext_segments(rep("a", 161)), 2);
    CHECK_EQ_INT(smstext_segments(rep("a", 306)), 2);
    CHECK_EQ_INT(smstext_segments(rep("a", 307)), 3);
    buf_t b;
    buf_init(&b);
    smstext_compose("悦肤", "王芳，生日快乐！", SMS_DEFAULT_OPT_OUT, 1, &b);
    CHECK_EQ_STR(b.p, "【悦肤】王芳，生日快乐！回T退订");
    buf_reset(&b);
    smstext_compose("悦肤", "您的订单已发货。", SMS_DEFAULT_OPT_OUT, 0, &b);
    CHECK_EQ_STR(b.p, "【悦肤】您的订单已发货。");   /* service: no opt-out text */
    buf_free(&b);
    T_DONE();
}
