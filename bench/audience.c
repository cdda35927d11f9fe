/* audience.c - how fast nudge evaluates an audience predicate.
 *
 * The same rule as the Lua ceiling in ../shared/limits/lua_bench.c:
 *     function(m) return m.order_count <= 1 and m.days_since_join == 21 end
 * called through the engine's own path (lh_predicate: the sandboxed state,
 * the instruction-budget hook, the member proxy, the occasion argument)
 * over a pool of 4096 members. The hit count is checked against C.
 *
 * usage: audience [seconds]     prints "RESULT nudge_audience_eval N calls/s"
 */
#include "cal.h"
#include "journey.h"
#include "lhost.h"
#include "member.h"
#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NMEM 4096
#define DAY 86400

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char rule[] =
    "return journey \"bench\" {\n"
    "  trigger = daily(),\n"
    "  audience = function(m) return m.order_count <= 1 and m.days_since_join == 21 end,\n"
    "  steps = { send { template = \"t\", channels = { \"sms\" } } },\n"
    "}\n";

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.5;
    char err[ERRLEN];
    int64_t now = 1800000000;  /* fixed "now" so runs repeat */
    const tz_t *zone = tz_get("Asia/Shanghai", err);
    if (!zone) {
        fprintf(stderr, "audience: %s\n", err);
        return 1;
    }
    static member_t pool[NMEM];
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < NMEM; i++) {
        member_t *m = &pool[i];
        member_init(m);
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        uint64_t r = s * 2685821657736338717ULL;
        m->rowid = i + 1;
        m->zone = zone;
        m->order_count = (int64_t)(r % 6);
        m->joined_at = now - (int64_t)((r >> 8) % 60) * DAY - (int64_t)((r >> 20) % DAY);
        member_derive(m);
    }
    lh_t *h = lh_new(NULL, &now, err);
    journey_t *j = journey_new();
    if (!h || lh_load_journey(h, "bench.lua", rule, strlen(rule), j, err) != NUDGE_OK) {
        fprintf(stderr, "audience: %s\n", err);
        return 1;
    }
    occasion_t o = {.day = CAL_NONE, .expires_day = CAL_NONE};
    long calls = 0, hits = 0, expect = 0;
    double t0 = now_s(), t;
    do {
        for (int k = 0; k < 65536; k++) {
            member_t *m = &pool[calls & (NMEM - 1)];
            int ok;
            if (lh_predicate(h, j->audience_ref, m, &o, &ok, err) != NUDGE_OK) {
                fprintf(stderr, "audience: %s\n", err);
                return 1;
            }
            hits += ok;
            expect += m->order_count <= 1 && member_days_between(m, m->joined_at, now) == 21;
            calls++;
        }
        t = now_s();
    } while (t - t0 < secs);
    if (hits != expect) {
        fprintf(stderr, "audience: %ld hits, C says %ld\n", hits, expect);
        return 1;
    }
    fprintf(stderr, "audience: %ld calls, %ld hits (checked)\n", calls, hits);
    printf("RESULT nudge_audience_eval %.0f calls/s\n", (double)calls / (t - t0));
    journey_free(j);
    for (int i = 0; i < NMEM; i++) member_free(&pool[i]);
    tz_free_all();
    return 0;
}
