/* engine.h - decisions: who enters which journey, which step runs, which
 * channel a message takes and what it says.
 *
 * The engine is driven from outside: the scheduler hands it calendar
 * moments and due wake-ups, and event sources hand it events. Live and
 * simulated runs use the same engine; only the clock and the sink that
 * receives decided messages differ. */
#ifndef NUDGE_ENGINE_H
#define NUDGE_ENGINE_H

#include <stdint.h>
#include "event.h"
#include "journey.h"
#include "policy.h"
#include "store.h"
#include "tmpl.h"
#include "ws.h"

typedef struct engine engine_t;

typedef void (*engine_sink_fn)(const decision_t *d, void *ud);

typedef struct journey_stats {
    int64_t candidates;      /* members offered by triggers */
    int64_t evaluations;     /* audience and condition calls into Lua */
    int64_t entered, exited, completed, busy;
    int64_t unreachable, suppressed, capped, expired;   /* not sent, by reason */
    int64_t sent[CH_COUNT];
} journey_stats_t;

/* NULL with err when the workspace's policy does not load (the
 * suppression list names its file and line). */
engine_t *engine_new(ws_t *ws, store_t *store, char *err);
void engine_free(engine_t *e);

/* Loads every journey and template of the workspace. Problems (with
 * file:line) are appended to report, one per line; returns their count.
 * A journey with a problem is not loaded; the others are. */
int engine_load(engine_t *e, buf_t *report);

/* SIGHUP: journeys, templates and the policy again, from ws (nudge.conf
 * read again; the engine uses it from now on, the caller keeps the old
 * one alive for whoever still reads it). A file that fails to load keeps
 * its running version (the error is in report and in the journey's
 * reload_error); members waiting at a step that is gone, or in a journey
 * that is gone, leave it with the reason recorded; members elsewhere go
 * on at their step (matched by id). Call between instants (after
 * engine_flush). Returns the number of problems in report, or NUDGE_ERR
 * with err (the policy does not load: nothing changed; or the store). */
int engine_reload(engine_t *e, ws_t *ws, buf_t *report, char *err);

/* Static checks for `nudge check` on the loaded journeys: templates and
 * channels exist, placeholders and member fields are known. */
int engine_check(engine_t *e, buf_t *report);

/* The SMS signature ([sms] signature, else the brand) and the opt-out
 * text marketing SMS end with ([sms] opt_out, default 回T退订). */
const char *engine_sms_signature(const engine_t *e);
const char *engine_sms_opt_out(const engine_t *e);

/* Decisions reach the sink after the policy (policy.h): at the end of the
 * instant they were made in, or when quiet hours end.
 * render: the sink reads decision content (otherwise it is not built). */
void engine_set_sink(engine_t *e, engine_sink_fn fn, void *ud, int render);
/* The earliest instant after the clock at which a waiting member wakes
 * or a held message is released; TIME_NONE when there is none. Cached:
 * cheap to ask at every instant. */
int64_t engine_next_wake(engine_t *e);
/* An engine that acts for part of the members (a simulation run in
 * parts, each on its own copy of the store): members with row ids in
 * [lo, hi], and when takes_new the members its store does not know (that
 * part creates them, with row ids from new_floor on). Candidates,
 * wake-ups and held messages keep to them; the caller gives engine_event
 * only events of members engine_owns says are the engine's. */
void engine_own(engine_t *e, int64_t lo, int64_t hi, int takes_new, int64_t new_floor);
int engine_owns(engine_t *e, const char *member_id);
int64_t *engine_clock(engine_t *e);
int engine_njourneys(const engine_t *e);
journey_t *engine_journey(engine_t *e, int i);
const journey_stats_t *engine_stats(const engine_t *e, int i);
/* Journeys disabled at run time; their messages are in report. */
int engine_faults(const engine_t *e);
/* {"journeys":[...]} into out: each journey's name, file, version (a
 * hash of its file), state (running, or disabled with the error),
 * members waiting per step, and since start: entered, decided per
 * channel, not sent per reason, exited. */
void engine_journeys_json(engine_t *e, buf_t *out);
/* Appends journey metrics since start in the Prometheus text format:
 * members entered, messages decided by channel, not sent by reason,
 * journeys disabled, Lua errors. */
void engine_metrics(const engine_t *e, buf_t *out);

/* An event at the engine's clock: applies it, then exits and event
 * triggers when trigger is set. Returns as evt_apply. *new_zone is set
 * to the member's zone when the event created a member (the scheduler
 * may not know that zone yet). */
int engine_event(engine_t *e, event_t *ev, int trigger, const tz_t **new_zone, char *err);

/* The member with external id `id` as journeys see it, as a JSON object
 * into out: every built-in field (typed: text, numbers, booleans, dates,
 * tags as a list), "attributes" (custom ones) and "channels" (reachable
 * or not). 1 found, 0 no such member, NUDGE_ERR with err. */
int engine_member_json(engine_t *e, const char *id, buf_t *out, char *err);

/* Where the member with external id `id` is in each loaded journey, as
 * {"member":..,"journeys":[..]}: the journey's state, whether the member
 * waits in it (which wait, the next step, when they wake, the event
 * awaited), whether a once-only journey had them already, and their
 * messages of it by status with the latest one's time. Times in the
 * member's zone. 1 found, 0 no such member, NUDGE_ERR with err. */
int engine_member_journeys_json(engine_t *e, const char *id, buf_t *out, char *err);

/* Journey j's calendar moment on local day `day` in zone. */
int engine_moment(engine_t *e, journey_t *j, const tz_t *zone, int32_t day, char *err);
/* A one-off instant (once() with an offset): every member of every zone. */
int engine_instant(engine_t *e, journey_t *j, char *err);
/* Members whose wait ends at or before the clock continue. */
int engine_wakeups(engine_t *e, char *err);
/* Live runs: each journey acts from the first time it was loaded into
 * the workspace (recorded now for journeys seen for the first time). */
int engine_first_loaded(engine_t *e, char *err);
/* An operator pauses (paused 1) or resumes (0) journey `name`: while
 * paused it takes no new members, its calendar moments pass unfired and
 * members in it stay at their step (an awaited event is noted); on
 * resume they continue, those whose wait ended in between at once.
 * Kept in the store across restarts. 1 done, 0 no such journey,
 * NUDGE_ERR with err. */
int engine_pause(engine_t *e, const char *name, int paused, char *err);
/* Live runs: frequency caps start from what the outbox holds, and a
 * decision the outbox already has (replayed) is not offered again. */
int engine_load_recent(engine_t *e, char *err);
/* The provider refused member on channel ch for good (WeChat 43004):
 * the member is no longer reachable there. */
int engine_unreachable(engine_t *e, int64_t member, int ch, char *err);
/* The provider refused msg's member for good on msg's channel: the same
 * step's message goes out on the next usable channel of its list (under
 * the key "KEY/CHANNEL"), through the policy, to the sink. */
int engine_fallback(engine_t *e, const store_msg_t *msg, char *err);
/* The end of an instant: the policy releases held messages, applies the
 * caps and hands everything decided to the sink. */
int engine_flush(engine_t *e, char *err);

#endif
