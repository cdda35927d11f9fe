/* cmd_simulate.c - nudge simulate: months of operation in seconds, on a
 * virtual clock, on a copy of the store.
 *
 * The clock jumps from one due instant to the next: the next event of
 * --events, the next calendar moment, the next member waking up. At each
 * instant, events come first, then wake-ups, then calendar moments. The
 * scheduler, Lua and channel choice are the live engine's; only the clock
 * and the sink (a dispatch log instead of providers) differ. */
#include "cal.h"
#include "cmd.h"
#include "engine.h"
#include "evfeed.h"
#include "sched.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sim {
    FILE *out;
    buf_t line;
    long long decided, skipped;
} sim_t;

static void sink(const decision_t *d, void *ud)
{
    sim_t *s = ud;
    if (!d->skipped) s->decided++;
    else s->skipped++;
    if (!s->out) return;
    buf_t *b = &s->line;
    char iso[40];
    buf_reset(b);
    tz_format_iso(d->zone, d->at, iso);
    buf_adds(b, "{\"at\":\"");
    buf_adds(b, iso);
    if (d->decided_at != d->at) {   /* held for quiet hours */
        tz_format_iso(d->zone, d->decided_at, iso);
        buf_adds(b, "\",\"decided\":\"");
        buf_adds(b, iso);
    }
    buf_adds(b, "\",\"member\":");
    buf_add_json_str(b, d->member_id);
    buf_adds(b, ",\"journey\":");
    buf_add_json_str(b, d->journey->name);
    buf_adds(b, ",\"step\":");
    buf_add_json_str(b, d->step->id);
    buf_adds(b, ",\"channel\":");
    if (d->channel >= 0) buf_add_json_str(b, channel_names[d->channel]);
    else buf_adds(b, "null");
    buf_adds(b, ",\"template\":");
    buf_add_json_str(b, d->step->tmpl);
    buf_adds(b, ",\"key\":");
    buf_add_json_str(b, d->key);
    if (!d->skipped) {
        if (d->channel == CH_SMS) {
            char seg[32];
            snprintf(seg, sizeof seg, ",\"segments\":%d", d->segments);
            buf_adds(b, seg);
        }
        buf_adds(b, ",\"content\":");
        buf_adds(b, d->content);
    } else {
        buf_adds(b, ",\"skipped\":");
        buf_add_json_str(b, d->skipped);
    }
    buf_adds(b, "}\n");
    fwrite(b->p, 1, b->len, s->out);
}

typedef struct run {
    ws_t *w;
    store_t *store;
    engine_t *e;
    sched_t *sched;
    const char *events_path;
    evfeed_t *feed;
    long applied, rejected, duplicates, late;
} run_t;

/* The next event of --events, at the engine's clock. */
static int apply_event(run_t *r, int trigger, char *err)
{
    event_t ev;
    long line;
    int rc = evfeed_next(r->feed, &ev, &line, err);
    if (rc <= 0) return rc < 0 ? NUDGE_ERR : NUDGE_OK;
    char why[ERRLEN];
    const tz_t *zone = NULL;
    int a = engine_event(r->e, &ev, trigger, &zone, why);
    if (a == EVENT_APPLIED) r->applied++;
    else if (a == EVENT_DUPLICATE) r->duplicates++;
    else {
        r->rejected++;
        fprintf(stderr, "%s:%ld: %s\n", r->events_path, line, why);
    }
    if (zone && r->sched) sched_add_zone(r->sched, zone);
    evt_free(&ev);
    return NUDGE_OK;
}

