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
#include "tmpl.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sim {
    FILE *out;
    /* a part of a run in parts writes (clock, length, line) records, which
     * are merged in clock order at the end */
    int framed;
    const int64_t *clock;
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
    if (s->framed) {
        int64_t clock = *s->clock;
        uint32_t len = (uint32_t)b->len;
        fwrite(&clock, sizeof clock, 1, s->out);
        fwrite(&len, sizeof len, 1, s->out);
    }
    fwrite(b->p, 1, b->len, s->out);
}

/* A rejected line of --events, held by a part until the parts are done
 * (they are printed in line order then, or not at all if the run is
 * done again in one part). */
typedef struct note {
    long line;
    char *text;
} note_t;

typedef struct run {
    ws_t *w;
    store_t *store;
    engine_t *e;
    sched_t *sched;
    const char *events_path;
    evfeed_t *feed;
    long applied, rejected, duplicates, late;
    int part;                   /* acts for some members only */
    atomic_int *stop;           /* a part's journey failed: all parts stop */
    note_t *notes;              /* a part's rejected lines */
    size_t nnotes, cap_notes;
} run_t;

/* A rejected line: printed now, or held by a part. */
static void reject_line(run_t *r, long line, const char *why)
{
    if (!r->part) {
        fprintf(stderr, "%s:%ld: %s\n", r->events_path, line, why);
        return;
    }
    if (r->nnotes == r->cap_notes) {
        r->cap_notes = r->cap_notes ? 2 * r->cap_notes : 16;
        r->notes = xrealloc(r->notes, sizeof *r->notes * r->cap_notes);
    }
    r->notes[r->nnotes++] = (note_t){line, xstrdup(why)};
}

static void on_bad_line(void *ud, long line, const char *why)
{
    reject_line(ud, line, why);
}

/* The next event of --events, at the engine's clock. */
static int apply_event(run_t *r, int trigger, char *err)
{
    event_t ev;
    long line;
    int rc = evfeed_next(r->feed, &ev, &line, err);
    if (rc <= 0) return rc < 0 ? NUDGE_ERR : NUDGE_OK;
    if (r->part && !evfeed_owned(r->feed) && !engine_owns(r->e, ev.member)) {
        evt_free(&ev);   /* another part's member */
        return NUDGE_OK;
    }
    char why[ERRLEN];
    const tz_t *zone = NULL;
    int a = engine_event(r->e, &ev, trigger, &zone, why);
    if (a == EVENT_APPLIED) r->applied++;
    else if (a == EVENT_DUPLICATE) r->duplicates++;
    else {
        r->rejected++;
        reject_line(r, line, why);
    }
    if (zone && r->sched) sched_add_zone(r->sched, zone);
    evt_free(&ev);
    return NUDGE_OK;
}

/* ---- a run in parts ----
 *
 * Members do not affect one another in a simulation (caps, quiet hours,
 * re-entry and waits are per member), so a large store is simulated in
 * parts, one thread each, on one copy of the store each: a part acts for
 * the members of one range of row ids, and the last one also for members
 * that join during the run. Each part reads --events and applies the
 * events of its own members; the dispatch logs are merged in clock order
 * (an instant's lines part by part). */
/* member-days a part, at least (auto): copying the store for a part pays
 * off over half a year of 250,000 members, not for a day's run */
#define PART_MEMBER_DAYS (250000LL * 180)
#define MAX_PARTS 64
#define PART_OVERHEAD_KIB 24000
#define PART_MIN_CACHE_KIB 8000

typedef struct part {
    run_t r;
    sim_t sim;
    int64_t start, end;
    int failed;
    char err[ERRLEN];
    pthread_t th;
} part_t;

static int owns(void *ud, const char *member)
{
    return engine_owns(ud, member);
}

static void stats_add(journey_stats_t *to, const journey_stats_t *from)
{
    to->candidates += from->candidates;
    to->evaluations += from->evaluations;
    to->entered += from->entered;
    to->unreachable += from->unreachable;
    to->suppressed += from->suppressed;
    to->capped += from->capped;
    to->expired += from->expired;
    to->exited += from->exited;
    for (int c = 0; c < CH_COUNT; c++) to->sent[c] += from->sent[c];
}

