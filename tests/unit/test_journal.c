/* test_journal.c - the intake journal: records numbered and read back in
 * order, after a given number; a half-written tail cut off at open; a
 * damaged record ending the journal; the sync thread; emptying and
 * setting aside the file as the store catches up; numbering that goes on
 * past what the store holds; syncs paced at one a millisecond. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "t.h"
#include "util.h"

typedef struct seen {
    int n;
    int64_t seq[16], at[16];
    char json[16][64];
} seen_t;

static int collect(int64_t seq, int64_t at, const char *json, size_t len, void *ud, char *err)
{
    (void)err;
    seen_t *s = ud;
    if (s->n < 16) {
        s->seq[s->n] = seq;
        s->at[s->n] = at;
        snprintf(s->json[s->n], sizeof s->json[s->n], "%.*s", (int)len, json);
    }
    s->n++;
    return NUDGE_OK;
}

static int refuse(int64_t seq, int64_t at, const char *json, size_t len, void *ud, char *err)
{
    (void)at, (void)json, (void)len, (void)ud;
    return errf(err, "record %lld refused", (long long)seq);
}

/* Writes what j holds and waits for the sync thread to cover it. */
static int sync_all(jnl_t *j)
{
    char err[ERRLEN];
    if (jnl_write(j, err) != NUDGE_OK) return NUDGE_ERR;
    for (int tries = 0; tries < 50; tries++) {
        int64_t synced = jnl_synced(j, err);
        if (synced < 0) return NUDGE_ERR;
        if (synced >= jnl_last(j)) return NUDGE_OK;
        struct pollfd pfd = {jnl_fd(j), POLLIN, 0};
        poll(&pfd, 1, 100);
    }
    return NUDGE_ERR;
}

static void append(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    if (fd >= 0) close(fd);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    char c = 0;
    CHECK(fd >= 0 && pread(fd, &c, 1, at) == 1);
    c ^= 0x01;
    CHECK(pwrite(fd, &c, 1, at) == 1);
    close(fd);
}

