/* cmd_run.c - nudge run: the live engine. One libevent loop runs the
 * scheduler on the real clock, writes every decision to the outbox after
 * the policy, and the dispatcher delivers the outbox through the
 * connectors on the same loop.
 *
 * Store writes share one transaction per 5 ms window (group commit), and
 * each commit is synced to disk: a decision or an outcome is durable
 * within 5 ms, at one fsync per window rather than per message.
 *
 * Events posted over HTTP take a cheaper road: each accepted event is
 * appended to the intake journal, synced once per loop turn before the
 * answers go out, and the store writes them (and what their journeys
 * decided) in larger batches, every [api] commit_ms (longer while the
 * loop is behind: window.h), without waiting for the disk; a thread of
 * the store syncs those behind. A batch that holds
 * anything else (a send's outcome, a member PUT, a calendar decision) is
 * synced within the 5 ms window as before. On start, journal records the
 * store lacks are applied again, messages a crash left 'sending' are
 * queued again (same dedup ids), and calendar moments since the last
 * run's clock are caught up. */
#include "api.h"
#include "cmd.h"
#include "disp.h"
#include "engine.h"
#include "hist.h"
#include "journal.h"
#include "log.h"
#include "sched.h"
#include "window.h"

#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_SECS 10
#define COMMIT_WINDOW_US 5000
#define JOURNAL_ROTATE (64u << 20)   /* bytes before the journal starts a new file */
#define REPLAY_BATCH 4096            /* journal records applied per commit at start */
/* events a window's transaction gathers before they are written between
 * requests (store_flush_events) rather than all at its commit, and the
 * outbox's keys owed before they are merged (store_merge_keys): a few
 * hundred keeps each write short and its statements' cost shared */
#define WRITE_AHEAD_MIN 256
/* members the store keeps in memory (a few hundred bytes each: ~50 MB);
 * events name the same members again and again */
#define RUN_MEMBERS_IN_MEMORY 131072

/* Requests whose events are written to the journal, waiting for the
 * sync that covers record seq. */
typedef struct batch {
    api_waiting_t *wait;
    int64_t seq;
    struct batch *next;
} batch_t;

typedef struct daemon {
    ws_t *w;
    store_t *store;
    engine_t *e;
    sched_t *sched;
    disp_t *disp;
    api_t *api;
    struct event_base *base;
    struct event *tick, *commit, *answer_now, *stop_poll, *sigterm, *sigint, *sighup;
    ws_t **reloaded;            /* configurations read by reloads (the engine uses the last) */
    int nreloaded, lock_fd;
    const ws_t *disp_ws;        /* the configuration the dispatcher runs on */
    disp_t **retired;           /* dispatchers replaced by a reload, finishing their sends */
    int nretired;
    struct event *reap;
    long reloads;
    int in_txn, stopping, failed;
    jnl_t *jnl;                 /* the intake journal */
    int64_t applied;            /* the last journal record the store's transaction holds */
    int covered;                /* writes now follow from journaled events */
    int must_sync;              /* the open transaction holds writes the journal does not */
    win_t win;                  /* the window of a transaction of journaled events only */
    long long replayed;
    struct event *synced;       /* the journal finished a sync */
    struct batch *batches, **batches_tail;   /* answers waiting for the journal's sync */
    int64_t stop_deadline;
    long long queued, dropped;
    hist_t commit_lat[2];       /* the loop's pause at each lazy [0] and synced [1] commit */
} daemon_t;

/* upper bounds, in seconds, of the commit pause histograms */
static const double commit_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

static void fail(daemon_t *d, const char *what, const char *err)
{
    log_msg(LOG_ERROR, "run", "%s: %s; stopping", what, err);
    d->failed = 1;
    event_base_loopbreak(d->base);
}

/* ---- group commit ---- */

/* Commits the open transaction with the clock and the journal record it
 * reaches: synced, or lazily (a transaction of journaled events only,
 * which the journal makes durable already). Then drops the journal
 * records the store has on disk. */
