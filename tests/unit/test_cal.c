/* test_cal.c - day-number calendar arithmetic */
#include "cal.h"
#include "t.h"

static int32_t D(int y, int m, int d)
{
    return cal_from_ymd(y, m, d);
}

static const char *fmt(int32_t day)
{
    static char out[11];
    cal_format_date(day, out);
    return out;
}

static void test_leap(void)
{
    CHECK(!cal_is_leap(1900));
    CHECK(cal_is_leap(2000));
    CHECK(cal_is_leap(2024));
    CHECK(!cal_is_leap(2026));
    CHECK(!cal_is_leap(2100));
    CHECK(cal_is_leap(1600));
    CHECK_EQ_INT(cal_days_in_month(1900, 2), 28);
    CHECK_EQ_INT(cal_days_in_month(2000, 2), 29);
    CHECK_EQ_INT(cal_days_in_month(2024, 2), 29);
    CHECK_EQ_INT(cal_days_in_month(2027, 2), 28);
    CHECK_EQ_INT(cal_days_in_month(2026, 4), 30);
    CHECK_EQ_INT(cal_days_in_month(2026, 12), 31);
    CHECK_EQ_INT(cal_days_in_month(2026, 13), 0);
}

static void test_day_numbers(void)
{
    CHECK_EQ_INT(D(1970, 1, 1), 0);
    CHECK_EQ_INT(D(1970, 1, 2), 1);
    CHECK_EQ_INT(D(1969, 12, 31), -1);
    CHECK_EQ_INT(D(2000, 3, 1), 11017);
    CHECK_EQ_INT(D(1900, 1, 1), -25567);
    CHECK_EQ_INT(D(2026, 11, 23), 20780);
    CHECK_EQ_INT(D(1, 1, 1), -719162);

    /* Every day 1900..2100 round-trips and days are consecutive. */
    int bad = 0, n = 0;
    int32_t expect = D(1900, 1, 1);
    for (int y = 1900; y <= 2100; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= cal_days_in_month(y, m); d++) {
                int32_t day = D(y, m, d);
                int yy, mm, dd;
                cal_to_ymd(day, &yy, &mm, &dd);
                if (day != expect || yy != y || mm != m || dd != d || !cal_valid_ymd(y, m, d))
                    bad++;
                expect++;
                n++;
            }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(n, D(2101, 1, 1) - D(1900, 1, 1));

    int y, m, d;
    cal_to_ymd(-1, &y, &m, &d);
    CHECK(y == 1969 && m == 12 && d == 31);
    cal_to_ymd(D(-4, 2, 29), &y, &m, &d); /* 5 BC (year -4) was a leap year */
    CHECK(y == -4 && m == 2 && d == 29);
    CHECK(!cal_valid_ymd(2027, 2, 29));
    CHECK(!cal_valid_ymd(2026, 0, 1));
    CHECK(!cal_valid_ymd(2026, 1, 0));
    CHECK(!cal_valid_ymd(2026, 4, 31));
}

static void test_add_months(void)
{
    CHECK_EQ_STR(fmt(cal_add_months(D(2026, 6, 30), 8)), "2027-02-28");
    CHECK_EQ_STR(fmt(cal_add_months(D(2024, 1, 31), 1)), "2024-02-29");
    CHECK_EQ_STR(fmt(cal_add_months(D(2023, 1, 31), 1)), "2023-02-28");
    CHECK_EQ_STR(fmt(cal_add_months(D(2026, 1, 31), 3)), "2026-04-30");
    CHECK_EQ_STR(fmt(cal_add_months(D(2026, 5, 15), 0)), "2026-05-15");
    CHECK_EQ_STR(fmt(cal_add_months(D(2026, 12, 15), 1)), "2027-01-15");
    CHECK_EQ_STR(fmt(cal_add_months(D(2026, 11, 30), 2)), "2027-01-30");
    CHECK_EQ_STR(fmt(cal_add_months(D(2026, 12, 31), 2)), "2027-02-28");
    CHECK_EQ_STR(fmt(cal_add_months(D(2026, 1, 15), 25)), "2028-02-15");
    CHECK_EQ_STR(fmt(cal_add_months(D(2024, 2, 29), 12)), "2025-02-28");
    CHECK_EQ_STR(fmt(cal_add_months(D(2024, 2, 29), 48)), "2028-02-29");
    /* negative */
    CHECK_EQ_STR(fmt(cal_add_months(D(2027, 1, 15), -1)), "2026-12-15");
    CHECK_EQ_STR(fmt(cal_add_months(D(2027, 3, 31), -1)), "2027-02-28");
    CHECK_EQ_STR(fmt(cal_add_months(D(2024, 3, 31), -1)), "2024-02-29");
    CHECK_EQ_STR(fmt(cal_add_months(D(2027, 1, 31), -13)), "2025-12-31");
    CHECK_EQ_STR(fmt(cal_add_months(D(2027, 2, 28), -8)), "2026-06-28");
    CHECK_EQ_STR(fmt(cal_add_months(D(1970, 1, 31), -1)), "1969-12-31");
    CHECK_EQ_STR(fmt(cal_add_months(D(1969, 3, 31), -25)), "1967-02-28");
}

