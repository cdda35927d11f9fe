/* test_scratchids.c - a scratch store (simulate's throwaway copy) keeps
 * the ids of new events in memory, not in the log: a sorted array and a
 * hash of the latest ids merged into it every 65,536. Every id kept must
 * be known until taken back, across merges and a rebuilt Bloom filter,
 * or simulate would apply an event twice. New orders' ids are kept the
 * same way: an order paid twice counts once, whether its first payment
 * is in the workspace's store or earlier in the simulation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "t.h"
#include "util.h"

#define NEW_IDS 200000   /* three merges and a partly filled hash */

static int order(store_t *s, const char *id)
{
    char err[ERRLEN] = "";
    int rc = store_order_add(s, id, 1, 1700000000, 19900, err);
    if (rc < 0) fprintf(stderr, "order %s: %s\n", id, err);
    return rc;
}

static int add(store_t *s, const char *id)
{
    char err[ERRLEN] = "";
    int rc = store_event_add(s, id, "custom.test", 0, 1700000000, "{}", err);
    if (rc < 0) fprintf(stderr, "adding %s: %s\n", id, err);
    return rc;
}

int main(void)
{
    char dir[] = "/tmp/nudge-scratchids-XXXXXX", path[64], err[ERRLEN] = "", id[32];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);

    /* the log of the workspace the copy was made from */
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(add(s, "old1"), 1);
    CHECK_EQ_INT(add(s, "old2"), 1);
    CHECK_EQ_INT(order(s, "O-old"), 1);
    CHECK_EQ_INT(order(s, "O-old"), 0);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(s);

    s = store_open(path, STORE_SCRATCH, err);
    CHECK(s != NULL);
    CHECK(store_event_known(s, "old1"));
    CHECK_EQ_INT(add(s, "old2"), 0);
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);

    /* orders: one from the store, new ones across merges of the hash */
    CHECK_EQ_INT(order(s, "O-old"), 0);
    int orders_new = 0, orders_again = 0;
    for (int i = 0; i < NEW_IDS; i++) {
        snprintf(id, sizeof id, "O%d", i);
        orders_new += order(s, id) == 1;
    }
    for (int i = 0; i < NEW_IDS; i += 7) {
        snprintf(id, sizeof id, "O%d", i);
        orders_again += order(s, id) == 0;
    }
    CHECK_EQ_INT(orders_new, NEW_IDS);
    CHECK_EQ_INT(orders_again, (NEW_IDS + 6) / 7);
    CHECK_EQ_INT(order(s, "O-old"), 0);

    int added = 0, again = 0, known = 0, strangers = 0;
    for (int i = 0; i < NEW_IDS; i++) {
        snprintf(id, sizeof id, "n%d", i);
        added += add(s, id) == 1;
        /* a repeat right away is found in the hash */
        if (i % 1000 == 0) again += add(s, id) == 0;
    }
    CHECK_EQ_INT(added, NEW_IDS);
    CHECK_EQ_INT(again, NEW_IDS / 1000);
    for (int i = 0; i < NEW_IDS; i++) {
        snprintf(id, sizeof id, "n%d", i);
        known += store_event_known(s, id);
        snprintf(id, sizeof id, "x%d", i);
        strangers += store_event_known(s, id);
    }
    CHECK_EQ_INT(known, NEW_IDS);     /* merged and in the hash alike */
    CHECK_EQ_INT(strangers, 0);       /* Bloom false positives are checked */
    CHECK(store_event_known(s, "old2"));

    /* taken back (an event that failed after its id was recorded): new
     * again, and kept again when it comes back; one id from the sorted
     * array, one still in the hash */
    CHECK_EQ_INT(store_event_remove(s, "n7", err), NUDGE_OK);
    CHECK_EQ_INT(store_event_remove(s, "n199999", err), NUDGE_OK);
    CHECK(!store_event_known(s, "n7"));
    CHECK(!store_event_known(s, "n199999"));
    CHECK(store_event_known(s, "n8"));
    CHECK_EQ_INT(add(s, "n7"), 1);
    CHECK_EQ_INT(add(s, "n199999"), 1);
    CHECK_EQ_INT(add(s, "n7"), 0);
    CHECK(store_event_known(s, "n199999"));
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);

    /* a transaction that took back a logged id is rolled back: the Bloom
     * filter is dropped, and the one built again must hold the ids kept
     * in memory too, or the next lookup would miss them */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_event_remove(s, "old1", err), NUDGE_OK);
    store_rollback(s);
    CHECK(store_event_known(s, "old1"));
    known = 0;
    for (int i = 0; i < NEW_IDS; i += 997) {
        snprintf(id, sizeof id, "n%d", i);
        known += store_event_known(s, id);
    }
    CHECK_EQ_INT(known, (NEW_IDS + 996) / 997);
    CHECK(store_event_known(s, "n199999"));
    CHECK_EQ_INT(add(s, "n123456"), 0);
    /* and the copy takes no further transaction: with no journal, what
     * the rollback left is not known */
    err[0] = '\0';
    CHECK_EQ_INT(store_begin(s, err), NUDGE_ERR);
    CHECK(strstr(err, "rolled back") != NULL);
    store_close(s);

    /* nothing of it reached the log, nor the orders */
    s = store_open(path, STORE_OPEN, err);
    CHECK(store_event_known(s, "old1"));
    CHECK(!store_event_known(s, "n0"));
    CHECK(!store_event_known(s, "n123456"));
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(order(s, "O-old"), 0);
    CHECK_EQ_INT(order(s, "O5"), 1);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(s);

    /* more new ids than the saved filter has room for (it was sized for
     * the log and a million more): at the commit that finds it full, the
     * filter is built again for the log and the kept ids, which stay
     * known; ids never seen stay unknown */
    s = store_open(path, STORE_SCRATCH, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    int ok = store_begin(s, err) == NUDGE_OK;
    added = 0;
    for (int i = 0; i < 1100000 && ok; i++) {
        snprintf(id, sizeof id, "g%d", i);
        added += add(s, id) == 1;
        if (i % 100000 == 99999) ok = store_commit(s, err) == NUDGE_OK && store_begin(s, err) == NUDGE_OK;
    }
    CHECK(ok);
    CHECK_EQ_INT(added, 1100000);
    known = strangers = 0;
    for (int i = 0; i < 1100000; i += 101) {
        snprintf(id, sizeof id, "g%d", i);
        known += store_event_known(s, id);
        snprintf(id, sizeof id, "y%d", i);
        strangers += store_event_known(s, id);
    }
    CHECK_EQ_INT(known, (1100000 + 100) / 101);
    CHECK_EQ_INT(strangers, 0);
    CHECK(store_event_known(s, "old1"));
    CHECK_EQ_INT(add(s, "g1099999"), 0);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(s);

    t_rm_store(dir, path);
    T_DONE();
}
