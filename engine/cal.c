/* cal.c - see cal.h
 *
 * Day numbers use Howard Hinnant's days_from_civil / civil_from_days
 * (http://howardhinnant.github.io/date_algorithms.html): the year is
 * shifted to start in March so the leap day is last, and 400-year eras
 * make negative days work with plain integer division. Internals use
 * int64_t so no int32_t input can overflow an intermediate. */
#include "cal.h"

#include <stdint.h>
#include <string.h>

int cal_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int cal_days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12) return 0;
    return m == 2 && cal_is_leap(y) ? 29 : dim[m - 1];
}

/* Floor division: -1 / 400 must be -1, not 0. */
static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = floordiv(y, 400);
    int64_t yoe = y - era * 400;                                  /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

int32_t cal_from_ymd(int y, int m, int d)
{
    return (int32_t)days_from_civil(y, m, d);
}

void cal_to_ymd(int32_t day, int *y, int *m, int *d)
{
    int64_t yy, mm, dd;
    civil_from_days(day, &yy, &mm, &dd);
    *y = (int)yy;
    *m = (int)mm;
    *d = (int)dd;
}

int cal_valid_ymd(int y, int m, int d)
{
    return m >= 1 && m <= 12 && d >= 1 && d <= cal_days_in_month(y, m);
}

int32_t cal_add_months(int32_t day, int months)
{
    int y, m, d;
    cal_to_ymd(day, &y, &m, &d);
    /* Months since year 0, so year rollover in either direction is one
     * floor division. */
    int64_t idx = (int64_t)y * 12 + (m - 1) + months;
    int ny = (int)floordiv(idx, 12);
    int nm = (int)(idx - (int64_t)ny * 12) + 1;
    int last = cal_days_in_month(ny, nm);
    return cal_from_ymd(ny, nm, d > last ? last : d);
}

int cal_weekday(int32_t day)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0). */
    int64_t w = ((int64_t)day + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

/* n ASCII digits at s as a number, or -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int cal_parse_date(const char *s, size_t len, int32_t *day)
{
    if (!s || len != 10 || s[4] != '-' || s[7] != '-') return -1;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 0 || m < 0 || d < 0 || !cal_valid_ymd(y, m, d)) return -1;
    *day = cal_from_ymd(y, m, d);
    return 0;
}

static void put_digits(char *out, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void cal_format_date(int32_t day, char *out)
{
    int y, m, d;
    cal_to_ymd(day, &y, &m, &d);
    /* The format has room for four year digits only; clamp rather than
     * overrun the caller's 11 bytes for days no parser can produce. */
    if (y < 0) y = 0;
    if (y > 9999) y = 9999;
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = '\0';
}

int cal_parse_hhmm(const char *s, int *minutes)
{
    if (!s || s[0] == '\0' || s[1] == '\0' || s[2] != ':' || s[3] == '\0' ||
        s[4] == '\0' || s[5] != '\0')
        return -1;
    int h = digits(s, 2), m = digits(s + 3, 2);
    if (h < 0 || m < 0 || h > 23 || m > 59) return -1;
    *minutes = h * 60 + m;
    return 0;
}

int cal_parse_hours(const char *s, int *from, int *to)
{
    if (s && strcmp(s, "off") == 0) {
        *from = *to = 0;
        return 0;
    }
    char a[6], b[6];
    if (!s || strlen(s) != 11 || s[5] != '-') return -1;
    memcpy(a, s, 5);
    memcpy(b, s + 6, 5);
    a[5] = b[5] = '\0';
    int fm, tm;
    if (cal_parse_hhmm(a, &fm) != 0 || cal_parse_hhmm(b, &tm) != 0 || fm == tm) return -1;
    *from = fm * 60;
    *to = tm * 60;
    return 0;
}
