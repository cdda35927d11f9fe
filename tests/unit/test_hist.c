/* test_hist.c - the /metrics histograms: an observation counts in every
 * bucket whose bound it does not pass (a value on a bound is in it),
 * the sum and count are kept, and the lines are Prometheus' text form
 * with and without labels. */
#include "hist.h"
#include "t.h"

static const double bounds[] = {0.001, 0.01, 0.1};

static void counts(void)
{
    hist_t h;
    hist_init(&h, bounds, 3);
    CHECK_EQ_INT(h.count, 0);
    hist_observe(&h, 0.0005);   /* in all three */
    hist_observe(&h, 0.01);     /* on the middle bound: in it and the last */
    hist_observe(&h, 0.05);     /* in the last */
    hist_observe(&h, 3.0);      /* past them all: +Inf only */
    CHECK_EQ_INT(h.buckets[0], 1);
    CHECK_EQ_INT(h.buckets[1], 2);
    CHECK_EQ_INT(h.buckets[2], 3);
    CHECK_EQ_INT(h.count, 4);
    CHECK(h.sum > 3.0604 && h.sum < 3.0606);
}

static void lines(void)
{
    hist_t h;
    hist_init(&h, bounds, 3);
    hist_observe(&h, 0.002);
    hist_observe(&h, 0.25);
    buf_t out;
    buf_init(&out);
    hist_write(&h, &out, "x_seconds", "");
    CHECK_EQ_STR(out.p, "x_seconds_bucket{le=\"0.001\"} 0\n"
                        "x_seconds_bucket{le=\"0.01\"} 1\n"
                        "x_seconds_bucket{le=\"0.1\"} 1\n"
                        "x_seconds_bucket{le=\"+Inf\"} 2\n"
                        "x_seconds_sum 0.252000\n"
                        "x_seconds_count 2\n");
    buf_reset(&out);
    hist_write(&h, &out, "x_seconds", "channel=\"sms\"");
    CHECK_EQ_STR(out.p, "x_seconds_bucket{channel=\"sms\",le=\"0.001\"} 0\n"
                        "x_seconds_bucket{channel=\"sms\",le=\"0.01\"} 1\n"
                        "x_seconds_bucket{channel=\"sms\",le=\"0.1\"} 1\n"
                        "x_seconds_bucket{channel=\"sms\",le=\"+Inf\"} 2\n"
                        "x_seconds_sum{channel=\"sms\"} 0.252000\n"
                        "x_seconds_count{channel=\"sms\"} 2\n");
    buf_free(&out);
}

static void too_many_bounds(void)
{
    static double many[HIST_MAX_BOUNDS + 4];
    for (int i = 0; i < HIST_MAX_BOUNDS + 4; i++) many[i] = i + 1;
    hist_t h;
    hist_init(&h, many, HIST_MAX_BOUNDS + 4);
    CHECK_EQ_INT(h.nbounds, HIST_MAX_BOUNDS);   /* kept to what it holds */
    hist_observe(&h, 0.5);
    CHECK_EQ_INT(h.buckets[HIST_MAX_BOUNDS - 1], 1);
}

int main(void)
{
    counts();
    lines();
    too_many_bounds();
    T_DONE();
}
