/* api.c - see api.h */
#include "api.h"
#include "callback.h"
#include "event.h"
#include "hist.h"
#include "log.h"

#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdint.h>
#include <time.h>

#define API_DEFAULT_LISTEN "127.0.0.1:7420"
#define API_MAX_BODY (4L << 20)   /* 1,000 events of up to 4 KB */
#define API_MAX_EVENTS 1000
#define API_MIN_SECRET 16
#define API_MAX_COMMIT_MS 60000
#define API_COMMIT_MS 100   /* the store's batches of accepted events: see docs/architecture.md */
#define API_COMMIT_STRETCH 4   /* how far they stretch while the loop is behind: see window.h */
#define WECHAT_MAX_SKEW 300       /* seconds a signed WeChat push may be old (or early) */

enum { SCOPE_READ = 1, SCOPE_WRITE = 2, SCOPE_ADMIN = 4 };

/* what provider callbacks brought, for /metrics */
enum { CB_RECEIPT, CB_RECEIPT_UNKNOWN, CB_REPLY, CB_OPT_OUT, CB_SUBSCRIBE, CB_UNSUBSCRIBE, CB_REFUSED, CB_COUNT };
static const char *const cb_names[CB_COUNT] = {"receipt", "receipt_unknown", "reply", "opt_out",
                                               "subscribe", "unsubscribe", "refused"};

typedef struct token {
    char *secret;
    size_t len;
    int scopes;
} token_t;

/* A request whose events wait for the commit that makes them durable. */
typedef struct waiting {
    struct evhttp_request *req;
    int code;
    char *body;
    int64_t t0_ns;         /* when a POST /v1/events began (mono_ns), else 0 */
    struct waiting *next;
} waiting_t;   /* api_waiting_t outside */

struct api {
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    engine_t *e;
    store_t *store;
    const ws_t *w;
    api_hooks_t hooks;
    token_t *tokens;
    int ntokens;
    waiting_t *wait, **wait_tail;
    char addr[128];
    int64_t events[3];            /* accepted, duplicate, rejected */
    char *sms_secret;             /* [api] callback.aliyun_sms: the ?secret= of SMS pushes */
    char *wx_token;               /* [api] callback.wechat: the Token of WeChat's server settings */
    long commit_ms;               /* [api] commit_ms */
    long commit_max_ms;           /* [api] commit_max_ms (0: API_COMMIT_STRETCH times commit_ms) */
    int64_t callbacks[CB_COUNT];
    int64_t requests, refused;    /* all requests; 401 and 403 answers */
    hist_t answer_lat;            /* POST /v1/events: from its handling to its answer */
};

/* upper bounds, in seconds, of the events' answer histogram */
static const double answer_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

/* 1 when given is the secret. The time taken depends on the secret's
 * length only, not on how much of it a guess gets right. */
static int same_secret(const token_t *t, const char *given, size_t glen)
{
    unsigned char diff = glen != t->len;
    for (size_t i = 0; i < t->len; i++) diff |= (unsigned char)(t->secret[i] ^ (i < glen ? given[i] : 0));
    return diff == 0;
}

static int parse_scopes(const char *v, int *scopes)
{
    *scopes = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (strcmp(t, "read") == 0) *scopes |= SCOPE_READ;
        else if (strcmp(t, "write") == 0) *scopes |= SCOPE_WRITE;
        else if (strcmp(t, "admin") == 0) *scopes |= SCOPE_READ | SCOPE_WRITE | SCOPE_ADMIN;
        else return -1;
    }
    return *scopes ? 0 : -1;
}

static int read_tokens(api_t *a, char *err)
{
    const ws_t *w = a->w;
    int max_line = 0;
    for (int i = 0; i < w->nsettings; i++) {
        const ws_setting_t *st = &w->settings[i];
        if (strcmp(st->section, "api") != 0) continue;
        if (strcmp(st->key, "listen") == 0) continue;
        if (strcmp(st->key, "commit_ms") == 0 || strcmp(st->key, "commit_max_ms") == 0) {
            const char *v = ws_get(w, "api", st->key);
            char *end;
            long ms = v ? strtol(v, &end, 10) : -1;
            if (!v || !*v || *end || ms < 1 || ms > API_MAX_COMMIT_MS)
                return errf(err, "nudge.conf:%d: [api] %s must be a whole number of milliseconds, 1 to %d",
                            st->line, st->key, API_MAX_COMMIT_MS);
            if (strcmp(st->key, "commit_max_ms") == 0) {
                a->commit_max_ms = ms;
                max_line = st->line;
            } else {
                a->commit_ms = ms;
            }
            continue;
        }
        if (strcmp(st->key, "callback.aliyun_sms") == 0 || strcmp(st->key, "callback.wechat") == 0) {
            int wx = st->key[9] == 'w';
            const char *v = ws_get(w, "api", st->key);
            size_t n = v ? strlen(v) : 0;
            if (!v) return errf(err, "nudge.conf:%d: [api] %s: the environment variable it names is not set", st->line,
                                st->key);
            if (!wx && n < API_MIN_SECRET)
                return errf(err, "nudge.conf:%d: [api] %s: the secret must be at least 16 characters", st->line,
                            st->key);
            if (wx && (n < 3 || n > 32 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != n))
                return errf(err, "nudge.conf:%d: [api] %s: WeChat's Token is 3 to 32 letters or digits", st->line,
                            st->key);
            free(wx ? a->wx_token : a->sms_secret);
            if (wx) a->wx_token = xstrdup(v);
            else a->sms_secret = xstrdup(v);
            continue;
        }
        if (strncmp(st->key, "scopes.", 7) == 0) {
            char tk[160];
            snprintf(tk, sizeof tk, "token.%s", st->key + 7);
            if (!ws_get_line(w, "api", tk))
                return errf(err, "nudge.conf:%d: [api] %s: there is no %s", st->line, st->key, tk);
            continue;
        }
        if (strncmp(st->key, "token.", 6) != 0 || !st->key[6])
            return errf(err, "nudge.conf:%d: [api] unknown setting '%s' (listen, token.NAME, scopes.NAME, callback.aliyun_sms, callback.wechat, commit_ms, commit_max_ms)", st->line,
                        st->key);
        const char *secret = ws_get(w, "api", st->key);
        if (!secret || strlen(secret) < API_MIN_SECRET)
            return errf(err, "nudge.conf:%d: [api] %s: %s", st->line, st->key,
                        !secret ? "the environment variable it names is not set"
                                : "a token must be at least 16 characters (use a long random one)");
        char sk[160];
        snprintf(sk, sizeof sk, "scopes.%s", st->key + 6);
        const char *sv = ws_get(w, "api", sk);
        token_t t;
        if (!sv) {
            t.scopes = SCOPE_READ;   /* least privilege unless told */
        } else if (parse_scopes(sv, &t.scopes) != 0) {
            return errf(err, "nudge.conf:%d: [api] %s = %s: scopes are read, write and admin", ws_get_line(w, "api", sk),
                        sk, sv);
        }
        t.secret = xstrdup(secret);
        t.len = strlen(secret);
        a->tokens = xrealloc(a->tokens, sizeof *a->tokens * (size_t)(a->ntokens + 1));
        a->tokens[a->ntokens++] = t;
    }
    if (max_line && a->commit_max_ms < a->commit_ms)
        return errf(err, "nudge.conf:%d: [api] commit_max_ms (%ld) must not be less than commit_ms (%ld)", max_line,
                    a->commit_max_ms, a->commit_ms);
    return NUDGE_OK;
}