static int commit_store(daemon_t *d, int synced, char *err)
{
    if (!d->in_txn) return NUDGE_OK;
    evtimer_del(d->commit);
    d->in_txn = 0;
    d->must_sync = 0;
    char clock[32], applied[32];
    snprintf(clock, sizeof clock, "%lld", (long long)*engine_clock(d->e));
    snprintf(applied, sizeof applied, "%lld", (long long)d->applied);
    store_mark(d->store, d->applied);
    int64_t t0 = mono_ns();
    if (store_meta_set(d->store, "run_clock", clock, err) != NUDGE_OK ||
        store_meta_set(d->store, "intake_applied", applied, err) != NUDGE_OK ||
        (synced ? store_commit(d->store, err) : store_commit_lazy(d->store, err)) != NUDGE_OK)
        return NUDGE_ERR;
    hist_observe(&d->commit_lat[synced != 0], (double)(mono_ns() - t0) / 1e9);
    char terr[ERRLEN];
    if (jnl_trim(d->jnl, store_durable_mark(d->store), JOURNAL_ROTATE, terr) != NUDGE_OK)
        log_msg(LOG_ERROR, "run", "intake journal: %s (it keeps growing until this is fixed)", terr);
    return NUDGE_OK;
}

/* Answers the requests whose events are durable: those in batches up
 * to record seq (all with seq < 0, or when !ok, with 503s), and, when
 * everything is, those waiting still. */
static void answer(daemon_t *d, int64_t seq, int ok)
{
    while (d->batches && (seq < 0 || !ok || d->batches->seq <= seq)) {
        batch_t *b = d->batches;
        d->batches = b->next;
        if (d->api) api_answer(d->api, b->wait, ok);
        free(b);
    }
    if (!d->batches) d->batches_tail = &d->batches;
    if ((seq < 0 || !ok) && d->api) api_committed(d->api, ok);
}

/* Nothing more can be made durable: waiting requests get 503s. */
static void give_up(daemon_t *d, const char *what, const char *err)
{
    answer(d, -1, 0);
    fail(d, what, err);
}

static void on_synced(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    daemon_t *d = ud;
    char err[ERRLEN];
    int64_t seq = jnl_synced(d->jnl, err);
    if (seq < 0) give_up(d, "intake journal", err);
    else answer(d, seq, 1);
}

/* A synced commit: everything so far is durable. */
static void settle(daemon_t *d)
{
    char err[ERRLEN];
    if (commit_store(d, 1, err) != NUDGE_OK) give_up(d, "saving", err);
    else answer(d, -1, 1);
}

/* The window ended: commit, lazily when the journal holds all of it. */
static void on_commit(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    daemon_t *d = ud;
    if (d->must_sync) {
        settle(d);
        return;
    }
    long was = d->win.ms, now = win_end(&d->win);
    if (now != was)
        log_msg(LOG_DEBUG, "run", "the store's window of accepted events goes from %ld to %ld ms (the loop %s)", was, now,
                now > was ? "is behind" : "has room again");
    char err[ERRLEN];
    if (commit_store(d, 0, err) != NUDGE_OK) give_up(d, "saving", err);
}

/* HTTP clients wait (run after the requests of this loop turn): a
 * synced commit when the transaction holds more than journaled events;
 * otherwise the journal's new records go to the file, and the answers
 * wait for its sync thread. */
static void on_answer(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    daemon_t *d = ud;
    if (d->must_sync) {
        settle(d);
        return;
    }
    char err[ERRLEN];
    /* the window ends early when the WAL can start over with a short copy */
    if (d->in_txn && store_wal_restart_due(d->store) && commit_store(d, 0, err) != NUDGE_OK) {
        give_up(d, "saving", err);
        return;
    }
    if (jnl_write(d->jnl, err) != NUDGE_OK) {
        give_up(d, "intake journal", err);
        return;
    }
    if (!d->synced) {
        d->synced = event_new(d->base, jnl_fd(d->jnl), EV_READ | EV_PERSIST, on_synced, d);
        event_add(d->synced, NULL);
    }
    /* while the journal syncs: the events the commit would write and
     * the outbox's keys it would merge, so that the commit, which holds
     * the loop, takes less of it */
    if (d->in_txn && (store_flush_events(d->store, WRITE_AHEAD_MIN, err) != NUDGE_OK ||
                      store_merge_keys(d->store, WRITE_AHEAD_MIN, err) != NUDGE_OK)) {
        give_up(d, "saving", err);
        return;
    }
    api_waiting_t *w = d->api ? api_take_waiting(d->api) : NULL;
    if (!w) return;
    batch_t *b = xcalloc(1, sizeof *b);
    b->wait = w;
    b->seq = jnl_last(d->jnl);
    *d->batches_tail = b;
    d->batches_tail = &b->next;
}

