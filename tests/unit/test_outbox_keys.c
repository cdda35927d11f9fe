/* test_outbox_keys.c - the outbox's keys kept in memory until a sorted
 * batch takes them to message_keys (limits made tiny here): a key is
 * refused again wherever it is (memory, a batch half merged, the table),
 * also after a reopen halfway through a batch and after a rollback; the
 * receipts by key and by WeChat msgid and the member's messages find
 * recent and merged messages alike; a held message released gives its key
 * back; merging between requests (store_merge_keys); once merged, the
 * memory is empty and the table holds every key. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "member.h"
#include "store.h"
#include "t.h"
#include "t_member.h"
#include "tz.h"
#include "util.h"

static void msg(store_msg_t *m, int64_t member, const char *ext_id, const char *key, const char *channel)
{
    store_msg_init(m);
    strcopy(m->key, sizeof m->key, key);
    m->member = member;
    m->at = m->decided_at = 1764547200;
    strcopy(m->journey, sizeof m->journey, strncmp(key, "k:", 2) == 0 ? "k" : "h");
    strcopy(m->step, sizeof m->step, "s");
    strcopy(m->channel, sizeof m->channel, channel);
    strcopy(m->member_id, sizeof m->member_id, ext_id);
    strcopy(m->zone, sizeof m->zone, "Asia/Shanghai");
    buf_adds(&m->content, "\"hi\"");
}

/* Adds a queued message in a transaction of its own: 1 added, 0 refused. */
static int add(store_t *s, int64_t member, const char *ext_id, const char *key, int fresh)
{
    store_msg_t m;
    msg(&m, member, ext_id, key, "wechat");
    m.fresh = fresh;
    char err[ERRLEN] = "";
    int rc = store_begin(s, err);
    if (rc == NUDGE_OK) rc = store_outbox_add(s, &m, "queued", NULL, err);
    if (rc >= 0 && store_commit(s, err) != NUDGE_OK) rc = -1;
    if (rc < 0) fprintf(stderr, "%s: %s\n", key, err);
    store_msg_free(&m);
    return rc;
}

/* The same outside a transaction: nothing merges. */
static int add_now(store_t *s, int64_t member, const char *ext_id, const char *key, int fresh)
{
    store_msg_t m;
    msg(&m, member, ext_id, key, "wechat");
    m.fresh = fresh;
    char err[ERRLEN] = "";
    int rc = store_outbox_add(s, &m, "queued", NULL, err);
    if (rc < 0) fprintf(stderr, "%s: %s\n", key, err);
    store_msg_free(&m);
    return rc;
}

/* Runs q on the store as another connection would: its sqlite code. */
static int write_sql(const char *path, const char *q)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, q, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static void sum_member(const char *journey, const char *status, int64_t n, int64_t last, void *ud)
{
    (void)last;
    char *out = ud;
    size_t len = strlen(out);
    snprintf(out + len, 256 - len, "%s/%s=%lld;", journey, status, (long long)n);
}

static int64_t id_of(const char *path, const char *key)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT id FROM messages WHERE key = '%s'", key);
    return t_sql_int(path, q);
}

