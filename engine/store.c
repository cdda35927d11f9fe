/* store.c - see store.h. All of nudge's SQL is here. */
#define _GNU_SOURCE   /* sync_file_range */
#include "store.h"
#include "cal.h"

#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_CACHE_KIB 65536       /* a workspace store's page cache */
#define BULK_SORT_THREADS 2
#define BULK_SORT_CACHE_KIB 2048
#define STR_(x) #x
#define STR(x) STR_(x)
#define PHONE_KEY "substr(replace(replace(phone, ' ', ''), '-', ''), -11)"

/* A member's orders live apart from the profile, in a narrow row of a
 * member who ever ordered: an order (the commonest event) rewrites these
 * few columns and the churn moments' index, not the member's whole row
 * of 24 columns and its pages (6-12% of an event's instructions). The
 * zone is repeated here for that index. */
#define MEMBER_ORDERS_TABLE \
    "CREATE TABLE IF NOT EXISTS member_orders(member INTEGER PRIMARY KEY, zone INTEGER NOT NULL," \
    " order_count INTEGER NOT NULL, spent_cents INTEGER NOT NULL, last_order_at INTEGER," \
    " last_order_day INTEGER);"

/* The outbox: one row per decided message, unique by its member and
 * idempotency key; at is when it is due (held: when quiet hours end). */
#define MESSAGES_COLS \
    "id, key, at, member, journey, step, channel, template, content, status, reason, decided_at, member_id," \
    " zone, attempts, provider_id, segments, address, ctx, done_at, receipt, receipt_at"
#define MESSAGES_TABLE \
    "(id INTEGER PRIMARY KEY, key TEXT NOT NULL," \
    " at INTEGER NOT NULL, member INTEGER NOT NULL, journey TEXT NOT NULL, step TEXT NOT NULL," \
    " channel TEXT, template TEXT, content TEXT, status TEXT NOT NULL, reason TEXT," \
    " decided_at INTEGER, member_id TEXT, zone TEXT, attempts INTEGER NOT NULL DEFAULT 0," \
    " provider_id TEXT, segments INTEGER, address TEXT, ctx TEXT, done_at INTEGER," \
    " receipt TEXT, receipt_at INTEGER)"
#define KEYS_UPTO "message_keys_upto"   /* meta: message_keys holds every message up to this id */
/* Format 9's index of the keys by member (upgrades only: format 10 keeps
 * them in message_keys, below). */
#define MESSAGES_KEY_INDEX "CREATE UNIQUE INDEX IF NOT EXISTS messages_member_key ON messages(member, key);"
/* The outbox's keys by member: a key is kept once (a replayed tick or
 * event cannot queue twice), and a member's messages are found (the
 * member API, receipts). An index on the messages did this until format
 * 9, but its pages are the members' and each message wrote a random one:
 * on a store of 2 M messages, 68% of the pages the commits wrote. Here
 * they come in bulk, sorted, from the keys of recent messages, which the
 * store keeps in memory until then (okeys below); message_keys_upto in
 * meta says which messages it holds. A key is its slot: a hash of it,
 * the last 3 bits clear, and the first of the 8 numbers from there that
 * its member has free (the message's own key tells which is which), so
 * a row is three integers, 20 bytes against 55 with the text. */
#define MESSAGE_KEYS_TABLE \
    "CREATE TABLE IF NOT EXISTS message_keys(member INTEGER NOT NULL, h INTEGER NOT NULL, id INTEGER NOT NULL," \
    " PRIMARY KEY(member, h)) WITHOUT ROWID;"
