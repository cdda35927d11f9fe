/* cmd_status.c - nudge status DIR: members, journeys, flights, messages. */
#include "cmd.h"
#include "engine.h"

#include <stdio.h>
#include <string.h>

static void flight_row(const char *j, const char *step, int64_t n, void *ud)
{
    (void)ud;
    printf("  %-28s %-20s %10lld\n", j, step, (long long)n);
}

static void message_row(const char *channel, const char *status, int64_t n, void *ud)
{
    (void)ud;
    printf("  %-10s %-14s %10lld\n", channel, status, (long long)n);
}

static int run(int argc, char **argv)
{
    if (argc != 2) return cmd_usage(&cmd_status, "expected one workspace directory");
    ws_t *w;
    store_t *s;
    if (cmd_open(argv[1], &w, &s)) return 1;
    char err[ERRLEN];
    engine_t *e = engine_new(w, s, err);
    if (!e) {
        cmd_close(w, s);
        return cmd_fail("%s", err);
    }
    buf_t report;
    buf_init(&report);
    int problems = engine_load(e, &report);
    printf("workspace %s: brand %s, time zone %s\n", w->dir, w->brand, tz_name(w->tz));
    printf("members: %lld\n\njourneys:\n", (long long)store_member_count(s));
    for (int i = 0; i < engine_njourneys(e); i++) {
        journey_t *j = engine_journey(e, i);
        store_journey_t sj;
        int known = store_journey_get(s, j->name, &sj);
        printf("  %-28s %s%s%s%s\n", j->name, j->file, known && sj.paused ? "  PAUSED" : "",
               known && sj.disabled ? "  DISABLED: " : "", known && sj.disabled ? sj.error : "");
    }
    if (problems) printf("  (%d journey or template files do not load; run nudge check)\n", problems);
    printf("\nmembers in flight (journey, waiting before step, members):\n");
    store_flight_counts(s, flight_row, NULL);
    printf("\nmessages (channel, status, count):\n");
    store_message_counts(s, message_row, NULL);
    buf_free(&report);
    engine_free(e);
    cmd_close(w, s);
    return 0;
}

const cmd_t cmd_status = {
    .name = "status",
    .usage = "DIR",
    .summary = "members, journeys, members in flight per step, messages per channel",
    .help = "Reads the workspace store; changes nothing.\n",
    .run = run,
};
