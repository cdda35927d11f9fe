/* test_walrestart.c - a writer that keeps its transaction open (the
 * daemon's batch window) learns when the background checkpointer has
 * caught up with a WAL past its restart size (store_wal_restart_due);
 * committing then starts the WAL over, so the commits that follow write
 * at its beginning, in pages the file already has, and it grows no more.
 * (A process of its own: the daemon's WAL writes are gathered from
 * store_durable on, for every store the process opens after.) */
#define _GNU_SOURCE   /* SCHED_IDLE */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "t.h"
#include "util.h"

#define COMMITS 40
#define WRITES 8        /* meta rows written per commit */
#define VALUE 1500      /* bytes: two rows a page, so each write dirties a page */

/* threads of this process whose scheduling policy is pol (field 41 of
 * /proc/self/task/N/stat) */
static int threads_with_policy(int pol)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[300], line[1024];
        snprintf(p, sizeof p, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        size_t len = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[len] = 0;
        char *at = strrchr(line, ')');   /* the name may hold spaces */
        if (!at) continue;
        /* after ") " comes field 3; the policy is field 41 */
        int field = 2;
        for (char *tok = strtok(at + 1, " "); tok; tok = strtok(NULL, " "))
            if (++field == 41) {
                if (atoi(tok) == pol) n++;
                break;
            }
    }
    closedir(d);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/nudge-walrestart.XXXXXX", path[64], wal[72], err[ERRLEN] = "";
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    CHECK_EQ_INT(store_durable(s, err), NUDGE_OK);
    /* the checkpointer yields the core to the loop: one thread in the
     * background, the test's own (the loop's) not */
    int idle = 0;
    for (int i = 0; i < 400 && idle < 1; i++) {
        idle = threads_with_policy(SCHED_IDLE);
        if (idle < 1) usleep(5000);
    }
    CHECK_EQ_INT(idle, 1);
    CHECK_EQ_INT(sched_getscheduler(0), SCHED_OTHER);
    /* checkpoints from 64 pages; the WAL does not start over yet */
    store_wal_limits(s, 64, 1 << 20, 1 << 21);
    CHECK_EQ_INT(store_wal_restart_due(s), 0);
    CHECK_EQ_INT(store_wal_restart_near(s), 0);

    static char val[VALUE + 1];
    memset(val, 'v', VALUE);
    char key[16];
    int ok = 1;
    /* 320 pages of WAL and more, in commits of 8 pages each */
    for (int c = 0; c < COMMITS && ok; c++) {
        ok = store_begin(s, err) == NUDGE_OK;
        for (int w = 0; w < WRITES && ok; w++) {
            snprintf(key, sizeof key, "k%05d", c * WRITES + w);
            ok = store_meta_set(s, key, val, err) == NUDGE_OK;
        }
        if (ok) ok = store_commit_lazy(s, err) == NUDGE_OK;
    }
    CHECK(ok);
    if (!ok) fprintf(stderr, "%s\n", err);

    /* the open transaction, while the checkpointer copies what came
     * before; the WAL is now past its restart size */
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_meta_set(s, "open", "1", err), NUDGE_OK);
    store_wal_limits(s, 0, 256, 0);
    int due = 0;
    for (int i = 0; i < 2000 && !due; i++) {   /* up to 10 s on a busy machine (the checkpointer runs in the background) */
        due = store_wal_restart_due(s);
        if (!due) usleep(5000);
    }
    CHECK_EQ_INT(due, 1);
    CHECK_EQ_INT(store_wal_restart_near(s), 1);   /* past 256 pages, all copied */
    int64_t restarts = -1;
    double secs = -1;
    store_wal_restarts(s, &restarts, &secs);
    CHECK_EQ_INT(restarts, 0);
    CHECK(secs == 0);
    CHECK_EQ_INT(store_commit_lazy(s, err), NUDGE_OK);
    CHECK_EQ_INT(store_wal_restart_due(s), 0);
    CHECK_EQ_INT(store_wal_restart_near(s), 0);   /* started over */
    /* counted, with the time it held the commit (a copy and two syncs) */
    store_wal_restarts(s, &restarts, &secs);
    CHECK_EQ_INT(restarts, 1);
    CHECK(secs > 0 && secs < 10);

    /* started over: twenty more commits land in the file's first pages */
    int64_t before = t_size_of(wal);
    CHECK(before > 256 * 4096);
    for (int i = 0; i < 20 && ok; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        ok = store_begin(s, err) == NUDGE_OK && store_meta_set(s, "after", v, err) == NUDGE_OK &&
             store_commit_lazy(s, err) == NUDGE_OK;
    }
    CHECK(ok);
    CHECK_EQ_INT(t_size_of(wal), before);

    /* nothing lost, also after reopening */
    char got[VALUE + 1];
    CHECK_EQ_INT(store_meta_get(s, "open", got, sizeof got), 1);
    CHECK_EQ_INT(store_meta_get(s, "after", got, sizeof got), 1);
    CHECK_EQ_STR(got, "19");
    store_close(s);
    s = store_open(path, STORE_OPEN, err);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_INT(store_meta_get(s, "k00000", got, sizeof got), 1);
        CHECK_EQ_INT((int)strlen(got), VALUE);
        CHECK_EQ_INT(store_meta_get(s, "after", got, sizeof got), 1);
        CHECK_EQ_STR(got, "19");
        store_close(s);
    }
    t_rm_store(dir, path);
    T_DONE();
}
