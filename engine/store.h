/* store.h - the workspace's sqlite store. Every SQL statement of nudge
 * lives in store.c, prepared once, in one table.
 *
 * Time anchors the scheduler needs (local join day, birthday month-day,
 * local day of the last order, points expiry day) are kept as indexed
 * columns maintained on write, so a calendar moment is a range query over
 * an index, never a scan of all members. */
#ifndef NUDGE_STORE_H
#define NUDGE_STORE_H

#include <stdint.h>
#include "member.h"
#include "util.h"

typedef struct store store_t;

enum store_mode {
    STORE_OPEN,     /* an existing workspace store */
    STORE_CREATE,   /* create the file; fails if it exists */
    STORE_SCRATCH,  /* an existing throwaway copy: no fsync, no WAL */
};

store_t *store_open(const char *path, int mode, char *err);
void store_close(store_t *s);
/* Every commit is synced to disk (the live engine's outbox), not only
 * checkpoints; and checkpoints move to a thread of the store's own (with
 * its own connection), off the caller's loop. store_close stops it. */
int store_durable(store_t *s, char *err);
const char *store_path(const store_t *s);

/* Write a consistent copy of the whole store to path (the file, or
 * sqlite's backup where that fails); store_copies writes n copies at
 * once, one thread each. */
int store_copy(store_t *s, const char *path, char *err);
int store_copies(store_t *s, const char *const *paths, int n, char *err);

int store_begin(store_t *s, char *err);
/* After store_durable, synced to disk before it returns. */
int store_commit(store_t *s, char *err);
/* A commit that does not wait for the disk: kept if the process dies,
 * maybe not if the machine does; store_durable's thread syncs it soon
 * after. Without store_durable, as store_commit. */
int store_commit_lazy(store_t *s, char *err);
/* A scratch store keeps no journal, so its transactions cannot be
 * undone: rolled back, it refuses to begin another (simulate stops). */
void store_rollback(store_t *s);
/* Marks: the caller's own counter (the daemon's intake journal records).
 * store_mark says the open transaction, once committed, covers
 * everything up to mark; store_durable_mark is the highest mark known
 * to be on disk (by a synced commit, or the background sync of lazy
 * ones), so what it covers may be dropped elsewhere. */
void store_mark(store_t *s, int64_t mark);
int64_t store_durable_mark(store_t *s);
/* After store_durable: the WAL sizes, in pages, at which the background
 * checkpointer copies the WAL into the database (default 32768, 128 MB),
 * at which the WAL starts over once the checkpointer has caught up
 * (262144, 1 GB), and at which it starts over whatever that costs
 * (524288, 2 GB). For tests and tuning; 0 keeps a value. */
void store_wal_limits(store_t *s, int ckpt_pages, int restart_pages, int force_pages);
/* 1 when the WAL is past its restart size and the checkpointer has
 * copied every frame committed so far: a commit now starts the WAL over
 * and copies only the open transaction's writes itself. A writer that
 * keeps a transaction open (the daemon's batch window) commits early
 * then, or the WAL grows until the force size makes a long copy. */
int store_wal_restart_due(store_t *s);
/* The WAL is past its restart size: it starts over once the
 * checkpointer has caught up (win_length). */
int store_wal_restart_near(store_t *s);
/* After store_durable: bytes this process's commits have written to the
 * WAL (every page a commit changed, once, with its frame header). Per
 * event accepted, what the disk pays for one: random pages of large
 * indexes make it grow with the store. */
/* Members found by id from the store's memory of recent ones (hits) and
 * by a query (misses), inside transactions, since it opened; and how
 * many it holds now. */
void store_member_cache_stats(const store_t *s, int64_t *hits, int64_t *misses, int64_t *held);
/* Keeps up to max members found by id in memory, as the store has them
 * (0, the default: none). The daemon does: its events name the same
 * members again and again; an import or a simulation meets each one once
 * or twice, and would only pay for the copies. */
