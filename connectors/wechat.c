/* wechat.c - WeChat Official Account template messages.
 *
 * Token: GET {endpoint}/cgi-bin/token?grant_type=client_credential&appid&secret,
 * cached until five minutes before expires_in and shared by every send;
 * the dispatcher fetches it one at a time. Send: POST
 * {endpoint}/cgi-bin/message/template/send?access_token=.. with touser,
 * template_id, url, data and client_msg_id (derived from the idempotency
 * key: WeChat sends one message per openid + client_msg_id within ten
 * minutes, so a retried send after a crash is not delivered twice). */
#include "conn.h"
#include "member.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn {
    char *endpoint, *appid, *secret;
    char token[600];
    int64_t token_until;     /* 0: no token */
};

static char *setting(const ws_t *w, const char *key, int required, char *err)
{
    const char *v = ws_get(w, "wechat", key);
    if ((!v || !*v) && required) {
        int line = ws_get_line(w, "wechat", key);
        if (line) errf(err, "nudge.conf:%d: [wechat] %s: the environment variable it names is not set", line, key);
        else errf(err, "nudge.conf: [wechat] needs %s", key);
        return NULL;
    }
    return v ? xstrdup(v) : NULL;
}

static void destroy(conn_t *c)
{
    if (!c) return;
    free(c->endpoint);
    free(c->appid);
    free(c->secret);
    free(c);
}

static conn_t *create(const ws_t *w, char *err)
{
    conn_t *c = xcalloc(1, sizeof *c);
    if (!(c->endpoint = setting(w, "endpoint", 0, err))) c->endpoint = xstrdup("https://api.weixin.qq.com");
    if (!(c->appid = setting(w, "appid", 1, err)) || !(c->secret = setting(w, "secret", 1, err))) {
        destroy(c);
        return NULL;
    }
    size_t n = strlen(c->endpoint);
    while (n && c->endpoint[n - 1] == '/') c->endpoint[--n] = '\0';
    return c;
}

static int needs_auth(conn_t *c, int64_t now)
{
    return !c->token_until || now >= c->token_until;
}

static int auth_prepare(conn_t *c, CURL *h, conn_xfer_t *x, char *err)
{
    (void)err;
    char *appid = curl_easy_escape(h, c->appid, 0), *secret = curl_easy_escape(h, c->secret, 0);
    buf_t u;
    buf_init(&u);
    buf_adds(&u, c->endpoint);
    buf_adds(&u, "/cgi-bin/token?grant_type=client_credential&appid=");
    buf_adds(&u, appid);
    buf_adds(&u, "&secret=");
    buf_adds(&u, secret);
    curl_free(appid);
    curl_free(secret);
    x->url = u.p;   /* the buffer's memory moves to the transfer */
    curl_easy_setopt(h, CURLOPT_URL, x->url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    conn_xfer_bind(x, h);
    return NUDGE_OK;
}

static int auth_done(conn_t *c, long http, const char *body, int64_t now, char *err)
{
    cJSON *j = http == 200 ? cJSON_Parse(body) : NULL;
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    int rc = NUDGE_OK;
    if (cJSON_IsString(tok) && strlen(tok->valuestring) < sizeof c->token) {
        snprintf(c->token, sizeof c->token, "%s", tok->valuestring);
        int64_t life = cJSON_IsNumber(exp) ? (int64_t)exp->valuedouble : 7200;
        /* renew five minutes early (at least halfway for short lives) */
        c->token_until = now + (life > 600 ? life - 300 : life / 2 > 0 ? life / 2 : 1);
    } else {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "errcode");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "errmsg");
        if (cJSON_IsNumber(code))
            rc = errf(err, "wechat token: errcode %d %s", (int)code->valuedouble,
                      cJSON_IsString(msg) ? msg->valuestring : "");
        else
            rc = errf(err, "wechat token: HTTP %ld, no access_token in the answer", http);
        c->token_until = 0;
    }
    cJSON_Delete(j);
    return rc;
}

static int prepare(conn_t *c, CURL *h, const store_msg_t *m, conn_xfer_t *x, char *err)
{
    /* The content is the engine's rendering, a JSON object of the
     * template's fields (template_id, url, data): the request is that
     * object with touser first and client_msg_id last, spliced as text
     * rather than parsed and printed again for every send. */
    const char *p = m->content.p ? m->content.p : "";
    size_t n = m->content.len;
    while (n && (p[n - 1] == '\0' || p[n - 1] == ' ' || p[n - 1] == '\n')) n--;
    if (n < 2 || p[0] != '{' || p[n - 1] != '}')
        return errf(err, "the message has no WeChat content");
    char id[CONN_DEDUP_ID_LEN];
    conn_dedup_id(m->key, id);
    buf_adds(&x->body, "{\"touser\":");
    buf_add_json_str(&x->body, m->address);
    if (n > 2) {
        buf_addc(&x->body, ',');
        buf_add(&x->body, p + 1, n - 2);
    }
    buf_adds(&x->body, ",\"client_msg_id\":\"");
    buf_adds(&x->body, id);
    buf_adds(&x->body, "\"}");
    char *tok = curl_easy_escape(h, c->token, 0);
    buf_t u;
    buf_init(&u);
    buf_adds(&u, c->endpoint);
    buf_adds(&u, "/cgi-bin/message/template/send?access_token=");
    buf_adds(&u, tok);
    curl_free(tok);
    x->url = u.p;
    conn_xfer_post_json(x, h, NULL);
    return NUDGE_OK;
}

static void classify(conn_t *c, const store_msg_t *m, long http, const char *body, const char *transport,
                     conn_result_t *r)
{
    if (conn_result_start(r, m, http, transport, "wechat")) return;
    if (http != 200) {
        r->verdict = CONN_RETRY;
        snprintf(r->reason, sizeof r->reason, "wechat: HTTP %ld", http);
        return;
    }
    cJSON *j = cJSON_Parse(body);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "errcode");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "errmsg");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "msgid");
    if (!cJSON_IsNumber(code)) {
        r->verdict = CONN_RETRY;
        snprintf(r->reason, sizeof r->reason, "wechat: an answer without errcode");
        cJSON_Delete(j);
        return;
    }
    int e = (int)code->valuedouble;
    switch (e) {
    case 0: r->verdict = CONN_SENT; break;
    case -1: case 45011: r->verdict = CONN_RETRY; break;
    case 40001: case 40014: case 42001:
        r->verdict = CONN_REFRESH;
        c->token_until = 0;   /* every send waits for the new token */
        break;
    case 45009: r->verdict = CONN_PAUSE; break;
    case 43004: r->verdict = CONN_MEMBER; r->unsubscribed = 1; break;
    case 40003: r->verdict = CONN_MEMBER; break;
    case 40037: case 47001: r->verdict = CONN_FATAL; break;
    default: r->verdict = CONN_RETRY; break;   /* 48001, 40164, ...: may be fixed in config */
    }
    if (e == 0) {
        if (cJSON_IsNumber(id)) snprintf(r->provider_id, sizeof r->provider_id, "%.0f", id->valuedouble);
    } else {
        snprintf(r->reason, sizeof r->reason, "wechat errcode %d: %s", e,
                 cJSON_IsString(msg) ? msg->valuestring : "");
    }
    cJSON_Delete(j);
}

const conn_ops_t conn_wechat = {
    .name = "wechat",
    .channel = CH_WECHAT,
    .create = create,
    .destroy = destroy,
    .needs_auth = needs_auth,
    .auth_prepare = auth_prepare,
    .auth_done = auth_done,
    .prepare = prepare,
    .classify = classify,
};