static void summary(run_t *r, const char *from, const char *to, double secs, long long decided)
{
    engine_t *e = r->e;
    printf("simulated %s .. %s (%s): %lld members, %d journeys\n", from, to, tz_name(r->w->tz),
           (long long)store_member_count(r->store), engine_njourneys(e));
    if (r->events_path)
        printf("events: %ld applied, %ld already known, %ld rejected, %ld after --to\n", r->applied, r->duplicates,
               r->rejected, r->late);
    printf("\n%-24s %9s %9s %9s %9s %9s %8s\n", "journey", "entered", "wechat", "sms", "edm", "not sent",
           "exited");
    journey_stats_t tot = {0};
    for (int i = 0; i <= engine_njourneys(e); i++) {
        int last = i == engine_njourneys(e);
        const journey_t *j = last ? NULL : engine_journey(e, i);
        const journey_stats_t *s = last ? &tot : engine_stats(e, i);
        printf("%-24s %9lld %9lld %9lld %9lld %9lld %8lld%s\n", j ? j->name : "total", (long long)s->entered,
               (long long)s->sent[CH_WECHAT], (long long)s->sent[CH_SMS], (long long)s->sent[CH_EDM],
               (long long)(s->unreachable + s->suppressed + s->capped + s->expired), (long long)s->exited,
               j && j->disabled ? "  DISABLED" : "");
        if (last) break;
        tot.candidates += s->candidates;
        tot.evaluations += s->evaluations;
        tot.entered += s->entered;
        tot.unreachable += s->unreachable;
        tot.suppressed += s->suppressed;
        tot.capped += s->capped;
        tot.expired += s->expired;
        tot.exited += s->exited;
        for (int c = 0; c < CH_COUNT; c++) tot.sent[c] += s->sent[c];
    }
    if (tot.unreachable + tot.suppressed + tot.capped + tot.expired) {
        printf("\n%-24s %11s %10s %8s %19s\n", "not sent", "unreachable", "suppressed", "capped",
               "quiet hours expired");
        for (int i = 0; i < engine_njourneys(e); i++) {
            const journey_stats_t *s = engine_stats(e, i);
            if (s->unreachable + s->suppressed + s->capped + s->expired)
                printf("%-24s %11lld %10lld %8lld %19lld\n", engine_journey(e, i)->name, (long long)s->unreachable,
                       (long long)s->suppressed, (long long)s->capped, (long long)s->expired);
        }
    }
    printf("\n%lld candidates, %lld Lua evaluations, %lld messages decided in %.2f s (%.0f/s)\n",
           (long long)tot.candidates, (long long)tot.evaluations, decided, secs,
           secs > 0 ? (double)decided / secs : 0.0);
}

