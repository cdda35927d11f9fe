/* evfeed.c - see evfeed.h */
#include "evfeed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FEED_WINDOW (256u << 10)   /* bytes read back at once, out of order */

typedef struct evref {
    int64_t at;
    int64_t off;
    int32_t len, line;
    int32_t group;   /* by_member: the line where the member first appears; else 0 */
    int32_t owned;   /* passed the filter */
} evref_t;

struct evfeed {
    FILE *f;
    char *vbuf;              /* f's buffer */
    char *path;
    const tz_t *tz;
    int streamed;
    evfeed_reject_fn on_reject;
    void *ud;
    long long size;          /* the file's, for evfeed_progress */
    int read_failed;         /* a read error ended the stream early */
    long rejected, line;
    /* streaming: one event looked ahead */
    event_t next;
    int have_next;
    long next_line;
    buf_t bufs[2];           /* the handed-out line and the look-ahead */
    int cur;
    /* sorted */
    evref_t *ev;
    long nev, ei;
    char *win;               /* the file from win_off, read back with pread */
    size_t win_len, win_cap;
    int64_t win_off;
    /* evfeed_open_part: lines of other readers' members are skipped unparsed */
    evfeed_owner_fn owns;
    void *owns_ud;
    int report_unowned;      /* reports bad lines whose member cannot be told */
    int next_owned;          /* the look-ahead passed the filter */
    int owned;               /* ... the event handed out did */
};

static void reject(evfeed_t *f, long line, const char *why)
{
    f->rejected++;
    if (f->on_reject) f->on_reject(f->ud, line, why);
    else fprintf(stderr, "%s:%ld: %s\n", f->path, line, why);
}

/* Reads one line (without its end) into b; 0 at the end of the file.
 * getline grows b's storage; b->cap follows it. */
static int read_line(FILE *fp, buf_t *b)
{
    ssize_t n = getline(&b->p, &b->cap, fp);
    if (n < 0) {
        if (b->p) b->p[0] = '\0';
        b->len = 0;
        return 0;
    }
    while (n > 0 && (b->p[n - 1] == '\n' || b->p[n - 1] == '\r')) b->p[--n] = '\0';
    b->len = (size_t)n;
    return 1;
}

/* The string value of key (quoted: "\"at\"") on a line without parsing the JSON, copied
 * into out (n bytes); 0 when it cannot be told for sure: no such key,
 * more than one, an escape anywhere ("\u0061t" is "at" too), or a NUL
 * (the scan would end where the parse goes on). */
static int quick_str(const char *line, size_t len, const char *quoted, char *out, size_t n)
{
    size_t k = strlen(quoted);
    if (memchr(line, '\0', len) || strchr(line, '\\')) return 0;
    const char *p = strstr(line, quoted);
    if (!p || strstr(p + k, quoted)) return 0;
    p += k;
    while (*p == ' ' || *p == '\t') p++;
    if (*p++ != ':') return 0;
    while (*p == ' ' || *p == '\t') p++;
    if (*p++ != '"') return 0;
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= n) return 0;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 1;
}

/* The "at" of a line without parsing the JSON; 0 when it cannot be told. */
static int quick_at(const char *line, size_t len, const tz_t *tz, int64_t *at)
{
    char tmp[48];
    return quick_str(line, len, "\"at\"", tmp, sizeof tmp) && tz_parse_time(tmp, tz, at, NULL, NULL) == 0;
}

/* The last time seen of each member (by a fingerprint of the id), for the
 * check of order member by member: open addressing, grown at half full. */
typedef struct last_at {
    uint64_t key;   /* 0: empty */
    int64_t at;
} last_at_t;

typedef struct last_map {
    last_at_t *slot;
    size_t n, cap;
} last_map_t;

static int64_t *last_at(last_map_t *m, const char *member)
{
    if (2 * (m->n + 1) > m->cap) {
        last_map_t g = {xcalloc(m->cap ? m->cap * 2 : 4096, sizeof *g.slot), m->n, m->cap ? m->cap * 2 : 4096};
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slot[i].key) continue;
            size_t j = m->slot[i].key & (g.cap - 1);
            while (g.slot[j].key) j = (j + 1) & (g.cap - 1);
            g.slot[j] = m->slot[i];
        }
        free(m->slot);
        *m = g;
    }
    uint64_t key = fnv1a64(member, strlen(member), FNV_SEED) | 1;
    size_t j = key & (m->cap - 1);
    while (m->slot[j].key && m->slot[j].key != key) j = (j + 1) & (m->cap - 1);
    if (!m->slot[j].key) {
        m->slot[j].key = key;
        m->slot[j].at = INT64_MIN;
        m->n++;
    }
    return &m->slot[j].at;
}

/* 1 when the events' times never go back (by_member: never go back for
 * any one member), 0 when they do; -1 when the file cannot be read, or
 * not read a second time (err says why). */
