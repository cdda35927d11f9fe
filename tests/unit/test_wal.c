/* test_wal.c - the daemon's store under a steady stream of lazy commits:
 * the background checkpointer copies the WAL and the WAL starts over, so
 * its file stays bounded instead of growing with every commit; what was
 * committed reads back, also after reopening. Small limits stand in for
 * the daemon's 128 MB, 1 GB and 2 GB. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "t.h"
#include "util.h"

#define COMMITS 800
#define WRITES 8        /* meta rows rewritten per commit */
#define KEYS 3000
#define VALUE 1500      /* bytes: two rows a page, so each write dirties a page */

static void value_for(int commit, int key, char *out)
{
    memset(out, 'a' + (commit + key) % 26, VALUE);
    snprintf(out, 32, "%d:%d:", commit, key);
    out[strlen(out)] = '-';
    out[VALUE] = '\0';
}

/* 1 when every key written reads back its last value; *checked: how many */
static int all_read_back(store_t *s, const int *last_commit, int *checked)
{
    static char want[VALUE + 1], got[VALUE + 1];
    char key[16];
    int same = 1;
    *checked = 0;
    for (int k = 0; k < KEYS; k++) {
        if (last_commit[k] < 0) continue;
        snprintf(key, sizeof key, "k%05d", k);
        value_for(last_commit[k], k, want);
        if (store_meta_get(s, key, got, sizeof got) != 1 || strcmp(got, want) != 0) same = 0;
        (*checked)++;
    }
    return same;
}

int main(void)
{
    char dir[] = "/tmp/nudge-wal.XXXXXX", path[64], wal[72], err[ERRLEN];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);

    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    CHECK_EQ_INT(store_durable(s, err), NUDGE_OK);
    /* checkpoints from 64 pages, the WAL starts over from 256 (at 512
     * whatever the checkpointer is doing) */
    store_wal_limits(s, 64, 256, 512);

    static char val[VALUE + 1];
    char key[16];
    int last_commit[KEYS];
    for (int k = 0; k < KEYS; k++) last_commit[k] = -1;
    int ok = 1;
    int64_t most = 0;
    for (int c = 0; c < COMMITS && ok; c++) {
        ok = store_begin(s, err) == NUDGE_OK;
        for (int w = 0; w < WRITES && ok; w++) {
            int k = (int)(((unsigned)c * 2654435761u + (unsigned)w * 40503u) % KEYS);
            snprintf(key, sizeof key, "k%05d", k);
            value_for(c, k, val);
            ok = store_meta_set(s, key, val, err) == NUDGE_OK;
            last_commit[k] = c;
        }
        store_mark(s, c + 1);
        /* mostly lazy, as the daemon's batches of journaled events */
        if (ok) ok = (c % 50 == 49 ? store_commit(s, err) : store_commit_lazy(s, err)) == NUDGE_OK;
        int64_t n = t_size_of(wal);
        if (n > most) most = n;
    }
    CHECK(ok);
    if (!ok) fprintf(stderr, "%s\n", err);
    /* without starting over the WAL holds every commit (53 MB measured);
     * with it, twice the limit and the commits that came while the
     * checkpointer kept it busy (under 4 MB measured; past 12 MB once on
     * a machine busy with other work, where the checkpointer, at nice 10,
     * waited for a core) */
    CHECK(most > 0);
    CHECK(most < 24 * 1024 * 1024);
    CHECK(store_durable_mark(s) >= 800 - 49);   /* the last synced commit at least */

    /* every key reads back its last value */
    int checked;
    CHECK(all_read_back(s, last_commit, &checked));
    store_close(s);

    /* and after reopening, from the database and what is left of the WAL */
    s = store_open(path, STORE_OPEN, err);
    CHECK(s != NULL);
    if (s) {
        CHECK(all_read_back(s, last_commit, &checked));
        CHECK(checked > KEYS / 2);
        store_close(s);
    }

    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    T_DONE();
}
