/* disp.c - see disp.h. The curl/libevent glue follows the pattern of
 * curl's hiperfifo example: curl tells us which sockets to watch and when
 * its timer is due; libevent tells curl when they fire. */
#include "disp.h"
#include "hist.h"
#include "log.h"
#include "conn.h"
#include "member.h"

#include <curl/curl.h>
#include <event2/event_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define CLAIM_MAX 64
/* upper bounds, in seconds, of the provider latency histogram */
static const double lat_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

typedef struct lane {
    disp_t *d;
    const conn_ops_t *ops;
    conn_t *c;
    int concurrency, inflight, max_attempts;
    long timeout_ms;
    double rate, tokens;       /* rate 0: no limit */
    int64_t refill_us;
    int64_t backoff_ms, backoff_max_ms;
    int authing;
    int64_t auth_retry_at;     /* after a failed token fetch */
    int64_t paused_until;      /* daily quota spent */
    struct event *timer;       /* the next look */
    CURL **idle;               /* easy handles kept for reuse (their connections stay warm) */
    int nidle;
    store_msg_t *claim;        /* claim buffer, CLAIM_MAX */
    /* for /metrics: outcomes of attempts, and how long the provider took */
    int64_t outcomes[CONN_FATAL + 1];
    hist_t lat;
} lane_t;

typedef struct xfer {
    lane_t *l;
    CURL *h;
    conn_xfer_t x;
    store_msg_t m;
    int auth;
    char error[CURL_ERROR_SIZE];
    struct xfer *prev, *next;  /* running transfers */
} xfer_t;

struct disp {
    struct event_base *base;
    store_t *store;
    const ws_t *ws;
    disp_hooks_t hooks;
    CURLM *multi;
    struct event *curl_timer;
    lane_t lanes[CH_COUNT];
    int nlanes, draining, inflight;
    xfer_t *running;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void touch(disp_t *d)
{
    if (d->hooks.touch) d->hooks.touch(d->hooks.ud);
}

/* ---- curl <-> libevent ---- */

typedef struct sock {
    struct event ev;           /* reassigned in place when curl's interest changes */
    int added;
} sock_t;

static void check_done(disp_t *d);

static void on_socket(evutil_socket_t fd, short what, void *ud)
{
    disp_t *d = ud;
    int running, action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(d->multi, fd, action, &running);
    check_done(d);
}

static int socket_cb(CURL *h, curl_socket_t fd, int what, void *ud, void *sockp)
{
    (void)h;
    disp_t *d = ud;
    sock_t *s = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            if (s->added) event_del(&s->ev);
            free(s);
            curl_multi_assign(d->multi, fd, NULL);
        }
        return 0;
    }
    short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
    if (!s) {
        s = xcalloc(1, sizeof *s);
        curl_multi_assign(d->multi, fd, s);
    } else if (s->added) {
        event_del(&s->ev);
    }
    event_assign(&s->ev, d->base, fd, kind, on_socket, d);
    event_add(&s->ev, NULL);
    s->added = 1;
    return 0;
}

static void on_curl_timer(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    disp_t *d = ud;
    int running;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(d);
}

static int timer_cb(CURLM *multi, long ms, void *ud)
{
    (void)multi;
    disp_t *d = ud;
    if (ms < 0) {
        evtimer_del(d->curl_timer);
    } else {
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(d->curl_timer, &tv);
    }
    return 0;
}

/* ---- lanes ---- */

static void lane_look_in(lane_t *l, int64_t us)
{
    struct timeval tv = {us > 0 ? us / 1000000 : 0, us > 0 ? us % 1000000 : 0};
    evtimer_add(l->timer, &tv);
}

static void pump(lane_t *l);

static void on_lane_timer(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    pump(ud);
}