/* ---- answers ---- */

/* Answers req with body (len bytes, then a newline when nl) of type
 * ctype. The body goes straight into the request's own output buffer,
 * and the Date header comes from a copy made once a second: evhttp
 * formats the date anew for every answer otherwise (2% of an event's
 * instructions). */
static void send_body(struct evhttp_request *req, int code, const char *reason, const char *ctype,
                      const char *body, size_t len, int nl)
{
    static char date[40];
    static time_t date_of = -1;
    time_t now = time(NULL);
    if (now != date_of) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        date_of = now;
    }
    struct evbuffer *b = evhttp_request_get_output_buffer(req);
    evbuffer_add(b, body, len);
    if (nl) evbuffer_add(b, "\n", 1);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Date", date);
    evhttp_add_header(h, "Content-Type", ctype);
    if (code == 401) evhttp_add_header(h, "WWW-Authenticate", "Bearer realm=\"nudge\"");
    evhttp_send_reply(req, code, reason, NULL);
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *json)
{
    send_body(req, code, reason, "application/json; charset=utf-8", json, strlen(json), 1);
}

static void reply_error(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
    buf_t b;
    buf_init(&b);
    buf_adds(&b, "{\"error\":");
    buf_add_json_str(&b, msg);
    buf_addc(&b, '}');
    reply(req, code, reason, b.p);
    buf_free(&b);
}

/* 1 when the request carries a token with scope; otherwise answers 401
 * or 403 and returns 0. Every configured token is compared, in constant
 * time, whatever matches. */
static int authorized(api_t *a, struct evhttp_request *req, int scope)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0 || !h[7]) {
        a->refused++;
        reply_error(req, 401, "Unauthorized", "send Authorization: Bearer <token>");
        return 0;
    }
    const char *given = h + 7;
    size_t glen = strlen(given);
    int scopes = 0, found = 0;
    for (int i = 0; i < a->ntokens; i++) {
        int same = same_secret(&a->tokens[i], given, glen);
        found |= same;
        scopes |= same ? a->tokens[i].scopes : 0;
    }
    if (!found || !(scopes & scope)) a->refused++;
    if (!found) {
        reply_error(req, 401, "Unauthorized", "unknown token");
        return 0;
    }
    if (!(scopes & scope)) {
        char msg[96];
        snprintf(msg, sizeof msg, "this token lacks the %s scope",
                 scope == SCOPE_READ ? "read" : scope == SCOPE_WRITE ? "write" : "admin");
        reply_error(req, 403, "Forbidden", msg);
        return 0;
    }
    return 1;
}

/* Answers req with code and body (taken over) once the commit window
 * that holds its writes is durable; t0_ns: when an events request
 * began, for its answer's histogram (0 for other requests). */
static void after_commit(api_t *a, struct evhttp_request *req, int code, buf_t *body, int64_t t0_ns)
{
    waiting_t *wt = xcalloc(1, sizeof *wt);
    wt->req = req;
    wt->code = code;
    wt->t0_ns = t0_ns;
    wt->body = body->p;
    buf_init(body);
    *a->wait_tail = wt;
    a->wait_tail = &wt->next;
    if (a->hooks.commit_soon) a->hooks.commit_soon(a->hooks.ud);
}

/* ---- POST /v1/events ---- */

/* The field an event error is about: its first word when that is one of
 * the event's keys (evt_parse's messages start with it). */
static void add_field(buf_t *out, const char *why)
{
    size_t n = strcspn(why, " :");
    static const char *const fields[] = {"type", "member", "at", "id", "order_id", "amount", "points",
                                         "expires_at", NULL};
    for (int i = 0; fields[i]; i++)
        if (strlen(fields[i]) == n && strncmp(why, fields[i], n) == 0) {
            buf_adds(out, ",\"field\":");
            buf_add_json_str(out, fields[i]);
            return;
        }
}

/* The request's body as JSON; NULL after answering 400 (saying where
 * the JSON went wrong). With raw, *raw is the body's text (the caller's
 * to free) when it is one line: the value alone, trimmed, no line
 * break or NUL in it; NULL otherwise. */
static cJSON *read_json_raw(struct evhttp_request *req, char **raw)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *body = xmalloc(len + 1);
    evbuffer_remove(in, body, len);
    body[len] = '\0';
    const char *end = NULL, *value_end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    char msg[128];
    if (!doc) {
        snprintf(msg, sizeof msg, "the body is not valid JSON (near byte %zu)", end ? (size_t)(end - body) + 1 : 1);
        reply_error(req, 400, "Bad Request", msg);
    } else {
        /* a second value after the first (two events side by side) would
         * be dropped unseen: the whole body is refused */
        value_end = end;
        end = skip_json_space(end, body + len);
        if (end < body + len) {
            snprintf(msg, sizeof msg, "the body has more after its JSON value (at byte %zu); "
                     "send one event or a JSON array of events", (size_t)(end - body) + 1);
            reply_error(req, 400, "Bad Request", msg);
            cJSON_Delete(doc);
            doc = NULL;
        }
    }
    if (raw) *raw = NULL;
    if (doc && raw) {
        const char *b = skip_json_space(body, value_end);
        size_t n = (size_t)(value_end - b);
        if (!memchr(b, '\n', n) && !memchr(b, '\r', n) && !memchr(b, '\0', n)) {
            memmove(body, b, n);
            body[n] = '\0';
            *raw = body;
            return doc;
        }
    }
    free(body);
    return doc;
}

