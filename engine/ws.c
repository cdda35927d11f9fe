/* ws.c - see ws.h */
#include "ws.h"
#include "member.h"
#include "cal.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void ws_path(const ws_t *w, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", w->dir, name);
}

static int mkdir_p(const char *dir, char *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return errf(err, "%s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return errf(err, "%s: %s", tmp, strerror(errno));
    return NUDGE_OK;
}

static const char conf_template[] =
    "# nudge workspace configuration\n"
    "#\n"
    "# brand: the name used in messages ({{brand}} in templates, the SMS signature)\n"
    "brand = %s\n"
    "# timezone: the default for members without a tz of their own (IANA name)\n"
    "timezone = %s\n"
    "\n"
    "[lua]\n"
    "# instructions a journey may run per member evaluation before it is stopped\n"
    "instruction_budget = 1000000\n"
    "# memory a journey's Lua state may use\n"
    "memory_mb = 32\n"
    "\n"
    "[policy]\n"
    "# quiet hours in the member's local time: no marketing from the first time\n"
    "# up to (not including) the second; messages decided inside them wait.\n"
    "# \"off\" for none. A journey can set its own (quiet_hours = \"22:00-08:00\").\n"
    "quiet_hours = 21:00-09:00\n"
    "# frequency caps: at most N marketing messages per member in a rolling\n"
    "# window, across all journeys (service journeys are exempt); cap.sms,\n"
    "# cap.wechat and cap.edm count one channel. None until set here.\n"
    "# cap = 3 per 7 days\n"
    "# cap.sms = 4 per 30 days\n"
    "# the suppression list: one phone, email or WeChat openid per line;\n"
    "# nobody listed is ever messaged on that channel (default suppressions.txt)\n"
    "# suppress = suppressions.txt\n"
    "\n"
    "# Journey parameters: override a journey's params { ... } defaults without\n"
    "# editing the journey, one section per journey file name.\n"
    "# [params.new_member_day21]\n"
    "# send_at = 10:30\n";

int ws_init(const char *dir, const char *brand, const char *tzname, char *err)
{
    char path[4096], e2[ERRLEN];
    if (!tz_get(tzname, e2)) return errf(err, "--tz: %s", e2);
    for (const char **f = (const char *[]){WS_CONF, WS_DB, NULL}; *f; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, *f);
        if (access(path, F_OK) == 0)
            return errf(err, "%s is already a nudge workspace (%s exists); nothing changed", dir, *f);
    }
    if (mkdir_p(dir, err) != NUDGE_OK) return NUDGE_ERR;
    const char *subdirs[] = {"journeys", "templates"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, subdirs[i]);
        if (mkdir_p(path, err) != NUDGE_OK) return NUDGE_ERR;
    }
    snprintf(path, sizeof path, "%s/%s", dir, WS_DB);
    store_t *s = store_open(path, STORE_CREATE, err);
    if (!s) return NUDGE_ERR;
    store_meta_set(s, "brand", brand, NULL);
    store_meta_set(s, "timezone", tzname, NULL);
    store_close(s);
    snprintf(path, sizeof path, "%s/%s", dir, WS_CONF);
    FILE *f = fopen(path, "wx");
    if (!f) return errf(err, "%s: %s", path, strerror(errno));
    fprintf(f, conf_template, brand, tzname);
    if (fclose(f) != 0) return errf(err, "%s: %s", path, strerror(errno));
    return NUDGE_OK;
}

static int set_lua(ws_t *w, const char *key, const char *val, const char *where, char *err)
{
    char *end;
    int budget = strcmp(key, "instruction_budget") == 0;
    if (!budget && strcmp(key, "memory_mb") != 0)
        return errf(err, "%s: unknown setting '%s' in [lua] (instruction_budget, memory_mb)", where, key);
    long long v = strtoll(val, &end, 10);
    if (!*val || *end || v <= 0) return errf(err, "%s: %s must be a positive whole number", where, key);
    if (budget) w->limits.instructions = v;
    else w->limits.mem_bytes = (size_t)v << 20;
    return NUDGE_OK;
}

