/* lhost.c - see lhost.h. The only file that speaks the Lua C API. */
#include "lhost.h"
#include "log.h"
#include "cal.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char nudge_prelude[];

#define HOOK_EVERY 1000

enum { KILL_NONE, KILL_BUDGET, KILL_MEMORY };

struct lh {
    lua_State *L;
    size_t mem, mem_limit;
    long long budget, used;
    int killed;
    char fault[ERRLEN];
    char where[256];             /* file:line of the allocation refused */
    const int64_t *clock;
    const char *file;            /* chunk being run (for print) */
    int proxy_ref, occ_ref, tags_ref, internal_ref;
    int fields_ref, attrs_ref;
    member_t *cur;
    const occasion_t *occ;
    cJSON *attrs;                /* cur's custom attributes, parsed lazily */
    int attrs_valid;
};

static lh_t *getlh(lua_State *L)
{
    return *(lh_t **)lua_getextraspace(L);
}

/* ---- limits ---- */

static void find_where(lh_t *h, lua_State *L)
{
    lua_Debug ar;
    h->where[0] = '\0';
    for (int lvl = 0; lvl < 32 && lua_getstack(L, lvl, &ar); lvl++) {
        if (!lua_getinfo(L, "Sl", &ar)) break;
        if (ar.currentline > 0) {
            snprintf(h->where, sizeof h->where, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
}

static void hook(lua_State *L, lua_Debug *ar)
{
    lh_t *h = getlh(L);
    if (ar->event == LUA_HOOKCOUNT && !h->killed) {
        h->used += HOOK_EVERY;
        if (h->used <= h->budget) return;
        h->killed = KILL_BUDGET;
        find_where(h, L);
        snprintf(h->fault, sizeof h->fault,
                 "%sinstruction budget of %lld exceeded (an endless loop?); journey stopped", h->where,
                 h->budget);
    }
    if (h->killed) {
        /* keep failing on every line so a pcall in the script cannot
         * swallow the stop and carry on */
        lua_sethook(L, hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
        luaL_error(L, "%s", h->fault);
    }
}

static void *lh_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lh_t *h = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        h->mem -= old;
        return NULL;
    }
    if (nsize > old && h->mem + (nsize - old) > h->mem_limit && h->L) {
        if (!h->killed) {
            h->killed = KILL_MEMORY;
            find_where(h, h->L);
            snprintf(h->fault, sizeof h->fault, "%smemory limit of %zu MB exceeded; journey stopped",
                     h->where, h->mem_limit >> 20);
            lua_sethook(h->L, hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
        }
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) return NULL;
    h->mem = h->mem - old + nsize;
    return p;
}

/* Runs the function below nargs arguments under the limits; leaves nres
 * results. The error message names file:line. */
static int lh_pcall(lh_t *h, int nargs, int nres, char *err)
{
    lua_State *L = h->L;
    if (h->killed) {
        lua_pop(L, nargs + 1);
        return errf(err, "%s", h->fault);
    }
    h->used = 0;
    int rc = lua_pcall(L, nargs, nres, 0);
    if (rc == LUA_OK && !h->killed) return NUDGE_OK;
    if (h->killed) {
        errf(err, "%s", h->fault);
    } else {
        const char *msg = lua_tostring(L, -1);
        errf(err, "%s", msg ? msg : "error object is not a string");
    }
    if (rc != LUA_OK) lua_pop(L, 1);
    else lua_pop(L, nres);
    return NUDGE_ERR;
}

/* ---- sandbox ---- */

static int l_print(lua_State *L)
{
    lh_t *h = getlh(L);
    int n = lua_gettop(L);
    buf_t line;
    buf_init(&line);
    buf_add(&line, "", 0);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1) buf_addc(&line, '\t');
        buf_add(&line, s, len);
        lua_pop(L, 1);
    }
    buf_addc(&line, '\0');
    const char *ids[] = {"file", h->file ? h->file : "lua"};
    log_kv(LOG_INFO, "lua", ids, 1, "%s", line.p);
    buf_free(&line);
    return 0;
}

static int l_now(lua_State *L)
{
    lua_pushinteger(L, *getlh(L)->clock);
    return 1;
}

static void open_sandbox(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
        {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    static const char *const banned[] = {"dofile", "loadfile", "load", "collectgarbage", "require", NULL};
    for (int i = 0; banned[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, banned[i]);
    }
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* math.random would make journeys non-deterministic across runs */
    lua_getglobal(L, LUA_MATHLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "random");
    lua_pushnil(L);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    lua_register(L, "print", l_print);
    lua_register(L, "now", l_now);
}

/* ---- the member view ---- */

static void push_day(lua_State *L, int32_t d)
{
    if (d == CAL_NONE) {
        lua_pushnil(L);
        return;
    }
    char s[16];
    cal_format_date(d, s);
    lua_pushstring(L, s);
}

static void push_str(lua_State *L, const char *s)
{
    if (s && *s) lua_pushstring(L, s);
    else lua_pushnil(L);
}

static int push_field(lua_State *L, lh_t *h, member_t *m, int f)
{
    char iso[40];
    switch (f) {
    case MF_ID: push_str(L, m->s[MS_EXT_ID]); break;
    case MF_NAME: push_str(L, m->s[MS_NAME]); break;
    case MF_PHONE: push_str(L, m->s[MS_PHONE]); break;
    case MF_EMAIL: push_str(L, m->s[MS_EMAIL]); break;
    case MF_WECHAT_OPENID: push_str(L, m->s[MS_OPENID]); break;
    case MF_BIRTHDAY: push_str(L, m->s[MS_BIRTHDAY]); break;
    case MF_GENDER: push_str(L, m->s[MS_GENDER]); break;
    case MF_TIER: push_str(L, m->s[MS_TIER]); break;
    case MF_STORE: push_str(L, m->s[MS_STORE]); break;
    case MF_TZ: lua_pushstring(L, tz_name(m->zone)); break;
    case MF_WECHAT_SUBSCRIBED: lua_pushboolean(L, m->wechat_subscribed); break;
    case MF_SMS_OPT_OUT: lua_pushboolean(L, m->sms_opt_out); break;
    case MF_EMAIL_OPT_OUT: lua_pushboolean(L, m->email_opt_out); break;
    case MF_ORDER_COUNT: lua_pushinteger(L, m->order_count); break;
    case MF_TOTAL_SPENT: lua_pushnumber(L, (lua_Number)m->spent_cents / 100.0); break;
    case MF_JOINED_AT:
    case MF_LAST_ORDER_AT: {
        int64_t t = f == MF_JOINED_AT ? m->joined_at : m->last_order_at;
        if (t == TIME_NONE) lua_pushnil(L);
        else {
            tz_format_iso(m->zone, t, iso);
            lua_pushstring(L, iso);
        }
        break;
    }
    case MF_JOINED_ON: push_day(L, m->join_day); break;
    case MF_LAST_ORDER_ON: push_day(L, m->last_order_day); break;
    case MF_DAYS_SINCE_JOIN:
        if (m->joined_at == TIME_NONE) lua_pushnil(L);
        else lua_pushinteger(L, member_days_between(m, m->joined_at, *h->clock));
        break;
    case MF_DAYS_SINCE_LAST_ORDER:
        if (m->last_order_at == TIME_NONE) lua_pushnil(L);
        else lua_pushinteger(L, member_days_between(m, m->last_order_at, *h->clock));
        break;
    case MF_POINTS: member_need_points(m); lua_pushinteger(L, m->points); break;
    case MF_POINTS_EXPIRING: member_need_points(m); lua_pushinteger(L, m->points_expiring); break;
    case MF_POINTS_EXPIRY: member_need_points(m); push_day(L, m->points_expiry_day); break;
    case MF_TAGS: lua_rawgeti(L, LUA_REGISTRYINDEX, h->tags_ref); break;
    default: lua_pushnil(L);
    }
    return 1;
}

/* Custom attributes arrive as text; numeric text reads as a number so
 * m.age > 30 works. */
/* Plain decimals only: "021" (a code) and "0x1A" stay text. */
static int decimal(const char *s)
{
    if (*s == '-') s++;
    if (!(*s >= '0' && *s <= '9') || (s[0] == '0' && s[1] >= '0' && s[1] <= '9')) return 0;
    while (*s >= '0' && *s <= '9') s++;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    return *s == '\0';
}

static void push_attr(lua_State *L, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (decimal(s) && lua_stringtonumber(L, s) != 0) return;
        lua_pushstring(L, s);
    } else if (cJSON_IsNumber(v)) {
        lua_pushnumber(L, v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        lua_pushboolean(L, cJSON_IsTrue(v));
    } else {
        lua_pushnil(L);
    }
}

static int member_index(lua_State *L)
{
    lh_t *h = getlh(L);
    member_t *m = h->cur;
    if (!m) return 0;
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNUMBER) return push_field(L, h, m, (int)lua_tointeger(L, -1));
    lua_pop(L, 1);
    const char *k = lua_tostring(L, 2);
    if (!k) return luaL_error(L, "member fields are named by strings");
    if (!h->attrs_valid) {
        cJSON_Delete(h->attrs);
        h->attrs = m->s[MS_ATTRS] ? cJSON_Parse(m->s[MS_ATTRS]) : NULL;
        h->attrs_valid = 1;
    }
    const cJSON *v = h->attrs ? cJSON_GetObjectItemCaseSensitive(h->attrs, k) : NULL;
    if (v) {
        push_attr(L, v);
        return 1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->attrs_ref);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL) {
        lua_pushnil(L);
        return 1;
    }
    return luaL_error(L, "unknown member field '%s'", k);
}