static cJSON *read_json(struct evhttp_request *req)
{
    return read_json_raw(req, NULL);
}

/* The request's query string into q (evhttp_clear_headers it). */
static void parse_query(struct evhttp_request *req, struct evkeyvalq *q)
{
    const char *qs = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    evhttp_parse_query_str(qs ? qs : "", q);
}

/* A query parameter, "" when absent. */
static const char *query_str(struct evkeyvalq *q, const char *name)
{
    const char *v = evhttp_find_header(q, name);
    return v ? v : "";
}

/* One event (a JSON object, taken over: ev owns it) validated, applied
 * and run through the journeys at the engine's clock. raw: the item's
 * text on one line as it came, or NULL. Returns as engine_event,
 * NUDGE_ERR with why; ev is the caller's to evt_free. */
static int apply_event(api_t *a, cJSON *item, const char *raw, event_t *ev, char *why)
{
    /* the journal keeps the event on one line: as it came when it came so
     * (printing it again cost 5% of an event), else as cJSON prints it */
    char *printed = raw ? NULL : cJSON_PrintUnformatted(item);
    const char *text = raw ? raw : printed;
    const tz_t *zone = NULL;
    int r = evt_take(ev, item, text, a->w->tz, why);   /* ev owns item, points into text */
    if (r == NUDGE_OK) {
        a->hooks.touch(a->hooks.ud);
        r = engine_event(a->e, ev, 1, &zone, why);
        if (zone && a->hooks.zone) a->hooks.zone(a->hooks.ud, zone);
        if (r == EVENT_APPLIED && a->hooks.journal) a->hooks.journal(a->hooks.ud, text, strlen(text));
    } else {
        r = NUDGE_ERR;
    }
    free(printed);
    return r;
}

static void on_events(api_t *a, struct evhttp_request *req)
{
    int64_t t0 = mono_ns();
    char *raw;
    cJSON *doc = read_json_raw(req, &raw);
    if (!doc) return;
    char msg[ERRLEN];
    int n = cJSON_IsArray(doc) ? cJSON_GetArraySize(doc) : 1;
    if (!cJSON_IsArray(doc) && !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        free(raw);
        reply_error(req, 400, "Bad Request", "send one event (a JSON object) or a JSON array of events");
        return;
    }
    if (n == 0 || n > API_MAX_EVENTS) {
        cJSON_Delete(doc);
        free(raw);
        snprintf(msg, sizeof msg, "an array of 1 to %d events, please (this one has %d)", API_MAX_EVENTS, n);
        reply_error(req, n ? 413 : 400, n ? "Payload Too Large" : "Bad Request", msg);
        return;
    }
    int64_t *clock = engine_clock(a->e);
    int64_t now = (int64_t)time(NULL);
    if (now > *clock) *clock = now;
    buf_t out;
    buf_init(&out);
    buf_adds(&out, "{\"results\":[");
    int accepted = 0, duplicates = 0, rejected = 0, i = 0;
    if (a->hooks.intake) a->hooks.intake(a->hooks.ud, 1);
    /* each event is taken out of the document and handed to its event_t:
     * parsed once */
    int array = cJSON_IsArray(doc);
    cJSON *item = array ? doc->child : doc, *next;
    if (!array) doc = NULL;
    for (; item && i < n; item = next, i++) {
        next = array ? item->next : NULL;
        if (array) cJSON_DetachItemViaPointer(doc, item);
        event_t ev;
        char why[ERRLEN];
        int r = apply_event(a, item, array ? NULL : raw, &ev, why);
        if (i) buf_addc(&out, ',');
        buf_adds(&out, "{\"index\":");
        buf_add_i64(&out, i);
        buf_addc(&out, ',');
        if (r == EVENT_APPLIED || r == EVENT_DUPLICATE) {
            buf_adds(&out, "\"id\":");
            buf_add_json_str(&out, ev.id);
            buf_adds(&out, r == EVENT_APPLIED ? ",\"status\":\"accepted\"}" : ",\"status\":\"duplicate\"}");
            if (r == EVENT_APPLIED) accepted++;
            else duplicates++;
        } else {
            rejected++;
            buf_adds(&out, "\"status\":\"rejected\"");
            add_field(&out, why);
            buf_adds(&out, ",\"error\":");
            buf_add_json_str(&out, why);
            buf_addc(&out, '}');
        }
        evt_free(&ev);
    }
    cJSON_Delete(doc);
    free(raw);
    a->events[0] += accepted;
    a->events[1] += duplicates;
    a->events[2] += rejected;
    /* no printf on the hot path: formatting the three counts cost more
     * than the rest of the answer */
    buf_adds(&out, "],\"accepted\":");
    buf_add_i64(&out, accepted);
    buf_adds(&out, ",\"duplicates\":");
    buf_add_i64(&out, duplicates);
    buf_adds(&out, ",\"rejected\":");
    buf_add_i64(&out, rejected);
    buf_addc(&out, '}');
    /* journeys the events entered decide now: their messages reach the
     * outbox on this loop turn */
    if (engine_flush(a->e, msg) != NUDGE_OK) log_msg(LOG_ERROR, "api", "%s", msg);
    if (a->hooks.intake) a->hooks.intake(a->hooks.ud, 0);
    if (!accepted) {   /* nothing new to make durable */
        reply(req, 200, "OK", out.p);
        buf_free(&out);
        hist_observe(&a->answer_lat, (double)(mono_ns() - t0) / 1e9);
        return;
    }
    after_commit(a, req, 200, &out, t0);
}

/* ---- GET /v1/members/{id} and /v1/members/{id}/journeys ---- */

typedef int (*member_view_fn)(engine_t *e, const char *id, buf_t *out, char *err);

static void on_member(api_t *a, struct evhttp_request *req, const char *id, member_view_fn view)
{
    char err[ERRLEN];
    buf_t out;
    buf_init(&out);
    int found = view(a->e, id, &out, err);
    if (found == 1) {
        reply(req, 200, "OK", out.p);
    } else if (found == 0) {
        buf_reset(&out);
        buf_adds(&out, "no member with id ");
        buf_adds(&out, id);
        reply_error(req, 404, "Not Found", out.p);
    } else {
        reply_error(req, 500, "Internal Server Error", err);
    }
    buf_free(&out);
}