void store_member_cache(store_t *s, size_t max);
int64_t store_wal_bytes(store_t *s);
/* Rows this store's connection has inserted, updated or deleted since it
 * opened: a caller that compares two readings learns whether it wrote. */
int64_t store_changes(const store_t *s);
/* Times the daemon's commits started the WAL over (copying what the
 * checkpointer had not, then two syncs), and the time those took them,
 * tries that found the WAL busy included. */
void store_wal_restarts(const store_t *s, int64_t *count, double *seconds);
/* The outbox's keys of recent messages wait in memory until this many
 * (default 131072) go to the store's index of keys in one sorted batch,
 * at least chunk_min (1024) a commit. For tests and tuning; 0 keeps a
 * value. store_keys_recent: how many wait now (-1 not read yet). */
void store_keys_limits(store_t *s, size_t merge_min, size_t chunk_min);
int64_t store_keys_recent(store_t *s);
/* In a transaction: the merging its commit would do, now, once at least
 * min keys are owed (twice those added since the last merge), forming the
 * batch first when enough wait; that transaction's commit then merges
 * only what is owed, without its floor. Like store_flush_events, for a
 * daemon between requests, while its commit would hold the loop. */
int store_merge_keys(store_t *s, size_t min, char *err);

int store_meta_set(store_t *s, const char *key, const char *value, char *err);
/* 1 and the value in out (n bytes) when key is set, else 0. */
int store_meta_get(store_t *s, const char *key, char *out, size_t n);

/* ---- members ---- */
/* 1 found (m filled), 0 not found, -1 error. The zone is resolved with
 * tz_get; a stored zone the system no longer knows falls back to UTC. */
int store_member_find(store_t *s, const char *ext_id, member_t *m, char *err);
int store_member_load(store_t *s, int64_t rowid, member_t *m, char *err);
/* The rowid of a member id (from the id index alone); 0 when unknown. */
int64_t store_member_rowid(store_t *s, const char *ext_id);
/* Insert (rowid 0, sets rowid) or update; derived columns come from m. */
int store_member_save(store_t *s, member_t *m, char *err);
/* Saves only what an order or a channel change touches (cheaper: the
 * anchor indexes of the other columns are left alone). was_day: the
 * member's last_order_day as stored; when it has not changed, the
 * last-order index is left alone too. */
int store_member_save_orders(store_t *s, const member_t *m, int32_t was_day, char *err);
int store_member_save_reach(store_t *s, const member_t *m, char *err);
int64_t store_member_count(store_t *s);
int64_t store_member_max_rowid(store_t *s);
/* A store that acts for some members only (one part of a simulation run
 * in parts): candidates, wake-ups and held messages are those of members
 * with row ids in [lo, hi]; a new member's row id is at least new_floor.
 * Everything else (finding a member, writing) is unchanged. */
void store_own(store_t *s, int64_t lo, int64_t hi, int64_t new_floor);
/* Two scratch stores run from one copy: how many new event ids and
 * order ids both took in (parts of a simulation that would have called
 * one of them already known, had they run as one). */
int64_t store_scratch_shared(store_t *a, store_t *b);
/* A scratch store's page cache (KiB): with the rest of a simulation of
 * 1 M members, it stays under 500 MB resident. */
#define STORE_SCRATCH_CACHE_KIB 400000
/* The page cache a scratch store may fill, in KiB (parts of one
 * simulation share the memory one would have). */
int store_cache_kib(store_t *s, long kib, char *err);
/* A bulk load into an empty members table drops the anchor indexes and
 * store_bulk_end builds them once at the end (far faster than keeping
 * them up to date row by row). No-op when members exist. */
