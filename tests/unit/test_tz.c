/* test_tz.c - zones, DST edges, ISO 8601 formatting and parsing */
#include "cal.h"
#include "tz.h"
#include "util.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A UTC instant from its calendar fields. */
static int64_t U(int y, int mo, int d, int h, int mi, int s)
{
    return (int64_t)cal_from_ymd(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static const char *iso(const tz_t *tz, int64_t utc)
{
    static char out[32];
    tz_format_iso(tz, utc, out);
    return out;
}

static const tz_t *get(const char *name)
{
    char err[ERRLEN] = "";
    const tz_t *tz = tz_get(name, err);
    if (!tz) fprintf(stderr, "tz_get(%s): %s\n", name, err);
    CHECK(tz != NULL);
    return tz;
}

static void test_env_untouched(void)
{
    /* Loading a zone must not leak its TZ into the rest of the process. */
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    const tz_t *ny = get("America/New_York");
    CHECK_EQ_STR(getenv("TZ"), "Europe/Paris");
    time_t t = (time_t)U(2027, 7, 1, 12, 0, 0);
    struct tm tm;
    localtime_r(&t, &tm);
    CHECK_EQ_INT(tm.tm_gmtoff, 7200); /* still Paris summer time */
    CHECK_EQ_INT(tz_offset_at(ny, t), -4 * 3600);

    unsetenv("TZ");
    tzset();
    get("Europe/London");
    CHECK(getenv("TZ") == NULL);
}

static void test_get(void)
{
    char err[ERRLEN] = "";
    const tz_t *a = get("Asia/Shanghai");
    CHECK(a == tz_get("Asia/Shanghai", err)); /* cached */
    CHECK_EQ_STR(tz_name(a), "Asia/Shanghai");

    CHECK(tz_get("Asia/Shangai", err) == NULL);
    CHECK_EQ_STR(err, "unknown time zone 'Asia/Shangai'");
    err[0] = '\0';
    CHECK(tz_get("../etc/passwd", err) == NULL);
    CHECK(err[0] != '\0');
    err[0] = '\0';
    CHECK(tz_get("Asia/../../../etc/passwd", err) == NULL);
    CHECK(err[0] != '\0');
    err[0] = '\0';
    CHECK(tz_get("/etc/passwd", err) == NULL);
    CHECK(err[0] != '\0');
    err[0] = '\0';
    CHECK(tz_get("", err) == NULL);
    CHECK(err[0] != '\0');
    err[0] = '\0';
    CHECK(tz_get("Asia", err) == NULL); /* a directory */
    CHECK_EQ_STR(err, "unknown time zone 'Asia'");
    err[0] = '\0';
    CHECK(tz_get("zone.tab", err) == NULL); /* a file, but not TZif */
    CHECK(err[0] != '\0');
}

static void test_fixed(void)
{
    const tz_t *sh = get("Asia/Shanghai");
    CHECK_EQ_STR(iso(sh, U(2027, 1, 22, 2, 0, 0)), "2027-01-22T10:00:00+08:00");
    CHECK_EQ_INT(tz_offset_at(sh, U(2027, 7, 1, 0, 0, 0)), 8 * 3600);
    CHECK_EQ_INT(tz_local_to_utc(sh, cal_from_ymd(2027, 1, 22), 10 * 3600), U(2027, 1, 22, 2, 0, 0));
    /* LMT before 1901 has seconds; only the text rounds to minutes. */
    CHECK_EQ_INT(tz_offset_at(sh, U(1900, 1, 1, 0, 0, 0)), 29143);
    CHECK_EQ_STR(iso(sh, U(1900, 1, 1, 0, 0, 0)), "1900-01-01T08:06:00+08:06");

    const tz_t *in = get("Asia/Kolkata");
    CHECK_EQ_INT(tz_offset_at(in, U(2027, 1, 1, 0, 0, 0)), 19800);
    CHECK_EQ_STR(iso(in, U(2027, 1, 22, 2, 0, 0)), "2027-01-22T07:30:00+05:30");
    CHECK_EQ_INT(tz_local_to_utc(in, cal_from_ymd(2027, 1, 22), 0), U(2027, 1, 21, 18, 30, 0));

    const tz_t *utc = get("UTC");
    CHECK_EQ_STR(tz_name(utc), "UTC");
    CHECK_EQ_INT(tz_offset_at(utc, U(2027, 7, 1, 0, 0, 0)), 0);
    CHECK_EQ_STR(iso(utc, U(2027, 1, 22, 2, 0, 0)), "2027-01-22T02:00:00+00:00");
    CHECK_EQ_STR(iso(utc, -1), "1969-12-31T23:59:59+00:00");
    CHECK_EQ_INT(tz_local_to_utc(utc, 1, 5), 86405);
}

static void test_new_york(void)
{
    const tz_t *ny = get("America/New_York");
    int32_t mar14 = cal_from_ymd(2027, 3, 14), nov7 = cal_from_ymd(2027, 11, 7);

    /* spring forward at 07:00Z */
    CHECK_EQ_INT(tz_offset_at(ny, U(2027, 3, 14, 6, 59, 59)), -5 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(2027, 3, 14, 7, 0, 0)), -4 * 3600);
    CHECK_EQ_STR(iso(ny, U(2027, 3, 14, 6, 59, 59)), "2027-03-14T01:59:59-05:00");
    CHECK_EQ_STR(iso(ny, U(2027, 3, 14, 7, 0, 0)), "2027-03-14T03:00:00-04:00");
    CHECK_EQ_INT(tz_local_to_utc(ny, mar14, 1 * 3600 + 59 * 60 + 59), U(2027, 3, 14, 6, 59, 59));
    CHECK_EQ_INT(tz_local_to_utc(ny, mar14, 3 * 3600), U(2027, 3, 14, 7, 0, 0));
    /* 02:30 does not exist: moved forward by the gap to 03:30 EDT */
    CHECK_EQ_INT(tz_local_to_utc(ny, mar14, 2 * 3600 + 30 * 60), U(2027, 3, 14, 7, 30, 0));
    CHECK_EQ_INT(tz_local_to_utc(ny, mar14, 2 * 3600), U(2027, 3, 14, 7, 0, 0));
    CHECK_EQ_STR(iso(ny, tz_local_to_utc(ny, mar14, 2 * 3600 + 30 * 60)), "2027-03-14T03:30:00-04:00");

    /* fall back at 06:00Z */
    CHECK_EQ_INT(tz_offset_at(ny, U(2027, 11, 7, 5, 59, 59)), -4 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(2027, 11, 7, 6, 0, 0)), -5 * 3600);
    CHECK_EQ_STR(iso(ny, U(2027, 11, 7, 5, 30, 0)), "2027-11-07T01:30:00-04:00");
    CHECK_EQ_STR(iso(ny, U(2027, 11, 7, 6, 30, 0)), "2027-11-07T01:30:00-05:00");
    /* 01:30 happens twice: the first (EDT) wins */
    CHECK_EQ_INT(tz_local_to_utc(ny, nov7, 1 * 3600 + 30 * 60), U(2027, 11, 7, 5, 30, 0));
    CHECK_EQ_INT(tz_local_to_utc(ny, nov7, 1 * 3600), U(2027, 11, 7, 5, 0, 0));
    CHECK_EQ_INT(tz_local_to_utc(ny, nov7, 59 * 60), U(2027, 11, 7, 4, 59, 0));
    CHECK_EQ_INT(tz_local_to_utc(ny, nov7, 2 * 3600), U(2027, 11, 7, 7, 0, 0));

    CHECK_EQ_STR(iso(ny, U(2027, 1, 22, 15, 0, 0)), "2027-01-22T10:00:00-05:00");
    CHECK_EQ_STR(iso(ny, U(2027, 7, 4, 16, 0, 0)), "2027-07-04T12:00:00-04:00");
    /* history: DST in 1960, and the 1883 switch from LMT */
    CHECK_EQ_INT(tz_offset_at(ny, U(1960, 6, 1, 3, 0, 0)), -4 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(1883, 11, 18, 17, 0, 0)), -5 * 3600);
    /* the far future still follows the rules */
    CHECK_EQ_INT(tz_offset_at(ny, U(2150, 7, 1, 0, 0, 0)), -4 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(2150, 1, 1, 0, 0, 0)), -5 * 3600);

    /* every hour of 2027 round-trips, except the repeated hour's second pass */
    int bad = 0;
    for (int64_t u = U(2027, 1, 1, 0, 0, 0); u < U(2028, 1, 1, 0, 0, 0); u += 1800) {
        int64_t back = tz_local_to_utc(ny, tz_local_day(ny, u), tz_local_secs(ny, u));
        int second_pass = u >= U(2027, 11, 7, 6, 0, 0) && u < U(2027, 11, 7, 7, 0, 0);
        if (second_pass ? back != u - 3600 : back != u) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_london_sydney(void)
{
    const tz_t *ld = get("Europe/London");
    CHECK_EQ_INT(tz_offset_at(ld, U(2027, 3, 28, 0, 59, 59)), 0);
    CHECK_EQ_INT(tz_offset_at(ld, U(2027, 3, 28, 1, 0, 0)), 3600);
    CHECK_EQ_INT(tz_offset_at(ld, U(2027, 10, 31, 0, 59, 59)), 3600);
    CHECK_EQ_INT(tz_offset_at(ld, U(2027, 10, 31, 1, 0, 0)), 0);
    CHECK_EQ_STR(iso(ld, U(2027, 1, 22, 10, 0, 0)), "2027-01-22T10:00:00+00:00");
    CHECK_EQ_STR(iso(ld, U(2027, 7, 1, 12, 0, 0)), "2027-07-01T13:00:00+01:00");
    CHECK_EQ_INT(tz_local_to_utc(ld, cal_from_ymd(2027, 3, 28), 3600 + 1800), U(2027, 3, 28, 1, 30, 0));
    CHECK_EQ_INT(tz_local_to_utc(ld, cal_from_ymd(2027, 10, 31), 3600 + 1800), U(2027, 10, 31, 0, 30, 0));

    /* southern hemisphere: summer time in January */
    const tz_t *sy = get("Australia/Sydney");
    CHECK_EQ_INT(tz_offset_at(sy, U(2027, 1, 15, 0, 0, 0)), 11 * 3600);
    CHECK_EQ_INT(tz_offset_at(sy, U(2027, 7, 15, 0, 0, 0)), 10 * 3600);
    CHECK_EQ_INT(tz_offset_at(sy, U(2027, 4, 3, 15, 59, 59)), 11 * 3600);
    CHECK_EQ_INT(tz_offset_at(sy, U(2027, 4, 3, 16, 0, 0)), 10 * 3600);
    CHECK_EQ_INT(tz_offset_at(sy, U(2027, 10, 2, 15, 59, 59)), 10 * 3600);
    CHECK_EQ_INT(tz_offset_at(sy, U(2027, 10, 2, 16, 0, 0)), 11 * 3600);
    CHECK_EQ_STR(iso(sy, U(2027, 1, 22, 2, 0, 0)), "2027-01-22T13:00:00+11:00");
    CHECK_EQ_STR(iso(sy, U(2027, 7, 22, 2, 0, 0)), "2027-07-22T12:00:00+10:00");
    /* 02:30 on 2027-10-03 is in the gap -> 03:30 AEDT; 02:30 on 04-04 twice -> AEDT */
    CHECK_EQ_INT(tz_local_to_utc(sy, cal_from_ymd(2027, 10, 3), 2 * 3600 + 1800), U(2027, 10, 2, 16, 30, 0));
    CHECK_EQ_INT(tz_local_to_utc(sy, cal_from_ymd(2027, 4, 4), 2 * 3600 + 1800), U(2027, 4, 3, 15, 30, 0));
}

static void test_local_day(void)
{
    const tz_t *ny = get("America/New_York"), *sh = get("Asia/Shanghai");
    /* 04:30Z is still the previous evening in New York */
    int64_t u = U(2027, 1, 22, 4, 30, 0);
    CHECK_EQ_INT(tz_local_day(ny, u), cal_from_ymd(2027, 1, 21));
    CHECK_EQ_INT(tz_local_secs(ny, u), 23 * 3600 + 30 * 60);
    CHECK_EQ_INT(tz_local_day(ny, U(2027, 1, 22, 5, 0, 0)), cal_from_ymd(2027, 1, 22));
    CHECK_EQ_INT(tz_local_secs(ny, U(2027, 1, 22, 5, 0, 0)), 0);
    /* 16:30Z is already the next day in Shanghai */
    u = U(2027, 1, 21, 16, 30, 0);
    CHECK_EQ_INT(tz_local_day(sh, u), cal_from_ymd(2027, 1, 22));
    CHECK_EQ_INT(tz_local_secs(sh, u), 30 * 60);
    CHECK_EQ_INT(tz_local_day(sh, U(2027, 1, 21, 15, 59, 59)), cal_from_ymd(2027, 1, 21));
    CHECK_EQ_INT(tz_local_secs(sh, U(2027, 1, 21, 15, 59, 59)), 86399);
    /* before 1970 */
    CHECK_EQ_INT(tz_local_day(sh, -3600), 0);
    CHECK_EQ_INT(tz_local_secs(sh, -3600), 7 * 3600);
    CHECK_EQ_INT(tz_local_day(ny, U(1960, 6, 1, 3, 0, 0)), cal_from_ymd(1960, 5, 31));
    CHECK_EQ_INT(tz_local_secs(ny, U(1960, 6, 1, 3, 0, 0)), 23 * 3600);
    const tz_t *utc = get("UTC");
    CHECK_EQ_INT(tz_local_day(utc, -1), -1);
    CHECK_EQ_INT(tz_local_secs(utc, -1), 86399);
}

static void test_parse(void)
{
    const tz_t *sh = get("Asia/Shanghai"), *ny = get("America/New_York");
    char err[ERRLEN];
    int64_t u = 0;
    int d = -1;

#define OK(s, tz, want, want_d) do { \
    err[0] = '\0'; u = 0; d = -1; \
    CHECK_EQ_INT(tz_parse_time(s, tz, &u, &d, err), 0); \
    CHECK_EQ_STR(err, ""); \
    CHECK_EQ_INT(u, want); \
    CHECK_EQ_INT(d, want_d); \
} while (0)

    OK("2027-01-22", sh, U(2027, 1, 21, 16, 0, 0), 1);
    OK("2027-01-22", ny, U(2027, 1, 22, 5, 0, 0), 1);
    OK("2027-01-22T10:00", sh, U(2027, 1, 22, 2, 0, 0), 0);
    OK("2027-01-22 10:00", sh, U(2027, 1, 22, 2, 0, 0), 0);
    OK("2027-01-22T10:00:05", sh, U(2027, 1, 22, 2, 0, 5), 0);
    OK("2027-01-22 10:00:05", sh, U(2027, 1, 22, 2, 0, 5), 0);
    OK("2027-01-22T10:00:05.123", sh, U(2027, 1, 22, 2, 0, 5), 0);
    OK("2027-01-22T10:00:05.999999+08:00", ny, U(2027, 1, 22, 2, 0, 5), 0);
    OK("2027-01-22T10:00:00Z", sh, U(2027, 1, 22, 10, 0, 0), 0);
    OK("2027-01-22T10:00Z", sh, U(2027, 1, 22, 10, 0, 0), 0);
    OK("2027-01-22T10:00:00+08:00", ny, U(2027, 1, 22, 2, 0, 0), 0);
    OK("2027-01-22T10:00:00+0800", ny, U(2027, 1, 22, 2, 0, 0), 0);
    OK("2027-01-22T10:00:00+08", ny, U(2027, 1, 22, 2, 0, 0), 0);
    OK("2027-01-22T10:00+05:30", sh, U(2027, 1, 22, 4, 30, 0), 0);
    OK("2027-01-22T10:00:00-05:00", sh, U(2027, 1, 22, 15, 0, 0), 0);
    OK("2027-01-22 10:00:00-0500", sh, U(2027, 1, 22, 15, 0, 0), 0);
    OK("2027-01-22T10:00:00+00:00", sh, U(2027, 1, 22, 10, 0, 0), 0);
    OK("2027-12-31T23:59:60Z", sh, U(2027, 12, 31, 23, 59, 59), 0);
    OK("2027-03-14T02:30", ny, U(2027, 3, 14, 7, 30, 0), 0);
    OK("2027-11-07T01:30", ny, U(2027, 11, 7, 5, 30, 0), 0);
    OK("1969-12-31T23:00Z", ny, -3600, 0);
    OK("2027-01-22T10:00", NULL, U(2027, 1, 22, 10, 0, 0), 0); /* no zone: UTC */
#undef OK

    /* date_only may be NULL */
    CHECK_EQ_INT(tz_parse_time("2027-01-22", sh, &u, NULL, err), 0);
    CHECK_EQ_INT(u, U(2027, 1, 21, 16, 0, 0));
    CHECK_EQ_INT(tz_parse_time("2027-01-22T10:00Z", sh, &u, NULL, err), 0);
    CHECK_EQ_INT(u, U(2027, 1, 22, 10, 0, 0));
    /* an ISO string tz_format_iso wrote parses back to the same instant */
    CHECK_EQ_INT(tz_parse_time(iso(ny, U(2027, 11, 7, 6, 30, 0)), sh, &u, NULL, err), 0);
    CHECK_EQ_INT(u, U(2027, 11, 7, 6, 30, 0));

#define BAD(s) do { \
    err[0] = '\0'; \
    CHECK_EQ_INT(tz_parse_time(s, sh, &u, &d, err), -1); \
    CHECK(err[0] != '\0'); \
} while (0)

    BAD("abc");
    CHECK_EQ_STR(err, "'abc' is not an ISO 8601 date or time");
    BAD("2027-02-30");
    CHECK_EQ_STR(err, "'2027-02-30' is not a valid date");
    BAD("2027-01-01T25:00");
    CHECK_EQ_STR(err, "'2027-01-01T25:00' has an invalid time of day");
    BAD("");
    BAD("2027-13-01");
    BAD("2027-00-10T10:00");
    BAD("2027-1-01");
    BAD("2027-01-1");
    BAD("27-01-01");
    BAD("2027/01/01");
    BAD("2027-01-01T");
    BAD("2027-01-01T10");
    BAD("2027-01-01T10:0");
    BAD("2027-01-01T1:00");
    BAD("2027-01-01X10:00");
    BAD("2027-01-01T24:00");
    BAD("2027-01-01T10:60");
    BAD("2027-01-01T10:00:61");
    BAD("2027-01-01T10:00:5");
    BAD("2027-01-01T10:00:00.");
    BAD("2027-01-01T10:00:00.12a");
    BAD("2027-01-01T10:00+8");
    BAD("2027-01-01T10:00+08:");
    BAD("2027-01-01T10:00+08:0");
    BAD("2027-01-01T10:00+08:000");
    BAD("2027-01-01T10:00+24:00");
    BAD("2027-01-01T10:00+08:60");
    BAD("2027-01-01T10:00Zjunk");
    BAD("2027-01-01T10:00 ");
    BAD("2027-01-01 ");
    BAD("2027-01-01Z");
    BAD(" 2027-01-01");
    CHECK_EQ_INT(tz_parse_time(NULL, sh, &u, &d, err), -1);