/* "3 per 7 days", "1 per 24 hours" */
static int parse_cap(const char *val, ws_cap_t *c)
{
    char unit[16];
    int n, len, used = 0;
    if (sscanf(val, "%d per %d %15s%n", &n, &len, unit, &used) != 3 || val[used] || n < 1 || len < 1) return -1;
    c->n = n;
    if (strcmp(unit, "days") == 0 || strcmp(unit, "day") == 0) c->window = (int64_t)len * 86400;
    else if (strcmp(unit, "hours") == 0 || strcmp(unit, "hour") == 0) c->window = (int64_t)len * 3600;
    else return -1;
    return 0;
}

static int set_policy(ws_t *w, const char *key, const char *val, const char *where, char *err)
{
    if (strcmp(key, "quiet_hours") == 0) {
        if (cal_parse_hours(val, &w->quiet_from, &w->quiet_to) != 0)
            return errf(err, "%s: quiet_hours = %s: write it like 21:00-09:00, or off", where, val);
        return NUDGE_OK;
    }
    if (strcmp(key, "suppress") == 0) {
        free(w->suppress_file);
        w->suppress_file = xstrdup(val);
        return NUDGE_OK;
    }
    ws_cap_t c = {.channel = -1};
    if (strncmp(key, "cap", 3) == 0 && (key[3] == '\0' || key[3] == '.')) {
        if (key[3]) c.channel = channel_lookup(key + 4);
        if (key[3] && c.channel < 0)
            return errf(err, "%s: %s: unknown channel (cap.wechat, cap.sms, cap.edm)", where, key);
        if (parse_cap(val, &c) != 0)
            return errf(err, "%s: %s = %s: write it like 3 per 7 days (or per 24 hours)", where, key, val);
        if (w->ncaps == WS_MAX_CAPS) return errf(err, "%s: at most %d caps", where, WS_MAX_CAPS);
        w->caps[w->ncaps++] = c;
        return NUDGE_OK;
    }
    return errf(err, "%s: unknown setting '%s' in [policy] (quiet_hours, cap, cap.CHANNEL, suppress)", where, key);
}

static int is_connector(const char *section)
{
    return strcmp(section, "wechat") == 0 || strcmp(section, "sms") == 0 || strcmp(section, "edm") == 0 ||
           strcmp(section, "api") == 0;
}

static const ws_setting_t *find_setting(const ws_t *w, const char *section, const char *key)
{
    for (int i = w->nsettings - 1; i >= 0; i--)
        if (strcmp(w->settings[i].section, section) == 0 && strcmp(w->settings[i].key, key) == 0)
            return &w->settings[i];
    return NULL;
}

const char *ws_get(const ws_t *w, const char *section, const char *key)
{
    const ws_setting_t *st = find_setting(w, section, key);
    if (!st) return NULL;
    if (strncmp(st->value, "env:", 4) == 0) return st->env;
    return st->value;
}

int ws_get_line(const ws_t *w, const char *section, const char *key)
{
    const ws_setting_t *st = find_setting(w, section, key);
    return st ? st->line : 0;
}

