/* test_evapply.c - a channel event applied to a member leaves the member
 * owning its strings: a wechat.subscribed event's openid is copied, so
 * the member reads it (and all its other fields) after the event is gone,
 * and the store has it too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "member.h"
#include "store.h"
#include "t.h"
#include "t_member.h"
#include "tz.h"

int main(void)
{
    char dir[] = "/tmp/nudge-evapply.XXXXXX", path[64], err[ERRLEN] = "", why[ERRLEN] = "";
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    const tz_t *tz = tz_get("Asia/Shanghai", NULL);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    CHECK(t_add_member(s, "A1", "Asia/Shanghai") > 0);

    member_t m;
    member_init(&m);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    char line[256];
    snprintf(line, sizeof line,
             "{\"id\":\"w1\",\"type\":\"wechat.subscribed\",\"member\":\"A1\",\"at\":\"2027-01-05T10:00:00+08:00\","
             "\"wechat_openid\":\"%s\"}",
             "oNEWopenid0123456789abcdefgh");
    event_t ev;
    CHECK_EQ_INT(evt_parse(&ev, line, strlen(line), tz, why), NUDGE_OK);
    int created = 0;
    CHECK_EQ_INT(evt_apply(s, NULL, &ev, &m, 1, &created, err), EVENT_APPLIED);
    /* the event's text and tree are gone; the member's strings are its own
     * (under AddressSanitizer a pointer into the event fails here) */
    memset(line, 'x', sizeof line - 1);
    evt_free(&ev);
    CHECK_EQ_STR(m.s[MS_OPENID], "oNEWopenid0123456789abcdefgh");
    CHECK_EQ_STR(m.s[MS_EXT_ID], "A1");
    CHECK_EQ_INT(m.wechat_subscribed, 1);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);

    /* and the store has the openid */
    member_t back;
    member_init(&back);
    CHECK_EQ_INT(store_member_find(s, "A1", &back, err), 1);
    CHECK(back.s[MS_OPENID] != NULL);
    if (back.s[MS_OPENID]) CHECK_EQ_STR(back.s[MS_OPENID], "oNEWopenid0123456789abcdefgh");
    CHECK_EQ_INT(back.wechat_subscribed, 1);

    /* member_set_str keeps the other strings whichever one changes */
    member_set_str(&back, MS_NAME, "王小明");
    CHECK_EQ_STR(back.s[MS_NAME], "王小明");
    CHECK_EQ_STR(back.s[MS_EXT_ID], "A1");
    CHECK_EQ_STR(back.s[MS_OPENID], "oNEWopenid0123456789abcdefgh");
    member_set_str(&back, MS_OPENID, NULL);
    CHECK(back.s[MS_OPENID] == NULL);
    CHECK_EQ_STR(back.s[MS_NAME], "王小明");

    member_free(&back);
    member_free(&m);
    store_close(s);
    t_rm_store(dir, path);
    T_DONE();
}
