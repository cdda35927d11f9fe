/* import.h - loading members (CSV) and events (JSONL) into a workspace.
 *
 * A bad row is reported on the error stream with file:line and reason and
 * skipped; the rest goes on. Importing the same file again changes
 * nothing: members are compared before they are written, and events are
 * skipped by id (or by a fingerprint of their content when they have
 * none). Events imported this way are history: they change member state
 * but do not trigger journeys. */
#ifndef NUDGE_IMPORT_H
#define NUDGE_IMPORT_H

#include <stdio.h>
#include "store.h"
#include "ws.h"

typedef struct import_stats {
    long long read, inserted, updated, unchanged, duplicates, rejected;
} import_stats_t;

/* progress: show a progress line on stderr (a terminal). errs: where
 * rejected rows are reported (at most max_errors lines, then a count). */
int import_members(store_t *s, const ws_t *w, const char *path, int progress, FILE *errs, import_stats_t *st,
                   char *err);
int import_events(store_t *s, const ws_t *w, const char *path, int progress, FILE *errs, import_stats_t *st,
                  char *err);

#endif
