/* mockprov.c - a mock WeChat Official Account API for tests and
 * benchmarks, on 127.0.0.1 only, following the published contract
 * (see CHANNELS.md):
 *
 *   GET  /cgi-bin/token?grant_type=client_credential&appid=..&secret=..
 *        -> {"access_token":"..","expires_in":7200}; a new token
 *           invalidates the previous one; a wrong appid/secret -> 40013/40125
 *   POST /cgi-bin/message/template/send?access_token=..
 *        -> {"errcode":0,"errmsg":"ok","msgid":N}; 40001 for a stale
 *           token; touser and template_id required (47001); one message
 *           per openid + client_msg_id within ten minutes
 *
 * a generic SMS gateway (POST /sms/send, Bearer mocktoken,
 * {"to","text","id","segments"} -> {"id"}; 400 for the --unsubscribed number),
 * and Alibaba Cloud SendSms (POST / with a form body, RPC v1 signature
 * checked by its own code here; AccessKeyId mockkeyid, secret
 * mockkeysecret): {"Code":"OK","BizId",..}; SignatureDoesNotMatch,
 * SignatureNonceUsed, isv.MOBILE_NUMBER_ILLEGAL (not 11 digits, or the
 * --unsubscribed number), isv.INVALID_JSON_PARAM, isv.SMS_TEMPLATE_ILLEGAL.
 *
 * Faults on demand (each counts template sends, 1-based):
 *   --errcode-first N:CODE   the first N sends answer errcode CODE
 *   --errcode-rate PCT:CODE  that share of sends answers CODE (seeded)
 *   --http500-first N        the first N sends answer HTTP 500
 *   --hang-first N:MS        the first N sends are processed, answered MS later
 *   --reset-first N          the first N sends: connection closed, nothing done
 *   --expire-token-at N      send N finds its token expired (42001)
 *   --unsubscribed OPENID    43004 for that openid
 *   --quota-after N          sends after the Nth answer 45009
 *   --sms-limit-first N      the first N SendSms answer isv.BUSINESS_LIMIT_CONTROL
 *   --sms-day-limit-after N  SendSms after the Nth answer isv.DAY_LIMIT_CONTROL
 * Every request is a JSON line in --log (flushed per line); the port is
 * written to --port-file when --port is 0. SIGTERM stops it. */
#include <sys/queue.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SEEN 1000003

typedef struct hung {
    struct evhttp_request *req;
    char *body;
    struct event *ev;
    struct hung *next;
} hung_t;

static struct {
    struct event_base *base;
    FILE *log;
    char appid[128], secret[128], token[64];
    long tokens, sends, msgid;
    long errcode_first_n; int errcode_first;
    int errcode_rate_pct, errcode_rate;
    long http500_first, hang_first, hang_ms, reset_first, expire_at, quota_after;
    char unsub[128];
    long sms_limit_first, sms_day_after, aliyun_sends;
    char **nonces;        /* SignatureNonce values seen */
    size_t nnonces;
    unsigned rng;
    /* client_msg_id dedupe: openid + id -> msgid, time (open addressing) */
    char **seen_key;
    long *seen_msgid;
    time_t *seen_at;
    size_t nseen;         /* slots used, of MAX_SEEN */
    hung_t *hung;
} M;

static void reply_json(struct evhttp_request *req, int code, const char *json)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, json, strlen(json));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json; charset=utf-8");
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
    evbuffer_free(b);
}

/* The request's body, NUL-terminated (malloc'd). */
static char *body_of(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *body = malloc(len + 1);
    evbuffer_remove(in, body, len);
    body[len] = '\0';
    return body;
}

static cJSON *json_body(struct evhttp_request *req)
{
    char *body = body_of(req);
    cJSON *j = cJSON_Parse(body);
    free(body);
    return j;
}

static void logline(const char *kind, const char *touser, const char *cmid, int errcode, int delivered, int dup,
                    const char *extra)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(M.log, "{\"t\":%lld,\"kind\":\"%s\",\"touser\":\"%s\",\"client_msg_id\":\"%s\",\"errcode\":%d,"
                   "\"delivered\":%s,\"dup\":%s%s%s}\n",
            (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, kind, touser ? touser : "", cmid ? cmid : "", errcode, delivered ? "true" : "false",
            dup ? "true" : "false", extra ? "," : "", extra ? extra : "");
    fflush(M.log);
}

