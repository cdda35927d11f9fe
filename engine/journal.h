/* journal.h - the intake journal: events accepted over HTTP, appended to
 * a file and synced once per loop turn, so an answer can go out as soon
 * as the events it accepted are on disk, before the store has written
 * them. The store commits behind the journal without waiting for the
 * disk and notes the last record it holds (store_mark); at start, the
 * records past that note are applied again (jnl_replay), and records the
 * store has on disk are dropped (jnl_trim).
 *
 * Records are numbered 1, 2, ... and kept one a line, as text an operator
 * can read:
 *
 *     SEQ AT HASH JSON
 *
 * SEQ the record's number, AT the engine clock (Unix seconds) when the
 * event was accepted, HASH 16 hex digits of a hash of the rest, JSON the
 * event on one line. A line that does not check out ends the journal: it
 * is what a crash left half written (it was never answered).
 *
 * Two files: PATH, where records are added, and PATH.1, the previous
 * one, kept until the store has everything in it on disk. */
#ifndef NUDGE_JOURNAL_H
#define NUDGE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

typedef struct jnl jnl_t;

/* Opens (creating) the journal at path and reads it through, to learn the
 * last record; a half-written tail is cut off, and said so in warn (when
 * not NULL, ERRLEN bytes; "" otherwise). */
jnl_t *jnl_open(const char *path, char *warn, char *err);
void jnl_free(jnl_t *j);

/* Adds a record (held in memory until jnl_write) and returns its number.
 * json must not hold a newline. */
int64_t jnl_add(jnl_t *j, int64_t at, const char *json, size_t len);
/* Writes the records held and returns at once: a thread of the
 * journal's own waits for the disk (one sync for all the writes before
 * it started; the loop goes on meanwhile). jnl_fd becomes readable when
 * a sync has finished; jnl_synced then says how far records are on disk
 * (-1 with err when a sync failed: the disk refused). */
int jnl_write(jnl_t *j, char *err);
int jnl_fd(const jnl_t *j);
int64_t jnl_synced(jnl_t *j, char *err);
/* The last record's number (0 for none yet). */
int64_t jnl_last(const jnl_t *j);
/* Numbers go on from seq + 1 (the store may have records an emptied
 * journal no longer shows). Ignored when not past jnl_last. */
void jnl_continue(jnl_t *j, int64_t seq);
/* Calls fn for each record numbered after `after`, oldest first; stops
 * at the first fn that does not return NUDGE_OK (its err goes back). */
typedef int (*jnl_fn)(int64_t seq, int64_t at, const char *json, size_t len, void *ud, char *err);
int jnl_replay(jnl_t *j, int64_t after, jnl_fn fn, void *ud, char *err);
/* The store has every record up to `durable` on disk: drops what it
 * can. The current file is emptied when all of it is covered, or set
 * aside as PATH.1 when it has grown past rotate_bytes (PATH.1 goes once
 * covered). */
int jnl_trim(jnl_t *j, int64_t durable, size_t rotate_bytes, char *err);
/* Bytes in the journal's files (for metrics and tests). */
int64_t jnl_bytes(const jnl_t *j);
/* How long the sync thread's syncs took, so far (a copy, into out). */
void jnl_sync_hist(jnl_t *j, hist_t *out);

#endif