/* Opens the transaction (and its window) unless one is open. */
static void txn_open(daemon_t *d)
{
    if (d->in_txn) return;
    char err[ERRLEN];
    if (store_begin(d->store, err) != NUDGE_OK) {
        fail(d, "store", err);
        return;
    }
    d->in_txn = 1;
    /* a short window gathers a burst of writes into one durable commit;
     * journaled events alone, a longer one into one batch of the store */
    if (!d->must_sync) win_begin(&d->win);
    long us = d->must_sync ? COMMIT_WINDOW_US
                           : win_length(&d->win, store_wal_restart_near(d->store), mono_ns()) * 1000;
    struct timeval tv = {us / 1000000, us % 1000000};
    evtimer_add(d->commit, &tv);
}

/* A write is coming: one the journal does not cover (outside an intake)
 * makes the transaction a synced one. */
static void touch(void *ud)
{
    daemon_t *d = ud;
    if (!d->covered && !d->must_sync) {
        d->must_sync = 1;
        /* a window that began with journaled events only now has to be
         * synced within the short one */
        if (d->in_txn) {
            struct timeval tv = {0, COMMIT_WINDOW_US};
            evtimer_add(d->commit, &tv);
        }
    }
    txn_open(d);
}

/* ---- decisions into the outbox ---- */

static void sink(const decision_t *dc, void *ud)
{
    daemon_t *d = ud;
    store_msg_t m;
    store_msg_init(&m);
    policy_msg_from(dc, &m);
    char err[ERRLEN];
    touch(d);
    int rc = store_outbox_add(d->store, &m, dc->skipped ? "dropped" : "queued", dc->skipped, err);
    store_msg_free(&m);
    if (rc < 0) {
        fail(d, "outbox", err);
        return;
    }
    if (rc == 0) return;   /* already in the outbox: a replayed decision */
    if (dc->skipped) {
        d->dropped++;
    } else {
        d->queued++;
        disp_kick(d->disp);
    }
}

static void api_touch(void *ud)
{
    touch(ud);
}

/* An HTTP client waits for this window's commit (or the journal's
 * sync): on_answer runs after the requests this loop turn read (events
 * made active meanwhile run in the same pass), so they share one write
 * to the journal, or one synced commit, rather than one each. */
static void api_commit_soon(void *ud)
{
    daemon_t *d = ud;
    event_active(d->answer_now, 0, 0);
}

/* Writes from here to intake(ud, 0) follow from events the journal holds. */
static void api_intake(void *ud, int on)
{
    daemon_t *d = ud;
    d->covered = on;
}

static void api_journal(void *ud, const char *json, size_t len)
{
    daemon_t *d = ud;
    d->applied = jnl_add(d->jnl, *engine_clock(d->e), json, len);
}

static void api_kick(void *ud)
{
    daemon_t *d = ud;
    disp_kick(d->disp);
}