static const char *query(struct evhttp_request *req, struct evkeyvalq *q)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *qs = u ? evhttp_uri_get_query(u) : NULL;
    TAILQ_INIT(q);
    if (qs) evhttp_parse_query_str(qs, q);
    return qs;
}

static void on_token(struct evhttp_request *req)
{
    struct evkeyvalq q;
    query(req, &q);
    const char *appid = evhttp_find_header(&q, "appid"), *secret = evhttp_find_header(&q, "secret");
    const char *gt = evhttp_find_header(&q, "grant_type");
    char out[256];
    if (!gt || strcmp(gt, "client_credential") != 0) {
        reply_json(req, 200, "{\"errcode\":40002,\"errmsg\":\"invalid grant_type rid: mock\"}");
    } else if (!appid || strcmp(appid, M.appid) != 0) {
        reply_json(req, 200, "{\"errcode\":40013,\"errmsg\":\"invalid appid rid: mock\"}");
    } else if (!secret || strcmp(secret, M.secret) != 0) {
        reply_json(req, 200, "{\"errcode\":40125,\"errmsg\":\"invalid appsecret rid: mock\"}");
    } else {
        M.tokens++;
        snprintf(M.token, sizeof M.token, "MOCKTOKEN-%ld-%u", M.tokens, (unsigned)rand());
        snprintf(out, sizeof out, "{\"access_token\":\"%s\",\"expires_in\":7200}", M.token);
        reply_json(req, 200, out);
        fprintf(M.log, "{\"kind\":\"token\",\"n\":%ld}\n", M.tokens);
        fflush(M.log);
    }
    evhttp_clear_headers(&q);
}

/* Finds or records openid+client_msg_id; returns the earlier msgid (if
 * within ten minutes) or 0. */
static long seen(const char *openid, const char *cmid, long msgid)
{
    char key[512];
    snprintf(key, sizeof key, "%s|%s", openid, cmid);
    unsigned long h = 1469598103934665603UL;
    for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211UL;
    time_t now = time(NULL);
    size_t i = h % MAX_SEEN;
    for (; M.seen_key[i]; i = (i + 1) % MAX_SEEN)
        if (strcmp(M.seen_key[i], key) == 0) {
            if (now - M.seen_at[i] < 600) return M.seen_msgid[i];
            if (msgid) M.seen_msgid[i] = msgid, M.seen_at[i] = now;
            return 0;
        }
    if (msgid && M.nseen < MAX_SEEN * 3 / 4) {
        M.seen_key[i] = strdup(key);
        M.seen_msgid[i] = msgid;
        M.seen_at[i] = now;
        M.nseen++;
    }
    return 0;
}

static void on_hung(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    hung_t *h = ud;
    if (h->req) reply_json(h->req, 200, h->body);
    h->req = NULL;
}

static void on_conn_close(struct evhttp_connection *c, void *ud)
{
    (void)ud;
    for (hung_t *h = M.hung; h; h = h->next)
        if (h->req && evhttp_request_get_connection(h->req) == c) h->req = NULL;
}

