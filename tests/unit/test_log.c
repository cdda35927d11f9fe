/* test_log.c - the log lines: level filtering, JSON that parses back with
 * the fields in order, escaping (quotes, control bytes, invalid UTF-8),
 * masking of mobiles, emails and openids (and of what only looks like
 * them), the plain format, and --log-level names. */
#define _GNU_SOURCE   /* fopencookie: count the writes behind each line */
#include "log.h"
#include "t.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static FILE *cap;

static void start(int level, int json)
{
    cap = tmpfile();
    if (!cap) { perror("tmpfile"); exit(2); }
    log_setup(level, cap, json);
}

/* everything written since start(); the caller frees */
static char *take(void)
{
    long n = ftell(cap);
    char *s = malloc(n > 0 ? (size_t)n + 1 : 1);
    rewind(cap);
    size_t got = n > 0 ? fread(s, 1, (size_t)n, cap) : 0;
    s[got] = '\0';
    fclose(cap);
    cap = NULL;
    return s;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static char *masked(const char *in)
{
    static buf_t b;
    buf_reset(&b);
    log_mask(in, &b);
    return b.p ? b.p : "";
}

/* strict UTF-8 check, written independently of log.c's cleaner */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t k;
        unsigned cp;
        if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; }
        else return 0;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

/* one line, newline-terminated, no raw control bytes, valid UTF-8, and a
 * JSON object; NULL (a failed check) otherwise */
static cJSON *parse_line(const char *s)
{
    size_t n = strlen(s);
    CHECK(n > 0 && s[n - 1] == '\n');
    CHECK_EQ_INT(count_lines(s), 1);
    int ctl = 0;
    for (size_t i = 0; i + 1 < n; i++) ctl |= (unsigned char)s[i] < 0x20;
    CHECK(!ctl);
    CHECK(valid_utf8((const unsigned char *)s, n));
    cJSON *o = cJSON_Parse(s);
    CHECK(o && cJSON_IsObject(o));
    return o;
}

static const char *str_field(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void level_names(void)
{
    static const struct { const char *name; int level; } ok[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"warning", LOG_WARN},
        {"error", LOG_ERROR}, {"INFO", LOG_INFO}, {"Warning", LOG_WARN},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int l = -7;
        CHECK_EQ_INT(log_level_parse(ok[i].name, &l), NUDGE_OK);
        CHECK_EQ_INT(l, ok[i].level);
    }
    const char *bad[] = {"", "verbose", "err", "warnings", "info ", "3", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int l = -7;
        CHECK_EQ_INT(log_level_parse(bad[i], &l), NUDGE_ERR);
        CHECK_EQ_INT(l, -7);
    }
}

static void filtering(void)
{
    for (int min = LOG_DEBUG; min <= LOG_ERROR; min++)
        for (int json = 0; json <= 1; json++) {
            start(min, json);
            for (int l = LOG_DEBUG; l <= LOG_ERROR; l++) {
                CHECK_EQ_INT(log_enabled(l), l >= min);
                log_msg(l, "t", "level %d", l);
            }
            char *s = take();
            CHECK_EQ_INT(count_lines(s), LOG_ERROR - min + 1);
            CHECK_EQ_INT(strstr(s, "level 0") != NULL, min <= LOG_DEBUG);
            CHECK_EQ_INT(strstr(s, "level 1") != NULL, min <= LOG_INFO);
            CHECK_EQ_INT(strstr(s, "level 2") != NULL, min <= LOG_WARN);
            CHECK(strstr(s, "level 3") != NULL);
            free(s);
        }
    /* out-of-range levels count as the nearest real one */
    start(LOG_ERROR, 1);
    CHECK(log_enabled(99));
    CHECK(!log_enabled(-5));
    log_msg(99, "t", "high");
    char *s = take();
    cJSON *o = parse_line(s);
    CHECK_EQ_STR(str_field(o, "level"), "error");
    cJSON_Delete(o);
    free(s);
}

