/* callback.c - see callback.h */
#include "callback.h"

#include <cjson/cJSON.h>
#include <expat.h>
#include <openssl/evp.h>   /* evp.h only: crypto.h would pull <sched.h>, shadowed by engine/sched.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- Alibaba */

static const cJSON *field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return v && !cJSON_IsNull(v) ? v : NULL;   /* null is absent, as senders often mean it */
}

/* An optional string field into dst (empty when absent); too long is an
 * error rather than a cut, so a receipt never matches the wrong id. */
static int item_str(const cJSON *o, int i, const char *key, char *dst, size_t cap, char *err)
{
    const cJSON *v = field(o, key);
    dst[0] = '\0';
    if (!v) return NUDGE_OK;
    if (!cJSON_IsString(v)) return errf(err, "item %d: %s must be a string", i, key);
    size_t n = strlen(v->valuestring);
    if (n >= cap) return errf(err, "item %d: %s is too long (%zu bytes; at most %zu)", i, key, n, cap - 1);
    memcpy(dst, v->valuestring, n + 1);
    return NUDGE_OK;
}

/* Documented as a Number; kept as digits since doubles lose them past 2^53. */
static int item_seq(const cJSON *o, int i, char *dst, size_t cap, char *err)
{
    const cJSON *v = field(o, "sequence_id");
    dst[0] = '\0';
    if (!v) return NUDGE_OK;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d < 0 || d >= 9007199254740992.0 || d != (double)(int64_t)d)
            return errf(err, "item %d: sequence_id must be a whole number", i);
        snprintf(dst, cap, "%lld", (long long)d);
        return NUDGE_OK;
    }
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t n = strlen(s);
        if (n == 0 || strspn(s, "0123456789") != n)
            return errf(err, "item %d: sequence_id must be a whole number", i);
        if (n >= cap) return errf(err, "item %d: sequence_id is too long (%zu bytes; at most %zu)", i, n, cap - 1);
        memcpy(dst, s, n + 1);
        return NUDGE_OK;
    }
    return errf(err, "item %d: sequence_id must be a whole number", i);
}

static int parse_item(const cJSON *o, int i, cb_sms_item_t *it, char *err)
{
    memset(it, 0, sizeof *it);
    if (!cJSON_IsObject(o)) return errf(err, "item %d: must be a JSON object", i);

    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "phone_number");
    if (!v) return errf(err, "item %d: phone_number is missing", i);
    if (!cJSON_IsString(v)) return errf(err, "item %d: phone_number must be a string", i);
    if (!*v->valuestring) return errf(err, "item %d: phone_number is empty", i);
    if (item_str(o, i, "phone_number", it->phone, sizeof it->phone, err)) return NUDGE_ERR;

    int report = field(o, "success") || field(o, "err_code") || field(o, "report_time");
    int reply = field(o, "content") != NULL;
    if (report && reply) return errf(err, "item %d: has both report fields and content", i);
    if (!report && !reply)
        return errf(err, "item %d: neither a delivery report (success, err_code, report_time) "
                         "nor a reply (content)", i);

    char sent[sizeof it->at];
    if (item_str(o, i, "send_time", sent, sizeof sent, err)) return NUDGE_ERR;
    if (reply) {
        it->kind = CB_SMS_REPLY;
        if (item_str(o, i, "content", it->content, sizeof it->content, err) ||
            item_str(o, i, "sign_name", it->sign_name, sizeof it->sign_name, err) ||
            item_str(o, i, "dest_code", it->dest_code, sizeof it->dest_code, err) ||
            item_seq(o, i, it->sequence_id, sizeof it->sequence_id, err))
            return NUDGE_ERR;
        memcpy(it->at, sent, sizeof it->at);
        return NUDGE_OK;
    }
    it->kind = CB_SMS_REPORT;
    if (item_str(o, i, "out_id", it->out_id, sizeof it->out_id, err) ||
        item_str(o, i, "biz_id", it->biz_id, sizeof it->biz_id, err) ||
        item_str(o, i, "err_code", it->err_code, sizeof it->err_code, err) ||
        item_str(o, i, "err_msg", it->err_msg, sizeof it->err_msg, err) ||
        item_str(o, i, "report_time", it->at, sizeof it->at, err))
        return NUDGE_ERR;
    if (!it->at[0]) memcpy(it->at, sent, sizeof it->at);
    v = field(o, "success");
    if (v) {
        if (!cJSON_IsBool(v)) return errf(err, "item %d: success must be true or false", i);
        it->success = cJSON_IsTrue(v);
    } else {
        it->success = strcmp(it->err_code, "DELIVERED") == 0;   /* the documented code for delivered */
    }
    return NUDGE_OK;
}