static void on_send(struct evhttp_request *req)
{
    long n = ++M.sends;
    if (n <= M.reset_first) {
        logline("send", NULL, NULL, 0, 0, 0, "\"fault\":\"reset\"");
        evhttp_connection_free(evhttp_request_get_connection(req));
        return;
    }
    if (n <= M.http500_first) {
        logline("send", NULL, NULL, 0, 0, 0, "\"fault\":\"http500\"");
        reply_json(req, 500, "{\"error\":\"internal\"}");
        return;
    }
    struct evkeyvalq q;
    query(req, &q);
    const char *tok = evhttp_find_header(&q, "access_token");
    int token_ok = tok && M.token[0] && strcmp(tok, M.token) == 0;
    evhttp_clear_headers(&q);
    if (M.expire_at && n == M.expire_at) M.token[0] = '\0';   /* expired under the sender's feet */
    cJSON *j = json_body(req);
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(j, "touser");
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(j, "template_id");
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(j, "client_msg_id");
    const char *touser = cJSON_IsString(to) ? to->valuestring : NULL;
    const char *cmid = cJSON_IsString(cm) ? cm->valuestring : "";
    char out[256];
    int code = 0;
    if (!M.token[0] || !token_ok) code = M.expire_at && n >= M.expire_at ? 42001 : 40001;
    else if (!j || !touser || !cJSON_IsString(tid)) code = 47001;
    else if (strcmp(tid->valuestring, "BAD") == 0) code = 40037;
    else if (M.unsub[0] && strcmp(touser, M.unsub) == 0) code = 43004;
    else if (M.quota_after && n > M.quota_after) code = 45009;
    else if (n <= M.errcode_first_n) code = M.errcode_first;
    else if (M.errcode_rate_pct && (int)((M.rng = M.rng * 1103515245u + 12345u) >> 16) % 100 < M.errcode_rate_pct)
        code = M.errcode_rate;
    if (code) {
        snprintf(out, sizeof out, "{\"errcode\":%d,\"errmsg\":\"mock error %d rid: mock-%ld\"}", code, code, n);
        logline("send", touser, cmid, code, 0, 0, NULL);
        reply_json(req, 200, out);
        cJSON_Delete(j);
        return;
    }
    long earlier = cmid[0] ? seen(touser, cmid, 0) : 0;
    long id = earlier ? earlier : ++M.msgid + 200000000;
    if (!earlier && cmid[0]) seen(touser, cmid, id);
    cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    char *dj = data ? cJSON_PrintUnformatted(data) : NULL;
    char extra[2048];
    snprintf(extra, sizeof extra, "\"template_id\":\"%.100s\",\"msgid\":%ld,\"data\":%.1800s", tid->valuestring, id,
             dj ? dj : "null");
    free(dj);
    logline("send", touser, cmid, 0, !earlier, earlier != 0, extra);
    snprintf(out, sizeof out, "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":%ld}", id);
    cJSON_Delete(j);
    if (n <= M.hang_first) {
        hung_t *h = calloc(1, sizeof *h);
        h->req = req;
        h->body = strdup(out);
        h->next = M.hung;
        M.hung = h;
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_conn_close, NULL);
        h->ev = evtimer_new(M.base, on_hung, h);
        struct timeval tv = {M.hang_ms / 1000, (M.hang_ms % 1000) * 1000};
        evtimer_add(h->ev, &tv);
        return;
    }
    reply_json(req, 200, out);
}

/* The generic SMS gateway: {"to","text","id","segments"} -> {"id"}. */
static void on_sms(struct evhttp_request *req)
{
    long n = ++M.sends;
    if (n <= M.http500_first) {
        logline("sms", NULL, NULL, 500, 0, 0, "\"fault\":\"http500\"");
        reply_json(req, 500, "{\"error\":\"internal\"}");
        return;
    }
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    cJSON *j = json_body(req);
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(j, "to"), *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id"), *seg = cJSON_GetObjectItemCaseSensitive(j, "segments");
    if (!auth || strcmp(auth, "Bearer mocktoken") != 0) {
        logline("sms", NULL, NULL, 401, 0, 0, NULL);
        reply_json(req, 401, "{\"error\":\"bad token\"}");
    } else if (!cJSON_IsString(to) || !cJSON_IsString(text) || !cJSON_IsString(id)) {
        logline("sms", NULL, NULL, 400, 0, 0, NULL);
        reply_json(req, 400, "{\"error\":\"to, text and id are required\"}");
    } else if (M.unsub[0] && strcmp(to->valuestring, M.unsub) == 0) {
        logline("sms", to->valuestring, id->valuestring, 400, 0, 0, NULL);
        reply_json(req, 400, "{\"error\":\"invalid number\"}");
    } else {
        char *t = cJSON_PrintUnformatted(text);
        char extra[2048], out[128];
        snprintf(extra, sizeof extra, "\"text\":%.1900s,\"segments\":%d", t, cJSON_IsNumber(seg) ? seg->valueint : 0);
        free(t);
        logline("sms", to->valuestring, id->valuestring, 0, 1, 0, extra);
        snprintf(out, sizeof out, "{\"id\":\"sms-%ld\"}", ++M.msgid);
        reply_json(req, 200, out);
    }
    cJSON_Delete(j);
}