static void summary(part_t *p, int n, int64_t members, const char *from, const char *to, double secs)
{
    engine_t *e = p[0].r.e;
    run_t all = {0};
    long long decided = 0;
    for (int k = 0; k < n; k++) {
        all.applied += p[k].r.applied;
        all.duplicates += p[k].r.duplicates;
        all.rejected += p[k].r.rejected;
        all.late += p[k].r.late;
        decided += p[k].sim.decided;
    }
    printf("simulated %s .. %s (%s): %lld members, %d journeys", from, to, tz_name(p[0].r.w->tz),
           (long long)members, engine_njourneys(e));
    if (n > 1) printf(", in %d parts", n);
    printf("\n");
    if (p[0].r.events_path)
        printf("events: %ld applied, %ld already known, %ld rejected, %ld after --to\n", all.applied,
               all.duplicates, all.rejected, all.late);
    printf("\n%-24s %9s %9s %9s %9s %9s %8s\n", "journey", "entered", "wechat", "sms", "edm", "not sent",
           "exited");
    int nj = engine_njourneys(e);
    journey_stats_t *st = xcalloc((size_t)nj + 1, sizeof *st), *tot = &st[nj];
    int *disabled = xcalloc((size_t)nj + 1, sizeof *disabled);
    for (int i = 0; i < nj; i++) {
        journey_stats_t *s = &st[i];
        for (int k = 0; k < n; k++) {
            stats_add(s, engine_stats(p[k].r.e, i));
            disabled[i] |= engine_journey(p[k].r.e, i)->disabled;
        }
        stats_add(tot, s);
    }
    for (int i = 0; i <= nj; i++) {
        const journey_stats_t *s = &st[i];
        printf("%-24s %9lld %9lld %9lld %9lld %9lld %8lld%s\n", i < nj ? engine_journey(e, i)->name : "total",
               (long long)s->entered, (long long)s->sent[CH_WECHAT], (long long)s->sent[CH_SMS],
               (long long)s->sent[CH_EDM], (long long)(s->unreachable + s->suppressed + s->capped + s->expired),
               (long long)s->exited, disabled[i] ? "  DISABLED" : "");
    }
    if (tot->unreachable + tot->suppressed + tot->capped + tot->expired) {
        printf("\n%-24s %11s %10s %8s %19s\n", "not sent", "unreachable", "suppressed", "capped",
               "quiet hours expired");
        for (int i = 0; i < nj; i++) {
            const journey_stats_t *s = &st[i];
            if (s->unreachable + s->suppressed + s->capped + s->expired)
                printf("%-24s %11lld %10lld %8lld %19lld\n", engine_journey(e, i)->name, (long long)s->unreachable,
                       (long long)s->suppressed, (long long)s->capped, (long long)s->expired);
        }
    }
    printf("\n%lld candidates, %lld Lua evaluations, %lld messages decided in %.2f s (%.0f/s)\n",
           (long long)tot->candidates, (long long)tot->evaluations, decided, secs,
           secs > 0 ? (double)decided / secs : 0.0);
    free(st);
    free(disabled);
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
        /* a journey that fails stops for every member at once in one
         * part; in parts it would stop in one part only: all stop, and
         * the run is done again in one part */
        if (r->stop && (engine_faults(r->e) || atomic_load(r->stop))) {
            atomic_store(r->stop, 1);
            return NUDGE_OK;
        }
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

static void *part_main(void *ud)
{
    part_t *p = ud;
    if (simulate(&p->r, p->start, p->end, p->err) != NUDGE_OK) {
        store_rollback(p->r.store);
        p->failed = 1;
    }
    tmpl_release();   /* this thread's */
    return NULL;
}

typedef struct record {
    int64_t clock;
    char *line;
    uint32_t len, cap;
} record_t;

/* Reads one record of a part's log: 1, or 0 at its end. */
static int record_read(FILE *f, record_t *r)
{
    if (fread(&r->clock, sizeof r->clock, 1, f) != 1 || fread(&r->len, sizeof r->len, 1, f) != 1) return 0;
    if (r->len > r->cap) {
        r->line = xrealloc(r->line, r->len);
        r->cap = r->len;
    }
    return fread(r->line, 1, r->len, f) == r->len;
}

/* The parts' logs into out, in clock order; an instant's lines part by
 * part, each part's in its own order. */
static int merge_logs(part_t *p, int n, FILE *out, char *err)
{
    record_t *r = xcalloc((size_t)n, sizeof *r);
    int *live = xcalloc((size_t)n, sizeof *live);
    int ok = 1;
    for (int k = 0; k < n; k++) {
        ok &= fflush(p[k].sim.out) == 0 && fseek(p[k].sim.out, 0, SEEK_SET) == 0;
        live[k] = ok && record_read(p[k].sim.out, &r[k]);
    }
    for (;;) {
        int best = -1;
        for (int k = 0; k < n; k++)
            if (live[k] && (best < 0 || r[k].clock < r[best].clock)) best = k;
        if (best < 0) break;
        if (fwrite(r[best].line, 1, r[best].len, out) != r[best].len) ok = 0;
        live[best] = record_read(p[best].sim.out, &r[best]);
    }
    for (int k = 0; k < n; k++) {
        if (ferror(p[k].sim.out)) ok = 0;
        free(r[k].line);
    }
    free(live);
    free(r);
    return ok ? NUDGE_OK : errf(err, "%s", strerror(errno ? errno : EIO));
}

/* A scratch file in tdir, already unlinked: it goes when closed. */
static FILE *scratch_file(const char *tdir, char *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/nudge-sim-log-XXXXXX", tdir);
    int fd = mkstemp(path);
    if (fd < 0) {
        errf(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    unlink(path);
    FILE *f = fdopen(fd, "w+");
    if (!f) {
        errf(err, "%s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

/* Part k of n: its copy of the store (at path), its
 * engine with the journeys, its reading of --events, its own members. */
static int part_open(part_t *p, int k, int n, const char *path, int64_t max_id, const char *tdir, const char *out,
                     buf_t *report, int *problems, char *err)
{
    if (!(p->r.store = store_open(path, STORE_SCRATCH, err))) return NUDGE_ERR;
    /* the parts' caches share one's memory, less what each part holds
     * besides (its engine, its filter of event ids: about 20 MB) */
    long kib = (STORE_SCRATCH_CACHE_KIB - PART_OVERHEAD_KIB * (n - 1)) / n;
    if (n > 1 && store_cache_kib(p->r.store, kib > PART_MIN_CACHE_KIB ? kib : PART_MIN_CACHE_KIB, err) != NUDGE_OK)
        return NUDGE_ERR;
    if (out && n > 1) {
        if (!(p->sim.out = scratch_file(tdir, err))) return NUDGE_ERR;
        p->sim.framed = 1;
    }
    if (!(p->r.e = engine_new(p->r.w, p->r.store, err))) return NUDGE_ERR;
    p->sim.clock = engine_clock(p->r.e);
    engine_set_sink(p->r.e, sink, &p->sim, out != NULL);
    buf_t quiet_report;
    buf_init(&quiet_report);
    int bad = engine_load(p->r.e, k ? &quiet_report : report);
    buf_free(&quiet_report);
    if (!k) *problems = bad;
    if (n > 1) {
        int64_t lo = k ? max_id * k / n + 1 : INT64_MIN, hi = k < n - 1 ? max_id * (k + 1) / n : INT64_MAX;
        engine_own(p->r.e, lo, hi, k == n - 1, max_id + 1);
        p->r.part = 1;
    }
    /* each part reads the file; lines of others' members are skipped
     * unparsed, and bad lines reported once */
    if (p->r.events_path && !(p->r.feed = evfeed_open_part(p->r.events_path, p->r.w->tz, 0,
                                                           n > 1 ? on_bad_line : NULL, &p->r,
                                                           n > 1 ? owns : NULL, p->r.e, !k, err)))
        return NUDGE_ERR;
    return NUDGE_OK;
}

/* The parts, each on a copy of orig: simulate never changes the
 * workspace. */
static int parts_open(part_t *p, int n, store_t *orig, int64_t max_id, const char *tdir, const char *out,
                      buf_t *report, int *problems, char *err)
{
    char **paths = xcalloc((size_t)n, sizeof *paths);
    int made = 0, rc = NUDGE_OK;
    for (; made < n; made++) {
        paths[made] = xmalloc(4200);
        snprintf(paths[made], 4200, "%s/nudge-sim-XXXXXX", tdir);
        int fd = mkstemp(paths[made]);
        if (fd < 0) {
            rc = errf(err, "%s: %s", paths[made], strerror(errno));
            free(paths[made]);
            break;
        }
        close(fd);
    }
    if (rc == NUDGE_OK) rc = store_copies(orig, (const char *const *)paths, n, err);
    for (int k = 0; k < made; k++) {
        if (rc == NUDGE_OK) rc = part_open(&p[k], k, n, paths[k], max_id, tdir, out, report, problems, err);
        /* the copy has no journal and sqlite keeps it open: its name can
         * go now, so an interrupted simulation leaves nothing behind */
        unlink(paths[k]);
        free(paths[k]);
    }
    free(paths);
    /* the parts loaded the files one after another: a file changed in
     * between would make them run different journeys */
    for (int k = 1; k < n && rc == NUDGE_OK; k++) {
        int same = engine_njourneys(p[k].r.e) == engine_njourneys(p[0].r.e);
        for (int i = 0; same && i < engine_njourneys(p[0].r.e); i++)
            same = strcmp(engine_journey(p[k].r.e, i)->name, engine_journey(p[0].r.e, i)->name) == 0;
        if (!same) rc = errf(err, "the journeys changed while the parts loaded them; run again");
    }
    return rc;
}

static void part_close(part_t *p)
{
    for (size_t i = 0; i < p->r.nnotes; i++) free(p->r.notes[i].text);
    free(p->r.notes);
    if (p->sim.out && p->sim.framed) fclose(p->sim.out);
    buf_free(&p->sim.line);
    sched_free(p->r.sched);
    engine_free(p->r.e);
    store_close(p->r.store);
    evfeed_free(p->r.feed);
}

/* Parts for a run of days over this many members: one a
 * PART_MEMBER_DAYS, at most one a cpu. */
static int parts_auto(int64_t members, int64_t days)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t n = members * days / PART_MEMBER_DAYS;
    if (n > cpus) n = cpus;
    if (n > MAX_PARTS) n = MAX_PARTS;
    return n < 1 ? 1 : (int)n;
}

typedef struct sim_opts {
    ws_t *w;
    const char *events, *out, *from, *to;
    int32_t dfrom, dto;
} sim_opts_t;

enum { AGAIN_FAULT = 1, AGAIN_SHARED_IDS = 2 };

/* The parts' rejected lines, in line order. */
static void notes_print(part_t *p, int n)
{
    size_t *at = xcalloc((size_t)n, sizeof *at);
    for (;;) {
        int best = -1;
        for (int k = 0; k < n; k++)
            if (at[k] < p[k].r.nnotes &&
                (best < 0 || p[k].r.notes[at[k]].line < p[best].r.notes[at[best]].line))
                best = k;
        if (best < 0) break;
        const note_t *t = &p[best].r.notes[at[best]++];
        fprintf(stderr, "%s:%ld: %s\n", p[best].r.events_path, t->line, t->text);
    }
    free(at);
}

/* The simulation in nparts parts (0: as many as the store calls for).
 * *again: the parts would differ from one part (AGAIN_*): nothing was
 * printed or written, do it again in one. */
static int simulate_in(const sim_opts_t *o, int nparts, int *again)
{
    char err[ERRLEN], path[4200];
    ws_t *w = o->w;
    const char *events = o->events, *out = o->out;
    ws_path(w, WS_DB, path, sizeof path);
    store_t *orig = store_open(path, STORE_OPEN, err);
    if (!orig) return cmd_fail("%s", err);
    int64_t members = store_member_count(orig), max_id = store_member_max_rowid(orig);
    if (!nparts) nparts = parts_auto(members, (int64_t)o->dto - o->dfrom + 1);
    atomic_int stop = 0;
    const char *tdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    FILE *logf = NULL;
    part_t *p = xcalloc((size_t)nparts, sizeof *p);
    for (int k = 0; k < nparts; k++) {
        p[k].r.w = w;
        p[k].r.events_path = events;
        p[k].r.stop = nparts > 1 ? &stop : NULL;
        buf_init(&p[k].sim.line);
    }
    int status = 0, problems = 0, started = 0;
    buf_t report;
    buf_init(&report);
    struct timespec t0, t1;
    if (out && !(logf = strcmp(out, "-") == 0 ? stdout : fopen(out, "w"))) {
        status = cmd_fail("%s: %s", out, strerror(errno));
        goto done;
    }
    if (nparts == 1) p[0].sim.out = logf;
    int opened = parts_open(p, nparts, orig, max_id, tdir, out, &report, &problems, err);
    store_close(orig);
    orig = NULL;
    if (opened != NUDGE_OK) {
        status = cmd_fail("%s", err);
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);   /* the copies are not the simulation's time */
    if (problems && nparts == 1) fprintf(stderr, "%s%d journey or template files do not load; simulating without them\n",
                                         report.p, problems);
    int64_t start = tz_local_to_utc(w->tz, o->dfrom, 0), end = tz_local_to_utc(w->tz, o->dto + 1, 0);
    for (int k = 0; k < nparts; k++) {
        p[k].start = start;
        p[k].end = end;
    }
    /* parts 1.. on threads of their own (those that cannot have one run
     * after part 0), part 0 on this one */
    for (started = 1; started < nparts; started++)
        if (pthread_create(&p[started].th, NULL, part_main, &p[started]) != 0) break;
    part_main(&p[0]);
    for (int k = started; k < nparts; k++) part_main(&p[k]);
    for (int k = 1; k < started; k++) pthread_join(p[k].th, NULL);
    for (int k = 0; k < nparts; k++)
        if (p[k].failed) {
            status = cmd_fail("simulation stopped: %s", p[k].err);
            goto done;
        }
    if (nparts > 1) {
        /* what would make the parts differ from a run in one part */
        if (atomic_load(&stop)) *again = AGAIN_FAULT;
        for (int a = 0; a < nparts && !*again; a++)
            for (int b = a + 1; b < nparts && !*again; b++)
                if (store_scratch_shared(p[a].r.store, p[b].r.store)) *again = AGAIN_SHARED_IDS;
        if (*again) goto done;
        if (problems) fprintf(stderr, "%s%d journey or template files do not load; simulating without them\n",
                              report.p, problems);
        notes_print(p, nparts);
    }
    if (logf && nparts > 1 && merge_logs(p, nparts, logf, err) != NUDGE_OK)
        status = cmd_fail("%s: writing the dispatch log: %s", out, err);
    if (logf && fflush(logf) != 0) status = cmd_fail("%s: %s", out, strerror(errno));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t total = 0;
    for (int k = 0; k < nparts; k++) total += store_member_count(p[k].r.store) - (k ? members : 0);
    summary(p, nparts, total, o->from, o->to,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    int faults = 0, rejected = 0;
    for (int k = 0; k < nparts; k++) {
        faults += engine_faults(p[k].r.e);
        rejected += p[k].r.rejected > 0;
    }
    if (problems || faults || rejected) status = status ? status : 1;
done:
    if (logf && logf != stdout) fclose(logf);
    for (int k = 0; k < nparts; k++) part_close(&p[k]);
    free(p);
    buf_free(&report);
    store_close(orig);
    return status;
}


static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"events", required_argument, NULL, 'e'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"parts", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    const char *from = NULL, *to = NULL, *events = NULL, *out = NULL;
    int c, nparts = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f') from = optarg;
        else if (c == 't') to = optarg;
        else if (c == 'e') events = optarg;
        else if (c == 'o') out = optarg;
        else if (c == 'p') {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > MAX_PARTS)
                return cmd_usage(&cmd_simulate, "--parts needs a whole number from 1 to 64");
            nparts = (int)v;
        } else return cmd_usage(&cmd_simulate, "unknown option");
    }
    if (argc - optind != 1) return cmd_usage(&cmd_simulate, "expected one workspace directory");
    int32_t dfrom, dto;
    if (!from || cal_parse_date(from, strlen(from), &dfrom) != 0)
        return cmd_usage(&cmd_simulate, "--from needs a date like 2027-01-01");
    if (!to || cal_parse_date(to, strlen(to), &dto) != 0)
        return cmd_usage(&cmd_simulate, "--to needs a date like 2027-12-31");
    if (dto < dfrom) return cmd_usage(&cmd_simulate, "--to is before --from");

    char err[ERRLEN];
    ws_t *w = ws_open(argv[optind], err);
    if (!w) return cmd_fail("%s", err);
    sim_opts_t o = {w, events, out, from, to, dfrom, dto};
    int again = 0, status = simulate_in(&o, nparts, &again);
    if (again == AGAIN_FAULT)
        fprintf(stderr, "nudge: a journey failed in one part of the run; simulating again in one part, where it "
                        "stops for every member at once\n");
    else if (again == AGAIN_SHARED_IDS)
        fprintf(stderr, "nudge: events or orders of members in different parts share ids; simulating again in "
                        "one part, where the later ones are already known\n");
    if (again) status = simulate_in(&o, 1, &again);
    ws_free(w);
    return status;
}

const cmd_t cmd_simulate = {
    .name = "simulate",
    .usage = "DIR --from DATE --to DATE [--events FILE] [--out FILE] [--parts N]",
    .summary = "run the journeys on a virtual clock and log every message decided",
    .help = "  --from DATE    first day (workspace time zone); journeys act from its start\n"
            "  --to DATE      last day, included\n"
            "  --events FILE  events (JSONL) applied at their timestamps; earlier ones are\n"
            "                 applied first as history, later ones are ignored\n"
            "  --out FILE     the dispatch log, one JSON object per message ('-': stdout)\n"
            "  --parts N      simulate in N parts at once, one thread and one copy of the\n"
            "                 store each (default: one part per 250,000 members over\n"
            "                 180 days, at most one per cpu)\n\n"
            "Runs on a copy of the store: the workspace is not changed. Prints a summary\n"
            "per journey and channel. Exit status 1 when a journey failed to load or was\n"
            "stopped, or an event was rejected (the log is complete all the same).\n",
    .run = run,
};