static int member_newindex(lua_State *L)
{
    return luaL_error(L, "members are read-only in journeys (tried to set '%s')", luaL_tolstring(L, 2, NULL));
}

static int member_tostring(lua_State *L)
{
    lh_t *h = getlh(L);
    lua_pushfstring(L, "member %s", h->cur && h->cur->s[MS_EXT_ID] ? h->cur->s[MS_EXT_ID] : "?");
    return 1;
}

static int tags_index(lua_State *L)
{
    lh_t *h = getlh(L);
    size_t len;
    const char *k = lua_tolstring(L, 2, &len);
    lua_pushboolean(L, h->cur && k && member_has_tag(h->cur, k, len));
    return 1;
}

static int tags_len(lua_State *L)
{
    lh_t *h = getlh(L);
    lua_pushinteger(L, h->cur ? member_tag_count(h->cur) : 0);
    return 1;
}

static int occ_index(lua_State *L)
{
    lh_t *h = getlh(L);
    const occasion_t *o = h->occ;
    const char *k = lua_tostring(L, 2);
    if (!o || !k) return 0;
    if (strcmp(k, "date") == 0 && o->day != CAL_NONE) {
        push_day(L, o->day);
    } else if (strcmp(k, "expiring_points") == 0 && o->expires_day != CAL_NONE) {
        lua_pushinteger(L, o->points);
    } else if (strcmp(k, "expires_on") == 0 && o->expires_day != CAL_NONE) {
        push_day(L, o->expires_day);
    } else if (strcmp(k, "event_id") == 0 && o->event_id) {
        lua_pushstring(L, o->event_id);
    } else if (strcmp(k, "received") == 0) {
        if (!o->received) {
            lua_pushnil(L);
            return 1;
        }
        /* a plain table of the event's top-level values: o.received.type,
         * o.received.amount; it is a fresh copy, so writes go nowhere */
        lua_createtable(L, 0, 8);
        for (const cJSON *c = o->received->child; c; c = c->next) {
            if (!c->string) continue;
            push_attr(L, c);
            lua_setfield(L, -2, c->string);
        }
    } else if (o->event) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o->event, k);
        if (cJSON_IsNumber(v)) {
            if (v->valuedouble == (double)(lua_Integer)v->valuedouble) lua_pushinteger(L, (lua_Integer)v->valuedouble);
            else lua_pushnumber(L, v->valuedouble);
        } else {
            push_attr(L, v);
        }
    } else {
        lua_pushnil(L);
    }
    return 1;
}

