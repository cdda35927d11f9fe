/* gen.c - deterministic, seeded member and event data for nudge.
 *
 *   gen --members N [--seed S] [--out DIR] [--now YYYY-MM-DD]
 *       [--future-days D] [--tz-mix]
 *
 * Writes three files into DIR:
 *   members.csv    the member import (17 columns, RFC 4180)
 *   history.jsonl  events before "now" (orders, points, unsubscribes);
 *                  one JSON object a line, grouped by member, not sorted
 *   future.jsonl   events in [now, now + D days), sorted by instant, for
 *                  the simulator to replay: joins, orders, points,
 *                  reachability changes
 *
 * Determinism: every member draws from its own PRNG streams, seeded from
 * (seed, member index, purpose). So the same arguments give byte-identical
 * files, a member's profile and history do not depend on N or on
 * --future-days, and members.csv for N is a prefix of the one for 2N.
 * Nothing reads the clock (except to report the run time) or the TZ
 * environment: all calendar and zone arithmetic is done here.
 *
 * Conventions the importer relies on:
 *   - empty tz means the workspace default, assumed Asia/Shanghai; a
 *     joined_at without offset is wall time in the member's zone;
 *   - "at" values carry an explicit offset (+08:00 for default-zone
 *     members, the zone's real offset or "Z" for the others);
 *   - points expire at the end of the expires_at date. Redemptions are
 *     generated so that they never exceed points earned and unexpired at
 *     the time minus everything redeemed before, whichever batch an
 *     engine takes them from. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DAY           86400
#define NO_DATE       INT32_MIN
#define MAX_MEMBERS   50000000u  /* ids stay 8 digits, even with joiners */
#define MAX_FUTURE    3650
#define OUTBUF        (1u << 20)
#define LINE_MAX_LEN  4096       /* the longest line we can write, with room */
#define MAX_BATCHES   128        /* points batches per member: 30 + 60 max */
#define MAX_CANDS     160

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

static struct {
    uint64_t seed;
    uint32_t members;      /* existing members, ids 1..members */
    uint32_t joiners;      /* members joining in the window, ids after */
    const char *out;
    int32_t now_day;       /* days since 1970-01-01 */
    int future_days;
    int tz_mix;
    int64_t now_utc;       /* local midnight of now_day in Asia/Shanghai */
    int64_t end_utc;       /* now_utc + future_days days */
} C;

/* Fatal: I/O errors and out of memory leave nothing useful to do. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ------------------------------------------------------------------ */
/* PRNG: xoshiro256** seeded by splitmix64. rand() would make the data
 * depend on the C library; our own generator gives the same bytes
 * everywhere. */

typedef struct { uint64_t s[4]; } rng_t;

/* The splitmix64 finalizer: a bijection on 64-bit values, so it can also
 * turn distinct indexes into distinct, random-looking identifiers. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ull;
    return mix64(*state);
}

/* The purposes a member draws for; separate streams keep, for example,
 * the history of a member unchanged when --future-days changes. */
enum { ST_PROFILE = 1, ST_JOIN, ST_HISTORY, ST_FUTURE, ST_TAGS };