static void api_metrics(void *ud, buf_t *out)
{
    daemon_t *d = ud;
    disp_metrics(d->disp, out);
    buf_adds(out, "# HELP nudge_outbox_depth Messages queued or waiting to retry, by channel.\n"
                  "# TYPE nudge_outbox_depth gauge\n");
    for (int ch = 0; ch < CH_COUNT; ch++)
        buf_printf(out, "nudge_outbox_depth{channel=\"%s\"} %lld\n", channel_names[ch],
                   (long long)store_outbox_pending(d->store, channel_names[ch]));
    buf_printf(out, "# HELP nudge_store_window_ms How long the store gathers accepted events now ([api] commit_ms, longer while the loop is behind).\n"
                    "# TYPE nudge_store_window_ms gauge\nnudge_store_window_ms %ld\n",
               d->win.ms);
    buf_printf(out, "# HELP nudge_intake_journal_bytes Accepted events kept in the intake journal until the store has them on disk.\n"
                    "# TYPE nudge_intake_journal_bytes gauge\nnudge_intake_journal_bytes %lld\n",
               (long long)jnl_bytes(d->jnl));
    buf_adds(out, "# HELP nudge_store_commit_seconds How long each commit of the store held the loop: lazy (accepted\n"
                  "# events the journal has made durable) or synced (other writes, made durable by it).\n"
                  "# TYPE nudge_store_commit_seconds histogram\n");
    hist_write(&d->commit_lat[0], out, "nudge_store_commit_seconds", "kind=\"lazy\"");
    hist_write(&d->commit_lat[1], out, "nudge_store_commit_seconds", "kind=\"synced\"");
    buf_printf(out, "# HELP nudge_store_wal_bytes_total Bytes the store's commits wrote to its write-ahead log (each page a commit changed, once).\n"
                    "# TYPE nudge_store_wal_bytes_total counter\nnudge_store_wal_bytes_total %lld\n",
               (long long)store_wal_bytes(d->store));
    int64_t restarts;
    double restart_secs;
    store_wal_restarts(d->store, &restarts, &restart_secs);
    buf_printf(out, "# HELP nudge_store_wal_restarts_total Times a commit started the write-ahead log over (copying what the checkpointer had not, then two syncs).\n"
                    "# TYPE nudge_store_wal_restarts_total counter\nnudge_store_wal_restarts_total %lld\n"
                    "# HELP nudge_store_wal_restart_seconds_total How long starting the write-ahead log over held the loop, in all.\n"
                    "# TYPE nudge_store_wal_restart_seconds_total counter\nnudge_store_wal_restart_seconds_total %.6f\n",
               (long long)restarts, restart_secs);
    hist_t syncs;
    jnl_sync_hist(d->jnl, &syncs);
    buf_adds(out, "# HELP nudge_intake_journal_sync_seconds How long each sync of the intake journal took (the disk's part of an answer's wait).\n"
                  "# TYPE nudge_intake_journal_sync_seconds histogram\n");
    hist_write(&syncs, out, "nudge_intake_journal_sync_seconds", "");
    int64_t hits, misses, held;
    store_member_cache_stats(d->store, &hits, &misses, &held);
    buf_printf(out, "# HELP nudge_store_member_reads_total Members read by id: from the store's memory of recent ones (hit) or from the database (miss).\n"
                    "# TYPE nudge_store_member_reads_total counter\n"
                    "nudge_store_member_reads_total{from=\"memory\"} %lld\nnudge_store_member_reads_total{from=\"database\"} %lld\n",
               (long long)hits, (long long)misses);
    buf_printf(out, "# HELP nudge_store_members_in_memory Members the store holds in its memory of recent ones.\n"
                    "# TYPE nudge_store_members_in_memory gauge\nnudge_store_members_in_memory %lld\n",
               (long long)held);
}

static void api_wake(void *ud)
{
    daemon_t *d = ud;
    if (!d->stopping) event_active(d->tick, 0, 0);
}

static void api_zone(void *ud, const tz_t *zone)
{
    daemon_t *d = ud;
    if (d->sched) sched_add_zone(d->sched, zone);
}

static void fallback(void *ud, const store_msg_t *m, int unsub)
{
    daemon_t *d = ud;
    char err[ERRLEN];
    int ch = channel_lookup(m->channel);
    if (unsub && ch >= 0) {
        touch(d);
        const char *ids[] = {"member", m->member_id, "channel", m->channel};
        if (engine_unreachable(d->e, m->member, ch, err) != NUDGE_OK) log_kv(LOG_ERROR, "run", ids, 2, "%s", err);
        else log_kv(LOG_INFO, "run", ids, 2, "member %s left %s (provider said so); marked unreachable there",
                    m->member_id, m->channel);
    }
    int64_t now = (int64_t)time(NULL);
    if (now > *engine_clock(d->e)) *engine_clock(d->e) = now;
    touch(d);
    if (engine_fallback(d->e, m, err) != NUDGE_OK) log_msg(LOG_ERROR, "run", "%s", err);
}

/* ---- the clock ---- */