#define KEY_SLOTS 8
#define KEY_SLOT_RANGE " BETWEEN ?2 AND ?2 + " STR(KEY_SLOTS) " - 1"   /* a key's slots, the first bound as ?2 */

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS members("
    " id INTEGER PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE, name TEXT, phone TEXT, email TEXT,"
    " wechat_openid TEXT, birthday TEXT, gender TEXT, tz TEXT, tier TEXT, tags TEXT, store TEXT,"
    " attrs TEXT, zone INTEGER NOT NULL, wechat_subscribed INTEGER NOT NULL DEFAULT 0,"
    " sms_opt_out INTEGER NOT NULL DEFAULT 0, email_opt_out INTEGER NOT NULL DEFAULT 0,"
    " joined_at INTEGER, join_day INTEGER, join_md INTEGER, birth_md INTEGER);"
    "CREATE INDEX IF NOT EXISTS members_join ON members(zone, join_day);"
    "CREATE INDEX IF NOT EXISTS members_join_md ON members(zone, join_md);"
    "CREATE INDEX IF NOT EXISTS members_birth ON members(zone, birth_md);"
    MEMBER_ORDERS_TABLE
    "CREATE INDEX IF NOT EXISTS member_orders_last ON member_orders(zone, last_order_day);"
    "CREATE INDEX IF NOT EXISTS members_zone ON members(zone);"
    /* provider callbacks name members by their address: an SMS reply by
     * the phone (the last 11 digits of it without spaces or dashes, as
     * phones are stored as given), a WeChat push by the openid */
    "CREATE INDEX IF NOT EXISTS members_phone ON members(" PHONE_KEY ") WHERE phone IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS members_openid ON members(wechat_openid) WHERE wechat_openid IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS zones(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS attr_names(name TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS points(id INTEGER PRIMARY KEY, member INTEGER NOT NULL,"
    " earned_at INTEGER, expires_day INTEGER NOT NULL, points INTEGER NOT NULL,"
    " left_points INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS points_member ON points(member, expires_day);"
    /* the expiry moment's candidates come from this index alone (member
     * and points in it): a day's batches of all zones are read for each
     * zone, and a seek into the table for each would be most of the year */
    "CREATE INDEX IF NOT EXISTS points_expiry ON points(expires_day, member, left_points) WHERE left_points > 0;"
    "CREATE TABLE IF NOT EXISTS orders(order_id TEXT PRIMARY KEY, member INTEGER NOT NULL,"
    " at INTEGER NOT NULL, cents INTEGER NOT NULL) WITHOUT ROWID;"
    /* the event log exists mostly to recognise ids seen before: keyed by a
     * 63-bit fingerprint of the id (one B-tree, no text index), checked by
     * a second, independent one; the id text and body are kept for event
     * types that are not built in */
    "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, chk INTEGER NOT NULL, type TEXT NOT NULL,"
    " member INTEGER, at INTEGER NOT NULL, ext_id TEXT, body TEXT);"
    /* the Bloom filter of the log's keys as the last process left it,
     * valid while its generation is the log's (meta 'event_gen', counted
     * up by every transaction that changes the log): building it anew
     * reads the whole log */
    "CREATE TABLE IF NOT EXISTS event_filter(one INTEGER PRIMARY KEY CHECK (one = 1),"
    " gen INTEGER NOT NULL, nkeys INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS journeys(name TEXT PRIMARY KEY, first_loaded_at INTEGER,"
    " cursor INTEGER, disabled INTEGER NOT NULL DEFAULT 0, error TEXT,"
    " paused INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS flights(journey TEXT NOT NULL, member INTEGER NOT NULL,"
    " occ TEXT NOT NULL, step INTEGER NOT NULL, step_id TEXT NOT NULL, wake_at INTEGER NOT NULL,"
    " entered_at INTEGER NOT NULL, ctx TEXT, PRIMARY KEY(journey, member)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS flights_wake ON flights(wake_at);"
    /* members who left a journey for a reason other than its own steps
     * (a reload removed their step): who, from where, why, when */
    "CREATE TABLE IF NOT EXISTS journey_exits(journey TEXT NOT NULL, member INTEGER NOT NULL,"
    " step_id TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS journey_exits_member ON journey_exits(member, journey);"
    "CREATE TABLE IF NOT EXISTS entries(journey TEXT NOT NULL, member INTEGER NOT NULL,"
    " occ TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY(journey, member, occ)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS messages" MESSAGES_TABLE ";"
    MESSAGE_KEYS_TABLE
    /* The dispatcher's hot path touches small indexes only: the pending
     * one holds what is yet to be sent (a claim removes the row from it),
     * the sending one what is in flight (a few pages at most), and `at`
     * stays put when a message is sent (done_at records that), so a
     * delivered message costs no index work beyond its insert. */
    "CREATE INDEX IF NOT EXISTS messages_pending ON messages(channel, at, status) WHERE status IN ('queued', 'retry');"
    "CREATE INDEX IF NOT EXISTS messages_sending ON messages(status) WHERE status = 'sending';"
    "CREATE INDEX IF NOT EXISTS messages_at ON messages(at);"
    "CREATE INDEX IF NOT EXISTS messages_held ON messages(at) WHERE status = 'held';";

/* The members a store acts for (store_own): statements that find members
 * to act on (candidates, wake-ups, held messages) keep to that range of
 * row ids, bound as ?20 and ?21 (all of them unless set). */
#define OWN(col) " AND " col " BETWEEN ?20 AND ?21"
#define OWN_LO 20
#define OWN_HI 21

/* a member's messages per journey and status: those in message_keys, and
 * `more` (" OR id IN (...)": the recent ones, by id) */
#define MSG_OF_MEMBER(more) \
    "SELECT journey, status, count(*), max(CASE WHEN status IN ('sent', 'dead')" \
    " THEN coalesce(done_at, at) ELSE at END) FROM messages WHERE id IN (SELECT id FROM message_keys WHERE member = ?1)" \
    more " GROUP BY journey, status ORDER BY 1, 2"

#define MEMBER_COLS \
    "m.id, m.ext_id, m.name, m.phone, m.email, m.wechat_openid, m.birthday, m.gender, m.tz," \
    " m.tier, m.tags, m.store, m.attrs, m.zone, m.wechat_subscribed, m.sms_opt_out," \
    " m.email_opt_out, m.joined_at, o.order_count, o.spent_cents, o.last_order_at," \
    " m.join_day, m.join_md, m.birth_md, o.last_order_day"

/* every query of MEMBER_COLS reads members m with this; a member who
 * never ordered has no row in it (NULLs: no orders) */
#define WITH_ORDERS " LEFT JOIN member_orders o ON o.member = m.id"

#define MEMBER_NCOLS 25

#define OUT_COLS \
    "id, key, CASE WHEN status IN ('sent', 'dead') THEN coalesce(done_at, at) ELSE at END, member, journey, step, channel, template, content, decided_at, member_id, zone, status," \
    " coalesce(reason, ''), attempts, coalesce(provider_id, ''), coalesce(segments, 0), coalesce(address, ''), ctx," \
    " coalesce(receipt, ''), receipt_at"

enum stmt {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_DATA_VERSION,
    S_META_SET,
    S_MEMBER_FIND, S_MEMBER_ROWID, S_MEMBER_LOAD, S_MEMBER_INSERT, S_MEMBER_UPDATE, S_ORDERS_PUT, S_ORDERS_SAME_DAY, S_ORDERS_DELETE, S_MEMBER_REACH,
    S_MEMBER_COUNT, S_MEMBER_MAX_ID, S_ZONE_MAX_ID, S_ATTR_ADD, S_ATTR_ALL, S_ZONES, S_ZONE_ADD,
    S_CAND_JOIN_DAY, S_CAND_JOIN_MD, S_CAND_BIRTH_MD, S_CAND_LAST_ORDER, S_CAND_POINTS, S_CAND_ALL,
    S_CAND_POINTS_BY_MEMBER, S_CAND_ALL_SCAN, S_ZONE_COUNTS, S_POINTS_DAY_COUNT,
    S_POINTS_ADD, S_POINTS_LIVE, S_POINTS_SET_LEFT,
    S_ORDER_ADD, S_ORDER_KNOWN, S_EVENT_ADD, S_EVENT_KNOWN, S_EVENT_REMOVE, S_EVENT_GEN, S_EVENT_GEN_BUMP,
    S_FILTER_GET, S_FILTER_PUT,
    S_JOURNEY_GET, S_JOURNEY_PUT,
    S_FLIGHT_PUT, S_FLIGHT_DELETE, S_FLIGHT_EXISTS, S_FLIGHT_GET, S_FLIGHT_STEPS, S_FLIGHT_EXIT_LOG, S_FLIGHT_EXIT, S_EXIT_LAST, S_FLIGHT_NEXT, S_FLIGHT_DUE, S_FLIGHT_COUNTS,
    S_ENTRY_ADD, S_ENTRY_EXISTS,
    S_MSG_COUNTS, S_MSG_OF_MEMBER, S_HELD_PUT, S_HELD_NEXT, S_HELD_DUE, S_HELD_DELETE, S_HELD_DROP, S_META_GET, S_OUT_RECENT, S_OUT_ADD, S_OUT_CLAIM,
    S_OUT_NEXT, S_OUT_PENDING, S_OUT_FINISH, S_OUT_RECOVER, S_OUT_PAGE, S_OUT_RETRY_ONE, S_RECEIPT_KEY, S_RECEIPT_PROVIDER, S_MEMBERS_BY_PHONE, S_MEMBERS_BY_OPENID, S_OUT_RETRY_DEAD,
    S_KEYS_FIND, S_KEYS_ADD, S_KEYS_SLOTS, S_KEYS_DELETE, S_KEYS_RECENT, S_MSG_KEY_OF, S_RECEIPT_ID_PROVIDER, S_MEMBER_IDS_BY_OPENID,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                   " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [S_MEMBER_FIND] = "SELECT " MEMBER_COLS " FROM members m" WITH_ORDERS " WHERE m.ext_id = ?1",
    [S_MEMBER_ROWID] = "SELECT id FROM members WHERE ext_id = ?1",
    [S_MEMBER_LOAD] = "SELECT " MEMBER_COLS " FROM members m" WITH_ORDERS " WHERE m.id = ?1",
    [S_MEMBER_INSERT] =
        "INSERT INTO members(ext_id, name, phone, email, wechat_openid, birthday, gender, tz, tier,"
        " tags, store, attrs, zone, wechat_subscribed, sms_opt_out, email_opt_out, joined_at,"
        " join_day, join_md, birth_md, id)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)",
    [S_MEMBER_UPDATE] =
        "UPDATE members SET ext_id=?1, name=?2, phone=?3, email=?4, wechat_openid=?5, birthday=?6,"
        " gender=?7, tz=?8, tier=?9, tags=?10, store=?11, attrs=?12, zone=?13, wechat_subscribed=?14,"
        " sms_opt_out=?15, email_opt_out=?16, joined_at=?17, join_day=?18, join_md=?19, birth_md=?20"
        " WHERE id = ?21",
    /* a row that holds these values already is left alone */
    [S_ORDERS_PUT] = "INSERT INTO member_orders(member, zone, order_count, spent_cents, last_order_at, last_order_day)"
                     " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(member) DO UPDATE SET zone=excluded.zone,"
                     " order_count=excluded.order_count, spent_cents=excluded.spent_cents,"
                     " last_order_at=excluded.last_order_at, last_order_day=excluded.last_order_day"
                     " WHERE (zone, order_count, spent_cents, last_order_at, last_order_day) IS NOT"
                     " (excluded.zone, excluded.order_count, excluded.spent_cents, excluded.last_order_at,"
                     " excluded.last_order_day)",
    /* sqlite rewrites an index whose column is SET, whatever the value */
    [S_ORDERS_SAME_DAY] = "UPDATE member_orders SET order_count=?2, spent_cents=?3, last_order_at=?4 WHERE member = ?1",
    [S_ORDERS_DELETE] = "DELETE FROM member_orders WHERE member = ?1",
    [S_MEMBER_REACH] = "UPDATE members SET wechat_openid=?2, wechat_subscribed=?3, sms_opt_out=?4,"
                       " email_opt_out=?5 WHERE id = ?1",
    [S_MEMBER_COUNT] = "SELECT count(*) FROM members",
    [S_MEMBER_MAX_ID] = "SELECT max(id) FROM members",
    [S_ZONE_MAX_ID] = "SELECT max(id) FROM members WHERE zone = ?1",
    [S_ATTR_ADD] = "INSERT OR IGNORE INTO attr_names(name) VALUES(?1)",
    [S_ATTR_ALL] = "SELECT name FROM attr_names ORDER BY name",
    [S_ZONES] = "SELECT id, name FROM zones ORDER BY id",
    [S_ZONE_ADD] = "INSERT INTO zones(name) VALUES(?1)",
    /* each moment reads one anchor index, pinned so the planner cannot
     * wander off to a scan; rows come in index order (deterministic) */
    [S_CAND_JOIN_DAY] = "SELECT " MEMBER_COLS ", 0 FROM members m INDEXED BY members_join" WITH_ORDERS
                        " WHERE m.zone = ?1 AND m.join_day BETWEEN ?2 AND ?3" OWN("m.id"),
    [S_CAND_JOIN_MD] = "SELECT " MEMBER_COLS ", 0 FROM members m INDEXED BY members_join_md" WITH_ORDERS
                       " WHERE m.zone = ?1 AND m.join_md IN (?2, ?3) AND m.join_day < ?4" OWN("m.id"),
    [S_CAND_BIRTH_MD] = "SELECT " MEMBER_COLS ", 0 FROM members m INDEXED BY members_birth" WITH_ORDERS
                        " WHERE m.zone = ?1 AND m.birth_md IN (?2, ?3)" OWN("m.id"),
    [S_CAND_LAST_ORDER] = "SELECT " MEMBER_COLS ", 0 FROM member_orders o INDEXED BY member_orders_last"
                          " CROSS JOIN members m WHERE o.zone = ?1 AND o.last_order_day BETWEEN ?2 AND ?3"
                          OWN("o.member") " AND m.id = o.member",
    /* the day's batches hold every zone's members (in member order, from
     * the covering index): the zone index says whether a batch's member
     * is in this zone (a small index that stays cached) before the
     * member's row is read (a page of a large table) */
    [S_CAND_POINTS] = "SELECT " MEMBER_COLS ", sum(p.left_points) FROM points p INDEXED BY points_expiry"
                      " CROSS JOIN members z INDEXED BY members_zone CROSS JOIN members m" WITH_ORDERS
                      " WHERE p.expires_day = ?2 AND p.left_points > 0" OWN("p.member") " AND z.zone = ?1 AND z.rowid = p.member"
                      " AND m.id = p.member GROUP BY p.member ORDER BY p.member",
    /* ... or, for a zone with fewer members than the day has batches (a
     * small zone on the day a year's points expire), a seek per member
     * of the zone: the same rows in the same order (the unary + keeps the
     * range of z.rowid from being copied to p.member, which would scan
     * the day for each member) */
    [S_CAND_POINTS_BY_MEMBER] = "SELECT " MEMBER_COLS ", sum(p.left_points) FROM members z INDEXED BY members_zone"
                                " CROSS JOIN points p INDEXED BY points_expiry CROSS JOIN members m" WITH_ORDERS
                                " WHERE z.zone = ?1" OWN("z.rowid") " AND p.expires_day = ?2 AND p.left_points > 0"
                                " AND p.member = +z.rowid AND m.id = z.rowid GROUP BY z.rowid ORDER BY z.rowid",
    [S_POINTS_DAY_COUNT] = "SELECT count(*) FROM points INDEXED BY points_expiry"
                           " WHERE expires_day = ?1 AND left_points > 0",
    /* a broadcast reads its zone in rowid order: sequential pages */
    [S_CAND_ALL] = "SELECT " MEMBER_COLS ", 0 FROM members m INDEXED BY members_zone" WITH_ORDERS " WHERE m.zone = ?1" OWN("m.id"),
    /* ... or reads the table straight through when the zone is most of it */
    [S_CAND_ALL_SCAN] = "SELECT " MEMBER_COLS ", 0 FROM members m NOT INDEXED" WITH_ORDERS " WHERE m.zone = ?1" OWN("m.id"),
    [S_ZONE_COUNTS] = "SELECT zone, count(*) FROM members GROUP BY zone",
    [S_POINTS_ADD] = "INSERT INTO points(member, earned_at, expires_day, points, left_points)"
                     " VALUES(?1, ?2, ?3, ?4, ?4)",
    [S_POINTS_LIVE] = "SELECT id, expires_day, left_points FROM points"
                      " WHERE member = ?1 AND expires_day >= ?2 AND left_points > 0"
                      " ORDER BY expires_day, id",
    [S_POINTS_SET_LEFT] = "UPDATE points SET left_points = ?2 WHERE id = ?1",
    [S_ORDER_ADD] = "INSERT OR IGNORE INTO orders(order_id, member, at, cents) VALUES(?1,?2,?3,?4)",
    [S_ORDER_KNOWN] = "SELECT 1 FROM orders WHERE order_id = ?1",
    [S_EVENT_ADD] = "INSERT INTO events(id, chk, type, member, at, ext_id, body)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [S_EVENT_KNOWN] = "SELECT chk FROM events WHERE id = ?1",
    [S_EVENT_REMOVE] = "DELETE FROM events WHERE id = ?1",
    [S_EVENT_GEN] = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'event_gen'",
    [S_EVENT_GEN_BUMP] = "INSERT INTO meta(key, value) VALUES('event_gen', 1)"
                         " ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
    [S_FILTER_GET] = "SELECT gen, nkeys, length(data) FROM event_filter WHERE one = 1",
    [S_FILTER_PUT] = "INSERT OR REPLACE INTO event_filter(one, gen, nkeys, data) VALUES(1, ?1, ?2, ?3)",
    [S_JOURNEY_GET] = "SELECT first_loaded_at, cursor, disabled, error, paused FROM journeys WHERE name = ?1",
    [S_JOURNEY_PUT] = "INSERT INTO journeys(name, first_loaded_at, cursor, disabled, error, paused)"
                      " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(name) DO UPDATE SET"
                      " first_loaded_at=excluded.first_loaded_at, cursor=excluded.cursor,"
                      " disabled=excluded.disabled, error=excluded.error, paused=excluded.paused",
    [S_FLIGHT_PUT] = "INSERT INTO flights(journey, member, occ, step, step_id, wake_at, entered_at, ctx)"
                     " VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(journey, member) DO UPDATE SET"
                     " occ=excluded.occ, step=excluded.step, step_id=excluded.step_id,"
                     " wake_at=excluded.wake_at, entered_at=excluded.entered_at, ctx=excluded.ctx",
    [S_FLIGHT_DELETE] = "DELETE FROM flights WHERE journey = ?1 AND member = ?2",
    [S_FLIGHT_EXISTS] = "SELECT 1 FROM flights WHERE journey = ?1 AND member = ?2",
    [S_FLIGHT_GET] = "SELECT journey, member, occ, step, step_id, wake_at, entered_at, ctx FROM flights"
                     " WHERE journey = ?1 AND member = ?2",
    [S_EXIT_LAST] = "SELECT step_id, reason, at FROM journey_exits WHERE member = ?1 AND journey = ?2"
                    " ORDER BY at DESC, rowid DESC LIMIT 1",
    [S_FLIGHT_STEPS] = "SELECT DISTINCT step_id FROM flights WHERE journey = ?1",
    [S_FLIGHT_EXIT_LOG] = "INSERT INTO journey_exits(journey, member, step_id, reason, at)"
                          " SELECT journey, member, step_id, ?3, ?4 FROM flights WHERE journey = ?1 AND step_id = ?2" OWN("member"),
    [S_FLIGHT_EXIT] = "DELETE FROM flights WHERE journey = ?1 AND step_id = ?2" OWN("member"),
    [S_FLIGHT_NEXT] = "SELECT wake_at FROM flights WHERE wake_at > ?1" OWN("member") " ORDER BY wake_at LIMIT 1",
    [S_FLIGHT_DUE] = "SELECT journey, member, occ, step, step_id, wake_at, entered_at, ctx FROM flights"
                     " WHERE wake_at <= ?1 AND (wake_at, journey, member) > (?3, ?4, ?5)" OWN("member")
                     " ORDER BY wake_at, journey, member LIMIT ?2",
    [S_FLIGHT_COUNTS] = "SELECT journey, step_id, count(*) FROM flights GROUP BY 1, 2 ORDER BY 1, 2",
    [S_MSG_OF_MEMBER] = MSG_OF_MEMBER(""),
    [S_ENTRY_ADD] = "INSERT OR IGNORE INTO entries(journey, member, occ, at) VALUES(?1,?2,?3,?4)",
    [S_ENTRY_EXISTS] = "SELECT 1 FROM entries WHERE journey = ?1 AND member = ?2 LIMIT 1",
    [S_HELD_PUT] = "INSERT INTO messages(key, at, member, journey, step, channel, template, content, status,"
                   " decided_at, member_id, zone, address, ctx, segments)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'held', ?9, ?10, ?11, ?12, ?13, ?14)",
    [S_HELD_NEXT] = "SELECT at FROM messages INDEXED BY messages_held WHERE status = 'held'" OWN("member") " ORDER BY at LIMIT 1",
    [S_HELD_DUE] = "SELECT " OUT_COLS " FROM messages INDEXED BY messages_held WHERE status = 'held' AND at <= ?1" OWN("member")
                   " ORDER BY at LIMIT ?2",
    [S_HELD_DELETE] = "DELETE FROM messages WHERE id = ?1",
    [S_OUT_ADD] = "INSERT INTO messages(key, at, member, journey, step, channel, template, content, status,"
                  " decided_at, member_id, zone, reason, address, ctx, segments)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?12, ?9, ?10, ?11, ?13, ?14, ?15, ?16)",
    /* the status term is the pending index's own, so the index is used
     * and gives rows in order of due time */
    [S_OUT_CLAIM] = "UPDATE messages SET status = 'sending', attempts = attempts + 1 WHERE id IN"
                    " (SELECT id FROM messages WHERE status IN ('queued', 'retry') AND channel = ?2 AND at <= ?1"
                    " ORDER BY at LIMIT ?3) RETURNING " OUT_COLS,
    [S_OUT_NEXT] = "SELECT min(at) FROM messages WHERE status IN ('queued', 'retry') AND channel = ?1",
    [S_OUT_PENDING] = "SELECT count(*) FROM messages WHERE status IN ('queued', 'retry') AND channel = ?1",
    /* `at` changes only for a retry: the time of the next attempt */
    [S_OUT_FINISH] = "UPDATE messages SET status = ?2, at = CASE WHEN ?2 = 'retry' THEN ?3 ELSE at END, done_at = ?7,"
                     " reason = ?4, provider_id = coalesce(?5, provider_id), segments = coalesce(?6, segments)"
                     " WHERE id = ?1",
    [S_OUT_RECOVER] = "UPDATE messages SET status = 'queued' WHERE status = 'sending'",
    [S_OUT_PAGE] = "SELECT " OUT_COLS " FROM messages WHERE (?1 IS NULL OR status = ?1) AND id > ?2 ORDER BY id LIMIT ?3",
    [S_RECEIPT_KEY] = "UPDATE messages SET receipt = ?1, receipt_at = ?2 WHERE id = ?3 AND channel = ?4",
    /* the members' messages in message_keys; recent ones one by one */
    [S_RECEIPT_PROVIDER] = "UPDATE messages SET receipt = ?2, receipt_at = ?3 WHERE provider_id = ?1"
                           " AND channel = 'wechat' AND id IN (SELECT id FROM message_keys WHERE member IN"
                           " (SELECT id FROM members WHERE wechat_openid = ?4))",
    [S_RECEIPT_ID_PROVIDER] = "UPDATE messages SET receipt = ?2, receipt_at = ?3 WHERE id = ?4 AND provider_id = ?1"
                              " AND channel = 'wechat'",
    [S_MEMBER_IDS_BY_OPENID] = "SELECT id FROM members WHERE wechat_openid = ?1",
    [S_KEYS_FIND] = "SELECT k.id FROM message_keys k JOIN messages m ON m.id = k.id"
                     " WHERE k.member = ?1 AND k.h" KEY_SLOT_RANGE " AND m.key = ?3",
    /* taken: a key of another message (or this one's, merged again after a restart) */
    [S_KEYS_ADD] = "INSERT OR IGNORE INTO message_keys(member, h, id) VALUES(?1, ?2, ?3)",
    [S_KEYS_SLOTS] = "SELECT h, id FROM message_keys WHERE member = ?1 AND h" KEY_SLOT_RANGE,
    [S_KEYS_DELETE] = "DELETE FROM message_keys WHERE member = ?1 AND h" KEY_SLOT_RANGE " AND id = ?3",
    [S_KEYS_RECENT] = "SELECT id, member, key FROM messages WHERE id > ?1 ORDER BY id",
    [S_MSG_KEY_OF] = "SELECT member, key FROM messages WHERE id = ?1",
    [S_MEMBERS_BY_PHONE] = "SELECT ext_id FROM members WHERE " PHONE_KEY " = ?1 AND phone IS NOT NULL",
    [S_MEMBERS_BY_OPENID] = "SELECT ext_id FROM members WHERE wechat_openid = ?1",
    [S_OUT_RETRY_ONE] = "UPDATE messages SET status = 'queued', at = ?2, attempts = 0, reason = NULL"
                        " WHERE id = ?1 AND status IN ('dead', 'retry')",
    [S_OUT_RETRY_DEAD] = "UPDATE messages SET status = 'queued', at = ?1, attempts = 0, reason = NULL"
                         " WHERE status = 'dead'",
    [S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [S_OUT_RECENT] = "SELECT member, at, journey, channel FROM messages WHERE at >= ?1"
                     " AND status IN ('queued', 'sending', 'sent', 'retry') AND channel IS NOT NULL",
    [S_HELD_DROP] = "UPDATE messages SET status = 'dropped', reason = ?2 WHERE id = ?1",
    [S_MSG_COUNTS] = "SELECT coalesce(channel, '-'), status, count(*) FROM messages GROUP BY 1, 2 ORDER BY 1, 2",
};

/* Zones are stored as small integers: the anchor indexes lead with the
 * zone, and integer keys compare far faster than names. */
typedef struct zone_ent {
    int64_t id;
    const tz_t *tz;
    int64_t members;           /* as of zone_counts_at (a plan's hint) */
    int64_t next_id, end_id;   /* the zone's block of member row ids; end 0: not looked up yet */
} zone_ent_t;

/* A new event-log row waiting for its transaction's commit. */
typedef struct pend {
    int64_t key, chk, member, at;
    char *type, *ext_id, *body;
} pend_t;

/* The live daemon's checkpointer: a thread with its own connection copies
 * the WAL into the database file (and syncs it) beside the loop, so a
 * commit on the loop costs the WAL append and its sync only, never the
 * checkpoint's random writes and second sync. */
typedef struct ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int want, stop;
    sqlite3 *db;
    char *wal;                 /* the WAL's path, for background syncs */
    int dbfd;                  /* the database, read-only: for paced writes (-1: none) */
    /* lazy commits: the mark the last one reached, and the mark the
     * thread has since synced to disk (both under mu) */
    int64_t lazy_mark, synced_mark;
    int copied;                /* WAL frames the thread's last checkpoint left copied (under mu) */
    int hold;                  /* no new rounds: the loop starts the WAL over itself (under mu) */
    int prev_pages;            /* WAL frames after the loop's previous commit (loop only) */
    int64_t frames;            /* WAL frames the loop's commits have written (loop only) */
    int64_t restarts;          /* times the loop started the WAL over (loop only) */
    int64_t restart_ns;        /* the time those took the loop (loop only) */
    int frame_bytes;           /* a frame's size: a page and its header */
    int ckpt_pages, restart_pages, force_pages;   /* store_wal_limits (loop only) */
} ckpt_t;

#define WAL_FRAME_HEADER 24   /* bytes before each page in the WAL (sqlite's file format) */
#define STORE_BUSY_MS 5000   /* how long a statement waits for another process's lock */
/* A checkpoint round once 128 MB of WAL have come since the last one: a
 * page written in every commit is copied once a round, and the database
 * synced once. (Rounds after every commit once the WAL held 128 MB copied
 * and synced every 100 ms: 6-9 us of the core an event at full load,
 * against 4 us, and 5.5-6.2 KB written an event, against 3.1-3.5.) */
#define CKPT_PAGES 32768
/* Past 1 GB of WAL, it starts over as soon as the checkpointer has caught
 * up: the loop commits early then (store_wal_restart_due), and the
 * checkpoint that starts the WAL over copies only the open transaction's
 * writes. That still costs the loop two syncs (the WAL's and the
 * database's), 28-32 ms measured at 4 k events/s, so it must not come
 * often: at 64 MB (every second or two under load) it kept the WAL's
 * pages in the kernel's cache, where rewriting a page costs half of
 * adding one, but the pauses made p99 worse. */
#define WAL_RESTART_PAGES 262144
/* Past 2 GB, whatever the checkpointer has done: the loop copies what it
 * has not, a pause as long as that takes (a loaded core leaves the
 * checkpointer, in the background, behind). */
#define WAL_FORCE_PAGES 524288

/* A scratch store's new event ids, 12 bytes each: a sorted array and a
 * small hash of the latest ones, merged into it when full. They are in
 * the Bloom filter too, which answers most lookups without either. */
#define SEEN_TAIL 65536          /* ids in the hash before a merge */
#define SEEN_TAIL_SLOTS 131072   /* its slots: half full at most */
#define SEEN_GONE UINT32_MAX     /* the chk of an id taken back (chks have 31 bits) */
#define SEEN_USED INT64_MIN      /* keys have 63 bits */

typedef struct seen_ent {
    int64_t key;   /* in the hash: key | SEEN_USED, 0 for an empty slot */
    uint32_t chk;
} seen_ent_t;

typedef struct seen {
    int64_t *keys;        /* sorted */
    uint32_t *chks;
    size_t n, cap;
    seen_ent_t *tail;     /* SEEN_TAIL_SLOTS, open addressing */
    size_t ntail;
} seen_t;

/* A recent message's key, in memory until a batch takes it to
 * message_keys. Chained by member: a member's recent messages are few. */
typedef struct okey {
    struct okey *next;         /* the next in its bucket */
    int64_t member, id;
    int64_t slot;              /* key_slot(key) */
    int gone;                  /* its message was deleted (a held one released) */
    char key[];
} okey_t;

/* The keys of messages message_keys does not hold yet: all of them are
 * in the hash (by member); each is owned by `fresh` (not in a batch yet)
 * or by `batch` (sorted by member and slot, merged `done` at a time, a
 * chunk at each commit; when all are, KEYS_UPTO moves to batch_hi and they
 * are freed). Built on first use from the messages past KEYS_UPTO, and
 * dropped on a rollback (built again next time). */
typedef struct okeys {
    int built;
    int writer;                /* this process added messages: it merges */
    okey_t **bucket;
    size_t nbucket, count;     /* a power of two; entries in the hash */
    int shift;                 /* 64 - log2(nbucket) */
    okey_t **fresh, **batch;
    size_t nfresh, cap_fresh, nbatch, done;
    int64_t batch_hi;
    size_t added;              /* keys added since the last merge */
    int ahead;                 /* the open transaction merged between requests */
    size_t merge_min, chunk_min;   /* store_keys_limits */
} okeys_t;

/* Members read or written lately, by id (see "members read lately"). */
typedef struct mc_ent {
    struct mc_ent *next;
    uint64_t h;
    member_t m;
} mc_ent_t;

typedef struct mcache {
    mc_ent_t **bucket;
    size_t nbucket, count;     /* a power of two; entries */
    size_t max;                /* entries at most (0: none kept) */
    size_t cursor;             /* the bucket the next eviction starts at */
    int64_t version;           /* PRAGMA data_version of what it holds */
    int open;                  /* checked as the open transaction began: in use */
    int wrote;                 /* entries changed in the open transaction */
    int64_t hits, misses;
} mcache_t;

struct store {
    sqlite3 *db;
    char *path;
    ckpt_t *ckpt;
    int64_t txn_mark;          /* store_mark: what the open transaction covers */
    int64_t durable_mark;      /* what a synced commit covered */
    sqlite3_stmt *st[S_COUNT];
    /* The event log's write-behind: a Bloom filter of every key in the
     * log (a new id needs no lookup), and the rows added in the open
     * transaction, kept in a hash and written in key order at commit, so
     * each page of the log is touched once per commit, not once per event. */
    uint64_t *bloom;
    size_t bloom_bits;         /* a power of two; 0 until first needed */
    int64_t bloom_keys;        /* keys added (at least the distinct ones) */
    int64_t bloom_gen;         /* the log's generation it holds; -1 unknown */
    int bloom_unsaved;         /* built from the log, or keys added since loaded */
    int64_t txn_gen_bumps;     /* generations the open transaction counted */
    pend_t *pend;
    size_t npend, cap_pend;
    int32_t *slot;             /* open addressing: index+1 into pend, 0 empty */
    size_t nslot;
    /* A scratch store (simulate's throwaway copy) keeps the ids of new
     * events in memory instead: nothing reads them back from the log, and
     * writing them costs half of applying a year of events. */
    int scratch;
    int abandoned;             /* a scratch store rolled back: no more transactions */
    seen_t seen;
    seen_t seen_orders;        /* likewise the ids of its new orders */
    zone_ent_t *zones;
    int nzones;
    int64_t member_saves;      /* members inserted or updated so far */
    int64_t zone_counts_at;    /* member_saves when zones[].members were counted; -1 never */
    int32_t batches_day;       /* the day whose batches were counted last (a plan's hint) */
    int64_t batches;           /* how many expire that day, as counted; -1 never */
    int bulk;                  /* anchor indexes dropped for a bulk load */
    int64_t own_lo, own_hi;    /* store_own: the row ids acted for */
    okeys_t keys;
    mcache_t mc;
    int pace_fd;               /* the database, for the checkpointer's paced writes; -1 none */
    int64_t new_floor;         /* store_own: a new member's row id is at least this */
};

/* members read lately (defined with the members, used before them) */
static void mc_clear(store_t *s);
static void mc_txn_begin(store_t *s);
static void mc_txn_end(store_t *s, int committed);

/* the outbox's keys (defined with the outbox, used before it) */
static void okeys_free(okeys_t *k);
static size_t okey_bucket(const okeys_t *k, int64_t member);
static int okeys_build(store_t *s, char *err);
static int64_t okeys_id(store_t *s, int64_t member, const char *key, int memory_only, char *err);
static int okeys_merge(store_t *s, char *err);
static int okeys_merge_some(store_t *s, size_t floor, char *err);

static const char *const anchor_indexes[] = {"members_join", "members_join_md", "members_birth",
                                             "member_orders_last", "members_zone", "members_phone",
                                             "members_openid"};

struct store_iter {
    store_t *s;
    sqlite3_stmt *st;   /* borrowed from the table; reset on free */
    int kind;
};

static int dberr(store_t *s, char *err, const char *what)
{
    return errf(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *stmt(store_t *s, enum stmt i)
{
    if (!s->st[i]) {
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
            /* the SQL is ours and fixed: failing to prepare it is a bug */
            fprintf(stderr, "nudge: cannot prepare statement %d: %s\n", (int)i, sqlite3_errmsg(s->db));
            abort();
        }
    }
    return s->st[i];
}

/* The range of members this store acts for, on a statement that has it. */
static void bind_own(store_t *s, sqlite3_stmt *st)
{
    sqlite3_bind_int64(st, OWN_LO, s->own_lo);
    sqlite3_bind_int64(st, OWN_HI, s->own_hi);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t v)
{
    if (v == TIME_NONE) sqlite3_bind_null(st, i);
    else sqlite3_bind_int64(st, i, v);
}

static void bind_day(sqlite3_stmt *st, int i, int32_t v)
{
    if (v == CAL_NONE) sqlite3_bind_null(st, i);
    else sqlite3_bind_int(st, i, v);
}

/* Runs a statement that returns no rows; resets it. */
static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col);

static int run(store_t *s, sqlite3_stmt *st, char *err, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return dberr(s, err, what);
    return NUDGE_OK;
}

static void load_zones(store_t *s)
{
    sqlite3_stmt *st = stmt(s, S_ZONES);
    s->nzones = 0;
    s->zone_counts_at = -1;
    s->batches = -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const tz_t *tz = tz_get((const char *)sqlite3_column_text(st, 1), NULL);
        s->zones = xrealloc(s->zones, sizeof *s->zones * (size_t)(s->nzones + 1));
        /* a zone the system no longer knows reads as UTC */
        s->zones[s->nzones++] = (zone_ent_t){sqlite3_column_int64(st, 0), tz ? tz : tz_get("UTC", NULL), 0, 0, 0};
    }
    sqlite3_reset(st);
}

