/* hist.h - latency histograms for /metrics, in Prometheus' form: a count
 * per upper bound (cumulative: an observation counts in every bucket it
 * fits), their sum and count. The bounds are the caller's, a static
 * array that outlives the histogram. */
#ifndef NUDGE_HIST_H
#define NUDGE_HIST_H

#include <stdint.h>

#include "util.h"

#define HIST_MAX_BOUNDS 16

typedef struct hist {
    const double *bounds;   /* ascending, in seconds */
    int nbounds;            /* at most HIST_MAX_BOUNDS */
    int64_t buckets[HIST_MAX_BOUNDS];
    int64_t count;
    double sum;
} hist_t;

void hist_init(hist_t *h, const double *bounds, int nbounds);
void hist_observe(hist_t *h, double secs);
/* The _bucket, _sum and _count lines of metric `name`, with labels
 * (`channel="sms"`, or "" for none) on each. The caller writes the
 * metric's HELP and TYPE lines once. */
void hist_write(const hist_t *h, buf_t *out, const char *name, const char *labels);

#endif