/* ---- Alibaba Cloud SendSms ---- */

static void pe(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < cap; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') out[o++] = (char)*p;
        else o += (size_t)snprintf(out + o, cap - o, "%%%02X", *p);
    }
    out[o] = '\0';
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(struct evkeyval *const *)a)->key, (*(struct evkeyval *const *)b)->key);
}

/* The RPC v1 signature of every parameter but Signature, recomputed. */
static int signature_ok(struct evkeyvalq *q, const char *method, const char *secret)
{
    struct evkeyval *kv, *v[64];
    int n = 0;
    const char *given = NULL;
    TAILQ_FOREACH(kv, q, next)
    {
        if (strcmp(kv->key, "Signature") == 0) given = kv->value;
        else if (n < 64) v[n++] = kv;
    }
    if (!given) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_name);
    static char canon[16384], sts[50000], enc[12288];
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        pe(enc, sizeof enc, v[i]->key);
        o += (size_t)snprintf(canon + o, sizeof canon - o, "%s%s=", i ? "&" : "", enc);
        pe(enc, sizeof enc, v[i]->value);
        o += (size_t)snprintf(canon + o, sizeof canon - o, "%s", enc);
        if (o >= sizeof canon) return 0;
    }
    pe(enc, sizeof enc, canon);
    snprintf(sts, sizeof sts, "%s&%%2F&%s", method, enc);
    char key[256];
    snprintf(key, sizeof key, "%s&", secret);
    unsigned char mac[EVP_MAX_MD_SIZE], b64[64];
    unsigned int len = 0;
    HMAC(EVP_sha1(), key, (int)strlen(key), (unsigned char *)sts, strlen(sts), mac, &len);
    EVP_EncodeBlock(b64, mac, (int)len);
    return strcmp((char *)b64, given) == 0;
}

static int nonce_used(const char *nonce)
{
    for (size_t i = 0; i < M.nnonces; i++)
        if (strcmp(M.nonces[i], nonce) == 0) return 1;
    if (M.nnonces % 1024 == 0) M.nonces = realloc(M.nonces, (M.nnonces + 1024) * sizeof *M.nonces);
    M.nonces[M.nnonces++] = strdup(nonce);
    return 0;
}

static void aliyun_reply(struct evhttp_request *req, int http, const char *code, const char *phone,
                         const char *out_id, const char *extra)
{
    char out[512], more[3000];
    long n = M.aliyun_sends;
    if (strcmp(code, "OK") == 0)
        snprintf(out, sizeof out, "{\"Code\":\"OK\",\"Message\":\"OK\",\"BizId\":\"%ld^0\",\"RequestId\":\"MOCK-%ld\"}",
                 900000000 + ++M.msgid, n);
    else
        snprintf(out, sizeof out, "{\"Code\":\"%s\",\"Message\":\"mock %s\",\"RequestId\":\"MOCK-%ld\"}", code, code, n);
    snprintf(more, sizeof more, "\"code\":\"%s\"%s%s", code, extra ? "," : "", extra ? extra : "");
    logline("aliyun", phone, out_id, strcmp(code, "OK") != 0, strcmp(code, "OK") == 0, 0, more);
    reply_json(req, http, out);
}

static int digits11(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isdigit((unsigned char)s[n])) return 0;
    return n == 11 && s[0] == '1';
}

