/* test_rowids.c - members of one zone get row ids side by side, whatever
 * order they arrive in, so a moment reading one zone reads its own pages:
 * each zone's ids are consecutive, zones do not overlap, a reopened store
 * resumes a zone's block, and an id already taken (a member who moved
 * zones) costs the new member nothing but a new block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "member.h"
#include "store.h"
#include "t.h"
#include "t_member.h"
#include "tz.h"

/* Every member found by id has the row id it was given. */
static void check_found(store_t *s, const char *id, int64_t rowid)
{
    char err[ERRLEN];
    CHECK_EQ_INT(store_member_rowid(s, id), rowid);
    member_t m;
    member_init(&m);
    CHECK_EQ_INT(store_member_find(s, id, &m, err), 1);
    CHECK_EQ_INT(m.rowid, rowid);
    member_free(&m);
}

/* Commits, closes and opens the store again in a new transaction (a new
 * process's view: nothing remembered of the blocks). */
static store_t *reopen(store_t *s, const char *path)
{
    char err[ERRLEN];
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(s);
    s = store_open(path, STORE_OPEN, err);
    CHECK(s != NULL);
    if (s) CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    return s;
}

int main(void)
{
    char dir[] = "/tmp/nudge-rowids.XXXXXX", path[64], err[ERRLEN];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);

    /* members of three zones arrive interleaved, most of them in one */
    enum { N = 3000 };
    static int64_t ids[N];
    static const char *const zones[] = {"Asia/Shanghai", "Asia/Tokyo", "Europe/London"};
    int64_t lo[3] = {INT64_MAX, INT64_MAX, INT64_MAX}, hi[3] = {0, 0, 0}, n[3] = {0, 0, 0};
    int failed = 0;
    for (int i = 0; i < N; i++) {
        int z = i % 5 == 1 ? 1 : i % 5 == 3 ? 2 : 0;
        char id[24];
        snprintf(id, sizeof id, "M%04d", i);
        ids[i] = t_add_member(s, id, zones[z]);
        failed += ids[i] <= 0;
        if (ids[i] < lo[z]) lo[z] = ids[i];
        if (ids[i] > hi[z]) hi[z] = ids[i];
        n[z]++;
    }
    CHECK_EQ_INT(failed, 0);
    /* blocks of 1024 ids: a zone fills one before it takes the next, and
     * no block holds two zones' members */
    static int owner[N / 1024 * 8];
    int nblocks[3] = {0, 0, 0}, shared = 0;
    for (int i = 0; i < N; i++) {
        int z = i % 5 == 1 ? 1 : i % 5 == 3 ? 2 : 0;
        int64_t b = ids[i] / 1024;
        if (b >= (int64_t)(sizeof owner / sizeof *owner)) {
            shared++;   /* far past where 3,000 members need to go */
            continue;
        }
        if (!owner[b]) {
            owner[b] = z + 1;
            nblocks[z]++;
        }
        shared += owner[b] != z + 1;
    }
    CHECK_EQ_INT(shared, 0);
    for (int z = 0; z < 3; z++) {
        CHECK_EQ_INT(nblocks[z], (int)((n[z] + 1022) / 1023));   /* the first block has 1023 (no id 0) */
        if (n[z] <= 1023) CHECK_EQ_INT(hi[z] - lo[z] + 1, n[z]);
    }
    /* within a zone, row ids follow arrival order */
    int unordered = 0;
    for (int i = 5; i < N; i++) unordered += ids[i] <= ids[i - 5];
    CHECK_EQ_INT(unordered, 0);
    for (int i = 0; i < N; i += 97) {
        char id[24];
        snprintf(id, sizeof id, "M%04d", i);
        check_found(s, id, ids[i]);
    }
    CHECK_EQ_INT(store_member_count(s), N);
    /* a reopened store resumes each zone's block */
    s = reopen(s, path);
    if (!s) T_DONE();
    int64_t tokyo = t_add_member(s, "T-after", "Asia/Tokyo");
    CHECK_EQ_INT(tokyo, hi[1] + 1);
    int64_t london = t_add_member(s, "L-after", "Europe/London");
    CHECK_EQ_INT(london, hi[2] + 1);

    /* a London member moves to Sydney, a new zone: Sydney's largest id is
     * then inside London's block, and the id after it is London's next
     * member's. The new Sydney member takes a block of its own. */
    int64_t l2 = t_add_member(s, "L-next", "Europe/London");
    CHECK_EQ_INT(l2, london + 1);
    member_t m;
    member_init(&m);
    CHECK_EQ_INT(store_member_find(s, "L-after", &m, err), 1);
    m.zone = tz_get("Australia/Sydney", NULL);
    CHECK_EQ_INT(store_member_save(s, &m, err), NUDGE_OK);
    CHECK_EQ_INT(m.rowid, london);   /* a move keeps the row id */
    member_free(&m);
    s = reopen(s, path);
    if (!s) T_DONE();
    int64_t sydney = t_add_member(s, "S-new", "Australia/Sydney");
    CHECK(sydney != l2);
    CHECK(sydney > l2);
    CHECK_EQ_INT(sydney % 1024, 0);   /* the start of a new block */
    check_found(s, "S-new", sydney);
    check_found(s, "L-next", l2);
    check_found(s, "L-after", london);
    /* London goes on in its own block */
    CHECK_EQ_INT(t_add_member(s, "L-third", "Europe/London"), l2 + 1);
    CHECK_EQ_INT(store_member_count(s), N + 5);
    /* a duplicate member id is still refused, with the store's message */
    member_init(&m);
    m.s[MS_EXT_ID] = "M0001";
    m.zone = tz_get("Asia/Tokyo", NULL);
    err[0] = '\0';
    CHECK_EQ_INT(store_member_save(s, &m, err), NUDGE_ERR);
    CHECK(strstr(err, "UNIQUE") != NULL);
    member_free(&m);
    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    store_close(s);
    t_rm_store(dir, path);
    T_DONE();
}
