/* test_journey.c - trigger arithmetic: which anchor days land on a moment. */
#include <cjson/cJSON.h>

#include "cal.h"
#include "journey.h"
#include "t.h"

static int32_t D(int y, int m, int d) { return cal_from_ymd(y, m, d); }

/* The anchors whose moment is day d, by brute force over cal_add_months:
 * the reference the range must equal. */
static void brute(const journey_t *j, int32_t d, int32_t *lo, int32_t *hi, int *n)
{
    *n = 0;
    for (int32_t a = d - 800; a <= d + 800; a++) {
        int sign = j->trig.kind == TRIG_BEFORE ? -1 : 1;
        int32_t m = cal_add_months(a, sign * j->trig.months) + sign * j->trig.days;
        if (m != d) continue;
        if (!*n) *lo = a;
        *hi = a;
        (*n)++;
    }
}

int main(void)
{
    journey_t *j = journey_new();
    int32_t lo, hi;

    j->trig.kind = TRIG_AFTER;
    j->trig.months = 8;
    /* last order 2026-06-30 -> 2027-02-28, and so do Jun 28 and 29 */
    CHECK(journey_anchor_range(j, D(2027, 2, 28), &lo, &hi));
    CHECK_EQ_INT(lo, D(2026, 6, 28));
    CHECK_EQ_INT(hi, D(2026, 6, 30));
    /* an ordinary day maps to one day */
    CHECK(journey_anchor_range(j, D(2027, 3, 15), &lo, &hi));
    CHECK_EQ_INT(lo, D(2026, 7, 15));
    CHECK_EQ_INT(hi, D(2026, 7, 15));
    /* 2027-01-31: May 31 exists, nothing else clamps onto it */
    CHECK(journey_anchor_range(j, D(2027, 1, 31), &lo, &hi));
    CHECK_EQ_INT(lo, D(2026, 5, 31));
    CHECK_EQ_INT(hi, D(2026, 5, 31));
    /* leap year: 2028-02-29 gets Jun 29 and 30 of 2027 */
    CHECK(journey_anchor_range(j, D(2028, 2, 29), &lo, &hi));
    CHECK_EQ_INT(lo, D(2027, 6, 29));
    CHECK_EQ_INT(hi, D(2027, 6, 30));
    /* 2028-02-28 is not a month end in a leap year: only Jun 28 */
    CHECK(journey_anchor_range(j, D(2028, 2, 28), &lo, &hi));
    CHECK_EQ_INT(lo, D(2027, 6, 28));
    CHECK_EQ_INT(hi, D(2027, 6, 28));

    /* every day of three years, several offsets, against brute force */
    int months[] = {1, 3, 8, 12, 13};
    for (int k = 0; k < 5; k++) {
        for (int kind = TRIG_AFTER; kind <= TRIG_BEFORE; kind++) {
            j->trig.kind = kind;
            j->trig.months = months[k];
            j->trig.days = 0;
            int bad = 0;
            for (int32_t d = D(2026, 1, 1); d < D(2029, 1, 1); d++) {
                int32_t blo, bhi;
                int n;
                brute(j, d, &blo, &bhi, &n);
                int got = journey_anchor_range(j, d, &lo, &hi);
                if (got != (n > 0) || (n && (lo != blo || hi != bhi || hi - lo + 1 != n))) bad++;
            }
            CHECK_EQ_INT(bad, 0);
        }
    }

    /* days: before("points_expiry", days(30)) on 2027-03-01 is 2027-03-31 */
    j->trig.kind = TRIG_BEFORE;
    j->trig.months = 0;
    j->trig.days = 30;
    CHECK(journey_anchor_range(j, D(2027, 3, 1), &lo, &hi));
    CHECK_EQ_INT(lo, D(2027, 3, 31));
    CHECK_EQ_INT(hi, lo);
    j->trig.kind = TRIG_AFTER;
    j->trig.days = 21;
    CHECK(journey_anchor_range(j, D(2027, 1, 22), &lo, &hi));
    CHECK_EQ_INT(lo, D(2027, 1, 1));

    /* monthly(31) fires on every month's last day; monthly(8) on the 8th */
    j->trig.kind = TRIG_MONTHLY;
    j->trig.mday = 31;
    CHECK(journey_fires_on(j, D(2027, 2, 28)));
    CHECK(!journey_fires_on(j, D(2027, 2, 27)));
    CHECK(journey_fires_on(j, D(2028, 2, 29)));
    CHECK(!journey_fires_on(j, D(2028, 2, 28)));
    CHECK(journey_fires_on(j, D(2027, 4, 30)));
    CHECK(journey_fires_on(j, D(2027, 5, 31)));
    int fired = 0;
    for (int32_t d = D(2027, 1, 1); d < D(2028, 1, 1); d++) fired += journey_fires_on(j, d);
    CHECK_EQ_INT(fired, 12);
    j->trig.mday = 8;
    fired = 0;
    for (int32_t d = D(2027, 1, 1); d < D(2028, 1, 1); d++) fired += journey_fires_on(j, d);
    CHECK_EQ_INT(fired, 12);
    CHECK(journey_fires_on(j, D(2027, 11, 8)));
    /* weekly: 2026-11-23 is a Monday */
    j->trig.kind = TRIG_WEEKLY;
    j->trig.weekday = 0;
    CHECK(journey_fires_on(j, D(2026, 11, 23)));
    CHECK(!journey_fires_on(j, D(2026, 11, 24)));
    CHECK(journey_fires_on(j, D(2026, 11, 30)));

    /* an occasion survives its trip through JSON (members waiting) */
    occasion_t o = {.day = D(2027, 1, 22), .points = 30, .expires_day = D(2027, 3, 31)}, back;
    buf_t b;
    buf_init(&b);
    occasion_to_json(&o, &b);
    cJSON *owned;
    CHECK(occasion_from_json(&back, b.p, &owned) == NUDGE_OK);
    CHECK_EQ_INT(back.day, o.day);
    CHECK_EQ_INT(back.points, 30);
    CHECK_EQ_INT(back.expires_day, o.expires_day);
    cJSON_Delete(owned);

    /* an event's occasion written from the event's printed text is the same,
     * byte for byte, as one printed from the event itself */
    cJSON *ev = cJSON_Parse("{\"id\":\"e1\",\"type\":\"order.paid\",\"member\":\"M1\",\"amount\":199.5,"
                            "\"note\":\"\u4e2d \\\"q\\\" \\n\",\"n\":[1,2e300,null]}");
    CHECK(ev != NULL);
    char *printed = cJSON_PrintUnformatted(ev);
    occasion_t oe = {.day = CAL_NONE, .expires_day = CAL_NONE, .event = ev, .event_id = "e1"};
    buf_t want;
    buf_init(&want);
    occasion_to_json(&oe, &want);
    oe.event_json = printed;
    occasion_to_json(&oe, &b);
    CHECK_EQ_STR(b.p, want.p);
    CHECK(strstr(b.p, "\"event\":{\"id\":\"e1\"") != NULL);
    CHECK(occasion_from_json(&back, b.p, &owned) == NUDGE_OK);
    CHECK(back.event != NULL && cJSON_Compare(back.event, ev, 1));
    CHECK_EQ_STR(back.event_id, "e1");
    cJSON_Delete(owned);

    /* occasions are written directly: the same bytes cJSON prints for
     * the same object, control characters in an id and points beyond int
     * included */
    occasion_t oc = {.day = D(2027, 1, 22), .expires_day = CAL_NONE};
    occasion_to_json(&oc, &b);
    CHECK_EQ_STR(b.p, "{\"day\":20840}");
    oc.expires_day = D(2027, 3, 31);
    oc.points = -7;
    occasion_to_json(&oc, &b);
    CHECK_EQ_STR(b.p, "{\"day\":20840,\"expires_day\":20908,\"points\":-7}");
    occasion_t none = {.day = CAL_NONE, .expires_day = CAL_NONE};
    occasion_to_json(&none, &b);
    CHECK_EQ_STR(b.p, "{}");
    const char *ids[] = {"e\"q\\1", "e\tx\b\f", "纯文本"};
    for (int i = 0; i < 3; i++) {
        occasion_t oi = {.day = CAL_NONE, .expires_day = D(2027, 3, 31), .points = 3000000000LL, .event_id = ids[i]};
        for (int big = 0; big < 2; big++) {
            oi.points = big ? 3000000000LL : 30;
            occasion_to_json(&oi, &b);
            cJSON *w = cJSON_CreateObject();
            cJSON_AddNumberToObject(w, "expires_day", oi.expires_day);
            cJSON_AddNumberToObject(w, "points", (double)oi.points);
            cJSON_AddStringToObject(w, "event_id", ids[i]);
            char *ws = cJSON_PrintUnformatted(w);
            CHECK_EQ_STR(b.p, ws);
            cJSON_free(ws);
            cJSON_Delete(w);
        }
    }
    cJSON_free(printed);
    cJSON_Delete(ev);
    buf_free(&want);
    buf_free(&b);
    journey_free(j);
    T_DONE();
}