static int make_proxy(lua_State *L, const char *name, lua_CFunction index, int with_fields)
{
    lua_newuserdatauv(L, 0, 0);
    luaL_newmetatable(L, name);
    if (with_fields) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, getlh(L)->fields_ref);
        lua_pushcclosure(L, index, 1);
    } else {
        lua_pushcfunction(L, index);
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, member_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    if (strcmp(name, "nudge.tags") == 0) {
        lua_pushcfunction(L, tags_len);
        lua_setfield(L, -2, "__len");
    }
    if (strcmp(name, "nudge.member") == 0) {
        lua_pushcfunction(L, member_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ---- state ---- */

lh_t *lh_new(const lh_limits_t *lim, const int64_t *clock, char *err)
{
    lh_t *h = xcalloc(1, sizeof *h);
    h->mem_limit = lim && lim->mem_bytes ? lim->mem_bytes : LH_DEFAULT_MEM;
    h->budget = lim && lim->instructions ? lim->instructions : LH_DEFAULT_INSTRUCTIONS;
    h->clock = clock;
    lua_State *L = lua_newstate(lh_alloc, h);
    if (!L) {
        free(h);
        errf(err, "cannot create a Lua state");
        return NULL;
    }
    *(lh_t **)lua_getextraspace(L) = h;
    open_sandbox(L);
    h->L = L;   /* from here on the memory cap applies */

    lua_createtable(L, 0, MF_COUNT);
    for (int i = 0; i < MF_COUNT; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, member_fields[i].name);
    }
    h->fields_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    h->attrs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    h->proxy_ref = make_proxy(L, "nudge.member", member_index, 1);
    h->tags_ref = make_proxy(L, "nudge.tags", tags_index, 0);
    h->occ_ref = make_proxy(L, "nudge.occasion", occ_index, 0);
    lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);

    /* the prelude gets the debug library as an argument (for line numbers
     * of constructors); scripts never see it */
    h->file = "prelude";
    if (luaL_loadbufferx(L, nudge_prelude, strlen(nudge_prelude), "=prelude", "t") != LUA_OK) {
        errf(err, "prelude: %s", lua_tostring(L, -1));
        lh_free(h);
        return NULL;
    }
    luaL_requiref(L, LUA_DBLIBNAME, luaopen_debug, 0);
    if (lh_pcall(h, 1, 1, err) != NUDGE_OK) {
        lh_free(h);
        return NULL;
    }
    h->internal_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return h;
}

void lh_free(lh_t *h)
{
    if (!h) return;
    if (h->L) lua_close(h->L);
    cJSON_Delete(h->attrs);
    free(h);
}

void lh_known_attr(lh_t *h, const char *name)
{
    lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->attrs_ref);
    lua_pushboolean(h->L, 1);
    lua_setfield(h->L, -2, name);
    lua_pop(h->L, 1);
}

void lh_param_override(lh_t *h, const char *key, const char *value)
{
    lua_State *L = h->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->internal_ref);
    lua_getfield(L, -1, "overrides");
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
    lua_pop(L, 2);
}

int lh_predicate(lh_t *h, int ref, member_t *m, const occasion_t *o, int *result, char *err)
{
    lua_State *L = h->L;
    h->cur = m;
    h->occ = o;
    h->attrs_valid = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->proxy_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->occ_ref);
    int rc = lh_pcall(h, 2, 1, err);
    if (rc == NUDGE_OK) {
        *result = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    h->cur = NULL;
    h->occ = NULL;
    return rc;
}

/* ---- reading a journey spec ---- */

typedef struct spec {
    lh_t *h;
    const char *file;
    char *err;
} spec_t;

static int spec_line(lua_State *L, int idx)
{
    lua_getfield(L, idx, "line");
    int line = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return line;
}

static int spec_err(spec_t *sp, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int spec_err(spec_t *sp, int line, const char *fmt, ...)
{
    char msg[ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return errf(sp->err, "%s:%d: %s", sp->file, line, msg);
}

/* Fails on keys of the table at idx that are not in allowed[]. */
static int check_keys(spec_t *sp, int idx, int line, const char *what, const char *const *allowed)
{
    lua_State *L = sp->h->L;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) continue;
        const char *k = lua_tostring(L, -1);
        int ok = strcmp(k, "kind") == 0 || strcmp(k, "line") == 0;
        for (int i = 0; !ok && allowed[i]; i++) ok = strcmp(k, allowed[i]) == 0;
        if (!ok) {
            char key[128];
            snprintf(key, sizeof key, "%s", k);
            lua_pop(L, 1);
            return spec_err(sp, line, "%s: unknown setting '%s'", what, key);
        }
    }
    return NUDGE_OK;
}

/* Optional string field: NULL when absent; error when not a string. */
static int get_str(spec_t *sp, int idx, const char *key, int line, const char *what, char **out)
{
    lua_State *L = sp->h->L;
    int t = lua_getfield(L, idx, key);
    *out = NULL;
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NUDGE_OK;
    }
    if (t != LUA_TSTRING && t != LUA_TNUMBER) {
        lua_pop(L, 1);
        return spec_err(sp, line, "%s: '%s' must be text", what, key);
    }
    *out = xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return NUDGE_OK;
}

