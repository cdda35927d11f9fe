/* event.c - see event.h */
#include "event.h"
#include "cal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whole numbers below this are exact in a double, and printed whole. */
#define EXACT_LIMIT 9007199254740992.0   /* 2^53 */

static const char *str_or_num(const cJSON *v, char *buf, size_t n)
{
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < EXACT_LIMIT)
            snprintf(buf, n, "%.0f", v->valuedouble);
        else
            snprintf(buf, n, "%.15g", v->valuedouble);
        return buf;
    }
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "1" : "0";
    if (cJSON_IsNull(v)) return "";
    return NULL;
}

static int need_positive_int(const cJSON *o, const char *key, int64_t *out, char *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return errf(err, "%s is missing", key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble <= 0 ||
        v->valuedouble > 1e12)
        return errf(err, "%s must be a positive whole number", key);
    *out = (int64_t)v->valuedouble;
    return NUDGE_OK;
}

/* An identifying field (id, member, order_id) as text: a string, or a
 * whole number small enough to be exact; NULL with err set otherwise
 * (true would be "1", and 12345678901234567 a neighbour of itself). */
static const char *ident(const cJSON *v, const char *key, char *buf, size_t n, char *err)
{
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < EXACT_LIMIT)
        return str_or_num(v, buf, n);
    if (cJSON_IsNumber(v))
        errf(err, "%s is a number that is not a whole one or too large to be exact; give it as a string", key);
    else
        errf(err, "%s must be a string or a number", key);
    return NULL;
}

/* A decimal amount given as text: digits with at most one point ("99.50");
 * not hex, exponents, signs or spaces, which strtod would take. */
static int plain_decimal(const char *s)
{
    int digits = 0, points = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') digits++;
        else if (*s == '.' && !points++) continue;
        else return 0;
    }
    return digits > 0;
}

static int check(event_t *ev, const tz_t *deflt, char *err);

int evt_parse(event_t *ev, const char *text, size_t len, const tz_t *deflt, char *err)
{
    memset(ev, 0, sizeof *ev);
    ev->text = text;
    const char *end = NULL;
    ev->json = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!ev->json) {
        size_t off = end ? (size_t)(end - text) : 0;
        return errf(err, "not valid JSON (near byte %zu)", off + 1);
    }
    /* one event a line: anything but spaces after it is a second object
     * or garbage, not to be dropped unseen */
    const char *p = skip_json_space(end, text + len);
    if (p < text + len && *p)
        return errf(err, "more after the event's JSON object (at byte %zu); one event a line", (size_t)(p - text) + 1);
    return check(ev, deflt, err);
}

int evt_take(event_t *ev, cJSON *json, const char *printed, const tz_t *deflt, char *err)
{
    memset(ev, 0, sizeof *ev);
    ev->json = json;
    ev->text = printed;
    ev->printed = 1;
    return check(ev, deflt, err);
}

/* The fields every event needs, and those its type needs. */
static int check(event_t *ev, const tz_t *deflt, char *err)
{
    cJSON *o = ev->json;
    if (!cJSON_IsObject(o)) return errf(err, "an event must be a JSON object");
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(v) || !*v->valuestring) return errf(err, "type is missing or not a string");
    ev->type = v->valuestring;
    v = cJSON_GetObjectItemCaseSensitive(o, "member");
    if (!v) return errf(err, "member is missing");
    if (!(ev->member = ident(v, "member", ev->memberbuf, sizeof ev->memberbuf, err))) return NUDGE_ERR;
    if (!*ev->member) return errf(err, "member is missing");
    v = cJSON_GetObjectItemCaseSensitive(o, "at");
    if (!cJSON_IsString(v)) return errf(err, "at is missing (an ISO 8601 time like 2027-01-22T10:00:00+08:00)");
    char e2[ERRLEN];
    if (tz_parse_time(v->valuestring, deflt, &ev->at, NULL, e2) != 0) return errf(err, "at: %s", e2);
    v = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (v) {
        if (!(ev->id = ident(v, "id", ev->idbuf, sizeof ev->idbuf, err))) return NUDGE_ERR;
        if (!*ev->id) return errf(err, "id must be a non-empty string");
    } else {
        /* same content, same id: re-importing a file without ids is a no-op */
        char *canon = cJSON_PrintUnformatted(o);
        snprintf(ev->idbuf, sizeof ev->idbuf, "h:%016llx",
                 (unsigned long long)fnv1a64(canon, strlen(canon), FNV_SEED));
        cJSON_free(canon);
        ev->id = ev->idbuf;
    }
    int64_t n;
    if (strcmp(ev->type, "order.paid") == 0) {
        v = cJSON_GetObjectItemCaseSensitive(o, "order_id");
        char tmp[32];
        if (!v) return errf(err, "order_id is missing");
        const char *oid = ident(v, "order_id", tmp, sizeof tmp, err);
        if (!oid) return NUDGE_ERR;
        if (!*oid) return errf(err, "order_id is missing");
        v = cJSON_GetObjectItemCaseSensitive(o, "amount");
        double amt = -1;
        if (cJSON_IsNumber(v)) {
            amt = v->valuedouble;
        } else if (cJSON_IsString(v) && plain_decimal(v->valuestring)) {
            amt = strtod(v->valuestring, NULL);   /* "99.50" is fine; "lots", "12 yuan" or "0x10" is not */
        }
        if (!v || amt < 0 || !isfinite(amt) || amt > 1e10) return errf(err, "amount must be a number >= 0");
    } else if (strcmp(ev->type, "points.earned") == 0) {
        if (need_positive_int(o, "points", &n, err) != NUDGE_OK) return NUDGE_ERR;
        v = cJSON_GetObjectItemCaseSensitive(o, "expires_at");
        int32_t d;
        if (v && (!cJSON_IsString(v) || cal_parse_date(v->valuestring, strlen(v->valuestring), &d) != 0))
            return errf(err, "expires_at must be a date like 2027-12-31");
    } else if (strcmp(ev->type, "points.redeemed") == 0) {
        if (need_positive_int(o, "points", &n, err) != NUDGE_OK) return NUDGE_ERR;
    }
    return NUDGE_OK;
}