static void json_fields(void)
{
    start(LOG_DEBUG, 1);
    time_t before = time(NULL);
    const char *kv[] = {"member", "M001", "journey", "birthday"};
    log_kv(LOG_WARN, "disp", kv, 2, "sent %d of %s", 3, "4");
    char *s = take();
    CHECK(strncmp(s, "{\"ts\":\"", 7) == 0);
    cJSON *o = parse_line(s);
    const char *want[] = {"ts", "level", "module", "msg", "member", "journey"};
    int i = 0;
    for (cJSON *c = o ? o->child : NULL; c; c = c->next, i++) {
        if (i < 6) CHECK_EQ_STR(c->string, want[i]);
        CHECK(cJSON_IsString(c));
    }
    CHECK_EQ_INT(i, 6);
    CHECK_EQ_STR(str_field(o, "level"), "warn");
    CHECK_EQ_STR(str_field(o, "module"), "disp");
    CHECK_EQ_STR(str_field(o, "msg"), "sent 3 of 4");
    CHECK_EQ_STR(str_field(o, "member"), "M001");
    CHECK_EQ_STR(str_field(o, "journey"), "birthday");
    /* ts: 2027-01-22T02:00:00.123Z, UTC, within a few seconds of now */
    const char *ts = str_field(o, "ts");
    CHECK(ts && strlen(ts) == 24);
    if (ts && strlen(ts) == 24) {
        const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
        int ok = 1;
        for (int k = 0; k < 24; k++)
            ok &= shape[k] == 'd' ? ts[k] >= '0' && ts[k] <= '9' : ts[k] == shape[k];
        CHECK(ok);
        struct tm tm = {0};
        tm.tm_year = atoi(ts) - 1900;
        tm.tm_mon = atoi(ts + 5) - 1;
        tm.tm_mday = atoi(ts + 8);
        tm.tm_hour = atoi(ts + 11);
        tm.tm_min = atoi(ts + 14);
        tm.tm_sec = atoi(ts + 17);
        time_t t = timegm(&tm);
        CHECK(t >= before && t <= time(NULL) + 1);
    }
    cJSON_Delete(o);
    free(s);

    /* a NULL value is null, a NULL key skipped, a clashing key renamed,
     * a NULL module named; the message longer than any stack buffer */
    start(LOG_DEBUG, 1);
    const char *odd[] = {"msg", "mine", "gone", NULL, NULL, "x", "level", "lvl"};
    char big[5001];
    memset(big, 'x', 5000);
    big[5000] = '\0';
    log_kv(LOG_INFO, NULL, odd, 4, "%s!", big);
    s = take();
    o = parse_line(s);
    CHECK_EQ_STR(str_field(o, "module"), "nudge");
    CHECK_EQ_STR(str_field(o, "level"), "info");
    CHECK_EQ_STR(str_field(o, "_msg"), "mine");
    CHECK_EQ_STR(str_field(o, "_level"), "lvl");
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "gone")));
    const char *m = str_field(o, "msg");
    CHECK(m && strlen(m) == 5001 && m[5000] == '!');
    cJSON_Delete(o);
    free(s);

    /* errno survives a log call, and %m sees it */
    start(LOG_DEBUG, 1);
    errno = ENOENT;
    log_msg(LOG_ERROR, "store", "open: %m");
    CHECK_EQ_INT(errno, ENOENT);
    s = take();
    o = parse_line(s);
    CHECK_EQ_STR(str_field(o, "msg"), "open: No such file or directory");
    cJSON_Delete(o);
    free(s);
}

/* stderr is unbuffered: each fwrite reaches the fd as it is, so a line
 * has to be one fwrite to be one write(2); and it is flushed at once */
static int n_writes;
static ssize_t count_write(void *c, const char *p, size_t n)
{
    (void)c;
    (void)p;
    n_writes++;
    return (ssize_t)n;
}

