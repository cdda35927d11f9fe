/* import.c - see import.h */
#include "import.h"
#include "csv.h"
#include "event.h"
#include "evfeed.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BATCH 20000       /* rows per transaction */
#define MAX_ERRORS 50     /* rejected rows reported one by one */

typedef struct progress {
    int on;
    const char *path;
    long long size;
    struct timespec last;
} progress_t;

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static void progress_init(progress_t *p, int on, const char *path, long long size)
{
    memset(p, 0, sizeof *p);
    p->on = on;
    p->path = path;
    p->size = size;
    clock_gettime(CLOCK_MONOTONIC, &p->last);
}

static void progress_show(progress_t *p, long long rows, long long offset, int done)
{
    if (!p->on) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - p->last.tv_sec) + (double)(now.tv_nsec - p->last.tv_nsec) / 1e9;
    if (!done && dt < 0.25) return;
    p->last = now;
    int pct = p->size ? (int)(100 * offset / p->size) : 100;
    fprintf(stderr, "\r%s: %lld rows (%d%%)%s", p->path, rows, done ? 100 : pct, done ? "\n" : "");
    fflush(stderr);
}

static void reject(FILE *errs, import_stats_t *st, const char *path, long line, const char *why)
{
    st->rejected++;
    if (!errs) return;
    if (st->rejected <= MAX_ERRORS) fprintf(errs, "%s:%ld: %s\n", path, line, why);
    else if (st->rejected == MAX_ERRORS + 1) fprintf(errs, "%s: more rejected rows are counted, not listed\n", path);
}

/* Commits every BATCH rows so a long import keeps its progress and a
 * failure loses at most the batch in flight. */
static int batch_tick(store_t *s, long long rows, char *err)
{
    if (rows % BATCH) return NUDGE_OK;
    if (store_commit(s, err) != NUDGE_OK) return NUDGE_ERR;
    return store_begin(s, err);
}

/* ---- members.csv ---- */

typedef struct column {
    char *name;
    int builtin;     /* 1 built-in field, 0 custom attribute */
} column_t;

static int read_header(csv_t *c, const char *path, column_t **cols, int *ncols, int *idcol, char *err)
{
    char **f;
    size_t n;
    char e2[ERRLEN];
    int rc = csv_next(c, &f, &n, e2);
    if (rc == 0) return errf(err, "%s: empty file (expected a header row with an id column)", path);
    if (rc < 0) return errf(err, "%s: %s", path, e2);
    *cols = xcalloc(n, sizeof **cols);
    *ncols = (int)n;
    *idcol = -1;
    member_t probe;
    member_init(&probe);
    for (size_t i = 0; i < n; i++) {
        char *name = strtrim(f[i]);
        (*cols)[i].name = xstrdup(name);
        if (!*name) {
            member_free(&probe);
            return errf(err, "%s:1: column %zu has no name", path, i + 1);
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp((*cols)[k].name, name) == 0) {
                member_free(&probe);
                return errf(err, "%s:1: column '%s' appears twice", path, name);
            }
        if (strcmp(name, "id") == 0) *idcol = (int)i;
        /* a probe assignment tells built-in, custom, or not importable */
        int r = member_assign(&probe, name, "", tz_get("UTC", NULL), e2);
        if (r < 0 && strcmp(name, "id") != 0) {
            member_free(&probe);
            return errf(err, "%s:1: column '%s': %s", path, name, e2);
        }
        (*cols)[i].builtin = r != 1;
    }
    member_free(&probe);
    if (*idcol < 0) return errf(err, "%s:1: no id column (the header must name an 'id' column)", path);
    return NUDGE_OK;
}

static void free_cols(column_t *cols, int n)
{
    for (int i = 0; i < n; i++) free(cols[i].name);
    free(cols);
}

/* Applies one CSV row to m (loaded or new). 0 ok, -1 rejected (why).
 * Custom attributes are merged into *attrs in one JSON rewrite per row. */
static int apply_row(const ws_t *w, column_t *cols, int ncols, char **f, member_t *m, char **attrs, int *attrs_changed,
                     char *why)
{
    char e2[ERRLEN];
    cJSON *o = NULL;
    *attrs_changed = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < ncols; i++) {
            int is_tz = strcmp(cols[i].name, "tz") == 0;
            if (pass == 0 ? !is_tz : is_tz) continue;
            char *v = strtrim(f[i]);
            if (cols[i].builtin) {
                if (member_assign(m, cols[i].name, v, w->tz, e2) < 0) {
                    cJSON_Delete(o);
                    return errf(why, "%s", e2);
                }
                continue;
            }
            if (!o) {
                o = *attrs ? cJSON_Parse(*attrs) : NULL;
                if (!cJSON_IsObject(o)) {
                    cJSON_Delete(o);
                    o = cJSON_CreateObject();
                }
            }
            /* replace in place: the same file gives the same text again */
            if (!*v) cJSON_DeleteItemFromObjectCaseSensitive(o, cols[i].name);
            else if (cJSON_GetObjectItemCaseSensitive(o, cols[i].name))
                cJSON_ReplaceItemInObjectCaseSensitive(o, cols[i].name, cJSON_CreateString(v));
            else cJSON_AddStringToObject(o, cols[i].name, v);
        }
    }
    if (o) {
        char *text = cJSON_PrintUnformatted(o);
        free(*attrs);
        *attrs = xstrdup(text);
        cJSON_free(text);
        cJSON_Delete(o);
        *attrs_changed = 1;
    }
    return NUDGE_OK;
}

