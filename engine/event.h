/* event.h - member events: parsing one JSON object and applying its
 * effect on member state.
 *
 * {"type": ..., "member": ..., "at": ISO 8601, "id": optional, ...}
 * Built-in types change state (member.joined, order.paid, points.earned,
 * points.redeemed, wechat.subscribed/unsubscribed, sms.opted_out,
 * email.opted_out); any other type is stored and can trigger journeys.
 * An event without an id is identified by a fingerprint of its content,
 * so importing the same file twice changes nothing.
 *
 * The prefix is evt_: event_ belongs to libevent, linked into the same
 * binary. */
#ifndef NUDGE_EVENT_H
#define NUDGE_EVENT_H

#include <stdint.h>
#include "member.h"
#include "store.h"
#include "ws.h"

struct cJSON;

typedef struct event {
    struct cJSON *json;      /* owned */
    const char *id;          /* given, or "h:<fingerprint>" */
    const char *type;
    const char *member;
    int64_t at;
    const char *text;        /* the line as given (not owned) */
    int printed;             /* 1: text is what cJSON prints for json, byte for byte */
    char idbuf[24], memberbuf[32];
} event_t;

/* Parses and validates one event. Errors name the field and the reason. */
int evt_parse(event_t *ev, const char *text, size_t len, const tz_t *deflt, char *err);
/* Validates one event parsed already: ev owns json from here on (even on
 * an error; evt_free frees it), and printed (not owned) is
 * cJSON_PrintUnformatted's text of it. */
int evt_take(event_t *ev, struct cJSON *json, const char *printed, const tz_t *deflt, char *err);
void evt_free(event_t *ev);
/* Moves src (parsed) into dst: id and member may point into the event's
 * own buffers (a number, or a fingerprint for an event without an id),
 * so a plain copy would leave them pointing into src. src is left empty. */
void evt_move(event_t *dst, event_t *src);

enum { EVENT_DUPLICATE = 0, EVENT_APPLIED = 1 };

/* Applies ev to the store and records it, in the caller's transaction.
 * m is scratch; afterwards it holds the member as the event left them --
 * or, when the caller does not need the member (need_member 0) and the
 * event's change does not either (points.earned), only m->rowid.
 * *created is set when member.joined made a new member. Returns
 * EVENT_APPLIED, EVENT_DUPLICATE (a known id or order_id: nothing
 * changed) or NUDGE_ERR (rejected: nothing changed, err says why). */
int evt_apply(store_t *s, const ws_t *w, event_t *ev, member_t *m, int need_member, int *created, char *err);

/* 1 for the built-in types that change member state. */
int evt_builtin(const char *type);

/* Merges custom attribute name=value into the attrs JSON text *attrs
 * (heap, replaced). */
void evt_attrs_merge(char **attrs, const char *name, const char *value);

#endif