static void arm(daemon_t *d)
{
    int64_t now = *engine_clock(d->e);
    int64_t next = sched_next(d->sched), w = engine_next_wake(d->e);
    if (w != TIME_NONE && (next == TIME_NONE || w < next)) next = w;
    int64_t wait = next == TIME_NONE ? 60 : next - now;
    if (wait > 60) wait = 60;   /* look again now and then: the wall clock may jump */
    if (wait < 0) wait = 0;
    struct timeval tv = {wait, 0};
    evtimer_add(d->tick, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    daemon_t *d = ud;
    if (d->stopping) return;
    int64_t *clock = engine_clock(d->e);
    int64_t now = (int64_t)time(NULL);
    if (now > *clock) *clock = now;
    char err[ERRLEN];
    /* The transaction is opened without asking for a sync: a tick that
     * finds nothing due writes nothing, and a synced commit for it would
     * sync every lazy commit's frames the checkpointer has not (up to a
     * second of them: 89 ms measured at 6,000 events/s, a pause of the
     * loop). Decisions (sink) and any other write ask for one as ever. */
    txn_open(d);
    int64_t changes = store_changes(d->store);
    if (engine_wakeups(d->e, err) != NUDGE_OK || sched_run_due(d->sched, err) != NUDGE_OK ||
        engine_flush(d->e, err) != NUDGE_OK) {
        fail(d, "engine", err);
        return;
    }
    if (store_changes(d->store) != changes) touch(d);
    arm(d);
}

/* ---- reloading (SIGHUP, nudge reload) ---- */

/* The settings of the given sections, as text to compare. */
static void settings_of(const ws_t *w, const char *const *sections, int n, buf_t *out)
{
    for (int k = 0; k < n; k++)
        for (int i = 0; i < w->nsettings; i++)
            if (strcmp(w->settings[i].section, sections[k]) == 0)
                buf_printf(out, "[%s] %s = %s\n", sections[k], w->settings[i].key, w->settings[i].value);
}

static int sections_differ(const ws_t *a, const ws_t *b, const char *const *sections, int n)
{
    buf_t x, y;
    buf_init(&x);
    buf_init(&y);
    settings_of(a, sections, n, &x);
    settings_of(b, sections, n, &y);
    int differ = x.len != y.len || (x.len && memcmp(x.p, y.p, x.len) != 0);
    buf_free(&x);
    buf_free(&y);
    return differ;
}

/* Frees the replaced dispatchers whose last sends have finished. */
static void on_reap(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    daemon_t *d = ud;
    int kept = 0;
    for (int i = 0; i < d->nretired; i++) {
        if (disp_inflight(d->retired[i])) d->retired[kept++] = d->retired[i];
        else disp_free(d->retired[i]);
    }
    d->nretired = kept;
    if (!kept) evtimer_del(d->reap);
}

static int retired_inflight(const daemon_t *d)
{
    int n = 0;
    for (int i = 0; i < d->nretired; i++) n += disp_inflight(d->retired[i]);
    return n;
}

/* New provider settings: a new dispatcher takes over the outbox; the old
 * one claims nothing more and is freed when its sends in flight finish
 * (their outcomes are recorded as usual). Settings that do not work
 * leave the running dispatcher in place. */
static void reload_providers(daemon_t *d, const ws_t *nw)
{
    char err[ERRLEN];
    disp_hooks_t hooks = {touch, fallback, d};
    disp_t *nd = disp_new(d->base, d->store, nw, &hooks, err);
    if (!nd) {
        log_msg(LOG_ERROR, "run", "provider settings not applied, the running ones go on: %s", err);
        return;
    }
    disp_drain(d->disp);
    d->retired = xrealloc(d->retired, sizeof *d->retired * (size_t)(d->nretired + 1));
    d->retired[d->nretired++] = d->disp;
    struct timeval tv = {0, 100000};
    evtimer_add(d->reap, &tv);
    d->disp = nd;
    d->disp_ws = nw;
    disp_kick(nd);
    log_msg(LOG_INFO, "run", "provider settings reloaded: %d channels configured", disp_lanes(nd));
}

static void reload(daemon_t *d)
{
    char err[ERRLEN];
    on_tick(-1, 0, d);   /* what is due now runs on the version that was due */
    if (d->failed || d->stopping) return;
    buf_t report, result;
    buf_init(&report);
    buf_init(&result);
    buf_add(&report, "", 0);
    int problems = -1;
    ws_t *nw = ws_open(d->w->dir, err);
    if (nw) {
        touch(d);
        problems = engine_reload(d->e, nw, &report, err);
        /* kept to the end either way: a failure after the swap leaves the
         * engine (and its Lua states) reading it */
        d->reloaded = xrealloc(d->reloaded, sizeof *d->reloaded * (size_t)(d->nreloaded + 1));
        d->reloaded[d->nreloaded++] = nw;
        /* the scheduler holds journeys by position: rebuilt for the new
         * set, with calendar moments from the next second on */
        sched_free(d->sched);
        d->sched = sched_new(d->e, d->store, *engine_clock(d->e) + 1);
        static const char *const providers[] = {"wechat", "sms", "edm"}, *const api[] = {"api"};
        if (problems >= 0 && sections_differ(d->disp_ws, nw, providers, 3)) reload_providers(d, nw);
        if (problems >= 0 && sections_differ(d->w, nw, api, 1)) {
            char aerr[ERRLEN];
            if (api_check(nw, aerr) != NUDGE_OK)
                log_msg(LOG_ERROR, "run", "[api] settings changed, and the next start would refuse them: %s", aerr);
            else
                log_msg(LOG_WARN, "run", "[api] settings changed: they take effect at the next start");
        }
    }
    d->reloads++;
    if (problems < 0) {
        log_msg(LOG_ERROR, "run", "reload refused, nothing changed: %s", err);
    } else if (problems) {
        log_msg(LOG_ERROR, "run", "reloaded with %d problems (those files keep their running version):\n%s", problems,
                report.p);
    } else {
        log_msg(LOG_INFO, "run", "reloaded: %d journeys", engine_njourneys(d->e));
    }
    /* nudge reload waits for this answer in the store */
    buf_printf(&result, "%ld %d ", d->reloads, problems);
    buf_adds(&result, problems < 0 ? err : report.p);
    touch(d);
    if (store_meta_set(d->store, "reload_result", result.p, err) != NUDGE_OK) fail(d, "saving", err);
    buf_free(&report);
    buf_free(&result);
    arm(d);
}

static void on_hup(evutil_socket_t sig, short what, void *ud)
{
    (void)sig;
    (void)what;
    daemon_t *d = ud;
    if (!d->stopping) reload(d);
}

/* ---- stopping ---- */

static void on_stop_poll(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    daemon_t *d = ud;
    if (disp_inflight(d->disp) + retired_inflight(d) && (int64_t)time(NULL) < d->stop_deadline) return;
    if (disp_inflight(d->disp) + retired_inflight(d))
        log_msg(LOG_WARN, "run", "%d provider calls still running after %d s; they will be retried at the next start",
              disp_inflight(d->disp) + retired_inflight(d), STOP_GRACE_SECS);
    touch(d);
    settle(d);
    /* a moment for the last answers to reach their clients */
    struct timeval tv = {0, 100000};
    event_base_loopexit(d->base, &tv);
    evtimer_del(d->stop_poll);
}

static void on_signal(evutil_socket_t sig, short what, void *ud)
{
    (void)what;
    daemon_t *d = ud;
    if (d->stopping) return;
    log_msg(LOG_INFO, "run", "%s: finishing provider calls in flight, then stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    d->stopping = 1;
    api_stop(d->api);
    evtimer_del(d->tick);
    disp_drain(d->disp);
    d->stop_deadline = (int64_t)time(NULL) + STOP_GRACE_SECS;
    struct timeval tv = {0, 20000};
    d->stop_poll = event_new(d->base, -1, EV_PERSIST, on_stop_poll, d);
    event_add(d->stop_poll, &tv);
}

/* ---- the intake journal at start ---- */

/* One journal record the store lacks: applied as when it was accepted,
 * at the clock it was accepted at. */
static int replay_one(int64_t seq, int64_t at, const char *json, size_t len, void *ud, char *err)
{
    daemon_t *d = ud;
    *engine_clock(d->e) = at;
    event_t ev;
    char why[ERRLEN];
    const tz_t *zone = NULL;
    int r = evt_parse(&ev, json, len, d->w->tz, why);
    if (r == NUDGE_OK) {
        touch(d);
        r = engine_event(d->e, &ev, 1, &zone, why);
    }
    evt_free(&ev);
    if (r == EVENT_APPLIED) d->replayed++;
    else if (r != EVENT_DUPLICATE)
        log_msg(LOG_ERROR, "run", "intake journal record %lld no longer applies: %s", (long long)seq, why);
    d->applied = seq;
    if (seq % REPLAY_BATCH) return NUDGE_OK;
    /* lazily: the journal still holds all of it */
    if (engine_flush(d->e, err) != NUDGE_OK) return NUDGE_ERR;
    return commit_store(d, 0, err);
}

static int replay_journal(daemon_t *d, char *err)
{
    char path[4096], warn[ERRLEN], mark[32];
    snprintf(path, sizeof path, "%s/nudge.intake", d->w->dir);
    if (!(d->jnl = jnl_open(path, warn, err))) return NUDGE_ERR;
    if (warn[0]) log_msg(LOG_WARN, "run", "intake journal: %s", warn);
    int64_t applied = store_meta_get(d->store, "intake_applied", mark, sizeof mark) ? strtoll(mark, NULL, 10) : 0;
    jnl_continue(d->jnl, applied);
    d->applied = applied;
    if (jnl_last(d->jnl) <= applied) return NUDGE_OK;
    int64_t from = applied;
    d->covered = 1;
    int rc = jnl_replay(d->jnl, applied, replay_one, d, err);
    d->covered = 0;
    if (rc != NUDGE_OK || engine_flush(d->e, err) != NUDGE_OK || commit_store(d, 1, err) != NUDGE_OK)
        return NUDGE_ERR;
    log_msg(LOG_INFO, "run", "intake journal: records %lld to %lld applied (%lld events the store did not have yet)",
            (long long)from + 1, (long long)d->applied, d->replayed);
    touch(d);
    return NUDGE_OK;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"log-level", required_argument, NULL, 'l'},
                                         {"log-format", required_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    int c, level = LOG_INFO, json = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'l' && log_level_parse(optarg, &level) == NUDGE_OK) continue;
        if (c == 'l') return cmd_usage(&cmd_run, "--log-level is debug, info, warn or error");
        if (c == 'f' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0)) {
            json = optarg[0] == 'j';
            continue;
        }
        if (c == 'f') return cmd_usage(&cmd_run, "--log-format is json or text");
        return cmd_usage(&cmd_run, "unknown option");
    }
    if (argc - optind != 1) return cmd_usage(&cmd_run, "expected one workspace directory");
    log_setup(level, stderr, json);
    daemon_t d;
    memset(&d, 0, sizeof d);
    d.lock_fd = -1;
    win_init(&d.win, COMMIT_WINDOW_US / 1000, COMMIT_WINDOW_US / 1000);   /* without an API no events are journaled */
    for (int i = 0; i < 2; i++) hist_init(&d.commit_lat[i], commit_bounds, (int)(sizeof commit_bounds / sizeof commit_bounds[0]));
    d.batches_tail = &d.batches;
    if (cmd_open(argv[optind], &d.w, &d.store)) return 1;
    char lerr[ERRLEN];
    if ((d.lock_fd = ws_lock_run(d.w, lerr)) < 0) {
        cmd_close(d.w, d.store);
        return cmd_fail("%s", lerr);
    }
    char err[ERRLEN];
    int status = 0;
    /* the changelist turns curl's frequent interest changes on a socket
     * (a delete and an add) into one epoll_ctl per loop turn */
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    d.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    d.commit = evtimer_new(d.base, on_commit, &d);
    d.answer_now = event_new(d.base, -1, 0, on_answer, &d);
    d.reap = event_new(d.base, -1, EV_PERSIST, on_reap, &d);
    d.tick = evtimer_new(d.base, on_tick, &d);
    store_member_cache(d.store, RUN_MEMBERS_IN_MEMORY);
    if (store_durable(d.store, err) != NUDGE_OK || !(d.e = engine_new(d.w, d.store, err))) {
        status = cmd_fail("%s", err);
        goto done;
    }
    engine_set_sink(d.e, sink, &d, 1);
    buf_t report;
    buf_init(&report);
    int problems = engine_load(d.e, &report);
    if (problems) log_msg(LOG_ERROR, "run", "%s%d journey or template files do not load; running without them", report.p, problems);
    buf_free(&report);
    d.disp_ws = d.w;
    disp_hooks_t hooks = {touch, fallback, &d};
    if (!(d.disp = disp_new(d.base, d.store, d.w, &hooks, err))) {
        status = cmd_fail("%s", err);
        goto done;
    }
    int64_t now = (int64_t)time(NULL), start = now;
    *engine_clock(d.e) = now;
    char clock[32];
    if (store_meta_get(d.store, "run_clock", clock, sizeof clock)) {
        int64_t last = strtoll(clock, NULL, 10);
        /* catch up what passed while stopped; what ran at `last` ran already */
        if (last > 0) start = last + 1;
    }
    touch(&d);
    int recovered = store_outbox_recover(d.store, err);
    if (recovered < 0 || engine_first_loaded(d.e, err) != NUDGE_OK || engine_load_recent(d.e, err) != NUDGE_OK) {
        status = cmd_fail("%s", err);
        goto done;
    }
    if (recovered) log_msg(LOG_WARN, "run", "%d messages left in 'sending' by the last run are queued again", recovered);
    if (replay_journal(&d, err) != NUDGE_OK) {
        status = cmd_fail("%s", err);
        goto done;
    }
    *engine_clock(d.e) = now;
    d.sched = sched_new(d.e, d.store, start);
    if (api_configured(d.w)) {
        api_hooks_t ah = {api_touch,       api_zone,   api_kick,    api_metrics, api_wake,
                          api_commit_soon, api_intake, api_journal, &d};
        if (!(d.api = api_new(d.base, d.e, d.store, d.w, &ah, err))) {
            status = cmd_fail("%s", err);
            goto done;
        }
        win_init(&d.win, api_commit_ms(d.api), api_commit_max_ms(d.api));
        log_msg(LOG_INFO, "api", "api listening on %s", api_address(d.api));
    }
    d.sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
    d.sighup = evsignal_new(d.base, SIGHUP, on_hup, &d);
    event_add(d.sigterm, NULL);
    event_add(d.sigint, NULL);
    event_add(d.sighup, NULL);
    log_msg(LOG_INFO, "run", "running %s: %d journeys, %d channels configured", d.w->dir, engine_njourneys(d.e),
            disp_lanes(d.disp));
    event_active(d.tick, 0, 0);
    disp_kick(d.disp);
    event_base_dispatch(d.base);
    if (!d.failed) {
        /* a last synced commit: the journal is left empty */
        touch(&d);
        settle(&d);
    }
    log_msg(LOG_INFO, "run", "stopped: %lld messages queued, %lld not sent (see nudge outbox)", d.queued, d.dropped);
    if (d.failed) status = 1;
