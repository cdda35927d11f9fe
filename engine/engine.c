/* engine.c - see engine.h */
#include "engine.h"
#include "cal.h"
#include "lhost.h"
#include "log.h"
#include "smstext.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAKE_BATCH 256

struct engine {
    ws_t *ws;
    store_t *store;
    int64_t now;
    journey_t **journeys;
    journey_stats_t *stats;
    int njourneys;
    tmpl_t **tmpls;
    int ntmpls;
    char **attrs;            /* known custom attribute names */
    int nattrs;
    policy_t *policy;
    engine_sink_fn sink;
    void *sink_ud;
    int render;              /* the sink reads content */
    int64_t next_wake;       /* earliest wake-up after the clock, if known */
    int wake_known;
    int wake_overdue;        /* a resumed journey has wake-ups in the past */
    member_t m;              /* scratch: the member being evaluated */
    buf_t key, content, tmp, ctx;
    store_flight_t *due;     /* wake-up batch, allocated once */
    int faults;
    int part;                /* engine_own: acts for some members only */
    int64_t own_lo, own_hi;
    int takes_new;
};

static void load_points(member_t *m, void *ud)
{
    engine_t *e = ud;
    store_points_summary(e->store, m->rowid, tz_local_day(m->zone, e->now), &m->points, &m->points_expiry_day,
                         &m->points_expiring);
}

static void add_attr(const char *name, void *ud)
{
    engine_t *e = ud;
    e->attrs = xrealloc(e->attrs, sizeof *e->attrs * (size_t)(e->nattrs + 1));
    e->attrs[e->nattrs++] = xstrdup(name);
}

static void deliver(const decision_t *d, void *ud);

engine_t *engine_new(ws_t *ws, store_t *store, char *err)
{
    policy_t *p = policy_new(ws, store, err);
    if (!p) return NULL;
    engine_t *e = xcalloc(1, sizeof *e);
    e->ws = ws;
    e->store = store;
    e->policy = p;
    policy_set_emit(p, deliver, e);
    member_init(&e->m);
    e->m.load_points = load_points;
    e->m.load_points_ud = e;
    buf_init(&e->key);
    buf_init(&e->content);
    buf_init(&e->tmp);
    buf_init(&e->ctx);
    store_attr_names(store, add_attr, e);
    return e;
}

void engine_free(engine_t *e)
{
    if (!e) return;
    for (int i = 0; i < e->njourneys; i++) journey_free(e->journeys[i]);
    free(e->journeys);
    free(e->stats);
    for (int i = 0; i < e->ntmpls; i++) tmpl_free(e->tmpls[i]);
    free(e->tmpls);
    for (int i = 0; i < e->nattrs; i++) free(e->attrs[i]);
    free(e->attrs);
    if (e->due) {
        for (int i = 0; i < WAKE_BATCH; i++) buf_free(&e->due[i].ctx);
        free(e->due);
    }
    member_free(&e->m);
    policy_free(e->policy);
    buf_free(&e->key);
    buf_free(&e->content);
    buf_free(&e->tmp);
    buf_free(&e->ctx);
    free(e);
}

void engine_set_sink(engine_t *e, engine_sink_fn fn, void *ud, int render)
{
    e->sink = fn;
    e->sink_ud = ud;
    e->render = render;
}

int64_t engine_next_wake(engine_t *e)
{
    if (!e->wake_known) {
        e->next_wake = store_flight_next_wake(e->store, e->now);
        e->wake_known = 1;
    }
    int64_t r = policy_next_release(e->policy);
    return r != TIME_NONE && (e->next_wake == TIME_NONE || r < e->next_wake) ? r : e->next_wake;
}

int64_t *engine_clock(engine_t *e) { return &e->now; }
int engine_njourneys(const engine_t *e) { return e->njourneys; }
journey_t *engine_journey(engine_t *e, int i) { return e->journeys[i]; }
const journey_stats_t *engine_stats(const engine_t *e, int i) { return &e->stats[i]; }
int engine_faults(const engine_t *e) { return e->faults; }

static journey_t *find_journey(engine_t *e, const char *name);

/* ---- loading ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.lua names in dir (relative to the workspace). */
static char **lua_files(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    char **v = NULL;
    *n = 0;
    if (!d) return NULL;
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".lua") != 0 || de->d_name[0] == '.') continue;
        v = xrealloc(v, sizeof *v * (size_t)(*n + 1));
        v[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (*n) qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v;
}

static void report_add(buf_t *report, const char *msg)
{
    buf_adds(report, msg);
    buf_addc(report, '\n');
}

/* Loads templates/ into e->tmpls. A template that fails to load keeps
 * its version from old[] (a reload) when there is one; old[] entries
 * taken are set to NULL. */
static int load_templates(engine_t *e, tmpl_t **old, int nold, buf_t *report)
{
    char dir[4096], path[4200], rel[512], err[ERRLEN];
    int n, problems = 0;
    ws_path(e->ws, "templates", dir, sizeof dir);
    char **files = lua_files(dir, &n);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        snprintf(rel, sizeof rel, "templates/%s", files[i]);
        size_t len;
        char *src = read_file(path, &len, err);
        tmpl_t *t = tmpl_new();
        t->name = xstrndup(files[i], strlen(files[i]) - 4);
        if (!src || lh_load_template(&e->ws->limits, rel, src, len, t, err) != NUDGE_OK) {
            report_add(report, err);
            problems++;
            tmpl_t *prev = NULL;
            for (int k = 0; k < nold && !prev; k++)
                if (old[k] && strcmp(old[k]->name, t->name) == 0) {
                    prev = old[k];
                    old[k] = NULL;
                }
            tmpl_free(t);
            t = prev;   /* the previous version goes on */
        }
        if (t) {
            e->tmpls = xrealloc(e->tmpls, sizeof *e->tmpls * (size_t)(e->ntmpls + 1));
            e->tmpls[e->ntmpls++] = t;
        }
        free(src);
        free(files[i]);
    }
    free(files);
    return problems;
}

static journey_t *load_journey(engine_t *e, const char *dir, const char *file, buf_t *report)
{
    char path[4200], rel[512], err[ERRLEN];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(rel, sizeof rel, "journeys/%s", file);
    size_t len;
    char *src = read_file(path, &len, err);
    if (!src) {
        report_add(report, err);
        return NULL;
    }
    lh_t *h = lh_new(&e->ws->limits, &e->now, err);
    journey_t *j = journey_new();
    int rc = h ? NUDGE_OK : NUDGE_ERR;
    if (h) {
        for (int i = 0; i < e->nattrs; i++) lh_known_attr(h, e->attrs[i]);
        size_t stem = strlen(file) - 4;
        for (int i = 0; i < e->ws->nparams; i++) {
            const ws_param_t *p = &e->ws->params[i];
            if (strlen(p->journey) == stem && strncmp(p->journey, file, stem) == 0)
                lh_param_override(h, p->key, p->value);
        }
        rc = lh_load_journey(h, rel, src, len, j, err);
        if (!j->lh) lh_free(h);
    }
    free(src);
    if (rc != NUDGE_OK) {
        report_add(report, err);
        journey_free(j);
        return NULL;
    }
    return j;
}