/* ---- POST /v1/journeys/{name}/pause|resume ---- */

static void on_journey_pause(api_t *a, struct evhttp_request *req, const char *name, int paused)
{
    char err[ERRLEN];
    a->hooks.touch(a->hooks.ud);
    int found = engine_pause(a->e, name, paused, err);
    if (found == 0) {
        snprintf(err, sizeof err, "no journey named %s", name);
        reply_error(req, 404, "Not Found", err);
        return;
    }
    if (found < 0) {
        reply_error(req, 500, "Internal Server Error", err);
        return;
    }
    /* members whose wait ended while paused go on at once */
    if (!paused && a->hooks.wake) a->hooks.wake(a->hooks.ud);
    buf_t out;
    buf_init(&out);
    buf_adds(&out, "{\"journey\":");
    buf_add_json_str(&out, name);
    buf_printf(&out, ",\"state\":\"%s\"}", paused ? "paused" : "running");
    after_commit(a, req, 200, &out, 0);
}

/* ---- PUT /v1/members/{id}: a member.joined event of the body's fields ---- */

static void on_member_put(api_t *a, struct evhttp_request *req, const char *id)
{
    cJSON *o = read_json(req);
    if (!o) return;
    char msg[ERRLEN];
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (!cJSON_IsObject(o)) {
        reply_error(req, 400, "Bad Request", "send the member's fields as a JSON object, like {\"name\":\"王芳\"}");
    } else if (cJSON_HasObjectItem(o, "type") || cJSON_HasObjectItem(o, "member") || cJSON_HasObjectItem(o, "at")) {
        reply_error(req, 400, "Bad Request", "type, member and at are not member fields");
    } else if (given && (!cJSON_IsString(given) || strcmp(given->valuestring, id) != 0)) {
        reply_error(req, 400, "Bad Request", "id in the body must be the id in the path, or absent");
    } else {
        int64_t *clock = engine_clock(a->e);
        int64_t now = (int64_t)time(NULL);
        if (now > *clock) *clock = now;
        char at[40];
        tz_format_iso(a->w->tz, now, at);
        cJSON_DeleteItemFromObjectCaseSensitive(o, "id");
        cJSON_AddStringToObject(o, "type", "member.joined");
        cJSON_AddStringToObject(o, "member", id);
        cJSON_AddStringToObject(o, "at", at);
        int created = store_member_rowid(a->store, id) == 0;
        char *text = cJSON_PrintUnformatted(o);
        event_t ev;
        const tz_t *zone = NULL;
        int r = evt_parse(&ev, text, strlen(text), a->w->tz, msg);
        if (r == NUDGE_OK) {
            a->hooks.touch(a->hooks.ud);
            /* a new member joins (journeys on member.joined see it); an
             * update of a known one is not a join */
            r = engine_event(a->e, &ev, created, &zone, msg);
        }
        if (zone && a->hooks.zone) a->hooks.zone(a->hooks.ud, zone);
        evt_free(&ev);
        free(text);
        buf_t out;
        buf_init(&out);
        if (r == EVENT_APPLIED || r == EVENT_DUPLICATE) {
            if (engine_flush(a->e, msg) != NUDGE_OK) log_msg(LOG_ERROR, "api", "%s", msg);
            if (engine_member_json(a->e, id, &out, msg) == 1) {
                if (r == EVENT_APPLIED) after_commit(a, req, created ? 201 : 200, &out, 0);
                else reply(req, 200, "OK", out.p);
            } else {
                reply_error(req, 500, "Internal Server Error", msg);
            }
        } else {
            buf_adds(&out, "{\"error\":");
            buf_add_json_str(&out, msg);
            add_field(&out, msg);
            buf_addc(&out, '}');
            reply(req, 400, "Bad Request", out.p);
        }
        buf_free(&out);
    }
    cJSON_Delete(o);
}

/* ---- the outbox ---- */

typedef struct page {
    buf_t out;
    int64_t last;
    int n;
} page_t;

static void msg_json(const store_msg_t *m, void *ud)
{
    page_t *pg = ud;
    buf_t *out = &pg->out;
    pg->last = m->id;
    char at[40];
    const tz_t *z = tz_get(m->zone[0] ? m->zone : "UTC", NULL);
    tz_format_iso(z ? z : tz_get("UTC", NULL), m->at, at);
    if (pg->n++) buf_addc(out, ',');
    buf_printf(out, "{\"id\":%lld", (long long)m->id);
    char receipt_at[40] = "";
    if (m->receipt_at != TIME_NONE) tz_format_iso(z ? z : tz_get("UTC", NULL), m->receipt_at, receipt_at);
    const char *kv[][2] = {{"key", m->key},         {"status", m->status},   {"at", at},
                           {"member", m->member_id}, {"journey", m->journey}, {"step", m->step},
                           {"channel", m->channel},  {"template", m->tmpl},   {"reason", m->reason},
                           {"provider_id", m->provider_id}, {"receipt", m->receipt}, {"receipt_at", receipt_at}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++) {
        buf_printf(out, ",\"%s\":", kv[i][0]);
        if (kv[i][1][0]) buf_add_json_str(out, kv[i][1]);
        else buf_adds(out, "null");   /* no channel, no reason, no provider id yet */
    }
    buf_printf(out, ",\"attempts\":%d,\"segments\":%d", m->attempts, m->segments);
    buf_addc(out, '}');
}

/* A whole-number query parameter: 0 when valid (or absent: *v kept). */
static int query_num(struct evkeyvalq *q, const char *name, long long lo, long long hi, long long *v)
{
    const char *s = evhttp_find_header(q, name);
    if (!s) return 0;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (!*s || *end || n < lo || n > hi) return -1;
    *v = n;
    return 0;
}

