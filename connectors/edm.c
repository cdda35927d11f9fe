/* edm.c - email (EDM) over SMTP with libcurl.
 *
 * [edm] url = smtp://host:587 (or smtps://), starttls = yes|no, from,
 * username, password, unsubscribe_url (where {token} is replaced),
 * unsubscribe_secret. Each message is one RFC 5322 message:
 * multipart/alternative (text, then HTML, both UTF-8 in base64), the
 * subject as RFC 2047 encoded words, Message-ID derived from the
 * idempotency key, and the one-click unsubscribe headers of RFC 8058 with
 * an opaque per-member token (HMAC-SHA256 of the member id). SMTP has no
 * deduplication: the Message-ID lets a duplicate after a crash be traced. */
#include "conn.h"
#include "member.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct conn {
    char *url, *from, *from_addr, *user, *password, *unsub_url, *unsub_secret, *domain;
    int starttls;
};

static void destroy(conn_t *c)
{
    if (!c) return;
    free(c->url);
    free(c->from);
    free(c->from_addr);
    free(c->user);
    free(c->password);
    free(c->unsub_url);
    free(c->unsub_secret);
    free(c->domain);
    free(c);
}

static char *opt(const ws_t *w, const char *key)
{
    const char *v = ws_get(w, "edm", key);
    return v && *v ? xstrdup(v) : NULL;
}

static conn_t *create(const ws_t *w, char *err)
{
    conn_t *c = xcalloc(1, sizeof *c);
    c->url = opt(w, "url");
    c->from = opt(w, "from");
    c->user = opt(w, "username");
    c->password = opt(w, "password");
    c->unsub_url = opt(w, "unsubscribe_url");
    c->unsub_secret = opt(w, "unsubscribe_secret");
    const char *tls = ws_get(w, "edm", "starttls");
    c->starttls = !tls || strcmp(tls, "no") != 0;
    const char *missing = !c->url ? "url" : !c->from ? "from" : !c->unsub_url ? "unsubscribe_url"
                        : !c->unsub_secret ? "unsubscribe_secret" : NULL;
    if (missing) {
        int line = ws_get_line(w, "edm", missing);
        if (line) errf(err, "nudge.conf:%d: [edm] %s: the environment variable it names is not set", line, missing);
        else errf(err, "nudge.conf: [edm] needs %s", missing);
        destroy(c);
        return NULL;
    }
    /* "Brand <news@brand.example>" or a bare address */
    const char *lt = strchr(c->from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    c->from_addr = lt && gt ? xstrndup(lt + 1, (size_t)(gt - lt - 1)) : xstrdup(c->from);
    const char *at = strchr(c->from_addr, '@');
    c->domain = xstrdup(at ? at + 1 : "localhost");
    return c;
}

static void b64(buf_t *out, const unsigned char *p, size_t n)
{
    char *tmp = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)tmp, p, (int)n);
    buf_adds(out, tmp);
    free(tmp);
}

/* RFC 2047: "=?UTF-8?B?...?=" words of at most 75 characters, split only
 * between characters; 45 bytes of text make 60 of base64. */
void conn_mime_subject(const char *s, buf_t *out)
{
    size_t n = strlen(s), i = 0;
    int ascii = 1;
    for (size_t k = 0; k < n; k++) ascii &= (unsigned char)s[k] >= 0x20 && (unsigned char)s[k] < 0x7f;
    if (ascii && n <= 70) {
        buf_adds(out, s);
        return;
    }
    while (i < n) {
        size_t take = n - i < 45 ? n - i : 45;
        while (take < n - i && ((unsigned char)s[i + take] & 0xC0) == 0x80) take--;   /* not mid-character */
        if (i) buf_adds(out, "\r\n ");
        buf_adds(out, "=?UTF-8?B?");
        b64(out, (const unsigned char *)s + i, take);
        buf_adds(out, "?=");
        i += take;
    }
}

static void b64_lines(buf_t *out, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += 57) {   /* 76-character lines */
        b64(out, (const unsigned char *)s + i, n - i < 57 ? n - i : 57);
        buf_adds(out, "\r\n");
    }
}

static void token(const conn_t *c, const char *member, char out[33])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), c->unsub_secret, (int)strlen(c->unsub_secret), (const unsigned char *)member, strlen(member),
         mac, &len);
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

typedef struct mail {
    struct curl_slist *rcpt;
    size_t sent;             /* bytes of the body handed to curl */
    conn_xfer_t *x;
} mail_t;

static void mail_free(void *p)
{
    mail_t *m = p;
    curl_slist_free_all(m->rcpt);
    free(m);
}

