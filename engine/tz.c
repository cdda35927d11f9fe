/* tz.c - see tz.h
 *
 * The C library already knows how to read TZif files and apply their
 * POSIX footer rules for future years, so a zone is loaded by pointing TZ
 * at it and sampling localtime_r's tm_gmtoff. Sampling once a week finds
 * every offset change (no zone changes and comes back within a week: see
 * sample_zone); a binary search then pins each change to the second. The
 * result is an immutable table, so conversions never touch the process
 * environment again. */
#include "tz.h"

#include "cal.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TZ_DIR "/usr/share/zoneinfo/"
#define DAY 86400

struct tz {
    char *name;
    /* at[i] is the instant a new offset begins; off[0] holds before
     * at[0] (and before the sampled range), off[i + 1] from at[i] on. */
    int64_t *at;
    int32_t *off;
    size_t n;
    struct tz *next;
};

/* Loaded zones live until tz_free_all. A simulation run in parts loads
 * zones from several threads (a new member's zone): the list and the
 * loading (it sets TZ for the C library) are under one lock. */
static struct tz *zones;
static pthread_mutex_t zones_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- loading ----------------------------------------------------------- */

static int name_ok(const char *name)
{
    return name && name[0] != '\0' && name[0] != '/' && !strstr(name, "..");
}

/* A real zone file, not whatever the name happens to point at: glibc
 * treats an unknown name as UTC, which would silently mis-schedule. */
static int zone_file_ok(const char *name)
{
    char path[1024];
    int n = snprintf(path, sizeof path, "%s%s", TZ_DIR, name);
    if (n < 0 || (size_t)n >= sizeof path) return 0;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4];
    int ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

static int32_t gmtoff(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm)) return 0;
    return (int32_t)tm.tm_gmtoff;
}

typedef struct {
    int64_t *at;
    int32_t *off;
    size_t n, cap;
} table_t;

static void table_push(table_t *t, int64_t at, int32_t off)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->at = xrealloc(t->at, t->cap * sizeof *t->at);
        t->off = xrealloc(t->off, (t->cap + 1) * sizeof *t->off);
    }
    t->at[t->n] = at;
    t->off[++t->n] = off;
}

/* Offsets differ at lo and hi: record every change in (lo, hi]. More
 * than one is possible in principle, so keep searching after each. */
static void find_changes(table_t *t, int64_t lo, int32_t olo, int64_t hi, int32_t ohi)
{
    while (olo != ohi) {
        int64_t a = lo, b = hi;
        while (b - a > 1) {
            int64_t mid = a + (b - a) / 2;
            if (gmtoff(mid) == olo) a = mid;
            else b = mid;
        }
        int32_t ob = gmtoff(b);
        table_push(t, b, ob);
        lo = b;
        olo = ob;
    }
}

/* Weekly samples: a change and its way back less than a week apart
 * would be missed. The shortest in the system's tzdata is Tunis's eight
 * days of CET in April 1943 (test_tz); all 447 zones give the same table
 * as daily samples from 1900 to 2200 (2026-12-02), and a zone loads in
 * a third of the time (6 ms against 19 ms; every command loads the
 * workspace's zones). Past the transitions a zone file lists (2037 at
 * the latest), glibc parses the zone's POSIX rule again on every call. */
static void sample_zone(struct tz *z)
{
    const int64_t start = (int64_t)cal_from_ymd(1900, 1, 1) * DAY;
    const int64_t end = (int64_t)cal_from_ymd(2200, 1, 1) * DAY;
    table_t t = {NULL, NULL, 0, 0};
    t.off = xmalloc(sizeof *t.off);
    int32_t prev = gmtoff(start);
    t.off[0] = prev;
    for (int64_t s = start; s < end;) {
        int64_t next = s + 7 * DAY;
        if (next > end) next = end;
        int32_t cur = gmtoff(next);
        if (cur != prev) find_changes(&t, s, prev, next, cur);
        prev = cur;
        s = next;
    }
    z->at = t.at;
    z->off = t.off;
    z->n = t.n;
}

/* Loads name with TZ temporarily set, restoring the caller's TZ (set or
 * unset) so localtime() elsewhere in the process is unaffected. */
static void load_zone(struct tz *z)
{
    const char *old = getenv("TZ");
    char *saved = old ? xstrdup(old) : NULL;
    /* An absolute path so a TZDIR in the environment cannot make glibc
     * read a different file than the one validated. */
    size_t len = strlen(TZ_DIR) + strlen(z->name) + 2;
    char *spec = xmalloc(len);
    snprintf(spec, len, ":%s%s", TZ_DIR, z->name);
    setenv("TZ", spec, 1);
    tzset();
    sample_zone(z);
    if (saved) setenv("TZ", saved, 1);
    else unsetenv("TZ");
    tzset();
    free(spec);
    free(saved);
}

