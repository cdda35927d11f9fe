/* evfeed.h - the events of a JSONL file, handed out in time order.
 *
 * A file already in time order (exports usually are) is streamed: one
 * quick pass checks the order from each line's "at", then each event is
 * read and parsed once, when its time comes, with no memory kept. A file
 * out of order is indexed and sorted in memory (24 bytes an event) and
 * re-read in that order. Lines that are not valid events are reported
 * (file:line: reason) and skipped. */
#ifndef NUDGE_EVFEED_H
#define NUDGE_EVFEED_H

#include <stdint.h>
#include "event.h"

typedef struct evfeed evfeed_t;

evfeed_t *evfeed_open(const char *path, const tz_t *deflt, char *err);
void evfeed_free(evfeed_t *f);

/* The time of the next event; TIME_NONE at the end. */
int64_t evfeed_peek(evfeed_t *f);
/* 1: the next event in *ev (evt_free it; its text lives until the next
 * call) and its line in *line; 0: the end; -1: a read error (err). */
int evfeed_next(evfeed_t *f, event_t *ev, long *line, char *err);

/* Lines rejected so far; events not yet handed out. */
long evfeed_rejected(const evfeed_t *f);
long evfeed_left(evfeed_t *f);

#endif
