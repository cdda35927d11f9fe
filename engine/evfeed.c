/* evfeed.c - see evfeed.h */
#include "evfeed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct evref {
    int64_t at;
    int64_t off;
    int32_t len, line;
} evref_t;

struct evfeed {
    FILE *f;
    char *vbuf;              /* f's buffer */
    char *path;
    const tz_t *tz;
    int streamed;
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
};

static void reject(evfeed_t *f, long line, const char *why)
{
    f->rejected++;
    fprintf(stderr, "%s:%ld: %s\n", f->path, line, why);
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

/* The "at" of a line without parsing the JSON; 0 when it cannot be told
 * for sure (no "at", more than one, or an escape anywhere: "\u0061t" is
 * "at" too). */
static int quick_at(const char *line, const tz_t *tz, int64_t *at)
{
    if (strchr(line, '\\')) return 0;
    const char *p = strstr(line, "\"at\"");
    if (!p || strstr(p + 4, "\"at\"")) return 0;
    p += 4;
    while (*p == ' ' || *p == '\t') p++;
    if (*p++ != ':') return 0;
    while (*p == ' ' || *p == '\t') p++;
    if (*p++ != '"') return 0;
    const char *e = strchr(p, '"');
    if (!e || e - p > 40) return 0;
    char tmp[48];
    memcpy(tmp, p, (size_t)(e - p));
    tmp[e - p] = '\0';
    return tz_parse_time(tmp, tz, at, NULL, NULL) == 0;
}

/* 1 when the events' times never go back, 0 when they do; -1 when the
 * file cannot be read, or not read a second time (err says why). */
static int in_order(evfeed_t *f, char *err)
{
    buf_t b;
    buf_init(&b);
    int64_t last = INT64_MIN, at;
    int ok = 1;
    while (ok && read_line(f->f, &b)) {
        if (!b.len) continue;
        if (!quick_at(b.p, f->tz, &at)) {
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

static void look_ahead(evfeed_t *f)
{
    char why[ERRLEN];
    buf_t *b = &f->bufs[!f->cur];
    f->have_next = 0;
    while (read_line(f->f, b)) {
        f->line++;
        if (!b->len) continue;
        if (evt_parse(&f->next, b->p, b->len, f->tz, why) == NUDGE_OK) {
            f->have_next = 1;
            f->next_line = f->line;
            return;
        }
        evt_free(&f->next);
        reject(f, f->line, why);
    }
    if (ferror(f->f)) f->read_failed = errno ? errno : EIO;
}

static int cmp_ev(const void *a, const void *b)
{
    const evref_t *x = a, *y = b;
    if (x->at != y->at) return x->at < y->at ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void index_all(evfeed_t *f)
{
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
        event_t ev;
        if (evt_parse(&ev, b.p, b.len, f->tz, why) != NUDGE_OK) {
            reject(f, line, why);
        } else {
            if (f->nev == cap) {
                cap = cap ? cap * 2 : 1024;
                f->ev = xrealloc(f->ev, sizeof *f->ev * (size_t)cap);
            }
            f->ev[f->nev++] = (evref_t){ev.at, here, (int32_t)b.len, (int32_t)line};
        }
        evt_free(&ev);
    }
    buf_free(&b);
    if (f->nev) qsort(f->ev, (size_t)f->nev, sizeof *f->ev, cmp_ev);
}

evfeed_t *evfeed_open(const char *path, const tz_t *deflt, char *err)
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
    buf_init(&f->bufs[0]);
    buf_init(&f->bufs[1]);
    f->streamed = in_order(f, err);
    if (f->streamed < 0) {
        evfeed_free(f);
        return NULL;
    }
    if (f->streamed) {
        look_ahead(f);
        return f;
    }
    /* out of order: lines are read back one at a time in time order, and
     * a large buffer would be refilled whole after every seek */
    FILE *again = fopen(path, "rb");
    if (again) {
        fclose(f->f);
        free(f->vbuf);
        f->f = again;
        f->vbuf = NULL;
    }
    index_all(f);
    return f;
}

void evfeed_free(evfeed_t *f)
{
    if (!f) return;
    if (f->have_next) evt_free(&f->next);
    buf_free(&f->bufs[0]);
    buf_free(&f->bufs[1]);
    free(f->ev);
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
        f->cur = !f->cur;        /* the look-ahead's line is now the caller's */
        look_ahead(f);
        return 1;
    }
    if (f->ei >= f->nev) return 0;
    const evref_t *x = &f->ev[f->ei++];
    buf_t *b = &f->bufs[0];
    if (fseeko(f->f, x->off, SEEK_SET) != 0 || !read_line(f->f, b) || b->len != (size_t)x->len)
        return errf(err, "%s: cannot re-read line %d", f->path, x->line);
    char why[ERRLEN];
    *line = x->line;
    if (evt_parse(ev, b->p, b->len, f->tz, why) != NUDGE_OK) {
        evt_free(ev);
        return errf(err, "%s:%d: changed while reading: %s", f->path, x->line, why);
    }
    return 1;
}

long evfeed_rejected(const evfeed_t *f)
{
    return f->rejected;
}

long evfeed_left(evfeed_t *f)
{
    if (!f->streamed) return f->nev - f->ei;
    /* the rest is not applied, but counted as the sorted file's is: its
     * valid events, and its bad lines rejected */
    long n = 0;
    while (f->have_next) {
        n++;
        evt_free(&f->next);
        f->cur = !f->cur;
        look_ahead(f);
    }
    return n;
}