int store_bulk_begin(store_t *s, char *err);
int store_bulk_end(store_t *s, char *err);
/* Custom attribute names seen in imported data. */
int store_attr_name_add(store_t *s, const char *name, char *err);
/* Calls fn for each known custom attribute name. */
void store_attr_names(store_t *s, void (*fn)(const char *name, void *ud), void *ud);
/* Every zone members have been stored in; caller frees with
 * store_strv_free. */
char **store_zones(store_t *s, int *n);
void store_strv_free(char **v, int n);

/* ---- candidates of a calendar moment ---- */
enum store_cand {
    CAND_JOIN_DAY,        /* join_day in [lo, hi] */
    CAND_JOIN_MD,         /* join_md in {lo, hi}, joined before day extra */
    CAND_BIRTH_MD,        /* birth_md in {lo, hi} */
    CAND_LAST_ORDER_DAY,  /* last_order_day in [lo, hi] */
    CAND_POINTS_EXPIRY,   /* a batch with points left expiring on day lo */
    CAND_ALL,             /* every member of the zone */
};
typedef struct store_iter store_iter_t;
store_iter_t *store_candidates(store_t *s, int kind, const char *zone, int32_t lo, int32_t hi,
                               int32_t extra, char *err);
/* 1 a member in m (and for CAND_POINTS_EXPIRY the points left in batches
 * of that day in *value), 0 done, -1 error. m's strings belong to the
 * iterator's row: valid until the next call or store_iter_free. */
int store_iter_next(store_iter_t *it, member_t *m, int64_t *value, char *err);
void store_iter_free(store_iter_t *it);

/* ---- points ---- */
int store_points_add(store_t *s, int64_t member, int64_t earned_at, int32_t expires_day,
                     int64_t points, char *err);
/* Consumes the soonest-expiring batches not expired on day today. Fails
 * (and changes nothing) when the balance is short; *balance gets it. */
int store_points_redeem(store_t *s, int64_t member, int32_t today, int64_t points,
                        int64_t *balance, char *err);
/* Balance of batches not expired on day today; the next expiry day and
 * the points left expiring on it. */
void store_points_summary(store_t *s, int64_t member, int32_t today, int64_t *balance,
                          int32_t *next_day, int64_t *next_points);

/* ---- orders and events ---- */
/* 1 recorded, 0 that order_id was already recorded */
int store_order_add(store_t *s, const char *order_id, int64_t member, int64_t at, int64_t cents,
                    char *err);
/* 1 recorded, 0 that event id is known */
int store_event_add(store_t *s, const char *ext_id, const char *type, int64_t member, int64_t at,
                    const char *body, char *err);
int store_event_known(store_t *s, const char *ext_id);
int store_event_remove(store_t *s, const char *ext_id, char *err);
/* In a transaction, events added wait in memory to be written sorted at
 * the commit. With at least min of them waiting, they are written into
 * the open transaction now (nothing else changes: a rollback still undoes
 * them), so that the commit has less to do: the daemon calls this between
 * requests, while the journal syncs, because its commit holds the loop. */
int store_flush_events(store_t *s, size_t min, char *err);
/* Events of the open transaction waiting in memory for its commit. */
size_t store_events_waiting(const store_t *s);

/* ---- journeys ---- */
typedef struct store_journey {
    int64_t first_loaded_at;  /* TIME_NONE when never loaded */
    int64_t cursor;           /* calendar moments before this are done */
    int disabled;
    int paused;               /* by an operator (POST /v1/journeys/NAME/pause) */
    char error[ERRLEN];
} store_journey_t;
int store_journey_get(store_t *s, const char *name, store_journey_t *j);   /* 1 / 0 */
int store_journey_put(store_t *s, const char *name, const store_journey_t *j, char *err);