done:
    if (d.in_txn) store_rollback(d.store);
    answer(&d, -1, 0);   /* none are left but after a failure */
    api_free(d.api);
    disp_free(d.disp);
    for (int i = 0; i < d.nretired; i++) disp_free(d.retired[i]);
    free(d.retired);
    sched_free(d.sched);
    engine_free(d.e);
    jnl_free(d.jnl);
    if (d.stop_poll) event_free(d.stop_poll);
    if (d.sigterm) event_free(d.sigterm);
    if (d.sigint) event_free(d.sigint);
    if (d.sighup) event_free(d.sighup);
    event_free(d.tick);
    event_free(d.commit);
    event_free(d.answer_now);
    if (d.synced) event_free(d.synced);
    event_free(d.reap);
    event_base_free(d.base);
    for (int i = 0; i < d.nreloaded; i++) ws_free(d.reloaded[i]);
    free(d.reloaded);
    if (d.lock_fd >= 0) {
        if (ftruncate(d.lock_fd, 0) != 0) status = status ? status : 1;
        close(d.lock_fd);
    }
    cmd_close(d.w, d.store);
    return status;
}

const cmd_t cmd_run = {
    .name = "run",
    .usage = "DIR [--log-level debug|info|warn|error] [--log-format json|text]",
    .summary = "the live engine: journeys on the real clock, messages delivered to the providers",
    .help = "Runs until SIGTERM or SIGINT; SIGHUP (or nudge reload) reloads journeys,\n"
            "templates, the policy and the provider settings. Calendar moments and\n"
            "waits happen on the real clock; every decided message goes through the\n"
            "workspace policy into the outbox, and from there to the providers\n"
            "configured in nudge.conf ([wechat], [sms], [edm]). With an [api] section\n"
            "it also listens for events and member queries over HTTP (docs/api.md).\n"
            "Stopping lets provider calls in flight finish (up to 10 s) and saves\n"
            "everything; the next start resumes where this one stopped, catching up\n"
            "calendar moments that passed meanwhile.\n\n"
            "Logs go to stderr, one JSON object a line (ts, level, module, msg and\n"
            "ids), phone numbers, emails and openids masked; --log-format text\n"
            "writes plain lines instead. --log-level (default info) drops lines\n"
            "below it.\n",
    .run = run,
};
