/* member.c - see member.h */
#include "member.h"
#include "cal.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const channel_names[CH_COUNT] = {"wechat", "sms", "edm"};

const mfield_info_t member_fields[MF_COUNT] = {
    [MF_ID]                  = {"id", MFT_STR, "member id"},
    [MF_NAME]                = {"name", MFT_STR, "name"},
    [MF_PHONE]               = {"phone", MFT_STR, "mobile number"},
    [MF_EMAIL]               = {"email", MFT_STR, "email address"},
    [MF_WECHAT_OPENID]       = {"wechat_openid", MFT_STR, "WeChat OpenID"},
    [MF_WECHAT_SUBSCRIBED]   = {"wechat_subscribed", MFT_BOOL, "follows the official account"},
    [MF_BIRTHDAY]            = {"birthday", MFT_STR, "YYYY-MM-DD"},
    [MF_GENDER]              = {"gender", MFT_STR, "gender"},
    [MF_TZ]                  = {"tz", MFT_STR, "IANA time zone in effect"},
    [MF_JOINED_AT]           = {"joined_at", MFT_TIME, "join time, ISO 8601 local"},
    [MF_TIER]                = {"tier", MFT_STR, "member tier"},
    [MF_TAGS]                = {"tags", MFT_TAGS, "set of tags: m.tags[\"vip\"]"},
    [MF_STORE]               = {"store", MFT_STR, "home store"},
    [MF_SMS_OPT_OUT]         = {"sms_opt_out", MFT_BOOL, "opted out of SMS"},
    [MF_EMAIL_OPT_OUT]       = {"email_opt_out", MFT_BOOL, "opted out of email"},
    [MF_ORDER_COUNT]         = {"order_count", MFT_INT, "paid orders"},
    [MF_TOTAL_SPENT]         = {"total_spent", MFT_MONEY, "sum of paid orders (yuan)"},
    [MF_LAST_ORDER_AT]       = {"last_order_at", MFT_TIME, "last paid order, ISO 8601 local"},
    [MF_POINTS]              = {"points", MFT_INT, "points balance (unexpired)"},
    [MF_POINTS_EXPIRY]       = {"points_expiry", MFT_DATE, "next date points expire"},
    [MF_POINTS_EXPIRING]     = {"points_expiring", MFT_INT, "points expiring on points_expiry"},
    [MF_DAYS_SINCE_JOIN]     = {"days_since_join", MFT_INT, "local days since joining"},
    [MF_DAYS_SINCE_LAST_ORDER] = {"days_since_last_order", MFT_INT, "local days since last order"},
    [MF_JOINED_ON]           = {"joined_on", MFT_DATE, "local join date"},
    [MF_LAST_ORDER_ON]       = {"last_order_on", MFT_DATE, "local date of the last order"},
};

/* Field numbers sorted by name, built on first use: placeholders are
 * looked up for every message rendered. */
static int by_name[MF_COUNT];
static pthread_once_t by_name_once = PTHREAD_ONCE_INIT;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(member_fields[*(const int *)a].name, member_fields[*(const int *)b].name);
}

static void sort_names(void)
{
    for (int i = 0; i < MF_COUNT; i++) by_name[i] = i;
    qsort(by_name, MF_COUNT, sizeof by_name[0], cmp_name);
}