/* ---- members in flight ---- */
typedef struct store_flight {
    char journey[128];
    int64_t member;
    char occ[64];
    int step;
    char step_id[64];
    int64_t wake_at, entered_at;
    buf_t ctx;                 /* occasion JSON */
} store_flight_t;
int store_flight_put(store_t *s, const store_flight_t *f, char *err);
int store_flight_delete(store_t *s, const char *journey, int64_t member, char *err);
int store_flight_exists(store_t *s, const char *journey, int64_t member);
/* The member's place in the journey into f (ctx initialised by the
 * caller): 1 found, 0 not in it, NUDGE_ERR with err. */
int store_flight_get(store_t *s, const char *journey, int64_t member, store_flight_t *f, char *err);
/* The earliest wake-up strictly after `after`; TIME_NONE when none. */
int64_t store_flight_next_wake(store_t *s, int64_t after);
/* Members of journey waiting at a step whose id is not in keep[0..nkeep)
 * (all of them when nkeep is 0) leave it; journey_exits records each
 * with reason and at. Returns how many left, NUDGE_ERR with err. */
int store_flights_exit(store_t *s, const char *journey, const char *const *keep, int nkeep, const char *reason,
                       int64_t at, char *err);
/* The member's latest recorded exit from journey (see store_flights_exit):
 * 1 with step, reason and *at filled, 0 none. */
int store_exit_last(store_t *s, int64_t member, const char *journey, char *step, size_t nstep, char *reason,
                    size_t nreason, int64_t *at);
/* Due flights (wake_at <= t), oldest first, at most limit, after the
 * flight `after` in that order (NULL: from the first), so that a caller
 * leaving some in place (paused journeys) still reaches the rest.
 * Returns the number filled into out[] (each ctx buf initialised by the
 * caller). */
int store_flights_due(store_t *s, int64_t t, const store_flight_t *after, store_flight_t *out, int limit,
                      char *err);
/* ---- the outbox (table messages) ----
 * One row per decided message, unique by idempotency key. status:
 *   held      waiting for quiet hours to end (at = when they end)
 *   queued    due at `at`; retry: the same after a failed attempt
 *   sending   claimed by the dispatcher (back to queued after a crash)
 *   sent      the provider accepted it (provider_id: its message id)
 *   dead      failed for good or out of attempts (reason says why)
 *   dropped   never sent: suppressed, capped, quiet hours expired, ... */
typedef struct store_msg {
    int64_t id;
    char key[256];
    int64_t at, decided_at, member;
    char journey[128], step[64], channel[16], tmpl[128];
    char member_id[128], zone[64];
    char status[16], reason[256], provider_id[64];
    char address[256];         /* the openid, phone or email it goes to */
    int attempts, segments;
    char receipt[160];         /* the provider's delivery report: "delivered", "failed: ..."; "" none yet */
    int64_t receipt_at;        /* when it came; TIME_NONE */
    buf_t content;             /* empty when not rendered */
    buf_t ctx;                 /* the occasion (JSON), for rendering again */
    int fresh;                 /* its key names an event recorded in this transaction: never
                                  decided before, so only keys in memory need a look (adding) */
} store_msg_t;

/* Both buffers of m; store_msg_free releases them. */
void store_msg_init(store_msg_t *m);
void store_msg_free(store_msg_t *m);

/* Adds m with status ("queued", "dropped") and reason (or NULL).
 * 1 added, 0 when the key is already in the outbox. */
int store_outbox_add(store_t *s, const store_msg_t *m, const char *status, const char *reason, char *err);
/* Due queued/retry messages of channel, oldest first, marked 'sending'
 * with one more attempt. Returns how many were filled. */
int store_outbox_claim(store_t *s, int64_t now, const char *channel, store_msg_t *out, int limit, char *err);
/* Messages of channel queued or waiting to retry (the outbox's depth). */
int64_t store_outbox_pending(store_t *s, const char *channel);
/* The earliest due queued/retry message of channel; TIME_NONE if none. */
int64_t store_outbox_next(store_t *s, const char *channel);
/* The outcome of an attempt made at `now`: status sent / retry (at = the
 * next try) / dead. A sent or dead message keeps its due time in `at`
 * (listings show `now`, kept as done_at). */
