/* conn.c - see conn.h: what every connector shares. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void conn_xfer_init(conn_xfer_t *x)
{
    memset(x, 0, sizeof *x);
    buf_init(&x->body);
    buf_init(&x->response);
}

void conn_xfer_reset(conn_xfer_t *x)
{
    free(x->url);
    x->url = NULL;
    buf_reset(&x->body);
    buf_reset(&x->response);
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    if (x->extra && x->extra_free) x->extra_free(x->extra);
    x->extra = NULL;
    x->extra_free = NULL;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    conn_xfer_t *x = ud;
    if (x->response.len + size * n > (1u << 20)) return 0;   /* no provider answer is this big */
    buf_add(&x->response, p, size * n);
    return size * n;
}

void conn_xfer_bind(conn_xfer_t *x, CURL *h)
{
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* providers are https; tests point endpoints at http://127.0.0.1 */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (x->headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
}

void conn_dedup_id(const char *key, char out[CONN_DEDUP_ID_LEN])
{
    snprintf(out, CONN_DEDUP_ID_LEN, "n%016llx", (unsigned long long)fnv1a64(key, strlen(key), FNV_SEED));
}

int conn_result_start(conn_result_t *r, const store_msg_t *m, long http, const char *transport, const char *who)
{
    memset(r, 0, sizeof *r);
    r->segments = m->segments;
    if (http) return 0;
    r->verdict = CONN_RETRY;
    snprintf(r->reason, sizeof r->reason, "%s: %s", who, transport ? transport : "transfer failed");
    return 1;
}

void conn_xfer_post_json(conn_xfer_t *x, CURL *h, const char *header)
{
    x->headers = curl_slist_append(x->headers, "Content-Type: application/json; charset=utf-8");
    x->headers = curl_slist_append(x->headers, "Expect:");   /* no 100-continue round trip */
    if (header) x->headers = curl_slist_append(x->headers, header);
    curl_easy_setopt(h, CURLOPT_URL, x->url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body.p);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)x->body.len);
    conn_xfer_bind(x, h);
}

const conn_ops_t *conn_find(const ws_t *w, const char *channel)
{
    static const conn_ops_t *const all[] = {&conn_wechat, &conn_sms, &conn_edm};
    const char *provider = ws_get(w, "sms", "provider");
    if (strcmp(channel, "sms") == 0 && provider && strcmp(provider, "aliyun") == 0) return &conn_aliyun;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (strcmp(all[i]->name, channel) == 0) return all[i];
    return NULL;
}