int import_members(store_t *s, const ws_t *w, const char *path, int progress, FILE *errs, import_stats_t *st,
                   char *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return errf(err, "%s: %s", path, strerror(errno));
    csv_t *c = csv_new(fp);
    column_t *cols = NULL;
    int ncols = 0, idcol = -1;
    memset(st, 0, sizeof *st);
    if (read_header(c, path, &cols, &ncols, &idcol, err) != NUDGE_OK) {
        free_cols(cols, ncols);
        csv_free(c);
        fclose(fp);
        return NUDGE_ERR;
    }
    for (int i = 0; i < ncols; i++)
        if (!cols[i].builtin && store_attr_name_add(s, cols[i].name, err) != NUDGE_OK) return NUDGE_ERR;
    progress_t pg;
    progress_init(&pg, progress, path, file_size(path));
    member_t m;
    member_init(&m);
    char **f, why[ERRLEN];
    size_t n;
    int rc, result = store_bulk_begin(s, err);
    if (result == NUDGE_OK) result = store_begin(s, err);
    while (result == NUDGE_OK && (rc = csv_next(c, &f, &n, why)) != 0) {
        st->read++;
        long line = csv_line(c);
        if (rc < 0) {
            reject(errs, st, path, line, strchr(why, ':') ? strchr(why, ':') + 2 : why);
            continue;
        }
        if ((int)n != ncols) {
            snprintf(why, sizeof why, "%zu fields, but the header has %d", n, ncols);
            reject(errs, st, path, line, why);
            continue;
        }
        char *id = strtrim(f[idcol]);
        if (!*id) {
            reject(errs, st, path, line, "id is empty");
            continue;
        }
        int found = store_member_find(s, id, &m, err);
        if (found < 0) {
            result = NUDGE_ERR;
            break;
        }
        uint64_t before = 0;
        if (found) {
            before = member_fingerprint(&m);
        } else {
            member_clear(&m);
            m.zone = w->tz;
        }
        char *attrs = m.s[MS_ATTRS] ? xstrdup(m.s[MS_ATTRS]) : NULL;
        int attrs_changed;
        if (apply_row(w, cols, ncols, f, &m, &attrs, &attrs_changed, why) != NUDGE_OK) {
            free(attrs);
            reject(errs, st, path, line, why);
            continue;
        }
        if (attrs_changed) m.s[MS_ATTRS] = attrs;
        if (found && member_fingerprint(&m) == before) {
            st->unchanged++;
        } else {
            member_derive(&m);
            if (store_member_save(s, &m, err) != NUDGE_OK) result = NUDGE_ERR;
            if (found) st->updated++;
            else st->inserted++;
        }
        free(attrs);
        if (result == NUDGE_OK) result = batch_tick(s, st->read, err);
        progress_show(&pg, st->read, csv_offset(c), 0);
    }
    if (result == NUDGE_OK) result = store_commit(s, err);
    else store_rollback(s);
    if (store_bulk_end(s, result == NUDGE_OK ? err : NULL) != NUDGE_OK) result = NUDGE_ERR;
    progress_show(&pg, st->read, csv_offset(c), 1);
    member_free(&m);
    free_cols(cols, ncols);
    csv_free(c);
    fclose(fp);
    return result;
}

/* ---- events.jsonl ---- */

typedef struct ev_rejects {
    FILE *errs;
    import_stats_t *st;
    const char *path;
} ev_rejects_t;

/* A line that is not a valid event: read, and rejected. */
static void reject_line(void *ud, long line, const char *why)
{
    ev_rejects_t *r = ud;
    r->st->read++;
    reject(r->errs, r->st, r->path, line, why);
}

/* Each member's events are applied in time order, whatever the file's
 * order (see evfeed_open's by_member): in file order a redemption before
 * the points it redeems, or an order before its member's join, would be
 * rejected the first time and applied on a second import of the file. */
int import_events(store_t *s, const ws_t *w, const char *path, int progress, FILE *errs, import_stats_t *st,
                  char *err)
{
    memset(st, 0, sizeof *st);
    ev_rejects_t rj = {errs, st, path};
    evfeed_t *feed = evfeed_open(path, w->tz, 1, reject_line, &rj, err);
    if (!feed) return NUDGE_ERR;
    progress_t pg;
    progress_init(&pg, progress, path, file_size(path));
    member_t m;
    member_init(&m);
    char why[ERRLEN];
    long lineno = 0;
    int result = store_begin(s, err), r;
    event_t ev;
    while (result == NUDGE_OK && (r = evfeed_next(feed, &ev, &lineno, err)) == 1) {
        st->read++;
        int created;
        int a = evt_apply(s, w, &ev, &m, 0, &created, why);
        if (a == EVENT_APPLIED) st->inserted++;
        else if (a == EVENT_DUPLICATE) st->duplicates++;
        else reject(errs, st, path, lineno, why);
        evt_free(&ev);
        result = batch_tick(s, st->read, err);
        progress_show(&pg, st->read, (long long)(evfeed_progress(feed) * (double)pg.size), 0);
    }
    if (result == NUDGE_OK && r < 0) result = NUDGE_ERR;   /* err says why */
    if (result == NUDGE_OK) result = store_commit(s, err);
    else store_rollback(s);
    progress_show(&pg, st->read, pg.size, 1);
    member_free(&m);
    evfeed_free(feed);
    return result;
}