static size_t read_body(char *dst, size_t size, size_t n, void *ud)
{
    mail_t *m = ud;
    size_t left = m->x->body.len - m->sent, take = size * n < left ? size * n : left;
    memcpy(dst, m->x->body.p + m->sent, take);
    m->sent += take;
    return take;
}

static int prepare(conn_t *c, CURL *h, const store_msg_t *m, conn_xfer_t *x, char *err)
{
    cJSON *j = cJSON_Parse(m->content.p ? m->content.p : "");
    const cJSON *subj = cJSON_GetObjectItemCaseSensitive(j, "subject");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    const cJSON *html = cJSON_GetObjectItemCaseSensitive(j, "html");
    if (!cJSON_IsString(subj) || !cJSON_IsString(text) || !cJSON_IsString(html)) {
        cJSON_Delete(j);
        return errf(err, "the message has no email content");
    }
    unsigned long long id = (unsigned long long)fnv1a64(m->key, strlen(m->key), FNV_SEED);
    char tok[33], date[64], boundary[48];
    token(c, m->member_id, tok);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(boundary, sizeof boundary, "=_nudge_%016llx", id);
    buf_t *b = &x->body;
    buf_adds(b, "From: ");
    buf_adds(b, c->from);
    buf_adds(b, "\r\nTo: <");
    buf_adds(b, m->address);
    buf_adds(b, ">\r\nSubject: ");
    conn_mime_subject(subj->valuestring, b);
    buf_adds(b, "\r\nDate: ");
    buf_adds(b, date);
    char mid[128];
    char dedup[CONN_DEDUP_ID_LEN];
    conn_dedup_id(m->key, dedup);
    snprintf(mid, sizeof mid, "\r\nMessage-ID: <%s@%s>", dedup, c->domain);
    buf_adds(b, mid);
    buf_adds(b, "\r\nList-Unsubscribe: <");
    for (const char *p = c->unsub_url; *p; p++) {
        if (strncmp(p, "{token}", 7) == 0) {
            buf_adds(b, tok);
            p += 6;
        } else {
            buf_addc(b, *p);
        }
    }
    buf_adds(b, ">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n"
                "Content-Type: multipart/alternative; boundary=\"");
    buf_adds(b, boundary);
    buf_adds(b, "\"\r\n\r\n--");
    buf_adds(b, boundary);
    buf_adds(b, "\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    b64_lines(b, text->valuestring);
    buf_adds(b, "--");
    buf_adds(b, boundary);
    buf_adds(b, "\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    b64_lines(b, html->valuestring);
    buf_adds(b, "--");
    buf_adds(b, boundary);
    buf_adds(b, "--\r\n");
    cJSON_Delete(j);
    mail_t *ml = xcalloc(1, sizeof *ml);
    ml->x = x;
    buf_t r;
    buf_init(&r);
    buf_addc(&r, '<');
    buf_adds(&r, m->address);
    buf_addc(&r, '>');
    ml->rcpt = curl_slist_append(NULL, r.p);
    buf_free(&r);
    x->extra = ml;
    x->extra_free = mail_free;
    buf_t from;
    buf_init(&from);
    buf_addc(&from, '<');
    buf_adds(&from, c->from_addr);
    buf_addc(&from, '>');
    x->url = from.p;   /* kept alive with the transfer; the URL itself is c->url */
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, x->url);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, ml->rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(h, CURLOPT_READDATA, ml);
    curl_easy_setopt(h, CURLOPT_INFILESIZE, (long)b->len);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (c->starttls) curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (c->user) curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
    if (c->password) curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, NULL);
    return NUDGE_OK;
}

static void classify(conn_t *c, const store_msg_t *m, long code, const char *body, const char *transport,
                     conn_result_t *r)
{
    (void)c;
    (void)body;
    memset(r, 0, sizeof *r);
    if (!transport && code >= 200 && code < 300) {
        r->verdict = CONN_SENT;
        conn_dedup_id(m->key, r->provider_id);
        return;
    }
    /* 5xx: the server refuses for good (550 no such mailbox: that member) */
    if (code == 550 || code == 551 || code == 553) r->verdict = CONN_MEMBER;
    else if (code >= 500 && code < 600) r->verdict = CONN_FATAL;
    else r->verdict = CONN_RETRY;
    snprintf(r->reason, sizeof r->reason, "smtp %ld: %s", code, transport ? transport : "refused");
}

const conn_ops_t conn_edm = {
    .name = "edm",
    .channel = CH_EDM,
    .create = create,
    .destroy = destroy,
    .prepare = prepare,
    .classify = classify,
};
