/* log.c - see log.h */
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int g_level = LOG_INFO;
static FILE *g_fp;   /* NULL: stderr (not a constant initializer) */
static int g_json = 1;

static const char *const level_json[] = {"debug", "info", "warn", "error"};
static const char *const level_plain[] = {"DEBUG", "INFO", "WARN", "ERROR"};

static int clamp_level(int level)
{
    return level < LOG_DEBUG ? LOG_DEBUG : level > LOG_ERROR ? LOG_ERROR : level;
}

int log_level_parse(const char *name, int *level)
{
    static const struct { const char *name; int level; } names[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN},
        {"warning", LOG_WARN}, {"error", LOG_ERROR},
    };
    if (!name) return NUDGE_ERR;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcasecmp(name, names[i].name) == 0) {
            *level = names[i].level;
            return NUDGE_OK;
        }
    return NUDGE_ERR;
}

void log_setup(int level, FILE *fp, int json)
{
    g_level = clamp_level(level);
    g_fp = fp;
    g_json = json != 0;
}

int log_enabled(int level)
{
    return clamp_level(level) >= g_level;
}

/* ---- masking ---- */

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_alnum(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
/* the openid alphabet; also what "a longer word" means around one */
static int is_word(unsigned char c) { return is_alnum(c) || c == '_' || c == '-'; }
/* an email local part as people write them (RFC 5322 allows more) */
static int is_local(unsigned char c) { return is_word(c) || c == '.' || c == '+' || c == '%'; }
static int is_domain(unsigned char c) { return is_alnum(c) || c == '.' || c == '-'; }

static void mask_mobile(const char *s, buf_t *out)   /* s: the 11 digits */
{
    buf_add(out, s, 3);
    buf_add(out, "****", 4);
    buf_add(out, s + 7, 4);
}

/* a word's digit runs: mobiles masked, every other run copied */
static void mask_digits(const char *s, size_t n, buf_t *out)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        if (!is_digit((unsigned char)s[i])) {
            while (j < n && !is_digit((unsigned char)s[j])) j++;
            buf_add(out, s + i, j - i);
            i = j;
            continue;
        }
        while (j < n && is_digit((unsigned char)s[j])) j++;
        size_t len = j - i;
        /* the 86 / 0086 country prefix stays visible; the number is masked */
        size_t pre = len == 13 && memcmp(s + i, "86", 2) == 0     ? 2
                   : len == 15 && memcmp(s + i, "0086", 4) == 0   ? 4
                   : 0;
        if (len - pre == 11 && s[i + pre] == '1') {
            buf_add(out, s + i, pre);
            mask_mobile(s + i + pre, out);
        } else {
            buf_add(out, s + i, len);
        }
        i = j;
    }
}

/* a maximal run of local-part characters that is not an email address */
static void mask_run(const char *s, size_t n, buf_t *out)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        if (!is_word((unsigned char)s[i])) {   /* . + % */
            buf_addc(out, s[i]);
            i++;
            continue;
        }
        while (j < n && is_word((unsigned char)s[j])) j++;
        if (j - i == 28 && s[i] == 'o') {
            buf_add(out, s + i, 4);
            buf_add(out, "****", 4);
        } else {
            mask_digits(s + i, j - i, out);
        }
        i = j;
    }
}

/* Length of the domain after an '@' (trailing '.'/'-' left out, as in "mail
 * alice@example.com."), or 0 when it does not look like one. */
static size_t domain_len(const char *s)
{
    size_t n = 0;
    while (is_domain((unsigned char)s[n])) n++;
    while (n > 0 && (s[n - 1] == '.' || s[n - 1] == '-')) n--;
    if (n == 0 || !is_alnum((unsigned char)s[0])) return 0;
    int dot = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.') {
            if (s[i + 1] == '.') return 0;   /* i + 1 < n: s[n - 1] is alnum */
            dot = 1;
        }
    return dot ? n : 0;
}

void log_mask(const char *in, buf_t *out)
{
    if (!in) return;
    const char *p = in;
    while (*p) {
        const char *q = p;
        if (!is_local((unsigned char)*p)) {   /* '@', spaces, punctuation, UTF-8 */
            while (*q && !is_local((unsigned char)*q)) q++;
            buf_add(out, p, (size_t)(q - p));
            p = q;
            continue;
        }
        while (is_local((unsigned char)*q)) q++;
        size_t d = *q == '@' ? domain_len(q + 1) : 0;
        if (d) {
            buf_addc(out, *p);
            buf_add(out, "***@", 4);
            buf_add(out, q + 1, d);
            p = q + 1 + d;
        } else {
            mask_run(p, (size_t)(q - p), out);
            p = q;
        }
    }
}

/* ---- output ---- */

/* s with every ill-formed UTF-8 sequence replaced by U+FFFD, one per
 * maximal subpart (the Unicode recommendation), so a line stays valid JSON
 * text for parsers that check encoding. */
static void add_utf8_clean(buf_t *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *run = p;
        while (*p && *p < 0x80) p++;
        if (p > run) buf_add(out, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        unsigned char c = *p, lo = 0x80, hi = 0xBF;
        size_t need;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;        /* overlong */
            if (c == 0xED) hi = 0x9F;        /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;        /* overlong */
            if (c == 0xF4) hi = 0x8F;        /* above U+10FFFF */
        } else need = 0;
        size_t k = 1;
        if (need && p[1] >= lo && p[1] <= hi) {
            k = 2;   /* the NUL terminator is no continuation byte: no overrun */
            while (k <= need && p[k] >= 0x80 && p[k] <= 0xBF) k++;
        }
        if (need && k == need + 1) buf_add(out, (const char *)p, k);
        else buf_add(out, "\xEF\xBF\xBD", 3);
        p += k;
    }
}

