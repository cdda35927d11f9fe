/* aliyun.c - SMS through Alibaba Cloud SendSms (dysmsapi, API version
 * 2017-05-25), [sms] provider = aliyun, and the RPC v1 request signature.
 *
 * Alibaba sends only templates approved in its console: a template names
 * its TemplateCode (sms = { text = .., template_code = "SMS_.." }) and the
 * engine renders the SMS content as {"text", "template_code", "params"}.
 * The request carries TemplateParam = params (each placeholder's value by
 * name, so the console template uses ${name} where nudge's has {{name}}),
 * SignName = the workspace signature, OutId = the idempotency key. The
 * text stays what nudge counts, logs and shows; Alibaba builds the same
 * text from its template.
 *
 * SendSms does not deduplicate: a message in flight when the daemon dies
 * is sent again after the restart (same OutId, so receipts tell them
 * apart). See docs/operations.md. */
#include "conn.h"
#include "member.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct conn {
    char *endpoint, *key_id, *secret, *region, *sign_name;
};

static void destroy(conn_t *c)
{
    if (!c) return;
    free(c->endpoint);
    free(c->key_id);
    if (c->secret) OPENSSL_cleanse(c->secret, strlen(c->secret));
    free(c->secret);
    free(c->region);
    free(c->sign_name);
    free(c);
}

/* A required setting; "env:NAME" values come resolved by ws_get. */
static int setting(const ws_t *w, const char *key, char **out, char *err)
{
    const char *v = ws_get(w, "sms", key);
    if (v && *v) {
        *out = xstrdup(v);
        return NUDGE_OK;
    }
    if (ws_get_line(w, "sms", key))
        return errf(err, "nudge.conf:%d: [sms] %s: empty, or the environment variable it names is not set",
                    ws_get_line(w, "sms", key), key);
    return errf(err, "nudge.conf: [sms] provider = aliyun needs %s", key);
}

static conn_t *create(const ws_t *w, char *err)
{
    conn_t *c = xcalloc(1, sizeof *c);
    if (setting(w, "access_key_id", &c->key_id, err) != NUDGE_OK ||
        setting(w, "access_key_secret", &c->secret, err) != NUDGE_OK) {
        destroy(c);
        return NULL;
    }
    const char *ep = ws_get(w, "sms", "endpoint"), *region = ws_get(w, "sms", "region");
    const char *sig = ws_get(w, "sms", "signature");
    c->endpoint = xstrdup(ep && *ep ? ep : "https://dysmsapi.aliyuncs.com/");
    c->region = xstrdup(region && *region ? region : "cn-hangzhou");
    c->sign_name = xstrdup(sig && *sig ? sig : w->brand);
    return c;
}

static int prepare(conn_t *c, CURL *h, const store_msg_t *m, conn_xfer_t *x, char *err)
{
    cJSON *content = cJSON_Parse(m->content.p ? m->content.p : "");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(content, "template_code");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(content, "params");
    if (!cJSON_IsString(code) || !cJSON_IsObject(params)) {
        cJSON_Delete(content);
        return errf(err, "template '%s' has no sms template_code: Alibaba sends only templates approved in its "
                         "console; add template_code = \"SMS_...\" to templates/%s.lua",
                    m->tmpl, m->tmpl);
    }
    char *param_json = cJSON_PrintUnformatted(params);
    char nonce_hex[33], ts[32];
    unsigned char nonce[16];
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
        /* a nonce only has to be unique; fall back on time and the key */
        uint64_t v = (uint64_t)time(NULL) ^ fnv1a64(m->key, strlen(m->key), FNV_SEED);
        memcpy(nonce, &v, sizeof v);
        memcpy(nonce + 8, &m->id, sizeof m->id);
    }
    for (int i = 0; i < 16; i++) snprintf(nonce_hex + 2 * i, 3, "%02x", nonce[i]);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    conn_kv_t p[] = {
        {"AccessKeyId", c->key_id},
        {"Action", "SendSms"},
        {"Format", "JSON"},
        {"OutId", m->key},   /* keys are under 256 characters, as OutId must be */
        {"PhoneNumbers", m->address},
        {"RegionId", c->region},
        {"SignName", c->sign_name},
        {"SignatureMethod", "HMAC-SHA1"},
        {"SignatureNonce", nonce_hex},
        {"SignatureVersion", "1.0"},
        {"TemplateCode", code->valuestring},
        {"TemplateParam", param_json},
        {"Timestamp", ts},
        {"Version", "2017-05-25"},
    };
    buf_t sig;
    buf_init(&sig);
    conn_aliyun_sign(p, (int)(sizeof p / sizeof *p), "POST", c->secret, &x->body, &sig);
    buf_free(&sig);
    free(param_json);
    cJSON_Delete(content);
    x->url = xstrdup(c->endpoint);
    x->headers = curl_slist_append(x->headers, "Content-Type: application/x-www-form-urlencoded");
    x->headers = curl_slist_append(x->headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, x->url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body.p);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)x->body.len);
    conn_xfer_bind(x, h);
    return NUDGE_OK;
}

