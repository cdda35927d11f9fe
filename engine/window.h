/* window.h - how long the store gathers accepted events before a lazy
 * commit. The journal makes each event durable before its answer; the
 * store then writes a window's events (and what their journeys decided)
 * in one transaction. A member's rows and the outbox's member index are
 * random pages, so a longer window writes a page once for more events:
 * less work an event, but a longer pause on the loop at each commit.
 *
 * So the window is [api] commit_ms while the loop keeps up, and stretches
 * (doubling, up to commit_max_ms) while it does not: when the loop's
 * thread was running, or ready to run and waiting for the processor, for
 * most of a window's time. Requests then queue anyway, and the work saved
 * is what lets the loop catch up. It comes back (halving) once the loop
 * has room again. */
#ifndef NUDGE_WINDOW_H
#define NUDGE_WINDOW_H

#include <stdint.h>

/* the loop counts as behind at this share of a window busy ... */
#define WIN_BUSY_BEHIND 0.90
/* ... and as having room again below this one */
#define WIN_BUSY_ROOM 0.80

/* While the store's WAL waits to start over, windows of at most this
 * long, for at most WIN_RESTART_FOR_NS: see win_length */
#define WIN_RESTART_MS 20
#define WIN_RESTART_FOR_NS 3000000000LL

typedef struct win {
    long base_ms, max_ms;   /* [api] commit_ms, commit_max_ms */
    long ms;                /* the window now */
    int64_t t0_ns, busy0_ns;   /* when the open window began, and the busy clock then */
    int open;
    int64_t near_ns;        /* since when the WAL waits to start over (0: it does not) */
} win_t;

/* base_ms <= max_ms, both > 0 */
void win_init(win_t *w, long base_ms, long max_ms);
/* A window begins now (its first write). */
void win_begin(win_t *w);
/* The window that began at win_begin ran its course: the next one's
 * length follows from how busy the loop was. Returns the new length. */
long win_end(win_t *w);
/* The same rule on given figures (wall and busy time of a window). */
long win_adapt(win_t *w, int64_t wall_ns, int64_t busy_ns);
/* The length in ms of a window beginning at now_ns. restart_near: the
 * store's WAL is past its restart size (store_wal_restart_near). The
 * commit that starts the WAL over copies, on the loop, what the
 * checkpointer has not: the frames of the last window. Short windows
 * make that copy short, but the checkpointer must finish a round between
 * two commits to catch up, so after WIN_RESTART_FOR_NS of them the
 * windows are as before until the WAL has started over. */
long win_length(win_t *w, int restart_near, int64_t now_ns);

/* Nanoseconds the calling thread has spent on a processor or waiting in
 * its run queue (Linux's schedstat); its processor time alone where that
 * is not available. Only differences mean anything. */
int64_t win_busy_ns(void);

#endif