#undef BAD
}

/* tz_format_iso writes its digits itself: the same text as the printf
 * format it replaced, for instants across centuries and zones on both
 * sides of UTC, including historical offsets with seconds */
static void test_format_like_printf(void)
{
    const char *zones[] = {"UTC", "Asia/Shanghai", "America/New_York", "America/St_Johns", "Asia/Kolkata",
                           "Australia/Sydney", "Europe/London", "Pacific/Kiritimati"};
    int bad = 0, n = 0;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        const tz_t *tz = get(zones[z]);
        if (!tz) continue;
        uint64_t x = 88172645463325252ULL;
        for (int i = 0; i < 4000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;   /* xorshift: instants from 1900 to 2199 */
            int64_t utc = U(1900, 1, 1, 0, 0, 0) + (int64_t)(x % (uint64_t)(U(2199, 12, 31, 0, 0, 0) - U(1900, 1, 1, 0, 0, 0)));
            int off = tz_offset_at(tz, utc);
            int aoff = off < 0 ? -off : off, omin = (aoff + 30) / 60;
            int64_t local = utc + (off < 0 ? -1 : 1) * (int64_t)omin * 60;
            int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
            int secs = (int)(local - day * 86400), y, m, d;
            cal_to_ymd((int32_t)day, &y, &m, &d);
            char want[64];
            snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, m, d, secs / 3600,
                     secs / 60 % 60, secs % 60, off < 0 ? '-' : '+', omin / 60, omin % 60);
            n++;
            if (strcmp(iso(tz, utc), want) != 0 && bad++ < 3)
                fprintf(stderr, "%s %lld: %s, want %s\n", zones[z], (long long)utc, iso(tz, utc), want);
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(n >= 4000);
    CHECK_EQ_STR(iso(get("America/St_Johns"), U(2027, 1, 22, 10, 0, 0)), "2027-01-22T06:30:00-03:30");
    CHECK_EQ_STR(iso(get("Asia/Shanghai"), U(999, 3, 4, 5, 6, 7)), "0999-03-04T13:12:07+08:06");
}