static void on_outbox(api_t *a, struct evhttp_request *req)
{
    static const char *const statuses[] = {"held", "queued", "sending", "sent", "retry", "dead", "dropped", NULL};
    struct evkeyvalq q;
    parse_query(req, &q);
    const char *status = evhttp_find_header(&q, "status");
    long long after = 0, limit = 100;
    int ok = !status;
    for (int i = 0; status && statuses[i]; i++) ok |= strcmp(status, statuses[i]) == 0;
    char err[ERRLEN];
    if (!ok) {
        reply_error(req, 400, "Bad Request", "status is one of held, queued, sending, sent, retry, dead, dropped");
    } else if (query_num(&q, "after", 0, INT64_MAX, &after) || query_num(&q, "limit", 1, 1000, &limit)) {
        reply_error(req, 400, "Bad Request", "after is a message id, limit a number from 1 to 1000");
    } else {
        page_t pg = {.n = 0};
        buf_init(&pg.out);
        buf_adds(&pg.out, "{\"messages\":[");
        if (store_outbox_page(a->store, status, after, (int)limit, msg_json, &pg, err) != NUDGE_OK) {
            reply_error(req, 500, "Internal Server Error", err);
        } else {
            /* a full page: the next one starts after its last id */
            buf_adds(&pg.out, "],\"next_after\":");
            if (pg.n == limit) buf_printf(&pg.out, "%lld", (long long)pg.last);
            else buf_adds(&pg.out, "null");
            buf_addc(&pg.out, '}');
            reply(req, 200, "OK", pg.out.p);
        }
        buf_free(&pg.out);
    }
    evhttp_clear_headers(&q);
}

static void on_outbox_retry(api_t *a, struct evhttp_request *req, int64_t id)
{
    char err[ERRLEN];
    a->hooks.touch(a->hooks.ud);
    int n = store_outbox_retry(a->store, id, (int64_t)time(NULL), err);
    if (n < 0) {
        reply_error(req, 500, "Internal Server Error", err);
    } else if (n == 0) {
        snprintf(err, sizeof err, "message %lld is not dead or waiting to retry", (long long)id);
        reply_error(req, 409, "Conflict", err);
    } else {
        if (a->hooks.kick) a->hooks.kick(a->hooks.ud);
        buf_t out;
        buf_init(&out);
        buf_printf(&out, "{\"id\":%lld,\"status\":\"queued\"}", (long long)id);
        after_commit(a, req, 200, &out, 0);
    }
}

/* ---- GET /metrics ---- */

static void on_metrics(api_t *a, struct evhttp_request *req)
{
    static const char *const outcomes[] = {"accepted", "duplicate", "rejected"};
    buf_t out;
    buf_init(&out);
    buf_adds(&out, "# HELP nudge_events_total Events posted over HTTP, by outcome.\n"
                   "# TYPE nudge_events_total counter\n");
    for (int i = 0; i < 3; i++)
        buf_printf(&out, "nudge_events_total{outcome=\"%s\"} %lld\n", outcomes[i], (long long)a->events[i]);
    buf_printf(&out, "# HELP nudge_http_requests_total HTTP requests received.\n"
                     "# TYPE nudge_http_requests_total counter\nnudge_http_requests_total %lld\n"
                     "# HELP nudge_http_refused_total Requests refused for their token (401, 403).\n"
                     "# TYPE nudge_http_refused_total counter\nnudge_http_refused_total %lld\n",
               (long long)a->requests, (long long)a->refused);
    buf_adds(&out, "# HELP nudge_callbacks_total What provider callbacks brought: receipts (and those naming no\n"
                   "# message we know), replies, opt-outs, WeChat (un)subscribes, pushes refused.\n"
                   "# TYPE nudge_callbacks_total counter\n");
    for (int i = 0; i < CB_COUNT; i++)
        buf_printf(&out, "nudge_callbacks_total{kind=\"%s\"} %lld\n", cb_names[i], (long long)a->callbacks[i]);
    buf_adds(&out, "# HELP nudge_events_answer_seconds Time from handling a POST /v1/events to its answer\n"
                   "# (once its accepted events are durable).\n"
                   "# TYPE nudge_events_answer_seconds histogram\n");
    hist_write(&a->answer_lat, &out, "nudge_events_answer_seconds", "");
    engine_metrics(a->e, &out);
    if (a->hooks.metrics) a->hooks.metrics(a->hooks.ud, &out);
    send_body(req, 200, "OK", "text/plain; version=0.0.4", out.p, out.len, 0);
    buf_free(&out);
}

/* ---- provider callbacks ---- */

static void now_clock(api_t *a)
{
    int64_t *clock = engine_clock(a->e);
    int64_t now = (int64_t)time(NULL);
    if (now > *clock) *clock = now;
}

/* A channel event for a member a provider named by address: the same
 * path as a posted event, with an id that makes a repeated push a
 * duplicate. */
typedef struct addr_event {
    api_t *a;
    const char *type, *id_base;
    const char *content;       /* sms.replied: the text */
    int applied, failed;
} addr_event_t;

static void emit_for_member(const char *ext_id, void *ud)
{
    addr_event_t *x = ud;
    char at[40], why[ERRLEN];
    tz_format_iso(x->a->w->tz, *engine_clock(x->a->e), at);
    cJSON *o = cJSON_CreateObject();
    buf_t id;
    buf_init(&id);
    buf_printf(&id, "%s:%s:%s", x->type, x->id_base, ext_id);
    cJSON_AddStringToObject(o, "id", id.p);
    cJSON_AddStringToObject(o, "type", x->type);
    cJSON_AddStringToObject(o, "member", ext_id);
    cJSON_AddStringToObject(o, "at", at);
    if (x->content) cJSON_AddStringToObject(o, "content", x->content);
    event_t ev;
    int r = apply_event(x->a, o, NULL, &ev, why);   /* ev owns o from here */
    if (r == EVENT_APPLIED) x->applied++;
    if (r < 0) {
        x->failed++;
        const char *ids[] = {"member", ext_id};
        log_kv(LOG_ERROR, "api", ids, 1, "%s: %s", x->type, why);
    }
    evt_free(&ev);
    buf_free(&id);
}

static int member_events(api_t *a, const char *field, const char *value, const char *type, const char *id_base,
                         const char *content, char *err)
{
    addr_event_t x = {a, type, id_base, content, 0, 0};
    int n = store_members_by_address(a->store, field, value, emit_for_member, &x, err);
    return n < 0 || x.failed ? NUDGE_ERR : x.applied;
}

static int same_text(const char *secret, const char *given)
{
    token_t t = {(char *)secret, strlen(secret), 0};
    return given && same_secret(&t, given, strlen(given));
}

static char *body_text(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    *len = evbuffer_get_length(in);
    char *body = xmalloc(*len + 1);
    evbuffer_remove(in, body, *len);
    body[*len] = '\0';
    return body;
}