static void on_aliyun(struct evhttp_request *req)
{
    M.sends++;
    long n = ++M.aliyun_sends;
    if (n <= M.http500_first) {
        logline("aliyun", NULL, NULL, 500, 0, 0, "\"fault\":\"http500\"");
        reply_json(req, 500, "{\"Code\":\"ServiceUnavailable\",\"Message\":\"mock\"}");
        return;
    }
    char *body = body_of(req);
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    evhttp_parse_query_str(body, &q);
    free(body);
    const char *action = evhttp_find_header(&q, "Action"), *keyid = evhttp_find_header(&q, "AccessKeyId");
    const char *phone = evhttp_find_header(&q, "PhoneNumbers"), *sign = evhttp_find_header(&q, "SignName");
    const char *code = evhttp_find_header(&q, "TemplateCode"), *param = evhttp_find_header(&q, "TemplateParam");
    const char *out_id = evhttp_find_header(&q, "OutId"), *nonce = evhttp_find_header(&q, "SignatureNonce");
    const char *ts = evhttp_find_header(&q, "Timestamp"), *ver = evhttp_find_header(&q, "Version");
    const char *fmt = evhttp_find_header(&q, "Format"), *sm = evhttp_find_header(&q, "SignatureMethod");
    const char *sv = evhttp_find_header(&q, "SignatureVersion");
    int y, mo, d, h, mi, se;
    char z = 0;
    cJSON *params = param ? cJSON_Parse(param) : NULL;
    char extra[2500];
    char *pj = params ? cJSON_PrintUnformatted(params) : NULL;
    snprintf(extra, sizeof extra, "\"sign\":\"%.60s\",\"template_code\":\"%.60s\",\"params\":%.2000s",
             sign ? sign : "", code ? code : "", pj ? pj : "null");
    free(pj);
    if (!action || strcmp(action, "SendSms") != 0 || !ver || strcmp(ver, "2017-05-25") != 0)
        aliyun_reply(req, 400, "InvalidParameter", phone, out_id, NULL);
    else if (!keyid || strcmp(keyid, "mockkeyid") != 0)
        aliyun_reply(req, 404, "InvalidAccessKeyId.NotFound", phone, out_id, NULL);
    else if (!fmt || strcmp(fmt, "JSON") != 0 || !sm || strcmp(sm, "HMAC-SHA1") != 0 || !sv ||
             strcmp(sv, "1.0") != 0 || !ts || sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &z) != 7 ||
             z != 'Z' || strlen(ts) != 20)
        aliyun_reply(req, 400, "MissingParameter", phone, out_id, NULL);
    else if (!signature_ok(&q, "POST", "mockkeysecret"))
        aliyun_reply(req, 400, "SignatureDoesNotMatch", phone, out_id, NULL);
    else if (!nonce || nonce_used(nonce))
        aliyun_reply(req, 400, "SignatureNonceUsed", phone, out_id, NULL);
    else if (!phone || !digits11(phone) || (M.unsub[0] && strcmp(phone, M.unsub) == 0))
        aliyun_reply(req, 200, "isv.MOBILE_NUMBER_ILLEGAL", phone, out_id, extra);
    else if (!sign || !*sign)
        aliyun_reply(req, 200, "isv.SMS_SIGNATURE_ILLEGAL", phone, out_id, extra);
    else if (!code || strncmp(code, "SMS_", 4) != 0)
        aliyun_reply(req, 200, "isv.SMS_TEMPLATE_ILLEGAL", phone, out_id, extra);
    else if (!cJSON_IsObject(params))
        aliyun_reply(req, 200, "isv.INVALID_JSON_PARAM", phone, out_id, extra);
    else if (n <= M.sms_limit_first)
        aliyun_reply(req, 200, "isv.BUSINESS_LIMIT_CONTROL", phone, out_id, extra);
    else if (M.sms_day_after && n > M.sms_day_after)
        aliyun_reply(req, 200, "isv.DAY_LIMIT_CONTROL", phone, out_id, extra);
    else
        aliyun_reply(req, 200, "OK", phone, out_id, extra);
    cJSON_Delete(params);
    evhttp_clear_headers(&q);
}

static void on_request(struct evhttp_request *req, void *ud)
{
    (void)ud;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (path && strcmp(path, "/cgi-bin/token") == 0 && cmd == EVHTTP_REQ_GET) on_token(req);
    else if (path && strcmp(path, "/cgi-bin/message/template/send") == 0 && cmd == EVHTTP_REQ_POST) on_send(req);
    else if (path && strcmp(path, "/sms/send") == 0 && cmd == EVHTTP_REQ_POST) on_sms(req);
    else if (path && strcmp(path, "/") == 0 && cmd == EVHTTP_REQ_POST) on_aliyun(req);
    else reply_json(req, 404, "{\"errcode\":404,\"errmsg\":\"not found\"}");
}