/* past 2040 the zone is sampled weekly: its rule's changes still fall
 * on the second they happen */
static void test_far_future(void)
{
    const tz_t *ny = get("America/New_York"), *syd = get("Australia/Sydney");
    if (!ny || !syd) return;
    CHECK_EQ_INT(tz_offset_at(ny, U(2050, 3, 13, 6, 59, 59)), -5 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(2050, 3, 13, 7, 0, 0)), -4 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(2050, 11, 6, 5, 59, 59)), -4 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(2050, 11, 6, 6, 0, 0)), -5 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(2199, 3, 10, 7, 0, 0)), -4 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(2199, 11, 3, 5, 59, 59)), -4 * 3600);
    CHECK_EQ_INT(tz_offset_at(ny, U(2199, 11, 3, 6, 0, 0)), -5 * 3600);
    CHECK_EQ_INT(tz_offset_at(syd, U(2150, 4, 4, 15, 59, 59)), 11 * 3600);
    CHECK_EQ_INT(tz_offset_at(syd, U(2150, 4, 4, 16, 0, 0)), 10 * 3600);
    /* and every sampled instant agrees with the C library's own answer */
    int bad = 0;
    const char *names[] = {"America/New_York", "Australia/Sydney", "Europe/London", "America/Santiago"};
    for (int z = 0; z < 4; z++) {
        const tz_t *tz = get(names[z]);
        if (!tz) continue;
        char spec[128];
        snprintf(spec, sizeof spec, ":/usr/share/zoneinfo/%s", names[z]);
        setenv("TZ", spec, 1);
        tzset();
        for (int64_t t = U(2035, 1, 1, 0, 0, 0); t < U(2060, 1, 1, 0, 0, 0); t += 3 * 3600 + 17) {
            time_t tt = (time_t)t;
            struct tm tm;
            localtime_r(&tt, &tm);
            if (tm.tm_gmtoff != tz_offset_at(tz, t) && bad++ < 3)
                fprintf(stderr, "%s at %lld: %d, the C library says %ld\n", names[z], (long long)t,
                        tz_offset_at(tz, t), (long)tm.tm_gmtoff);
        }
    }
    unsetenv("TZ");
    tzset();
    CHECK_EQ_INT(bad, 0);
}