static xfer_t *xfer_new(lane_t *l)
{
    xfer_t *t = xcalloc(1, sizeof *t);
    t->l = l;
    t->h = l->nidle ? l->idle[--l->nidle] : curl_easy_init();
    conn_xfer_init(&t->x);
    store_msg_init(&t->m);
    curl_easy_setopt(t->h, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->h, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(t->h, CURLOPT_TIMEOUT_MS, l->timeout_ms);
    curl_easy_setopt(t->h, CURLOPT_CONNECTTIMEOUT_MS, l->timeout_ms);
    return t;
}

static void xfer_free(xfer_t *t)
{
    lane_t *l = t->l;
    if (l->nidle < l->concurrency + 1) {
        curl_easy_reset(t->h);
        l->idle[l->nidle++] = t->h;
    } else {
        curl_easy_cleanup(t->h);
    }
    conn_xfer_reset(&t->x);
    buf_free(&t->x.body);
    buf_free(&t->x.response);
    store_msg_free(&t->m);
    free(t);
}

static void start(xfer_t *t)
{
    disp_t *d = t->l->d;
    t->next = d->running;
    if (d->running) d->running->prev = t;
    d->running = t;
    t->l->inflight++;
    d->inflight++;
    curl_multi_add_handle(t->l->d->multi, t->h);
}

/* The next local midnight of the workspace: when daily quotas reset. */
static int64_t next_midnight(const disp_t *d, int64_t now)
{
    return tz_local_to_utc(d->ws->tz, tz_local_day(d->ws->tz, now) + 1, 0);
}

static int64_t backoff(const lane_t *l, int attempts)
{
    int64_t ms = l->backoff_ms;
    for (int i = 1; i < attempts && ms < l->backoff_max_ms; i++) ms *= 2;
    if (ms > l->backoff_max_ms) ms = l->backoff_max_ms;
    /* full jitter between half and all of it, so retries spread out */
    ms = ms / 2 + (int64_t)(rand() % (int)(ms / 2 + 1));
    return ms < 1000 ? 1 : ms / 1000;
}

static void finish(lane_t *l, xfer_t *t, const conn_result_t *r)
{
    disp_t *d = l->d;
    int64_t now = now_us() / 1000000;
    const store_msg_t *m = &t->m;
    char reason[300], err[ERRLEN];
    const char *status = "dead";
    int64_t at = now;
    snprintf(reason, sizeof reason, "%s", r->reason);
    switch (r->verdict) {
    case CONN_SENT:
        status = "sent";
        reason[0] = '\0';
        break;
    case CONN_RETRY:
    case CONN_REFRESH:
        if (m->attempts >= l->max_attempts) {
            snprintf(reason, sizeof reason, "gave up after %d attempts: %s", m->attempts, r->reason);
        } else {
            status = "retry";
            at = r->verdict == CONN_REFRESH ? now : now + backoff(l, m->attempts);
        }
        break;
    case CONN_PAUSE:
        l->paused_until = next_midnight(d, now);
        status = "retry";
        at = l->paused_until;
        break;
    case CONN_MEMBER:
    case CONN_FATAL:
        break;
    }
    touch(d);   /* first: a statement outside the window's transaction would commit (and sync) on its own */
    if (store_outbox_finish(d->store, m->id, status, at, now, reason[0] ? reason : NULL, r->provider_id, r->segments,
                            err) != NUDGE_OK)
        log_msg(LOG_ERROR, "disp", "outbox: %s", err);
    /* a dead letter is worth an operator's look; the rest only when asked */
    int level = strcmp(status, "dead") == 0 ? LOG_WARN : LOG_DEBUG;
    if (log_enabled(level)) {
        const char *ids[] = {"message", m->key, "member", m->member_id, "channel", m->channel, "address", m->address};
        log_kv(level, "disp", ids, 4, "%s%s%s", status, reason[0] ? ": " : "", reason);
    }
    if (r->verdict == CONN_MEMBER && d->hooks.fallback) d->hooks.fallback(d->hooks.ud, m, r->unsubscribed);
}

static void done(disp_t *d, xfer_t *t, CURLcode code)
{
    lane_t *l = t->l;
    long http = 0;   /* the last HTTP status or SMTP reply code */
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &http);
    buf_addc(&t->x.response, '\0');
    const char *body = t->x.response.p;
    int64_t now = now_us() / 1000000;
    l->inflight--;
    d->inflight--;
    if (t->prev) t->prev->next = t->next;
    else d->running = t->next;
    if (t->next) t->next->prev = t->prev;
    if (t->auth) {
        char err[ERRLEN];
        l->authing = 0;
        if (l->ops->auth_done(l->c, http, body, now, err) != NUDGE_OK) {
            log_msg(LOG_ERROR, "disp", "%s; trying again in 30 s", code == CURLE_OK ? err : t->error);
            l->auth_retry_at = now + 30;
        }
    } else {
        conn_result_t r;
        l->ops->classify(l->c, &t->m, code == CURLE_OK || l->ops->channel == CH_EDM ? http : 0, body,
                         code == CURLE_OK ? NULL : (t->error[0] ? t->error : curl_easy_strerror(code)), &r);
        curl_off_t us = 0;
        curl_easy_getinfo(t->h, CURLINFO_TOTAL_TIME_T, &us);
        hist_observe(&l->lat, (double)us / 1e6);
        l->outcomes[r.verdict]++;
        finish(l, t, &r);
    }
    xfer_free(t);
    pump(l);
}

