/* policy.h - what stands between a journey's decision and the outbox.
 *
 * A send step decides to message a member; the policy then decides
 * whether, when and on which channel that message may go:
 *   - consent: opted-out or unsubscribed members get no marketing on that
 *     channel, and nobody on the workspace suppression list gets anything
 *     on the channel the listed phone, email or openid belongs to; the
 *     step's channel list falls back past such channels;
 *   - quiet hours in the member's local time: a message decided inside
 *     them is held until they end, or dropped when that is later than the
 *     journey says the message is worth sending;
 *   - frequency caps across journeys (optionally per channel) over a
 *     rolling window; at one instant the journey with the higher priority
 *     wins the last slots; service journeys are exempt.
 * Every message that does not go out is emitted too, with its reason.
 * Live and simulated runs apply the same policy. */
#ifndef NUDGE_POLICY_H
#define NUDGE_POLICY_H

#include <stdint.h>
#include "journey.h"
#include "member.h"
#include "store.h"
#include "tz.h"
#include "ws.h"

/* One message decided by a send step, as the policy emits it. channel is
 * -1 when no channel may carry it; skipped names the reason when it will
 * not go out (the channel it would have taken stays set for "capped" and
 * "quiet_hours_expired"). */
typedef struct decision {
    const journey_t *journey;
    const step_t *step;
    int64_t member;            /* store rowid */
    const char *member_id;     /* the brand's id */
    const tz_t *zone;
    int channel;
    const char *address;       /* the member's openid, phone or email on channel */
    const char *skipped;
    const char *key;           /* idempotency key */
    const char *content;       /* rendered JSON value; NULL when skipped or not rendered */
    const char *ctx;           /* the occasion as JSON (with content), to render again */
    int64_t at;                /* when it goes out (or was dropped) */
    int64_t decided_at;        /* when the step decided it; earlier than at when held */
    int segments;              /* sms: billed parts */
    int fresh;                 /* 1: the key names an event recorded in this transaction, so it
                                * cannot be in the outbox yet (no probe) */
} decision_t;

/* Reasons a message does not go out. */
#define SKIP_UNREACHABLE "unreachable"
#define SKIP_SUPPRESSED "suppressed"
#define SKIP_CAPPED "capped"
#define SKIP_QUIET_EXPIRED "quiet_hours_expired"
#define SKIP_NO_TEMPLATE "no_template"
#define SKIP_GONE "journey_changed"
#define SKIP_TOO_LONG "sms_too_long"

typedef struct policy policy_t;
typedef void (*policy_emit_fn)(const decision_t *d, void *ud);

/* Reads the workspace's policy: [policy] in nudge.conf (already parsed
 * into w) and the suppression list file. Errors name the file and line. */
policy_t *policy_new(const ws_t *w, store_t *s, char *err);
void policy_free(policy_t *p);

/* Where decisions end up, and the journeys held messages refer to. */
void policy_set_emit(policy_t *p, policy_emit_fn fn, void *ud);
void policy_set_journeys(policy_t *p, journey_t **journeys, int n);

/* The first channel of chans[0..n) that may carry j's message to m
 * (allowed[ch] says the template has that channel). -1 when none, with
 * *why set to SKIP_SUPPRESSED or SKIP_UNREACHABLE. */
int policy_channel(const policy_t *p, const journey_t *j, const member_t *m, const int *chans, int n,
                   const int *allowed, const char **why);

/* Live runs: a decision whose key the outbox already has (a replay after
 * a crash) is dropped silently before quiet hours and caps see it. */
void policy_set_live(policy_t *p, int live);

/* Takes a decision made at d->at (copied; d->channel >= 0 and not
 * skipped). It is emitted now, held in the store until quiet hours end,
 * or dropped; with caps it waits for policy_flush at the end of the
 * instant. */
int policy_offer(policy_t *p, const decision_t *d, char *err);

/* The end of an instant: held messages due by now are released, caps are
 * applied in priority order, and everything offered is emitted. */
int policy_flush(policy_t *p, int64_t now, char *err);

/* Live runs: the caps count the messages the outbox already holds from
 * the last window (queued, in flight, sent, to retry) before anything new. */
int policy_load_recent(policy_t *p, int64_t now, char *err);

/* The outbox row of a decision (m initialised with store_msg_init). A
 * skipped decision keeps no address, content or parts. */
void policy_msg_from(const decision_t *d, store_msg_t *m);

/* The earliest instant a held message is released; TIME_NONE if none. */
int64_t policy_next_release(policy_t *p);

#endif