/* The shortest change-and-back in the system's tzdata: Tunis went back
 * to CET for eight days in April 1943. A zone is sampled weekly, so this
 * must still show; coarser sampling would lose it. */
static void test_short_excursion(void)
{
    const tz_t *tn = get("Africa/Tunis");
    CHECK_EQ_INT(tz_offset_at(tn, U(1943, 4, 16, 12, 0, 0)), 7200);
    CHECK_EQ_INT(tz_offset_at(tn, U(1943, 4, 16, 23, 59, 59)), 7200);
    CHECK_EQ_INT(tz_offset_at(tn, U(1943, 4, 17, 0, 0, 0)), 3600);
    CHECK_EQ_INT(tz_offset_at(tn, U(1943, 4, 21, 12, 0, 0)), 3600);
    CHECK_EQ_INT(tz_offset_at(tn, U(1943, 4, 25, 0, 59, 59)), 3600);
    CHECK_EQ_INT(tz_offset_at(tn, U(1943, 4, 25, 1, 0, 0)), 7200);
    CHECK_EQ_INT(tz_offset_at(tn, U(1943, 5, 1, 0, 0, 0)), 7200);
}

int main(void)
{
    test_format_like_printf();
    test_far_future();
    test_env_untouched();
    test_get();
    test_fixed();
    test_short_excursion();
    test_new_york();
    test_london_sydney();
    test_local_day();
    test_parse();
    tz_free_all();
    T_DONE();
}