/* A [params.X] section that overrides nothing is a typo to report, not
 * a setting to ignore. */
static int check_params(engine_t *e, buf_t *report)
{
    int problems = 0;
    char msg[ERRLEN * 2], path[4200];
    for (int i = 0; i < e->ws->nparams; i++) {
        const ws_param_t *p = &e->ws->params[i];
        int seen = 0;
        for (int k = 0; k < i; k++) seen |= strcmp(e->ws->params[k].journey, p->journey) == 0;
        if (seen) continue;
        snprintf(path, sizeof path, "%s/journeys/%s.lua", e->ws->dir, p->journey);
        const journey_t *j = NULL;
        snprintf(msg, sizeof msg, "journeys/%s.lua", p->journey);
        for (int k = 0; k < e->njourneys; k++)
            if (strcmp(e->journeys[k]->file, msg) == 0) j = e->journeys[k];
        if (access(path, F_OK) != 0)
            snprintf(msg, sizeof msg, "%s/%s: [params.%s]: there is no journeys/%s.lua", e->ws->dir, WS_CONF,
                     p->journey, p->journey);
        else if (j && j->nparams == 0)
            snprintf(msg, sizeof msg, "%s/%s: [params.%s]: journeys/%s.lua has no params { } to override",
                     e->ws->dir, WS_CONF, p->journey, p->journey);
        else
            continue;
        report_add(report, msg);
        problems++;
    }
    return problems;
}

static void add_journey(engine_t *e, journey_t *j, const journey_stats_t *stats)
{
    e->journeys = xrealloc(e->journeys, sizeof *e->journeys * (size_t)(e->njourneys + 1));
    e->stats = xrealloc(e->stats, sizeof *e->stats * (size_t)(e->njourneys + 1));
    if (stats) e->stats[e->njourneys] = *stats;
    else memset(&e->stats[e->njourneys], 0, sizeof *e->stats);
    e->journeys[e->njourneys++] = j;
}

/* Loads journeys/ into e->journeys. On a reload, old[] holds the running
 * versions: a file that fails to load keeps its running journey (taken
 * out of old[], with the error noted), and a journey loaded again keeps
 * its counts. */
static int load_journeys(engine_t *e, journey_t **old, journey_stats_t *old_stats, int nold, buf_t *report)
{
    char dir[4096], msg[ERRLEN * 2];
    int problems = 0, n;
    ws_path(e->ws, "journeys", dir, sizeof dir);
    char **files = lua_files(dir, &n);
    for (int i = 0; i < n; i++) {
        size_t before = report->len;
        journey_t *j = load_journey(e, dir, files[i], report);
        if (!j) {
            problems++;
            snprintf(msg, sizeof msg, "journeys/%s", files[i]);
            for (int k = 0; k < nold; k++)
                if (old[k] && strcmp(old[k]->file, msg) == 0) {
                    journey_t *prev = old[k];
                    old[k] = NULL;
                    free(prev->reload_error);
                    prev->reload_error = xstrndup(report->p + before, report->len - before);
                    size_t n = strlen(prev->reload_error);
                    while (n && prev->reload_error[n - 1] == '\n') prev->reload_error[--n] = '\0';
                    add_journey(e, prev, &old_stats[k]);
                    snprintf(msg, sizeof msg, "journeys/%s: journey '%s' keeps running its previous version",
                             files[i], prev->name);
                    report_add(report, msg);
                    break;
                }
        }
        free(files[i]);
        if (!j) continue;
        for (int k = 0; k < e->njourneys; k++)
            if (strcmp(e->journeys[k]->name, j->name) == 0) {
                snprintf(msg, sizeof msg, "%s:%d: journey '%s' is already defined in %s", j->file, j->line, j->name,
                         e->journeys[k]->file);
                report_add(report, msg);
                problems++;
                journey_free(j);
                j = NULL;
                break;
            }
        if (!j) continue;
        const journey_stats_t *st = NULL;
        for (int k = 0; k < nold && !st; k++)
            if (old[k] && strcmp(old[k]->name, j->name) == 0) st = &old_stats[k];
        add_journey(e, j, st);
    }
    free(files);
    return problems;
}

int engine_load(engine_t *e, buf_t *report)
{
    int problems = load_templates(e, NULL, 0, report) + load_journeys(e, NULL, NULL, 0, report);
    policy_set_journeys(e->policy, e->journeys, e->njourneys);
    return problems + check_params(e, report);
}

/* Members waiting in a step the journey no longer has (or in a journey
 * that is gone: j NULL) leave it, with the reason recorded. */
static int exit_missing(engine_t *e, const char *name, const journey_t *j, const char *why, char *err)
{
    const char **ids = NULL;
    int n = 0;
    if (j) {
        ids = xcalloc((size_t)j->nsteps + 1, sizeof *ids);
        for (int i = 0; i < j->nsteps; i++) ids[n++] = j->steps[i].id;
    }
    int left = store_flights_exit(e->store, name, (const char *const *)ids, n, why, e->now, err);
    free(ids);
    if (left > 0) {
        for (int i = 0; i < e->njourneys; i++)
            if (strcmp(e->journeys[i]->name, name) == 0) e->stats[i].exited += left;
        e->wake_known = 0;
    }
    return left < 0 ? NUDGE_ERR : NUDGE_OK;
}

int engine_reload(engine_t *e, ws_t *ws, buf_t *report, char *err)
{
    policy_t *np = policy_new(ws, e->store, err);
    if (!np) return NUDGE_ERR;
    journey_t **old = e->journeys;
    journey_stats_t *old_stats = e->stats;
    int nold = e->njourneys;
    tmpl_t **oldt = e->tmpls;
    int noldt = e->ntmpls;
    e->journeys = NULL;
    e->stats = NULL;
    e->njourneys = 0;
    e->tmpls = NULL;
    e->ntmpls = 0;
    e->ws = ws;
    int problems = load_templates(e, oldt, noldt, report) + load_journeys(e, old, old_stats, nold, report);
    problems += check_params(e, report);
    for (int i = 0; i < noldt; i++) tmpl_free(oldt[i]);
    free(oldt);
    policy_set_emit(np, deliver, e);
    policy_set_journeys(np, e->journeys, e->njourneys);
    policy_free(e->policy);
    e->policy = np;
    int rc = NUDGE_OK;
    /* what is gone: members in a removed journey, or at a removed step, leave */
    for (int k = 0; k < nold; k++) {
        if (!old[k]) continue;   /* kept running */
        journey_t *nj = find_journey(e, old[k]->name);
        if (rc == NUDGE_OK)
            rc = exit_missing(e, old[k]->name, nj, nj ? "its step was removed by a reload" : "the journey was removed by a reload",
                              err);
        journey_free(old[k]);
    }
    free(old);
    free(old_stats);
    e->wake_known = 0;
    if (rc == NUDGE_OK) rc = engine_first_loaded(e, err);
    if (rc == NUDGE_OK) rc = engine_load_recent(e, err);
    return rc == NUDGE_OK ? problems : NUDGE_ERR;
}

