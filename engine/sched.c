/* sched.c - see sched.h */
#include "sched.h"
#include "cal.h"

#include <stdlib.h>
#include <string.h>

typedef struct moment {
    int64_t at;
    int journey, zone;       /* zone -1: a one-off instant for all zones */
    int32_t day;
} moment_t;

struct sched {
    engine_t *e;
    const tz_t **zones;
    int nzones;
    moment_t *heap;
    int n, cap;
};

static int before(const moment_t *a, const moment_t *b)
{
    if (a->at != b->at) return a->at < b->at;
    if (a->journey != b->journey) return a->journey < b->journey;
    return a->zone < b->zone;
}

static void push(sched_t *s, moment_t m)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->heap = xrealloc(s->heap, sizeof *s->heap * (size_t)s->cap);
    }
    int i = s->n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!before(&m, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = m;
}

static moment_t pop(sched_t *s)
{
    moment_t top = s->heap[0], last = s->heap[--s->n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= s->n) break;
        if (c + 1 < s->n && before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n) s->heap[i] = last;
    return top;
}

/* The first local day >= from on which j fires in zone at or after
 * instant `not_before`; pushes that moment. */
static void schedule(sched_t *s, int ji, int zi, int32_t from, int64_t not_before)
{
    journey_t *j = engine_journey(s->e, ji);
    const tz_t *z = s->zones[zi];
    if (j->trig.kind == TRIG_ONCE) {
        if (j->trig.once_has_offset) return;
        from = from > j->trig.once_day ? from : j->trig.once_day;
        int64_t at = tz_local_to_utc(z, j->trig.once_day, j->trig.once_secs);
        if (from == j->trig.once_day && at >= not_before)
            push(s, (moment_t){at, ji, zi, j->trig.once_day});
        return;
    }
    for (int32_t d = from; d < from + 800; d++) {
        if (!journey_fires_on(j, d)) continue;
        int64_t at = tz_local_to_utc(z, d, j->at_secs);
        if (at < not_before) continue;
        push(s, (moment_t){at, ji, zi, d});
        return;
    }
}

static void schedule_zone(sched_t *s, int zi, int64_t start)
{
    int32_t d0 = tz_local_day(s->zones[zi], start) - 1;
    for (int j = 0; j < engine_njourneys(s->e); j++)
        if (journey_is_calendar(engine_journey(s->e, j))) schedule(s, j, zi, d0, start);
}

sched_t *sched_new(engine_t *e, store_t *st, int64_t start)
{
    sched_t *s = xcalloc(1, sizeof *s);
    s->e = e;
    int n;
    char **names = store_zones(st, &n);
    for (int i = 0; i < n; i++) {
        const tz_t *z = tz_get(names[i], NULL);
        if (z) sched_add_zone(s, z);
    }
    store_strv_free(names, n);
    /* sched_add_zone scheduled from the engine clock; redo from start */
    s->n = 0;
    for (int i = 0; i < s->nzones; i++) schedule_zone(s, i, start);
    for (int j = 0; j < engine_njourneys(e); j++) {
        journey_t *jj = engine_journey(e, j);
        if (jj->trig.kind == TRIG_ONCE && jj->trig.once_has_offset && jj->trig.once_utc >= start)
            push(s, (moment_t){jj->trig.once_utc, j, -1, 0});
    }
    return s;
}

void sched_free(sched_t *s)
{
    if (!s) return;
    free(s->zones);
    free(s->heap);
    free(s);
}

void sched_add_zone(sched_t *s, const tz_t *zone)
{
    for (int i = 0; i < s->nzones; i++)
        if (s->zones[i] == zone) return;
    s->zones = xrealloc(s->zones, sizeof *s->zones * (size_t)(s->nzones + 1));
    s->zones[s->nzones++] = zone;
    schedule_zone(s, s->nzones - 1, *engine_clock(s->e));
}

int64_t sched_next(const sched_t *s)
{
    return s->n ? s->heap[0].at : TIME_NONE;
}

int sched_run_due(sched_t *s, char *err)
{
    int64_t now = *engine_clock(s->e);
    while (s->n && s->heap[0].at <= now) {
        moment_t m = pop(s);
        journey_t *j = engine_journey(s->e, m.journey);
        if (m.zone < 0) {
            if (engine_instant(s->e, j, err) != NUDGE_OK) return NUDGE_ERR;
            continue;
        }
        if (engine_moment(s->e, j, s->zones[m.zone], m.day, err) != NUDGE_OK) return NUDGE_ERR;
        schedule(s, m.journey, m.zone, m.day + 1, m.at + 1);
    }
    return NUDGE_OK;
}