static void on_term(evutil_socket_t sig, short what, void *ud)
{
    (void)sig;
    (void)what;
    (void)ud;
    event_base_loopbreak(M.base);
}

static int pair(const char *s, long *n, int *code)
{
    return sscanf(s, "%ld:%d", n, code) == 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *log = NULL, *port_file = NULL;
    snprintf(M.appid, sizeof M.appid, "wxmockappid");
    snprintf(M.secret, sizeof M.secret, "mocksecret");
    M.rng = 42;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        int c;
        if (!v) {
            fprintf(stderr, "mockprov: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--port") == 0) port = atoi(v);
        else if (strcmp(a, "--port-file") == 0) port_file = v;
        else if (strcmp(a, "--log") == 0) log = v;
        else if (strcmp(a, "--appid") == 0) snprintf(M.appid, sizeof M.appid, "%s", v);
        else if (strcmp(a, "--secret") == 0) snprintf(M.secret, sizeof M.secret, "%s", v);
        else if (strcmp(a, "--errcode-first") == 0 && pair(v, &M.errcode_first_n, &M.errcode_first) == 0) continue;
        else if (strcmp(a, "--errcode-rate") == 0 && pair(v, &n, &c) == 0) M.errcode_rate_pct = (int)n, M.errcode_rate = c;
        else if (strcmp(a, "--http500-first") == 0) M.http500_first = atol(v);
        else if (strcmp(a, "--hang-first") == 0 && pair(v, &M.hang_first, &c) == 0) M.hang_ms = c;
        else if (strcmp(a, "--reset-first") == 0) M.reset_first = atol(v);
        else if (strcmp(a, "--expire-token-at") == 0) M.expire_at = atol(v);
        else if (strcmp(a, "--unsubscribed") == 0) snprintf(M.unsub, sizeof M.unsub, "%s", v);
        else if (strcmp(a, "--quota-after") == 0) M.quota_after = atol(v);
        else if (strcmp(a, "--sms-limit-first") == 0) M.sms_limit_first = atol(v);
        else if (strcmp(a, "--sms-day-limit-after") == 0) M.sms_day_after = atol(v);
        else {
            fprintf(stderr, "mockprov: unknown or malformed option %s %s\n", a, v);
            return 2;
        }
    }
    M.log = log ? fopen(log, "a") : stdout;
    if (!M.log) {
        perror(log);
        return 1;
    }
    M.seen_key = calloc(MAX_SEEN, sizeof *M.seen_key);
    M.seen_msgid = calloc(MAX_SEEN, sizeof *M.seen_msgid);
    M.seen_at = calloc(MAX_SEEN, sizeof *M.seen_at);
    M.base = event_base_new();
    struct evhttp *http = evhttp_new(M.base);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", (unsigned short)port);
    if (!sock) {
        fprintf(stderr, "mockprov: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    evhttp_set_gencb(http, on_request, NULL);
    if (port_file) {
        struct sockaddr_storage ss;
        ev_socklen_t sl = sizeof ss;
        getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl);
        FILE *f = fopen(port_file, "w");
        if (!f) {
            perror(port_file);
            return 1;
        }
        fprintf(f, "%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
        fclose(f);
    }
    struct event *term = evsignal_new(M.base, SIGTERM, on_term, NULL);
    struct event *intr = evsignal_new(M.base, SIGINT, on_term, NULL);
    event_add(term, NULL);
    event_add(intr, NULL);
    event_base_dispatch(M.base);
    for (hung_t *h = M.hung, *next; h; h = next) {
        next = h->next;
        event_free(h->ev);
        free(h->body);
        free(h);
    }
    for (size_t i = 0; i < MAX_SEEN; i++) free(M.seen_key[i]);
    free(M.seen_key);
    free(M.seen_msgid);
    free(M.seen_at);
    for (size_t i = 0; i < M.nnonces; i++) free(M.nonces[i]);
    free(M.nonces);
    event_free(term);
    event_free(intr);
    evhttp_free(http);
    event_base_free(M.base);
    if (M.log != stdout) fclose(M.log);
    return 0;
}
