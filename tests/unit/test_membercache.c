/* test_membercache.c - the store's memory of recent members (found by id
 * without a query inside a transaction): what it gives back is always
 * what the database holds, through the store's own writes, rollbacks,
 * another connection's writes between transactions, and evictions. A
 * random run compares every find with a read of the committed rows by a
 * second connection. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cal.h"
#include "member.h"
#include "store.h"
#include "t.h"
#include "t_member.h"
#include "tz.h"
#include "util.h"

static int64_t hits(store_t *s)
{
    int64_t h, m, n;
    store_member_cache_stats(s, &h, &m, &n);
    return h;
}

static int64_t held(store_t *s)
{
    int64_t h, m, n;
    store_member_cache_stats(s, &h, &m, &n);
    return n;
}

/* Runs q on the store at path as another connection (committed). */
static int outside(const char *path, const char *q)
{
    sqlite3 *db = NULL;
    int ok = sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) fprintf(stderr, "outside: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return ok;
}

/* What the database holds for member id (its name's number, orders,
 * spend, SMS opt-out), read by another connection; the store's open
 * transaction's writes are not in it. */
typedef struct seen {
    int64_t name, orders, cents, sms_out;
} seen_t;

static void db_row(const char *path, const char *id, seen_t *v)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT CAST(substr(name, 2) AS INTEGER) FROM members WHERE ext_id = '%s'", id);
    v->name = t_sql_int(path, q);
    snprintf(q, sizeof q, "SELECT coalesce((SELECT order_count FROM member_orders o JOIN members m ON o.member = m.id"
                          " WHERE m.ext_id = '%s'), 0)", id);
    v->orders = t_sql_int(path, q);
    snprintf(q, sizeof q, "SELECT coalesce((SELECT spent_cents FROM member_orders o JOIN members m ON o.member = m.id"
                          " WHERE m.ext_id = '%s'), 0)", id);
    v->cents = t_sql_int(path, q);
    snprintf(q, sizeof q, "SELECT sms_opt_out FROM members WHERE ext_id = '%s'", id);
    v->sms_out = t_sql_int(path, q);
}

static int same(const member_t *m, const seen_t *v)
{
    return m->s[MS_NAME] && atoll(m->s[MS_NAME] + 1) == v->name && m->order_count == v->orders &&
           m->spent_cents == v->cents && m->sms_opt_out == v->sms_out;
}