/* What an Alibaba Code means for the message (see CHANNELS.md). */
static int verdict_of(const char *code, long http)
{
    static const char *const retry[] = {"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR",
                                        "ServiceUnavailable", "InternalError", "SignatureNonceUsed",
                                        "SignatureDoesNotMatch", "InvalidTimeStamp.Expired", NULL};
    static const char *const pause[] = {"isv.DAY_LIMIT_CONTROL", "isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE",
                                        NULL};
    static const char *const member[] = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.BLACK_KEY_CONTROL_LIMIT", NULL};
    if (strcmp(code, "OK") == 0) return CONN_SENT;
    for (int i = 0; retry[i]; i++)
        if (strcmp(code, retry[i]) == 0) return CONN_RETRY;
    if (strncmp(code, "Throttling", 10) == 0 || strncmp(code, "InvalidAccessKeyId", 18) == 0) return CONN_RETRY;
    for (int i = 0; pause[i]; i++)
        if (strcmp(code, pause[i]) == 0) return CONN_PAUSE;
    for (int i = 0; member[i]; i++)
        if (strcmp(code, member[i]) == 0) return CONN_MEMBER;
    if (http >= 500) return CONN_RETRY;
    return CONN_FATAL;   /* template, signature, parameters: the message cannot succeed as it is */
}

static void classify(conn_t *c, const store_msg_t *m, long http, const char *body, const char *transport,
                     conn_result_t *r)
{
    (void)c;
    if (conn_result_start(r, m, http, transport, "aliyun sms")) return;
    cJSON *j = cJSON_Parse(body);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "Code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "Message");
    const cJSON *biz = cJSON_GetObjectItemCaseSensitive(j, "BizId");
    if (!cJSON_IsString(code)) {
        r->verdict = http >= 500 || http == 429 ? CONN_RETRY : CONN_FATAL;
        snprintf(r->reason, sizeof r->reason, "aliyun sms: HTTP %ld without a Code", http);
    } else {
        r->verdict = verdict_of(code->valuestring, http);
        if (r->verdict == CONN_SENT && cJSON_IsString(biz))
            snprintf(r->provider_id, sizeof r->provider_id, "%s", biz->valuestring);
        else if (r->verdict != CONN_SENT)
            snprintf(r->reason, sizeof r->reason, "aliyun sms: %.80s: %.150s", code->valuestring,
                     cJSON_IsString(msg) ? msg->valuestring : "");
    }
    cJSON_Delete(j);
}

const conn_ops_t conn_aliyun = {
    .name = "sms",
    .channel = CH_SMS,
    .create = create,
    .destroy = destroy,
    .prepare = prepare,
    .classify = classify,
};

/* ---- the RPC v1 signature ---- */

/* Alibaba's percent-encoding: RFC 3986 unreserved characters stay, every
 * other byte is %XX (so space is %20, * is %2A, ~ stays). */
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
    OPENSSL_cleanse(key.p, key.len);
    buf_free(&canon);
    buf_free(&sts);
    buf_free(&key);
}