static void test_weekday(void)
{
    CHECK_EQ_INT(cal_weekday(D(2026, 11, 23)), 0); /* Monday */
    CHECK_EQ_INT(cal_weekday(D(2026, 11, 29)), 6); /* Sunday */
    CHECK_EQ_INT(cal_weekday(D(1970, 1, 1)), 3);   /* Thursday */
    CHECK_EQ_INT(cal_weekday(D(1969, 12, 29)), 0); /* Monday, negative day */
    CHECK_EQ_INT(cal_weekday(D(1900, 1, 1)), 0);   /* Monday */
    CHECK_EQ_INT(cal_weekday(D(2000, 1, 1)), 5);   /* Saturday */
    int ok = 1;
    for (int32_t d = D(1899, 1, 1); d < D(2101, 1, 1); d++)
        if (cal_weekday(d + 1) != (cal_weekday(d) + 1) % 7) ok = 0;
    CHECK(ok);
}

static void test_parse_format(void)
{
    int32_t day = 0;
    CHECK_EQ_INT(cal_parse_date("2026-11-23", 10, &day), 0);
    CHECK_EQ_INT(day, D(2026, 11, 23));
    CHECK_EQ_INT(cal_parse_date("2024-02-29", 10, &day), 0);
    CHECK_EQ_INT(day, D(2024, 2, 29));
    CHECK_EQ_INT(cal_parse_date("1969-12-31", 10, &day), 0);
    CHECK_EQ_INT(day, -1);
    /* len bounds the parse: a longer buffer is fine if len is 10 */
    CHECK_EQ_INT(cal_parse_date("2026-01-05T10:00", 10, &day), 0);
    CHECK_EQ_INT(day, D(2026, 1, 5));

    day = 42;
    CHECK_EQ_INT(cal_parse_date("2027-02-29", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("2026-13-01", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("2026-00-10", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("2026-04-31", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("2026-04-00", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("2026-1-01", 9, &day), -1);
    CHECK_EQ_INT(cal_parse_date("2026-1-011", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("2026/01/01", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("2026-01-01 ", 11, &day), -1);
    CHECK_EQ_INT(cal_parse_date(" 2026-01-1", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("+026-01-01", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("2026-01-0a", 10, &day), -1);
    CHECK_EQ_INT(cal_parse_date("", 0, &day), -1);
    CHECK_EQ_INT(day, 42); /* untouched on failure */

    CHECK_EQ_STR(fmt(D(2026, 1, 5)), "2026-01-05");
    CHECK_EQ_STR(fmt(0), "1970-01-01");
    CHECK_EQ_STR(fmt(-1), "1969-12-31");
    CHECK_EQ_STR(fmt(D(1900, 3, 1)), "1900-03-01");
    CHECK_EQ_STR(fmt(D(9999, 12, 31)), "9999-12-31");

    int mins = -1;
    CHECK_EQ_INT(cal_parse_hhmm("00:00", &mins), 0);
    CHECK_EQ_INT(mins, 0);
    CHECK_EQ_INT(cal_parse_hhmm("09:30", &mins), 0);
    CHECK_EQ_INT(mins, 570);
    CHECK_EQ_INT(cal_parse_hhmm("23:59", &mins), 0);
    CHECK_EQ_INT(mins, 1439);
    CHECK_EQ_INT(cal_parse_hhmm("24:00", &mins), -1);
    CHECK_EQ_INT(cal_parse_hhmm("12:60", &mins), -1);
    CHECK_EQ_INT(cal_parse_hhmm("9:30", &mins), -1);
    CHECK_EQ_INT(cal_parse_hhmm("09:3", &mins), -1);
    CHECK_EQ_INT(cal_parse_hhmm("09:300", &mins), -1);
    CHECK_EQ_INT(cal_parse_hhmm("09.30", &mins), -1);
    CHECK_EQ_INT(cal_parse_hhmm("0a:30", &mins), -1);
    CHECK_EQ_INT(cal_parse_hhmm(" 9:30", &mins), -1);
    CHECK_EQ_INT(cal_parse_hhmm("", &mins), -1);
    CHECK_EQ_INT(cal_parse_hhmm("1", &mins), -1);
    CHECK_EQ_INT(mins, 1439);
}

int main(void)
{
    test_leap();
    test_day_numbers();
    test_add_months();
    test_weekday();
    test_parse_format();
    T_DONE();
}
