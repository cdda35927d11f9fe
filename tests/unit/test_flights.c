/* test_flights.c - members in flight in the store: due wake-ups read in
 * pages past the ones a caller leaves in place (a paused journey must not
 * hold back the others), one member's place, and members leaving steps
 * that a reload removed, with the reason recorded. */
#include <stdlib.h>
#include <unistd.h>

#include "store.h"
#include "t.h"
#include "t_flight.h"

int main(void)
{
    char dir[] = "/tmp/nudge-flights.XXXXXX", path[64], err[ERRLEN];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/nudge.db", dir);
    store_t *s = store_open(path, STORE_CREATE, err);
    CHECK(s != NULL);
    if (!s) T_DONE();
    CHECK_EQ_INT(store_begin(s, err), NUDGE_OK);

    /* 300 members of a paused journey due first, one of a running journey after */
    for (int i = 1; i <= 300; i++) CHECK_EQ_INT(t_put_flight(s, "paused", i, "tips", 100), NUDGE_OK);
    CHECK_EQ_INT(t_put_flight(s, "live", 7, "followup", 200), NUDGE_OK);

    enum { BATCH = 256 };
    store_flight_t *due = calloc(BATCH, sizeof *due);
    for (int i = 0; i < BATCH; i++) buf_init(&due[i].ctx);
    int n = store_flights_due(s, 1000, NULL, due, BATCH, err);
    CHECK_EQ_INT(n, BATCH);
    CHECK_EQ_STR(due[0].journey, "paused");
    /* the caller leaves them in place: the next page starts after the last one read */
    store_flight_t last;
    memset(&last, 0, sizeof last);
    snprintf(last.journey, sizeof last.journey, "%s", due[n - 1].journey);
    last.member = due[n - 1].member;
    last.wake_at = due[n - 1].wake_at;
    n = store_flights_due(s, 1000, &last, due, BATCH, err);
    CHECK_EQ_INT(n, 300 - BATCH + 1);
    CHECK_EQ_STR(due[n - 1].journey, "live");
    CHECK_EQ_INT(due[n - 1].member, 7);
    CHECK_EQ_INT(due[n - 1].wake_at, 200);
    CHECK_EQ_INT(store_flights_due(s, 150, &last, due, BATCH, err), 300 - BATCH);   /* not yet due: not read */

    /* one member's place */
    store_flight_t f;
    buf_init(&f.ctx);
    CHECK_EQ_INT(store_flight_get(s, "live", 7, &f, err), 1);
    CHECK_EQ_STR(f.step_id, "followup");
    CHECK_EQ_STR(f.ctx.p, "{}");
    CHECK_EQ_INT(store_flight_get(s, "live", 8, &f, err), 0);

    /* a reload removed "tips" from the paused journey but kept "followup" in the live one */
    const char *keep_live[] = {"thanks", "followup"}, *keep_paused[] = {"welcome"};
    CHECK_EQ_INT(store_flights_exit(s, "live", keep_live, 2, "its step was removed by a reload", 500, err), 0);
    CHECK_EQ_INT(store_flights_exit(s, "paused", keep_paused, 1, "its step was removed by a reload", 500, err), 300);
    CHECK_EQ_INT(store_flights_due(s, 1000, NULL, due, BATCH, err), 1);
    char step[64], reason[256];
    int64_t at = 0;
    CHECK_EQ_INT(store_exit_last(s, 42, "paused", step, sizeof step, reason, sizeof reason, &at), 1);
    CHECK_EQ_STR(step, "tips");
    CHECK_EQ_STR(reason, "its step was removed by a reload");
    CHECK_EQ_INT(at, 500);
    CHECK_EQ_INT(store_exit_last(s, 7, "live", step, sizeof step, reason, sizeof reason, &at), 0);
    /* a journey gone altogether: every member leaves */
    CHECK_EQ_INT(store_flights_exit(s, "live", NULL, 0, "the journey was removed by a reload", 600, err), 1);
    CHECK_EQ_INT(store_flights_due(s, 1000, NULL, due, BATCH, err), 0);

    CHECK_EQ_INT(store_commit(s, err), NUDGE_OK);
    buf_free(&f.ctx);
    for (int i = 0; i < BATCH; i++) buf_free(&due[i].ctx);
    free(due);
    store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) t_fail++;
    T_DONE();
}