static const tz_t *zone_of(store_t *s, int64_t id)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < s->nzones; i++)
            if (s->zones[i].id == id) return s->zones[i].tz;
        load_zones(s);
    }
    return tz_get("UTC", NULL);
}

/* Zone tz's entry, registering the zone on first use; NULL on error.
 * Valid until the next zone is added or the zones are loaded again. */
static zone_ent_t *zone_entry(store_t *s, const tz_t *tz, char *err)
{
    for (int i = 0; i < s->nzones; i++)
        if (s->zones[i].tz == tz) return &s->zones[i];
    sqlite3_stmt *st = stmt(s, S_ZONE_ADD);
    bind_text(st, 1, tz_name(tz));
    if (run(s, st, err, "registering a time zone") != NUDGE_OK) return NULL;
    s->zones = xrealloc(s->zones, sizeof *s->zones * (size_t)(s->nzones + 1));
    s->zones[s->nzones] = (zone_ent_t){sqlite3_last_insert_rowid(s->db), tz, 0, 0, 0};
    return &s->zones[s->nzones++];
}

static int64_t zone_id_by_name(store_t *s, const char *name)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < s->nzones; i++)
            if (strcmp(tz_name(s->zones[i].tz), name) == 0) return s->zones[i].id;
        load_zones(s);
    }
    return -1;
}

/* The schema's version, in sqlite's user_version: a store made by another
 * version of nudge is refused rather than half-understood. */
#define SCHEMA_VERSION 10

/* Older formats this one knows how to bring up to date, in order. */
static const char *const upgrades[] = {
    [2] = "ALTER TABLE messages ADD COLUMN decided_at INTEGER;"
          "ALTER TABLE messages ADD COLUMN member_id TEXT;"
          "ALTER TABLE messages ADD COLUMN zone TEXT;"
          "ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
          "ALTER TABLE messages ADD COLUMN provider_id TEXT;"
          "ALTER TABLE messages ADD COLUMN segments INTEGER;"
          "ALTER TABLE messages ADD COLUMN address TEXT;"
          "ALTER TABLE messages ADD COLUMN ctx TEXT;",
    [3] = "ALTER TABLE messages ADD COLUMN done_at INTEGER;"
          "DROP INDEX IF EXISTS messages_due;",
    [4] = "ALTER TABLE journeys ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;"
          "ALTER TABLE messages ADD COLUMN receipt TEXT;"
          "ALTER TABLE messages ADD COLUMN receipt_at INTEGER;",
    /* the expiry index covers its query (the schema creates it anew) */
    [5] = "DROP INDEX IF EXISTS points_expiry;",
    /* the event filter's table (the schema creates it): a format 6 nudge
     * would change the log without counting its generation */
    [6] = "",
    /* the order columns move to their own table (the schema indexes it);
     * the members table keeps its old columns, unread */
    [7] = MEMBER_ORDERS_TABLE
          "INSERT INTO member_orders(member, zone, order_count, spent_cents, last_order_at, last_order_day)"
          " SELECT id, zone, order_count, spent_cents, last_order_at, last_order_day FROM members"
          " WHERE order_count <> 0 OR spent_cents <> 0 OR last_order_at IS NOT NULL;"
          "DROP INDEX IF EXISTS members_last_order;",
    /* the key is unique per member, in one index with the member (the
     * column's own UNIQUE goes with a new table; the schema makes the
     * other indexes again) */
    [8] = "CREATE TABLE messages_v9" MESSAGES_TABLE ";"
          "INSERT INTO messages_v9(" MESSAGES_COLS ") SELECT " MESSAGES_COLS " FROM messages ORDER BY id;"
          "DROP TABLE messages;"
          "ALTER TABLE messages_v9 RENAME TO messages;"
          MESSAGES_KEY_INDEX,
    /* the keys move to their own table, each in its first slot; the rare
     * key whose slot another of its member's took waits in memory with
     * those after it (message_keys_upto stops before it), and finds a
     * free one when they are merged */
    [9] = MESSAGE_KEYS_TABLE
          "INSERT OR IGNORE INTO message_keys(member, h, id)"
          " SELECT member, nudge_key_slot(key), id FROM messages ORDER BY member, 2;"
          "DROP INDEX IF EXISTS messages_member_key;"
          "INSERT OR REPLACE INTO meta(key, value) SELECT '" KEYS_UPTO "', coalesce((SELECT min(id) - 1 FROM messages"
          " WHERE id NOT IN (SELECT id FROM message_keys)), (SELECT max(id) FROM messages), 0);",
};

/* The first of a key's KEY_SLOTS numbers in message_keys. */
static int64_t key_slot(const char *key)
{
    return (int64_t)((fnv1a64(key, strlen(key), FNV_SEED) >> 1) & ~(uint64_t)(KEY_SLOTS - 1));
}

static void sql_key_slot(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *key = (const char *)sqlite3_value_text(argv[0]);
    if (key) sqlite3_result_int64(cx, key_slot(key));
    else sqlite3_result_null(cx);
}

static int check_version(store_t *s, int mode, char *err)
{
    sqlite3_stmt *st;
    int version = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (mode == STORE_CREATE) {
        char q[64];
        snprintf(q, sizeof q, "PRAGMA user_version = %d", SCHEMA_VERSION);
        return sqlite3_exec(s->db, q, NULL, NULL, NULL) == SQLITE_OK ? NUDGE_OK : dberr(s, err, "versioning");
    }
    if (version >= 2 && version < SCHEMA_VERSION) {
        /* all or nothing: a crash halfway leaves the old format, whole */
        char q[64];
        snprintf(q, sizeof q, "PRAGMA user_version = %d", SCHEMA_VERSION);
        /* a table copied or indexed anew (here and by the schema after)
         * sorts on disk, not in memory (3 M messages: 2.3 GB peak RSS) */
        sqlite3_exec(s->db, "PRAGMA temp_store=FILE", NULL, NULL, NULL);
        sqlite3_create_function(s->db, "nudge_key_slot", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_key_slot,
                                NULL, NULL);
        int ok = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        for (int v = version; ok && v < SCHEMA_VERSION; v++)
            ok = sqlite3_exec(s->db, upgrades[v], NULL, NULL, NULL) == SQLITE_OK;
        ok = ok && sqlite3_exec(s->db, q, NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        if (!ok) {
            int rc = dberr(s, err, "bringing the store up to date");
            if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        version = SCHEMA_VERSION;
    }
    if (version != SCHEMA_VERSION)
        return errf(err, "%s was made by another version of nudge (store format %d, this nudge reads %d); "
                    "create a new workspace and import the data again", s->path, version, SCHEMA_VERSION);
    return NUDGE_OK;
}

/* ---- WAL writes in one piece ----
 *
 * sqlite writes each WAL frame with two pwrite calls (its header, then
 * the page), so a commit of a few hundred pages is a few hundred system
 * calls, the largest cost of a durable event on a virtual machine. A thin
 * VFS over the default one gathers a WAL's sequential writes in memory
 * and hands them to the kernel in 124 KB writes when sqlite syncs the WAL,
 * before anything else can see the frames: the daemon syncs every commit
 * (synchronous=FULL), and only then does sqlite publish the frames in the
 * WAL index. Any other access to the WAL (a read, a size, a truncation, a
 * write elsewhere) writes the gathered bytes out first. Only a process
 * that turned it on (the daemon, store_durable) gathers; elsewhere the
 * shim passes every call through.
 *
 * A scratch store (simulate's copy: no journal, no syncs, nobody else
 * reads it) gathers its database file's writes the same way, always: a
 * commit writes its dirty pages in page order, one call each, and many of
 * them are neighbours (at 1 M members, 2 s less system time a year). */

#define WB_MAX (8u << 20)   /* bytes gathered before they go out anyway */
#define WB_MAX_SCRATCH (512u << 10)   /* the same for a scratch store: it counts in simulate's memory */
#define WB_PIECE 0x1f000u   /* the largest write the default VFS makes in one call */

typedef struct wb_file {
    const sqlite3_io_methods *real;  /* the default VFS's methods for this file */
    char *buf;
    size_t len, cap;
    sqlite3_int64 off;               /* where buf[0] goes in the file */
    int always;                      /* gathers whether or not wb_on (a scratch store) */
    int pace;                        /* the checkpointer's database: written through, paced */
} wb_file_t;

static sqlite3_vfs wb_vfs, *wb_base;
/* the default VFS's methods with writes gathered: one copy for a WAL's,
 * one for a database file's (they differ in shared-memory support) */
static sqlite3_io_methods wb_io[2];
static const sqlite3_io_methods *wb_real_io[2];
static int wb_on;                    /* set once by the daemon, before its first write */
static int wb_scratch_opening;       /* store_open is opening a scratch store's file */
/* set around a lazy commit (store_commit_lazy) on the thread making it:
 * the WAL's sync writes the gathered frames out but does not wait for
 * the disk; the checkpointer's syncs (another thread) are never lazy */
static _Thread_local int wb_lazy;
static size_t wb_extra_at;           /* where wb_file_t sits after the default VFS's file */
static int wb_pace_opening;          /* store_durable is opening the checkpointer's connection */

/* ---- the checkpointer's writes, paced ----
 *
 * A checkpoint round writes tens of MB: the WAL frames the lazy commits
 * left to it, then the pages it copies into the database. Handed to the
 * disk by one sync each, they fill its queue, and the intake journal's
 * small syncs, which every answer waits for, queue behind them: 10-50 ms
 * at times. So the checkpointer writes them out PACE_BYTES at a time and
 * waits for each piece (sync_file_range), which keeps the queue ahead of
 * a journal sync short; the syncs after it find little left to write.
 * The disk caches writes (virtio, write back): a journal sync's flush
 * also waits for whatever piece went in just before it, so pieces of
 * 256 KB rather than 1 MB: journal syncs over 2.5 ms went from 2.0-3.8%
 * to 1.2-2.8% at 6,000 events/s (four alternating rounds), from 7.2-9.6%
 * to 6.2-6.8% under wrk (two), throughput within drift. */
#define PACE_BYTES (1 << 18)

static _Thread_local int wb_pace_fd = -1;   /* the database, while this thread checkpoints */
static _Thread_local int64_t pace_lo, pace_hi, pace_bytes;

/* Writes out and waits for [from, to) of fd, a piece at a time. A failure
 * is left to the sync that follows, which reports it. */
static void pace_range(int fd, int64_t from, int64_t to)
{
    for (int64_t off = from; off < to; off += PACE_BYTES) {
        int64_t n = to - off < PACE_BYTES ? to - off : PACE_BYTES;
        if (sync_file_range(fd, off, n,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0)
            return;
    }
}

/* A checkpoint's write of n bytes at off to the database: the pages since
 * the last piece go out once they add up to one. They are scattered, so
 * the range is wide, but only they are dirty in it. */
static void pace_note(int64_t off, int n)
{
    if (!pace_bytes || off < pace_lo) pace_lo = off;
    if (!pace_bytes || off + n > pace_hi) pace_hi = off + n;
    pace_bytes += n;
    if (pace_bytes < PACE_BYTES) return;
    sync_file_range(wb_pace_fd, pace_lo, pace_hi - pace_lo,
                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    pace_bytes = 0;
}

static wb_file_t *wb_of(sqlite3_file *f)
{
    return (wb_file_t *)((char *)f + wb_extra_at);
}

static int wb_flush(sqlite3_file *f)
{
    wb_file_t *w = wb_of(f);
    int rc = SQLITE_OK;
    /* the default VFS writes at most 128 KB a call (it masks larger
     * counts), so the gathered bytes go out in pieces that size */
    for (size_t done = 0; done < w->len && rc == SQLITE_OK; done += WB_PIECE) {
        size_t n = w->len - done < WB_PIECE ? w->len - done : WB_PIECE;
        rc = w->real->xWrite(f, w->buf + done, (int)n, w->off + (sqlite3_int64)done);
    }
    w->len = 0;
    return rc;
}

static int wb_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    wb_file_t *w = wb_of(f);
    if (w->pace) {
        int rc = w->real->xWrite(f, p, n, off);
        if (rc == SQLITE_OK && wb_pace_fd >= 0 && n > 0) pace_note(off, n);
        return rc;
    }
    if ((!wb_on && !w->always) || n <= 0) {
        int rc = wb_flush(f);
        return rc != SQLITE_OK ? rc : w->real->xWrite(f, p, n, off);
    }
    size_t max = w->always ? WB_MAX_SCRATCH : WB_MAX;
    if (w->len && (off != w->off + (sqlite3_int64)w->len || w->len + (size_t)n > max)) {
        int rc = wb_flush(f);
        if (rc != SQLITE_OK) return rc;
    }
    if (!w->len) w->off = off;
    if (w->len + (size_t)n > w->cap) {
        size_t cap = w->cap ? w->cap : 1u << 16;
        while (cap < w->len + (size_t)n) cap *= 2;
        char *nb = realloc(w->buf, cap);
        if (!nb) {
            int rc = wb_flush(f);
            return rc != SQLITE_OK ? rc : w->real->xWrite(f, p, n, off);
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, (size_t)n);
    w->len += (size_t)n;
    return SQLITE_OK;
}

static int wb_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : wb_of(f)->real->xRead(f, p, n, off);
}

static int wb_sync(sqlite3_file *f, int flags)
{
    int rc = wb_flush(f);
    if (rc != SQLITE_OK || wb_lazy) return rc;
    return wb_of(f)->real->xSync(f, flags);
}

static int wb_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : wb_of(f)->real->xTruncate(f, size);
}

static int wb_size(sqlite3_file *f, sqlite3_int64 *size)
{
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : wb_of(f)->real->xFileSize(f, size);
}

static int wb_close(sqlite3_file *f)
{
    wb_file_t *w = wb_of(f);
    const sqlite3_io_methods *real = w->real;
    int rc = wb_flush(f);
    free(w->buf);
    memset(w, 0, sizeof *w);
    int rc2 = real->xClose(f);
    return rc != SQLITE_OK ? rc : rc2;
}

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    int rc = wb_base->xOpen(wb_base, name, f, flags, out_flags);
    int scratch = wb_scratch_opening && (flags & SQLITE_OPEN_MAIN_DB);
    int pace = wb_pace_opening && (flags & SQLITE_OPEN_MAIN_DB);
    if (rc != SQLITE_OK || !((flags & SQLITE_OPEN_WAL) || scratch || pace) || !f->pMethods) return rc;
    int k = 0;
    while (k < 2 && wb_real_io[k] && wb_real_io[k] != f->pMethods) k++;
    if (k == 2) return rc;   /* methods of a third kind: left as they are */
    if (!wb_real_io[k]) {
        wb_real_io[k] = f->pMethods;
        wb_io[k] = *f->pMethods;
        wb_io[k].xWrite = wb_write;
        wb_io[k].xRead = wb_read;
        wb_io[k].xSync = wb_sync;
        wb_io[k].xTruncate = wb_truncate;
        wb_io[k].xFileSize = wb_size;
        wb_io[k].xClose = wb_close;
    }
    wb_file_t *w = wb_of(f);
    memset(w, 0, sizeof *w);
    w->real = f->pMethods;
    w->always = scratch;
    w->pace = pace;
    f->pMethods = &wb_io[k];
    return rc;
}

/* Installs the shim as the default VFS, once, before any store opens. */
static void wb_install(void)
{
    if (wb_base) return;
    wb_base = sqlite3_vfs_find(NULL);
    wb_vfs = *wb_base;
    wb_extra_at = ((size_t)wb_base->szOsFile + 15) & ~(size_t)15;
    wb_vfs.szOsFile = (int)(wb_extra_at + sizeof(wb_file_t));
    wb_vfs.zName = "nudge";
    wb_vfs.xOpen = wb_open;
    wb_vfs.pNext = NULL;
    sqlite3_vfs_register(&wb_vfs, 1);
}

/* sqlite keeps statistics of its memory under a global mutex taken on
 * every allocation and free (about 40 each a request on the daemon's
 * event path); nothing reads them. Before sqlite initializes, once. */
static void mem_setup(void)
{
    static int done;
    if (done) return;
    done = 1;
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);   /* refused once initialized: harmless */
}

store_t *store_open(const char *path, int mode, char *err)
{
    if (mode == STORE_CREATE && access(path, F_OK) == 0) {
        errf(err, "%s already exists", path);
        return NULL;
    }
    if (mode != STORE_CREATE && access(path, F_OK) != 0) {
        errf(err, "%s: no such store (run 'nudge init' first)", path);
        return NULL;
    }
    store_t *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->bloom_gen = -1;
    s->pace_fd = -1;
    s->own_lo = INT64_MIN;
    s->own_hi = INT64_MAX;
    /* one thread uses a store: sqlite's own mutexes are pure overhead */
    mem_setup();
    wb_install();
    wb_scratch_opening = mode == STORE_SCRATCH;
    int opened = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    wb_scratch_opening = 0;
    if (opened != SQLITE_OK) {
        errf(err, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
    s->scratch = mode == STORE_SCRATCH;
    const char *pragmas = mode == STORE_SCRATCH
        /* no memory-mapped reads: they would bypass the writes the shim holds */
        ? "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-" STR(STORE_SCRATCH_CACHE_KIB) "; PRAGMA mmap_size=0;"
          "PRAGMA temp_store=MEMORY;"
        : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-" STR(STORE_CACHE_KIB) "; PRAGMA mmap_size=1073741824;"
          "PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=OFF;";
    char *msg = NULL;
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, &msg) != SQLITE_OK || check_version(s, mode, err) != NUDGE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        if (!msg && err && *err) {
            store_close(s);
            return NULL;
        }
        errf(err, "%s: %s", path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        store_close(s);
        return NULL;
    }
    sqlite3_exec(s->db, "PRAGMA temp_store=MEMORY", NULL, NULL, NULL);   /* after an upgrade's sorts */
    load_zones(s);
    return s;
}

static void pend_clear(store_t *s)
{
    for (size_t i = 0; i < s->npend; i++) {
        free(s->pend[i].type);
        free(s->pend[i].ext_id);
        free(s->pend[i].body);
    }
    s->npend = 0;
    if (s->slot) memset(s->slot, 0, s->nslot * sizeof *s->slot);
}

static void ckpt_stop(store_t *s)
{
    ckpt_t *c = s->ckpt;
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->wal);
    free(c);
    s->ckpt = NULL;
}

static void bloom_save(store_t *s);

void store_close(store_t *s)
{
    if (!s) return;
    pend_clear(s);   /* rows of a transaction never committed */
    bloom_save(s);
    ckpt_stop(s);
    free(s->pend);
    free(s->slot);
    free(s->bloom);
    free(s->seen.keys);
    free(s->seen.chks);
    free(s->seen.tail);
    free(s->seen_orders.keys);
    free(s->seen_orders.chks);
    free(s->seen_orders.tail);
    free(s->zones);
    okeys_free(&s->keys);
    mc_clear(s);
    for (int i = 0; i < S_COUNT; i++) sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    if (s->pace_fd >= 0) close(s->pace_fd);
    free(s->path);
    free(s);
}

const char *store_path(const store_t *s)
{
    return s->path;
}

/* The fast way: after a checkpoint the main file holds everything, and a
 * read transaction keeps it that way while its bytes are copied. */
typedef struct copy_job {
    const char *from, *to;
    int rc;
    pthread_t th;
} copy_job_t;

static void *copy_one(void *ud)
{
    copy_job_t *j = ud;
    j->rc = -1;
    int in = open(j->from, O_RDONLY), out = open(j->to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in >= 0 && out >= 0) {
        enum { CHUNK = 1 << 20 };
        char *b = xmalloc(CHUNK);
        ssize_t n;
        j->rc = 0;
        while (j->rc == 0 && (n = read(in, b, CHUNK)) > 0)
            if (write(out, b, (size_t)n) != n) j->rc = -1;
        if (n < 0) j->rc = -1;
        free(b);
    }
    if (in >= 0) close(in);
    if (out >= 0 && close(out) != 0) j->rc = -1;
    return NULL;
}

