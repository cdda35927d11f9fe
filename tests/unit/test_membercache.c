/* test_membercache.c - the daemon's member cache answers exactly what the
 * store holds: after an order, a profile change and a channel change
 * (each written by its own statement), after a rollback, after another
 * process's commit, and when members share a slot. Every read through
 * the cache is compared field by field with a read of the same store by
 * a second handle without a cache; the hit counter shows the cache was
 * used. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cal.h"
#include "event.h"
#include "store.h"
#include "t.h"
#include "t_member.h"

static int apply(store_t *s, const char *line)
{
    char err[ERRLEN] = "";
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

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* 1 when cached (read through c) and plain (read through p) agree on
 * every stored field of member id. */
static int agrees(store_t *c, store_t *p, const char *id)
{
    char err[ERRLEN];
    member_t a, b;
    member_init(&a);
    member_init(&b);
    int ok = store_member_find(c, id, &a, err) == 1 && store_member_find(p, id, &b, err) == 1;
    for (int i = 0; ok && i < MS_NSTR; i++) ok = same_str(a.s[i], b.s[i]);
    ok = ok && a.rowid == b.rowid && a.zone == b.zone && a.wechat_subscribed == b.wechat_subscribed &&
         a.sms_opt_out == b.sms_opt_out && a.email_opt_out == b.email_opt_out && a.joined_at == b.joined_at &&
         a.order_count == b.order_count && a.spent_cents == b.spent_cents && a.last_order_at == b.last_order_at &&
         a.join_day == b.join_day && a.join_md == b.join_md && a.birth_md == b.birth_md &&
         a.last_order_day == b.last_order_day;
    if (!ok) fprintf(stderr, "member %s: the cached copy differs from the store\n", id);
    member_free(&a);
    member_free(&b);
    return ok;
}

static int64_t hits(store_t *s)
{
    int64_t h, m;
    store_member_cache_stats(s, &h, &m);
    return h;
}

static int64_t orders_of(store_t *s, const char *id)
{
    char err[ERRLEN];
    member_t m;
    member_init(&m);
    int64_t n = store_member_find(s, id, &m, err) == 1 ? m.order_count : -1;
    member_free(&m);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/nudge-membercache-XXXXXX", path[64], err[ERRLEN] = "", id[16], line[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    CHECK(t_add_member(s, "M1", "Asia/Shanghai") > 0);
    CHECK(t_add_member(s, "M2", "Asia/Shanghai") > 0);
    store_t *p = store_open(path, STORE_OPEN, err);   /* another process: no cache */
    CHECK(p != NULL);
    store_member_cache(s, 8);

    /* a second read comes from the cache */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(orders_of(s, "M1"), 0);
    int64_t h0 = hits(s);
    CHECK_EQ_INT(orders_of(s, "M1"), 0);
    CHECK_EQ_INT(hits(s), h0 + 1);
    CHECK_EQ_INT(orders_of(s, "nobody"), -1);

    /* what an order, a profile change and an opt-out write is what the
     * next read says */
    CHECK_EQ_INT(apply(s, "{\"type\":\"order.paid\",\"member\":\"M1\",\"at\":\"2026-11-11T09:00:00+08:00\","
                          "\"order_id\":\"O1\",\"amount\":100}"), EVENT_APPLIED);
    CHECK_EQ_INT(apply(s, "{\"type\":\"order.paid\",\"member\":\"M1\",\"at\":\"2026-11-11T10:00:00+08:00\","
                          "\"order_id\":\"O2\",\"amount\":1.5}"), EVENT_APPLIED);
    member_t m;
    member_init(&m);
    CHECK_EQ_INT(store_member_find(s, "M1", &m, err), 1);   /* a profile change: the whole row */
    member_set_str(&m, MS_NAME, "王芳");
    member_set_str(&m, MS_TIER, "gold");
    member_set_str(&m, MS_BIRTHDAY, "1990-02-14");
    member_derive(&m);
    CHECK_EQ_INT(store_member_save(s, &m, err), NUDGE_OK);
    member_clear(&m);
    h0 = hits(s);
    CHECK_EQ_INT(store_member_find(s, "M1", &m, err), 1);
    CHECK_EQ_INT(hits(s), h0 + 1);
    CHECK_EQ_STR(m.s[MS_NAME], "王芳");
    CHECK_EQ_INT(m.order_count, 2);
    CHECK_EQ_INT(apply(s, "{\"type\":\"sms.opted_out\",\"member\":\"M1\",\"at\":\"2026-11-12T10:00:00+08:00\"}"),
                 EVENT_APPLIED);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK(agrees(s, p, "M1"));   /* read again after the opt-out */
    CHECK(agrees(s, p, "M2"));
    h0 = hits(s);
    CHECK(agrees(s, p, "M1"));   /* ... and now from the cache */
    CHECK(agrees(s, p, "M2"));
    CHECK_EQ_INT(hits(s), h0 + 2);
    CHECK_EQ_INT(store_member_find(s, "M1", &m, err), 1);
    CHECK_EQ_INT(m.order_count, 2);
    CHECK_EQ_INT(m.spent_cents, 10150);
    CHECK_EQ_STR(m.s[MS_NAME], "王芳");
    CHECK_EQ_INT(m.sms_opt_out, 1);
    CHECK(m.birth_md != CAL_NONE);
    member_free(&m);

    /* a rollback takes back what the cache saw of the transaction */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(apply(s, "{\"type\":\"order.paid\",\"member\":\"M2\",\"at\":\"2026-11-13T09:00:00+08:00\","
                          "\"order_id\":\"O3\",\"amount\":5}"), EVENT_APPLIED);
    CHECK_EQ_INT(orders_of(s, "M2"), 1);
    store_rollback(s);
    CHECK_EQ_INT(orders_of(s, "M2"), 0);
    CHECK(agrees(s, p, "M2"));

    /* another process's commit is seen when the next transaction begins */
    CHECK_EQ_INT(orders_of(s, "M1"), 2);
    CHECK_EQ_INT(store_begin(p, err), NUDGE_OK);
    CHECK_EQ_INT(apply(p, "{\"type\":\"order.paid\",\"member\":\"M1\",\"at\":\"2026-11-14T09:00:00+08:00\","
                          "\"order_id\":\"O4\",\"amount\":7}"), EVENT_APPLIED);
    CHECK_EQ_INT(store_commit(p, err), NUDGE_OK);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(orders_of(s, "M1"), 3);
    CHECK(agrees(s, p, "M1"));

    /* 40 members in 8 slots: each read is its own member's */
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "C%02d", i);
        CHECK(t_add_member(s, id, i % 2 ? "Asia/Shanghai" : "America/New_York") > 0);
        snprintf(line, sizeof line, "{\"type\":\"order.paid\",\"member\":\"%s\",\"at\":\"2026-11-15T09:00:00+08:00\","
                 "\"order_id\":\"P%d\",\"amount\":%d}", id, i, i + 1);
        CHECK_EQ_INT(apply(s, line), EVENT_APPLIED);
    }
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    int all = 1;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 40; i++) {
            snprintf(id, sizeof id, "C%02d", i);
            all &= agrees(s, p, id);
        }
    CHECK(all);

    store_close(p);
    store_close(s);
    t_rm_store(dir, path);
    T_DONE();
}