static int simulate(run_t *r, int64_t start, int64_t end, char *err)
{
    int64_t *now = engine_clock(r->e);
    *now = start;
    if (store_begin(r->store, err) != NUDGE_OK) return NUDGE_ERR;
    /* events before --from are history: state, no journeys */
    int64_t at;
    while (r->feed && (at = evfeed_peek(r->feed)) != TIME_NONE && at < start) {
        *now = at;
        if (apply_event(r, 0, err) != NUDGE_OK) return NUDGE_ERR;
    }
    *now = start;
    r->sched = sched_new(r->e, r->store, start);
    long instants = 0;
    for (;;) {
        int64_t next = r->feed ? evfeed_peek(r->feed) : TIME_NONE;
        int64_t m = sched_next(r->sched);
        if (m != TIME_NONE && (next == TIME_NONE || m < next)) next = m;
        int64_t w = engine_next_wake(r->e);
        if (w != TIME_NONE && (next == TIME_NONE || w < next)) next = w;
        if (next == TIME_NONE || next >= end) break;
        if (next > *now) *now = next;
        while (r->feed && (at = evfeed_peek(r->feed)) != TIME_NONE && at <= *now)
            if (apply_event(r, 1, err) != NUDGE_OK) return NUDGE_ERR;
        if (engine_wakeups(r->e, err) != NUDGE_OK) return NUDGE_ERR;
        if (sched_run_due(r->sched, err) != NUDGE_OK) return NUDGE_ERR;
        if (engine_flush(r->e, err) != NUDGE_OK) return NUDGE_ERR;
        if (++instants % 65536 == 0 &&
            (store_commit(r->store, err) != NUDGE_OK || store_begin(r->store, err) != NUDGE_OK))
            return NUDGE_ERR;
    }
    if (r->feed) {
        r->late = evfeed_left(r->feed);
        r->rejected += evfeed_rejected(r->feed);
    }
    return store_commit(r->store, err);
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"events", required_argument, NULL, 'e'},
                                         {"out", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    const char *from = NULL, *to = NULL, *events = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f') from = optarg;
        else if (c == 't') to = optarg;
        else if (c == 'e') events = optarg;
        else if (c == 'o') out = optarg;
        else return cmd_usage(&cmd_simulate, "unknown option");
    }
    if (argc - optind != 1) return cmd_usage(&cmd_simulate, "expected one workspace directory");
    int32_t dfrom, dto;
    if (!from || cal_parse_date(from, strlen(from), &dfrom) != 0)
        return cmd_usage(&cmd_simulate, "--from needs a date like 2027-01-01");
    if (!to || cal_parse_date(to, strlen(to), &dto) != 0)
        return cmd_usage(&cmd_simulate, "--to needs a date like 2027-12-31");
    if (dto < dfrom) return cmd_usage(&cmd_simulate, "--to is before --from");

    char err[ERRLEN], path[4200], tmp[4200];
    run_t r = {.events_path = events};
    if (!(r.w = ws_open(argv[optind], err))) return cmd_fail("%s", err);
    ws_path(r.w, WS_DB, path, sizeof path);
    store_t *orig = store_open(path, STORE_OPEN, err);
    if (!orig) {
        ws_free(r.w);
        return cmd_fail("%s", err);
    }
    /* simulate never changes the workspace: it runs on a copy */
    const char *tdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmp, sizeof tmp, "%s/nudge-sim-XXXXXX", tdir);
    int fd = mkstemp(tmp);
    int status = 0;
    if (fd < 0 || (close(fd), store_copy(orig, tmp, err)) != NUDGE_OK) {
        if (fd < 0) errf(err, "%s: %s", tmp, strerror(errno));
        store_close(orig);
        ws_free(r.w);
        if (fd >= 0) unlink(tmp);
        return cmd_fail("%s", err);
    }
    store_close(orig);
    r.store = store_open(tmp, STORE_SCRATCH, err);
    /* the copy has no journal and sqlite keeps it open: its name can go
     * now, so an interrupted simulation leaves nothing behind */
    if (r.store) unlink(tmp);
    sim_t sim = {0};
    buf_init(&sim.line);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!r.store) {
        status = cmd_fail("%s", err);
        goto done;
    }
    if (events && !(r.feed = evfeed_open(events, r.w->tz, 0, NULL, NULL, err))) {
        status = cmd_fail("%s", err);
        goto done;
    }
    if (out && !(sim.out = strcmp(out, "-") == 0 ? stdout : fopen(out, "w"))) {
        status = cmd_fail("%s: %s", out, strerror(errno));
        goto done;
    }
    if (!(r.e = engine_new(r.w, r.store, err))) {
        status = cmd_fail("%s", err);
        goto done;
    }
    engine_set_sink(r.e, sink, &sim, sim.out != NULL);
    buf_t report;
    buf_init(&report);
    int problems = engine_load(r.e, &report);
    if (problems) fprintf(stderr, "%s%d journey or template files do not load; simulating without them\n",
                          report.p, problems);
    buf_free(&report);
    int64_t start = tz_local_to_utc(r.w->tz, dfrom, 0), end = tz_local_to_utc(r.w->tz, dto + 1, 0);
    if (simulate(&r, start, end, err) != NUDGE_OK) {
        store_rollback(r.store);
        status = cmd_fail("simulation stopped: %s", err);
        goto done;
    }
    if (sim.out && fflush(sim.out) != 0) status = cmd_fail("%s: %s", out, strerror(errno));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    summary(&r, from, to, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
            sim.decided);
    if (problems || engine_faults(r.e) || r.rejected) status = 1;
done:
    if (sim.out && sim.out != stdout) fclose(sim.out);
    buf_free(&sim.line);
    sched_free(r.sched);
    engine_free(r.e);
    store_close(r.store);
    evfeed_free(r.feed);
    ws_free(r.w);
    unlink(tmp);
    return status;
}

const cmd_t cmd_simulate = {
    .name = "simulate",
    .usage = "DIR --from DATE --to DATE [--events FILE] [--out FILE]",
    .summary = "run the journeys on a virtual clock and log every message decided",
    .help = "  --from DATE    first day (workspace time zone); journeys act from its start\n"
            "  --to DATE      last day, included\n"
            "  --events FILE  events (JSONL) applied at their timestamps; earlier ones are\n"
            "                 applied first as history, later ones are ignored\n"
            "  --out FILE     the dispatch log, one JSON object per message ('-': stdout)\n\n"
            "Runs on a copy of the store: the workspace is not changed. Prints a summary\n"
            "per journey and channel. Exit status 1 when a journey failed to load or was\n"
            "stopped, or an event was rejected (the log is complete all the same).\n",
    .run = run,
};
