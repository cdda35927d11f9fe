/* api.h - the HTTP API of `nudge run`: a brand's systems post events and
 * read members over libevent's evhttp, on the daemon's own loop.
 *
 * One process serves one workspace; its [api] section configures the
 * listening address (127.0.0.1:7420 by default) and the bearer tokens:
 *
 *   [api]
 *   listen = 127.0.0.1:7420
 *   token.pos = env:NUDGE_TOKEN_POS     # the secret, at least 16 characters
 *   scopes.pos = write                  # read, write, admin (admin: all)
 *
 * Endpoints (docs/api.md): GET /healthz; POST /v1/events (write);
 * GET /v1/members/{id} (read), PUT /v1/members/{id} (write);
 * GET /v1/members/{id}/journeys (read);
 * GET /v1/journeys (read), POST /v1/journeys/{name}/pause|resume (admin);
 * GET /v1/outbox (read), POST /v1/outbox/{id}/retry (admin);
 * POST /v1/callbacks/aliyun-sms (?secret= of callback.aliyun_sms),
 * GET|POST /v1/callbacks/wechat (WeChat's signature with callback.wechat);
 * GET /metrics (read), in the Prometheus text format. Events are applied and their journeys
 * run on the loop turn that receives them; the answer is sent once the
 * daemon's group commit has made them durable. */
#ifndef NUDGE_API_H
#define NUDGE_API_H

#include <event2/event.h>
#include "engine.h"
#include "store.h"
#include "ws.h"

typedef struct api api_t;

typedef struct api_hooks {
    void (*touch)(void *ud);                    /* open the commit window's transaction */
    void (*zone)(void *ud, const tz_t *zone);   /* a new member brought a new time zone */
    void (*kick)(void *ud);                     /* messages were queued again: dispatch */
    void (*metrics)(void *ud, buf_t *out);      /* the daemon's own metrics, for /metrics */
    void (*wake)(void *ud);                     /* run due wake-ups now (a journey resumed) */
    void (*commit_soon)(void *ud);              /* a request waits for the commit window */
    /* POST /v1/events: intake(ud, 1) before its events apply and
     * intake(ud, 0) after their journeys decided; journal(ud, json, len)
     * for each event accepted (one line of JSON), so the daemon can make
     * it durable on its own, ahead of the store (journal.h) */
    void (*intake)(void *ud, int on);
    void (*journal)(void *ud, const char *json, size_t len);
    void *ud;
} api_hooks_t;

/* 1 when nudge.conf has an [api] section. */
int api_configured(const ws_t *w);
/* Whether w's [api] section would start: its settings read as api_new
 * reads them (the secrets' environment variables included), nothing
 * bound. NUDGE_OK without a section. */
int api_check(const ws_t *w, char *err);

/* Listens as [api] says. NULL with err naming the nudge.conf line. */
api_t *api_new(struct event_base *base, engine_t *e, store_t *s, const ws_t *w, const api_hooks_t *hooks,
               char *err);
void api_free(api_t *a);

/* [api] commit_ms: how long the store may gather accepted events before
 * it writes them (they are on disk in the intake journal already). */
long api_commit_ms(const api_t *a);
/* [api] commit_max_ms: how far that window may stretch while the loop is
 * behind (window.h); 4 x commit_ms unless set. */
long api_commit_max_ms(const api_t *a);

/* "127.0.0.1:7420": where it listens (the port is the real one when
 * listen asked for port 0). */
const char *api_address(const api_t *a);

/* The commit window closed (ok: the commit succeeded): answers the
 * requests whose events it made durable. */
void api_committed(api_t *a, int ok);
/* The same in two steps, for writes made durable later: the requests
 * waiting now, taken out (NULL for none), and answered when their turn
 * comes (ok: saved; otherwise 503). */
typedef struct waiting api_waiting_t;
api_waiting_t *api_take_waiting(api_t *a);
void api_answer(api_t *a, api_waiting_t *list, int ok);

/* Stops accepting connections; requests already read are answered. */
void api_stop(api_t *a);

#endif