static void check_done(disp_t *d)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(d->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *h = msg->easy_handle;
        CURLcode code = msg->data.result;
        xfer_t *t;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(d->multi, h);
        done(d, t, code);
    }
}

/* Starts what may start now, and arms the lane timer for later. */
static void pump(lane_t *l)
{
    disp_t *d = l->d;
    if (d->draining) return;
    int64_t us = now_us(), now = us / 1000000;
    if (l->paused_until > now) {
        lane_look_in(l, (l->paused_until - now) * 1000000);
        return;
    }
    if (l->ops->needs_auth && l->ops->needs_auth(l->c, now)) {
        if (l->authing) return;
        int64_t due = store_outbox_next(d->store, channel_names[l->ops->channel]);
        if (due == TIME_NONE || due > now) {   /* no token until something is to be sent */
            if (due != TIME_NONE) lane_look_in(l, (due - now) * 1000000);
            return;
        }
        if (l->auth_retry_at > now) {
            lane_look_in(l, (l->auth_retry_at - now) * 1000000);
            return;
        }
        if (l->inflight) return;   /* sends with the old token finish first */
        xfer_t *t = xfer_new(l);
        t->auth = 1;
        char err[ERRLEN];
        if (l->ops->auth_prepare(l->c, t->h, &t->x, err) != NUDGE_OK) {
            log_msg(LOG_ERROR, "disp", "%s", err);
            xfer_free(t);
            l->auth_retry_at = now + 30;
            lane_look_in(l, 30 * 1000000);
            return;
        }
        l->authing = 1;
        start(t);
        return;
    }
    if (l->rate > 0) {
        l->tokens += (double)(us - l->refill_us) * l->rate / 1e6;
        if (l->tokens > l->rate) l->tokens = l->rate;
        l->refill_us = us;
    }
    int room = l->concurrency - l->inflight;
    /* claim in batches: one query for many messages, not one per completion */
    int batch = l->concurrency / 4 > CLAIM_MAX ? CLAIM_MAX : l->concurrency / 4;
    if (room <= 0 || (l->inflight && room < batch)) return;   /* a finishing transfer pumps again */
    if (l->rate > 0 && l->tokens < 1) {
        lane_look_in(l, (int64_t)((1 - l->tokens) * 1e6 / l->rate) + 1);
        return;
    }
    int want = room < CLAIM_MAX ? room : CLAIM_MAX;
    if (l->rate > 0 && l->tokens < want) want = (int)l->tokens;
    char err[ERRLEN];
    touch(d);
    int n = store_outbox_claim(d->store, now, channel_names[l->ops->channel], l->claim, want, err);
    if (n < 0) {
        log_msg(LOG_ERROR, "disp", "outbox: %s", err);
        lane_look_in(l, 1000000);
        return;
    }
    for (int i = 0; i < n; i++) {
        xfer_t *t = xfer_new(l);
        store_msg_free(&t->m);
        t->m = l->claim[i];   /* the transfer takes the claimed message's buffers */
        store_msg_init(&l->claim[i]);
        if (l->ops->prepare(l->c, t->h, &t->m, &t->x, err) != NUDGE_OK) {
            conn_result_t r = {.verdict = CONN_FATAL};
            snprintf(r.reason, sizeof r.reason, "%.200s", err);
            finish(l, t, &r);
            xfer_free(t);
            continue;
        }
        if (l->rate > 0) l->tokens -= 1;
        start(t);
    }
    if (n == want && l->inflight < l->concurrency) {
        lane_look_in(l, 0);   /* more may be due: look again on the next turn */
        return;
    }
    int64_t next = store_outbox_next(d->store, channel_names[l->ops->channel]);
    if (next != TIME_NONE && next > now) lane_look_in(l, (next - now) * 1000000);
    else if (next != TIME_NONE && l->inflight < l->concurrency) lane_look_in(l, 200000);
}