/* The file, copied to each path at once (one thread a copy: writing new
 * pages is most of a copy's time), inside one read transaction. */
static int copy_files(store_t *s, const char *const *paths, int n)
{
    if (sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK) return -1;
    if (sqlite3_exec(s->db, "BEGIN; SELECT count(*) FROM meta;", NULL, NULL, NULL) != SQLITE_OK) return -1;
    copy_job_t *j = xcalloc((size_t)n, sizeof *j);
    int started = 1, rc = 0;
    for (int k = 0; k < n; k++) j[k] = (copy_job_t){s->path, paths[k], -1, 0};
    for (; started < n; started++)
        if (pthread_create(&j[started].th, NULL, copy_one, &j[started]) != 0) break;
    copy_one(&j[0]);
    for (int k = 1; k < started; k++) pthread_join(j[k].th, NULL);
    for (int k = started; k < n; k++) copy_one(&j[k]);   /* no thread for these */
    for (int k = 0; k < n; k++) rc |= j[k].rc;
    free(j);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* A copied file made a throwaway store: no WAL. */
static int copy_settle(const char *path)
{
    sqlite3 *dst;
    int ok = sqlite3_open(path, &dst) == SQLITE_OK &&
             sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(dst);
    return ok;
}

int store_copies(store_t *s, const char *const *paths, int n, char *err)
{
    for (int k = 0; k < n; k++) unlink(paths[k]);
    int ok = copy_files(s, paths, n) == 0;
    for (int k = 0; k < n && ok; k++) ok = copy_settle(paths[k]);
    if (ok) return NUDGE_OK;
    /* the portable way */
    for (int k = 0; k < n; k++) {
        sqlite3 *dst;
        unlink(paths[k]);
        if (sqlite3_open(paths[k], &dst) != SQLITE_OK) {
            errf(err, "%s: %s", paths[k], sqlite3_errmsg(dst));
            sqlite3_close(dst);
            return NUDGE_ERR;
        }
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", s->db, "main");
        int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
        if (b) sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) {
            errf(err, "copying %s to %s: %s", s->path, paths[k], sqlite3_errmsg(dst));
            sqlite3_close(dst);
            return NUDGE_ERR;
        }
        sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
        sqlite3_close(dst);
    }
    return NUDGE_OK;
}

int store_copy(store_t *s, const char *path, char *err)
{
    return store_copies(s, &path, 1, err);
}

static void bloom_drop(store_t *s);
static int bloom_build(store_t *s, char *err);
static int64_t event_gen(store_t *s);

int store_begin(store_t *s, char *err)
{
    if (s->abandoned)
        return errf(err, "%s: the simulation's copy cannot go on after a transaction was rolled back (it keeps no journal)",
                    s->path);
    if (run(s, stmt(s, S_BEGIN), err, "begin") != NUDGE_OK) return NUDGE_ERR;
    mc_txn_begin(s);
    /* a transaction that changed the log and ended neither committed nor
     * through store_rollback (sqlite rolled it back itself): the filter
     * counted generations the log never got, and may hold its ids */
    if (s->txn_gen_bumps) bloom_drop(s);
    s->txn_gen_bumps = 0;
    /* another process (an import beside the daemon) changed the log: its
     * ids are not in the filter, which is built again when next needed */
    if (s->bloom && !s->scratch && event_gen(s) != s->bloom_gen) bloom_drop(s);
    return NUDGE_OK;
}

static int flush_events(store_t *s, char *err);

int store_commit(store_t *s, char *err)
{
    int merged = okeys_merge(s, err);
    s->keys.ahead = 0;
    mc_txn_end(s, merged == NUDGE_OK);   /* and again below if the commit fails */
    if (merged != NUDGE_OK) {
        okeys_free(&s->keys);
        return NUDGE_ERR;
    }
    if (flush_events(s, err) != NUDGE_OK) {
        bloom_drop(s);   /* sqlite may have rolled the transaction back */
        mc_clear(s);
        return NUDGE_ERR;
    }
    if (run(s, stmt(s, S_COMMIT), err, "commit") != NUDGE_OK) {
        mc_clear(s);
        bloom_drop(s);   /* whether the log's count moved is unknown now */
        okeys_free(&s->keys);   /* and what message_keys holds: read again */
        return NUDGE_ERR;
    }
    s->txn_gen_bumps = 0;
    /* A filter past its 16 bits a key (an import that grew the log from
     * 0 to 4.5 M ids filled a 1 M-key filter: ~20% false positives, each a
     * lookup) is built again, larger, and saved at close for the next
     * process, which then can use it (see bloom_load). Not in the daemon
     * (store_durable): reading the log would stall its loop; its filter
     * fills slowly, and the next start builds a larger one. */
    if (s->bloom && !s->ckpt && s->bloom_keys > (int64_t)(s->bloom_bits / 16)) {
        char e2[ERRLEN];
        bloom_drop(s);
        bloom_build(s, e2);   /* failing, it stays dropped: the next lookup tries and says why */
    }
    /* synced (store_durable): it and every lazy commit before it are on disk */
    if (s->txn_mark > s->durable_mark) s->durable_mark = s->txn_mark;
    if (s->ckpt) {
        pthread_mutex_lock(&s->ckpt->mu);
        if (s->durable_mark > s->ckpt->synced_mark) s->ckpt->synced_mark = s->durable_mark;
        pthread_mutex_unlock(&s->ckpt->mu);
    }
    return NUDGE_OK;
}

int store_commit_lazy(store_t *s, char *err)
{
    ckpt_t *c = s->ckpt;
    if (!c) return store_commit(s, err);
    int merged = okeys_merge(s, err);
    s->keys.ahead = 0;
    mc_txn_end(s, merged == NUDGE_OK);
    if (merged != NUDGE_OK) {
        okeys_free(&s->keys);
        return NUDGE_ERR;
    }
    if (flush_events(s, err) != NUDGE_OK) {
        bloom_drop(s);
        mc_clear(s);
        return NUDGE_ERR;
    }
    wb_lazy = 1;
    int rc = run(s, stmt(s, S_COMMIT), err, "commit");
    wb_lazy = 0;
    if (rc != NUDGE_OK) {
        mc_clear(s);
        bloom_drop(s);
        okeys_free(&s->keys);
        return NUDGE_ERR;
    }
    s->txn_gen_bumps = 0;
    /* the frames are in the kernel's hands: the checkpointer syncs them */
    pthread_mutex_lock(&c->mu);
    if (s->txn_mark > c->lazy_mark) c->lazy_mark = s->txn_mark;
    pthread_mutex_unlock(&c->mu);
    return NUDGE_OK;
}

void store_mark(store_t *s, int64_t mark)
{
    s->txn_mark = mark;
}

int64_t store_durable_mark(store_t *s)
{
    ckpt_t *c = s->ckpt;
    if (c) {
        pthread_mutex_lock(&c->mu);
        if (c->synced_mark > s->durable_mark) s->durable_mark = c->synced_mark;
        pthread_mutex_unlock(&c->mu);
    }
    return s->durable_mark;
}

void store_rollback(store_t *s)
{
    /* without a journal, sqlite does not say what a rollback leaves; nor
     * are the ids kept in memory taken back */
    if (s->scratch && !sqlite3_get_autocommit(s->db)) s->abandoned = 1;
    pend_clear(s);
    okeys_free(&s->keys);   /* the transaction's messages are gone: read again when needed */
    mc_txn_end(s, 0);       /* and its members' writes */
    /* the log is back to where this transaction found it; the filter may
     * have been built inside it (without an id it took back): built anew */
    if (s->txn_gen_bumps) bloom_drop(s);
    s->txn_gen_bumps = 0;
    if (!sqlite3_get_autocommit(s->db)) run(s, stmt(s, S_ROLLBACK), NULL, "rollback");
}

int store_meta_set(store_t *s, const char *key, const char *value, char *err)
{
    sqlite3_stmt *st = stmt(s, S_META_SET);
    bind_text(st, 1, key);
    bind_text(st, 2, value);
    return run(s, st, err, "saving settings");
}

int store_meta_get(store_t *s, const char *key, char *out, size_t n)
{
    sqlite3_stmt *st = stmt(s, S_META_GET);
    bind_text(st, 1, key);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) copy_col(out, n, st, 0);
    sqlite3_reset(st);
    return found;
}

/* ---- members ---- */

static int32_t col_day(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? CAL_NONE : sqlite3_column_int(st, i);
}

/* MEMBER_COLS into m. borrow: point at the row's own text instead of
 * copying it (valid until the statement steps again; for iterators). */
static void read_member(store_t *s, sqlite3_stmt *st, member_t *m, int borrow)
{
    static const int strcol[MS_NSTR] = {
        [MS_EXT_ID] = 1, [MS_NAME] = 2, [MS_PHONE] = 3, [MS_EMAIL] = 4, [MS_OPENID] = 5,
        [MS_BIRTHDAY] = 6, [MS_GENDER] = 7, [MS_TZ] = 8, [MS_TIER] = 9, [MS_TAGS] = 10,
        [MS_STORE] = 11, [MS_ATTRS] = 12,
    };
    const char *vals[MS_NSTR];
    size_t lens[MS_NSTR];
    member_clear(m);
    /* a borrowed row needs no lengths: a call less per column, for every
     * candidate of a broadcast */
    for (int i = 0; i < MS_NSTR; i++) vals[i] = (const char *)sqlite3_column_text(st, strcol[i]);
    if (borrow) {
        memcpy((void *)m->s, vals, sizeof vals);
    } else {
        for (int i = 0; i < MS_NSTR; i++) lens[i] = vals[i] ? (size_t)sqlite3_column_bytes(st, strcol[i]) : 0;
        member_set_strs(m, vals, lens);
    }
    m->rowid = sqlite3_column_int64(st, 0);
    m->zone = zone_of(s, sqlite3_column_int64(st, 13));
    m->wechat_subscribed = sqlite3_column_int(st, 14);
    m->sms_opt_out = sqlite3_column_int(st, 15);
    m->email_opt_out = sqlite3_column_int(st, 16);
    m->joined_at = sqlite3_column_type(st, 17) == SQLITE_NULL ? TIME_NONE : sqlite3_column_int64(st, 17);
    m->order_count = sqlite3_column_int64(st, 18);
    m->spent_cents = sqlite3_column_int64(st, 19);
    m->last_order_at = sqlite3_column_type(st, 20) == SQLITE_NULL ? TIME_NONE : sqlite3_column_int64(st, 20);
    /* the anchors were derived on write */
    m->join_day = col_day(st, 21);
    m->join_md = col_day(st, 22);
    m->birth_md = col_day(st, 23);
    m->last_order_day = col_day(st, 24);
}

/* ---- members read lately ----
 *
 * An event names its member by id, and reading one is three lookups (the
 * id index, the row, member_orders): 28% of the instructions of importing
 * an order. The store keeps the members it read or
 * wrote inside a transaction, by id, as they stand in the store:
 *  - every write to members or member_orders is in this module, and
 *    updates or drops the member's entry;
 *  - a rollback drops them all, as does a transaction that ended some
 *    other way (sqlite rolled it back itself, or its commit failed);
 *  - another connection's commit (an import beside the daemon) changes
 *    PRAGMA data_version, read as each transaction begins: all dropped.
 * Outside a transaction it is not used: another process may have written
 * since the last check. A member's id never changes (every save finds the
 * member by it first), so an entry is found by id alone. At most
 * store_member_cache's max, a few hundred bytes each; past that, a new
 * one evicts an entry at a rotating cursor. By default none are kept. */

static uint64_t mc_hash(const char *ext_id)
{
    return fnv1a64(ext_id, strlen(ext_id), FNV_SEED) | 1;
}

static mc_ent_t **mc_slot(mcache_t *c, uint64_t h, const char *ext_id)
{
    mc_ent_t **p = &c->bucket[(h * 0x9E3779B97F4A7C15ULL) >> (64 - __builtin_ctzll(c->nbucket))];
    while (*p && ((*p)->h != h || strcmp((*p)->m.s[MS_EXT_ID], ext_id) != 0)) p = &(*p)->next;
    return p;
}

static void mc_ent_free(mc_ent_t *e)
{
    member_free(&e->m);
    free(e);
}

static void mc_clear(store_t *s)
{
    mcache_t *c = &s->mc;
    for (size_t i = 0; i < c->nbucket; i++)
        for (mc_ent_t *e = c->bucket[i], *next; e; e = next) {
            next = e->next;
            mc_ent_free(e);
        }
    free(c->bucket);
    c->bucket = NULL;
    c->nbucket = c->count = c->cursor = 0;
}

/* As a transaction begins (the snapshot it reads is fixed now). */
static void mc_txn_begin(store_t *s)
{
    mcache_t *c = &s->mc;
    /* the last transaction ended without store_commit or store_rollback */
    if (c->wrote) mc_clear(s);
    c->wrote = 0;
    c->open = 0;
    if (!c->max) return;   /* keeps none (an import, a simulation): nothing to check */
    sqlite3_stmt *st = stmt(s, S_DATA_VERSION);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (v < 0 || v != c->version) mc_clear(s);
    c->version = v;
    c->open = v >= 0;
}

static void mc_txn_end(store_t *s, int committed)
{
    mcache_t *c = &s->mc;
    if (!committed) mc_clear(s);
    c->open = c->wrote = 0;
}

static const member_t *mc_get(store_t *s, const char *ext_id)
{
    mcache_t *c = &s->mc;
    if (!c->open || !c->count) return NULL;
    mc_ent_t *e = *mc_slot(c, mc_hash(ext_id), ext_id);
    return e ? &e->m : NULL;
}

/* Makes room for one more entry: buckets doubled up to the most it
 * holds, then an entry evicted. */
static void mc_room(mcache_t *c)
{
    if (c->count >= c->max) {
        for (;; c->cursor = (c->cursor + 1) & (c->nbucket - 1)) {
            mc_ent_t *e = c->bucket[c->cursor];
            if (!e) continue;
            c->bucket[c->cursor] = e->next;
            mc_ent_free(e);
            c->count--;
            c->cursor = (c->cursor + 1) & (c->nbucket - 1);
            return;
        }
    }
    if (c->nbucket && c->count < c->nbucket) return;
    size_t n = c->nbucket ? c->nbucket * 2 : 1024;
    mc_ent_t **old = c->bucket;
    size_t nold = c->nbucket;
    c->bucket = xcalloc(n, sizeof *c->bucket);
    c->nbucket = n;
    for (size_t i = 0; i < nold; i++)
        for (mc_ent_t *e = old[i], *next; e; e = next) {
            next = e->next;
            mc_ent_t **p = mc_slot(c, e->h, e->m.s[MS_EXT_ID]);
            e->next = *p;
            *p = e;
        }
    free(old);
}

/* m as it now stands in the store (read, or written in full), inside a
 * transaction (a write outside one sets `wrote`: all go at the next). */
static void mc_put(store_t *s, const member_t *m)
{
    mcache_t *c = &s->mc;
    if (!c->open || !m->rowid || !m->s[MS_EXT_ID]) return;
    uint64_t h = mc_hash(m->s[MS_EXT_ID]);
    mc_ent_t *e = c->nbucket ? *mc_slot(c, h, m->s[MS_EXT_ID]) : NULL;
    if (!e) {
        mc_room(c);
        e = xcalloc(1, sizeof *e);
        member_init(&e->m);
        e->h = h;
        mc_ent_t **p = mc_slot(c, h, m->s[MS_EXT_ID]);
        e->next = *p;
        *p = e;
        c->count++;
    }
    member_copy(&e->m, m);
}

/* The entry of m (by its id), when the write that changes it cannot be
 * mirrored; with no id, every entry. */
static void mc_drop(store_t *s, const member_t *m)
{
    mcache_t *c = &s->mc;
    if (!c->count) return;
    if (!m->s[MS_EXT_ID]) {
        mc_clear(s);
        return;
    }
    mc_ent_t **p = mc_slot(c, mc_hash(m->s[MS_EXT_ID]), m->s[MS_EXT_ID]);
    if (!*p) return;
    mc_ent_t *e = *p;
    *p = e->next;
    mc_ent_free(e);
    c->count--;
}

void store_member_cache_stats(const store_t *s, int64_t *hits, int64_t *misses, int64_t *held)
{
    *hits = s->mc.hits;
    *misses = s->mc.misses;
    *held = (int64_t)s->mc.count;
}

void store_member_cache(store_t *s, size_t max)
{
    mc_clear(s);
    s->mc.max = max;
}