static tmpl_t *find_tmpl(engine_t *e, const char *name)
{
    for (int i = 0; i < e->ntmpls; i++)
        if (strcmp(e->tmpls[i]->name, name) == 0) return e->tmpls[i];
    return NULL;
}

/* ---- placeholders ---- */

typedef struct rctx {
    engine_t *e;
    const journey_t *j;
    const step_t *st;
    member_t *m;
    const occasion_t *o;
} rctx_t;

static const char *kv_find(const kv_t *kv, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0) return kv[i].value;
    return NULL;
}

/* v as "%.15g" writes it; a whole number (an amount of 199.00, most
 * often) without the cost of printf's floating-point path */
static void add_number(buf_t *out, double v)
{
    if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) buf_add_i64(out, (int64_t)v);
    else buf_printf(out, "%.15g", v);
}

static int resolve_occasion(const occasion_t *o, const char *name, buf_t *out)
{
    char d[16];
    if (!o) return -1;
    if (strcmp(name, "date") == 0 && o->day != CAL_NONE) {
        cal_format_date(o->day, d);
        buf_adds(out, d);
    } else if (strcmp(name, "expiring_points") == 0 && o->expires_day != CAL_NONE) {
        buf_add_i64(out, o->points);
    } else if (strcmp(name, "expires_on") == 0 && o->expires_day != CAL_NONE) {
        cal_format_date(o->expires_day, d);
        buf_adds(out, d);
    } else if (strcmp(name, "event_id") == 0 && o->event_id) {
        buf_adds(out, o->event_id);
    } else if (o->event && strcmp(name, "id") != 0 && strcmp(name, "member") != 0) {
        /* {{id}} is always the member's; the event's is {{event_id}} */
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o->event, name);
        if (cJSON_IsString(v)) buf_adds(out, v->valuestring);
        else if (cJSON_IsNumber(v)) add_number(out, v->valuedouble);
        else return -1;
    } else {
        return -1;
    }
    return 0;
}

static int resolve(const char *name, size_t len, buf_t *out, void *ud)
{
    rctx_t *r = ud;
    char key[128];
    if (len >= sizeof key) return -1;
    memcpy(key, name, len);
    key[len] = '\0';
    const char *v;
    if (r->st && (v = kv_find(r->st->data, r->st->ndata, key))) {
        buf_adds(out, v);
        return 0;
    }
    if (resolve_occasion(r->o, key, out) == 0) return 0;
    int f = member_field_lookup(key, len);
    if (f >= 0) {
        member_field_text(r->m, f, r->e->now, out);
        return 0;
    }
    if (member_attr_text(r->m, key, out) == 0) return 0;
    if ((v = kv_find(r->j->params, r->j->nparams, key))) {
        buf_adds(out, v);
        return 0;
    }
    if (strcmp(key, "brand") == 0) {
        buf_adds(out, r->e->ws->brand);
        return 0;
    }
    for (int i = 0; i < r->e->nattrs; i++)
        if (strcmp(r->e->attrs[i], key) == 0) return 0;   /* known, unset for this member */
    return -1;
}

/* ---- running journeys ---- */

static void disable(engine_t *e, journey_t *j, const char *why)
{
    if (j->disabled) return;
    j->disabled = 1;
    snprintf(j->error, sizeof j->error, "%s", why);
    e->faults++;
    const char *ids[] = {"journey", j->name};
    log_kv(LOG_ERROR, "engine", ids, 1, "%s; journey '%s' is disabled; the other journeys go on", why, j->name);
    store_journey_t sj;
    store_journey_get(e->store, j->name, &sj);
    sj.disabled = 1;
    snprintf(sj.error, sizeof sj.error, "%s", why);
    store_journey_put(e->store, j->name, &sj, NULL);
}

/* 1 true, 0 false, -1 the script failed (journey disabled). */
static journey_stats_t *stats_of(engine_t *e, const journey_t *j);

static int test(engine_t *e, journey_t *j, int ref, member_t *m, const occasion_t *o)
{
    if (ref <= 0) return 1;
    stats_of(e, j)->evaluations++;
    char err[ERRLEN];
    int ok;
    if (lh_predicate(j->lh, ref, m, o, &ok, err) != NUDGE_OK) {
        disable(e, j, err);
        return -1;
    }
    return ok;
}

static journey_stats_t *stats_of(engine_t *e, const journey_t *j)
{
    for (int i = 0; i < e->njourneys; i++)
        if (e->journeys[i] == j) return &e->stats[i];
    return NULL;
}

/* A decision after the policy: counted, then to the sink. */
static void deliver(const decision_t *d, void *ud)
{
    engine_t *e = ud;
    journey_stats_t *s = stats_of(e, d->journey);
    if (s && !d->skipped) s->sent[d->channel]++;
    else if (s && strcmp(d->skipped, SKIP_UNREACHABLE) == 0) s->unreachable++;
    else if (s && strcmp(d->skipped, SKIP_SUPPRESSED) == 0) s->suppressed++;
    else if (s && strcmp(d->skipped, SKIP_CAPPED) == 0) s->capped++;
    else if (s && strcmp(d->skipped, SKIP_QUIET_EXPIRED) == 0) s->expired++;
    if (e->sink) e->sink(d, e->sink_ud);
}

/* The message of send step st to m on the first usable channel of
 * chans, keyed e->key. */
static int decide_on(engine_t *e, journey_t *j, const step_t *st, member_t *m, const occasion_t *o,
                     const int *chans, int nchans)
{
    tmpl_t *t = find_tmpl(e, st->tmpl);
    decision_t d = {.journey = j, .step = st, .member = m->rowid, .member_id = m->s[MS_EXT_ID], .zone = m->zone,
                    .channel = -1, .key = e->key.p, .at = e->now, .decided_at = e->now, .fresh = o->fresh};
    if (!t) {
        d.skipped = SKIP_NO_TEMPLATE;   /* nudge check reports it; do not guess */
        deliver(&d, e);
        return NUDGE_OK;
    }
    d.channel = policy_channel(e->policy, j, m, chans, nchans, t->has, &d.skipped);
    if (d.channel < 0) {
        deliver(&d, e);
        return NUDGE_OK;
    }
    d.address = member_address(m, d.channel);
    if (e->render) {
        rctx_t r = {e, j, st, m, o};
        buf_reset(&e->content);
        tmpl_sms_t sms = {engine_sms_signature(e), engine_sms_opt_out(e), !j->service, 0, 0};
        tmpl_render(t, d.channel, resolve, &r, &sms, &e->content, NULL);
        d.content = e->content.p;
        d.segments = sms.segments;
        if (sms.chars > SMS_MAX_CHARS) {   /* nudge check catches the template; long values end here */
            d.skipped = SKIP_TOO_LONG;
            d.content = NULL;
            deliver(&d, e);
            return NUDGE_OK;
        }
        buf_reset(&e->ctx);
        occasion_to_json(o, &e->ctx);
        d.ctx = e->ctx.p;
    }
    char err[ERRLEN];
    if (policy_offer(e->policy, &d, err) != NUDGE_OK) return errf(NULL, "%s", err);
    return NUDGE_OK;
}

