/* sms.c - SMS through a generic JSON HTTP gateway ([sms] provider =
 * gateway, the default), and the Alibaba Cloud RPC v1 request signature.
 *
 * Gateway contract (documented in docs/operations.md):
 *   POST {endpoint}  Authorization: Bearer {token} (when set)
 *   {"to": phone, "text": the complete text, "id": dedup id, "segments": n}
 *   2xx {"id": provider message id} -> sent; 429, 5xx, timeouts -> retry;
 *   other 4xx -> dead (with the gateway's "error" as the reason). */
#include "conn.h"
#include "member.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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
        errf(err, "nudge.conf:%d: [sms] provider = %s: this nudge sends SMS through provider = gateway",
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
    cJSON *text = cJSON_Parse(m->content.p ? m->content.p : "");
    if (!cJSON_IsString(text)) {
        cJSON_Delete(text);
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
    cJSON_Delete(text);
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
    memset(r, 0, sizeof *r);
    r->segments = m->segments;
    if (!http) {
        r->verdict = CONN_RETRY;
        snprintf(r->reason, sizeof r->reason, "sms: %s", transport ? transport : "transfer failed");
        return;
    }
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

/* ---- Alibaba Cloud RPC v1 signature ---- */

static void pct(buf_t *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~') {
            buf_addc(out, (char)*p);
        } else {
            char e[4] = {'%', hex[*p >> 4], hex[*p & 15], 0};
            buf_adds(out, e);
        }
    }
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const conn_kv_t *)a)->key, ((const conn_kv_t *)b)->key);
}

void conn_aliyun_sign(conn_kv_t *params, int n, const char *method, const char *secret, buf_t *query, buf_t *sig)
{
    qsort(params, (size_t)n, sizeof *params, cmp_kv);
    buf_t canon, sts;
    buf_init(&canon);
    buf_init(&sts);
    for (int i = 0; i < n; i++) {
        if (i) buf_addc(&canon, '&');
        pct(&canon, params[i].key);
        buf_addc(&canon, '=');
        pct(&canon, params[i].value);
    }
    buf_adds(&sts, method);
    buf_adds(&sts, "&%2F&");
    pct(&sts, canon.p ? canon.p : "");
    buf_t key;
    buf_init(&key);
    buf_adds(&key, secret);
    buf_addc(&key, '&');
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha1(), key.p, (int)key.len, (const unsigned char *)sts.p, sts.len, mac, &maclen);
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    EVP_EncodeBlock(b64, mac, (int)maclen);
    buf_reset(sig);
    buf_adds(sig, (const char *)b64);
    buf_reset(query);
    buf_adds(query, "Signature=");
    pct(query, (const char *)b64);
    if (canon.len) {
        buf_addc(query, '&');
        buf_adds(query, canon.p);
    }
    buf_free(&canon);
    buf_free(&sts);
    buf_free(&key);
}