static int member_query(store_t *s, sqlite3_stmt *st, member_t *m, char *err)
{
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        read_member(s, st, m, 0);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = dberr(s, err, "reading a member");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

int store_member_find(store_t *s, const char *ext_id, member_t *m, char *err)
{
    const member_t *hit = mc_get(s, ext_id);
    if (hit) {
        s->mc.hits++;
        member_copy(m, hit);
        return 1;
    }
    sqlite3_stmt *st = stmt(s, S_MEMBER_FIND);
    bind_text(st, 1, ext_id);
    int found = member_query(s, st, m, err);
    if (s->mc.open) s->mc.misses++;
    if (found == 1) mc_put(s, m);
    return found;
}

/* The integer statement `which` answers for one text parameter; 0 when
 * it returns no row. */
static int64_t int_for_text(store_t *s, int which, const char *text)
{
    sqlite3_stmt *st = stmt(s, which);
    bind_text(st, 1, text);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

/* The integer the statement `which` answers with (given v as its first
 * parameter when it takes one); 0 when there is none. */
static int64_t int_query(store_t *s, int which, int64_t v)
{
    sqlite3_stmt *st = stmt(s, which);
    if (sqlite3_bind_parameter_count(st)) sqlite3_bind_int64(st, 1, v);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

int64_t store_member_rowid(store_t *s, const char *ext_id)
{
    return int_for_text(s, S_MEMBER_ROWID, ext_id);
}

int store_member_load(store_t *s, int64_t rowid, member_t *m, char *err)
{
    sqlite3_stmt *st = stmt(s, S_MEMBER_LOAD);
    sqlite3_bind_int64(st, 1, rowid);
    return member_query(s, st, m, err);
}

/* ---- member row ids: a zone's members side by side ----
 *
 * A new member's row id comes from a block of MEMBER_BLOCK ids that its
 * zone took, so each zone's rows sit together in the members table. The
 * moments that read one zone's members (the monthly broadcast reads all
 * of them) then read that zone's pages only; with ids in arrival order a
 * zone of 2% of the members has a row on a third of the table's pages.
 * A zone resumes its block after its largest id; a new block starts past
 * the largest id in the table, so blocks never overlap. Row ids stay
 * internal (members are named by their own ids everywhere else), and
 * within a zone they still follow arrival order. A store acting for part
 * of the members (store_own) starts new blocks at its floor, above the
 * row ids of the other parts. */
#define MEMBER_BLOCK 1024

static void member_block_new(store_t *s, zone_ent_t *z)
{
    int64_t top = int_query(s, S_MEMBER_MAX_ID, 0);
    if (top < s->new_floor - 1) top = s->new_floor - 1;
    z->next_id = top > 0 ? (top / MEMBER_BLOCK + 1) * MEMBER_BLOCK : 1;
    z->end_id = (z->next_id / MEMBER_BLOCK + 1) * MEMBER_BLOCK;
}

/* The row id for a new member of zone z. */
static int64_t member_rowid_new(store_t *s, zone_ent_t *z)
{
    if (!z->end_id) {
        int64_t top = int_query(s, S_ZONE_MAX_ID, z->id);
        z->next_id = top + 1;
        z->end_id = top > 0 ? (top / MEMBER_BLOCK + 1) * MEMBER_BLOCK : 0;
    }
    if (z->next_id >= z->end_id || z->next_id < s->new_floor) member_block_new(s, z);
    return z->next_id;
}

/* Writes m's order columns to its row of member_orders (zone z), or
 * removes that row when m has no orders. */
static int orders_save(store_t *s, const member_t *m, int64_t zone, int insert, char *err)
{
    if (!m->order_count && !m->spent_cents && m->last_order_at == TIME_NONE) {
        if (insert) return NUDGE_OK;
        sqlite3_stmt *st = stmt(s, S_ORDERS_DELETE);
        sqlite3_bind_int64(st, 1, m->rowid);
        return run(s, st, err, "saving a member's orders");
    }
    sqlite3_stmt *st = stmt(s, S_ORDERS_PUT);
    sqlite3_bind_int64(st, 1, m->rowid);
    sqlite3_bind_int64(st, 2, zone);
    sqlite3_bind_int64(st, 3, m->order_count);
    sqlite3_bind_int64(st, 4, m->spent_cents);
    bind_time(st, 5, m->last_order_at);
    bind_day(st, 6, m->last_order_day);
    return run(s, st, err, "saving a member's orders");
}

int store_member_save(store_t *s, member_t *m, char *err)
{
    zone_ent_t *z = zone_entry(s, m->zone, err);
    if (!z) return NUDGE_ERR;
    int insert = !m->rowid;
    static const int order[12] = {MS_EXT_ID, MS_NAME, MS_PHONE, MS_EMAIL, MS_OPENID, MS_BIRTHDAY,
                                   MS_GENDER, MS_TZ, MS_TIER, MS_TAGS, MS_STORE, MS_ATTRS};
    for (int attempt = 0;; attempt++) {
        sqlite3_stmt *st = stmt(s, insert ? S_MEMBER_INSERT : S_MEMBER_UPDATE);
        for (int i = 0; i < 12; i++) bind_text(st, i + 1, m->s[order[i]]);
        sqlite3_bind_int64(st, 13, z->id);
        sqlite3_bind_int(st, 14, m->wechat_subscribed);
        sqlite3_bind_int(st, 15, m->sms_opt_out);
        sqlite3_bind_int(st, 16, m->email_opt_out);
        bind_time(st, 17, m->joined_at);
        bind_day(st, 18, m->join_day);
        bind_day(st, 19, m->join_md);
        bind_day(st, 20, m->birth_md);
        int64_t id = insert ? member_rowid_new(s, z) : m->rowid;
        sqlite3_bind_int64(st, 21, id);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc == SQLITE_DONE) {
            if (insert) {
                m->rowid = id;
                z->next_id = id + 1;
            }
            s->member_saves++;
            if (orders_save(s, m, z->id, insert, err) != NUDGE_OK) {
                mc_drop(s, m);
                return NUDGE_ERR;
            }
            mc_put(s, m);
            s->mc.wrote = 1;
            return NUDGE_OK;
        }
        /* the id was taken (by a member who moved here from another zone,
         * or in a store whose ids came in arrival order): a new block */
        if (insert && !attempt && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
            member_block_new(s, z);
            continue;
        }
        mc_drop(s, m);
        return dberr(s, err, "saving a member");
    }
}

int64_t store_member_max_rowid(store_t *s)
{
    return int_query(s, S_MEMBER_MAX_ID, 0);
}

void store_own(store_t *s, int64_t lo, int64_t hi, int64_t new_floor)
{
    s->own_lo = lo;
    s->own_hi = hi;
    s->new_floor = new_floor;
}

int store_cache_kib(store_t *s, long kib, char *err)
{
    char q[64];
    snprintf(q, sizeof q, "PRAGMA cache_size=-%ld", kib);
    if (sqlite3_exec(s->db, q, NULL, NULL, NULL) != SQLITE_OK) return dberr(s, err, "setting the cache size");
    return NUDGE_OK;
}

int64_t store_member_count(store_t *s)
{
    return int_query(s, S_MEMBER_COUNT, 0);
}

int store_attr_name_add(store_t *s, const char *name, char *err)
{
    sqlite3_stmt *st = stmt(s, S_ATTR_ADD);
    bind_text(st, 1, name);
    return run(s, st, err, "recording an attribute name");
}

void store_attr_names(store_t *s, void (*fn)(const char *name, void *ud), void *ud)
{
    sqlite3_stmt *st = stmt(s, S_ATTR_ALL);
    while (sqlite3_step(st) == SQLITE_ROW) fn((const char *)sqlite3_column_text(st, 0), ud);
    sqlite3_reset(st);
}

static int member_orders_write(store_t *s, const member_t *m, int32_t was_day, char *err)
{
    if (was_day == m->last_order_day && was_day != CAL_NONE) {
        sqlite3_stmt *st = stmt(s, S_ORDERS_SAME_DAY);
        sqlite3_bind_int64(st, 1, m->rowid);
        sqlite3_bind_int64(st, 2, m->order_count);
        sqlite3_bind_int64(st, 3, m->spent_cents);
        bind_time(st, 4, m->last_order_at);
        if (run(s, st, err, "saving a member's orders") != NUDGE_OK) return NUDGE_ERR;
        if (sqlite3_changes(s->db)) return NUDGE_OK;
    }
    zone_ent_t *z = zone_entry(s, m->zone, err);
    return z ? orders_save(s, m, z->id, 0, err) : NUDGE_ERR;
}

int store_member_save_orders(store_t *s, const member_t *m, int32_t was_day, char *err)
{
    if (member_orders_write(s, m, was_day, err) != NUDGE_OK) {
        mc_drop(s, m);
        return NUDGE_ERR;
    }
    /* the member's other columns are as its entry has them */
    mc_ent_t *e = s->mc.count && m->s[MS_EXT_ID] ? *mc_slot(&s->mc, mc_hash(m->s[MS_EXT_ID]), m->s[MS_EXT_ID]) : NULL;
    if (e && e->m.rowid == m->rowid) {
        e->m.order_count = m->order_count;
        e->m.spent_cents = m->spent_cents;
        e->m.last_order_at = m->last_order_at;
        e->m.last_order_day = m->last_order_day;
        s->mc.wrote = 1;
    } else if (e) {
        mc_drop(s, m);
    }
    return NUDGE_OK;
}

int store_member_save_reach(store_t *s, const member_t *m, char *err)
{
    mc_drop(s, m);   /* rare: read again when next needed */
    sqlite3_stmt *st = stmt(s, S_MEMBER_REACH);
    sqlite3_bind_int64(st, 1, m->rowid);
    bind_text(st, 2, m->s[MS_OPENID]);
    sqlite3_bind_int(st, 3, m->wechat_subscribed);
    sqlite3_bind_int(st, 4, m->sms_opt_out);
    sqlite3_bind_int(st, 5, m->email_opt_out);
    return run(s, st, err, "saving a member's channels");
}

int store_bulk_begin(store_t *s, char *err)
{
    if (store_member_count(s) != 0) return NUDGE_OK;
    for (size_t i = 0; i < sizeof anchor_indexes / sizeof anchor_indexes[0]; i++) {
        char q[128];
        snprintf(q, sizeof q, "DROP INDEX IF EXISTS %s", anchor_indexes[i]);
        if (sqlite3_exec(s->db, q, NULL, NULL, NULL) != SQLITE_OK) return dberr(s, err, "preparing a bulk load");
    }
    s->bulk = 1;
    return NUDGE_OK;
}

int store_bulk_end(store_t *s, char *err)
{
    if (!s->bulk) return NUDGE_OK;
    s->bulk = 0;
    /* the schema recreates whatever index is missing. Each index is a
     * sort of the whole table: in pieces the size of a small cache,
     * sorted by a second thread while the first reads on, it takes a
     * third less time than in one piece (7 indexes of 1 M members: 4.4-6
     * s against 7.3-8.6 s); the cache is set back after. */
    char q[96];
    snprintf(q, sizeof q, "PRAGMA threads=%d; PRAGMA cache_size=-%d; PRAGMA temp_store=FILE;", BULK_SORT_THREADS,
             BULK_SORT_CACHE_KIB);
    sqlite3_exec(s->db, q, NULL, NULL, NULL);
    int rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL);
    if (rc != SQLITE_OK) dberr(s, err, "indexing members");
    snprintf(q, sizeof q, "PRAGMA threads=0; PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY;",
             s->scratch ? STORE_SCRATCH_CACHE_KIB : STORE_CACHE_KIB);
    sqlite3_exec(s->db, q, NULL, NULL, NULL);
    return rc == SQLITE_OK ? NUDGE_OK : NUDGE_ERR;
}

char **store_zones(store_t *s, int *n)
{
    char **v = NULL;
    load_zones(s);
    *n = 0;
    for (int i = 0; i < s->nzones; i++) {
        v = xrealloc(v, sizeof *v * (size_t)(*n + 1));
        v[(*n)++] = xstrdup(tz_name(s->zones[i].tz));
    }
    return v;
}

void store_strv_free(char **v, int n)
{
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* ---- candidates ---- */

/* Members per zone (in zones[].members) and in all, counted again once
 * a sixteenth of them (and a hundred) were saved since: they only choose
 * a candidate query's plan, and counting reads the whole zone index
 * (4.6 ms a zone at 1 M members, 96 times in a simulated year). */
static int64_t zone_counts(store_t *s)
{
    int64_t all = 0;
    for (int i = 0; i < s->nzones; i++) all += s->zones[i].members;
    if (s->zone_counts_at >= 0 && s->member_saves - s->zone_counts_at <= all / 16 + 100) return all;
    load_zones(s);   /* zones other processes added; sets zone_counts_at = -1 */
    all = 0;
    sqlite3_stmt *st = stmt(s, S_ZONE_COUNTS);
    while (sqlite3_step(st) == SQLITE_ROW)
        for (int i = 0; i < s->nzones; i++)
            if (s->zones[i].id == sqlite3_column_int64(st, 0)) all += s->zones[i].members = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    s->zone_counts_at = s->member_saves;
    return all;
}

/* Batches with points left that expire on day, counted once a day: the
 * zones' moments of one day come one after another, and the count only
 * chooses a plan (378 k batches on the day a year's points expire, at
 * 1 M members, in 0.1 s). */
static int64_t day_batches(store_t *s, int32_t day)
{
    if (s->batches < 0 || s->batches_day != day) {
        s->batches = int_query(s, S_POINTS_DAY_COUNT, day);
        s->batches_day = day;
    }
    return s->batches;
}

store_iter_t *store_candidates(store_t *s, int kind, const char *zone, int32_t lo, int32_t hi,
                               int32_t extra, char *err)
{
    static const enum stmt map[] = {
        [CAND_JOIN_DAY] = S_CAND_JOIN_DAY, [CAND_JOIN_MD] = S_CAND_JOIN_MD,
        [CAND_BIRTH_MD] = S_CAND_BIRTH_MD, [CAND_LAST_ORDER_DAY] = S_CAND_LAST_ORDER,
        [CAND_POINTS_EXPIRY] = S_CAND_POINTS, [CAND_ALL] = S_CAND_ALL,
    };
    if (kind < 0 || kind > CAND_ALL) {
        errf(err, "unknown candidate query %d", kind);
        return NULL;
    }
    int64_t zid = zone_id_by_name(s, zone);
    enum stmt which = map[kind];
    if (kind == CAND_ALL || kind == CAND_POINTS_EXPIRY) {
        int64_t all = zone_counts(s), in_zone = 0;
        for (int i = 0; i < s->nzones; i++)
            if (s->zones[i].id == zid) in_zone = s->zones[i].members;
        /* a seek per row through the zone index, or one pass over the
         * table: the pass wins once the zone holds about half the members */
        if (kind == CAND_ALL && in_zone * 2 > all) which = S_CAND_ALL_SCAN;
        /* a seek per batch of the day into the zone index, or a seek per
         * member of the zone into the day's batches: the fewer seeks */
        if (kind == CAND_POINTS_EXPIRY && in_zone * 2 < day_batches(s, lo)) which = S_CAND_POINTS_BY_MEMBER;
    }
    sqlite3_stmt *st = stmt(s, which);
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, zid);
    if (kind != CAND_ALL) sqlite3_bind_int(st, 2, lo);
    if (kind != CAND_ALL && kind != CAND_POINTS_EXPIRY) sqlite3_bind_int(st, 3, hi);
    if (kind == CAND_JOIN_MD) sqlite3_bind_int(st, 4, extra);
    bind_own(s, st);
    store_iter_t *it = xcalloc(1, sizeof *it);
    it->s = s;
    it->st = st;
    it->kind = kind;
    return it;
}

int store_iter_next(store_iter_t *it, member_t *m, int64_t *value, char *err)
{
    int rc = sqlite3_step(it->st);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return dberr(it->s, err, "reading candidates");
    read_member(it->s, it->st, m, 1);
    if (value) *value = sqlite3_column_int64(it->st, MEMBER_NCOLS);
    return 1;
}

void store_iter_free(store_iter_t *it)
{
    if (!it) return;
    sqlite3_reset(it->st);
    sqlite3_clear_bindings(it->st);
    free(it);
}

/* ---- points ---- */

int store_points_add(store_t *s, int64_t member, int64_t earned_at, int32_t expires_day,
                     int64_t points, char *err)
{
    sqlite3_stmt *st = stmt(s, S_POINTS_ADD);
    sqlite3_bind_int64(st, 1, member);
    sqlite3_bind_int64(st, 2, earned_at);
    sqlite3_bind_int(st, 3, expires_day);
    sqlite3_bind_int64(st, 4, points);
    return run(s, st, err, "adding points");
}

typedef struct batch { int64_t id, left; int32_t day; } batch_t;

static int live_batches(store_t *s, int64_t member, int32_t today, batch_t **out)
{
    sqlite3_stmt *st = stmt(s, S_POINTS_LIVE);
    sqlite3_bind_int64(st, 1, member);
    sqlite3_bind_int(st, 2, today);
    int n = 0, cap = 0;
    *out = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, sizeof **out * (size_t)cap);
        }
        (*out)[n].id = sqlite3_column_int64(st, 0);
        (*out)[n].day = sqlite3_column_int(st, 1);
        (*out)[n].left = sqlite3_column_int64(st, 2);
        n++;
    }
    sqlite3_reset(st);
    return n;
}

int store_points_redeem(store_t *s, int64_t member, int32_t today, int64_t points,
                        int64_t *balance, char *err)
{
    batch_t *b;
    int n = live_batches(s, member, today, &b);
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += b[i].left;
    if (balance) *balance = total;
    if (total < points) {
        free(b);
        return errf(err, "redeems %lld points but the balance is %lld", (long long)points,
                    (long long)total);
    }
    int64_t need = points;
    for (int i = 0; i < n && need > 0; i++) {
        int64_t take = b[i].left < need ? b[i].left : need;
        sqlite3_stmt *st = stmt(s, S_POINTS_SET_LEFT);
        sqlite3_bind_int64(st, 1, b[i].id);
        sqlite3_bind_int64(st, 2, b[i].left - take);
        if (run(s, st, err, "redeeming points") != NUDGE_OK) {
            free(b);
            return NUDGE_ERR;
        }
        need -= take;
    }
    free(b);
    return NUDGE_OK;
}

void store_points_summary(store_t *s, int64_t member, int32_t today, int64_t *balance,
                          int32_t *next_day, int64_t *next_points)
{
    batch_t *b;
    int n = live_batches(s, member, today, &b);
    *balance = *next_points = 0;
    *next_day = CAL_NONE;
    for (int i = 0; i < n; i++) {
        *balance += b[i].left;
        if (b[i].day == CAL_NEVER) continue;   /* counts, but never expires */
        if (*next_day == CAL_NONE) *next_day = b[i].day;
        if (b[i].day == *next_day) *next_points += b[i].left;
    }
    free(b);
}

/* ---- events ---- */

static int64_t event_key(const char *ext_id)
{
    return (int64_t)(fnv1a64(ext_id, strlen(ext_id), FNV_SEED) >> 1);
}

static int64_t event_chk(const char *ext_id)
{
    return (int64_t)(fnv1a64(ext_id, strlen(ext_id), 0x84222325cbf29ce4ULL) & 0x7fffffff);
}

/* ---- the event log's write-behind ---- */

static size_t bloom_bit(const store_t *s, int64_t key, int i)
{
    uint64_t h = (uint64_t)key, g = (h >> 33) | (h << 31);
    return (size_t)((h + (uint64_t)i * (g | 1)) & (s->bloom_bits - 1));
}

static void bloom_add(store_t *s, int64_t key)
{
    s->bloom_keys++;
    s->bloom_unsaved = 1;
    for (int i = 0; i < 4; i++) {
        size_t b = bloom_bit(s, key, i);
        s->bloom[b / 64] |= 1ULL << (b % 64);
    }
}

static int bloom_may_have(const store_t *s, int64_t key)
{
    for (int i = 0; i < 4; i++) {
        size_t b = bloom_bit(s, key, i);
        if (!(s->bloom[b / 64] & (1ULL << (b % 64)))) return 0;
    }
    return 1;
}

/* The log's generation: 0 before its first change, -1 when it cannot be
 * read (no filter is then built, trusted or saved). */
static int64_t event_gen(store_t *s)
{
    sqlite3_stmt *st = stmt(s, S_EVENT_GEN);
    int rc = sqlite3_step(st);
    int64_t gen = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return gen;
}

/* The filter the last process saved, when it holds the log's generation
 * and has room left for extra keys and half the keys a new one would
 * (see bloom_build_log). */
static int bloom_load(store_t *s, int64_t gen, int64_t extra)
{
    sqlite3_stmt *st = stmt(s, S_FILTER_GET);
    int64_t keys = -1;
    size_t bytes = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == gen) {
        keys = sqlite3_column_int64(st, 1);
        bytes = (size_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    size_t bits = bytes * 8;
    if (bits < (1 << 20) || (bits & (bits - 1)) != 0 || keys < 0 ||
        keys + extra > (int64_t)(bits / 16) - 500000)
        return 0;
    /* read straight into the filter: the column's value would be a
     * second copy (16 MB at 4.5 M ids), made and freed first; a simulated
     * year of 1 M members peaked 5 MB higher with it (494 against 489 MB) */
    sqlite3_blob *b;
    if (sqlite3_blob_open(s->db, "main", "event_filter", "data", 1, 0, &b) != SQLITE_OK) return 0;
    uint64_t *f = xmalloc(bytes);
    int ok = (size_t)sqlite3_blob_bytes(b) == bytes && sqlite3_blob_read(b, f, (int)bytes, 0) == SQLITE_OK;
    sqlite3_blob_close(b);
    if (!ok) {
        free(f);
        return 0;
    }
    s->bloom_bits = bits;
    s->bloom = f;
    s->bloom_keys = keys;
    s->bloom_unsaved = 0;
    return 1;
}

/* Built on first use from the saved filter, or else from the log's keys:
 * 16 bits a key (~0.2% false positives, each costing one lookup), at
 * least 1 Mbit, room for the extra keys the caller adds and a million
 * more. The keys are read once into a passing array to size it: count(*)
 * would read the whole log a second time (208 MB for 4.5 M events). */
static int bloom_build_log(store_t *s, size_t extra, char *err)
{
    s->bloom_gen = event_gen(s);
    if (s->bloom_gen < 0) return dberr(s, err, "reading the event log's generation");
    if (bloom_load(s, s->bloom_gen, (int64_t)extra)) return NUDGE_OK;
    sqlite3_stmt *st;
    int64_t *keys = NULL;
    size_t n = 0, cap = 0;
    /* a filter missing the ids a failed read did not reach would take
     * them for new: no filter, and an error, instead */
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM events", -1, &st, NULL) != SQLITE_OK)
        return dberr(s, err, "reading the event log");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            keys = xrealloc(keys, cap * sizeof *keys);
        }
        keys[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(keys);
        return dberr(s, err, "reading the event log");
    }
    s->bloom_bits = 1 << 20;
    while (s->bloom_bits < (n + extra + 1000000) * 16) s->bloom_bits <<= 1;
    s->bloom = xcalloc(s->bloom_bits / 64, sizeof *s->bloom);
    for (size_t i = 0; i < n; i++) bloom_add(s, keys[i]);
    free(keys);
    s->bloom_unsaved = 1;
    return NUDGE_OK;
}

static void seen_each(const seen_t *v, void (*fn)(store_t *s, int64_t key), store_t *s);

/* A scratch store's filter also holds the ids kept in memory (it may be
 * built again after a rollback dropped it, or when they filled it: it is
 * then sized for them too, and the saved one, too small, is not used). */
static int bloom_build(store_t *s, char *err)
{
    if (bloom_build_log(s, s->scratch ? s->seen.n + s->seen.ntail : 0, err) != NUDGE_OK) return NUDGE_ERR;
    if (s->scratch) seen_each(&s->seen, bloom_add, s);
    return NUDGE_OK;
}

