/* test_evflush.c - events written into the open transaction before its
 * commit (store_flush_events, which the daemon calls between requests):
 * once written they are still known (a duplicate is refused), can still
 * be taken back, go with a rollback and stay with a commit; and fewer
 * than the minimum wait for the commit as before. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "t.h"
#include "util.h"

static int add(store_t *s, const char *prefix, int i)
{
    char id[32], err[ERRLEN] = "";
    snprintf(id, sizeof id, "%s%d", prefix, i);
    int rc = store_event_add(s, id, "order.paid", 0, 1700000000 + i, "{}", err);
    if (rc < 0) fprintf(stderr, "adding %s: %s\n", id, err);
    return rc;
}

static int known(store_t *s, const char *prefix, int i)
{
    char id[32];
    snprintf(id, sizeof id, "%s%d", prefix, i);
    return store_event_known(s, id);
}

int main(void)
{
    char dir[] = "/tmp/nudge-evflush-XXXXXX", path[64], err[ERRLEN] = "";
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) return 1;

    /* no transaction: nothing to write, nothing fails */
    CHECK_EQ_INT(store_flush_events(s, 0, err), NUDGE_OK);

    /* 300 events, written before the commit; then the same ids again are
     * duplicates, found in the table (no longer in memory) */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    int added = 0;
    for (int i = 0; i < 300; i++) added += add(s, "a", i) == 1;
    CHECK_EQ_INT(added, 300);
    CHECK_EQ_INT(store_events_waiting(s), 300);
    CHECK_EQ_INT(store_flush_events(s, 301, err), NUDGE_OK);   /* fewer than the minimum: they wait */
    CHECK_EQ_INT(store_events_waiting(s), 300);
    CHECK_EQ_INT(store_flush_events(s, 256, err), NUDGE_OK);
    CHECK_EQ_INT(store_events_waiting(s), 0);
    int dups = 0, found = 0;
    for (int i = 0; i < 300; i++) {
        found += known(s, "a", i);
        dups += add(s, "a", i) == 0;
    }
    CHECK_EQ_INT(found, 300);
    CHECK_EQ_INT(dups, 300);
    CHECK(!known(s, "a", 300));
    /* one written event taken back, and a new one added after the write */
    CHECK_EQ_INT(store_event_remove(s, "a7", err), NUDGE_OK);
    CHECK(!known(s, "a", 7));
    CHECK_EQ_INT(add(s, "b", 1), 1);
    /* the rest of the window waits for the commit: fewer than the minimum */
    CHECK_EQ_INT(store_flush_events(s, 256, err), NUDGE_OK);
    CHECK_EQ_INT(store_events_waiting(s), 1);
    CHECK(known(s, "b", 1));
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM events"), 0);   /* nothing committed yet */
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_events_waiting(s), 0);
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM events"), 300);   /* 300 - a7 + b1 */

    /* written, then rolled back: gone, and can be added again */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    for (int i = 0; i < 10; i++) add(s, "c", i);
    CHECK_EQ_INT(store_event_remove(s, "c5", err), NUDGE_OK);   /* taken back while waiting */
    CHECK_EQ_INT(store_events_waiting(s), 9);
    CHECK_EQ_INT(store_flush_events(s, 1, err), NUDGE_OK);
    CHECK(!known(s, "c", 5));
    CHECK_EQ_INT(store_events_waiting(s), 0);
    CHECK(known(s, "c", 3));
    store_rollback(s);
    CHECK(!known(s, "c", 3));
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM events"), 300);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(add(s, "c", 3), 1);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(s);

    /* the next process knows what was committed, written early or not */
    s = store_open(path, STORE_OPEN, err);
    CHECK(s != NULL);
    if (s) {
        CHECK(known(s, "a", 0));
        CHECK(known(s, "a", 299));
        CHECK(!known(s, "a", 7));
        CHECK(known(s, "b", 1));
        CHECK(known(s, "c", 3));
        CHECK(!known(s, "c", 4));
        store_close(s);
    }
    CHECK_EQ_INT(t_sql_int(path, "SELECT count(*) FROM events"), 301);
    t_rm_store(dir, path);
    T_DONE();
}