int member_field_lookup(const char *name, size_t len)
{
    pthread_once(&by_name_once, sort_names);
    int lo = 0, hi = MF_COUNT - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const char *f = member_fields[by_name[mid]].name;
        int c = strncmp(f, name, len);
        if (c == 0) c = f[len] ? 1 : 0;
        if (c == 0) return by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int channel_lookup(const char *name)
{
    for (int i = 0; i < CH_COUNT; i++)
        if (strcmp(channel_names[i], name) == 0) return i;
    return -1;
}

void member_init(member_t *m)
{
    memset(m, 0, sizeof *m);
    buf_init(&m->arena);
    member_clear(m);
}

void member_free(member_t *m)
{
    buf_free(&m->arena);
}

void member_clear(member_t *m)
{
    buf_t arena = m->arena;
    member_points_fn fn = m->load_points;
    void *ud = m->load_points_ud;
    memset(m, 0, sizeof *m);
    m->arena = arena;
    buf_reset(&m->arena);
    m->load_points = fn;
    m->load_points_ud = ud;
    m->joined_at = m->last_order_at = TIME_NONE;
    m->join_day = m->join_md = m->birth_md = m->last_order_day = CAL_NONE;
    m->points_expiry_day = CAL_NONE;
}

void member_set_strs(member_t *m, const char *const vals[MS_NSTR], const size_t lens[MS_NSTR])
{
    size_t total = 0;
    for (int i = 0; i < MS_NSTR; i++)
        if (vals[i]) total += lens[i] + 1;
    buf_t *a = &m->arena;
    buf_reset(a);
    if (a->cap < total + 1) {
        free(a->p);
        a->cap = total + 64;
        a->p = xmalloc(a->cap);
        a->len = 0;
    }
    for (int i = 0; i < MS_NSTR; i++) {
        if (!vals[i]) {
            m->s[i] = NULL;
            continue;
        }
        char *dst = a->p + a->len;
        memcpy(dst, vals[i], lens[i]);
        dst[lens[i]] = '\0';
        a->len += lens[i] + 1;
        m->s[i] = dst;
    }
}

void member_set_str(member_t *m, int idx, const char *val)
{
    const char *vals[MS_NSTR];
    size_t lens[MS_NSTR];
    buf_t old = m->arena;   /* read from while the new arena is filled */
    memset(&m->arena, 0, sizeof m->arena);
    for (int i = 0; i < MS_NSTR; i++) {
        vals[i] = i == idx ? val : m->s[i];
        lens[i] = vals[i] ? strlen(vals[i]) : 0;
    }
    member_set_strs(m, vals, lens);
    buf_free(&old);
}

void member_copy(member_t *dst, const member_t *src)
{
    size_t lens[MS_NSTR];
    for (int i = 0; i < MS_NSTR; i++) lens[i] = src->s[i] ? strlen(src->s[i]) : 0;
    member_clear(dst);
    member_set_strs(dst, src->s, lens);
    dst->rowid = src->rowid;
    dst->zone = src->zone;
    dst->wechat_subscribed = src->wechat_subscribed;
    dst->sms_opt_out = src->sms_opt_out;
    dst->email_opt_out = src->email_opt_out;
    dst->joined_at = src->joined_at;
    dst->order_count = src->order_count;
    dst->spent_cents = src->spent_cents;
    dst->last_order_at = src->last_order_at;
    dst->join_day = src->join_day;
    dst->join_md = src->join_md;
    dst->birth_md = src->birth_md;
    dst->last_order_day = src->last_order_day;
}

void member_derive(member_t *m)
{
    int y, mo, d;
    m->join_day = m->join_md = m->birth_md = m->last_order_day = CAL_NONE;
    if (m->joined_at != TIME_NONE && m->zone) {
        m->join_day = tz_local_day(m->zone, m->joined_at);
        cal_to_ymd(m->join_day, &y, &mo, &d);
        m->join_md = mo * 100 + d;
    }
    int32_t bd;
    if (m->s[MS_BIRTHDAY] && cal_parse_date(m->s[MS_BIRTHDAY], strlen(m->s[MS_BIRTHDAY]), &bd) == 0) {
        cal_to_ymd(bd, &y, &mo, &d);
        m->birth_md = mo * 100 + d;
    }
    if (m->last_order_at != TIME_NONE && m->zone)
        m->last_order_day = tz_local_day(m->zone, m->last_order_at);
}

void member_need_points(member_t *m)
{
    if (m->points_loaded) return;
    m->points = m->points_expiring = 0;
    m->points_expiry_day = CAL_NONE;
    if (m->load_points && m->rowid) m->load_points(m, m->load_points_ud);
    m->points_loaded = 1;
}

/* Calls fn for each tag of the ';'-separated list, spaces around each
 * trimmed and empty entries skipped; stops when fn returns 1. */
static int each_tag(const member_t *m, int (*fn)(const char *t, size_t n, void *ud), void *ud)
{
    const char *p = m->s[MS_TAGS];
    while (p && *p) {
        const char *e = strchr(p, ';');
        const char *end = e ? e : p + strlen(p), *b = p;
        while (b < end && (*b == ' ' || *b == '\t')) b++;
        while (end > b && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if (end > b && fn(b, (size_t)(end - b), ud)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

struct tag_query { const char *tag; size_t len; };

static int tag_is(const char *t, size_t n, void *ud)
{
    const struct tag_query *q = ud;
    return n == q->len && memcmp(t, q->tag, n) == 0;
}

static int tag_count(const char *t, size_t n, void *ud)
{
    (void)t, (void)n;
    ++*(int *)ud;
    return 0;
}

int member_has_tag(const member_t *m, const char *tag, size_t len)
{
    struct tag_query q = {tag, len};
    return len && each_tag(m, tag_is, &q);
}

int member_tag_count(const member_t *m)
{
    int n = 0;
    each_tag(m, tag_count, &n);
    return n;
}

int64_t member_days_between(const member_t *m, int64_t from, int64_t to)
{
    return (int64_t)tz_local_day(m->zone, to) - tz_local_day(m->zone, from);
}

static void add_time(member_t *m, int64_t t, buf_t *out)
{
    if (t == TIME_NONE) return;
    char iso[40];
    tz_format_iso(m->zone, t, iso);
    buf_adds(out, iso);
}

static void add_day(int32_t day, buf_t *out)
{
    if (day == CAL_NONE) return;
    char d[16];
    cal_format_date(day, d);
    buf_adds(out, d);
}

void member_field_text(member_t *m, int f, int64_t now, buf_t *out)
{
    static const int strmap[MF_COUNT] = {
        [MF_ID] = MS_EXT_ID + 1, [MF_NAME] = MS_NAME + 1, [MF_PHONE] = MS_PHONE + 1,
        [MF_EMAIL] = MS_EMAIL + 1, [MF_WECHAT_OPENID] = MS_OPENID + 1,
        [MF_BIRTHDAY] = MS_BIRTHDAY + 1, [MF_GENDER] = MS_GENDER + 1,
        [MF_TIER] = MS_TIER + 1, [MF_TAGS] = MS_TAGS + 1, [MF_STORE] = MS_STORE + 1,
    };
    if (strmap[f]) {
        const char *s = m->s[strmap[f] - 1];
        if (s) buf_adds(out, s);
        return;
    }
    switch (f) {
    case MF_TZ: buf_adds(out, tz_name(m->zone)); break;
    case MF_WECHAT_SUBSCRIBED: buf_adds(out, m->wechat_subscribed ? "1" : "0"); break;
    case MF_SMS_OPT_OUT: buf_adds(out, m->sms_opt_out ? "1" : "0"); break;
    case MF_EMAIL_OPT_OUT: buf_adds(out, m->email_opt_out ? "1" : "0"); break;
    case MF_JOINED_AT: add_time(m, m->joined_at, out); break;
    case MF_LAST_ORDER_AT: add_time(m, m->last_order_at, out); break;
    case MF_JOINED_ON: add_day(m->join_day, out); break;
    case MF_LAST_ORDER_ON: add_day(m->last_order_day, out); break;
    case MF_ORDER_COUNT: buf_printf(out, "%lld", (long long)m->order_count); break;
    case MF_TOTAL_SPENT:
        buf_printf(out, "%lld.%02lld", (long long)(m->spent_cents / 100), (long long)(m->spent_cents % 100));
        break;
    case MF_POINTS: member_need_points(m); buf_printf(out, "%lld", (long long)m->points); break;
    case MF_POINTS_EXPIRING:
        member_need_points(m);
        buf_printf(out, "%lld", (long long)m->points_expiring);
        break;
    case MF_POINTS_EXPIRY: member_need_points(m); add_day(m->points_expiry_day, out); break;
    case MF_DAYS_SINCE_JOIN:
        if (m->joined_at != TIME_NONE) buf_printf(out, "%lld", (long long)member_days_between(m, m->joined_at, now));
        break;
    case MF_DAYS_SINCE_LAST_ORDER:
        if (m->last_order_at != TIME_NONE)
            buf_printf(out, "%lld", (long long)member_days_between(m, m->last_order_at, now));
        break;
    default: break;
    }
}

/* 0 when attrs cannot hold the key name, 1 when it may. Stored
 * attributes are cJSON's print, but a key written with escapes would
 * not show its name; without a backslash in the text, a key that is
 * there shows as "name" (names are template words, no quotes or
 * control characters). Most placeholders are not attributes (brand,
 * journey parameters), so the parse is saved for every message. */
static int attrs_may_have(const char *attrs, const char *name)
{
    if (strchr(attrs, '\\')) return 1;
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == '"' || name[i] == '\\') return 1;
    for (const char *p = attrs; (p = strchr(p, '"')); p++)
        if (strncmp(p + 1, name, n) == 0 && p[n + 1] == '"') return 1;
    return 0;
}

int member_attr_text(const member_t *m, const char *name, buf_t *out)
{
    if (!m->s[MS_ATTRS] || !attrs_may_have(m->s[MS_ATTRS], name)) return -1;
    cJSON *o = cJSON_Parse(m->s[MS_ATTRS]);
    if (!o) return -1;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    int rc = -1;
    if (cJSON_IsString(v)) {
        buf_adds(out, v->valuestring);
        rc = 0;
    } else if (cJSON_IsNumber(v)) {
        buf_printf(out, "%.15g", v->valuedouble);
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

const char *member_address(const member_t *m, int ch)
{
    static const int field[CH_COUNT] = {[CH_WECHAT] = MS_OPENID, [CH_SMS] = MS_PHONE, [CH_EDM] = MS_EMAIL};
    const char *a = ch >= 0 && ch < CH_COUNT ? m->s[field[ch]] : NULL;
    return a && *a ? a : NULL;
}

int member_reachable(const member_t *m, int ch)
{
    if (!member_address(m, ch)) return 0;
    switch (ch) {
    case CH_WECHAT: return m->wechat_subscribed;
    case CH_SMS: return !m->sms_opt_out;
    case CH_EDM: return !m->email_opt_out;
    }
    return 0;
}

static int parse_flag(const char *v, int *out)
{
    if (!*v || strcmp(v, "0") == 0 || strcmp(v, "false") == 0) *out = 0;
    else if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) *out = 1;
    else return -1;
    return 0;
}

static int valid_phone(const char *v)
{
    int digits = 0;
    for (const char *p = v; *p; p++) {
        if (*p >= '0' && *p <= '9') digits++;
        else if (!(*p == '+' && p == v) && *p != '-' && *p != ' ') return 0;
    }
    return digits >= 5 && digits <= 15;
}

static int valid_email(const char *v)
{
    const char *at = strchr(v, '@');
    return at && at > v && strchr(at + 1, '.') && !strchr(at + 1, '@') && !strpbrk(v, " \t<>,;");
}

int member_assign(member_t *m, const char *name, const char *value, const tz_t *deflt, char *err)
{
    static const struct { const char *name; int idx; } strs[] = {
        {"name", MS_NAME}, {"gender", MS_GENDER}, {"tier", MS_TIER}, {"store", MS_STORE},
    };
    const char *v = value && *value ? value : NULL;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(name, strs[i].name) == 0) {
            m->s[strs[i].idx] = v;
            return 0;
        }
    if (strcmp(name, "id") == 0) {
        if (!v) return errf(err, "id is empty");
        m->s[MS_EXT_ID] = v;
    } else if (strcmp(name, "phone") == 0) {
        if (v && !valid_phone(v)) return errf(err, "phone '%s' is not a phone number", v);
        m->s[MS_PHONE] = v;
    } else if (strcmp(name, "email") == 0) {
        if (v && !valid_email(v)) return errf(err, "email '%s' is not an email address", v);
        m->s[MS_EMAIL] = v;
    } else if (strcmp(name, "wechat_openid") == 0) {
        m->s[MS_OPENID] = v;
    } else if (strcmp(name, "birthday") == 0) {
        int32_t d;
        if (v && cal_parse_date(v, strlen(v), &d) != 0)
            return errf(err, "birthday '%s' is not a valid YYYY-MM-DD date", v);
        m->s[MS_BIRTHDAY] = v;
    } else if (strcmp(name, "tags") == 0) {
        m->s[MS_TAGS] = v;
    } else if (strcmp(name, "tz") == 0) {
        const tz_t *z = deflt;
        if (v) {
            char e2[ERRLEN];
            if (!(z = tz_get(v, e2))) return errf(err, "tz: %s", e2);
        }
        m->s[MS_TZ] = v;
        m->zone = z;
    } else if (strcmp(name, "joined_at") == 0) {
        if (!v) {
            m->joined_at = TIME_NONE;
            return 0;
        }
        char e2[ERRLEN];
        if (tz_parse_time(v, m->zone ? m->zone : deflt, &m->joined_at, NULL, e2) != 0)
            return errf(err, "joined_at: %s", e2);
    } else if (strcmp(name, "wechat_subscribed") == 0 || strcmp(name, "sms_opt_out") == 0 ||
               strcmp(name, "email_opt_out") == 0) {
        int *f = name[0] == 'w' ? &m->wechat_subscribed : name[0] == 's' ? &m->sms_opt_out : &m->email_opt_out;
        if (parse_flag(value ? value : "", f) != 0) return errf(err, "%s '%s' must be 0 or 1", name, value);
    } else {
        int f = member_field_lookup(name, strlen(name));
        if (f >= 0) return errf(err, "'%s' is computed by nudge (from events) and cannot be set directly", name);
        return 1;
    }
    return 0;
}

uint64_t member_fingerprint(const member_t *m)
{
    uint64_t h = FNV_SEED;
    for (int i = 0; i < MS_NSTR; i++) {
        const char *s = m->s[i] ? m->s[i] : "";
        h = fnv1a64(s, strlen(s) + 1, h);
        h = fnv1a64(&(char){m->s[i] ? 1 : 0}, 1, h);
    }
    int64_t ints[] = {m->wechat_subscribed, m->sms_opt_out, m->email_opt_out, m->joined_at,
                      m->order_count, m->spent_cents, m->last_order_at};
    h = fnv1a64(ints, sizeof ints, h);
    const char *z = m->zone ? tz_name(m->zone) : "";
    return fnv1a64(z, strlen(z), h);
}
