/* test_own.c - a store that acts for a range of members (one part of a
 * simulation run in parts): candidates, wake-ups, held messages and a
 * reload's removed steps are those of its members only; a new member's
 * row id starts at the floor; the whole range again sees everyone. */
#include <stdlib.h>
#include <unistd.h>

#include "store.h"
#include "t.h"
#include "t_flight.h"
#include "t_member.h"

static void put_held(store_t *s, int64_t member, int64_t at)
{
    store_msg_t m;
    store_msg_init(&m);
    snprintf(m.key, sizeof m.key, "tips:%lld:once:send", (long long)member);
    m.at = at;
    m.decided_at = 1;
    m.member = member;
    snprintf(m.journey, sizeof m.journey, "tips");
    snprintf(m.step, sizeof m.step, "send");
    snprintf(m.channel, sizeof m.channel, "sms");
    snprintf(m.member_id, sizeof m.member_id, "M%lld", (long long)member);
    snprintf(m.zone, sizeof m.zone, "Asia/Shanghai");
    char err[ERRLEN];
    CHECK_EQ_INT(store_held_put(s, &m, err), NUDGE_OK);
    store_msg_free(&m);
}

/* Row ids of the zone's members, as the monthly broadcast reads them,
 * in order, "," separated. */
static void zone_members(store_t *s, char *out, size_t n)
{
    char err[ERRLEN];
    out[0] = '\0';
    store_iter_t *it = store_candidates(s, CAND_ALL, "Asia/Shanghai", 0, 0, 0, err);
    CHECK(it != NULL);
    member_t m;
    member_init(&m);
    size_t len = 0;
    while (it && store_iter_next(it, &m, NULL, err) == 1)
        len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%lld", len ? "," : "", (long long)m.rowid);
    member_free(&m);
    store_iter_free(it);
}

static int due_members(store_t *s, int64_t t, int64_t *first)
{
    enum { MAX = 32 };
    store_flight_t due[MAX];
    for (int i = 0; i < MAX; i++) buf_init(&due[i].ctx);
    char err[ERRLEN];
    int n = store_flights_due(s, t, NULL, due, MAX, err);
    *first = n > 0 ? due[0].member : -1;
    for (int i = 0; i < MAX; i++) buf_free(&due[i].ctx);
    return n;
}

static int held_due(store_t *s, int64_t t)
{
    enum { MAX = 32 };
    store_msg_t out[MAX];
    for (int i = 0; i < MAX; i++) store_msg_init(&out[i]);
    char err[ERRLEN];
    int n = store_held_due(s, t, out, MAX, err);
    for (int i = 0; i < MAX; i++) store_msg_free(&out[i]);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/nudge-own.XXXXXX", path[64], err[ERRLEN], ids[512];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    for (int i = 1; i <= 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "M%d", i);
        CHECK_EQ_INT(t_add_member(s, id, "Asia/Shanghai"), i);
        /* member i waits until 100 * i; a message for i is held until 1000 + i */
        CHECK_EQ_INT(t_put_flight(s, "tips", i, "wait2", 100 * i), NUDGE_OK);
        put_held(s, i, 1000 + i);
    }
    CHECK_EQ_INT(store_member_max_rowid(s), 10);

    /* the part for members 4 to 7 */
    store_own(s, 4, 7, 11);
    zone_members(s, ids, sizeof ids);
    CHECK_EQ_STR(ids, "4,5,6,7");
    CHECK_EQ_INT(store_flight_next_wake(s, 0), 400);
    CHECK_EQ_INT(store_flight_next_wake(s, 700), TIME_NONE);
    int64_t first;
    CHECK_EQ_INT(due_members(s, 10000, &first), 4);
    CHECK_EQ_INT(first, 4);
    CHECK_EQ_INT(store_held_next(s), 1004);
    CHECK_EQ_INT(held_due(s, 10000), 4);
    /* a reload removed the step: only this part's members leave it */
    CHECK_EQ_INT(store_flights_exit(s, "tips", NULL, 0, "its step was removed by a reload", 5, err), 4);

    /* the last part: members from 8 on, and those who join */
    store_own(s, 8, INT64_MAX, 11);
    CHECK_EQ_INT(t_add_member(s, "NEW1", "Asia/Shanghai"), 11);
    zone_members(s, ids, sizeof ids);
    CHECK_EQ_STR(ids, "8,9,10,11");
    CHECK_EQ_INT(due_members(s, 10000, &first), 3);
    CHECK_EQ_INT(first, 8);
    /* a floor past the zone's block: the new member's row id is not below it */
    store_own(s, 8, INT64_MAX, 5000);
    int64_t r = t_add_member(s, "NEW2", "Asia/Shanghai");
    CHECK(r >= 5000);

    /* everyone again: the others' flights stayed where they were */
    store_own(s, INT64_MIN, INT64_MAX, 0);
    zone_members(s, ids, sizeof ids);
    char want[128];
    snprintf(want, sizeof want, "1,2,3,4,5,6,7,8,9,10,11,%lld", (long long)r);
    CHECK_EQ_STR(ids, want);
    CHECK_EQ_INT(store_flight_next_wake(s, 0), 100);
    CHECK_EQ_INT(due_members(s, 10000, &first), 6);
    CHECK_EQ_INT(held_due(s, 10000), 10);

    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(s);
    t_rm_store(dir, path);
    T_DONE();
}