static int get_int(lua_State *L, int idx, const char *key, int dflt)
{
    lua_getfield(L, idx, key);
    int v = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

/* An optional whole number >= 0 (wait lengths); -1 with an error. */
static int get_count(spec_t *sp, int idx, const char *key, int line, const char *what, int *out)
{
    lua_State *L = sp->h->L;
    int t = lua_getfield(L, idx, key);
    int ok = t == LUA_TNIL || (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 && lua_tointeger(L, -1) < 100000);
    *out = t == LUA_TNIL || !ok ? 0 : (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (!ok) return spec_err(sp, line, "%s: %s must be a whole number, 0 or more", what, key);
    return NUDGE_OK;
}

static int get_fn(spec_t *sp, int idx, const char *key, int line, const char *what, int *ref)
{
    lua_State *L = sp->h->L;
    int t = lua_getfield(L, idx, key);
    *ref = LUA_NOREF;
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NUDGE_OK;
    }
    if (t != LUA_TFUNCTION) {
        lua_pop(L, 1);
        return spec_err(sp, line, "%s: '%s' must be a function, e.g. function(m) return m.order_count <= 1 end",
                        what, key);
    }
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return NUDGE_OK;
}

static int read_hhmm(spec_t *sp, int idx, const char *key, int line, const char *what, int *secs)
{
    char *s;
    if (get_str(sp, idx, key, line, what, &s) != NUDGE_OK) return NUDGE_ERR;
    if (!s) return 0;
    int minutes;
    int bad = cal_parse_hhmm(s, &minutes) != 0;
    if (bad) spec_err(sp, line, "%s: %s = \"%s\" is not a time of day like \"10:00\"", what, key, s);
    free(s);
    if (bad) return NUDGE_ERR;
    *secs = minutes * 60;
    return 1;
}

static int read_trigger(spec_t *sp, int idx, journey_t *j)
{
    lua_State *L = sp->h->L;
    trigger_t *t = &j->trig;
    if (lua_getfield(L, idx, "trigger") != LUA_TTABLE) {
        lua_pop(L, 1);
        return spec_err(sp, j->line, "journey '%s' needs a trigger, e.g. trigger = after(\"joined_at\", days(21))",
                        j->name);
    }
    int tix = lua_gettop(L);
    int line = spec_line(L, tix);
    lua_getfield(L, tix, "trigger");
    const char *kind = lua_tostring(L, -1);
    lua_pop(L, 1);
    static const char *const kinds[] = {"on", "after", "before", "yearly", "daily", "weekly", "monthly", "once"};
    t->kind = -1;
    for (int i = 0; kind && i < 8; i++)
        if (strcmp(kind, kinds[i]) == 0) t->kind = i;
    if (t->kind < 0) {
        lua_pop(L, 1);
        return spec_err(sp, line, "trigger must be made with on(), after(), before(), yearly(), daily(), "
                        "weekly(), monthly() or once()");
    }
    int rc = NUDGE_OK;
    char *field = NULL;
    switch (t->kind) {
    case TRIG_EVENT:
        rc = get_str(sp, tix, "event", line, "on()", &t->event);
        break;
    case TRIG_AFTER:
    case TRIG_BEFORE:
    case TRIG_YEARLY:
        rc = get_str(sp, tix, "field", line, kind, &field);
        t->anchor = -1;
        for (int i = 0; field && i < ANCHOR_COUNT; i++)
            if (strcmp(field, anchor_names[i]) == 0) t->anchor = i;
        if (rc == NUDGE_OK && t->kind == TRIG_YEARLY && t->anchor != ANCHOR_BIRTHDAY && t->anchor != ANCHOR_JOINED)
            rc = spec_err(sp, line, "yearly() works on \"birthday\" or \"joined_at\", not \"%s\"", field ? field : "");
        else if (rc == NUDGE_OK && t->kind != TRIG_YEARLY && (t->anchor < 0 || t->anchor == ANCHOR_BIRTHDAY))
            rc = spec_err(sp, line, "%s() works on \"joined_at\", \"last_order_at\" or \"points_expiry\", not \"%s\"%s",
                          kind, field ? field : "", field && strcmp(field, "birthday") == 0
                          ? " (use yearly(\"birthday\"))" : "");
        t->days = get_int(L, tix, "days", 0);
        t->months = get_int(L, tix, "months", 0);
        break;
    case TRIG_WEEKLY:
        t->weekday = get_int(L, tix, "weekday", 0);
        break;
    case TRIG_MONTHLY:
        t->mday = get_int(L, tix, "day", 1);
        break;
    case TRIG_ONCE: {
        char *when;
        rc = get_str(sp, tix, "when", line, "once()", &when);
        if (rc == NUDGE_OK && when) {
            /* with an offset it is one instant for everybody; without one
             * it is that wall time in each member's own zone */
            size_t n = strlen(when);
            int has_off = n > 16 && (when[n - 1] == 'Z' || strchr(when + 16, '+') || strchr(when + 16, '-'));
            const tz_t *utc = tz_get("UTC", NULL);
            int64_t u;
            char perr[ERRLEN];
            if (tz_parse_time(when, utc, &u, NULL, perr) != 0) {
                rc = spec_err(sp, line, "once(): %s", perr);
            } else if (has_off) {
                t->once_has_offset = 1;
                t->once_utc = u;
            } else {
                t->once_day = tz_local_day(utc, u);
                t->once_secs = tz_local_secs(utc, u);
            }
        }
        free(when);
        break;
    }
    }
    free(field);
    lua_pop(L, 1);
    return rc;
}

static int read_channels(spec_t *sp, int six, int line, step_t *st)
{
    lua_State *L = sp->h->L;
    if (lua_getfield(L, six, "channels") != LUA_TTABLE) {
        lua_pop(L, 1);
        return spec_err(sp, line, "send '%s': channels must be a list like {\"wechat\", \"sms\", \"edm\"}", st->id);
    }
    int n = (int)lua_rawlen(L, -1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        const char *c = lua_tostring(L, -1);
        int ch = c ? channel_lookup(c) : -1;
        if (ch < 0) {
            char name[64];
            snprintf(name, sizeof name, "%s", c ? c : "?");
            lua_pop(L, 2);
            return spec_err(sp, line, "send '%s': unknown channel '%s' (use wechat, sms or edm)", st->id, name);
        }
        for (int k = 0; k < st->nchannels; k++)
            if (st->channels[k] == ch) {
                lua_pop(L, 2);
                return spec_err(sp, line, "send '%s': channel '%s' listed twice", st->id, channel_names[ch]);
            }
        st->channels[st->nchannels++] = ch;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (!st->nchannels) return spec_err(sp, line, "send '%s': list at least one channel", st->id);
    return NUDGE_OK;
}

/* A table of text values into a kv array. */
static int read_kv(spec_t *sp, int idx, const char *key, int line, const char *what, kv_t **out, int *n)
{
    lua_State *L = sp->h->L;
    *out = NULL;
    *n = 0;
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NUDGE_OK;
    }
    if (t != LUA_TTABLE) {
        lua_pop(L, 1);
        return spec_err(sp, line, "%s: '%s' must be a table of text values", what, key);
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING ||
            (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER && lua_type(L, -1) != LUA_TBOOLEAN)) {
            lua_pop(L, 3);
            return spec_err(sp, line, "%s: '%s' must map names to text or numbers", what, key);
        }
        *out = xrealloc(*out, sizeof **out * (size_t)(*n + 1));
        (*out)[*n].key = xstrdup(lua_tostring(L, -2));
        (*out)[*n].value = xstrdup(luaL_tolstring(L, -1, NULL));
        lua_pop(L, 2);
        (*n)++;
    }
    lua_pop(L, 1);
    return NUDGE_OK;
}