static const tz_t *get_locked(const char *name, char *err);

const tz_t *tz_get(const char *name, char *err)
{
    pthread_mutex_lock(&zones_mu);
    const tz_t *z = get_locked(name, err);
    pthread_mutex_unlock(&zones_mu);
    return z;
}

static const tz_t *get_locked(const char *name, char *err)
{
    for (struct tz *z = zones; z; z = z->next)
        if (strcmp(z->name, name ? name : "") == 0) return z;
    if (!name || !name[0]) {
        errf(err, "empty time zone name");
        return NULL;
    }
    int is_utc = strcmp(name, "UTC") == 0;
    if (!is_utc && !name_ok(name)) {
        errf(err, "invalid time zone name '%.200s'", name);
        return NULL;
    }
    if (!is_utc && !zone_file_ok(name)) {
        errf(err, "unknown time zone '%.200s'", name);
        return NULL;
    }
    struct tz *z = xcalloc(1, sizeof *z);
    z->name = xstrdup(name);
    if (is_utc) {
        /* No zone file needed for the one zone every system has. */
        z->off = xcalloc(1, sizeof *z->off);
    } else {
        load_zone(z);
    }
    z->next = zones;
    zones = z;
    return z;
}

const char *tz_name(const tz_t *tz)
{
    return tz->name;
}

void tz_free_all(void)
{
    while (zones) {
        struct tz *z = zones;
        zones = z->next;
        free(z->name);
        free(z->at);
        free(z->off);
        free(z);
    }
}

/* ---- conversions ------------------------------------------------------- */

/* Number of transitions at or before utc = index into off[]. */
static size_t period_of(const tz_t *tz, int64_t utc)
{
    size_t lo = 0, hi = tz->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= utc) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int tz_offset_at(const tz_t *tz, int64_t utc)
{
    return tz->off[period_of(tz, utc)];
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int32_t tz_local_day(const tz_t *tz, int64_t utc)
{
    return (int32_t)floordiv(utc + tz_offset_at(tz, utc), DAY);
}

int tz_local_secs(const tz_t *tz, int64_t utc)
{
    int64_t local = utc + tz_offset_at(tz, utc);
    return (int)(local - floordiv(local, DAY) * DAY);
}

/* Does instant u fall within period p (which starts at at[p-1] and ends
 * before at[p])? */
static int in_period(const tz_t *tz, size_t p, int64_t u)
{
    if (p > 0 && u < tz->at[p - 1]) return 0;
    if (p < tz->n && u >= tz->at[p]) return 0;
    return 1;
}

int64_t tz_local_to_utc(const tz_t *tz, int32_t day, int secs_of_day)
{
    int64_t w = (int64_t)day * DAY + secs_of_day;
    /* Offsets stay within +-26h, so every instant that can show wall time
     * w lies within two days of w; try the periods there in order, so the
     * first that fits is the first occurrence. */
    size_t first = period_of(tz, w - 2 * DAY), last = period_of(tz, w + 2 * DAY);
    for (size_t p = first; p <= last; p++)
        if (in_period(tz, p, w - tz->off[p])) return w - tz->off[p];
    /* No period shows w: it is in a gap after the transition at[p]. Using
     * the offset from before the change moves it forward by the gap. */
    for (size_t p = first; p < last; p++) {
        int64_t end_before = tz->at[p] + tz->off[p];
        int64_t start_after = tz->at[p] + tz->off[p + 1];
        if (w >= end_before && w < start_after) return w - tz->off[p];
    }
    return w - tz_offset_at(tz, w); /* unreachable for a consistent table */
}

void tz_format_iso(const tz_t *tz, int64_t utc, char *out)
{
    /* Round the offset to whole minutes (historical LMT offsets have
     * seconds) and show the wall time under that offset, so the text
     * still names exactly the instant utc. */
    int off = tz_offset_at(tz, utc);
    int aoff = off < 0 ? -off : off;
    int omin = (aoff + 30) / 60;
    int64_t local = utc + (off < 0 ? -1 : 1) * (int64_t)omin * 60;
    int64_t day = floordiv(local, DAY);
    int secs = (int)(local - day * DAY);
    int y, m, d;
    cal_to_ymd((int32_t)day, &y, &m, &d);
    if (y < 0 || y > 9999 || omin / 60 > 99) {   /* beyond what four and two digits hold */
        char tmp[96];
        snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, m, d, secs / 3600,
                 secs / 60 % 60, secs % 60, off < 0 ? '-' : '+', omin / 60, omin % 60);
        memcpy(out, tmp, 31);
        out[31] = '\0';
        return;
    }
    /* written digit by digit: the dispatch log writes one for every
     * message, and snprintf was most of its cost */
    const int two[] = {m, d, secs / 3600, secs / 60 % 60, secs % 60, omin / 60, omin % 60};
    const char sep[] = {'-', '-', 'T', ':', ':', off < 0 ? '-' : '+', ':'};
    char *p = out;
    *p++ = (char)('0' + y / 1000);
    *p++ = (char)('0' + y / 100 % 10);
    *p++ = (char)('0' + y / 10 % 10);
    *p++ = (char)('0' + y % 10);
    for (int i = 0; i < 7; i++) {
        *p++ = sep[i];
        *p++ = (char)('0' + two[i] / 10);
        *p++ = (char)('0' + two[i] % 10);
    }
    *p = '\0';
}