void evt_free(event_t *ev)
{
    cJSON_Delete(ev->json);
    ev->json = NULL;
}

void evt_move(event_t *dst, event_t *src)
{
    *dst = *src;
    if (src->id == src->idbuf) dst->id = dst->idbuf;
    if (src->member == src->memberbuf) dst->member = dst->memberbuf;
    memset(src, 0, sizeof *src);
}

void evt_attrs_merge(char **attrs, const char *name, const char *value)
{
    cJSON *o = *attrs ? cJSON_Parse(*attrs) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    cJSON_DeleteItemFromObjectCaseSensitive(o, name);
    if (value && *value) cJSON_AddStringToObject(o, name, value);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(*attrs);
    *attrs = xstrdup(s);
    cJSON_free(s);
}

static int apply_joined(store_t *s, const ws_t *w, event_t *ev, member_t *m, int *created, char *err)
{
    char e2[ERRLEN];
    int found = store_member_find(s, ev->member, m, err);
    if (found < 0) return NUDGE_ERR;
    if (!found) {
        member_clear(m);
        m->zone = w->tz;
        *created = 1;
    }
    m->s[MS_EXT_ID] = ev->member;
    /* values as text, kept alive until the save below */
    char **held = NULL;
    int nheld = 0;
    char *attrs = m->s[MS_ATTRS] ? xstrdup(m->s[MS_ATTRS]) : NULL;
    int rc = NUDGE_OK, attrs_changed = 0, has_joined = 0;
    cJSON *tzv = cJSON_GetObjectItemCaseSensitive(ev->json, "tz");
    for (int pass = 0; pass < 2 && rc == NUDGE_OK; pass++) {
        /* tz first: a bare join date is midnight in the member's zone */
        for (cJSON *f = pass ? ev->json->child : tzv; f && rc == NUDGE_OK; f = pass ? f->next : NULL) {
            const char *k = f->string;
            if (!strcmp(k, "type") || !strcmp(k, "member") || !strcmp(k, "at") || !strcmp(k, "id") ||
                (pass && !strcmp(k, "tz")))
                continue;
            has_joined |= !strcmp(k, "joined_at");
            char tmp[32];
            const char *val = str_or_num(f, tmp, sizeof tmp);
            if (!val) {
                rc = errf(err, "%s must be text or a number", k);
                break;
            }
            held = xrealloc(held, sizeof *held * (size_t)(nheld + 1));
            val = held[nheld++] = xstrdup(val);
            int r = member_assign(m, k, val, w->tz, e2);
            if (r < 0) {
                rc = errf(err, "%s", e2);
            } else if (r == 1) {
                evt_attrs_merge(&attrs, k, val);
                attrs_changed = 1;
                rc = store_attr_name_add(s, k, err);
            }
        }
    }
    if (rc == NUDGE_OK && !has_joined && m->joined_at == TIME_NONE) m->joined_at = ev->at;
    if (rc == NUDGE_OK) {
        if (attrs_changed) m->s[MS_ATTRS] = attrs;
        member_derive(m);
        rc = store_member_save(s, m, err);
    }
    for (int i = 0; i < nheld; i++) free(held[i]);
    free(held);
    free(attrs);
    m->s[MS_ATTRS] = NULL;   /* pointed into attrs */
    return rc;
}

int evt_builtin(const char *type)
{
    static const char *const builtin[] = {"member.joined", "order.paid", "points.earned", "points.redeemed",
                                          "wechat.subscribed", "wechat.unsubscribed", "sms.opted_out",
                                          "email.opted_out", NULL};
    for (int i = 0; builtin[i]; i++)
        if (strcmp(type, builtin[i]) == 0) return 1;
    return 0;
}