static int read_step(spec_t *sp, int six, int index, journey_t *j, step_t *st)
{
    lua_State *L = sp->h->L;
    int line = spec_line(L, six);
    st->line = line;
    st->when_ref = LUA_NOREF;
    st->wait_at_secs = -1;
    lua_getfield(L, six, "kind");
    const char *kind = lua_tostring(L, -1);
    st->kind = !kind ? -1 : strcmp(kind, "send") == 0 ? STEP_SEND : strcmp(kind, "wait") == 0 ? STEP_WAIT
             : strcmp(kind, "exit") == 0 ? STEP_EXIT : -1;
    lua_pop(L, 1);
    if (st->kind < 0)
        return spec_err(sp, j->line, "step %d of journey '%s' must be made with send{}, wait{} or exit{}", index + 1,
                        j->name);
    if (get_str(sp, six, "id", line, "step", &st->id) != NUDGE_OK) return NUDGE_ERR;
    if (st->kind == STEP_SEND) {
        static const char *const keys[] = {"id", "template", "channels", "when", "data", NULL};
        if (check_keys(sp, six, line, "send", keys) != NUDGE_OK) return NUDGE_ERR;
        if (get_str(sp, six, "template", line, "send", &st->tmpl) != NUDGE_OK) return NUDGE_ERR;
        if (!st->tmpl) return spec_err(sp, line, "send needs a template = \"name\"");
        if (!st->id) st->id = xstrdup(st->tmpl);
        if (read_channels(sp, six, line, st) != NUDGE_OK) return NUDGE_ERR;
        if (read_kv(sp, six, "data", line, "send", &st->data, &st->ndata) != NUDGE_OK) return NUDGE_ERR;
    } else if (st->kind == STEP_WAIT) {
        static const char *const keys[] = {"id", "days", "hours", "minutes", "at", "when", "until", NULL};
        if (check_keys(sp, six, line, "wait", keys) != NUDGE_OK) return NUDGE_ERR;
        if (get_str(sp, six, "until", line, "wait", &st->until) != NUDGE_OK) return NUDGE_ERR;
        if (st->until && !*st->until)
            return spec_err(sp, line, "for_event needs an event type, e.g. wait { for_event = \"order.paid\", timeout = days(3) }");
        int hours, mins;
        if (get_count(sp, six, "days", line, "wait", &st->wait_days) != NUDGE_OK ||
            get_count(sp, six, "hours", line, "wait", &hours) != NUDGE_OK ||
            get_count(sp, six, "minutes", line, "wait", &mins) != NUDGE_OK)
            return NUDGE_ERR;
        st->wait_secs = hours * 3600 + mins * 60;
        int rc = read_hhmm(sp, six, "at", line, "wait", &st->wait_at_secs);
        if (rc < 0) return NUDGE_ERR;
        if (!st->wait_days && !st->wait_secs && rc == 0 && st->until)
            return spec_err(sp, line, "wait for_event \"%s\" needs a timeout, e.g. timeout = days(3)", st->until);
        if (!st->wait_days && !st->wait_secs && rc == 0)
            return spec_err(sp, line, "wait needs a duration, e.g. wait { days = 7 }");
        if (!st->id) {
            char id[32];
            snprintf(id, sizeof id, "wait_%d", index + 1);
            st->id = xstrdup(id);
        }
    } else {
        static const char *const keys[] = {"id", "when", NULL};
        if (check_keys(sp, six, line, "exit", keys) != NUDGE_OK) return NUDGE_ERR;
        if (!st->id) {
            char id[32];
            snprintf(id, sizeof id, "exit_%d", index + 1);
            st->id = xstrdup(id);
        }
    }
    return get_fn(sp, six, "when", line, st->id, &st->when_ref);
}

static int read_steps(spec_t *sp, int idx, journey_t *j)
{
    lua_State *L = sp->h->L;
    if (lua_getfield(L, idx, "steps") != LUA_TTABLE || lua_rawlen(L, -1) == 0) {
        lua_pop(L, 1);
        return spec_err(sp, j->line, "journey '%s' needs steps = { send { ... }, ... }", j->name);
    }
    int n = (int)lua_rawlen(L, -1);
    j->steps = xcalloc((size_t)n, sizeof *j->steps);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -1, i + 1);
        j->nsteps = i + 1;
        if (lua_type(L, -1) != LUA_TTABLE) {
            lua_pop(L, 2);
            return spec_err(sp, j->line, "step %d of journey '%s' must be made with send{}, wait{} or exit{}", i + 1,
                            j->name);
        }
        int rc = read_step(sp, lua_gettop(L), i, j, &j->steps[i]);
        lua_pop(L, 1);
        if (rc != NUDGE_OK) {
            lua_pop(L, 1);
            return NUDGE_ERR;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(j->steps[k].id, j->steps[i].id) == 0) {
                lua_pop(L, 1);
                return spec_err(sp, j->steps[i].line, "two steps are called '%s'; give one an id = \"...\"",
                                j->steps[i].id);
            }
    }
    lua_pop(L, 1);
    return NUDGE_OK;
}