static void one_write(void)
{
    cookie_io_functions_t io = {.write = count_write};
    FILE *f = fopencookie(NULL, "w", io);
    if (!f) { perror("fopencookie"); exit(2); }
    setvbuf(f, NULL, _IONBF, 0);
    char big[6000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *kv[] = {"member", "M001", "phone", "13800138000"};
    for (int json = 0; json <= 1; json++) {
        log_setup(LOG_DEBUG, f, json);
        n_writes = 0;
        log_kv(LOG_INFO, "disp", kv, 2, "short");
        CHECK_EQ_INT(n_writes, 1);
        n_writes = 0;
        log_kv(LOG_INFO, "disp", kv, 2, "long %s", big);
        CHECK_EQ_INT(n_writes, 1);
    }
    fclose(f);

    start(LOG_DEBUG, 1);   /* fully buffered: still on the fd before any fclose */
    log_msg(LOG_INFO, "t", "flushed");
    struct stat st;
    CHECK(fstat(fileno(cap), &st) == 0 && st.st_size > 0);
    free(take());
}

static void escaping(void)
{
    start(LOG_DEBUG, 1);
    const char *kv[] = {"k\"ey\n", "v\"al\\ue\r\n\t\x01", "bad", "\xff\xfe ok"};
    log_kv(LOG_INFO, "mod\"ule",  kv, 2, "q\"uote b\\ack nl\n tab\t bell\x07 us\x1f del\x7f end");
    /* invalid UTF-8: a lone continuation, an overlong '/', a surrogate, a
     * code point above U+10FFFF, a sequence cut short mid-string and at the
     * end; valid CJK and a 4-byte emoji around them must survive */
    log_msg(LOG_INFO, "m", "a\x80" "b\xC0\xAF" "c\xED\xA0\x80" "d\xF4\x90\x80\x80" "e\xE4\xB8" "f中文\xF0\x9F\x98\x80\xE4");
    char *s = take();
    CHECK_EQ_INT(count_lines(s), 2);
    char *nl = strchr(s, '\n');
    char *second = nl ? nl + 1 : s;
    char first[1024];
    size_t flen = nl ? (size_t)(nl - s) + 1 : 0;
    if (flen >= sizeof first) flen = 0;
    memcpy(first, s, flen);
    first[flen] = '\0';

    cJSON *o = parse_line(first);
    CHECK_EQ_STR(str_field(o, "module"), "mod\"ule");
    CHECK_EQ_STR(str_field(o, "msg"), "q\"uote b\\ack nl\n tab\t bell\x07 us\x1f del\x7f end");
    CHECK_EQ_STR(str_field(o, "k\"ey\n"), "v\"al\\ue\r\n\t\x01");
    CHECK_EQ_STR(str_field(o, "bad"), "\xEF\xBF\xBD\xEF\xBF\xBD ok");
    cJSON_Delete(o);

    o = parse_line(second);
    /* one U+FFFD per maximal ill-formed subpart */
    CHECK_EQ_STR(str_field(o, "msg"),
                 "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                 "d\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "e\xEF\xBF\xBD" "f中文\xF0\x9F\x98\x80\xEF\xBF\xBD");
    cJSON_Delete(o);
    free(s);
}

static void masking(void)
{
    static const struct { const char *in, *out; } cases[] = {
        /* mobiles */
        {"13800138000", "138****8000"},
        {"13800138000 called", "138****8000 called"},
        {"call 13800138000", "call 138****8000"},
        {"手机13800138000发送失败", "手机138****8000发送失败"},
        {"+8613800138000", "+86138****8000"},
        {"8613800138000", "86138****8000"},
        {"008613800138000", "0086138****8000"},
        {"+86 13800138000", "+86 138****8000"},
        {"tel:13800138000,13912345678;", "tel:138****8000,139****5678;"},
        {"M13800138000", "M138****8000"},
        {"(13800138000)", "(138****8000)"},
        /* digits that are not mobiles */
        {"138001380001", "138001380001"},              /* 12 digits */
        {"1380013800", "1380013800"},                  /* 10 digits */
        {"order 20270122000012345", "order 20270122000012345"},
        {"23800138000", "23800138000"},                /* not starting with 1 */
        {"1700000000123", "1700000000123"},            /* a millisecond timestamp */
        {"8713800138000", "8713800138000"},            /* 13 digits, not +86 */
        {"amount 12345.67 id 9138001380001", "amount 12345.67 id 9138001380001"},
        {"x138001380001x", "x138001380001x"},
        /* emails */
        {"alice@example.com", "a***@example.com"},
        {"张三 <zhang.san@example.com>", "张三 <z***@example.com>"},
        {"邮箱bob+tag@mail.example.cn。", "邮箱b***@mail.example.cn。"},
        {"to alice@example.com.", "to a***@example.com."},
        {"a@b.co and c_d@e.org", "a***@b.co and c***@e.org"},
        {"foo@bar", "foo@bar"},                        /* no dot: not a domain */
        {"@example.com", "@example.com"},
        {"x@", "x@"},
        {"x@.com", "x@.com"},
        {"x@a..com", "x@a..com"},
        {"a@@b.com", "a@@b.com"},
        /* openids: exactly 28 word characters starting with 'o' */
        {"oia2TjuEGTNoeX76QEjQNrcURxG8", "oia2****"},
        {"openid=oia2TjuEGTNoeX76QEjQNrcURxG8,", "openid=oia2****,"},
        {"用户oia2TjuEGTNoeX76QEjQNrcURxG8已关注", "用户oia2****已关注"},
        {"o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "o6_b****"},
        {"oia2TjuEGTNoeX76QEjQNrcURxG", "oia2TjuEGTNoeX76QEjQNrcURxG"},       /* 27 */
        {"oia2TjuEGTNoeX76QEjQNrcURxG8x", "oia2TjuEGTNoeX76QEjQNrcURxG8x"},   /* 29 */
        {"xia2TjuEGTNoeX76QEjQNrcURxG8", "xia2TjuEGTNoeX76QEjQNrcURxG8"},     /* not 'o' */
        {"_oia2TjuEGTNoeX76QEjQNrcURxG8", "_oia2TjuEGTNoeX76QEjQNrcURxG8"},   /* longer word */
        /* all three, and nothing */
        {"member M001 13800138000 a.b@c.io oia2TjuEGTNoeX76QEjQNrcURxG8 ok",
         "member M001 138****8000 a***@c.io oia2**** ok"},
        {"", ""},
        {"no personal data here: 12, 3.5%, 用户", "no personal data here: 12, 3.5%, 用户"},
        {"o", "o"},
        {"1", "1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = masked(cases[i].in);
        if (strcmp(got, cases[i].out) != 0) fprintf(stderr, "mask case %zu: %s\n", i, cases[i].in);
        CHECK_EQ_STR(got, cases[i].out);
    }

    /* appends; NULL adds nothing */
    buf_t b;
    buf_init(&b);
    buf_adds(&b, "x:");
    log_mask("13800138000", &b);
    log_mask(NULL, &b);
    CHECK_EQ_STR(b.p, "x:138****8000");
    buf_free(&b);

    /* linear time: long runs of almost-emails and digits (quadratic
     * scanning would take minutes on 4 MB) */
    size_t n = 4u << 20;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++) big[i] = "a.@1-"[i % 5];
    big[n] = '\0';
    clock_t t0 = clock();
    buf_init(&b);
    log_mask(big, &b);
    CHECK_EQ_INT(b.len, n);
    memset(big, 'a', n);
    buf_reset(&b);
    log_mask(big, &b);
    CHECK_EQ_INT(b.len, n);
    memset(big, '7', n);
    big[0] = 'x';
    big[n - 1] = '@';
    buf_reset(&b);
    log_mask(big, &b);
    CHECK_EQ_INT(b.len, n);
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    buf_free(&b);
    free(big);

    /* msg and every kv value are masked in the line, keys are not */
    start(LOG_DEBUG, 1);
    const char *kv[] = {"phone", "+8613800138000", "13800138000", "alice@example.com"};
    log_kv(LOG_INFO, "disp", kv, 2, "to %s via %s", "13800138000", "oia2TjuEGTNoeX76QEjQNrcURxG8");
    char *s = take();
    CHECK(strstr(s, "38000138000") == NULL);
    CHECK(strstr(s, "alice@") == NULL);
    CHECK(strstr(s, "TjuEGT") == NULL);
    cJSON *o = parse_line(s);
    CHECK_EQ_STR(str_field(o, "msg"), "to 138****8000 via oia2****");
    CHECK_EQ_STR(str_field(o, "phone"), "+86138****8000");
    CHECK_EQ_STR(str_field(o, "13800138000"), "a***@example.com");
    cJSON_Delete(o);
    free(s);
}

static void plain(void)
{
    start(LOG_INFO, 0);
    const char *kv[] = {"member", "M001", "note", "two words", "phone", "13800138000", "empty", "", "q", "a\"b"};
    log_kv(LOG_WARN, "disp", kv, 5, "retry in %ds", 30);
    log_msg(LOG_ERROR, "store", "line one\nline two\x01 邮件 bob@example.com");
    log_msg(LOG_DEBUG, "store", "dropped");
    log_msg(LOG_INFO, "api", "listening");
    char *s = take();
    CHECK_EQ_STR(s,
                 "WARN disp: retry in 30s member=M001 note=\"two words\" phone=138****8000 empty=\"\" q=\"a\\\"b\"\n"
                 "ERROR store: line one\\nline two\\x01 邮件 b***@example.com\n"
                 "INFO api: listening\n");
    free(s);
}

int main(void)
{
    /* the defaults, before any log_setup: info and up */
    CHECK(!log_enabled(LOG_DEBUG));
    CHECK(log_enabled(LOG_INFO));
    CHECK(log_enabled(LOG_ERROR));

    level_names();
    filtering();
    json_fields();
    one_write();
    escaping();
    masking();
    plain();
    log_setup(LOG_INFO, NULL, 1);
    T_DONE();
}