static int in_order(evfeed_t *f, int by_member, char *err)
{
    buf_t b;
    buf_init(&b);
    last_map_t members = {NULL, 0, 0};
    int64_t last = INT64_MIN, at;
    int ok = 1;
    while (ok && read_line(f->f, &b)) {
        if (!b.len) continue;
        if (by_member) {
            /* the member needs the parse (a 64-bit fingerprint standing for
             * the id: two ids sharing one only make the check stricter) */
            event_t ev;
            char why[ERRLEN];
            if (evt_parse(&ev, b.p, b.len, f->tz, why) == NUDGE_OK) {
                int64_t *l = last_at(&members, ev.member);
                if (ev.at < *l) ok = 0;
                *l = ev.at;
            }
            evt_free(&ev);
            continue;
        }
        if (!quick_at(b.p, b.len, f->tz, &at)) {
            /* parsed, for lines whose time cannot be read quickly; a line
             * that is not a valid event is rejected wherever it is */
            event_t ev;
            char why[ERRLEN];
            int bad = evt_parse(&ev, b.p, b.len, f->tz, why) != NUDGE_OK;
            at = ev.at;
            evt_free(&ev);
            if (bad) continue;
        }
        if (at < last) ok = 0;
        last = at;
    }
    buf_free(&b);
    free(members.slot);
    if (ferror(f->f)) {
        errf(err, "%s: %s", f->path, strerror(errno));
        return -1;
    }
    /* read twice: a pipe (--events <(...)) would yield nothing the second time */
    if (fseeko(f->f, 0, SEEK_SET) != 0) {
        errf(err, "%s: cannot be read a second time (%s); give a regular file", f->path, strerror(errno));
        return -1;
    }
    return ok;
}

/* 1: the line's member is the caller's, 0: another's (skip it), -1: it
 * cannot be told without parsing (or there is no filter) */
static int line_owner(evfeed_t *f, const char *line, size_t len)
{
    char member[256];
    if (!f->owns || !quick_str(line, len, "\"member\"", member, sizeof member)) return -1;
    return f->owns(f->owns_ud, member);
}

/* A bad line is reported by its member's reader, or by the one that
 * reports for all. */
static void reject_owned(evfeed_t *f, int mine, long line, const char *why)
{
    if (mine == 1 || !f->owns || f->report_unowned) reject(f, line, why);
}

static void look_ahead(evfeed_t *f)
{
    char why[ERRLEN];
    buf_t *b = &f->bufs[!f->cur];
    f->have_next = 0;
    while (read_line(f->f, b)) {
        f->line++;
        if (!b->len) continue;
        int mine = line_owner(f, b->p, b->len);
        if (!mine) continue;
        if (evt_parse(&f->next, b->p, b->len, f->tz, why) == NUDGE_OK) {
            f->have_next = 1;
            f->next_line = f->line;
            f->next_owned = mine == 1;
            return;
        }
        evt_free(&f->next);
        reject_owned(f, mine, f->line, why);
    }
    if (ferror(f->f)) f->read_failed = errno ? errno : EIO;
}

