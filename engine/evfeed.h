/* evfeed.h - the events of a JSONL file, handed out in time order.
 *
 * A file already in time order (exports usually are) is streamed: one
 * quick pass checks the order from each line's "at", then each event is
 * read and parsed once, when its time comes, with no memory kept. A file
 * out of order is indexed and sorted in memory (32 bytes an event) and
 * re-read in that order. Lines that are not valid events are reported
 * (file:line: reason) and skipped. */
#ifndef NUDGE_EVFEED_H
#define NUDGE_EVFEED_H

#include <stdint.h>
#include "event.h"

typedef struct evfeed evfeed_t;

/* Lines that are not valid events go to reject (line number, reason) if
 * given, else to stderr as "path:line: reason". by_member (history,
 * where members do not affect one another): each member's events in
 * time order; a file where they already are is streamed as it is, any
 * other is sorted so, the members in the order they first appear.
 * Otherwise: the time order of all events. */
typedef void (*evfeed_reject_fn)(void *ud, long line, const char *why);
evfeed_t *evfeed_open(const char *path, const tz_t *deflt, int by_member, evfeed_reject_fn reject, void *ud,
                      char *err);
void evfeed_free(evfeed_t *f);

/* The time of the next event; TIME_NONE at the end. */
int64_t evfeed_peek(evfeed_t *f);
/* 1: the next event in *ev (evt_free it; its text lives until the next
 * call) and its line in *line; 0: the end; -1: a read error (err). */
int evfeed_next(evfeed_t *f, event_t *ev, long *line, char *err);

/* One reader of several (a simulation run in parts, each part acting for
 * some members): a line whose member can be told without parsing it (a
 * string, no escapes on the line) is handed out, and reported when bad,
 * only when owns says that member is the caller's (1); it is skipped
 * unparsed otherwise (0). Lines whose member cannot be told so are parsed
 * and handed out to every reader; a bad one is reported (and counted)
 * only by the reader with report_unowned (one of them should have it). */
typedef int (*evfeed_owner_fn)(void *ud, const char *member);
evfeed_t *evfeed_open_part(const char *path, const tz_t *deflt, int by_member, evfeed_reject_fn reject, void *ud,
                           evfeed_owner_fn owns, void *owns_ud, int report_unowned, char *err);
/* 1 when the event last handed out passed the filter: its member is the
 * caller's, no need to ask again. */
int evfeed_owned(const evfeed_t *f);

/* Lines rejected so far; events not yet handed out (a filtered reader:
 * those of its members, and when report_unowned those whose member
 * cannot be told without parsing). */
long evfeed_rejected(const evfeed_t *f);
long evfeed_left(evfeed_t *f);
/* How far through the file the events handed out are, 0 to 1 (for a
 * progress line). */
double evfeed_progress(evfeed_t *f);

#endif