static int decide(engine_t *e, journey_t *j, const step_t *st, member_t *m, const occasion_t *o, const char *occ)
{
    const char *parts[] = {j->name, st->id, m->s[MS_EXT_ID], occ};
    buf_reset(&e->key);
    for (int i = 0; i < 4; i++) {
        if (i) buf_addc(&e->key, ':');
        buf_adds(&e->key, parts[i]);
    }
    return decide_on(e, j, st, m, o, st->channels, st->nchannels);
}



int engine_first_loaded(engine_t *e, char *err)
{
    for (int i = 0; i < e->njourneys; i++) {
        journey_t *j = e->journeys[i];
        store_journey_t sj;
        if (!store_journey_get(e->store, j->name, &sj) || sj.first_loaded_at == TIME_NONE) {
            sj.first_loaded_at = e->now;
            if (store_journey_put(e->store, j->name, &sj, err) != NUDGE_OK) return NUDGE_ERR;
        }
        j->first_loaded = sj.first_loaded_at;
        j->paused = sj.paused;
        if (sj.disabled && !j->disabled) {   /* loaded again (a restart, a reload): it runs again */
            sj.disabled = 0;
            sj.error[0] = '\0';
            if (store_journey_put(e->store, j->name, &sj, err) != NUDGE_OK) return NUDGE_ERR;
        }
    }
    return NUDGE_OK;
}

int engine_pause(engine_t *e, const char *name, int paused, char *err)
{
    journey_t *j = find_journey(e, name);
    if (!j) return 0;
    if (j->paused == paused) return 1;
    store_journey_t sj;
    if (!store_journey_get(e->store, j->name, &sj)) sj.first_loaded_at = e->now;
    sj.paused = paused;
    if (store_journey_put(e->store, j->name, &sj, err) != NUDGE_OK) return NUDGE_ERR;
    j->paused = paused;
    if (!paused) {
        /* members whose wait ended while paused continue at the next tick */
        e->wake_overdue = 1;
        e->wake_known = 0;
    }
    return 1;
}

int engine_load_recent(engine_t *e, char *err)
{
    policy_set_live(e->policy, 1);
    return policy_load_recent(e->policy, e->now, err);
}

int engine_unreachable(engine_t *e, int64_t member, int ch, char *err)
{
    int found = store_member_load(e->store, member, &e->m, err);
    if (found <= 0) return found < 0 ? NUDGE_ERR : NUDGE_OK;
    if (ch == CH_WECHAT) e->m.wechat_subscribed = 0;
    else if (ch == CH_SMS) e->m.sms_opt_out = 1;
    else e->m.email_opt_out = 1;
    return store_member_save_reach(e->store, &e->m, err);
}

int engine_flush(engine_t *e, char *err)
{
    return policy_flush(e->policy, e->now, err);
}

/* The instant a wait step ends: calendar days keep the local wall time
 * (or move to the step's at), hours and minutes are added after that. */
static int64_t wait_until(const engine_t *e, const step_t *st, const member_t *m)
{
    int32_t day = tz_local_day(m->zone, e->now) + st->wait_days;
    int secs = st->wait_at_secs >= 0 ? st->wait_at_secs : tz_local_secs(m->zone, e->now);
    int64_t t = tz_local_to_utc(m->zone, day, secs) + st->wait_secs;
    if (t <= e->now) t = tz_local_to_utc(m->zone, day + 1, secs) + st->wait_secs;
    return t;
}

static int run_steps(engine_t *e, journey_t *j, member_t *m, const occasion_t *o, const char *occ, int from,
                     int in_flight, int64_t entered_at)
{
    char err[ERRLEN];
    for (int i = from; i < j->nsteps; i++) {
        const step_t *st = &j->steps[i];
        int ok = test(e, j, st->when_ref, m, o);
        if (ok < 0) return NUDGE_OK;     /* disabled: the member stays where they were */
        if (!ok) continue;
        if (st->kind == STEP_SEND) {
            if (decide(e, j, st, m, o, occ) != NUDGE_OK) return NUDGE_ERR;
        } else if (st->kind == STEP_WAIT) {
            if (i + 1 >= j->nsteps) break;
            store_flight_t f;
            memset(&f, 0, sizeof f);
            snprintf(f.journey, sizeof f.journey, "%s", j->name);
            f.member = m->rowid;
            snprintf(f.occ, sizeof f.occ, "%s", occ);
            f.step = i + 1;
            snprintf(f.step_id, sizeof f.step_id, "%s", j->steps[i + 1].id);
            f.wake_at = wait_until(e, st, m);
            f.entered_at = entered_at;
            buf_init(&f.ctx);
            occasion_t kept = *o;
            if (st->until) kept.received = NULL;   /* o.received speaks of the latest wait only */
            occasion_to_json(&kept, &f.ctx);
            int rc = store_flight_put(e->store, &f, err);
            buf_free(&f.ctx);
            if (e->wake_known && (e->next_wake == TIME_NONE || f.wake_at < e->next_wake)) e->next_wake = f.wake_at;
            if (rc != NUDGE_OK) return errf(NULL, "%s", err);
            return NUDGE_OK;
        } else {
            break;
        }
    }
    if (in_flight && store_flight_delete(e->store, j->name, m->rowid, err) < 0) return NUDGE_ERR;
    stats_of(e, j)->completed++;
    return NUDGE_OK;
}

static int enter(engine_t *e, journey_t *j, member_t *m, const occasion_t *o, const char *occ, char *err)
{
    journey_stats_t *s = stats_of(e, j);
    if (j->disabled || j->paused) return NUDGE_OK;
    s->candidates++;
    if (journey_has_waits(j) && store_flight_exists(e->store, j->name, m->rowid)) {
        s->busy++;
        return NUDGE_OK;
    }
    if (j->reentry == REENTRY_ONCE && store_entry_exists(e->store, j->name, m->rowid)) return NUDGE_OK;
    if (test(e, j, j->audience_ref, m, o) != 1) return NUDGE_OK;
    if (j->reentry == REENTRY_ONCE && store_entry_add(e->store, j->name, m->rowid, occ, e->now, err) < 0)
        return NUDGE_ERR;
    s->entered++;
    return run_steps(e, j, m, o, occ, 0, 0, e->now);
}

static int md_of(int32_t day)
{
    int y, m, d;
    cal_to_ymd(day, &y, &m, &d);
    return m * 100 + d;
}