static int read_exit_on(spec_t *sp, int idx, journey_t *j)
{
    lua_State *L = sp->h->L;
    int t = lua_getfield(L, idx, "exit_on");
    int rc = NUDGE_OK;
    if (t == LUA_TSTRING) {
        j->exit_on = xmalloc(sizeof *j->exit_on);
        j->exit_on[j->nexit_on++] = xstrdup(lua_tostring(L, -1));
    } else if (t == LUA_TTABLE) {
        int n = (int)lua_rawlen(L, -1);
        j->exit_on = xcalloc((size_t)n + 1, sizeof *j->exit_on);
        for (int i = 1; i <= n && rc == NUDGE_OK; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_type(L, -1) == LUA_TSTRING) j->exit_on[j->nexit_on++] = xstrdup(lua_tostring(L, -1));
            else rc = spec_err(sp, j->line, "exit_on must be an event type or a list of them");
            lua_pop(L, 1);
        }
    } else if (t != LUA_TNIL) {
        rc = spec_err(sp, j->line, "exit_on must be an event type or a list of them");
    }
    lua_pop(L, 1);
    return rc;
}

/* priority, service, quiet_hours, expires */
static int read_policy(spec_t *sp, int idx, journey_t *j)
{
    lua_State *L = sp->h->L;
    int t = lua_getfield(L, idx, "priority");
    int ok = t == LUA_TNIL || (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= -1000 && lua_tointeger(L, -1) <= 1000);
    j->priority = t == LUA_TNIL || !ok ? 0 : (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (!ok) return spec_err(sp, j->line, "%s: priority must be a whole number from -1000 to 1000", j->name);
    t = lua_getfield(L, idx, "service");
    j->service = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        return spec_err(sp, j->line, "%s: service is true (a transactional journey) or false", j->name);
    t = lua_getfield(L, idx, "quiet_hours");
    if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        j->quiet_own = 1;
        j->quiet_from = j->quiet_to = 0;
    } else if (t == LUA_TSTRING) {
        j->quiet_own = 1;
        if (cal_parse_hours(lua_tostring(L, -1), &j->quiet_from, &j->quiet_to) != 0 || j->quiet_from == j->quiet_to) {
            lua_pop(L, 1);
            return spec_err(sp, j->line, "%s: quiet_hours is a range like \"22:00-08:00\", or false for none", j->name);
        }
    } else if (t != LUA_TNIL) {
        lua_pop(L, 1);
        return spec_err(sp, j->line, "%s: quiet_hours is a range like \"22:00-08:00\", or false for none", j->name);
    }
    lua_pop(L, 1);
    t = lua_getfield(L, idx, "expires");
    if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), "end of day") == 0) {
        j->expires_eod = 1;
    } else if (t == LUA_TTABLE) {
        lua_getfield(L, -1, "unit");
        const char *unit = lua_tostring(L, -1);
        int64_t n = get_int(L, -2, "n", -1);
        int64_t mult = !unit ? 0 : strcmp(unit, "days") == 0 ? 86400 : strcmp(unit, "hours") == 0 ? 3600
                                 : strcmp(unit, "minutes") == 0 ? 60 : 0;
        lua_pop(L, 1);
        j->expires = mult * n;
        if (j->expires <= 0) t = LUA_TNONE;
    }
    lua_pop(L, 1);
    if (t != LUA_TNIL && t != LUA_TTABLE && !j->expires_eod)
        return spec_err(sp, j->line, "%s: expires is a duration like hours(12), or \"end of day\"", j->name);
    if (t == LUA_TTABLE && !j->expires)
        return spec_err(sp, j->line, "%s: expires is a duration like hours(12), or \"end of day\"", j->name);
    return NUDGE_OK;
}