int cb_aliyun_parse(const char *body, size_t len, cb_sms_item_t **items, int *n, char *err)
{
    *items = NULL;
    *n = 0;
    if (!body) return errf(err, "no body");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        size_t off = end ? (size_t)(end - body) : 0;
        return errf(err, "not valid JSON (near byte %zu)", off + 1);
    }
    /* cJSON stops after the value; anything but white space after it is garbage */
    size_t off = (size_t)(end - body);
    while (off < len && (body[off] == ' ' || body[off] == '\t' || body[off] == '\r' || body[off] == '\n')) off++;
    if (off < len) {
        cJSON_Delete(root);
        return errf(err, "not valid JSON (trailing data at byte %zu)", off + 1);
    }

    int count;
    if (cJSON_IsObject(root)) count = 1;
    else if (cJSON_IsArray(root)) count = cJSON_GetArraySize(root);
    else {
        cJSON_Delete(root);
        return errf(err, "the body must be a JSON array of items (or one item object)");
    }
    if (count > CB_SMS_MAX_ITEMS) {
        cJSON_Delete(root);
        return errf(err, "too many items (%d; at most %d)", count, CB_SMS_MAX_ITEMS);
    }
    if (count == 0) {
        cJSON_Delete(root);
        return NUDGE_OK;
    }

    cb_sms_item_t *out = xcalloc((size_t)count, sizeof *out);
    int i = 0;
    if (cJSON_IsObject(root)) {
        if (parse_item(root, 0, &out[0], err)) goto fail;
        i = 1;
    } else {
        const cJSON *o;
        cJSON_ArrayForEach(o, root) {
            if (parse_item(o, i, &out[i], err)) goto fail;
            i++;
        }
    }
    cJSON_Delete(root);
    *items = out;
    *n = i;
    return NUDGE_OK;
fail:
    cJSON_Delete(root);
    free(out);
    return NUDGE_ERR;
}

/* ---------------------------------------------------------------- opt-out */

/* One code point of strict UTF-8 (no overlongs, surrogates or > U+10FFFF);
 * 0 at the end or on a bad byte. */
static int utf8_next(const unsigned char **pp, uint32_t *cp)
{
    const unsigned char *p = *pp;
    uint32_t c = p[0];
    int n;
    if (c == 0) return 0;
    if (c < 0x80) n = 0;
    else if (c >= 0xC2 && c <= 0xDF) { n = 1; c &= 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; c &= 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; c &= 0x07; }
    else return 0;
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;   /* also stops at the NUL */
        c = (c << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && c < 0x800) || (n == 3 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *pp = p + n + 1;
    *cp = c;
    return 1;
}

static size_t utf8_put(uint32_t c, char *o)
{
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | c >> 6); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12); o[1] = (char)(0x80 | ((c >> 6) & 0x3F)); o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18); o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)); o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static int is_space_cp(uint32_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xA0 || c == 0x3000;
}

/* Punctuation phones put around a short reply: ASCII (full-width forms
 * are folded to ASCII before this), CJK and general punctuation. */
