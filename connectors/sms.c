/* sms.c - SMS through a generic JSON HTTP gateway ([sms] provider =
 * gateway, the default; Alibaba Cloud is aliyun.c).
 *
 * Gateway contract (documented in docs/operations.md):
 *   POST {endpoint}  Authorization: Bearer {token} (when set)
 *   {"to": phone, "text": the complete text, "id": dedup id, "segments": n}
 *   2xx {"id": provider message id} -> sent; 429, 5xx, timeouts -> retry;
 *   other 4xx -> dead (with the gateway's "error" as the reason). */
#include "conn.h"
#include "member.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn {
    char *endpoint, *token;
};

static void destroy(conn_t *c)
{
    if (!c) return;
    free(c->endpoint);
    free(c->token);
    free(c);
}

static conn_t *create(const ws_t *w, char *err)
{
    const char *provider = ws_get(w, "sms", "provider");
    if (provider && strcmp(provider, "gateway") != 0) {
        errf(err, "nudge.conf:%d: [sms] provider = %s: unknown; use gateway or aliyun",
             ws_get_line(w, "sms", "provider"), provider);
        return NULL;
    }
    const char *ep = ws_get(w, "sms", "endpoint");
    if (!ep || !*ep) {
        errf(err, "nudge.conf: [sms] needs endpoint (the gateway's URL)");
        return NULL;
    }
    conn_t *c = xcalloc(1, sizeof *c);
    c->endpoint = xstrdup(ep);
    const char *tok = ws_get(w, "sms", "token");
    if (tok && *tok) c->token = xstrdup(tok);
    else if (ws_get_line(w, "sms", "token")) {
        errf(err, "nudge.conf:%d: [sms] token: the environment variable it names is not set",
             ws_get_line(w, "sms", "token"));
        destroy(c);
        return NULL;
    }
    return c;
}

static int prepare(conn_t *c, CURL *h, const store_msg_t *m, conn_xfer_t *x, char *err)
{
    /* the content is the text, or {"text", "template_code", "params"} */
    cJSON *content = cJSON_Parse(m->content.p ? m->content.p : "");
    const cJSON *text = cJSON_IsObject(content) ? cJSON_GetObjectItemCaseSensitive(content, "text") : content;
    if (!cJSON_IsString(text)) {
        cJSON_Delete(content);
        return errf(err, "the message has no SMS text");
    }
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "to", m->address);
    cJSON_AddStringToObject(req, "text", text->valuestring);
    char id[CONN_DEDUP_ID_LEN];
    conn_dedup_id(m->key, id);
    cJSON_AddStringToObject(req, "id", id);
    cJSON_AddNumberToObject(req, "segments", m->segments);
    char *json = cJSON_PrintUnformatted(req);
    buf_adds(&x->body, json);
    free(json);
    cJSON_Delete(req);
    cJSON_Delete(content);
    x->url = xstrdup(c->endpoint);
    buf_t auth;
    buf_init(&auth);
    if (c->token) {
        buf_adds(&auth, "Authorization: Bearer ");
        buf_adds(&auth, c->token);
    }
    conn_xfer_post_json(x, h, c->token ? auth.p : NULL);
    buf_free(&auth);
    return NUDGE_OK;
}

static void classify(conn_t *c, const store_msg_t *m, long http, const char *body, const char *transport,
                     conn_result_t *r)
{
    (void)c;
    if (conn_result_start(r, m, http, transport, "sms")) return;
    cJSON *j = cJSON_Parse(body);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (http >= 200 && http < 300) {
        r->verdict = CONN_SENT;
        if (cJSON_IsString(id)) snprintf(r->provider_id, sizeof r->provider_id, "%s", id->valuestring);
    } else {
        r->verdict = http == 429 || http >= 500 || http == 401 || http == 403 ? CONN_RETRY : CONN_FATAL;
        snprintf(r->reason, sizeof r->reason, "sms gateway: HTTP %ld%s%s", http, cJSON_IsString(e) ? ": " : "",
                 cJSON_IsString(e) ? e->valuestring : "");
    }
    cJSON_Delete(j);
}

const conn_ops_t conn_sms = {
    .name = "sms",
    .channel = CH_SMS,
    .create = create,
    .destroy = destroy,
    .prepare = prepare,
    .classify = classify,
};