static int read_journey(spec_t *sp, int idx, journey_t *j)
{
    lua_State *L = sp->h->L;
    j->line = spec_line(L, idx);
    static const char *const keys[] = {"name", "description", "trigger", "at", "audience", "exit_on", "reentry",
                                       "priority", "service", "quiet_hours", "expires", "steps", "__journey", NULL};
    if (get_str(sp, idx, "name", j->line, "journey", &j->name) != NUDGE_OK) return NUDGE_ERR;
    if (check_keys(sp, idx, j->line, j->name, keys) != NUDGE_OK) return NUDGE_ERR;
    for (const char *p = j->name; *p; p++)
        if (!(*p == '_' || *p == '-' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z')))
            return spec_err(sp, j->line, "journey name '%s' may use only letters, digits, '_', '-' and '.'", j->name);
    if (read_trigger(sp, idx, j) != NUDGE_OK) return NUDGE_ERR;
    int has_at = read_hhmm(sp, idx, "at", j->line, j->name, &j->at_secs);
    if (has_at < 0) return NUDGE_ERR;
    if (has_at && j->trig.kind == TRIG_EVENT)
        return spec_err(sp, j->line, "%s: at does not apply to on() (the journey acts when the event arrives; "
                        "use wait { at = \"10:00\" } to send later)", j->name);
    if (has_at && j->trig.kind == TRIG_ONCE)
        return spec_err(sp, j->line, "%s: at does not apply to once() (put the time in once(\"2027-11-11 20:00\"))",
                        j->name);
    if (get_fn(sp, idx, "audience", j->line, j->name, &j->audience_ref) != NUDGE_OK) return NUDGE_ERR;
    if (read_exit_on(sp, idx, j) != NUDGE_OK) return NUDGE_ERR;
    char *re;
    if (get_str(sp, idx, "reentry", j->line, j->name, &re) != NUDGE_OK) return NUDGE_ERR;
    j->reentry = REENTRY_EACH;
    if (re && strcmp(re, "once") == 0) j->reentry = REENTRY_ONCE;
    else if (re && strcmp(re, "each") != 0) {
        spec_err(sp, j->line, "reentry = \"%s\": use \"once\" (once ever per member) or \"each\" (every occasion)", re);
        free(re);
        return NUDGE_ERR;
    }
    free(re);
    if (read_policy(sp, idx, j) != NUDGE_OK) return NUDGE_ERR;
    return read_steps(sp, idx, j);
}

int lh_load_journey(lh_t *h, const char *file, const char *src, size_t len, journey_t *j, char *err)
{
    lua_State *L = h->L;
    spec_t sp = {h, file, err};
    char chunk[512];
    snprintf(chunk, sizeof chunk, "@%s", file);
    j->lh = h;
    j->file = xstrdup(file);
    j->version = fnv1a64(src, len, FNV_SEED);
    h->file = j->file;
    if (luaL_loadbufferx(L, src, len, chunk, "t") != LUA_OK) {
        errf(err, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return NUDGE_ERR;
    }
    if (lh_pcall(h, 0, 1, err) != NUDGE_OK) return NUDGE_ERR;
    int idx = lua_gettop(L);
    int is = 0;
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_getfield(L, idx, "__journey");
        is = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    int rc = is ? read_journey(&sp, idx, j)
                : errf(err, "%s: the file must end with: return journey \"name\" { ... }", file);
    if (rc == NUDGE_OK) {
        /* the parameters in force, for templates */
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->internal_ref);
        lua_getfield(L, -1, "params");
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                if (lua_type(L, -2) == LUA_TSTRING) {
                    j->params = xrealloc(j->params, sizeof *j->params * (size_t)(j->nparams + 1));
                    j->params[j->nparams].key = xstrdup(lua_tostring(L, -2));
                    j->params[j->nparams].value = xstrdup(luaL_tolstring(L, -1, NULL));
                    lua_pop(L, 1);
                    j->nparams++;
                }
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 2);
    }
    lua_settop(L, idx - 1);
    return rc;
}

/* ---- static field check ---- */

static int is_ident(int c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void lh_unknown_fields(lh_t *h, int ref, const char *src, void (*fn)(int line, const char *field, void *ud),
                       void *ud)
{
    lua_State *L = h->L;
    lua_Debug ar;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    if (lua_type(L, -1) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        return;
    }
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    const char *pname = lua_getlocal(L, NULL, 1);
    lua_pop(L, 1);
    if (!pname || ar.linedefined <= 0) return;
    char param[64];
    snprintf(param, sizeof param, "%s", pname);
    size_t plen = strlen(param);
    int line = 1;
    const char *p = src;
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->attrs_ref);
    while (*p && line <= ar.lastlinedefined) {
        if (*p == '\n') {
            line++;
            p++;
        } else if (p[0] == '-' && p[1] == '-') {
            if (p[2] == '[' && p[3] == '[') {
                const char *e = strstr(p, "]]");
                for (; *p && (!e || p < e + 2); p++) line += *p == '\n';
            } else {
                while (*p && *p != '\n') p++;
            }
        } else if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q && *p != '\n') p += (*p == '\\' && p[1]) ? 2 : 1;
            if (*p == q) p++;
        } else if (p[0] == '[' && p[1] == '[') {
            const char *e = strstr(p, "]]");
            for (; *p && (!e || p < e + 2); p++) line += *p == '\n';
        } else if (is_ident((unsigned char)*p) && !(*p >= '0' && *p <= '9')) {
            const char *b = p;
            while (is_ident((unsigned char)*p)) p++;
            int own = b == src || (b[-1] != '.' && b[-1] != ':');
            if (own && line >= ar.linedefined && (size_t)(p - b) == plen && memcmp(b, param, plen) == 0) {
                const char *q = p;
                while (*q == ' ' || *q == '\t') q++;
                const char *fb = NULL, *fe = NULL;
                if (*q == '.' && q[1] != '.') {
                    q++;
                    while (*q == ' ' || *q == '\t') q++;
                    fb = q;
                    while (is_ident((unsigned char)*q)) q++;
                    fe = q;
                } else if (*q == '[') {
                    /* m["field"] or m['field'] */
                    q++;
                    while (*q == ' ' || *q == '\t') q++;
                    if (*q == '"' || *q == '\'') {
                        char quote = *q++;
                        fb = q;
                        while (*q && *q != quote && *q != '\n' && *q != '\\') q++;
                        fe = *q == quote ? q : NULL;
                    }
                }
                if (fb && fe) {
                    char field[128];
                    snprintf(field, sizeof field, "%.*s", (int)(fe - fb), fb);
                    lua_getfield(L, -1, field);
                    int known = !lua_isnil(L, -1) || member_field_lookup(field, strlen(field)) >= 0;
                    lua_pop(L, 1);
                    if (!known && *field) fn(line, field, ud);
                }
            }
        } else {
            p++;
        }
    }
    lua_pop(L, 1);
}

/* ---- templates ---- */

static int tmpl_str(spec_t *sp, int idx, const char *key, const char *what, int required, char **out)
{
    if (get_str(sp, idx, key, 1, what, out) != NUDGE_OK) return NUDGE_ERR;
    if (required && !*out) return errf(sp->err, "%s: %s needs %s", sp->file, what, key);
    return NUDGE_OK;
}

static int cmp_field(const void *a, const void *b)
{
    return strcmp(((const tmpl_field_t *)a)->key, ((const tmpl_field_t *)b)->key);
}