#define ORDER_KNOWN 1   /* apply_change: a known order_id, nothing changed */

/* The state change of a non-joined event on member m (found): NUDGE_OK,
 * ORDER_KNOWN or NUDGE_ERR. */
static int apply_change(store_t *s, event_t *ev, member_t *m, char *err)
{
    const cJSON *o = ev->json;
    int rc = NUDGE_OK;
    if (strcmp(ev->type, "order.paid") == 0) {
        char tmp[32];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "order_id");
        const char *oid = str_or_num(v, tmp, sizeof tmp);
        v = cJSON_GetObjectItemCaseSensitive(o, "amount");
        double amt = cJSON_IsNumber(v) ? v->valuedouble : strtod(v->valuestring, NULL);
        int64_t cents = llround(amt * 100.0);
        int r = store_order_add(s, oid, m->rowid, ev->at, cents, err);
        if (r <= 0) return r < 0 ? NUDGE_ERR : ORDER_KNOWN;
        int32_t was_day = m->last_order_day;
        m->order_count++;
        m->spent_cents += cents;
        if (m->last_order_at == TIME_NONE || ev->at > m->last_order_at) m->last_order_at = ev->at;
        member_derive(m);
        return store_member_save_orders(s, m, was_day, err);
    }
    if (strcmp(ev->type, "points.earned") == 0) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "expires_at");
        int32_t day = CAL_NEVER;   /* no expiry date */
        if (v) cal_parse_date(v->valuestring, strlen(v->valuestring), &day);
        int64_t pts = (int64_t)cJSON_GetObjectItemCaseSensitive(o, "points")->valuedouble;
        return store_points_add(s, m->rowid, ev->at, day, pts, err);
    }
    if (strcmp(ev->type, "points.redeemed") == 0) {
        int64_t pts = (int64_t)cJSON_GetObjectItemCaseSensitive(o, "points")->valuedouble, bal;
        return store_points_redeem(s, m->rowid, tz_local_day(m->zone, ev->at), pts, &bal, err);
    }
    if (strcmp(ev->type, "wechat.subscribed") == 0) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "wechat_openid");
        if (cJSON_IsString(v) && *v->valuestring) member_set_str(m, MS_OPENID, v->valuestring);
        m->wechat_subscribed = 1;
    } else if (strcmp(ev->type, "wechat.unsubscribed") == 0) {
        m->wechat_subscribed = 0;
    } else if (strcmp(ev->type, "sms.opted_out") == 0) {
        m->sms_opt_out = 1;
    } else if (strcmp(ev->type, "email.opted_out") == 0) {
        m->email_opt_out = 1;
    } else {
        return rc;   /* other types are stored, not applied */
    }
    return store_member_save_reach(s, m, err);
}

int evt_apply(store_t *s, const ws_t *w, event_t *ev, member_t *m, int need_member, int *created, char *err)
{
    *created = 0;
    /* built-in types live on in the state they changed; others keep their
     * body for journeys and audits */
    const char *body = evt_builtin(ev->type) ? NULL : ev->text;
    if (strcmp(ev->type, "member.joined") == 0) {
        if (store_event_known(s, ev->id)) return EVENT_DUPLICATE;
        if (apply_joined(s, w, ev, m, created, err) != NUDGE_OK) return NUDGE_ERR;
        /* reload so m owns its strings again */
        if (store_member_find(s, ev->member, m, err) != 1) return NUDGE_ERR;
        return store_event_add(s, ev->id, ev->type, m->rowid, ev->at, body, err) < 0 ? NUDGE_ERR : EVENT_APPLIED;
    }
    int found;
    if (!need_member && strcmp(ev->type, "points.earned") == 0) {
        /* a new batch needs only the member's rowid: the id index has it,
         * no need to read the member's row */
        member_clear(m);
        found = (m->rowid = store_member_rowid(s, ev->member)) > 0;
    } else {
        found = store_member_find(s, ev->member, m, err);
        if (found < 0) return NUDGE_ERR;
    }
    if (!found) return errf(err, "unknown member '%s' (import the member first, or send member.joined)", ev->member);
    /* recording the id first is the duplicate check; a change that then
     * fails takes the record back */
    int r = store_event_add(s, ev->id, ev->type, m->rowid, ev->at, body, err);
    if (r <= 0) return r < 0 ? NUDGE_ERR : EVENT_DUPLICATE;
    r = apply_change(s, ev, m, err);
    if (r == NUDGE_OK) return EVENT_APPLIED;
    char e2[ERRLEN];
    if (store_event_remove(s, ev->id, e2) != NUDGE_OK) return errf(err, "%s", e2);
    return r == ORDER_KNOWN ? EVENT_DUPLICATE : NUDGE_ERR;
}