static int is_punct_cp(uint32_t c)
{
    if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
                         (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
    return c == 0xB7 || (c >= 0x2010 && c <= 0x2027) || (c >= 0x3001 && c <= 0x3003) ||
           (c >= 0x3008 && c <= 0x3011) || (c >= 0x3014 && c <= 0x301F) || c == 0x30FB ||
           (c >= 0xFE50 && c <= 0xFE6B) || (c >= 0xFF61 && c <= 0xFF65);
}

int cb_is_opt_out_reply(const char *content)
{
    static const char *const words[] = {
        "t", "td", "r", "n", "q", "t退订", "td退订", "退订", "退", "取消", "拒收", "unsubscribe", "stop",
    };
    if (!content) return 0;
    size_t len = strlen(content);
    if (len > 256) return 0;   /* far longer than any word with its punctuation */

    uint32_t cp[256];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)content;
    uint32_t c;
    while (utf8_next(&p, &c)) {
        if (is_space_cp(c)) continue;
        if (c >= 0xFF01 && c <= 0xFF5E) c -= 0xFEE0;   /* full-width ASCII forms: Ｔ -> T, ！ -> ! */
        if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
        cp[n++] = c;
    }
    if (*p) return 0;   /* not UTF-8: not something we can read as a word */

    size_t a = 0, b = n;
    while (a < b && is_punct_cp(cp[a])) a++;
    while (b > a && is_punct_cp(cp[b - 1])) b--;
    if (a == b) return 0;

    char word[4 * 256 + 1];
    size_t w = 0;
    for (size_t i = a; i < b; i++) w += utf8_put(cp[i], word + w);
    word[w] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcmp(word, words[i]) == 0) return 1;
    return 0;
}

/* ---------------------------------------------------------------- phones */

static int is_mobile(const char *d, size_t n)
{
    return n == 11 && d[0] == '1';
}

int cb_phone_normalize(const char *in, char *out, size_t outlen)
{
    if (out && outlen) out[0] = '\0';
    if (!in || !out || !outlen) return NUDGE_ERR;

    char d[24];
    size_t nd = 0;
    int plus = 0;
    for (const char *s = in; *s; s++) {
        if (*s == ' ' || *s == '\t' || *s == '-') continue;
        if (*s == '+' && nd == 0 && !plus) { plus = 1; continue; }
        if (*s < '0' || *s > '9') return NUDGE_ERR;
        if (nd + 1 >= sizeof d) return NUDGE_ERR;
        d[nd++] = *s;
    }
    d[nd] = '\0';

    const char *res = NULL;
    int intl = 0;
    if (plus) {
        if (nd > 2 && memcmp(d, "86", 2) == 0 && is_mobile(d + 2, nd - 2)) res = d + 2;
        else if (nd >= 7 && nd <= 15 && d[0] != '0') { res = d; intl = 1; }   /* no country code starts with 0 */
    } else if (nd > 4 && memcmp(d, "0086", 4) == 0 && is_mobile(d + 4, nd - 4)) {
        res = d + 4;
    } else if (nd > 2 && memcmp(d, "86", 2) == 0 && is_mobile(d + 2, nd - 2)) {
        res = d + 2;
    } else if (is_mobile(d, nd)) {
        res = d;
    } else if (nd >= 9 && nd <= 17 && memcmp(d, "00", 2) == 0 && d[2] != '0') {
        res = d + 2;   /* 00 is the international prefix from China: same as + */
        intl = 1;
    } else if (nd >= 7 && nd <= 15) {
        res = d;
    }
    if (!res) return NUDGE_ERR;
    size_t need = strlen(res) + (size_t)intl + 1;
    if (need > outlen) return NUDGE_ERR;
    snprintf(out, outlen, "%s%s", intl ? "+" : "", res);
    return NUDGE_OK;
}

/* ---------------------------------------------------------------- WeChat signature */

/* Differences are ORed, not returned at the first one, so the time taken
 * does not tell an attacker how many leading characters were right. */
