/* test_lastorder.c - orders move a member in the last-order index (which
 * the churn moments read) when the order's local day is new, and leave
 * it alone otherwise: a second order the same day, or a late order for
 * an earlier day, keeps the member where they were; the counts and the
 * spend change every time, also after reopening the store. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cal.h"
#include "event.h"
#include "store.h"
#include "t.h"
#include "t_member.h"

/* Applies an order.paid for member at the local time given; EVENT_* */
static int order(store_t *s, const char *member, const char *oid, const char *at, const char *amount)
{
    char line[256], err[ERRLEN] = "";
    snprintf(line, sizeof line, "{\"type\":\"order.paid\",\"member\":\"%s\",\"at\":\"%s\",\"order_id\":\"%s\",\"amount\":%s}",
             member, at, oid, amount);
    event_t ev;
    if (evt_parse(&ev, line, strlen(line), tz_get("Asia/Shanghai", NULL), err) != NUDGE_OK) {
        fprintf(stderr, "%s: %s\n", line, err);
        return NUDGE_ERR;
    }
    member_t m;
    member_init(&m);
    int created = 0;
    int r = evt_apply(s, NULL, &ev, &m, 1, &created, err);
    if (r == NUDGE_ERR) fprintf(stderr, "%s: %s\n", line, err);
    member_free(&m);
    evt_free(&ev);
    return r;
}

/* The ext ids of the members whose last order was on day, "," separated. */
static void last_on(store_t *s, int32_t day, char *out, size_t n)
{
    char err[ERRLEN];
    out[0] = '\0';
    store_iter_t *it = store_candidates(s, CAND_LAST_ORDER_DAY, "Asia/Shanghai", day, day, 0, err);
    CHECK(it != NULL);
    member_t m;
    member_init(&m);
    size_t len = 0;
    while (it && store_iter_next(it, &m, NULL, err) == 1)
        len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", len ? "," : "", m.s[MS_EXT_ID]);
    member_free(&m);
    store_iter_free(it);
}

static void check_member(store_t *s, const char *id, int64_t orders, int64_t cents, int32_t day)
{
    char err[ERRLEN];
    member_t m;
    member_init(&m);
    CHECK_EQ_INT(store_member_find(s, id, &m, err), 1);
    CHECK_EQ_INT(m.order_count, orders);
    CHECK_EQ_INT(m.spent_cents, cents);
    CHECK_EQ_INT(m.last_order_day, day);
    member_free(&m);
}

int main(void)
{
    char dir[] = "/tmp/nudge-lastorder-XXXXXX", path[64], err[ERRLEN] = "", got[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    CHECK(t_add_member(s, "M1", "Asia/Shanghai") > 0);
    CHECK(t_add_member(s, "M2", "Asia/Shanghai") > 0);
    int32_t d1 = cal_from_ymd(2026, 11, 11), d2 = cal_from_ymd(2026, 11, 20);

    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(order(s, "M1", "O1", "2026-11-11T09:00:00+08:00", "100"), EVENT_APPLIED);
    CHECK_EQ_INT(order(s, "M2", "O2", "2026-11-11T23:30:00+08:00", "50"), EVENT_APPLIED);
    last_on(s, d1, got, sizeof got);
    CHECK_EQ_STR(got, "M1,M2");
    /* the same local day again (UTC has moved on to the next): no move */
    CHECK_EQ_INT(order(s, "M1", "O3", "2026-11-11T23:59:00+08:00", "20.5"), EVENT_APPLIED);
    last_on(s, d1, got, sizeof got);
    CHECK_EQ_STR(got, "M1,M2");
    check_member(s, "M1", 2, 12050, d1);
    /* a later day: M1 moves */
    CHECK_EQ_INT(order(s, "M1", "O4", "2026-11-20T10:00:00+08:00", "9.9"), EVENT_APPLIED);
    last_on(s, d1, got, sizeof got);
    CHECK_EQ_STR(got, "M2");
    last_on(s, d2, got, sizeof got);
    CHECK_EQ_STR(got, "M1");
    /* an order that arrives late, for an earlier day: counted, no move */
    CHECK_EQ_INT(order(s, "M1", "O5", "2026-11-12T10:00:00+08:00", "1"), EVENT_APPLIED);
    last_on(s, d2, got, sizeof got);
    CHECK_EQ_STR(got, "M1");
    check_member(s, "M1", 4, 13140, d2);
    CHECK_EQ_INT(order(s, "M1", "O5", "2026-11-12T10:00:00+08:00", "1"), EVENT_DUPLICATE);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(s);

    s = store_open(path, STORE_OPEN, err);
    CHECK(s != NULL);
    check_member(s, "M1", 4, 13140, d2);
    check_member(s, "M2", 1, 5000, d1);
    last_on(s, d2, got, sizeof got);
    CHECK_EQ_STR(got, "M1");
    last_on(s, d1, got, sizeof got);
    CHECK_EQ_STR(got, "M2");
    store_close(s);
    t_rm_store(dir, path);
    T_DONE();
}