/* ---- life cycle ---- */

static long num_setting(const ws_t *w, const char *section, const char *key, long dflt, char *err, int *bad)
{
    const char *v = ws_get(w, section, key);
    if (!v) return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0) {
        errf(err, "nudge.conf:%d: [%s] %s must be a whole number, 0 or more", ws_get_line(w, section, key), section,
             key);
        *bad = 1;
    }
    return n;
}

disp_t *disp_new(struct event_base *base, store_t *s, const ws_t *w, const disp_hooks_t *hooks, char *err)
{
    disp_t *d = xcalloc(1, sizeof *d);
    d->base = base;
    d->store = s;
    d->ws = w;
    if (hooks) d->hooks = *hooks;
    d->multi = curl_multi_init();
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    d->curl_timer = evtimer_new(base, on_curl_timer, d);
    srand((unsigned)now_us());
    for (int ch = 0; ch < CH_COUNT; ch++) {
        const conn_ops_t *ops = conn_find(w, channel_names[ch]);
        /* a section with only the SMS framing (signature, opt_out) sends nothing */
        int configured = 0;
        for (int i = 0; i < w->nsettings; i++)
            configured |= strcmp(w->settings[i].section, channel_names[ch]) == 0 &&
                          strcmp(w->settings[i].key, "signature") != 0 && strcmp(w->settings[i].key, "opt_out") != 0;
        if (!ops || !configured) continue;
        lane_t *l = &d->lanes[d->nlanes];
        int bad = 0;
        l->concurrency = (int)num_setting(w, ops->name, "concurrency", 16, err, &bad);
        l->rate = (double)num_setting(w, ops->name, "rate", 500, err, &bad);
        l->timeout_ms = num_setting(w, ops->name, "timeout_ms", 10000, err, &bad);
        l->max_attempts = (int)num_setting(w, ops->name, "max_attempts", 8, err, &bad);
        l->backoff_ms = num_setting(w, ops->name, "backoff_ms", 30000, err, &bad);
        l->backoff_max_ms = num_setting(w, ops->name, "backoff_max_ms", 3600000, err, &bad);
        if (!bad && (l->concurrency < 1 || l->max_attempts < 1 || l->timeout_ms < 1))
            bad = errf(err, "nudge.conf: [%s] concurrency, max_attempts and timeout_ms must be at least 1",
                       ops->name) != 0;
        if (bad || !(l->c = ops->create(w, err))) {
            disp_free(d);
            return NULL;
        }
        if (l->backoff_ms < 1) l->backoff_ms = 1;
        if (l->backoff_max_ms < l->backoff_ms) l->backoff_max_ms = l->backoff_ms;
        l->d = d;
        l->ops = ops;
        l->tokens = l->rate;
        l->refill_us = now_us();
        hist_init(&l->lat, lat_bounds, (int)(sizeof lat_bounds / sizeof lat_bounds[0]));
        l->timer = evtimer_new(base, on_lane_timer, l);
        l->claim = xcalloc(CLAIM_MAX, sizeof *l->claim);
        l->idle = xcalloc((size_t)l->concurrency + 1, sizeof *l->idle);
        for (int i = 0; i < CLAIM_MAX; i++) store_msg_init(&l->claim[i]);
        d->nlanes++;
    }
    /* keep a connection per transfer slot alive: without this, curl's
     * cache (sized by the handles added at the moment) closes connections
     * between bursts and every send pays a new TCP handshake */
    long slots = 0;
    for (int i = 0; i < d->nlanes; i++) slots += d->lanes[i].concurrency;
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, slots > 0 ? slots : 1L);
    return d;
}

