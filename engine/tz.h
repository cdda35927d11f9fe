/* tz.h - IANA time zones: UTC instants <-> local wall time.
 *
 * A zone is loaded once per process from the system's tz database (via
 * the C library, so DST rules are the system's) and turned into a sorted
 * table of UTC offset transitions; every conversion after that is a binary
 * search. Zones are cached for the life of the process; tz_get returns the
 * same pointer for the same name. Not thread-safe (nudge is one loop). */
#ifndef NUDGE_TZ_H
#define NUDGE_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct tz tz_t;

/* NULL and a message in err (ERRLEN) when the name is not a zone. */
const tz_t *tz_get(const char *name, char *err);
const char *tz_name(const tz_t *tz);

/* Seconds east of UTC in force at the instant utc. */
int tz_offset_at(const tz_t *tz, int64_t utc);

/* The local calendar day (cal.h day number) of an instant. */
int32_t tz_local_day(const tz_t *tz, int64_t utc);
/* Seconds after local midnight of an instant. */
int tz_local_secs(const tz_t *tz, int64_t utc);

/* The instant of local wall time day + secs_of_day. A time skipped by a
 * DST gap moves forward by the gap (02:30 in a 02:00->03:00 gap is 03:30);
 * a time that occurs twice (fall back) is the first occurrence. */
int64_t tz_local_to_utc(const tz_t *tz, int32_t day, int secs_of_day);

/* "2027-01-22T10:00:00+08:00" (at least 32 bytes). */
void tz_format_iso(const tz_t *tz, int64_t utc, char *out);

/* Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]]" with an optional "Z",
 * "+HH:MM", "+HHMM" or "+HH" suffix ("T" may be a space). Without an
 * offset the wall time is local to deflt; a bare date is local midnight
 * and sets *date_only (may be NULL). 0 ok; -1 with a message in err. */
int tz_parse_time(const char *s, const tz_t *deflt, int64_t *utc, int *date_only, char *err);

/* Frees every cached zone (for leak checkers at exit). */
void tz_free_all(void);

#endif
