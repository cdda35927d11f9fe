/* t_flight.h - unit tests' helper: a member waiting in a journey. */
#ifndef NUDGE_T_FLIGHT_H
#define NUDGE_T_FLIGHT_H

#include <stdio.h>
#include <string.h>

#include "store.h"

/* Puts member in journey at step_id (step 1, occasion 2027-01-08, an
 * empty context) until wake_at; the store's status. */
static inline int t_put_flight(store_t *s, const char *journey, int64_t member, const char *step_id, int64_t wake_at)
{
    store_flight_t f;
    memset(&f, 0, sizeof f);
    snprintf(f.journey, sizeof f.journey, "%s", journey);
    f.member = member;
    snprintf(f.occ, sizeof f.occ, "2027-01-08");
    f.step = 1;
    snprintf(f.step_id, sizeof f.step_id, "%s", step_id);
    f.wake_at = wake_at;
    f.entered_at = 1;
    buf_init(&f.ctx);
    buf_adds(&f.ctx, "{}");
    char err[ERRLEN] = "";
    int rc = store_flight_put(s, &f, err);
    if (rc != NUDGE_OK) fprintf(stderr, "putting %lld in %s: %s\n", (long long)member, journey, err);
    buf_free(&f.ctx);
    return rc;
}

#endif