static int ct_equal(const char *a, const char *b, size_t n)
{
    volatile unsigned char d = 0;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

int cb_wechat_signature_ok(const char *token, const char *timestamp, const char *nonce,
                           const char *signature)
{
    if (!token || !timestamp || !nonce || !signature) return 0;
    if (!*token) return 0;   /* an empty token lets anyone compute the signature */
    size_t tl = strlen(timestamp);
    if (tl == 0 || tl > 20 || strspn(timestamp, "0123456789") != tl) return 0;
    if (strlen(signature) != 40 || strspn(signature, "0123456789abcdefABCDEF") != 40) return 0;

    const char *v[3] = {token, timestamp, nonce}, *t;
    /* three strings, bytewise like PHP's sort(SORT_STRING) in WeChat's sample */
    if (strcmp(v[0], v[1]) > 0) { t = v[0]; v[0] = v[1]; v[1] = t; }
    if (strcmp(v[1], v[2]) > 0) { t = v[1]; v[1] = v[2]; v[2] = t; }
    if (strcmp(v[0], v[1]) > 0) { t = v[0]; v[0] = v[1]; v[1] = t; }
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < 3; i++) buf_adds(&b, v[i]);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(b.p, b.len, md, &mdlen, EVP_sha1(), NULL) == 1 && mdlen == 20;
    buf_free(&b);
    if (!ok) return 0;

    static const char hex[] = "0123456789abcdef";
    char want[40], got[40];
    for (int i = 0; i < 20; i++) {
        want[2 * i] = hex[md[i] >> 4];
        want[2 * i + 1] = hex[md[i] & 15];
    }
    for (int i = 0; i < 40; i++) {
        char c = signature[i];
        got[i] = (char)(c >= 'A' && c <= 'F' ? c + ('a' - 'A') : c);
    }
    return ct_equal(want, got, 40);
}

/* ---------------------------------------------------------------- WeChat XML */

#define WX_SIZE(f) sizeof(((cb_wechat_t *)0)->f)
#define WX_FIELD(name, slot, f) {name, slot, offsetof(cb_wechat_t, f), WX_SIZE(f)}

/* The children of <xml> we keep; slot numbers catch a field given twice
 * (MsgID and MsgId share one). cap 0 is CreateTime, a number. */
static const struct wx_field {
    const char *name;
    int slot;
    size_t off, cap;
} wx_fields[] = {
    WX_FIELD("ToUserName", 0, to),
    WX_FIELD("FromUserName", 1, from),
    {"CreateTime", 2, offsetof(cb_wechat_t, create_time), 0},
    WX_FIELD("MsgType", 3, msg_type),
    WX_FIELD("Event", 4, event),
    WX_FIELD("MsgID", 5, msg_id),   /* TEMPLATESENDJOBFINISH */
    WX_FIELD("MsgId", 5, msg_id),   /* ordinary messages */
    WX_FIELD("Status", 6, status),
    WX_FIELD("EventKey", 7, event_key),
};

typedef struct wx_state {
    XML_Parser p;
    cb_wechat_t *out;
    int depth;
    const struct wx_field *cur;   /* the open child we keep, or NULL */
    unsigned seen;                /* bit per slot */
    int encrypted;
    int failed;
    buf_t text;
    char *err;
} wx_state_t;

static void wx_stop(wx_state_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wx_stop(wx_state_t *st, const char *fmt, ...)
{
    if (st->failed) return;
    st->failed = 1;
    if (st->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->err, ERRLEN, fmt, ap);
        va_end(ap);
    }
    XML_StopParser(st->p, XML_FALSE);
}

static void wx_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    wx_state_t *st = ud;
    (void)atts;
    if (st->failed) return;
    st->depth++;
    if (st->depth == 1) {
        if (strcmp(name, "xml") != 0)
            wx_stop(st, "line %lu: the root element is <%s>, not <xml>",
                    (unsigned long)XML_GetCurrentLineNumber(st->p), name);
        return;
    }
    if (st->depth != 2) return;   /* nested (ScanCodeInfo, ResultList, ...): not ours */
    st->cur = NULL;
    buf_reset(&st->text);
    if (strcmp(name, "Encrypt") == 0) st->encrypted = 1;
    for (size_t i = 0; i < sizeof wx_fields / sizeof *wx_fields; i++)
        if (strcmp(name, wx_fields[i].name) == 0) st->cur = &wx_fields[i];
}

