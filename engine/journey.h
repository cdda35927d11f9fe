/* journey.h - a loaded journey: its trigger, audience, steps and settings.
 *
 * The marketer writes journeys in Lua (scripts/prelude.lua defines the
 * vocabulary); the Lua host turns the table a journey file returns into
 * this struct, and keeps the journey's functions (audience, step
 * conditions) as registry references in the journey's own Lua state.
 * Everything in this module is plain C: trigger arithmetic included. */
#ifndef NUDGE_JOURNEY_H
#define NUDGE_JOURNEY_H

#include <stdint.h>
#include "member.h"
#include "util.h"

struct lh;
struct cJSON;

enum trig_kind {
    TRIG_EVENT,    /* on("order.paid") */
    TRIG_AFTER,    /* after("joined_at", days(21)) */
    TRIG_BEFORE,   /* before("points_expiry", days(30)) */
    TRIG_YEARLY,   /* yearly("birthday") */
    TRIG_DAILY,    /* daily() */
    TRIG_WEEKLY,   /* weekly("monday") */
    TRIG_MONTHLY,  /* monthly(8) */
    TRIG_ONCE,     /* once("2027-11-11 20:00") */
};

enum anchor { ANCHOR_JOINED, ANCHOR_LAST_ORDER, ANCHOR_POINTS_EXPIRY, ANCHOR_BIRTHDAY, ANCHOR_COUNT };
extern const char *const anchor_names[ANCHOR_COUNT];

typedef struct trigger {
    int kind;
    int anchor;            /* TRIG_AFTER / BEFORE / YEARLY */
    int days, months;      /* offset of AFTER / BEFORE */
    char *event;           /* TRIG_EVENT */
    int weekday;           /* TRIG_WEEKLY: 0 = Monday */
    int mday;              /* TRIG_MONTHLY: 1..31 (31 = the month's last day) */
    int once_has_offset;   /* TRIG_ONCE: an absolute instant ... */
    int64_t once_utc;
    int32_t once_day;      /* ... or a local wall time for every member */
    int once_secs;
} trigger_t;

enum step_kind { STEP_SEND, STEP_WAIT, STEP_EXIT };

typedef struct kv {
    char *key, *value;
} kv_t;

typedef struct step {
    int kind;
    char *id;
    int line;
    int when_ref;              /* condition; LUA_NOREF (-2) when none */
    /* send */
    char *tmpl;
    int channels[CH_COUNT];
    int nchannels;
    kv_t *data;
    int ndata;
    /* wait: calendar days keep the wall time (or move it to at_secs) */
    int wait_days, wait_secs, wait_at_secs;   /* wait_at_secs -1: keep */
    char *until;               /* wait ends early on this event type; NULL: plain wait */
} step_t;

enum reentry { REENTRY_EACH, REENTRY_ONCE };

typedef struct journey {
    char *name;
    char *file;              /* as shown in messages: journeys/x.lua */
    int line;
    uint64_t version;        /* fingerprint of the source */
    trigger_t trig;
    int at_secs;             /* local send time of calendar triggers */
    int audience_ref;
    char **exit_on;
    int nexit_on;
    int reentry;
    /* policy */
    int priority;            /* higher wins the last cap slots of an instant */
    int service;             /* transactional: no caps, no marketing opt-outs */
    int quiet_own;           /* quiet_from/to below replace the workspace's */
    int quiet_from, quiet_to;
    int64_t expires;         /* a held message is dropped after this many seconds; 0: never */
    int expires_eod;         /* ... or after the local day it was decided on */
    int64_t first_loaded;    /* moments before this never fire (0: no limit) */
    step_t *steps;
    int nsteps;
    kv_t *params;
    int nparams;
    struct lh *lh;           /* the journey's own Lua state */
    int disabled;
    int paused;              /* by an operator: no entries, no steps until resumed */
    char *reload_error;      /* the last reload of its file failed: this version runs on */
    char error[ERRLEN];
} journey_t;

/* What the journey is reacting to: the second argument of audience and
 * step conditions, and a source of template values. */
typedef struct occasion {
    int32_t day;             /* local date of the moment (calendar triggers) */
    int64_t points;          /* points expiry: points left expiring */
    int32_t expires_day;
    const struct cJSON *event;     /* event triggers */
    const char *event_json;        /* NULL, or cJSON's print of event (copied as is) */
    const char *event_id;
    const struct cJSON *received;  /* the event that ended the last wait { until }; NULL on timeout */
    int fresh;                     /* event recorded in this transaction: keys naming it were never decided */
} occasion_t;

journey_t *journey_new(void);
void journey_free(journey_t *j);

/* 1 for triggers evaluated at calendar moments (not events). */
int journey_is_calendar(const journey_t *j);
/* 1 if any step waits (members can be in flight). */
int journey_has_waits(const journey_t *j);
/* 1 when the calendar trigger has a moment on local day d. */
int journey_fires_on(const journey_t *j, int32_t d);
int journey_step_index(const journey_t *j, const char *id);
int journey_exits_on(const journey_t *j, const char *type);
/* 1 if a wait step of j ends early on events of this type. */
int journey_waits_for(const journey_t *j, const char *type);
/* The wait { until } step a member at step index `next` is waiting in
 * (waits hand members on to the step after them); NULL when the step
 * before `next` is not a wait for an event. */
const step_t *journey_until_before(const journey_t *j, int next);

/* For anchored triggers: the anchor day range [lo, hi] whose moment is
 * day d ("8 calendar months after the last order" maps several month-end
 * days onto one). Returns 0 when no anchor maps to d. */
int journey_anchor_range(const journey_t *j, int32_t d, int32_t *lo, int32_t *hi);

/* The occasion as JSON (for a member waiting in the journey) and back. */
void occasion_to_json(const occasion_t *o, buf_t *out);
/* Fills o from JSON; *owned receives the parsed tree the occasion points
 * into (cJSON_Delete it when done). */
int occasion_from_json(occasion_t *o, const char *json, struct cJSON **owned);

/* Occasion fields a template can name for this journey's trigger. */
int journey_occasion_has(const journey_t *j, const char *name);

#endif