static void bloom_drop(store_t *s)
{
    free(s->bloom);
    s->bloom = NULL;
    s->bloom_bits = 0;
    s->bloom_keys = 0;
    s->bloom_gen = -1;
    s->bloom_unsaved = 0;
}

/* For the next process: only a filter that holds every key of the log,
 * i.e. whose generation is still the log's (no other process changed it
 * since; a rolled-back change drops the filter). A cache: not saving it
 * only costs the next process a pass over the log. */
static void bloom_save(store_t *s)
{
    if (!s->bloom || !s->bloom_unsaved || s->scratch || s->bloom_gen < 0 || !sqlite3_get_autocommit(s->db)) return;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return;
    int ok = event_gen(s) == s->bloom_gen;
    if (ok) {
        sqlite3_stmt *st = stmt(s, S_FILTER_PUT);
        sqlite3_bind_int64(st, 1, s->bloom_gen);
        sqlite3_bind_int64(st, 2, s->bloom_keys);
        sqlite3_bind_blob(st, 3, s->bloom, (int)(s->bloom_bits / 8), SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    sqlite3_exec(s->db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
}

/* In the transaction that changes the log. */
static int event_gen_bump(store_t *s, char *err)
{
    if (run(s, stmt(s, S_EVENT_GEN_BUMP), err, "counting the event log's changes") != NUDGE_OK) return NUDGE_ERR;
    if (s->bloom_gen >= 0) s->bloom_gen++;
    s->txn_gen_bumps++;
    s->bloom_unsaved = 1;
    return NUDGE_OK;
}

static pend_t *pend_find(store_t *s, int64_t key)
{
    if (!s->nslot) return NULL;
    for (size_t i = (size_t)key & (s->nslot - 1);; i = (i + 1) & (s->nslot - 1)) {
        if (!s->slot[i]) return NULL;
        pend_t *p = &s->pend[s->slot[i] - 1];
        if (p->key == key) return p;
    }
}

static void pend_index(store_t *s, size_t at)
{
    size_t i = (size_t)s->pend[at].key & (s->nslot - 1);
    while (s->slot[i]) i = (i + 1) & (s->nslot - 1);
    s->slot[i] = (int32_t)at + 1;
}

static void pend_add(store_t *s, const pend_t *p)
{
    if (s->npend == s->cap_pend) {
        s->cap_pend = s->cap_pend ? s->cap_pend * 2 : 1024;
        s->pend = xrealloc(s->pend, sizeof *s->pend * s->cap_pend);
    }
    if (2 * (s->npend + 1) > s->nslot) {   /* keep the hash at most half full */
        free(s->slot);
        s->nslot = s->nslot ? s->nslot * 2 : 4096;
        s->slot = xcalloc(s->nslot, sizeof *s->slot);
        for (size_t i = 0; i < s->npend; i++) pend_index(s, i);
    }
    s->pend[s->npend] = *p;
    pend_index(s, s->npend++);
}

/* ---- a scratch store's event ids ---- */

static seen_ent_t *seen_tail_slot(seen_t *v, int64_t key)
{
    size_t mask = SEEN_TAIL_SLOTS - 1;
    for (size_t i = (size_t)key & mask;; i = (i + 1) & mask)
        if (!v->tail[i].key || v->tail[i].key == (key | SEEN_USED)) return &v->tail[i];
}

static int cmp_seen_ent(const void *a, const void *b)
{
    int64_t x = ((const seen_ent_t *)a)->key, y = ((const seen_ent_t *)b)->key;
    return x < y ? -1 : x > y;
}

/* Moves the hash's ids into the sorted array, merging from the back in
 * place: no second copy of the array (realloc of a large block remaps). */
static void seen_merge(seen_t *v)
{
    seen_ent_t *add = xmalloc(v->ntail * sizeof *add);
    size_t m = 0;
    for (size_t i = 0; i < SEEN_TAIL_SLOTS; i++)
        if (v->tail[i].key) {
            add[m] = v->tail[i];
            add[m++].key &= ~SEEN_USED;
        }
    qsort(add, m, sizeof *add, cmp_seen_ent);
    if (v->n + m > v->cap) {
        v->cap = v->n + m > 2 * v->cap ? v->n + m : 2 * v->cap;
        v->keys = xrealloc(v->keys, v->cap * sizeof *v->keys);
        v->chks = xrealloc(v->chks, v->cap * sizeof *v->chks);
    }
    size_t i = v->n, j = m, k = v->n + m;
    while (j > 0) {
        if (i > 0 && v->keys[i - 1] > add[j - 1].key) {
            k--, i--;
            v->keys[k] = v->keys[i];
            v->chks[k] = v->chks[i];
        } else {
            k--, j--;
            v->keys[k] = add[j].key;
            v->chks[k] = add[j].chk;
        }
    }
    v->n += m;
    free(add);
    memset(v->tail, 0, SEEN_TAIL_SLOTS * sizeof *v->tail);
    v->ntail = 0;
}

/* The chk of key (SEEN_GONE when taken back), or NULL. */
static uint32_t *seen_find(seen_t *v, int64_t key)
{
    if (v->tail) {
        seen_ent_t *e = seen_tail_slot(v, key);
        if (e->key) return &e->chk;
    }
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->keys[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo < v->n && v->keys[lo] == key ? &v->chks[lo] : NULL;
}

/* key must not be in v: see store_event_add */
static void seen_add(seen_t *v, int64_t key, uint32_t chk)
{
    if (!v->tail) v->tail = xcalloc(SEEN_TAIL_SLOTS, sizeof *v->tail);
    seen_ent_t *e = seen_tail_slot(v, key);
    e->key = key | SEEN_USED;
    e->chk = chk;
    if (++v->ntail >= SEEN_TAIL) seen_merge(v);
}

/* Calls fn for each id, taken back or not (a Bloom filter built again
 * must hold them all: a false positive only costs a lookup). */
static void seen_each(const seen_t *v, void (*fn)(store_t *s, int64_t key), store_t *s)
{
    for (size_t i = 0; i < v->n; i++) fn(s, v->keys[i]);
    if (v->tail)
        for (size_t i = 0; i < SEEN_TAIL_SLOTS; i++)
            if (v->tail[i].key) fn(s, v->tail[i].key & ~SEEN_USED);
}

/* How many ids a and b both hold (key and check), not taken back. Merges
 * their hashes into the arrays first. */
static int64_t seen_shared(seen_t *a, seen_t *b)
{
    if (a->ntail) seen_merge(a);
    if (b->ntail) seen_merge(b);
    int64_t n = 0;
    for (size_t i = 0, j = 0; i < a->n && j < b->n;) {
        if (a->keys[i] < b->keys[j]) i++;
        else if (a->keys[i] > b->keys[j]) j++;
        else {
            n += a->chks[i] != SEEN_GONE && a->chks[i] == b->chks[j];
            i++, j++;
        }
    }
    return n;
}

int64_t store_scratch_shared(store_t *a, store_t *b)
{
    return seen_shared(&a->seen, &b->seen) + seen_shared(&a->seen_orders, &b->seen_orders);
}

/* ---- orders ---- */

int store_order_add(store_t *s, const char *order_id, int64_t member, int64_t at, int64_t cents,
                    char *err)
{
    if (s->scratch) {
        /* The orders table only recognises an order paid twice. A scratch
         * store checks it and keeps its new ids in memory, as it does its
         * new events' ids: 850 k random inserts into a 70 MB B-tree were
         * pages written back all through a year at 1 M members. (An id
         * that shares its fingerprint with another is not remembered.) */
        int64_t key = event_key(order_id);
        uint32_t chk = (uint32_t)event_chk(order_id);
        const uint32_t *seen = seen_find(&s->seen_orders, key);
        if (seen) return *seen == chk ? 0 : 1;
        sqlite3_stmt *q = stmt(s, S_ORDER_KNOWN);
        bind_text(q, 1, order_id);
        int rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc == SQLITE_ROW) return 0;
        if (rc != SQLITE_DONE) return dberr(s, err, "looking up an order");
        seen_add(&s->seen_orders, key, chk);
        return 1;
    }
    sqlite3_stmt *st = stmt(s, S_ORDER_ADD);
    bind_text(st, 1, order_id);
    sqlite3_bind_int64(st, 2, member);
    sqlite3_bind_int64(st, 3, at);
    sqlite3_bind_int64(st, 4, cents);
    if (run(s, st, err, "recording an order") != NUDGE_OK) return NUDGE_ERR;
    return sqlite3_changes(s->db) ? 1 : 0;
}

static int cmp_pend(const void *a, const void *b)
{
    int64_t x = ((const pend_t *)a)->key, y = ((const pend_t *)b)->key;
    return x < y ? -1 : x > y;
}

static int flush_events(store_t *s, char *err)
{
    if (!s->npend) return NUDGE_OK;
    qsort(s->pend, s->npend, sizeof *s->pend, cmp_pend);
    int rc = NUDGE_OK;
    sqlite3_stmt *st = stmt(s, S_EVENT_ADD);
    for (size_t i = 0; i < s->npend && rc == NUDGE_OK; i++) {
        const pend_t *p = &s->pend[i];
        if (!p->type) continue;   /* taken back */
        sqlite3_bind_int64(st, 1, p->key);
        sqlite3_bind_int64(st, 2, p->chk);
        bind_text(st, 3, p->type);
        if (p->member) sqlite3_bind_int64(st, 4, p->member);
        else sqlite3_bind_null(st, 4);
        sqlite3_bind_int64(st, 5, p->at);
        bind_text(st, 6, p->ext_id);
        bind_text(st, 7, p->body);
        rc = run(s, st, err, "recording events");
    }
    pend_clear(s);
    return rc == NUDGE_OK ? event_gen_bump(s, err) : rc;
}

int store_flush_events(store_t *s, size_t min, char *err)
{
    if (s->npend < min || !s->npend || sqlite3_get_autocommit(s->db)) return NUDGE_OK;
    if (flush_events(s, err) != NUDGE_OK) {
        bloom_drop(s);   /* as at a commit: sqlite may have rolled back */
        return NUDGE_ERR;
    }
    return NUDGE_OK;
}

size_t store_events_waiting(const store_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->npend; i++) n += s->pend[i].type != NULL;   /* not taken back */
    return n;
}

/* 1 when the id found under key is ext_id itself (the same check), else
 * -1: two ids with one fingerprint, which must not pass for each other. */
static int same_id(int64_t found_chk, int64_t chk, const char *ext_id, char *err)
{
    return found_chk == chk ? 1
                            : errf(err, "event id '%s' has the fingerprint of another id; give it a different id", ext_id);
}

/* 1 known, 0 not, -1 a different id with the same key (err says so). */
static int event_lookup(store_t *s, const char *ext_id, char *err)
{
    int64_t key = event_key(ext_id), chk = event_chk(ext_id);
    if (!s->bloom && bloom_build(s, err) != NUDGE_OK) return -1;
    if (s->scratch) {
        if (!bloom_may_have(s, key)) return 0;
        const uint32_t *seen = seen_find(&s->seen, key);
        if (seen && *seen != SEEN_GONE) return same_id(*seen, chk, ext_id, err);
    }
    const pend_t *p = pend_find(s, key);
    if (p && p->type) return same_id(p->chk, chk, ext_id, err);
    if (!bloom_may_have(s, key)) return 0;
    sqlite3_stmt *st = stmt(s, S_EVENT_KNOWN);
    sqlite3_bind_int64(st, 1, key);
    int rc = sqlite3_step(st);
    /* a read that fails is not "unknown": that would apply the event twice */
    rc = rc == SQLITE_ROW ? same_id(sqlite3_column_int64(st, 0), chk, ext_id, err)
         : rc == SQLITE_DONE ? 0 : dberr(s, err, "looking an event id up");
    sqlite3_reset(st);
    return rc;
}

int store_event_add(store_t *s, const char *ext_id, const char *type, int64_t member, int64_t at,
                    const char *body, char *err)
{
    int known = event_lookup(s, ext_id, err);
    if (known) return known < 0 ? NUDGE_ERR : 0;
    if (s->scratch) {
        int64_t key = event_key(ext_id);
        uint32_t chk = (uint32_t)event_chk(ext_id);
        /* every id kept is in the filter: most new ids skip the search */
        uint32_t *gone = bloom_may_have(s, key) ? seen_find(&s->seen, key) : NULL;
        if (gone) {
            *gone = chk;   /* taken back earlier */
        } else {
            seen_add(&s->seen, key, chk);
            bloom_add(s, key);
        }
        return 1;
    }
    pend_t p = {event_key(ext_id), event_chk(ext_id), member, at, xstrdup(type),
                body ? xstrdup(ext_id) : NULL, body ? xstrdup(body) : NULL};
    if (!sqlite3_get_autocommit(s->db)) {
        pend_t *old = pend_find(s, p.key);   /* a row taken back earlier */
        if (old) {
            free(old->type);
            free(old->ext_id);
            free(old->body);
            *old = p;
        } else {
            pend_add(s, &p);
        }
        bloom_add(s, p.key);
        return 1;
    }
    /* no transaction open: write through, with the log's generation */
    s->npend = 0;
    pend_add(s, &p);
    bloom_add(s, p.key);
    if (store_begin(s, err) != NUDGE_OK) {
        pend_clear(s);
        return NUDGE_ERR;
    }
    if (store_commit(s, err) != NUDGE_OK) {
        store_rollback(s);
        return NUDGE_ERR;
    }
    return 1;
}

int store_event_remove(store_t *s, const char *ext_id, char *err)
{
    uint32_t *seen = s->scratch ? seen_find(&s->seen, event_key(ext_id)) : NULL;
    if (seen && *seen != SEEN_GONE) {
        *seen = SEEN_GONE;   /* the Bloom bits stay: a false positive */
        return NUDGE_OK;
    }
    pend_t *p = pend_find(s, event_key(ext_id));
    if (p && p->type) {
        /* still pending: forget it (the Bloom bit stays: a false positive) */
        free(p->type);
        free(p->ext_id);
        free(p->body);
        p->type = p->ext_id = p->body = NULL;
        return NUDGE_OK;
    }
    /* the row and the log's count go together */
    int own = sqlite3_get_autocommit(s->db);
    if (own && store_begin(s, err) != NUDGE_OK) return NUDGE_ERR;
    sqlite3_stmt *st = stmt(s, S_EVENT_REMOVE);
    sqlite3_bind_int64(st, 1, event_key(ext_id));
    int rc = run(s, st, err, "taking back an event");
    if (rc == NUDGE_OK && sqlite3_changes(s->db)) rc = event_gen_bump(s, err);
    if (own && rc == NUDGE_OK) rc = store_commit(s, err);
    if (own && rc != NUDGE_OK) store_rollback(s);
    return rc;
}

int store_event_known(store_t *s, const char *ext_id)
{
    return event_lookup(s, ext_id, NULL) != 0;
}

/* ---- journeys ---- */

int store_journey_get(store_t *s, const char *name, store_journey_t *j)
{
    sqlite3_stmt *st = stmt(s, S_JOURNEY_GET);
    bind_text(st, 1, name);
    int found = 0;
    memset(j, 0, sizeof *j);
    j->first_loaded_at = j->cursor = TIME_NONE;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) j->first_loaded_at = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) j->cursor = sqlite3_column_int64(st, 1);
        j->disabled = sqlite3_column_int(st, 2);
        const char *e = (const char *)sqlite3_column_text(st, 3);
        if (e) snprintf(j->error, sizeof j->error, "%s", e);
        j->paused = sqlite3_column_int(st, 4);
        found = 1;
    }
    sqlite3_reset(st);
    return found;
}

int store_journey_put(store_t *s, const char *name, const store_journey_t *j, char *err)
{
    sqlite3_stmt *st = stmt(s, S_JOURNEY_PUT);
    bind_text(st, 1, name);
    bind_time(st, 2, j->first_loaded_at);
    bind_time(st, 3, j->cursor);
    sqlite3_bind_int(st, 4, j->disabled);
    bind_text(st, 5, j->error[0] ? j->error : NULL);
    sqlite3_bind_int(st, 6, j->paused);
    return run(s, st, err, "saving a journey");
}

/* ---- flights ---- */

int store_flight_put(store_t *s, const store_flight_t *f, char *err)
{
    sqlite3_stmt *st = stmt(s, S_FLIGHT_PUT);
    bind_text(st, 1, f->journey);
    sqlite3_bind_int64(st, 2, f->member);
    bind_text(st, 3, f->occ);
    sqlite3_bind_int(st, 4, f->step);
    bind_text(st, 5, f->step_id);
    sqlite3_bind_int64(st, 6, f->wake_at);
    sqlite3_bind_int64(st, 7, f->entered_at);
    bind_text(st, 8, f->ctx.p ? f->ctx.p : "{}");
    return run(s, st, err, "saving a member's place in a journey");
}

int store_flight_delete(store_t *s, const char *journey, int64_t member, char *err)
{
    sqlite3_stmt *st = stmt(s, S_FLIGHT_DELETE);
    bind_text(st, 1, journey);
    sqlite3_bind_int64(st, 2, member);
    if (run(s, st, err, "removing a member from a journey") != NUDGE_OK) return NUDGE_ERR;
    return sqlite3_changes(s->db);
}

int store_flight_exists(store_t *s, const char *journey, int64_t member)
{
    sqlite3_stmt *st = stmt(s, S_FLIGHT_EXISTS);
    bind_text(st, 1, journey);
    sqlite3_bind_int64(st, 2, member);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

int64_t store_flight_next_wake(store_t *s, int64_t after)
{
    sqlite3_stmt *st = stmt(s, S_FLIGHT_NEXT);
    sqlite3_bind_int64(st, 1, after);
    bind_own(s, st);
    int64_t t = TIME_NONE;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        t = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return t;
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", v ? v : "");
}

static void flight_row(sqlite3_stmt *st, store_flight_t *f)
{
    copy_col(f->journey, sizeof f->journey, st, 0);
    f->member = sqlite3_column_int64(st, 1);
    copy_col(f->occ, sizeof f->occ, st, 2);
    f->step = sqlite3_column_int(st, 3);
    copy_col(f->step_id, sizeof f->step_id, st, 4);
    f->wake_at = sqlite3_column_int64(st, 5);
    f->entered_at = sqlite3_column_int64(st, 6);
    buf_reset(&f->ctx);
    const char *c = (const char *)sqlite3_column_text(st, 7);
    buf_adds(&f->ctx, c ? c : "{}");
}

int store_flight_get(store_t *s, const char *journey, int64_t member, store_flight_t *f, char *err)
{
    sqlite3_stmt *st = stmt(s, S_FLIGHT_GET);
    bind_text(st, 1, journey);
    sqlite3_bind_int64(st, 2, member);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) flight_row(st, f);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : dberr(s, err, "reading a member's place in a journey");
}

int store_flights_exit(store_t *s, const char *journey, const char *const *keep, int nkeep, const char *reason,
                       int64_t at, char *err)
{
    /* the steps members wait at, then out of those that are not kept */
    sqlite3_stmt *st = stmt(s, S_FLIGHT_STEPS);
    bind_text(st, 1, journey);
    char **gone = NULL;
    int ngone = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        int kept = 0;
        for (int i = 0; i < nkeep && !kept; i++) kept = strcmp(keep[i], id) == 0;
        if (kept) continue;
        gone = xrealloc(gone, sizeof *gone * (size_t)(ngone + 1));
        gone[ngone++] = xstrdup(id);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    int left = rc == SQLITE_DONE ? 0 : dberr(s, err, "reading where members wait");
    for (int i = 0; i < ngone && left >= 0; i++) {
        for (int k = 0; k < 2 && left >= 0; k++) {
            st = stmt(s, k ? S_FLIGHT_EXIT : S_FLIGHT_EXIT_LOG);
            bind_own(s, st);
            bind_text(st, 1, journey);
            bind_text(st, 2, gone[i]);
            if (!k) {
                bind_text(st, 3, reason);
                sqlite3_bind_int64(st, 4, at);
            }
            if (run(s, st, err, "taking members out of a removed step") != NUDGE_OK) left = NUDGE_ERR;
            else if (k) left += sqlite3_changes(s->db);
        }
    }
    for (int i = 0; i < ngone; i++) free(gone[i]);
    free(gone);
    return left;
}