int main(void)
{
    char dir[] = "/tmp/nudge-okeys.XXXXXX", path[64], err[ERRLEN] = "", key[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    int64_t a = t_add_member(s, "A", "Asia/Shanghai");
    member_t mb;
    member_init(&mb);
    mb.s[MS_EXT_ID] = "B";
    mb.s[MS_OPENID] = "oB";
    mb.zone = tz_get("Asia/Shanghai", NULL);
    CHECK_EQ_INT(store_member_save(s, &mb, err), NUDGE_OK);
    int64_t b = mb.rowid;
    member_free(&mb);
    CHECK(a > 0 && b > 0);

    /* a batch once 8 keys wait, 2 of them a commit */
    store_keys_limits(s, 8, 2);
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof key, "k:s:%s:%d", i % 2 ? "B" : "A", i);
        CHECK_EQ_INT(add(s, i % 2 ? b : a, i % 2 ? "B" : "A", key, 1), 1);
    }
    CHECK_EQ_INT(store_keys_recent(s), 7);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys"), 0);
    /* the 8th key's commit starts a batch of all 8 and merges 2 (member A's first) */
    CHECK_EQ_INT(add(s, b, "B", "k:s:B:7", 1), 1);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys"), 2);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys k JOIN messages m ON m.id = k.id"
                             " WHERE m.member = k.member AND m.key LIKE 'k:s:A:%'"), 2);   /* A's, in slot order */
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM meta WHERE key = 'message_keys_upto'"), 0);
    CHECK_EQ_INT(store_keys_recent(s), 8);   /* kept until the whole batch is in */
    /* refused wherever they are: merged, in the batch, fresh */
    for (int i = 0; i < 8; i++) {   /* two of these in the table, six in the batch only */
        snprintf(key, sizeof key, "k:s:%s:%d", i % 2 ? "B" : "A", i);
        CHECK_EQ_INT(add_now(s, i % 2 ? b : a, i % 2 ? "B" : "A", key, 0), 0);
    }
    CHECK_EQ_INT(add_now(s, a, "A", "k:s:A:6", 1), 0);   /* fresh: memory alone is asked, and knows it */
    CHECK_EQ_INT(store_outbox_has(s, a, "k:s:A:0"), 1);
    CHECK_EQ_INT(store_outbox_has(s, b, "k:s:A:0"), 0);   /* another member's key */
    /* reopened halfway through the batch: built again from the messages */
    store_close(s);
    s = store_open(path, STORE_OPEN, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    store_keys_limits(s, 8, 2);
    CHECK_EQ_INT(store_keys_recent(s), -1);   /* not read yet */
    CHECK_EQ_INT(store_outbox_has(s, a, "k:s:A:0"), 1);
    CHECK_EQ_INT(store_keys_recent(s), 8);
    CHECK_EQ_INT(add_now(s, a, "A", "k:s:A:2", 0), 0);
    /* 9 recent: a batch of all of them, its first 2 in the table already */
    CHECK_EQ_INT(add(s, b, "B", "k:s:B:9", 1), 1);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys"), 2);
    for (int i = 10; i < 14; i++) {
        snprintf(key, sizeof key, "k:s:A:%d", i);
        CHECK_EQ_INT(add(s, a, "A", key, 1), 1);
    }
    /* done: every key of the batch merged, their memory freed, the mark moved */
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys"), 9);
    CHECK_EQ_INT(t_sql_int(path, "SELECT value FROM meta WHERE key = 'message_keys_upto'"), id_of(path, "k:s:B:9"));
    CHECK_EQ_INT(store_keys_recent(s), 4);
    CHECK_EQ_INT(add_now(s, b, "B", "k:s:B:9", 0), 0);
    CHECK_EQ_INT(add_now(s, a, "A", "k:s:A:13", 0), 0);

    /* receipts by key: a merged message and a recent one */
    CHECK_EQ_INT(store_receipt(s, "wechat", "k:s:A:4", NULL, NULL, "delivered", 1764547300, err), 1);
    CHECK_EQ_INT(store_receipt(s, "wechat", "k:s:A:12", NULL, NULL, "delivered", 1764547300, err), 1);
    CHECK_EQ_INT(store_receipt(s, "sms", "k:s:A:12", NULL, NULL, "delivered", 1764547300, err), 0);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM messages WHERE receipt = 'delivered'"), 2);
    /* by WeChat's msgid among B's messages: merged (B:1) and recent (B:15) */
    CHECK_EQ_INT(add(s, b, "B", "k:s:B:15", 1), 1);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_outbox_finish(s, id_of(path, "k:s:B:1"), "sent", 0, 1764547250, NULL, "msg-1", 0, err), NUDGE_OK);
    CHECK_EQ_INT(store_outbox_finish(s, id_of(path, "k:s:B:15"), "sent", 0, 1764547250, NULL, "msg-15", 0, err),
                 NUDGE_OK);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_receipt(s, "wechat", NULL, "msg-1", "oB", "delivered", 1764547300, err), 1);
    CHECK_EQ_INT(store_receipt(s, "wechat", NULL, "msg-15", "oB", "failed: 43004", 1764547300, err), 1);
    CHECK_EQ_INT(store_receipt(s, "wechat", NULL, "msg-15", "oA", "delivered", 1764547300, err), 0);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM messages"
                                 " WHERE receipt = 'failed: 43004' AND key = 'k:s:B:15'"), 1);

    /* the member's messages: merged and recent together */
    char sums[256] = "";
    CHECK_EQ_INT(store_member_messages(s, a, sum_member, sums, err), NUDGE_OK);
    CHECK_EQ_STR(sums, "k/queued=8;");
    sums[0] = '\0';
    CHECK_EQ_INT(store_member_messages(s, b, sum_member, sums, err), NUDGE_OK);
    CHECK_EQ_STR(sums, "k/queued=4;k/sent=2;");   /* B:3, 5, 7, 9; B:1 and 15 */

    /* a held message released gives its key back: recent, then merged */
    store_msg_t h;
    msg(&h, a, "A", "h:s:A:1", "wechat");
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_held_put(s, &h, err), NUDGE_OK);
    CHECK_EQ_INT(store_held_put(s, &h, err), NUDGE_OK);   /* once */
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM messages WHERE key = 'h:s:A:1'"), 1);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_held_delete(s, id_of(path, "h:s:A:1"), err), NUDGE_OK);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_outbox_has(s, a, "h:s:A:1"), 0);
    CHECK_EQ_INT(add(s, a, "A", "h:s:A:1", 0), 1);
    for (int i = 16; i < 40; i++) {   /* enough for a batch, merged whole */
        snprintf(key, sizeof key, "k:s:A:%d", i);
        CHECK_EQ_INT(add(s, a, "A", key, 1), 1);
    }
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys k JOIN messages m ON m.id = k.id"
                                 " WHERE m.key = 'h:s:A:1'"), 1);
    int64_t held_again = id_of(path, "h:s:A:1");
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_held_delete(s, held_again, err), NUDGE_OK);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys k JOIN messages m ON m.id = k.id"
                                 " WHERE m.key = 'h:s:A:1'"), 0);
    CHECK_EQ_INT(add(s, a, "A", "h:s:A:1", 0), 1);
    store_msg_free(&h);

    /* a rollback takes its message and its key back */
    msg(&h, b, "B", "k:s:B:99", "wechat");
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_outbox_add(s, &h, "queued", NULL, err), 1);
    store_rollback(s);
    CHECK_EQ_INT(store_outbox_has(s, b, "k:s:B:99"), 0);
    CHECK_EQ_INT(add(s, b, "B", "k:s:B:99", 0), 1);
    store_msg_free(&h);

    /* a key whose slot another of its member's holds (a hash shared: made
     * here by taking the slot first) goes to the next free one, and is
     * found there, the other left alone */
    char q[256];
    int64_t slot = (int64_t)((fnv1a64("k:s:B:77", 8, FNV_SEED) >> 1) & ~(uint64_t)7);
    snprintf(q, sizeof q, "INSERT INTO message_keys(member, h, id) VALUES(%lld, %lld, %lld)", (long long)b,
             (long long)slot, (long long)id_of(path, "k:s:B:3"));
    CHECK_EQ_INT(write_sql(path, q), SQLITE_OK);
    CHECK_EQ_INT(add(s, b, "B", "k:s:B:77", 1), 1);
    for (int i = 40; i < 60; i++) {   /* another batch, merged whole */
        snprintf(key, sizeof key, "k:s:A:%d", i);
        CHECK_EQ_INT(add(s, a, "A", key, 1), 1);
    }
    snprintf(q, sizeof q, "SELECT h - %lld FROM message_keys WHERE id = %lld", (long long)slot,
             (long long)id_of(path, "k:s:B:77"));
    CHECK_EQ_INT(t_sql_int(path, q), 1);
    CHECK_EQ_INT(add_now(s, b, "B", "k:s:B:77", 0), 0);
    CHECK_EQ_INT(add_now(s, b, "B", "k:s:B:3", 0), 0);
    CHECK_EQ_INT(store_receipt(s, "wechat", "k:s:B:77", NULL, NULL, "delivered", 1764547400, err), 1);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM messages"
                                 " WHERE receipt_at = 1764547400 AND key = 'k:s:B:77'"), 1);
    snprintf(q, sizeof q, "DELETE FROM message_keys WHERE member = %lld AND h = %lld", (long long)b, (long long)slot);
    CHECK_EQ_INT(write_sql(path, q), SQLITE_OK);   /* the slot taken by hand, given back */

    /* at the end, once commits without new keys have finished the batch:
     * whatever is not in the table is in memory, once */
    for (int i = 0; i < 40; i++) {
        CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
        CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    }
    CHECK(store_keys_recent(s) < 8);
    /* the merging keeps pace with what comes: a commit of 10 new keys
     * merges twice that, here the whole batch they start */
    int64_t before = store_keys_recent(s);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    for (int i = 0; i < 10; i++) {
        store_msg_t p;
        snprintf(key, sizeof key, "p:s:A:%d", i);
        msg(&p, a, "A", key, "sms");
        p.fresh = 1;
        CHECK_EQ_INT(store_outbox_add(s, &p, "queued", NULL, err), 1);
        store_msg_free(&p);
    }
    CHECK_EQ_INT(store_keys_recent(s), before + 10);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_keys_recent(s), 0);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys") + store_keys_recent(s),
                 t_sql_int(path, "SELECT count(*) FROM messages"));
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys k JOIN messages m ON m.id = k.id"
                             " WHERE m.member <> k.member"), 0);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys WHERE id NOT IN (SELECT id FROM messages)"), 0);

    /* merged between requests (store_merge_keys, as the daemon does): a
     * batch formed and its owed keys merged inside the transaction, and
     * that transaction's commit merges only what is owed, without its
     * floor (5 here) */
    store_keys_limits(s, 8, 5);
    int64_t table0 = t_sql_int(path, "SELECT count(*) FROM message_keys");
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof key, "q:s:A:%d", i);
        CHECK_EQ_INT(add_now(s, a, "A", key, 1), 1);
    }
    CHECK_EQ_INT(store_merge_keys(s, 1, err), NUDGE_OK);   /* 7 wait: no batch yet */
    CHECK_EQ_INT(store_keys_recent(s), 7);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);   /* no batch: nothing merged */
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys"), table0);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(add_now(s, a, "A", "q:s:A:7", 1), 1);
    CHECK_EQ_INT(store_merge_keys(s, 3, err), NUDGE_OK);   /* 2 owed, under the minimum */
    CHECK_EQ_INT(store_merge_keys(s, 2, err), NUDGE_OK);   /* a batch of 8, 2 of them merged */
    CHECK_EQ_INT(store_keys_recent(s), 8);
    CHECK_EQ_INT(add_now(s, a, "A", "q:s:A:3", 0), 0);   /* refused, merged or not */
    CHECK_EQ_INT(add_now(s, a, "A", "q:s:A:6", 0), 0);
    CHECK_EQ_INT(add_now(s, a, "A", "q:s:A:8", 1), 1);   /* fresh, 1 more owed: 2 */
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys"), table0 + 4);   /* not 2 + 5 */
    CHECK_EQ_INT(store_keys_recent(s), 9);
    /* the rest ahead in one go: the batch done inside the transaction,
     * its memory freed; a rollback then takes it all back */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(add_now(s, a, "A", "q:s:A:9", 1), 1);
    CHECK_EQ_INT(add_now(s, a, "A", "q:s:A:10", 1), 1);
    CHECK_EQ_INT(store_merge_keys(s, 1, err), NUDGE_OK);   /* 4 owed: the batch's last 4 */
    CHECK_EQ_INT(store_keys_recent(s), 3);   /* 8, 9 and 10 */
    CHECK_EQ_INT(add_now(s, a, "A", "q:s:A:0", 0), 0);
    store_rollback(s);
    CHECK_EQ_INT(store_keys_recent(s), -1);   /* read again when needed */
    CHECK_EQ_INT(add_now(s, a, "A", "q:s:A:9", 1), 1);   /* rolled back: new again */
    CHECK_EQ_INT(add_now(s, a, "A", "q:s:A:5", 0), 0);   /* in the batch, from the messages */
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys"), table0 + 4);
    /* and no merging outside a transaction */
    CHECK_EQ_INT(store_merge_keys(s, 1, err), NUDGE_OK);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys"), table0 + 4);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
        CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    }
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys") + store_keys_recent(s),
                 t_sql_int(path, "SELECT count(*) FROM messages"));
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM message_keys k JOIN messages m ON m.id = k.id"
                             " WHERE m.member <> k.member"), 0);
    store_close(s);

    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    T_DONE();
}