static int cmp_ev(const void *a, const void *b)
{
    const evref_t *x = a, *y = b;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    if (x->at != y->at) return x->at < y->at ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* by_member: each member's events in time order, the members in the
 * order they first appear (as the file groups them): members do not
 * affect one another's history, and a member's row stays at hand. */
static void index_all(evfeed_t *f, int by_member)
{
    last_map_t first = {NULL, 0, 0};
    buf_t b;
    buf_init(&b);
    long cap = 0, line = 0;
    int64_t off = 0;
    char why[ERRLEN];
    for (;;) {
        int64_t here = off;
        if (!read_line(f->f, &b)) break;
        off = ftello(f->f);
        line++;
        if (!b.len) continue;
        int mine = line_owner(f, b.p, b.len);
        if (!mine) continue;
        event_t ev;
        if (evt_parse(&ev, b.p, b.len, f->tz, why) != NUDGE_OK) {
            reject_owned(f, mine, line, why);
        } else {
            if (f->nev == cap) {
                cap = cap ? cap * 2 : 1024;
                f->ev = xrealloc(f->ev, sizeof *f->ev * (size_t)cap);
            }
            int32_t group = 0;
            if (by_member) {
                int64_t *g = last_at(&first, ev.member);
                if (*g == INT64_MIN) *g = line;
                group = (int32_t)*g;
            }
            f->ev[f->nev++] = (evref_t){ev.at, here, (int32_t)b.len, (int32_t)line, group, mine == 1};
        }
        evt_free(&ev);
    }
    buf_free(&b);
    free(first.slot);
    if (f->nev) qsort(f->ev, (size_t)f->nev, sizeof *f->ev, cmp_ev);
}

evfeed_t *evfeed_open(const char *path, const tz_t *deflt, int by_member, evfeed_reject_fn on_reject, void *ud,
                      char *err)
{
    return evfeed_open_part(path, deflt, by_member, on_reject, ud, NULL, NULL, 0, err);
}

evfeed_t *evfeed_open_part(const char *path, const tz_t *deflt, int by_member, evfeed_reject_fn on_reject, void *ud,
                           evfeed_owner_fn owns, void *owns_ud, int report_unowned, char *err)
{
    char *vbuf;
    FILE *fp = fopen_read_big(path, &vbuf);
    if (!fp) {
        errf(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    evfeed_t *f = xcalloc(1, sizeof *f);
    f->f = fp;
    f->vbuf = vbuf;
    f->path = xstrdup(path);
    f->tz = deflt;
    f->on_reject = on_reject;
    f->ud = ud;
    f->owns = owns;
    f->owns_ud = owns_ud;
    f->report_unowned = report_unowned;
    struct stat sb;
    f->size = fstat(fileno(fp), &sb) == 0 ? (long long)sb.st_size : 0;
    buf_init(&f->bufs[0]);
    buf_init(&f->bufs[1]);
    f->streamed = in_order(f, by_member, err);
    if (f->streamed < 0) {
        evfeed_free(f);
        return NULL;
    }
    if (f->streamed) {
        look_ahead(f);
        return f;
    }
    index_all(f, by_member);
    return f;
}

void evfeed_free(evfeed_t *f)
{
    if (!f) return;
    if (f->have_next) evt_free(&f->next);
    buf_free(&f->bufs[0]);
    buf_free(&f->bufs[1]);
    free(f->ev);
    free(f->win);
    free(f->path);
    fclose(f->f);
    free(f->vbuf);
    free(f);
}

int64_t evfeed_peek(evfeed_t *f)
{
    if (f->streamed) return f->have_next ? f->next.at : TIME_NONE;
    return f->ei < f->nev ? f->ev[f->ei].at : TIME_NONE;
}

int evfeed_next(evfeed_t *f, event_t *ev, long *line, char *err)
{
    if (f->streamed) {
        if (!f->have_next && f->read_failed)
            return errf(err, "%s: reading after line %ld: %s", f->path, f->line, strerror(f->read_failed));
        if (!f->have_next) return 0;
        evt_move(ev, &f->next);
        *line = f->next_line;
        f->owned = f->next_owned;
        f->cur = !f->cur;        /* the look-ahead's line is now the caller's */
        look_ahead(f);
        return 1;
    }
    if (f->ei >= f->nev) return 0;
    const evref_t *x = &f->ev[f->ei++];
    f->owned = x->owned;
    /* read back through a window of the file: lines that are near one
     * another in the file (a member's, when sorted by member) cost no
     * system call; a seek and a read of a stdio stream cost two each */
    if (x->off < f->win_off || x->off + x->len > f->win_off + (int64_t)f->win_len) {
        size_t want = (size_t)x->len + 1 > FEED_WINDOW ? (size_t)x->len + 1 : FEED_WINDOW;
        if (want > f->win_cap) f->win = xrealloc(f->win, f->win_cap = want);
        ssize_t n = pread(fileno(f->f), f->win, want, (off_t)x->off);
        f->win_off = x->off;
        f->win_len = n > 0 ? (size_t)n : 0;
        if (f->win_len < (size_t)x->len)
            return errf(err, "%s: cannot re-read line %d: %s", f->path, x->line, n < 0 ? strerror(errno) : "the file got shorter");
    }
    buf_t *b = &f->bufs[0];
    buf_reset(b);
    buf_add(b, f->win + (x->off - f->win_off), (size_t)x->len);
    char why[ERRLEN];
    *line = x->line;
    if (evt_parse(ev, b->p, b->len, f->tz, why) != NUDGE_OK) {
        evt_free(ev);
        return errf(err, "%s:%d: changed while reading: %s", f->path, x->line, why);
    }
    return 1;
}

int evfeed_owned(const evfeed_t *f)
{
    return f->owned;
}

double evfeed_progress(evfeed_t *f)
{
    if (!f->streamed) return f->nev ? (double)f->ei / (double)f->nev : 1.0;
    off_t at = ftello(f->f);
    return f->size > 0 && at >= 0 ? (double)at / (double)f->size : 1.0;
}

long evfeed_rejected(const evfeed_t *f)
{
    return f->rejected;
}

long evfeed_left(evfeed_t *f)
{
    if (!f->streamed) {
        long n = 0;
        for (; f->ei < f->nev; f->ei++) n += !f->owns || f->ev[f->ei].owned || f->report_unowned;
        return n;
    }
    /* the rest is not applied, but counted as the sorted file's is: its
     * valid events, and its bad lines rejected */
    long n = 0;
    while (f->have_next) {
        /* a filtered reader counts its own, and (when it reports them) the
         * events whose member could not be told */
        if (!f->owns || f->next_owned || f->report_unowned) n++;
        evt_free(&f->next);
        f->cur = !f->cur;
        look_ahead(f);
    }
    return n;
}
