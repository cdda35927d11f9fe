/* conn.h - a channel provider behind one small vtable.
 *
 * The dispatcher (engine/disp.c) owns the libcurl multi handle, the
 * outbox and the retry policy; a connector only knows its provider: how
 * to turn an outbox message into a transfer on a curl easy handle, and
 * what the provider's answer means. Connectors that need credentials
 * (the WeChat access token) ask for an auth transfer first; the
 * dispatcher runs one at a time and holds sends until it is done.
 * Endpoints and credentials come from the workspace config ([wechat],
 * [sms], [edm]; "env:NAME" values from the environment) and are never
 * logged. */
#ifndef NUDGE_CONN_H
#define NUDGE_CONN_H

#include <curl/curl.h>
#include <stdint.h>
#include "store.h"
#include "ws.h"

/* What an answer means for the message. */
enum conn_verdict {
    CONN_SENT,       /* accepted by the provider */
    CONN_RETRY,      /* try again later (busy, rate limit, 5xx, timeout) */
    CONN_REFRESH,    /* credentials expired: refresh, then try again now */
    CONN_PAUSE,      /* the channel's quota is spent until tomorrow */
    CONN_MEMBER,     /* permanent for this member on this channel: fall back */
    CONN_FATAL,      /* permanent for the message (bad template, bad data) */
};

typedef struct conn_result {
    int verdict;
    int unsubscribed;        /* CONN_MEMBER: the member left the channel */
    char reason[256];        /* for the outbox, never with credentials */
    char provider_id[64];    /* the provider's message id when sent */
    int segments;            /* SMS: billed parts */
} conn_result_t;

/* What must stay alive while a transfer runs; freed by conn_xfer_reset. */
typedef struct conn_xfer {
    char *url;
    buf_t body, response;
    struct curl_slist *headers;
    void *extra;             /* connector-owned (e.g. SMTP recipients, mime) */
    void (*extra_free)(void *);
} conn_xfer_t;

void conn_xfer_init(conn_xfer_t *x);
void conn_xfer_reset(conn_xfer_t *x);
/* Sets the response collector and common options on h. */
void conn_xfer_bind(conn_xfer_t *x, CURL *h);
/* The provider dedup id of a message: "n" + 16 hex digits of a hash of
 * its idempotency key (short enough for every provider's field). */
#define CONN_DEDUP_ID_LEN 24
void conn_dedup_id(const char *key, char out[CONN_DEDUP_ID_LEN]);

/* Starts an answer's result for m (segments as counted). When the
 * transfer failed (http 0) it is a retry, with who and curl's error as
 * the reason, and 1 is returned: the classifier is done. */
int conn_result_start(conn_result_t *r, const store_msg_t *m, long http, const char *transport, const char *who);

/* A JSON POST of x->body to x->url (both set), with any extra header
 * (or NULL), bound to h. */
void conn_xfer_post_json(conn_xfer_t *x, CURL *h, const char *header);

typedef struct conn conn_t;

typedef struct conn_ops {
    const char *name;        /* the config section */
    int channel;
    /* NULL with err naming the missing setting (nudge.conf:[section] key). */
    conn_t *(*create)(const ws_t *w, char *err);
    void (*destroy)(conn_t *c);
    /* 1 when credentials must be fetched before the next send. */
    int (*needs_auth)(conn_t *c, int64_t now);
    int (*auth_prepare)(conn_t *c, CURL *h, conn_xfer_t *x, char *err);
    /* The auth answer: NUDGE_OK when credentials are now valid. */
    int (*auth_done)(conn_t *c, long http, const char *body, int64_t now, char *err);
    /* Sets up h to send m (m->content is the rendered content JSON). */
    int (*prepare)(conn_t *c, CURL *h, const store_msg_t *m, conn_xfer_t *x, char *err);
    /* http is 0 when the transfer failed (curl error in `transport`). */
    void (*classify)(conn_t *c, const store_msg_t *m, long http, const char *body, const char *transport,
                     conn_result_t *r);
} conn_ops_t;

extern const conn_ops_t conn_wechat, conn_sms, conn_aliyun, conn_edm;

/* An email subject as RFC 2047 encoded words (ASCII up to 70 stays). */
void conn_mime_subject(const char *s, buf_t *out);

/* Alibaba Cloud RPC v1: sorts params by name, builds the canonical query
 * and StringToSign = METHOD&%2F&pe(query), and signs it with
 * Base64(HMAC-SHA1(secret + "&")). query receives "Signature=..&" + the
 * canonical query (ready for a URL), sig the bare signature. */
typedef struct conn_kv {
    const char *key, *value;
} conn_kv_t;
void conn_aliyun_sign(conn_kv_t *params, int n, const char *method, const char *secret, buf_t *query, buf_t *sig);

/* The connector for a channel name, NULL when there is none. For sms,
 * [sms] provider picks it (gateway, the default, or aliyun). */
const conn_ops_t *conn_find(const ws_t *w, const char *channel);

#endif
