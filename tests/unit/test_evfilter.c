/* test_evfilter.c - the event log's Bloom filter, saved by one process
 * for the next: it must hold every id of the log, or a known id would be
 * taken for a new one and applied twice. A saved filter is used only
 * while its generation is the log's; a process whose filter may miss ids
 * (another process added some, or one of its own transactions that
 * changed the log was rolled back) does not save it, and builds it again
 * at its next transaction when another process changed the log. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "t.h"
#include "util.h"

static int add_committed(store_t *s, const char *id)
{
    char err[ERRLEN] = "";
    int ok = store_begin(s, err) == NUDGE_OK &&
             store_event_add(s, id, "custom.test", 0, 1700000000, "{}", err) == 1 &&
             store_commit(s, err) == NUDGE_OK;
    if (!ok) fprintf(stderr, "adding %s: %s\n", id, err);
    return ok;
}

/* The saved filter of the store at path, if the next process can use it:
 * its generation is the log's and it has room (bloom_load's rule). */
static int saved_filter_usable(const char *path, int64_t *keys)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT f.nkeys, length(f.data) * 8 FROM event_filter f, meta m"
                           " WHERE m.key = 'event_gen' AND f.gen = CAST(m.value AS INTEGER)",
                           -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *keys = sqlite3_column_int64(st, 0);
            ok = *keys <= sqlite3_column_int64(st, 1) / 16 - 500000;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return ok;
}

/* An import's worth of ids, more than the first filter holds (a million
 * and some: its least room), in transactions of 100 k; the filter is
 * built again, larger, as it fills, and the one saved can be used. */
