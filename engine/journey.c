/* journey.c - see journey.h */
#include "journey.h"
#include "cal.h"
#include "lhost.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

const char *const anchor_names[ANCHOR_COUNT] = {
    [ANCHOR_JOINED] = "joined_at",
    [ANCHOR_LAST_ORDER] = "last_order_at",
    [ANCHOR_POINTS_EXPIRY] = "points_expiry",
    [ANCHOR_BIRTHDAY] = "birthday",
};

journey_t *journey_new(void)
{
    journey_t *j = xcalloc(1, sizeof *j);
    j->audience_ref = -2;
    j->at_secs = 10 * 3600;
    return j;
}

static void kv_free(kv_t *kv, int n)
{
    for (int i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void journey_free(journey_t *j)
{
    if (!j) return;
    lh_free(j->lh);
    free(j->name);
    free(j->file);
    free(j->trig.event);
    for (int i = 0; i < j->nexit_on; i++) free(j->exit_on[i]);
    free(j->exit_on);
    for (int i = 0; i < j->nsteps; i++) {
        free(j->steps[i].id);
        free(j->steps[i].tmpl);
        free(j->steps[i].until);
        kv_free(j->steps[i].data, j->steps[i].ndata);
    }
    free(j->steps);
    free(j->reload_error);
    kv_free(j->params, j->nparams);
    free(j);
}

int journey_is_calendar(const journey_t *j)
{
    return j->trig.kind != TRIG_EVENT;
}

int journey_has_waits(const journey_t *j)
{
    for (int i = 0; i < j->nsteps; i++)
        if (j->steps[i].kind == STEP_WAIT) return 1;
    return 0;
}

int journey_fires_on(const journey_t *j, int32_t d)
{
    int y, m, dd;
    switch (j->trig.kind) {
    case TRIG_WEEKLY: return cal_weekday(d) == j->trig.weekday;
    case TRIG_MONTHLY: {
        cal_to_ymd(d, &y, &m, &dd);
        int dim = cal_days_in_month(y, m);
        return dd == (j->trig.mday < dim ? j->trig.mday : dim);
    }
    case TRIG_ONCE: return !j->trig.once_has_offset && d == j->trig.once_day;
    case TRIG_EVENT: return 0;
    default: return 1;
    }
}

int journey_step_index(const journey_t *j, const char *id)
{
    for (int i = 0; i < j->nsteps; i++)
        if (strcmp(j->steps[i].id, id) == 0) return i;
    return -1;
}

int journey_exits_on(const journey_t *j, const char *type)
{
    for (int i = 0; i < j->nexit_on; i++)
        if (strcmp(j->exit_on[i], type) == 0) return 1;
    return 0;
}

int journey_waits_for(const journey_t *j, const char *type)
{
    for (int i = 0; i < j->nsteps; i++)
        if (j->steps[i].until && strcmp(j->steps[i].until, type) == 0) return 1;
    return 0;
}

const step_t *journey_until_before(const journey_t *j, int next)
{
    if (next <= 0 || next > j->nsteps) return NULL;
    const step_t *w = &j->steps[next - 1];
    return w->kind == STEP_WAIT && w->until ? w : NULL;
}

int journey_anchor_range(const journey_t *j, int32_t d, int32_t *lo, int32_t *hi)
{
    const trigger_t *t = &j->trig;
    int sign = t->kind == TRIG_BEFORE ? -1 : 1;
    if (t->kind != TRIG_AFTER && t->kind != TRIG_BEFORE) return 0;
    /* moment = add_months(anchor, sign*months) + sign*days; undo the days
     * first, then find every anchor whose month shift lands on that day */
    int32_t target = d - sign * t->days;
    int shift = sign * t->months;
    if (shift == 0) {
        *lo = *hi = target;
        return 1;
    }
    int y, m, dd;
    cal_to_ymd(target, &y, &m, &dd);
    int idx = y * 12 + (m - 1) - shift;
    int sy = idx >= 0 ? idx / 12 : -((-idx + 11) / 12);
    int sm = idx - sy * 12 + 1;
    int sdim = cal_days_in_month(sy, sm);
    if (dd > sdim) return 0;                 /* clamping never lands here */
    *lo = cal_from_ymd(sy, sm, dd);
    *hi = dd == cal_days_in_month(y, m) ? cal_from_ymd(sy, sm, sdim) : *lo;
    return 1;
}

/* a cJSON tree as cJSON prints it */
static void add_tree(buf_t *out, const cJSON *tree)
{
    char *s = cJSON_PrintUnformatted(tree);
    buf_adds(out, s);
    cJSON_free(s);
}

/* "name": after a comma unless it is the object's first member */
static void add_key(buf_t *out, const char *name)
{
    if (out->len > 1) buf_addc(out, ',');
    buf_addc(out, '"');
    buf_adds(out, name);
    buf_adds(out, "\":");
}

/* Written directly, byte for byte as cJSON prints the same object: a
 * message's context is written for every message decided. */
void occasion_to_json(const occasion_t *o, buf_t *out)
{
    buf_reset(out);
    buf_addc(out, '{');
    if (o->day != CAL_NONE) {
        add_key(out, "day");
        buf_add_i64(out, o->day);
    }
    if (o->expires_day != CAL_NONE) {
        add_key(out, "expires_day");
        buf_add_i64(out, o->expires_day);
        add_key(out, "points");
        buf_add_i64(out, o->points);
    }
    if (o->event) {
        add_key(out, "event");
        if (o->event_json) buf_adds(out, o->event_json);
        else add_tree(out, o->event);
    }
    if (o->event_id) {
        add_key(out, "event_id");
        buf_add_json_str(out, o->event_id);
    }
    if (o->received) {
        add_key(out, "received");
        add_tree(out, o->received);
    }
    buf_addc(out, '}');
}

int occasion_from_json(occasion_t *o, const char *json, cJSON **owned)
{
    memset(o, 0, sizeof *o);
    o->day = o->expires_day = CAL_NONE;
    *owned = cJSON_Parse(json);
    if (!*owned) return NUDGE_ERR;
    cJSON *v;
    if (cJSON_IsNumber(v = cJSON_GetObjectItem(*owned, "day"))) o->day = (int32_t)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItem(*owned, "expires_day"))) o->expires_day = (int32_t)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItem(*owned, "points"))) o->points = (int64_t)v->valuedouble;
    if (cJSON_IsObject(v = cJSON_GetObjectItem(*owned, "event"))) o->event = v;
    if (cJSON_IsString(v = cJSON_GetObjectItem(*owned, "event_id"))) o->event_id = v->valuestring;
    if (cJSON_IsObject(v = cJSON_GetObjectItem(*owned, "received"))) o->received = v;
    return NUDGE_OK;
}

int journey_occasion_has(const journey_t *j, const char *name)
{
    if (strcmp(name, "date") == 0) return journey_is_calendar(j);
    if (strcmp(name, "expiring_points") == 0 || strcmp(name, "expires_on") == 0)
        return j->trig.anchor == ANCHOR_POINTS_EXPIRY &&
               (j->trig.kind == TRIG_AFTER || j->trig.kind == TRIG_BEFORE);
    /* an event's own fields are only known when it arrives */
    return j->trig.kind == TRIG_EVENT;
}