static int run_candidates(engine_t *e, journey_t *j, int kind, const tz_t *zone, int32_t lo, int32_t hi,
                          int32_t extra, occasion_t *o, const char *occ, char *err)
{
    store_iter_t *it = store_candidates(e->store, kind, tz_name(zone), lo, hi, extra, err);
    if (!it) return NUDGE_ERR;
    int rc, result = NUDGE_OK;
    int64_t value;
    while (!j->disabled && (rc = store_iter_next(it, &e->m, &value, err)) == 1) {
        if (kind == CAND_POINTS_EXPIRY) {
            o->points = value;
            o->expires_day = lo;
        }
        if (enter(e, j, &e->m, o, occ, err) != NUDGE_OK) {
            result = NUDGE_ERR;
            break;
        }
    }
    if (rc < 0) result = NUDGE_ERR;
    store_iter_free(it);
    return result;
}

int engine_moment(engine_t *e, journey_t *j, const tz_t *zone, int32_t day, char *err)
{
    if (j->disabled || j->paused || !journey_fires_on(j, day) || e->now < j->first_loaded) return NUDGE_OK;
    occasion_t o = {.day = day, .expires_day = CAL_NONE};
    char occ[16];
    cal_format_date(day, occ);
    const trigger_t *t = &j->trig;
    int32_t lo, hi;
    if (t->kind == TRIG_AFTER || t->kind == TRIG_BEFORE) {
        if (!journey_anchor_range(j, day, &lo, &hi)) return NUDGE_OK;
        if (t->anchor == ANCHOR_POINTS_EXPIRY) {
            for (int32_t d = lo; d <= hi; d++)
                if (run_candidates(e, j, CAND_POINTS_EXPIRY, zone, d, d, 0, &o, occ, err) != NUDGE_OK)
                    return NUDGE_ERR;
            return NUDGE_OK;
        }
        int kind = t->anchor == ANCHOR_JOINED ? CAND_JOIN_DAY : CAND_LAST_ORDER_DAY;
        return run_candidates(e, j, kind, zone, lo, hi, 0, &o, occ, err);
    }
    if (t->kind == TRIG_YEARLY) {
        int y, m, d;
        cal_to_ymd(day, &y, &m, &d);
        int md = md_of(day);
        /* Feb 29 anniversaries fall on Feb 28 in other years */
        int alt = (m == 2 && d == 28 && !cal_is_leap(y)) ? 229 : md;
        int kind = t->anchor == ANCHOR_BIRTHDAY ? CAND_BIRTH_MD : CAND_JOIN_MD;
        return run_candidates(e, j, kind, zone, md, alt, day, &o, occ, err);
    }
    return run_candidates(e, j, CAND_ALL, zone, 0, 0, 0, &o, occ, err);
}

int engine_instant(engine_t *e, journey_t *j, char *err)
{
    if (j->paused || e->now < j->first_loaded) return NUDGE_OK;
    int n;
    char **zones = store_zones(e->store, &n);
    int rc = NUDGE_OK;
    for (int i = 0; i < n && rc == NUDGE_OK; i++) {
        const tz_t *z = tz_get(zones[i], NULL);
        if (!z) continue;
        occasion_t o = {.day = tz_local_day(z, e->now), .expires_day = CAL_NONE};
        char occ[16];
        cal_format_date(o.day, occ);
        rc = run_candidates(e, j, CAND_ALL, z, 0, 0, 0, &o, occ, err);
    }
    store_strv_free(zones, n);
    return rc;
}

int engine_fallback(engine_t *e, const store_msg_t *msg, char *err)
{
    journey_t *j = find_journey(e, msg->journey);
    int idx = j ? journey_step_index(j, msg->step) : -1;
    if (idx < 0) return NUDGE_OK;   /* the journey changed since: nothing to fall back on */
    const step_t *st = &j->steps[idx];
    int from = -1;
    for (int i = 0; i < st->nchannels; i++)
        if (strcmp(channel_names[st->channels[i]], msg->channel) == 0) from = i;
    if (from < 0 || from + 1 >= st->nchannels) return NUDGE_OK;   /* no channel after it */
    int found = store_member_load(e->store, msg->member, &e->m, err);
    if (found <= 0) return found < 0 ? NUDGE_ERR : NUDGE_OK;
    occasion_t o;
    cJSON *owned = NULL;
    occasion_from_json(&o, msg->ctx.len ? msg->ctx.p : "{}", &owned);
    /* a key of its own: the first message keeps its row, with its failure */
    buf_reset(&e->key);
    buf_adds(&e->key, msg->key);
    buf_addc(&e->key, '/');
    buf_adds(&e->key, channel_names[st->channels[from + 1]]);
    int rc = decide_on(e, j, st, &e->m, &o, st->channels + from + 1, st->nchannels - from - 1);
    cJSON_Delete(owned);
    if (rc != NUDGE_OK) return errf(err, "falling back from %s for %s", msg->channel, msg->member_id);
    return policy_flush(e->policy, e->now, err);
}

static journey_t *find_journey(engine_t *e, const char *name)
{
    for (int i = 0; i < e->njourneys; i++)
        if (strcmp(e->journeys[i]->name, name) == 0) return e->journeys[i];
    return NULL;
}

/* The member continues after the wait that handed them on to step idx. */
static int resume_flight(engine_t *e, journey_t *j, store_flight_t *f, int idx, const cJSON *received)
{
    occasion_t o;
    cJSON *owned;
    occasion_from_json(&o, f->ctx.p, &owned);
    if (received) o.received = received;
    int rc = run_steps(e, j, &e->m, &o, f->occ, idx, 1, f->entered_at);
    cJSON_Delete(owned);
    return rc;
}

int engine_wakeups(engine_t *e, char *err)
{
    if (!e->due) {
        e->due = xcalloc(WAKE_BATCH, sizeof *e->due);
        for (int i = 0; i < WAKE_BATCH; i++) buf_init(&e->due[i].ctx);
    }
    store_flight_t *due = e->due;
    int rc = NUDGE_OK;
    int64_t next = engine_next_wake(e);
    if (!e->wake_overdue && (next == TIME_NONE || next > e->now)) return NUDGE_OK;
    e->wake_overdue = 0;
    e->wake_known = 0;   /* ask the store again after this round */
    store_flight_t last;
    memset(&last, 0, sizeof last);
    int have_last = 0;
    for (;;) {
        int n = store_flights_due(e->store, e->now, have_last ? &last : NULL, due, WAKE_BATCH, err);
        if (n <= 0) {
            if (n < 0) rc = NUDGE_ERR;
            break;
        }
        for (int i = 0; i < n && rc == NUDGE_OK; i++) {
            store_flight_t *f = &due[i];
            journey_t *j = find_journey(e, f->journey);
            if (j && (j->disabled || j->paused)) continue;   /* waits until fixed or resumed */
            int idx = j ? journey_step_index(j, f->step_id) : -1;
            if (!j || idx < 0) {
                /* a journey or step removed while nudge was stopped */
                rc = exit_missing(e, f->journey, j, j ? "its step no longer exists" : "the journey no longer exists", err);
                continue;
            }
            if (store_member_load(e->store, f->member, &e->m, err) != 1) {
                rc = store_flight_delete(e->store, f->journey, f->member, err) < 0 ? NUDGE_ERR : NUDGE_OK;
                continue;
            }
            rc = resume_flight(e, j, f, idx, NULL);
        }
        snprintf(last.journey, sizeof last.journey, "%s", due[n - 1].journey);
        last.member = due[n - 1].member;
        last.wake_at = due[n - 1].wake_at;
        have_last = 1;
        if (rc != NUDGE_OK || n < WAKE_BATCH) break;
    }
    return rc;
}

