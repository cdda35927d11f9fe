/* policy.c - see policy.h */
#include "policy.h"
#include "cal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HELD_BATCH 256

/* A member's recent capped messages, newest last. */
typedef struct recent {
    int64_t member;
    int n, cap;
    int64_t *at;
    unsigned char *ch;
    struct recent *next;
} recent_t;

/* A message offered at this instant, waiting for the caps. */
typedef struct pending {
    decision_t d;
    char *key, *content, *member_id, *address, *ctx;
    long seq;
    const char *outcome;     /* NULL: goes out */
} pending_t;

struct policy {
    const ws_t *ws;
    store_t *store;
    policy_emit_fn emit;
    void *emit_ud;
    journey_t **journeys;
    int njourneys;
    /* the suppression list: "p:13800000000", "e:a@b.cn", "w:openid", sorted */
    char **supp;
    size_t nsupp;
    /* caps */
    int64_t max_window;
    recent_t **buckets;
    size_t nbuckets;
    pending_t *pend;
    size_t npend, cap_pend;
    long seq;
    int64_t next_release;    /* cached store_held_next */
    int live;                /* the outbox is real: a key it has is a replay */
    int release_known;
    store_msg_t *held;       /* release batch, allocated once */
};

/* ---- the suppression list ---- */

/* Digits only, without a leading 86 / 0086 country code. */
static void norm_phone(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++)
        if (isdigit((unsigned char)*in)) out[k++] = *in;
    out[k] = '\0';
    if (k == 13 && strncmp(out, "86", 2) == 0) memmove(out, out + 2, k - 1);
    else if (k == 15 && strncmp(out, "0086", 4) == 0) memmove(out, out + 4, k - 3);
}

static void supp_key(int kind, const char *value, char *out, size_t n)
{
    char v[256];
    if (kind == 'p') {
        norm_phone(value, v, sizeof v);
    } else if (kind == 'e') {
        size_t i = 0;
        for (; value[i] && i + 1 < sizeof v; i++) v[i] = (char)tolower((unsigned char)value[i]);
        v[i] = '\0';
    } else {
        snprintf(v, sizeof v, "%s", value);
    }
    snprintf(out, n, "%c:%s", kind, v);
}

/* 'p', 'e' or 'w' for a line of the list; 0 when it is none of them. */
static int supp_kind(const char *s)
{
    if (strchr(s, '@')) return strchr(s, ' ') ? 0 : 'e';
    int digits = 0, other = 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p)) digits++;
        else if (!strchr("+- ()", *p)) other = 1;
    }
    if (!other) return digits >= 5 ? 'p' : 0;
    for (const char *p = s; *p; p++)   /* openids are letters, digits, '-' and '_' */
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') return 0;
    return 'w';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_suppressions(policy_t *p, char *err)
{
    const char *name = p->ws->suppress_file ? p->ws->suppress_file : WS_SUPPRESS;
    char path[4096];
    ws_path(p->ws, name, path, sizeof path);
    if (!p->ws->suppress_file && access(path, F_OK) != 0) return NUDGE_OK;   /* the default file is optional */
    char *text = read_file(path, NULL, err);
    if (!text) return NUDGE_ERR;
    int lineno = 0, rc = NUDGE_OK;
    for (char *line = text, *next; line && rc == NUDGE_OK; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        strtrim(line);
        if (!*line) continue;
        int kind = supp_kind(line);
        if (!kind) {
            rc = errf(err, "%s:%d: '%s' is not a phone number, email or WeChat openid", name, lineno, line);
            break;
        }
        char key[300];
        supp_key(kind, line, key, sizeof key);
        p->supp = xrealloc(p->supp, sizeof *p->supp * (p->nsupp + 1));
        p->supp[p->nsupp++] = xstrdup(key);
    }
    free(text);
    if (p->nsupp) qsort(p->supp, p->nsupp, sizeof *p->supp, cmp_str);
    return rc;
}

static int suppressed(const policy_t *p, const member_t *m, int ch)
{
    if (!p->nsupp) return 0;
    static const int kinds[CH_COUNT] = {[CH_WECHAT] = 'w', [CH_SMS] = 'p', [CH_EDM] = 'e'};
    const char *addr = member_address(m, ch);
    if (!addr) return 0;
    char key[300];
    supp_key(kinds[ch], addr, key, sizeof key);
    const char *k = key;
    return bsearch(&k, p->supp, p->nsupp, sizeof *p->supp, cmp_str) != NULL;
}

/* ---- life cycle ---- */

policy_t *policy_new(const ws_t *w, store_t *s, char *err)
{
    policy_t *p = xcalloc(1, sizeof *p);
    p->ws = w;
    p->store = s;
    for (int i = 0; i < w->ncaps; i++)
        if (w->caps[i].window > p->max_window) p->max_window = w->caps[i].window;
    if (load_suppressions(p, err) != NUDGE_OK) {
        policy_free(p);
        return NULL;
    }
    return p;
}

