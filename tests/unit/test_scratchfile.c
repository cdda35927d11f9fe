/* test_scratchfile.c - a scratch store (simulate's copy) gathers its
 * database file's writes and hands neighbouring pages to the kernel in one
 * call. Nothing may be lost or read stale: members written in several
 * commits, some rewritten, are read back right after each commit (a read
 * writes the gathered bytes out first), and the file holds all of them
 * once the store is closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "member.h"
#include "store.h"
#include "t.h"
#include "tz.h"

enum { N = 6000, ROUNDS = 3 };

static int save(store_t *s, int i, int round)
{
    char id[24], name[64], err[ERRLEN] = "";
    snprintf(id, sizeof id, "S%05d", i);
    snprintf(name, sizeof name, "name %d of round %d", i, round);
    member_t m;
    member_init(&m);
    int rc = round ? store_member_find(s, id, &m, err) : 1;
    if (rc == 1) {
        m.s[MS_EXT_ID] = id;
        m.s[MS_NAME] = name;
        m.zone = tz_get(i % 3 ? "Asia/Shanghai" : "Asia/Tokyo", NULL);
        m.order_count = i + round;
        rc = store_member_save(s, &m, err) == NUDGE_OK;
    }
    if (rc != 1) fprintf(stderr, "%s: %s\n", id, err);
    member_free(&m);
    return rc == 1;
}

/* Members whose name and order count are round's. */
static int count_round(store_t *s, int round)
{
    int ok = 0;
    char id[24], name[64], err[ERRLEN];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "S%05d", i);
        snprintf(name, sizeof name, "name %d of round %d", i, round);
        member_t m;
        member_init(&m);
        if (store_member_find(s, id, &m, err) == 1 && m.s[MS_NAME] && strcmp(m.s[MS_NAME], name) == 0 &&
            m.order_count == i + round)
            ok++;
        member_free(&m);
    }
    return ok;
}

int main(void)
{
    char dir[] = "/tmp/nudge-scratchfile.XXXXXX", path[64], err[ERRLEN];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    store_close(s);

    s = store_open(path, STORE_SCRATCH, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    for (int round = 0; round < ROUNDS; round++) {
        CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
        int saved = 0;
        /* every member in the first round; every other one after */
        for (int i = 0; i < N; i += round ? 2 : 1) saved += save(s, i, round);
        CHECK_EQ_INT(saved, round ? N / 2 : N);
        CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
        CHECK_EQ_INT(count_round(s, round), round ? N / 2 : N);
    }
    CHECK_EQ_INT(store_member_count(s), N);
    store_close(s);

    /* what the file holds */
    s = store_open(path, STORE_OPEN, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    CHECK_EQ_INT(store_member_count(s), N);
    CHECK_EQ_INT(count_round(s, ROUNDS - 1), N / 2);
    CHECK_EQ_INT(count_round(s, 0), N / 2);   /* the odd ones, never rewritten */
    store_close(s);
    t_rm_store(dir, path);
    T_DONE();
}
