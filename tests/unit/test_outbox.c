/* test_outbox.c - a message is kept once per member and idempotency key:
 * the same key again for the member is refused, while another member's
 * message is its own; an SMS delivery receipt finds its message by the
 * key alone (Alibaba sends it back as OutId), also when the step, the
 * member's id or the occasion hold colons, and touches no other message.
 * The store is reopened in between: nothing depends on memory. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "t.h"
#include "t_member.h"
#include "util.h"

/* Adds a queued SMS for member (rowid) with key: 1 added, 0 refused. */
static int add(store_t *s, int64_t member, const char *ext_id, const char *key)
{
    store_msg_t m;
    store_msg_init(&m);
    strcopy(m.key, sizeof m.key, key);
    m.member = member;
    m.at = m.decided_at = 1764547200;
    strcopy(m.journey, sizeof m.journey, "j");
    strcopy(m.step, sizeof m.step, "s");
    strcopy(m.channel, sizeof m.channel, "sms");
    strcopy(m.member_id, sizeof m.member_id, ext_id);
    strcopy(m.zone, sizeof m.zone, "Asia/Shanghai");
    buf_adds(&m.content, "\"hi\"");
    char err[ERRLEN] = "";
    int rc = store_outbox_add(s, &m, "queued", NULL, err);
    if (rc < 0) fprintf(stderr, "%s: %s\n", key, err);
    store_msg_free(&m);
    return rc;
}

typedef struct seen {
    char lines[1024];
} seen_t;

static void collect(const store_msg_t *m, void *ud)
{
    seen_t *s = ud;
    size_t n = strlen(s->lines);
    snprintf(s->lines + n, sizeof s->lines - n, "%s=%s;", m->key, m->receipt[0] ? m->receipt : "-");
}

/* key=receipt; of every message, in id order */
static void receipts(store_t *s, seen_t *out)
{
    char err[ERRLEN] = "";
    out->lines[0] = '\0';
    if (store_outbox_page(s, NULL, 0, -1, collect, out, err) != NUDGE_OK) fprintf(stderr, "%s\n", err);
}

int main(void)
{
    char dir[] = "/tmp/nudge-outbox.XXXXXX", path[64], err[ERRLEN] = "";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();

    int64_t m1 = t_add_member(s, "M1", "Asia/Shanghai");
    int64_t ab = t_add_member(s, "a:b", "Asia/Shanghai");
    int64_t a = t_add_member(s, "a", "Asia/Shanghai");
    CHECK(m1 > 0 && ab > 0 && a > 0);

    CHECK_EQ_INT(add(s, m1, "M1", "j:s:M1:2026-12-01"), 1);
    CHECK_EQ_INT(add(s, m1, "M1", "j:s:M1:2026-12-01"), 0);            /* a replay */
    CHECK_EQ_INT(add(s, m1, "M1", "j:st:ep:M1:ev:42"), 1);             /* colons in step and occasion */
    CHECK_EQ_INT(add(s, ab, "a:b", "j:s:a:b:2026-12-01"), 1);          /* and in the member's id */
    /* the same text for another member ("a" on the occasion "b:2026-12-01")
     * is that member's own message */
    CHECK_EQ_INT(add(s, a, "a", "j:s:a:b:2026-12-01"), 1);
    CHECK_EQ_INT(add(s, m1, "M1", "j:s:M1:2026-12-01/sms"), 1);        /* a fallback's key */
    store_close(s);

    s = store_open(path, STORE_OPEN, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    CHECK_EQ_INT(store_outbox_has(s, m1, "j:s:M1:2026-12-01"), 1);
    CHECK_EQ_INT(store_outbox_has(s, ab, "j:s:M1:2026-12-01"), 0);
    CHECK_EQ_INT(store_outbox_has(s, m1, "j:s:M1:2026-12-02"), 0);

    CHECK_EQ_INT(store_receipt(s, "sms", "j:st:ep:M1:ev:42", NULL, NULL, "delivered", 1764547300, err), 1);
    CHECK_EQ_INT(store_receipt(s, "sms", "j:s:M1:2026-12-01/sms", NULL, NULL, "failed: IC:0015", 1764547300, err), 1);
    /* both messages with this text: each was sent with it as OutId */
    CHECK_EQ_INT(store_receipt(s, "sms", "j:s:a:b:2026-12-01", NULL, NULL, "delivered", 1764547300, err), 2);
    /* no such message, no such member, another channel, no member at all */
    CHECK_EQ_INT(store_receipt(s, "sms", "j:s:M1:2026-11-30", NULL, NULL, "delivered", 1764547300, err), 0);
    CHECK_EQ_INT(store_receipt(s, "sms", "j:s:M9:2026-12-01", NULL, NULL, "delivered", 1764547300, err), 0);
    CHECK_EQ_INT(store_receipt(s, "wechat", "j:s:M1:2026-12-01", NULL, NULL, "delivered", 1764547300, err), 0);
    CHECK_EQ_INT(store_receipt(s, "sms", "nobody's", NULL, NULL, "delivered", 1764547300, err), 0);
    CHECK_EQ_INT(store_receipt(s, "sms", "j:s:", NULL, NULL, "delivered", 1764547300, err), 0);
    char colons[256];   /* the longest OutId, all colons: a bounded search, nothing found */
    memset(colons, ':', 255);
    colons[255] = '\0';
    CHECK_EQ_INT(store_receipt(s, "sms", colons, NULL, NULL, "delivered", 1764547300, err), 0);

    seen_t got;
    receipts(s, &got);
    CHECK_EQ_STR(got.lines, "j:s:M1:2026-12-01=-;j:st:ep:M1:ev:42=delivered;j:s:a:b:2026-12-01=delivered;"
                            "j:s:a:b:2026-12-01=delivered;j:s:M1:2026-12-01/sms=failed: IC:0015;");
    store_close(s);

    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    T_DONE();
}