static void free_pending(policy_t *p)
{
    for (size_t i = 0; i < p->npend; i++) {
        free(p->pend[i].key);
        free(p->pend[i].content);
        free(p->pend[i].member_id);
        free(p->pend[i].address);
        free(p->pend[i].ctx);
    }
    p->npend = 0;
}

void policy_free(policy_t *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nsupp; i++) free(p->supp[i]);
    free(p->supp);
    for (size_t i = 0; i < p->nbuckets; i++)
        for (recent_t *r = p->buckets[i], *next; r; r = next) {
            next = r->next;
            free(r->at);
            free(r->ch);
            free(r);
        }
    free(p->buckets);
    free_pending(p);
    free(p->pend);
    if (p->held) {
        for (int i = 0; i < HELD_BATCH; i++) store_msg_free(&p->held[i]);
        free(p->held);
    }
    free(p);
}

void policy_set_emit(policy_t *p, policy_emit_fn fn, void *ud)
{
    p->emit = fn;
    p->emit_ud = ud;
}

void policy_set_journeys(policy_t *p, journey_t **journeys, int n)
{
    p->journeys = journeys;
    p->njourneys = n;
}

static void emit(policy_t *p, const decision_t *d)
{
    if (p->emit) p->emit(d, p->emit_ud);
}

/* ---- consent ---- */

int policy_channel(const policy_t *p, const journey_t *j, const member_t *m, const int *chans, int n,
                   const int *allowed, const char **why)
{
    int saw_suppressed = 0;
    for (int i = 0; i < n; i++) {
        int ch = chans[i];
        if (!allowed[ch]) continue;
        /* opt-outs are about marketing; a service message still needs an address */
        int ok = member_reachable(m, ch) || (j->service && ch != CH_WECHAT && member_address(m, ch));
        if (!ok) continue;
        if (suppressed(p, m, ch)) {
            saw_suppressed = 1;
            continue;
        }
        return ch;
    }
    *why = saw_suppressed ? SKIP_SUPPRESSED : SKIP_UNREACHABLE;
    return -1;
}

/* ---- quiet hours ---- */

/* When a message decided at t may go out: t itself outside quiet hours,
 * else the local instant they end. */
static int64_t quiet_release(const policy_t *p, const journey_t *j, const tz_t *zone, int64_t t)
{
    int from = j->quiet_own ? j->quiet_from : p->ws->quiet_from;
    int to = j->quiet_own ? j->quiet_to : p->ws->quiet_to;
    if (from == to) return t;
    int secs = tz_local_secs(zone, t);
    int32_t day = tz_local_day(zone, t);
    int quiet = from < to ? secs >= from && secs < to : secs >= from || secs < to;
    if (!quiet) return t;
    /* the window opens at `to`: today if we are before it, else tomorrow */
    return tz_local_to_utc(zone, secs < to ? day : day + 1, to);
}

/* The last instant the message is worth sending; TIME_NONE: no limit. */
static int64_t deadline(const journey_t *j, const tz_t *zone, int64_t decided)
{
    if (j->expires_eod) return tz_local_to_utc(zone, tz_local_day(zone, decided) + 1, 0) - 1;
    if (j->expires) return decided + j->expires;
    return TIME_NONE;
}

/* ---- caps ---- */

static recent_t *recent_of(policy_t *p, int64_t member, int create)
{
    if (!p->nbuckets) {
        if (!create) return NULL;
        p->nbuckets = 1 << 16;
        p->buckets = xcalloc(p->nbuckets, sizeof *p->buckets);
    }
    size_t b = (size_t)(fnv1a64(&member, sizeof member, FNV_SEED) & (p->nbuckets - 1));
    for (recent_t *r = p->buckets[b]; r; r = r->next)
        if (r->member == member) return r;
    if (!create) return NULL;
    recent_t *r = xcalloc(1, sizeof *r);
    r->member = member;
    r->next = p->buckets[b];
    p->buckets[b] = r;
    return r;
}

/* Forgets messages older than every window. */
static void recent_prune(const policy_t *p, recent_t *r, int64_t now)
{
    int k = 0;
    while (k < r->n && r->at[k] <= now - p->max_window) k++;
    if (!k) return;
    memmove(r->at, r->at + k, sizeof *r->at * (size_t)(r->n - k));
    memmove(r->ch, r->ch + k, (size_t)(r->n - k));
    r->n -= k;
}

