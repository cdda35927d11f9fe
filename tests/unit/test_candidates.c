/* test_candidates.c - the points-expiry moment's candidates: the members of
 * one zone with points left in batches expiring that day, each once, in
 * row-id order, with the sum of those batches. The store reads them one
 * of two ways (a seek per batch of the day, or a seek per member of a zone
 * that has fewer members than the day has batches); both must give
 * exactly these rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "member.h"
#include "store.h"
#include "t.h"
#include "t_member.h"
#include "tz.h"

enum { BIG = 200, SMALL = 5, DAY = 21000 };

static void add_batch(store_t *s, int64_t member, int32_t day, int64_t points)
{
    char err[ERRLEN] = "";
    CHECK_EQ_INT(store_points_add(s, member, 1700000000, day, points, err), NUDGE_OK);
}

typedef struct { int64_t rowid, points; } cand_t;

/* The candidates of zone on day, into out (at most max); how many. */
static int candidates(store_t *s, const char *zone, int32_t day, cand_t *out, int max)
{
    char err[ERRLEN] = "";
    store_iter_t *it = store_candidates(s, CAND_POINTS_EXPIRY, zone, day, day, 0, err);
    CHECK(it != NULL);
    if (!it) return 0;
    member_t m;
    member_init(&m);
    int n = 0, rc;
    int64_t value;
    while ((rc = store_iter_next(it, &m, &value, err)) == 1) {
        if (n < max) out[n] = (cand_t){m.rowid, value};
        n++;
    }
    CHECK_EQ_INT(rc, 0);
    store_iter_free(it);
    member_free(&m);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/nudge-candidates.XXXXXX", path[64], err[ERRLEN] = "";
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);

    /* a large zone and a small one, arriving interleaved */
    static int64_t big[BIG], small[SMALL];
    char id[24];
    for (int i = 0; i < BIG; i++) {
        snprintf(id, sizeof id, "S%03d", i);
        big[i] = t_add_member(s, id, "Asia/Shanghai");
        if (i % 40 == 0) {
            snprintf(id, sizeof id, "T%d", i / 40);
            small[i / 40] = t_add_member(s, id, "Asia/Tokyo");
        }
    }
    /* every large-zone member has points expiring on DAY, every second
     * one two batches of it; in the small zone T0 has two batches, T2
     * one, T3 one it has used up, T1 one expiring the next day */
    for (int i = 0; i < BIG; i++) {
        add_batch(s, big[i], DAY, i + 1);
        if (i % 2 == 0) add_batch(s, big[i], DAY, 10);
    }
    add_batch(s, small[0], DAY, 5);
    add_batch(s, small[0], DAY, 7);
    add_batch(s, small[2], DAY, 3);
    add_batch(s, small[3], DAY, 4);
    add_batch(s, small[1], DAY + 1, 9);
    int64_t balance = 0;
    CHECK_EQ_INT(store_points_redeem(s, small[3], DAY - 10, 4, &balance, err), NUDGE_OK);
    CHECK_EQ_INT(balance, 4);

    /* the small zone on the day of 304 batches: T0 and T2 (5 members,
     * fewer than the batches: a seek per member) */
    cand_t c[BIG + 8];
    int n = candidates(s, "Asia/Tokyo", DAY, c, BIG + 8);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_INT(c[0].rowid, small[0]);
        CHECK_EQ_INT(c[0].points, 12);
        CHECK_EQ_INT(c[1].rowid, small[2]);
        CHECK_EQ_INT(c[1].points, 3);
    }
    /* the large zone that day: each of its members once, in row-id order
     * (a seek per batch) */
    n = candidates(s, "Asia/Shanghai", DAY, c, BIG + 8);
    CHECK_EQ_INT(n, BIG);
    int bad = 0;
    for (int i = 0; i < BIG && i < n; i++)
        bad += c[i].rowid != big[i] || c[i].points != i + 1 + (i % 2 == 0 ? 10 : 0);
    CHECK_EQ_INT(bad, 0);
    /* the next day has one batch, fewer than the small zone's members */
    n = candidates(s, "Asia/Tokyo", DAY + 1, c, BIG + 8);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_INT(c[0].rowid, small[1]);
        CHECK_EQ_INT(c[0].points, 9);
    }
    CHECK_EQ_INT(candidates(s, "Asia/Shanghai", DAY + 1, c, BIG + 8), 0);

    /* a batch added after the day was counted is still found */
    add_batch(s, small[4], DAY, 6);
    n = candidates(s, "Asia/Tokyo", DAY, c, BIG + 8);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_INT(c[2].rowid, small[4]);
        CHECK_EQ_INT(c[2].points, 6);
    }

    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(s);
    t_rm_store(dir, path);
    T_DONE();
}