static void grow_log(const char *dir)
{
    char path[64], err[ERRLEN] = "", id[32];
    snprintf(path, sizeof path, "%s/grow.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) return;
    int n = 0, ok = 1;
    for (int t = 0; t < 11 && ok; t++) {
        ok = store_begin(s, err) == NUDGE_OK;
        for (int i = 0; i < 100000 && ok; i++) {
            snprintf(id, sizeof id, "g-%d", n++);
            ok = store_event_add(s, id, "custom.test", 0, 1700000000, NULL, err) == 1;
        }
        ok = ok && store_commit(s, err) == NUDGE_OK;
    }
    if (!ok) fprintf(stderr, "growing the log: %s\n", err);
    CHECK(ok);
    CHECK(store_event_known(s, "g-0"));
    store_close(s);
    int64_t keys = 0;
    CHECK(saved_filter_usable(path, &keys));
    CHECK_EQ_INT(keys, 1100000);
    s = store_open(path, STORE_OPEN, err);
    CHECK(store_event_known(s, "g-0"));
    CHECK(store_event_known(s, "g-1099999"));
    CHECK(!store_event_known(s, "g-1100000"));
    store_close(s);
    t_rm_store(dir, path);   /* dir stays: main's store is in it */
}

/* A log that cannot be read whole: the filter built from it would miss
 * the ids past the damage and take them for new (applied twice). The
 * lookup is an error instead. */
static void unreadable_log(const char *dir)
{
    char path[64], err[ERRLEN] = "", id[32];
    snprintf(path, sizeof path, "%s/damaged.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) return;
    int ok = store_begin(s, err) == NUDGE_OK;
    for (int i = 0; i < 3000 && ok; i++) {
        snprintf(id, sizeof id, "c-%d", i);
        ok = store_event_add(s, id, "custom.test", 0, 1700000000, NULL, err) == 1;
    }
    CHECK(ok && store_commit(s, err) == NUDGE_OK);
    store_close(s);

    /* no saved filter, and a leaf page of the log in the middle zeroed */
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t page = 0, size = 0;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "DELETE FROM event_filter", NULL, NULL, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "SELECT pageno, pgsize FROM dbstat WHERE name = 'events' AND pagetype = 'leaf'"
                               " ORDER BY pageno LIMIT 1 OFFSET (SELECT count(*) / 2 FROM dbstat"
                               " WHERE name = 'events' AND pagetype = 'leaf')", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            page = sqlite3_column_int64(st, 0);
            size = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    CHECK(page > 1 && size > 0);
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL);
    if (!fp || page <= 1 || size <= 0) return;
    static char zeros[65536];
    CHECK_EQ_INT(fseeko(fp, (page - 1) * size, SEEK_SET), 0);
    CHECK_EQ_INT((long)fwrite(zeros, 1, (size_t)size, fp), size);
    fclose(fp);

    s = store_open(path, STORE_OPEN, err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    err[0] = '\0';
    CHECK_EQ_INT(store_event_add(s, "c-2999", "custom.test", 0, 1700000000, NULL, err), NUDGE_ERR);
    CHECK(strstr(err, "event log") != NULL);
    store_rollback(s);
    store_close(s);
    t_rm_store(dir, path);   /* dir stays: main's store is in it */
}

int main(void)
{
    char dir[] = "/tmp/nudge-evfilter-XXXXXX", path[64], err[ERRLEN] = "";
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);

    /* ids committed by one process are known to the next, through the
     * filter it saved; a new id is not */
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    CHECK(add_committed(s, "e1"));
    CHECK(add_committed(s, "e2"));
    store_close(s);
    s = store_open(path, STORE_OPEN, err);
    CHECK(store_event_known(s, "e1"));
    CHECK(store_event_known(s, "e2"));
    CHECK(!store_event_known(s, "e3"));

    /* s's filter is built. Its transaction takes an event back (a change
     * of the log) and is rolled back; then a second process adds e7 and
     * saves its filter. s's filter lacks e7 and its count of the log's
     * changes is one too many, which now matches the log's: it must not
     * be saved over the second one's. */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_event_remove(s, "e1", err), NUDGE_OK);
    store_rollback(s);
    CHECK(store_event_known(s, "e1"));
    store_t *other = store_open(path, STORE_OPEN, err);
    CHECK(other != NULL);
    CHECK(!store_event_known(other, "e7"));
    CHECK(add_committed(other, "e7"));
    store_close(other);
    store_close(s);
    s = store_open(path, STORE_OPEN, err);
    CHECK(store_event_known(s, "e7"));
    CHECK(store_event_known(s, "e2"));

    /* an event added with no transaction open counts as a change too:
     * a process that still holds the older filter does not save it */
    other = store_open(path, STORE_OPEN, err);
    CHECK(store_event_known(other, "e2"));   /* builds its filter */
    CHECK_EQ_INT(store_event_add(s, "e8", "custom.test", 0, 1700000000, "{}", err), 1);
    store_close(s);
    store_close(other);
    s = store_open(path, STORE_OPEN, err);
    CHECK(store_event_known(s, "e8"));
    CHECK(store_event_known(s, "e7"));

    /* a filter built inside a transaction that took an id back, which
     * is then rolled back: the id is in the log again, so that filter
     * must be neither used nor saved */
    store_t *fresh = store_open(path, STORE_OPEN, err);
    CHECK_EQ_INT(store_begin(fresh, err), NUDGE_OK);
    CHECK_EQ_INT(store_event_remove(fresh, "e2", err), NUDGE_OK);
    CHECK(!store_event_known(fresh, "e2"));   /* builds the filter, without e2 */
    store_rollback(fresh);
    CHECK(store_event_known(fresh, "e2"));
    store_close(fresh);
    fresh = store_open(path, STORE_OPEN, err);
    CHECK(store_event_known(fresh, "e2"));
    store_close(fresh);

    /* a process whose filter is built sees the ids another process
     * committed since, from its next transaction on (an import beside
     * the daemon): it must not take them for new */
    other = store_open(path, STORE_OPEN, err);
    CHECK(!store_event_known(s, "e9"));      /* s's filter is built */
    CHECK(add_committed(other, "e9"));
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK(store_event_known(s, "e9"));
    CHECK_EQ_INT(store_event_add(s, "e9", "custom.test", 0, 1700000000, "{}", err), 0);   /* a duplicate */
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(other);
    store_close(s);

    grow_log(dir);
    unreadable_log(dir);
    t_rm_store(dir, path);
    T_DONE();
}