static void wx_chars(void *ud, const XML_Char *s, int len)
{
    wx_state_t *st = ud;
    if (st->failed || st->depth != 2 || !st->cur) return;
    buf_add(&st->text, s, (size_t)len);   /* bounded by the 64 KB body */
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void wx_end(void *ud, const XML_Char *name)
{
    wx_state_t *st = ud;
    (void)name;
    if (st->failed) return;
    if (st->depth == 2 && st->cur) {
        const struct wx_field *f = st->cur;
        st->cur = NULL;
        if (st->seen & (1u << f->slot)) {
            wx_stop(st, "%s is given twice", f->name);
            return;
        }
        st->seen |= 1u << f->slot;
        /* white space around a value is layout, not data (util's strtrim keeps a leading \n) */
        const char *v = st->text.p ? st->text.p : "";
        size_t n = st->text.len;
        while (n && is_ws(*v)) { v++; n--; }
        while (n && is_ws(v[n - 1])) n--;
        if (f->cap == 0) {
            int64_t t = 0;
            size_t i = 0;
            while (i < n && n <= 18 && v[i] >= '0' && v[i] <= '9') t = t * 10 + (v[i++] - '0');
            if (n == 0 || i != n) {   /* 18 digits cannot overflow int64 */
                wx_stop(st, "%s must be a whole number of seconds", f->name);
                return;
            }
            st->out->create_time = t;
        } else {
            if (n >= f->cap) {
                wx_stop(st, "%s is too long (%zu bytes; at most %zu)", f->name, n, f->cap - 1);
                return;
            }
            char *dst = (char *)st->out + f->off;
            memcpy(dst, v, n);
            dst[n] = '\0';
        }
    }
    st->depth--;
}

/* Refusing the DOCTYPE refuses every entity declaration with it: no
 * billion laughs, no external entities. The entity handler is a second
 * lock should expat ever report one without a DOCTYPE start. */
static void wx_doctype(void *ud, const XML_Char *doctype, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    wx_state_t *st = ud;
    (void)doctype; (void)sysid; (void)pubid; (void)has_internal_subset;
    wx_stop(st, "line %lu: a DOCTYPE is not allowed", (unsigned long)XML_GetCurrentLineNumber(st->p));
}

static void wx_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int value_len,
                      const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
                      const XML_Char *notation)
{
    wx_state_t *st = ud;
    (void)is_param; (void)value; (void)value_len; (void)base; (void)sysid; (void)pubid; (void)notation;
    wx_stop(st, "line %lu: entity declarations are not allowed (%s)",
            (unsigned long)XML_GetCurrentLineNumber(st->p), name);
}

int cb_wechat_parse(const char *xml, size_t len, cb_wechat_t *out, char *err)
{
    memset(out, 0, sizeof *out);
    if (!xml) return errf(err, "no body");
    if (len > CB_WECHAT_MAX_BODY)
        return errf(err, "body too large (%zu bytes; at most %d)", len, CB_WECHAT_MAX_BODY);

    wx_state_t st;
    memset(&st, 0, sizeof st);
    st.out = out;
    st.err = err;
    buf_init(&st.text);
    st.p = XML_ParserCreate(NULL);
    if (!st.p) return errf(err, "out of memory creating the XML parser");
    XML_SetUserData(st.p, &st);
    XML_SetElementHandler(st.p, wx_start, wx_end);
    XML_SetCharacterDataHandler(st.p, wx_chars);
    XML_SetStartDoctypeDeclHandler(st.p, wx_doctype);
    XML_SetEntityDeclHandler(st.p, wx_entity);
    XML_SetParamEntityParsing(st.p, XML_PARAM_ENTITY_PARSING_NEVER);

    enum XML_Status s = XML_Parse(st.p, xml, (int)len, XML_TRUE);
    int rc = NUDGE_OK;
    if (st.failed) rc = NUDGE_ERR;   /* our message is already in err */
    else if (s != XML_STATUS_OK)
        rc = errf(err, "line %lu: %s", (unsigned long)XML_GetCurrentLineNumber(st.p),
                  XML_ErrorString(XML_GetErrorCode(st.p)));
    else if (!out->from[0])
        rc = st.encrypted ? errf(err, "the body is encrypted (safe mode); only plaintext mode is supported")
                          : errf(err, "FromUserName is missing or empty");
    else if (!out->msg_type[0])
        rc = errf(err, "MsgType is missing or empty");
    XML_ParserFree(st.p);
    buf_free(&st.text);
    if (rc != NUDGE_OK) memset(out, 0, sizeof *out);
    return rc;
}
