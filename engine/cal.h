/* cal.h - the proleptic Gregorian calendar as day numbers.
 *
 * A "day" is a local calendar date counted as days since 1970-01-01
 * (negative before). All calendar arithmetic the scheduler needs (day 21
 * after a join, 8 calendar months after the last order, Feb 29 birthdays)
 * is done on day numbers, never on struct tm. Pure functions, no state. */
#ifndef NUDGE_CAL_H
#define NUDGE_CAL_H

#include <stddef.h>
#include <stdint.h>

#define CAL_NONE INT32_MIN       /* "no date" in day-number columns */
#define CAL_NEVER (INT32_MAX - 1) /* an expiry that never comes */

int cal_is_leap(int y);
int cal_days_in_month(int y, int m);              /* m 1..12 */
int32_t cal_from_ymd(int y, int m, int d);        /* no validation */
void cal_to_ymd(int32_t day, int *y, int *m, int *d);
int cal_valid_ymd(int y, int m, int d);           /* 1 if a real date */

/* day + n calendar months; a day-of-month that does not exist in the
 * target month becomes that month's last day (Jan 31 + 1 month = Feb 28/29). */
int32_t cal_add_months(int32_t day, int months);

/* 0 = Monday .. 6 = Sunday */
int cal_weekday(int32_t day);

/* Strict "YYYY-MM-DD" (exactly len bytes, a real date). 0 ok, -1 bad. */
int cal_parse_date(const char *s, size_t len, int32_t *day);
/* "YYYY-MM-DD" into out (at least 11 bytes). */
void cal_format_date(int32_t day, char *out);
/* "HH:MM" (00:00..23:59) into minutes after midnight. 0 ok, -1 bad. */
int cal_parse_hhmm(const char *s, int *minutes);
/* "21:00-09:00" into seconds of the day (the range may wrap midnight);
 * "off" gives from == to == 0. -1 when malformed or empty. */
int cal_parse_hours(const char *s, int *from, int *to);

#endif