static void rng_init(rng_t *r, uint64_t idx, uint64_t stream)
{
    uint64_t x = mix64(C.seed ^ 0x6E75646765ull) ^ mix64(idx * 0x9E3779B97F4A7C15ull + stream);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* [0, 1) with 53 random bits */
static double rng_unit(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* [0, n); the bias of multiply-shift is below 2^-32, irrelevant here */
static uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static int rng_chance(rng_t *r, double p) { return rng_unit(r) < p; }

/* [lo, hi) for spans of seconds (well below 2^53) */
static int64_t rng_span(rng_t *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(rng_unit(r) * (double)(hi - lo));
}

static double rng_normal(rng_t *r)
{
    double u1 = 1.0 - rng_unit(r); /* (0, 1]: log is finite */
    double u2 = rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Failures before the first success with mean `mean`. */
static int rng_geometric(rng_t *r, double mean)
{
    double q = mean / (1.0 + mean);
    return (int)floor(log(1.0 - rng_unit(r)) / log(q));
}

/* Knuth's method: fine for the small rates used here. */
static int rng_poisson(rng_t *r, double lambda, int cap)
{
    double limit = exp(-lambda), p = 1.0;
    int k = 0;
    for (;;) {
        p *= rng_unit(r);
        if (p <= limit || k >= cap)
            return k;
        k++;
    }
}

/* Index into a table of integer weights. */
static int pick_weighted(rng_t *r, const int *w, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    int x = (int)rng_below(r, (uint32_t)total);
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* A keyed bijection on [0, m): a balanced Feistel network on 2h bits
 * (2^2h >= m) with cycle walking. Phone numbers and e-mail suffixes are
 * the member index through it, so they look random but never collide. */
static uint64_t feistel(uint64_t x, int h, uint64_t key)
{
    uint64_t mask = (1ull << h) - 1, l = x >> h, rr = x & mask;
    for (uint64_t round = 0; round < 6; round++) {
        uint64_t f = mix64(rr ^ key ^ (round << 58)) & mask;
        uint64_t nl = rr;
        rr = l ^ f;
        l = nl;
    }
    return (l << h) | rr;
}

static uint64_t permute(uint64_t x, uint64_t m, uint64_t key)
{
    int h = 1;
    while ((1ull << (2 * h)) < m)
        h++;
    do
        x = feistel(x, h, key);
    while (x >= m);
    return x;
}

/* ------------------------------------------------------------------ */
/* Civil calendar (proleptic Gregorian, days since 1970-01-01). */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Howard Hinnant's days_from_civil */
static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

static void civil_from_days(int32_t z0, int *y, int *m, int *d)
{
    int z = z0 + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday .. 6 = Saturday; 1970-01-01 was a Thursday */
static int weekday(int32_t day) { return (int)((day % 7 + 11) % 7); }

/* A date that may not exist (Feb 29 in a common year) becomes the month's
 * last day: used to step whole years back from "now". */
static int32_t clamped_ymd(int y, int m, int d)
{
    int dim = days_in_month(y, m);
    return days_from_civil(y, m, d > dim ? dim : d);
}

static int32_t nth_sunday(int y, int m, int n)
{
    int32_t first = days_from_civil(y, m, 1);
    return first + (7 - weekday(first)) % 7 + 7 * (n - 1);
}

static int32_t last_sunday(int y, int m)
{
    int32_t last = days_from_civil(y, m, days_in_month(y, m));
    return last - weekday(last);
}

/* ------------------------------------------------------------------ */
/* Time zones: fixed offsets plus today's DST rules, enough for the years
 * a data set spans (the rules have held since 2007 in the US, 1996 in
 * the EU, 2008 in New South Wales). */

enum { R_NONE, R_US, R_EU, R_AU };
enum {
    Z_DEFAULT, Z_SHANGHAI, Z_HONGKONG, Z_TOKYO, Z_SINGAPORE,
    Z_LOSANGELES, Z_NEWYORK, Z_LONDON, Z_SYDNEY, NZONES
};

static const struct zone {
    const char *name;   /* tz column ("" = workspace default) */
    int std;            /* standard offset, seconds east of UTC */
    int rule;
    const char *city;   /* city attribute for members living abroad */
    int weight;         /* per mille of members with --tz-mix */
} ZONES[NZONES] = {
    {"", 8 * 3600, R_NONE, NULL, 800},
    {"Asia/Shanghai", 8 * 3600, R_NONE, NULL, 60},
    {"Asia/Hong_Kong", 8 * 3600, R_NONE, "香港", 30},
    {"Asia/Tokyo", 9 * 3600, R_NONE, "东京", 20},
    {"Asia/Singapore", 8 * 3600, R_NONE, "新加坡", 20},
    {"America/Los_Angeles", -8 * 3600, R_US, "洛杉矶", 20},
    {"America/New_York", -5 * 3600, R_US, "纽约", 20},
    {"Europe/London", 0, R_EU, "伦敦", 15},
    {"Australia/Sydney", 10 * 3600, R_AU, "悉尼", 15},
};

/* Seconds east of UTC in force in zone z at instant utc. */
static int zone_offset(int z, int64_t utc)
{
    const struct zone *zn = &ZONES[z];
    if (zn->rule == R_NONE)
        return zn->std;
    int y, m, d;
    civil_from_days((int32_t)floor_div(utc + zn->std, DAY), &y, &m, &d);
    int64_t start, end;
    switch (zn->rule) {
    case R_US: /* 2nd Sunday March 02:00 std .. 1st Sunday Nov 02:00 DST */
        start = (int64_t)nth_sunday(y, 3, 2) * DAY + 2 * 3600 - zn->std;
        end = (int64_t)nth_sunday(y, 11, 1) * DAY + 2 * 3600 - (zn->std + 3600);
        return utc >= start && utc < end ? zn->std + 3600 : zn->std;
    case R_EU: /* last Sunday March .. last Sunday October, 01:00 UTC */
        start = (int64_t)last_sunday(y, 3) * DAY + 3600;
        end = (int64_t)last_sunday(y, 10) * DAY + 3600;
        return utc >= start && utc < end ? zn->std + 3600 : zn->std;
    default: /* R_AU, southern: DST from 1st Sunday Oct 02:00 std to
              * 1st Sunday April 03:00 DST, across the new year */
        start = (int64_t)nth_sunday(y, 10, 1) * DAY + 2 * 3600 - zn->std;
        end = (int64_t)nth_sunday(y, 4, 1) * DAY + 3 * 3600 - (zn->std + 3600);
        return utc < end || utc >= start ? zn->std + 3600 : zn->std;
    }
}

/* The instant of a local wall time (seconds since the local epoch). A
 * wall time in a DST gap moves forward; callers avoid the hours where
 * gaps and repeats happen (01:00-04:00) whenever the wall time is written
 * without an offset, so the importer cannot read it differently. */
static int64_t local_to_utc(int z, int64_t local)
{
    int off = zone_offset(z, local - ZONES[z].std);
    int64_t u = local - off;
    return zone_offset(z, u) == off ? u : local - ZONES[z].std;
}

static int32_t local_day(int z, int64_t utc)
{
    return (int32_t)floor_div(utc + zone_offset(z, utc), DAY);
}

/* ------------------------------------------------------------------ */
/* When things happen: weights per calendar day (promotion days, member
 * day, weekends) and per hour of the local day. */

static int32_t tab_lo;     /* first day in the tables */
static int tab_n;          /* days in the tables */
static double *cum_act;    /* cumulative order-activity weight */
static double *cum_join;   /* cumulative join weight (recency skewed) */

static double day_weight(int32_t day)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    int md = m * 100 + d;
    double w = 1.0;
    int wd = weekday(day);
    if (wd == 0 || wd == 6)
        w *= 1.15;
    if (md == 1111)
        w *= 6.0;                     /* Singles' Day */
    else if (md >= 1101 && md <= 1112)
        w *= 1.4;                     /* presales and the day after */
    else if (md == 1212)
        w *= 2.5;
    else if (md == 618)
        w *= 3.0;
    else if (md >= 601 && md <= 620)
        w *= 1.25;
    else if (md == 308)
        w *= 2.0;                     /* Women's day, female-heavy bases */
    else if (md == 520)
        w *= 1.5;
    if (d == 8)
        w *= 1.5;                     /* the monthly member day */
    return w;
}

static void build_day_tables(void)
{
    tab_lo = C.now_day - 3 * 366 - 8;
    tab_n = (C.now_day + C.future_days + 8) - tab_lo;
    cum_act = malloc(sizeof(double) * (size_t)(tab_n + 1));
    cum_join = malloc(sizeof(double) * (size_t)(tab_n + 1));
    if (!cum_act || !cum_join)
        die("out of memory");
    cum_act[0] = cum_join[0] = 0.0;
    double span = 3.0 * 365.0;
    for (int i = 0; i < tab_n; i++) {
        int32_t day = tab_lo + i;
        double w = day_weight(day);
        /* joins grow toward now: the last day has 2.5x the first */
        double x = (double)(day - (C.now_day - 3 * 365)) / span;
        x = x < 0 ? 0 : x > 1 ? 1 : x;
        cum_act[i + 1] = cum_act[i] + w;
        cum_join[i + 1] = cum_join[i] + w * (1.0 + 1.5 * x);
    }
}

/* A day in [lo, hi) drawn by the weights in cum. */
static int32_t sample_day(rng_t *r, const double *cum, int32_t lo, int32_t hi)
{
    int a = lo - tab_lo, b = hi - tab_lo;
    if (a < 0)
        a = 0;
    if (b > tab_n)
        b = tab_n;
    if (b <= a)
        return lo;
    double x = cum[a] + rng_unit(r) * (cum[b] - cum[a]);
    int l = a, h = b - 1; /* largest i in [a, b) with cum[i] <= x */
    while (l < h) {
        int mid = l + (h - l + 1) / 2;
        if (cum[mid] <= x)
            l = mid;
        else
            h = mid - 1;
    }
    return tab_lo + l;
}

/* Local hour weights. Orders peak at lunch and 20-22h; night owls buy
 * late; joins follow store hours and never fall in 01-03h, where DST
 * gaps and repeats live. */
static const int HOURS_ORDER[24] = {20, 10, 5, 3, 3, 5, 10, 20, 30, 40, 50, 60,
                                    70, 60, 50, 50, 50, 50, 60, 70, 90, 100, 80, 50};
static const int HOURS_OWL[24] = {90, 70, 40, 20, 5, 3, 3, 5, 10, 15, 20, 25,
                                  30, 25, 20, 20, 20, 25, 30, 40, 60, 80, 100, 100};
static const int HOURS_JOIN[24] = {5, 0, 0, 0, 2, 3, 5, 10, 20, 40, 60, 70,
                                   70, 60, 60, 60, 60, 60, 70, 80, 90, 80, 50, 20};

static int sample_secs(rng_t *r, const int *hours)
{
    return pick_weighted(r, hours, 24) * 3600 + (int)rng_below(r, 3600);
}

/* ------------------------------------------------------------------ */
/* Reference data */

static const struct surname { const char *hz, *py; int w; } SURNAMES[] = {
    {"王", "wang", 710}, {"李", "li", 700}, {"张", "zhang", 670}, {"刘", "liu", 540},
    {"陈", "chen", 450}, {"杨", "yang", 310}, {"黄", "huang", 220}, {"赵", "zhao", 200},
    {"吴", "wu", 200}, {"周", "zhou", 190}, {"徐", "xu", 160}, {"孙", "sun", 150},
    {"马", "ma", 130}, {"朱", "zhu", 120}, {"胡", "hu", 120}, {"郭", "guo", 110},
    {"何", "he", 100}, {"高", "gao", 100}, {"林", "lin", 100}, {"罗", "luo", 90},
    {"郑", "zheng", 80}, {"梁", "liang", 80}, {"谢", "xie", 70}, {"宋", "song", 60},
    {"唐", "tang", 60}, {"许", "xu", 60}, {"韩", "han", 50}, {"冯", "feng", 50},
    {"邓", "deng", 50}, {"曹", "cao", 50}, {"彭", "peng", 50}, {"曾", "zeng", 50},
    {"肖", "xiao", 40}, {"田", "tian", 40}, {"董", "dong", 40}, {"袁", "yuan", 40},
    {"潘", "pan", 40}, {"于", "yu", 40}, {"蒋", "jiang", 40}, {"蔡", "cai", 40},
    {"余", "yu", 40}, {"杜", "du", 30}, {"叶", "ye", 30}, {"程", "cheng", 30},
    {"苏", "su", 30}, {"魏", "wei", 30}, {"吕", "lv", 30}, {"丁", "ding", 30},
    {"任", "ren", 30}, {"沈", "shen", 30}, {"姚", "yao", 30}, {"卢", "lu", 30},
    {"姜", "jiang", 30}, {"崔", "cui", 30}, {"钟", "zhong", 30}, {"谭", "tan", 20},
    {"陆", "lu", 20}, {"汪", "wang", 20}, {"范", "fan", 20}, {"金", "jin", 20},
    {"石", "shi", 20}, {"廖", "liao", 20}, {"贾", "jia", 20}, {"夏", "xia", 20},
    {"韦", "wei", 20}, {"付", "fu", 20}, {"方", "fang", 20}, {"白", "bai", 20},
    {"邹", "zou", 20}, {"孟", "meng", 20}, {"熊", "xiong", 20}, {"秦", "qin", 20},
    {"邱", "qiu", 20}, {"江", "jiang", 20}, {"尹", "yin", 20}, {"薛", "xue", 20},
    {"闫", "yan", 20}, {"段", "duan", 20}, {"雷", "lei", 20}, {"侯", "hou", 20},
    {"龙", "long", 20}, {"史", "shi", 20}, {"陶", "tao", 10}, {"黎", "li", 10},
    {"贺", "he", 10}, {"顾", "gu", 10}, {"毛", "mao", 10}, {"郝", "hao", 10},
    {"龚", "gong", 10}, {"邵", "shao", 10}, {"万", "wan", 10}, {"钱", "qian", 10},
    {"严", "yan", 10}, {"武", "wu", 10}, {"戴", "dai", 10}, {"莫", "mo", 10},
    {"孔", "kong", 10}, {"向", "xiang", 10}, {"汤", "tang", 10}, {"欧阳", "ouyang", 5},
    {"司马", "sima", 2}, {"上官", "shangguan", 1}, {"诸葛", "zhuge", 1},
};
#define NSURNAMES ((int)(sizeof SURNAMES / sizeof SURNAMES[0]))

typedef struct { const char *hz, *py; } namechar_t;

static const namechar_t GIVEN_F[] = {
    {"芳", "fang"}, {"娜", "na"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"},
    {"艳", "yan"}, {"娟", "juan"}, {"霞", "xia"}, {"秀", "xiu"}, {"玲", "ling"},
    {"婷", "ting"}, {"雪", "xue"}, {"琳", "lin"}, {"颖", "ying"}, {"倩", "qian"},
    {"佳", "jia"}, {"慧", "hui"}, {"欣", "xin"}, {"怡", "yi"}, {"悦", "yue"},
    {"梦", "meng"}, {"涵", "han"}, {"萱", "xuan"}, {"琪", "qi"}, {"雅", "ya"},
    {"思", "si"}, {"诗", "shi"}, {"月", "yue"}, {"璐", "lu"}, {"瑶", "yao"},
    {"婧", "jing"}, {"妍", "yan"}, {"蕾", "lei"}, {"薇", "wei"}, {"洁", "jie"},
    {"燕", "yan"}, {"萍", "ping"}, {"红", "hong"}, {"晓", "xiao"}, {"美", "mei"},
    {"丹", "dan"}, {"莉", "li"}, {"兰", "lan"}, {"凤", "feng"}, {"晶", "jing"},
    {"露", "lu"}, {"茜", "qian"}, {"彤", "tong"}, {"可", "ke"}, {"馨", "xin"},
    {"语", "yu"}, {"嘉", "jia"}, {"若", "ruo"}, {"一", "yi"}, {"子", "zi"},
    {"欢", "huan"}, {"宁", "ning"}, {"雨", "yu"}, {"晴", "qing"}, {"文", "wen"},
};
static const namechar_t GIVEN_M[] = {
    {"伟", "wei"}, {"强", "qiang"}, {"磊", "lei"}, {"军", "jun"}, {"洋", "yang"},
    {"勇", "yong"}, {"杰", "jie"}, {"涛", "tao"}, {"明", "ming"}, {"超", "chao"},
    {"刚", "gang"}, {"平", "ping"}, {"辉", "hui"}, {"鹏", "peng"}, {"华", "hua"},
    {"飞", "fei"}, {"鑫", "xin"}, {"波", "bo"}, {"斌", "bin"}, {"宇", "yu"},
    {"浩", "hao"}, {"凯", "kai"}, {"俊", "jun"}, {"帅", "shuai"}, {"博", "bo"},
    {"文", "wen"}, {"轩", "xuan"}, {"航", "hang"}, {"泽", "ze"}, {"晨", "chen"},
    {"睿", "rui"}, {"然", "ran"}, {"峰", "feng"}, {"建", "jian"}, {"国", "guo"},
    {"志", "zhi"}, {"海", "hai"}, {"东", "dong"}, {"林", "lin"}, {"成", "cheng"},
    {"小", "xiao"}, {"子", "zi"}, {"天", "tian"}, {"一", "yi"}, {"家", "jia"},
    {"嘉", "jia"}, {"亮", "liang"}, {"健", "jian"}, {"毅", "yi"}, {"铭", "ming"},
};
#define NGIVEN_F ((uint32_t)(sizeof GIVEN_F / sizeof GIVEN_F[0]))
#define NGIVEN_M ((uint32_t)(sizeof GIVEN_M / sizeof GIVEN_M[0]))

/* 13x/15x/17x/18x/19x mobile prefixes in use */
static const char *const PHONE_PREFIX[] = {
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "170", "171", "173", "175", "176", "177", "178",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
    "191", "193", "195", "196", "198", "199",
};
#define NPHONE_PREFIX ((uint64_t)(sizeof PHONE_PREFIX / sizeof PHONE_PREFIX[0]))

static const char *const MAIL_DOMAIN[] = {"qq.com", "163.com", "126.com", "gmail.com", "outlook.com"};
static const int MAIL_DOMAIN_W[] = {42, 28, 12, 9, 9};

static const struct city { const char *name, *code; int stores, w; } CITIES[] = {
    {"上海", "SH", 120, 18}, {"北京", "BJ", 80, 14}, {"广州", "GZ", 60, 10},
    {"深圳", "SZ", 60, 10}, {"成都", "CD", 50, 8}, {"杭州", "HZ", 40, 8},
    {"武汉", "WH", 30, 6}, {"南京", "NJ", 30, 6}, {"重庆", "CQ", 30, 5},
    {"西安", "XA", 20, 4}, {"苏州", "SU", 20, 4}, {"天津", "TJ", 15, 3},
    {"长沙", "CS", 15, 3}, {"郑州", "ZZ", 10, 2}, {"青岛", "QD", 10, 2},
    {"厦门", "XM", 10, 2},
};
#define NCITIES ((int)(sizeof CITIES / sizeof CITIES[0]))

enum { SRC_STORE, SRC_TMALL, SRC_JD, SRC_WECHAT, SRC_AD, NSOURCES };
static const char *const SOURCES[NSOURCES] = {"store", "tmall", "jd", "wechat", "ad"};
static const int SOURCE_W[NSOURCES] = {40, 15, 10, 25, 10};
static const int SOURCE_ABROAD_W[NSOURCES] = {0, 40, 20, 40, 0};
/* chance that a member from this source has a home store */
static const double SOURCE_STORE_P[NSOURCES] = {1.0, 0.12, 0.12, 0.6, 0.3};

enum { T_NORMAL, T_SILVER, T_GOLD, T_PLATINUM, NTIERS };
static const char *const TIERS[NTIERS] = {"normal", "silver", "gold", "platinum"};
static const int TIER_W[NTIERS] = {60, 25, 11, 4};

enum {
    TAG_NEW, TAG_VALUE, TAG_SKIN, TAG_MOM, TAG_STUDENT, TAG_PRICE,
    TAG_OWL, TAG_REGULAR, TAG_ONLINE, TAG_SLEEPING, NTAGS
};
static const char *const TAGS[NTAGS] = {
    "新客", "高价值", "敏感肌", "宝妈", "学生", "价格敏感",
    "夜猫子", "门店常客", "线上为主", "沉睡",
};

/* ------------------------------------------------------------------ */
/* Members */

typedef struct {
    uint32_t idx;
    char name[32];
    char phone[12];        /* "" = none */
    char email[64];
    char openid[29];
    int subscribed;
    int32_t birthday;      /* NO_DATE = none */
    char gender[2];        /* "F", "M" or "" */
    int zone, zulu;        /* zulu: this member's events are written in UTC */
    int tier;
    int city;              /* index in CITIES, or -1 when abroad */
    int store;             /* 1-based store number in the city, 0 = none */
    int source;
    int sms_opt_out, email_opt_out;
    /* traits behind the tags */
    int owl, skin, mom, student, price;
    /* joined (filled in by draw_join / the joiner's event) */
    int64_t join_utc;
    int32_t join_day;      /* local day */
    int join_secs;         /* local seconds after midnight */
    int join_date_only;
} member_t;

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int pick_age(rng_t *r)
{
    /* a consumer brand's base: mostly 23-39 */
    static const int band_w[] = {12, 30, 30, 18, 10};
    static const int band_lo[] = {18, 23, 30, 40, 50}, band_hi[] = {22, 29, 39, 49, 65};
    int b = pick_weighted(r, band_w, 5);
    return band_lo[b] + (int)rng_below(r, (uint32_t)(band_hi[b] - band_lo[b] + 1));
}

/* Uniform over the days on which someone is exactly `age` at now: every
 * calendar day, Feb 29 included, at its natural rate. */
static int32_t birthday_for_age(rng_t *r, int age)
{
    int y, m, d;
    civil_from_days(C.now_day, &y, &m, &d);
    int32_t hi = clamped_ymd(y - age, m, d);
    int32_t lo = clamped_ymd(y - age - 1, m, d) + 1;
    return lo + (int32_t)rng_below(r, (uint32_t)(hi - lo + 1));
}

static int age_at_now(int32_t birthday)
{
    int by, bm, bd, ny, nm, nd;
    civil_from_days(birthday, &by, &bm, &bd);
    civil_from_days(C.now_day, &ny, &nm, &nd);
    return ny - by - (nm * 100 + nd < bm * 100 + bd);
}

static void make_name(rng_t *r, member_t *m, const char **sur_py, const char *given_py[2], int *ngiven)
{
    static int total = 0;
    if (!total)
        for (int i = 0; i < NSURNAMES; i++)
            total += SURNAMES[i].w;
    int x = (int)rng_below(r, (uint32_t)total), s = 0;
    while (x >= SURNAMES[s].w)
        x -= SURNAMES[s++].w;
    *sur_py = SURNAMES[s].py;
    strcpy(m->name, SURNAMES[s].hz);
    *ngiven = rng_chance(r, 0.3) ? 1 : 2;
    for (int i = 0; i < *ngiven; i++) {
        int female = m->gender[0] == 'F' || (m->gender[0] == 0 && rng_chance(r, 0.5));
        const namechar_t *c = female ? &GIVEN_F[rng_below(r, NGIVEN_F)]
                                     : &GIVEN_M[rng_below(r, NGIVEN_M)];
        strcat(m->name, c->hz);
        given_py[i] = c->py;
    }
}

static void make_phone(member_t *m)
{
    /* the index through a bijection on prefixes x 10^8 numbers */
    uint64_t v = permute(m->idx, NPHONE_PREFIX * 100000000ull, C.seed ^ 0x70686F6E65ull);
    memcpy(m->phone, PHONE_PREFIX[v / 100000000ull], 3);
    uint64_t tail = v % 100000000ull;
    for (int i = 10; i >= 3; i--) {
        m->phone[i] = (char)('0' + tail % 10);
        tail /= 10;
    }
    m->phone[11] = 0;
}

/* Local parts are either a QQ number (digits) or pinyin followed by a
 * number; that number is unique per member, so no two members share an
 * address whatever the letters are. */
static void make_email(rng_t *r, member_t *m, const char *sur, const char *given[2], int ngiven)
{
    uint64_t u = permute(m->idx, 100000000ull, C.seed ^ 0x656D61696Cull);
    int dom = pick_weighted(r, MAIL_DOMAIN_W, 5);
    char *p = m->email;
    if (dom == 0 && rng_chance(r, 0.6)) {
        p += sprintf(p, "%llu", (unsigned long long)(u + 10000));
    } else {
        switch (rng_below(r, 4)) {
        case 0: /* wangfang */
            p += sprintf(p, "%s", sur);
            for (int i = 0; i < ngiven; i++)
                p += sprintf(p, "%s", given[i]);
            break;
        case 1: /* fang.wang */
            for (int i = 0; i < ngiven; i++)
                p += sprintf(p, "%s", given[i]);
            p += sprintf(p, ".%s", sur);
            break;
        case 2: /* wang_fang */
            p += sprintf(p, "%s_", sur);
            for (int i = 0; i < ngiven; i++)
                p += sprintf(p, "%s", given[i]);
            break;
        default: /* wfang: initial + given */
            *p++ = sur[0];
            for (int i = 0; i < ngiven; i++)
                p += sprintf(p, "%s", given[i]);
            break;
        }
        p += sprintf(p, "%llu", (unsigned long long)u);
    }
    sprintf(p, "@%s", MAIL_DOMAIN[dom]);
}

/* 28 characters like a real OpenID: 'o', 5 characters shared by the
 * official account, 11 encoding a bijection of the index (unique), 11
 * random. */
static void make_openid(rng_t *r, member_t *m)
{
    uint64_t acct = mix64(C.seed ^ 0x6F70656E6964ull), uniq = mix64(m->idx + acct);
    char *p = m->openid;
    *p++ = 'o';
    for (int i = 0; i < 5; i++, acct >>= 6)
        *p++ = B64URL[acct & 63];
    for (int i = 0; i < 11; i++, uniq >>= 6)
        *p++ = B64URL[uniq & 63];
    for (int i = 0; i < 11; i++)
        *p++ = B64URL[rng_below(r, 64)];
    *p = 0;
}

/* Everything about a member that does not depend on when they joined.
 * A pure function of (seed, idx), so a joiner's profile can be rebuilt
 * when its event is written after sorting. */
static void make_profile(uint32_t idx, int joiner, member_t *m)
{
    rng_t r;
    rng_init(&r, idx, ST_PROFILE);
    memset(m, 0, sizeof *m);
    m->idx = idx;

    double u = rng_unit(&r);
    strcpy(m->gender, u < 0.62 ? "F" : u < 0.97 ? "M" : "");

    const char *sur, *given[2];
    int ngiven;
    make_name(&r, m, &sur, given, &ngiven);

    m->birthday = rng_chance(&r, 0.80) ? birthday_for_age(&r, pick_age(&r)) : NO_DATE;

    /* drawn even without --tz-mix, so that flag changes nothing else */
    int zw[NZONES];
    for (int i = 0; i < NZONES; i++)
        zw[i] = ZONES[i].weight;
    int zone = pick_weighted(&r, zw, NZONES);
    int zulu = rng_chance(&r, 0.3);
    m->zone = C.tz_mix ? zone : Z_DEFAULT;
    m->zulu = m->zone >= Z_HONGKONG && zulu; /* some foreign systems log UTC */

    int abroad = ZONES[m->zone].city != NULL;
    m->source = pick_weighted(&r, abroad ? SOURCE_ABROAD_W : SOURCE_W, NSOURCES);
    if (abroad) {
        m->city = -1;
    } else {
        int cw[NCITIES];
        for (int i = 0; i < NCITIES; i++)
            cw[i] = CITIES[i].w;
        m->city = pick_weighted(&r, cw, NCITIES);
        if (rng_chance(&r, SOURCE_STORE_P[m->source])) {
            /* flagship (low-numbered) stores recruit more */
            double s = pow(rng_unit(&r), 1.6);
            m->store = 1 + (int)(s * CITIES[m->city].stores);
        }
    }

    if (rng_chance(&r, 0.92))
        make_phone(m);
    if (rng_chance(&r, 0.45))
        make_email(&r, m, sur, given, ngiven);
    if (rng_chance(&r, 0.70)) {
        make_openid(&r, m);
        m->subscribed = rng_chance(&r, 0.85);
    }

    m->tier = pick_weighted(&r, TIER_W, NTIERS);
    /* opt-outs only mean something for a reachable channel; the rates
     * give ~4% and ~6% of all members */
    m->sms_opt_out = m->phone[0] && rng_chance(&r, 0.0435);
    m->email_opt_out = m->email[0] && rng_chance(&r, 0.133);

    int age = m->birthday == NO_DATE ? -1 : age_at_now(m->birthday);
    int female = m->gender[0] == 'F';
    m->owl = rng_chance(&r, 0.08);
    m->skin = rng_chance(&r, female ? 0.12 : 0.03);
    m->mom = female && age >= 25 && age <= 42 && rng_chance(&r, 0.25);
    m->student = age >= 0 && age < 23 && rng_chance(&r, 0.5);
    m->price = rng_chance(&r, 0.10);

    if (joiner) {
        /* a new member has just signed up: following the account is how
         * most of them join, and nobody has opted out yet */
        m->tier = T_NORMAL;
        m->subscribed = m->openid[0] != 0;
        m->sms_opt_out = m->email_opt_out = 0;
    }
}

static void set_join(member_t *m, int32_t day, int secs, int date_only)
{
    m->join_day = day;
    m->join_secs = secs;
    m->join_date_only = date_only;
    m->join_utc = local_to_utc(m->zone, (int64_t)day * DAY + secs);
}

/* An existing member joined in the three years before now, more of them
 * recently. The wall time must fall before now even in zones west of
 * Shanghai, hence the step back. */
static void draw_join_existing(member_t *m)
{
    rng_t r;
    rng_init(&r, m->idx, ST_JOIN);
    int32_t day = sample_day(&r, cum_join, C.now_day - 3 * 365, C.now_day);
    int date_only = rng_chance(&r, 0.20);
    int secs = date_only ? 0 : sample_secs(&r, HOURS_JOIN);
    set_join(m, day, secs, date_only);
    while (m->join_utc >= C.now_utc - 3600)
        set_join(m, --day, secs, date_only);
}

/* A joiner signs up during the window. */
static void draw_join_future(member_t *m)
{
    rng_t r;
    rng_init(&r, m->idx, ST_JOIN);
    int32_t lo = local_day(m->zone, C.now_utc), hi = local_day(m->zone, C.end_utc - 1) + 1;
    for (int tries = 0;; tries++) {
        int32_t day = sample_day(&r, cum_join, lo, hi);
        set_join(m, day, sample_secs(&r, HOURS_JOIN), 0);
        if (m->join_utc >= C.now_utc && m->join_utc < C.end_utc)
            return;
        if (tries == 20) { /* a window of a day or so: land inside it */
            m->join_utc = rng_span(&r, C.now_utc, C.end_utc);
            int64_t local = m->join_utc + zone_offset(m->zone, m->join_utc);
            m->join_day = (int32_t)floor_div(local, DAY);
            m->join_secs = (int)(local - (int64_t)m->join_day * DAY);
            return;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Output: our own 1 MiB buffers filled by small appenders, written in
 * whole chunks (formatting with printf per field is several times
 * slower at millions of lines). */

typedef struct {
    FILE *fp;
    char *path;
    char *buf;
    size_t len;
} out_t;

static void out_open(out_t *o, const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    o->path = malloc(n);
    o->buf = malloc(OUTBUF);
    if (!o->path || !o->buf)
        die("out of memory");
    snprintf(o->path, n, "%s/%s", dir, name);
    o->fp = fopen(o->path, "wb");
    if (!o->fp)
        die("cannot create %s: %s", o->path, strerror(errno));
    setvbuf(o->fp, NULL, _IOFBF, OUTBUF);
    o->len = 0;
}

static void out_flush(out_t *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, o->fp) != o->len)
        die("write %s: %s", o->path, strerror(errno));
    o->len = 0;
}

/* Room for one line; finish it with out_end. */
static char *out_begin(out_t *o)
{
    if (o->len + LINE_MAX_LEN > OUTBUF)
        out_flush(o);
    return o->buf + o->len;
}

static void out_end(out_t *o, char *p) { o->len = (size_t)(p - o->buf); }

static void out_close(out_t *o)
{
    out_flush(o);
    if (fclose(o->fp) != 0)
        die("close %s: %s", o->path, strerror(errno));
    free(o->buf);
    free(o->path);
}

static char *put_s(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_u(char *p, uint64_t v)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = t[--n];
    return p;
}

static char *put_pad(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

static char *put_date(char *p, int32_t day)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    p = put_pad(p, (uint64_t)y, 4);
    *p++ = '-';
    p = put_pad(p, (uint64_t)m, 2);
    *p++ = '-';
    return put_pad(p, (uint64_t)d, 2);
}

/* "YYYY-MM-DDTHH:MM:SS" of local seconds since the local epoch */
static char *put_wall(char *p, int64_t local)
{
    int32_t day = (int32_t)floor_div(local, DAY);
    int secs = (int)(local - (int64_t)day * DAY);
    p = put_date(p, day);
    *p++ = 'T';
    p = put_pad(p, (uint64_t)(secs / 3600), 2);
    *p++ = ':';
    p = put_pad(p, (uint64_t)(secs / 60 % 60), 2);
    *p++ = ':';
    return put_pad(p, (uint64_t)(secs % 60), 2);
}

/* An instant as ISO 8601 with the member's offset, or in UTC ("Z"). */
static char *put_instant(char *p, int64_t utc, int zone, int zulu)
{
    int off = zulu ? 0 : zone_offset(zone, utc);
    p = put_wall(p, utc + off);
    if (zulu)
        return put_s(p, "Z");
    *p++ = off < 0 ? '-' : '+';
    int a = off < 0 ? -off : off;
    p = put_pad(p, (uint64_t)(a / 3600), 2);
    *p++ = ':';
    return put_pad(p, (uint64_t)(a / 60 % 60), 2);
}

static char *put_mid(char *p, uint32_t idx)
{
    *p++ = 'M';
    return put_pad(p, idx, 8);
}

/* A JSON string literal. Our strings are short and known, but escape
 * properly anyway. */
static char *put_js(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            p = put_s(p, "\\u00");
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return p;
}

/* A CSV field: quoted, with "" doubling, when it holds , " CR or LF. */
static char *put_csv(char *p, const char *s)
{
    if (!strpbrk(s, ",\"\r\n"))
        return put_s(p, s);
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    *p++ = '"';
    return p;
}

/* ------------------------------------------------------------------ */
/* Events */

enum {
    EV_JOIN, EV_ORDER, EV_EARN, EV_REDEEM,
    EV_SMS_OUT, EV_EMAIL_OUT, EV_WX_UNSUB, EV_WX_SUB, NEVTYPES
};
static const char *const EV_TYPE[NEVTYPES] = {
    "member.joined", "order.paid", "points.earned", "points.redeemed",
    "sms.opted_out", "email.opted_out", "wechat.unsubscribed", "wechat.subscribed",
};
static const char *const EV_PREFIX[NEVTYPES] = {"mj", "o", "pe", "pr", "so", "eo", "wu", "ws"};

/* One event, 32 bytes: future events are kept in memory to be sorted. */
typedef struct {
    int64_t utc;
    uint32_t seq;       /* generation order: ties keep order.paid first */
    uint32_t member;
    uint32_t n;         /* per-member counter in the id */
    uint32_t a;         /* amount in cents / points */
    uint32_t b;         /* order number / expiry day */
    uint8_t type, zone, zulu;
} ev_t;

typedef struct {
    out_t csv, hist, fut;
    ev_t *fev;
    size_t nfev, capfev;
    uint32_t seq;
    uint32_t order_no;  /* history orders in member order, then future ones */
    uint64_t n_hist;
} gen_t;

static void tags_string(char *out, unsigned tags)
{
    out[0] = 0;
    for (int i = 0; i < NTAGS; i++)
        if (tags & (1u << i)) {
            if (out[0])
                strcat(out, ";");
            strcat(out, TAGS[i]);
        }
}

static void store_string(char *out, const member_t *m)
{
    if (!m->store) {
        out[0] = 0;
        return;
    }
    char *p = put_s(out, CITIES[m->city].code);
    *p++ = '-';
    p = put_pad(p, (uint64_t)m->store, 3);
    *p = 0;
}

static const char *city_name(const member_t *m)
{
    return m->city < 0 ? ZONES[m->zone].city : CITIES[m->city].name;
}

/* The joiner's whole record, as the CSV would hold it. */
static char *put_join_fields(char *p, const ev_t *e)
{
    member_t m;
    char bday[11] = "", store[16], tags[64];
    make_profile(e->member, 1, &m);
    if (m.birthday != NO_DATE)
        *put_date(bday, m.birthday) = 0;
    store_string(store, &m);
    tags_string(tags, 1u << TAG_NEW);
    p = put_s(p, ",\"name\":");
    p = put_js(p, m.name);
    p = put_s(p, ",\"phone\":");
    p = put_js(p, m.phone);
    p = put_s(p, ",\"email\":");
    p = put_js(p, m.email);
    p = put_s(p, ",\"wechat_openid\":");
    p = put_js(p, m.openid);
    p = put_s(p, ",\"wechat_subscribed\":");
    p = put_u(p, (uint64_t)m.subscribed);
    p = put_s(p, ",\"birthday\":");
    p = put_js(p, bday);
    p = put_s(p, ",\"gender\":");
    p = put_js(p, m.gender);
    p = put_s(p, ",\"tz\":");
    p = put_js(p, ZONES[m.zone].name);
    p = put_s(p, ",\"tier\":");
    p = put_js(p, TIERS[m.tier]);
    p = put_s(p, ",\"tags\":");
    p = put_js(p, tags);
    p = put_s(p, ",\"store\":");
    p = put_js(p, store);
    p = put_s(p, ",\"sms_opt_out\":");
    p = put_u(p, (uint64_t)m.sms_opt_out);
    p = put_s(p, ",\"email_opt_out\":");
    p = put_u(p, (uint64_t)m.email_opt_out);
    p = put_s(p, ",\"city\":");
    p = put_js(p, city_name(&m));
    p = put_s(p, ",\"source\":");
    p = put_js(p, SOURCES[m.source]);
    p = put_s(p, ",\"joined_at\":\"");
    p = put_instant(p, e->utc, e->zone, e->zulu);
    return put_s(p, "\"");
}

static char *put_event(char *p, const ev_t *e)
{
    p = put_s(p, "{\"id\":\"");
    p = put_s(p, EV_PREFIX[e->type]);
    *p++ = '-';
    p = put_mid(p, e->member);
    if (e->type != EV_JOIN) {
        *p++ = '-';
        p = put_u(p, e->n);
    }
    p = put_s(p, "\",\"type\":\"");
    p = put_s(p, EV_TYPE[e->type]);
    p = put_s(p, "\",\"member\":\"");
    p = put_mid(p, e->member);
    p = put_s(p, "\",\"at\":\"");
    p = put_instant(p, e->utc, e->zone, e->zulu);
    *p++ = '"';
    switch (e->type) {
    case EV_JOIN:
        p = put_join_fields(p, e);
        break;
    case EV_ORDER:
        p = put_s(p, ",\"order_id\":\"SO");
        p = put_pad(p, e->b, 10);
        p = put_s(p, "\",\"amount\":");
        p = put_u(p, e->a / 100);
        *p++ = '.';
        p = put_pad(p, e->a % 100, 2);
        break;
    case EV_EARN:
        p = put_s(p, ",\"points\":");
        p = put_u(p, e->a);
        p = put_s(p, ",\"expires_at\":\"");
        p = put_date(p, (int32_t)e->b);
        *p++ = '"';
        break;
    case EV_REDEEM:
        p = put_s(p, ",\"points\":");
        p = put_u(p, e->a);
        break;
    default:
        break;
    }
    return put_s(p, "}\n");
}

static void emit_history(gen_t *g, const ev_t *e)
{
    out_t *o = &g->hist;
    out_end(o, put_event(out_begin(o), e));
    g->n_hist++;
}

static void push_future(gen_t *g, ev_t e)
{
    if (g->nfev == g->capfev) {
        g->capfev = g->capfev ? g->capfev * 2 : 1 << 16;
        g->fev = realloc(g->fev, g->capfev * sizeof *g->fev);
        if (!g->fev)
            die("out of memory for future events");
    }
    e.seq = g->seq++;
    g->fev[g->nfev++] = e;
}

static ev_t make_ev(const member_t *m, int type, int64_t utc, uint32_t n, uint32_t a, uint32_t b)
{
    ev_t e = {utc, 0, m->idx, n, a, b, (uint8_t)type, (uint8_t)m->zone, (uint8_t)m->zulu};
    return e;
}

/* ------------------------------------------------------------------ */
/* A member's points ledger, across history and future. */

typedef struct {
    int64_t at;
    uint32_t pts;
    int32_t exp_day;
} batch_t;

typedef struct {
    batch_t b[MAX_BATCHES];
    int nb;
    uint64_t redeemed;      /* every point redeemed so far */
    int64_t last_redeem;    /* redemptions are strictly increasing in time */
    uint32_t n_order, n_redeem, n_reach;
    uint64_t spend_cents;
    int64_t last_order;     /* 0 = never */
} ledger_t;

/* A batch still counts at t when t is before its expiry date begins in
 * the earliest zone on earth (UTC+14). So it is unexpired under any
 * reading: end or start of that date, in any member's zone. */
static int64_t batch_expiry(const batch_t *b) { return (int64_t)b->exp_day * DAY - 14 * 3600; }

/* Points spendable at t, conservatively: unexpired batches earned by t
 * minus everything ever redeemed (even what came from expired batches). */
static uint64_t spendable(const ledger_t *l, int64_t t)
{
    uint64_t s = 0;
    for (int i = 0; i < l->nb; i++)
        if (l->b[i].at <= t && t < batch_expiry(&l->b[i]))
            s += l->b[i].pts;
    return s > l->redeemed ? s - l->redeemed : 0;
}

typedef struct { int64_t t; uint32_t hint; } cand_t;

static int cmp_cand(const void *x, const void *y)
{
    const cand_t *a = x, *b = y;
    return a->t < b->t ? -1 : a->t > b->t ? 1 : (a->hint < b->hint ? -1 : a->hint > b->hint);
}

/* Turns candidate redemption times into redemptions, in time order,
 * each at most `hint` and what is spendable then, in multiples of 10
 * (how points shops price). Emitted to history or pushed to the future. */
static void redeem(gen_t *g, rng_t *r, const member_t *m, ledger_t *l, cand_t *c, int nc,
                   int64_t lo, int64_t hi, int future)
{
    qsort(c, (size_t)nc, sizeof *c, cmp_cand);
    for (int i = 0; i < nc; i++) {
        int64_t t = c[i].t;
        if (t < lo || t >= hi || t <= l->last_redeem)
            continue;
        uint64_t cap = spendable(l, t);
        if (cap > c[i].hint)
            cap = c[i].hint;
        if (cap < 10)
            continue;
        uint32_t pts = (uint32_t)(cap * (0.3 + 0.7 * rng_unit(r))) / 10 * 10;
        if (pts < 10)
            pts = 10;
        l->redeemed += pts;
        l->last_redeem = t;
        ev_t e = make_ev(m, EV_REDEEM, t, ++l->n_redeem, pts, 0);
        if (future)
            push_future(g, e);
        else
            emit_history(g, &e);
    }
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Order amount in cents: log-normal around a tier's median, 29..2999
 * yuan, with the price endings shops use (x9, .00, .90). */
static uint32_t order_cents(rng_t *r, int tier)
{
    static const double median[NTIERS] = {139, 199, 289, 459};
    double yuan = median[tier] * exp(0.75 * rng_normal(r));
    if (yuan < 29)
        yuan = 29;
    if (yuan > 2999)
        yuan = 2999;
    uint32_t y = (uint32_t)yuan, cents = 0;
    double u = rng_unit(r);
    if (u < 0.40)
        y = y - y % 10 + 9;           /* 199.00 */
    else if (u < 0.55)
        cents = 90;                   /* 158.90 */
    else if (u < 0.75)
        cents = rng_below(r, 100);    /* computed prices after discounts */
    if (y < 29)
        y = 29;
    if (y >= 2999) {
        y = 2999;
        cents = 0;
    }
    return y * 100 + cents;
}

/* Orders at sorted times: order.paid and its points batch (1 point per
 * whole yuan). */
static void place_orders(gen_t *g, rng_t *r, const member_t *m, ledger_t *l,
                         const int64_t *t, int n, int future)
{
    for (int i = 0; i < n && l->nb < MAX_BATCHES; i++) {
        uint32_t cents = order_cents(r, m->tier);
        int y, mo, d;
        int32_t day = local_day(m->zone, t[i]);
        civil_from_days(day, &y, &mo, &d);
        /* year-end clearing (most brands), or 12 months after earning */
        int32_t exp = (future || rng_chance(r, 0.7)) ? days_from_civil(y + 1, 12, 31) : day + 365;
        uint32_t n_o = ++l->n_order;
        /* future order numbers are given when written, in time order */
        ev_t o = make_ev(m, EV_ORDER, t[i], n_o, cents, future ? 0 : ++g->order_no);
        ev_t e = make_ev(m, EV_EARN, t[i], n_o, cents / 100, (uint32_t)exp);
        if (future) {
            push_future(g, o);
            push_future(g, e);
        } else {
            emit_history(g, &o);
            emit_history(g, &e);
        }
        l->b[l->nb++] = (batch_t){t[i], cents / 100, exp};
        l->spend_cents += cents;
        l->last_order = t[i];
    }
}

/* Sorts order times and spaces them at least a minute apart inside
 * (lo, hi); returns how many remain. */
static int tidy_times(int64_t *t, int n, int64_t lo, int64_t hi)
{
    qsort(t, (size_t)n, sizeof *t, cmp_i64);
    int k = 0;
    for (int i = 0; i < n; i++) {
        int64_t v = t[i];
        if (v <= lo)
            v = lo + 60 + (int64_t)(i * 97 % 3600);
        if (k && v < t[k - 1] + 60)
            v = t[k - 1] + 60;
        if (v >= hi)
            break;
        t[k++] = v;
    }
    return k;
}

/* A time on a weighted day in [lo_day, hi_day) at a weighted local hour */
static int64_t order_time(rng_t *r, const member_t *m, int32_t lo_day, int32_t hi_day)
{
    int32_t day = sample_day(r, cum_act, lo_day, hi_day);
    return local_to_utc(m->zone, (int64_t)day * DAY + sample_secs(r, m->owl ? HOURS_OWL : HOURS_ORDER));
}

/* History order count: ~25% none, ~35% one, then a long tail to 30,
 * higher tiers buying more. */
static int history_order_count(rng_t *r, int tier)
{
    static const double p0[NTIERS] = {0.33, 0.15, 0.08, 0.05};
    static const double p1[NTIERS] = {0.40, 0.32, 0.22, 0.12};
    static const double tail[NTIERS] = {1.2, 2.2, 3.5, 6.0};
    double u = rng_unit(r);
    if (u < p0[tier])
        return 0;
    if (u < p0[tier] + p1[tier])
        return 1;
    if (rng_chance(r, 0.03))
        return 10 + (int)rng_below(r, 21); /* the heavy buyers */
    int k = 2 + rng_geometric(r, tail[tier]);
    return k > 30 ? 30 : k;
}

static void history(gen_t *g, member_t *m, ledger_t *l)
{
    rng_t r;
    rng_init(&r, m->idx, ST_HISTORY);
    int32_t now_local = local_day(m->zone, C.now_utc - 1);
    int tenure = now_local - m->join_day;
    int k = history_order_count(&r, m->tier);
    if (k > 1 + tenure / 14) /* nobody orders weekly from day one */
        k = 1 + tenure / 14;

    int64_t t[32];
    for (int i = 0; i < k; i++) {
        if (i == 0 && rng_chance(&r, 0.55)) {
            /* most buy at or right after signing up */
            t[i] = m->join_utc + (rng_chance(&r, 0.7) ? rng_span(&r, 300, 6 * 3600)
                                                      : rng_span(&r, 6 * 3600, 3 * DAY));
        } else {
            t[i] = order_time(&r, m, m->join_day, now_local + 1);
        }
    }
    k = tidy_times(t, k, m->join_utc, C.now_utc);
    place_orders(g, &r, m, l, t, k, 0);

    /* ~15% of members with points redeem some, soon after an order */
    if (l->nb && rng_chance(&r, 0.15)) {
        cand_t c[MAX_CANDS];
        int nc = 0;
        for (int i = 0; i < l->nb; i++)
            if (rng_chance(&r, 0.5) || (i == l->nb - 1 && nc == 0)) {
                int64_t d = rng_chance(&r, 0.6) ? rng_span(&r, 600, 3 * DAY)
                                                 : rng_span(&r, 3 * DAY, 30 * DAY);
                c[nc++] = (cand_t){l->b[i].at + d, l->b[i].pts};
            }
        redeem(g, &r, m, l, c, nc, 0, C.now_utc, 0);
    }

    /* unsubscribed followers: some have the event that explains it */
    if (m->openid[0] && !m->subscribed && rng_chance(&r, 0.2)) {
        int64_t at = rng_span(&r, m->join_utc + 3600, C.now_utc);
        if (at > m->join_utc && at < C.now_utc) {
            ev_t e = make_ev(m, EV_WX_UNSUB, at, ++l->n_reach, 0, 0);
            emit_history(g, &e);
        }
    }
}

/* Tags from traits and from the history just generated; at most 3. */
static unsigned member_tags(rng_t *r, const member_t *m, const ledger_t *l)
{
    int32_t now_local = local_day(m->zone, C.now_utc - 1);
    unsigned t = 0;
    if (now_local - m->join_day <= 30 && rng_chance(r, 0.9))
        t |= 1u << TAG_NEW;
    if (l->spend_cents >= 200000 && rng_chance(r, 0.7))
        t |= 1u << TAG_VALUE;
    if (m->skin)
        t |= 1u << TAG_SKIN;
    if (m->mom)
        t |= 1u << TAG_MOM;
    if (m->student)
        t |= 1u << TAG_STUDENT;
    if (m->price || (l->n_order >= 2 && l->spend_cents / l->n_order < 8000 && rng_chance(r, 0.5)))
        t |= 1u << TAG_PRICE;
    if (m->owl && (l->n_order >= 2 || rng_chance(r, 0.3)))
        t |= 1u << TAG_OWL;
    if (m->source == SRC_STORE && l->n_order >= 3 && rng_chance(r, 0.6))
        t |= 1u << TAG_REGULAR;
    if ((m->source == SRC_TMALL || m->source == SRC_JD) && rng_chance(r, 0.5))
        t |= 1u << TAG_ONLINE;
    /* month 8 without a purchase: the churn warning */
    int64_t since = l->last_order ? l->last_order : m->join_utc;
    if (C.now_utc - since > 240LL * DAY && rng_chance(r, 0.4))
        t |= 1u << TAG_SLEEPING;
    /* keep 3 at random when there are more */
    int n = 0;
    for (int i = 0; i < NTAGS; i++)
        n += (t >> i) & 1;
    while (n > 3) {
        int drop = (int)rng_below(r, (uint32_t)n);
        for (int i = 0; i < NTAGS; i++)
            if ((t >> i) & 1 && drop-- == 0) {
                t &= ~(1u << i);
                break;
            }
        n--;
    }
    return t;
}

static void write_member_row(gen_t *g, const member_t *m, unsigned tags)
{
    char bday[11] = "", store[16], tagstr[64], joined[24];
    if (m->birthday != NO_DATE)
        *put_date(bday, m->birthday) = 0;
    store_string(store, m);
    tags_string(tagstr, tags);
    if (m->join_date_only)
        *put_date(joined, m->join_day) = 0;
    else
        *put_wall(joined, (int64_t)m->join_day * DAY + m->join_secs) = 0;

    char *p = out_begin(&g->csv);
    char id[10];
    *put_mid(id, m->idx) = 0;
    const char *f[17] = {
        id, m->name, m->phone, m->email, m->openid, m->subscribed ? "1" : "0",
        bday, m->gender, ZONES[m->zone].name, joined, TIERS[m->tier], tagstr,
        store, m->sms_opt_out ? "1" : "0", m->email_opt_out ? "1" : "0",
        city_name(m), SOURCES[m->source],
    };
    for (int i = 0; i < 17; i++) {
        if (i)
            *p++ = ',';
        p = put_csv(p, f[i]);
    }
    *p++ = '\n';
    out_end(&g->csv, p);
}

/* Future orders per member-year by tier, tuned so that the whole base
 * (sleepers and joiners included) averages ~0.8. */
static const double FUTURE_RATE[NTIERS] = {0.70, 1.18, 1.79, 2.69};


/* A few reachability changes, each consistent with the member's state:
 * only a reachable, opted-in channel can be opted out of, only a known
 * OpenID can (re)subscribe. */
static void reach(gen_t *g, rng_t *r, const member_t *m, ledger_t *l, int64_t lo)
{
    int64_t from = lo + 3600, end = C.end_utc;
    if (from >= end)
        return;
    if (m->phone[0] && !m->sms_opt_out && rng_chance(r, 0.01))
        push_future(g, make_ev(m, EV_SMS_OUT, rng_span(r, from, end), ++l->n_reach, 0, 0));
    if (m->email[0] && !m->email_opt_out && rng_chance(r, 0.015))
        push_future(g, make_ev(m, EV_EMAIL_OUT, rng_span(r, from, end), ++l->n_reach, 0, 0));
    if (!m->openid[0])
        return;
    if (m->subscribed) {
        if (rng_chance(r, 0.03)) {
            int64_t t1 = rng_span(r, from, end);
            push_future(g, make_ev(m, EV_WX_UNSUB, t1, ++l->n_reach, 0, 0));
            if (t1 + DAY < end && rng_chance(r, 0.2)) /* and came back */
                push_future(g, make_ev(m, EV_WX_SUB, rng_span(r, t1 + DAY, end), ++l->n_reach, 0, 0));
        }
    } else if (rng_chance(r, 0.08)) {
        push_future(g, make_ev(m, EV_WX_SUB, rng_span(r, from, end), ++l->n_reach, 0, 0));
    }
}

static void future(gen_t *g, member_t *m, ledger_t *l, int joiner)
{
    rng_t r;
    rng_init(&r, m->idx, ST_FUTURE);
    int64_t lo = joiner ? m->join_utc : C.now_utc;
    int32_t lo_day = local_day(m->zone, lo), hi_day = local_day(m->zone, C.end_utc - 1) + 1;
    double years = (double)(C.end_utc - lo) / (365.0 * DAY);

    int64_t t[64];
    int k = 0, more;
    if (joiner) {
        /* new members convert best in their first month, most at once */
        if (rng_chance(&r, 0.6)) {
            int days = (int)(30.0 * pow(rng_unit(&r), 2.0));
            t[k++] = days == 0 ? m->join_utc + rng_span(&r, 300, 6 * 3600)
                               : order_time(&r, m, m->join_day + days, m->join_day + days + 1);
        }
        more = rng_poisson(&r, 0.7 * years, 20);
    } else {
        double rate = FUTURE_RATE[m->tier];
        if (!l->nb)
            rate *= 0.5; /* never bought: less likely to start */
        else if (C.now_utc - l->last_order > 240LL * DAY)
            rate *= 0.5; /* sleeping */
        more = rng_poisson(&r, rate * years, 40);
    }
    while (more-- > 0)
        t[k++] = order_time(&r, m, lo_day, hi_day);
    k = tidy_times(t, k, lo, C.end_utc);
    int first_new = l->nb;
    place_orders(g, &r, m, l, t, k, 1);

    cand_t c[MAX_CANDS];
    int nc = 0;
    for (int i = first_new; i < l->nb && nc < MAX_CANDS; i++)
        if (rng_chance(&r, 0.06))
            c[nc++] = (cand_t){l->b[i].at + rng_span(&r, 600, 14 * DAY), l->b[i].pts};
    /* the month-11 "your points expire soon" reminder works on some */
    for (int i = 0; i < l->nb && nc < MAX_CANDS; i++) {
        int64_t x = batch_expiry(&l->b[i]);
        if (x > lo && x <= C.end_utc && rng_chance(&r, 0.08))
            c[nc++] = (cand_t){x - rng_span(&r, DAY, 30 * DAY), l->b[i].pts};
    }
    redeem(g, &r, m, l, c, nc, lo, C.end_utc, 1);
    reach(g, &r, m, l, lo);
}

static void ledger_reset(ledger_t *l)
{
    l->nb = 0;
    l->redeemed = 0;
    l->last_redeem = INT64_MIN;
    l->n_order = l->n_redeem = l->n_reach = 0;
    l->spend_cents = 0;
    l->last_order = 0;
}

static int cmp_ev(const void *x, const void *y)
{
    const ev_t *a = x, *b = y;
    if (a->utc != b->utc)
        return a->utc < b->utc ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ------------------------------------------------------------------ */
/* Command line */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gen --members N [--seed S] [--out DIR] [--now YYYY-MM-DD]\n"
            "           [--future-days D] [--tz-mix]\n"
            "  writes DIR/members.csv, DIR/history.jsonl, DIR/future.jsonl\n"
            "  defaults: --seed 42 --out . --now 2026-11-23 --future-days 365\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

/* strict YYYY-MM-DD, a real date, years 1900..9000 */
static int parse_date(const char *s, int32_t *day)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 1900 || y > 9000 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    *day = days_from_civil(y, m, d);
    return 0;
}

/* mkdir -p */
static void make_dirs(const char *dir)
{
    char *p = malloc(strlen(dir) + 1);
    if (!p)
        die("out of memory");
    strcpy(p, dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                die("cannot create directory %s: %s", p, strerror(errno));
            *s = '/';
        }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        die("cannot create directory %s: %s", p, strerror(errno));
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
        die("%s is not a directory", p);
    free(p);
}

static int bad_arg(const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "gen: %s %s: expected %s\n", opt, val ? val : "(missing)", want);
    usage(stderr);
    return 2;
}

/* ------------------------------------------------------------------ */

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    C.seed = 42;
    C.out = ".";
    C.future_days = 365;
    parse_date("2026-11-23", &C.now_day);
    int have_members = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        /* both "--opt value" and "--opt=value" */
        char opt[32];
        const char *val = NULL, *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (n >= sizeof opt)
            n = sizeof opt - 1;
        memcpy(opt, a, n);
        opt[n] = 0;
        int takes = !strcmp(opt, "--members") || !strcmp(opt, "--seed") || !strcmp(opt, "--out") ||
                    !strcmp(opt, "--now") || !strcmp(opt, "--future-days");
        if (takes)
            val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        else if (eq) {
            fprintf(stderr, "gen: %s takes no value\n", opt);
            usage(stderr);
            return 2;
        }
        uint64_t v;
        if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(opt, "--members")) {
            if (parse_u64(val, &v) || v > MAX_MEMBERS)
                return bad_arg(opt, val, "a member count 0..50000000");
            C.members = (uint32_t)v;
            have_members = 1;
        } else if (!strcmp(opt, "--seed")) {
            if (parse_u64(val, &v))
                return bad_arg(opt, val, "an unsigned 64-bit integer");
            C.seed = v;
        } else if (!strcmp(opt, "--out")) {
            if (!val || !*val)
                return bad_arg(opt, val, "a directory");
            C.out = val;
        } else if (!strcmp(opt, "--now")) {
            if (parse_date(val, &C.now_day))
                return bad_arg(opt, val, "a date YYYY-MM-DD");
        } else if (!strcmp(opt, "--future-days")) {
            if (parse_u64(val, &v) || v > MAX_FUTURE)
                return bad_arg(opt, val, "a number of days 0..3650");
            C.future_days = (int)v;
        } else if (!strcmp(opt, "--tz-mix")) {
            C.tz_mix = 1;
        } else {
            fprintf(stderr, "gen: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!have_members) {
        fprintf(stderr, "gen: --members N is required\n");
        usage(stderr);
        return 2;
    }

    C.now_utc = (int64_t)C.now_day * DAY - 8 * 3600;
    C.end_utc = C.now_utc + (int64_t)C.future_days * DAY;
    /* ~6% of the base joins per year of window */
    C.joiners = (uint32_t)llround(C.members * 0.06 * C.future_days / 365.0);
    build_day_tables();
    make_dirs(C.out);

    static gen_t g; /* static: zeroed, and keeps the big struct off the stack */
    out_open(&g.csv, C.out, "members.csv");
    out_open(&g.hist, C.out, "history.jsonl");
    out_open(&g.fut, C.out, "future.jsonl");
    out_end(&g.csv, put_s(out_begin(&g.csv),
                          "id,name,phone,email,wechat_openid,wechat_subscribed,birthday,gender,tz,"
                          "joined_at,tier,tags,store,sms_opt_out,email_opt_out,city,source\n"));

    static ledger_t l;
    member_t m;
    for (uint32_t idx = 1; idx <= C.members; idx++) {
        make_profile(idx, 0, &m);
        draw_join_existing(&m);
        ledger_reset(&l);
        history(&g, &m, &l);
        rng_t r;
        rng_init(&r, idx, ST_TAGS);
        write_member_row(&g, &m, member_tags(&r, &m, &l));
        future(&g, &m, &l, 0);
    }
    for (uint32_t j = 1; j <= C.joiners; j++) {
        make_profile(C.members + j, 1, &m);
        draw_join_future(&m);
        ledger_reset(&l);
        push_future(&g, make_ev(&m, EV_JOIN, m.join_utc, 0, 0, 0));
        future(&g, &m, &l, 1);
    }

    /* the simulator replays future.jsonl in order: sort by instant, ties
     * in generation order (an order before its points) */
    if (g.nfev) /* qsort wants a non-NULL base even for no elements */
        qsort(g.fev, g.nfev, sizeof *g.fev, cmp_ev);
    for (size_t i = 0; i < g.nfev; i++) {
        if (g.fev[i].type == EV_ORDER)
            g.fev[i].b = ++g.order_no;
        out_end(&g.fut, put_event(out_begin(&g.fut), &g.fev[i]));
    }

    out_close(&g.csv);
    out_close(&g.hist);
    out_close(&g.fut);
    free(g.fev);
    free(cum_act);
    free(cum_join);

    fprintf(stderr, "gen: %u members (+%u joining), %llu history events, %llu future events, %.2f s\n",
            C.members, C.joiners, (unsigned long long)g.n_hist, (unsigned long long)g.nfev,
            elapsed(&t0));
    return 0;
}
