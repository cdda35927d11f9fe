/* lhost.h - the Lua host: every use of the Lua C API in nudge is here.
 *
 * Each journey gets its own lua_State: a sandbox with base, string,
 * table, math and utf8 only (no io, os, package, debug, load, dofile,
 * string.dump), the journey language of scripts/prelude.lua, a memory cap
 * enforced by the allocator and an instruction budget per call enforced by
 * a count hook. A script that errors, loops or balloons is stopped with a
 * message that names file:line; the caller disables that journey and the
 * engine goes on.
 *
 * Journeys see members through one userdata proxy per state whose
 * __index reads the C member struct: no table is built per member. */
#ifndef NUDGE_LHOST_H
#define NUDGE_LHOST_H

#include <stddef.h>
#include <stdint.h>
#include "journey.h"
#include "member.h"
#include "tmpl.h"

typedef struct lh lh_t;

typedef struct lh_limits {
    size_t mem_bytes;          /* per journey state */
    long long instructions;    /* per call into the script */
} lh_limits_t;

#define LH_DEFAULT_MEM (32u << 20)
#define LH_DEFAULT_INSTRUCTIONS 1000000LL

/* clock: the engine's "now" (read, never written, by now() in scripts). */
lh_t *lh_new(const lh_limits_t *lim, const int64_t *clock, char *err);
void lh_free(lh_t *h);

/* Custom attribute names the member view accepts besides built-ins. */
void lh_known_attr(lh_t *h, const char *name);
/* A workspace override of a journey parameter (from the config). */
void lh_param_override(lh_t *h, const char *key, const char *value);

/* Runs the journey file (chunk named file, e.g. "journeys/birthday.lua")
 * and fills j from the journey it returns. j->lh is set to h: the journey
 * owns the state from then on. On error j is partly filled, err says
 * "file:line: message". */
int lh_load_journey(lh_t *h, const char *file, const char *src, size_t len, journey_t *j, char *err);

/* Calls the function at registry ref with (member, occasion); *result is
 * its truthiness. NUDGE_ERR with "file:line: message" when it errors, runs
 * out of instructions or memory. */
int lh_predicate(lh_t *h, int ref, member_t *m, const occasion_t *o, int *result, char *err);

/* Lines of the source where function ref reads m.<field> (by the name of
 * its first parameter) for fields neither built in nor known attributes;
 * calls fn(line, field) for each. Used by `nudge check`. */
void lh_unknown_fields(lh_t *h, int ref, const char *src, void (*fn)(int line, const char *field, void *ud),
                       void *ud);

/* Loads a template file (a Lua table, sandboxed, no functions). */
int lh_load_template(const lh_limits_t *lim, const char *file, const char *src, size_t len, tmpl_t *t,
                     char *err);

#endif