/* 1 when one more message on ch would break a cap. */
static int capped(policy_t *p, int64_t member, int ch, int64_t now)
{
    recent_t *r = recent_of(p, member, 0);
    if (!r) return 0;
    recent_prune(p, r, now);
    for (int i = 0; i < p->ws->ncaps; i++) {
        const ws_cap_t *c = &p->ws->caps[i];
        if (c->channel >= 0 && c->channel != ch) continue;
        int count = 0;
        for (int k = 0; k < r->n; k++)
            if (r->at[k] > now - c->window && (c->channel < 0 || r->ch[k] == c->channel)) count++;
        if (count >= c->n) return 1;
    }
    return 0;
}

static void count_sent(policy_t *p, int64_t member, int ch, int64_t at)
{
    recent_t *r = recent_of(p, member, 1);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4;
        r->at = xrealloc(r->at, sizeof *r->at * (size_t)r->cap);
        r->ch = xrealloc(r->ch, (size_t)r->cap);
    }
    r->at[r->n] = at;
    r->ch[r->n++] = (unsigned char)ch;
}

static const journey_t *journey_named(const policy_t *p, const char *name);

static void recent_row(int64_t member, const char *channel, int64_t at, const char *journey, void *ud)
{
    policy_t *p = ud;
    const journey_t *j = journey ? journey_named(p, journey) : NULL;
    if (j && j->service) return;   /* service messages never count */
    int ch = channel_lookup(channel);
    if (ch >= 0) count_sent(p, member, ch, at);
}

int policy_load_recent(policy_t *p, int64_t now, char *err)
{
    if (!p->ws->ncaps) return NUDGE_OK;
    if (store_outbox_recent(p->store, now - p->max_window, recent_row, p, err) != NUDGE_OK) return NUDGE_ERR;
    /* rows came per status and channel: put each member's times in order */
    for (size_t b = 0; b < p->nbuckets; b++)
        for (recent_t *r = p->buckets[b]; r; r = r->next) {
            for (int i = 1; i < r->n; i++)   /* insertion sort: a member has a handful */
                for (int k = i; k > 0 && r->at[k - 1] > r->at[k]; k--) {
                    int64_t t = r->at[k];
                    r->at[k] = r->at[k - 1];
                    r->at[k - 1] = t;
                    unsigned char c = r->ch[k];
                    r->ch[k] = r->ch[k - 1];
                    r->ch[k - 1] = c;
                }
        }
    return NUDGE_OK;
}

/* Past quiet hours: out now without caps, else into this instant's batch. */
static void admit(policy_t *p, const decision_t *d)
{
    if (!p->ws->ncaps || d->journey->service) {
        emit(p, d);
        return;
    }
    if (p->npend == p->cap_pend) {
        p->cap_pend = p->cap_pend ? p->cap_pend * 2 : 64;
        p->pend = xrealloc(p->pend, sizeof *p->pend * p->cap_pend);
    }
    pending_t *q = &p->pend[p->npend++];
    q->d = *d;
    q->key = xstrdup(d->key);
    q->content = d->content ? xstrdup(d->content) : NULL;
    q->member_id = xstrdup(d->member_id);
    q->address = d->address ? xstrdup(d->address) : NULL;
    q->d.address = q->address;
    q->ctx = d->ctx ? xstrdup(d->ctx) : NULL;
    q->d.ctx = q->ctx;
    q->d.key = q->key;
    q->d.content = q->content;
    q->d.member_id = q->member_id;
    q->seq = p->seq++;
    q->outcome = NULL;
}

void policy_set_live(policy_t *p, int live)
{
    p->live = live;
}

int policy_offer(policy_t *p, const decision_t *d, char *err)
{
    /* a decision replayed after a crash: already in the outbox, so neither
     * held, counted against a cap nor emitted again */
    if (p->live && !d->fresh && store_outbox_has(p->store, d->member, d->key)) return NUDGE_OK;
    int64_t release = quiet_release(p, d->journey, d->zone, d->at);
    if (release == d->at) {
        admit(p, d);
        return NUDGE_OK;
    }
    int64_t last = deadline(d->journey, d->zone, d->at);
    if (last != TIME_NONE && release > last) {
        decision_t x = *d;
        x.skipped = SKIP_QUIET_EXPIRED;
        x.content = NULL;
        emit(p, &x);
        return NUDGE_OK;
    }
    store_msg_t m;
    store_msg_init(&m);
    policy_msg_from(d, &m);
    m.at = release;
    int rc = store_held_put(p->store, &m, err);
    store_msg_free(&m);
    if (p->release_known && (p->next_release == TIME_NONE || release < p->next_release)) p->next_release = release;
    return rc;
}