/* masked (when asked), UTF-8-cleaned text of s, in tmp */
static const char *prepare(buf_t *tmp, buf_t *masked, const char *s, int mask)
{
    buf_reset(tmp);
    if (mask) {
        buf_reset(masked);
        log_mask(s, masked);
        s = masked->p ? masked->p : "";   /* a buf_t holds NULL until written */
    }
    add_utf8_clean(tmp, s);
    return tmp->p ? tmp->p : "";
}

/* plain mode: keep a line one line (control bytes escaped) and readable */
static void add_plain(buf_t *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p != 0x7F) { buf_addc(out, (char)*p); continue; }
        char e[4] = {'\\', 'x', hex[*p >> 4], hex[*p & 15]};
        if (*p == '\n') buf_add(out, "\\n", 2);
        else if (*p == '\r') buf_add(out, "\\r", 2);
        else if (*p == '\t') buf_add(out, "\\t", 2);
        else buf_add(out, e, 4);
    }
}

/* plain mode: a value is quoted (JSON style) when it has to be to read back */
static void add_plain_value(buf_t *out, const char *s)
{
    int quote = !*s;
    for (const unsigned char *p = (const unsigned char *)s; *p && !quote; p++)
        quote = *p <= 0x20 || *p == 0x7F || *p == '"' || *p == '\\';
    if (quote) buf_add_json_str(out, s);
    else buf_adds(out, s);
}

static int reserved_key(const char *k)
{
    return !strcmp(k, "ts") || !strcmp(k, "level") || !strcmp(k, "module") || !strcmp(k, "msg");
}

static void add_ts(buf_t *out)
{
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
        now.tv_sec = time(NULL);
        now.tv_nsec = 0;
    }
    struct tm tm;
    char ts[40] = "1970-01-01T00:00:00";
    if (gmtime_r(&now.tv_sec, &tm)) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_printf(out, "%s.%03dZ", ts, (int)(now.tv_nsec / 1000000));
}

void log_vkv(int level, const char *module, const char *const *kv, int nkv_pairs, const char *fmt, va_list ap)
{
    if (!log_enabled(level)) return;
    int saved_errno = errno;
    level = clamp_level(level);
    if (!module) module = "nudge";
    if (!kv || nkv_pairs < 0) nkv_pairs = 0;

    /* the message; most fit the stack buffer */
    char small[512];
    char *msg = small;
    va_list ap2;
    va_copy(ap2, ap);
    errno = saved_errno;   /* for %m */
    int n = fmt ? vsnprintf(small, sizeof small, fmt, ap2) : -1;
    va_end(ap2);
    if (n < 0) {
        small[0] = '\0';
    } else if ((size_t)n >= sizeof small) {
        msg = xmalloc((size_t)n + 1);
        errno = saved_errno;
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
    }

    buf_t line, tmp, masked;
    buf_init(&line);
    buf_init(&tmp);
    buf_init(&masked);
    if (g_json) {
        buf_adds(&line, "{\"ts\":\"");
        add_ts(&line);
        buf_printf(&line, "\",\"level\":\"%s\",\"module\":", level_json[level]);
        buf_add_json_str(&line, prepare(&tmp, &masked, module, 0));
        buf_adds(&line, ",\"msg\":");
        buf_add_json_str(&line, prepare(&tmp, &masked, msg, 1));
        for (int i = 0; i < nkv_pairs; i++) {
            const char *k = kv[2 * i], *v = kv[2 * i + 1];
            if (!k) continue;
            buf_addc(&line, ',');
            if (reserved_key(k)) {   /* duplicate keys: readers disagree on which wins */
                buf_t rk;
                buf_init(&rk);
                buf_addc(&rk, '_');
                buf_adds(&rk, k);
                buf_add_json_str(&line, rk.p);
                buf_free(&rk);
            } else {
                buf_add_json_str(&line, prepare(&tmp, &masked, k, 0));
            }
            buf_addc(&line, ':');
            if (v) buf_add_json_str(&line, prepare(&tmp, &masked, v, 1));
            else buf_adds(&line, "null");
        }
        buf_addc(&line, '}');
    } else {
        buf_adds(&line, level_plain[level]);
        buf_addc(&line, ' ');
        add_plain(&line, prepare(&tmp, &masked, module, 0));
        buf_adds(&line, ": ");
        add_plain(&line, prepare(&tmp, &masked, msg, 1));
        for (int i = 0; i < nkv_pairs; i++) {
            const char *k = kv[2 * i], *v = kv[2 * i + 1];
            if (!k) continue;
            buf_addc(&line, ' ');
            add_plain(&line, prepare(&tmp, &masked, k, 0));
            buf_addc(&line, '=');
            if (v) add_plain_value(&line, prepare(&tmp, &masked, v, 1));
            else buf_adds(&line, "null");
        }
    }
    buf_addc(&line, '\n');

    FILE *fp = g_fp ? g_fp : stderr;
    fwrite(line.p, 1, line.len, fp);   /* one write: lines from processes do not mix */
    fflush(fp);

    buf_free(&line);
    buf_free(&tmp);
    buf_free(&masked);
    if (msg != small) free(msg);
    errno = saved_errno;
}

void log_kv(int level, const char *module, const char *const *kv, int nkv_pairs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vkv(level, module, kv, nkv_pairs, fmt, ap);
    va_end(ap);
}

void log_msg(int level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vkv(level, module, NULL, 0, fmt, ap);
    va_end(ap);
}
