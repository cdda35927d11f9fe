/* member.h - a member as the engine, journeys and templates see it.
 *
 * One member_t is reused for every candidate of a batch: loading a member
 * copies its strings into the struct's own arena, so steady-state loading
 * allocates nothing. Strings are NULL when unset. Fields that cost a query
 * (points) are loaded lazily through a callback, only when a journey or a
 * template reads them. */
#ifndef NUDGE_MEMBER_H
#define NUDGE_MEMBER_H

#include <stdint.h>
#include "tz.h"
#include "util.h"

#define TIME_NONE INT64_MIN

enum mstr {
    MS_EXT_ID, MS_NAME, MS_PHONE, MS_EMAIL, MS_OPENID, MS_BIRTHDAY, MS_GENDER,
    MS_TZ, MS_TIER, MS_TAGS, MS_STORE, MS_ATTRS, MS_NSTR
};

/* Every field a journey or template can name; custom attributes come on
 * top of these from the member's attrs JSON. */
enum mfield {
    MF_ID, MF_NAME, MF_PHONE, MF_EMAIL, MF_WECHAT_OPENID, MF_WECHAT_SUBSCRIBED,
    MF_BIRTHDAY, MF_GENDER, MF_TZ, MF_JOINED_AT, MF_TIER, MF_TAGS, MF_STORE,
    MF_SMS_OPT_OUT, MF_EMAIL_OPT_OUT, MF_ORDER_COUNT, MF_TOTAL_SPENT,
    MF_LAST_ORDER_AT, MF_POINTS, MF_POINTS_EXPIRY, MF_POINTS_EXPIRING,
    MF_DAYS_SINCE_JOIN, MF_DAYS_SINCE_LAST_ORDER, MF_JOINED_ON, MF_LAST_ORDER_ON,
    MF_COUNT
};

typedef struct member member_t;
typedef void (*member_points_fn)(member_t *m, void *ud);

struct member {
    int64_t rowid;                 /* 0: not stored yet */
    const char *s[MS_NSTR];
    const tz_t *zone;              /* effective zone (member tz or workspace) */
    int wechat_subscribed, sms_opt_out, email_opt_out;
    int64_t joined_at;             /* TIME_NONE when unknown */
    int64_t order_count, spent_cents;
    int64_t last_order_at;         /* TIME_NONE: never ordered */
    /* derived on write, indexed by the store (CAL_NONE when unknown) */
    int32_t join_day, join_md, birth_md, last_order_day;
    /* lazy points, valid while points_loaded */
    int points_loaded;
    int64_t points, points_expiring;
    int32_t points_expiry_day;
    member_points_fn load_points;
    void *load_points_ud;
    buf_t arena;
};

typedef enum { MFT_STR, MFT_BOOL, MFT_INT, MFT_MONEY, MFT_TIME, MFT_DATE, MFT_TAGS } mftype_t;

typedef struct mfield_info {
    const char *name;
    mftype_t type;
    const char *doc;
} mfield_info_t;

extern const mfield_info_t member_fields[MF_COUNT];

/* MF_* for a name, or -1. */
int member_field_lookup(const char *name, size_t len);

void member_init(member_t *m);
void member_free(member_t *m);
/* Forget all values (keeps the arena's memory). */
void member_clear(member_t *m);
/* Copy s into the arena and point s[idx] at it (NULL stays NULL). Arena
 * growth would move earlier strings, so callers set every string through
 * member_set_strs in one go or reserve first. */
void member_set_strs(member_t *m, const char *const vals[MS_NSTR], const size_t lens[MS_NSTR]);
/* Copy val into the member as s[idx], and every other string with it, so
 * the member owns them all (none points into a row or an event). */
void member_set_str(member_t *m, int idx, const char *val);
/* dst becomes src as stored: its strings (copied into dst's arena) and
 * every stored field; dst's points are unloaded and it keeps its own
 * points callback. src's strings must not point into dst's arena. */
void member_copy(member_t *dst, const member_t *src);

/* Recompute join_day, join_md, birth_md, last_order_day from the raw
 * fields and the zone. */
void member_derive(member_t *m);

/* Make sure the lazy points fields are loaded. */
void member_need_points(member_t *m);

/* 1 if the member has tag: an exact match with an entry of the
 * ';'-separated list, spaces around entries ignored. */
int member_has_tag(const member_t *m, const char *tag, size_t len);
/* Number of (non-empty) tags. */
int member_tag_count(const member_t *m);

/* The value of a built-in field as text for templates ("" when unset).
 * now is the engine clock (for days_since_*). */
void member_field_text(member_t *m, int field, int64_t now, buf_t *out);

/* Whole days from local date a to local date b of the member. */
int64_t member_days_between(const member_t *m, int64_t from, int64_t to);

/* Custom attribute value as text into out; 0 found, -1 absent. */
int member_attr_text(const member_t *m, const char *name, buf_t *out);

/* Channels, in a fixed order used everywhere. */
enum channel { CH_WECHAT, CH_SMS, CH_EDM, CH_COUNT };
extern const char *const channel_names[CH_COUNT];
int channel_lookup(const char *name);
/* wechat: openid and subscribed; sms: phone, not opted out; edm: email,
 * not opted out. */
int member_reachable(const member_t *m, int channel);
/* The member's openid, phone or email for channel; NULL when empty. */
const char *member_address(const member_t *m, int channel);


/* Sets a built-in field from its text form (a CSV cell, or an event's
 * JSON value as text). The pointer is kept, not copied: value must
 * outlive the save. Set tz before joined_at (a bare join date is local
 * midnight in the member's zone). Returns 0 when set, 1 when name is not
 * a built-in field (a custom attribute), -1 for a bad value with err
 * saying why. */
int member_assign(member_t *m, const char *name, const char *value, const tz_t *deflt, char *err);

/* Fingerprint of everything a save would write (for "unchanged"). */
uint64_t member_fingerprint(const member_t *m);

#endif