static void reply_aliyun(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "{\"code\":%d,\"msg\":", code == 200 ? 0 : 1);
    buf_add_json_str(&b, msg);
    buf_addc(&b, '}');
    reply(req, code, reason, b.p);
    buf_free(&b);
}

/* POST /v1/callbacks/aliyun-sms?secret=...: Alibaba Cloud's HTTP push of
 * delivery receipts (SmsReport) and replies (SmsUp). A receipt lands on
 * the message whose OutId (our idempotency key) it names; a reply is an
 * sms.replied event for every member with that phone, and a reply of
 * T, TD, R, 退订 (callback.h has the list) also an sms.opted_out. The
 * answer, {"code":0,"msg":"成功"}, is sent once that is durable; any other
 * answer makes Alibaba push again. */
static void on_aliyun_sms(api_t *a, struct evhttp_request *req)
{
    struct evkeyvalq q;
    parse_query(req, &q);
    int ok = a->sms_secret && same_text(a->sms_secret, query_str(&q, "secret"));
    evhttp_clear_headers(&q);
    if (!ok) {
        a->callbacks[CB_REFUSED]++;
        reply_aliyun(req, a->sms_secret ? 403 : 404, a->sms_secret ? "Forbidden" : "Not Found",
                     a->sms_secret ? "wrong or missing ?secret=" : "[api] callback.aliyun_sms is not configured");
        return;
    }
    size_t len;
    char *body = body_text(req, &len), err[ERRLEN];
    cb_sms_item_t *items;
    int n;
    int rc = cb_aliyun_parse(body, len, &items, &n, err);
    free(body);
    if (rc != NUDGE_OK) {
        reply_aliyun(req, 400, "Bad Request", err);
        return;
    }
    now_clock(a);
    a->hooks.touch(a->hooks.ud);
    for (int i = 0; i < n && rc == NUDGE_OK; i++) {
        cb_sms_item_t *it = &items[i];
        if (it->kind == CB_SMS_REPORT) {
            char receipt[160];
            if (it->success) snprintf(receipt, sizeof receipt, "delivered");
            else snprintf(receipt, sizeof receipt, "failed: %.60s %.80s", it->err_code, it->err_msg);
            int64_t at = *engine_clock(a->e);
            const tz_t *cst = tz_get("Asia/Shanghai", NULL);   /* Alibaba's times are China time */
            if (it->at[0] && cst) tz_parse_time(it->at, cst, &at, NULL, err);
            int found = it->out_id[0] ? store_receipt(a->store, "sms", it->out_id, NULL, NULL, receipt, at, err) : 0;
            if (found < 0) rc = NUDGE_ERR;
            a->callbacks[found > 0 ? CB_RECEIPT : CB_RECEIPT_UNKNOWN]++;
            continue;
        }
        char phone[40], base[160];
        a->callbacks[CB_REPLY]++;
        if (cb_phone_normalize(it->phone, phone, sizeof phone) != NUDGE_OK) continue;   /* no member has it */
        /* Alibaba numbers each reply; without one, the phone and time say which */
        snprintf(base, sizeof base, "%s", it->sequence_id[0] ? it->sequence_id : it->at);
        if (member_events(a, "phone", phone, "sms.replied", base, it->content, err) < 0) rc = NUDGE_ERR;
        if (rc == NUDGE_OK && cb_is_opt_out_reply(it->content)) {
            int k = member_events(a, "phone", phone, "sms.opted_out", base, NULL, err);
            if (k < 0) rc = NUDGE_ERR;
            else a->callbacks[CB_OPT_OUT] += k;
        }
    }
    free(items);
    if (engine_flush(a->e, err) != NUDGE_OK) rc = NUDGE_ERR;
    if (rc != NUDGE_OK) {
        reply_aliyun(req, 500, "Internal Server Error", err);
        return;
    }
    buf_t out;
    buf_init(&out);
    buf_adds(&out, "{\"code\":0,\"msg\":\"成功\"}");
    after_commit(a, req, 200, &out, 0);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    send_body(req, code, reason, "text/plain; charset=utf-8", text, strlen(text), 0);
}

/* GET and POST /v1/callbacks/wechat?signature=&timestamp=&nonce=: the
 * server URL of a WeChat Official Account. GET is WeChat's check of the
 * URL (echostr comes back); POST an event push: TEMPLATESENDJOBFINISH is
 * a template message's delivery report (found by WeChat's msgid),
 * subscribe and unsubscribe are wechat.subscribed / wechat.unsubscribed
 * events for the members with that openid. Other messages are answered
 * and ignored. */
static void on_wechat(api_t *a, struct evhttp_request *req, enum evhttp_cmd_type cmd)
{
    if (!a->wx_token) {
        reply_text(req, 404, "Not Found", "[api] callback.wechat is not configured");
        return;
    }
    struct evkeyvalq q;
    parse_query(req, &q);
    const char *ts = query_str(&q, "timestamp");
    long long t = strtoll(ts, NULL, 10), now = (long long)time(NULL);
    int ok = cb_wechat_signature_ok(a->wx_token, ts, query_str(&q, "nonce"), query_str(&q, "signature"));
    /* a signature proves who, the timestamp when: an old push replayed is refused */
    if (ok && (t < now - WECHAT_MAX_SKEW || t > now + WECHAT_MAX_SKEW)) ok = -1;
    if (ok != 1) {
        evhttp_clear_headers(&q);
        a->callbacks[CB_REFUSED]++;
        reply_text(req, 403, "Forbidden", ok ? "timestamp too far from now" : "bad signature");
        return;
    }
    if (cmd == EVHTTP_REQ_GET) {
        const char *echo = evhttp_find_header(&q, "echostr");
        reply_text(req, echo ? 200 : 400, echo ? "OK" : "Bad Request", echo ? echo : "echostr missing");
        evhttp_clear_headers(&q);
        return;
    }
    evhttp_clear_headers(&q);
    size_t len;
    char *body = body_text(req, &len), err[ERRLEN];
    cb_wechat_t w;
    int rc = cb_wechat_parse(body, len, &w, err);
    free(body);
    if (rc != NUDGE_OK) {
        reply_text(req, 400, "Bad Request", err);
        return;
    }
    if (strcmp(w.msg_type, "event") != 0) {
        reply_text(req, 200, "OK", "success");   /* a chat message: not ours to answer */
        return;
    }
    now_clock(a);
    a->hooks.touch(a->hooks.ud);
    char base[96];
    snprintf(base, sizeof base, "%lld", (long long)w.create_time);
    if (strcmp(w.event, "TEMPLATESENDJOBFINISH") == 0) {
        char receipt[160];
        if (strcmp(w.status, "success") == 0) snprintf(receipt, sizeof receipt, "delivered");
        else snprintf(receipt, sizeof receipt, "failed: %s", strncmp(w.status, "failed:", 7) == 0 ?
                      w.status + 7 + (w.status[7] == ' ') : w.status);
        int found = w.msg_id[0] ? store_receipt(a->store, "wechat", NULL, w.msg_id, w.from, receipt,
                                                w.create_time ? w.create_time : *engine_clock(a->e), err) : 0;
        if (found < 0) rc = NUDGE_ERR;
        a->callbacks[found > 0 ? CB_RECEIPT : CB_RECEIPT_UNKNOWN]++;
    } else if (strcmp(w.event, "subscribe") == 0 || strcmp(w.event, "unsubscribe") == 0) {
        int sub = w.event[0] == 's';
        int k = member_events(a, "wechat_openid", w.from, sub ? "wechat.subscribed" : "wechat.unsubscribed", base,
                              NULL, err);
        if (k < 0) rc = NUDGE_ERR;
        else a->callbacks[sub ? CB_SUBSCRIBE : CB_UNSUBSCRIBE] += k;
    }
    if (rc == NUDGE_OK && engine_flush(a->e, err) != NUDGE_OK) rc = NUDGE_ERR;
    if (rc != NUDGE_OK) {
        reply_text(req, 500, "Internal Server Error", err);
        return;
    }
    buf_t out;
    buf_init(&out);
    buf_adds(&out, "success");
    after_commit(a, req, -200, &out, 0);   /* negative: a text answer */
}