int store_exit_last(store_t *s, int64_t member, const char *journey, char *step, size_t nstep, char *reason,
                    size_t nreason, int64_t *at)
{
    sqlite3_stmt *st = stmt(s, S_EXIT_LAST);
    sqlite3_bind_int64(st, 1, member);
    bind_text(st, 2, journey);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        copy_col(step, nstep, st, 0);
        copy_col(reason, nreason, st, 1);
        *at = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

int store_flights_due(store_t *s, int64_t t, const store_flight_t *after, store_flight_t *out, int limit, char *err)
{
    sqlite3_stmt *st = stmt(s, S_FLIGHT_DUE);
    sqlite3_bind_int64(st, 1, t);
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int64(st, 3, after ? after->wake_at : INT64_MIN);
    bind_text(st, 4, after ? after->journey : "");
    sqlite3_bind_int64(st, 5, after ? after->member : INT64_MIN);
    bind_own(s, st);
    int n = 0, rc;
    while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) flight_row(st, &out[n++]);
    sqlite3_reset(st);
    if (n < limit && rc != SQLITE_DONE) return dberr(s, err, "reading due journey steps");
    return n;
}

#define RECEIPT_COLONS 16
#define MEMBER_ID_MAX (sizeof ((store_msg_t *)0)->member_id)   /* bytes of a member's id, with its NUL */

/* The receipt for the message with key of the member whose id is
 * key[from, to): the messages updated, NUDGE_ERR with err. */
static int receipt_of(store_t *s, const char *channel, const char *key, size_t from, size_t to,
                      const char *receipt, int64_t at, char *err)
{
    char ext_id[MEMBER_ID_MAX];
    if (to - from >= sizeof ext_id) return 0;
    memcpy(ext_id, key + from, to - from);
    ext_id[to - from] = '\0';
    int64_t member = store_member_rowid(s, ext_id);
    if (!member) return 0;
    int64_t id = okeys_id(s, member, key, 0, err);
    if (id <= 0) return id < 0 ? NUDGE_ERR : 0;
    sqlite3_stmt *st = stmt(s, S_RECEIPT_KEY);
    bind_text(st, 1, receipt);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_int64(st, 3, id);
    bind_text(st, 4, channel);
    if (run(s, st, err, "saving a delivery receipt") != NUDGE_OK) return NUDGE_ERR;
    return sqlite3_changes(s->db);
}

int store_receipt(store_t *s, const char *channel, const char *key, const char *provider_id, const char *openid,
                  const char *receipt, int64_t at, char *err)
{
    if (key) {
        /* A key is journey:step:member:occasion, where a step, a member's
         * id and an occasion may hold colons themselves: the member is
         * between some two colons after the journey's, and each such
         * span that names a member is tried (a few index probes; spans
         * from the first RECEIPT_COLONS colons only, so a key of colons
         * costs at most a few hundred). */
        const char *first = strchr(key, ':');
        int n = 0, from = 0;
        for (const char *a = first ? strchr(first + 1, ':') : NULL; a && from < RECEIPT_COLONS;
             a = strchr(a + 1, ':'), from++)
            for (const char *b = strchr(a + 1, ':'); b && b - a <= (ptrdiff_t)MEMBER_ID_MAX;
                 b = strchr(b + 1, ':')) {
                int k = receipt_of(s, channel, key, (size_t)(a + 1 - key), (size_t)(b - key), receipt, at, err);
                if (k < 0) return NUDGE_ERR;
                n += k;
            }
        return n;
    }
    sqlite3_stmt *st = stmt(s, S_RECEIPT_PROVIDER);
    bind_text(st, 1, provider_id);
    bind_text(st, 2, receipt);
    sqlite3_bind_int64(st, 3, at);
    bind_text(st, 4, openid);
    if (run(s, st, err, "saving a delivery receipt") != NUDGE_OK) return NUDGE_ERR;
    int n = sqlite3_changes(s->db);
    /* and the members' recent messages, by id */
    if (okeys_build(s, err) != NUDGE_OK) return NUDGE_ERR;
    int64_t members[8];
    int nm = 0, rc;
    st = stmt(s, S_MEMBER_IDS_BY_OPENID);
    bind_text(st, 1, openid);
    while (nm < 8 && (rc = sqlite3_step(st)) == SQLITE_ROW) members[nm++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    for (int i = 0; i < nm && s->keys.nbucket; i++)
        for (const okey_t *e = s->keys.bucket[okey_bucket(&s->keys, members[i])]; e; e = e->next) {
            if (e->member != members[i]) continue;
            st = stmt(s, S_RECEIPT_ID_PROVIDER);
            bind_text(st, 1, provider_id);
            bind_text(st, 2, receipt);
            sqlite3_bind_int64(st, 3, at);
            sqlite3_bind_int64(st, 4, e->id);
            if (run(s, st, err, "saving a delivery receipt") != NUDGE_OK) return NUDGE_ERR;
            n += sqlite3_changes(s->db);
        }
    return n;
}

int store_members_by_address(store_t *s, const char *field, const char *value,
                             void (*fn)(const char *ext_id, void *ud), void *ud, char *err)
{
    int phone = strcmp(field, "phone") == 0;
    sqlite3_stmt *st = stmt(s, phone ? S_MEMBERS_BY_PHONE : S_MEMBERS_BY_OPENID);
    size_t n = strlen(value);
    /* the phone index holds the last 11 digits */
    bind_text(st, 1, phone && n > 11 ? value + n - 11 : value);
    int rc, found = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn((const char *)sqlite3_column_text(st, 0), ud);
        found++;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? found : dberr(s, err, "finding members by address");
}

int store_member_messages(store_t *s, int64_t member,
                          void (*fn)(const char *journey, const char *status, int64_t n, int64_t last, void *ud),
                          void *ud, char *err)
{
    if (okeys_build(s, err) != NUDGE_OK) return NUDGE_ERR;
    /* the recent ones by id: the statement made for these ids */
    buf_t ids;
    buf_init(&ids);
    if (s->keys.nbucket)
        for (const okey_t *e = s->keys.bucket[okey_bucket(&s->keys, member)]; e; e = e->next)
            if (e->member == member) buf_printf(&ids, "%s%lld", ids.len ? "," : "", (long long)e->id);
    sqlite3_stmt *st = stmt(s, S_MSG_OF_MEMBER), *own = NULL;
    if (ids.len) {
        buf_t q;
        buf_init(&q);
        buf_printf(&q, MSG_OF_MEMBER(" OR id IN (%s)"), ids.p);
        int prc = sqlite3_prepare_v2(s->db, q.p, -1, &own, NULL);
        buf_free(&q);
        if (prc != SQLITE_OK) {
            buf_free(&ids);
            return dberr(s, err, "reading a member's messages");
        }
        st = own;
    }
    buf_free(&ids);
    sqlite3_bind_int64(st, 1, member);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), ud);
    if (rc != SQLITE_DONE) dberr(s, err, "reading a member's messages");
    if (own) sqlite3_finalize(own);
    else sqlite3_reset(st);
    return rc == SQLITE_DONE ? NUDGE_OK : NUDGE_ERR;
}

void store_flight_counts(store_t *s, void (*fn)(const char *j, const char *step, int64_t n, void *ud),
                         void *ud)
{
    sqlite3_stmt *st = stmt(s, S_FLIGHT_COUNTS);
    while (sqlite3_step(st) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           sqlite3_column_int64(st, 2), ud);
    sqlite3_reset(st);
}

/* ---- entries ---- */

int store_entry_add(store_t *s, const char *journey, int64_t member, const char *occ, int64_t at,
                    char *err)
{
    sqlite3_stmt *st = stmt(s, S_ENTRY_ADD);
    bind_text(st, 1, journey);
    sqlite3_bind_int64(st, 2, member);
    bind_text(st, 3, occ);
    sqlite3_bind_int64(st, 4, at);
    if (run(s, st, err, "recording a journey entry") != NUDGE_OK) return NUDGE_ERR;
    return sqlite3_changes(s->db) ? 1 : 0;
}

int store_entry_exists(store_t *s, const char *journey, int64_t member)
{
    sqlite3_stmt *st = stmt(s, S_ENTRY_EXISTS);
    bind_text(st, 1, journey);
    sqlite3_bind_int64(st, 2, member);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

/* ---- messages ---- */

void store_message_counts(store_t *s, void (*fn)(const char *channel, const char *status, int64_t n,
                                                 void *ud), void *ud)
{
    sqlite3_stmt *st = stmt(s, S_MSG_COUNTS);
    while (sqlite3_step(st) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           sqlite3_column_int64(st, 2), ud);
    sqlite3_reset(st);
}

/* ---- the outbox's keys ---- */

/* A batch once this many recent keys wait: the larger, the more of a
 * batch's keys share a page of message_keys (at 2 M keys, about 11.5 k
 * pages). About 110 bytes of memory each (the key, the entry, its hash). */
#define KEYS_MERGE_MIN 131072
/* Keys merged at each commit: twice those that came since the last, and
 * at least this many. Paced by what comes, a commit's share of the
 * merging follows its own events, and a batch is done by the time half as
 * many keys again have come. (A 64th of the batch a commit instead: a
 * burst's batch of 360 k keys then held each later commit 17.6 ms on
 * average at 7,700 events/s, against 9.8 ms before format 10.) */
#define KEYS_CHUNK_MIN 1024

/* Fibonacci hashing: the product's top bits. (Bits 32 and up, as this
 * took until 2026-12-03, spread 100 k members over 15 k of 131 k buckets:
 * a key's lookup walked 8-15 other members' entries, 3% of the daemon's
 * samples under wrk.) */
static size_t okey_bucket(const okeys_t *k, int64_t member)
{
    return (size_t)(((uint64_t)member * 0x9e3779b97f4a7c15ULL) >> k->shift);
}

static void okeys_free(okeys_t *k)
{
    /* every entry is owned by fresh or batch, once */
    for (size_t i = 0; i < k->nfresh; i++) free(k->fresh[i]);
    for (size_t i = 0; i < k->nbatch; i++) free(k->batch[i]);
    free(k->fresh);
    free(k->batch);
    free(k->bucket);
    size_t merge_min = k->merge_min, chunk_min = k->chunk_min;
    memset(k, 0, sizeof *k);
    k->merge_min = merge_min;
    k->chunk_min = chunk_min;
}

static void okeys_link(okeys_t *k, okey_t *e)
{
    if (k->count >= k->nbucket) {   /* at most one entry a bucket on average */
        size_t n = k->nbucket ? k->nbucket * 2 : 1024;
        okey_t **b = xcalloc(n, sizeof *b);
        size_t old = k->nbucket;
        okey_t **ob = k->bucket;
        k->bucket = b;
        k->nbucket = n;
        for (k->shift = 64; n > 1; n >>= 1) k->shift--;
        for (size_t i = 0; i < old; i++)
            for (okey_t *x = ob[i], *next; x; x = next) {
                next = x->next;
                size_t h = okey_bucket(k, x->member);
                x->next = b[h];
                b[h] = x;
            }
        free(ob);
    }
    size_t h = okey_bucket(k, e->member);
    e->next = k->bucket[h];
    k->bucket[h] = e;
    k->count++;
}

static void okeys_unlink(okeys_t *k, okey_t *e)
{
    for (okey_t **p = &k->bucket[okey_bucket(k, e->member)]; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            k->count--;
            return;
        }
}

static void okeys_add(okeys_t *k, int64_t member, const char *key, int64_t id)
{
    size_t n = strlen(key) + 1;
    okey_t *e = xmalloc(sizeof *e + n);
    e->member = member;
    e->id = id;
    e->slot = key_slot(key);
    e->gone = 0;
    memcpy(e->key, key, n);
    if (k->nfresh == k->cap_fresh) {
        k->cap_fresh = k->cap_fresh ? k->cap_fresh * 2 : 1024;
        k->fresh = xrealloc(k->fresh, k->cap_fresh * sizeof *k->fresh);
    }
    k->fresh[k->nfresh++] = e;
    okeys_link(k, e);
}

/* m was just inserted: its key waits in memory, and this process merges. */
static void okeys_inserted(store_t *s, const store_msg_t *m)
{
    okeys_add(&s->keys, m->member, m->key, sqlite3_last_insert_rowid(s->db));
    s->keys.writer = 1;
    s->keys.added++;
}

static okey_t *okeys_find(const okeys_t *k, int64_t member, const char *key)
{
    if (!k->nbucket) return NULL;
    for (okey_t *e = k->bucket[okey_bucket(k, member)]; e; e = e->next)
        if (e->member == member && strcmp(e->key, key) == 0) return e;
    return NULL;
}

static int64_t keys_upto(store_t *s)
{
    char v[32];
    return store_meta_get(s, KEYS_UPTO, v, sizeof v) ? strtoll(v, NULL, 10) : 0;
}

/* The recent keys in memory, from the messages past KEYS_UPTO. */
static int okeys_build(store_t *s, char *err)
{
    okeys_t *k = &s->keys;
    if (k->built) return NUDGE_OK;
    if (!k->merge_min) k->merge_min = KEYS_MERGE_MIN;
    if (!k->chunk_min) k->chunk_min = KEYS_CHUNK_MIN;
    sqlite3_stmt *st = stmt(s, S_KEYS_RECENT);
    sqlite3_bind_int64(st, 1, keys_upto(s));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        okeys_add(k, sqlite3_column_int64(st, 1), (const char *)sqlite3_column_text(st, 2),
                  sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        okeys_free(k);
        return dberr(s, err, "reading the outbox's recent keys");
    }
    k->built = 1;
    return NUDGE_OK;
}

/* The id of member's message with key: in memory, else in message_keys
 * (unless only memory may hold it); 0 none, -1 error. */
static int64_t okeys_id(store_t *s, int64_t member, const char *key, int memory_only, char *err)
{
    if (okeys_build(s, err) != NUDGE_OK) return -1;
    const okey_t *e = okeys_find(&s->keys, member, key);
    if (e) return e->id;
    if (memory_only) return 0;
    sqlite3_stmt *st = stmt(s, S_KEYS_FIND);
    sqlite3_bind_int64(st, 1, member);
    sqlite3_bind_int64(st, 2, key_slot(key));
    bind_text(st, 3, key);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return dberr(s, err, "finding a message's key");
    return id;
}

/* e's first slot is taken: by e itself (merged before a restart), or by
 * another key of its member with the same hash: the first free one of
 * the 8 then. */
static int okeys_reslot(store_t *s, const okey_t *e, char *err)
{
    sqlite3_stmt *st = stmt(s, S_KEYS_SLOTS);
    sqlite3_bind_int64(st, 1, e->member);
    sqlite3_bind_int64(st, 2, e->slot);
    unsigned used = 0;
    int rc, mine = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        used |= 1u << (sqlite3_column_int64(st, 0) - e->slot);
        if (sqlite3_column_int64(st, 1) == e->id) mine = 1;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return dberr(s, err, "merging the outbox's keys");
    if (mine) return NUDGE_OK;
    for (int i = 1; i < KEY_SLOTS; i++)
        if (!(used & (1u << i))) {
            st = stmt(s, S_KEYS_ADD);
            sqlite3_bind_int64(st, 1, e->member);
            sqlite3_bind_int64(st, 2, e->slot + i);
            sqlite3_bind_int64(st, 3, e->id);
            return run(s, st, err, "merging the outbox's keys");
        }
    return errf(err, "merging the outbox's keys: member %lld has %d keys with the hash of '%s'", (long long)e->member,
                KEY_SLOTS, e->key);
}

/* The batch in (member, slot) order, the order of message_keys' pages:
 * a radix sort by member (16 bits a pass from the smallest: two passes
 * below 4 G members), then by slot within each member's run, a few keys
 * long. It holds the loop once a batch: qsort's comparisons through the
 * entries' pointers took 25 ms for 131 k keys, this 7-11 ms. */
typedef struct okey_ent {
    uint64_t rel;   /* member - the smallest member */
    int64_t slot;
    okey_t *e;
} okey_ent_t;

static void okeys_sort(okey_t **v, size_t n)
{
    if (n < 2) return;
    okey_ent_t *a = xmalloc(n * sizeof *a), *t = xmalloc(n * sizeof *t);
    size_t *cnt = xmalloc(65536 * sizeof *cnt);
    int64_t lo = v[0]->member, hi = lo;
    for (size_t i = 1; i < n; i++) {
        if (v[i]->member < lo) lo = v[i]->member;
        if (v[i]->member > hi) hi = v[i]->member;
    }
    for (size_t i = 0; i < n; i++) a[i] = (okey_ent_t){(uint64_t)v[i]->member - (uint64_t)lo, v[i]->slot, v[i]};
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    for (int shift = 0; shift < 64 && (span >> shift); shift += 16) {
        memset(cnt, 0, 65536 * sizeof *cnt);
        for (size_t i = 0; i < n; i++) cnt[(a[i].rel >> shift) & 0xffff]++;
        for (size_t d = 0, sum = 0; d < 65536; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) t[cnt[(a[i].rel >> shift) & 0xffff]++] = a[i];
        okey_ent_t *x = a;
        a = t;
        t = x;
    }
    for (size_t i = 1; i < n; i++) {
        okey_ent_t x = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1].rel == x.rel && a[j - 1].slot > x.slot; j--) a[j] = a[j - 1];
        a[j] = x;
    }
    for (size_t i = 0; i < n; i++) v[i] = a[i].e;
    free(a);
    free(t);
    free(cnt);
}

/* In the open transaction, before its commit: the next chunk of the
 * batch into message_keys (a new batch first, once enough keys wait).
 * Only a process that adds messages merges: others may read. */
static int okeys_merge(store_t *s, char *err)
{
    return okeys_merge_some(s, s->keys.ahead ? 0 : s->keys.chunk_min, err);
}

/* The keys owed (twice those added since the last merge), at least floor:
 * a commit's floor keeps a batch going while few keys come; between
 * requests there is none. */
static int okeys_merge_some(store_t *s, size_t floor, char *err)
{
    okeys_t *k = &s->keys;
    size_t added = k->added;   /* since the last merge */
    k->added = 0;
    if (!k->built || !k->writer) return NUDGE_OK;
    if (!k->nbatch) {
        if (k->nfresh < k->merge_min) return NUDGE_OK;
        okey_t **b = k->batch;
        k->batch = k->fresh;
        k->nbatch = k->nfresh;
        k->fresh = b;   /* NULL: grown again as keys come */
        k->nfresh = k->cap_fresh = 0;
        k->done = 0;
        k->batch_hi = 0;
        for (size_t i = 0; i < k->nbatch; i++)
            if (k->batch[i]->id > k->batch_hi) k->batch_hi = k->batch[i]->id;
        okeys_sort(k->batch, k->nbatch);
    }
    size_t chunk = 2 * added > floor ? 2 * added : floor;
    size_t end = k->done + chunk < k->nbatch ? k->done + chunk : k->nbatch;
    sqlite3_stmt *st = stmt(s, S_KEYS_ADD);
    for (; k->done < end; k->done++) {
        const okey_t *e = k->batch[k->done];
        if (e->gone) continue;
        sqlite3_bind_int64(st, 1, e->member);
        sqlite3_bind_int64(st, 2, e->slot);
        sqlite3_bind_int64(st, 3, e->id);
        if (run(s, st, err, "merging the outbox's keys") != NUDGE_OK) return NUDGE_ERR;
        if (!sqlite3_changes(s->db) && okeys_reslot(s, e, err) != NUDGE_OK) return NUDGE_ERR;
    }
    if (k->done < k->nbatch) return NUDGE_OK;
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)k->batch_hi);
    if (store_meta_set(s, KEYS_UPTO, v, err) != NUDGE_OK) return NUDGE_ERR;
    /* in message_keys once this commits (a failed commit drops the memory) */
    for (size_t i = 0; i < k->nbatch; i++) {
        if (!k->batch[i]->gone) okeys_unlink(k, k->batch[i]);
        free(k->batch[i]);
    }
    k->nbatch = k->done = 0;
    return NUDGE_OK;
}

