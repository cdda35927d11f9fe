/* ws.h - a workspace: one brand's directory with its configuration
 * (nudge.conf), journeys/, templates/ and the store (nudge.db).
 *
 * nudge.conf is "key = value" lines with [sections] and # comments:
 *
 *     brand = 示例品牌
 *     timezone = Asia/Shanghai
 *     [lua]
 *     instruction_budget = 1000000
 *     memory_mb = 32
 *     [policy]
 *     quiet_hours = 21:00-09:00
 *     cap = 3 per 7 days
 *     cap.sms = 4 per 30 days
 *     suppress = suppressions.txt
 *     [params.new_member_day21]
 *     first_days = 14
 */
#ifndef NUDGE_WS_H
#define NUDGE_WS_H

#include "lhost.h"
#include "tz.h"

typedef struct ws_param {
    char *journey, *key, *value;
} ws_param_t;

/* A connector setting: [wechat], [sms], [edm] key = value. */
typedef struct ws_setting {
    char *section, *key, *value;
    /* value "env:NAME": NAME's value when the file was read (NULL unset);
     * read once, as threads must not read the environment while a zone
     * loads (tz_get sets TZ) */
    char *env;
    int line;
} ws_setting_t;

/* At most n marketing messages per member within window seconds, on
 * channel (or on all channels when channel is -1). */
typedef struct ws_cap {
    int n;
    int64_t window;
    int channel;
} ws_cap_t;

#define WS_MAX_CAPS 8

typedef struct ws {
    char *dir;
    char *brand;
    const tz_t *tz;
    lh_limits_t limits;
    ws_param_t *params;
    int nparams;
    /* [policy] */
    int quiet_from, quiet_to;  /* seconds of the local day; equal: none */
    ws_cap_t caps[WS_MAX_CAPS];
    int ncaps;
    char *suppress_file;       /* relative to dir */
    ws_setting_t *settings;    /* connector sections, in file order */
    int nsettings;
} ws_t;

/* Creates a workspace in dir (made if missing). Refuses, changing
 * nothing, when dir already holds a workspace. */
int ws_init(const char *dir, const char *brand, const char *tzname, char *err);

/* Reads dir's nudge.conf; errors name the file and line. */
ws_t *ws_open(const char *dir, char *err);
void ws_free(ws_t *w);

/* A connector setting, NULL when not set (the last one wins). A value
 * "env:NAME" is read from the environment (NULL when NAME is unset), so
 * credentials need not be written in the file. */
const char *ws_get(const ws_t *w, const char *section, const char *key);
/* The line of nudge.conf that sets it, 0 when not set. */
int ws_get_line(const ws_t *w, const char *section, const char *key);

/* dir/name into out (PATH_MAX-sized buffer of size n). */
void ws_path(const ws_t *w, const char *name, char *out, size_t n);

/* nudge run holds dir/nudge.pid locked while it runs: one daemon per
 * workspace. Returns the open, locked file (the caller keeps it open
 * until it exits), or -1 with err (another run holds it: its pid is
 * named). */
int ws_lock_run(const ws_t *w, char *err);
/* The pid of the nudge run holding the workspace, 0 when none does. */
long ws_running_pid(const ws_t *w);

#define WS_PID "nudge.pid"
#define WS_CONF "nudge.conf"
#define WS_DB "nudge.db"
#define WS_SUPPRESS "suppressions.txt"

#endif