/* ---- routing ---- */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void on_request(struct evhttp_request *req, void *ud)
{
    api_t *a = ud;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (!path) path = "/";
    a->requests++;
    if (strcmp(path, "/metrics") == 0) {
        if (cmd != EVHTTP_REQ_GET) reply_error(req, 405, "Method Not Allowed", "GET /metrics");
        else if (authorized(a, req, SCOPE_READ)) on_metrics(a, req);
    } else if (strcmp(path, "/healthz") == 0) {
        if (cmd == EVHTTP_REQ_GET) reply(req, 200, "OK", "{\"status\":\"ok\"}");
        else reply_error(req, 405, "Method Not Allowed", "GET /healthz");
    } else if (strcmp(path, "/v1/events") == 0) {
        if (cmd != EVHTTP_REQ_POST) reply_error(req, 405, "Method Not Allowed", "POST /v1/events");
        else if (authorized(a, req, SCOPE_WRITE)) on_events(a, req);
    } else if (strcmp(path, "/v1/callbacks/aliyun-sms") == 0) {
        if (cmd != EVHTTP_REQ_POST) reply_error(req, 405, "Method Not Allowed", "POST /v1/callbacks/aliyun-sms");
        else on_aliyun_sms(a, req);
    } else if (strcmp(path, "/v1/callbacks/wechat") == 0) {
        if (cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_GET)
            reply_error(req, 405, "Method Not Allowed", "GET or POST /v1/callbacks/wechat");
        else on_wechat(a, req, cmd);
    } else if (strncmp(path, "/v1/members/", 12) == 0 && path[12] && has_suffix(path + 12, "/journeys")) {
        size_t n = strlen(path + 12) - strlen("/journeys");
        char *raw = xstrndup(path + 12, n);
        char *id = evhttp_uridecode(raw, 0, NULL);
        if (!n || strchr(raw, '/')) reply_error(req, 404, "Not Found", "GET /v1/members/{id}/journeys");
        else if (cmd != EVHTTP_REQ_GET) reply_error(req, 405, "Method Not Allowed", "GET /v1/members/{id}/journeys");
        else if (authorized(a, req, SCOPE_READ)) on_member(a, req, id, engine_member_journeys_json);
        free(id);
        free(raw);
    } else if (strncmp(path, "/v1/journeys/", 13) == 0) {
        const char *slash = strrchr(path + 13, '/');
        int pause = slash && strcmp(slash, "/pause") == 0, resume = slash && strcmp(slash, "/resume") == 0;
        if (!slash || slash == path + 13 || memchr(path + 13, '/', (size_t)(slash - path - 13)) || (!pause && !resume)) {
            reply_error(req, 404, "Not Found", "POST /v1/journeys/{name}/pause or /resume");
        } else if (cmd != EVHTTP_REQ_POST) {
            reply_error(req, 405, "Method Not Allowed", "POST /v1/journeys/{name}/pause or /resume");
        } else if (authorized(a, req, SCOPE_ADMIN)) {
            char *raw = xstrndup(path + 13, (size_t)(slash - path - 13));
            char *name = evhttp_uridecode(raw, 0, NULL);
            on_journey_pause(a, req, name, pause);
            free(name);
            free(raw);
        }
    } else if (strncmp(path, "/v1/members/", 12) == 0 && path[12] && !strchr(path + 12, '/')) {
        char *id = evhttp_uridecode(path + 12, 0, NULL);
        if (cmd == EVHTTP_REQ_GET) {
            if (authorized(a, req, SCOPE_READ)) on_member(a, req, id, engine_member_json);
        } else if (cmd == EVHTTP_REQ_PUT) {
            if (authorized(a, req, SCOPE_WRITE)) on_member_put(a, req, id);
        } else {
            reply_error(req, 405, "Method Not Allowed", "GET or PUT /v1/members/{id}");
        }
        free(id);
    } else if (strcmp(path, "/v1/journeys") == 0) {
        if (cmd != EVHTTP_REQ_GET) {
            reply_error(req, 405, "Method Not Allowed", "GET /v1/journeys");
        } else if (authorized(a, req, SCOPE_READ)) {
            buf_t out;
            buf_init(&out);
            engine_journeys_json(a->e, &out);
            reply(req, 200, "OK", out.p);
            buf_free(&out);
        }
    } else if (strcmp(path, "/v1/outbox") == 0) {
        if (cmd != EVHTTP_REQ_GET) reply_error(req, 405, "Method Not Allowed", "GET /v1/outbox");
        else if (authorized(a, req, SCOPE_READ)) on_outbox(a, req);
    } else if (strncmp(path, "/v1/outbox/", 11) == 0) {
        char *end;
        long long id = strtoll(path + 11, &end, 10);
        if (id <= 0 || strcmp(end, "/retry") != 0) reply_error(req, 404, "Not Found", "POST /v1/outbox/{id}/retry");
        else if (cmd != EVHTTP_REQ_POST) reply_error(req, 405, "Method Not Allowed", "POST /v1/outbox/{id}/retry");
        else if (authorized(a, req, SCOPE_ADMIN)) on_outbox_retry(a, req, id);
    } else {
        reply_error(req, 404, "Not Found", "no such endpoint (see docs/api.md)");
    }
}

