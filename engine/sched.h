/* sched.h - calendar moments: when each time-anchored journey looks for
 * candidates, per time zone.
 *
 * A workspace has few time zones, so for each (journey, zone) there is
 * one moment per local day the trigger fires: "10:00 local on day D" is
 * one instant per zone, at which the candidates are an index range query
 * (join_day = D - 21, birth_md = MM-DD, ...). Moments sit in a binary heap
 * keyed by instant; the caller asks for the next one, moves the clock and
 * runs what is due. Live and simulated runs share this. */
#ifndef NUDGE_SCHED_H
#define NUDGE_SCHED_H

#include <stdint.h>
#include "engine.h"

typedef struct sched sched_t;

/* Moments at or after start; zones are the members' zones in the store. */
sched_t *sched_new(engine_t *e, store_t *s, int64_t start);
void sched_free(sched_t *s);

/* A zone first seen after sched_new (a new member from elsewhere):
 * its moments start at the engine's clock. No-op for a known zone. */
void sched_add_zone(sched_t *s, const tz_t *zone);

/* The earliest pending moment, TIME_NONE when there is none. */
int64_t sched_next(const sched_t *s);

/* Runs every moment at or before the engine's clock, in time order. */
int sched_run_due(sched_t *s, char *err);

#endif