/* A message's row deleted: its key goes from memory and message_keys. */
static int okeys_forget(store_t *s, int64_t member, const char *key, int64_t id, char *err)
{
    if (okeys_build(s, err) != NUDGE_OK) return NUDGE_ERR;
    okey_t *e = okeys_find(&s->keys, member, key);
    if (e) {
        okeys_unlink(&s->keys, e);
        e->gone = 1;   /* freed with its array */
    }
    sqlite3_stmt *st = stmt(s, S_KEYS_DELETE);
    sqlite3_bind_int64(st, 1, member);
    sqlite3_bind_int64(st, 2, key_slot(key));
    sqlite3_bind_int64(st, 3, id);
    return run(s, st, err, "forgetting a message's key");
}

int store_merge_keys(store_t *s, size_t min, char *err)
{
    okeys_t *k = &s->keys;
    if (sqlite3_get_autocommit(s->db) || !k->built || !k->writer || 2 * k->added < min ||
        (!k->nbatch && k->nfresh < k->merge_min))
        return NUDGE_OK;
    k->ahead = 1;
    if (okeys_merge_some(s, 0, err) != NUDGE_OK) {
        okeys_free(k);
        return NUDGE_ERR;
    }
    return NUDGE_OK;
}

void store_keys_limits(store_t *s, size_t merge_min, size_t chunk_min)
{
    if (merge_min) s->keys.merge_min = merge_min;
    if (chunk_min) s->keys.chunk_min = chunk_min;
}

int64_t store_keys_recent(store_t *s)
{
    return s->keys.built ? (int64_t)s->keys.count : -1;
}

/* ---- messages held for quiet hours ---- */

static void read_out(sqlite3_stmt *st, store_msg_t *m);

int store_held_put(store_t *s, const store_msg_t *m, char *err)
{
    int64_t dup = okeys_id(s, m->member, m->key, m->fresh, err);
    if (dup) return dup < 0 ? NUDGE_ERR : NUDGE_OK;
    sqlite3_stmt *st = stmt(s, S_HELD_PUT);
    bind_text(st, 1, m->key);
    sqlite3_bind_int64(st, 2, m->at);
    sqlite3_bind_int64(st, 3, m->member);
    bind_text(st, 4, m->journey);
    bind_text(st, 5, m->step);
    bind_text(st, 6, m->channel);
    bind_text(st, 7, m->tmpl);
    bind_text(st, 8, m->content.len ? m->content.p : NULL);
    sqlite3_bind_int64(st, 9, m->decided_at);
    bind_text(st, 10, m->member_id);
    bind_text(st, 11, m->zone);
    bind_text(st, 12, m->address);
    bind_text(st, 13, m->ctx.len ? m->ctx.p : NULL);
    if (m->segments > 0) sqlite3_bind_int(st, 14, m->segments);
    else sqlite3_bind_null(st, 14);
    if (run(s, st, err, "holding a message") != NUDGE_OK) return NUDGE_ERR;
    okeys_inserted(s, m);
    return NUDGE_OK;
}

int64_t store_held_next(store_t *s)
{
    sqlite3_stmt *st = stmt(s, S_HELD_NEXT);
    bind_own(s, st);
    int64_t t = TIME_NONE;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) t = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return t;
}

int store_held_due(store_t *s, int64_t t, store_msg_t *out, int limit, char *err)
{
    sqlite3_stmt *st = stmt(s, S_HELD_DUE);
    bind_own(s, st);
    sqlite3_bind_int64(st, 1, t);
    sqlite3_bind_int(st, 2, limit);
    int n = 0, rc;
    while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) read_out(st, &out[n++]);
    sqlite3_reset(st);
    if (n < limit && rc != SQLITE_DONE) return dberr(s, err, "reading held messages");
    return n;
}

int store_held_delete(store_t *s, int64_t id, char *err)
{
    sqlite3_stmt *st = stmt(s, S_MSG_KEY_OF);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    char key[sizeof ((store_msg_t *)0)->key] = "";
    int64_t member = 0;
    if (rc == SQLITE_ROW) {
        member = sqlite3_column_int64(st, 0);
        copy_col(key, sizeof key, st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return dberr(s, err, "releasing a held message");
    if (rc == SQLITE_ROW && okeys_forget(s, member, key, id, err) != NUDGE_OK) return NUDGE_ERR;
    st = stmt(s, S_HELD_DELETE);
    sqlite3_bind_int64(st, 1, id);
    return run(s, st, err, "releasing a held message");
}

int store_held_drop(store_t *s, int64_t id, const char *reason, char *err)
{
    sqlite3_stmt *st = stmt(s, S_HELD_DROP);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, reason);
    return run(s, st, err, "dropping a held message");
}

/* ---- the outbox ---- */

int store_outbox_add(store_t *s, const store_msg_t *m, const char *status, const char *reason, char *err)
{
    int64_t dup = okeys_id(s, m->member, m->key, m->fresh, err);
    if (dup) return dup < 0 ? NUDGE_ERR : 0;
    sqlite3_stmt *st = stmt(s, S_OUT_ADD);
    bind_text(st, 1, m->key);
    sqlite3_bind_int64(st, 2, m->at);
    sqlite3_bind_int64(st, 3, m->member);
    bind_text(st, 4, m->journey);
    bind_text(st, 5, m->step);
    bind_text(st, 6, m->channel[0] ? m->channel : NULL);
    bind_text(st, 7, m->tmpl);
    bind_text(st, 8, m->content.len ? m->content.p : NULL);
    sqlite3_bind_int64(st, 9, m->decided_at);
    bind_text(st, 10, m->member_id);
    bind_text(st, 11, m->zone);
    bind_text(st, 12, status);
    bind_text(st, 13, reason);
    bind_text(st, 14, m->address[0] ? m->address : NULL);
    bind_text(st, 15, m->ctx.len ? m->ctx.p : NULL);
    if (m->segments > 0) sqlite3_bind_int(st, 16, m->segments);
    else sqlite3_bind_null(st, 16);
    if (run(s, st, err, "adding to the outbox") != NUDGE_OK) return NUDGE_ERR;
    okeys_inserted(s, m);
    return 1;
}

static void read_out(sqlite3_stmt *st, store_msg_t *m)
{
    m->id = sqlite3_column_int64(st, 0);
    copy_col(m->key, sizeof m->key, st, 1);
    m->at = sqlite3_column_int64(st, 2);
    m->member = sqlite3_column_int64(st, 3);
    copy_col(m->journey, sizeof m->journey, st, 4);
    copy_col(m->step, sizeof m->step, st, 5);
    copy_col(m->channel, sizeof m->channel, st, 6);
    copy_col(m->tmpl, sizeof m->tmpl, st, 7);
    buf_reset(&m->content);
    const char *c = (const char *)sqlite3_column_text(st, 8);
    if (c) buf_adds(&m->content, c);
    m->decided_at = sqlite3_column_int64(st, 9);
    copy_col(m->member_id, sizeof m->member_id, st, 10);
    copy_col(m->zone, sizeof m->zone, st, 11);
    copy_col(m->status, sizeof m->status, st, 12);
    copy_col(m->reason, sizeof m->reason, st, 13);
    m->attempts = sqlite3_column_int(st, 14);
    copy_col(m->provider_id, sizeof m->provider_id, st, 15);
    m->segments = sqlite3_column_int(st, 16);
    copy_col(m->address, sizeof m->address, st, 17);
    buf_reset(&m->ctx);
    const char *x = (const char *)sqlite3_column_text(st, 18);
    if (x) buf_adds(&m->ctx, x);
    copy_col(m->receipt, sizeof m->receipt, st, 19);
    m->receipt_at = sqlite3_column_type(st, 20) == SQLITE_NULL ? TIME_NONE : sqlite3_column_int64(st, 20);
}

int store_outbox_claim(store_t *s, int64_t now, const char *channel, store_msg_t *out, int limit, char *err)
{
    sqlite3_stmt *st = stmt(s, S_OUT_CLAIM);
    int n = 0, rc;
    sqlite3_bind_int64(st, 1, now);
    bind_text(st, 2, channel);
    sqlite3_bind_int(st, 3, limit);
    /* one statement marks and returns the batch; step it to the end */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (n < limit) read_out(st, &out[n++]);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return dberr(s, err, "claiming messages");
    return n;
}

int64_t store_outbox_next(store_t *s, const char *channel)
{
    sqlite3_stmt *st = stmt(s, S_OUT_NEXT);
    int64_t t = TIME_NONE;
    bind_text(st, 1, channel);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) t = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return t;
}

int64_t store_outbox_pending(store_t *s, const char *channel)
{
    return int_for_text(s, S_OUT_PENDING, channel);
}

int store_outbox_finish(store_t *s, int64_t id, const char *status, int64_t at, int64_t now, const char *reason,
                        const char *provider_id, int segments, char *err)
{
    sqlite3_stmt *st = stmt(s, S_OUT_FINISH);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, status);
    sqlite3_bind_int64(st, 3, at);
    sqlite3_bind_int64(st, 7, now);
    bind_text(st, 4, reason);
    bind_text(st, 5, provider_id && *provider_id ? provider_id : NULL);
    if (segments > 0) sqlite3_bind_int(st, 6, segments);
    else sqlite3_bind_null(st, 6);
    return run(s, st, err, "updating the outbox");
}

int store_outbox_recover(store_t *s, char *err)
{
    if (run(s, stmt(s, S_OUT_RECOVER), err, "recovering the outbox") != NUDGE_OK) return NUDGE_ERR;
    return sqlite3_changes(s->db);
}

int store_outbox_page(store_t *s, const char *status, int64_t after, int limit,
                      void (*fn)(const store_msg_t *m, void *ud), void *ud, char *err)
{
    sqlite3_stmt *st = stmt(s, S_OUT_PAGE);
    bind_text(st, 1, status);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, limit);
    store_msg_t m;
    store_msg_init(&m);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_out(st, &m);
        fn(&m, ud);
    }
    sqlite3_reset(st);
    store_msg_free(&m);
    return rc == SQLITE_DONE ? NUDGE_OK : dberr(s, err, "listing the outbox");
}

int store_outbox_list(store_t *s, const char *status, void (*fn)(const store_msg_t *m, void *ud), void *ud,
                      char *err)
{
    return store_outbox_page(s, status, 0, -1, fn, ud, err);
}

int store_outbox_retry(store_t *s, int64_t id, int64_t now, char *err)
{
    sqlite3_stmt *st;
    if (id > 0) {
        st = stmt(s, S_OUT_RETRY_ONE);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
    } else {
        st = stmt(s, S_OUT_RETRY_DEAD);
        sqlite3_bind_int64(st, 1, now);
    }
    if (run(s, st, err, "re-queueing messages") != NUDGE_OK) return NUDGE_ERR;
    return sqlite3_changes(s->db);
}

void store_msg_init(store_msg_t *m)
{
    memset(m, 0, sizeof *m);
    buf_init(&m->content);
    buf_init(&m->ctx);
}

void store_msg_free(store_msg_t *m)
{
    buf_free(&m->content);
    buf_free(&m->ctx);
}

/* The WAL's unsynced frames go to the disk a piece at a time (see
 * "paced"). */
static void ckpt_pace_wal(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0) pace_range(fd, 0, (int64_t)st.st_size);
}

/* Syncs the WAL, where lazy commits left their frames unsynced: fsync
 * flushes a file's data whichever descriptor wrote it. 0 when done. */
static int ckpt_sync_wal(const ckpt_t *c)
{
    int fd = open(c->wal, O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    ckpt_pace_wal(fd);
    int rc = fdatasync(fd);
    close(fd);
    return rc;
}

/* Background work: the loop's thread goes first whenever it has
 * something to do. SCHED_IDLE (Linux, per thread, no privilege needed):
 * a thread of the loop that wakes takes the core from it at once. At
 * nice 10 it still took slices of a loop that had requests waiting
 * (EEVDF gives every thread its turn): on one core shared with the loop
 * at 6,000 events/s, client p99 of 8.0-16.9 ms against 11.6-17.2 ms in
 * four alternating rounds, and the commit window stretched less under
 * wrk (the loop no longer waits behind it in the run queue). Where the
 * policy is refused, nice 10; where that is refused too, it competes as
 * an equal. */
static void ckpt_background(void)
{
#ifdef SCHED_IDLE
    struct sched_param sp = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0) return;
#endif
    setpriority(PRIO_PROCESS, 0, 10);   /* on Linux the nice value is per thread */
}

static void *ckpt_main(void *ud)
{
    ckpt_t *c = ud;
    ckpt_background();
    pthread_mutex_lock(&c->mu);
    for (;;) {
        /* lazy commits are synced after the next checkpoint (which has
         * just written most of the WAL out) or within a second */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        while ((!c->want || c->hold) && !c->stop)
            if (pthread_cond_timedwait(&c->cv, &c->mu, &until) != 0) break;
        if (c->stop) break;
        int want = c->want && !c->hold;
        int64_t lazy = c->lazy_mark;
        int need_sync = lazy > c->synced_mark;
        if (want) c->want = 0;
        pthread_mutex_unlock(&c->mu);
        /* passive: never waits for the loop's writes; what it cannot copy
         * now, the next round does */
        int frames = 0, copied = 0;
        if (want) {
            /* the frames first (the checkpoint syncs the WAL before it
             * copies), then its copies into the database, paced */
            int walfd = open(c->wal, O_RDONLY | O_CLOEXEC);
            if (walfd >= 0) {
                ckpt_pace_wal(walfd);
                close(walfd);
            }
            wb_pace_fd = c->dbfd;
            pace_bytes = 0;
            if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied) != SQLITE_OK)
                copied = 0;
            wb_pace_fd = -1;
        }
        int synced = need_sync && ckpt_sync_wal(c) == 0;
        pthread_mutex_lock(&c->mu);
        if (want) c->copied = copied;
        if (synced && lazy > c->synced_mark) c->synced_mark = lazy;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* The thread has copied every frame the loop's previous commit left; if
 * not, it is asked for a round (no commit may ask again before the WAL
 * starts over). */
static int ckpt_caught_up(ckpt_t *c)
{
    pthread_mutex_lock(&c->mu);
    int done = c->copied >= c->prev_pages;
    if (!done && !c->want) {
        c->want = 1;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return done;
}

/* After each commit on the loop's connection: wake the checkpointer when
 * the WAL holds enough pages. Replaces sqlite's auto-checkpoint. */
static int ckpt_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
    (void)name;
    ckpt_t *c = ud;
    /* a WAL that started over (here or by an outside checkpoint) holds
     * this commit's frames only */
    c->frames += pages >= c->prev_pages ? pages - c->prev_pages : pages;
    /* Under a steady stream of writes the loop's next transaction starts
     * before the thread has copied the last one, so the WAL never starts
     * over: it grows, and every page read searches it. Once it is large,
     * as soon as the thread has copied all but this commit, the loop
     * copies the rest itself and starts the WAL over: a pause of this
     * commit's copy and two syncs. Past the force size, whatever the thread
     * has done: when it is busy copying (a loaded core leaves it, in the
     * background, behind), it starts no new round until the loop has started the
     * WAL over. */
    if (pages >= c->restart_pages && (ckpt_caught_up(c) || pages >= c->force_pages)) {
        int lazy = wb_lazy;
        wb_lazy = 0;   /* a checkpoint syncs the WAL before copying it */
        /* another process reading the WAL (a backup, a shell) makes it
         * busy: no waiting for it on the loop, the WAL grows meanwhile */
        sqlite3_busy_timeout(db, 0);
        int64_t t0 = mono_ns();
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        c->restart_ns += mono_ns() - t0;
        sqlite3_busy_timeout(db, STORE_BUSY_MS);
        if (rc == SQLITE_OK) c->restarts++;
        wb_lazy = lazy;
        /* busy: the thread is copying; the next commit tries again */
        pthread_mutex_lock(&c->mu);
        if (rc == SQLITE_OK) {
            c->copied = 0;   /* frames of the WAL before it started over */
            c->hold = 0;
            pthread_cond_signal(&c->cv);
        } else if (pages >= c->force_pages) {
            c->hold = 1;
        }
        pthread_mutex_unlock(&c->mu);
        if (rc == SQLITE_OK) {
            c->prev_pages = 0;
            return SQLITE_OK;
        }
    }
    c->prev_pages = pages;
    pthread_mutex_lock(&c->mu);
    if (pages - c->copied >= c->ckpt_pages || pages >= c->restart_pages) {
        c->want = 1;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return SQLITE_OK;
}

static int page_size(store_t *s)
{
    sqlite3_stmt *st = NULL;
    int n = 4096;   /* sqlite's default, should the pragma fail */
    if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

int store_durable(store_t *s, char *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, &msg) != SQLITE_OK) {
        errf(err, "%s: %s", s->path, msg ? msg : "cannot set synchronous");
        sqlite3_free(msg);
        return NUDGE_ERR;
    }
    wb_on = 1;   /* every commit of this process now syncs: gathering is safe */
    if (s->ckpt) return NUDGE_OK;
    ckpt_t *c = xcalloc(1, sizeof *c);
    wb_pace_opening = 1;
    int opened = sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    wb_pace_opening = 0;
    if (opened != SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        errf(err, "%s: %s", s->path, c->db ? sqlite3_errmsg(c->db) : "cannot open the store again");
        sqlite3_close(c->db);
        free(c);
        return NUDGE_ERR;
    }
    /* kept open until the store's connections are closed: closing a
     * descriptor of the database drops the process's locks on it */
    if (s->pace_fd < 0) s->pace_fd = open(s->path, O_RDONLY | O_CLOEXEC);
    c->dbfd = s->pace_fd;
    c->frame_bytes = WAL_FRAME_HEADER + page_size(s);
    c->ckpt_pages = CKPT_PAGES;
    c->restart_pages = WAL_RESTART_PAGES;
    c->force_pages = WAL_FORCE_PAGES;
    size_t n = strlen(s->path) + 5;
    c->wal = xmalloc(n);
    snprintf(c->wal, n, "%s-wal", s->path);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        free(c->wal);
        sqlite3_close(c->db);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return errf(err, "%s: cannot start the checkpointer thread", s->path);
    }
    s->ckpt = c;
    sqlite3_wal_hook(s->db, ckpt_hook, c);
    return NUDGE_OK;
}

int64_t store_changes(const store_t *s)
{
    return (int64_t)sqlite3_total_changes64(s->db);
}

int64_t store_wal_bytes(store_t *s)
{
    return s->ckpt ? s->ckpt->frames * s->ckpt->frame_bytes : 0;
}

void store_wal_restarts(const store_t *s, int64_t *count, double *seconds)
{
    *count = s->ckpt ? s->ckpt->restarts : 0;
    *seconds = s->ckpt ? (double)s->ckpt->restart_ns / 1e9 : 0;
}

int store_wal_restart_near(store_t *s)
{
    ckpt_t *c = s->ckpt;
    return c && c->prev_pages >= c->restart_pages;
}

int store_wal_restart_due(store_t *s)
{
    ckpt_t *c = s->ckpt;
    return c && c->prev_pages >= c->restart_pages && ckpt_caught_up(c);
}

void store_wal_limits(store_t *s, int ckpt_pages, int restart_pages, int force_pages)
{
    if (!s->ckpt) return;
    if (ckpt_pages > 0) s->ckpt->ckpt_pages = ckpt_pages;
    if (restart_pages > 0) s->ckpt->restart_pages = restart_pages;
    if (force_pages > 0) s->ckpt->force_pages = force_pages;
}

int store_outbox_recent(store_t *s, int64_t since,
                        void (*fn)(int64_t member, const char *channel, int64_t at, const char *journey, void *ud),
                        void *ud, char *err)
{
    sqlite3_stmt *st = stmt(s, S_OUT_RECENT);
    sqlite3_bind_int64(st, 1, since);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 3), sqlite3_column_int64(st, 1),
           (const char *)sqlite3_column_text(st, 2), ud);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? NUDGE_OK : dberr(s, err, "reading recent messages");
}

int store_outbox_has(store_t *s, int64_t member, const char *key)
{
    char err[ERRLEN];
    return okeys_id(s, member, key, 0, err) != 0;   /* an error says yes: nothing is queued twice */
}
