/* t_member.h - unit tests' helper: a member saved with an id and a zone. */
#ifndef NUDGE_T_MEMBER_H
#define NUDGE_T_MEMBER_H

#include <stdio.h>

#include "member.h"
#include "store.h"
#include "tz.h"

/* Saves a new member id in zone; its row id, or -1 (reported). */
static inline int64_t t_add_member(store_t *s, const char *id, const char *zone)
{
    member_t m;
    member_init(&m);
    m.s[MS_EXT_ID] = id;
    m.zone = tz_get(zone, NULL);
    char err[ERRLEN] = "";
    int rc = store_member_save(s, &m, err);
    if (rc != NUDGE_OK) fprintf(stderr, "saving %s: %s\n", id, err);
    int64_t rowid = rc == NUDGE_OK ? m.rowid : -1;
    member_free(&m);
    return rowid;
}

#endif