void policy_msg_from(const decision_t *d, store_msg_t *m)
{
    strcopy(m->key, sizeof m->key, d->key);
    m->fresh = d->fresh;
    m->at = d->at;
    m->decided_at = d->decided_at;
    m->member = d->member;
    strcopy(m->journey, sizeof m->journey, d->journey->name);
    strcopy(m->step, sizeof m->step, d->step->id);
    strcopy(m->channel, sizeof m->channel, d->channel >= 0 ? channel_names[d->channel] : "");
    strcopy(m->tmpl, sizeof m->tmpl, d->step->tmpl ? d->step->tmpl : "");
    strcopy(m->member_id, sizeof m->member_id, d->member_id);
    strcopy(m->zone, sizeof m->zone, tz_name(d->zone));
    if (d->skipped) return;   /* nothing goes out: no address, content or parts */
    strcopy(m->address, sizeof m->address, d->address ? d->address : "");
    m->segments = d->channel == CH_SMS ? d->segments : 0;
    if (d->content) buf_adds(&m->content, d->content);
    if (d->ctx) buf_adds(&m->ctx, d->ctx);
}

int64_t policy_next_release(policy_t *p)
{
    if (!p->release_known) {
        p->next_release = store_held_next(p->store);
        p->release_known = 1;
    }
    return p->next_release;
}

static const journey_t *journey_named(const policy_t *p, const char *name)
{
    for (int i = 0; i < p->njourneys; i++)
        if (strcmp(p->journeys[i]->name, name) == 0) return p->journeys[i];
    return NULL;
}

/* Held messages whose quiet hours ended by now join the instant. */
static int release_held(policy_t *p, int64_t now, char *err)
{
    int64_t next = policy_next_release(p);
    if (next == TIME_NONE || next > now) return NUDGE_OK;
    if (!p->held) {
        p->held = xcalloc(HELD_BATCH, sizeof *p->held);
        for (int i = 0; i < HELD_BATCH; i++) store_msg_init(&p->held[i]);
    }
    p->release_known = 0;
    for (;;) {
        int n = store_held_due(p->store, now, p->held, HELD_BATCH, err);
        if (n < 0) return NUDGE_ERR;
        for (int i = 0; i < n; i++) {
            store_msg_t *m = &p->held[i];
            const journey_t *j = journey_named(p, m->journey);
            int idx = j ? journey_step_index(j, m->step) : -1;
            decision_t d = {.journey = j, .step = idx >= 0 ? &j->steps[idx] : NULL, .member = m->member,
                            .member_id = m->member_id, .zone = tz_get(m->zone, NULL), .channel = -1,
                            .key = m->key, .content = m->content.len ? m->content.p : NULL, .at = now,
                            .address = m->address, .ctx = m->ctx.len ? m->ctx.p : NULL,
                            .segments = m->segments,
                            .decided_at = m->decided_at};
            d.channel = channel_lookup(m->channel);
            if (!d.step || !d.zone || d.channel < 0) {
                /* the journey or its step went away while the message waited:
                 * the outbox keeps the row, dropped, with the reason */
                if (store_held_drop(p->store, m->id, SKIP_GONE, err) != NUDGE_OK) return NUDGE_ERR;
                if (d.step && d.zone) {
                    d.skipped = SKIP_GONE;
                    d.content = NULL;
                    emit(p, &d);
                }
                continue;
            }
            if (store_held_delete(p->store, m->id, err) != NUDGE_OK) return NUDGE_ERR;
            admit(p, &d);
        }
        if (n < HELD_BATCH) break;
    }
    return NUDGE_OK;
}

/* Batch order for the caps: per member, higher priority first, then the
 * order the messages were decided in. */
static int cmp_claim(const void *a, const void *b)
{
    const pending_t *x = a, *y = b;
    if (x->d.member != y->d.member) return x->d.member < y->d.member ? -1 : 1;
    if (x->d.journey->priority != y->d.journey->priority) return x->d.journey->priority > y->d.journey->priority ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_seq(const void *a, const void *b)
{
    long x = ((const pending_t *)a)->seq, y = ((const pending_t *)b)->seq;
    return x < y ? -1 : x > y;
}

int policy_flush(policy_t *p, int64_t now, char *err)
{
    if (release_held(p, now, err) != NUDGE_OK) return NUDGE_ERR;
    if (!p->npend) return NUDGE_OK;
    qsort(p->pend, p->npend, sizeof *p->pend, cmp_claim);
    for (size_t i = 0; i < p->npend; i++) {
        pending_t *q = &p->pend[i];
        if (capped(p, q->d.member, q->d.channel, q->d.at)) q->outcome = SKIP_CAPPED;
        else count_sent(p, q->d.member, q->d.channel, q->d.at);
    }
    qsort(p->pend, p->npend, sizeof *p->pend, cmp_seq);   /* emit in the order decided */
    for (size_t i = 0; i < p->npend; i++) {
        decision_t d = p->pend[i].d;
        if (p->pend[i].outcome) {
            d.skipped = p->pend[i].outcome;
            d.content = NULL;
        }
        emit(p, &d);
    }
    free_pending(p);
    return NUDGE_OK;
}