int store_outbox_finish(store_t *s, int64_t id, const char *status, int64_t at, int64_t now, const char *reason,
                        const char *provider_id, int segments, char *err);
/* Messages queued, in flight, sent or to be retried with at >= since:
 * fn(member, channel, at, journey) for each (frequency caps at start). */
int store_outbox_recent(store_t *s, int64_t since,
                        void (*fn)(int64_t member, const char *channel, int64_t at, const char *journey, void *ud),
                        void *ud, char *err);
/* 1 when a message of the member (rowid) with this idempotency key is in
 * the outbox. */
int store_outbox_has(store_t *s, int64_t member, const char *key);
/* After a crash: 'sending' rows back to 'queued'. Returns their count. */
int store_outbox_recover(store_t *s, char *err);
/* At most limit (-1: all) messages with id > after, and status unless
 * NULL, in id order. */
int store_outbox_page(store_t *s, const char *status, int64_t after, int limit,
                      void (*fn)(const store_msg_t *m, void *ud), void *ud, char *err);
/* Every message, or those with status, in id order. */
int store_outbox_list(store_t *s, const char *status, void (*fn)(const store_msg_t *m, void *ud), void *ud,
                      char *err);
/* Re-queues dead message id (or every dead one when id is 0) due now.
 * Returns how many. */
int store_outbox_retry(store_t *s, int64_t id, int64_t now, char *err);
/* Adds m as held until m->at; a key already in the outbox is left alone. */
int store_held_put(store_t *s, const store_msg_t *m, char *err);
/* The earliest release; TIME_NONE when nothing is held. */
int64_t store_held_next(store_t *s);
/* Held messages due by t, oldest first, at most limit (content bufs
 * initialised by the caller). */
int store_held_due(store_t *s, int64_t t, store_msg_t *out, int limit, char *err);
int store_held_delete(store_t *s, int64_t id, char *err);
/* Keeps the row as 'dropped' with the reason (it can no longer be sent). */
int store_held_drop(store_t *s, int64_t id, const char *reason, char *err);

/* A provider's delivery report for a message, found by its idempotency
 * key on channel (SMS receipts carry it as OutId; the member is read from
 * the key) or, key NULL, by the provider's id of it among the WeChat
 * messages of the member with that openid (WeChat's reports name both). Returns the messages updated
 * (0: none known), NUDGE_ERR with err. */
int store_receipt(store_t *s, const char *channel, const char *key, const char *provider_id, const char *openid,
                  const char *receipt, int64_t at, char *err);
/* Members whose `field` ("phone": matched on its last 11 digits, spaces
 * and dashes aside; "wechat_openid") is value: fn gets each one's
 * external id. Returns how many, NUDGE_ERR with err. */
int store_members_by_address(store_t *s, const char *field, const char *value,
                             void (*fn)(const char *ext_id, void *ud), void *ud, char *err);
/* The member's messages per journey and status (oldest journey name
 * first): how many, and the latest one's time (sent: when it went). */
int store_member_messages(store_t *s, int64_t member,
                          void (*fn)(const char *journey, const char *status, int64_t n, int64_t last, void *ud),
                          void *ud, char *err);
/* Calls fn(journey, step_id, count) per journey and step. */
void store_flight_counts(store_t *s, void (*fn)(const char *j, const char *step, int64_t n, void *ud),
                         void *ud);

/* ---- entries (re-entry rule "once") ---- */
int store_entry_add(store_t *s, const char *journey, int64_t member, const char *occ, int64_t at,
                    char *err);   /* 1 added, 0 existed */
int store_entry_exists(store_t *s, const char *journey, int64_t member);

/* ---- messages decided ---- */
void store_message_counts(store_t *s, void (*fn)(const char *channel, const char *status, int64_t n,
                                                 void *ud), void *ud);

#endif