/* Members waiting in a wait { until = type } continue now (journeys that
 * are paused note the event and continue when resumed). */
static int wake_waiting(engine_t *e, const event_t *ev, char *err)
{
    store_flight_t f;
    buf_init(&f.ctx);
    int rc = NUDGE_OK;
    for (int i = 0; i < e->njourneys && rc == NUDGE_OK; i++) {
        journey_t *j = e->journeys[i];
        if (j->disabled || !journey_waits_for(j, ev->type)) continue;
        int found = store_flight_get(e->store, j->name, e->m.rowid, &f, err);
        if (found < 0) rc = NUDGE_ERR;
        if (found != 1) continue;
        int idx = journey_step_index(j, f.step_id);
        const step_t *w = journey_until_before(j, idx);
        if (!w || strcmp(w->until, ev->type) != 0) continue;
        if (!j->paused) {
            rc = resume_flight(e, j, &f, idx, ev->json);
            continue;
        }
        occasion_t o;
        cJSON *owned;
        occasion_from_json(&o, f.ctx.p, &owned);
        o.received = ev->json;
        occasion_to_json(&o, &f.ctx);
        cJSON_Delete(owned);
        f.wake_at = e->now;
        if (store_flight_put(e->store, &f, err) != NUDGE_OK) rc = NUDGE_ERR;
    }
    buf_free(&f.ctx);
    return rc;
}

void engine_own(engine_t *e, int64_t lo, int64_t hi, int takes_new, int64_t new_floor)
{
    e->part = 1;
    e->own_lo = lo;
    e->own_hi = hi;
    e->takes_new = takes_new;
    store_own(e->store, lo, hi, new_floor);
}

int engine_owns(engine_t *e, const char *member_id)
{
    if (!e->part) return 1;
    int64_t id = store_member_rowid(e->store, member_id);
    return id > 0 ? id >= e->own_lo && id <= e->own_hi : e->takes_new;
}

int engine_event(engine_t *e, event_t *ev, int trigger, const tz_t **new_zone, char *err)
{
    int created = 0;
    /* journeys triggered by this event read the member; exits need only
     * the rowid */
    int listened = 0;
    for (int i = 0; trigger && i < e->njourneys && !listened; i++)
        listened = (e->journeys[i]->trig.kind == TRIG_EVENT && strcmp(e->journeys[i]->trig.event, ev->type) == 0) ||
                   journey_waits_for(e->journeys[i], ev->type);
    int r = evt_apply(e->store, e->ws, ev, &e->m, listened, &created, err);
    if (r != EVENT_APPLIED) return r;
    if (created && new_zone) *new_zone = e->m.zone;
    if (!trigger) return r;
    for (int i = 0; i < e->njourneys; i++) {
        journey_t *j = e->journeys[i];
        if (j->disabled || !journey_exits_on(j, ev->type)) continue;
        int n = store_flight_delete(e->store, j->name, e->m.rowid, err);
        if (n < 0) return NUDGE_ERR;
        e->stats[i].exited += n;
    }
    if (wake_waiting(e, ev, err) != NUDGE_OK) return NUDGE_ERR;
    for (int i = 0; i < e->njourneys; i++) {
        journey_t *j = e->journeys[i];
        if (j->trig.kind != TRIG_EVENT || strcmp(j->trig.event, ev->type) != 0) continue;
        occasion_t o = {.day = CAL_NONE, .expires_day = CAL_NONE, .event = ev->json,
                        .event_json = ev->printed ? ev->text : NULL, .event_id = ev->id, .fresh = 1};
        if (enter(e, j, &e->m, &o, ev->id, err) != NUDGE_OK) return NUDGE_ERR;
    }
    return r;
}

int engine_member_json(engine_t *e, const char *id, buf_t *out, char *err)
{
    member_t *m = &e->m;
    int found = store_member_find(e->store, id, m, err);
    if (found != 1) return found;
    m->points_loaded = 0;
    buf_t v;
    buf_init(&v);
    buf_addc(out, '{');
    for (int f = 0; f < MF_COUNT; f++) {
        buf_reset(&v);
        buf_add(&v, "", 0);
        member_field_text(m, f, e->now, &v);
        if (f) buf_addc(out, ',');
        buf_add_json_str(out, member_fields[f].name);
        buf_addc(out, ':');
        mftype_t t = member_fields[f].type;
        if (t == MFT_BOOL) {
            buf_adds(out, strcmp(v.p, "1") == 0 ? "true" : "false");
        } else if (t == MFT_TAGS) {
            buf_addc(out, '[');
            int n = 0;
            for (const char *p = v.p; *p;) {
                const char *end = strchr(p, ';');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                while (len && (*p == ' ')) p++, len--;
                while (len && p[len - 1] == ' ') len--;
                if (len) {
                    buf_t tag;
                    buf_init(&tag);
                    buf_add(&tag, p, len);
                    buf_addc(&tag, '\0');
                    if (n++) buf_addc(out, ',');
                    buf_add_json_str(out, tag.p);
                    buf_free(&tag);
                }
                if (!end) break;
                p = end + 1;
            }
            buf_addc(out, ']');
        } else if (!v.p[0]) {
            buf_adds(out, "null");
        } else if (t == MFT_INT || t == MFT_MONEY) {
            buf_adds(out, v.p);
        } else {
            buf_add_json_str(out, v.p);
        }
    }
    buf_adds(out, ",\"attributes\":");
    buf_adds(out, m->s[MS_ATTRS] && *m->s[MS_ATTRS] ? m->s[MS_ATTRS] : "{}");
    buf_adds(out, ",\"channels\":{");
    for (int ch = 0; ch < CH_COUNT; ch++)
        buf_printf(out, "%s\"%s\":%s", ch ? "," : "", channel_names[ch], member_reachable(m, ch) ? "true" : "false");
    buf_adds(out, "}}");
    buf_free(&v);
    return 1;
}

static void member_message_row(const char *journey, const char *status, int64_t n, int64_t last, void *ud)
{
    cJSON *by = ud;
    cJSON *j = cJSON_GetObjectItemCaseSensitive(by, journey);
    if (!j) j = cJSON_AddObjectToObject(by, journey);
    cJSON_AddNumberToObject(j, status, (double)n);
    cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "last_at");
    if (!l || last > (int64_t)l->valuedouble) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "last_at");
        cJSON_AddNumberToObject(j, "last_at", (double)last);
    }
}

static void add_time(cJSON *o, const char *key, const tz_t *zone, int64_t t)
{
    char iso[40];
    tz_format_iso(zone, t, iso);
    cJSON_AddStringToObject(o, key, iso);
}