static int parse_conf(ws_t *w, const char *path, char *text, char *err)
{
    char section[128] = "";
    int lineno = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        strtrim(line);
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (!*line || *line == '#' || *line == ';') continue;
        if (*line == '[') {
            char *e = strchr(line, ']');
            if (!e || e[1]) return errf(err, "%s: a section header looks like [lua]", where);
            *e = '\0';
            snprintf(section, sizeof section, "%s", line + 1);
            if (strcmp(section, "lua") != 0 && strcmp(section, "policy") != 0 && strncmp(section, "params.", 7) != 0 &&
                !is_connector(section))
                return errf(err, "%s: unknown section [%s] (lua, policy, wechat, sms, edm, api, params.JOURNEY)", where,
                            section);
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq) return errf(err, "%s: expected key = value", where);
        *eq = '\0';
        char *key = strtrim(line), *val = strtrim(eq + 1);
        if (!*section) {
            if (strcmp(key, "brand") == 0) {
                free(w->brand);
                w->brand = xstrdup(val);
            } else if (strcmp(key, "timezone") == 0) {
                char e2[ERRLEN];
                if (!(w->tz = tz_get(val, e2))) return errf(err, "%s: timezone: %s", where, e2);
            } else {
                return errf(err, "%s: unknown setting '%s' (brand, timezone)", where, key);
            }
        } else if (strcmp(section, "lua") == 0) {
            if (set_lua(w, key, val, where, err) != NUDGE_OK) return NUDGE_ERR;
        } else if (strcmp(section, "policy") == 0) {
            if (set_policy(w, key, val, where, err) != NUDGE_OK) return NUDGE_ERR;
        } else if (is_connector(section)) {
            w->settings = xrealloc(w->settings, sizeof *w->settings * (size_t)(w->nsettings + 1));
            ws_setting_t *st = &w->settings[w->nsettings++];
            st->section = xstrdup(section);
            st->key = xstrdup(key);
            st->value = xstrdup(val);
            const char *env = strncmp(val, "env:", 4) == 0 ? getenv(val + 4) : NULL;
            st->env = env ? xstrdup(env) : NULL;
            st->line = lineno;
        } else {
            w->params = xrealloc(w->params, sizeof *w->params * (size_t)(w->nparams + 1));
            ws_param_t *p = &w->params[w->nparams++];
            p->journey = xstrdup(section + 7);
            p->key = xstrdup(key);
            p->value = xstrdup(val);
        }
    }
    if (!w->tz) return errf(err, "%s: timezone is not set", path);
    return NUDGE_OK;
}

ws_t *ws_open(const char *dir, char *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, WS_CONF);
    char *text = read_file(path, NULL, err);
    if (!text) {
        errf(err, "%s is not a nudge workspace (no %s; create one with 'nudge init %s')", dir, WS_CONF, dir);
        return NULL;
    }
    ws_t *w = xcalloc(1, sizeof *w);
    w->dir = xstrdup(dir);
    w->brand = xstrdup("");
    w->quiet_from = 21 * 3600;   /* a workspace without [policy] still keeps quiet hours */
    w->quiet_to = 9 * 3600;
    int rc = parse_conf(w, path, text, err);
    free(text);
    if (rc != NUDGE_OK) {
        ws_free(w);
        return NULL;
    }
    return w;
}

void ws_free(ws_t *w)
{
    if (!w) return;
    for (int i = 0; i < w->nparams; i++) {
        free(w->params[i].journey);
        free(w->params[i].key);
        free(w->params[i].value);
    }
    free(w->params);
    for (int i = 0; i < w->nsettings; i++) {
        free(w->settings[i].section);
        free(w->settings[i].key);
        free(w->settings[i].value);
        free(w->settings[i].env);
    }
    free(w->settings);
    free(w->suppress_file);
    free(w->brand);
    free(w->dir);
    free(w);
}

static long read_pid(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int ws_lock_run(const ws_t *w, char *err)
{
    char path[4200];
    ws_path(w, WS_PID, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        errf(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        long pid = read_pid(fd);
        close(fd);
        errf(err, "another nudge run (pid %ld) is running this workspace; stop it first, or use nudge reload %s", pid,
             w->dir);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        errf(err, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

long ws_running_pid(const ws_t *w)
{
    char path[4200];
    ws_path(w, WS_PID, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    long pid = 0;
    /* a lock we can take is a lock nobody holds: the pid is stale */
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) pid = read_pid(fd);
    close(fd);
    return pid;
}