/* ---- parsing ----------------------------------------------------------- */

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses an offset suffix at p ("Z", "+HH:MM", "+HHMM", "+HH") that must
 * run to the end of the string. 0 ok with *off in seconds, -1 bad. */
static int parse_offset(const char *p, int *off)
{
    if (p[0] == 'Z' && p[1] == '\0') {
        *off = 0;
        return 0;
    }
    if (p[0] != '+' && p[0] != '-') return -1;
    int sign = p[0] == '-' ? -1 : 1;
    int h = num(p + 1, 2), m = 0;
    if (h < 0) return -1;
    const char *q = p + 3;
    if (*q == ':') q++;
    if (*q != '\0') {
        m = num(q, 2);
        if (m < 0 || q[2] != '\0') return -1;
    } else if (q[-1] == ':') {
        return -1; /* "+08:" */
    }
    if (h > 23 || m > 59) return -1;
    *off = sign * (h * 3600 + m * 60);
    return 0;
}

int tz_parse_time(const char *s, const tz_t *deflt, int64_t *utc, int *date_only, char *err)
{
    if (!s) return errf(err, "missing date or time");
    size_t len = strlen(s);
    if (len < 10 || s[4] != '-' || s[7] != '-' || num(s, 4) < 0 || num(s + 5, 2) < 0 ||
        num(s + 8, 2) < 0)
        return errf(err, "'%.100s' is not an ISO 8601 date or time", s);
    int32_t day;
    if (cal_parse_date(s, 10, &day) != 0)
        return errf(err, "'%.100s' is not a valid date", s);
    if (len == 10) {
        *utc = deflt ? tz_local_to_utc(deflt, day, 0) : (int64_t)day * DAY;
        if (date_only) *date_only = 1;
        return 0;
    }
    const char *p = s + 10;
    if ((*p != 'T' && *p != ' ') || len < 16 || p[3] != ':' || num(p + 1, 2) < 0 ||
        num(p + 4, 2) < 0)
        return errf(err, "'%.100s' is not an ISO 8601 date or time", s);
    int h = num(p + 1, 2), mi = num(p + 4, 2), sec = 0;
    p += 6;
    if (*p == ':') {
        sec = num(p + 1, 2);
        if (sec < 0) return errf(err, "'%.100s' is not an ISO 8601 date or time", s);
        p += 3;
        if (*p == '.') {
            /* Fractions are accepted but nudge schedules in whole seconds. */
            if (p[1] < '0' || p[1] > '9')
                return errf(err, "'%.100s' is not an ISO 8601 date or time", s);
            p++;
            while (*p >= '0' && *p <= '9') p++;
        }
    }
    if (h > 23 || mi > 59 || sec > 60)
        return errf(err, "'%.100s' has an invalid time of day", s);
    if (sec == 60) sec = 59; /* a leap second; POSIX time has none */
    int secs = h * 3600 + mi * 60 + sec;
    if (*p == '\0') {
        *utc = deflt ? tz_local_to_utc(deflt, day, secs) : (int64_t)day * DAY + secs;
    } else {
        int off;
        if (parse_offset(p, &off) != 0)
            return errf(err, "'%.100s' has an invalid UTC offset", s);
        *utc = (int64_t)day * DAY + secs - off;
    }
    if (date_only) *date_only = 0;
    return 0;
}