void disp_free(disp_t *d)
{
    if (!d) return;
    /* transfers still running are abandoned: their rows stay 'sending'
     * and are retried with the same dedup id at the next start */
    for (xfer_t *t = d->running, *next; t; t = next) {
        next = t->next;
        curl_multi_remove_handle(d->multi, t->h);
        xfer_free(t);
    }
    for (int i = 0; i < d->nlanes; i++) {
        lane_t *l = &d->lanes[i];
        if (l->ops && l->c) l->ops->destroy(l->c);
        if (l->timer) event_free(l->timer);
        for (int k = 0; k < l->nidle; k++) curl_easy_cleanup(l->idle[k]);
        free(l->idle);
        if (l->claim) {
            for (int k = 0; k < CLAIM_MAX; k++) store_msg_free(&l->claim[k]);
            free(l->claim);
        }
    }
    if (d->curl_timer) event_free(d->curl_timer);
    curl_multi_cleanup(d->multi);
    free(d);
}

void disp_kick(disp_t *d)
{
    for (int i = 0; i < d->nlanes; i++) lane_look_in(&d->lanes[i], 0);
}

void disp_drain(disp_t *d)
{
    d->draining = 1;
    for (int i = 0; i < d->nlanes; i++) evtimer_del(d->lanes[i].timer);
}

int disp_inflight(const disp_t *d)
{
    return d->inflight;
}

int disp_lanes(const disp_t *d)
{
    return d->nlanes;
}

void disp_metrics(const disp_t *d, buf_t *out)
{
    static const char *const verdicts[] = {
        [CONN_SENT] = "sent", [CONN_RETRY] = "retry", [CONN_REFRESH] = "token_expired",
        [CONN_PAUSE] = "paused", [CONN_MEMBER] = "member_refused", [CONN_FATAL] = "failed",
    };
    buf_adds(out, "# HELP nudge_provider_answers_total Provider answers to send attempts, by what they meant.\n"
                  "# TYPE nudge_provider_answers_total counter\n");
    for (int i = 0; i < d->nlanes; i++)
        for (int v = 0; v <= CONN_FATAL; v++)
            buf_printf(out, "nudge_provider_answers_total{channel=\"%s\",outcome=\"%s\"} %lld\n",
                       d->lanes[i].ops->name, verdicts[v], (long long)d->lanes[i].outcomes[v]);
    buf_adds(out, "# HELP nudge_provider_seconds Time from a send's start to the provider's answer.\n"
                  "# TYPE nudge_provider_seconds histogram\n");
    for (int i = 0; i < d->nlanes; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "channel=\"%s\"", d->lanes[i].ops->name);
        hist_write(&d->lanes[i].lat, out, "nudge_provider_seconds", labels);
    }
    buf_printf(out, "# HELP nudge_provider_inflight Sends waiting for the provider's answer.\n"
                    "# TYPE nudge_provider_inflight gauge\nnudge_provider_inflight %d\n", d->inflight);
}