int engine_member_journeys_json(engine_t *e, const char *id, buf_t *out, char *err)
{
    member_t *m = &e->m;
    int found = store_member_find(e->store, id, m, err);
    if (found != 1) return found;
    cJSON *by = cJSON_CreateObject();
    if (store_member_messages(e->store, m->rowid, member_message_row, by, err) != NUDGE_OK) {
        cJSON_Delete(by);
        return NUDGE_ERR;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "member", id);
    cJSON *list = cJSON_AddArrayToObject(doc, "journeys");
    store_flight_t f;
    buf_init(&f.ctx);
    int rc = NUDGE_OK;
    for (int i = 0; i < e->njourneys && rc == NUDGE_OK; i++) {
        journey_t *j = e->journeys[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(list, o);
        cJSON_AddStringToObject(o, "journey", j->name);
        cJSON_AddStringToObject(o, "state", j->disabled ? "disabled" : j->paused ? "paused" : "running");
        int in = store_flight_get(e->store, j->name, m->rowid, &f, err);
        if (in < 0) rc = NUDGE_ERR;
        cJSON_AddBoolToObject(o, "in_journey", in == 1);
        if (in == 1) {
            /* the member waits to go on with step_id: show the wait they are in */
            int idx = journey_step_index(j, f.step_id);
            const step_t *w = idx > 0 ? &j->steps[idx - 1] : NULL;
            cJSON_AddStringToObject(o, "waiting_in", w ? w->id : f.step_id);
            cJSON_AddStringToObject(o, "next_step", f.step_id);
            add_time(o, "entered_at", m->zone, f.entered_at);
            add_time(o, "wakes_at", m->zone, f.wake_at);
            if (w && w->until) cJSON_AddStringToObject(o, "waiting_for", w->until);
        }
        if (j->reentry == REENTRY_ONCE)
            cJSON_AddBoolToObject(o, "entered_before", store_entry_exists(e->store, j->name, m->rowid));
        char step[64], reason[256];
        int64_t at;
        if (store_exit_last(e->store, m->rowid, j->name, step, sizeof step, reason, sizeof reason, &at)) {
            cJSON *left = cJSON_AddObjectToObject(o, "last_exit");
            cJSON_AddStringToObject(left, "step", step);
            cJSON_AddStringToObject(left, "reason", reason);
            add_time(left, "at", m->zone, at);
        }
        cJSON *msgs = cJSON_DetachItemFromObjectCaseSensitive(by, j->name);
        if (!msgs) msgs = cJSON_CreateObject();
        cJSON *l = cJSON_DetachItemFromObjectCaseSensitive(msgs, "last_at");
        cJSON_AddItemToObject(o, "messages", msgs);
        if (l) add_time(o, "last_message_at", m->zone, (int64_t)l->valuedouble);
        cJSON_Delete(l);
    }
    buf_free(&f.ctx);
    cJSON_Delete(by);
    if (rc == NUDGE_OK) {
        char *txt = cJSON_PrintUnformatted(doc);
        buf_adds(out, txt);
        cJSON_free(txt);
    }
    cJSON_Delete(doc);
    return rc == NUDGE_OK ? 1 : NUDGE_ERR;
}

typedef struct flights_of {
    const char *journey;
    buf_t *out;
    int n;
} flights_of_t;

static void flight_count(const char *j, const char *step, int64_t n, void *ud)
{
    flights_of_t *f = ud;
    if (strcmp(j, f->journey) != 0) return;
    if (f->n++) buf_addc(f->out, ',');
    buf_add_json_str(f->out, step);
    buf_printf(f->out, ":%lld", (long long)n);
}

void engine_journeys_json(engine_t *e, buf_t *out)
{
    buf_adds(out, "{\"journeys\":[");
    for (int i = 0; i < e->njourneys; i++) {
        const journey_t *j = e->journeys[i];
        const journey_stats_t *s = &e->stats[i];
        if (i) buf_addc(out, ',');
        buf_adds(out, "{\"name\":");
        buf_add_json_str(out, j->name);
        buf_adds(out, ",\"file\":");
        buf_add_json_str(out, j->file);
        /* the version running, which a failed reload leaves in place */
        buf_printf(out, ",\"version\":\"%016llx\",\"state\":\"%s\",\"error\":", (unsigned long long)j->version,
                   j->disabled ? "disabled" : j->paused ? "paused" : "running");
        if (j->disabled) buf_add_json_str(out, j->error);
        else buf_adds(out, "null");
        buf_adds(out, ",\"reload_error\":");
        if (j->reload_error) buf_add_json_str(out, j->reload_error);
        else buf_adds(out, "null");
        buf_adds(out, ",\"in_flight\":{");
        flights_of_t f = {j->name, out, 0};
        store_flight_counts(e->store, flight_count, &f);
        buf_printf(out, "},\"entered\":%lld,\"decided\":{", (long long)s->entered);
        for (int ch = 0; ch < CH_COUNT; ch++)
            buf_printf(out, "%s\"%s\":%lld", ch ? "," : "", channel_names[ch], (long long)s->sent[ch]);
        buf_printf(out, "},\"not_sent\":{\"unreachable\":%lld,\"suppressed\":%lld,\"capped\":%lld,"
                        "\"quiet_hours_expired\":%lld},\"exited\":%lld}",
                   (long long)s->unreachable, (long long)s->suppressed, (long long)s->capped, (long long)s->expired,
                   (long long)s->exited);
    }
    buf_adds(out, "]}");
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void add_label(buf_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') buf_addc(out, '\\');
        if (*v == '\n') buf_adds(out, "\\n");
        else buf_addc(out, *v);
    }
}

void engine_metrics(const engine_t *e, buf_t *out)
{
    static const char *const reasons[] = {"unreachable", "suppressed", "capped", "quiet_hours_expired"};
    buf_adds(out, "# HELP nudge_journey_entered_total Members who entered each journey.\n"
                  "# TYPE nudge_journey_entered_total counter\n");
    for (int i = 0; i < e->njourneys; i++) {
        buf_adds(out, "nudge_journey_entered_total{journey=\"");
        add_label(out, e->journeys[i]->name);
        buf_printf(out, "\"} %lld\n", (long long)e->stats[i].entered);
    }
    buf_adds(out, "# HELP nudge_messages_decided_total Messages decided, by journey and channel.\n"
                  "# TYPE nudge_messages_decided_total counter\n");
    for (int i = 0; i < e->njourneys; i++)
        for (int ch = 0; ch < CH_COUNT; ch++) {
            buf_adds(out, "nudge_messages_decided_total{journey=\"");
            add_label(out, e->journeys[i]->name);
            buf_printf(out, "\",channel=\"%s\"} %lld\n", channel_names[ch], (long long)e->stats[i].sent[ch]);
        }
    buf_adds(out, "# HELP nudge_messages_not_sent_total Messages not sent, by journey and reason.\n"
                  "# TYPE nudge_messages_not_sent_total counter\n");
    for (int i = 0; i < e->njourneys; i++) {
        const journey_stats_t *s = &e->stats[i];
        const int64_t n[] = {s->unreachable, s->suppressed, s->capped, s->expired};
        for (int r = 0; r < 4; r++) {
            buf_adds(out, "nudge_messages_not_sent_total{journey=\"");
            add_label(out, e->journeys[i]->name);
            buf_printf(out, "\",reason=\"%s\"} %lld\n", reasons[r], (long long)n[r]);
        }
    }
    int disabled = 0, paused = 0;
    for (int i = 0; i < e->njourneys; i++) {
        disabled += e->journeys[i]->disabled;
        paused += !e->journeys[i]->disabled && e->journeys[i]->paused;
    }
    buf_printf(out, "# HELP nudge_journeys Journeys loaded: running, paused by an operator, disabled by an error.\n"
                    "# TYPE nudge_journeys gauge\nnudge_journeys{state=\"running\"} %d\n"
                    "nudge_journeys{state=\"paused\"} %d\nnudge_journeys{state=\"disabled\"} %d\n",
               e->njourneys - disabled - paused, paused, disabled);
    buf_printf(out, "# HELP nudge_lua_errors_total Journey scripts that failed (error, loop, memory).\n"
                    "# TYPE nudge_lua_errors_total counter\nnudge_lua_errors_total %d\n", e->faults);
}

/* ---- checks ---- */

typedef struct chk {
    engine_t *e;
    journey_t *j;
    const step_t *st;
    const tmpl_t *t;
    buf_t *report;
    int problems;
} chk_t;

static void chk_placeholder(const char *name, size_t len, void *ud)
{
    chk_t *c = ud;
    char key[128], msg[ERRLEN * 2];
    snprintf(key, sizeof key, "%.*s", (int)len, name);
    if (kv_find(c->st->data, c->st->ndata, key) || journey_occasion_has(c->j, key) ||
        member_field_lookup(key, len) >= 0 || kv_find(c->j->params, c->j->nparams, key) ||
        strcmp(key, "brand") == 0)
        return;
    for (int i = 0; i < c->e->nattrs; i++)
        if (strcmp(c->e->attrs[i], key) == 0) return;
    snprintf(msg, sizeof msg,
             "%s: {{%s}} is not a member field, custom attribute, journey parameter or step data "
             "(used by %s:%d, step '%s')", c->t->file, key, c->j->file, c->st->line, c->st->id);
    report_add(c->report, msg);
    c->problems++;
}

static void chk_field(int line, const char *field, void *ud)
{
    chk_t *c = ud;
    char msg[ERRLEN];
    snprintf(msg, sizeof msg, "%s:%d: '%s' is not a member field or a custom attribute of this workspace",
             c->j->file, line, field);
    report_add(c->report, msg);
    c->problems++;
}

/* An SMS template: 【】 is the signature's, and the fixed text must fit. */
static int check_sms(engine_t *e, const tmpl_t *t, buf_t *report)
{
    char msg[ERRLEN * 2];
    int problems = 0;
    if (strstr(t->sms_text, "【") || strstr(t->sms_text, "】")) {
        snprintf(msg, sizeof msg, "%s: sms: 【】 is reserved for the signature, which nudge adds (【%s】); "
                 "remove it from the text", t->file, engine_sms_signature(e));
        report_add(report, msg);
        problems++;
    }
    const char *provider = ws_get(e->ws, "sms", "provider");
    if (provider && strcmp(provider, "aliyun") == 0 && !t->sms_code) {
        snprintf(msg, sizeof msg, "%s: sms needs template_code = \"SMS_...\": with [sms] provider = aliyun, "
                 "Alibaba sends only templates approved in its console", t->file);
        report_add(report, msg);
        problems++;
    }
    buf_t fixed, framed;
    buf_init(&fixed);
    buf_init(&framed);
    buf_add(&fixed, "", 0);
    tmpl_expand(t->sms_text, NULL, NULL, &fixed, NULL);   /* placeholders count nothing */
    smstext_compose(engine_sms_signature(e), fixed.p, engine_sms_opt_out(e), 1, &framed);
    size_t n = smstext_chars(framed.p);
    if (n > SMS_MAX_CHARS) {
        snprintf(msg, sizeof msg, "%s: sms: %zu characters before any placeholder is filled (signature and "
                 "opt-out text included); an SMS may have at most %d", t->file, n, SMS_MAX_CHARS);
        report_add(report, msg);
        problems++;
    }
    buf_free(&fixed);
    buf_free(&framed);
    return problems;
}

const char *engine_sms_signature(const engine_t *e)
{
    const char *s = ws_get(e->ws, "sms", "signature");
    return s && *s ? s : e->ws->brand;
}

const char *engine_sms_opt_out(const engine_t *e)
{
    const char *s = ws_get(e->ws, "sms", "opt_out");
    const char *provider = ws_get(e->ws, "sms", "provider");
    if (s) return s;
    /* Alibaba's promotional templates end with its own wording */
    return provider && strcmp(provider, "aliyun") == 0 ? SMS_ALIYUN_OPT_OUT : SMS_DEFAULT_OPT_OUT;
}

int engine_check(engine_t *e, buf_t *report)
{
    chk_t c = {.e = e, .report = report};
    char msg[ERRLEN * 2];
    for (int i = 0; i < e->ntmpls; i++)
        if (e->tmpls[i]->has[CH_SMS]) c.problems += check_sms(e, e->tmpls[i], report);
    for (int i = 0; i < e->njourneys; i++) {
        journey_t *j = c.j = e->journeys[i];
        size_t len;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", e->ws->dir, j->file);
        char *src = read_file(path, &len, NULL);
        if (src) {
            lh_unknown_fields(j->lh, j->audience_ref, src, chk_field, &c);
            for (int k = 0; k < j->nsteps; k++) lh_unknown_fields(j->lh, j->steps[k].when_ref, src, chk_field, &c);
        }
        free(src);
        for (int k = 0; k < j->nsteps; k++) {
            const step_t *st = c.st = &j->steps[k];
            if (st->kind != STEP_SEND) continue;
            const tmpl_t *t = c.t = find_tmpl(e, st->tmpl);
            if (!t) {
                snprintf(msg, sizeof msg, "%s:%d: send '%s': unknown template '%s' (no templates/%s.lua)", j->file,
                         st->line, st->id, st->tmpl, st->tmpl);
                report_add(report, msg);
                c.problems++;
                continue;
            }
            for (int ch = 0; ch < st->nchannels; ch++) {
                if (t->has[st->channels[ch]]) {
                    tmpl_placeholders(t, st->channels[ch], chk_placeholder, &c);
                    continue;
                }
                snprintf(msg, sizeof msg, "%s:%d: send '%s': template '%s' has no %s version (add %s = ... to %s)",
                         j->file, st->line, st->id, st->tmpl, channel_names[st->channels[ch]],
                         channel_names[st->channels[ch]], t->file);
                report_add(report, msg);
                c.problems++;
            }
        }
    }
    return c.problems;
}
