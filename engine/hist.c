/* hist.c - see hist.h */
#include "hist.h"

#include <string.h>

void hist_init(hist_t *h, const double *bounds, int nbounds)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds < HIST_MAX_BOUNDS ? nbounds : HIST_MAX_BOUNDS;
}

void hist_observe(hist_t *h, double secs)
{
    for (int i = h->nbounds - 1; i >= 0 && secs <= h->bounds[i]; i--) h->buckets[i]++;
    h->count++;
    h->sum += secs;
}

void hist_write(const hist_t *h, buf_t *out, const char *name, const char *labels)
{
    const char *sep = *labels ? "," : "";
    for (int i = 0; i < h->nbounds; i++)
        buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %lld\n", name, labels, sep, h->bounds[i], (long long)h->buckets[i]);
    buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %lld\n", name, labels, sep, (long long)h->count);
    if (*labels) {
        buf_printf(out, "%s_sum{%s} %.6f\n", name, labels, h->sum);
        buf_printf(out, "%s_count{%s} %lld\n", name, labels, (long long)h->count);
    } else {
        buf_printf(out, "%s_sum %.6f\n", name, h->sum);
        buf_printf(out, "%s_count %lld\n", name, (long long)h->count);
    }
}