static int read_wechat(spec_t *sp, int idx, tmpl_t *t)
{
    lua_State *L = sp->h->L;
    if (tmpl_str(sp, idx, "template_id", "wechat", 1, &t->wechat_template_id) != NUDGE_OK) return NUDGE_ERR;
    if (tmpl_str(sp, idx, "url", "wechat", 0, &t->wechat_url) != NUDGE_OK) return NUDGE_ERR;
    if (lua_getfield(L, idx, "data") != LUA_TTABLE) {
        lua_pop(L, 1);
        return errf(sp->err, "%s: wechat needs data = { first = \"...\", keyword1 = \"...\" }", sp->file);
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 3);
            return errf(sp->err, "%s: wechat data keys must be names like keyword1", sp->file);
        }
        tmpl_field_t f = {xstrdup(lua_tostring(L, -2)), NULL, NULL};
        if (lua_type(L, -1) == LUA_TSTRING) {
            f.text = xstrdup(lua_tostring(L, -1));
        } else if (lua_type(L, -1) == LUA_TTABLE) {
            lua_getfield(L, -1, "value");
            lua_getfield(L, -2, "color");
            if (lua_type(L, -2) == LUA_TSTRING) f.text = xstrdup(lua_tostring(L, -2));
            if (lua_type(L, -1) == LUA_TSTRING) f.color = xstrdup(lua_tostring(L, -1));
            lua_pop(L, 2);
        }
        t->wechat_data = xrealloc(t->wechat_data, sizeof *t->wechat_data * (size_t)(t->nwechat_data + 1));
        t->wechat_data[t->nwechat_data++] = f;
        lua_pop(L, 1);
        if (!f.text) {
            lua_pop(L, 2);
            return errf(sp->err, "%s: wechat data '%s' must be text or { value = \"...\", color = \"#173177\" }",
                        sp->file, f.key);
        }
    }
    lua_pop(L, 1);
    qsort(t->wechat_data, (size_t)t->nwechat_data, sizeof *t->wechat_data, cmp_field);
    return NUDGE_OK;
}

static int read_template(spec_t *sp, int idx, tmpl_t *t)
{
    lua_State *L = sp->h->L;
    static const char *const keys[] = {"wechat", "sms", "edm", NULL};
    if (check_keys(sp, idx, 1, "template", keys) != NUDGE_OK) return NUDGE_ERR;
    int ty = lua_getfield(L, idx, "wechat");
    int rc = NUDGE_OK;
    if (ty == LUA_TTABLE) {
        t->has[CH_WECHAT] = 1;
        rc = read_wechat(sp, lua_gettop(L), t);
    } else if (ty != LUA_TNIL) {
        rc = errf(sp->err, "%s: wechat must be a table with template_id and data", sp->file);
    }
    lua_pop(L, 1);
    if (rc != NUDGE_OK) return rc;
    ty = lua_getfield(L, idx, "sms");
    if (ty == LUA_TSTRING) {
        t->has[CH_SMS] = 1;
        t->sms_text = xstrdup(lua_tostring(L, -1));
    } else if (ty == LUA_TTABLE) {
        t->has[CH_SMS] = 1;
        static const char *const sms_keys[] = {"text", "template_code", NULL};
        int i = lua_gettop(L);
        if (check_keys(sp, i, 1, "sms", sms_keys) != NUDGE_OK || tmpl_str(sp, i, "text", "sms", 1, &t->sms_text) != NUDGE_OK ||
            tmpl_str(sp, i, "template_code", "sms", 0, &t->sms_code) != NUDGE_OK)
            rc = NUDGE_ERR;
        else if (t->sms_code && !*t->sms_code)
            rc = errf(sp->err, "%s: sms template_code is empty; give the provider's template code, like \"SMS_153055065\"",
                      sp->file);
    } else if (ty != LUA_TNIL) {
        rc = errf(sp->err, "%s: sms must be the message text, or { text = \"...\", template_code = \"...\" }",
                  sp->file);
    }
    lua_pop(L, 1);
    if (rc != NUDGE_OK) return rc;
    ty = lua_getfield(L, idx, "edm");
    if (ty == LUA_TTABLE) {
        int e = lua_gettop(L);
        t->has[CH_EDM] = 1;
        if (tmpl_str(sp, e, "subject", "edm", 1, &t->edm_subject) != NUDGE_OK ||
            tmpl_str(sp, e, "text", "edm", 1, &t->edm_text) != NUDGE_OK ||
            tmpl_str(sp, e, "html", "edm", 1, &t->edm_html) != NUDGE_OK)
            rc = NUDGE_ERR;
    } else if (ty != LUA_TNIL) {
        rc = errf(sp->err, "%s: edm must be a table with subject, text and html", sp->file);
    }
    lua_pop(L, 1);
    if (rc == NUDGE_OK && !t->has[CH_WECHAT] && !t->has[CH_SMS] && !t->has[CH_EDM])
        rc = errf(sp->err, "%s: a template needs at least one of wechat, sms, edm", sp->file);
    return rc;
}

int lh_load_template(const lh_limits_t *lim, const char *file, const char *src, size_t len, tmpl_t *t, char *err)
{
    static const int64_t zero = 0;
    lh_t *h = lh_new(lim, &zero, err);
    if (!h) return NUDGE_ERR;
    lua_State *L = h->L;
    spec_t sp = {h, file, err};
    char chunk[512];
    snprintf(chunk, sizeof chunk, "@%s", file);
    h->file = file;
    t->file = xstrdup(file);
    int rc;
    if (luaL_loadbufferx(L, src, len, chunk, "t") != LUA_OK) {
        rc = errf(err, "%s", lua_tostring(L, -1));
    } else if ((rc = lh_pcall(h, 0, 1, err)) == NUDGE_OK) {
        if (lua_type(L, -1) != LUA_TTABLE)
            rc = errf(err, "%s: the file must return a table: return { sms = \"...\", wechat = {...}, edm = {...} }",
                      file);
        else
            rc = read_template(&sp, lua_gettop(L), t);
    }
    lh_free(h);
    return rc;
}