int main(void)
{
    char dir[] = "/tmp/nudge-journal.XXXXXX", path[80], prev[84], err[ERRLEN], warn[ERRLEN];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.intake", dir);
    snprintf(prev, sizeof prev, "%s.1", path);

    /* records numbered from 1, held until synced, read back in order */
    jnl_t *j = jnl_open(path, warn, err);
    CHECK(j != NULL);
    if (!j) T_DONE();
    CHECK_EQ_STR(warn, "");
    CHECK_EQ_INT(jnl_last(j), 0);
    const char *e1 = "{\"type\":\"order.paid\",\"member\":\"M1\",\"amount\":199}";
    const char *e2 = "{\"type\":\"visit\",\"member\":\"M2\",\"note\":\"会员日\"}";
    CHECK_EQ_INT(jnl_add(j, 1790000000, e1, strlen(e1)), 1);
    CHECK_EQ_INT(jnl_add(j, 1790000001, e2, strlen(e2)), 2);
    CHECK(jnl_bytes(j) > (int64_t)(strlen(e1) + strlen(e2)));   /* held in memory */
    CHECK_EQ_INT(t_size_of(path), 0);                             /* nothing written before jnl_write */
    CHECK_EQ_INT(sync_all(j), NUDGE_OK);
    CHECK_EQ_INT(t_size_of(path), jnl_bytes(j));
    seen_t s = {0};
    CHECK_EQ_INT(jnl_replay(j, 0, collect, &s, err), NUDGE_OK);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.seq[0], 1);
    CHECK_EQ_INT(s.at[0], 1790000000);
    CHECK_EQ_STR(s.json[0], e1);
    CHECK_EQ_STR(s.json[1], e2);
    /* only the records after a number */
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(jnl_replay(j, 1, collect, &s, err), NUDGE_OK);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.seq[0], 2);
    /* a callback's error stops the replay and comes back */
    CHECK_EQ_INT(jnl_replay(j, 0, refuse, NULL, err), NUDGE_ERR);
    CHECK_EQ_STR(err, "record 1 refused");
    jnl_free(j);

    /* reopened: numbering goes on; a half-written tail is cut off */
    int64_t whole = t_size_of(path);
    append(path, "3 1790000002 00000000");
    j = jnl_open(path, warn, err);
    CHECK(j != NULL);
    if (!j) T_DONE();
    CHECK(strstr(warn, "not a whole record") != NULL);
    CHECK(strstr(warn, "after record 2") != NULL);
    CHECK_EQ_INT(t_size_of(path), whole);
    CHECK_EQ_INT(jnl_last(j), 2);
    CHECK_EQ_INT(jnl_add(j, 1790000003, e1, strlen(e1)), 3);

    /* the sync thread: jnl_write returns at once, the fd says when */
    CHECK_EQ_INT(jnl_write(j, err), NUDGE_OK);
    CHECK(jnl_fd(j) >= 0);
    struct pollfd pfd = {jnl_fd(j), POLLIN, 0};
    CHECK_EQ_INT(poll(&pfd, 1, 5000), 1);
    CHECK_EQ_INT(jnl_synced(j, err), 3);
    /* the sync was timed: one observation, within a bound or past the last */
    hist_t syncs;
    jnl_sync_hist(j, &syncs);
    CHECK_EQ_INT(syncs.count, 1);
    CHECK(syncs.sum > 0 && syncs.sum < 5.0);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(jnl_replay(j, 0, collect, &s, err), NUDGE_OK);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.seq[2], 3);

    /* the store has 1..2 on disk: nothing to drop yet; with 1..3, the file is emptied */
    CHECK_EQ_INT(jnl_trim(j, 2, 1u << 20, err), NUDGE_OK);
    CHECK(t_size_of(path) > 0);
    CHECK_EQ_INT(jnl_trim(j, 3, 1u << 20, err), NUDGE_OK);
    CHECK_EQ_INT(t_size_of(path), 0);
    CHECK_EQ_INT(jnl_bytes(j), 0);

    /* a file past the size limit is set aside; it goes once covered */
    for (int i = 0; i < 4; i++) jnl_add(j, 1790000010 + i, e2, strlen(e2));
    CHECK_EQ_INT(sync_all(j), NUDGE_OK);
    CHECK_EQ_INT(jnl_trim(j, 5, 64, err), NUDGE_OK);   /* covers 4..5 of 4..7 */
    CHECK(access(prev, F_OK) == 0);
    CHECK_EQ_INT(t_size_of(path), 0);
    jnl_add(j, 1790000020, e1, strlen(e1));            /* 8, in the new file */
    CHECK_EQ_INT(sync_all(j), NUDGE_OK);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(jnl_replay(j, 5, collect, &s, err), NUDGE_OK);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.seq[0], 6);
    CHECK_EQ_INT(s.seq[2], 8);
    jnl_free(j);
    /* both files read at open */
    j = jnl_open(path, warn, err);
    CHECK(j != NULL);
    if (!j) T_DONE();
    CHECK_EQ_STR(warn, "");
    CHECK_EQ_INT(jnl_last(j), 8);
    CHECK_EQ_INT(jnl_trim(j, 7, 1u << 20, err), NUDGE_OK);
    CHECK(access(prev, F_OK) != 0);
    CHECK(t_size_of(path) > 0);   /* 8 is not covered */
    jnl_free(j);

    /* a damaged record (one changed byte) ends the journal there */
    flip_byte(path, t_size_of(path) - 5);
    j = jnl_open(path, warn, err);
    CHECK(j != NULL);
    if (!j) T_DONE();
    CHECK(strstr(warn, "not a whole record") != NULL);
    CHECK(strstr(warn, ".dropped") != NULL);
    CHECK_EQ_INT(jnl_last(j), 0);   /* the daemon goes on from the store's own number */
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(jnl_replay(j, 0, collect, &s, err), NUDGE_OK);
    CHECK_EQ_INT(s.n, 0);
    /* the bytes dropped are kept aside: the cut-short tail of before, then this record */
    char dropped[128];
    snprintf(dropped, sizeof dropped, "%s.dropped", path);
    size_t dlen = 0;
    char *kept = read_file(dropped, &dlen, err);
    CHECK(kept != NULL && strncmp(kept, "3 1790000002 00000000", 21) == 0);
    CHECK(kept != NULL && strstr(kept, "000000008 1790000020 ") != NULL);
    free(kept);

    /* numbering goes on past what the store holds when the journal is empty */
    jnl_continue(j, 41);
    CHECK_EQ_INT(jnl_add(j, 1790000030, e1, strlen(e1)), 42);
    jnl_continue(j, 10);   /* never backwards */
    CHECK_EQ_INT(jnl_last(j), 42);
    jnl_free(j);

    /* a file that is not a journal at all: nothing of it replays */
    char other[96];
    snprintf(other, sizeof other, "%s/other.intake", dir);
    int fd = open(other, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && write(fd, "hello\nworld\n", 12) == 12);
    close(fd);
    j = jnl_open(other, warn, err);
    CHECK(j != NULL);
    if (j) {
        CHECK_EQ_INT(jnl_last(j), 0);
        CHECK_EQ_INT(t_size_of(other), 0);
        jnl_free(j);
    }
    snprintf(dropped, sizeof dropped, "%s.dropped", other);
    CHECK_EQ_INT(t_size_of(dropped), 12);

    /* syncs begin at most once a millisecond: ten rounds of a record
     * each, every one waiting for its sync, take nine milliseconds at
     * least (a lower bound: a slow disk only adds to it) */
    char paced[96];
    snprintf(paced, sizeof paced, "%s/paced.intake", dir);
    j = jnl_open(paced, warn, err);
    CHECK(j != NULL);
    if (j) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int ok = 1;
        for (int i = 0; i < 10 && ok; i++) {
            jnl_add(j, 1790000100 + i, e1, strlen(e1));
            ok = sync_all(j) == NUDGE_OK;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        CHECK(ok);
        CHECK_EQ_INT(jnl_last(j), 10);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        CHECK(ms >= 9.0);
        jnl_free(j);
    }

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    T_DONE();
}