int main(void)
{
    char dir[] = "/tmp/nudge-mcache-XXXXXX", path[64], err[ERRLEN] = "";
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) return 1;
    store_member_cache(s, 1000);
    member_t m;
    member_init(&m);
    enum { N = 40 };
    char ids[N][16];
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "M%02d", i);
        member_clear(&m);
        m.s[MS_EXT_ID] = ids[i];
        m.s[MS_NAME] = "n0";
        m.s[MS_PHONE] = "13900000000";
        m.zone = tz_get("Asia/Shanghai", NULL);
        CHECK_EQ_INT(store_member_save(s, &m, err), NUDGE_OK);
    }
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(held(s), N);   /* saved members are in memory as saved */

    /* outside a transaction: read from the database, not kept */
    int64_t h0 = hits(s);
    CHECK_EQ_INT(store_member_find(s, "M01", &m, err), 1);
    CHECK_EQ_INT(store_member_find(s, "M01", &m, err), 1);
    CHECK_EQ_INT(hits(s), h0);

    /* inside one: from memory (saved above), the same member each time */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_member_find(s, "M01", &m, err), 1);
    int64_t rowid = m.rowid;
    CHECK_EQ_INT(store_member_find(s, "M01", &m, err), 1);
    CHECK_EQ_INT(hits(s), h0 + 2);
    CHECK_EQ_INT(m.rowid, rowid);
    CHECK_EQ_STR(m.s[MS_EXT_ID], "M01");
    CHECK_EQ_STR(m.s[MS_PHONE], "13900000000");
    CHECK(m.zone == tz_get("Asia/Shanghai", NULL));
    CHECK_EQ_INT(store_member_find(s, "nobody", &m, err), 0);   /* unknown: not kept either */
    CHECK_EQ_INT(store_member_find(s, "nobody", &m, err), 0);

    /* an order saved: the member in memory has it */
    CHECK_EQ_INT(store_member_find(s, "M02", &m, err), 1);
    int32_t was = m.last_order_day;
    m.order_count = 1;
    m.spent_cents = 19900;
    m.last_order_at = 1764547200;
    member_derive(&m);
    CHECK_EQ_INT(store_member_save_orders(s, &m, was, err), NUDGE_OK);
    member_clear(&m);
    CHECK_EQ_INT(store_member_find(s, "M02", &m, err), 1);
    CHECK_EQ_INT(m.order_count, 1);
    CHECK_EQ_INT(m.spent_cents, 19900);
    CHECK_EQ_INT(m.last_order_at, 1764547200);
    CHECK(m.last_order_day != CAL_NONE);
    CHECK_EQ_STR(m.s[MS_NAME], "n0");   /* the rest as it was */
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(t_sql_int(path, "SELECT spent_cents FROM member_orders o JOIN members m ON o.member = m.id"
                                 " WHERE m.ext_id = 'M02'"), 19900);

    /* a write rolled back: gone from memory too */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_member_find(s, "M03", &m, err), 1);
    m.s[MS_NAME] = "n7";
    CHECK_EQ_INT(store_member_save(s, &m, err), NUDGE_OK);
    CHECK_EQ_INT(store_member_find(s, "M03", &m, err), 1);
    CHECK_EQ_STR(m.s[MS_NAME], "n7");
    store_rollback(s);
    CHECK_EQ_INT(held(s), 0);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_member_find(s, "M03", &m, err), 1);
    CHECK_EQ_STR(m.s[MS_NAME], "n0");
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);

    /* another connection's write between two transactions */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_member_find(s, "M04", &m, err), 1);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK(held(s) > 0);
    CHECK(outside(path, "UPDATE members SET name = 'n9', sms_opt_out = 1 WHERE ext_id = 'M04'"));
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_member_find(s, "M04", &m, err), 1);
    CHECK_EQ_STR(m.s[MS_NAME], "n9");
    CHECK_EQ_INT(m.sms_opt_out, 1);
    /* a channel change (not mirrored): read again after it */
    m.sms_opt_out = 0;
    CHECK_EQ_INT(store_member_save_reach(s, &m, err), NUDGE_OK);
    CHECK_EQ_INT(store_member_find(s, "M04", &m, err), 1);
    CHECK_EQ_INT(m.sms_opt_out, 0);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);

    /* a save outside a transaction (in memory from the last one): the
     * next transaction reads it again */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_member_find(s, "M06", &m, err), 1);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    m.s[MS_NAME] = "n6";
    CHECK_EQ_INT(store_member_save(s, &m, err), NUDGE_OK);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_member_find(s, "M06", &m, err), 1);
    CHECK_EQ_STR(m.s[MS_NAME], "n6");
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);

    /* A random run with room for 8 members: every find matches what the
     * database holds once committed (checked after each commit). */
    store_member_cache(s, 8);
    srand(7);
    seen_t want[N];
    for (int i = 0; i < N; i++) db_row(path, ids[i], &want[i]);
    seen_t before[N];
    memcpy(before, want, sizeof want);
    int in_txn = 0, mismatches = 0, finds = 0, most = 0;
    int64_t h1 = hits(s);
    for (int step = 0; step < 3000; step++) {
        int i = rand() % N, op = rand() % 100;
        if (!in_txn) {
            if (op < 10) {   /* another connection writes */
                char q[128];
                int64_t v = rand() % 1000;
                snprintf(q, sizeof q, "UPDATE members SET name = 'n%lld' WHERE ext_id = '%s'", (long long)v, ids[i]);
                if (outside(path, q)) want[i].name = v;
                continue;
            }
            if (store_begin(s, err) != NUDGE_OK) break;
            in_txn = 1;
            memcpy(before, want, sizeof want);
        }
        if (op < 50) {
            finds++;
            if (store_member_find(s, ids[i], &m, err) != 1 || !same(&m, &want[i])) mismatches++;
        } else if (op < 65) {   /* a new name, saved in full */
            if (store_member_find(s, ids[i], &m, err) != 1) break;
            char name[16];
            int64_t v = rand() % 1000;
            snprintf(name, sizeof name, "n%lld", (long long)v);
            m.s[MS_NAME] = name;
            if (store_member_save(s, &m, err) == NUDGE_OK) want[i].name = v;
        } else if (op < 80) {   /* an order */
            if (store_member_find(s, ids[i], &m, err) != 1) break;
            int32_t was_day = m.last_order_day;
            m.order_count++;
            m.spent_cents += 100;
            m.last_order_at = 1764547200 + rand() % (86400 * 3);
            member_derive(&m);
            if (store_member_save_orders(s, &m, was_day, err) == NUDGE_OK) {
                want[i].orders++;
                want[i].cents += 100;
            }
        } else if (op < 85) {   /* opted out of SMS, or back in */
            if (store_member_find(s, ids[i], &m, err) != 1) break;
            m.sms_opt_out = !m.sms_opt_out;
            if (store_member_save_reach(s, &m, err) == NUDGE_OK) want[i].sms_out = m.sms_opt_out;
        } else if (op < 95) {
            if (store_commit(s, err) != NUDGE_OK) break;
            in_txn = 0;
            for (int k = 0; k < N; k++) {
                seen_t v;
                db_row(path, ids[k], &v);
                if (memcmp(&v, &want[k], sizeof v) != 0) mismatches++;
            }
        } else {
            store_rollback(s);
            in_txn = 0;
            memcpy(want, before, sizeof want);
        }
        if (held(s) > most) most = (int)held(s);
    }
    if (in_txn) CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(mismatches, 0);
    CHECK(finds > 1000);
    CHECK(hits(s) - h1 > 100);   /* the memory was used */
    CHECK(most <= 8);            /* and kept to its size */
    CHECK_EQ_INT(most, 8);

    store_close(s);

    /* a store not told to keeps none (a simulation's scratch copy here) */
    s = store_open(path, STORE_SCRATCH, err);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
        CHECK_EQ_INT(store_member_find(s, "M05", &m, err), 1);
        CHECK_EQ_INT(store_member_find(s, "M05", &m, err), 1);
        CHECK_EQ_INT(hits(s), 0);
        CHECK_EQ_INT(held(s), 0);
        CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
        store_close(s);
    }
    member_free(&m);
    t_rm_store(dir, path);
    T_DONE();
}