/* ---- life cycle ---- */

int api_configured(const ws_t *w)
{
    for (int i = 0; i < w->nsettings; i++)
        if (strcmp(w->settings[i].section, "api") == 0) return 1;
    return 0;
}

#define API_HOST_MAX 100   /* bytes of [api] listen's address, with its NUL */

/* [api] listen as an address and a port. */
static int read_listen(const ws_t *w, char host[API_HOST_MAX], int *port, char *err)
{
    const char *listen = ws_get(w, "api", "listen");
    if (!listen) listen = API_DEFAULT_LISTEN;
    *port = -1;
    host[0] = '\0';
    const char *colon = strrchr(listen, ':');
    if (colon && colon - listen < API_HOST_MAX) {
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        char *endp;
        long p = strtol(colon + 1, &endp, 10);
        if (!*endp && colon[1] && p >= 0 && p <= 65535) *port = (int)p;
    }
    if (*port < 0 || !host[0])
        return errf(err, "nudge.conf:%d: [api] listen = %s: expected ADDRESS:PORT, like 127.0.0.1:7420",
                    ws_get_line(w, "api", "listen"), listen);
    return NUDGE_OK;
}

/* An api with w's [api] settings read (nothing bound), and where it is
 * to listen; NULL with err. */
static api_t *api_read(const ws_t *w, char host[API_HOST_MAX], int *port, char *err)
{
    api_t *a = xcalloc(1, sizeof *a);
    a->w = w;
    a->commit_ms = API_COMMIT_MS;
    a->wait_tail = &a->wait;
    hist_init(&a->answer_lat, answer_bounds, (int)(sizeof answer_bounds / sizeof answer_bounds[0]));
    if (read_tokens(a, err) != NUDGE_OK || read_listen(w, host, port, err) != NUDGE_OK) {
        api_free(a);
        return NULL;
    }
    return a;
}

int api_check(const ws_t *w, char *err)
{
    if (!api_configured(w)) return NUDGE_OK;
    char host[API_HOST_MAX];
    int port;
    api_t *a = api_read(w, host, &port, err);
    api_free(a);
    return a ? NUDGE_OK : NUDGE_ERR;
}

api_t *api_new(struct event_base *base, engine_t *e, store_t *s, const ws_t *w, const api_hooks_t *hooks,
               char *err)
{
    char host[API_HOST_MAX];
    int port;
    api_t *a = api_read(w, host, &port, err);
    if (!a) return NULL;
    a->e = e;
    a->store = s;
    a->hooks = *hooks;
    const char *listen = ws_get(w, "api", "listen");
    if (!listen) listen = API_DEFAULT_LISTEN;
    a->http = evhttp_new(base);
    evhttp_set_max_body_size(a->http, API_MAX_BODY);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
    evhttp_set_timeout(a->http, 30);
    evhttp_set_gencb(a->http, on_request, a);
    a->sock = evhttp_bind_socket_with_handle(a->http, host, (unsigned short)port);
    if (!a->sock) {
        errf(err, "nudge.conf:%d: [api] listen = %s: cannot listen there (in use, or not an address of this machine)",
             ws_get_line(w, "api", "listen"), listen);
        api_free(a);
        return NULL;
    }
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(a->sock), (struct sockaddr *)&ss, &sl);
    char ip[INET6_ADDRSTRLEN] = "";
    int real_port = 0;
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
        real_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
        real_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    snprintf(a->addr, sizeof a->addr, "%s:%d", ip, real_port);
    if (!a->ntokens)
        log_msg(LOG_WARN, "api", "[api] has no token.NAME: every request but /healthz will be refused");
    return a;
}

long api_commit_ms(const api_t *a)
{
    return a->commit_ms;
}

long api_commit_max_ms(const api_t *a)
{
    if (a->commit_max_ms) return a->commit_max_ms;
    long ms = a->commit_ms * API_COMMIT_STRETCH;
    return ms > API_MAX_COMMIT_MS ? API_MAX_COMMIT_MS : ms;
}

const char *api_address(const api_t *a)
{
    return a->addr;
}

api_waiting_t *api_take_waiting(api_t *a)
{
    waiting_t *wt = a->wait;
    a->wait = NULL;
    a->wait_tail = &a->wait;
    return wt;
}

void api_answer(api_t *a, api_waiting_t *list, int ok)
{
    waiting_t *wt = list;
    int64_t now = list ? mono_ns() : 0;
    while (wt) {
        waiting_t *next = wt->next;
        if (ok && wt->code < 0) reply_text(wt->req, -wt->code, "OK", wt->body);
        else if (ok) reply(wt->req, wt->code, wt->code == 201 ? "Created" : "OK", wt->body);
        else reply_error(wt->req, 503, "Service Unavailable", "the change could not be saved; send it again");
        if (wt->t0_ns) hist_observe(&a->answer_lat, (double)(now - wt->t0_ns) / 1e9);
        free(wt->body);
        free(wt);
        wt = next;
    }
}

void api_committed(api_t *a, int ok)
{
    api_answer(a, api_take_waiting(a), ok);
}

void api_stop(api_t *a)
{
    if (a && a->sock) {
        evhttp_del_accept_socket(a->http, a->sock);
        a->sock = NULL;
    }
}

void api_free(api_t *a)
{
    if (!a) return;
    api_committed(a, 0);
    if (a->http) evhttp_free(a->http);
    for (int i = 0; i < a->ntokens; i++) {
        volatile char *p = a->tokens[i].secret;   /* a wipe the compiler keeps */
        for (size_t k = 0; k < a->tokens[i].len; k++) p[k] = 0;
        free(a->tokens[i].secret);
    }
    free(a->tokens);
    free(a->sms_secret);
    free(a->wx_token);
    free(a);
}
