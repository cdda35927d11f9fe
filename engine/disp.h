/* disp.h - the dispatcher: delivers queued outbox messages through the
 * connectors, on libcurl's multi socket API inside the daemon's libevent
 * loop (no blocking call on the loop, no thread per request).
 *
 * One lane per configured channel ([wechat], [sms], [edm] in nudge.conf)
 * with its own concurrency limit, token-bucket rate, timeout and attempt
 * limit. A lane claims due messages (queued, or retry whose time came),
 * marks them sending, and records each outcome: sent; retry at now +
 * exponential backoff with jitter; dead after the last attempt or a
 * permanent error; the whole lane paused until local midnight when the
 * provider's daily quota is spent. Store writes are left to the caller's
 * group commit (the touch hook). */
#ifndef NUDGE_DISP_H
#define NUDGE_DISP_H

#include <event2/event.h>
#include <stdint.h>
#include "store.h"
#include "ws.h"

typedef struct disp disp_t;

typedef struct disp_hooks {
    /* the dispatcher wrote to the store: commit at the end of the turn */
    void (*touch)(void *ud);
    /* the provider refused the member for good on m's channel (unsub:
     * they left it): the engine may send on the step's next channel */
    void (*fallback)(void *ud, const store_msg_t *m, int unsub);
    void *ud;
} disp_hooks_t;

/* NULL with err when a connector's settings are incomplete. Channels
 * without a section in nudge.conf get no lane (their messages wait). */
disp_t *disp_new(struct event_base *base, store_t *s, const ws_t *w, const disp_hooks_t *hooks, char *err);
void disp_free(disp_t *d);

/* Something was queued or changed: look for due messages now. */
void disp_kick(disp_t *d);
/* Stop claiming new messages (shutdown); transfers in flight go on. */
void disp_drain(disp_t *d);
int disp_inflight(const disp_t *d);
/* The number of lanes (configured channels). */
int disp_lanes(const disp_t *d);
/* Appends the dispatcher's metrics in the Prometheus text format:
 * provider answers by channel and meaning, answer latency histograms,
 * sends in flight. */
void disp_metrics(const disp_t *d, buf_t *out);

#endif
